import { resourceIdOf } from '@wharf/domain';
import type { HeartbeatReport } from '@wharf/messaging';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';

/**
 * Records an agent heartbeat. No outbox event: heartbeats are frequent and agent liveness is
 * read from last_heartbeat_at (agent_connected) instead.
 */
export class ApplyHeartbeatUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly instances: ContainerInstanceRepository,
  ) {}

  async execute(report: HeartbeatReport): Promise<void> {
    const id = resourceIdOf(report.containerInstanceArn, 'container-instance');
    await this.instances.touchHeartbeat(this.ctx.pool, id, report.sentAt || Date.now());
  }
}
