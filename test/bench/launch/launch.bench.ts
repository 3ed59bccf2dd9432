/**
 * Launch benchmark (issue 3, "Tests and figures"): 50 small tasks started through Wharf's
 * RunTask (5 concurrent calls of 10) until DescribeTasks shows all RUNNING, side by side with
 * (D) the same 50 containers created and started directly through the Docker engine API, 8 at a
 * time, and (S) Docker Swarm (`docker service create --replicas 50`). Each is measured
 * BENCH_RUNS times in rotating order on this machine's engine; the medians, every run and the
 * ratios against the targets (Wharf ≤ 1.25× direct, < 0.5× Swarm) are printed. It asserts
 * nothing: it prints figures.
 *
 *   node test/bench/run.js test/bench/launch/launch.bench.ts
 *
 * Wharf runs in this process as the tests run it: real Postgres and NATS containers, the real
 * state, scheduler, api and one agent (apps/agent) on the local Docker engine.
 *
 * Environment (all optional):
 *   BENCH_RUNS (3)                  measurements of each kind
 *   BENCH_TASKS (50), BENCH_CALLS (5)  tasks, split over this many concurrent RunTask calls
 *   BENCH_DIRECT_CONCURRENCY (8)    create+start calls in flight for the direct run; a list
 *                                   (e.g. `8,50`) measures each, the first is the ratio's base
 *   BENCH_POLL_MS (100)             DescribeTasks / docker ps polling interval
 *   BENCH_ONLY (wharf,direct,swarm) which kinds to measure
 *   BENCH_AGENT_STATS_INTERVAL_MS   the agent's AGENT_STATS_INTERVAL_MS (default: the agent's)
 *   BENCH_LOG_LEVEL (warn)          log level of the in-process services (to stderr)
 *   BENCH_TIMEOUT_S (120)           give up on one measurement after this long
 *   BENCH_CPU_PROFILE               a directory: writes a V8 CPU profile of this process (all
 *                                   of Wharf) during each Wharf launch, for chrome://inspect
 */
import {
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import pino from 'pino';
import { loadConfig } from '@wharf/config';
import { IMAGES, startNats, startPostgres } from '@wharf/testing';
import { startAgent } from '../../../apps/agent/src/agent';
import { agentConfigSchema } from '../../../apps/agent/src/config';
import { LABELS } from '../../../apps/agent/src/engine/labels';
import { startApi } from '../../../apps/api/src/api';
import { apiConfigSchema } from '../../../apps/api/src/config';
import { schedulerConfigSchema } from '../../../apps/scheduler/src/config';
import { startScheduler } from '../../../apps/scheduler/src/scheduler';
import { stateConfigSchema } from '../../../apps/state/src/config';
import { startState } from '../../../apps/state/src/state';

// ---- settings ------------------------------------------------------------------------------

function intEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return n;
}

