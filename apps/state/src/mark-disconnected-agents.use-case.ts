import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

/**
 * Marks the agents that sent no heartbeat for AGENT_HEARTBEAT_TTL_MS disconnected: each flip
 * bumps the instance version and writes `container_instance.changed` (agentConnected false)
 * in one transaction. Leader-free: every replica may run it; the conditional UPDATE flips each
 * instance once, so exactly one replica writes its event.
 */
export class MarkDisconnectedAgentsUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly instances: ContainerInstanceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  /** Returns how many instances this call marked disconnected. */
  async execute(): Promise<number> {
    const flipped = await inTransaction(this.ctx.pool, async (tx) => {
      const rows = await this.instances.markSilentDisconnected(tx);
      const byCluster = new Map<string, string[]>();
      for (const r of rows) byCluster.set(r.cluster, [...(byCluster.get(r.cluster) ?? []), r.id]);
      const changed = [];
      for (const [cluster, ids] of byCluster) {
        for (const instance of await this.instances.findWithCounts(tx, cluster, ids)) {
          await this.outbox.appendInstancesChanged(tx, [instance]);
          changed.push({ cluster, containerInstanceArn: instance.containerInstanceArn });
        }
      }
      return changed;
    });
    for (const c of flipped) {
      this.ctx.logger.warn(
        { ...c, ttlMs: this.ctx.agentHeartbeatTtlMs },
        'agent disconnected: no heartbeat within the TTL',
      );
    }
    return flipped.length;
  }
}
