import type {
  ContainerUtilisation,
  TaskUtilisation,
  UtilisationFigures,
  UtilisationReport,
} from '@wharf/messaging';

/**
 * The parts of the Docker engine's stats (`GET /containers/{id}/stats?stream=false`) that
 * utilisation is computed from. Everything is optional: the shape differs between cgroup v1
 * and v2, and a container that just stopped answers with empty stats.
 */
export interface EngineStats {
  read?: string;
  cpu_stats?: EngineCpuStats;
  precpu_stats?: EngineCpuStats;
  memory_stats?: {
    usage?: number;
    limit?: number;
    stats?: Record<string, number | undefined>;
  };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: {
    io_service_bytes_recursive?: { op?: string; value?: number }[] | null;
  };
}

interface EngineCpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
  system_cpu_usage?: number;
  online_cpus?: number;
}

export const ZERO_FIGURES: UtilisationFigures = {
  cpuPercent: 0,
  memoryUsedBytes: 0,
  memoryLimitBytes: 0,
  networkRxBytes: 0,
  networkTxBytes: 0,
  blockReadBytes: 0,
  blockWriteBytes: 0,
};

/**
 * CPU % the way `docker stats` computes it: the container's share of the host's CPU time
 * between the two samples, times the number of online CPUs (100 = one CPU busy).
 */
export function cpuPercent(s: EngineStats): number {
  const cpu = s.cpu_stats;
  const pre = s.precpu_stats;
  const cpuDelta = (cpu?.cpu_usage?.total_usage ?? 0) - (pre?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu?.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0);
  const onlineCpus = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 1;
  if (!pre?.system_cpu_usage || cpuDelta <= 0 || systemDelta <= 0) return 0;
  return (cpuDelta / systemDelta) * onlineCpus * 100;
}

/**
 * Memory used without the page cache, as `docker stats` shows it: usage − total_inactive_file
 * on cgroup v1, usage − inactive_file on cgroup v2 (when smaller than usage).
 */
export function memoryUsedBytes(s: EngineStats): number {
  const usage = s.memory_stats?.usage ?? 0;
  const stats = s.memory_stats?.stats ?? {};
  const v1 = stats.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = stats.inactive_file;
  if (v2 !== undefined && v2 < usage) return usage - v2;
  return usage;
}

/** One container's figures from one engine stats sample. */
export function containerFigures(s: EngineStats): UtilisationFigures {
  let networkRxBytes = 0;
  let networkTxBytes = 0;
  for (const n of Object.values(s.networks ?? {})) {
    networkRxBytes += n.rx_bytes ?? 0;
    networkTxBytes += n.tx_bytes ?? 0;
  }
  let blockReadBytes = 0;
  let blockWriteBytes = 0;
  // cgroup v1 says Read/Write, v2 read/write; Total and the rest are not counted.
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = (e.op ?? '').toLowerCase();
    if (op === 'read') blockReadBytes += e.value ?? 0;
    else if (op === 'write') blockWriteBytes += e.value ?? 0;
  }
  return {
    cpuPercent: round2(cpuPercent(s)),
    memoryUsedBytes: memoryUsedBytes(s),
    memoryLimitBytes: s.memory_stats?.limit ?? 0,
    networkRxBytes,
    networkTxBytes,
    blockReadBytes,
    blockWriteBytes,
  };
}

/**
 * Sums figures. A container without a memory limit reports the host's memory as its limit,
 * so the summed limit is capped at `memoryCapBytes` (the host's memory) when given.
 */
export function sumFigures(list: UtilisationFigures[], memoryCapBytes = 0): UtilisationFigures {
  const sum = { ...ZERO_FIGURES };
  for (const f of list) {
    sum.cpuPercent += f.cpuPercent;
    sum.memoryUsedBytes += f.memoryUsedBytes;
    sum.memoryLimitBytes += f.memoryLimitBytes;
    sum.networkRxBytes += f.networkRxBytes;
    sum.networkTxBytes += f.networkTxBytes;
    sum.blockReadBytes += f.blockReadBytes;
    sum.blockWriteBytes += f.blockWriteBytes;
  }
  sum.cpuPercent = round2(sum.cpuPercent);
  if (memoryCapBytes > 0) sum.memoryLimitBytes = Math.min(sum.memoryLimitBytes, memoryCapBytes);
  return sum;
}

export interface SampledContainer extends ContainerUtilisation {
  taskArn: string;
}

export interface HostTotals {
  memoryBytes: number;
  onlineCpus: number;
}

/** Groups container samples by task (in taskArn order) and adds the instance's totals. */
export function buildUtilisationReport(
  ids: { clusterArn: string; containerInstanceArn: string },
  host: HostTotals,
  containers: SampledContainer[],
  sentAt: number,
): UtilisationReport {
  const byTask = new Map<string, ContainerUtilisation[]>();
  for (const { taskArn, ...c } of containers) {
    byTask.set(taskArn, [...(byTask.get(taskArn) ?? []), c]);
  }
  const tasks: TaskUtilisation[] = [...byTask.keys()].sort().map((taskArn) => {
    const list = byTask.get(taskArn)!.sort((a, b) => a.name.localeCompare(b.name));
    return { taskArn, ...sumFigures(list, host.memoryBytes), containers: list };
  });
  const instance = sumFigures(tasks);
  return {
    v: 1,
    clusterArn: ids.clusterArn,
    containerInstanceArn: ids.containerInstanceArn,
    sentAt,
    instance: { ...instance, memoryLimitBytes: host.memoryBytes, onlineCpus: host.onlineCpus },
    tasks,
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
