import type { Pool, PoolClient } from 'pg';
import { ArnContext, arns, InstanceResources } from '@wharf/domain';
import type { common } from '@wharf/proto';
import { mergeAttributes } from './attributes';
import { ms } from './db';
import { normaliseTags } from './resource-tag.repository';

type Queryable = Pool | PoolClient;

export interface InstanceRow {
  id: string;
  cluster: string;
  arn: string;
  ec2_instance_id: string;
  status: string;
  registered_cpu: number;
  registered_memory: number;
  registered_ports: number[];
  registered_ports_udp: number[];
  remaining_cpu: number;
  remaining_memory: number;
  remaining_ports: number[];
  remaining_ports_udp: number[];
  /** The attributes the agent registered with. */
  attributes: common.Attribute[];
  /** Attributes set with PutAttributes; they survive re-registration. */
  custom_attributes?: common.Attribute[];
  agent_address: string;
  host_address: string;
  hostname: string;
  agent_version: string;
  docker_version: string;
  registered_at: Date;
  last_heartbeat_at: Date | null;
  /** Stored liveness: flipped false by the liveness sweep, true by a fresh heartbeat. */
  agent_connected: boolean;
  version: string;
  /** The join token the instance was admitted with (null: none was required). */
  join_token_id?: string | null;
  tags?: unknown;
  running?: number;
  pending?: number;
  /** Tasks not yet STOPPED per group (queries with counts only). */
  task_groups?: common.GroupCount[];
}

/** What placing tasks on an instance and releasing their claims read of its row. */
export type InstanceClaimRow = Pick<
  InstanceRow,
  | 'id'
  | 'cluster'
  | 'arn'
  | 'status'
  | 'version'
  | 'agent_connected'
  | 'last_heartbeat_at'
  | 'registered_cpu'
  | 'registered_memory'
  | 'registered_ports'
  | 'registered_ports_udp'
  | 'remaining_cpu'
  | 'remaining_memory'
  | 'remaining_ports'
  | 'remaining_ports_udp'
>;

export interface InstanceFields {
  ec2InstanceId: string;
  status: string;
  registered: InstanceResources;
  remaining: InstanceResources;
  attributes: common.Attribute[];
  agentAddress: string;
  hostAddress: string;
  hostname: string;
  agentVersion: string;
  dockerVersion: string;
}

export const registeredOf = (r: InstanceClaimRow): InstanceResources => ({
  cpu: r.registered_cpu,
  memory: r.registered_memory,
  ports: r.registered_ports,
  portsUdp: r.registered_ports_udp,
});

export const remainingOf = (r: InstanceClaimRow): InstanceResources => ({
  cpu: r.remaining_cpu,
  memory: r.remaining_memory,
  ports: r.remaining_ports,
  portsUdp: r.remaining_ports_udp,
});

/**
 * Instances with their counts and task groups, from `instance_task_counts` (kept by triggers
 * on `tasks`, see migration 0021): running = RUNNING, pending = PROVISIONING, PENDING and
 * ACTIVATING (PENDING_STATUSES), task groups = tasks not yet STOPPED per group.
 */
const WITH_COUNTS = `
  SELECT ci.*, coalesce(live.running, 0)::int AS running,
         coalesce(live.pending, 0)::int AS pending,
         coalesce(live.task_groups, '[]'::jsonb) AS task_groups
    FROM container_instances ci
    LEFT JOIN LATERAL (
      SELECT sum(c.running) AS running, sum(c.pending) AS pending,
             jsonb_agg(jsonb_build_object('group', c.task_group, 'count', c.live)
                       ORDER BY c.task_group) FILTER (WHERE c.live > 0) AS task_groups
        FROM instance_task_counts c
       WHERE c.instance_id = ci.id
    ) live ON true`;

export class ContainerInstanceRepository {
  constructor(
    private readonly arn: ArnContext,
    private readonly heartbeatTtlMs: number,
  ) {}

