/**
 * GET /v1/clusters/{cluster}/tasks/{task}/logs end to end: the api, state, scheduler and a
 * real agent in this process, tasks run through the ECS API on the local Docker engine.
 */
import { ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import pino from 'pino';
import { loadConfig } from '@wharf/config';
import {
  eventually,
  IMAGES,
  startNats,
  startPostgres,
  type StartedNats,
  type StartedPostgres,
} from '@wharf/testing';
import { RunningAgent, startAgent } from '../../../agent/src/agent';
import { agentConfigSchema } from '../../../agent/src/config';
import { LABELS } from '../../../agent/src/engine/labels';
import { resolvePort } from '../../../agent/src/host-info';
import { schedulerConfigSchema } from '../../../scheduler/src/config';
import { startScheduler } from '../../../scheduler/src/scheduler';
import { stateConfigSchema } from '../../../state/src/config';
import { startState } from '../../../state/src/state';
import { startApi } from '../api';
import { apiConfigSchema } from '../config';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

let postgres: StartedPostgres;
let nats: StartedNats;
let agent: RunningAgent | undefined;
let instanceArn = '';
let dataDir = '';
let url = '';
let ecs: ECSClient;
const stops: (() => Promise<unknown>)[] = [];

async function runTask(family: string, containers: { name: string; command: string }[]) {
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family,
      containerDefinitions: containers.map((c, i) => ({
        name: c.name,
        image: IMAGES.workload,
        memory: 16,
        essential: i === 0,
        command: ['sh', '-c', c.command],
      })),
    }),
  );
  const res = await ecs.send(new RunTaskCommand({ taskDefinition: family }));
  expect(res.failures).toEqual([]);
  const taskArn = res.tasks![0].taskArn!;
  await eventually(async () => {
    const [c] = await docker.listContainers({
      filters: { label: [`${LABELS.taskArn}=${taskArn}`], status: ['running'] },
    });
    return c;
  }, `a running container of ${family}`);
  return { taskArn, taskId: taskArn.split('/').pop()! };
}

const logsUrl = (task: string, query = '', cluster = 'default') =>
  `${url}/v1/clusters/${cluster}/tasks/${task}/logs${query ? `?${query}` : ''}`;

async function errorOf(path: string) {
  const res = await fetch(path);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, message: ((await res.json()) as { message: string }).message };
}

