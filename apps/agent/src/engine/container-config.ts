import type Docker from 'dockerode';
import {
  ContainerDefinition,
  InvalidParameterError,
  KeyValuePair,
  TaskDefinitionInput,
} from '@wharf/domain';
import { buildLabels, containerDockerName, taskIdOf } from './labels';

/** ECS `overrides.containerOverrides[]` members the agent applies. */
export interface ContainerOverride {
  name?: string;
  command?: string[];
  environment?: KeyValuePair[];
  cpu?: number;
  memory?: number;
  memoryReservation?: number;
}

export interface TaskOverrides {
  containerOverrides?: ContainerOverride[];
}

export type Protocol = 'tcp' | 'udp';
export type AgentNetworkMode = 'bridge' | 'host' | 'none';

export interface PlannedPortMapping {
  containerPort: number;
  /** 0 = dynamic: Docker picks, the agent reads it back after start. */
  hostPort: number;
  protocol: Protocol;
}

/** Everything the agent needs to run one container of a task. */
export interface ContainerPlan {
  name: string;
  image: string;
  essential: boolean;
  dockerName: string;
  stopTimeoutS: number;
  portMappings: PlannedPortMapping[];
  hasHealthCheck: boolean;
  createOptions: Docker.ContainerCreateOptions;
}

export interface TaskPlan {
  taskArn: string;
  taskId: string;
  family: string;
  revision: number;
  networkMode: AgentNetworkMode;
  /** In start order (dependencies first). */
  containers: ContainerPlan[];
}

export interface PlanInput {
  taskArn: string;
  overridesJson?: string;
  definitionJson: string;
  family?: string;
  revision?: number;
  clusterName: string;
  containerInstanceArn: string;
  defaultStopTimeoutS: number;
}

const MiB = 1024 * 1024;
const SECOND_NS = 1_000_000_000;

function parseJson<T>(raw: string | undefined, what: string): T | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new InvalidParameterError(`${what} is not valid JSON`);
  }
}

export function networkModeOf(mode: string | undefined): AgentNetworkMode {
  // awsvpc has no meaning on a plain Docker host; its containers get a bridge network.
  if (mode === 'host' || mode === 'none') return mode;
  return 'bridge';
}

/** Merges environments by name; later lists win. */
export function mergeEnvironment(...lists: (KeyValuePair[] | undefined)[]): string[] {
  const byName = new Map<string, string>();
  for (const list of lists) {
    for (const kv of list ?? []) {
      if (kv?.name) byName.set(kv.name, kv.value ?? '');
    }
  }
  return [...byName].map(([k, v]) => `${k}=${v}`);
}

/** ECS reserves at least 2 CPU shares for a container that asks for any. */
export function cpuShares(cpu: number | undefined): number | undefined {
  if (cpu === undefined || cpu === null) return undefined;
  return Math.max(2, Math.floor(cpu));
}

export function planPortMappings(
  def: ContainerDefinition,
  mode: AgentNetworkMode,
): PlannedPortMapping[] {
  if (mode === 'none') return [];
  return (def.portMappings ?? [])
    .filter((pm) => typeof pm.containerPort === 'number' && pm.containerPort > 0)
    .map((pm) => {
      const containerPort = pm.containerPort as number;
      const protocol: Protocol = pm.protocol === 'udp' ? 'udp' : 'tcp';
      // In host mode the container binds the host's port itself: hostPort = containerPort.
      const hostPort = mode === 'host' ? containerPort : (pm.hostPort ?? 0);
      return { containerPort, hostPort, protocol };
    });
}

/** Dependencies (dependsOn) first; definition order otherwise; cycles keep definition order. */
export function startOrder(defs: ContainerDefinition[]): ContainerDefinition[] {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const done = new Set<string | undefined>();
  const visiting = new Set<string | undefined>();
  const out: ContainerDefinition[] = [];
  const visit = (d: ContainerDefinition) => {
    if (done.has(d.name) || visiting.has(d.name)) return;
    visiting.add(d.name);
    for (const dep of d.dependsOn ?? []) {
      const target = byName.get(dep.containerName);
      if (target) visit(target);
    }
    visiting.delete(d.name);
    done.add(d.name);
    out.push(d);
  };
  defs.forEach(visit);
  return out;
}

export interface ContainerConfigInput {
  taskArn: string;
  taskId: string;
  family: string;
  revision: number;
  clusterName: string;
  containerInstanceArn: string;
  networkMode: AgentNetworkMode;
  defaultStopTimeoutS: number;
  volumes?: TaskDefinitionInput['volumes'];
}

