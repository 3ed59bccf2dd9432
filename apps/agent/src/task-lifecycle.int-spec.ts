/**
 * The task lifecycle against the real Docker engine: timestamps, essential exits, the restart
 * policy, stops racing exits and starts, clean-up after the wait, and what a restarted agent
 * (or a broken Docker event stream) finds.
 */
import { eventually, IMAGES } from '@wharf/testing';
import type { ClusterTaskView } from './engine/task-engine';
import { EngineHarness } from './testing/engine-harness';

jest.setTimeout(120_000);

const IMAGE = IMAGES.workload;
const h = new EngineHarness();

beforeAll(() => h.start());
afterAll(() => h.stop());

const sleeper = (name: string, extra: object = {}) => ({
  name,
  image: IMAGE,
  command: ['sleep', '300'],
  stopTimeout: 1,
  ...extra,
});

describe('lifecycle', () => {
  it('reports PENDING → RUNNING → STOPPED with ordered timestamps; an essential exit stops the rest', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf('essential', [
        // Exits 3 when signalled (once the task is RUNNING).
        {
          name: 'app',
          image: IMAGE,
          command: ['sh', '-c', "trap 'exit 3' USR1; while true; do sleep 0.2; done"],
        },
        sleeper('sidecar'),
        sleeper('helper', { essential: false }),
      ]),
    );
    const running = await h.waitForReport(taskArn, 'RUNNING');
    const app = running.containers.find((c) => c.name === 'app')!;
    await h.docker.getContainer(app.runtimeId).kill({ signal: 'USR1' });
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    const statuses = h.reportsFor(taskArn).map((r) => r.lastStatus);
    expect(statuses).toEqual(['PENDING', 'RUNNING', 'STOPPED']);
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect(stopped.stoppedReason).toBe('Essential container in task exited');
    const codes = Object.fromEntries(stopped.containers.map((c) => [c.name, c.exitCode]));
    expect(codes.app).toBe(3);
    expect([137, 143]).toContain(codes.sidecar);
    expect([137, 143]).toContain(codes.helper);
    const t = stopped;
    expect(t.pullStartedAt).toBeGreaterThan(0);
    expect(t.pullStoppedAt).toBeGreaterThanOrEqual(t.pullStartedAt!);
    expect(t.startedAt).toBeGreaterThanOrEqual(t.pullStoppedAt!);
    expect(t.stoppingAt).toBeGreaterThanOrEqual(t.startedAt!);
    expect(t.executionStoppedAt).toBeGreaterThanOrEqual(t.stoppingAt!);
    expect(t.stoppedAt).toBeGreaterThanOrEqual(t.executionStoppedAt!);
  });

  it('a restart policy restarts an exited container in place; ignored exit codes do not', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf(
        'restart',
        [
          {
            name: 'flaky',
            image: IMAGE,
            // Exits 7 twice (after running ≥ 1.5 s), then exits 0, which is ignored.
            command: [
              'sh',
              '-c',
              'sleep 1.5; n=$(cat /state/n 2>/dev/null || echo 0); echo $((n+1)) > /state/n; ' +
                'test $n -ge 2 && exit 0; exit 7',
            ],
            restartPolicy: { enabled: true, ignoredExitCodes: [0], restartAttemptPeriod: 1 },
            mountPoints: [{ sourceVolume: 'state', containerPath: '/state' }],
          },
        ],
        { volumes: [{ name: 'state' }] },
      ),
    );
    const restarted = await h.waitForReport(
      taskArn,
      'RUNNING',
      (r) => r.containers[0].lastStatus === 'RUNNING' && r.containers[0].exitCode === 7,
    );
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect(stopped.containers[0].exitCode).toBe(0);
    expect(stopped.containers[0].runtimeId).toBe(restarted.containers[0].runtimeId);
    expect(
      h
        .reportsFor(taskArn)
        .filter((r) => r.lastStatus === 'RUNNING' && r.containers[0].exitCode === 7),
    ).toHaveLength(2);
  });

  it('a container that exits before restartAttemptPeriod is not restarted', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf('norestart', [
        {
          name: 'main',
          image: IMAGE,
          command: ['sh', '-c', 'sleep 1; exit 9'],
          restartPolicy: { enabled: true, restartAttemptPeriod: 60 },
        },
      ]),
    );
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect(stopped.containers[0].exitCode).toBe(9);
  });
});

