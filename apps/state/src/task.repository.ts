import type { Pool, PoolClient } from 'pg';
import { ArnContext, arns, ResourceClaim } from '@wharf/domain';
import type { common } from '@wharf/proto';
import { ms, tsParam } from './db';

type Queryable = Pool | PoolClient;

export interface TaskRow {
  id: string;
  arn: string;
  cluster: string;
  task_definition_arn: string;
  family: string;
  container_instance_id: string | null;
  container_instance_arn: string;
  last_status: string;
  desired_status: string;
  cpu: number;
  memory: number;
  host_ports: number[];
  host_ports_udp: number[];
  task_group: string;
  started_by: string;
  launch_type: string;
  overrides: unknown;
  tags: unknown;
  containers: common.Container[];
  health_status: string;
  version: string;
  report_seq: string;
  stop_code: string | null;
  stopped_reason: string | null;
  created_at: Date;
  pull_started_at: Date | null;
  pull_stopped_at: Date | null;
  started_at: Date | null;
  stopping_at: Date | null;
  stopped_at: Date | null;
  execution_stopped_at: Date | null;
}

/** The mutable part of a task, as a report or a stop request changes it. */
export interface TaskChanges {
  lastStatus: string;
  desiredStatus: string;
  containers: common.Container[];
  healthStatus: string;
  stopCode: string | null;
  stoppedReason: string | null;
  reportSeq: number;
  pullStartedAt: number;
  pullStoppedAt: number;
  startedAt: number;
  stoppingAt: number;
  stoppedAt: number;
  executionStoppedAt: number;
}

export interface TaskFilter {
  cluster: string;
  containerInstanceId: string;
  family: string;
  startedBy: string;
  desiredStatus: string;
  group: string;
}

export const claimOf = (
  t: Pick<TaskRow, 'cpu' | 'memory' | 'host_ports' | 'host_ports_udp'>,
): ResourceClaim => ({
  cpu: t.cpu,
  memory: t.memory,
  ports: t.host_ports,
  portsUdp: t.host_ports_udp,
});

export class TaskRepository {
  constructor(private readonly arn: ArnContext) {}

  async existingArns(tx: PoolClient, taskArns: string[]): Promise<Set<string>> {
    const { rows } = await tx.query<{ arn: string }>(
      'SELECT arn FROM tasks WHERE arn = ANY($1::text[])',
      [taskArns],
    );
    return new Set(rows.map((r) => r.arn));
  }

  async insert(
    tx: PoolClient,
    t: {
      id: string;
      arn: string;
      cluster: string;
      family: string;
      containerInstanceId: string;
      task: common.Task;
      containers: common.Container[];
    },
  ): Promise<TaskRow> {
    const { rows } = await tx.query<TaskRow>(
      `INSERT INTO tasks (id, arn, cluster, task_definition_arn, family, container_instance_id,
         container_instance_arn, last_status, desired_status, cpu, memory, host_ports,
         host_ports_udp, task_group, started_by, launch_type, overrides, tags, containers,
         version, report_seq, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'PROVISIONING', 'RUNNING', $8, $9, $10, $11, $12,
         $13, $14, $15::jsonb, $16::jsonb, $17::jsonb, 1, 0, now())
       RETURNING *`,
      [
        t.id,
        t.arn,
        t.cluster,
        t.task.taskDefinitionArn,
        t.family,
        t.containerInstanceId,
        t.task.containerInstanceArn,
        t.task.cpu,
        t.task.memory,
        t.task.hostPorts,
        t.task.hostPortsUdp,
        t.task.group,
        t.task.startedBy,
        t.task.launchType || 'EC2',
        t.task.overridesJson || '{}',
        t.task.tagsJson || '[]',
        JSON.stringify(t.containers),
      ],
    );
    return rows[0];
  }

  async lock(
    tx: PoolClient,
    where: { arn?: string; id?: string; cluster?: string },
  ): Promise<TaskRow | undefined> {
    const { rows } = await tx.query<TaskRow>(
      `SELECT * FROM tasks WHERE ($1::text IS NULL OR arn = $1) AND ($2::text IS NULL OR id = $2)
         AND ($3::text IS NULL OR cluster = $3) FOR UPDATE`,
      [where.arn ?? null, where.id ?? null, where.cluster ?? null],
    );
    return rows[0];
  }

