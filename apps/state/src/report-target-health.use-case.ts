import { InvalidParameterError } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { OutboxRepository, targetEvent } from './outbox.repository';
import { inLockOrder, type TargetRepository } from './target.repository';

const REPORTED_STATES = ['healthy', 'unhealthy'];

/**
 * ReportTargetHealth: what an lb's health checks found. Only targets in initial, healthy or
 * unhealthy change, and only when the state or reason differs (then `target.changed`);
 * reports about draining, unknown or gone targets and repeated reports change nothing.
 * Returns the targets that changed.
 */
export class ReportTargetHealthUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly targets: TargetRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.ReportTargetHealthRequest): Promise<stateV1.TargetsResponse> {
    req.reports.forEach((r, i) => {
      if (!REPORTED_STATES.includes(r.state)) {
        throw new InvalidParameterError(
          `reports[${i}].state must be healthy or unhealthy, not '${r.state}'`,
        );
      }
      if (!r.targetGroupArn || !r.id) {
        throw new InvalidParameterError(`reports[${i}]: targetGroupArn and id are required`);
      }
      if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
        throw new InvalidParameterError(`reports[${i}].port must be from 1 to 65535`);
      }
    });
    if (req.reports.length === 0) return { targets: [] };
    return inTransaction(this.ctx.pool, async (tx) => {
      const changed: stateV1.LbTarget[] = [];
      for (const r of inLockOrder(req.reports, (report) => report)) {
        const row = await this.targets.reportHealth(tx, {
          targetGroupArn: r.targetGroupArn,
          id: r.id,
          port: r.port,
          state: r.state,
          reason: r.state === 'healthy' ? '' : r.reason,
          description: r.state === 'healthy' ? '' : r.description,
        });
        if (row) changed.push(this.targets.toProto(row));
      }
      await this.outbox.appendMany(
        tx,
        changed.map((t) => targetEvent('changed', t)),
      );
      return { targets: changed };
    });
  }
}
