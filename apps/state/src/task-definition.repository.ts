import type { Pool, PoolClient } from 'pg';
import { ArnContext, arns } from '@wharf/domain';
import type { common } from '@wharf/proto';
import { ms } from './db';
import { normaliseTags } from './resource-tag.repository';

type Queryable = Pool | PoolClient;

interface TaskDefinitionRow {
  family: string;
  revision: number;
  status: string;
  definition: Record<string, unknown>;
  tags: unknown;
  registered_at: Date;
  deregistered_at: Date | null;
}

export class TaskDefinitionRepository {
  constructor(private readonly arn: ArnContext) {}

  /**
   * The next revision of a family. The upsert takes the family row's lock, so concurrent
   * registrations of one family get distinct, increasing revisions; numbers are never reused.
   */
  async nextRevision(tx: PoolClient, family: string): Promise<number> {
    const { rows } = await tx.query<{ last_revision: number }>(
      `INSERT INTO task_definition_families (family, last_revision) VALUES ($1, 1)
       ON CONFLICT (family) DO UPDATE
         SET last_revision = task_definition_families.last_revision + 1
       RETURNING last_revision`,
      [family],
    );
    return rows[0].last_revision;
  }

  async insert(
    tx: PoolClient,
    family: string,
    revision: number,
    definition: Record<string, unknown>,
    tags: unknown,
    registeredAt: Date,
  ): Promise<common.TaskDefinition> {
    const { rows } = await tx.query<TaskDefinitionRow>(
      `INSERT INTO task_definitions (family, revision, status, definition, tags, registered_at)
       VALUES ($1, $2, 'ACTIVE', $3::jsonb, $4::jsonb, $5) RETURNING *`,
      [family, revision, JSON.stringify(definition), JSON.stringify(tags ?? []), registeredAt],
    );
    return this.toProto(rows[0]);
  }

  async find(
    q: Queryable,
    family: string,
    revision: number,
  ): Promise<common.TaskDefinition | undefined> {
    const { rows } = await q.query<TaskDefinitionRow>(
      'SELECT * FROM task_definitions WHERE family = $1 AND revision = $2',
      [family, revision],
    );
    return rows[0] && this.toProto(rows[0]);
  }

  async findLatestActive(q: Queryable, family: string): Promise<common.TaskDefinition | undefined> {
    const { rows } = await q.query<TaskDefinitionRow>(
      `SELECT * FROM task_definitions WHERE family = $1 AND status = 'ACTIVE'
        ORDER BY revision DESC LIMIT 1`,
      [family],
    );
    return rows[0] && this.toProto(rows[0]);
  }

  /** The revision's row, locked FOR UPDATE until the transaction ends. */
  async lock(
    tx: PoolClient,
    family: string,
    revision: number,
  ): Promise<common.TaskDefinition | undefined> {
    const { rows } = await tx.query<TaskDefinitionRow>(
      'SELECT * FROM task_definitions WHERE family = $1 AND revision = $2 FOR UPDATE',
      [family, revision],
    );
    return rows[0] && this.toProto(rows[0]);
  }

  /** ACTIVE → INACTIVE with deregistered_at; returns the revision as it now is. */
  async deregister(
    tx: PoolClient,
    family: string,
    revision: number,
  ): Promise<common.TaskDefinition> {
    const { rows } = await tx.query<TaskDefinitionRow>(
      `UPDATE task_definitions SET status = 'INACTIVE', deregistered_at = now()
        WHERE family = $1 AND revision = $2 RETURNING *`,
      [family, revision],
    );
    return this.toProto(rows[0]);
  }

  async markDeleteInProgress(
    tx: PoolClient,
    family: string,
    revision: number,
  ): Promise<common.TaskDefinition> {
    const { rows } = await tx.query<TaskDefinitionRow>(
      `UPDATE task_definitions SET status = 'DELETE_IN_PROGRESS'
        WHERE family = $1 AND revision = $2 RETURNING *`,
      [family, revision],
    );
    return this.toProto(rows[0]);
  }

