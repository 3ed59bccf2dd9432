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
  /** The agent's clock, for logs: state times a heartbeat by when JetStream stored it. */
  sentAt: number;
  runningTasks: number;
}

/**
 * Resource use over one stats sample, as `docker stats` computes it. `cpuPercent` is of one
 * CPU (a task busy on two cores reports 200); memory used excludes the page cache
 * (usage − inactive_file); network and block I/O are byte counters since the container started.
 */
export interface UtilisationFigures {
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryLimitBytes: number;
  networkRxBytes: number;
  networkTxBytes: number;
  blockReadBytes: number;
  blockWriteBytes: number;
}

export interface ContainerUtilisation extends UtilisationFigures {
  /** Container name from the task definition. */
  name: string;
  runtimeId: string;
}

/** A task's figures are the sums of its containers' (the limit capped at the host's memory). */
export interface TaskUtilisation extends UtilisationFigures {
  taskArn: string;
  containers: ContainerUtilisation[];
}

/**
 * What an agent measured on its instance (`subjects.report(cluster, 'utilisation')`), every
 * AGENT_STATS_INTERVAL_MS. `instance` sums the Wharf tasks on the host; its memory limit is
 * the host's memory and `onlineCpus` its CPU count.
 */
export interface UtilisationReport {
  v: 1;
  clusterArn: string;
  containerInstanceArn: string;
  sentAt: number;
  instance: UtilisationFigures & { onlineCpus: number };
  tasks: TaskUtilisation[];
}

/**
 * An outbox event as relayed by state. `id` is unique and grows with every event; a message
 * holding this one event has it as its NATS msgID.
 */
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

/**
 * Several events one statement of a transaction appended on the same subject, in that order,
 * as one message (a commit of 50 placements publishes two: its `task.created` events and its
 * `container_instance.changed` events). `id` is the first event's and the message's msgID.
 */
export interface WharfEventBatch<T = unknown> {
  v: 1;
  id: string;
  events: WharfEvent<T>[];
}

/** A message on an events subject: one event, or a batch of them. */
export type WharfEventMessage<T = unknown> = WharfEvent<T> | WharfEventBatch<T>;

/** The events a message on an events subject carries, in order (a batch's, or the one). */
export function eventsOf<T>(message: WharfEventMessage<T>): WharfEvent<T>[] {
  return 'events' in message ? message.events : [message];
}
