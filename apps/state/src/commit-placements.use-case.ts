import { randomUUID } from 'node:crypto';
import {
  arns,
  clusterNameOf,
  ClusterNotFoundError,
  InstanceResources,
  parseTaskDefinitionRef,
  ResourceClaim,
  resourceIdOf,
  shortfall,
  subtractClaim,
} from '@wharf/domain';
import { subjects } from '@wharf/messaging';
import type { common, stateV1 } from '@wharf/proto';
import type { PoolClient } from 'pg';
import type { ClusterRepository } from './cluster.repository';
import {
  ContainerInstanceRepository,
  InstanceClaimRow,
  remainingOf,
} from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { lockHeldLeases } from './lease.repository';
import { DomainEvent, instanceChanged, OutboxRepository } from './outbox.repository';
import type { TaskRepository } from './task.repository';

/** Why a placement was rejected (RejectedPlacement.reason). */
export const REJECTION = {
  stale: 'STALE',
  instanceNotActive: 'INSTANCE_NOT_ACTIVE',
  instanceNotFound: 'INSTANCE_NOT_FOUND',
  /** The instance's agent sent no heartbeat within AGENT_HEARTBEAT_TTL_MS. */
  agentDisconnected: 'AGENT',
  duplicate: 'DUPLICATE',
  invalid: 'INVALID',
  /** The placement is fenced by a lease its sender does not hold (any more). */
  notLeader: 'NOT_LEADER',
} as const;

interface Accepted {
  index: number;
  id: string;
  arn: string;
  instanceId: string;
  task: common.Task;
}

/**
 * Commits a placement plan in one transaction. Every instance the plan touches is locked
 * (in id order, so two plans never deadlock) before anything is checked; each placement is
 * then checked against what remains *including the placements before it in the same plan*,
 * and either taken whole or rejected with a reason. The instance row lock is what makes two
 * concurrent commits unable to overcommit an instance.
 *
 * Set-based: the statements are the same few whatever the number of placements (the checks
 * run in memory on the locked rows). The answer carries every instance named, as it is after
 * the commit, so the caller can refresh its snapshot.
 */
export class CommitPlacementsUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly tasks: TaskRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.CommitPlacementsRequest): Promise<stateV1.CommitPlacementsResponse> {
    const cluster = clusterNameOf(req.cluster);
    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();

      const planned = req.placements.map((p, index) => {
        const task = p.task;
        const instanceId = task
          ? resourceIdOf(task.containerInstanceArn, 'container-instance')
          : '';
        let id = task?.taskArn ? resourceIdOf(task.taskArn, 'task') : '';
        if (!id) id = randomUUID().replace(/-/g, '');
        const arn = task?.taskArn || arns.task(this.ctx.arn, cluster, id);
        return {
          index,
          task,
          instanceId,
          id,
          arn,
          expectedVersion: Number(p.expectedInstanceVersion || 0),
        };
      });

      const locked = await this.instances.lockClaims(tx, [
        ...new Set(planned.map((p) => p.instanceId)),
      ]);
      const versionSeen = new Map([...locked].map(([id, row]) => [id, Number(row.version)]));
      const remaining = new Map<string, InstanceResources>();
      const claimsTaken = new Map<string, number>();
      // By id, the primary key: a task's ARN ends with its id.
      const taken = await this.tasks.existingIds(
        tx,
        planned.map((p) => p.id),
      );

      const fencesHeld = await heldFences(tx, req.placements);

      const rejected: stateV1.RejectedPlacement[] = [];
      const accepted: Accepted[] = [];
      for (const p of planned) {
        const reject = (reason: string, detail: string) =>
          rejected.push({ index: p.index, reason, detail });
        const row: InstanceClaimRow | undefined = locked.get(p.instanceId);
        const { fenceLease, fenceHolder } = req.placements[p.index];
        if (fenceLease && !fencesHeld.has(`${fenceLease}\n${fenceHolder}`)) {
          reject(REJECTION.notLeader, `${fenceHolder} does not hold the lease ${fenceLease}`);
          continue;
        }
        if (!p.task) {
          reject(REJECTION.invalid, 'placement has no task');
          continue;
        }
        const claim: ResourceClaim = {
          cpu: p.task.cpu,
          memory: p.task.memory,
          ports: p.task.hostPorts,
          portsUdp: p.task.hostPortsUdp,
        };
        if (claim.cpu < 0 || claim.memory < 0) {
          reject(REJECTION.invalid, 'cpu and memory must not be negative');
          continue;
        }
        if (!row || row.cluster !== cluster) {
          reject(
            REJECTION.instanceNotFound,
            `container instance ${p.task.containerInstanceArn} not in cluster ${cluster}`,
          );
          continue;
        }
        if (row.status !== 'ACTIVE') {
          reject(REJECTION.instanceNotActive, `container instance ${row.arn} is ${row.status}`);
          continue;
        }
        if (!this.instances.isConnected(row)) {
          reject(
            REJECTION.agentDisconnected,
            `the agent of container instance ${row.arn} is disconnected (no heartbeat within ${this.ctx.agentHeartbeatTtlMs} ms)`,
          );
          continue;
        }
        if (p.expectedVersion && p.expectedVersion !== versionSeen.get(row.id)) {
          reject(
            REJECTION.stale,
            `instance version is ${versionSeen.get(row.id)}, expected ${p.expectedVersion}`,
          );
          continue;
        }
        if (taken.has(p.id)) {
          reject(REJECTION.duplicate, `task ${p.arn} already exists`);
          continue;
        }
        const rem = remaining.get(row.id) ?? remainingOf(row);
        const short = shortfall(rem, claim);
        if (short) {
          reject(short, describeShortfall(short, rem, claim));
          continue;
        }
        remaining.set(row.id, subtractClaim(rem, claim));
        claimsTaken.set(row.id, (claimsTaken.get(row.id) ?? 0) + 1);
        taken.add(p.id);
        accepted.push({ index: p.index, id: p.id, arn: p.arn, instanceId: row.id, task: p.task });
      }

