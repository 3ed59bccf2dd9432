import { FAMILY_PATTERN } from './arn';
import { ClientError, InvalidParameterError } from './errors';
import { ContainerOverride, parseCpu, parseMemory } from './resources';
import type {
  ContainerDefinition,
  NetworkMode,
  PortMapping,
  TaskDefinitionInput,
} from './task-definition.types';

/**
 * Checks a RegisterTaskDefinition request the way ECS does and returns it normalised
 * (essential defaults to true, port protocol to tcp, undefined members dropped). Every
 * message names the offending member. Unknown members are kept as given.
 */

export const NETWORK_MODES: readonly NetworkMode[] = ['bridge', 'host', 'awsvpc', 'none'];
export const DEPENDENCY_CONDITIONS = ['START', 'COMPLETE', 'SUCCESS', 'HEALTHY'] as const;
export const COMPATIBILITIES = ['EC2', 'FARGATE', 'EXTERNAL', 'MANAGED_INSTANCES'] as const;
const CONTAINER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function fail(message: string): never {
  throw new InvalidParameterError(message);
}

function expectObject(v: unknown, field: string): Json {
  if (!isObject(v)) fail(`${field} must be an object, not ${typeName(v)}`);
  return v;
}

function optString(o: Json, key: string, field: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(`${field}.${key} must be a string, not ${typeName(v)}`);
  return v;
}

function optBoolean(o: Json, key: string, field: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') fail(`${field}.${key} must be a boolean, not ${typeName(v)}`);
  return v;
}

function optInteger(
  o: Json,
  key: string,
  field: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  what = min > 0 ? 'a positive integer' : 'a non-negative integer',
): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(`${field}.${key} must be ${what}`);
  }
  return v;
}

function optArray(o: Json, key: string, field: string): unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(`${field}.${key} must be a list, not ${typeName(v)}`);
  return v;
}

function optStringList(o: Json, key: string, field: string): string[] | undefined {
  const list = optArray(o, key, field);
  list?.forEach((item, i) => {
    if (typeof item !== 'string') fail(`${field}.${key}[${i}] must be a string`);
  });
  return list as string[] | undefined;
}

function optStringMap(o: Json, key: string, field: string): Record<string, string> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const map = expectObject(v, `${field}.${key}`);
  for (const [k, value] of Object.entries(map)) {
    if (typeof value !== 'string') fail(`${field}.${key}.${k} must be a string`);
  }
  return map as Record<string, string>;
}

function keyValueList(o: Json, key: string, field: string) {
  const list = optArray(o, key, field);
  return list?.map((item, i) => {
    const f = `${field}.${key}[${i}]`;
    const kv = expectObject(item, f);
    return { name: optString(kv, 'name', f), value: optString(kv, 'value', f) };
  });
}

/** Drops members whose value is undefined (recursively), so stored JSON has no holes. */
export function stripUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(stripUndefined) as T;
  if (isObject(value)) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = stripUndefined(v);
    return out as T;
  }
  return value;
}

function validatePortMappings(
  c: Json,
  field: string,
  networkMode: NetworkMode,
): PortMapping[] | undefined {
  const list = optArray(c, 'portMappings', field);
  return list?.map((item, j) => {
    const f = `${field}.portMappings[${j}]`;
    const pm = expectObject(item, f);
    const containerPortRange = optString(pm, 'containerPortRange', f);
    const containerPort = optInteger(
      pm,
      'containerPort',
      f,
      1,
      65535,
      'an integer from 1 to 65535',
    );
    if (containerPort === undefined && containerPortRange === undefined) {
      fail(`${f}.containerPort is required`);
    }
    const hostPort = optInteger(pm, 'hostPort', f, 0, 65535, 'an integer from 0 to 65535');
    const protocol = optString(pm, 'protocol', f) ?? 'tcp';
    if (protocol !== 'tcp' && protocol !== 'udp') fail(`${f}.protocol must be one of tcp, udp`);
    if (
      (networkMode === 'host' || networkMode === 'awsvpc') &&
      hostPort !== undefined &&
      containerPort !== undefined &&
      hostPort !== containerPort
    ) {
      fail(
        `${f}: when networkMode=${networkMode}, the hostPort and containerPort in port mappings must match`,
      );
    }
    return {
      ...pm,
      containerPort,
      hostPort,
      protocol,
      name: optString(pm, 'name', f),
      containerPortRange,
    } as PortMapping;
  });
}

