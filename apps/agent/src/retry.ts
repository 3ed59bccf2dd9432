import type { Logger } from 'pino';

/**
 * Retries `attempt` with exponential backoff (capped) until it succeeds, or until it fails
 * with an error `isFinal` says no retry can cure (that error is thrown).
 */
export async function retryForever<T>(
  what: string,
  attempt: () => Promise<T>,
  logger: Logger,
  {
    minMs = 500,
    maxMs = 10_000,
    isFinal = () => false,
  }: { minMs?: number; maxMs?: number; isFinal?: (err: unknown) => boolean } = {},
): Promise<T> {
  let delay = minMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (isFinal(err)) throw err;
      const message = err instanceof Error ? err.message : String(err);
      logger.warn({ attempt: n, retryInMs: delay, err: message }, `${what} failed; retrying`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, maxMs);
    }
  }
}
