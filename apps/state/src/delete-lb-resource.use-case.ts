import { ResourceInUseError } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { lbKindOf, LbRepository, LbResourceRow } from './lb.repository';
import { lbResourceEvent, OutboxRepository, targetEvent } from './outbox.repository';
import type { TargetRepository } from './target.repository';

/**
 * DeleteLbResource: a load balancer goes with its listeners and their rules, a listener with
 * its rules; a target group only when no listener, rule or live service uses it, and with its
 * targets. Every resource removed gets `lb_resource.deleted` (children first), every target
 * `target.deleted`. Returns the resource asked for, as deleted (a version later).
 */
export class DeleteLbResourceUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly resources: LbRepository,
    private readonly targets: TargetRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.DeleteLbResourceRequest): Promise<stateV1.LbResource> {
    const kind = lbKindOf(req.kind);
    return inTransaction(this.ctx.pool, async (tx) => {
      const row = await this.resources.get(tx, kind, req.arn, 'update');
      const removed: LbResourceRow[] = [];
      if (kind === 'load-balancer') {
        for (const listener of await this.resources.children(tx, row.arn)) {
          removed.push(...(await this.resources.children(tx, listener.arn)), listener);
        }
      } else if (kind === 'listener') {
        removed.push(...(await this.resources.children(tx, row.arn)));
      } else if (kind === 'target-group') {
        const users = [
          ...(await this.resources.usersOfTargetGroup(tx, row.arn)),
          ...(await this.resources.servicesUsingTargetGroup(tx, row.arn)),
        ];
        if (users.length > 0) {
          throw new ResourceInUseError(
            `Target group '${row.arn}' is currently in use by a listener or a rule (${users.join(', ')})`,
          );
        }
        const targets = await this.targets.deleteOfGroup(tx, row.arn);
        await this.outbox.appendMany(
          tx,
          targets.map((t) => targetEvent('deleted', this.targets.removedProto(t))),
        );
      }
      removed.push(row);
      await this.resources.delete(
        tx,
        removed.map((r) => r.arn),
      );
      const deleted = removed.map((r) => this.resources.toProto(r, Number(r.version) + 1));
      await this.outbox.appendMany(
        tx,
        deleted.map((r) => lbResourceEvent('deleted', r)),
      );
      return deleted[deleted.length - 1];
    });
  }
}
