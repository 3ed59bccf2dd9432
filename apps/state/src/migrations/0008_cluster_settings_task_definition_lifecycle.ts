/**
 * Cluster settings and configuration (UpdateCluster, UpdateClusterSettings), a version for
 * cluster events, and what the task definition lifecycle needs: an index for listing
 * revisions and families in byte order (ListTaskDefinitions / ListTaskDefinitionFamilies page
 * on it) and one for finding the revisions DeleteTaskDefinitions left DELETE_IN_PROGRESS.
 * A cluster's `settings` is the ECS ClusterSettings list, `configuration` the ECS
 * ClusterConfiguration (null when never set).
 */
export const clusterSettingsTaskDefinitionLifecycle = `
ALTER TABLE clusters
  ADD COLUMN settings       jsonb NOT NULL DEFAULT '[{"name":"containerInsights","value":"disabled"}]',
  ADD COLUMN configuration  jsonb,
  ADD COLUMN version        bigint NOT NULL DEFAULT 1;
ALTER TABLE clusters
  ADD CONSTRAINT clusters_status CHECK (status IN ('ACTIVE', 'INACTIVE'));

ALTER TABLE task_definitions
  ADD CONSTRAINT task_definitions_status CHECK (status IN ('ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'));
CREATE INDEX task_definitions_family_order
  ON task_definitions ((family COLLATE "C"), revision);
CREATE INDEX task_definitions_delete_in_progress
  ON task_definitions (family, revision) WHERE status = 'DELETE_IN_PROGRESS';
CREATE INDEX tasks_live_task_definition
  ON tasks (task_definition_arn) WHERE last_status <> 'STOPPED';
`;
