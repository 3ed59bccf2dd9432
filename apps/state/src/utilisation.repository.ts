import type { Pool, PoolClient } from 'pg';
import type { ContainerUtilisation, UtilisationFigures } from '@wharf/messaging';
import type { stateV1 } from '@wharf/proto';

type Queryable = Pool | PoolClient;

export type UtilisationScope = 'task' | 'instance';

export interface NewSample extends UtilisationFigures {
  scope: UtilisationScope;
  resourceId: string;
  cluster: string;
  containerInstanceArn: string;
  sampledAt: number;
  containers?: ContainerUtilisation[];
  onlineCpus?: number;
  taskCount?: number;
}

interface SampleRow {
  sampled_at: Date;
  cpu_percent: number;
  memory_used_bytes: string;
  memory_limit_bytes: string;
  network_rx_bytes: string;
  network_tx_bytes: string;
  block_read_bytes: string;
  block_write_bytes: string;
  containers: ContainerUtilisation[];
  online_cpus: number;
  task_count: number;
}

const COLUMNS = [
  'scope',
  'resource_id',
  'cluster',
  'container_instance_arn',
  'sampled_at',
  'cpu_percent',
  'memory_used_bytes',
  'memory_limit_bytes',
  'network_rx_bytes',
  'network_tx_bytes',
  'block_read_bytes',
  'block_write_bytes',
  'containers',
  'online_cpus',
  'task_count',
] as const;

/** Utilisation samples: the latest few per task and per container instance. */
export class UtilisationRepository {
  /** Inserts the samples; one already stored for the same resource and instant is skipped. */
  async insert(tx: PoolClient, samples: NewSample[]): Promise<void> {
    if (samples.length === 0) return;
    const params: unknown[] = [];
    const tuples = samples.map((s) => {
      const values = [
        s.scope,
        s.resourceId,
        s.cluster,
        s.containerInstanceArn,
        new Date(s.sampledAt),
        finite(s.cpuPercent),
        whole(s.memoryUsedBytes),
        whole(s.memoryLimitBytes),
        whole(s.networkRxBytes),
        whole(s.networkTxBytes),
        whole(s.blockReadBytes),
        whole(s.blockWriteBytes),
        JSON.stringify(s.containers ?? []),
        s.onlineCpus ?? 0,
        s.taskCount ?? 0,
      ];
      const base = params.length;
      params.push(...values);
      return `(${values.map((_, i) => `$${base + i + 1}`).join(', ')})`;
    });
    await tx.query(
      `INSERT INTO utilisation_samples (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
       ON CONFLICT DO NOTHING`,
      params,
    );
  }

  /** Keeps the newest `keep` samples of each resource named; returns how many were dropped. */
  async trim(
    tx: PoolClient,
    scope: UtilisationScope,
    resourceIds: string[],
    keep: number,
  ): Promise<number> {
    if (resourceIds.length === 0) return 0;
    const { rowCount } = await tx.query(
      `DELETE FROM utilisation_samples s USING (
         SELECT id FROM (
           SELECT id, row_number() OVER (PARTITION BY resource_id ORDER BY sampled_at DESC) AS n
             FROM utilisation_samples WHERE scope = $1 AND resource_id = ANY($2::text[])
         ) ranked WHERE n > $3
       ) old WHERE s.id = old.id`,
      [scope, resourceIds, keep],
    );
    return rowCount ?? 0;
  }

  /** Drops samples received longer ago than `olderThanMs` (tasks long stopped, gone hosts). */
  async pruneOlderThan(q: Queryable, olderThanMs: number): Promise<number> {
    const { rowCount } = await q.query(
      `DELETE FROM utilisation_samples
        WHERE received_at < now() - make_interval(secs => $1::double precision / 1000)`,
      [olderThanMs],
    );
    return rowCount ?? 0;
  }

  /** The newest `limit` samples of one resource, newest first. */
  async history(
    q: Queryable,
    scope: UtilisationScope,
    resourceId: string,
    limit: number,
  ): Promise<stateV1.UtilisationSample[]> {
    const { rows } = await q.query<SampleRow>(
      `SELECT sampled_at, cpu_percent, memory_used_bytes, memory_limit_bytes, network_rx_bytes,
              network_tx_bytes, block_read_bytes, block_write_bytes, containers, online_cpus,
              task_count
         FROM utilisation_samples WHERE scope = $1 AND resource_id = $2
        ORDER BY sampled_at DESC LIMIT $3`,
      [scope, resourceId, limit],
    );
    return rows.map(toSample);
  }
}

function toSample(r: SampleRow): stateV1.UtilisationSample {
  return {
    sampledAt: r.sampled_at.getTime(),
    cpuPercent: r.cpu_percent,
    memoryUsedBytes: Number(r.memory_used_bytes),
    memoryLimitBytes: Number(r.memory_limit_bytes),
    networkRxBytes: Number(r.network_rx_bytes),
    networkTxBytes: Number(r.network_tx_bytes),
    blockReadBytes: Number(r.block_read_bytes),
    blockWriteBytes: Number(r.block_write_bytes),
    containers: (r.containers ?? []).map((c) => ({
      name: c.name,
      runtimeId: c.runtimeId,
      cpuPercent: finite(c.cpuPercent),
      memoryUsedBytes: whole(c.memoryUsedBytes),
      memoryLimitBytes: whole(c.memoryLimitBytes),
      networkRxBytes: whole(c.networkRxBytes),
      networkTxBytes: whole(c.networkTxBytes),
      blockReadBytes: whole(c.blockReadBytes),
      blockWriteBytes: whole(c.blockWriteBytes),
    })),
    onlineCpus: r.online_cpus,
    taskCount: r.task_count,
  };
}

/** Reports come from agents: a missing or non-finite figure is stored as 0. */
function finite(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

function whole(n: unknown): number {
  return Math.max(0, Math.round(finite(n)));
}
