/**
 * Tasks still PROVISIONING, by placement time: the stale-launch sweep reads only these (few)
 * rather than every task a cluster ever ran.
 */
export const staleLaunches = `
CREATE INDEX tasks_provisioning ON tasks (created_at) WHERE last_status = 'PROVISIONING';
`;
