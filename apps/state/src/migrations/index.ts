import { initial } from './0001_initial';
import { livenessUtilisation } from './0002_liveness_utilisation';
import { attributesClientTokens } from './0003_attributes_client_tokens';
import { services } from './0004_services';
import { serviceTaskIndex } from './0005_service_task_index';
import { loadBalancers } from './0006_load_balancers';
import { accessKeys } from './0007_access_keys';
import { clusterSettingsTaskDefinitionLifecycle } from './0008_cluster_settings_task_definition_lifecycle';
import { tagsAccountSettings } from './0009_tags_account_settings';
import { instanceDeregistrationTaskProtection } from './0010_instance_deregistration_task_protection';
import { joinTokens } from './0011_join_tokens';
import { instanceJoinToken } from './0012_instance_join_token';
import { taskSweeps } from './0013_task_sweeps';
import { clientTokenReservation } from './0014_client_token_reservation';
import { provisioningTasks } from './0015_provisioning_tasks';
import { outboxTextPayload } from './0016_outbox_text_payload';
import { heartbeatsHot } from './0017_heartbeats_hot';
import { outboxEvents } from './0018_outbox_events';
import { outboxLz4 } from './0019_outbox_lz4';
import { tasksArnUnindexed } from './0020_tasks_arn_unindexed';
import { instanceTaskCounts } from './0021_instance_task_counts';
import { taskCountsInlined } from './0022_task_counts_inlined';

export interface Migration {
  /** Sortable, unique and never reused. */
  id: string;
  sql: string;
}

/** Every migration, in the order it is applied. Append only. */
export const MIGRATIONS: Migration[] = [
  { id: '0001_initial', sql: initial },
  { id: '0002_liveness_utilisation', sql: livenessUtilisation },
  { id: '0003_attributes_client_tokens', sql: attributesClientTokens },
  { id: '0004_services', sql: services },
  { id: '0005_service_task_index', sql: serviceTaskIndex },
  { id: '0006_load_balancers', sql: loadBalancers },
  { id: '0007_access_keys', sql: accessKeys },
  {
    id: '0008_cluster_settings_task_definition_lifecycle',
    sql: clusterSettingsTaskDefinitionLifecycle,
  },
  { id: '0009_tags_account_settings', sql: tagsAccountSettings },
  {
    id: '0010_instance_deregistration_task_protection',
    sql: instanceDeregistrationTaskProtection,
  },
  { id: '0011_join_tokens', sql: joinTokens },
  { id: '0012_instance_join_token', sql: instanceJoinToken },
  { id: '0013_task_sweeps', sql: taskSweeps },
  { id: '0014_client_token_reservation', sql: clientTokenReservation },
  { id: '0015_provisioning_tasks', sql: provisioningTasks },
  { id: '0016_outbox_text_payload', sql: outboxTextPayload },
  { id: '0017_heartbeats_hot', sql: heartbeatsHot },
  { id: '0018_outbox_events', sql: outboxEvents },
  { id: '0019_outbox_lz4', sql: outboxLz4 },
  { id: '0020_tasks_arn_unindexed', sql: tasksArnUnindexed },
  { id: '0021_instance_task_counts', sql: instanceTaskCounts },
  { id: '0022_task_counts_inlined', sql: taskCountsInlined },
];
