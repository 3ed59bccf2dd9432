import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';
import type { TaskDefinitionRepository } from './task-definition.repository';
import { taskDefinitionEvent } from './task-definition-lifecycle';

const BATCH = 100;

/**
 * Removes DELETE_IN_PROGRESS revisions that no task (not STOPPED) and no service (not
 * INACTIVE) uses any more, writing `task_definition.deleted` for each. Leader-free: replicas
 * sweeping at once skip each other's rows. Returns how many were removed.
 */
export class SweepDeletedTaskDefinitionsUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly taskDefinitions: TaskDefinitionRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(): Promise<number> {
    let total = 0;
    let after = { family: '', revision: 0 };
    for (;;) {
      const { removed, scanned, last } = await inTransaction(this.ctx.pool, async (tx) => {
        const candidates = await this.taskDefinitions.lockDeleteInProgress(tx, after, BATCH);
        const used = await this.taskDefinitions.inUse(
          tx,
          candidates.map((td) => td.taskDefinitionArn),
        );
        let n = 0;
        for (const td of candidates) {
          if (used.has(td.taskDefinitionArn)) continue;
          await this.taskDefinitions.remove(tx, td.family, td.revision);
          await this.outbox.append(tx, taskDefinitionEvent('deleted', td));
          n++;
        }
        return { removed: n, scanned: candidates.length, last: candidates[candidates.length - 1] };
      });
      total += removed;
      if (scanned < BATCH) return total;
      after = { family: last.family, revision: last.revision };
    }
  }
}
