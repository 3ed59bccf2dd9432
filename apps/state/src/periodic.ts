import type { Logger } from 'pino';

/**
 * Runs `work` every `intervalMs`, never two runs at once; a failed run is logged and the next
 * one follows. `stop()` waits for the run in flight.
 */
export class Periodic {
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly work: () => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.work()
        .then(() => undefined)
        .catch((err: unknown) =>
          this.logger.error({ err, loop: this.name }, 'periodic work failed'),
        )
        .finally(() => this.schedule());
    }, this.intervalMs);
  }
}
