import { z } from 'zod';

export { z };

/** Raised when the environment does not satisfy a service's schema. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SECRET_VARIABLE = /TOKEN|SECRET|PASSWORD/;

/**
 * Validates the environment against a service's schema at start-up. A bad value stops the
 * process with a message naming each offending variable and what is wrong with it.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const variable = issue.path.join('.') || '(environment)';
    const value = issue.path.length ? env[String(issue.path[0])] : undefined;
    // A secret's value is never shown, even a malformed one.
    const shown =
      value === undefined
        ? 'unset'
        : SECRET_VARIABLE.test(variable)
          ? 'hidden'
          : JSON.stringify(value);
    return `${variable} (${shown}): ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

/** Schema helpers for environment variables, which are always strings. */
export const env = {
  /** A TCP port; 0 asks the system for a free one (handy in tests). */
  port: (fallback: number) =>
    z.coerce
      .number({ error: 'must be a port number' })
      .int('must be a whole number')
      .min(0, 'must be a port number 0-65535')
      .max(65535, 'must be a port number 0-65535')
      .default(fallback),
  int: (fallback: number, min = 0) =>
    z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .default(fallback),
  optionalInt: (min = 0) =>
    z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .optional(),
  string: (fallback: string) => z.string().min(1).default(fallback),
  url: (fallback: string) => z.string().min(1).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  logLevel: () =>
    z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
};

/** Settings every Wharf service shares. */
export const commonEnv = {
  LOG_LEVEL: env.logLevel(),
  WHARF_REGION: env.string('us-east-1'),
  WHARF_ACCOUNT_ID: z
    .string()
    .regex(/^\d{12}$/, 'must be a 12-digit account id')
    .default('000000000000'),
  SHUTDOWN_TIMEOUT_MS: env.int(10_000, 0),
};
