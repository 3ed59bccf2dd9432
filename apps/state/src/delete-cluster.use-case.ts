import { clusterNameOf, ClusterNotEmptyError, ClusterNotFoundError } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

/**
 * ECS DeleteCluster: an ACTIVE cluster with nothing left in it becomes INACTIVE. The row is
 * locked FOR UPDATE before counting what it holds; every writer that adds an instance, a
 * service or a task holds the row FOR KEY SHARE (ClusterRepository.exists), so the counts
 * cannot change under this check and nothing is added once the cluster is INACTIVE.
 */
export class DeleteClusterUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.DeleteClusterRequest): Promise<common.Cluster> {
    const name = clusterNameOf(req.cluster);
    return inTransaction(this.ctx.pool, async (tx) => {
      const row = await this.clusters.lockForUpdate(tx, name);
      if (!row || row.status !== 'ACTIVE') throw new ClusterNotFoundError();
      const held = await this.clusters.contents(tx, name);
      if (held.instances > 0) {
        throw new ClusterNotEmptyError(
          'ClusterContainsContainerInstancesException',
          'The Cluster cannot be deleted while Container Instances are active or draining.',
        );
      }
      if (held.services > 0) {
        throw new ClusterNotEmptyError(
          'ClusterContainsServicesException',
          'The Cluster cannot be deleted while Services are active.',
        );
      }
      if (held.tasks > 0) {
        throw new ClusterNotEmptyError(
          'ClusterContainsTasksException',
          'The Cluster cannot be deleted while Tasks are active.',
        );
      }
      const version = await this.clusters.markInactive(tx, name);
      const [cluster] = await this.clusters.findByNames(tx, [name]);
      await this.outbox.append(tx, {
        cluster: name,
        entity: 'cluster',
        event: 'deleted',
        resourceArn: cluster.clusterArn,
        version,
        detail: cluster,
      });
      return cluster;
    });
  }
}
