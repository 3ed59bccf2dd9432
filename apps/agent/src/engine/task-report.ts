import type { ContainerStateReport, NetworkBindingReport, TaskStateReport } from '@wharf/messaging';
import type { AgentNetworkMode, PlannedPortMapping } from './container-config';

/** The agent's own container statuses (ECS reports all but RUNNING/STOPPED as PENDING). */
export type ContainerKnownStatus = 'NONE' | 'PULLED' | 'CREATED' | 'RUNNING' | 'STOPPED';
export type TaskKnownStatus = 'NONE' | 'PENDING' | 'RUNNING' | 'STOPPED';

export interface ContainerSnapshot {
  name: string;
  runtimeId?: string;
  status: ContainerKnownStatus;
  exitCode?: number;
  reason?: string;
  networkBindings: NetworkBindingReport[];
  healthStatus?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
}

export interface TaskSnapshot {
  clusterArn: string;
  containerInstanceArn: string;
  taskArn: string;
  knownStatus: TaskKnownStatus;
  containers: ContainerSnapshot[];
  stopCode?: string;
  stoppedReason?: string;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  executionStoppedAt?: number;
}

/** What is published, minus `seq` and `reportedAt`, which the publisher stamps. */
export type UnsequencedReport = Omit<TaskStateReport, 'seq' | 'reportedAt'>;

export function containerLastStatus(
  status: ContainerKnownStatus,
): ContainerStateReport['lastStatus'] {
  if (status === 'RUNNING' || status === 'STOPPED') return status;
  return 'PENDING';
}

export function buildTaskReport(task: TaskSnapshot): UnsequencedReport {
  const lastStatus = task.knownStatus === 'NONE' ? 'PENDING' : task.knownStatus;
  const report: UnsequencedReport = {
    v: 1,
    clusterArn: task.clusterArn,
    containerInstanceArn: task.containerInstanceArn,
    taskArn: task.taskArn,
    lastStatus,
    containers: task.containers.map((c) => {
      const out: ContainerStateReport = {
        name: c.name,
        runtimeId: c.runtimeId ?? '',
        lastStatus: containerLastStatus(c.status),
      };
      if (c.exitCode !== undefined) out.exitCode = c.exitCode;
      if (c.reason) out.reason = c.reason;
      if (c.networkBindings.length) out.networkBindings = c.networkBindings;
      if (c.healthStatus) out.healthStatus = c.healthStatus;
      return out;
    }),
  };
  if (task.knownStatus === 'STOPPED') {
    if (task.stopCode) report.stopCode = task.stopCode;
    if (task.stoppedReason) report.stoppedReason = task.stoppedReason;
  }
  for (const key of [
    'pullStartedAt',
    'pullStoppedAt',
    'startedAt',
    'stoppingAt',
    'stoppedAt',
    'executionStoppedAt',
  ] as const) {
    if (task[key] !== undefined) report[key] = task[key];
  }
  return report;
}

/** Docker's `NetworkSettings.Ports` as inspect returns it. */
export type DockerPorts = Record<string, { HostIp: string; HostPort: string }[] | null> | undefined;

/**
 * Network bindings to report. Bridge: what Docker actually bound (dynamic ports included),
 * IPv4 only (Docker lists `::` twins of the same port). Host: the container's own ports.
 */
export function networkBindingsOf(
  mode: AgentNetworkMode,
  planned: PlannedPortMapping[],
  ports: DockerPorts,
): NetworkBindingReport[] {
  if (mode === 'none') return [];
  if (mode === 'host') {
    return planned.map((pm) => ({
      bindIP: '0.0.0.0',
      containerPort: pm.containerPort,
      hostPort: pm.containerPort,
      protocol: pm.protocol,
    }));
  }
  const out: NetworkBindingReport[] = [];
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [port, proto] = key.split('/');
    for (const b of bindings ?? []) {
      if (b.HostIp.includes(':')) continue;
      const hostPort = Number(b.HostPort);
      if (!hostPort) continue;
      out.push({
        bindIP: b.HostIp || '0.0.0.0',
        containerPort: Number(port),
        hostPort,
        protocol: proto === 'udp' ? 'udp' : 'tcp',
      });
    }
  }
  return out.sort(
    (a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol),
  );
}

/** ECS's reason for a container the kernel killed for memory. */
export const OOM_REASON = 'OutOfMemoryError: Container killed due to memory usage';
export const ESSENTIAL_EXITED_REASON = 'Essential container in task exited';

/** Docker's pull error in ECS's words. */
export function pullErrorReason(image: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return `CannotPullContainerError: pull image ${image}: ${msg.replace(/^\(HTTP code \d+\)[^-]*- /, '')}`;
}
