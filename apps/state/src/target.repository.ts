import type { Pool, PoolClient } from 'pg';
import type { stateV1 } from '@wharf/proto';
import { ms } from './db';

type Queryable = Pool | PoolClient;

export interface TargetRow {
  target_group_arn: string;
  id: string;
  port: number;
  host: string;
  task_arn: string;
  service_arn: string;
  state: string;
  reason: string;
  description: string;
  registered_at: Date;
  draining_since: Date | null;
  updated_at: Date;
  version: string;
}

export interface TargetKey {
  targetGroupArn: string;
  id: string;
  port: number;
}

/**
 * `items` sorted by target (group, id, port): the order in which every transaction that
 * writes several targets locks their rows, so two such transactions (two lb replicas
 * reporting the same targets in different orders) never wait on each other in a cycle.
 */
export function inLockOrder<T>(items: readonly T[], keyOf: (item: T) => TargetKey): T[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...items].sort((x, y) => {
    const a = keyOf(x);
    const b = keyOf(y);
    return cmp(a.targetGroupArn, b.targetGroupArn) || cmp(a.id, b.id) || a.port - b.port;
  });
}

/** ELBv2 TargetHealth reasons and descriptions of the states state itself sets. */
export const TARGET_HEALTH = {
  initial: {
    reason: 'Elb.RegistrationInProgress',
    description: 'Target registration is in progress',
  },
  draining: {
    reason: 'Target.DeregistrationInProgress',
    description: 'Target deregistration is in progress',
  },
  notRegistered: {
    reason: 'Target.NotRegistered',
    description: 'Target is not registered to the target group',
  },
} as const;

/** States a health report may change (a draining target keeps draining until removed). */
const REPORTABLE = ['initial', 'healthy', 'unhealthy'];

/** lb_targets: the targets of target groups with their health. */
export class TargetRepository {
  /**
   * Registers a target: a new one, or one draining (or of another task), starts over as
   * `initial`; one registered as it is stays untouched. Returns the row when it changed.
   */
  async register(
    tx: PoolClient,
    t: TargetKey & { host: string; taskArn: string; serviceArn: string },
  ): Promise<TargetRow | undefined> {
    const { rows } = await tx.query<TargetRow>(
      `INSERT INTO lb_targets AS t
         (target_group_arn, id, port, host, task_arn, service_arn, state, reason, description)
       VALUES ($1, $2, $3, $4, $5, $6, 'initial', $7, $8)
       ON CONFLICT (target_group_arn, id, port) DO UPDATE SET
         host = EXCLUDED.host,
         task_arn = EXCLUDED.task_arn,
         service_arn = EXCLUDED.service_arn,
         state = CASE WHEN t.state IN ('draining', 'unused') OR t.task_arn <> EXCLUDED.task_arn
                      THEN 'initial' ELSE t.state END,
         reason = CASE WHEN t.state IN ('draining', 'unused') OR t.task_arn <> EXCLUDED.task_arn
                       THEN EXCLUDED.reason ELSE t.reason END,
         description = CASE WHEN t.state IN ('draining', 'unused') OR t.task_arn <> EXCLUDED.task_arn
                            THEN EXCLUDED.description ELSE t.description END,
         registered_at = CASE WHEN t.state IN ('draining', 'unused') OR t.task_arn <> EXCLUDED.task_arn
                              THEN now() ELSE t.registered_at END,
         draining_since = NULL,
         updated_at = now(),
         version = t.version + 1
       WHERE t.state IN ('draining', 'unused')
          OR (t.host, t.task_arn, t.service_arn)
             IS DISTINCT FROM (EXCLUDED.host, EXCLUDED.task_arn, EXCLUDED.service_arn)
       RETURNING *`,
      [
        t.targetGroupArn,
        t.id,
        t.port,
        t.host,
        t.taskArn,
        t.serviceArn,
        TARGET_HEALTH.initial.reason,
        TARGET_HEALTH.initial.description,
      ],
    );
    return rows[0];
  }