describe('PENDING only for a start still under way (pendingReportDelayMs)', () => {
  it('a start that is RUNNING sooner is reported once, RUNNING', async () => {
    const engine = h.newEngine({ pendingReportDelayMs: 60_000 });
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(h.taskOf(taskArn), h.definitionOf('quick', [sleeper('main')]));
    const running = await h.waitForReport(taskArn, 'RUNNING');
    expect(running.pullStartedAt).toBeGreaterThan(0);
    expect(running.startedAt).toBeGreaterThanOrEqual(running.pullStartedAt!);
    await engine.stopTask(taskArn, 'done', 'UserInitiated').stopped;
    await h.waitForReport(taskArn, 'STOPPED');
    expect(h.reportsFor(taskArn).map((r) => r.lastStatus)).toEqual(['RUNNING', 'STOPPED']);
  });

  it('a start still waiting after the delay is reported PENDING, then RUNNING', async () => {
    const engine = h.newEngine({ pendingReportDelayMs: 200 });
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf('slow', [
        { ...sleeper('app'), dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }] },
        { name: 'init', image: IMAGE, essential: false, command: ['sleep', '1.5'] },
      ]),
    );
    const pending = await h.waitForReport(taskArn, 'PENDING');
    expect(pending.pullStartedAt).toBeGreaterThan(0);
    expect(pending.startedAt).toBeUndefined();
    await h.waitForReport(taskArn, 'RUNNING');
    await engine.stopTask(taskArn, 'done', 'UserInitiated').stopped;
    await h.waitForReport(taskArn, 'STOPPED');
    expect(h.reportsFor(taskArn).map((r) => r.lastStatus)).toEqual([
      'PENDING',
      'RUNNING',
      'STOPPED',
    ]);
  });
});

describe('one owner per task', () => {
  it('a StopTask racing a container exit ends in one consistent STOPPED', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf('race-exit', [sleeper('main'), sleeper('side')]),
    );
    const running = await h.waitForReport(taskArn, 'RUNNING');
    await Promise.all([
      h.docker.getContainer(running.containers[0].runtimeId).kill(),
      engine.stopTask(taskArn, 'race', 'UserInitiated').stopped,
      engine.stopTask(taskArn, 'again', 'UserInitiated').stopped,
    ]);
    await engine.get(taskArn)?.idle();
    await h.waitUntilRemoved(taskArn);
    const after = h.reportsFor(taskArn);
    const stoppedReports = after.filter((r) => r.lastStatus === 'STOPPED');
    expect(stoppedReports).toHaveLength(1);
    expect(after[after.length - 1].lastStatus).toBe('STOPPED');
    const [stopped] = stoppedReports;
    // The stop was asked first, so it is the task's reason; every exit code is there.
    expect(stopped.stopCode).toBe('UserInitiated');
    expect(stopped.stoppedReason).toBe('race');
    expect(stopped.containers.map((c) => c.exitCode)).toEqual([137, expect.any(Number)]);
    expect(stopped.containers.every((c) => c.lastStatus === 'STOPPED')).toBe(true);
  });

  it('an exit that lands before a StopTask is processed also ends in one STOPPED', async () => {
    const engine = h.newEngine();
    await engine.start();
    for (let i = 0; i < 3; i++) {
      const taskArn = h.newTaskArn();
      engine.startTask(h.taskOf(taskArn), h.definitionOf('race-exit2', [sleeper('main')]));
      const running = await h.waitForReport(taskArn, 'RUNNING');
      // The container is dead before the stop is asked; its die event is still in flight.
      await h.docker.getContainer(running.containers[0].runtimeId).kill();
      await engine.stopTask(taskArn, 'late', 'UserInitiated').stopped;
      await engine.get(taskArn)?.idle();
      await h.waitUntilRemoved(taskArn);
      const stopped = h.reportsFor(taskArn).filter((r) => r.lastStatus === 'STOPPED');
      expect(stopped).toHaveLength(1);
      expect(['UserInitiated', 'EssentialContainerExited']).toContain(stopped[0].stopCode);
      expect(stopped[0].containers[0].exitCode).toBe(137);
    }
  });

  it('a StopTask while a container waits for its dependency stops without creating it', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf('race-deps', [
        sleeper('slow', { essential: false }),
        sleeper('app', { dependsOn: [{ containerName: 'slow', condition: 'COMPLETE' }] }),
      ]),
    );
    await eventually(
      async () => ((await h.containersOf(taskArn)).length === 1 ? true : undefined),
      'the dependency running',
    );
    engine.stopTask(taskArn, 'never mind', 'UserInitiated');
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('UserInitiated');
    expect(stopped.containers.find((c) => c.name === 'app')?.runtimeId).toBe('');
    expect(h.reportsFor(taskArn).filter((r) => r.lastStatus === 'STOPPED')).toHaveLength(1);
  });
});

