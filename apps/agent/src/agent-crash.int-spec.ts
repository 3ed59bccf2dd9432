/**
 * kill -9 of a real agent process while its tasks run: the restarted agent is the same
 * container instance, adopts the running containers without starting anything twice, reports
 * what died meanwhile, and stops what the cluster stopped while it was away.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { common, createAgentClient, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
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
import { LABELS } from './engine/labels';
import { resolvePort } from './host-info';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const call = <T>(o: Observable<T>) => firstValueFrom(o);

let pg: StartedPostgres;
let nats: StartedNats;
let state: RunningState;
let stateClient: GrpcClient<stateV1.StateServiceClient>;
let dataDir: string;
let grpcPort: number;
let child: ChildProcess | undefined;
let instanceArn = '';

/** The agent as its own process, run from the TypeScript sources. */
function spawnAgent(): ChildProcess {
  const proc = spawn(process.execPath, [join(__dirname, 'testing', 'agent-process.cjs')], {
    env: {
      ...process.env,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      STATE_URL: state.grpcUrl,
      NATS_URL: nats.url,
      WHARF_CLUSTER: 'default',
      AGENT_GRPC_PORT: String(grpcPort),
      AGENT_OPS_PORT: '0',
      AGENT_DATA_DIR: dataDir,
      AGENT_HEARTBEAT_INTERVAL_MS: '500',
      AGENT_CPU: '2048',
      AGENT_MEMORY: '2048',
      AGENT_HOST_ADDRESS: '127.0.0.1',
      AGENT_ADVERTISE_ADDRESS: `127.0.0.1:${grpcPort}`,
      AGENT_STOP_TIMEOUT_S: '1',
      AGENT_TASK_CLEANUP_WAIT_MS: '1000',
    },
    stdio: ['ignore', 'ignore', process.env.TEST_LOG_LEVEL ? 'inherit' : 'ignore'],
  });
  child = proc;
  return proc;
}

function killed(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
  });
}

async function describeTask(taskArn: string): Promise<common.Task | undefined> {
  const res = await call(
    stateClient.client.describeTasks({ cluster: 'default', tasks: [taskArn] }),
  );
  return res.tasks[0];
}

function taskInState(taskArn: string, lastStatus: string): Promise<common.Task> {
  return eventually(async () => {
    const t = await describeTask(taskArn);
    return t?.lastStatus === lastStatus ? t : undefined;
  }, `${taskArn} ${lastStatus} in state`);
}

/** Registers a one-container definition, places a task on the agent, and starts it there. */
async function runTask(family: string, command: string[]): Promise<common.Task> {
  const td = await call(
    stateClient.client.registerTaskDefinition({
      definitionJson: JSON.stringify({
        family,
        containerDefinitions: [
          { name: 'main', image: IMAGES.workload, command, memory: 16, stopTimeout: 1 },
        ],
      }),
    }),
  );
  const ci = await call(
    stateClient.client.describeContainerInstances({
      cluster: 'default',
      containerInstances: [instanceArn],
    }),
  );
  const commit = await call(
    stateClient.client.commitPlacements({
      cluster: 'default',
      placements: [
        {
          expectedInstanceVersion: ci.containerInstances[0].version,
          fenceLease: '',
          fenceHolder: '',
          task: {
            taskDefinitionArn: td.taskDefinitionArn,
            containerInstanceArn: instanceArn,
            cpu: 0,
            memory: 16,
            hostPorts: [],
            hostPortsUdp: [],
            group: `family:${family}`,
            startedBy: 'agent-crash-test',
            launchType: 'EC2',
            containers: [{ name: 'main', image: IMAGES.workload, memory: '16', essential: true }],
          } as unknown as common.Task,
        },
      ],
    }),
  );
  expect(commit.rejected).toEqual([]);
  const task = commit.tasks[0];
  const agent = createAgentClient(`127.0.0.1:${grpcPort}`);
  try {
    expect((await call(agent.client.startTask({ task, taskDefinition: td }))).accepted).toBe(true);
  } finally {
    agent.close();
  }
  return task;
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
  dataDir = await mkdtemp(join(tmpdir(), 'wharf-agent-crash-'));
  grpcPort = await resolvePort(0);
});

afterAll(async () => {
  if (child) {
    child.kill('SIGKILL');
    await killed(child);
  }
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

it('kill -9 while tasks run: the restarted agent adopts, reports the dead, stops the stopped', async () => {
  spawnAgent();
  instanceArn = await eventually(async () => {
    const stored = JSON.parse(await readFile(join(dataDir, 'instance.json'), 'utf8'));
    return stored.containerInstanceArn as string;
  }, 'the agent registered');
  await eventually(async () => {
    const res = await call(
      stateClient.client.describeContainerInstances({
        cluster: 'default',
        containerInstances: [instanceArn],
      }),
    );
    return res.containerInstances[0]?.agentConnected ? true : undefined;
  }, 'the agent connected');

  const keep = await runTask('crash-keep', ['sleep', '300']);
  const dies = await runTask('crash-dies', ['sleep', '300']);
  const stop = await runTask('crash-stop', ['sleep', '300']);
  const [keepRunning, diesRunning] = await Promise.all(
    [keep, dies, stop].map((t) => taskInState(t.taskArn, 'RUNNING')),
  );
  const keepId = keepRunning.containers[0].runtimeId;
  const keepStartedAt = (await docker.getContainer(keepId).inspect()).State.StartedAt;

  child!.kill('SIGKILL');
  await killed(child!);
  // While the agent is dead: one container dies, and the cluster stops another task.
  await docker.getContainer(diesRunning.containers[0].runtimeId).kill();
  await call(
    stateClient.client.markTaskStopping({
      cluster: 'default',
      task: stop.taskArn,
      reason: 'Stopped while the agent was down',
      stopCode: 'UserInitiated',
    }),
  );

  spawnAgent();
  const diesStopped = await taskInState(dies.taskArn, 'STOPPED');
  expect(diesStopped.stopCode).toBe('EssentialContainerExited');
  expect(diesStopped.containers[0].exitCode).toBe(137);
  const stopStopped = await taskInState(stop.taskArn, 'STOPPED');
  expect(stopStopped.stopCode).toBe('UserInitiated');
  expect([137, 143]).toContain(stopStopped.containers[0].exitCode);

  // Same instance; the running task's one container was neither recreated nor restarted.
  const stored = JSON.parse(await readFile(join(dataDir, 'instance.json'), 'utf8'));
  expect(stored.containerInstanceArn).toBe(instanceArn);
  const keepNow = await describeTask(keep.taskArn);
  expect(keepNow?.lastStatus).toBe('RUNNING');
  const keepContainers = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.taskArn}=${keep.taskArn}`] },
  });
  expect(keepContainers.map((c) => c.Id)).toEqual([keepId]);
  expect((await docker.getContainer(keepId).inspect()).State.StartedAt).toBe(keepStartedAt);

  // Stopped tasks' containers go after the clean-up wait (1 s here).
  await eventually(async () => {
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.containerInstanceArn}=${instanceArn}`] },
    });
    return left.length === 1 ? true : undefined;
  }, 'stopped tasks cleaned up');
});
