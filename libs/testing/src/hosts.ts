import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  GenericContainer,
  getContainerRuntimeClient,
  StartedNetwork,
  StartedTestContainer,
  StopOptions,
  Wait,
} from 'testcontainers';
import { eventually, IMAGES } from './infra';

/**
 * What a Wharf "host" container needs to run its own Docker engine here (DESIGN §6):
 * `--privileged` fails on these machines, these capabilities and options work.
 */
const HOST_CAPABILITIES = ['SYS_ADMIN', 'NET_ADMIN', 'MKNOD', 'SYS_PTRACE', 'SYS_MODULE'];
const HOST_SECURITY_OPTS = ['seccomp=unconfined', 'apparmor=unconfined'];

/**
 * GenericContainer plus what its builder lacks: `--security-opt systempaths=unconfined` is
 * resolved by the docker CLI, not the engine (the engine rejects it); the API equivalent is
 * empty MaskedPaths and ReadonlyPaths in HostConfig (/proc and /sys left unmasked, writable).
 */
class HostContainer extends GenericContainer {
  withUnconfinedSystemPaths(): this {
    this.hostConfig.MaskedPaths = [];
    this.hostConfig.ReadonlyPaths = [];
    return this;
  }
}

/** Where the host image's entry point keeps the pid of the agent it supervises. */
const AGENT_PID_FILE = '/run/wharf-agent.pid';

/** Ports of the services (docs/DEVELOPING.md). */
export const PORTS = {
  api: 4700,
  stateGrpc: 4701,
  schedulerGrpc: 4702,
  agentGrpc: 4703,
  lbOps: 4704,
  stateOps: 4711,
  schedulerOps: 4712,
  agentOps: 4713,
} as const;

/** Container logs to stderr, prefixed, when WHARF_TEST_LOGS=1 (or when it names this container). */
function logConsumer(name: string): ((stream: Readable) => void) | undefined {
  const setting = process.env.WHARF_TEST_LOGS;
  if (!setting) return undefined;
  if (setting !== '1' && setting !== 'true' && !setting.split(',').includes(name)) return undefined;
  return (stream) => {
    stream.on('data', (line: Buffer | string) =>
      process.stderr.write(`[${name}] ${String(line).trimEnd()}\n`),
    );
  };
}

export interface ExecOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
  output: string;
}

export interface StartedHost {
  container: StartedTestContainer;
  /** Its network alias: other containers reach it as `${alias}`. */
  alias: string;
  /** Its address on the network; ports that its tasks publish are reachable there (also from the test process on Linux). */
  address: string;
  /** Runs a command in the host container (not in a task). */
  exec(cmd: string[]): Promise<ExecOutput>;
  /** Runs `docker ARGS` against the host's own engine; resolves to stdout, rejects on a non-zero exit. */
  docker(args: string[]): Promise<string>;
  /** Copies an image from the outer engine (where build-images.sh built it) into the host's engine. */
  loadImage(image: string): Promise<void>;
  /**
   * The pid of the agent process inside the host (the image's entry point supervises it and
   * keeps its pid in /run/wharf-agent.pid); undefined while no agent runs.
   */
  agentPid(): Promise<number | undefined>;
  /**
   * Sends `signal` (default KILL: a crash) to the agent process; resolves to the pid signalled.
   * The entry point starts a new agent after an abnormal exit; task containers keep running.
   */
  killAgent(signal?: string): Promise<number>;
  /** Stops the host (the agent first gets SIGTERM; `{ timeout: 0 }` kills it: losing a host). */
  stop(options?: Partial<StopOptions>): Promise<void>;
}

export interface StartHostOptions {
  /** What the host runs once its engine is up; default `agent`. E.g. `['sleep', 'infinity']`. */
  command?: string[];
  /** Images to load into the host's engine before this resolves (e.g. IMAGES.workload). */
  images?: string[];
  /** Container ports to map to the test machine (default the agent's gRPC and ops ports). */
  exposedPorts?: number[];
  startupTimeoutMs?: number;
}