  /** Applies changes and bumps the version; returns the new row. */
  async update(tx: PoolClient, id: string, c: TaskChanges): Promise<TaskRow> {
    const { rows } = await tx.query<TaskRow>(
      `UPDATE tasks SET last_status = $2, desired_status = $3, containers = $4::jsonb,
         health_status = $5, stop_code = $6, stopped_reason = $7, report_seq = $8,
         pull_started_at = $9, pull_stopped_at = $10, started_at = $11, stopping_at = $12,
         stopped_at = $13, execution_stopped_at = $14, version = version + 1
       WHERE id = $1 RETURNING *`,
      [
        id,
        c.lastStatus,
        c.desiredStatus,
        JSON.stringify(c.containers),
        c.healthStatus,
        c.stopCode,
        c.stoppedReason,
        c.reportSeq,
        tsParam(c.pullStartedAt),
        tsParam(c.pullStoppedAt),
        tsParam(c.startedAt),
        tsParam(c.stoppingAt),
        tsParam(c.stoppedAt),
        tsParam(c.executionStoppedAt),
      ],
    );
    return rows[0];
  }

  /** Claims of the tasks on an instance that still hold resources (not STOPPED). */
  async liveClaimsOn(tx: PoolClient, containerInstanceId: string): Promise<ResourceClaim[]> {
    const { rows } = await tx.query<TaskRow>(
      `SELECT cpu, memory, host_ports, host_ports_udp FROM tasks
        WHERE container_instance_id = $1 AND last_status <> 'STOPPED'`,
      [containerInstanceId],
    );
    return rows.map(claimOf);
  }

  async findByIds(q: Queryable, cluster: string, ids: string[]): Promise<TaskRow[]> {
    const { rows } = await q.query<TaskRow>(
      'SELECT * FROM tasks WHERE cluster = $1 AND id = ANY($2::text[])',
      [cluster, ids],
    );
    return rows;
  }

  /** A page of task ARNs in id order after `afterId` (exclusive); '' filters match anything. */
  async page(q: Queryable, f: TaskFilter, afterId: string, limit: number): Promise<TaskRow[]> {
    const { rows } = await q.query<TaskRow>(
      `SELECT id, arn FROM tasks
        WHERE cluster = $1
          AND ($2 = '' OR container_instance_id = $2)
          AND ($3 = '' OR family = $3)
          AND ($4 = '' OR started_by = $4)
          AND ($5 = '' OR desired_status = $5)
          AND ($6 = '' OR task_group = $6)
          AND id > $7
        ORDER BY id LIMIT $8`,
      [
        f.cluster,
        f.containerInstanceId,
        f.family,
        f.startedBy,
        f.desiredStatus,
        f.group,
        afterId,
        limit,
      ],
    );
    return rows;
  }

  toProto(r: TaskRow): common.Task {
    return {
      taskArn: r.arn,
      clusterArn: arns.cluster(this.arn, r.cluster),
      taskDefinitionArn: r.task_definition_arn,
      containerInstanceArn: r.container_instance_arn,
      lastStatus: r.last_status,
      desiredStatus: r.desired_status,
      cpu: r.cpu,
      memory: r.memory,
      hostPorts: r.host_ports,
      hostPortsUdp: r.host_ports_udp,
      group: r.task_group,
      startedBy: r.started_by,
      launchType: r.launch_type,
      version: Number(r.version),
      containers: r.containers.map((c) => ({ ...c, exitCode: c.exitCode ?? undefined })),
      stopCode: r.stop_code ?? '',
      stoppedReason: r.stopped_reason ?? '',
      healthStatus: r.health_status,
      overridesJson: JSON.stringify(r.overrides ?? {}),
      tagsJson: JSON.stringify(r.tags ?? []),
      createdAt: ms(r.created_at),
      pullStartedAt: ms(r.pull_started_at),
      pullStoppedAt: ms(r.pull_stopped_at),
      startedAt: ms(r.started_at),
      stoppingAt: ms(r.stopping_at),
      stoppedAt: ms(r.stopped_at),
      executionStoppedAt: ms(r.execution_stopped_at),
      availabilityZone: '',
    };
  }

  /** The mutable fields of a row, to derive changes from. */
  changesOf(r: TaskRow): TaskChanges {
    return {
      lastStatus: r.last_status,
      desiredStatus: r.desired_status,
      containers: r.containers,
      healthStatus: r.health_status,
      stopCode: r.stop_code,
      stoppedReason: r.stopped_reason,
      reportSeq: Number(r.report_seq),
      pullStartedAt: ms(r.pull_started_at),
      pullStoppedAt: ms(r.pull_stopped_at),
      startedAt: ms(r.started_at),
      stoppingAt: ms(r.stopping_at),
      stoppedAt: ms(r.stopped_at),
      executionStoppedAt: ms(r.execution_stopped_at),
    };
  }
}
