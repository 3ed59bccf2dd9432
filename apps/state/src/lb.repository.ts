import { randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import {
  ElbConflictError,
  ElbNotFoundError,
  InvalidParameterError,
  LbResourceKind,
} from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import { ms } from './db';

type Queryable = Pool | PoolClient;

export const LB_RESOURCE_KINDS: readonly LbResourceKind[] = [
  'load-balancer',
  'listener',
  'rule',
  'target-group',
];

export interface LbResourceRow {
  arn: string;
  kind: LbResourceKind;
  name: string;
  parent_arn: string | null;
  spec: unknown;
  version: string;
  created_at: Date;
}

export interface LbResourceFilter {
  kind?: LbResourceKind;
  parentArn?: string;
  arns?: string[];
  names?: string[];
}

/** A `kind` from a request. */
export function lbKindOf(kind: string): LbResourceKind {
  if (!(LB_RESOURCE_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidParameterError(
      `kind must be one of ${LB_RESOURCE_KINDS.join(', ')}, not '${kind}'`,
    );
  }
  return kind as LbResourceKind;
}

/** A new ELBv2 resource id: 16 hex digits. */
export function newElbResourceId(): string {
  return randomBytes(8).toString('hex');
}

const NOT_FOUND: Record<LbResourceKind, [ElbNotFoundError['ecsName'], string]> = {
  'load-balancer': ['LoadBalancerNotFoundException', 'Load balancer'],
  listener: ['ListenerNotFoundException', 'Listener'],
  rule: ['RuleNotFoundException', 'Rule'],
  'target-group': ['TargetGroupNotFoundException', 'Target group'],
};

export function lbResourceNotFound(kind: LbResourceKind, arn: string): ElbNotFoundError {
  const [name, what] = NOT_FOUND[kind];
  return new ElbNotFoundError(
    name as ConstructorParameters<typeof ElbNotFoundError>[0],
    `${what} '${arn}' not found`,
  );
}

/** lb_resources: one row per load balancer, listener, rule and target group. */
export class LbRepository {
  async find(
    q: Queryable,
    arn: string,
    lock?: 'update' | 'share',
  ): Promise<LbResourceRow | undefined> {
    const { rows } = await q.query<LbResourceRow>(
      `SELECT * FROM lb_resources WHERE arn = $1
        ${lock === 'update' ? 'FOR UPDATE' : lock === 'share' ? 'FOR SHARE' : ''}`,
      [arn],
    );
    return rows[0];
  }

  /**
   * The resource `arn` names if it is of `kind`, locked (share: it cannot be deleted or
   * changed before this transaction ends); NOT_FOUND of that kind otherwise.
   */
  async get(
    q: Queryable,
    kind: LbResourceKind,
    arn: string,
    lock?: 'update' | 'share',
  ): Promise<LbResourceRow> {
    const row = await this.find(q, arn, lock);
    if (!row || row.kind !== kind) throw lbResourceNotFound(kind, arn);
    return row;
  }

  async insert(
    tx: PoolClient,
    r: { arn: string; kind: LbResourceKind; name: string; parentArn: string | null; spec: unknown },
  ): Promise<LbResourceRow> {
    try {
      const { rows } = await tx.query<LbResourceRow>(
        `INSERT INTO lb_resources (arn, kind, name, parent_arn, spec)
         VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING *`,
        [r.arn, r.kind, r.name, r.parentArn, JSON.stringify(r.spec)],
      );
      return rows[0];
    } catch (err) {
      throw conflictOf(err, r.spec, r.parentArn) ?? err;
    }
  }

  async replace(tx: PoolClient, row: LbResourceRow, spec: unknown): Promise<LbResourceRow> {
    try {
      const { rows } = await tx.query<LbResourceRow>(
        `UPDATE lb_resources SET spec = $2::jsonb, version = version + 1
          WHERE arn = $1 RETURNING *`,
        [row.arn, JSON.stringify(spec)],
      );
      return rows[0];
    } catch (err) {
      throw conflictOf(err, spec, row.parent_arn) ?? err;
    }
  }

  /** The listeners of a load balancer or the rules of a listener, oldest first, locked. */
  async children(tx: PoolClient, parentArn: string): Promise<LbResourceRow[]> {
    const { rows } = await tx.query<LbResourceRow>(
      `SELECT * FROM lb_resources WHERE parent_arn = $1 ORDER BY created_at, arn FOR UPDATE`,
      [parentArn],
    );
    return rows;
  }

  /** Deletes the resources in one statement (children may be deleted with their parent). */
  async delete(tx: PoolClient, arns: string[]): Promise<void> {
    await tx.query('DELETE FROM lb_resources WHERE arn = ANY($1::text[])', [arns]);
  }

  async list(q: Queryable, f: LbResourceFilter): Promise<LbResourceRow[]> {
    const { rows } = await q.query<LbResourceRow>(
      `SELECT * FROM lb_resources
        WHERE ($1::text IS NULL OR kind = $1)
          AND ($2::text IS NULL OR parent_arn = $2)
          AND (cardinality($3::text[]) = 0 OR arn = ANY($3::text[]))
          AND (cardinality($4::text[]) = 0 OR name = ANY($4::text[]))
        ORDER BY created_at, arn`,
      [f.kind ?? null, f.parentArn || null, f.arns ?? [], f.names ?? []],
    );
    return rows;
  }

  /** Listeners and rules with an action forwarding to the target group. */
  async usersOfTargetGroup(q: Queryable, targetGroupArn: string): Promise<string[]> {
    const { rows } = await q.query<{ arn: string }>(
      `SELECT arn FROM lb_resources
        WHERE kind IN ('listener', 'rule')
          AND (jsonb_path_exists(spec, '$.defaultActions[*].forwardConfig.targetGroups[*] ? (@.targetGroupArn == $tg)', $1)
            OR jsonb_path_exists(spec, '$.actions[*].forwardConfig.targetGroups[*] ? (@.targetGroupArn == $tg)', $1))
        ORDER BY created_at, arn`,
      [JSON.stringify({ tg: targetGroupArn })],
    );
    return rows.map((r) => r.arn);
  }

  /** Services not INACTIVE whose loadBalancers name the target group. */
  async servicesUsingTargetGroup(q: Queryable, targetGroupArn: string): Promise<string[]> {
    const { rows } = await q.query<{ arn: string }>(
      `SELECT arn FROM services
        WHERE status <> 'INACTIVE' AND load_balancers @> $1::jsonb
        ORDER BY created_at`,
      [JSON.stringify([{ targetGroupArn }])],
    );
    return rows.map((r) => r.arn);
  }

  toProto(row: LbResourceRow, version = Number(row.version)): stateV1.LbResource {
    return {
      arn: row.arn,
      kind: row.kind,
      name: row.name,
      parentArn: row.parent_arn ?? '',
      specJson: JSON.stringify(row.spec),
      version,
      createdAt: ms(row.created_at),
    };
  }
}

/** A unique violation of lb_resources as the ELBv2 error it means. */
function conflictOf(
  err: unknown,
  spec: unknown,
  parentArn: string | null,
): ElbConflictError | undefined {
  const e = err as { code?: string; constraint?: string };
  if (e.code !== '23505') return undefined;
  const s = spec as {
    loadBalancerName?: string;
    targetGroupName?: string;
    port?: number;
    priority?: number;
  };
  switch (e.constraint) {
    case 'lb_resources_load_balancer_name':
      return new ElbConflictError(
        'DuplicateLoadBalancerNameException',
        `A load balancer with the name '${s.loadBalancerName}' already exists`,
      );
    case 'lb_resources_target_group_name':
      return new ElbConflictError(
        'DuplicateTargetGroupNameException',
        `A target group with the name '${s.targetGroupName}' already exists`,
      );
    case 'lb_resources_listener_port':
      return new ElbConflictError(
        'DuplicateListenerException',
        `A listener already exists on port ${s.port} (listener ports are unique over every load balancer)`,
      );
    case 'lb_resources_rule_priority':
      return new ElbConflictError(
        'PriorityInUseException',
        `Priority '${s.priority}' is currently in use on listener '${parentArn}'`,
      );
    default:
      return undefined;
  }
}
