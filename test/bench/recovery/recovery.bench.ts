/**
 * Recovery benchmark: how long Wharf takes to repair a service after a failure, with the
 * default timings. On the whole topology in containers (Testcontainers; four hosts, each its
 * own Docker engine running the agent, in zones az-a…az-d; two scheduler replicas) it
 * measures, RUNS times each, and prints min / median / max:
 *
 *  (1) host death → replacements RUNNING: a REPLICA service of 6 busybox tasks is stable; the
 *      host container holding most of them is killed (`docker kill`: the engine, the agent and
 *      the task containers die at once — losing a machine). Seconds from the kill until the
 *      service is back at its desired count with every task RUNNING and none on the dead host,
 *      split into: the agent seen disconnected (state's heartbeat TTL), the lost tasks recorded
 *      STOPPED (plus the scheduler's grace), the replacements placed, and RUNNING. The dead
 *      host is then started again (same container: its agent re-registers as the same
 *      container instance; its engine comes back empty) and the service is deleted, so every
 *      run starts from four healthy hosts and a fresh service.
 *  (2) leader death → next placement: the scheduler replica holding the service scheduler's
 *      lease is killed with SIGKILL and the service's desired count raised by one right after;
 *      seconds from the kill until the new task exists (ListTasks) and until it is RUNNING,
 *      and when the other replica logged taking the lease. The killed replica is started
 *      again (it comes back as a follower) and the count lowered before the next run.
 *
 * Beside the figures it prints the settings in effect (read from the running containers'
 * environment and the services' config schemas) and the reference points of the issue. It
 * asserts no timing; it fails only when a recovery does not happen within TIMEOUT_S.
 *
 *   npm run bench:recovery                 (RUNS=2 npm run bench:recovery)
 *
 * Needs the images of `bash deploy/build-images.sh` and a Docker engine
 * (`bash scripts/ensure-docker.sh`). Takes a few minutes.
 *
 * Environment (all optional):
 *   RUNS (3)               measurements of each kind (BENCH_RUNS is read too)
 *   TIMEOUT_S (120)        give up on one recovery after this long
 *   POLL_MS (250)          how often the API is polled while measuring
 *   WHARF_TEST_LOGS        container logs to stderr (see libs/testing)
 */
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  type ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type Task,
  UpdateServiceCommand,
  waitUntilServicesInactive,
} from '@aws-sdk/client-ecs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import {
  IMAGES,
  startTopology,
  type StartedService,
  type Topology,
  type TopologyHost,
} from '@wharf/testing';
import { agentConfigSchema } from '../../../apps/agent/src/config';
import { schedulerConfigSchema } from '../../../apps/scheduler/src/config';
import { stateConfigSchema } from '../../../apps/state/src/config';

// ---- settings ------------------------------------------------------------------------------

function intEnv(names: string[], fallback: number, min = 1): number {
  for (const name of names) {
    const raw = process.env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}`);
    return n;
  }
  return fallback;
}

const RUNS = intEnv(['RUNS', 'BENCH_RUNS'], 3);
const TIMEOUT_MS = intEnv(['TIMEOUT_S', 'BENCH_TIMEOUT_S'], 120) * 1000;
const POLL_MS = intEnv(['POLL_MS', 'BENCH_POLL_MS'], 250, 10);

const CLUSTER = 'default';
const ZONES = ['az-a', 'az-b', 'az-c', 'az-d'];
/** Tasks of the host-death service: over four zones, 2/2/1/1, so a killed host loses two. */
const HOST_DEATH_TASKS = 6;
/** Tasks of the leader-death service before each run raises it by one. */
const LEADER_DEATH_TASKS = 3;
const LEADER_SERVICE = 'recovery-leader';
/** What a stable service waits for at most (start-up, deletion, restores). */
const SETTLE_TIMEOUT_MS = 180_000;

/** The issue's reference points for replacing the tasks of a dead node, with defaults. */
const REFERENCES = [
  { name: 'Kubernetes (defaults)', seconds: 300 },
  { name: 'Nomad', seconds: 20 },
  { name: 'Docker Swarm', seconds: 15 },
];
const TARGET_SECONDS = 10;

const run = promisify(execFile);

/** `docker ARGS` against the outer engine, where the topology's containers run. */
async function outerDocker(args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

const engine = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });

/**
 * SIGKILL to a container of the outer engine through its API (one request, not a CLI start-up,
 * so the clock starts within milliseconds of the death). Resolves to when the request was sent
 * and how long the engine took to answer.
 */
async function killContainer(containerId: string): Promise<{ t0: number; tookMs: number }> {
  const t0 = Date.now();
  await engine.getContainer(containerId).kill({ signal: 'KILL' });
  return { t0, tookMs: Date.now() - t0 };
}

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const seconds = (ms: number | undefined) => (ms === undefined ? '—' : (ms / 1000).toFixed(1));

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Polls `probe` every POLL_MS until it answers a value, or throws after `timeoutMs`. */
async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: Error | undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err as Error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}` +
          (lastError ? `: ${lastError.message}` : ''),
      );
    }
    await sleep(POLL_MS);
  }
}

