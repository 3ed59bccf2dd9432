import { resourceIdOf } from '@wharf/domain';
import type { HeartbeatReport } from '@wharf/messaging';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

/**
 * Records an agent heartbeat. An ordinary heartbeat writes no event (they are frequent); one
 * that brings a disconnected agent back flips `agent_connected` to true, bumps the instance
 * version and writes `container_instance.changed`, in the same transaction.
 */
export class ApplyHeartbeatUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly instances: ContainerInstanceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  /** Returns `reconnected` when this heartbeat marked the agent connected again. */
  async execute(report: HeartbeatReport): Promise<'applied' | 'reconnected' | 'unknown-instance'> {
    const id = resourceIdOf(report.containerInstanceArn, 'container-instance');
    return inTransaction(this.ctx.pool, async (tx) => {
      const beat = await this.instances.recordHeartbeat(tx, id, report.sentAt || Date.now());
      if (!beat) return 'unknown-instance';
      if (!beat.reconnected) return 'applied';
      const [instance] = await this.instances.findWithCounts(tx, beat.cluster, [id]);
      await this.outbox.append(tx, {
        cluster: beat.cluster,
        entity: 'container_instance',
        event: 'changed',
        resourceArn: instance.containerInstanceArn,
        version: instance.version,
        detail: instance,
      });
      this.ctx.logger.info(
        { containerInstanceArn: instance.containerInstanceArn, cluster: beat.cluster },
        'agent connected again',
      );
      return 'reconnected';
    });
  }
}
