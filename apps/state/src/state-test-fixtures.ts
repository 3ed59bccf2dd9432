/**
 * For state's integration specs: empty records to spread placements' tasks from. Not part of
 * the service.
 */
import type { common } from '@wharf/proto';

/** A task with every field empty (what a placement leaves out, state fills in). */
export const EMPTY_TASK: common.Task = {
  taskArn: '',
  clusterArn: '',
  taskDefinitionArn: '',
  containerInstanceArn: '',
  lastStatus: '',
  desiredStatus: '',
  cpu: 0,
  memory: 0,
  hostPorts: [],
  hostPortsUdp: [],
  group: '',
  startedBy: '',
  launchType: '',
  version: 0,
  containers: [],
  stopCode: '',
  stoppedReason: '',
  healthStatus: '',
  overridesJson: '',
  tagsJson: '',
  createdAt: 0,
  pullStartedAt: 0,
  pullStoppedAt: 0,
  startedAt: 0,
  stoppingAt: 0,
  stoppedAt: 0,
  executionStoppedAt: 0,
  availabilityZone: '',
  protectedUntil: 0,
};

/** A container with every field empty. */
export const EMPTY_CONTAINER: common.Container = {
  containerArn: '',
  name: '',
  image: '',
  runtimeId: '',
  lastStatus: '',
  reason: '',
  networkBindings: [],
  healthStatus: '',
  cpu: '',
  memory: '',
  memoryReservation: '',
  essential: false,
};

/**
 * Where `instance_task_counts` (kept by triggers on `tasks`) differs from counting the tasks:
 * one row per (instance, group) whose live, running or pending count is off. Empty when the
 * triggers kept up with every change.
 */
export async function taskCountDrift(q: {
  query: (text: string) => Promise<{ rows: unknown[] }>;
}): Promise<unknown[]> {
  const { rows } = await q.query(`
    WITH recount AS (
      SELECT container_instance_id AS id, task_group AS grp,
             count(*) FILTER (WHERE last_status <> 'STOPPED')::int AS live,
             count(*) FILTER (WHERE last_status = 'RUNNING')::int AS running,
             count(*) FILTER (WHERE last_status IN ('PROVISIONING', 'PENDING', 'ACTIVATING'))::int
               AS pending
        FROM tasks WHERE container_instance_id IS NOT NULL GROUP BY 1, 2
    )
    SELECT coalesce(r.id, c.instance_id) AS instance, coalesce(r.grp, c.task_group) AS grp,
           r.live, c.live AS counted_live, r.running, c.running AS counted_running,
           r.pending, c.pending AS counted_pending
      FROM recount r FULL JOIN instance_task_counts c
        ON c.instance_id = r.id AND c.task_group = r.grp
     WHERE coalesce(r.live, 0) <> coalesce(c.live, 0)
        OR coalesce(r.running, 0) <> coalesce(c.running, 0)
        OR coalesce(r.pending, 0) <> coalesce(c.pending, 0)`);
  return rows;
}
