import { commonEnv, env, z } from '@wharf/config';

export const lbConfigSchema = z.object({
  ...commonEnv,
  STATE_URL: env.string('127.0.0.1:4701'),
  NATS_URL: env.string('nats://127.0.0.1:4222'),
  LB_OPS_PORT: env.port(4704),
  /** the address every listener binds */
  LB_BIND_HOST: env.string('0.0.0.0'),
  /** a full read of state's load balancer resources and targets this often (events between) */
  LB_RESYNC_MS: env.int(30_000, 1000),
  /** at most this many connections from this lb to one target */
  LB_TARGET_MAX_SOCKETS: env.int(256, 1),
  /** an idle pooled connection to a target is closed after this long (keep it below the targets' keep-alive) */
  LB_TARGET_IDLE_SOCKET_MS: env.int(4000, 100),
});

export type LbConfig = z.infer<typeof lbConfigSchema>;
