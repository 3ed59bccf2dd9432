/**
 * STOPPED tasks by stop time: the retention sweep deletes those past TASK_RETENTION_MS reading
 * only them, rather than every task a cluster ever ran.
 */
export const taskSweeps = `
CREATE INDEX tasks_stopped ON tasks (stopped_at) WHERE last_status = 'STOPPED';
`;
