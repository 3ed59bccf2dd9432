import type { StateContext } from './context';
import { inTransaction } from './db';
import { OutboxRepository, targetEvent } from './outbox.repository';
import type { TargetRepository } from './target.repository';

const BATCH = 200;

/**
 * Removes draining targets whose group's deregistration delay has passed (draining → unused),
 * writing `target.deleted` for each. Leader-free: replicas sweeping at once skip each other's
 * rows. Returns how many were removed.
 */
export class SweepDrainedTargetsUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly targets: TargetRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await inTransaction(this.ctx.pool, async (tx) => {
        const removed = await this.targets.deleteDrained(tx, BATCH);
        await this.outbox.appendMany(
          tx,
          removed.map((t) => targetEvent('deleted', this.targets.removedProto(t))),
        );
        return removed.length;
      });
      total += n;
      if (n < BATCH) return total;
    }
  }
}