/**
 * When each named moment of one measurement was first seen, in ms after its start. Moments
 * are seen in any order; a later check that holds again does not move the first sighting.
 */
class Moments<K extends string> {
  private readonly seen = new Map<K, number>();

  constructor(private readonly t0: number) {}

  /** Records `name` now if `holds` and it was not seen yet. */
  note(name: K, holds: boolean): void {
    if (holds && !this.seen.has(name)) this.seen.set(name, Date.now() - this.t0);
  }

  get(name: K): number | undefined {
    return this.seen.get(name);
  }

  /** `at` (an epoch time in ms) relative to the start. */
  since(at: Date | number | undefined): number | undefined {
    return at === undefined ? undefined : new Date(at).getTime() - this.t0;
  }
}

// ---- settings in effect --------------------------------------------------------------------

interface Setting {
  service: string;
  variable: string;
  /** The value the process runs with: its environment's, else the schema's default. */
  value: number | undefined;
  /** Set in the container's environment (by the topology or the image), not the default. */
  overridden: boolean;
  meaning: string;
}

/** The container's environment, as `docker inspect` shows it (image ENV included). */
async function containerEnv(containerId: string): Promise<Record<string, string>> {
  const raw = await outerDocker(['inspect', '--format', '{{json .Config.Env}}', containerId]);
  const entries = (JSON.parse(raw) as string[]).map((e) => {
    const eq = e.indexOf('=');
    return [e.slice(0, eq), e.slice(eq + 1)] as const;
  });
  return Object.fromEntries(entries);
}

/**
 * The timings that decide recovery, as the running containers have them: each variable from
 * the container's environment when set there, else the default of the service's own config
 * schema (apps/<service>/src/config.ts), parsed the way the service parses it.
 */
async function settingsInEffect(topology: Topology): Promise<Setting[]> {
  const stateEnv = await containerEnv(topology.services.state.container.getId());
  const schedulerEnv = await containerEnv(topology.services.scheduler.container.getId());
  const agentEnv = await containerEnv(topology.hosts[0].container.getId());
  const read = (
    service: string,
    shape: Record<string, { parse(v: unknown): unknown }>,
    env: Record<string, string>,
    variable: string,
    meaning: string,
  ): Setting => ({
    service,
    variable,
    value: shape[variable].parse(env[variable]) as number | undefined,
    overridden: env[variable] !== undefined,
    meaning,
  });
  return [
    read(
      'agent',
      agentConfigSchema.shape,
      agentEnv,
      'AGENT_HEARTBEAT_INTERVAL_MS',
      'how often an agent heartbeats',
    ),
    read(
      'state',
      stateConfigSchema.shape,
      stateEnv,
      'AGENT_HEARTBEAT_TTL_MS',
      'an agent silent this long is disconnected',
    ),
    read(
      'state',
      stateConfigSchema.shape,
      stateEnv,
      'AGENT_LIVENESS_INTERVAL_MS',
      'how often silent agents are looked for (unset: a fifth of the TTL)',
    ),
    read(
      'scheduler',
      schedulerConfigSchema.shape,
      schedulerEnv,
      'SERVICE_LOST_INSTANCE_GRACE_MS',
      'after disconnection, until its service tasks are recorded lost',
    ),
    read(
      'scheduler',
      schedulerConfigSchema.shape,
      schedulerEnv,
      'SERVICE_LEASE_TTL_MS',
      'a dead leader’s lease expires after this',
    ),
    read(
      'scheduler',
      schedulerConfigSchema.shape,
      schedulerEnv,
      'SERVICE_RECONCILE_INTERVAL_MS',
      'full pass over every service (events trigger more)',
    ),
  ];
}

