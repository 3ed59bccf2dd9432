import {
  arns,
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  parseArn,
  resourceIdOf,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

/** The only statuses the API may set, and the only ones an instance may be moved from. */
export const SETTABLE_INSTANCE_STATUSES: readonly string[] = ['ACTIVE', 'DRAINING'];
export const MAX_INSTANCES_PER_STATE_UPDATE = 10;

/**
 * ECS UpdateContainerInstancesState, in one transaction. The instances are locked in id
 * order (like CommitPlacements and PutAttributes, so concurrent writers cannot deadlock).
 * Per instance, not as an error: one that is not in the cluster is a failure `MISSING`; one
 * that is neither ACTIVE nor DRAINING (INACTIVE, or any status ECS reserves for registering
 * and deregistering) cannot be moved and is a failure whose reason is that status. Each
 * instance whose status changes gets version + 1 and a `container_instance.changed` event (the
 * scheduler's snapshot follows it; its planner places only on ACTIVE instances). An instance
 * that already has the status asked for is returned as it is: nothing changed, so no version
 * bump and no event. An instance named twice (id and ARN) is answered once.
 */
export class UpdateContainerInstancesStateUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(
    req: stateV1.UpdateContainerInstancesStateRequest,
  ): Promise<stateV1.UpdateContainerInstancesStateResponse> {
    const status = req.status;
    if (!SETTABLE_INSTANCE_STATUSES.includes(status)) {
      throw new InvalidParameterError(
        `status must be one of [${SETTABLE_INSTANCE_STATUSES.join(', ')}]; got '${status}'.`,
      );
    }
    if (req.containerInstances.length === 0) {
      throw new InvalidParameterError('containerInstances cannot be empty.');
    }
    if (req.containerInstances.length > MAX_INSTANCES_PER_STATE_UPDATE) {
      throw new InvalidParameterError(
        `containerInstances can have at most ${MAX_INSTANCES_PER_STATE_UPDATE} items.`,
      );
    }
    const cluster = clusterNameOf(req.cluster);
    // First mention of each instance, in the order asked.
    const requested = new Map<string, string>();
    for (const ref of req.containerInstances) {
      const id = resourceIdOf(ref, 'container-instance');
      if (!requested.has(id)) requested.set(id, ref);
    }

    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();
      const locked = await this.instances.lockByIds(tx, [...requested.keys()]);
      const failures: common.Failure[] = [];
      const found: string[] = [];
      const changing: string[] = [];
      for (const [id, ref] of requested) {
        const row = locked.get(id);
        if (!row || row.cluster !== cluster) {
          failures.push({
            arn: parseArn(ref) ? ref : arns.containerInstance(this.ctx.arn, cluster, ref),
            reason: 'MISSING',
            detail: '',
          });
        } else if (!SETTABLE_INSTANCE_STATUSES.includes(row.status)) {
          failures.push({
            arn: row.arn,
            reason: row.status,
            detail: `The container instance is ${row.status}; only an ACTIVE or DRAINING container instance can be set to ${status}.`,
          });
        } else {
          found.push(id);
          if (row.status !== status) changing.push(id);
        }
      }
      await this.instances.updateStatus(tx, changing, status);
      const records = new Map(
        (await this.instances.findWithCounts(tx, cluster, found)).map((i) => [
          resourceIdOf(i.containerInstanceArn, 'container-instance'),
          i,
        ]),
      );
      await this.outbox.appendInstancesChanged(
        tx,
        changing.map((id) => records.get(id)!),
      );
      if (changing.length > 0) {
        this.ctx.logger.info(
          { cluster, instances: changing.map((id) => locked.get(id)!.arn), status },
          'container instance status changed',
        );
      }
      return { containerInstances: found.map((id) => records.get(id)!), failures };
    });
  }
}
