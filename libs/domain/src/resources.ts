import type { ContainerDefinition, TaskDefinitionInput } from './task-definition.types';

/** What a task claims on a container instance (ECS: CPU, MEMORY, PORTS, PORTS_UDP). */
export interface ResourceClaim {
  cpu: number;
  memory: number;
  ports: number[];
  portsUdp: number[];
}

/** What an instance has: registered totals or what remains. Ports are the ports taken. */
export interface InstanceResources {
  cpu: number;
  memory: number;
  ports: number[];
  portsUdp: number[];
}

/** The reserved TCP ports an ECS agent registers by default. */
export const DEFAULT_RESERVED_PORTS = [22, 2375, 2376, 51678, 51679];

export interface ContainerOverride {
  name?: string;
  command?: string[];
  environment?: { name?: string; value?: string }[];
  cpu?: number;
  memory?: number;
  memoryReservation?: number;
}

function containerWithOverride(
  def: ContainerDefinition,
  overrides: ContainerOverride[] | undefined,
): ContainerDefinition {
  const o = overrides?.find((x) => x.name === def.name);
  if (!o) return def;
  return {
    ...def,
    cpu: o.cpu ?? def.cpu,
    memory: o.memory ?? def.memory,
    memoryReservation: o.memoryReservation ?? def.memoryReservation,
  };
}

/**
 * The resources a task reserves: task-level cpu/memory when the definition sets them,
 * otherwise the sum over containers (memoryReservation when set, else memory); static
 * host ports per protocol. hostPort 0 or omitted is dynamic and reserves nothing up front.
 */
export function taskClaim(
  td: Pick<TaskDefinitionInput, 'containerDefinitions' | 'cpu' | 'memory' | 'networkMode'>,
  overrides?: ContainerOverride[],
): ResourceClaim {
  const containers = td.containerDefinitions.map((c) => containerWithOverride(c, overrides));
  const sumCpu = containers.reduce((n, c) => n + (c.cpu ?? 0), 0);
  const sumMem = containers.reduce((n, c) => n + (c.memoryReservation ?? c.memory ?? 0), 0);
  const cpu = td.cpu !== undefined && td.cpu !== '' ? parseCpu(td.cpu) : sumCpu;
  const memory = td.memory !== undefined && td.memory !== '' ? parseMemory(td.memory) : sumMem;
  const ports: number[] = [];
  const portsUdp: number[] = [];
  for (const c of containers) {
    for (const pm of c.portMappings ?? []) {
      // In host mode the container port is the host port.
      const hostPort = td.networkMode === 'host' ? (pm.hostPort ?? pm.containerPort) : pm.hostPort;
      if (!hostPort) continue;
      (pm.protocol === 'udp' ? portsUdp : ports).push(hostPort);
    }
  }
  return { cpu, memory, ports, portsUdp };
}

/** Task-level cpu: units ("1024") or vCPU ("1 vcpu", "0.5 vCPU"). */
export function parseCpu(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*$/i.exec(value);
  if (!m) return NaN;
  return m[2] ? Math.round(Number(m[1]) * 1024) : Number(m[1]);
}

/** Task-level memory: MiB ("512") or GB ("1 GB", "0.5gb"). */
export function parseMemory(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(gb)?\s*$/i.exec(value);
  if (!m) return NaN;
  return m[2] ? Math.round(Number(m[1]) * 1024) : Number(m[1]);
}

export type ShortfallReason =
  'RESOURCE:CPU' | 'RESOURCE:MEMORY' | 'RESOURCE:PORTS' | 'RESOURCE:PORTS_UDP';

/** Why a claim does not fit in what remains, or undefined when it fits. */
export function shortfall(
  remaining: InstanceResources,
  claim: ResourceClaim,
): ShortfallReason | undefined {
  if (claim.cpu > remaining.cpu) return 'RESOURCE:CPU';
  if (claim.memory > remaining.memory) return 'RESOURCE:MEMORY';
  if (hasDuplicate(claim.ports) || claim.ports.some((p) => remaining.ports.includes(p)))
    return 'RESOURCE:PORTS';
  if (hasDuplicate(claim.portsUdp) || claim.portsUdp.some((p) => remaining.portsUdp.includes(p)))
    return 'RESOURCE:PORTS_UDP';
  return undefined;
}

/** Remaining resources after a claim is taken. Callers check `shortfall` first. */
export function subtractClaim(
  remaining: InstanceResources,
  claim: ResourceClaim,
): InstanceResources {
  return {
    cpu: remaining.cpu - claim.cpu,
    memory: remaining.memory - claim.memory,
    ports: [...remaining.ports, ...claim.ports].sort((a, b) => a - b),
    portsUdp: [...remaining.portsUdp, ...claim.portsUdp].sort((a, b) => a - b),
  };
}

/** Remaining resources after a claim is released, never above what is registered. */
export function releaseClaim(
  remaining: InstanceResources,
  claim: ResourceClaim,
  registered: InstanceResources,
): InstanceResources {
  return {
    cpu: Math.min(registered.cpu, remaining.cpu + claim.cpu),
    memory: Math.min(registered.memory, remaining.memory + claim.memory),
    ports: removeOnce(remaining.ports, claim.ports, registered.ports),
    portsUdp: removeOnce(remaining.portsUdp, claim.portsUdp, registered.portsUdp),
  };
}

function removeOnce(from: number[], remove: number[], keep: number[]): number[] {
  const out = [...from];
  for (const p of remove) {
    if (keep.includes(p)) continue; // a reserved port stays taken
    const i = out.indexOf(p);
    if (i >= 0) out.splice(i, 1);
  }
  return out;
}

function hasDuplicate(xs: number[]): boolean {
  return new Set(xs).size !== xs.length;
}
