import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { encode, subjects } from '@wharf/messaging';
import type { StatsCollector } from './stats-collector';

/**
 * Every `intervalMs`, collects utilisation and publishes it on
 * `subjects.report(cluster, 'utilisation')`. A round still running when the next is due is
 * not doubled; a failed one is logged and the next follows (samples are not worth retrying).
 */
export class UtilisationReporter {
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  published = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly collector: StatsCollector,
    private readonly settings: { clusterName: string; intervalMs: number },
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.settings.intervalMs <= 0) return; // disabled
    this.timer = setInterval(() => this.round(), this.settings.intervalMs);
  }

  /** Collects and publishes once now (also what each interval does). */
  round(): Promise<void> {
    this.inFlight ??= (async () => {
      try {
        const report = await this.collector.collect();
        await jetstream(this.nc).publish(
          subjects.report(this.settings.clusterName, 'utilisation'),
          encode(report),
        );
        this.published++;
      } catch (err) {
        this.logger.warn({ err }, 'utilisation not reported');
      }
    })().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}
