import type { Pool, PoolClient } from 'pg';
import { ArnContext, arns } from '@wharf/domain';
import type { common } from '@wharf/proto';
import { ms } from './db';

type Queryable = Pool | PoolClient;

interface TaskDefinitionRow {
  family: string;
  revision: number;
  status: string;
  definition: Record<string, unknown>;
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
    };
  }
}
