import {
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  NotFoundError,
  resourceIdOf,
} from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { instanceChanged, OutboxRepository, taskChanged } from './outbox.repository';
import { releaseTaskClaims } from './release-task-claim';
import { stoppedNow, type TaskRepository } from './task.repository';

/** The group of the tasks a service scheduler owns (`service:<name>`). */
const SERVICE_GROUP_PREFIX = 'service:';
/** ECS's answer when an instance with tasks is deregistered without force. */
export const RUNNING_TASKS_MESSAGE = 'Found running tasks on the instance.';

/**
 * ECS DeregisterContainerInstance, in one transaction under the instance's row lock. The
 * instance becomes INACTIVE for good (version + 1, `container_instance.changed`): the planner
 * and CommitPlacements place only on ACTIVE instances, ListContainerInstances shows it only
 * with status INACTIVE, and its agent may not register under that ARN again.
 *
 * Tasks not STOPPED on it refuse the call unless `force`. With force they are orphaned, as in
 * ECS: the service tasks among them are recorded STOPPED now (as for a lost host: stop code
 * ServiceSchedulerInitiated, claims released, `task.changed` each) so the service scheduler
 * starts replacements elsewhere; standalone tasks are left as they are, no longer managed.
 * An instance already INACTIVE is returned as it is (nothing written).
 */
export class DeregisterContainerInstanceUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly tasks: TaskRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(
    req: stateV1.DeregisterContainerInstanceRequest,
  ): Promise<stateV1.DeregisterContainerInstanceResponse> {
    if (!req.containerInstance) throw new InvalidParameterError('containerInstance is required.');
    const cluster = clusterNameOf(req.cluster);
    const id = resourceIdOf(req.containerInstance, 'container-instance');
    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();
      // The instance's tasks first, then the instance: reports and stops lock a task, then its
      // instance, and one order keeps them from deadlocking. They are read again below, under
      // the instance's lock, for any placed meanwhile.
      await this.tasks.liveOn(tx, id);
      const row = (await this.instances.lockByIds(tx, [id])).get(id);
      if (!row || row.cluster !== cluster) {
        throw new NotFoundError(
          `The referenced container instance ${req.containerInstance} was not found in cluster ${cluster}.`,
        );
      }
      if (row.status === 'INACTIVE') {
        const [instance] = await this.instances.findWithCounts(tx, cluster, [id]);
        return { containerInstance: instance, stoppedTasks: [] };
      }
      const live = await this.tasks.liveOn(tx, id);
      if (live.length > 0 && !req.force) throw new InvalidParameterError(RUNNING_TASKS_MESSAGE);

      const serviceTasks = live.filter((t) => t.task_group.startsWith(SERVICE_GROUP_PREFIX));
      const now = Date.now();
      const reason = `Container instance ${row.arn} was deregistered.`;
      const stopped = await this.tasks.updateMany(
        tx,
        serviceTasks.map((t) => {
          const current = this.tasks.changesOf(t);
          return {
            id: t.id,
            bumpBy: 1,
            changes: {
              ...stoppedNow(current, now),
              stopCode: 'ServiceSchedulerInitiated',
              stoppedReason: reason,
            },
          };
        }),
      );
      await releaseTaskClaims(tx, serviceTasks, this.instances);
      await this.instances.updateStatus(tx, [id], 'INACTIVE');
      const [instance] = await this.instances.findWithCounts(tx, cluster, [id]);
      const tasks = stopped.map((t) => this.tasks.toProto(t));
      await this.outbox.appendMany(tx, [...tasks.map(taskChanged), instanceChanged(instance)]);
      this.ctx.logger.info(
        {
          cluster,
          instance: row.arn,
          force: req.force,
          stoppedTasks: tasks.map((t) => t.taskArn),
          orphanedTasks: live.filter((t) => !serviceTasks.includes(t)).map((t) => t.arn),
        },
        'container instance deregistered',
      );
      return { containerInstance: instance, stoppedTasks: tasks };
    });
  }
}
