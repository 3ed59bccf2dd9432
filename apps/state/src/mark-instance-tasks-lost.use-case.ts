import {
  ClientError,
  clusterNameOf,
  InvalidParameterError,
  resourceIdOf,
  TargetNotFoundError,
} from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';
import { recordTasksStopped } from './release-task-claim';
import type { TaskRepository } from './task.repository';

/**
 * A lost host: its agent stopped heartbeating, so nothing will report its tasks. The tasks
 * asked for (by group prefix; the service scheduler asks for `service:`) are recorded
 * STOPPED now — desired and last status, containers, stop code and reason, stopped times —
 * and their claims released, in one transaction with their `task.changed` events and the
 * instance's `container_instance.changed`. Refused while the agent is connected: a decision
 * taken on a stale view must not stop tasks that are running fine.
 */
export class MarkInstanceTasksLostUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly instances: ContainerInstanceRepository,
    private readonly tasks: TaskRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(
    req: stateV1.MarkInstanceTasksLostRequest,
  ): Promise<stateV1.MarkInstanceTasksLostResponse> {
    const cluster = clusterNameOf(req.cluster);
    if (!req.containerInstance) throw new InvalidParameterError('containerInstance is required.');
    if (!req.reason) throw new InvalidParameterError('reason is required.');
    const instanceId = resourceIdOf(req.containerInstance, 'container-instance');
    return inTransaction(this.ctx.pool, async (tx) => {
      // The instance's tasks first, then the instance: reports and stops lock a task, then its
      // instance, and one order keeps them from deadlocking. They are read again below, under
      // the instance's lock, for any placed meanwhile.
      await this.tasks.liveOn(tx, instanceId);
      const instance = (await this.instances.lockByIds(tx, [instanceId])).get(instanceId);
      if (!instance || instance.cluster !== cluster) {
        throw new TargetNotFoundError(
          `Container instance ${req.containerInstance} was not found in cluster ${cluster}.`,
        );
      }
      if (this.instances.isConnected(instance)) {
        throw new ClientError(
          `The agent of container instance ${instance.arn} is connected; its tasks are not lost.`,
        );
      }
      const lost = (await this.tasks.liveOn(tx, instanceId)).filter((t) =>
        t.task_group.startsWith(req.groupPrefix),
      );
      if (lost.length === 0) return { tasks: [] };
      const tasks = await recordTasksStopped(
        tx,
        lost,
        { stopCode: req.stopCode, reason: req.reason },
        { tasks: this.tasks, instances: this.instances, outbox: this.outbox },
      );
      this.ctx.logger.warn(
        { cluster, instance: instance.arn, tasks: tasks.map((t) => t.taskArn), reason: req.reason },
        'tasks of a lost container instance recorded STOPPED',
      );
      return { tasks };
    });
  }
}
