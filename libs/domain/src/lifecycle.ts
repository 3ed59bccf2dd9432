/** ECS task lifecycle (developer guide, task-lifecycle). */
export const TASK_STATUSES = [
  'PROVISIONING',
  'PENDING',
  'ACTIVATING',
  'RUNNING',
  'DEACTIVATING',
  'STOPPING',
  'DEPROVISIONING',
  'STOPPED',
  'DELETED',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const DESIRED_STATUSES = ['RUNNING', 'PENDING', 'STOPPED'] as const;
export type DesiredStatus = (typeof DESIRED_STATUSES)[number];

export const STOP_CODES = [
  'TaskFailedToStart',
  'EssentialContainerExited',
  'UserInitiated',
  'ServiceSchedulerInitiated',
  'SpotInterruption',
  'TerminationNotice',
] as const;
export type StopCode = (typeof STOP_CODES)[number];

/** Position of a status in the lifecycle; a report may only move a task forward. */
export function statusRank(status: string): number {
  const i = TASK_STATUSES.indexOf(status as TaskStatus);
  return i < 0 ? -1 : i;
}

/** True when moving from `from` to `to` goes forward (or stays) in the lifecycle. */
export function isForward(from: string, to: string): boolean {
  return statusRank(to) >= statusRank(from);
}

export function isTerminal(status: string): boolean {
  return status === 'STOPPED' || status === 'DELETED';
}
