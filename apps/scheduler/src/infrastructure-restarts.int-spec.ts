/**
 * The control plane rides out its infrastructure going away: state and the scheduler (in this
 * process) on Postgres and NATS containers that are restarted and stopped under them, with a
 * recording agent and reports published as an agent publishes them. The containers are on a
 * Docker network of their own, where the services reach them at their addresses: those survive
 * a restart (a published port does not) and no other container can take them meanwhile. (This
 * needs a Docker engine on this host, as on Linux, whose networks the host can reach.)
 */
import { jetstream, JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { loadConfig } from '@wharf/config';
import { CAPABILITIES } from '@wharf/domain';
import { connectNats, decodeEvents, encode, subjects, TaskStateReport } from '@wharf/messaging';
import { createLogger } from '@wharf/observability';
import {
  common,
  createSchedulerClient,
  createStateClient,
  GrpcClient,
  schedulerV1,
  stateV1,
} from '@wharf/proto';
import {
  eventually,
  startNats,
  startPostgres,
  type StartedNats,
  type StartedPostgres,
} from '@wharf/testing';
import { execFile } from 'node:child_process';
import { Network, type StartedNetwork } from 'testcontainers';
import { promisify } from 'node:util';
import { firstValueFrom, Observable } from 'rxjs';
import { stateConfigSchema } from '../../state/src/config';
import { RunningState, startState } from '../../state/src/state';
import { schedulerConfigSchema } from './config';
import { freePort } from './free-port';
import { startScheduler } from './scheduler';
import { AgentCommands, startRecordingAgent } from './scheduler-test-fixtures';

jest.setTimeout(240_000);

const docker = promisify(execFile);
const call = <T>(obs: Observable<T>) => firstValueFrom(obs);
const CLUSTER = 'restarts';

describe('state and scheduler through Postgres and NATS restarts', () => {
  let network: StartedNetwork;
  let postgres: StartedPostgres;
  let nats: StartedNats;
  let natsUrl: string;
  const stops: (() => Promise<unknown>)[] = [];
  let state: GrpcClient<stateV1.StateServiceClient>;
  let scheduler: GrpcClient<schedulerV1.SchedulerServiceClient>;
  let nc: NatsConnection;
  let js: JetStreamClient;
  const agentGot: AgentCommands = { start: [], stop: [] };
  /** Every task event seen on NATS (the relay's output), newest last. */
  const taskEvents: common.Task[] = [];
  let seq = Date.now() * 1000;
  let runningState: RunningState;
  let startStateHere: () => Promise<RunningState>;

  const runTask = async () => {
    const res = await call(
      scheduler.client.runTask({
        cluster: CLUSTER,
        taskDefinition: 'web',
        count: 1,
        group: '',
        startedBy: '',
        overridesJson: '',
        tagsJson: '',
        launchType: '',
      }),
    );
    expect(res.failures).toEqual([]);
    return res.tasks[0];
  };

  const describeTask = async (arn: string) =>
    (await call(state.client.describeTasks({ cluster: CLUSTER, tasks: [arn] }))).tasks[0];

  /** Publishes a RUNNING report as the agent does (retrying while NATS is away). */
  const reportRunning = (task: common.Task) => {
    const report: TaskStateReport = {
      v: 1,
      clusterArn: task.clusterArn,
      containerInstanceArn: task.containerInstanceArn,
      taskArn: task.taskArn,
      seq: ++seq,
      lastStatus: 'RUNNING',
      containers: task.containers.map((c) => ({
        name: c.name,
        runtimeId: 'c0ffee',
        lastStatus: 'RUNNING',
      })),
      startedAt: Date.now(),
      reportedAt: Date.now(),
    };
    return eventually(
      () =>
        js
          .publish(subjects.report(CLUSTER, 'task_state'), encode(report), {
            msgID: `${task.taskArn}:${report.seq}`,
          })
          .then(() => true),
      'report published',
      60_000,
    );
  };

  const runningInState = (arn: string) =>
    eventually(
      async () => ((await describeTask(arn))?.lastStatus === 'RUNNING' ? true : undefined),
      `task ${arn} RUNNING in state`,
      60_000,
    );

  /**
   * After an outage (`when`): a report about `task` is applied and its RUNNING event
   * published, and a new task runs.
   */
  const worksAgain = async (task: common.Task, when: string) => {
    await reportRunning(task);
    await runningInState(task.taskArn);
    await eventually(
      async () =>
        taskEvents.some((t) => t.taskArn === task.taskArn && t.lastStatus === 'RUNNING')
          ? true
          : undefined,
      `the RUNNING event published ${when}`,
      60_000,
    );
    const after = await eventually(() => runTask(), `RunTask ${when}`, 60_000);
    await reportRunning(after);
    await runningInState(after.taskArn);
  };

  const networkAddress = (c: StartedPostgres | StartedNats, port: number) =>
    `${c.container.getIpAddress(network.getName())}:${port}`;

  beforeAll(async () => {
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    network = await new Network().start();
    [postgres, nats] = await Promise.all([startPostgres(network), startNats(network)]);
    stops.push(
      () => postgres.container.stop(),
      () => nats.container.stop(),
      () => network.stop(), // last: the containers leave it first
    );
    natsUrl = `nats://${networkAddress(nats, 4222)}`;
    const logger = createLogger('restarts-int', process.env.LOG_LEVEL ?? 'silent');
    // A fixed port: a restarted state serves where its clients look for it.
    const statePort = String(await freePort());
    startStateHere = () =>
      startState(
        loadConfig(stateConfigSchema, {
          DATABASE_URL: `postgres://wharf:wharf@${networkAddress(postgres, 5432)}/wharf`,
          NATS_URL: natsUrl,
          STATE_AGENT_JOIN: 'open',
          STATE_GRPC_PORT: statePort,
          STATE_OPS_PORT: '0',
          // No heartbeats here: the instance stays connected.
          AGENT_HEARTBEAT_TTL_MS: '600000',
        }),
        logger,
      );
    runningState = await startStateHere();
    stops.unshift(() => runningState.stop());
    const runningScheduler = await startScheduler(
      loadConfig(schedulerConfigSchema, {
        STATE_URL: runningState.grpcUrl,
        NATS_URL: natsUrl,
        SCHEDULER_GRPC_PORT: '0',
        SCHEDULER_OPS_PORT: '0',
      }),
      logger,
    );
    stops.unshift(() => runningScheduler.stop());
    const agentAddress = `127.0.0.1:${await freePort()}`;
    const agent = await startRecordingAgent(agentAddress, agentGot);
    stops.unshift(() => agent.close());
    state = createStateClient(runningState.grpcUrl);
    scheduler = createSchedulerClient(runningScheduler.grpcUrl);
    stops.unshift(async () => {
      state.close();
      scheduler.close();
    });
    nc = await connectNats({ servers: natsUrl, name: 'restarts-test' });
    stops.unshift(() => nc.close());
    js = jetstream(nc);
    nc.subscribe(subjects.event(CLUSTER, 'task', '*'), {
      callback: (err, msg) => {
        if (!err) taskEvents.push(...decodeEvents<common.Task>(msg.data).map((e) => e.detail));
      },
    });

    await call(state.client.createCluster({ clusterName: CLUSTER, tagsJson: '' }));
    await call(
      state.client.registerTaskDefinition({
        definitionJson: JSON.stringify({
          family: 'web',
          containerDefinitions: [
            { name: 'app', image: 'wharf/busybox:dev', memory: 16, essential: true },
          ],
        }),
      }),
    );
    await call(
      state.client.registerContainerInstance({
        cluster: CLUSTER,
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 4096, memory: 4096, ports: [], portsUdp: [] },
        attributes: Object.values(CAPABILITIES).map((name) => ({ name, value: '' })),
        agentVersion: 'test',
        dockerVersion: '',
        agentAddress,
        hostname: 'h',
        hostAddress: '127.0.0.1',
      }),
    );
  });

  afterAll(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('NATS restarts: reports are applied and events published again, tasks still run', async () => {
    const before = await runTask();
    expect(agentGot.start.map((s) => s.task?.taskArn)).toContain(before.taskArn);

    await nats.container.restart();

    await worksAgain(before, 'after the restart');
  });

  it('NATS away for 30 s: once back, reports are applied, events flow and tasks run', async () => {
    const task = await runTask();
    const id = nats.container.getId();
    await docker('docker', ['stop', '-t', '1', id]);
    try {
      // Longer than the clients' heartbeats and the consumer's idle checks.
      await new Promise((r) => setTimeout(r, 30_000));
    } finally {
      await docker('docker', ['start', id]);
    }
    await worksAgain(task, 'after NATS is back');
  });

  it('state restarts: the scheduler reaches it again once it is back', async () => {
    const before = await runTask();
    await runningState.stop();
    // Away long enough for a client's reconnect backoff to grow (Wharf's clients cap it at 5 s;
    // grpc-js's own would grow to 2 min).
    const away = Date.now() + 20_000;
    while (Date.now() < away) {
      await runTask().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    runningState = await startStateHere();
    const after = await eventually(() => runTask(), 'RunTask after state is back', 60_000);
    await reportRunning(before);
    await reportRunning(after);
    await runningInState(before.taskArn);
    await runningInState(after.taskArn);
  });

  it('Postgres away: calls fail rather than hang, and once back a report sent meanwhile is applied', async () => {
    const task = await runTask();
    const id = postgres.container.getId();
    await docker('docker', ['stop', '-t', '1', id]);
    try {
      await reportRunning(task);
      // Refused, saying why, well before a client would give up (not held until the kernel
      // gives up on the vanished host).
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        runTask().then(
          () => 'answered',
          (err: { details?: string }) => err.details ?? String(err),
        ),
        new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer'), 45_000))),
      ]).finally(() => clearTimeout(timer));
      expect(outcome).toContain('The cluster state database (Postgres) cannot be reached');
    } finally {
      await docker('docker', ['start', id]);
    }
    await runningInState(task.taskArn);
    const after = await eventually(() => runTask(), 'RunTask after Postgres is back', 60_000);
    await reportRunning(after);
    await runningInState(after.taskArn);
  });
});