function printSettings(settings: Setting[]): void {
  out('settings in effect (container environment, else the config schema’s default):');
  for (const s of settings) {
    const value = s.value === undefined ? 'unset' : `${s.value} ms`;
    const origin = s.overridden ? 'SET by the topology — not the default' : 'default';
    out(
      `  ${`${s.service} ${s.variable}`.padEnd(42)} ${value.padStart(9)}  (${origin}; ${s.meaning})`,
    );
  }
  const overridden = settings.filter((s) => s.overridden);
  out(
    overridden.length
      ? `  NOTE: ${overridden.map((s) => s.variable).join(', ')} differ from the defaults`
      : '  none is overridden by the topology: these are the defaults',
  );
}

// ---- the service, through the ECS API ------------------------------------------------------

class ServiceDriver {
  constructor(
    private readonly topology: Topology,
    readonly name: string,
  ) {}

  private get ecs(): ECSClient {
    return this.topology.ecs;
  }

  async create(taskDefinition: string, desiredCount: number): Promise<void> {
    await this.ecs.send(
      new CreateServiceCommand({
        cluster: CLUSTER,
        serviceName: this.name,
        taskDefinition,
        desiredCount,
      }),
    );
  }

  async setDesiredCount(desiredCount: number): Promise<void> {
    await this.ecs.send(
      new UpdateServiceCommand({ cluster: CLUSTER, service: this.name, desiredCount }),
    );
  }

  async describe() {
    const out = await this.ecs.send(
      new DescribeServicesCommand({ cluster: CLUSTER, services: [this.name] }),
    );
    return out.services![0];
  }

  /** The service's wanted tasks (desired RUNNING), described. */
  async tasks(): Promise<Task[]> {
    const { taskArns } = await this.ecs.send(
      new ListTasksCommand({ cluster: CLUSTER, serviceName: this.name, maxResults: 100 }),
    );
    return taskArns?.length ? this.topology.describeTasks(taskArns) : [];
  }

  /** Waits until `count` tasks are wanted, all RUNNING, and the service counts them so. */
  async waitSteady(count: number, timeoutMs = SETTLE_TIMEOUT_MS): Promise<Task[]> {
    return until(
      `service ${this.name} steady at ${count} RUNNING`,
      async () => {
        const s = await this.describe();
        if (s.runningCount !== count || s.pendingCount !== 0) return undefined;
        const tasks = await this.tasks();
        return tasks.length === count && tasks.every((t) => t.lastStatus === 'RUNNING')
          ? tasks
          : undefined;
      },
      timeoutMs,
    );
  }

  /** Deletes it (force) and waits until it is INACTIVE, its tasks stopped. */
  async delete(): Promise<void> {
    await this.ecs.send(
      new DeleteServiceCommand({ cluster: CLUSTER, service: this.name, force: true }),
    );
    await waitUntilServicesInactive(
      { client: this.ecs, maxWaitTime: SETTLE_TIMEOUT_MS / 1000, minDelay: 1, maxDelay: 2 },
      { cluster: CLUSTER, services: [this.name] },
    );
  }
}

async function registerWorkload(ecs: ECSClient): Promise<string> {
  const registered = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'recovery-bench',
      containerDefinitions: [
        {
          name: 'app',
          image: IMAGES.workload,
          essential: true,
          memory: 32,
          cpu: 64,
          command: ['sh', '-c', "trap 'exit 143' TERM; while true; do sleep 1; done"],
          stopTimeout: 5,
        },
      ],
    }),
  );
  return registered.taskDefinition!.taskDefinitionArn!;
}

async function agentConnected(ecs: ECSClient, containerInstanceArn: string): Promise<boolean> {
  const out = await ecs.send(
    new DescribeContainerInstancesCommand({
      cluster: CLUSTER,
      containerInstances: [containerInstanceArn],
    }),
  );
  return out.containerInstances?.[0]?.agentConnected === true;
}

// ---- (1) host death ------------------------------------------------------------------------

type HostDeathMoment = 'disconnected' | 'lostStopped' | 'placed' | 'running';

