import { ClientError, clusterNameOf, NotFoundError, resourceIdOf } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { lockHeldLeases } from './lease.repository';
import type { ContainerInstanceRepository } from './container-instance.repository';
import { type OutboxRepository, taskChanged } from './outbox.repository';
import { lockInstancesOf, releaseTaskClaim } from './release-task-claim';
import { stoppedNow, type TaskRepository } from './task.repository';

/**
 * Records the wish to stop a task (desiredStatus STOPPED). Only the agent's report moves
 * lastStatus, with one exception: a task that failed to start before any agent took it
 * (stop code TaskFailedToStart while still PROVISIONING) has no agent to report it, so it is
 * stopped here and its resources released. Asking twice changes nothing the second time.
 * A fenced stop (fenceLease, fenceHolder) is recorded only while its sender holds the lease:
 * FAILED_PRECONDITION otherwise, and nothing changes.
 */
export class MarkTaskStoppingUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly tasks: TaskRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.MarkTaskStoppingRequest): Promise<common.Task> {
    const cluster = clusterNameOf(req.cluster);
    return inTransaction(this.ctx.pool, async (tx) => {
      if (req.fenceLease) {
        const holder = (await lockHeldLeases(tx, [req.fenceLease])).get(req.fenceLease);
        if (holder !== req.fenceHolder) {
          throw new ClientError(
            `${req.fenceHolder || 'the caller'} does not hold the lease ${req.fenceLease}; the task is left as it is`,
          );
        }
      }
      const row = await this.tasks.lock(tx, resourceIdOf(req.task, 'task'), cluster);
      if (!row)
        throw new NotFoundError('The referenced task was not found.', 'InvalidParameterException');
      const stopCode = req.stopCode || 'UserInitiated';
      const neverStarted = stopCode === 'TaskFailedToStart' && row.last_status === 'PROVISIONING';
      // Asked to stop already: nothing more to record, unless the launch it was waiting for
      // has now failed (StopTask while the agent's StartTask was still in flight): no agent
      // will ever report that task, so it is stopped here, keeping the first stop's reason.
      const stopping = row.desired_status === 'STOPPED';
      if (stopping && !neverStarted) return this.tasks.toProto(row);
      const current = this.tasks.changesOf(row);
      const now = Date.now();
      // Before the status changes (see lockInstancesOf).
      const locked = neverStarted ? await lockInstancesOf(tx, [row], this.instances) : undefined;
      const updated = await this.tasks.update(tx, row.id, {
        ...(neverStarted
          ? stoppedNow(current, now)
          : { ...current, desiredStatus: 'STOPPED', stoppingAt: current.stoppingAt || now }),
        stopCode: stopping ? current.stopCode || stopCode : stopCode,
        stoppedReason: stopping
          ? current.stoppedReason || req.reason || ''
          : req.reason || current.stoppedReason || '',
      });
      if (neverStarted) await releaseTaskClaim(tx, row, this.instances, this.outbox, locked);
      const task = this.tasks.toProto(updated);
      await this.outbox.append(tx, taskChanged(task));
      return task;
    });
  }
}