function validateContainer(
  item: unknown,
  i: number,
  networkMode: NetworkMode,
  hasTaskMemory: boolean,
): ContainerDefinition {
  const field = `containerDefinitions[${i}]`;
  const c = expectObject(item, field);
  const name = optString(c, 'name', field);
  if (!name) throw new ClientError('Container.name should not be null or empty.');
  if (!CONTAINER_NAME_PATTERN.test(name)) {
    fail(`${field}.name must be 1-255 letters, numbers, hyphens and underscores`);
  }
  const image = optString(c, 'image', field);
  if (!image || !image.trim())
    throw new ClientError('Container.image should not be null or empty.');

  const cpu = optInteger(c, 'cpu', field, 0);
  const memory = optInteger(c, 'memory', field, 1);
  const memoryReservation = optInteger(c, 'memoryReservation', field, 1);
  if (memory === undefined && memoryReservation === undefined && !hasTaskMemory) {
    throw new ClientError(
      `Invalid setting for container '${name}'. At least one of 'memory' or 'memoryReservation' must be specified.`,
    );
  }
  if (memory !== undefined && memoryReservation !== undefined && memoryReservation > memory) {
    fail(
      `${field}.memoryReservation (${memoryReservation}) must not be greater than memory (${memory})`,
    );
  }

  const healthCheckRaw = c.healthCheck;
  let healthCheck: ContainerDefinition['healthCheck'];
  if (healthCheckRaw !== undefined && healthCheckRaw !== null) {
    const f = `${field}.healthCheck`;
    const hc = expectObject(healthCheckRaw, f);
    const command = optStringList(hc, 'command', f);
    if (!command || command.length === 0) fail(`${f}.command is required`);
    healthCheck = {
      ...hc,
      command,
      interval: optInteger(hc, 'interval', f, 5, 300, 'an integer from 5 to 300'),
      timeout: optInteger(hc, 'timeout', f, 2, 120, 'an integer from 2 to 120'),
      retries: optInteger(hc, 'retries', f, 1, 10, 'an integer from 1 to 10'),
      startPeriod: optInteger(hc, 'startPeriod', f, 0, 300, 'an integer from 0 to 300'),
    };
  }

  const logRaw = c.logConfiguration;
  let logConfiguration: ContainerDefinition['logConfiguration'];
  if (logRaw !== undefined && logRaw !== null) {
    const f = `${field}.logConfiguration`;
    const lc = expectObject(logRaw, f);
    const logDriver = optString(lc, 'logDriver', f);
    if (!logDriver) fail(`${f}.logDriver is required`);
    logConfiguration = { ...lc, logDriver, options: optStringMap(lc, 'options', f) };
  }

  const mountPoints = optArray(c, 'mountPoints', field)?.map((m, j) => {
    const f = `${field}.mountPoints[${j}]`;
    const mp = expectObject(m, f);
    return {
      ...mp,
      sourceVolume: optString(mp, 'sourceVolume', f),
      containerPath: optString(mp, 'containerPath', f),
      readOnly: optBoolean(mp, 'readOnly', f),
    };
  });

  const dependsOn = optArray(c, 'dependsOn', field)?.map((d, j) => {
    const f = `${field}.dependsOn[${j}]`;
    const dep = expectObject(d, f);
    const containerName = optString(dep, 'containerName', f);
    if (!containerName) fail(`${f}.containerName is required`);
    const condition = optString(dep, 'condition', f);
    if (!condition || !(DEPENDENCY_CONDITIONS as readonly string[]).includes(condition)) {
      fail(`${f}.condition must be one of ${DEPENDENCY_CONDITIONS.join(', ')}`);
    }
    return { containerName, condition } as NonNullable<ContainerDefinition['dependsOn']>[number];
  });

  return {
    ...c,
    name,
    image,
    cpu,
    memory,
    memoryReservation,
    essential: optBoolean(c, 'essential', field) ?? true,
    portMappings: validatePortMappings(c, field, networkMode),
    entryPoint: optStringList(c, 'entryPoint', field),
    command: optStringList(c, 'command', field),
    links: optStringList(c, 'links', field),
    dnsServers: optStringList(c, 'dnsServers', field),
    environment: keyValueList(c, 'environment', field),
    mountPoints,
    dependsOn,
    healthCheck,
    logConfiguration,
    dockerLabels: optStringMap(c, 'dockerLabels', field),
    startTimeout: optInteger(c, 'startTimeout', field, 0),
    stopTimeout: optInteger(c, 'stopTimeout', field, 0),
    hostname: optString(c, 'hostname', field),
    user: optString(c, 'user', field),
    workingDirectory: optString(c, 'workingDirectory', field),
    disableNetworking: optBoolean(c, 'disableNetworking', field),
    privileged: optBoolean(c, 'privileged', field),
    readonlyRootFilesystem: optBoolean(c, 'readonlyRootFilesystem', field),
  };
}

