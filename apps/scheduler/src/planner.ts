import {
  ClusterSnapshot,
  CompiledPlacementOptions,
  explainPlacement,
  PlacementExplanation,
  PlacementRequest,
  planTasks,
  RandomSource,
  resourceIdOf,
  SnapshotInstance,
  TaskPlan,
} from '@wharf/domain';
import type { common } from '@wharf/proto';

/**
 * THE PLACEMENT SEAM. Everything the scheduler decides about where tasks go goes through a
 * `Planner`; `createPlanner()` is the one place that picks the implementation: today the ECS
 * planner of libs/domain (`planTasks`: feasibility, constraints with the cluster query
 * language, chained strategies). Options are compiled once per request
 * (`compilePlacementOptions`) and passed in, so re-plans after state rejects part of a commit
 * do not parse them again.
 */
export interface Planner {
  /** Pure: decides from the snapshot, changes nothing. */
  plan(
    snapshot: ClusterSnapshot,
    request: PlacementRequest,
    compiled: CompiledPlacementOptions,
  ): TaskPlan;
  /** Each instance's verdict for the request's next task; commits nothing. */
  explain(
    snapshot: ClusterSnapshot,
    request: PlacementRequest,
    compiled: CompiledPlacementOptions,
  ): PlacementExplanation;
}

/** ECS's answer (InvalidParameterException) when a cluster has no ACTIVE instance. */
export const NO_CONTAINER_INSTANCES = 'No Container Instances were found in your cluster.';

/** The planner the scheduler uses. `random` defaults to Math.random (seed it in tests). */
export function createPlanner(random?: RandomSource): Planner {
  return {
    plan: (snapshot, request, compiled) => planTasks(snapshot, request, { compiled, random }),
    explain: (snapshot, request, compiled) =>
      explainPlacement(snapshot, request, { compiled, random }),
  };
}

/**
 * The planner's view of the instances state returned: oldest first (ties that no strategy
 * breaks go to the first), with merged attributes and task groups as maps.
 */
export function toSnapshot(instances: readonly common.ContainerInstance[]): ClusterSnapshot {
  return { instances: [...instances].sort(byRegistration).map(toSnapshotInstance) };
}

export function toSnapshotInstance(i: common.ContainerInstance): SnapshotInstance {
  const r = i.remaining ?? { cpu: 0, memory: 0, ports: [], portsUdp: [] };
  const attributes: Record<string, string> = {};
  for (const a of i.attributes) attributes[a.name] = a.value ?? '';
  const taskGroups: Record<string, number> = {};
  for (const g of i.taskGroups ?? []) taskGroups[g.group] = g.count;
  return {
    arn: i.containerInstanceArn,
    status: i.status,
    remaining: { cpu: r.cpu, memory: r.memory, ports: r.ports, portsUdp: r.portsUdp },
    // Wharf instances need not be EC2: without one, the container instance's own id.
    ec2InstanceId: i.ec2InstanceId || resourceIdOf(i.containerInstanceArn, 'container-instance'),
    agentConnected: i.agentConnected,
    agentVersion: i.agentVersion || undefined,
    registeredAt: i.registeredAt,
    runningTasksCount: i.runningTasksCount,
    attributes,
    taskGroups,
  };
}

/** Oldest registration first; the instance ARN breaks ties. */
export function byRegistration(a: common.ContainerInstance, b: common.ContainerInstance): number {
  return (
    a.registeredAt - b.registeredAt || a.containerInstanceArn.localeCompare(b.containerInstanceArn)
  );
}
