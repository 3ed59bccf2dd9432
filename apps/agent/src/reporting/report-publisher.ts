import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, JetStreamClient } from '@nats-io/jetstream';
import { encode, subjects, TaskStateReport } from '@wharf/messaging';
import type { Logger } from 'pino';
import type { UnsequencedReport } from '../engine/task-report';

/** Where the task engine sends what it observes. */
export interface TaskReportSink {
  submit(report: UnsequencedReport): void;
}

/**
 * Report sequence numbers: microseconds since the epoch, bumped so each is greater than the
 * last. They keep growing across agent restarts (the clock moved on), which is what lets
 * state drop a stale or duplicate report.
 */
export class SequenceClock {
  private last = 0;
  constructor(private readonly now: () => number = Date.now) {}

  next(): number {
    this.last = Math.max(this.last + 1, this.now() * 1000);
    return this.last;
  }
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

/**
 * Publishes task state reports to JetStream in submission order, retrying each until the
 * stream acknowledges it: a report is never dropped, only delayed. msgID `<taskArn>:<seq>`
 * lets JetStream drop a retried duplicate.
 */
export class JetStreamReportPublisher implements TaskReportSink {
  private readonly js: JetStreamClient;
  private readonly queue: TaskStateReport[] = [];
  private draining?: Promise<void>;
  private closed = false;
  private readonly clock = new SequenceClock();
  published = 0;

  constructor(
    nc: NatsConnection,
    private readonly clusterName: string,
    private readonly logger: Logger,
  ) {
    this.js = jetstream(nc);
  }

  get pending(): number {
    return this.queue.length;
  }

  submit(report: UnsequencedReport): void {
    const full: TaskStateReport = { ...report, seq: this.clock.next(), reportedAt: Date.now() };
    this.queue.push(full);
    this.logger.debug(
      { taskArn: full.taskArn, seq: full.seq, lastStatus: full.lastStatus },
      'task report queued',
    );
    if (!this.draining) this.draining = this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (this.queue.length && !this.closed) {
      const report = this.queue[0];
      try {
        await this.js.publish(subjects.report(this.clusterName, 'task_state'), encode(report), {
          msgID: `${report.taskArn}:${report.seq}`,
        });
        this.queue.shift();
        this.published++;
        delay = RETRY_MIN_MS;
        this.logger.info(
          {
            taskArn: report.taskArn,
            containerInstanceArn: report.containerInstanceArn,
            seq: report.seq,
            lastStatus: report.lastStatus,
          },
          'task report published',
        );
      } catch (err) {
        this.logger.warn(
          { err, taskArn: report.taskArn, retryInMs: delay },
          'task report not published; retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  /** Waits until every queued report is published, or `timeoutMs` passes. */
  async flush(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length && Date.now() < deadline) {
      await Promise.race([this.draining, new Promise((r) => setTimeout(r, 100))]);
    }
    return this.queue.length === 0;
  }

  /** Stops publishing; reports still queued are logged as lost. */
  close(): void {
    this.closed = true;
    if (this.queue.length) {
      this.logger.error(
        { unpublished: this.queue.length },
        'closing with unpublished task reports',
      );
    }
  }
}
