import {
  InvalidParameterError,
  parseTaskDefinitionRef,
  type ServiceLoadBalancer,
  type TaskDefinitionInput,
} from '@wharf/domain';
import type { PoolClient } from 'pg';
import type { LbRepository } from './lb.repository';
import type { TaskDefinitionRepository } from './task-definition.repository';

/**
 * What ECS checks of a service's `loadBalancers` when it is created or updated: each target
 * group exists, and the task definition has the container with the container port mapped
 * (the port whose host port becomes the target).
 */
export async function checkServiceLoadBalancers(
  q: PoolClient,
  lbs: LbRepository,
  taskDefinitions: TaskDefinitionRepository,
  loadBalancers: readonly ServiceLoadBalancer[],
  taskDefinitionArn: string,
): Promise<void> {
  if (loadBalancers.length === 0) return;
  const ref = parseTaskDefinitionRef(taskDefinitionArn);
  const td = ref?.revision ? await taskDefinitions.find(q, ref.family, ref.revision) : undefined;
  const definition = td ? (JSON.parse(td.definitionJson) as TaskDefinitionInput) : undefined;
  for (const [i, lb] of loadBalancers.entries()) {
    // FOR SHARE: a DeleteLbResource of this group waits for the service's transaction and
    // then sees the service using it (as PutLbResource holds the groups its actions name).
    const group = await lbs.find(q, lb.targetGroupArn, 'share');
    if (!group || group.kind !== 'target-group') {
      throw new InvalidParameterError(
        `loadBalancers[${i}].targetGroupArn: target group '${lb.targetGroupArn}' does not exist.`,
      );
    }
    const container = definition?.containerDefinitions.find((c) => c.name === lb.containerName);
    if (!container) {
      throw new InvalidParameterError(
        `loadBalancers[${i}].containerName: the task definition has no container named '${lb.containerName}'.`,
      );
    }
    if (!(container.portMappings ?? []).some((p) => p.containerPort === lb.containerPort)) {
      throw new InvalidParameterError(
        `loadBalancers[${i}].containerPort: the container ${lb.containerName} did not have a container port ${lb.containerPort} defined.`,
      );
    }
  }
}
