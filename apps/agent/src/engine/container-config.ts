import type Docker from 'dockerode';
import {
  ContainerDefinition,
  InvalidParameterError,
  KeyValuePair,
  parseCpu,
  parseMemory,
  TaskDefinitionInput,
} from '@wharf/domain';
import { buildLabels, containerDockerName, LABELS, sanitizeName, taskIdOf } from './labels';

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
export type DependencyCondition = 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY';

/**
 * A definition the agent cannot honour as written. The task is accepted and reported STOPPED
 * (TaskFailedToStart) with this message, which names the field.
 */
export class UnsupportedFieldError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`UnsupportedFieldError: ${field} ${detail}`);
  }
}

export interface PlannedDependency {
  containerName: string;
  condition: DependencyCondition;
}

/** ECS `restartPolicy`, carried out by the agent (not Docker) so every exit is seen. */
export interface PlannedRestartPolicy {
  ignoredExitCodes: number[];
  /** A container must have run this long before it is restarted again. */
  restartAttemptPeriodS: number;
}

/** A Docker volume the task needs before its containers are created. */
export interface PlannedVolume {
  /** The Docker volume name. */
  dockerName: string;
  scope: 'task' | 'shared';
  /** shared only: create the volume when it does not exist (else a missing one fails the task). */
  autoprovision: boolean;
  driver: string;
  driverOpts: Record<string, string>;
  labels: Record<string, string>;
}
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
  dependsOn: PlannedDependency[];
  /** How long to wait for the dependencies' conditions (ECS `startTimeout`). */
  startTimeoutS: number;
  restartPolicy?: PlannedRestartPolicy;
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
  volumes: PlannedVolume[];
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
  /** AGENT_ALLOW_PRIVILEGED: otherwise `privileged: true` fails the task. */
  allowPrivileged?: boolean;
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

