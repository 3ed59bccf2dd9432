/**
 * StreamLogs against the real agent gRPC server and the local Docker engine, with the real
 * state and scheduler placing the tasks (Postgres and NATS from Testcontainers).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import pino from 'pino';
import { firstValueFrom, lastValueFrom, Observable, toArray } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import {
  agentV1,
  common,
  createAgentClient,
  createSchedulerClient,
  createStateClient,
  GrpcClient,
  schedulerV1,
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
import { schedulerConfigSchema } from '../../../scheduler/src/config';
import { startScheduler } from '../../../scheduler/src/scheduler';
import { stateConfigSchema } from '../../../state/src/config';
import { startState } from '../../../state/src/state';
import { RunningAgent, startAgent } from '../agent';
import { agentConfigSchema } from '../config';
import { LABELS } from '../engine/labels';
import { ContainerLogs } from './container-logs';
import { resolvePort } from '../host-info';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

let pg: StartedPostgres;
let nats: StartedNats;
let agent: RunningAgent | undefined;
let dataDir = '';
let stateClient: GrpcClient<stateV1.StateServiceClient>;
let schedulerClient: GrpcClient<schedulerV1.SchedulerServiceClient>;
let agentClient: GrpcClient<agentV1.AgentServiceClient>;
const stops: (() => Promise<unknown>)[] = [];

/** Two containers: `app` talks on both streams then ticks; `init` prints once and exits. */
const CHATTY = {
  family: 'logs-chatty',
  containerDefinitions: [
    {
      name: 'app',
      image: IMAGES.workload,
      essential: true,
      memory: 16,
      command: [
        'sh',
        '-c',
        'for i in 1 2 3; do echo out-$i; echo err-$i >&2; done; ' +
          'i=1; while true; do sleep 1; echo tick-$i; i=$((i+1)); done',
      ],
    },
    {
      name: 'init',
      image: IMAGES.workload,
      essential: false,
      memory: 16,
      command: ['sh', '-c', 'echo init done'],
    },
  ],
};

/** One container that writes three lines a second apart, then exits. */
const FINITE = {
  family: 'logs-finite',
  containerDefinitions: [
    {
      name: 'once',
      image: IMAGES.workload,
      essential: true,
      memory: 16,
      command: ['sh', '-c', 'sleep 2; echo first; sleep 1; echo second; sleep 1; echo third'],
    },
  ],
};

async function runTask(definition: object): Promise<common.Task> {
  const td = await firstValueFrom(
    stateClient.client.registerTaskDefinition({ definitionJson: JSON.stringify(definition) }),
  );
  const res = await firstValueFrom(
    schedulerClient.client.runTask({
      cluster: 'default',
      taskDefinition: td.taskDefinitionArn,
      count: 1,
      group: '',
      startedBy: 'logs-test',
      overridesJson: '',
      tagsJson: '',
      launchType: 'EC2',
    }),
  );
  expect(res.failures).toEqual([]);
  return res.tasks[0];
}

async function containerOf(taskArn: string, name: string) {
  return eventually(async () => {
    const [found] = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.taskArn}=${taskArn}`, `${LABELS.containerName}=${name}`] },
    });
    return found;
  }, `container ${name} of ${taskArn}`);
}

const logs = (req: Partial<agentV1.StreamLogsRequest>): Observable<agentV1.LogChunk> =>
  agentClient.client.streamLogs({
    taskArn: '',
    containerName: '',
    tail: -1,
    since: 0,
    follow: false,
    timestamps: false,
    ...req,
  });
const readAll = (req: Partial<agentV1.StreamLogsRequest>) =>
  lastValueFrom(logs(req).pipe(toArray()));
/** The agent's gauge of log streams open to the Docker engine. */
async function openLogStreams(): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${agent!.opsPort}/metrics`)).text();
  const m = /^wharf_agent_log_streams(?:{[^}]*})? (\d+)$/m.exec(metrics);
  if (!m) throw new Error('no wharf_agent_log_streams metric');
  return Number(m[1]);
}
const grpcError = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a gRPC error');
    },
    (err: { code: number; details: string }) => err,
  );
const lines = (chunks: agentV1.LogChunk[], stream?: string) =>
  chunks
    .filter((c) => !stream || c.stream === stream)
    .map((c) => c.data)
    .join('')
    .split('\n')
    .filter(Boolean);

