import { commonEnv, env, z } from '@wharf/config';

/** 0 means "pick a free port" (tests); the real port is reported by startState. */
const portOrZero = (fallback: number) =>
  z.coerce.number().int().min(0).max(65535).default(fallback);

export const stateConfigSchema = z.object({
  ...commonEnv,
  DATABASE_URL: z.string().min(1, 'must be a postgres:// URL'),
  /**
   * How long opening a Postgres connection may take before the call that needed it fails (with
   * a ServerException saying the database cannot be reached) rather than waiting on a host
   * that does not answer (see createPool in db.ts).
   */
  DATABASE_CONNECT_TIMEOUT_MS: env.int(5_000, 1),
  /**
   * How long one statement may go unanswered before its call fails (the same ServerException)
   * and its connection is closed: a Postgres whose host vanished, or that is frozen, would
   * otherwise hold every call until TCP gives up (see createPool in db.ts). 0: no limit.
   * Migrations have none.
   */
  DATABASE_QUERY_TIMEOUT_MS: env.int(30_000, 0),
  NATS_URL: env.url('nats://127.0.0.1:4222'),
  STATE_GRPC_PORT: portOrZero(4701),
  STATE_OPS_PORT: portOrZero(4711),
  /**
   * An agent silent this long is disconnected: no placements, and its service tasks are
   * replaced elsewhere. Three of the agent's 2 s heartbeats, so a host that dies has its
   * service tasks running elsewhere within about 10 s (a longer TTL tolerates longer blips).
   */
  AGENT_HEARTBEAT_TTL_MS: env.int(6_000, 1),
  /** How often silent agents are looked for; default a fifth of the TTL (100 ms – 5 s). */
  AGENT_LIVENESS_INTERVAL_MS: env.optionalInt(10),
  /**
   * STOPPED tasks stay visible (DescribeTasks, ListTasks desiredStatus STOPPED) this long after
   * they stopped, then are deleted — ECS keeps them at least an hour. The service scheduler
   * counts a deployment's failed launches over the last hour, so keep it at least that.
   */
  TASK_RETENTION_MS: env.int(60 * 60 * 1000, 1000),
  /**
   * How long published outbox rows stay for inspection (`SELECT … FROM outbox_events`). 0: a row is
   * deleted in the transaction that publishes it (one write, not a rewrite marking it published
   * and a delete later; JetStream keeps the events themselves for 24 h). Every change writes a
   * row, so a busy cluster's outbox grows by this window's worth of events.
   */
  OUTBOX_RETENTION_MS: env.int(0, 0),
  /** Utilisation samples kept per task and per container instance. */
  UTILISATION_HISTORY_SAMPLES: env.int(60, 1),
  /** Samples older than this are dropped (stopped tasks, hosts gone). */
  UTILISATION_RETENTION_MS: env.int(60 * 60 * 1000, 1000),
  /**
   * How often draining targets whose deregistration delay has passed are removed: a target
   * stays draining up to this much longer than its group's delay.
   */
  LB_TARGET_SWEEP_INTERVAL_MS: env.int(5_000, 10),
  /**
   * How often task definitions left DELETE_IN_PROGRESS (still used when DeleteTaskDefinitions
   * ran) are looked at again and removed once no task or service uses them.
   */
  TASK_DEFINITION_SWEEP_INTERVAL_MS: env.int(30_000, 10),
  /**
   * `token` (default): an agent registers only with a valid join token (WHARF_JOIN_TOKEN,
   * made by `wharf admin join-token create`). `open`: any agent that reaches state's gRPC
   * port joins any cluster — for development and in-process tests only.
   */
  STATE_AGENT_JOIN: z.enum(['token', 'open'], { error: 'must be token or open' }).default('token'),
  /**
   * With GRPC_TLS_*: the certificate names (CN) that may call the access-key and join-token
   * rpcs (see admin-caller.guard.ts), comma-separated. The api's certificate is `api`.
   */
  STATE_ADMIN_CLIENTS: z
    .string()
    .default('api')
    .transform((raw) =>
      raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((names) => names.length > 0, 'must name at least one certificate'),
});

export type StateConfig = z.infer<typeof stateConfigSchema>;