const RUNS = intEnv('BENCH_RUNS', 3);
const TASKS = intEnv('BENCH_TASKS', 50);
const CALLS = intEnv('BENCH_CALLS', 5);
const DIRECT_CONCURRENCIES = (process.env.BENCH_DIRECT_CONCURRENCY || '8').split(',').map((v) => {
  const n = Number(v.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error('BENCH_DIRECT_CONCURRENCY: integers ≥ 1');
  return n;
});
const POLL_MS = intEnv('BENCH_POLL_MS', 100, 10);
const TIMEOUT_MS = intEnv('BENCH_TIMEOUT_S', 120) * 1000;
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE;
const IMAGE = IMAGES.workload;
const COMMAND = ['sleep', '3600'];
const MEMORY_MIB = 16;
const CPU_UNITS = 10;
const SWARM_SERVICE = 'wharf-bench';
/** Every container the direct run creates carries this label (value: the bench's run id). */
const BENCH_LABEL = 'com.wharf.bench';

type Kind = 'wharf' | 'direct' | 'swarm';
const KINDS: Kind[] = (process.env.BENCH_ONLY ?? 'wharf,direct,swarm')
  .split(',')
  .map((k) => k.trim())
  .filter((k): k is Kind => k === 'wharf' || k === 'direct' || k === 'swarm');

/** One row of the table: a kind, and for the direct runs the concurrency. */
interface Entry {
  kind: Kind;
  concurrency?: number;
  id: string;
}
const ENTRIES: Entry[] = KINDS.flatMap((kind): Entry[] =>
  kind === 'direct'
    ? DIRECT_CONCURRENCIES.map((concurrency) => ({
        kind,
        concurrency,
        id: `direct@${concurrency}`,
      }))
    : [{ kind, id: kind }],
);

const benchId = randomBytes(4).toString('hex');
const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });
const logger = pino({ level: LOG_LEVEL }, pino.destination(2));
const run = promisify(execFile);

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Polls until `done` answers true, or throws after TIMEOUT_MS naming `what`. */
async function until(what: string, done: () => Promise<boolean>, intervalMs = POLL_MS) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${TIMEOUT_MS} ms: ${what}`);
    await sleep(intervalMs);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** CPU seconds used so far by dockerd and containerd (from /proc), when they are visible. */
async function engineCpuSeconds(): Promise<number | undefined> {
  let total = 0;
  let found = false;
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
      if (comm !== 'dockerd' && comm !== 'containerd') continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, USER_HZ
      found = true;
    } catch {
      // gone meanwhile
    }
  }
  return found ? total : undefined;
}

/** Busy and total jiffies of the whole machine (/proc/stat), to show how loaded it was. */
async function machineJiffies(): Promise<{ busy: number; total: number } | undefined> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((x, y) => x + y, 0);
    return { busy: total - v[3] - v[4], total }; // minus idle and iowait
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by the Docker containers `ids` (cgroup v1 or v2), when visible. */
async function containersCpuSeconds(ids: string[]): Promise<number | undefined> {
  let total = 0;
  for (const id of ids) {
    const v1 = await readFile(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, 'utf8').catch(
      () => undefined,
    );
    if (v1 !== undefined) {
      total += Number(v1) / 1e9;
      continue;
    }
    const v2 = await readFile(`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, 'utf8')
      .then((text) => /usage_usec (\d+)/.exec(text)?.[1])
      .catch(() => undefined);
    if (v2 === undefined) return undefined;
    total += Number(v2) / 1e6;
  }
  return total;
}

/**
 * Starts counting CPU time of this process (all of Wharf's services run in it), of the
 * engine, of `containerIds` (Wharf's Postgres and NATS) and how busy the machine was; the
 * returned function says how much each used since, as a note.
 */
async function cpuMeter(containerIds: string[] = []): Promise<() => Promise<string>> {
  const engine0 = await engineCpuSeconds();
  const infra0 = await containersCpuSeconds(containerIds);
  const machine0 = await machineJiffies();
  const own0 = process.cpuUsage();
  const loop0 = performance.eventLoopUtilization();
  return async () => {
    const own = process.cpuUsage(own0);
    const loop = performance.eventLoopUtilization(loop0);
    const engine1 = await engineCpuSeconds();
    const infra1 = await containersCpuSeconds(containerIds);
    const machine1 = await machineJiffies();
    const parts = [
      `this process ${seconds((own.user + own.system) / 1000)} s (event loop ${Math.round(loop.utilization * 100)}% busy)`,
    ];
    if (containerIds.length && infra0 !== undefined && infra1 !== undefined) {
      parts.push(`Postgres+NATS ${(infra1 - infra0).toFixed(2)} s`);
    }
    if (engine0 !== undefined && engine1 !== undefined) {
      parts.push(`dockerd+containerd ${(engine1 - engine0).toFixed(2)} s`);
    }
    let text = `CPU ${parts.join(', ')}`;
    if (machine0 && machine1 && machine1.total > machine0.total) {
      const busy = (machine1.busy - machine0.busy) / (machine1.total - machine0.total);
      text += `; machine ${Math.round(busy * 100)}% busy`;
    }
    return text;
  };
}

