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
import type { TaskRepository } from './task.repository';
import type { UtilisationRepository, UtilisationScope } from './utilisation.repository';

/** GetUtilisation: the latest sample of a task or a container instance and its history. */
export class GetUtilisationQuery {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly tasks: TaskRepository,
    private readonly utilisation: UtilisationRepository,
    private readonly historySamples: number,
  ) {}

  async execute(req: stateV1.GetUtilisationRequest): Promise<stateV1.GetUtilisationResponse> {
    if (!req.task === !req.containerInstance) {
      throw new InvalidParameterError('Name exactly one of task and containerInstance.');
    }
    const cluster = clusterNameOf(req.cluster || 'default');
    if (!(await this.clusters.exists(this.ctx.pool, cluster))) throw new ClusterNotFoundError();

    const scope: UtilisationScope = req.task ? 'task' : 'instance';
    const id = req.task
      ? resourceIdOf(req.task, 'task')
      : resourceIdOf(req.containerInstance, 'container-instance');
    const owner = await this.find(scope, cluster, id);
    if (!owner) {
      throw new NotFoundError(
        scope === 'task'
          ? `Task ${req.task} was not found in cluster ${cluster}.`
          : `Container instance ${req.containerInstance} was not found in cluster ${cluster}.`,
      );
    }
    const limit =
      req.historyLimit > 0 ? Math.min(req.historyLimit, this.historySamples) : this.historySamples;
    const history = await this.utilisation.history(this.ctx.pool, scope, id, limit);
    return {
      resourceArn: owner.resourceArn,
      containerInstanceArn: owner.containerInstanceArn,
      latest: history[0],
      history,
    };
  }

  private async find(
    scope: UtilisationScope,
    cluster: string,
    id: string,
  ): Promise<{ resourceArn: string; containerInstanceArn: string } | undefined> {
    if (scope === 'task') {
      const [task] = await this.tasks.findByIds(this.ctx.pool, cluster, [id]);
      return task && { resourceArn: task.arn, containerInstanceArn: task.container_instance_arn };
    }
    const [instance] = await this.instances.findWithCounts(this.ctx.pool, cluster, [id]);
    return (
      instance && {
        resourceArn: instance.containerInstanceArn,
        containerInstanceArn: instance.containerInstanceArn,
      }
    );
  }
}
