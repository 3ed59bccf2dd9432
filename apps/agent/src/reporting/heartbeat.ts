import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { encode, HeartbeatReport, subjects } from '@wharf/messaging';
import type { Logger } from 'pino';

export interface HeartbeatSettings {
  clusterName: string;
  clusterArn: string;
  containerInstanceArn: string;
  intervalMs: number;
  runningTasks: () => number;
}

/** Publishes a heartbeat every interval; a missed one is only logged (the next one follows). */
export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: HeartbeatSettings,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), this.settings.intervalMs);
  }

  private beat(): void {
    if (this.inFlight) return;
    const report: HeartbeatReport = {
      v: 1,
      clusterArn: this.settings.clusterArn,
      containerInstanceArn: this.settings.containerInstanceArn,
      sentAt: Date.now(),
      runningTasks: this.settings.runningTasks(),
    };
    this.inFlight = jetstream(this.nc)
      .publish(subjects.report(this.settings.clusterName, 'heartbeat'), encode(report))
      .then(() => undefined)
      .catch((err: unknown) => {
        this.logger.warn(
          { err, containerInstanceArn: this.settings.containerInstanceArn },
          'heartbeat not published',
        );
      })
      .finally(() => (this.inFlight = undefined));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}
