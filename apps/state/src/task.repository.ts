import type { Pool, PoolClient } from 'pg';
import { ArnContext, arns, ResourceClaim, resourceIdOf } from '@wharf/domain';
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
  /** Scale-in protection until then (UpdateTaskProtection); null = not protected. */
  protected_until: Date | null;
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

/**
 * `current` recorded STOPPED at `now` by state itself, for a task no agent will report (a
 * launch no agent took, a lost or deregistered host): last and desired status, containers and
 * stop times. The caller sets the stop code and reason.
 */
export function stoppedNow(current: TaskChanges, now: number): TaskChanges {
  return {
    ...current,
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    containers: current.containers.map((c) => ({ ...c, lastStatus: 'STOPPED' })),
    stoppingAt: current.stoppingAt || now,
    stoppedAt: now,
    executionStoppedAt: now,
  };
}

/** New values for a task, its version bumped by `bumpBy` (TaskRepository.updateMany). */
export interface TaskUpdate {
  id: string;
  changes: TaskChanges;
  bumpBy: number;
}

/** A task to create on an instance (CommitPlacements). */
export interface NewTask {
  id: string;
  arn: string;
  cluster: string;
  family: string;
  containerInstanceId: string;
  task: common.Task;
  containers: common.Container[];
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

/** The columns `insertMany` writes from each new row, with their types; the rest take defaults. */
const INSERTED_COLUMNS_TYPED = {
  id: 'text',
  arn: 'text',
  cluster: 'text',
  task_definition_arn: 'text',
  family: 'text',
  container_instance_id: 'text',
  container_instance_arn: 'text',
  last_status: 'text',
  desired_status: 'text',
  cpu: 'integer',
  memory: 'integer',
  host_ports: 'integer[]',
  host_ports_udp: 'integer[]',
  task_group: 'text',
  started_by: 'text',
  launch_type: 'text',
  overrides: 'jsonb',
  tags: 'jsonb',
  containers: 'jsonb',
  health_status: 'text',
  version: 'bigint',
  report_seq: 'bigint',
} satisfies Partial<Record<keyof TaskRow, string>>;
const INSERTED_COLUMNS = Object.keys(INSERTED_COLUMNS_TYPED) as (keyof TaskRow)[];

/**
 * One INSERT of many tasks, from one JSON array of their rows' inserted columns. A
 * data-modifying WITH runs to completion whether or not the query reads it; now() is the
 * transaction's time, every row's created_at.
 */
const INSERT_TASKS = `WITH inserted AS (
  INSERT INTO tasks (${INSERTED_COLUMNS.join(', ')}, created_at)
  SELECT ${INSERTED_COLUMNS.map((c) => `v.${c}`).join(', ')}, now()
    FROM jsonb_to_recordset($1::jsonb)
         AS v(${Object.entries(INSERTED_COLUMNS_TYPED)
           .map(([c, type]) => `${c} ${type}`)
           .join(', ')}))
SELECT now() AS created_at`;

/** The row `insertMany` stores for `t` (created_at is the transaction's now(), set after). */
function newRow(t: NewTask): TaskRow {
  return {
    id: t.id,
    arn: t.arn,
    cluster: t.cluster,
    task_definition_arn: t.task.taskDefinitionArn,
    family: t.family,
    container_instance_id: t.containerInstanceId,
    container_instance_arn: t.task.containerInstanceArn,
    last_status: 'PROVISIONING',
    desired_status: 'RUNNING',
    cpu: t.task.cpu,
    memory: t.task.memory,
    host_ports: t.task.hostPorts,
    host_ports_udp: t.task.hostPortsUdp,
    task_group: t.task.group,
    started_by: t.task.startedBy,
    launch_type: t.task.launchType || 'EC2',
    overrides: asJsonb(JSON.parse(t.task.overridesJson || '{}')),
    tags: asJsonb(JSON.parse(t.task.tagsJson || '[]')),
    // The caller's objects (as stored, less the properties that are undefined, which JSON
    // leaves out and toProto reads the same).
    containers: t.containers,
    health_status: 'UNKNOWN',
    version: '1',
    report_seq: '0',
    stop_code: null,
    stopped_reason: null,
    created_at: new Date(0),
    pull_started_at: null,
    pull_stopped_at: null,
    started_at: null,
    stopping_at: null,
    stopped_at: null,
    execution_stopped_at: null,
    protected_until: null,
  };
}

/**
 * A parsed JSON value with its objects' keys in the order a jsonb column gives them back:
 * shorter keys first, equal lengths bytewise (in UTF-8). So a row built from what was written
 * renders as the row read back does.
 */
function asJsonb(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asJsonb);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value).map((k) => ({ k, bytes: Buffer.from(k, 'utf8') }));
  keys.sort((a, b) => a.bytes.length - b.bytes.length || Buffer.compare(a.bytes, b.bytes));
  const ordered: Record<string, unknown> = {};
  for (const { k } of keys) ordered[k] = asJsonb((value as Record<string, unknown>)[k]);
  return ordered;
}

