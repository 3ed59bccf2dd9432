import type { SnapshotInstance } from '@wharf/domain';
import type { common } from '@wharf/proto';
import {
  circuitBreakerThreshold,
  DEFAULT_STEP_SETTINGS,
  ELB_HEALTH_CHECK_FAILURE,
  HEALTH_CHECK_FAILURE,
  planServiceStep,
  steadyStateMessage,
  throttledMessage,
} from './service-step';

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

function deployment(
  id: string,
  status: string,
  rolloutState = 'IN_PROGRESS',
  more: Partial<common.Deployment> = {},
): common.Deployment {
  return {
    id,
    status,
    rolloutState,
    desiredCount: 0,
    failedTasks: 0,
    taskDefinitionArn: `td-${id}`,
    createdAt: 0,
    ...more,
  } as common.Deployment;
}

/** A launch that failed at `stoppedAt` (the agent could not start it). */
function failedLaunch(startedBy: string, stoppedAt: number): common.Task {
  return task(startedBy, 'STOPPED', {
    desiredStatus: 'STOPPED',
    stopCode: 'TaskFailedToStart',
    stoppedReason: 'CannotPullContainerError',
    startedAt: 0,
    stoppedAt,
  });
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
    expect(
      planServiceStep(service(), tasks, NOW, { healthChecked: new Set([NEW]) }).events,
    ).toEqual([]);
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

  it('counts a RUNNING task without health checks healthy only 40 s after it started', () => {
    const rolling = service({
      desiredCount: 2,
      deployments: [deployment(NEW, 'PRIMARY'), deployment(OLD, 'ACTIVE', 'COMPLETED')],
    });
    const fresh = () => task(NEW, 'RUNNING', { startedAt: NOW - 10_000 });
    const old = [task(OLD), task(OLD)];
    const settings = DEFAULT_STEP_SETTINGS;
    // New tasks RUNNING for 10 s do not count yet: the old ones stay.
    expect(planServiceStep(rolling, [...old, fresh(), fresh()], NOW, { settings }).stop).toEqual(
      [],
    );
    const ripe = () => task(NEW, 'RUNNING', { startedAt: NOW - 40_000 });
    const step = planServiceStep(rolling, [...old, ripe(), ripe()], NOW, { settings });
    expect(step.stop.map((s) => s.task.startedBy)).toEqual([OLD, OLD]);
  });

  describe('draining instances', () => {
    it('replaces service tasks on a DRAINING instance within the deployment bounds', () => {
      const steady = service({
        desiredCount: 3,
        deployments: [deployment(NEW, 'PRIMARY', 'COMPLETED')],
      });
      const onDrained = task(NEW, 'RUNNING', { containerInstanceArn: 'drained' });
      const tasks = [onDrained, task(NEW), task(NEW)];
      const draining = new Set(['drained']);
      // First a replacement (4 ≤ 200% of 3); the drained one stays while only 3 are healthy.
      const first = planServiceStep(steady, tasks, NOW, { draining });
      expect(first).toMatchObject({ start: 1, stop: [] });
      // Once the replacement is healthy, the drained one goes.
      const replaced = planServiceStep(steady, [...tasks, task(NEW)], NOW, { draining });
      expect(replaced.start).toBe(0);
      expect(replaced.stop).toEqual([
        { task: onDrained, reason: 'Container instance is being drained' },
      ]);
    });

    it('with maximumPercent 100, stops first down to minimumHealthyPercent', () => {
      const tight = service({
        desiredCount: 2,
        deploymentConfigurationJson: JSON.stringify({
          maximumPercent: 100,
          minimumHealthyPercent: 50,
        }),
        deployments: [deployment(NEW, 'PRIMARY', 'COMPLETED')],
      });
      const a = task(NEW, 'RUNNING', { containerInstanceArn: 'drained' });
      const b = task(NEW, 'RUNNING', { containerInstanceArn: 'drained' });
      const step = planServiceStep(tight, [a, b], NOW, { draining: new Set(['drained']) });
      expect(step.stop).toHaveLength(1);
      expect(step.start).toBe(0);
    });
  });

  describe('DAEMON', () => {
    const daemonService = (more: Partial<common.Service> = {}) =>
      service({ schedulingStrategy: 'DAEMON', desiredCount: 0, ...more });
    const on = (instance: string, startedBy = NEW, lastStatus = 'RUNNING') =>
      task(startedBy, lastStatus, { containerInstanceArn: instance });

    it('runs one task on every eligible connected instance; desired is their number', () => {
      const daemon = {
        eligible: new Set(['a', 'b', 'c']),
        connected: new Set(['a', 'b']),
      };
      const step = planServiceStep(daemonService(), [on('a')], NOW, { daemon });
      expect(step.desiredCount).toBe(3);
      expect(step.start).toBe(1); // b; c has no agent connected
      expect(step.stop).toEqual([]);
    });

    it('stops a second task on an instance and tasks where the service should not run', () => {
      const daemon = { eligible: new Set(['a']), connected: new Set(['a', 'x']) };
      const keep = on('a');
      const second = on('a', NEW, 'PENDING');
      const outside = on('x');
      const step = planServiceStep(daemonService(), [keep, second, outside], NOW, { daemon });
      expect(step.stop.map((s) => s.task)).toEqual(expect.arrayContaining([second, outside]));
      expect(step.stop).toHaveLength(2);
      expect(step.start).toBe(0);
    });

    it('takes no task to DRAINING instances and moves the ones there', () => {
      // The scheduler leaves DRAINING instances out of `eligible`; a task there is stopped.
      const daemon = { eligible: new Set(['a']), connected: new Set(['a', 'd']) };
      const drained = on('d');
      const step = planServiceStep(daemonService(), [on('a'), drained], NOW, {
        daemon,
        draining: new Set(['d']),
      });
      expect(step.stop).toEqual([{ task: drained, reason: 'Container instance is being drained' }]);
      expect(step.desiredCount).toBe(1);
    });

    it('deploys instance by instance: an old task first stops, then its instance gets a new one', () => {
      const rolling = daemonService({
        deployments: [deployment(NEW, 'PRIMARY'), deployment(OLD, 'ACTIVE', 'COMPLETED')],
      });
      const daemon = { eligible: new Set(['a', 'b']), connected: new Set(['a', 'b']) };
      const step = planServiceStep(rolling, [on('a', OLD), on('b', OLD)], NOW, { daemon });
      // minimumHealthyPercent 0 and maximumPercent 100 for DAEMON: stop both, start none yet.
      expect(step.stop).toHaveLength(2);
      expect(step.start).toBe(0);
      const next = planServiceStep(rolling, [], NOW, { daemon });
      expect(next.start).toBe(2);
    });
  });

  describe('throttling', () => {
    const steady = service({
      desiredCount: 2,
      deployments: [deployment(NEW, 'PRIMARY', 'COMPLETED')],
    });
    const settings = { ...DEFAULT_STEP_SETTINGS, throttleBaseMs: 1_000, throttleMaxMs: 8_000 };

    it('backs off exponentially after launches that fail in a row, up to the cap', () => {
      const one = [failedLaunch(NEW, NOW - 500)];
      const first = planServiceStep(steady, one, NOW, { settings });
      expect(first).toMatchObject({ start: 0, retryAt: NOW + 500 });
      expect(first.events).toEqual([throttledMessage('web')]);
      expect(planServiceStep(steady, one, NOW + 600, { settings })).toMatchObject({
        start: 2,
        retryAt: undefined,
      });
      // 3 in a row: 4 s after the last; 10 in a row: the 8 s cap.
      const three = [1, 2, 3].map((k) => failedLaunch(NEW, NOW - 3_000 + k));
      expect(planServiceStep(steady, three, NOW, { settings }).retryAt).toBe(
        NOW - 3_000 + 3 + 4_000,
      );
      const ten = Array.from({ length: 10 }, (_, k) => failedLaunch(NEW, NOW - 100 + k));
      expect(planServiceStep(steady, ten, NOW, { settings }).retryAt).toBe(NOW - 100 + 9 + 8_000);
    });

    it('says it once, and forgets failures before a task last reached RUNNING', () => {
      const said = service({
        ...steady,
        events: [{ id: '1', createdAt: 0, message: throttledMessage('web') }],
      });
      expect(
        planServiceStep(said, [failedLaunch(NEW, NOW - 10)], NOW, { settings }).events,
      ).toEqual([]);
      const ranSince = task(NEW, 'RUNNING', { startedAt: NOW - 5 });
      expect(
        planServiceStep(steady, [failedLaunch(NEW, NOW - 10), ranSince], NOW, { settings }),
      ).toMatchObject({ start: 1, retryAt: undefined });
      // Stops the scheduler or a user asked for are no failures.
      const asked = task(NEW, 'STOPPED', {
        stopCode: 'UserInitiated',
        startedAt: 0,
        stoppedAt: NOW,
      });
      expect(planServiceStep(steady, [asked], NOW, { settings }).start).toBe(2);
    });
  });

  describe('circuit breaker', () => {
    const breaker = (rollback: boolean) =>
      JSON.stringify({
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        deploymentCircuitBreaker: { enable: true, rollback },
      });
    const rolling = (rollback: boolean, more: Partial<common.Service> = {}) =>
      service({
        desiredCount: 2,
        deploymentConfigurationJson: breaker(rollback),
        deployments: [
          deployment(NEW, 'PRIMARY', 'IN_PROGRESS', { createdAt: NOW - 60_000 }),
          deployment(OLD, 'ACTIVE', 'COMPLETED', { createdAt: NOW - 120_000 }),
        ],
        ...more,
      });
    const settings = { ...DEFAULT_STEP_SETTINGS, throttleBaseMs: 0 };

    it('has ECS threshold: half the desired count, at least 10, at most 200', () => {
      expect([1, 20, 21, 300, 1000].map(circuitBreakerThreshold)).toEqual([10, 10, 11, 150, 200]);
    });

    it('fails the deployment at the threshold and starts nothing more; old tasks stay', () => {
      const old = [task(OLD), task(OLD)];
      const failures = Array.from({ length: 9 }, (_, k) => failedLaunch(NEW, NOW - 1_000 + k));
      const below = planServiceStep(rolling(false), [...old, ...failures], NOW, { settings });
      expect(below.progress[0]).toMatchObject({ failedTasks: 9, rolloutState: '' });
      expect(below.start).toBe(2);

      const tripped = [...failures, failedLaunch(NEW, NOW - 1)];
      const step = planServiceStep(rolling(false), [...old, ...tripped], NOW, { settings });
      expect(step.progress[0]).toMatchObject({
        id: NEW,
        failedTasks: 10,
        rolloutState: 'FAILED',
        rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
      });
      expect(step.events).toEqual([
        `(service web) (deployment ${NEW}) deployment failed: tasks failed to start.`,
      ]);
      expect(step).toMatchObject({ start: 0, stop: [], rollbackTo: undefined });

      // Once FAILED (recorded), nothing starts and the old tasks are left running.
      const failed = rolling(false, {
        deployments: [
          deployment(NEW, 'PRIMARY', 'FAILED', { failedTasks: 10 }),
          deployment(OLD, 'ACTIVE', 'COMPLETED'),
        ],
      });
      expect(planServiceStep(failed, old, NOW, { settings })).toMatchObject({
        start: 0,
        stop: [],
        events: [],
      });
    });

    it('counts tasks stopped for failing health checks', () => {
      const sick = Array.from({ length: 10 }, () =>
        task(NEW, 'STOPPED', {
          stopCode: 'ServiceSchedulerInitiated',
          stoppedReason: HEALTH_CHECK_FAILURE,
          startedAt: NOW - 30_000,
          stoppedAt: NOW - 1_000,
        }),
      );
      const step = planServiceStep(rolling(false), [task(OLD), task(OLD), ...sick], NOW, {
        settings,
      });
      expect(step.progress[0]).toMatchObject({ failedTasks: 10, rolloutState: 'FAILED' });
    });

    it('with rollback, deploys the last completed deployment again', () => {
      const failures = Array.from({ length: 10 }, (_, k) => failedLaunch(NEW, NOW - 1_000 + k));
      const step = planServiceStep(rolling(true), [task(OLD), ...failures], NOW, { settings });
      expect(step.rollbackTo?.id).toBe(OLD);
      expect(step.events).toContain(
        `(service web) (deployment ${NEW}) rolling back to deployment ${OLD}.`,
      );
      // Nothing completed before it: nothing to roll back to, said so.
      const first = rolling(true, { deployments: [deployment(NEW, 'PRIMARY')] });
      const alone = planServiceStep(first, failures, NOW, { settings });
      expect(alone.rollbackTo).toBeUndefined();
      expect(alone.events[1]).toMatch(/cannot roll back/);
    });

    it('keeps the deployment to roll back to while the new one rolls out, tasks or not', () => {
      // minimumHealthyPercent 0: the old tasks are all gone before the new ones start.
      const emptied = planServiceStep(rolling(true), [], NOW, { settings });
      expect(emptied.progress.find((p) => p.id === OLD)?.inactive).toBe(false);
      const failures = Array.from({ length: 10 }, (_, k) => failedLaunch(NEW, NOW - 1_000 + k));
      expect(planServiceStep(rolling(true), failures, NOW, { settings }).rollbackTo?.id).toBe(OLD);
      // Without rollback there is nothing to keep it for.
      const plain = planServiceStep(rolling(false), [], NOW, { settings });
      expect(plain.progress.find((p) => p.id === OLD)?.inactive).toBe(true);
    });

    it('asks for the rollback again when the failure was recorded but the rollback was not', () => {
      const failed = (rollback: boolean) =>
        rolling(rollback, {
          deployments: [
            deployment(NEW, 'PRIMARY', 'FAILED', { failedTasks: 10 }),
            deployment(OLD, 'ACTIVE', 'COMPLETED'),
          ],
        });
      const again = planServiceStep(failed(true), [task(OLD)], NOW, { settings });
      expect(again.rollbackTo?.id).toBe(OLD);
      expect(again.events).toEqual([]); // said when it tripped
      expect(planServiceStep(failed(false), [task(OLD)], NOW, { settings }).rollbackTo).toBe(
        undefined,
      );
    });

    it('is off unless enabled', () => {
      const failures = Array.from({ length: 12 }, (_, k) => failedLaunch(NEW, NOW - 1_000 + k));
      const plain = rolling(false, { deploymentConfigurationJson: '' });
      expect(planServiceStep(plain, failures, NOW, { settings }).progress[0].rolloutState).toBe('');
    });
  });

  describe('behind a load balancer', () => {
    const rolling = service({
      desiredCount: 2,
      healthCheckGracePeriodSeconds: 30,
      deployments: [deployment(NEW, 'PRIMARY'), deployment(OLD, 'ACTIVE', 'COMPLETED')],
    });

    it('counts a task healthy only once the load balancer says so', () => {
      const old = [task(OLD), task(OLD)];
      const fresh = [task(NEW), task(NEW)];
      const health = (state: string) =>
        new Map(
          [...old, ...fresh].map((t) => [t.taskArn, t.startedBy === OLD ? 'healthy' : state]),
        );
      const waiting = planServiceStep(rolling, [...old, ...fresh], NOW, {
        targetHealth: health('initial'),
      });
      expect(waiting.stop).toEqual([]);
      const ready = planServiceStep(rolling, [...old, ...fresh], NOW, {
        targetHealth: health('healthy'),
      });
      expect(ready.stop.map((s) => s.task.startedBy)).toEqual([OLD, OLD]);
    });

    it('replaces a task the load balancer finds unhealthy after the grace period', () => {
      const steady = service({
        desiredCount: 2,
        healthCheckGracePeriodSeconds: 30,
        deployments: [deployment(NEW, 'PRIMARY', 'COMPLETED')],
      });
      const young = task(NEW, 'RUNNING', { startedAt: NOW - 10_000 });
      const old = task(NEW, 'RUNNING', { startedAt: NOW - 60_000 });
      const targetHealth = new Map([
        [young.taskArn, 'unhealthy'],
        [old.taskArn, 'unhealthy'],
      ]);
      const step = planServiceStep(steady, [young, old], NOW, { targetHealth });
      expect(step.stop).toEqual([{ task: old, reason: ELB_HEALTH_CHECK_FAILURE }]);
      expect(step.start).toBe(1);
    });
  });

  describe('scale-in', () => {
    const host = (arn: string, zone: string, cpu = 0): SnapshotInstance => ({
      arn,
      status: 'ACTIVE',
      agentConnected: true,
      registeredAt: 0,
      runningTasksCount: 0,
      attributes: { 'ecs.availability-zone': zone },
      taskGroups: {},
      remaining: { cpu, memory: 0, ports: [], portsUdp: [] },
    });
    const on = (arn: string) => task(NEW, 'RUNNING', { containerInstanceArn: arn, cpu: 256 });

    it('keeps the zones balanced under the default spread', () => {
      // Zone a: two instances with one task each; zone b: one instance with one task.
      const instances = new Map(
        [host('a1', 'a'), host('a2', 'a'), host('b1', 'b')].map((h) => [h.arn, h]),
      );
      // b1's task is the newest: taking the newest would leave zone b empty.
      const tasks = [on('a1'), on('a2'), on('b1')];
      const step = planServiceStep(service({ desiredCount: 2 }), tasks, NOW, { instances });
      expect(step.stop.map((s) => s.task.containerInstanceArn)).toEqual(['a2']);
      // Down to one: a2 from zone a, then the zones are even and the newest goes.
      const one = planServiceStep(service({ desiredCount: 1 }), tasks, NOW, { instances });
      expect(one.stop.map((s) => s.task.containerInstanceArn)).toEqual(['a2', 'b1']);
    });

    it('under binpack stops the task whose instance keeps the most free', () => {
      const instances = new Map(
        [host('x', 'a', 1024), host('y', 'a', 0), host('z', 'a', 512)].map((h) => [h.arn, h]),
      );
      const packed = service({
        desiredCount: 2,
        placementStrategyJson: JSON.stringify([{ type: 'binpack', field: 'cpu' }]),
      });
      const tasks = [on('x'), on('y'), on('z')];
      expect(
        planServiceStep(packed, tasks, NOW, { instances }).stop.map(
          (s) => s.task.containerInstanceArn,
        ),
      ).toEqual(['x']);
      // Two to stop: what the first gives back counts for the second. Instance a (1000 free)
      // runs a 512 and a 128 task, b (1200 free) a 256 one: a's 512 goes first (1512 left);
      // then a's 128 leaves 1640 free on a, more than b's would leave (1456).
      const two = new Map([host('a', 'a', 1000), host('b', 'a', 1200)].map((h) => [h.arn, h]));
      const sized = (arn: string, cpu: number) =>
        task(NEW, 'RUNNING', { containerInstanceArn: arn, cpu });
      const pair = [sized('a', 512), sized('a', 128), sized('b', 256)];
      expect(
        planServiceStep(service({ ...packed, desiredCount: 1 }), pair, NOW, {
          instances: two,
        }).stop.map((s) => [s.task.containerInstanceArn, s.task.cpu]),
      ).toEqual([
        ['a', 512],
        ['a', 128],
      ]);
    });
  });

  describe('scale-in protection', () => {
    it('scale-in skips protected tasks, until their protection expires', () => {
      const steady = service({ desiredCount: 1 });
      const kept = task(NEW, 'RUNNING', { protectedUntil: NOW + 60_000 });
      const other = task(NEW, 'RUNNING');
      const step = planServiceStep(steady, [kept, other], NOW);
      expect(step.stop.map((s) => s.task)).toEqual([other]);
      const both = [kept, task(NEW, 'RUNNING', { protectedUntil: NOW + 1 })];
      expect(planServiceStep(steady, both, NOW).stop).toEqual([]);
      expect(planServiceStep(steady, both, NOW + 2).stop).toHaveLength(1);
    });

    it('a deployment leaves a protected old task running and does not complete', () => {
      const rolling = service({
        desiredCount: 1,
        deployments: [deployment(NEW, 'PRIMARY'), deployment(OLD, 'ACTIVE', 'COMPLETED')],
      });
      const old = task(OLD, 'RUNNING', { protectedUntil: NOW + 60_000 });
      const step = planServiceStep(rolling, [old, task(NEW)], NOW);
      expect(step.stop).toEqual([]);
      expect(step.progress[0].rolloutState).toBe('');
      const expired = planServiceStep(rolling, [old, task(NEW)], NOW + 60_001);
      expect(expired.stop.map((s) => s.task)).toEqual([old]);
    });
  });
});
