import pino, { Logger } from 'pino';

export type { Logger };

/** Structured JSON logs with the service name on every line; secrets are redacted. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['*.password', '*.secret', '*.token', 'req.headers.authorization', 'DATABASE_URL'],
      censor: '[redacted]',
    },
  });
}