export class TaskRepository {
  constructor(private readonly arn: ArnContext) {}

  /** Which of these task ids are taken. */
  async existingIds(tx: PoolClient, ids: string[]): Promise<Set<string>> {
    const { rows } = await tx.query<{ id: string }>({
      name: 'wharf_tasks_existing_ids',
      text: 'SELECT id FROM tasks WHERE id = ANY($1::text[])',
      values: [ids],
    });
    return new Set(rows.map((r) => r.id));
  }

  async insert(tx: PoolClient, t: NewTask): Promise<TaskRow> {
    const [row] = await this.insertMany(tx, [t]);
    return row;
  }

  /**
   * Inserts tasks (PROVISIONING, desired RUNNING, version 1) in one statement; returns their
   * rows in the order given. The rows are built first (`newRow`) and what is inserted is taken
   * from them, so they are what a read would return: Postgres renders none of them back and
   * the driver parses none (a commit inserts hundreds; RETURNING * cost ~6 µs a task).
   */
  async insertMany(tx: PoolClient, tasks: readonly NewTask[]): Promise<TaskRow[]> {
    if (tasks.length === 0) return [];
    const rows = tasks.map(newRow);
    const { rows: inserted } = await tx.query<{ created_at: Date }>(INSERT_TASKS, [
      JSON.stringify(
        rows.map((r) => {
          const values: Record<string, unknown> = {};
          for (const column of INSERTED_COLUMNS) values[column] = r[column];
          return values;
        }),
      ),
    ]);
    for (const r of rows) r.created_at = inserted[0].created_at;
    return rows;
  }

  /** Locks the task of `cluster` with this id. */
  async lock(tx: PoolClient, id: string, cluster: string): Promise<TaskRow | undefined> {
    const { rows } = await tx.query<TaskRow>(
      'SELECT * FROM tasks WHERE id = $1 AND cluster = $2 FOR UPDATE',
      [id, cluster],
    );
    return rows[0];
  }

  /**
   * Locks the tasks with these ARNs (in id order, so concurrent batches cannot deadlock). Found
   * by id, the ARN's last part (the primary key; `arn` has no index of its own), and only where
   * the whole ARN matches.
   */
  async lockByArns(tx: PoolClient, taskArns: string[]): Promise<Map<string, TaskRow>> {
    const { rows } = await tx.query<TaskRow>(
      'SELECT * FROM tasks WHERE id = ANY($1::text[]) AND arn = ANY($2::text[]) ORDER BY id FOR UPDATE',
      [taskArns.map((arn) => resourceIdOf(arn, 'task')), taskArns],
    );
    return new Map(rows.map((r) => [r.arn, r]));
  }

  /** Applies changes and bumps the version; returns the new row. */
  async update(tx: PoolClient, id: string, c: TaskChanges): Promise<TaskRow> {
    const [row] = await this.updateMany(tx, [{ id, changes: c, bumpBy: 1 }]);
    return row;
  }

