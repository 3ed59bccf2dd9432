import {
  arns,
  ArnContext,
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  parseArn,
  resourceIdOf,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { type OutboxRepository, taskChanged } from './outbox.repository';
import { protectedUntilOf, TaskRepository, TaskRow } from './task.repository';

export const MAX_TASKS_PER_PROTECTION_UPDATE = 10;
export const MAX_TASKS_PER_PROTECTION_GET = 100;
export const DEFAULT_PROTECTION_MINUTES = 120;
export const MAX_PROTECTION_MINUTES = 2880;
const SERVICE_GROUP_PREFIX = 'service:';

/** Checks the task list of Update/GetTaskProtection and names its first mention of each task. */
export function requestedTasks(refs: string[], max: number): Map<string, string> {
  if (refs.length === 0) throw new InvalidParameterError('tasks cannot be empty.');
  if (refs.length > max) throw new InvalidParameterError(`tasks can have at most ${max} items.`);
  const requested = new Map<string, string>();
  for (const ref of refs) {
    const id = resourceIdOf(ref, 'task');
    if (!requested.has(id)) requested.set(id, ref);
  }
  return requested;
}

/**
 * Splits the requested tasks into those that can be protected and failures, in the order
 * asked: a task the cluster does not have is `MISSING`; one that is not part of a service
 * (ECS protects service tasks only) is `TASK_NOT_VALID`, as is, when `forEnabling`, one that
 * has already STOPPED (there is nothing left to protect).
 */
export function sortRequested(
  arnContext: ArnContext,
  cluster: string,
  requested: Map<string, string>,
  rows: Map<string, TaskRow>,
  forEnabling: boolean,
): { valid: TaskRow[]; failures: common.Failure[] } {
  const valid: TaskRow[] = [];
  const failures: common.Failure[] = [];
  for (const [id, ref] of requested) {
    const row = rows.get(id);
    if (!row) {
      failures.push({
        arn: parseArn(ref) ? ref : arns.task(arnContext, cluster, ref),
        reason: 'MISSING',
        detail: '',
      });
    } else if (!row.task_group.startsWith(SERVICE_GROUP_PREFIX)) {
      failures.push({
        arn: row.arn,
        reason: 'TASK_NOT_VALID',
        detail: 'The task is not part of a service; only service tasks can be protected.',
      });
    } else if (forEnabling && row.last_status === 'STOPPED') {
      failures.push({
        arn: row.arn,
        reason: 'TASK_NOT_VALID',
        detail: 'The task is STOPPED; only a task that has not stopped can be protected.',
      });
    } else {
      valid.push(row);
    }
  }
  return { valid, failures };
}

export function toProtectedTask(row: TaskRow, now = Date.now()): stateV1.ProtectedTask {
  const until = protectedUntilOf(row, now);
  return { taskArn: row.arn, protectionEnabled: until > 0, expirationDate: until };
}

/**
 * ECS UpdateTaskProtection, in one transaction with the tasks locked in id order. Enabling sets
 * `protected_until` to now + expiresInMinutes (0 = 120; each call resets the expiry, so calling
 * again extends it); disabling clears it. Each changed task gets version + 1 and `task.changed`
 * so the scheduler's snapshot sees the protection (its scale-in skips protected tasks).
 * Per task, not as an error: `MISSING` and `TASK_NOT_VALID` failures (see `sortRequested`).
 */
export class UpdateTaskProtectionUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly tasks: TaskRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.UpdateTaskProtectionRequest): Promise<stateV1.TaskProtectionResponse> {
    const minutes = req.expiresInMinutes || DEFAULT_PROTECTION_MINUTES;
    if (minutes < 1 || minutes > MAX_PROTECTION_MINUTES) {
      throw new InvalidParameterError(
        `expiresInMinutes must be between 1 and ${MAX_PROTECTION_MINUTES}.`,
      );
    }
    const requested = requestedTasks(req.tasks, MAX_TASKS_PER_PROTECTION_UPDATE);
    const cluster = clusterNameOf(req.cluster);

    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();
      const locked = await this.tasks.lockByIds(tx, cluster, [...requested.keys()]);
      const { valid, failures } = sortRequested(
        this.ctx.arn,
        cluster,
        requested,
        locked,
        req.protectionEnabled,
      );
      const now = Date.now();
      const until = req.protectionEnabled ? now + minutes * 60_000 : 0;
      // Disabling a task that has no protection stored changes nothing.
      const changing = valid.filter((t) => req.protectionEnabled || t.protected_until !== null);
      const updated = new Map(
        (
          await this.tasks.setProtectedUntil(
            tx,
            changing.map((t) => t.id),
            until,
          )
        ).map((r) => [r.id, r]),
      );
      await this.outbox.appendMany(
        tx,
        [...updated.values()].map((row) => taskChanged(this.tasks.toProto(row))),
      );
      if (updated.size > 0) {
        this.ctx.logger.info(
          {
            cluster,
            tasks: [...updated.values()].map((t) => t.arn),
            protectionEnabled: req.protectionEnabled,
            protectedUntil: until,
          },
          'task protection updated',
        );
      }
      return {
        protectedTasks: valid.map((t) => toProtectedTask(updated.get(t.id) ?? t, now)),
        failures,
      };
    });
  }
}