interface HostDeathRun {
  host: string;
  lostTasks: number;
  /** Tasks per host (by alias) before the kill and once the service was whole again. */
  spreadBefore: string;
  spreadAfter: string;
  /** How long the engine took to answer the kill. */
  killMs: number;
  /** ms after the kill, as the bench saw them through the API. */
  seen: Record<HostDeathMoment, number | undefined>;
  /** ms after the kill, from the tasks' own timestamps (state's stoppedAt, agent's startedAt). */
  recorded: { lostStoppedAt?: number; replacementsStartedAt?: number };
  /** How long bringing the host back took (not part of the recovery). */
  restoreMs: number;
}

/** How many of `tasks` each host runs, as `host-1:2 host-2:1 …`. */
function spread(hosts: TopologyHost[], tasks: Task[]): string {
  return hosts
    .map(
      (h) =>
        `${h.alias}:${tasks.filter((t) => t.containerInstanceArn === h.containerInstanceArn).length}`,
    )
    .join(' ');
}

/** The host with the most of `tasks`; among equals, the one killed fewest times so far. */
function chooseVictim(hosts: TopologyHost[], tasks: Task[], kills: Map<string, number>) {
  const count = (h: TopologyHost) =>
    tasks.filter((t) => t.containerInstanceArn === h.containerInstanceArn).length;
  return [...hosts].sort(
    (a, b) => count(b) - count(a) || (kills.get(a.alias) ?? 0) - (kills.get(b.alias) ?? 0),
  )[0];
}

/**
 * Starts the killed host's container again: its engine starts empty (/var/lib/docker is a
 * tmpfs), the workload image is loaded again, and its agent re-registers as the same container
 * instance (its identity is on the container's own disk). Done when state sees it connected.
 */
async function restoreHost(topology: Topology, host: TopologyHost): Promise<void> {
  await host.container.restart();
  await host.loadImage(IMAGES.workload);
  await until(
    `${host.alias}'s agent connected again`,
    async () =>
      (await agentConnected(topology.ecs, host.containerInstanceArn)) ? true : undefined,
    SETTLE_TIMEOUT_MS,
  );
}

async function measureHostDeath(
  topology: Topology,
  taskDefinition: string,
  runNo: number,
  kills: Map<string, number>,
): Promise<HostDeathRun> {
  const service = new ServiceDriver(topology, `recovery-host-${runNo}`);
  await service.create(taskDefinition, HOST_DEATH_TASKS);
  const before = await service.waitSteady(HOST_DEATH_TASKS);
  const victim = chooseVictim(topology.hosts, before, kills);
  kills.set(victim.alias, (kills.get(victim.alias) ?? 0) + 1);
  const lost = before.filter((t) => t.containerInstanceArn === victim.containerInstanceArn);
  const lostArns = lost.map((t) => t.taskArn!);

  const { t0, tookMs: killMs } = await killContainer(victim.container.getId());
  const moments = new Moments<HostDeathMoment>(t0);
  const onLiveHost = (t: Task) => t.containerInstanceArn !== victim.containerInstanceArn;
  const replacements = await until(
    `${service.name} whole again after killing ${victim.alias}`,
    async () => {
      moments.note(
        'disconnected',
        !(await agentConnected(topology.ecs, victim.containerInstanceArn)),
      );
      const lostNow = await topology.describeTasks(lostArns);
      moments.note(
        'lostStopped',
        lostNow.every((t) => t.lastStatus === 'STOPPED'),
      );
      const wanted = await service.tasks();
      const elsewhere = wanted.filter(onLiveHost);
      moments.note('placed', elsewhere.length === HOST_DEATH_TASKS);
      const s = await service.describe();
      const whole =
        wanted.length === HOST_DEATH_TASKS &&
        elsewhere.length === HOST_DEATH_TASKS &&
        wanted.every((t) => t.lastStatus === 'RUNNING') &&
        s.runningCount === HOST_DEATH_TASKS &&
        s.pendingCount === 0;
      moments.note('running', whole);
      return whole ? { lostNow, wanted } : undefined;
    },
  );

  // The tasks' own timestamps, for comparison with what polling saw.
  const newTasks = replacements.wanted.filter((t) => !before.some((b) => b.taskArn === t.taskArn));
  const latest = (dates: (Date | undefined)[]) =>
    dates.every((d) => d) ? Math.max(...dates.map((d) => d!.getTime())) : undefined;
  const recorded = {
    lostStoppedAt: moments.since(latest(replacements.lostNow.map((t) => t.stoppedAt))),
    replacementsStartedAt: moments.since(latest(newTasks.map((t) => t.startedAt))),
  };

  const restoreStart = Date.now();
  await Promise.all([service.delete(), restoreHost(topology, victim)]);
  const restoreMs = Date.now() - restoreStart;
  return {
    host: victim.alias,
    lostTasks: lost.length,
    spreadBefore: spread(topology.hosts, before),
    spreadAfter: spread(topology.hosts, replacements.wanted),
    killMs,
    seen: {
      disconnected: moments.get('disconnected'),
      lostStopped: moments.get('lostStopped'),
      placed: moments.get('placed'),
      running: moments.get('running'),
    },
    recorded,
    restoreMs,
  };
}