/**
 * Starts a Wharf host: a wharf/host:dev container on `network` (alias `alias`) running its own
 * Docker engine and, by default, the Wharf agent with `env` (STATE_URL, NATS_URL, WHARF_CLUSTER,
 * …). AGENT_HOST_ADDRESS and AGENT_ADVERTISE_ADDRESS default to the container's address on the
 * network (the image's entry point fills them in). Resolves once the inner engine answers and
 * the requested images are loaded; it does not wait for the agent to register.
 */
export async function startHost(
  network: StartedNetwork,
  alias: string,
  env: Record<string, string> = {},
  options: StartHostOptions = {},
): Promise<StartedHost> {
  let builder = new HostContainer(IMAGES.host)
    .withUnconfinedSystemPaths()
    .withNetwork(network)
    .withNetworkAliases(alias)
    .withHostname(alias)
    .withEnvironment(env)
    .withAddedCapabilities(...HOST_CAPABILITIES)
    .withSecurityOpt(...HOST_SECURITY_OPTS)
    .withBindMounts([{ source: '/sys/fs/cgroup', target: '/sys/fs/cgroup', mode: 'rw' }])
    .withTmpFs({ '/var/lib/docker': 'rw,exec' })
    .withExposedPorts(...(options.exposedPorts ?? [PORTS.agentGrpc, PORTS.agentOps]))
    .withWaitStrategy(Wait.forLogMessage(/\[wharf-host\] ready/))
    .withStartupTimeout(options.startupTimeoutMs ?? 120_000);
  if (options.command) builder = builder.withCommand(options.command);
  const consumer = logConsumer(alias);
  if (consumer) builder = builder.withLogConsumer(consumer);
  const container = await builder.start();

  const exec = async (cmd: string[]): Promise<ExecOutput> => {
    const r = await container.exec(cmd);
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, output: r.output };
  };
  const docker = async (args: string[]): Promise<string> => {
    const r = await exec(['docker', ...args]);
    if (r.exitCode !== 0) {
      throw new Error(
        `docker ${args.join(' ')} on host ${alias} exited ${r.exitCode}: ${r.stderr || r.output}`,
      );
    }
    return r.stdout;
  };
  const loadImage = async (image: string): Promise<void> => {
    // `docker save` on the outer engine, streamed into the host as a directory (a put-archive
    // extracts the saved tar), then tarred again into the inner `docker load`. No docker CLI and
    // no temporary file on the test machine.
    const dir = `/tmp/wharf-image-${randomUUID()}`;
    const client = await getContainerRuntimeClient();
    const saved = (await client.container.dockerode.getImage(image).get()) as unknown as Readable;
    const mk = await exec(['mkdir', '-p', dir]);
    if (mk.exitCode !== 0) throw new Error(`mkdir ${dir} on host ${alias}: ${mk.output}`);
    await container.copyArchiveToContainer(saved, dir);
    const r = await exec([
      'sh',
      '-c',
      `tar -C '${dir}' -cf - . | docker load -q; rc=$?; rm -rf '${dir}'; exit $rc`,
    ]);
    if (r.exitCode !== 0)
      throw new Error(`loading ${image} into host ${alias} failed: ${r.output}`);
  };

  const agentPid = async (): Promise<number | undefined> => {
    const r = await exec(['cat', AGENT_PID_FILE]);
    const pid = Number(r.stdout.trim());
    if (r.exitCode !== 0 || !Number.isInteger(pid) || pid <= 0) return undefined;
    // The file names a live process until the supervisor has seen it go.
    // The image has no kill binary (no procps): the shell's built-in.
    return (await exec(['sh', '-c', 'kill -0 "$1"', 'sh', String(pid)])).exitCode === 0
      ? pid
      : undefined;
  };
  const killAgent = async (signal = 'KILL'): Promise<number> => {
    const pid = await agentPid();
    if (pid === undefined) throw new Error(`no agent is running on host ${alias}`);
    const r = await exec(['sh', '-c', 'kill -s "$1" "$2"', 'sh', signal, String(pid)]);
    if (r.exitCode !== 0) throw new Error(`kill -${signal} ${pid} on host ${alias}: ${r.output}`);
    return pid;
  };

  const address = container.getIpAddress(network.getName());
  for (const image of options.images ?? []) await loadImage(image);
  return {
    container,
    alias,
    address,
    exec,
    docker,
    loadImage,
    agentPid,
    killAgent,
    stop: async (stopOptions) => {
      await container.stop(stopOptions);
    },
  };
}

