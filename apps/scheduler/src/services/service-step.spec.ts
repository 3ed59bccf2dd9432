import type { common } from '@wharf/proto';
import { planServiceStep, steadyStateMessage } from './service-step';

const NEW = 'ecs-svc/2000000000000000000';
const OLD = 'ecs-svc/1000000000000000000';
const NOW = 1_000_000;

let seq = 0;
function task(
  startedBy: string,
  lastStatus = 'RUNNING',
  more: Partial<common.Task> = {},
): common.Task {
  seq++;
  return {
    taskArn: `arn:aws:ecs:us-east-1:000000000000:task/default/${String(seq).padStart(32, '0')}`,
    containerInstanceArn: `ci-${seq % 3}`,
    lastStatus,
    desiredStatus: 'RUNNING',
    startedBy,
    group: 'service:web',
    healthStatus: '',
    createdAt: seq,
    startedAt: lastStatus === 'RUNNING' ? NOW - 60_000 : 0,
    ...more,
  } as common.Task;
}

function deployment(id: string, status: string, rolloutState = 'IN_PROGRESS'): common.Deployment {
  return { id, status, rolloutState, desiredCount: 0, failedTasks: 0 } as common.Deployment;
}

function service(more: Partial<common.Service> = {}): common.Service {
  return {
    serviceName: 'web',
    status: 'ACTIVE',
    desiredCount: 3,
    schedulingStrategy: 'REPLICA',
    deploymentConfigurationJson: '',
    healthCheckGracePeriodSeconds: 0,
    deployments: [deployment(NEW, 'PRIMARY')],
    events: [],
    ...more,
  } as common.Service;
}

