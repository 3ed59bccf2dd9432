import Docker from 'dockerode';
import pino from 'pino';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connectNats, decode, ensureStreams, subjects, TaskStateReport } from '@wharf/messaging';
import { eventually, IMAGES, startNats, StartedNats } from '@wharf/testing';
import type { common } from '@wharf/proto';
import { InvalidParameterError } from '@wharf/domain';
import { JetStreamReportPublisher } from './reporting/report-publisher';
import { resolvePort } from './host-info';
import { LABELS } from './engine/labels';
import { TaskEngine, TaskEngineOptions } from './engine/task-engine';

jest.setTimeout(120_000);

const RUN = Date.now().toString(36);
const CLUSTER = `agentit${RUN}`;
const CLUSTER_ARN = `arn:aws:ecs:us-east-1:000000000000:cluster/${CLUSTER}`;
const INSTANCE_ARN = `arn:aws:ecs:us-east-1:000000000000:container-instance/${CLUSTER}/ci-${RUN}`;
const IMAGE = IMAGES.workload;
const MiB = 1024 * 1024;

const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let nats: StartedNats;
let nc: NatsConnection;
let sub: Subscription;
const reports: TaskStateReport[] = [];
const engines: TaskEngine[] = [];
let publisher: JetStreamReportPublisher;
let taskCounter = 0;

function newEngine(options: Partial<TaskEngineOptions> = {}): TaskEngine {
  const engine = new TaskEngine({
    docker,
    sink: publisher,
    logger,
    clusterName: CLUSTER,
    clusterArn: CLUSTER_ARN,
    containerInstanceArn: INSTANCE_ARN,
    defaultStopTimeoutS: 2,
    cleanupWaitMs: 0,
    ...options,
  });
  engines.push(engine);
  return engine;
}

function newTaskArn(): string {
  return `arn:aws:ecs:us-east-1:000000000000:task/${CLUSTER}/t${RUN}x${++taskCounter}`;
}

function taskOf(taskArn: string, overrides?: object): common.Task {
  return { taskArn, overridesJson: overrides ? JSON.stringify(overrides) : '' } as common.Task;
}

function definitionOf(family: string, containerDefinitions: object[], extra: object = {}) {
  return {
    family,
    revision: 1,
    definitionJson: JSON.stringify({ family, revision: 1, containerDefinitions, ...extra }),
  } as common.TaskDefinition;
}

function reportsFor(taskArn: string): TaskStateReport[] {
  return reports.filter((r) => r.taskArn === taskArn);
}

