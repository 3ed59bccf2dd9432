import type { Pool, PoolClient } from 'pg';
import { ArnContext, arns } from '@wharf/domain';
import type { common } from '@wharf/proto';

type Queryable = Pool | PoolClient;

interface ClusterRow {
  name: string;
  status: string;
  tags: unknown;
  settings: unknown;
  configuration: unknown;
  active_services: number;
  registered: number;
  running: number;
  pending: number;
}

/** Tasks the scheduler has placed but that are not running yet count as pending. */
export const PENDING_STATUSES = ['PROVISIONING', 'PENDING', 'ACTIVATING'];

const SELECT_WITH_COUNTS = `
  SELECT c.name, c.status, c.tags, c.settings, c.configuration,
    (SELECT count(*) FROM services s
      WHERE s.cluster = c.name AND s.status = 'ACTIVE')::int AS active_services,
    (SELECT count(*) FROM container_instances ci
      WHERE ci.cluster = c.name AND ci.status <> 'INACTIVE')::int AS registered,
    (SELECT count(*) FROM tasks t
      WHERE t.cluster = c.name AND t.last_status = 'RUNNING')::int AS running,
    (SELECT count(*) FROM tasks t
      WHERE t.cluster = c.name AND t.last_status = ANY($2::text[]))::int AS pending
  FROM clusters c`;

export class ClusterRepository {
  constructor(private readonly arn: ArnContext) {}

  /**
   * Whether the cluster exists and is ACTIVE (an INACTIVE, deleted, cluster is not found).
   * Inside a transaction the row is held FOR KEY SHARE until it ends, so DeleteCluster (FOR
   * UPDATE) waits for writers that found the cluster, and writers that come after it see it
   * INACTIVE: nothing is added to a cluster while it is being deleted.
   */
  async exists(q: Queryable, name: string): Promise<boolean> {
    const { rowCount } = await q.query({
      name: 'wharf_clusters_exists',
      text: `SELECT 1 FROM clusters WHERE name = $1 AND status = 'ACTIVE' FOR KEY SHARE`,
      values: [name],
    });
    return (rowCount ?? 0) > 0;
  }

  /**
   * Creates the cluster, or makes an INACTIVE (deleted) one ACTIVE again with what is given;
   * an ACTIVE cluster is left as it is. Returns the new version when this call created or
   * revived it, undefined otherwise.
   */
  async createOrRevive(
    tx: PoolClient,
    name: string,
    fields: { tagsJson: string; settings: unknown; configuration: unknown },
  ): Promise<number | undefined> {
    const { rows } = await tx.query<{ version: string }>(
      `INSERT INTO clusters (name, tags, settings, configuration)
       VALUES ($1, $2::jsonb, $3::jsonb, $4::jsonb)
       ON CONFLICT (name) DO UPDATE
         SET status = 'ACTIVE', tags = EXCLUDED.tags, settings = EXCLUDED.settings,
             configuration = EXCLUDED.configuration, created_at = now(),
             version = clusters.version + 1
         WHERE clusters.status = 'INACTIVE'
       RETURNING version`,
      [
        name,
        fields.tagsJson || '[]',
        JSON.stringify(fields.settings),
        fields.configuration === undefined ? null : JSON.stringify(fields.configuration),
      ],
    );
    return rows[0] ? Number(rows[0].version) : undefined;
  }

  /** The cluster's row, locked FOR UPDATE until the transaction ends; undefined if unknown. */
  async lockForUpdate(
    tx: PoolClient,
    name: string,
  ): Promise<
    { status: string; settings: unknown; configuration: unknown; version: number } | undefined
  > {
    const { rows } = await tx.query<{
      status: string;
      settings: unknown;
      configuration: unknown;
      version: string;
    }>('SELECT status, settings, configuration, version FROM clusters WHERE name = $1 FOR UPDATE', [
      name,
    ]);
    return rows[0] && { ...rows[0], version: Number(rows[0].version) };
  }

  /** Sets settings and configuration (null: none) and bumps the version; returns it. */
  async updateSettings(
    tx: PoolClient,
    name: string,
    settings: unknown,
    configuration: unknown,
  ): Promise<number> {
    const { rows } = await tx.query<{ version: string }>(
      `UPDATE clusters SET settings = $2::jsonb, configuration = $3::jsonb,
         version = version + 1 WHERE name = $1 RETURNING version`,
      [
        name,
        JSON.stringify(settings),
        configuration === undefined ? null : JSON.stringify(configuration),
      ],
    );
    return Number(rows[0].version);
  }

  async markInactive(tx: PoolClient, name: string): Promise<number> {
    const { rows } = await tx.query<{ version: string }>(
      `UPDATE clusters SET status = 'INACTIVE', version = version + 1 WHERE name = $1
       RETURNING version`,
      [name],
    );
    return Number(rows[0].version);
  }

  /** What keeps a cluster from being deleted (ECS counts instances DRAINING too). */
  async contents(
    q: Queryable,
    name: string,
  ): Promise<{ instances: number; services: number; tasks: number }> {
    const { rows } = await q.query<{ instances: number; services: number; tasks: number }>(
      `SELECT
         (SELECT count(*) FROM container_instances
           WHERE cluster = $1 AND status <> 'INACTIVE')::int AS instances,
         (SELECT count(*) FROM services
           WHERE cluster = $1 AND status <> 'INACTIVE')::int AS services,
         (SELECT count(*) FROM tasks
           WHERE cluster = $1 AND last_status <> 'STOPPED')::int AS tasks`,
      [name],
    );
    return rows[0];
  }

  async findByNames(q: Queryable, names: string[]): Promise<common.Cluster[]> {
    const { rows } = await q.query<ClusterRow>(
      `${SELECT_WITH_COUNTS} WHERE c.name = ANY($1::text[])`,
      [names, PENDING_STATUSES],
    );
    return rows.map((r) => this.toProto(r));
  }

  /** Names in order, after `after` (exclusive). */
  async listNames(q: Queryable, after: string, limit: number): Promise<string[]> {
    const { rows } = await q.query<{ name: string }>(
      `SELECT name FROM clusters WHERE name > $1 AND status = 'ACTIVE' ORDER BY name LIMIT $2`,
      [after, limit],
    );
    return rows.map((r) => r.name);
  }

  arnOf(name: string): string {
    return arns.cluster(this.arn, name);
  }

  private toProto(r: ClusterRow): common.Cluster {
    return {
      clusterArn: this.arnOf(r.name),
      clusterName: r.name,
      status: r.status,
      registeredContainerInstancesCount: r.registered,
      runningTasksCount: r.running,
      pendingTasksCount: r.pending,
      activeServicesCount: r.active_services,
      tagsJson: JSON.stringify(r.tags ?? []),
      settingsJson: JSON.stringify(r.settings ?? []),
      configurationJson: r.configuration ? JSON.stringify(r.configuration) : '',
    };
  }
}