export function networkModeOf(mode: unknown): AgentNetworkMode {
  if (mode === undefined || mode === null || mode === '' || mode === 'bridge') return 'bridge';
  if (mode === 'host' || mode === 'none') return mode;
  if (mode === 'awsvpc') {
    throw new UnsupportedFieldError(
      'networkMode',
      'awsvpc is not supported: this agent has no ENIs to attach; use bridge, host or none',
    );
  }
  throw new UnsupportedFieldError('networkMode', `${JSON.stringify(mode)} is not supported`);
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

const PORT_MAPPING_FIELDS = new Set([
  'containerPort',
  'hostPort',
  'protocol',
  'name',
  'appProtocol',
  'containerPortRange',
]);

export function planPortMappings(
  def: ContainerDefinition,
  mode: AgentNetworkMode,
  field = 'portMappings',
): PlannedPortMapping[] {
  if (mode === 'none') return [];
  return (def.portMappings ?? []).map((pm, i) => {
    // name and appProtocol only label the port (for Service Connect); they change nothing here.
    refuseUnknown(pm, PORT_MAPPING_FIELDS, `${field}[${i}].`);
    if (pm.containerPortRange) {
      throw new UnsupportedFieldError(`${field}[${i}].containerPortRange`, 'is not supported');
    }
    if (typeof pm.containerPort !== 'number' || pm.containerPort <= 0) {
      throw new UnsupportedFieldError(`${field}[${i}].containerPort`, 'must be a port number');
    }
    if (pm.protocol !== undefined && pm.protocol !== 'tcp' && pm.protocol !== 'udp') {
      throw new UnsupportedFieldError(`${field}[${i}].protocol`, 'must be tcp or udp');
    }
    const containerPort = pm.containerPort;
    const protocol: Protocol = pm.protocol === 'udp' ? 'udp' : 'tcp';
    if (mode === 'host' && pm.hostPort && pm.hostPort !== containerPort) {
      throw new UnsupportedFieldError(
        `${field}[${i}].hostPort`,
        'must equal containerPort (or be omitted) in host network mode',
      );
    }
    // In host mode the container binds the host's port itself: hostPort = containerPort.
    const hostPort = mode === 'host' ? containerPort : (pm.hostPort ?? 0);
    return { containerPort, hostPort, protocol };
  });
}

/**
 * Dependencies (dependsOn), volumesFrom sources and link targets first; definition order otherwise;
 * cycles keep definition order.
 */
export function startOrder(defs: ContainerDefinition[]): ContainerDefinition[] {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const done = new Set<string | undefined>();
  const visiting = new Set<string | undefined>();
  const out: ContainerDefinition[] = [];
  const visit = (d: ContainerDefinition) => {
    if (done.has(d.name) || visiting.has(d.name)) return;
    visiting.add(d.name);
    const before = [
      ...(d.dependsOn ?? []).map((x) => x.containerName),
      ...(d.volumesFrom ?? []).map((x) => x.sourceContainer),
      ...(d.links ?? []).map((x) => String(x).split(':')[0]),
    ];
    for (const name of before) {
      const target = byName.get(name);
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
  /** Docker volume names by task volume name (see planVolumes). */
  dockerVolumes?: Map<string, string>;
  /** Docker names of the task's containers by container name (for volumesFrom and links). */
  dockerNames?: Map<string, string>;
  /** Task-level cpu units / memory MiB, applied to containers that set none of their own. */
  taskCpu?: number;
  taskMemory?: number;
  allowPrivileged?: boolean;
  containerCount?: number;
}

/**
 * Every container definition member this agent knows. Each is either carried out or, when set
 * to something it cannot do, refused with an UnsupportedFieldError; a member not listed here
 * fails the task by name.
 */
export const KNOWN_CONTAINER_FIELDS = new Set([
  'name',
  'image',
  'cpu',
  'memory',
  'memoryReservation',
  'links',
  'portMappings',
  'essential',
  'entryPoint',
  'command',
  'environment',
  'mountPoints',
  'volumesFrom',
  'dependsOn',
  'startTimeout',
  'stopTimeout',
  'hostname',
  'user',
  'workingDirectory',
  'disableNetworking',
  'privileged',
  'readonlyRootFilesystem',
  'dnsServers',
  'extraHosts',
  'dockerLabels',
  'ulimits',
  'logConfiguration',
  'healthCheck',
  'restartPolicy',
  'interactive',
  'pseudoTerminal',
]);

/** Task definition members the agent honours, or that only matter to the control plane. */
export const KNOWN_TASK_FIELDS = new Set([
  'family',
  'revision',
  'taskDefinitionArn',
  'status',
  'compatibilities',
  'requiresCompatibilities',
  'requiresAttributes',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
  'tags',
  'placementConstraints',
  'containerDefinitions',
  'networkMode',
  'volumes',
  'cpu',
  'memory',
  'pidMode',
  'ipcMode',
  'runtimePlatform',
]);

const HOST_ARCHITECTURE = process.arch === 'arm64' ? 'ARM64' : 'X86_64';

/** `runtimePlatform` is honoured by checking it describes this host (Linux, its CPU). */
function checkRuntimePlatform(value: unknown): void {
  if (!isSet(value)) return;
  const rp = value as { operatingSystemFamily?: string; cpuArchitecture?: string };
  refuseUnknown(rp, new Set(['operatingSystemFamily', 'cpuArchitecture']), 'runtimePlatform.');
  if (rp.operatingSystemFamily && rp.operatingSystemFamily !== 'LINUX') {
    throw new UnsupportedFieldError(
      'runtimePlatform.operatingSystemFamily',
      `${JSON.stringify(rp.operatingSystemFamily)} is not this host's (LINUX)`,
    );
  }
  if (rp.cpuArchitecture && rp.cpuArchitecture !== HOST_ARCHITECTURE) {
    throw new UnsupportedFieldError(
      'runtimePlatform.cpuArchitecture',
      `${JSON.stringify(rp.cpuArchitecture)} is not this host's (${HOST_ARCHITECTURE})`,
    );
  }
}

/** Unset means absent, null, an empty list or an empty object: nothing to honour. */
function isSet(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

function refuseUnknown(obj: object, known: Set<string>, prefix: string): void {
  for (const [key, value] of Object.entries(obj)) {
    if (!known.has(key) && isSet(value)) {
      throw new UnsupportedFieldError(`${prefix}${key}`, 'is not supported by this agent');
    }
  }
}

const LOG_DRIVERS = new Set(['json-file', 'local', 'none']);
const HEALTH_FORMS = new Set(['CMD', 'CMD-SHELL', 'NONE']);
const DEPENDENCY_CONDITIONS = new Set(['START', 'COMPLETE', 'SUCCESS', 'HEALTHY']);
/** ECS_CONTAINER_START_TIMEOUT's default on Linux. */
const DEFAULT_START_TIMEOUT_S = 180;
/** ECS's default restartAttemptPeriod. */
const DEFAULT_RESTART_ATTEMPT_PERIOD_S = 300;

/** Builds one container's Docker create options from its definition and override. */
export function buildContainerPlan(
  def: ContainerDefinition,
  override: ContainerOverride | undefined,
  input: ContainerConfigInput,
): ContainerPlan {
  if (!def.name) throw new InvalidParameterError('a container definition has no name');
  if (!def.image) throw new InvalidParameterError(`container ${def.name} has no image`);
  const name = def.name;
  const field = `containerDefinitions[${name}].`;
  refuseUnknown(def, KNOWN_CONTAINER_FIELDS, field);
  if (def.privileged && !input.allowPrivileged) {
    throw new UnsupportedFieldError(
      `${field}privileged`,
      'is refused: this agent does not allow privileged containers (AGENT_ALLOW_PRIVILEGED)',
    );
  }
  if (def.hostname && input.networkMode !== 'bridge') {
    throw new UnsupportedFieldError(
      `${field}hostname`,
      `cannot be set in ${input.networkMode} network mode`,
    );
  }
  if (isSet(def.links) && input.networkMode !== 'bridge') {
    throw new UnsupportedFieldError(`${field}links`, 'are only supported in bridge mode');
  }
  const essential = def.essential !== false;
  const stopTimeoutS = def.stopTimeout ?? input.defaultStopTimeoutS;
  const cpu = override?.cpu ?? def.cpu;
  const memory = override?.memory ?? def.memory;
  const memoryReservation = override?.memoryReservation ?? def.memoryReservation;
  const command = override?.command ?? def.command;
  const portMappings = planPortMappings(def, input.networkMode, `${field}portMappings`);

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

  // Task-level limits bound every container that sets none of its own.
  const memoryLimit = memory ?? (memoryReservation ? undefined : input.taskMemory);
  const nanoCpus = cpu === undefined && input.taskCpu ? (input.taskCpu / 1024) * 1e9 : undefined;

  const hostConfig: Docker.HostConfig = {
    NetworkMode: input.networkMode,
    PortBindings: portBindings,
    CpuShares: cpuShares(cpu),
    NanoCpus: nanoCpus ? Math.round(nanoCpus) : undefined,
    Memory: memoryLimit ? memoryLimit * MiB : undefined,
    MemoryReservation: memoryReservation ? memoryReservation * MiB : undefined,
    Privileged: def.privileged || undefined,
    ReadonlyRootfs: def.readonlyRootFilesystem || undefined,
    Dns: isSet(def.dnsServers) ? def.dnsServers : undefined,
    ExtraHosts: isSet(def.extraHosts)
      ? def.extraHosts!.map((h) => `${h.hostname}:${h.ipAddress}`)
      : undefined,
    Ulimits: isSet(def.ulimits)
      ? def.ulimits!.map((u) => ({ Name: u.name, Soft: u.softLimit, Hard: u.hardLimit }))
      : undefined,
    Binds: binds(def, input, field),
    VolumesFrom: volumesFrom(def, input, field),
    Links: links(def, input, field),
    LogConfig: logConfig(def, field),
  };

  const createOptions: Docker.ContainerCreateOptions = {
    name: input.dockerNames?.get(name) ?? dockerNameOf(input, name),
    Image: def.image,
    Cmd: command,
    Entrypoint: def.entryPoint,
    Env: mergeEnvironment(def.environment, override?.environment),
    WorkingDir: def.workingDirectory,
    User: def.user,
    Hostname: def.hostname,
    NetworkDisabled: def.disableNetworking || undefined,
    OpenStdin: (def.interactive as boolean | undefined) || undefined,
    Tty: (def.pseudoTerminal as boolean | undefined) || undefined,
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
      containerCount: input.containerCount,
      dockerLabels: def.dockerLabels,
    }),
    HostConfig: stripUndefined(hostConfig),
  };
  const healthcheck = healthcheckOf(def, field);
  if (healthcheck) createOptions.Healthcheck = healthcheck;
  const restartPolicy = restartPolicyOf(def, field);
  if (restartPolicy) createOptions.Labels![LABELS.restartPolicy] = JSON.stringify(restartPolicy);
  return {
    name,
    image: def.image,
    essential,
    dockerName: createOptions.name as string,
    stopTimeoutS,
    portMappings,
    hasHealthCheck: Boolean(healthcheck && healthcheck.Test?.[0] !== 'NONE'),
    dependsOn: dependenciesOf(def, field),
    startTimeoutS: def.startTimeout ?? DEFAULT_START_TIMEOUT_S,
    restartPolicy,
    createOptions: stripUndefined(createOptions),
  };
}

function dockerNameOf(input: ContainerConfigInput, containerName: string): string {
  return containerDockerName(input.family, input.revision, containerName, input.taskId);
}

/** ECS defaults: interval 30 s, timeout 5 s, retries 3, startPeriod 0. */
function healthcheckOf(
  def: ContainerDefinition,
  field: string,
): Docker.ContainerCreateOptions['Healthcheck'] {
  const hc = def.healthCheck;
  if (!isSet(hc)) return undefined;
  refuseUnknown(
    hc!,
    new Set(['command', 'interval', 'timeout', 'retries', 'startPeriod']),
    `${field}healthCheck.`,
  );
  const command = hc!.command;
  if (!Array.isArray(command) || !command.length || !HEALTH_FORMS.has(command[0])) {
    throw new UnsupportedFieldError(
      `${field}healthCheck.command`,
      'must start with CMD, CMD-SHELL or NONE',
    );
  }
  return {
    Test: command,
    Interval: (hc!.interval ?? 30) * SECOND_NS,
    Timeout: (hc!.timeout ?? 5) * SECOND_NS,
    Retries: hc!.retries ?? 3,
    StartPeriod: (hc!.startPeriod ?? 0) * SECOND_NS,
  };
}

function dependenciesOf(def: ContainerDefinition, field: string): PlannedDependency[] {
  return (def.dependsOn ?? []).map((d, i) => {
    if (!DEPENDENCY_CONDITIONS.has(d?.condition)) {
      throw new UnsupportedFieldError(
        `${field}dependsOn[${i}].condition`,
        'must be START, COMPLETE, SUCCESS or HEALTHY',
      );
    }
    return { containerName: d.containerName, condition: d.condition };
  });
}

function restartPolicyOf(
  def: ContainerDefinition,
  field: string,
): PlannedRestartPolicy | undefined {
  const rp = def.restartPolicy as
    { enabled?: boolean; ignoredExitCodes?: number[]; restartAttemptPeriod?: number } | undefined;
  if (!isSet(rp)) return undefined;
  for (const key of Object.keys(rp!)) {
    if (!['enabled', 'ignoredExitCodes', 'restartAttemptPeriod'].includes(key)) {
      throw new UnsupportedFieldError(`${field}restartPolicy.${key}`, 'is not supported');
    }
  }
  if (!rp!.enabled) return undefined;
  return {
    ignoredExitCodes: rp!.ignoredExitCodes ?? [],
    restartAttemptPeriodS: rp!.restartAttemptPeriod ?? DEFAULT_RESTART_ATTEMPT_PERIOD_S,
  };
}

/** json-file, local and none keep logs on the host (readable by `docker logs`); others are refused. */
function logConfig(def: ContainerDefinition, field: string): Docker.HostConfig['LogConfig'] {
  const lc = def.logConfiguration;
  if (!isSet(lc)) return undefined;
  if (!LOG_DRIVERS.has(lc!.logDriver)) {
    throw new UnsupportedFieldError(
      `${field}logConfiguration.logDriver`,
      `${JSON.stringify(lc!.logDriver)} is not supported; use json-file, local or none`,
    );
  }
  if (isSet((lc as { secretOptions?: unknown }).secretOptions)) {
    throw new UnsupportedFieldError(`${field}logConfiguration.secretOptions`, 'is not supported');
  }
  return { Type: lc!.logDriver, Config: lc!.options ?? {} };
}

function binds(
  def: ContainerDefinition,
  input: ContainerConfigInput,
  field: string,
): string[] | undefined {
  const out: string[] = [];
  (def.mountPoints ?? []).forEach((mp, i) => {
    const where = `${field}mountPoints[${i}]`;
    if (!mp.containerPath) throw new UnsupportedFieldError(`${where}.containerPath`, 'is required');
    const vol = input.volumes?.find((v) => v.name === mp.sourceVolume);
    if (!vol) {
      throw new UnsupportedFieldError(
        `${where}.sourceVolume`,
        `names no volume of the task (${JSON.stringify(mp.sourceVolume)})`,
      );
    }
    const source = vol.host?.sourcePath || input.dockerVolumes?.get(vol.name ?? '');
    if (!source) throw new UnsupportedFieldError(`${where}.sourceVolume`, 'has no source');
    out.push(`${source}:${mp.containerPath}${mp.readOnly ? ':ro' : ''}`);
  });
  return out.length ? out : undefined;
}

function volumesFrom(
  def: ContainerDefinition,
  input: ContainerConfigInput,
  field: string,
): string[] | undefined {
  const out = (def.volumesFrom ?? []).map((vf, i) => {
    const source = vf.sourceContainer ? input.dockerNames?.get(vf.sourceContainer) : undefined;
    if (!source) {
      throw new UnsupportedFieldError(
        `${field}volumesFrom[${i}].sourceContainer`,
        `names no container of the task (${JSON.stringify(vf.sourceContainer)})`,
      );
    }
    return `${source}:${vf.readOnly ? 'ro' : 'rw'}`;
  });
  return out.length ? out : undefined;
}

/** ECS `links` (`name[:alias]`) between the task's containers, bridge mode only. */
function links(
  def: ContainerDefinition,
  input: ContainerConfigInput,
  field: string,
): string[] | undefined {
  const out = (def.links ?? []).map((link, i) => {
    const [target, alias] = String(link).split(':');
    const source = input.dockerNames?.get(target);
    if (!source) {
      throw new UnsupportedFieldError(
        `${field}links[${i}]`,
        `names no container of the task (${JSON.stringify(target)})`,
      );
    }
    return `${source}:${alias || target}`;
  });
  return out.length ? out : undefined;
}

function stripUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Task volumes → Docker volumes. A host volume binds `host.sourcePath`; a volume with
 * `dockerVolumeConfiguration` (or with neither, which ECS treats as an empty task-scoped
 * Docker volume) is a Docker volume: task scope is named after the task and removed with it,
 * shared scope keeps the volume's own name across tasks.
 */
export function planVolumes(
  volumes: TaskDefinitionInput['volumes'],
  taskArn: string,
  taskId: string,
): { planned: PlannedVolume[]; dockerNames: Map<string, string> } {
  const planned: PlannedVolume[] = [];
  const dockerNames = new Map<string, string>();
  (volumes ?? []).forEach((v, i) => {
    const where = `volumes[${v.name ?? i}]`;
    if (!v.name) throw new UnsupportedFieldError(`volumes[${i}].name`, 'is required');
    refuseUnknown(v, new Set(['name', 'host', 'dockerVolumeConfiguration']), `${where}.`);
    if (isSet(v.host?.sourcePath)) {
      if (isSet(v.dockerVolumeConfiguration)) {
        throw new UnsupportedFieldError(
          where,
          'cannot have both host and dockerVolumeConfiguration',
        );
      }
      return;
    }
    const cfg = (v.dockerVolumeConfiguration ?? {}) as {
      scope?: string;
      autoprovision?: boolean;
      driver?: string;
      driverOpts?: Record<string, string>;
      labels?: Record<string, string>;
      [other: string]: unknown;
    };
    refuseUnknown(
      cfg,
      new Set(['scope', 'autoprovision', 'driver', 'driverOpts', 'labels']),
      `${where}.dockerVolumeConfiguration.`,
    );
    const scope = cfg.scope ?? 'task';
    if (scope !== 'task' && scope !== 'shared') {
      throw new UnsupportedFieldError(
        `${where}.dockerVolumeConfiguration.scope`,
        'must be task or shared',
      );
    }
    const driver = cfg.driver ?? 'local';
    if (driver !== 'local') {
      throw new UnsupportedFieldError(
        `${where}.dockerVolumeConfiguration.driver`,
        `${JSON.stringify(driver)} is not supported; only local`,
      );
    }
    if (scope === 'task' && cfg.autoprovision !== undefined) {
      throw new UnsupportedFieldError(
        `${where}.dockerVolumeConfiguration.autoprovision`,
        'only applies to shared volumes',
      );
    }
    const dockerName =
      scope === 'task' ? sanitizeName(`wharf-${taskId}-${v.name}`) : sanitizeName(v.name);
    dockerNames.set(v.name, dockerName);
    planned.push({
      dockerName,
      scope,
      autoprovision: cfg.autoprovision ?? false,
      driver,
      driverOpts: cfg.driverOpts ?? {},
      labels: {
        ...(cfg.labels ?? {}),
        ...(scope === 'task' ? { [LABELS.taskArn]: taskArn } : {}),
      },
    });
  });
  return { planned, dockerNames };
}

function taskLimit(
  value: unknown,
  parse: (v: string) => number,
  field: string,
): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = parse(String(value));
  if (!Number.isFinite(n) || n <= 0) throw new UnsupportedFieldError(field, 'is not understood');
  return n;
}

/**
 * The whole task: parses the definition and overrides and plans every container. Malformed
 * input throws InvalidParameterError; a member the agent cannot honour, UnsupportedFieldError.
 */
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
  refuseUnknown(definition, KNOWN_TASK_FIELDS, '');
  refuseUnknown(overrides, new Set(['containerOverrides']), 'overrides.');
  for (const o of overrides.containerOverrides ?? []) {
    refuseUnknown(
      o,
      new Set(['name', 'command', 'environment', 'cpu', 'memory', 'memoryReservation']),
      `overrides.containerOverrides[${o.name ?? ''}].`,
    );
  }
  const networkMode = networkModeOf(definition.networkMode);
  checkRuntimePlatform(definition.runtimePlatform);
  const pidMode = definition.pidMode;
  if (isSet(pidMode) && pidMode !== 'host') {
    throw new UnsupportedFieldError(
      'pidMode',
      `${JSON.stringify(pidMode)} is not supported; only host`,
    );
  }
  const ipcMode = definition.ipcMode;
  if (isSet(ipcMode) && ipcMode !== 'host' && ipcMode !== 'none') {
    throw new UnsupportedFieldError(
      'ipcMode',
      `${JSON.stringify(ipcMode)} is not supported; only host or none`,
    );
  }
  const taskId = taskIdOf(input.taskArn);
  const { planned: volumes, dockerNames: dockerVolumes } = planVolumes(
    definition.volumes,
    input.taskArn,
    taskId,
  );
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
    dockerVolumes,
    taskCpu: taskLimit(definition.cpu, parseCpu, 'cpu'),
    taskMemory: taskLimit(definition.memory, parseMemory, 'memory'),
    allowPrivileged: input.allowPrivileged,
    containerCount: definition.containerDefinitions.length,
  };
  base.dockerNames = new Map(
    definition.containerDefinitions
      .filter((d) => d?.name)
      .map((d) => [d.name!, dockerNameOf(base, d.name!)]),
  );
  const names = new Set(base.dockerNames.keys());
  for (const def of definition.containerDefinitions) {
    for (const [i, dep] of (def.dependsOn ?? []).entries()) {
      if (!names.has(dep?.containerName)) {
        throw new UnsupportedFieldError(
          `containerDefinitions[${def.name}].dependsOn[${i}].containerName`,
          `names no container of the task (${JSON.stringify(dep?.containerName)})`,
        );
      }
    }
  }
  const containers = startOrder(definition.containerDefinitions).map((def) => {
    const plan = buildContainerPlan(
      def,
      overrides.containerOverrides?.find((o) => o.name === def.name),
      base,
    );
    if (pidMode) plan.createOptions.HostConfig!.PidMode = pidMode;
    if (ipcMode) plan.createOptions.HostConfig!.IpcMode = ipcMode;
    return plan;
  });
  return { taskArn: input.taskArn, taskId, family, revision, networkMode, containers, volumes };
}
