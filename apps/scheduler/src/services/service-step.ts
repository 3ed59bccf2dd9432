import type { PlacementStrategyInput } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';

/**
 * ECS's default placement for service tasks: spread over availability zones (an agent
 * attribute), then over instances.
 */
export const DEFAULT_SERVICE_STRATEGY: PlacementStrategyInput[] = [
  { type: 'spread', field: 'attribute:ecs.availability-zone' },
  { type: 'spread', field: 'instanceId' },
];

/** ECS's event when a service is stable; appended again after it recovers. */
export const steadyStateMessage = (service: string) =>
  `(service ${service}) has reached a steady state.`;

export interface DeploymentConfiguration {
  maximumPercent: number;
  minimumHealthyPercent: number;
}

/** What one reconciliation pass does to a service. Pure: computed from what state says. */
export interface ServiceStep {
  /** Tasks to start for the PRIMARY deployment. */
  start: number;
  /** Tasks to stop, in order, with the reason recorded on each. */
  stop: { task: common.Task; reason: string }[];
  /** Per deployment: counts, rollout state, and whether it is done. */
  progress: stateV1.DeploymentProgress[];
  /** ECS event messages this pass warrants (deployment completed, steady state). */
  events: string[];
  /** INACTIVE once a DRAINING service has no task left. */
  status: string;
}

const STARTING = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING']);

/** The task is wanted (not being stopped) and not STOPPED yet. */
const live = (t: common.Task) => t.desiredStatus === 'RUNNING' && t.lastStatus !== 'STOPPED';

/**
 * RUNNING, and — when its task definition has container health checks (`checked`) — reported
 * HEALTHY. Without checks a task's health stays UNKNOWN (as in ECS) and RUNNING is enough.
 */
export function isHealthy(t: common.Task, checked: boolean): boolean {
  if (!live(t) || t.lastStatus !== 'RUNNING') return false;
  return checked ? t.healthStatus === 'HEALTHY' : t.healthStatus !== 'UNHEALTHY';
}

function isUnhealthyPastGrace(t: common.Task, graceMs: number, now: number): boolean {
  return (
    live(t) &&
    t.lastStatus === 'RUNNING' &&
    t.healthStatus === 'UNHEALTHY' &&
    now - Number(t.startedAt || 0) >= graceMs
  );
}

export function deploymentConfigurationOf(service: common.Service): DeploymentConfiguration {
  const daemon = service.schedulingStrategy === 'DAEMON';
  let parsed: Partial<DeploymentConfiguration> = {};
  try {
    parsed = JSON.parse(service.deploymentConfigurationJson || '{}') as typeof parsed;
  } catch {
    // state validated it; fall back to the defaults
  }
  return {
    maximumPercent: parsed.maximumPercent ?? (daemon ? 100 : 200),
    minimumHealthyPercent: parsed.minimumHealthyPercent ?? (daemon ? 0 : 100),
  };
}

/**
 * One pass of the REPLICA service scheduler (ECS semantics, ecs-semantics.md §4):
 *
 * - a task whose containers are UNHEALTHY after the grace period is stopped and replaced;
 * - the PRIMARY deployment is brought to the desired count: tasks are started while RUNNING +
 *   PENDING stays within maximumPercent of desired; a surplus is stopped (those not yet
 *   running first, then from the instance with the most of the service's tasks);
 * - tasks of older deployments are stopped while the healthy tasks stay at or above
 *   minimumHealthyPercent of desired (ones that are not healthy go first, they count for
 *   nothing);
 * - an older deployment with no task left is done (INACTIVE); the PRIMARY's rollout is
 *   COMPLETED once it alone remains with desired healthy tasks ("deployment completed", then
 *   "has reached a steady state.");
 * - a DRAINING service (deleted) has desired 0; with no task left it becomes INACTIVE.
 */
