/**
 * Agent liveness as a stored flag (flipped by the liveness sweep and by heartbeats, each flip an
 * event), and the utilisation samples agents report: per task and per instance, the latest
 * few kept (pruned by count per resource and by age).
 */
export const livenessUtilisation = `
ALTER TABLE container_instances ADD COLUMN agent_connected boolean NOT NULL DEFAULT true;
CREATE INDEX container_instances_connected ON container_instances (last_heartbeat_at)
  WHERE agent_connected;

CREATE TABLE utilisation_samples (
  id                      bigserial PRIMARY KEY,
  -- 'task' or 'instance'; resource_id is the task's or the container instance's id.
  scope                   text NOT NULL CHECK (scope IN ('task', 'instance')),
  resource_id             text NOT NULL,
  cluster                 text NOT NULL,
  container_instance_arn  text NOT NULL,
  sampled_at              timestamptz NOT NULL,
  cpu_percent             double precision NOT NULL,
  memory_used_bytes       bigint NOT NULL,
  memory_limit_bytes      bigint NOT NULL,
  network_rx_bytes        bigint NOT NULL,
  network_tx_bytes        bigint NOT NULL,
  block_read_bytes        bigint NOT NULL,
  block_write_bytes       bigint NOT NULL,
  -- task samples: [{name, runtimeId, cpuPercent, memoryUsedBytes, …}]
  containers              jsonb NOT NULL DEFAULT '[]',
  online_cpus             integer NOT NULL DEFAULT 0,
  task_count              integer NOT NULL DEFAULT 0,
  received_at             timestamptz NOT NULL DEFAULT now()
);
-- One sample per resource and instant: a redelivered report inserts nothing.
CREATE UNIQUE INDEX utilisation_samples_resource
  ON utilisation_samples (scope, resource_id, sampled_at DESC);
CREATE INDEX utilisation_samples_received ON utilisation_samples (received_at);
`;
