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
  events: { name: 'WHARF_EVENTS', subjects: ['wharf.events.>'] },
  reports: { name: 'WHARF_REPORTS', subjects: ['wharf.reports.>'] },
} as const;

export type EventEntity = 'cluster' | 'task_definition' | 'container_instance' | 'task';
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