/** With BENCH_CPU_PROFILE, profiles this process until the returned function is called. */
async function startCpuProfile(name: string): Promise<() => Promise<string | undefined>> {
  if (!CPU_PROFILE_DIR) return async () => undefined;
  const session = new Session();
  session.connect();
  const post = promisify(session.post.bind(session)) as (
    method: string,
    params?: object,
  ) => Promise<unknown>;
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  return async () => {
    const { profile } = (await post('Profiler.stop')) as { profile: object };
    session.disconnect();
    await mkdir(CPU_PROFILE_DIR, { recursive: true });
    const file = join(CPU_PROFILE_DIR, `${name}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    return file;
  };
}

/** Undo steps, run newest first; each failure is reported and the rest still run. */
class Cleanup {
  private steps: { what: string; fn: () => Promise<unknown> }[] = [];
  private running?: Promise<void>;

  push(what: string, fn: () => Promise<unknown>): void {
    this.steps.unshift({ what, fn });
  }

  run(): Promise<void> {
    return (this.running ??= (async () => {
      for (const { what, fn } of this.steps) {
        try {
          await fn();
        } catch (err) {
          process.stderr.write(`cleanup: ${what} failed: ${(err as Error).message}\n`);
        }
      }
      this.steps = [];
    })());
  }
}

// ---- (W) Wharf -----------------------------------------------------------------------------

interface WharfSetup {
  ecs: ECSClient;
  taskDefinitionArn: string;
  containerInstanceArn: string;
  /** Postgres and NATS, whose CPU counts as Wharf's. */
  infraContainerIds: string[];
}

async function startWharf(cleanup: Cleanup): Promise<WharfSetup> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  cleanup.push('stopping Postgres', () => pg.container.stop());
  cleanup.push('stopping NATS', () => nats.container.stop());

  const state = await startState(
    loadConfig(stateConfigSchema, {
      DATABASE_URL: pg.url,
      STATE_AGENT_JOIN: 'open',
      NATS_URL: nats.url,
      STATE_GRPC_PORT: '0',
      STATE_OPS_PORT: '0',
    }),
    logger.child({ service: 'state' }),
  );
  cleanup.push('stopping state', () => state.stop());
  const scheduler = await startScheduler(
    loadConfig(schedulerConfigSchema, {
      STATE_URL: state.grpcUrl,
      NATS_URL: nats.url,
      SCHEDULER_GRPC_PORT: '0',
      SCHEDULER_OPS_PORT: '0',
    }),
    logger.child({ service: 'scheduler' }),
  );
  cleanup.push('stopping scheduler', () => scheduler.stop());
  const api = await startApi(
    loadConfig(apiConfigSchema, {
      // Authentication has its own test (auth.int-spec.ts); any key is fine here.
      API_AUTH: 'dev',
      API_PORT: '0',
      API_HOST: '127.0.0.1',
      STATE_URL: state.grpcUrl,
      SCHEDULER_URL: scheduler.grpcUrl,
    }),
    logger.child({ service: 'api' }),
  );
  cleanup.push('stopping api', () => api.stop());

  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-bench-agent-'));
  cleanup.push('removing the agent data directory', () =>
    rm(dataDir, { recursive: true, force: true }),
  );
  const grpcPort = await freePort();
  const agentEnv: Record<string, string> = {
    STATE_URL: state.grpcUrl,
    NATS_URL: nats.url,
    AGENT_GRPC_PORT: String(grpcPort),
    AGENT_OPS_PORT: '0',
    AGENT_ADVERTISE_ADDRESS: `127.0.0.1:${grpcPort}`,
    AGENT_HOST_ADDRESS: '127.0.0.1',
    AGENT_DATA_DIR: dataDir,
    AGENT_CPU: String(Math.max(1024, TASKS * CPU_UNITS * 4)),
    AGENT_MEMORY: String(Math.max(1024, TASKS * MEMORY_MIB * 4)),
    // busybox `sleep` as PID 1 ignores SIGTERM: do not wait for it when tearing down.
    AGENT_STOP_TIMEOUT_S: '0',
    AGENT_TASK_CLEANUP_WAIT_MS: '100',
  };
  if (process.env.BENCH_AGENT_STATS_INTERVAL_MS !== undefined) {
    agentEnv.AGENT_STATS_INTERVAL_MS = process.env.BENCH_AGENT_STATS_INTERVAL_MS;
  }
  const agent = await startAgent(
    loadConfig(agentConfigSchema, agentEnv),
    logger.child({ service: 'agent' }),
  );
  const containerInstanceArn = agent.containerInstanceArn;
  // Pushed before the agent's stop so it runs after it: the agent leaves containers running.
  cleanup.push('removing Wharf task containers', () =>
    removeContainers(`${LABELS.containerInstanceArn}=${containerInstanceArn}`),
  );
  cleanup.push('stopping the agent', () => agent.stop());

  const ecs = new ECSClient({
    endpoint: api.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
  cleanup.push('closing the ECS client', async () => ecs.destroy());

  const registered = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'launch-bench',
      containerDefinitions: [
        {
          name: 'sleeper',
          image: IMAGE,
          command: COMMAND,
          memory: MEMORY_MIB,
          cpu: CPU_UNITS,
          essential: true,
        },
      ],
    }),
  );
  return {
    ecs,
    taskDefinitionArn: registered.taskDefinition!.taskDefinitionArn!,
    containerInstanceArn,
    infraContainerIds: [pg.container.getId(), nats.container.getId()],
  };
}

async function describeAll(ecs: ECSClient, arns: string[]): Promise<Task[]> {
  const tasks: Task[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const res = await ecs.send(
      new DescribeTasksCommand({ cluster: 'default', tasks: arns.slice(i, i + 100) }),
    );
    tasks.push(...(res.tasks ?? []));
  }
  return tasks;
}

/** Where the time of one Wharf run went, per task, in ms after the first RunTask was sent. */
interface WharfPhases {
  runTaskAnswered: number[];
  committed: number[];
  agentBegan: number[];
  dockerCreated: number[];
  dockerStarted: number[];
  agentRunning: number[];
  seenRunning: number[];
}

interface Measurement {
  ms: number;
  phases?: WharfPhases;
  note?: string;
}

let wharfRuns = 0;

async function measureWharf(w: WharfSetup, count = TASKS, calls = CALLS): Promise<Measurement> {
  const cpu = await cpuMeter(w.infraContainerIds);
  const profile = await startCpuProfile(`wharf-launch-${benchId}-${++wharfRuns}`);
  const wall0 = Date.now();
  const t0 = performance.now();
  const arns: string[] = [];
  const answered: number[] = [];
  const seenRunning = new Map<string, number>();
  let failed: Error | undefined;

  const per = Math.ceil(count / calls);
  const sizes = Array.from({ length: calls }, (_, i) => Math.min(per, count - i * per)).filter(
    (n) => n > 0,
  );
  const runCalls = Promise.all(
    sizes.map(async (n) => {
      const res = await w.ecs.send(
        new RunTaskCommand({ cluster: 'default', taskDefinition: w.taskDefinitionArn, count: n }),
      );
      answered.push(performance.now() - t0);
      if (res.failures?.length) {
        failed ??= new Error(`RunTask failures: ${JSON.stringify(res.failures)}`);
      }
      for (const t of res.tasks ?? []) arns.push(t.taskArn!);
    }),
  ).catch((err: Error) => {
    failed ??= err;
  });

  await until('Wharf tasks RUNNING', async () => {
    if (failed) throw failed;
    // Only tasks not yet seen RUNNING: the poll is the bench's load, not Wharf's.
    const waiting = arns.filter((arn) => !seenRunning.has(arn));
    if (waiting.length === 0) return arns.length === count;
    const polled = await describeAll(w.ecs, waiting);
    const now = performance.now() - t0;
    for (const t of polled) {
      if (t.lastStatus === 'RUNNING' && !seenRunning.has(t.taskArn!)) {
        seenRunning.set(t.taskArn!, now);
      }
      if (t.lastStatus === 'STOPPED') {
        throw new Error(`task ${t.taskArn} STOPPED while starting: ${t.stoppedReason}`);
      }
    }
    return arns.length === count && seenRunning.size === count;
  });
  const ms = performance.now() - t0;
  const cpuNote = await cpu();
  const profiled = await profile();
  await runCalls;
  const described = await describeAll(w.ecs, arns);

  // The breakdown, read after the clock stopped: state's and the agent's timestamps, and the
  // engine's own Created / StartedAt of each task's container.
  const since = (d: Date | undefined) => (d ? d.getTime() - wall0 : NaN);
  const engineTimes = new Map<string, { created: number; started: number }>();
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.containerInstanceArn}=${w.containerInstanceArn}`] },
  });
  await pool(containers, 8, async (c) => {
    const info = await docker.getContainer(c.Id).inspect();
    engineTimes.set(info.Config.Labels[LABELS.taskArn], {
      created: Date.parse(info.Created) - wall0,
      started: Date.parse(info.State.StartedAt) - wall0,
    });
  });
  const phases: WharfPhases = {
    runTaskAnswered: answered,
    committed: described.map((t) => since(t.createdAt)),
    agentBegan: described.map((t) => since(t.pullStartedAt)),
    dockerCreated: described.map((t) => engineTimes.get(t.taskArn!)?.created ?? NaN),
    dockerStarted: described.map((t) => engineTimes.get(t.taskArn!)?.started ?? NaN),
    agentRunning: described.map((t) => since(t.startedAt)),
    seenRunning: [...seenRunning.values()],
  };

  const teardown = performance.now();
  await pool([...arns], 10, async (task) => {
    await w.ecs.send(new StopTaskCommand({ cluster: 'default', task, reason: 'bench over' }));
  });
  await until(
    'Wharf tasks STOPPED',
    async () => (await describeAll(w.ecs, arns)).every((t) => t.lastStatus === 'STOPPED'),
    250,
  );
  await until(
    'Wharf task containers removed',
    async () =>
      (
        await docker.listContainers({
          all: true,
          filters: { label: [`${LABELS.containerInstanceArn}=${w.containerInstanceArn}`] },
        })
      ).length === 0,
    250,
  );
  const note = [
    cpuNote,
    `teardown ${seconds(performance.now() - teardown)} s`,
    profiled ? `CPU profile ${profiled}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return { ms, phases, note };
}

// ---- (D) Docker engine API directly --------------------------------------------------------

async function removeContainers(label: string): Promise<void> {
  const found = await docker.listContainers({ all: true, filters: { label: [label] } });
  await pool(found, 8, async (c) => {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404 && err.statusCode !== 409) throw err;
      });
  });
}

async function measureDirect(runNo: number, concurrency: number): Promise<Measurement> {
  const label = `${BENCH_LABEL}=${benchId}`;
  const names = Array.from(
    { length: TASKS },
    (_, i) => `wharf-bench-${benchId}-${runNo}-c${concurrency}-${i}`,
  );
  const createMs: number[] = [];
  const startMs: number[] = [];
  const cpu = await cpuMeter();
  const t0 = performance.now();
  try {
    await pool(names, concurrency, async (name) => {
      const a = performance.now();
      const container = await docker.createContainer({
        name,
        Image: IMAGE,
        Cmd: COMMAND,
        Labels: { [BENCH_LABEL]: benchId },
        HostConfig: {
          NetworkMode: 'bridge',
          Memory: MEMORY_MIB * 1024 * 1024,
          CpuShares: CPU_UNITS,
        },
      });
      const b = performance.now();
      await container.start();
      createMs.push(b - a);
      startMs.push(performance.now() - b);
    });
    const ms = performance.now() - t0;
    const cpuNote = await cpu();
    const running = await docker.listContainers({
      filters: { label: [label], status: ['running'] },
    });
    if (running.length !== TASKS) {
      throw new Error(`direct: ${running.length} of ${TASKS} containers running after start`);
    }
    const note = `per container: create ${seconds(median(createMs))} s, start ${seconds(median(startMs))} s (medians); ${cpuNote}`;
    return { ms, note };
  } finally {
    await removeContainers(label);
  }
}

// ---- (S) Docker Swarm ----------------------------------------------------------------------

interface SwarmState {
  usable: boolean;
  why?: string;
  initialisedByUs: boolean;
}

async function dockerCli(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}

async function prepareSwarm(cleanup: Cleanup): Promise<SwarmState> {
  try {
    const info = await docker.info();
    const nodeState = (info as { Swarm?: { LocalNodeState?: string } }).Swarm?.LocalNodeState;
    if (nodeState === 'active') {
      const existing = await docker.listServices({ filters: { name: [SWARM_SERVICE] } });
      if (existing.some((s) => s.Spec?.Name === SWARM_SERVICE)) {
        return {
          usable: false,
          why: `a service named ${SWARM_SERVICE} exists already`,
          initialisedByUs: false,
        };
      }
      return { usable: true, initialisedByUs: false };
    }
    if (nodeState !== 'inactive') {
      return {
        usable: false,
        why: `the engine's swarm state is ${nodeState}`,
        initialisedByUs: false,
      };
    }
    // `swarm init` creates docker_gwbridge and `swarm leave` keeps it: removed after, if new.
    const hadGwBridge = (await docker.listNetworks({ filters: { name: ['docker_gwbridge'] } }))
      .length;
    await dockerCli(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    if (!hadGwBridge) {
      cleanup.push('removing docker_gwbridge', () =>
        dockerCli(['network', 'rm', 'docker_gwbridge']),
      );
    }
    cleanup.push('leaving the swarm', () => dockerCli(['swarm', 'leave', '--force']));
    return { usable: true, initialisedByUs: true };
  } catch (err) {
    return { usable: false, why: (err as Error).message, initialisedByUs: false };
  }
}

