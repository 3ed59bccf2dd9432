/**
 * For state's two task sweeps, which each read only the (few) tasks they act on rather than
 * every task a cluster ever ran: tasks still PROVISIONING by placement time (launches that
 * never reached their agent) and STOPPED tasks by stop time (deleted after the retention).
 */
export const taskSweeps = `
CREATE INDEX tasks_provisioning ON tasks (created_at) WHERE last_status = 'PROVISIONING';
CREATE INDEX tasks_stopped ON tasks (stopped_at) WHERE last_status = 'STOPPED';
`;
