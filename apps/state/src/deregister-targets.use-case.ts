import type { stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { LbRepository } from './lb.repository';
import { OutboxRepository, targetEvent } from './outbox.repository';
import { currentTargets, lockedTargetGroup, targetRefs } from './register-targets.use-case';
import { inLockOrder, type TargetRepository } from './target.repository';

/**
 * DeregisterTargets: registered targets start `draining`; the drained-targets sweep removes
 * them once the group's deregistration delay has passed. A target that is not registered (or
 * already draining) is left alone without an error, as ELBv2 does. Returns the requested
 * targets that are still there, as they now are.
 */
export class DeregisterTargetsUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly resources: LbRepository,
    private readonly targets: TargetRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.DeregisterTargetsRequest): Promise<stateV1.TargetsResponse> {
    return inTransaction(this.ctx.pool, async (tx) => {
      const group = await lockedTargetGroup(tx, this.resources, req.targetGroupArn);
      const refs = targetRefs(req.targets, group, true);
      const changed: stateV1.LbTarget[] = [];
      for (const ref of inLockOrder(refs, (r) => r.key)) {
        const row = await this.targets.startDraining(tx, ref.key);
        if (row) changed.push(this.targets.toProto(row));
      }
      await this.outbox.appendMany(
        tx,
        changed.map((t) => targetEvent('changed', t)),
      );
      return { targets: await currentTargets(tx, this.targets, refs) };
    });
  }
}
