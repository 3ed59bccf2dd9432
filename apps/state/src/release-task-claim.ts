import type { PoolClient } from 'pg';
import { releaseClaim } from '@wharf/domain';
import {
  ContainerInstanceRepository,
  registeredOf,
  remainingOf,
} from './container-instance.repository';
import type { OutboxRepository } from './outbox.repository';
import { claimOf, TaskRow } from './task.repository';

/**
 * Gives a stopped task's CPU, memory and host ports back to its instance, inside the
 * caller's transaction. Callers make sure it runs once per task: on its move into STOPPED.
 */
export async function releaseTaskClaim(
  tx: PoolClient,
  task: TaskRow,
  instances: ContainerInstanceRepository,
  outbox: OutboxRepository,
): Promise<void> {
  if (!task.container_instance_id) return;
  const locked = await instances.lockByIds(tx, [task.container_instance_id]);
  const instance = locked.get(task.container_instance_id);
  if (!instance) return;
  const remaining = releaseClaim(remainingOf(instance), claimOf(task), registeredOf(instance));
  await instances.updateRemaining(tx, instance.id, remaining);
  const [changed] = await instances.findWithCounts(tx, instance.cluster, [instance.id]);
  await outbox.appendInstancesChanged(tx, [changed]);
}
