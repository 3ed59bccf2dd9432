/**
 * The service scheduler counts a service's failed launches (circuit breaker, throttling)
 * from its recently STOPPED tasks on every pass: by index, not by scanning the cluster's
 * tasks. (Its tasks not yet STOPPED have `tasks_group_live` from 0004.)
 */
export const serviceTaskIndex = `
CREATE INDEX tasks_group_stopped ON tasks (cluster, task_group, stopped_at)
  WHERE last_status = 'STOPPED';
`;