const swarmFilter = { label: [`com.docker.swarm.service.name=${SWARM_SERVICE}`] };

async function removeSwarmService(): Promise<void> {
  await dockerCli(['service', 'rm', SWARM_SERVICE]).catch((err: Error) => {
    if (!/not found/i.test(err.message)) throw err;
  });
  await until(
    'Swarm containers removed',
    async () => (await docker.listContainers({ all: true, filters: swarmFilter })).length === 0,
    250,
  );
}

async function measureSwarm(): Promise<Measurement> {
  const cpu = await cpuMeter();
  const t0 = performance.now();
  try {
    await dockerCli([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      SWARM_SERVICE,
      '--replicas',
      String(TASKS),
      '--limit-memory',
      `${MEMORY_MIB}M`,
      // Only speeds up the teardown (busybox `sleep` ignores SIGTERM); launch is unaffected.
      '--stop-grace-period',
      '0s',
      IMAGE,
      ...COMMAND,
    ]);
    const created = performance.now() - t0;
    await until(
      'Swarm replicas running',
      async () =>
        (await docker.listContainers({ filters: { ...swarmFilter, status: ['running'] } }))
          .length >= TASKS,
    );
    const ms = performance.now() - t0;
    return { ms, note: `service create returned after ${seconds(created)} s; ${await cpu()}` };
  } finally {
    await removeSwarmService();
  }
}

