import type { Logger } from 'pino';
import { createLogger } from './logging';

export interface RunningService {
  /** Stops accepting work, finishes what is in flight, releases connections. */
  stop(): Promise<void>;
}

/**
 * Starts a service and owns its process: a configuration error (thrown by loadConfig) stops
 * it with exit code 1 and a message naming the variable; SIGTERM/SIGINT stop it gracefully
 * within `shutdownTimeoutMs`, after which it exits anyway.
 */
export function runService(
  name: string,
  start: (logger: Logger) => Promise<RunningService>,
  shutdownTimeoutMs = Number(process.env.SHUTDOWN_TIMEOUT_MS ?? 10_000),
): void {
  const logger = createLogger(name);
  let running: RunningService | undefined;
  let stopping = false;

  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ shutdownTimeoutMs }, 'graceful shutdown timed out; exiting');
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    (running ? running.stop() : Promise.resolve())
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  Promise.resolve()
    .then(() => start(logger))
    .then((svc) => {
      running = svc;
      logger.info('started');
      if (stopping) void svc.stop();
    })
    .catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof Error && err.name === 'ConfigError') {
        logger.fatal(message);
      } else {
        logger.fatal({ err }, `failed to start: ${message}`);
      }
      // An error may say how the process should end (the agent's refused join token: 78,
      // EX_CONFIG, which supervisors take as "do not restart").
      const exitCode = (err as { exitCode?: unknown } | null)?.exitCode;
      process.exit(typeof exitCode === 'number' ? exitCode : 1);
    });
}