  /** Locks the rows (in id order, so concurrent multi-instance commits cannot deadlock). */
  async lockByIds(tx: PoolClient, ids: string[]): Promise<Map<string, InstanceRow>> {
    const { rows } = await tx.query<InstanceRow>(
      'SELECT * FROM container_instances WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  /**
   * As `lockByIds`, reading only what placing and releasing claims need: not the attributes,
   * tags and addresses, which a commit of a hundred placements would otherwise fetch and parse
   * for every instance it touches, and then again with the counts for its events.
   */
  async lockClaims(tx: PoolClient, ids: string[]): Promise<Map<string, InstanceClaimRow>> {
    const { rows } = await tx.query<InstanceClaimRow>(
      `SELECT id, cluster, arn, status, version, agent_connected, last_heartbeat_at,
              registered_cpu, registered_memory, registered_ports, registered_ports_udp,
              remaining_cpu, remaining_memory, remaining_ports, remaining_ports_udp
         FROM container_instances WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  async insert(
    tx: PoolClient,
    id: string,
    cluster: string,
    arn: string,
    f: InstanceFields,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO container_instances (id, cluster, arn, ec2_instance_id, status,
         registered_cpu, registered_memory, registered_ports, registered_ports_udp,
         remaining_cpu, remaining_memory, remaining_ports, remaining_ports_udp,
         attributes, agent_address, host_address, hostname, agent_version, docker_version,
         registered_at, last_heartbeat_at, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb,
         $15, $16, $17, $18, $19, now(), now(), 1)`,
      [id, cluster, arn, ...this.fieldParams(f)],
    );
  }

  /** Re-registration: same identity, new totals and addresses, version + 1. */
  async updateRegistration(tx: PoolClient, id: string, f: InstanceFields): Promise<void> {
    await tx.query(
      `UPDATE container_instances SET ec2_instance_id = $2, status = $3,
         registered_cpu = $4, registered_memory = $5, registered_ports = $6,
         registered_ports_udp = $7, remaining_cpu = $8, remaining_memory = $9,
         remaining_ports = $10, remaining_ports_udp = $11, attributes = $12::jsonb,
         agent_address = $13, host_address = $14, hostname = $15, agent_version = $16,
         docker_version = $17, last_heartbeat_at = now(), agent_connected = true,
         version = version + 1
       WHERE id = $1`,
      [id, ...this.fieldParams(f)],
    );
  }

  /** Writes what remains after claims or releases and bumps the version; returns it. */
  async updateRemaining(
    tx: PoolClient,
    id: string,
    remaining: InstanceResources,
    bumpBy = 1,
  ): Promise<number> {
    const versions = await this.updateRemainingMany(tx, [{ id, remaining, bumpBy }]);
    return versions.get(id)!;
  }

  /**
   * Writes what remains on each instance and bumps each version by its `bumpBy`, in one
   * statement (the caller holds the row locks). Returns the new version of each instance.
   */
  async updateRemainingMany(
    tx: PoolClient,
    updates: readonly { id: string; remaining: InstanceResources; bumpBy: number }[],
  ): Promise<Map<string, number>> {
    if (updates.length === 0) return new Map();
    const { rows } = await tx.query<{ id: string; version: string }>(
      `UPDATE container_instances ci
          SET remaining_cpu = v.cpu, remaining_memory = v.memory, remaining_ports = v.ports,
              remaining_ports_udp = v.ports_udp, version = ci.version + v.bump_by
         FROM jsonb_to_recordset($1::jsonb)
              AS v(id text, cpu integer, memory integer, ports integer[], ports_udp integer[],
                   bump_by integer)
        WHERE ci.id = v.id
    RETURNING ci.id, ci.version`,
      [
        JSON.stringify(
          updates.map((u) => ({
            id: u.id,
            cpu: u.remaining.cpu,
            memory: u.remaining.memory,
            ports: u.remaining.ports,
            ports_udp: u.remaining.portsUdp,
            bump_by: u.bumpBy,
          })),
        ),
      ],
    );
    return new Map(rows.map((r) => [r.id, Number(r.version)]));
  }

  /** Replaces an instance's custom attributes and bumps its version. */
  async updateCustomAttributes(
    tx: PoolClient,
    id: string,
    custom: common.Attribute[],
  ): Promise<void> {
    await tx.query(
      `UPDATE container_instances SET custom_attributes = $2::jsonb, version = version + 1
        WHERE id = $1`,
      [id, JSON.stringify(custom)],
    );
  }

  /** Sets the status of the instances and bumps each version (the caller holds the locks). */
  async updateStatus(tx: PoolClient, ids: string[], status: string): Promise<void> {
    if (ids.length === 0) return;
    await tx.query(
      `UPDATE container_instances SET status = $2, version = version + 1
        WHERE id = ANY($1::text[])`,
      [ids, status],
    );
  }

  /** Every instance of a cluster with its attributes (agent's and custom), in id order. */
  async attributesOf(
    q: Queryable,
    cluster: string,
  ): Promise<{ id: string; arn: string; attributes: common.Attribute[] }[]> {
    const { rows } = await q.query<InstanceRow>(
      `SELECT id, arn, attributes, custom_attributes FROM container_instances
        WHERE cluster = $1 ORDER BY id`,
      [cluster],
    );
    return rows.map((r) => ({
      id: r.id,
      arn: r.arn,
      attributes: mergeAttributes(r.attributes ?? [], r.custom_attributes ?? []),
    }));
  }

  /**
   * Records heartbeats in one statement (at most one per instance: the caller keeps the
   * newest); rows are locked in id order. last_heartbeat_at only moves forward, and never past
   * the state service's clock. A heartbeat younger than the TTL marks a disconnected agent
   * connected again (version + 1). Returns the instances found; `reconnected` says this call
   * made that flip.
   */
  async recordHeartbeats(
    tx: PoolClient,
    beats: { id: string; sentAt: number }[],
  ): Promise<{ id: string; cluster: string; reconnected: boolean }[]> {
    if (beats.length === 0) return [];
    const { rows } = await tx.query<{ id: string; cluster: string; reconnected: boolean }>(
      `WITH beat AS (
         SELECT v.id,
                LEAST(now(), to_timestamp(v.sent_at / 1000.0)) AS at,
                LEAST(now(), to_timestamp(v.sent_at / 1000.0))
                  > now() - make_interval(secs => $3::double precision / 1000) AS fresh
           FROM unnest($1::text[], $2::bigint[]) AS v(id, sent_at)
       ), prev AS (
         SELECT ci.id, ci.agent_connected
           FROM container_instances ci
          WHERE ci.id = ANY($1::text[])
          ORDER BY ci.id
            FOR UPDATE
       )
       UPDATE container_instances ci
          SET last_heartbeat_at = GREATEST(ci.last_heartbeat_at, beat.at),
              agent_connected = ci.agent_connected OR beat.fresh,
              version = ci.version + CASE WHEN NOT ci.agent_connected AND beat.fresh THEN 1 ELSE 0 END
         FROM prev, beat
        WHERE ci.id = prev.id AND beat.id = prev.id
      RETURNING ci.id, ci.cluster, (NOT prev.agent_connected AND ci.agent_connected) AS reconnected`,
      [beats.map((b) => b.id), beats.map((b) => Math.trunc(b.sentAt)), this.heartbeatTtlMs],
    );
    return rows;
  }

  /**
   * Marks every connected instance whose last heartbeat is older than the TTL disconnected
   * (version + 1) and returns them. Rows another transaction holds are skipped (the next sweep
   * sees them), and the flag is re-checked under the row lock, so replicas sweeping at once
   * never flip an instance twice.
   */
  async markSilentDisconnected(tx: PoolClient): Promise<{ id: string; cluster: string }[]> {
    const { rows } = await tx.query<{ id: string; cluster: string }>(
      `WITH due AS (
         SELECT id FROM container_instances
          WHERE agent_connected
            AND (last_heartbeat_at IS NULL
                 OR last_heartbeat_at < now() - make_interval(secs => $1::double precision / 1000))
          ORDER BY id
          FOR UPDATE SKIP LOCKED
       )
       UPDATE container_instances ci SET agent_connected = false, version = ci.version + 1
         FROM due WHERE ci.id = due.id AND ci.agent_connected
      RETURNING ci.id, ci.cluster`,
      [this.heartbeatTtlMs],
    );
    return rows;
  }

  /**
   * Connected = the stored flag and a heartbeat younger than the TTL, so a reader never sees
   * an agent as connected in the moment between its TTL running out and the sweep's flip.
   */
  isConnected(r: Pick<InstanceRow, 'agent_connected' | 'last_heartbeat_at'>): boolean {
    const lastHeartbeat = ms(r.last_heartbeat_at);
    return (
      r.agent_connected !== false &&
      lastHeartbeat > 0 &&
      Date.now() - lastHeartbeat < this.heartbeatTtlMs
    );
  }

  /**
   * Full records (counts and `taskGroups`) of the instances of `cluster` among `ids`, in id
   * order; ids that are unknown or in another cluster are absent. One statement.
   */
  async findWithCounts(
    q: Queryable,
    cluster: string,
    ids: string[],
  ): Promise<common.ContainerInstance[]> {
    return this.findFull(q, cluster, ids);
  }

  /** As `findWithCounts`, whatever cluster each instance is in. */
  async findWithCountsByIds(q: Queryable, ids: string[]): Promise<common.ContainerInstance[]> {
    return this.findFull(q, null, ids);
  }

  private async findFull(
    q: Queryable,
    cluster: string | null,
    ids: string[],
  ): Promise<common.ContainerInstance[]> {
    if (ids.length === 0) return [];
    const { rows } = await q.query<InstanceRow>(
      `${WITH_COUNTS} WHERE ($1::text IS NULL OR ci.cluster = $1) AND ci.id = ANY($2::text[])
        ORDER BY ci.id`,
      [cluster, ids],
    );
    return rows.map((r) => this.toProto(r));
  }

  /**
   * A page in id order, after `afterId` (exclusive); `status` '' means every status but
   * INACTIVE (ECS ListContainerInstances: deregistered instances are listed only when asked
   * for by status).
   */
  async page(
    q: Queryable,
    cluster: string,
    status: string,
    afterId: string,
    limit: number,
  ): Promise<common.ContainerInstance[]> {
    const { rows } = await q.query<InstanceRow>(
      `${WITH_COUNTS} WHERE ci.cluster = $1
          AND (($2 = '' AND ci.status <> 'INACTIVE') OR ci.status = $2) AND ci.id > $3
        ORDER BY ci.id LIMIT $4`,
      [cluster, status, afterId, limit],
    );
    return rows.map((r) => this.toProto(r));
  }

  toProto(r: InstanceRow): common.ContainerInstance {
    const lastHeartbeat = ms(r.last_heartbeat_at);
    return {
      containerInstanceArn: r.arn,
      clusterArn: arns.cluster(this.arn, r.cluster),
      ec2InstanceId: r.ec2_instance_id,
      status: r.status,
      agentConnected: this.isConnected(r),
      registered: registeredOf(r),
      remaining: remainingOf(r),
      runningTasksCount: r.running ?? 0,
      pendingTasksCount: r.pending ?? 0,
      attributes: mergeAttributes(r.attributes ?? [], r.custom_attributes ?? []),
      agentVersion: r.agent_version,
      dockerVersion: r.docker_version,
      agentAddress: r.agent_address,
      registeredAt: ms(r.registered_at),
      version: Number(r.version),
      lastHeartbeatAt: lastHeartbeat,
      hostname: r.hostname,
      hostAddress: r.host_address,
      taskGroups: r.task_groups ?? [],
      tagsJson: JSON.stringify(normaliseTags(r.tags)),
    };
  }

  private fieldParams(f: InstanceFields): unknown[] {
    return [
      f.ec2InstanceId,
      f.status,
      f.registered.cpu,
      f.registered.memory,
      f.registered.ports,
      f.registered.portsUdp,
      f.remaining.cpu,
      f.remaining.memory,
      f.remaining.ports,
      f.remaining.portsUdp,
      JSON.stringify(f.attributes),
      f.agentAddress,
      f.hostAddress,
      f.hostname,
      f.agentVersion,
      f.dockerVersion,
    ];
  }
}
