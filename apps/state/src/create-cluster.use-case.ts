import { ClusterNotFoundError, CLUSTER_NAME_PATTERN, InvalidParameterError } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

/** ECS CreateCluster is idempotent: creating an existing cluster returns it unchanged. */
export class CreateClusterUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.CreateClusterRequest): Promise<common.Cluster> {
    const name = req.clusterName || 'default';
    if (!CLUSTER_NAME_PATTERN.test(name)) {
      throw new InvalidParameterError(
        'Cluster name must be 1-255 characters: letters, numbers, hyphens and underscores.',
      );
    }
    const tagsJson = req.tagsJson || '[]';
    if (!isJsonArray(tagsJson))
      throw new InvalidParameterError('tags must be a list of key/value pairs.');
    return inTransaction(this.ctx.pool, async (tx) => {
      const created = await this.clusters.insertIfMissing(tx, name, tagsJson);
      const [cluster] = await this.clusters.findByNames(tx, [name]);
      if (!cluster) throw new ClusterNotFoundError();
      if (created) {
        await this.outbox.append(tx, {
          cluster: name,
          entity: 'cluster',
          event: 'created',
          resourceArn: cluster.clusterArn,
          version: 1,
          detail: cluster,
        });
      }
      return cluster;
    });
  }
}

function isJsonArray(text: string): boolean {
  try {
    return Array.isArray(JSON.parse(text));
  } catch {
    return false;
  }
}