export function validateTaskDefinition(input: unknown): TaskDefinitionInput {
  if (!isObject(input)) fail('The task definition must be an object');
  const td = input;

  const family = td.family;
  if (typeof family !== 'string' || !FAMILY_PATTERN.test(family)) {
    fail('family must be 1-255 letters, numbers, hyphens and underscores');
  }

  const networkModeRaw = optString(td, 'networkMode', 'taskDefinition');
  if (networkModeRaw !== undefined && !(NETWORK_MODES as string[]).includes(networkModeRaw)) {
    fail(`networkMode must be one of ${NETWORK_MODES.join(', ')}`);
  }
  const networkMode = networkModeRaw as NetworkMode | undefined;
  // ECS leaves an unset networkMode unset; on Linux it behaves as bridge.
  const effectiveMode: NetworkMode = networkMode ?? 'bridge';

  const cpu = optString(td, 'cpu', 'taskDefinition');
  if (cpu !== undefined && !(parseCpu(cpu) > 0)) {
    fail(`cpu must be CPU units ("256") or vCPUs ("0.25 vCPU"), not "${cpu}"`);
  }
  const memory = optString(td, 'memory', 'taskDefinition');
  if (memory !== undefined && !(parseMemory(memory) > 0)) {
    fail(`memory must be MiB ("512") or GB ("0.5 GB"), not "${memory}"`);
  }

  const containersRaw = td.containerDefinitions;
  if (!Array.isArray(containersRaw) || containersRaw.length === 0) {
    throw new ClientError('containerDefinitions must contain at least one container definition.');
  }
  const containerDefinitions = containersRaw.map((c, i) =>
    validateContainer(c, i, effectiveMode, memory !== undefined),
  );

  const names = new Set<string>();
  for (const c of containerDefinitions) {
    if (names.has(c.name!)) fail(`Duplicate container name: ${c.name}`);
    names.add(c.name!);
  }
  if (!containerDefinitions.some((c) => c.essential)) {
    fail('At least one essential container is required');
  }

  const hostPorts = new Set<string>();
  containerDefinitions.forEach((c, i) => {
    for (const pm of c.portMappings ?? []) {
      const hostPort = effectiveMode === 'bridge' ? pm.hostPort : (pm.hostPort ?? pm.containerPort);
      if (!hostPort) continue;
      const key = `${hostPort}/${pm.protocol}`;
      if (hostPorts.has(key)) {
        fail(`containerDefinitions[${i}].portMappings: duplicate host port ${key}`);
      }
      hostPorts.add(key);
    }
    c.dependsOn?.forEach((d, j) => {
      if (!names.has(d.containerName) || d.containerName === c.name) {
        fail(
          `containerDefinitions[${i}].dependsOn[${j}].containerName refers to an unknown container: ${d.containerName}`,
        );
      }
    });
  });

  const volumes = optArray(td, 'volumes', 'taskDefinition')?.map((v, i) => {
    const f = `volumes[${i}]`;
    const vol = expectObject(v, f);
    const name = optString(vol, 'name', f);
    if (!name) fail(`${f}.name is required`);
    const host =
      vol.host === undefined || vol.host === null ? undefined : expectObject(vol.host, `${f}.host`);
    return {
      ...vol,
      name,
      host: host && { ...host, sourcePath: optString(host, 'sourcePath', `${f}.host`) },
    };
  });
  const volumeNames = new Set((volumes ?? []).map((v) => v.name));
  containerDefinitions.forEach((c, i) =>
    c.mountPoints?.forEach((mp, j) => {
      if (mp.sourceVolume !== undefined && !volumeNames.has(mp.sourceVolume)) {
        fail(
          `containerDefinitions[${i}].mountPoints[${j}].sourceVolume ${mp.sourceVolume} is not a volume of the task definition`,
        );
      }
    }),
  );

  const requiresCompatibilities = optStringList(td, 'requiresCompatibilities', 'taskDefinition');
  requiresCompatibilities?.forEach((x, i) => {
    if (!(COMPATIBILITIES as readonly string[]).includes(x)) {
      fail(`requiresCompatibilities[${i}] must be one of ${COMPATIBILITIES.join(', ')}`);
    }
  });

  const placementConstraints = optArray(td, 'placementConstraints', 'taskDefinition')?.map(
    (p, i) => {
      const f = `placementConstraints[${i}]`;
      const pc = expectObject(p, f);
      const type = optString(pc, 'type', f);
      if (type !== 'memberOf') fail(`${f}.type must be memberOf`);
      const expression = optString(pc, 'expression', f);
      if (expression !== undefined && expression.length > 2000) {
        fail(`${f}.expression must be at most 2000 characters`);
      }
      return { type, expression } as const;
    },
  );

  const tags = optArray(td, 'tags', 'taskDefinition')?.map((t, i) => {
    const f = `tags[${i}]`;
    const tag = expectObject(t, f);
    const key = optString(tag, 'key', f);
    if (!key) fail(`${f}.key is required`);
    return { key, value: optString(tag, 'value', f) };
  });

  return stripUndefined({
    ...td,
    family,
    containerDefinitions,
    networkMode,
    cpu,
    memory,
    taskRoleArn: optString(td, 'taskRoleArn', 'taskDefinition'),
    executionRoleArn: optString(td, 'executionRoleArn', 'taskDefinition'),
    volumes,
    placementConstraints,
    requiresCompatibilities,
    tags,
    pidMode: optString(td, 'pidMode', 'taskDefinition'),
    ipcMode: optString(td, 'ipcMode', 'taskDefinition'),
  }) as TaskDefinitionInput;
}