describe('clean-up and restarts', () => {
  it('keeps a stopped task’s containers for the clean-up wait, then removes them', async () => {
    const engine = h.newEngine({ cleanupWaitMs: 2_500 });
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(h.taskOf(taskArn), h.definitionOf('cleanup', [sleeper('main')]));
    await h.waitForReport(taskArn, 'RUNNING');
    engine.stopTask(taskArn, 'done', 'UserInitiated');
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(await h.containersOf(taskArn)).toHaveLength(1);
    // Still known (a repeated StopTask is answered as known) until cleaned up.
    expect(engine.stopTask(taskArn, 'again', 'UserInitiated').known).toBe(true);
    await h.waitUntilRemoved(taskArn, 10_000);
    // The wait counts from the container's exit, a little before stoppedAt.
    expect(Date.now() - stopped.stoppedAt!).toBeGreaterThanOrEqual(1_500);
    expect(engine.get(taskArn)).toBeUndefined();
  });

  it('after a crash the new engine adopts, reports what died, stops what the cluster stopped, cleans up old', async () => {
    const first = h.newEngine({ cleanupWaitMs: 60_000 });
    await first.start();
    const [keep, died, stopInCluster, longStopped] = [1, 2, 3, 4].map(() => h.newTaskArn());
    for (const [arn, family] of [
      [keep, 'keep'],
      [died, 'died'],
      [stopInCluster, 'stopped-in-cluster'],
    ]) {
      first.startTask(h.taskOf(arn), h.definitionOf(family, [sleeper('main')]));
    }
    first.startTask(
      h.taskOf(longStopped),
      h.definitionOf('long-stopped', [{ name: 'main', image: IMAGE, command: ['true'] }]),
    );
    const running = await Promise.all(
      [keep, died, stopInCluster].map((a) => h.waitForReport(a, 'RUNNING')),
    );
    await h.waitForReport(longStopped, 'STOPPED');
    expect(await h.containersOf(longStopped)).toHaveLength(1); // kept for the wait
    // The agent dies: no more events, no clean-up, nothing graceful.
    await first.close(0);
    const keepStartedAt = (await h.inspect(keep, 'main')).State.StartedAt;
    await h.docker.getContainer(running[1].containers[0].runtimeId).kill();
    await new Promise((r) => setTimeout(r, 1_200));

    const asked: string[][] = [];
    const describeTasks = async (arns: string[]): Promise<ClusterTaskView[]> => {
      asked.push(arns);
      return arns.map((taskArn) => ({
        taskArn,
        desiredStatus: taskArn === stopInCluster ? 'STOPPED' : 'RUNNING',
        stopCode: taskArn === stopInCluster ? 'UserInitiated' : '',
        stoppedReason: taskArn === stopInCluster ? 'Stopped while the agent was down' : '',
      }));
    };
    const since = h.reports.length;
    const second = h.newEngine({ cleanupWaitMs: 1_000, describeTasks });
    await second.start();
    expect(asked.flat().sort()).toEqual([keep, died, stopInCluster, longStopped].sort());

    // The running task is adopted as it is: same container, not restarted.
    const adopted = await h.waitForReport(keep, 'RUNNING', (r) => h.reports.indexOf(r) >= since);
    expect(adopted.containers[0].runtimeId).toBe(running[0].containers[0].runtimeId);
    expect((await h.inspect(keep, 'main')).State.StartedAt).toBe(keepStartedAt);
    expect(await h.containersOf(keep)).toHaveLength(1);

    const diedReport = await h.waitForReport(died, 'STOPPED');
    expect(diedReport.stopCode).toBe('EssentialContainerExited');
    expect(diedReport.containers[0].exitCode).toBe(137);

    const clusterStopped = await h.waitForReport(stopInCluster, 'STOPPED');
    expect(clusterStopped.stopCode).toBe('UserInitiated');
    expect(clusterStopped.stoppedReason).toBe('Stopped while the agent was down');

    // Stopped longer ago than the (new) wait: removed at once; the others after the wait.
    await h.waitUntilRemoved(longStopped, 5_000);
    await h.waitUntilRemoved(died, 10_000);
    await h.waitUntilRemoved(stopInCluster, 10_000);
    expect(second.get(keep)?.knownStatus).toBe('RUNNING');
    second.stopTask(keep, 'done', 'UserInitiated');
    await h.waitForReport(keep, 'STOPPED');
  });

  it('asks the cluster again later: a stop recorded after adoption asked is carried out', async () => {
    const first = h.newEngine({ cleanupWaitMs: 60_000 });
    await first.start();
    const taskArn = h.newTaskArn();
    first.startTask(h.taskOf(taskArn), h.definitionOf('stopped-late', [sleeper('main')]));
    await h.waitForReport(taskArn, 'RUNNING');
    await first.close(0);

    // The cluster learns of the stop only after the adopting engine asked (while the agent
    // could not be reached, so nobody told it).
    let stopped = false;
    const describeTasks = async (arns: string[]): Promise<ClusterTaskView[]> =>
      arns.map((arn) => ({
        taskArn: arn,
        desiredStatus: stopped ? 'STOPPED' : 'RUNNING',
        stopCode: stopped ? 'UserInitiated' : '',
        stoppedReason: stopped ? 'Stopped before the agent listened' : '',
      }));
    const since = h.reports.length;
    const second = h.newEngine({ cleanupWaitMs: 1_000, describeTasks });
    await second.start();
    await h.waitForReport(taskArn, 'RUNNING', (r) => h.reports.indexOf(r) >= since);
    expect(second.get(taskArn)?.desiredStatus).toBe('RUNNING');
    stopped = true;
    await second.checkDesiredStatus();
    const report = await h.waitForReport(taskArn, 'STOPPED');
    expect(report.stopCode).toBe('UserInitiated');
    expect(report.stoppedReason).toBe('Stopped before the agent listened');
    await h.waitUntilRemoved(taskArn, 10_000);
  });

  it('a task adopted before all its containers were created fails to start', async () => {
    const first = h.newEngine({ cleanupWaitMs: 60_000 });
    await first.start();
    const taskArn = h.newTaskArn();
    first.startTask(
      h.taskOf(taskArn),
      h.definitionOf('half-started', [
        sleeper('slow', { essential: false }),
        sleeper('app', { dependsOn: [{ containerName: 'slow', condition: 'COMPLETE' }] }),
      ]),
    );
    await eventually(
      async () => ((await h.containersOf(taskArn)).length === 1 ? true : undefined),
      'the dependency running',
    );
    await first.close(0);
    const second = h.newEngine();
    await second.start();
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('TaskFailedToStart');
    expect(stopped.stoppedReason).toBe('The agent restarted while the task was starting');
    await h.waitUntilRemoved(taskArn);
    // The first engine's start pipeline gave up with it: nothing was created after.
    await new Promise((r) => setTimeout(r, 500));
    expect(await h.containersOf(taskArn)).toHaveLength(0);
  });

  it('an adopting engine keeps carrying out the restart policy', async () => {
    const first = h.newEngine();
    await first.start();
    const taskArn = h.newTaskArn();
    first.startTask(
      h.taskOf(taskArn),
      h.definitionOf('restart-adopted', [
        {
          name: 'flaky',
          image: IMAGE,
          command: ['sh', '-c', 'sleep 1.5; exit 7'],
          stopTimeout: 1,
          restartPolicy: { enabled: true, restartAttemptPeriod: 1 },
        },
      ]),
    );
    await h.waitForReport(taskArn, 'RUNNING');
    await first.close(0);
    const since = h.reports.length;
    const second = h.newEngine();
    await second.start();
    const restarted = await h.waitForReport(
      taskArn,
      'RUNNING',
      (r) =>
        h.reports.indexOf(r) >= since &&
        r.containers[0].lastStatus === 'RUNNING' &&
        r.containers[0].exitCode === 7,
    );
    expect(restarted.containers[0].runtimeId).toBeTruthy();
    second.stopTask(taskArn, 'done', 'UserInitiated');
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('UserInitiated');
  });

  it('when the Docker event stream breaks, the engine reconnects and reconciles', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(h.taskOf(taskArn), h.definitionOf('reconnect', [sleeper('main')]));
    const running = await h.waitForReport(taskArn, 'RUNNING');
    // Cut the stream (as an engine restart does), and let a container die meanwhile.
    const watcher = (engine as unknown as { events: { stream?: { destroy(): void } } }).events;
    watcher.stream?.destroy();
    await h.docker.getContainer(running.containers[0].runtimeId).kill();
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect(stopped.containers[0].exitCode).toBe(137);
  });
});
