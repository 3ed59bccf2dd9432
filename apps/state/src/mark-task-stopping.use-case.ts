import { clusterNameOf, InvalidParameterError, resourceIdOf } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';
import type { TaskRepository } from './task.repository';

/**
 * Records the wish to stop a task (desiredStatus STOPPED). Only the agent's report moves
 * lastStatus; asking twice changes nothing the second time.
 */
export class MarkTaskStoppingUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly tasks: TaskRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.MarkTaskStoppingRequest): Promise<common.Task> {
    const cluster = clusterNameOf(req.cluster);
    return inTransaction(this.ctx.pool, async (tx) => {
      const row = await this.tasks.lock(tx, { id: resourceIdOf(req.task, 'task'), cluster });
      if (!row) throw new InvalidParameterError('The referenced task was not found.');
      if (row.desired_status === 'STOPPED') return this.tasks.toProto(row);
      const current = this.tasks.changesOf(row);
      const updated = await this.tasks.update(tx, row.id, {
        ...current,
        desiredStatus: 'STOPPED',
        stopCode: req.stopCode || 'UserInitiated',
        stoppedReason: req.reason || current.stoppedReason || '',
        stoppingAt: current.stoppingAt || Date.now(),
      });
      const task = this.tasks.toProto(updated);
      await this.outbox.append(tx, {
        cluster,
        entity: 'task',
        event: 'changed',
        resourceArn: task.taskArn,
        version: task.version,
        detail: task,
      });
      return task;
    });
  }
}
