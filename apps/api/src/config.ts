import { commonEnv, env, z } from '@wharf/config';

/** A port, where 0 asks for a free one (tests start several services side by side). */
const portOrZero = (fallback: number) =>
  z.coerce.number().int().min(0).max(65535).default(fallback);

export const apiConfigSchema = z.object({
  ...commonEnv,
  API_PORT: portOrZero(4700),
  API_HOST: env.string('0.0.0.0'),
  STATE_URL: env.url('127.0.0.1:4701'),
  SCHEDULER_URL: env.url('127.0.0.1:4702'),
  /** Largest request body accepted, in bytes. */
  API_MAX_BODY_BYTES: env.int(1024 * 1024, 1024),
});

export type ApiConfig = z.infer<typeof apiConfigSchema>;