// ---- the table -----------------------------------------------------------------------------

function phaseLine(name: string, values: number[]): string {
  const ok = values.filter((v) => Number.isFinite(v));
  if (!ok.length) return `    ${name.padEnd(36)} n/a`;
  const s = [...ok].sort((a, b) => a - b);
  return `    ${name.padEnd(36)} first ${seconds(s[0]).padStart(6)}  median ${seconds(median(s)).padStart(6)}  last ${seconds(s[s.length - 1]).padStart(6)}`;
}

function printPhases(phases: WharfPhases): void {
  out('    (seconds after the first RunTask was sent, over the tasks)');
  out(phaseLine('RunTask answered (5 calls)', phases.runTaskAnswered));
  out(phaseLine('task created in state (createdAt)', phases.committed));
  out(phaseLine('agent began the task (pullStartedAt)', phases.agentBegan));
  out(phaseLine('engine created the container', phases.dockerCreated));
  out(phaseLine('engine started the container', phases.dockerStarted));
  out(phaseLine('agent saw it RUNNING (startedAt)', phases.agentRunning));
  out(phaseLine('DescribeTasks showed RUNNING', phases.seenRunning));
}

function entryLabel(e: Entry): string {
  if (e.kind === 'wharf') return `Wharf (${CALLS} RunTask calls → ${TASKS} RUNNING)`;
  if (e.kind === 'direct') return `Docker API direct (concurrency ${e.concurrency})`;
  return `Docker Swarm (--replicas ${TASKS})`;
}