export type ServiceName = 'state' | 'scheduler' | 'api' | 'lb';

const SERVICE_PORTS: Record<ServiceName, { main: number; ops: number; ports: number[] }> = {
  api: { main: PORTS.api, ops: PORTS.api, ports: [PORTS.api] },
  state: { main: PORTS.stateGrpc, ops: PORTS.stateOps, ports: [PORTS.stateGrpc, PORTS.stateOps] },
  scheduler: {
    main: PORTS.schedulerGrpc,
    ops: PORTS.schedulerOps,
    ports: [PORTS.schedulerGrpc, PORTS.schedulerOps],
  },
  lb: { main: PORTS.lbOps, ops: PORTS.lbOps, ports: [PORTS.lbOps] },
};

export interface StartedService {
  container: StartedTestContainer;
  name: ServiceName;
  /** Network alias (= the service's name unless another was asked for). */
  alias: string;
  /** Reachable from the test process: `http://host:port` for api and lb, `host:port` (gRPC) for state and scheduler. */
  url: string;
  /** Reachable from containers on the network: `http://api:4700`, `state:4701`, … */
  networkUrl: string;
  /** `http://host:port` of the ops endpoint (/healthz, /readyz, /metrics) from the test process. */
  opsUrl: string;
  /** Its address on the network. */
  address: string;
  /** `host:port` from the test process for any exposed container port. */
  mapped(port: number): string;
  stop(options?: Partial<StopOptions>): Promise<void>;
}

export interface StartServiceOptions {
  /** Network alias; default the service's name. */
  alias?: string;
  /** More container ports to map (e.g. an lb listener's port). */
  exposedPorts?: number[];
  /** Also wait for /readyz to answer 200 (its dependencies are reachable). Default false. */
  waitForReady?: boolean;
  startupTimeoutMs?: number;
}

/**
 * Starts one Wharf service from wharf/services:dev on `network`, with `env` (DATABASE_URL,
 * NATS_URL, STATE_URL, SCHEDULER_URL… as network addresses) and resolves once its ops
 * endpoint answers /healthz.
 */
export async function startService(
  network: StartedNetwork,
  name: ServiceName,
  env: Record<string, string> = {},
  options: StartServiceOptions = {},
): Promise<StartedService> {
  const alias = options.alias ?? name;
  const ports = SERVICE_PORTS[name];
  const exposed = [...new Set([...ports.ports, ...(options.exposedPorts ?? [])])];
  let builder = new GenericContainer(IMAGES.services)
    .withNetwork(network)
    .withNetworkAliases(alias)
    .withEnvironment({ WHARF_SERVICE: name, ...env })
    .withCommand([name])
    .withExposedPorts(...exposed)
    .withWaitStrategy(Wait.forHttp('/healthz', ports.ops).forStatusCode(200))
    .withStartupTimeout(options.startupTimeoutMs ?? 60_000);
  const consumer = logConsumer(alias);
  if (consumer) builder = builder.withLogConsumer(consumer);
  const container = await builder.start();

  const host = container.getHost();
  const mapped = (port: number) => `${host}:${container.getMappedPort(port)}`;
  const http = name === 'api' || name === 'lb';
  const opsUrl = `http://${mapped(ports.ops)}`;
  if (options.waitForReady) {
    await eventually(
      // With a deadline: Node 20's fetch can hang forever on a docker-proxy port whose
      // container does not listen yet.
      async () =>
        (await fetch(`${opsUrl}/readyz`, { signal: AbortSignal.timeout(5_000) })).status === 200
          ? true
          : undefined,
      `${name} /readyz`,
      options.startupTimeoutMs ?? 60_000,
    );
  }
  return {
    container,
    name,
    alias,
    url: http ? `http://${mapped(ports.main)}` : mapped(ports.main),
    networkUrl: http ? `http://${alias}:${ports.main}` : `${alias}:${ports.main}`,
    opsUrl,
    address: container.getIpAddress(network.getName()),
    mapped,
    stop: async (stopOptions) => {
      await container.stop(stopOptions);
    },
  };
}
