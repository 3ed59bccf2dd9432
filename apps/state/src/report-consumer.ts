import {
  AckPolicy,
  ConsumerMessages,
  DeliverPolicy,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
} from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { clusterNameOf } from '@wharf/domain';
import {
  CONSUMERS,
  decode,
  HeartbeatReport,
  STREAMS,
  subjects,
  TaskStateReport,
  UtilisationReport,
} from '@wharf/messaging';
import type { ApplyHeartbeatUseCase } from './apply-heartbeat.use-case';
import type { ApplyTaskReportUseCase, ReportOutcome } from './apply-task-report.use-case';
import type { ApplyUtilisationReportUseCase } from './apply-utilisation-report.use-case';

const NAK_DELAY_MS = 1_000;
const SECOND_NS = 1_000_000_000;
/** Pulled and not yet applied, at most (also bounds a heartbeat batch). */
const PULL_BATCH = 256;

type Report = TaskStateReport | HeartbeatReport | UtilisationReport;
interface Received {
  m: JsMsg;
  payload: Report;
}

/**
 * Consumes the agents' reports with the durable consumer `CONSUMERS.stateReports` (explicit
 * ack). A report is acked after its transaction commits; a database error naks it with a
 * delay so it comes back. Several state replicas may share the durable: applying is
 * idempotent and serialised by the row locks.
 *
 * Received reports go to two lanes that run concurrently, so task reports never wait behind
 * heartbeats. Each lane takes everything received since its previous batch (at most
 * PULL_BATCH) as one batch. Heartbeats: one transaction, one UPDATE. Task-state reports: one
 * transaction for the whole batch, in the order received (so the reports of a task stay in
 * order); if that fails, each report is retried on its own so one that cannot be applied
 * (nak'd) does not hold back the others. Utilisation reports: one transaction each.
 */
export class ReportConsumer {
  private messages?: ConsumerMessages;
  private loop: Promise<void> = Promise.resolve();
  private readonly handled: Counter<'kind' | 'outcome'>;
  private readonly heartbeats = new Lane<Received>();
  private readonly others = new Lane<Received>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly applyTaskReport: ApplyTaskReportUseCase,
    private readonly applyHeartbeat: ApplyHeartbeatUseCase,
    private readonly applyUtilisationReport: ApplyUtilisationReportUseCase,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.handled = new Counter({
      name: 'wharf_state_reports_total',
      help: 'Agent reports handled, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    });
  }

  async start(): Promise<void> {
    const config = {
      durable_name: CONSUMERS.stateReports,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subjects.allReports(),
      ack_wait: 30 * SECOND_NS,
      max_ack_pending: 1024,
    };
    try {
      await this.jsm.consumers.add(STREAMS.reports.name, config);
    } catch (err) {
      // Created concurrently by another replica (or with an older config): use what exists.
      await this.jsm.consumers.info(STREAMS.reports.name, CONSUMERS.stateReports).catch(() => {
        throw err;
      });
    }
    const consumer = await this.js.consumers.get(STREAMS.reports.name, CONSUMERS.stateReports);
    const messages = await consumer.consume({ max_messages: PULL_BATCH });
    this.messages = messages;
    const pump = (async () => {
      for await (const m of messages) this.receive(m);
    })().finally(() => {
      this.heartbeats.close();
      this.others.close();
    });
    const heartbeatLane = this.heartbeats.run((batch) => this.applyHeartbeats(batch));
    const otherLane = this.others.run((batch) => this.applyOthers(batch));
    this.loop = Promise.all([pump, heartbeatLane, otherLane])
      .then(() => undefined)
      .catch((err: unknown) => this.logger.error({ err }, 'report consumer stopped'));
  }

  /** Stops pulling and waits for the reports received to be applied. */
  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }

  private receive(m: JsMsg): void {
    let payload: Report;
    try {
      payload = decode<Report>(m.data);
      if (typeof payload?.clusterArn !== 'string') throw new Error('report without clusterArn');
    } catch (err) {
      this.logger.warn({ err, subject: m.subject }, 'undecodable report dropped');
      this.handled.inc({ kind: 'unknown', outcome: 'invalid' });
      m.term('undecodable');
      return;
    }
    const cluster = clusterNameOf(payload.clusterArn);
    if (m.subject === subjects.report(cluster, 'heartbeat')) this.heartbeats.push({ m, payload });
    else this.others.push({ m, payload });
  }

