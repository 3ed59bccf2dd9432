import { clusterNameOf, ClusterNotFoundError, TargetNotFoundError } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import {
  checkTargetAttributes,
  CONTAINER_INSTANCE_TARGET,
  deleteCustom,
  putCustom,
} from './attributes';
import type { ClusterRepository } from './cluster.repository';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

/**
 * PutAttributes and DeleteAttributes: all or nothing in one transaction. The target
 * instances are locked (in id order, like CommitPlacements), every attribute is checked and
 * every target resolved before anything is written; each changed instance gets version + 1
 * and a `container_instance.changed` event.
 */
export class ChangeAttributesUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async put(req: stateV1.PutAttributesRequest): Promise<stateV1.PutAttributesResponse> {
    return { attributes: await this.change(req.cluster, req.attributes, 'put') };
  }

  async delete(req: stateV1.DeleteAttributesRequest): Promise<stateV1.DeleteAttributesResponse> {
    return { attributes: await this.change(req.cluster, req.attributes, 'delete') };
  }

  private async change(
    clusterRef: string,
    attributes: stateV1.TargetAttribute[],
    kind: 'put' | 'delete',
  ): Promise<stateV1.TargetAttribute[]> {
    const cluster = clusterNameOf(clusterRef);
    const checked = checkTargetAttributes(attributes, { withValues: kind === 'put' });
    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();
      const locked = await this.instances.lockByIds(tx, [
        ...new Set(checked.map((c) => c.instanceId)),
      ]);
      for (const { attribute, instanceId } of checked) {
        const row = locked.get(instanceId);
        if (!row || row.cluster !== cluster) {
          throw new TargetNotFoundError(
            `Could not find ${attribute.targetId}. Verify that the target exists in cluster ${cluster}.`,
          );
        }
      }
      const custom = new Map<string, common.Attribute[]>();
      for (const { attribute, instanceId } of checked) {
        const row = locked.get(instanceId)!;
        const current = custom.get(instanceId) ?? row.custom_attributes ?? [];
        custom.set(
          instanceId,
          kind === 'put'
            ? putCustom(current, [{ name: attribute.name, value: attribute.value }], row.arn)
            : deleteCustom(current, [attribute.name]),
        );
      }
      for (const [id, attrs] of custom) await this.instances.updateCustomAttributes(tx, id, attrs);
      await this.outbox.appendInstancesChanged(
        tx,
        await this.instances.findWithCounts(tx, cluster, [...custom.keys()]),
      );
      return checked.map(({ attribute, instanceId }) => ({
        name: attribute.name,
        value: kind === 'put' ? attribute.value : '',
        targetType: CONTAINER_INSTANCE_TARGET,
        targetId: locked.get(instanceId)!.arn,
      }));
    });
  }
}