function printSummary(results: Map<string, Measurement[]>, swarm?: SwarmState): void {
  out();
  out(
    `launch of ${TASKS} × ${IMAGE} \`${COMMAND.join(' ')}\` (memory ${MEMORY_MIB} MiB, cpu ${CPU_UNITS}), ${RUNS} run(s) each`,
  );
  out();
  out(`${'kind'.padEnd(46)} ${'median s'.padStart(9)}   runs (s)`);
  const medians = new Map<string, number>();
  for (const e of ENTRIES) {
    const runs = results.get(e.id) ?? [];
    if (!runs.length) {
      const why = e.kind === 'swarm' && swarm?.why ? `not measured: ${swarm.why}` : 'not measured';
      out(`${entryLabel(e).padEnd(46)} ${'—'.padStart(9)}   ${why}`);
      continue;
    }
    const m = median(runs.map((r) => r.ms));
    medians.set(e.id, m);
    out(
      `${entryLabel(e).padEnd(46)} ${seconds(m).padStart(9)}   ${runs.map((r) => seconds(r.ms)).join(', ')}`,
    );
  }
  out();
  const w = medians.get('wharf');
  const ratio = (name: string, id: string, target: number, strict: boolean, text: string) => {
    const o = medians.get(id);
    if (w === undefined || o === undefined) {
      out(`Wharf / ${name.padEnd(7)} —        target ${text}: not measured`);
      return;
    }
    const r = w / o;
    const met = strict ? r < target : r <= target;
    out(`Wharf / ${name.padEnd(7)} ${r.toFixed(3)}×   target ${text}: ${met ? 'met' : 'NOT met'}`);
  };
  ratio('direct', `direct@${DIRECT_CONCURRENCIES[0]}`, 1.25, false, '≤ 1.25×');
  ratio('swarm', 'swarm', 0.5, true, '< 0.5×');
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${signal}: cleaning up…\n`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results = new Map<string, Measurement[]>(ENTRIES.map((e) => [e.id, []]));
  let swarm: SwarmState | undefined;
  try {
    await docker.getImage(IMAGE).inspect();
    cleanup.push('removing direct-run containers', () =>
      removeContainers(`${BENCH_LABEL}=${benchId}`),
    );

    let wharf: WharfSetup | undefined;
    if (KINDS.includes('wharf')) {
      out('starting Postgres, NATS, state, scheduler, api and one agent…');
      wharf = await startWharf(cleanup);
      // One task through the whole path first: connections, JIT and the first gRPC channels.
      const warm = await measureWharf(wharf, 1, 1);
      out(`warm-up: 1 task RUNNING in ${seconds(warm.ms)} s (not counted)`);
    }
    if (KINDS.includes('swarm')) {
      swarm = await prepareSwarm(cleanup);
      if (swarm.usable) {
        cleanup.push('removing the Swarm service', () => removeSwarmService());
        out(swarm.initialisedByUs ? 'swarm initialised for the bench' : 'using the existing swarm');
      } else {
        out(`Docker Swarm cannot be measured here: ${swarm.why}`);
      }
    }

    for (let i = 0; i < RUNS; i++) {
      // Rotate the order so no kind always goes first (or right after another).
      const order = ENTRIES.map((_, j) => ENTRIES[(i + j) % ENTRIES.length]);
      for (const e of order) {
        if (e.kind === 'swarm' && !swarm?.usable) continue;
        let m: Measurement;
        if (e.kind === 'wharf') m = await measureWharf(wharf!);
        else if (e.kind === 'direct') m = await measureDirect(i, e.concurrency!);
        else m = await measureSwarm();
        results.get(e.id)!.push(m);
        out(
          `run ${i + 1}/${RUNS} ${e.id.padEnd(9)} ${seconds(m.ms).padStart(6)} s${m.note ? `  (${m.note})` : ''}`,
        );
        if (m.phases) printPhases(m.phases);
        // Let the engine settle (removals, cgroup teardown) between measurements.
        await sleep(2_000);
      }
    }
    printSummary(results, swarm);
  } finally {
    await cleanup.run();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `launch bench failed: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exit(1);
  },
);