/** Builds one container's Docker create options from its definition and override. */
export function buildContainerPlan(
  def: ContainerDefinition,
  override: ContainerOverride | undefined,
  input: ContainerConfigInput,
): ContainerPlan {
  if (!def.name) throw new InvalidParameterError('a container definition has no name');
  if (!def.image) throw new InvalidParameterError(`container ${def.name} has no image`);
  const name = def.name;
  const essential = def.essential !== false;
  const stopTimeoutS = def.stopTimeout ?? input.defaultStopTimeoutS;
  const cpu = override?.cpu ?? def.cpu;
  const memory = override?.memory ?? def.memory;
  const memoryReservation = override?.memoryReservation ?? def.memoryReservation;
  const command = override?.command ?? def.command;
  const portMappings = planPortMappings(def, input.networkMode);

  const exposedPorts: Record<string, object> = {};
  const portBindings: Docker.PortMap = {};
  for (const pm of portMappings) {
    const key = `${pm.containerPort}/${pm.protocol}`;
    exposedPorts[key] = {};
    if (input.networkMode === 'bridge') {
      portBindings[key] = [
        ...(portBindings[key] ?? []),
        { HostPort: pm.hostPort ? String(pm.hostPort) : '' },
      ];
    }
  }

  const hostConfig: Docker.HostConfig = {
    NetworkMode: input.networkMode,
    PortBindings: portBindings,
    CpuShares: cpuShares(cpu),
    Memory: memory ? memory * MiB : undefined,
    MemoryReservation: memoryReservation ? memoryReservation * MiB : undefined,
    Privileged: def.privileged || undefined,
    ReadonlyRootfs: def.readonlyRootFilesystem || undefined,
    Dns: def.dnsServers,
    ExtraHosts: def.extraHosts?.map((h) => `${h.hostname}:${h.ipAddress}`),
    Ulimits: def.ulimits?.map((u) => ({ Name: u.name, Soft: u.softLimit, Hard: u.hardLimit })),
    Binds: hostBinds(def, input.volumes),
  };
  if (def.logConfiguration && LOCAL_LOG_DRIVERS.has(def.logConfiguration.logDriver)) {
    hostConfig.LogConfig = {
      Type: def.logConfiguration.logDriver,
      Config: def.logConfiguration.options ?? {},
    };
  }

  const createOptions: Docker.ContainerCreateOptions = {
    name: containerDockerName(input.family, input.revision, name, input.taskId),
    Image: def.image,
    Cmd: command,
    Entrypoint: def.entryPoint,
    Env: mergeEnvironment(def.environment, override?.environment),
    WorkingDir: def.workingDirectory,
    User: def.user,
    Hostname: input.networkMode === 'bridge' ? def.hostname : undefined,
    NetworkDisabled: def.disableNetworking || undefined,
    ExposedPorts: exposedPorts,
    StopTimeout: stopTimeoutS,
    Labels: buildLabels({
      taskArn: input.taskArn,
      containerName: name,
      clusterName: input.clusterName,
      containerInstanceArn: input.containerInstanceArn,
      family: input.family,
      revision: input.revision,
      essential,
      stopTimeoutS,
      dockerLabels: def.dockerLabels,
    }),
    HostConfig: stripUndefined(hostConfig),
  };
  if (def.healthCheck?.command?.length) {
    const hc = def.healthCheck;
    createOptions.Healthcheck = {
      Test: hc.command,
      Interval: (hc.interval ?? 30) * SECOND_NS,
      Timeout: (hc.timeout ?? 5) * SECOND_NS,
      Retries: hc.retries ?? 3,
      StartPeriod: (hc.startPeriod ?? 0) * SECOND_NS,
    };
  }
  return {
    name,
    image: def.image,
    essential,
    dockerName: createOptions.name as string,
    stopTimeoutS,
    portMappings,
    hasHealthCheck: Boolean(createOptions.Healthcheck),
    createOptions: stripUndefined(createOptions),
  };
}

const LOCAL_LOG_DRIVERS = new Set([
  'json-file',
  'local',
  'none',
  'syslog',
  'journald',
  'gelf',
  'fluentd',
]);

function hostBinds(
  def: ContainerDefinition,
  volumes: TaskDefinitionInput['volumes'],
): string[] | undefined {
  const binds: string[] = [];
  for (const mp of def.mountPoints ?? []) {
    const vol = volumes?.find((v) => v.name === mp.sourceVolume);
    const source = vol?.host?.sourcePath;
    if (!source || !mp.containerPath) continue;
    binds.push(`${source}:${mp.containerPath}${mp.readOnly ? ':ro' : ''}`);
  }
  return binds.length ? binds : undefined;
}

function stripUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/** The whole task: parses the definition and overrides and plans every container. */
export function planTask(input: PlanInput): TaskPlan {
  const definition = parseJson<TaskDefinitionInput & { revision?: number }>(
    input.definitionJson,
    'task definition',
  );
  if (!definition || !Array.isArray(definition.containerDefinitions)) {
    throw new InvalidParameterError('task definition has no containerDefinitions');
  }
  if (!definition.containerDefinitions.length) {
    throw new InvalidParameterError('task definition has no containers');
  }
  const overrides = parseJson<TaskOverrides>(input.overridesJson, 'task overrides') ?? {};
  const family = input.family || definition.family;
  const revision = input.revision || definition.revision || 0;
  if (!family) throw new InvalidParameterError('task definition has no family');
  const networkMode = networkModeOf(definition.networkMode);
  const taskId = taskIdOf(input.taskArn);
  const base: ContainerConfigInput = {
    taskArn: input.taskArn,
    taskId,
    family,
    revision,
    clusterName: input.clusterName,
    containerInstanceArn: input.containerInstanceArn,
    networkMode,
    defaultStopTimeoutS: input.defaultStopTimeoutS,
    volumes: definition.volumes,
  };
  const containers = startOrder(definition.containerDefinitions).map((def) =>
    buildContainerPlan(
      def,
      overrides.containerOverrides?.find((o) => o.name === def.name),
      base,
    ),
  );
  return { taskArn: input.taskArn, taskId, family, revision, networkMode, containers };
}
