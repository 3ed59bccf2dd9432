import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { subjects, TaskStateReport, UtilisationReport } from '@wharf/messaging';
import type { ApplyHeartbeatUseCase } from './apply-heartbeat.use-case';
import type { ApplyTaskReportUseCase, ReportOutcome } from './apply-task-report.use-case';
import type { ApplyUtilisationReportUseCase } from './apply-utilisation-report.use-case';
import { ReportConsumer } from './report-consumer';

const CLUSTER_ARN = 'arn:aws:ecs:us-east-1:000000000000:cluster/default';
const POISON = 'arn:aws:ecs:us-east-1:000000000000:task/default/poison';

const taskReport = (taskArn: string, seq = 1): TaskStateReport => ({
  v: 1,
  clusterArn: CLUSTER_ARN,
  containerInstanceArn: 'ci',
  taskArn,
  seq,
  lastStatus: 'RUNNING',
  containers: [],
  reportedAt: 1,
});

const utilisation = (): UtilisationReport =>
  ({ v: 1, clusterArn: CLUSTER_ARN, containerInstanceArn: 'ci' }) as UtilisationReport;

function received(
  kind: 'task_state' | 'utilisation',
  payload: TaskStateReport | UtilisationReport,
) {
  const m = {
    subject: subjects.report('default', kind),
    ack: jest.fn(),
    nak: jest.fn(),
  };
  return { m: m as unknown as JsMsg & typeof m, payload };
}

describe('ReportConsumer task-state lane', () => {
  const applied: string[] = [];
  const applyTaskReport = {
    executeBatch: jest.fn(async (reports: TaskStateReport[]): Promise<ReportOutcome[]> => {
      if (reports.some((r) => r.taskArn === POISON)) throw new Error('poison');
      applied.push(...reports.map((r) => `${r.taskArn}:${r.seq}`));
      return reports.map(() => 'applied');
    }),
    execute: jest.fn(async (r: TaskStateReport): Promise<ReportOutcome> => {
      if (r.taskArn === POISON) throw new Error('poison');
      applied.push(`${r.taskArn}:${r.seq}`);
      return 'applied';
    }),
  };
  const applyUtilisation = { execute: jest.fn(async () => 'applied' as const) };
  const consumer = new ReportConsumer(
    {} as JetStreamClient,
    {} as JetStreamManager,
    applyTaskReport as unknown as ApplyTaskReportUseCase,
    {} as ApplyHeartbeatUseCase,
    applyUtilisation as unknown as ApplyUtilisationReportUseCase,
    pino({ level: 'silent' }),
    new Registry(),
  );
  const handle = (batch: ReturnType<typeof received>[]) => consumer['applyOthers'](batch);

  beforeEach(() => {
    applied.length = 0;
    jest.clearAllMocks();
  });

  it('applies the task reports of a batch in one call, in order, and acks each once', async () => {
    const batch = [
      received('task_state', taskReport('a', 1)),
      received('utilisation', utilisation()),
      received('task_state', taskReport('b', 1)),
      received('task_state', taskReport('a', 2)),
    ];
    await handle(batch);
    expect(applyTaskReport.executeBatch).toHaveBeenCalledTimes(1);
    expect(applyTaskReport.execute).not.toHaveBeenCalled();
    expect(applied).toEqual(['a:1', 'b:1', 'a:2']);
    expect(applyUtilisation.execute).toHaveBeenCalledTimes(1);
    for (const r of batch) {
      expect(r.m.ack).toHaveBeenCalledTimes(1);
      expect(r.m.nak).not.toHaveBeenCalled();
    }
  });

  it('falls back to one at a time when the batch fails: the others are applied and acked, the bad one is nak’d', async () => {
    const batch = [
      received('task_state', taskReport('a', 1)),
      received('task_state', taskReport(POISON)),
      received('task_state', taskReport('b', 1)),
    ];
    await handle(batch);
    expect(applyTaskReport.executeBatch).toHaveBeenCalledTimes(1);
    expect(applyTaskReport.execute).toHaveBeenCalledTimes(3);
    expect(applied).toEqual(['a:1', 'b:1']);
    expect(batch.map((r) => [r.m.ack.mock.calls.length, r.m.nak.mock.calls.length])).toEqual([
      [1, 0],
      [0, 1],
      [1, 0],
    ]);
  });

  it('applies a lone report on its own, nak’ing it when it fails', async () => {
    const poison = received('task_state', taskReport(POISON));
    await handle([poison]);
    expect(applyTaskReport.executeBatch).not.toHaveBeenCalled();
    expect(poison.m.nak).toHaveBeenCalledTimes(1);
    expect(poison.m.ack).not.toHaveBeenCalled();
  });
});
