import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';
import { recordTasksStopped } from './release-task-claim';
import type { TaskRepository } from './task.repository';

const BATCH = 100;

/**
 * Stops launches that never reached their agent: tasks still PROVISIONING `timeoutMs` after
 * placement on an instance whose agent is connected and reporting. The scheduler stops a
 * launch whose StartTask fails, but not one it was cut off from (it restarted between commit
 * and StartTask, or state was unreachable for the stop); without this sweep such a task would
 * hold its CPU, memory and ports for good. They are recorded STOPPED (TaskFailedToStart) and
 * their claims released, so their services replace them. Leader-free: replicas sweeping at
 * once skip each other's rows. Returns how many were stopped.
 */
export class SweepStaleLaunchesUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly tasks: TaskRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly outbox: OutboxRepository,
    private readonly timeoutMs: number,
  ) {}

  async execute(): Promise<number> {
    let total = 0;
    for (;;) {
      const stopped = await inTransaction(this.ctx.pool, async (tx) => {
        const stale = await this.tasks.lockStaleLaunches(tx, this.timeoutMs, BATCH);
        return recordTasksStopped(
          tx,
          stale,
          {
            stopCode: 'TaskFailedToStart',
            reason: `No agent took the task within ${Math.round(this.timeoutMs / 1000)} s of its placement.`,
          },
          { tasks: this.tasks, instances: this.instances, outbox: this.outbox },
        );
      });
      if (stopped.length > 0) {
        this.ctx.logger.warn(
          { tasks: stopped.map((t) => t.taskArn), timeoutMs: this.timeoutMs },
          'launches no agent took were stopped',
        );
      }
      total += stopped.length;
      if (stopped.length < BATCH) return total;
    }
  }
}
