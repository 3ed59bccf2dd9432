import { commonEnv, env, z } from '@wharf/config';

/** A port, where 0 asks for a free one (tests start several services side by side). */
const portOrZero = (fallback: number) =>
  z.coerce.number().int().min(0).max(65535).default(fallback);

/**
 * `host:port[,host:port…]`: one entry per scheduler replica (duplicates dropped, order kept);
 * an entry that is not `host:port` is a configuration error naming it.
 */
export const schedulerUrls = z
  .string()
  .default('127.0.0.1:4702')
  .transform((raw, ctx) => {
    const urls = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    const bad = urls.find((url) => !isHostPort(url));
    if (bad !== undefined || urls.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be host:port or a comma-separated list of them${bad === undefined ? '' : ` (bad entry "${bad}")`}`,
      });
      return z.NEVER;
    }
    return [...new Set(urls)];
  });

function isHostPort(entry: string): boolean {
  const match = /^([^\s:,]+):(\d{1,5})$/.exec(entry);
  return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65535;
}

export const apiConfigSchema = z.object({
  ...commonEnv,
  API_PORT: portOrZero(4700),
  API_HOST: env.string('0.0.0.0'),
  STATE_URL: env.url('127.0.0.1:4701'),
  /** The scheduler replicas; calls go to them in turn (see scheduler-pool.ts). */
  SCHEDULER_URL: schedulerUrls,
  /** Largest request body accepted, in bytes. */
  API_MAX_BODY_BYTES: env.int(1024 * 1024, 1024),
  /**
   * `sigv4` (the default): every ECS request must be signed (SigV4) and every /v1 request
   * carry `Authorization: Bearer <key id>:<secret>`, with an access key made by
   * `wharf admin access-key create`. `dev`: development mode, any key or none is accepted
   * (the api warns at start).
   */
  API_AUTH: z.enum(['sigv4', 'dev']).default('sigv4'),
  /** How long an access key's secret is trusted before state is asked again (revocations). */
  API_AUTH_CACHE_MS: env.int(10_000, 0),
});

export type ApiConfig = z.infer<typeof apiConfigSchema>;
