/**
 * The whole agent in-process against real Postgres, NATS, the state service and the local
 * Docker engine: registration, a task placed through state and started over gRPC reaching
 * RUNNING in state, an agent restart that keeps the instance and its containers, and a stop.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import {
  agentV1,
  common,
  createAgentClient,
  createStateClient,
  GrpcClient,
  stateV1,
} from '@wharf/proto';
import {
  eventually,
  IMAGES,
  startNats,
  StartedNats,
  startPostgres,
  StartedPostgres,
} from '@wharf/testing';
import { startState, RunningState } from '../../state/src/state';
import { stateConfigSchema } from '../../state/src/config';
import { RunningAgent, startAgent } from './agent';
import { agentConfigSchema } from './config';
import { LABELS } from './engine/labels';
import { resolvePort } from './host-info';
import { EMPTY_TASK } from '../../state/src/state-test-fixtures';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const call = <T>(o: Observable<T>) => firstValueFrom(o);

let pg: StartedPostgres;
let nats: StartedNats;
let state: RunningState;
let stateClient: GrpcClient<stateV1.StateServiceClient>;
let agent: RunningAgent | undefined;
let dataDir: string;
let instanceArn = '';

function agentConfig() {
  return agentConfigSchema.parse({
    STATE_URL: state.grpcUrl,
    NATS_URL: nats.url,
    AGENT_GRPC_PORT: '0',
    AGENT_OPS_PORT: '0',
    AGENT_DATA_DIR: dataDir,
    AGENT_HEARTBEAT_INTERVAL_MS: '500',
    AGENT_ATTRIBUTES: 'ecs.availability-zone=az-1,disk=ssd',
    AGENT_CPU: '2048',
    AGENT_MEMORY: '2048',
    AGENT_HOST_ADDRESS: '127.0.0.1',
    AGENT_ADVERTISE_ADDRESS: 'agent-under-test:4703',
    AGENT_STOP_TIMEOUT_S: '1',
    AGENT_TASK_CLEANUP_WAIT_MS: '500',
  });
}

async function describeTask(taskArn: string): Promise<common.Task | undefined> {
  const res = await call(
    stateClient.client.describeTasks({ cluster: 'default', tasks: [taskArn] }),
  );
  return res.tasks[0];
}

beforeAll(async () => {
  [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  state = await startState(
    stateConfigSchema.parse({
      DATABASE_URL: pg.url,
      STATE_AGENT_JOIN: 'open',
      NATS_URL: nats.url,
      STATE_GRPC_PORT: '0',
      STATE_OPS_PORT: '0',
    }),
    logger,
  );
  stateClient = createStateClient(state.grpcUrl);
  dataDir = await mkdtemp(join(tmpdir(), 'wharf-agent-'));
});

afterAll(async () => {
  await agent?.stop();
  if (instanceArn) {
    const ours = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.containerInstanceArn}=${instanceArn}`] },
    });
    await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  }
  stateClient?.close();
  await state?.stop();
  await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('agent (with state, NATS and Docker)', () => {
  it('registers its container instance and remembers it in the data directory', async () => {
    agent = await startAgent(agentConfig(), logger);
    instanceArn = agent.containerInstanceArn;
    expect(instanceArn).toMatch(/:container-instance\/default\//);
    const stored = JSON.parse(await readFile(join(dataDir, 'instance.json'), 'utf8'));
    expect(stored.containerInstanceArn).toBe(instanceArn);

    const res = await call(
      stateClient.client.describeContainerInstances({
        cluster: 'default',
        containerInstances: [instanceArn],
      }),
    );
    const ci = res.containerInstances[0];
    expect(ci).toMatchObject({
      status: 'ACTIVE',
      agentConnected: true,
      registered: { cpu: 2048, memory: 2048, ports: [22, 2375, 2376, 51678, 51679] },
      agentAddress: 'agent-under-test:4703',
      hostAddress: '127.0.0.1',
    });
    expect(ci.dockerVersion).not.toBe('');
    const ready = await fetch(`http://127.0.0.1:${agent.opsPort}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.opsPort}/metrics`)).text();
    expect(metrics).toContain('wharf_agent_tasks');
    expect(ci.attributes).toEqual(
      expect.arrayContaining([
        { name: 'ecs.os-type', value: 'linux' },
        { name: 'ecs.availability-zone', value: 'az-1' },
        { name: 'disk', value: 'ssd' },
      ]),
    );
    await eventually(async () => {
      const again = await call(
        stateClient.client.describeContainerInstances({
          cluster: 'default',
          containerInstances: [instanceArn],
        }),
      );
      return again.containerInstances[0].lastHeartbeatAt > 0 ? true : undefined;
    }, 'a heartbeat applied by state');
  });

  it('rejects a StartTask without a task definition as INVALID_ARGUMENT', async () => {
    const client = createAgentClient(agent!.grpcUrl);
    try {
      const err = await call(
        client.client.startTask({ task: undefined, taskDefinition: undefined }),
      ).then(
        () => undefined,
        (e: { code: number; details: string }) => e,
      );
      expect(err?.code).toBe(GrpcCode.INVALID_ARGUMENT);
      expect(err?.details).toMatch(/^InvalidParameterException: /);
    } finally {
      client.close();
    }
  });

  it('runs a placed task to RUNNING, survives an agent restart, and stops it', async () => {
    const hostPort = await resolvePort(0);
    const td = await call(
      stateClient.client.registerTaskDefinition({
        definitionJson: JSON.stringify({
          family: 'agentit',
          containerDefinitions: [
            {
              name: 'web',
              image: IMAGES.workload,
              command: ['sleep', '300'],
              memory: 32,
              cpu: 64,
              portMappings: [{ containerPort: 80, hostPort }],
            },
          ],
        }),
      }),
    );
    const commit = await call(
      stateClient.client.commitPlacements({
        cluster: 'default',
        placements: [
          {
            expectedInstanceVersion: 0,
            fenceLease: '',
            fenceHolder: '',
            task: {
              ...EMPTY_TASK,
              taskDefinitionArn: td.taskDefinitionArn,
              containerInstanceArn: instanceArn,
              cpu: 64,
              memory: 32,
              hostPorts: [hostPort],
              group: 'family:agentit',
              startedBy: 'agent-test',
              launchType: 'EC2',
              containers: [
                {
                  containerArn: '',
                  name: 'web',
                  image: IMAGES.workload,
                  runtimeId: '',
                  lastStatus: '',
                  exitCode: undefined,
                  reason: '',
                  networkBindings: [],
                  healthStatus: '',
                  cpu: '64',
                  memory: '32',
                  memoryReservation: '',
                  essential: true,
                },
              ],
            },
          },
        ],
      }),
    );
    expect(commit.rejected).toEqual([]);
    const task = commit.tasks[0];

    // As the scheduler does: the start goes on a StartTasks stream, which stays open.
    const agentClient = createAgentClient(agent!.grpcUrl);
    const raw = agentClient.raw();
    const stream = raw.StartTasks.call(raw) as ClientDuplexStream<
      agentV1.StartTaskRequest,
      agentV1.StartTaskResult
    >;
    const streamStatus = new Promise<{ code: number }>((resolve) => stream.on('status', resolve));
    stream.on('error', () => undefined);
    const result = new Promise<agentV1.StartTaskResult>((resolve) => stream.once('data', resolve));
    stream.write({ task, taskDefinition: td });
    expect(await result).toEqual({
      taskArn: task.taskArn,
      accepted: true,
      errorCode: 0,
      errorMessage: '',
    });

    const running = await eventually(async () => {
      const t = await describeTask(task.taskArn);
      return t?.lastStatus === 'RUNNING' ? t : undefined;
    }, 'task RUNNING in state');
    const web = running.containers[0];
    expect(web.runtimeId).toMatch(/^[0-9a-f]{64}$/);
    expect(web.networkBindings).toEqual([
      { bindIp: '0.0.0.0', containerPort: 80, hostPort, protocol: 'tcp' },
    ]);
    expect(running.startedAt).toBeGreaterThan(0);

    // A graceful agent stop ends the open stream itself (its server would wait for it) and
    // leaves the task's containers running …
    await agent!.stop();
    agent = undefined;
    expect((await streamStatus).code).toBe(GrpcCode.OK);
    agentClient.close();
    expect((await docker.getContainer(web.runtimeId).inspect()).State.Running).toBe(true);

    // … and the restarted agent is the same instance and owns the task again.
    agent = await startAgent(agentConfig(), logger);
    expect(agent.containerInstanceArn).toBe(instanceArn);
    expect(agent.engine.get(task.taskArn)?.knownStatus).toBe('RUNNING');

    await call(
      stateClient.client.markTaskStopping({
        cluster: 'default',
        task: task.taskArn,
        reason: 'Task stopped by the test',
        stopCode: 'UserInitiated',
      }),
    );
    const client2 = createAgentClient(agent.grpcUrl);
    const stop = await call(
      client2.client.stopTask({
        taskArn: task.taskArn,
        reason: 'Task stopped by the test',
        stopCode: 'UserInitiated',
      }),
    );
    client2.close();
    expect(stop.known).toBe(true);

    const stopped = await eventually(async () => {
      const t = await describeTask(task.taskArn);
      return t?.lastStatus === 'STOPPED' ? t : undefined;
    }, 'task STOPPED in state');
    expect(stopped.stopCode).toBe('UserInitiated');
    expect(stopped.stoppedReason).toBe('Task stopped by the test');
    expect([137, 143]).toContain(stopped.containers[0].exitCode);
    await eventually(async () => {
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.taskArn}=${task.taskArn}`] },
      });
      return left.length === 0 ? true : undefined;
    }, 'containers removed');
  });
});