function printHostDeathRun(r: HostDeathRun, runNo: number): void {
  out(
    `run ${runNo}/${RUNS} host death: killed ${r.host} (${r.lostTasks} of ${HOST_DEATH_TASKS} tasks) → ` +
      `disconnected ${seconds(r.seen.disconnected)} s, lost tasks STOPPED ${seconds(r.seen.lostStopped)} s, ` +
      `replacements placed ${seconds(r.seen.placed)} s, all RUNNING ${seconds(r.seen.running)} s`,
  );
  out(
    `    tasks’ own timestamps: stoppedAt ${seconds(r.recorded.lostStoppedAt)} s, ` +
      `replacements’ startedAt ${seconds(r.recorded.replacementsStartedAt)} s; ` +
      `kill answered in ${r.killMs} ms; host back and service deleted in ${seconds(r.restoreMs)} s`,
  );
  out(`    tasks per host: before ${r.spreadBefore} → after ${r.spreadAfter}`);
}

// ---- (2) leader death ----------------------------------------------------------------------

/**
 * Whether a scheduler replica leads the service scheduler now, from the last of its log lines
 * saying so since its container last started (a killed and restarted replica's earlier lines
 * are in the same log), and since when.
 */
async function leadership(scheduler: StartedService): Promise<{ leader: boolean; since?: number }> {
  const id = scheduler.container.getId();
  const startedAt = Date.parse(
    (await outerDocker(['inspect', '--format', '{{.State.StartedAt}}', id])).trim(),
  );
  const { stdout, stderr } = await run('docker', ['logs', id], { maxBuffer: 64 * 1024 * 1024 });
  let state: { leader: boolean; since?: number } = { leader: false };
  for (const line of `${stdout}\n${stderr}`.split('\n')) {
    if (!line.includes('service scheduler leader')) continue;
    const entry = JSON.parse(line.slice(line.indexOf('{'))) as { msg: string; time: string };
    const at = Date.parse(entry.time);
    if (at < startedAt) continue;
    if (entry.msg === 'became service scheduler leader') state = { leader: true, since: at };
    if (entry.msg === 'no longer service scheduler leader') state = { leader: false };
  }
  return state;
}

async function findLeader(schedulers: StartedService[]): Promise<StartedService> {
  return until(
    'a service scheduler leader',
    async () => {
      for (const s of schedulers) if ((await leadership(s)).leader) return s;
      return undefined;
    },
    SETTLE_TIMEOUT_MS,
  );
}

type LeaderDeathMoment = 'placed' | 'running';

interface LeaderDeathRun {
  killed: string;
  /** ms after the kill. */
  updateAnswered: number;
  successorLed?: number;
  seen: Record<LeaderDeathMoment, number | undefined>;
  recorded: { createdAt?: number; startedAt?: number };
  restoreMs: number;
}

