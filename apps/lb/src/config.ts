import { commonEnv, env, z } from '@wharf/config';

export const lbConfigSchema = z.object({
  ...commonEnv,
  STATE_URL: env.string('127.0.0.1:4701'),
  NATS_URL: env.string('nats://127.0.0.1:4222'),
  LB_OPS_PORT: env.port(4704),
});

export type LbConfig = z.infer<typeof lbConfigSchema>;
