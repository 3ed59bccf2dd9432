/**
 * Payloads carried over NATS. Every payload has a schema version `v`; events carry the
 * resource's version so consumers can drop stale ones.
 */

export interface NetworkBindingReport {
  bindIP: string;
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

export interface ContainerStateReport {
  name: string;
  runtimeId: string;
  lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED';
  exitCode?: number;
  reason?: string;
  networkBindings?: NetworkBindingReport[];
  healthStatus?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
}

/** An agent's view of one task. `seq` only grows for a task, across agent restarts. */
export interface TaskStateReport {
  v: 1;
  clusterArn: string;
  containerInstanceArn: string;
  taskArn: string;
  seq: number;
  lastStatus: string;
  containers: ContainerStateReport[];
  stopCode?: string;
  stoppedReason?: string;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  executionStoppedAt?: number;
  reportedAt: number;
}

export interface HeartbeatReport {
  v: 1;
  clusterArn: string;
  containerInstanceArn: string;
  sentAt: number;
  runningTasks: number;
}

/** An outbox event as relayed by state. `id` is the outbox row id and the NATS msgID. */
export interface WharfEvent<T = unknown> {
  v: 1;
  id: string;
  type: string; // e.g. task.changed
  cluster: string;
  resourceArn: string;
  version: number;
  at: number;
  detail: T;
}
