import type { Pool, PoolClient } from 'pg';
import { ArnContext, arns } from '@wharf/domain';
import type { common } from '@wharf/proto';

type Queryable = Pool | PoolClient;

interface ClusterRow {
  name: string;
  status: string;
  tags: unknown;
  registered: number;
  running: number;
  pending: number;
}

/** Tasks the scheduler has placed but that are not running yet count as pending. */
export const PENDING_STATUSES = ['PROVISIONING', 'PENDING', 'ACTIVATING'];

const SELECT_WITH_COUNTS = `
  SELECT c.name, c.status, c.tags,
    (SELECT count(*) FROM container_instances ci
      WHERE ci.cluster = c.name AND ci.status <> 'INACTIVE')::int AS registered,
    (SELECT count(*) FROM tasks t
      WHERE t.cluster = c.name AND t.last_status = 'RUNNING')::int AS running,
    (SELECT count(*) FROM tasks t
      WHERE t.cluster = c.name AND t.last_status = ANY($2::text[]))::int AS pending
  FROM clusters c`;

export class ClusterRepository {
  constructor(private readonly arn: ArnContext) {}

  async exists(q: Queryable, name: string): Promise<boolean> {
    const { rowCount } = await q.query('SELECT 1 FROM clusters WHERE name = $1', [name]);
    return (rowCount ?? 0) > 0;
  }

  /** Inserts the cluster unless it exists; true when this call created it. */
  async insertIfMissing(tx: PoolClient, name: string, tagsJson: string): Promise<boolean> {
    const { rowCount } = await tx.query(
      `INSERT INTO clusters (name, tags) VALUES ($1, $2::jsonb) ON CONFLICT (name) DO NOTHING`,
      [name, tagsJson || '[]'],
    );
    return (rowCount ?? 0) > 0;
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
      `SELECT name FROM clusters WHERE name > $1 ORDER BY name LIMIT $2`,
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
      activeServicesCount: 0,
      tagsJson: JSON.stringify(r.tags ?? []),
    };
  }
}
