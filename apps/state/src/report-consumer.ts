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
import type { ApplyTaskReportUseCase } from './apply-task-report.use-case';
import type { ApplyUtilisationReportUseCase } from './apply-utilisation-report.use-case';

const NAK_DELAY_MS = 1_000;
const SECOND_NS = 1_000_000_000;

/**
 * Consumes the agents' reports with the durable consumer `CONSUMERS.stateReports` (explicit
 * ack). A report is acked after its transaction commits; a database error naks it with a
 * delay so it comes back. Several state replicas may share the durable: applying is
 * idempotent and serialised by the task row lock.
 */
export class ReportConsumer {
  private messages?: ConsumerMessages;
  private loop: Promise<void> = Promise.resolve();
  private readonly handled: Counter<'kind' | 'outcome'>;

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
      max_ack_pending: 256,
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
    const messages = await consumer.consume({ max_messages: 64 });
    this.messages = messages;
    this.loop = (async () => {
      for await (const m of messages) await this.handle(m);
    })().catch((err: unknown) => this.logger.error({ err }, 'report consumer stopped'));
  }

  /** Stops pulling and waits for the report being applied. */
  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }

  private async handle(m: JsMsg): Promise<void> {
    let payload: TaskStateReport | HeartbeatReport | UtilisationReport;
    try {
      payload = decode<TaskStateReport | HeartbeatReport | UtilisationReport>(m.data);
      if (typeof payload?.clusterArn !== 'string') throw new Error('report without clusterArn');
    } catch (err) {
      this.logger.warn({ err, subject: m.subject }, 'undecodable report dropped');
      this.handled.inc({ kind: 'unknown', outcome: 'invalid' });
      m.term('undecodable');
      return;
    }
    const cluster = clusterNameOf(payload.clusterArn);
    try {
      if (m.subject === subjects.report(cluster, 'task_state')) {
        const report = payload as TaskStateReport;
        const outcome = await this.applyTaskReport.execute(report);
        this.handled.inc({ kind: 'task_state', outcome });
        const log = {
          taskArn: report.taskArn,
          seq: report.seq,
          lastStatus: report.lastStatus,
          outcome,
        };
        if (outcome === 'unknown-task') this.logger.warn(log, 'report for an unknown task ignored');
        else this.logger.debug(log, 'task report handled');
      } else if (m.subject === subjects.report(cluster, 'heartbeat')) {
        const outcome = await this.applyHeartbeat.execute(payload as HeartbeatReport);
        this.handled.inc({ kind: 'heartbeat', outcome });
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