      const rows = await this.tasks.insertMany(
        tx,
        accepted.map((a) => ({
          id: a.id,
          arn: a.arn,
          cluster,
          family: parseTaskDefinitionRef(a.task.taskDefinitionArn)?.family ?? '',
          containerInstanceId: a.instanceId,
          task: { ...a.task, containerInstanceArn: locked.get(a.instanceId)!.arn },
          containers: a.task.containers.map((c) => this.newContainer(cluster, a.id, c)),
        })),
      );
      const tasks = rows.map((r) => this.tasks.toProto(r));
      await this.instances.updateRemainingMany(
        tx,
        [...remaining].map(([id, rem]) => ({ id, remaining: rem, bumpBy: claimsTaken.get(id)! })),
      );
      // Every instance named, as it is now: the touched ones for their events, all of them for
      // the caller's snapshot (rejected-only ones included).
      const instances = await this.instances.findWithCounts(tx, cluster, [...locked.keys()]);
      const { messages } = await this.outbox.appendEvents(tx, [
        ...tasks.map((task): DomainEvent => ({
          cluster,
          entity: 'task',
          event: 'created',
          resourceArn: task.taskArn,
          version: task.version,
          detail: task,
        })),
        ...instances
          .filter((i) => remaining.has(resourceIdOf(i.containerInstanceArn, 'container-instance')))
          .map(instanceChanged),
      ]);
      const instanceSubject = subjects.event(cluster, 'container_instance', 'changed');
      return {
        tasks,
        rejected,
        instances,
        instanceEventMessageIds: messages
          .filter((m) => m.subject === instanceSubject)
          .map((m) => m.id),
      };
    });
  }

  private newContainer(cluster: string, taskId: string, c: common.Container): common.Container {
    return {
      containerArn: c.containerArn || arns.container(this.ctx.arn, cluster, taskId, randomUUID()),
      name: c.name,
      image: c.image,
      runtimeId: '',
      lastStatus: 'PENDING',
      exitCode: undefined,
      reason: '',
      networkBindings: [],
      healthStatus: c.healthStatus || 'UNKNOWN',
      cpu: c.cpu,
      memory: c.memory,
      memoryReservation: c.memoryReservation,
      essential: c.essential,
    };
  }
}

function describeShortfall(reason: string, rem: InstanceResources, claim: ResourceClaim): string {
  switch (reason) {
    case 'RESOURCE:CPU':
      return `needs ${claim.cpu} CPU units, ${rem.cpu} remain`;
    case 'RESOURCE:MEMORY':
      return `needs ${claim.memory} MiB, ${rem.memory} MiB remain`;
    case 'RESOURCE:PORTS':
      return `TCP host ports ${claim.ports.join(',')} conflict with taken ${rem.ports.join(',')}`;
    default:
      return `UDP host ports ${claim.portsUdp.join(',')} conflict with taken ${rem.portsUdp.join(',')}`;
  }
}

/**
 * The (lease, holder) pairs of the placements' fences that hold now, as `lease\nholder`. The
 * lease rows are share-locked: a replica taking a lease over waits for this commit to end.
 */
async function heldFences(
  tx: PoolClient,
  placements: readonly stateV1.Placement[],
): Promise<Set<string>> {
  const held = await lockHeldLeases(
    tx,
    placements.filter((p) => p.fenceLease).map((p) => p.fenceLease),
  );
  return new Set([...held].map(([name, holder]) => `${name}\n${holder}`));
}
