/**
 * The agent's task semantics end to end, through the ECS API against the whole topology in
 * containers (two hosts, each its own Docker engine and agent): essential and non-essential
 * exits, dependsOn (SUCCESS, HEALTHY), health checks reported on the container and the task,
 * and a kill -9 of an agent while its tasks run (the host's entry point starts it again; it
 * adopts what it left). One topology for every test; the disruptive restart test runs last.
 *
 * No assertion is about how long anything takes: every wait is generous (a loaded 2-core
 * machine), and order is checked with the engine's own timestamps.
 */
import {
  type ContainerDefinition,
  DescribeContainerInstancesCommand,
  ListContainerInstancesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StartTaskCommand,
  StopTaskCommand,
  type Task,
  type Volume,
} from '@aws-sdk/client-ecs';
import {
  eventually,
  IMAGES,
  startTopology,
  type Topology,
  type TopologyHost,
} from '@wharf/testing';

jest.setTimeout(600_000);

/** Runs until SIGTERM, then exits 143 (a shell as PID 1 ignores signals it does not trap). */
const LOOP = "trap 'exit 143' TERM; while true; do sleep 1; done";
const WAIT_MS = 120_000;

/** Docker's RFC 3339 times (nanoseconds, trailing zeros trimmed) → epoch ms. */
function dockerMs(value: string): number {
  const ms = Date.parse(value.replace(/(\.\d{3})\d*/, '$1'));
  if (!Number.isFinite(ms) || ms <= 0) throw new Error(`not a Docker time: ${value}`);
  return ms;
}

interface DockerInspect {
  Id: string;
  RestartCount: number;
  State: {
    Status: string;
    Running: boolean;
    ExitCode: number;
    StartedAt: string;
    FinishedAt: string;
    Health?: { Status: string; Log?: { Start: string; End: string; ExitCode: number }[] };
  };
  Config: { Labels: Record<string, string> };
}