  /**
   * Of these ARNs, the ones still used: by a task not STOPPED, or by a service not INACTIVE
   * (its task definition or one of its deployments that is not INACTIVE).
   */
  async inUse(q: Queryable, taskDefinitionArns: string[]): Promise<Set<string>> {
    if (taskDefinitionArns.length === 0) return new Set();
    const { rows } = await q.query<{ arn: string }>(
      `SELECT DISTINCT task_definition_arn AS arn FROM tasks
        WHERE task_definition_arn = ANY($1::text[]) AND last_status <> 'STOPPED'
       UNION
       SELECT task_definition_arn FROM services
        WHERE task_definition_arn = ANY($1::text[]) AND status <> 'INACTIVE'
       UNION
       SELECT d.task_definition_arn FROM service_deployments d
         JOIN services s ON s.id = d.service_id
        WHERE d.task_definition_arn = ANY($1::text[]) AND d.status <> 'INACTIVE'
          AND s.status <> 'INACTIVE'`,
      [taskDefinitionArns],
    );
    return new Set(rows.map((r) => r.arn));
  }

  /**
   * Revisions DELETE_IN_PROGRESS after (family, revision), locked; ones another transaction
   * holds are skipped.
   */
  async lockDeleteInProgress(
    tx: PoolClient,
    after: { family: string; revision: number },
    limit: number,
  ): Promise<common.TaskDefinition[]> {
    const { rows } = await tx.query<TaskDefinitionRow>(
      `SELECT * FROM task_definitions
        WHERE status = 'DELETE_IN_PROGRESS' AND (family, revision) > ($1, $2)
        ORDER BY family, revision LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [after.family, after.revision, limit],
    );
    return rows.map((r) => this.toProto(r));
  }

  async remove(tx: PoolClient, family: string, revision: number): Promise<void> {
    await tx.query('DELETE FROM task_definitions WHERE family = $1 AND revision = $2', [
      family,
      revision,
    ]);
  }

  /**
   * A page of revisions in (family, revision) byte order, ascending or descending, after
   * `after` (exclusive). The order is total and never changes, so pages stay stable while
   * others register or delete.
   */
  async page(
    q: Queryable,
    filter: { familyPrefix: string; status: string; descending: boolean },
    after: { family: string; revision: number } | undefined,
    limit: number,
  ): Promise<{ family: string; revision: number }[]> {
    const dir = filter.descending ? 'DESC' : 'ASC';
    const cmp = filter.descending ? '<' : '>';
    const { rows } = await q.query<{ family: string; revision: number }>(
      `SELECT family, revision FROM task_definitions
        WHERE status = $1 AND starts_with(family, $2)
          ${after ? `AND (family COLLATE "C", revision) ${cmp} ($4::text COLLATE "C", $5::int)` : ''}
        ORDER BY family COLLATE "C" ${dir}, revision ${dir} LIMIT $3`,
      after
        ? [filter.status, filter.familyPrefix, limit, after.family, after.revision]
        : [filter.status, filter.familyPrefix, limit],
    );
    return rows;
  }

  /**
   * Families that still have a revision, in byte order after `after`: ACTIVE ones have an
   * ACTIVE revision, INACTIVE ones have none, ALL is both.
   */
  async familyPage(
    q: Queryable,
    filter: { familyPrefix: string; status: 'ACTIVE' | 'INACTIVE' | 'ALL' },
    after: string | undefined,
    limit: number,
  ): Promise<string[]> {
    const having =
      filter.status === 'ACTIVE'
        ? `HAVING bool_or(status = 'ACTIVE')`
        : filter.status === 'INACTIVE'
          ? `HAVING NOT bool_or(status = 'ACTIVE')`
          : '';
    const { rows } = await q.query<{ family: string }>(
      `SELECT family COLLATE "C" AS family FROM task_definitions
        WHERE starts_with(family, $1)
          ${after === undefined ? '' : `AND family COLLATE "C" > $3::text COLLATE "C"`}
        GROUP BY family COLLATE "C" ${having}
        ORDER BY family COLLATE "C" LIMIT $2`,
      after === undefined ? [filter.familyPrefix, limit] : [filter.familyPrefix, limit, after],
    );
    return rows.map((r) => r.family);
  }

  arnOf(family: string, revision: number): string {
    return arns.taskDefinition(this.arn, family, revision);
  }

  private toProto(r: TaskDefinitionRow): common.TaskDefinition {
    return {
      taskDefinitionArn: this.arnOf(r.family, r.revision),
      family: r.family,
      revision: r.revision,
      status: r.status,
      definitionJson: JSON.stringify({ ...r.definition, status: r.status }),
      registeredAt: ms(r.registered_at),
      deregisteredAt: ms(r.deregistered_at),
      tagsJson: JSON.stringify(normaliseTags(r.tags)),
    };
  }
}