  /** Moves a registered target to `draining`; undefined when unknown or already draining. */
  async startDraining(tx: PoolClient, k: TargetKey): Promise<TargetRow | undefined> {
    const { rows } = await tx.query<TargetRow>(
      `UPDATE lb_targets SET state = 'draining', reason = $4, description = $5,
              draining_since = now(), updated_at = now(), version = version + 1
        WHERE target_group_arn = $1 AND id = $2 AND port = $3 AND state <> 'draining'
        RETURNING *`,
      [
        k.targetGroupArn,
        k.id,
        k.port,
        TARGET_HEALTH.draining.reason,
        TARGET_HEALTH.draining.description,
      ],
    );
    return rows[0];
  }

  /**
   * Records a health check result on a target in a reportable state when its state or reason
   * differs; undefined when nothing changed (unknown, draining or the same report again).
   */
  async reportHealth(
    tx: PoolClient,
    k: TargetKey & { state: string; reason: string; description: string },
  ): Promise<TargetRow | undefined> {
    const { rows } = await tx.query<TargetRow>(
      `UPDATE lb_targets SET state = $4, reason = $5, description = $6,
              updated_at = now(), version = version + 1
        WHERE target_group_arn = $1 AND id = $2 AND port = $3
          AND state = ANY($7::text[]) AND (state, reason) IS DISTINCT FROM ($4, $5)
        RETURNING *`,
      [k.targetGroupArn, k.id, k.port, k.state, k.reason, k.description, REPORTABLE],
    );
    return rows[0];
  }

  async find(q: Queryable, k: TargetKey): Promise<TargetRow | undefined> {
    const { rows } = await q.query<TargetRow>(
      'SELECT * FROM lb_targets WHERE target_group_arn = $1 AND id = $2 AND port = $3',
      [k.targetGroupArn, k.id, k.port],
    );
    return rows[0];
  }

  /** A group's targets ('' = every group's), by group, id and port. */
  async list(q: Queryable, targetGroupArn: string): Promise<TargetRow[]> {
    const { rows } = await q.query<TargetRow>(
      `SELECT * FROM lb_targets WHERE ($1 = '' OR target_group_arn = $1)
        ORDER BY target_group_arn, id, port`,
      [targetGroupArn],
    );
    return rows;
  }

  /** Removes every target of a group (the group is being deleted). */
  async deleteOfGroup(tx: PoolClient, targetGroupArn: string): Promise<TargetRow[]> {
    const { rows } = await tx.query<TargetRow>(
      `DELETE FROM lb_targets WHERE target_group_arn = $1 RETURNING *`,
      [targetGroupArn],
    );
    return rows.sort((a, b) => a.id.localeCompare(b.id) || a.port - b.port);
  }

  /**
   * Removes up to `limit` draining targets whose group's deregistration delay has passed,
   * skipping rows another replica's sweep holds.
   */
  async deleteDrained(tx: PoolClient, limit: number): Promise<TargetRow[]> {
    const { rows } = await tx.query<TargetRow>(
      `WITH due AS (
         SELECT t.target_group_arn, t.id, t.port
           FROM lb_targets t JOIN lb_resources g ON g.arn = t.target_group_arn
          WHERE t.state = 'draining'
            AND t.draining_since + make_interval(
                  secs => (g.spec ->> 'deregistrationDelaySeconds')::double precision) <= now()
          ORDER BY t.draining_since
          LIMIT $1
          FOR UPDATE OF t SKIP LOCKED
       )
       DELETE FROM lb_targets t USING due
        WHERE t.target_group_arn = due.target_group_arn AND t.id = due.id AND t.port = due.port
       RETURNING t.*`,
      [limit],
    );
    return rows;
  }

  toProto(row: TargetRow): stateV1.LbTarget {
    return {
      targetGroupArn: row.target_group_arn,
      id: row.id,
      port: row.port,
      host: row.host,
      taskArn: row.task_arn,
      serviceArn: row.service_arn,
      state: row.state,
      reason: row.reason,
      description: row.description,
      registeredAt: ms(row.registered_at),
      drainingSince: ms(row.draining_since),
      updatedAt: ms(row.updated_at),
      version: Number(row.version),
    };
  }

  /** A removed target as its `target.deleted` event carries it: `unused`, a version later. */
  removedProto(row: TargetRow): stateV1.LbTarget {
    return {
      ...this.toProto(row),
      state: 'unused',
      reason: TARGET_HEALTH.notRegistered.reason,
      description: TARGET_HEALTH.notRegistered.description,
      drainingSince: 0,
      updatedAt: Date.now(),
      version: Number(row.version) + 1,
    };
  }
}