beforeAll(async () => {
  [postgres, nats] = await Promise.all([startPostgres(), startNats()]);
  stops.push(
    () => postgres.container.stop(),
    () => nats.container.stop(),
  );
  const state = await startState(
    loadConfig(stateConfigSchema, {
      DATABASE_URL: postgres.url,
      STATE_AGENT_JOIN: 'open',
      NATS_URL: nats.url,
      STATE_GRPC_PORT: '0',
      STATE_OPS_PORT: '0',
    }),
    logger,
  );
  stops.unshift(() => state.stop());
  const scheduler = await startScheduler(
    loadConfig(schedulerConfigSchema, {
      STATE_URL: state.grpcUrl,
      NATS_URL: nats.url,
      SCHEDULER_GRPC_PORT: '0',
      SCHEDULER_OPS_PORT: '0',
    }),
    logger,
  );
  stops.unshift(() => scheduler.stop());
  dataDir = await mkdtemp(join(tmpdir(), 'wharf-api-logs-'));
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
  instanceArn = agent.containerInstanceArn;
  const api = await startApi(
    loadConfig(apiConfigSchema, {
      // Authentication has its own test (auth.int-spec.ts); any key is fine here.
      API_AUTH: 'dev',
      API_PORT: '0',
      API_HOST: '127.0.0.1',
      STATE_URL: state.grpcUrl,
      SCHEDULER_URL: scheduler.grpcUrl,
    }),
    logger,
  );
  stops.unshift(() => api.stop());
  url = api.url;
  ecs = new ECSClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  ecs?.destroy();
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

describe('GET /v1/clusters/{cluster}/tasks/{task}/logs', () => {
  let chatty: { taskArn: string; taskId: string };

  beforeAll(async () => {
    chatty = await runTask('api-logs-chatty', [
      {
        name: 'app',
        command:
          'echo out-1; echo err-1 >&2; echo out-2; ' +
          'i=1; while true; do sleep 1; echo tick-$i; i=$((i+1)); done',
      },
      { name: 'side', command: 'sleep 300' },
    ]);
    await eventually(async () => {
      const res = await fetch(logsUrl(chatty.taskId, 'container=app'));
      return (await res.text()).includes('tick-1') ? true : undefined;
    }, 'the first tick through the api');
  });

  it('serves the logs as text, by task id or ARN', async () => {
    const res = await fetch(logsUrl(chatty.taskId, 'container=app'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const text = await res.text();
    // stdout and stderr are separate pipes: their relative order is the engine's.
    const lines = text.split('\n');
    expect(lines.slice(0, 3).sort()).toEqual(['err-1', 'out-1', 'out-2']);
    expect(lines[3]).toBe('tick-1');

    const byArn = await fetch(logsUrl(encodeURIComponent(chatty.taskArn), 'container=app&tail=1'));
    expect(await byArn.text()).toMatch(/^tick-\d+\n$/);
  });

  it('honours tail, since (seconds or ISO) and timestamps', async () => {
    expect(await (await fetch(logsUrl(chatty.taskId, 'container=app&tail=0'))).text()).toBe('');
    const stamped = await (
      await fetch(logsUrl(chatty.taskId, 'container=app&tail=2&timestamps=true'))
    ).text();
    const stamps = stamped
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]);
    expect(stamps).toHaveLength(2);
    const last = Date.parse(stamps[1]);
    expect(last).toBeGreaterThan(Date.now() - 60_000);

    const cutMs = last + 1;
    await new Promise((r) => setTimeout(r, 1_500));
    for (const since of [String(cutMs / 1000), new Date(cutMs).toISOString()]) {
      const text = await (
        await fetch(logsUrl(chatty.taskId, `container=app&since=${encodeURIComponent(since)}`))
      ).text();
      expect(text).toMatch(/^(tick-\d+\n)+$/);
      expect(text).not.toContain('out-1');
    }
  });

  it('answers 400 naming a bad parameter, and 404 for what does not exist', async () => {
    for (const [query, param] of [
      ['container=app&tail=-3', 'tail'],
      ['container=app&since=yesterday', 'since'],
      ['container=app&follow=maybe', 'follow'],
      ['container=app&timestamps=2', 'timestamps'],
    ]) {
      const err = await errorOf(logsUrl(chatty.taskId, query));
      expect(err.status).toBe(400);
      expect(err.message).toMatch(new RegExp(`^${param} `));
    }
    const several = await errorOf(logsUrl(chatty.taskId));
    expect(several).toEqual({
      status: 400,
      message: expect.stringMatching(/has 2 containers \(app, side\); name one/),
    });

    const noContainer = await errorOf(logsUrl(chatty.taskId, 'container=db'));
    expect(noContainer.status).toBe(404);
    expect(noContainer.message).toMatch(/no container named db; its containers: app, side/);
    const noTask = await errorOf(logsUrl('0123456789abcdef0123456789abcdef'));
    expect(noTask.status).toBe(404);
    expect(noTask.message).toMatch(/not found/);
    const noCluster = await errorOf(logsUrl(chatty.taskId, 'container=app', 'nowhere'));
    expect(noCluster.status).toBe(404);
  });

  it('follows until the container exits', async () => {
    const task = await runTask('api-logs-finite', [
      { name: 'once', command: 'sleep 1; echo first; sleep 1; echo second; sleep 1; echo third' },
    ]);
    const res = await fetch(logsUrl(task.taskId, 'follow=true'));
    expect(res.status).toBe(200);
    const arrivals: { text: string; at: number }[] = [];
    const decoder = new TextDecoder();
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      arrivals.push({ text: decoder.decode(part), at: Date.now() });
    }
    expect(arrivals.map((a) => a.text).join('')).toBe('first\nsecond\nthird\n');
    expect(arrivals.length).toBeGreaterThan(1);
    expect(arrivals[arrivals.length - 1].at - arrivals[0].at).toBeGreaterThanOrEqual(1_000);
  });

  it('streams new lines while following and stops when the client goes away', async () => {
    const abort = new AbortController();
    const res = await fetch(logsUrl(chatty.taskId, 'container=app&tail=0&follow=true'), {
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!/tick-\d+\n[\s\S]*tick-\d+\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    expect(text).toMatch(/^(tick-\d+\n){2,}$/);
    const openLogStreams = async () => {
      const metrics = await (await fetch(`http://127.0.0.1:${agent!.opsPort}/metrics`)).text();
      return Number(/^wharf_agent_log_streams(?:{[^}]*})? (\d+)$/m.exec(metrics)?.[1]);
    };
    expect(await openLogStreams()).toBe(1);
    abort.abort();
    // The client going away cancels the agent call, which closes the engine's stream …
    await eventually(
      async () => ((await openLogStreams()) === 0 ? true : undefined),
      'the Docker log stream closed',
      10_000,
    );
    // … and the api keeps serving.
    const again = await fetch(logsUrl(chatty.taskId, 'container=app&tail=1'));
    expect(again.status).toBe(200);
  });

  it('answers 503 naming the instance when its agent cannot be reached', async () => {
    await agent!.stop();
    agent = undefined;
    const err = await errorOf(logsUrl(chatty.taskId, 'container=app'));
    expect(err.status).toBe(503);
    expect(err.message).toContain(instanceArn);
  });
});