  /**
   * Applies each task's changes and bumps its version by `bumpBy`, in one statement (the
   * caller holds the row locks). Returns the new rows in the order given.
   */
  async updateMany(tx: PoolClient, updates: readonly TaskUpdate[]): Promise<TaskRow[]> {
    const rows = await this.write(tx, updates, 'RETURNING t.*');
    const byId = new Map(rows.map((r) => [r.id, r]));
    return updates.map((u) => byId.get(u.id)!);
  }

  /**
   * `updateMany` for a caller that has the new rows already (`withChanges`): Postgres renders
   * and the driver parses none of them (a report batch writes hundreds).
   */
  async writeMany(tx: PoolClient, updates: readonly TaskUpdate[]): Promise<void> {
    await this.write(tx, updates, '');
  }

  private async write(
    tx: PoolClient,
    updates: readonly TaskUpdate[],
    returning: 'RETURNING t.*' | '',
  ): Promise<TaskRow[]> {
    if (updates.length === 0) return [];
    const at = (epochMs: number) => tsParam(epochMs)?.toISOString() ?? null;
    // Not a prepared statement (a name): Postgres's generic plan for it, chosen after five
    // runs, took four times as long under placement load as the plan made for each batch.
    const { rows } = await tx.query<TaskRow>(
      `UPDATE tasks t SET last_status = v.last_status, desired_status = v.desired_status,
         containers = v.containers, health_status = v.health_status, stop_code = v.stop_code,
         stopped_reason = v.stopped_reason, report_seq = v.report_seq,
         pull_started_at = v.pull_started_at, pull_stopped_at = v.pull_stopped_at,
         started_at = v.started_at, stopping_at = v.stopping_at, stopped_at = v.stopped_at,
         execution_stopped_at = v.execution_stopped_at, version = t.version + v.bump_by
         FROM jsonb_to_recordset($1::jsonb)
              AS v(id text, last_status text, desired_status text, containers jsonb,
                   health_status text, stop_code text, stopped_reason text, report_seq bigint,
                   pull_started_at timestamptz, pull_stopped_at timestamptz,
                   started_at timestamptz, stopping_at timestamptz, stopped_at timestamptz,
                   execution_stopped_at timestamptz, bump_by integer)
        WHERE t.id = v.id
       ${returning}`,
      [
        JSON.stringify(
          updates.map(({ id, changes: c, bumpBy }) => ({
            id,
            last_status: c.lastStatus,
            desired_status: c.desiredStatus,
            containers: c.containers,
            health_status: c.healthStatus,
            stop_code: c.stopCode,
            stopped_reason: c.stoppedReason,
            report_seq: c.reportSeq,
            pull_started_at: at(c.pullStartedAt),
            pull_stopped_at: at(c.pullStoppedAt),
            started_at: at(c.startedAt),
            stopping_at: at(c.stoppingAt),
            stopped_at: at(c.stoppedAt),
            execution_stopped_at: at(c.executionStoppedAt),
            bump_by: bumpBy,
          })),
        ),
      ],
    );
    return rows;
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

  /** Tasks on an instance not yet STOPPED, locked, in id order. */
  async liveOn(tx: PoolClient, containerInstanceId: string): Promise<TaskRow[]> {
    const { rows } = await tx.query<TaskRow>(
      `SELECT * FROM tasks WHERE container_instance_id = $1 AND last_status <> 'STOPPED'
        ORDER BY id FOR UPDATE`,
      [containerInstanceId],
    );
    return rows;
  }

  /**
   * Deletes up to `limit` tasks STOPPED longer ago than `olderThanMs` (rows another
   * transaction holds are skipped); returns how many.
   */
  async deleteStoppedBefore(tx: PoolClient, olderThanMs: number, limit: number): Promise<number> {
    const { rowCount } = await tx.query(
      `DELETE FROM tasks WHERE id IN (
         SELECT id FROM tasks
          WHERE last_status = 'STOPPED'
            AND stopped_at < now() - make_interval(secs => $1::double precision / 1000)
          LIMIT $2
            FOR UPDATE SKIP LOCKED)`,
      [olderThanMs, limit],
    );
    return rowCount ?? 0;
  }

  /**
   * Tasks still PROVISIONING with desired status RUNNING, created more than `olderThanMs` ago
   * by the database's clock, on instances whose agent is connected, in id order after
   * `afterId`, with their agent's address.
   */
  async provisioningOlderThan(
    q: Queryable,
    cluster: string,
    olderThanMs: number,
    afterId: string,
    limit: number,
  ): Promise<(TaskRow & { agent_address: string })[]> {
    const { rows } = await q.query<TaskRow & { agent_address: string }>(
      `SELECT t.*, ci.agent_address
         FROM tasks t JOIN container_instances ci ON ci.id = t.container_instance_id
        WHERE t.cluster = $1 AND t.last_status = 'PROVISIONING' AND t.desired_status = 'RUNNING'
          AND t.created_at < now() - make_interval(secs => $2::double precision / 1000)
          AND ci.agent_connected AND t.id > $3
        ORDER BY t.id
        LIMIT $4`,
      [cluster, olderThanMs, afterId, limit],
    );
    return rows;
  }

  /** Tasks of a group (e.g. `service:web`) not yet STOPPED, in id order. */
  async liveInGroup(q: Queryable, cluster: string, group: string): Promise<TaskRow[]> {
    const { rows } = await q.query<TaskRow>(
      `SELECT * FROM tasks WHERE cluster = $1 AND task_group = $2 AND last_status <> 'STOPPED'
        ORDER BY id`,
      [cluster, group],
    );
    return rows;
  }

  /** A group's tasks that STOPPED at or after `since`, oldest first. */
  async stoppedInGroupSince(
    q: Queryable,
    cluster: string,
    group: string,
    since: Date,
  ): Promise<TaskRow[]> {
    const { rows } = await q.query<TaskRow>(
      `SELECT * FROM tasks WHERE cluster = $1 AND task_group = $2 AND last_status = 'STOPPED'
          AND stopped_at >= $3
        ORDER BY stopped_at, id`,
      [cluster, group, since],
    );
    return rows;
  }

  /** Locks the tasks of `cluster` with these ids (in id order, as `lockByArns`). */
  async lockByIds(tx: PoolClient, cluster: string, ids: string[]): Promise<Map<string, TaskRow>> {
    const { rows } = await tx.query<TaskRow>(
      'SELECT * FROM tasks WHERE cluster = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE',
      [cluster, ids],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  /**
   * Sets the scale-in protection of the tasks (epoch ms; 0 clears it) and bumps each version,
   * in one statement (the caller holds the row locks). Returns the new rows in id order.
   */
  async setProtectedUntil(tx: PoolClient, ids: string[], until: number): Promise<TaskRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await tx.query<TaskRow>(
      `UPDATE tasks SET protected_until = $2, version = version + 1
        WHERE id = ANY($1::text[])
       RETURNING *`,
      [ids, tsParam(until)],
    );
    return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
      protectedUntil: protectedUntilOf(r),
    };
  }

  /**
   * The row as `update` would leave it after these changes (version + 1), without writing it:
   * to apply several changes in memory and write the last once.
   */
  withChanges(r: TaskRow, c: TaskChanges): TaskRow {
    return {
      ...r,
      last_status: c.lastStatus,
      desired_status: c.desiredStatus,
      // As stored: through JSON (a property that is undefined is dropped).
      containers: JSON.parse(JSON.stringify(c.containers)) as common.Container[],
      health_status: c.healthStatus,
      stop_code: c.stopCode,
      stopped_reason: c.stoppedReason,
      report_seq: String(c.reportSeq),
      pull_started_at: tsParam(c.pullStartedAt),
      pull_stopped_at: tsParam(c.pullStoppedAt),
      started_at: tsParam(c.startedAt),
      stopping_at: tsParam(c.stoppingAt),
      stopped_at: tsParam(c.stoppedAt),
      execution_stopped_at: tsParam(c.executionStoppedAt),
      version: String(Number(r.version) + 1),
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

/** Epoch ms until which the task is protected; 0 when it is not (never, cleared or expired). */
export function protectedUntilOf(r: Pick<TaskRow, 'protected_until'>, now = Date.now()): number {
  const until = ms(r.protected_until);
  return until > now ? until : 0;
}
