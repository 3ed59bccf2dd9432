import type { TaskStateReport } from '@wharf/messaging';
import type { common } from '@wharf/proto';
import { mergeReport } from './apply-task-report.use-case';
import type { TaskChanges, TaskRow } from './task.repository';

const container = (over: Partial<common.Container> = {}): common.Container => ({
  containerArn: 'arn:c',
  name: 'web',
  image: 'busybox',
  runtimeId: '',
  lastStatus: 'PENDING',
  reason: '',
  networkBindings: [],
  healthStatus: 'UNKNOWN',
  cpu: '',
  memory: '',
  memoryReservation: '',
  essential: true,
  ...over,
});

const current = (over: Partial<TaskChanges> = {}): TaskChanges => ({
  lastStatus: 'RUNNING',
  desiredStatus: 'RUNNING',
  containers: [container({ lastStatus: 'RUNNING', runtimeId: 'abc' })],
  healthStatus: 'UNKNOWN',
  stopCode: null,
  stoppedReason: null,
  reportSeq: 2,
  pullStartedAt: 0,
  pullStoppedAt: 0,
  startedAt: 1000,
  stoppingAt: 0,
  stoppedAt: 0,
  executionStoppedAt: 0,
  ...over,
});

const report = (over: Partial<TaskStateReport> = {}): TaskStateReport => ({
  v: 1,
  clusterArn: 'arn:cluster',
  containerInstanceArn: 'arn:ci',
  taskArn: 'arn:task',
  seq: 3,
  lastStatus: 'STOPPED',
  containers: [
    { name: 'web', runtimeId: 'abc', lastStatus: 'STOPPED', exitCode: 1, reason: 'boom' },
  ],
  reportedAt: 5000,
  ...over,
});

const row = { desired_status: 'RUNNING' } as TaskRow;

describe('mergeReport', () => {
  it('stops the task: desired STOPPED, exit codes, stop timestamps from the report time', () => {
    const merged = mergeReport(row, current(), report({ stopCode: 'EssentialContainerExited' }));
    expect(merged).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      reportSeq: 3,
      startedAt: 1000,
      stoppingAt: 5000,
      stoppedAt: 5000,
      executionStoppedAt: 5000,
    });
    expect(merged.containers[0]).toMatchObject({
      lastStatus: 'STOPPED',
      exitCode: 1,
      reason: 'boom',
    });
  });

  it("keeps the user's stop reason when the report has none", () => {
    const merged = mergeReport(
      row,
      current({ stopCode: 'UserInitiated', stoppedReason: 'scale in', desiredStatus: 'STOPPED' }),
      report(),
    );
    expect(merged).toMatchObject({ stopCode: 'UserInitiated', stoppedReason: 'scale in' });
  });

  it('never moves a container backwards and ignores containers the task does not have', () => {
    const merged = mergeReport(
      row,
      current({ containers: [container({ lastStatus: 'STOPPED', exitCode: 0 })] }),
      report({
        lastStatus: 'RUNNING',
        containers: [
          { name: 'web', runtimeId: 'abc', lastStatus: 'RUNNING' },
          { name: 'ghost', runtimeId: 'x', lastStatus: 'RUNNING' },
        ],
      }),
    );
    expect(merged.containers).toHaveLength(1);
    expect(merged.containers[0]).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
  });

  it('derives task health from essential containers', () => {
    const merged = mergeReport(
      row,
      current(),
      report({
        lastStatus: 'RUNNING',
        containers: [
          { name: 'web', runtimeId: 'abc', lastStatus: 'RUNNING', healthStatus: 'UNHEALTHY' },
        ],
      }),
    );
    expect(merged.healthStatus).toBe('UNHEALTHY');
  });
});