async function measureLeaderDeath(
  topology: Topology,
  service: ServiceDriver,
): Promise<LeaderDeathRun> {
  const schedulers = topology.services.schedulers;
  const before = await service.waitSteady(LEADER_DEATH_TASKS);
  const leader = await findLeader(schedulers);
  const successor = schedulers.find((s) => s !== leader)!;
  const target = LEADER_DEATH_TASKS + 1;

  const { t0 } = await killContainer(leader.container.getId());
  await service.setDesiredCount(target);
  const updateAnswered = Date.now() - t0;
  const moments = new Moments<LeaderDeathMoment>(t0);
  const tasks = await until(`a placement after killing ${leader.alias}`, async () => {
    const wanted = await service.tasks();
    const s = await service.describe();
    moments.note(
      'placed',
      wanted.length === target || (s.runningCount ?? 0) + (s.pendingCount ?? 0) === target,
    );
    const running = wanted.length === target && wanted.every((t) => t.lastStatus === 'RUNNING');
    moments.note('running', running);
    return running ? wanted : undefined;
  });
  const took = await leadership(successor);
  const added = tasks.find((t) => !before.some((b) => b.taskArn === t.taskArn));

  const restoreStart = Date.now();
  await leader.container.restart();
  await service.setDesiredCount(LEADER_DEATH_TASKS);
  await service.waitSteady(LEADER_DEATH_TASKS);
  const restoreMs = Date.now() - restoreStart;
  return {
    killed: leader.alias,
    updateAnswered,
    successorLed: took.leader ? moments.since(took.since) : undefined,
    seen: { placed: moments.get('placed'), running: moments.get('running') },
    recorded: {
      createdAt: moments.since(added?.createdAt),
      startedAt: moments.since(added?.startedAt),
    },
    restoreMs,
  };
}

function printLeaderDeathRun(r: LeaderDeathRun, runNo: number): void {
  out(
    `run ${runNo}/${RUNS} leader death: killed ${r.killed} → UpdateService answered ` +
      `${seconds(r.updateAnswered)} s, successor led ${seconds(r.successorLed)} s, ` +
      `new task placed ${seconds(r.seen.placed)} s, RUNNING ${seconds(r.seen.running)} s`,
  );
  out(
    `    task’s own timestamps: createdAt ${seconds(r.recorded.createdAt)} s, ` +
      `startedAt ${seconds(r.recorded.startedAt)} s; replica back and count lowered in ${seconds(r.restoreMs)} s`,
  );
}

// ---- the summary ---------------------------------------------------------------------------

function statLine(label: string, values: (number | undefined)[]): string {
  const ok = values.filter((v): v is number => v !== undefined);
  if (!ok.length) return `  ${label.padEnd(52)} n/a`;
  const s = [...ok].sort((a, b) => a - b);
  return (
    `  ${label.padEnd(52)} ${seconds(s[0]).padStart(6)} ${seconds(median(s)).padStart(8)} ` +
    `${seconds(s[s.length - 1]).padStart(6)}   (${ok.map((v) => seconds(v)).join(', ')})`
  );
}

