import {
  InstanceResources,
  ResourceClaim,
  shortfall,
  ShortfallReason,
  subtractClaim,
} from './resources';

/** What placement needs to know about a container instance. */
export interface PlacementInstance {
  arn: string;
  status: string;
  agentConnected: boolean;
  remaining: InstanceResources;
}

/** ECS failure reasons for one instance: a resource that does not fit, or a disconnected agent. */
export type PlacementReason = ShortfallReason | 'AGENT';

export type TaskPlacement =
  | { placed: true; instanceArn: string }
  | { placed: false; instanceArn?: string; reason: PlacementReason | string };

export type PlacementPlan =
  | { kind: 'plan'; placements: TaskPlacement[] }
  /** No ACTIVE instance in the cluster: ECS rejects the whole call. */
  | { kind: 'no-instances' };

export const NO_CONTAINER_INSTANCES = 'No Container Instances were found in your cluster.';

/** The order in which `shortfall` checks resources; failing later means coming closer. */
const CLOSENESS: Record<PlacementReason, number> = {
  AGENT: 0,
  'RESOURCE:CPU': 1,
  'RESOURCE:MEMORY': 2,
  'RESOURCE:PORTS': 3,
  'RESOURCE:PORTS_UDP': 4,
};

/**
 * First fit: each claim, in order, goes to the first eligible instance (in the order given)
 * where it fits, and is taken from that instance's remaining resources before the next claim
 * is placed. Eligible means ACTIVE with a connected agent; DRAINING and INACTIVE instances
 * are not considered. A claim that fits nowhere fails with the reason of the instance that
 * came closest (it failed on the latest check: CPU, then MEMORY, then PORTS, then
 * PORTS_UDP; the first such instance on a tie), as ECS reports one instance and reason.
 * Pure: the instances passed in are not modified.
 */
export function planPlacement(
  instances: readonly PlacementInstance[],
  claims: readonly ResourceClaim[],
): PlacementPlan {
  const active = instances.filter((i) => i.status === 'ACTIVE');
  if (active.length === 0) return { kind: 'no-instances' };
  const remaining = new Map(active.map((i) => [i.arn, i.remaining]));

  const placements = claims.map((claim): TaskPlacement => {
    let closest: { arn: string; reason: PlacementReason } | undefined;
    for (const instance of active) {
      const reason: PlacementReason | undefined = instance.agentConnected
        ? shortfall(remaining.get(instance.arn)!, claim)
        : 'AGENT';
      if (reason === undefined) {
        remaining.set(instance.arn, subtractClaim(remaining.get(instance.arn)!, claim));
        return { placed: true, instanceArn: instance.arn };
      }
      if (!closest || CLOSENESS[reason] > CLOSENESS[closest.reason]) {
        closest = { arn: instance.arn, reason };
      }
    }
    return { placed: false, instanceArn: closest!.arn, reason: closest!.reason };
  });
  return { kind: 'plan', placements };
}
