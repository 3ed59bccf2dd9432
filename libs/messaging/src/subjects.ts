/**
 * Every NATS stream and subject Wharf uses, in one place. Call sites use these functions and
 * constants, never string literals.
 *
 *   stream WHARF_EVENTS   wharf.events.<cluster>.<entity>.<event>   state's outbox, relayed
 *   stream WHARF_REPORTS  wharf.reports.<cluster>.<kind>            what agents observe
 *
 * <cluster> is the cluster name (ECS cluster names are [A-Za-z0-9_-], valid NATS tokens).
 */
export const STREAMS = {
  // Events are kept (for a day) for every consumer that wants them.
  events: { name: 'WHARF_EVENTS', subjects: ['wharf.events.>'], workQueue: false },
  // Reports have one reader, state's durable consumer: a report is gone once state has
  // applied and acknowledged it, so heartbeats and utilisation do not pile up for a day.
  reports: { name: 'WHARF_REPORTS', subjects: ['wharf.reports.>'], workQueue: true },
} as const;

export type EventEntity =
  | 'cluster'
  | 'task_definition'
  | 'container_instance'
  | 'task'
  | 'service'
  | 'lb_resource'
  | 'target';

/**
 * Load balancer resources and targets belong to no cluster: their events use this in place
 * of the cluster name (`wharf.events._elb.<lb_resource|target>.<event>`).
 */
export const ELB_EVENT_SCOPE = '_elb';
export type ReportKind = 'task_state' | 'heartbeat' | 'utilisation';

export const subjects = {
  event: (cluster: string, entity: EventEntity, event: string) =>
    `wharf.events.${cluster}.${entity}.${event}`,
  allEvents: () => 'wharf.events.>',
  clusterEvents: (cluster: string) => `wharf.events.${cluster}.>`,
  report: (cluster: string, kind: ReportKind) => `wharf.reports.${cluster}.${kind}`,
  allReports: () => 'wharf.reports.>',
};

/** Durable consumer names. */
export const CONSUMERS = {
  stateReports: 'state-reports',
} as const;
