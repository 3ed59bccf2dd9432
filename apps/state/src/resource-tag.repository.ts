import type { Pool, PoolClient } from 'pg';
import {
  ArnContext,
  InvalidParameterError,
  parseArn,
  parseTaskDefinitionRef,
  ResourceTag,
} from '@wharf/domain';

type Queryable = Pool | PoolClient;

/** The ECS resource kinds Wharf keeps tags on, by their ARN's resource type. */
export type TaggableKind =
  'cluster' | 'service' | 'task-definition' | 'task' | 'container-instance';

/**
 * A taggable resource named by an ARN: the table its tags are kept in and the row's key. The
 * cluster is set for kinds that live in one (a task or container instance ARN in the old
 * short format names none; the id alone finds it).
 */
export interface TaggableRef {
  kind: TaggableKind;
  arn: string;
  cluster?: string;
  /** cluster: name; service: name; task, container instance: id; task definition: family. */
  name: string;
  revision?: number;
}

const KINDS: readonly string[] = [
  'cluster',
  'service',
  'task-definition',
  'task',
  'container-instance',
];

/**
 * Reads an ECS ARN for tagging. Not an ECS ARN of this region and account, or of a kind Wharf
 * does not keep, is refused naming `resourceArn`.
 */
export function taggableRefOf(arn: string, ctx: ArnContext): TaggableRef {
  const parsed = parseArn(arn);
  if (!parsed) {
    throw new InvalidParameterError(`resourceArn: '${arn}' is not a valid Amazon ECS ARN.`);
  }
  if (parsed.region !== ctx.region || parsed.accountId !== ctx.accountId) {
    throw new InvalidParameterError(
      `resourceArn: '${arn}' is not in this region and account (${ctx.region}, ${ctx.accountId}).`,
    );
  }
  if (!KINDS.includes(parsed.resourceType)) {
    throw new InvalidParameterError(
      `resourceArn: Wharf keeps tags on clusters, services, task definitions, tasks and container instances, not on ${parsed.resourceType} resources.`,
    );
  }
  const kind = parsed.resourceType as TaggableKind;
  const parts = parsed.parts;
  const invalid = () =>
    new InvalidParameterError(`resourceArn: '${arn}' is not a valid ${kind} ARN.`);
  if (parts.some((p) => p === '')) throw invalid();
  switch (kind) {
    case 'cluster':
      if (parts.length !== 1) throw invalid();
      return { kind, arn, cluster: parts[0], name: parts[0] };
    case 'service':
      // Wharf's service ARNs are in the long format: service/<cluster>/<name>.
      if (parts.length !== 2) throw invalid();
      return { kind, arn, cluster: parts[0], name: parts[1] };
    case 'task':
    case 'container-instance':
      if (parts.length === 2) return { kind, arn, cluster: parts[0], name: parts[1] };
      if (parts.length === 1) return { kind, arn, name: parts[0] };
      throw invalid();
    case 'task-definition': {
      const ref = parts.length === 1 ? parseTaskDefinitionRef(parts[0]) : undefined;
      if (!ref || ref.revision === undefined) throw invalid();
      return { kind, arn, name: ref.family, revision: ref.revision };
    }
  }
}

/** Tags as stored (possibly without a value, from before they were normalised) → ECS tags. */
export function normaliseTags(stored: unknown): ResourceTag[] {
  if (!Array.isArray(stored)) return [];
  return stored
    .filter((t): t is { key: string; value?: string } => typeof t?.key === 'string')
    .map((t) => ({ key: t.key, value: typeof t.value === 'string' ? t.value : '' }));
}

/** Where each kind keeps its tags; `$1…` are the key values in order. */
const LOCATORS: Record<TaggableKind, (r: TaggableRef) => { where: string; params: unknown[] }> = {
  cluster: (r) => ({ where: 'name = $1', params: [r.name] }),
  // A name means its live service, else its newest INACTIVE one (as DescribeServices).
  service: (r) => ({
    where: `id = (SELECT id FROM services WHERE cluster = $1 AND name = $2
                   ORDER BY (status = 'INACTIVE'), created_at DESC LIMIT 1)`,
    params: [r.cluster, r.name],
  }),
  'task-definition': (r) => ({
    where: 'family = $1 AND revision = $2',
    params: [r.name, r.revision],
  }),
  task: (r) => ({
    where: 'id = $1 AND ($2::text IS NULL OR cluster = $2)',
    params: [r.name, r.cluster ?? null],
  }),
  'container-instance': (r) => ({
    where: 'id = $1 AND ($2::text IS NULL OR cluster = $2)',
    params: [r.name, r.cluster ?? null],
  }),
};

const TABLES: Record<TaggableKind, string> = {
  cluster: 'clusters',
  service: 'services',
  'task-definition': 'task_definitions',
  task: 'tasks',
  'container-instance': 'container_instances',
};

/** The `tags` column of clusters, services, task definitions, tasks and container instances. */
export class ResourceTagRepository {
  /** The resource's tags (locked for update with `lock`), or undefined when it is not there. */
  async find(q: Queryable, ref: TaggableRef, lock = false): Promise<ResourceTag[] | undefined> {
    const { where, params } = LOCATORS[ref.kind](ref);
    const { rows } = await q.query<{ tags: unknown }>(
      `SELECT tags FROM ${TABLES[ref.kind]} WHERE ${where} ${lock ? 'FOR UPDATE' : ''}`,
      params,
    );
    return rows[0] ? normaliseTags(rows[0].tags) : undefined;
  }

  async replace(tx: PoolClient, ref: TaggableRef, tags: ResourceTag[]): Promise<void> {
    const { where, params } = LOCATORS[ref.kind](ref);
    await tx.query(
      `UPDATE ${TABLES[ref.kind]} SET tags = $${params.length + 1}::jsonb WHERE ${where}`,
      [...params, JSON.stringify(tags)],
    );
  }
}
