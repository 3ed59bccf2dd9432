import {
  DescribeTasksCommand,
  ECSClient,
  ListContainerInstancesCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { Network, type StartedNetwork } from 'testcontainers';
import { PORTS, startHost, startService, type StartedHost, type StartedService } from './hosts';
import {
  eventually,
  IMAGES,
  startNats,
  startPostgres,
  type StartedNats,
  type StartedPostgres,
} from './infra';

export interface TopologyHostSpec {
  /** Network alias and hostname; default `host-<n>` (1-based). */
  alias?: string;
  /** More agent environment for this host only (e.g. AGENT_ATTRIBUTES). */
  env?: Record<string, string>;
}

export interface StartTopologyOptions {
  /** How many hosts (or one spec per host); default 2. */
  hosts?: number | TopologyHostSpec[];
  /** Agent environment for every host, over the defaults (CPU 2048, memory 1024, clean-up 1 s). */
  agentEnv?: Record<string, string>;
  /** Environment for every service (state, scheduler, api, lb) and agent, e.g. LOG_LEVEL. */
  commonEnv?: Record<string, string>;
  /** Images loaded into every host's engine; default the workload image. */
  images?: string[];
  /** The cluster the agents join; default `default`. */
  cluster?: string;
  /** How long to wait for every agent to register; default 120 s. */
  registrationTimeoutMs?: number;
  /**
   * How many scheduler replicas, each its own container; default 1 (alias `scheduler`). With
   * more, their aliases are `scheduler-1`, `scheduler-2`, … and the api's SCHEDULER_URL lists
   * them all.
   */
  schedulers?: number;
  /**
   * Container ports of the lb to map for the test process (the ports its listeners will be
   * created on; `topology.services.lb.mapped(port)` reaches them). Default none.
   */
  lbListenerPorts?: number[];
}

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface TopologyHost extends StartedHost {
  /** The container instance this host's agent registered as (from its data directory). */
  containerInstanceArn: string;
}

export interface Topology {
  network: StartedNetwork;
  postgres: StartedPostgres;
  nats: StartedNats;
  services: {
    state: StartedService;
    /** The first scheduler replica. */
    scheduler: StartedService;
    /** Every scheduler replica, in the order SCHEDULER_URL lists them. */
    schedulers: StartedService[];
    api: StartedService;
    lb: StartedService;
  };
  hosts: TopologyHost[];
  /** An ECS client of the api, as a user would have, signing with `credentials`. */
  ecs: ECSClient;
  /** The access key the topology made for the tests (also a /v1 bearer token). */
  credentials: AccessKey;
  /** `Authorization` for /v1: `Bearer <access key id>:<secret>`. */
  bearer: string;
  /**
   * The join token the agents registered with (WHARF_JOIN_TOKEN; state requires one, its
   * default STATE_AGENT_JOIN=token), never expiring: for cluster `default` when that is the
   * topology's cluster, otherwise for any cluster (the tests make other clusters after start,
   * and a token for one cluster can only be made once it exists).
   */
  joinToken: string;
  cluster: string;
  /** DescribeTasks of these tasks in the topology's cluster (in the order given). */
  describeTasks(taskArns: string[]): Promise<Task[]>;
  /** Polls DescribeTasks until `accept` holds for the task; resolves to it. */
  waitForTask(
    taskArn: string,
    accept: (task: Task) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Task>;
  /** Stops and removes everything (hosts first); never throws. */
  stop(): Promise<void>;
}

const DEFAULT_AGENT_DATA_DIR = '/var/lib/wharf-agent';

/**
 * The whole topology in containers on one Docker network: Postgres, NATS, state, scheduler
 * (`schedulers` replicas), api, lb, and `hosts` Wharf hosts (each its own Docker engine plus an
 * agent), with an ECS client of the api. Resolves once every agent has registered. When
 * start-up fails part-way, whatever was started is removed before the error is thrown.
 */
export async function startTopology(options: StartTopologyOptions = {}): Promise<Topology> {
  const cluster = options.cluster ?? 'default';
  const specs: TopologyHostSpec[] =
    typeof options.hosts === 'number' || options.hosts === undefined
      ? Array.from({ length: options.hosts ?? 2 }, () => ({}))
      : options.hosts;

  // What to stop, newest first.
  const stops: (() => Promise<unknown>)[] = [];
  let ecs: ECSClient | undefined;
  const stop = async (): Promise<void> => {
    ecs?.destroy();
    ecs = undefined;
    for (const step of stops.splice(0)) await step().catch(() => undefined);
  };

  try {
    const network = await new Network().start();
    stops.unshift(() => network.stop());
    const [pg, nt] = await Promise.allSettled([startPostgres(network), startNats(network)]);
    for (const r of [pg, nt]) {
      if (r.status === 'fulfilled') stops.unshift(() => r.value.container.stop());
    }
    if (pg.status === 'rejected') throw pg.reason;
    if (nt.status === 'rejected') throw nt.reason;
    const postgres = pg.value;
    const nats = nt.value;

    const common = { LOG_LEVEL: 'info', ...options.commonEnv, NATS_URL: nats.networkUrl! };
    const track = async (started: Promise<StartedService>): Promise<StartedService> => {
      const s = await started;
      stops.unshift(() => s.stop());
      return s;
    };
    const state = await track(
      startService(network, 'state', { ...common, DATABASE_URL: postgres.networkUrl! }),
    );
    const replicas = options.schedulers ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new Error(`schedulers must be a whole number of at least 1, not ${replicas}`);
    }
    const schedulerAliases =
      replicas === 1
        ? ['scheduler']
        : Array.from({ length: replicas }, (_, i) => `scheduler-${i + 1}`);
    const rest = await Promise.allSettled([
      track(
        startService(network, 'api', {
          ...common,
          STATE_URL: 'state:4701',
          SCHEDULER_URL: schedulerAliases
            .map((alias) => `${alias}:${PORTS.schedulerGrpc}`)
            .join(','),
        }),
      ),
      track(
        startService(
          network,
          'lb',
          { ...common, STATE_URL: 'state:4701' },
          { exposedPorts: options.lbListenerPorts },
        ),
      ),
      ...schedulerAliases.map((alias) =>
        track(
          startService(network, 'scheduler', { ...common, STATE_URL: 'state:4701' }, { alias }),
        ),
      ),
    ]);
    for (const r of rest) if (r.status === 'rejected') throw r.reason;
    const [api, lb, ...schedulers] = rest.map(
      (r) => (r as PromiseFulfilledResult<StartedService>).value,
    );

    // A join token, made as an administrator would: state lets an agent register only with
    // one. The default cluster exists from the start; another is made by the tests after the
    // topology is up, so its agents get a token for any cluster.
    const tokenCreated = await api.container.exec([
      'wharf',
      'admin',
      'join-token',
      'create',
      ...(cluster === 'default' ? ['--cluster', cluster] : []),
      '--description',
      'e2e topology',
      '--format',
      'token',
    ]);
    if (tokenCreated.exitCode !== 0) {
      throw new Error(`wharf admin join-token create failed: ${tokenCreated.output}`);
    }
    const joinToken = tokenCreated.stdout.trim();

    const startedHosts = await Promise.allSettled(
      specs.map(async (spec, i) => {
        const alias = spec.alias ?? `host-${i + 1}`;
        const host = await startHost(
          network,
          alias,
          {
            ...common,
            STATE_URL: 'state:4701',
            WHARF_CLUSTER: cluster,
            WHARF_JOIN_TOKEN: joinToken,
            AGENT_ADVERTISE_ADDRESS: `${alias}:4703`,
            AGENT_HOST_ADDRESS: alias,
            AGENT_CPU: '2048',
            AGENT_MEMORY: '1024',
            // Stopped tasks' containers are removed after this wait (ECS keeps them for hours).
            AGENT_TASK_CLEANUP_WAIT_MS: '1000',
            ...options.agentEnv,
            ...spec.env,
          },
          { images: options.images ?? [IMAGES.workload] },
        );
        // Hosts go first when the topology stops (before the state they report to).
        stops.unshift(() => host.stop({ timeout: 2_000 }));
        return host;
      }),
    );
    for (const r of startedHosts) if (r.status === 'rejected') throw r.reason;
    const started = startedHosts.map((r) => (r as PromiseFulfilledResult<StartedHost>).value);

    // An access key, made as an administrator would (`wharf admin` in the api container):
    // the api authenticates every request (API_AUTH=sigv4, its default).
    const issued = await api.container.exec([
      'wharf',
      'admin',
      'access-key',
      'create',
      '--name',
      'e2e',
    ]);
    if (issued.exitCode !== 0) throw new Error(`wharf admin failed: ${issued.output}`);
    const credentials = JSON.parse(issued.stdout) as AccessKey;
    const client = new ECSClient({ endpoint: api.url, region: 'us-east-1', credentials });
    ecs = client;
    await eventually(
      async () => {
        const out = await client.send(new ListContainerInstancesCommand({ cluster }));
        return (out.containerInstanceArns ?? []).length === started.length ? true : undefined;
      },
      `all ${started.length} agents to register`,
      options.registrationTimeoutMs ?? 120_000,
    );
    const hosts: TopologyHost[] = await Promise.all(
      started.map(async (host, i) => {
        const dataDir =
          specs[i].env?.AGENT_DATA_DIR ??
          options.agentEnv?.AGENT_DATA_DIR ??
          DEFAULT_AGENT_DATA_DIR;
        const identity = await host.exec(['cat', `${dataDir}/instance.json`]);
        if (identity.exitCode !== 0) {
          throw new Error(`no instance identity on ${host.alias}: ${identity.output}`);
        }
        const { containerInstanceArn } = JSON.parse(identity.stdout) as {
          containerInstanceArn: string;
        };
        return Object.assign(host, { containerInstanceArn });
      }),
    );

    const describeTasks = async (taskArns: string[]): Promise<Task[]> => {
      const out = await client.send(new DescribeTasksCommand({ cluster, tasks: taskArns }));
      const tasks = out.tasks ?? [];
      return taskArns
        .map((arn) => tasks.find((t) => t.taskArn === arn))
        .filter((t): t is Task => t !== undefined);
    };
    return {
      network,
      postgres,
      nats,
      services: { state, scheduler: schedulers[0], schedulers, api, lb },
      hosts,
      ecs: client,
      credentials,
      bearer: `Bearer ${credentials.accessKeyId}:${credentials.secretAccessKey}`,
      joinToken,
      cluster,
      describeTasks,
      waitForTask: async (taskArn, accept, what, timeoutMs = 120_000) => {
        let last: Task | undefined;
        try {
          return await eventually(
            async () => {
              [last] = await describeTasks([taskArn]);
              return last && accept(last) ? last : undefined;
            },
            what,
            timeoutMs,
            500,
          );
        } catch (err) {
          // Say what the task looked like last: the usual reason a wait ends here.
          throw new Error(`${(err as Error).message}; last seen: ${summariseTask(last)}`);
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One line about a task for failure messages: statuses, stop code and reason, containers. */
export function summariseTask(task: Task | undefined): string {
  if (!task) return 'no such task';
  const containers = (task.containers ?? [])
    .map(
      (c) =>
        `${c.name}=${c.lastStatus}${c.exitCode !== undefined ? `(${c.exitCode})` : ''}` +
        `${c.healthStatus && c.healthStatus !== 'UNKNOWN' ? ` ${c.healthStatus}` : ''}` +
        `${c.reason ? ` "${c.reason}"` : ''}`,
    )
    .join(', ');
  return (
    `${task.lastStatus} (desired ${task.desiredStatus}, health ${task.healthStatus}` +
    `${task.stopCode ? `, ${task.stopCode}` : ''}${task.stoppedReason ? ` "${task.stoppedReason}"` : ''}) ` +
    `[${containers}]`
  );
}
