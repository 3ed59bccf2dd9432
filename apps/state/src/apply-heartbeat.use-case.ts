import { resourceIdOf } from '@wharf/domain';
import type { HeartbeatReport } from '@wharf/messaging';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

export type HeartbeatOutcome = 'applied' | 'reconnected' | 'unknown-instance';

/**
 * Records agent heartbeats. An ordinary heartbeat writes no event (they are frequent); one
 * that brings a disconnected agent back flips `agent_connected` to true, bumps the instance
 * version and writes `container_instance.changed`, in the same transaction.
 *
 * `executeBatch` applies many heartbeats in one transaction and one UPDATE: only the newest
 * heartbeat of each instance counts (last_heartbeat_at only moves forward anyway), and only
 * the instances it reconnects are read back and get an event.
 */
export class ApplyHeartbeatUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly instances: ContainerInstanceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  /** Returns `reconnected` when this heartbeat marked the agent connected again. */
  async execute(report: HeartbeatReport): Promise<HeartbeatOutcome> {
    const [outcome] = await this.executeBatch([report]);
    return outcome;
  }

  /** One outcome per report, in the order given. */
  async executeBatch(reports: HeartbeatReport[]): Promise<HeartbeatOutcome[]> {
    if (reports.length === 0) return [];
    const now = Date.now();
    const ids = reports.map((r) => resourceIdOf(r.containerInstanceArn, 'container-instance'));
    const newest = new Map<string, number>();
    reports.forEach((r, i) => {
      const sentAt = r.sentAt || now;
      if (sentAt > (newest.get(ids[i]) ?? -Infinity)) newest.set(ids[i], sentAt);
    });
    const beats = [...newest].map(([id, sentAt]) => ({ id, sentAt }));

    const { found, reconnected } = await inTransaction(this.ctx.pool, async (tx) => {
      const rows = await this.instances.recordHeartbeats(tx, beats);
      const byCluster = new Map<string, string[]>();
      for (const r of rows) {
        if (r.reconnected) byCluster.set(r.cluster, [...(byCluster.get(r.cluster) ?? []), r.id]);
      }
      const back: { id: string; cluster: string; containerInstanceArn: string }[] = [];
      for (const [cluster, clusterIds] of byCluster) {
        for (const instance of await this.instances.findWithCounts(tx, cluster, clusterIds)) {
          await this.outbox.appendInstancesChanged(tx, [instance]);
          back.push({
            id: resourceIdOf(instance.containerInstanceArn, 'container-instance'),
            cluster,
            containerInstanceArn: instance.containerInstanceArn,
          });
        }
      }
      return { found: new Set(rows.map((r) => r.id)), reconnected: back };
    });

    for (const c of reconnected) {
      this.ctx.logger.info(
        { containerInstanceArn: c.containerInstanceArn, cluster: c.cluster },
        'agent connected again',
      );
    }
    // The reconnect is credited to the newest heartbeat of the instance; the others applied.
    const credited = new Set(reconnected.map((c) => c.id));
    return reports.map((r, i) => {
      const id = ids[i];
      if (!found.has(id)) return 'unknown-instance';
      if (credited.has(id) && (r.sentAt || now) === newest.get(id)) {
        credited.delete(id);
        return 'reconnected';
      }
      return 'applied';
    });
  }
}