describe('the agent through the ECS API on two real hosts', () => {
  let topology: Topology | undefined;
  /** Tasks a test started and did not stop: stopped after it, even when it failed. */
  const leftRunning = new Set<string>();

  beforeAll(async () => {
    topology = await startTopology({
      hosts: 2,
      agentEnv: {
        AGENT_TASK_CLEANUP_WAIT_MS: '2000',
        AGENT_STOP_TIMEOUT_S: '10',
        AGENT_HEARTBEAT_INTERVAL_MS: '1000',
        AGENT_DESIRED_STATUS_CHECK_MS: '3000',
      },
    });
  });

  afterEach(async () => {
    const arns = [...leftRunning];
    leftRunning.clear();
    await Promise.allSettled(
      arns.map((task) =>
        topology!.ecs.send(
          new StopTaskCommand({ cluster: topology!.cluster, task, reason: 'e2e clean-up' }),
        ),
      ),
    );
  });

  afterAll(async () => {
    await topology?.stop();
  });

  const t = () => topology!;

  async function register(
    family: string,
    containerDefinitions: ContainerDefinition[],
    volumes?: Volume[],
  ): Promise<string> {
    const out = await t().ecs.send(
      new RegisterTaskDefinitionCommand({ family, containerDefinitions, volumes }),
    );
    return out.taskDefinition!.taskDefinitionArn!;
  }

  async function run(taskDefinition: string): Promise<string> {
    const out = await t().ecs.send(
      new RunTaskCommand({ cluster: t().cluster, taskDefinition, count: 1 }),
    );
    expect(out.failures).toEqual([]);
    expect(out.tasks).toHaveLength(1);
    const arn = out.tasks![0].taskArn!;
    leftRunning.add(arn);
    return arn;
  }

  async function startOn(host: TopologyHost, taskDefinition: string): Promise<string> {
    const out = await t().ecs.send(
      new StartTaskCommand({
        cluster: t().cluster,
        taskDefinition,
        containerInstances: [host.containerInstanceArn],
      }),
    );
    expect(out.failures).toEqual([]);
    expect(out.tasks).toHaveLength(1);
    expect(out.tasks![0].containerInstanceArn).toBe(host.containerInstanceArn);
    const arn = out.tasks![0].taskArn!;
    leftRunning.add(arn);
    return arn;
  }

  async function stop(taskArn: string, reason = 'e2e says stop'): Promise<Task> {
    await t().ecs.send(new StopTaskCommand({ cluster: t().cluster, task: taskArn, reason }));
    const stopped = await t().waitForTask(taskArn, stoppedTask, `${taskArn} STOPPED`, WAIT_MS);
    leftRunning.delete(taskArn);
    return stopped;
  }

  function hostOf(task: Task): TopologyHost {
    const host = t().hosts.find((h) => h.containerInstanceArn === task.containerInstanceArn);
    if (!host) throw new Error(`task ${task.taskArn} is on no known host`);
    return host;
  }

  function containerOf(task: Task, name: string) {
    const c = task.containers?.find((x) => x.name === name);
    if (!c) throw new Error(`task ${task.taskArn} has no container ${name}`);
    return c;
  }

  /** Every Docker container of the task's container `name` on its host (there must be one). */
  async function inspectAll(task: Task, name: string): Promise<DockerInspect[]> {
    const host = hostOf(task);
    const ids = (
      await host.docker([
        'ps',
        '-aq',
        '--filter',
        `label=com.wharf.task-arn=${task.taskArn}`,
        '--filter',
        `label=com.wharf.container-name=${name}`,
      ])
    )
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!ids.length) return [];
    return JSON.parse(await host.docker(['inspect', ...ids])) as DockerInspect[];
  }

  async function inspect(task: Task, name: string): Promise<DockerInspect> {
    const all = await inspectAll(task, name);
    expect(all).toHaveLength(1);
    return all[0];
  }

  const running = (task: Task) => task.lastStatus === 'RUNNING';
  const stoppedTask = (task: Task) => task.lastStatus === 'STOPPED';

  it('an essential container that exits stops the task; a non-essential one does not', async () => {
    // The sidecar comes first in the start order, so it has long trapped SIGTERM by the time
    // main exits.
    const essentialExits = await register('e2e-essential-exit', [
      {
        name: 'sidecar',
        image: IMAGES.workload,
        essential: false,
        memory: 32,
        command: ['sh', '-c', LOOP],
        stopTimeout: 10,
      },
      {
        name: 'main',
        image: IMAGES.workload,
        essential: true,
        memory: 32,
        command: ['sh', '-c', 'sleep 1; exit 3'],
      },
    ]);
    const sidecarExits = await register('e2e-sidecar-exit', [
      {
        name: 'main',
        image: IMAGES.workload,
        essential: true,
        memory: 32,
        command: ['sh', '-c', LOOP],
        stopTimeout: 20,
      },
      {
        name: 'helper',
        image: IMAGES.workload,
        essential: false,
        memory: 32,
        command: ['sh', '-c', 'sleep 1; exit 5'],
      },
    ]);
    const [a, b] = await Promise.all([run(essentialExits), run(sidecarExits)]);

    const stopped = await t().waitForTask(a, stoppedTask, 'the essential exit to stop the task');
    leftRunning.delete(a);
    expect(stopped.desiredStatus).toBe('STOPPED');
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect(stopped.stoppedReason).toBe('Essential container in task exited');
    expect(containerOf(stopped, 'main')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 3 });
    // The sidecar was stopped by the agent (SIGTERM, which it traps).
    expect(containerOf(stopped, 'sidecar')).toMatchObject({
      lastStatus: 'STOPPED',
      exitCode: 143,
    });
    expect(stopped.stoppedAt).toBeInstanceOf(Date);
    expect(stopped.executionStoppedAt).toBeInstanceOf(Date);

    const helperDone = await t().waitForTask(
      b,
      (task) => containerOf(task, 'helper').lastStatus === 'STOPPED',
      'the non-essential helper to be reported STOPPED',
    );
    expect(helperDone.lastStatus).toBe('RUNNING');
    expect(helperDone.desiredStatus).toBe('RUNNING');
    expect(helperDone.stopCode).toBeUndefined();
    expect(containerOf(helperDone, 'helper').exitCode).toBe(5);
    expect(containerOf(helperDone, 'main').lastStatus).toBe('RUNNING');
    // And on the host: the essential container still runs, never restarted.
    const main = await inspect(helperDone, 'main');
    expect(main.State.Running).toBe(true);
    expect(main.RestartCount).toBe(0);
    expect(main.Id).toBe(containerOf(helperDone, 'main').runtimeId);

    const done = await stop(b);
    expect(done.stopCode).toBe('UserInitiated');
    expect(containerOf(done, 'main').exitCode).toBe(143);
    expect(containerOf(done, 'helper').exitCode).toBe(5);
  });

  it('dependsOn SUCCESS and HEALTHY: a container starts only once its dependency is met', async () => {
    const shared = [{ sourceVolume: 'shared', containerPath: '/shared' }];
    const onSuccess = await register(
      'e2e-depends-success',
      [
        {
          name: 'app',
          image: IMAGES.workload,
          essential: true,
          memory: 32,
          // Exits 9 (and so stops the task) if init had not finished writing.
          command: ['sh', '-c', `test "$(cat /shared/x)" = ready || exit 9; ${LOOP}`],
          mountPoints: shared,
          dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }],
          stopTimeout: 20,
        },
        {
          name: 'init',
          image: IMAGES.workload,
          essential: false,
          memory: 32,
          command: ['sh', '-c', 'sleep 1; echo ready > /shared/x'],
          mountPoints: shared,
        },
      ],
      [{ name: 'shared' }],
    );
    const onHealthy = await register('e2e-depends-healthy', [
      {
        name: 'app',
        image: IMAGES.workload,
        essential: true,
        memory: 32,
        command: ['sh', '-c', LOOP],
        dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }],
        stopTimeout: 20,
      },
      {
        name: 'db',
        image: IMAGES.workload,
        essential: true,
        memory: 32,
        command: ['sh', '-c', `mkdir -p /tmp && touch /tmp/ok; ${LOOP}`],
        healthCheck: {
          command: ['CMD-SHELL', 'test -f /tmp/ok'],
          interval: 5,
          timeout: 5,
          retries: 3,
          startPeriod: 10,
        },
        stopTimeout: 20,
      },
    ]);
    const [s, h] = await Promise.all([run(onSuccess), run(onHealthy)]);

    const afterInit = await t().waitForTask(s, running, 'the SUCCESS task RUNNING', WAIT_MS);
    expect(containerOf(afterInit, 'init')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
    expect(containerOf(afterInit, 'app').lastStatus).toBe('RUNNING');
    const [init, app] = await Promise.all([inspect(afterInit, 'init'), inspect(afterInit, 'app')]);
    expect(init.State.ExitCode).toBe(0);
    expect(app.State.Running).toBe(true);
    expect(dockerMs(app.State.StartedAt)).toBeGreaterThanOrEqual(dockerMs(init.State.FinishedAt));

    const afterDb = await t().waitForTask(h, running, 'the HEALTHY task RUNNING', WAIT_MS);
    expect(containerOf(afterDb, 'db').healthStatus).toBe('HEALTHY');
    // The task's health is its essential containers' that have a check: db's.
    expect(afterDb.healthStatus).toBe('HEALTHY');
    const [db, app2] = await Promise.all([inspect(afterDb, 'db'), inspect(afterDb, 'app')]);
    expect(app2.State.Running).toBe(true);
    // The first passing probe ended before the dependent container started.
    const passed = (db.State.Health?.Log ?? []).filter((l) => l.ExitCode === 0);
    expect(passed.length).toBeGreaterThan(0);
    expect(dockerMs(app2.State.StartedAt)).toBeGreaterThanOrEqual(dockerMs(passed[0].End));
    expect(dockerMs(app2.State.StartedAt)).toBeGreaterThan(dockerMs(db.State.StartedAt));

    await Promise.all([stop(s), stop(h)]);
  });

  it('health checks: HEALTHY and UNHEALTHY on the container and the task', async () => {
    const healthy = await register('e2e-healthy', [
      {
        name: 'web',
        image: IMAGES.workload,
        essential: true,
        memory: 32,
        command: ['sh', '-c', `mkdir -p /tmp && touch /tmp/ok; ${LOOP}`],
        healthCheck: {
          command: ['CMD-SHELL', 'test -f /tmp/ok'],
          interval: 5,
          timeout: 5,
          retries: 3,
          startPeriod: 10,
        },
        stopTimeout: 20,
      },
    ]);
    const unhealthy = await register('e2e-unhealthy', [
      {
        name: 'web',
        image: IMAGES.workload,
        essential: true,
        memory: 32,
        command: ['sh', '-c', LOOP],
        healthCheck: {
          command: ['CMD-SHELL', 'test -f /tmp/ok'],
          interval: 5,
          timeout: 5,
          retries: 1,
        },
        stopTimeout: 20,
      },
    ]);
    const [good, bad] = await Promise.all([run(healthy), run(unhealthy)]);

    const isHealthy = await t().waitForTask(
      good,
      (task) => task.healthStatus === 'HEALTHY',
      'the task HEALTHY',
      WAIT_MS,
    );
    expect(isHealthy.lastStatus).toBe('RUNNING');
    expect(containerOf(isHealthy, 'web').healthStatus).toBe('HEALTHY');
    expect((await inspect(isHealthy, 'web')).State.Health?.Status).toBe('healthy');

    const isUnhealthy = await t().waitForTask(
      bad,
      (task) => task.healthStatus === 'UNHEALTHY',
      'the task UNHEALTHY',
      WAIT_MS,
    );
    expect(containerOf(isUnhealthy, 'web').healthStatus).toBe('UNHEALTHY');
    expect((await inspect(isUnhealthy, 'web')).State.Health?.Status).toBe('unhealthy');
    // A task outside a service is not replaced for being unhealthy: it keeps running.
    expect(isUnhealthy.lastStatus).toBe('RUNNING');
    expect(isUnhealthy.desiredStatus).toBe('RUNNING');

    await Promise.all([stop(good), stop(bad)]);
  });

  it('kill -9 of an agent: the restarted agent is the same instance and adopts its tasks', async () => {
    const host = t().hosts[0];
    const family = await register('e2e-adopt', [
      {
        name: 'app',
        image: IMAGES.workload,
        essential: true,
        memory: 32,
        command: ['sh', '-c', LOOP],
        stopTimeout: 20,
      },
    ]);
    const survivorArn = await startOn(host, family);
    const victimArn = await startOn(host, family);
    const awayArn = await startOn(host, family);
    const [survivor, victim, away] = await Promise.all(
      [survivorArn, victimArn, awayArn].map((arn) =>
        t().waitForTask(arn, running, `${arn} RUNNING`, WAIT_MS),
      ),
    );
    const survivorBefore = await inspect(survivor, 'app');
    const victimBefore = await inspect(victim, 'app');
    const awayBefore = await inspect(away, 'app');
    expect(survivorBefore.Id).toBe(containerOf(survivor, 'app').runtimeId);
    expect(victimBefore.Id).toBe(containerOf(victim, 'app').runtimeId);
    const instancesBefore = (
      await t().ecs.send(new ListContainerInstancesCommand({ cluster: t().cluster }))
    ).containerInstanceArns?.sort();
    expect(instancesBefore).toHaveLength(2);

    // The agent dies; while it is away, one of its tasks' containers dies too, and a user
    // stops another (the agent cannot be told: the new one learns it from the cluster, or
    // hears it once it listens, whichever comes first).
    const killedPid = await host.killAgent('KILL');
    await host.docker(['kill', victimBefore.Id]);
    await t().ecs.send(
      new StopTaskCommand({
        cluster: t().cluster,
        task: awayArn,
        reason: 'stopped while the agent was away',
      }),
    );

    // The host's entry point starts a new agent process.
    await eventually(
      async () => {
        const pid = await host.agentPid();
        return pid !== undefined && pid !== killedPid ? pid : undefined;
      },
      'a new agent process',
      WAIT_MS,
    );

    const victimAfter = await t().waitForTask(
      victimArn,
      stoppedTask,
      'the task whose container died meanwhile to be reported STOPPED',
      WAIT_MS,
    );
    leftRunning.delete(victimArn);
    expect(victimAfter.stopCode).toBe('EssentialContainerExited');
    expect(containerOf(victimAfter, 'app')).toMatchObject({
      lastStatus: 'STOPPED',
      exitCode: 137,
    });
    expect(victimAfter.containerInstanceArn).toBe(host.containerInstanceArn);
    expect(victimAfter.stoppedAt).toBeInstanceOf(Date);

    const awayAfter = await t().waitForTask(
      awayArn,
      stoppedTask,
      'the task stopped while the agent was away to be STOPPED',
      WAIT_MS,
    );
    leftRunning.delete(awayArn);
    expect(awayAfter.stopCode).toBe('UserInitiated');
    expect(awayAfter.stoppedReason).toBe('stopped while the agent was away');
    expect(containerOf(awayAfter, 'app')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 143 });
    expect(containerOf(awayAfter, 'app').runtimeId).toBe(awayBefore.Id);

    // Same instance: no third one registered; connected again.
    const instancesAfter = (
      await t().ecs.send(new ListContainerInstancesCommand({ cluster: t().cluster }))
    ).containerInstanceArns?.sort();
    expect(instancesAfter).toEqual(instancesBefore);
    const identity = JSON.parse(
      (await host.exec(['cat', '/var/lib/wharf-agent/instance.json'])).stdout,
    ) as { containerInstanceArn: string };
    expect(identity.containerInstanceArn).toBe(host.containerInstanceArn);
    await eventually(
      async () => {
        const out = await t().ecs.send(
          new DescribeContainerInstancesCommand({
            cluster: t().cluster,
            containerInstances: [host.containerInstanceArn],
          }),
        );
        const ci = out.containerInstances?.[0];
        return ci?.agentConnected && ci.status === 'ACTIVE' ? ci : undefined;
      },
      'the instance connected again',
      WAIT_MS,
    );

    // The survivor was adopted, not started again: same container, same start.
    const survivorNow = await t().waitForTask(
      survivorArn,
      running,
      'the surviving task RUNNING',
      WAIT_MS,
    );
    expect(containerOf(survivorNow, 'app').runtimeId).toBe(survivorBefore.Id);
    expect(survivorNow.startedAt).toEqual(survivor.startedAt);
    const survivorAfter = await inspect(survivorNow, 'app');
    expect(survivorAfter.Id).toBe(survivorBefore.Id);
    expect(survivorAfter.State.Running).toBe(true);
    expect(survivorAfter.State.StartedAt).toBe(survivorBefore.State.StartedAt);
    expect(survivorAfter.RestartCount).toBe(0);

    // The new agent owns it: StopTask reaches it and it reports the exit.
    const done = await stop(survivorArn, 'stopped after adoption');
    expect(done.stopCode).toBe('UserInitiated');
    expect(done.stoppedReason).toBe('stopped after adoption');
    expect(containerOf(done, 'app').exitCode).toBe(143);
    // Each stopped task's container is removed after the clean-up wait.
    for (const task of [done, victimAfter, awayAfter]) {
      await eventually(
        async () => ((await inspectAll(task, 'app')).length === 0 ? true : undefined),
        `the container of ${task.taskArn} removed`,
        WAIT_MS,
      );
    }
  });
});
