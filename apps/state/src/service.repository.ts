import { randomInt, randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { ArnContext, arns, parseArn, ServiceSpec } from '@wharf/domain';
import type { common } from '@wharf/proto';
import { ms } from './db';

type Queryable = Pool | PoolClient;

export interface ServiceRow {
  id: string;
  cluster: string;
  name: string;
  arn: string;
  status: string;
  desired_count: number;
  scheduling_strategy: string;
  launch_type: string;
  task_definition_arn: string;
  deployment_configuration: ServiceSpec['deploymentConfiguration'];
  placement_constraints: ServiceSpec['placementConstraints'];
  placement_strategy: ServiceSpec['placementStrategy'];
  load_balancers: ServiceSpec['loadBalancers'];
  tags: ServiceSpec['tags'];
  health_check_grace_period_seconds: number;
  created_at: Date;
  created_by: string;
  version: string;
  running_count: number;
  pending_count: number;
}

export interface DeploymentRow {
  id: string;
  service_id: string;
  status: string;
  task_definition_arn: string;
  desired_count: number;
  pending_count: number;
  running_count: number;
  failed_tasks: number;
  rollout_state: string;
  rollout_state_reason: string;
  created_at: Date;
  updated_at: Date;
  launch_type: string;
}

interface EventRow {
  id: string;
  service_id: string;
  created_at: Date;
  message: string;
}

/** DescribeServices shows this many of a service's events, newest first. */
export const SERVICE_EVENTS_SHOWN = 100;

/** The columns a service's specification is stored in (everything a request can change). */
export interface ServiceColumns {
  status: string;
  desiredCount: number;
  taskDefinitionArn: string;
  spec: ServiceSpec;
}

/** `ecs-svc/` and 19 digits, as ECS numbers deployments. */
export function newDeploymentId(): string {
  let digits = String(randomInt(1, 10));
  while (digits.length < 19) digits += String(randomInt(0, 10));
  return `ecs-svc/${digits}`;
}

export function inProgressReason(deploymentId: string): string {
  return `ECS deployment ${deploymentId} in progress.`;
}

/** A service given by name or ARN → its name (ARNs in the long and the short format). */
export function serviceNameOf(ref: string): string {
  const parsed = parseArn(ref);
  if (parsed && parsed.resourceType === 'service') return parsed.parts[parsed.parts.length - 1];
  return ref;
}

/** An ARN naming another cluster than the one asked about does not name one of its services. */
export function serviceRefInCluster(ref: string, cluster: string): boolean {
  const parsed = parseArn(ref);
  if (!parsed || parsed.resourceType !== 'service' || parsed.parts.length < 2) return true;
  return parsed.parts[0] === cluster;
}

/** JSON with object keys sorted, to compare values read back from jsonb (which reorders keys). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export class ServiceRepository {
  constructor(private readonly arn: ArnContext) {}

  arnOf(cluster: string, name: string): string {
    return arns.service(this.arn, cluster, name);
  }

  /**
   * The service a name means in a cluster: the one not INACTIVE if there is one (names are
   * unique among those), else the newest INACTIVE one. `lock` takes its row lock.
   */
  async findByName(
    q: Queryable,
    cluster: string,
    name: string,
    lock = false,
  ): Promise<ServiceRow | undefined> {
    const { rows } = await q.query<ServiceRow>(
      `SELECT * FROM services WHERE cluster = $1 AND name = $2
        ORDER BY (status = 'INACTIVE'), created_at DESC LIMIT 1
        ${lock ? 'FOR UPDATE' : ''}`,
      [cluster, name],
    );
    return rows[0];
  }

  async findById(q: Queryable, id: string): Promise<ServiceRow> {
    const { rows } = await q.query<ServiceRow>('SELECT * FROM services WHERE id = $1', [id]);
    return rows[0];
  }

  /** As findByName, for many names at once (one row per name found). */
  async findByNames(q: Queryable, cluster: string, names: string[]): Promise<ServiceRow[]> {
    const { rows } = await q.query<ServiceRow>(
      `SELECT DISTINCT ON (name) * FROM services WHERE cluster = $1 AND name = ANY($2::text[])
        ORDER BY name, (status = 'INACTIVE'), created_at DESC`,
      [cluster, names],
    );
    return rows;
  }

  /**
   * Inserts an ACTIVE service unless the cluster has a live one of that name (the partial
   * unique index decides, so concurrent creates of one name cannot both insert). Returns the
   * new row, or undefined when the name is taken.
   */
  async insertIfNameFree(
    tx: PoolClient,
    cluster: string,
    c: ServiceColumns,
  ): Promise<ServiceRow | undefined> {
    const s = c.spec;
    const { rows } = await tx.query<ServiceRow>(
      `INSERT INTO services (id, cluster, name, arn, status, desired_count, scheduling_strategy,
         launch_type, task_definition_arn, deployment_configuration, placement_constraints,
         placement_strategy, load_balancers, tags, health_check_grace_period_seconds, version)
       VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11::jsonb,
               $12::jsonb, $13::jsonb, $14, 1)
       ON CONFLICT (cluster, name) WHERE status <> 'INACTIVE' DO NOTHING
       RETURNING *`,
      [
        randomUUID().replace(/-/g, ''),
        cluster,
        s.serviceName,
        this.arnOf(cluster, s.serviceName),
        c.desiredCount,
        s.schedulingStrategy,
        s.launchType,
        c.taskDefinitionArn,
        JSON.stringify(s.deploymentConfiguration),
        JSON.stringify(s.placementConstraints),
        JSON.stringify(s.placementStrategy),
        JSON.stringify(s.loadBalancers),
        JSON.stringify(s.tags),
        s.healthCheckGracePeriodSeconds,
      ],
    );
    return rows[0];
  }

  /** Replaces the changeable columns and bumps the version by one. */
  async update(tx: PoolClient, id: string, c: ServiceColumns): Promise<void> {
    const s = c.spec;
    await tx.query(
      `UPDATE services SET status = $2, desired_count = $3, task_definition_arn = $4,
         deployment_configuration = $5::jsonb, placement_constraints = $6::jsonb,
         placement_strategy = $7::jsonb, load_balancers = $8::jsonb,
         health_check_grace_period_seconds = $9, version = version + 1
        WHERE id = $1`,
      [
        id,
        c.status,
        c.desiredCount,
        c.taskDefinitionArn,
        JSON.stringify(s.deploymentConfiguration),
        JSON.stringify(s.placementConstraints),
        JSON.stringify(s.placementStrategy),
        JSON.stringify(s.loadBalancers),
        s.healthCheckGracePeriodSeconds,
      ],
    );
  }

  /** Counts and status as the service scheduler reports them; bumps the version by one. */
  async recordProgress(
    tx: PoolClient,
    id: string,
    p: { status: string; runningCount: number; pendingCount: number; desiredCount: number },
  ): Promise<void> {
    await tx.query(
      `UPDATE services SET status = $2, running_count = $3, pending_count = $4,
         desired_count = $5, version = version + 1 WHERE id = $1`,
      [id, p.status, p.runningCount, p.pendingCount, p.desiredCount],
    );
  }

  /** A new PRIMARY deployment; the current PRIMARY (if any) becomes ACTIVE, as it was. */
  async startDeployment(
    tx: PoolClient,
    serviceId: string,
    taskDefinitionArn: string,
    desiredCount: number,
    launchType: string,
  ): Promise<string> {
    const id = newDeploymentId();
    await tx.query(
      `UPDATE service_deployments SET status = 'ACTIVE', updated_at = now()
        WHERE service_id = $1 AND status = 'PRIMARY'`,
      [serviceId],
    );
    await tx.query(
      `INSERT INTO service_deployments (id, service_id, status, task_definition_arn,
         desired_count, rollout_state, rollout_state_reason, launch_type)
       VALUES ($1, $2, 'PRIMARY', $3, $4, 'IN_PROGRESS', $5, $6)`,
      [id, serviceId, taskDefinitionArn, desiredCount, inProgressReason(id), launchType],
    );
    return id;
  }

  /** Sets the desired count of the PRIMARY deployment (`all`: of every live deployment). */
  async setDeploymentsDesired(
    tx: PoolClient,
    serviceId: string,
    desiredCount: number,
    all = false,
  ): Promise<void> {
    await tx.query(
      `UPDATE service_deployments SET desired_count = $2, updated_at = now()
        WHERE service_id = $1 AND desired_count <> $2
          AND ${all ? "status <> 'INACTIVE'" : "status = 'PRIMARY'"}`,
      [serviceId, desiredCount],
    );
  }

  async deploymentsOf(q: Queryable, serviceId: string): Promise<DeploymentRow[]> {
    const { rows } = await q.query<DeploymentRow>(
      'SELECT * FROM service_deployments WHERE service_id = $1 ORDER BY created_at, id',
      [serviceId],
    );
    return rows;
  }

  /** Writes the deployments' changed columns back, in one statement. */
  async updateDeployments(tx: PoolClient, rows: readonly DeploymentRow[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.query(
      `UPDATE service_deployments d SET status = v.status, pending_count = v.pending_count,
         running_count = v.running_count, failed_tasks = v.failed_tasks,
         rollout_state = v.rollout_state, rollout_state_reason = v.rollout_state_reason,
         updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS v(id text, status text, pending_count integer,
           running_count integer, failed_tasks integer, rollout_state text,
           rollout_state_reason text)
        WHERE d.id = v.id`,
      [JSON.stringify(rows)],
    );
  }

  /**
   * Appends events in the order given (the later, the newer), and deletes the service's events
   * older than the newest SERVICE_EVENTS_SHOWN: nothing shows them, and a long-lived service
   * appends events for ever.
   */
  async appendEvents(tx: PoolClient, serviceId: string, messages: readonly string[]) {
    if (messages.length === 0) return;
    await tx.query(
      `INSERT INTO service_events (service_id, message)
       SELECT $1, m FROM unnest($2::text[]) WITH ORDINALITY AS x(m, ord) ORDER BY ord`,
      [serviceId, messages],
    );
    await tx.query(
      `DELETE FROM service_events WHERE service_id = $1 AND seq < (
         SELECT seq FROM service_events WHERE service_id = $1
          ORDER BY seq DESC OFFSET $2 LIMIT 1)`,
      [serviceId, SERVICE_EVENTS_SHOWN - 1],
    );
  }

  /**
   * Deletes up to `limit` deployments INACTIVE for longer than `olderThanMs` (nothing reads
   * them: services show only the others); returns how many.
   */
  async deleteInactiveDeploymentsBefore(
    tx: PoolClient,
    olderThanMs: number,
    limit: number,
  ): Promise<number> {
    const { rowCount } = await tx.query(
      `DELETE FROM service_deployments WHERE id IN (
         SELECT id FROM service_deployments
          WHERE status = 'INACTIVE'
            AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
          LIMIT $2
            FOR UPDATE SKIP LOCKED)`,
      [olderThanMs, limit],
    );
    return rowCount ?? 0;
  }

  /** ARNs of a cluster's ACTIVE and DRAINING services, ordered by id, after `afterId`. */
  async page(
    q: Queryable,
    f: { cluster: string; launchType: string; schedulingStrategy: string },
    afterId: string,
    limit: number,
  ): Promise<{ id: string; arn: string }[]> {
    const { rows } = await q.query<{ id: string; arn: string }>(
      `SELECT id, arn FROM services
        WHERE cluster = $1 AND status IN ('ACTIVE', 'DRAINING') AND id > $2
          AND ($3 = '' OR launch_type = $3) AND ($4 = '' OR scheduling_strategy = $4)
        ORDER BY id LIMIT $5`,
      [f.cluster, afterId, f.launchType, f.schedulingStrategy, limit],
    );
    return rows;
  }

  /**
   * Services as the gRPC API returns them: deployments that are not INACTIVE (PRIMARY first,
   * then ACTIVE newest first) and the newest events. Three statements whatever the number.
   */
  async toProtos(q: Queryable, services: readonly ServiceRow[]): Promise<common.Service[]> {
    if (services.length === 0) return [];
    const ids = services.map((s) => s.id);
    const [deployments, events] = await Promise.all([
      q.query<DeploymentRow>(
        `SELECT * FROM service_deployments
          WHERE service_id = ANY($1::text[]) AND status <> 'INACTIVE'
          ORDER BY service_id, (status = 'PRIMARY') DESC, created_at DESC, id`,
        [ids],
      ),
      q.query<EventRow>(
        `SELECT e.id::text AS id, e.service_id, e.created_at, e.message
           FROM unnest($1::text[]) AS s(id)
           CROSS JOIN LATERAL (
             SELECT * FROM service_events ev WHERE ev.service_id = s.id
              ORDER BY ev.seq DESC LIMIT ${SERVICE_EVENTS_SHOWN}) e
          ORDER BY e.service_id, e.seq DESC`,
        [ids],
      ),
    ]);
    const byService = <T extends { service_id: string }>(rows: T[]) => {
      const m = new Map<string, T[]>();
      for (const r of rows) m.set(r.service_id, [...(m.get(r.service_id) ?? []), r]);
      return m;
    };
    const d = byService(deployments.rows);
    const e = byService(events.rows);
    return services.map((s) => this.toProto(s, d.get(s.id) ?? [], e.get(s.id) ?? []));
  }

  private toProto(s: ServiceRow, deployments: DeploymentRow[], events: EventRow[]): common.Service {
    return {
      serviceArn: s.arn,
      serviceName: s.name,
      clusterArn: arns.cluster(this.arn, s.cluster),
      status: s.status,
      desiredCount: s.desired_count,
      runningCount: s.running_count,
      pendingCount: s.pending_count,
      launchType: s.launch_type,
      taskDefinitionArn: s.task_definition_arn,
      schedulingStrategy: s.scheduling_strategy,
      deploymentConfigurationJson: JSON.stringify(s.deployment_configuration),
      placementConstraintsJson: JSON.stringify(s.placement_constraints ?? []),
      placementStrategyJson: JSON.stringify(s.placement_strategy ?? []),
      loadBalancersJson: JSON.stringify(s.load_balancers ?? []),
      tagsJson: JSON.stringify(s.tags ?? []),
      healthCheckGracePeriodSeconds: s.health_check_grace_period_seconds,
      deployments: deployments.map((d) => ({
        id: d.id,
        status: d.status,
        taskDefinitionArn: d.task_definition_arn,
        desiredCount: d.desired_count,
        pendingCount: d.pending_count,
        runningCount: d.running_count,
        failedTasks: d.failed_tasks,
        rolloutState: d.rollout_state,
        rolloutStateReason: d.rollout_state_reason,
        createdAt: ms(d.created_at),
        updatedAt: ms(d.updated_at),
        launchType: d.launch_type,
      })),
      events: events.map((ev) => ({
        id: ev.id,
        createdAt: ms(ev.created_at),
        message: ev.message,
      })),
      createdAt: ms(s.created_at),
      createdBy: s.created_by,
      version: Number(s.version),
    };
  }

  /** The specification stored in a row, as validateServiceSpec returned it. */
  specOf(s: ServiceRow): ServiceSpec {
    return {
      serviceName: s.name,
      schedulingStrategy: s.scheduling_strategy as ServiceSpec['schedulingStrategy'],
      launchType: s.launch_type as ServiceSpec['launchType'],
      desiredCount: s.desired_count,
      deploymentConfiguration: s.deployment_configuration,
      placementConstraints: s.placement_constraints,
      placementStrategy: s.placement_strategy,
      loadBalancers: s.load_balancers,
      tags: s.tags,
      healthCheckGracePeriodSeconds: s.health_check_grace_period_seconds,
    };
  }
}
