import { hostname } from 'node:os';
import { commonEnv, env, z } from '@wharf/config';

/** A port, where 0 asks for a free one (tests start several services side by side). */
const portOrZero = (fallback: number) =>
  z.coerce.number().int().min(0).max(65535).default(fallback);

export const schedulerConfigSchema = z
  .object({
    ...commonEnv,
    STATE_URL: env.url('127.0.0.1:4701'),
    NATS_URL: env.url('nats://127.0.0.1:4222'),
    SCHEDULER_GRPC_PORT: portOrZero(4702),
    SCHEDULER_OPS_PORT: portOrZero(4712),
    /** How long one call to an agent may take before the task counts as not started. */
    AGENT_CALL_TIMEOUT_MS: env.int(10_000, 1),
    /**
     * How often a cluster's snapshot is read again whole from state. Between reads it is kept
     * current from commits and events; this is the safety net for events that were missed.
     */
    SCHEDULER_SNAPSHOT_RESYNC_MS: env.int(30_000, 1),
    /** This replica's name in the service scheduler's lease; defaults to hostname and pid. */
    SCHEDULER_ID: env.string(`${hostname()}-${process.pid}`),
    /**
     * How long the service scheduler's leadership lasts without renewal (renewed every third of
     * it): a dead leader's successor takes over within about this long.
     */
    SERVICE_LEASE_TTL_MS: env.int(6_000, 300),
    /** A full pass over every service at least this often; task and service events trigger more. */
    SERVICE_RECONCILE_INTERVAL_MS: env.int(5_000, 100),
    /**
     * How long after an instance's agent is disconnected (state's AGENT_HEARTBEAT_TTL_MS) its
     * service tasks are recorded lost and replaced elsewhere.
     */
    SERVICE_LOST_INSTANCE_GRACE_MS: env.int(0, 0),
    /**
     * A RUNNING service task without container health checks counts as healthy this long after
     * it started (ECS: 40 s): for minimumHealthyPercent during deployments and for completing one.
     */
    SERVICE_HEALTHY_AFTER_RUNNING_MS: env.int(40_000, 0),
    /**
     * Service tasks that fail to start in a row back off: this long after the first failure,
     * doubling after each further one, up to SERVICE_THROTTLE_MAX_MS (ECS: 15 minutes).
     */
    SERVICE_THROTTLE_BASE_MS: env.int(5_000, 0),
    SERVICE_THROTTLE_MAX_MS: env.int(15 * 60_000, 0),
    /**
     * A task still PROVISIONING this long after it was committed most likely never reached its
     * agent (a scheduler stopped between committing it and telling the agent): the leader tells
     * the agent again (see launch-redelivery.ts). Longer than AGENT_CALL_TIMEOUT_MS, so that a
     * launch still being told is left to finish.
     */
    SCHEDULER_LAUNCH_REDELIVERY_MS: env.int(60_000, 1),
  })
  .superRefine((config, ctx) => {
    if (config.SCHEDULER_LAUNCH_REDELIVERY_MS <= config.AGENT_CALL_TIMEOUT_MS) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['SCHEDULER_LAUNCH_REDELIVERY_MS'],
        message: `must be longer than AGENT_CALL_TIMEOUT_MS (${config.AGENT_CALL_TIMEOUT_MS})`,
      });
    }
  });

export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;