function waitForReport(
  taskArn: string,
  lastStatus: string,
  match: (r: TaskStateReport) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<TaskStateReport> {
  return eventually(
    async () => reportsFor(taskArn).find((r) => r.lastStatus === lastStatus && match(r)),
    `${lastStatus} report for ${taskArn}`,
    timeoutMs,
    100,
  );
}

async function containersOf(taskArn: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABELS.taskArn}=${taskArn}`] } });
}

async function removeOurContainers(): Promise<void> {
  const ours = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.containerInstanceArn}=${INSTANCE_ARN}`] },
  });
  await Promise.all(
    ours.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

beforeAll(async () => {
  nats = await startNats();
  nc = await connectNats({ servers: nats.url, name: 'agent-int-test' });
  await ensureStreams(nc);
  // JetStream-published messages are also delivered to plain subscribers of the subject.
  sub = nc.subscribe(subjects.report(CLUSTER, 'task_state'));
  void (async () => {
    for await (const m of sub) reports.push(decode<TaskStateReport>(m.data));
  })();
  publisher = new JetStreamReportPublisher(nc, CLUSTER, logger);
});

afterAll(async () => {
  for (const e of engines) await e.close(1_000);
  await removeOurContainers();
  publisher?.close();
  sub?.unsubscribe();
  await nc?.drain().catch(() => undefined);
  await nats?.container.stop();
});

describe('TaskEngine against the real Docker engine', () => {
  it('runs a two-container task, reports RUNNING with bindings, stops and removes it', async () => {
    const engine = newEngine();
    await engine.start();
    const taskArn = newTaskArn();
    const staticPort = await resolvePort(0);
    const def = definitionOf('web', [
      {
        name: 'app',
        image: IMAGE,
        command: ['sleep', '300'],
        memory: 64,
        cpu: 128,
        stopTimeout: 1,
        environment: [
          { name: 'GREETING', value: 'hello' },
          { name: 'COLOR', value: 'blue' },
        ],
        portMappings: [{ containerPort: 8080, hostPort: staticPort }, { containerPort: 9090 }],
        dockerLabels: { 'example.team': 'core' },
      },
      {
        name: 'sidecar',
        image: IMAGE,
        command: ['sleep', '300'],
        memory: 64,
        stopTimeout: 1,
      },
    ]);
    const { accepted } = engine.startTask(
      taskOf(taskArn, {
        containerOverrides: [{ name: 'app', environment: [{ name: 'COLOR', value: 'red' }] }],
      }),
      def,
    );
    expect(accepted).toBe(true);

    const running = await waitForReport(taskArn, 'RUNNING');
    expect(reportsFor(taskArn)[0].lastStatus).toBe('PENDING');
    expect(running).toMatchObject({
      v: 1,
      clusterArn: CLUSTER_ARN,
      containerInstanceArn: INSTANCE_ARN,
      taskArn,
    });
    expect(running.pullStartedAt).toBeGreaterThan(0);
    expect(running.startedAt).toBeGreaterThan(0);
    const app = running.containers.find((c) => c.name === 'app')!;
    expect(app.lastStatus).toBe('RUNNING');
    expect(app.runtimeId).toMatch(/^[0-9a-f]{64}$/);
    expect(app.networkBindings).toContainEqual({
      bindIP: '0.0.0.0',
      containerPort: 8080,
      hostPort: staticPort,
      protocol: 'tcp',
    });
    const dynamic = app.networkBindings!.find((b) => b.containerPort === 9090)!;
    expect(dynamic.hostPort).toBeGreaterThan(0);
    expect(running.containers.find((c) => c.name === 'sidecar')!.lastStatus).toBe('RUNNING');

    const info = await docker.getContainer(app.runtimeId).inspect();
    expect(info.Name).toBe(`/wharf-web-1-app-t${RUN}x${taskCounter}`);
    expect(info.State.Running).toBe(true);
    expect(info.Config.Labels).toMatchObject({
      [LABELS.taskArn]: taskArn,
      [LABELS.containerName]: 'app',
      [LABELS.cluster]: CLUSTER,
      [LABELS.containerInstanceArn]: INSTANCE_ARN,
      'example.team': 'core',
    });
    expect(info.Config.Env).toEqual(expect.arrayContaining(['GREETING=hello', 'COLOR=red']));
    expect(info.HostConfig.Memory).toBe(64 * MiB);
    expect(info.HostConfig.CpuShares).toBe(128);
    expect(info.Config.Cmd).toEqual(['sleep', '300']);

    const { known } = engine.stopTask(taskArn, 'Stopped by the test', '');
    expect(known).toBe(true);
    const stopped = await waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('UserInitiated');
    expect(stopped.stoppedReason).toBe('Stopped by the test');
    expect(stopped.stoppingAt).toBeGreaterThan(0);
    expect(stopped.stoppedAt).toBeGreaterThanOrEqual(stopped.stoppingAt!);
    expect(stopped.executionStoppedAt).toBeGreaterThan(0);
    for (const c of stopped.containers) {
      expect(c.lastStatus).toBe('STOPPED');
      expect([137, 143]).toContain(c.exitCode);
      expect(c.networkBindings).toBeUndefined();
    }
    const seqs = reportsFor(taskArn).map((r) => r.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    await eventually(
      async () => ((await containersOf(taskArn)).length === 0 ? true : undefined),
      'containers removed',
    );
    expect(engine.get(taskArn)).toBeUndefined();
  });

  it('stops the task when an essential container exits', async () => {
    const engine = newEngine();
    await engine.start();
    const taskArn = newTaskArn();
    engine.startTask(
      taskOf(taskArn),
      definitionOf('exits', [
        { name: 'main', image: IMAGE, command: ['sh', '-c', 'sleep 1; exit 3'], memory: 32 },
        {
          name: 'side',
          image: IMAGE,
          command: ['sleep', '300'],
          essential: false,
          memory: 32,
          stopTimeout: 1,
        },
      ]),
    );
    const stopped = await waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect(stopped.stoppedReason).toBe('Essential container in task exited');
    expect(stopped.containers.find((c) => c.name === 'main')).toMatchObject({
      lastStatus: 'STOPPED',
      exitCode: 3,
    });
    expect([137, 143]).toContain(stopped.containers.find((c) => c.name === 'side')!.exitCode);
    await eventually(
      async () => ((await containersOf(taskArn)).length === 0 ? true : undefined),
      'containers removed',
    );
  });

  it('an essential container that exits at once still stops the task with its exit code', async () => {
    const engine = newEngine();
    await engine.start();
    const taskArn = newTaskArn();
    engine.startTask(
      taskOf(taskArn),
      definitionOf('fast', [{ name: 'main', image: IMAGE, command: ['sh', '-c', 'exit 3'] }]),
    );
    const stopped = await waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect(stopped.containers[0]).toMatchObject({ lastStatus: 'STOPPED', exitCode: 3 });
  });

  it('a non-essential container exiting only reports that container', async () => {
    const engine = newEngine();
    await engine.start();
    const taskArn = newTaskArn();
    engine.startTask(
      taskOf(taskArn),
      definitionOf('helper', [
        { name: 'main', image: IMAGE, command: ['sleep', '300'], stopTimeout: 1 },
        { name: 'once', image: IMAGE, command: ['sh', '-c', 'sleep 1; exit 5'], essential: false },
      ]),
    );
    const report = await waitForReport(taskArn, 'RUNNING', (r) =>
      r.containers.some((c) => c.name === 'once' && c.lastStatus === 'STOPPED'),
    );
    expect(report.containers.find((c) => c.name === 'once')!.exitCode).toBe(5);
    expect(report.containers.find((c) => c.name === 'main')!.lastStatus).toBe('RUNNING');
    expect(report.stopCode).toBeUndefined();
    engine.stopTask(taskArn, 'done', 'ServiceSchedulerInitiated');
    const stopped = await waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('ServiceSchedulerInitiated');
  });

  it('reports container health from Docker health checks', async () => {
    const engine = newEngine();
    await engine.start();
    const taskArn = newTaskArn();
    engine.startTask(
      taskOf(taskArn),
      definitionOf('health', [
        {
          name: 'main',
          image: IMAGE,
          command: ['sleep', '300'],
          stopTimeout: 1,
          healthCheck: { command: ['CMD-SHELL', 'true'], interval: 1, timeout: 1, retries: 1 },
        },
      ]),
    );
    const first = await waitForReport(taskArn, 'RUNNING');
    expect(['UNKNOWN', 'HEALTHY']).toContain(first.containers[0].healthStatus);
    await waitForReport(taskArn, 'RUNNING', (r) => r.containers[0].healthStatus === 'HEALTHY');
    engine.stopTask(taskArn, 'done', 'UserInitiated');
    await waitForReport(taskArn, 'STOPPED');
  });

  it('fails to start when the image can be neither found nor pulled', async () => {
    const engine = newEngine();
    await engine.start();
    const taskArn = newTaskArn();
    engine.startTask(
      taskOf(taskArn),
      definitionOf('missing', [{ name: 'main', image: 'wharf/does-not-exist:1' }]),
    );
    const stopped = await waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('TaskFailedToStart');
    expect(stopped.stoppedReason).toMatch(/^CannotPullContainerError/);
    expect(stopped.containers[0].reason).toMatch(/^CannotPullContainerError/);
    expect(stopped.pullStartedAt).toBeGreaterThan(0);
    expect(stopped.pullStoppedAt).toBeGreaterThanOrEqual(stopped.pullStartedAt!);
    expect(await containersOf(taskArn)).toHaveLength(0);
  });

  it('a definition it cannot run is refused and reported as failed to start', async () => {
    const engine = newEngine();
    await engine.start();
    const taskArn = newTaskArn();
    expect(() =>
      engine.startTask(taskOf(taskArn), {
        family: 'bad',
        revision: 1,
        definitionJson: '{',
      } as never),
    ).toThrow(InvalidParameterError);
    expect(() =>
      engine.startTask(
        { ...taskOf(newTaskArn()), containerInstanceArn: `${INSTANCE_ARN}-elsewhere` },
        definitionOf('elsewhere', [{ name: 'main', image: IMAGE }]),
      ),
    ).toThrow(/not on this instance/);
    const stopped = await waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('TaskFailedToStart');
    expect(stopped.stoppedReason).toMatch(/^InvalidParameterException: /);
  });

  it('a host port already taken fails the task to start and leaves nothing behind', async () => {
    const engine = newEngine();
    await engine.start();
    const hostPort = await resolvePort(0);
    const holder = newTaskArn();
    const port = [{ containerPort: 80, hostPort }];
    engine.startTask(
      taskOf(holder),
      definitionOf('holder', [
        {
          name: 'main',
          image: IMAGE,
          command: ['sleep', '300'],
          stopTimeout: 1,
          portMappings: port,
        },
      ]),
    );
    await waitForReport(holder, 'RUNNING');
    const taskArn = newTaskArn();
    engine.startTask(
      taskOf(taskArn),
      definitionOf('clash', [
        {
          name: 'main',
          image: IMAGE,
          command: ['sleep', '300'],
          stopTimeout: 1,
          portMappings: port,
        },
      ]),
    );
    const stopped = await waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('TaskFailedToStart');
    expect(stopped.stoppedReason).toMatch(/^CannotStartContainerError: /);
    await eventually(
      async () => ((await containersOf(taskArn)).length === 0 ? true : undefined),
      'containers removed',
    );
    engine.stopTask(holder, 'done', 'UserInitiated');
    await waitForReport(holder, 'STOPPED');
  });

  it('a stop racing the start ends STOPPED with nothing left behind', async () => {
    const engine = newEngine();
    await engine.start();
    const taskArn = newTaskArn();
    engine.startTask(
      taskOf(taskArn),
      definitionOf('race', [
        { name: 'main', image: IMAGE, command: ['sleep', '300'], stopTimeout: 1 },
      ]),
    );
    expect(engine.stopTask(taskArn, 'changed my mind', 'UserInitiated').known).toBe(true);
    const stopped = await waitForReport(taskArn, 'STOPPED');
    expect(stopped.stoppedReason).toBe('changed my mind');
    await engine.get(taskArn)?.idle();
    await eventually(
      async () => ((await containersOf(taskArn)).length === 0 ? true : undefined),
      'containers removed',
    );
    expect(reportsFor(taskArn).filter((r) => r.lastStatus === 'STOPPED')).toHaveLength(1);
    // A late duplicate StartTask does not bring it back.
    engine.startTask(taskOf(taskArn), definitionOf('race', [{ name: 'main', image: IMAGE }]));
    expect(engine.get(taskArn)).toBeUndefined();
  });

  it('stopping an unknown task removes its labelled containers and answers known=false', async () => {
    const engine = newEngine();
    await engine.start();
    const taskArn = newTaskArn();
    const stray = await docker.createContainer({
      Image: IMAGE,
      Cmd: ['sleep', '300'],
      Labels: { [LABELS.taskArn]: taskArn, [LABELS.containerInstanceArn]: `${INSTANCE_ARN}-other` },
    });
    const { known, stopped } = engine.stopTask(taskArn, 'cleanup', 'UserInitiated');
    expect(known).toBe(false);
    await stopped;
    await expect(stray.inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect((await waitForReport(taskArn, 'STOPPED')).containers).toEqual([]);
  });

  it('a new engine on the same instance adopts running containers', async () => {
    const first = newEngine();
    await first.start();
    const taskArn = newTaskArn();
    first.startTask(
      taskOf(taskArn),
      definitionOf('adopt', [
        {
          name: 'main',
          image: IMAGE,
          command: ['sleep', '300'],
          stopTimeout: 1,
          portMappings: [{ containerPort: 80 }],
        },
      ]),
    );
    const running = await waitForReport(taskArn, 'RUNNING');
    await first.close();

    const second = newEngine();
    await second.start();
    const adopted = await waitForReport(taskArn, 'RUNNING', (r) => r.seq > running.seq);
    expect(adopted.containers[0].runtimeId).toBe(running.containers[0].runtimeId);
    expect(adopted.containers[0].networkBindings).toEqual(running.containers[0].networkBindings);
    expect(second.get(taskArn)?.knownStatus).toBe('RUNNING');

    // The adopting engine follows the task's containers from now on.
    await docker.getContainer(running.containers[0].runtimeId).kill();
    const stopped = await waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect(stopped.containers[0].exitCode).toBe(137);
  });
});