/** ECS TaskOverride as RunTask takes it (the members Wharf acts on). */
export interface TaskOverride {
  containerOverrides?: (ContainerOverride & { [other: string]: unknown })[];
  cpu?: string;
  memory?: string;
  taskRoleArn?: string;
  executionRoleArn?: string;
  [other: string]: unknown;
}

/**
 * Checks RunTask `overrides`. With `containerNames`, each container override must name a
 * container of the task definition.
 */
export function validateTaskOverride(input: unknown, containerNames?: string[]): TaskOverride {
  if (input === undefined || input === null) return {};
  const o = expectObject(input, 'overrides');
  const containerOverrides = optArray(o, 'containerOverrides', 'overrides')?.map((item, i) => {
    const f = `overrides.containerOverrides[${i}]`;
    const co = expectObject(item, f);
    const name = optString(co, 'name', f);
    if (!name) fail(`${f}.name is required`);
    if (containerNames && !containerNames.includes(name)) {
      fail(`Override for container named ${name} is not a container in the TaskDefinition.`);
    }
    const memory = optInteger(co, 'memory', f, 1);
    const memoryReservation = optInteger(co, 'memoryReservation', f, 1);
    if (memory !== undefined && memoryReservation !== undefined && memoryReservation > memory) {
      fail(`${f}.memoryReservation must not be greater than memory`);
    }
    return {
      ...co,
      name,
      command: optStringList(co, 'command', f),
      environment: keyValueList(co, 'environment', f),
      cpu: optInteger(co, 'cpu', f, 0),
      memory,
      memoryReservation,
    };
  });
  const cpu = optString(o, 'cpu', 'overrides');
  if (cpu !== undefined && !(parseCpu(cpu) > 0))
    fail(`overrides.cpu is not a valid cpu value: "${cpu}"`);
  const memory = optString(o, 'memory', 'overrides');
  if (memory !== undefined && !(parseMemory(memory) > 0)) {
    fail(`overrides.memory is not a valid memory value: "${memory}"`);
  }
  return stripUndefined({
    ...o,
    containerOverrides,
    cpu,
    memory,
    taskRoleArn: optString(o, 'taskRoleArn', 'overrides'),
    executionRoleArn: optString(o, 'executionRoleArn', 'overrides'),
  });
}
