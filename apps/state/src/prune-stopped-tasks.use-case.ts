import type { StateContext } from './context';
import { inTransaction } from './db';
import type { TaskRepository } from './task.repository';

const BATCH = 1000;

/**
 * Deletes tasks STOPPED longer ago than the retention (TASK_RETENTION_MS), a batch per
 * transaction, so the tasks table holds live tasks and recent history rather than every task
 * ever run. Leader-free: replicas pruning at once skip each other's rows. Returns how many.
 */
export class PruneStoppedTasksUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly tasks: TaskRepository,
    private readonly retentionMs: number,
  ) {}

  async execute(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await inTransaction(this.ctx.pool, (tx) =>
        this.tasks.deleteStoppedBefore(tx, this.retentionMs, BATCH),
      );
      total += n;
      if (n < BATCH) break;
    }
    if (total > 0) this.ctx.logger.info({ tasks: total }, 'stopped tasks past retention deleted');
    return total;
  }
}
