/**
 * Tasks still PROVISIONING by creation time: the scheduler's leader asks for those older than
 * a minute (launches no agent reported on) every pass, reading only them.
 */
export const provisioningTasks = `
CREATE INDEX tasks_provisioning ON tasks (cluster, created_at) WHERE last_status = 'PROVISIONING';
`;