describe('planServiceStep', () => {
  it('starts the desired tasks of a new service', () => {
    const step = planServiceStep(service(), [], NOW);
    expect(step).toMatchObject({ start: 3, stop: [], events: [], status: '' });
    expect(step.progress).toEqual([expect.objectContaining({ id: NEW, pendingCount: 3 })]);
  });

  it('completes the deployment and reaches a steady state once desired tasks are healthy', () => {
    const tasks = [task(NEW), task(NEW), task(NEW)];
    const step = planServiceStep(service(), tasks, NOW);
    expect(step.start).toBe(0);
    expect(step.progress[0]).toMatchObject({ rolloutState: 'COMPLETED', runningCount: 3 });
    expect(step.events).toEqual([
      `(service web) (deployment ${NEW}) deployment completed.`,
      steadyStateMessage('web'),
    ]);
    // Said once: the newest event already says it.
    const steady = service({
      deployments: [deployment(NEW, 'PRIMARY', 'COMPLETED')],
      events: [{ id: '1', createdAt: 0, message: steadyStateMessage('web') }],
    });
    expect(planServiceStep(steady, tasks, NOW).events).toEqual([]);
  });

  it('waits for health checks when the definition has them: UNKNOWN is not healthy yet', () => {
    const unknown = (more: Partial<common.Task> = {}) =>
      task(NEW, 'RUNNING', { healthStatus: 'UNKNOWN', ...more });
    const tasks = [
      unknown({ healthStatus: 'HEALTHY' }),
      unknown({ healthStatus: 'HEALTHY' }),
      unknown(),
    ];
    expect(planServiceStep(service(), tasks, NOW, new Set([NEW])).events).toEqual([]);
    // Without health checks a task's health stays UNKNOWN: RUNNING is enough.
    expect(planServiceStep(service(), tasks, NOW).events).toHaveLength(2);
  });

  it('replaces a task that stopped', () => {
    const steady = service({ deployments: [deployment(NEW, 'PRIMARY', 'COMPLETED')] });
    expect(planServiceStep(steady, [task(NEW), task(NEW)], NOW).start).toBe(1);
  });

  it('replaces a task whose containers are unhealthy, but not within the grace period', () => {
    const sick = task(NEW, 'RUNNING', { healthStatus: 'UNHEALTHY', startedAt: NOW - 5_000 });
    const tasks = [task(NEW), task(NEW), sick];
    const step = planServiceStep(service(), tasks, NOW);
    expect(step.stop.map((s) => s.task.taskArn)).toEqual([sick.taskArn]);
    expect(step.stop[0].reason).toBe('Task failed container health checks');
    // 3 of 200% of 3 are running: the replacement starts at once.
    expect(step.start).toBe(1);
    const graceful = service({ healthCheckGracePeriodSeconds: 10 });
    expect(planServiceStep(graceful, tasks, NOW).stop).toEqual([]);
  });

  it('rolls a deployment within maximumPercent 200 and minimumHealthyPercent 100', () => {
    const rolling = service({
      desiredCount: 4,
      deployments: [deployment(NEW, 'PRIMARY'), deployment(OLD, 'ACTIVE', 'COMPLETED')],
    });
    const old = [task(OLD), task(OLD), task(OLD), task(OLD)];
    // Nothing new yet: start all 4 (8 ≤ 200% of 4), stop nothing (4 healthy = 100%).
    expect(planServiceStep(rolling, old, NOW)).toMatchObject({ start: 4, stop: [] });
    // 2 new RUNNING, 2 new starting: 6 healthy, 4 needed: 2 old go.
    const half = [...old, task(NEW), task(NEW), task(NEW, 'PENDING'), task(NEW, 'PENDING')];
    const step = planServiceStep(rolling, half, NOW);
    expect(step.start).toBe(0);
    expect(step.stop).toHaveLength(2);
    expect(step.stop.every((s) => s.task.startedBy === OLD)).toBe(true);
    // All new healthy: the old ones go; once gone, the old deployment is done.
    const done = [task(NEW), task(NEW), task(NEW), task(NEW)];
    const finished = planServiceStep(rolling, done, NOW);
    expect(finished.progress.find((p) => p.id === OLD)).toMatchObject({ inactive: true });
    expect(finished.progress.find((p) => p.id === NEW)).toMatchObject({
      rolloutState: 'COMPLETED',
    });
  });

  it('rolls within maximumPercent 100 by stopping first, down to minimumHealthyPercent 50', () => {
    const tight = service({
      desiredCount: 4,
      deploymentConfigurationJson: JSON.stringify({
        maximumPercent: 100,
        minimumHealthyPercent: 50,
      }),
      deployments: [deployment(NEW, 'PRIMARY'), deployment(OLD, 'ACTIVE', 'COMPLETED')],
    });
    const old = [task(OLD), task(OLD), task(OLD), task(OLD)];
    const step = planServiceStep(tight, old, NOW);
    expect(step.start).toBe(0); // 4 of at most 4 still occupy their room
    expect(step.stop).toHaveLength(2);
  });

  it('scales in: tasks not yet running first, then from the most crowded instance', () => {
    const steady = service({ desiredCount: 2 });
    const pending = task(NEW, 'PENDING', { containerInstanceArn: 'a' });
    const crowded = [
      task(NEW, 'RUNNING', { containerInstanceArn: 'a' }),
      task(NEW, 'RUNNING', { containerInstanceArn: 'a' }),
    ];
    const alone = task(NEW, 'RUNNING', { containerInstanceArn: 'b' });
    const step = planServiceStep(steady, [alone, ...crowded, pending], NOW);
    expect(step.stop.map((s) => s.task.taskArn)).toEqual([pending.taskArn, crowded[1].taskArn]);
    expect(step.start).toBe(0);
  });

  it('drains a deleted service, then makes it INACTIVE', () => {
    const deleted = service({ status: 'DRAINING', desiredCount: 0 });
    const step = planServiceStep(deleted, [task(NEW), task(NEW)], NOW);
    expect(step.stop).toHaveLength(2);
    expect(step.start).toBe(0);
    expect(step.status).toBe('');
    expect(planServiceStep(deleted, [], NOW).status).toBe('INACTIVE');
  });

  it('counts tasks being stopped against maximumPercent until they are STOPPED', () => {
    const steady = service({
      desiredCount: 2,
      deploymentConfigurationJson: JSON.stringify({
        maximumPercent: 100,
        minimumHealthyPercent: 0,
      }),
    });
    const stopping = task(NEW, 'RUNNING', { desiredStatus: 'STOPPED' });
    expect(planServiceStep(steady, [task(NEW), stopping], NOW).start).toBe(0);
    expect(planServiceStep(steady, [task(NEW)], NOW).start).toBe(1);
  });
});