export function planServiceStep(
  service: common.Service,
  tasks: readonly common.Task[],
  now: number,
  /** Deployment ids whose task definition has container health checks. */
  healthChecked: ReadonlySet<string> = new Set(),
): ServiceStep {
  const healthy = (t: common.Task) => isHealthy(t, healthChecked.has(t.startedBy));
  const name = service.serviceName;
  const draining = service.status === 'DRAINING';
  const desired = draining ? 0 : service.desiredCount;
  const config = deploymentConfigurationOf(service);
  const maxTotal = Math.floor((desired * config.maximumPercent) / 100);
  const minHealthy = Math.ceil((desired * config.minimumHealthyPercent) / 100);
  const graceMs = service.healthCheckGracePeriodSeconds * 1000;
  const primary = service.deployments.find((d) => d.status === 'PRIMARY');

  const stop: ServiceStep['stop'] = [];
  const stopping = new Set<string>();
  const stopTask = (task: common.Task, reason: string) => {
    stop.push({ task, reason });
    stopping.add(task.taskArn);
  };
  const perInstance = instanceCounts(tasks.filter(live));
  const byCrowdedInstance = (a: common.Task, b: common.Task) =>
    (perInstance.get(b.containerInstanceArn) ?? 0) -
      (perInstance.get(a.containerInstanceArn) ?? 0) || Number(b.createdAt) - Number(a.createdAt);

  // 1. Unhealthy tasks are replaced.
  for (const t of tasks) {
    if (isUnhealthyPastGrace(t, graceMs, now)) {
      stopTask(t, `Task failed container health checks`);
    }
  }
  const still = (t: common.Task) => live(t) && !stopping.has(t.taskArn);

  // 2. The PRIMARY deployment's surplus (scale-in, or everything when draining).
  const primaryLive = tasks.filter((t) => still(t) && t.startedBy === primary?.id);
  const surplus = primaryLive.length - desired;
  if (surplus > 0) {
    const order = [...primaryLive].sort(
      (a, b) => Number(isStarting(b)) - Number(isStarting(a)) || byCrowdedInstance(a, b),
    );
    for (const t of order.slice(0, surplus)) {
      stopTask(
        t,
        draining
          ? 'Service is being deleted'
          : 'Scaling activity initiated by (deployment ' + primary!.id + ')',
      );
    }
  }

  // 3. Older deployments' tasks, within minimumHealthyPercent.
  const old = tasks.filter((t) => still(t) && t.startedBy !== primary?.id);
  let spareHealthy = tasks.filter((t) => still(t) && healthy(t)).length - minHealthy;
  const oldOrder = [...old].sort(
    (a, b) => Number(healthy(a)) - Number(healthy(b)) || byCrowdedInstance(a, b),
  );
  for (const t of oldOrder) {
    const counts = healthy(t);
    if (counts && spareHealthy <= 0 && !draining) continue;
    if (counts) spareHealthy--;
    stopTask(t, `Task stopped by the replacement of its deployment ${t.startedBy || '(none)'}`);
  }

  // 4. Start what the PRIMARY misses, within maximumPercent (stopping tasks still count
  //    until they are STOPPED).
  const occupying = tasks.filter((t) => t.lastStatus !== 'STOPPED').length;
  const primaryKept = primaryLive.filter((t) => !stopping.has(t.taskArn)).length;
  const start =
    primary && !draining ? Math.max(0, Math.min(desired - primaryKept, maxTotal - occupying)) : 0;

  // 5. Progress per deployment.
  const progress: stateV1.DeploymentProgress[] = [];
  const events: string[] = [];
  const oldLeft = new Set(
    tasks
      .filter((t) => t.lastStatus !== 'STOPPED' && t.startedBy !== primary?.id)
      .map((t) => t.startedBy),
  );
  for (const d of service.deployments) {
    if (d.status === 'INACTIVE') continue;
    const mine = tasks.filter((t) => live(t) && t.startedBy === d.id);
    const entry: stateV1.DeploymentProgress = {
      id: d.id,
      runningCount: mine.filter((t) => t.lastStatus === 'RUNNING').length,
      pendingCount: mine.filter(isStarting).length + (d === primary ? start : 0),
      failedTasks: d.failedTasks,
      rolloutState: '',
      rolloutStateReason: '',
      inactive: d !== primary && !oldLeft.has(d.id),
    };
    if (d === primary) {
      const done =
        oldLeft.size === 0 &&
        mine.filter(healthy).length >= desired &&
        mine.length === desired &&
        start === 0 &&
        stop.length === 0;
      if (done && d.rolloutState === 'IN_PROGRESS') {
        entry.rolloutState = 'COMPLETED';
        entry.rolloutStateReason = 'ECS deployment ' + d.id + ' completed.';
        events.push(`(service ${name}) (deployment ${d.id}) deployment completed.`);
      }
      if (done && !draining && service.events[0]?.message !== steadyStateMessage(name)) {
        events.push(steadyStateMessage(name));
      }
    }
    progress.push(entry);
  }

  const status = draining && tasks.length === 0 ? 'INACTIVE' : '';
  return { start, stop, progress, events, status };
}

function isStarting(t: common.Task): boolean {
  return STARTING.has(t.lastStatus);
}

function instanceCounts(tasks: readonly common.Task[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of tasks) {
    counts.set(t.containerInstanceArn, (counts.get(t.containerInstanceArn) ?? 0) + 1);
  }
  return counts;
}
