import type { StateContext } from './context';
import { inTransaction, type Tx } from './db';
import type { ServiceRepository } from './service.repository';
import type { TaskRepository } from './task.repository';

const BATCH = 1000;

/**
 * Deletes history past the retention (TASK_RETENTION_MS): tasks STOPPED longer ago, and
 * service deployments INACTIVE longer ago, a batch per transaction, so the tables hold what is
 * live and recent history rather than everything ever run. (ECS shows stopped tasks for about
 * an hour, and no INACTIVE deployment.) Leader-free: replicas pruning at once skip each other's
 * rows. Returns how many rows went.
 */
export class PruneHistoryUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly tasks: TaskRepository,
    private readonly services: ServiceRepository,
    private readonly retentionMs: number,
  ) {}

  async execute(): Promise<{ tasks: number; deployments: number }> {
    const tasks = await this.inBatches((tx) =>
      this.tasks.deleteStoppedBefore(tx, this.retentionMs, BATCH),
    );
    const deployments = await this.inBatches((tx) =>
      this.services.deleteInactiveDeploymentsBefore(tx, this.retentionMs, BATCH),
    );
    if (tasks > 0 || deployments > 0) {
      this.ctx.logger.info({ tasks, deployments }, 'history past retention deleted');
    }
    return { tasks, deployments };
  }

  private async inBatches(deleteBatch: (tx: Tx) => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await inTransaction(this.ctx.pool, deleteBatch);
      total += n;
      if (n < BATCH) return total;
    }
  }
}