function printSummary(
  hosts: number,
  settings: Setting[],
  hostRuns: HostDeathRun[],
  leaderRuns: LeaderDeathRun[],
): void {
  const get = (variable: string) => settings.find((s) => s.variable === variable)?.value;
  const ttl = get('AGENT_HEARTBEAT_TTL_MS');
  const grace = get('SERVICE_LOST_INSTANCE_GRACE_MS');
  const lease = get('SERVICE_LEASE_TTL_MS');
  const heartbeat = get('AGENT_HEARTBEAT_INTERVAL_MS');
  const header = `  ${'seconds after the kill'.padEnd(52)} ${'min'.padStart(6)} ${'median'.padStart(8)} ${'max'.padStart(6)}   (runs)`;

  out();
  out(
    `(1) host death: ${HOST_DEATH_TASKS}-task REPLICA service on ${hosts} hosts, the host with most tasks killed, ${hostRuns.length} run(s)`,
  );
  out(header);
  out(
    statLine(
      `agent disconnected (heartbeat TTL ${seconds(ttl)} s)`,
      hostRuns.map((r) => r.seen.disconnected),
    ),
  );
  out(
    statLine(
      `lost tasks recorded STOPPED (+ grace ${seconds(grace)} s)`,
      hostRuns.map((r) => r.seen.lostStopped),
    ),
  );
  out(
    statLine(
      'replacements placed elsewhere',
      hostRuns.map((r) => r.seen.placed),
    ),
  );
  out(
    statLine(
      'replacements RUNNING, service whole again',
      hostRuns.map((r) => r.seen.running),
    ),
  );
  out(
    statLine(
      '  (state’s stoppedAt of the lost tasks)',
      hostRuns.map((r) => r.recorded.lostStoppedAt),
    ),
  );
  out(
    statLine(
      '  (agent’s startedAt of the replacements)',
      hostRuns.map((r) => r.recorded.replacementsStartedAt),
    ),
  );
  if (ttl !== undefined && heartbeat !== undefined) {
    // As state runs it (apps/state/src/state.ts): unset means a fifth of the TTL, 0.1–5 s.
    const liveness =
      get('AGENT_LIVENESS_INTERVAL_MS') ?? Math.min(5_000, Math.max(100, Math.floor(ttl / 5)));
    out(
      `  expected: disconnected ${seconds(ttl - heartbeat)}–${seconds(ttl + liveness)} s after the kill ` +
        `(the TTL counts from the last heartbeat, sent up to ${seconds(heartbeat)} s before it; ` +
        `silent agents are looked for every ${seconds(liveness)} s)`,
    );
  }
  out();
  out('  reference: replacing the tasks of a dead node');
  for (const ref of REFERENCES) out(`    ${ref.name.padEnd(24)} about ${ref.seconds} s`);
  if (hostRuns.length) {
    const m = median(hostRuns.map((r) => r.seen.running ?? NaN)) / 1000;
    out(
      `    ${'Wharf (this run)'.padEnd(24)} median ${m.toFixed(1)} s — target ${TARGET_SECONDS} s with defaults: ${m <= TARGET_SECONDS ? 'met' : 'NOT met'}`,
    );
  }

  out();
  out(
    `(2) leader death: scheduler leader killed (SIGKILL), desiredCount ${LEADER_DEATH_TASKS} → ${LEADER_DEATH_TASKS + 1} right after, ${leaderRuns.length} run(s)`,
  );
  out(header);
  out(
    statLine(
      'UpdateService answered',
      leaderRuns.map((r) => r.updateAnswered),
    ),
  );
  out(
    statLine(
      `successor logged leadership (lease TTL ${seconds(lease)} s)`,
      leaderRuns.map((r) => r.successorLed),
    ),
  );
  out(
    statLine(
      'new task placed (ListTasks / pending+running)',
      leaderRuns.map((r) => r.seen.placed),
    ),
  );
  out(
    statLine(
      'new task RUNNING',
      leaderRuns.map((r) => r.seen.running),
    ),
  );
  out(
    statLine(
      '  (state’s createdAt of the new task)',
      leaderRuns.map((r) => r.recorded.createdAt),
    ),
  );
  out(
    statLine(
      '  (agent’s startedAt of the new task)',
      leaderRuns.map((r) => r.recorded.startedAt),
    ),
  );
  if (lease !== undefined) {
    // Renewed (and tried by followers) every third of the TTL: apps/scheduler/src/services/leader-lease.ts.
    const retry = Math.floor(lease / 3);
    out(
      `  expected: successor leads ${seconds(lease - retry)}–${seconds(lease + retry)} s after the kill ` +
        `(the lease expires ${seconds(lease)} s after the leader's last renewal, made up to ` +
        `${seconds(retry)} s before the kill; followers try every ${seconds(retry)} s)`,
    );
  }
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  // The reaper image cannot be pulled here (DESIGN §6): the bench removes what it starts.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  let topology: Topology | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= topology?.stop() ?? Promise.resolve());
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: removing the topology…\n`);
    void stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    out(
      `starting the topology: Postgres, NATS, state, 2 schedulers, api, lb, ${ZONES.length} hosts…`,
    );
    const started = Date.now();
    topology = await startTopology({
      schedulers: 2,
      hosts: ZONES.map((zone) => ({ env: { AGENT_ATTRIBUTES: `ecs.availability-zone=${zone}` } })),
    });
    out(`topology up in ${seconds(Date.now() - started)} s`);
    const settings = await settingsInEffect(topology);
    printSettings(settings);
    out();

    const taskDefinition = await registerWorkload(topology.ecs);
    const hostRuns: HostDeathRun[] = [];
    const kills = new Map<string, number>();
    for (let i = 1; i <= RUNS; i++) {
      const r = await measureHostDeath(topology, taskDefinition, i, kills);
      hostRuns.push(r);
      printHostDeathRun(r, i);
      await sleep(2_000); // let the engines settle (removals, cgroup teardown)
    }

    const leaderService = new ServiceDriver(topology, LEADER_SERVICE);
    await leaderService.create(taskDefinition, LEADER_DEATH_TASKS);
    const leaderRuns: LeaderDeathRun[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const r = await measureLeaderDeath(topology, leaderService);
      leaderRuns.push(r);
      printLeaderDeathRun(r, i);
      await sleep(2_000);
    }

    printSummary(topology.hosts.length, settings, hostRuns, leaderRuns);
  } finally {
    await stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `recovery bench failed: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exit(1);
  },
);
