import { randomBytes } from 'node:crypto';
import {
  arns,
  clusterNameOf,
  ClientError,
  ClusterNotFoundError,
  InstanceResources,
  InvalidParameterError,
  resourceIdOf,
  subtractClaim,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { PoolClient } from 'pg';
import type { ClusterRepository } from './cluster.repository';
import type { ContainerInstanceRepository, InstanceFields } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';
import type { TaskRepository } from './task.repository';

/**
 * Registers an agent's host. An agent that comes back with the ARN it kept keeps its
 * identity: new totals, attributes and addresses, and what remains is recomputed from the
 * registered totals minus the claims of its tasks that are not STOPPED.
 *
 * A deregistered (INACTIVE) instance is never brought back: as in ECS, deregistration is
 * final. Its agent is refused (FAILED_PRECONDITION ClientException) rather than silently
 * given a new identity, because the host may still run the tasks that were orphaned; the
 * agent stops, and an operator who wants the host back clears the agent's data directory so
 * it registers as a new instance.
 */
export class RegisterContainerInstanceUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly tasks: TaskRepository,
    private readonly outbox: OutboxRepository,
    /**
     * Asked, in the registration's transaction, when agents must present a join token
     * (STATE_AGENT_JOIN=token): throws JoinRefusedError to refuse, or answers the token's id.
     * `returning` is the instance the agent names, when it may return. Absent in open mode.
     */
    private readonly admit?: (
      tx: PoolClient,
      joinToken: string,
      cluster: string,
      returning?: { joinTokenId: string | null },
    ) => Promise<string>,
  ) {}

  async execute(req: stateV1.RegisterContainerInstanceRequest): Promise<common.ContainerInstance> {
    const cluster = clusterNameOf(req.cluster);
    const registered = registeredResources(req.total);
    const fields = (status: string, remaining: InstanceResources): InstanceFields => ({
      ec2InstanceId: req.ec2InstanceId,
      status,
      registered,
      remaining,
      attributes: req.attributes.map((a) => ({ name: a.name, value: a.value })),
      agentAddress: req.agentAddress,
      hostAddress: req.hostAddress,
      hostname: req.hostname,
      agentVersion: req.agentVersion,
      dockerVersion: req.dockerVersion,
    });

    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();
      let id = req.containerInstanceArn
        ? resourceIdOf(req.containerInstanceArn, 'container-instance')
        : '';
      const existing = id ? (await this.instances.lockByIds(tx, [id])).get(id) : undefined;
      const returning = existing && existing.cluster === cluster && existing.status !== 'INACTIVE';
      // Every registration, a returning instance's too: a revoked token keeps a host out.
      const joinTokenId = this.admit
        ? await this.admit(
            tx,
            req.joinToken ?? '',
            cluster,
            returning ? { joinTokenId: existing.join_token_id ?? null } : undefined,
          )
        : undefined;
      if (existing && existing.cluster === cluster && existing.status === 'INACTIVE') {
        throw new ClientError(
          `Container instance ${existing.arn} was deregistered (INACTIVE) and cannot register again; remove the agent's stored identity to register the host as a new container instance.`,
        );
      }
      if (existing && existing.cluster === cluster) {
        const claims = await this.tasks.liveClaimsOn(tx, id);
        const remaining = claims.reduce(
          (rem, claim) => clampAtZero(subtractClaim(rem, claim)),
          registered,
        );
        // An agent restarting on a DRAINING host must not put it back into placement: as in
        // ECS, only UpdateContainerInstancesState ends draining.
        await this.instances.updateRegistration(tx, id, fields(existing.status, remaining));
      } else {
        id = randomBytes(16).toString('hex');
        const arn = arns.containerInstance(this.ctx.arn, cluster, id);
        await this.instances.insert(tx, id, cluster, arn, fields('ACTIVE', registered));
      }
      if (joinTokenId) {
        await tx.query('UPDATE container_instances SET join_token_id = $2 WHERE id = $1', [
          id,
          joinTokenId,
        ]);
      }
      const [instance] = await this.instances.findWithCounts(tx, cluster, [id]);
      await this.outbox.append(tx, {
        cluster,
        entity: 'container_instance',
        event: 'registered',
        resourceArn: instance.containerInstanceArn,
        version: instance.version,
        detail: instance,
      });
      return instance;
    });
  }
}

function registeredResources(total: common.Resources | undefined): InstanceResources {
  const cpu = total?.cpu ?? 0;
  const memory = total?.memory ?? 0;
  if (cpu < 0 || memory < 0)
    throw new InvalidParameterError('Registered CPU and memory must not be negative.');
  const uniq = (xs: number[] = []) => [...new Set(xs)].sort((a, b) => a - b);
  return { cpu, memory, ports: uniq(total?.ports), portsUdp: uniq(total?.portsUdp) };
}

/** A host that shrank below what its tasks hold has nothing left, not a negative amount. */
function clampAtZero(r: InstanceResources): InstanceResources {
  return { ...r, cpu: Math.max(0, r.cpu), memory: Math.max(0, r.memory) };
}