  private async applyHeartbeats(batch: Received[]): Promise<void> {
    try {
      // A heartbeat counts from when JetStream stored it, not from the agent's sentAt: one
      // clock for every agent, so an agent whose clock runs behind is not taken for silent
      // (and one stored long ago, while state was away, is still stale).
      const outcomes = await this.applyHeartbeat.executeBatch(
        batch.map((r) => ({ ...(r.payload as HeartbeatReport), sentAt: r.m.time.getTime() })),
      );
      outcomes.forEach((outcome) => this.handled.inc({ kind: 'heartbeat', outcome }));
      for (const r of batch) r.m.ack();
    } catch (err) {
      this.logger.error(
        { err, heartbeats: batch.length },
        'applying heartbeats failed; redelivering later',
      );
      this.handled.inc({ kind: 'heartbeat', outcome: 'error' }, batch.length);
      for (const r of batch) r.m.nak(NAK_DELAY_MS);
    }
  }

  /** Task-state reports of the batch together, then the others one at a time. */
  private async applyOthers(batch: Received[]): Promise<void> {
    const taskReports: Received[] = [];
    const rest: Received[] = [];
    for (const r of batch) {
      const cluster = clusterNameOf(r.payload.clusterArn);
      (r.m.subject === subjects.report(cluster, 'task_state') ? taskReports : rest).push(r);
    }
    await this.applyTaskReports(taskReports);
    for (const r of rest) await this.handleOne(r);
  }

  /**
   * Applies the task reports in one transaction and acks them; if the batch fails, applies
   * them one by one (each acked or nak'd on its own), so one bad report loses no other.
   */
  private async applyTaskReports(batch: Received[]): Promise<void> {
    if (batch.length === 0) return;
    if (batch.length > 1) {
      try {
        const outcomes = await this.applyTaskReport.executeBatch(
          batch.map((r) => r.payload as TaskStateReport),
        );
        batch.forEach((r, i) => this.taskReportHandled(r.payload as TaskStateReport, outcomes[i]));
        for (const r of batch) r.m.ack();
        return;
      } catch (err) {
        this.logger.warn(
          { err, reports: batch.length },
          'applying a batch of task reports failed; applying them one by one',
        );
      }
    }
    for (const r of batch) await this.handleOne(r);
  }

  private taskReportHandled(report: TaskStateReport, outcome: ReportOutcome): void {
    this.handled.inc({ kind: 'task_state', outcome });
    const log = {
      taskArn: report.taskArn,
      seq: report.seq,
      lastStatus: report.lastStatus,
      outcome,
    };
    if (outcome === 'unknown-task') this.logger.warn(log, 'report for an unknown task ignored');
    else this.logger.debug(log, 'task report handled');
  }

  private async handleOne({ m, payload }: Received): Promise<void> {
    const cluster = clusterNameOf(payload.clusterArn);
    try {
      if (m.subject === subjects.report(cluster, 'task_state')) {
        const report = payload as TaskStateReport;
        this.taskReportHandled(report, await this.applyTaskReport.execute(report));
      } else if (m.subject === subjects.report(cluster, 'utilisation')) {
        const outcome = await this.applyUtilisationReport.execute(payload as UtilisationReport);
        this.handled.inc({ kind: 'utilisation', outcome });
      } else {
        this.logger.warn({ subject: m.subject }, 'report on an unexpected subject ignored');
        this.handled.inc({ kind: 'unknown', outcome: 'ignored' });
      }
      m.ack();
    } catch (err) {
      this.logger.error(
        { err, subject: m.subject },
        'applying a report failed; redelivering later',
      );
      this.handled.inc({ kind: 'any', outcome: 'error' });
      m.nak(NAK_DELAY_MS);
    }
  }
}

/**
 * A queue drained by one worker: each round takes everything queued so far (at most
 * PULL_BATCH) as one batch. Ends once closed and empty.
 */
class Lane<T> {
  private queue: T[] = [];
  private closed = false;
  private wake?: () => void;

  push(item: T): void {
    this.queue.push(item);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async run(work: (batch: T[]) => Promise<void>): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const batch = this.queue.splice(0, PULL_BATCH);
      await work(batch);
    }
  }
}
