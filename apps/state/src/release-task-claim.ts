import type { PoolClient } from 'pg';
import { InstanceResources, releaseClaim } from '@wharf/domain';
import type { common } from '@wharf/proto';
import {
  ContainerInstanceRepository,
  InstanceClaimRow,
  registeredOf,
  remainingOf,
} from './container-instance.repository';
import { instanceChanged, type OutboxRepository, taskChanged } from './outbox.repository';
import { claimOf, stoppedNow, type TaskRepository, TaskRow } from './task.repository';

/**
 * Gives a stopped task's CPU, memory and host ports back to its instance, inside the
 * caller's transaction, and writes the instance's `container_instance.changed`. Callers make
 * sure it runs once per task: on its move into STOPPED.
 */
export async function releaseTaskClaim(
  tx: PoolClient,
  task: TaskRow,
  instances: ContainerInstanceRepository,
  outbox: OutboxRepository,
  locked?: ReadonlyMap<string, InstanceClaimRow>,
): Promise<void> {
  await outbox.appendInstancesChanged(tx, await releaseTaskClaims(tx, [task], instances, locked));
}

/**
 * Locks the instances of these tasks (id order). A writer that moves tasks into STOPPED calls
 * it before it changes their statuses, and hands the result to `releaseTaskClaims`: a status
 * change takes the instances' task counts (`instance_task_counts`, kept by triggers), and a
 * commit takes an instance, then its counts; the other way round the two could wait for each
 * other.
 */
export async function lockInstancesOf(
  tx: PoolClient,
  tasks: readonly TaskRow[],
  instances: ContainerInstanceRepository,
): Promise<Map<string, InstanceClaimRow>> {
  const ids = new Set(tasks.flatMap((t) => t.container_instance_id ?? []));
  return ids.size === 0 ? new Map() : instances.lockClaims(tx, [...ids]);
}

/**
 * Gives the claims of stopped tasks back to their instances in a constant number of
 * statements: the instances are locked (id order; `locked` when the caller did, see
 * `lockInstancesOf`), each instance's version is bumped once per task released on it. Returns
 * the changed instances as they are now (full records, id order) for the caller's events.
 * Callers make sure each task is released once.
 */
export async function releaseTaskClaims(
  tx: PoolClient,
  tasks: readonly TaskRow[],
  instances: ContainerInstanceRepository,
  locked?: ReadonlyMap<string, InstanceClaimRow>,
): Promise<common.ContainerInstance[]> {
  const onInstances = tasks.filter((t) => t.container_instance_id);
  if (onInstances.length === 0) return [];
  locked ??= await lockInstancesOf(tx, onInstances, instances);
  const released = new Map<string, { remaining: InstanceResources; count: number }>();
  for (const task of onInstances) {
    const instance = locked.get(task.container_instance_id!);
    if (!instance) continue;
    const before = released.get(instance.id) ?? { remaining: remainingOf(instance), count: 0 };
    released.set(instance.id, {
      remaining: releaseClaim(before.remaining, claimOf(task), registeredOf(instance)),
      count: before.count + 1,
    });
  }
  await instances.updateRemainingMany(
    tx,
    [...released].map(([id, r]) => ({ id, remaining: r.remaining, bumpBy: r.count })),
  );
  return instances.findWithCountsByIds(tx, [...released.keys()]);
}

/**
 * Records tasks STOPPED now — desired and last status, containers, stop code and reason,
 * stopped times — for tasks no agent will report (a lost host's), and
 * releases their claims, with their `task.changed` and their instances'
 * `container_instance.changed` events, in the caller's transaction. The tasks must be locked
 * (before their instances: the order every writer of both keeps) and not yet STOPPED; their
 * instances are locked here before the tasks change (see `lockInstancesOf`).
 */
export async function recordTasksStopped(
  tx: PoolClient,
  rows: readonly TaskRow[],
  stop: { stopCode: string; reason: string },
  repos: {
    tasks: TaskRepository;
    instances: ContainerInstanceRepository;
    outbox: OutboxRepository;
  },
): Promise<common.Task[]> {
  if (rows.length === 0) return [];
  const locked = await lockInstancesOf(tx, rows, repos.instances);
  const now = Date.now();
  const updated = await repos.tasks.updateMany(
    tx,
    rows.map((row) => {
      const current = repos.tasks.changesOf(row);
      return {
        id: row.id,
        bumpBy: 1,
        changes: {
          ...stoppedNow(current, now),
          stopCode: stop.stopCode || current.stopCode || 'TaskFailedToStart',
          stoppedReason: stop.reason,
        },
      };
    }),
  );
  const changed = await releaseTaskClaims(tx, rows, repos.instances, locked);
  const tasks = updated.map((r) => repos.tasks.toProto(r));
  await repos.outbox.appendMany(tx, [...changed.map(instanceChanged), ...tasks.map(taskChanged)]);
  return tasks;
}