beforeAll(async () => {
  [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  stops.push(
    () => pg.container.stop(),
    () => nats.container.stop(),
  );
  const state = await startState(
    stateConfigSchema.parse({
      DATABASE_URL: pg.url,
      STATE_AGENT_JOIN: 'open',
      NATS_URL: nats.url,
      STATE_GRPC_PORT: '0',
      STATE_OPS_PORT: '0',
    }),
    logger,
  );
  stops.unshift(() => state.stop());
  const scheduler = await startScheduler(
    schedulerConfigSchema.parse({
      STATE_URL: state.grpcUrl,
      NATS_URL: nats.url,
      SCHEDULER_GRPC_PORT: '0',
      SCHEDULER_OPS_PORT: '0',
    }),
    logger,
  );
  stops.unshift(() => scheduler.stop());
  dataDir = await mkdtemp(join(tmpdir(), 'wharf-logs-'));
  const grpcPort = await resolvePort(0);
  agent = await startAgent(
    agentConfigSchema.parse({
      STATE_URL: state.grpcUrl,
      NATS_URL: nats.url,
      AGENT_GRPC_PORT: String(grpcPort),
      AGENT_OPS_PORT: '0',
      AGENT_DATA_DIR: dataDir,
      AGENT_HEARTBEAT_INTERVAL_MS: '500',
      AGENT_CPU: '2048',
      AGENT_MEMORY: '2048',
      AGENT_HOST_ADDRESS: '127.0.0.1',
      AGENT_ADVERTISE_ADDRESS: `127.0.0.1:${grpcPort}`,
      AGENT_STOP_TIMEOUT_S: '1',
    }),
    logger,
  );
  stateClient = createStateClient(state.grpcUrl);
  schedulerClient = createSchedulerClient(scheduler.grpcUrl);
  agentClient = createAgentClient(agent.grpcUrl);
});

afterAll(async () => {
  agentClient?.close();
  schedulerClient?.close();
  stateClient?.close();
  const instanceArn = agent?.containerInstanceArn;
  await agent?.stop();
  if (instanceArn) {
    const ours = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.containerInstanceArn}=${instanceArn}`] },
    });
    await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  }
  for (const stop of stops) await stop().catch(() => undefined);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('agent StreamLogs (real gRPC server, real Docker)', () => {
  let chatty: common.Task;

  beforeAll(async () => {
    chatty = await runTask(CHATTY);
    await containerOf(chatty.taskArn, 'app');
    // The first tick means the opening lines are all in the engine's log.
    await eventually(async () => {
      const chunks = await readAll({ taskArn: chatty.taskArn, containerName: 'app' });
      return lines(chunks).includes('tick-1') ? true : undefined;
    }, 'the first tick in the logs');
  });

  it('answers NOT_FOUND for an unknown task or container and names the containers', async () => {
    const unknownTask = await grpcError(
      readAll({
        taskArn: `${chatty.taskArn.replace(/[^/]+$/, '')}00000000000000000000000000000000`,
      }),
    );
    expect(unknownTask.code).toBe(GrpcCode.NOT_FOUND);
    expect(unknownTask.details).toMatch(/has no containers on this container instance/);

    const unknownContainer = await grpcError(
      readAll({ taskArn: chatty.taskArn, containerName: 'nope' }),
    );
    expect(unknownContainer.code).toBe(GrpcCode.NOT_FOUND);
    expect(unknownContainer.details).toMatch(/no container named nope; its containers: app, init/);
  });

  it('wants a container name when the task has several containers', async () => {
    const err = await grpcError(readAll({ taskArn: chatty.taskArn }));
    expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(err.details).toMatch(/has 2 containers \(app, init\); name one/);
  });

  it('returns every line, stdout and stderr apart, with the engine timestamps', async () => {
    const before = Date.now();
    const chunks = await readAll({ taskArn: chatty.taskArn, containerName: 'app' });
    expect(lines(chunks, 'stdout').slice(0, 3)).toEqual(['out-1', 'out-2', 'out-3']);
    expect(lines(chunks, 'stderr')).toEqual(['err-1', 'err-2', 'err-3']);
    expect(lines(chunks, 'stdout')).toContain('tick-1');
    for (const c of chunks) {
      expect(c.containerName).toBe('app');
      expect(c.timestamp).toBeGreaterThan(before - 120_000);
      expect(c.timestamp).toBeLessThanOrEqual(Date.now());
    }
  });

  it('returns only the last lines with tail, and none with tail 0', async () => {
    // Read both ways between two ticks so the logs do not grow in between.
    const { all, last } = await eventually(async () => {
      const all = await readAll({ taskArn: chatty.taskArn, containerName: 'app' });
      const last = await readAll({ taskArn: chatty.taskArn, containerName: 'app', tail: 2 });
      const again = await readAll({ taskArn: chatty.taskArn, containerName: 'app' });
      return all.length === again.length ? { all, last } : undefined;
    }, 'a stable read');
    expect(last).toHaveLength(2);
    expect(last).toEqual(all.slice(-2));
    expect(await readAll({ taskArn: chatty.taskArn, containerName: 'app', tail: 0 })).toEqual([]);
  });

  it('returns only lines written since a time, with their timestamps when asked', async () => {
    const all = await readAll({ taskArn: chatty.taskArn, containerName: 'app' });
    const cut = all[all.length - 1].timestamp + 1;
    await eventually(async () => {
      const after = await readAll({ taskArn: chatty.taskArn, containerName: 'app', since: cut });
      return after.length > 0 ? true : undefined;
    }, 'a line after the cut');
    const after = await readAll({
      taskArn: chatty.taskArn,
      containerName: 'app',
      since: cut,
      timestamps: true,
    });
    expect(after.length).toBeGreaterThan(0);
    for (const c of after) {
      expect(c.timestamp).toBeGreaterThanOrEqual(cut - 1);
      expect(c.data).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z tick-\d+\n$/);
    }
    expect(lines(after).join()).not.toMatch(/out-|err-/);
  });

  it('follows new lines as they appear until the caller cancels', async () => {
    const seen: string[] = [];
    const sub = logs({
      taskArn: chatty.taskArn,
      containerName: 'app',
      tail: 0,
      follow: true,
    }).subscribe({ next: (c) => seen.push(c.data.trim()) });
    try {
      await eventually(
        async () => (seen.length >= 2 ? true : undefined),
        'two followed ticks',
        10_000,
      );
      expect(seen.every((l) => /^tick-\d+$/.test(l))).toBe(true);
      expect(await openLogStreams()).toBe(1);
    } finally {
      sub.unsubscribe();
    }
    // Cancelling the call closes the engine's stream.
    await eventually(
      async () => ((await openLogStreams()) === 0 ? true : undefined),
      'the Docker log stream closed',
      10_000,
    );
  });

  it('reads a stopped container that is not removed yet', async () => {
    const init = await containerOf(chatty.taskArn, 'init');
    await eventually(
      async () => ((await docker.getContainer(init.Id).inspect()).State.Running ? undefined : true),
      'init exited',
    );
    const chunks = await readAll({ taskArn: chatty.taskArn, containerName: 'init', follow: true });
    expect(chunks.map((c) => c.data)).toEqual(['init done\n']);
    expect(chunks[0]).toMatchObject({ containerName: 'init', stream: 'stdout' });
  });

  it('with follow, streams lines as written and ends when the container exits', async () => {
    const task = await runTask(FINITE);
    // The engine follows only a running container; a created one has no logs to wait for.
    await eventually(async () => {
      const c = await containerOf(task.taskArn, 'once');
      return c.State === 'running' ? c : undefined;
    }, 'the finite container running');
    // The only container is found without naming it.
    const received: { line: string; at: number }[] = [];
    await new Promise<void>((resolve, reject) =>
      logs({ taskArn: task.taskArn, follow: true }).subscribe({
        next: (c) => received.push({ line: c.data.trim(), at: Date.now() }),
        error: reject,
        complete: resolve,
      }),
    );
    expect(received.map((r) => r.line)).toEqual(['first', 'second', 'third']);
    // Delivered as they were written, not all at the end.
    expect(received[2].at - received[0].at).toBeGreaterThanOrEqual(1_500);
  });

  it('reads a TTY container, whose output is not multiplexed, as stdout lines', async () => {
    const instanceArn = 'arn:aws:ecs:us-east-1:000000000000:container-instance/default/tty-test';
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/default/tty-test';
    const tty = await docker.createContainer({
      Image: IMAGES.workload,
      Cmd: ['sh', '-c', 'echo one; echo two >&2; echo three'],
      Tty: true,
      Labels: {
        [LABELS.taskArn]: taskArn,
        [LABELS.containerName]: 'tty',
        [LABELS.containerInstanceArn]: instanceArn,
      },
    });
    try {
      await tty.start();
      await tty.wait();
      const direct = new ContainerLogs(docker, instanceArn, logger);
      const chunks = await lastValueFrom(
        direct
          .stream({
            taskArn,
            containerName: '',
            tail: -1,
            since: 0,
            follow: true,
            timestamps: false,
          })
          .pipe(toArray()),
      );
      expect(chunks.map((c) => [c.stream, c.data.replace(/\r/g, '')])).toEqual([
        ['stdout', 'one\n'],
        ['stdout', 'two\n'],
        ['stdout', 'three\n'],
      ]);
      await eventually(
        async () => (direct.openStreams === 0 ? true : undefined),
        'the engine stream closed',
      );
    } finally {
      await tty.remove({ force: true });
    }
  });
});
