import {
  applyClusterConfiguration,
  applyClusterSettings,
  clusterNameOf,
  ClusterConfiguration,
  ClusterNotFoundError,
  ClusterSetting,
  InvalidParameterError,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

/**
 * ECS UpdateCluster and UpdateClusterSettings: settings given replace the stored ones by
 * name; each configuration part given replaces the stored part. Everything is validated
 * before anything is written; a request that changes nothing writes nothing (no version
 * bump, no event).
 */
export class UpdateClusterUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.UpdateClusterRequest): Promise<common.Cluster> {
    const name = clusterNameOf(req.cluster);
    const givenSettings =
      req.settingsJson === undefined ? undefined : parseJson(req.settingsJson, 'settings');
    const givenConfiguration =
      req.configurationJson === undefined
        ? undefined
        : parseJson(req.configurationJson, 'configuration');
    return inTransaction(this.ctx.pool, async (tx) => {
      const row = await this.clusters.lockForUpdate(tx, name);
      if (!row || row.status !== 'ACTIVE') throw new ClusterNotFoundError();
      const currentSettings = (row.settings ?? []) as ClusterSetting[];
      const currentConfiguration = (row.configuration ?? undefined) as
        ClusterConfiguration | undefined;
      const settings =
        givenSettings === undefined
          ? currentSettings
          : applyClusterSettings(currentSettings, givenSettings);
      const configuration =
        givenConfiguration === undefined
          ? currentConfiguration
          : applyClusterConfiguration(currentConfiguration, givenConfiguration);
      // jsonb keeps its own key order: compare key-sorted forms.
      const changed =
        canonical(settings) !== canonical(currentSettings) ||
        canonical(configuration ?? null) !== canonical(currentConfiguration ?? null);
      if (!changed) return (await this.clusters.findByNames(tx, [name]))[0];
      const version = await this.clusters.updateSettings(tx, name, settings, configuration);
      const [cluster] = await this.clusters.findByNames(tx, [name]);
      await this.outbox.append(tx, {
        cluster: name,
        entity: 'cluster',
        event: 'updated',
        resourceArn: cluster.clusterArn,
        version,
        detail: cluster,
      });
      return cluster;
    });
  }
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function parseJson(text: string, member: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidParameterError(`${member} is not valid JSON.`);
  }
}
