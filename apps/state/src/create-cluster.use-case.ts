import {
  applyClusterConfiguration,
  applyClusterSettings,
  ClusterNotFoundError,
  CLUSTER_NAME_PATTERN,
  DEFAULT_CLUSTER_SETTINGS,
  InvalidParameterError,
  validateTagList,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

/**
 * ECS CreateCluster is idempotent: creating an existing cluster returns it unchanged. A deleted
 * (INACTIVE) cluster's name is created afresh: ACTIVE again with the tags, settings and
 * configuration given now.
 */
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
    // The rules TagResource applies: it reads and changes these very tags later.
    validateTagList(JSON.parse(tagsJson), 'tags');
    const settings = req.settingsJson
      ? applyClusterSettings(DEFAULT_CLUSTER_SETTINGS, parseJson(req.settingsJson, 'settings'))
      : DEFAULT_CLUSTER_SETTINGS;
    const configuration = req.configurationJson
      ? applyClusterConfiguration(undefined, parseJson(req.configurationJson, 'configuration'))
      : undefined;
    return inTransaction(this.ctx.pool, async (tx) => {
      const version = await this.clusters.createOrRevive(tx, name, {
        tagsJson,
        settings,
        configuration,
      });
      const [cluster] = await this.clusters.findByNames(tx, [name]);
      if (!cluster) throw new ClusterNotFoundError();
      if (version !== undefined) {
        await this.outbox.append(tx, {
          cluster: name,
          entity: 'cluster',
          event: 'created',
          resourceArn: cluster.clusterArn,
          version,
          detail: cluster,
        });
      }
      return cluster;
    });
  }
}

function parseJson(text: string, member: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidParameterError(`${member} is not valid JSON.`);
  }
}

function isJsonArray(text: string): boolean {
  try {
    return Array.isArray(JSON.parse(text));
  } catch {
    return false;
  }
}
