import type { PlacementStrategyInput, SnapshotInstance } from '@wharf/domain';
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
  circuitBreaker: { enable: boolean; rollback: boolean };
}

/** What the scheduler's configuration says about health and retries (ECS's defaults). */
export interface ServiceStepSettings {
  /**
   * A RUNNING task without container health checks counts as healthy this long after it
   * started (ECS: 40 s), for minimumHealthyPercent and for a deployment to complete.
   */
  healthyAfterRunningMs: number;
  /** Throttling: the delay after the first failed launch, doubled after each further one… */
  throttleBaseMs: number;
  /** …up to this (ECS: 15 minutes). */
  throttleMaxMs: number;
}

export const DEFAULT_STEP_SETTINGS: ServiceStepSettings = {
  healthyAfterRunningMs: 40_000,
  throttleBaseMs: 5_000,
  throttleMaxMs: 15 * 60_000,
};

/** What a pass knows besides the service and its tasks. */
export interface ServiceStepContext {
  now: number;
  /** Deployment ids whose task definition has container health checks. */
  healthChecked: ReadonlySet<string>;
  /** Container instances (ARNs) that are DRAINING: service tasks there move elsewhere. */
  draining: ReadonlySet<string>;
  /**
   * DAEMON services: the instances that should run one task of the service (ACTIVE, meeting
   * its constraints and required attributes), and which of them have a connected agent.
   */
  daemon: { eligible: ReadonlySet<string>; connected: ReadonlySet<string> };
  /**
   * The cluster's instances by ARN (attributes, remaining resources): scale-in follows the
   * service's strategies over them. Without it, scale-in takes from the most crowded instance.
   */
  instances?: ReadonlyMap<string, SnapshotInstance>;
  /**
   * Services behind a load balancer: each task's health there (`taskTargetHealth`). Such a
   * task counts as healthy only once the load balancer says so; one it finds unhealthy after
   * the grace period is replaced.
   */
  targetHealth?: ReadonlyMap<string, string>;
  settings: ServiceStepSettings;
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
  /** DAEMON: how many instances should run the task (the service's desired count). */
  desiredCount: number;
  /** Throttled: no task is started before this time (epoch ms). */
  retryAt?: number;
  /** The circuit breaker failed the PRIMARY deployment: deploy this one's definition again. */
  rollbackTo?: common.Deployment;
}

/** Why a task stopped by the scheduler for failing its container health checks. */
export const HEALTH_CHECK_FAILURE = 'Task failed container health checks';
/** …and for failing its load balancer's health checks. */
export const ELB_HEALTH_CHECK_FAILURE = 'Task failed ELB health checks';

/** ECS's event while launches are being throttled. */
export const throttledMessage = (service: string) =>
  `(service ${service}) is unable to consistently start tasks successfully.`;

const STARTING = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING']);

/** The task is wanted (not being stopped) and not STOPPED yet. */
const live = (t: common.Task) => t.desiredStatus === 'RUNNING' && t.lastStatus !== 'STOPPED';

/**
 * RUNNING and — when its task definition has container health checks (`checked`) — reported
 * HEALTHY; without checks (its health stays UNKNOWN, as in ECS), RUNNING for at least
 * `healthyAfterMs`.
 */
export function isHealthy(
  t: common.Task,
  checked: boolean,
  now = Number.MAX_SAFE_INTEGER,
  healthyAfterMs = 0,
): boolean {
  if (!live(t) || t.lastStatus !== 'RUNNING') return false;
  if (checked) return t.healthStatus === 'HEALTHY';
  return t.healthStatus !== 'UNHEALTHY' && now - Number(t.startedAt || 0) >= healthyAfterMs;
}

function isUnhealthyPastGrace(t: common.Task, graceMs: number, now: number): boolean {
  return (
    live(t) &&
    t.lastStatus === 'RUNNING' &&
    t.healthStatus === 'UNHEALTHY' &&
    now - Number(t.startedAt || 0) >= graceMs
  );
}

/** A launch that failed: STOPPED without ever RUNNING, and not because it was asked to stop. */
export function isFailedLaunch(t: common.Task): boolean {
  return (
    t.lastStatus === 'STOPPED' &&
    !Number(t.startedAt) &&
    t.stopCode !== 'UserInitiated' &&
    t.stopCode !== 'ServiceSchedulerInitiated'
  );
}

/** What the circuit breaker counts: failed launches and tasks that failed health checks. */
function isDeploymentFailure(t: common.Task): boolean {
  return (
    isFailedLaunch(t) ||
    (t.lastStatus === 'STOPPED' &&
      (t.stoppedReason === HEALTH_CHECK_FAILURE || t.stoppedReason === ELB_HEALTH_CHECK_FAILURE))
  );
}

/** ECS's circuit breaker threshold: half the desired count, at least 10, at most 200. */
export function circuitBreakerThreshold(desired: number): number {
  return Math.min(200, Math.max(10, Math.ceil(desired * 0.5)));
}

export function deploymentConfigurationOf(service: common.Service): DeploymentConfiguration {
  const daemon = service.schedulingStrategy === 'DAEMON';
  let parsed: Partial<{
    maximumPercent: number;
    minimumHealthyPercent: number;
    deploymentCircuitBreaker: { enable?: boolean; rollback?: boolean };
  }> = {};
  try {
    parsed = JSON.parse(service.deploymentConfigurationJson || '{}') as typeof parsed;
  } catch {
    // state validated it; fall back to the defaults
  }
  return {
    // A daemon runs one task per instance: never more.
    maximumPercent: daemon ? 100 : (parsed.maximumPercent ?? 200),
    minimumHealthyPercent: parsed.minimumHealthyPercent ?? (daemon ? 0 : 100),
    circuitBreaker: {
      enable: parsed.deploymentCircuitBreaker?.enable === true,
      rollback: parsed.deploymentCircuitBreaker?.rollback === true,
    },
  };
}

const NO_CONTEXT: ServiceStepContext = {
  now: 0,
  healthChecked: new Set(),
  draining: new Set(),
  daemon: { eligible: new Set(), connected: new Set() },
  settings: DEFAULT_STEP_SETTINGS,
};

/**
 * One pass of the service scheduler (ECS semantics, ecs-semantics.md §4). `tasks` are the
 * service's tasks not yet STOPPED plus the recently STOPPED ones (failed launches are counted
 * from those).
 *
 * - a task whose containers are UNHEALTHY after the grace period is stopped and replaced;
 * - tasks that must move — of an older deployment, on a DRAINING instance, or (DAEMON) on an
 *   instance that should not run the service — are stopped while the healthy tasks stay at
 *   or above minimumHealthyPercent of desired (ones that are not healthy go first, they count
 *   for nothing);
 * - REPLICA: the PRIMARY deployment is brought to the desired count; tasks are started while
 *   RUNNING + PENDING stays within maximumPercent of desired; a surplus is stopped (those not
 *   yet running first, then from the instance with the most of the service's tasks);
 * - DAEMON: desired is the number of eligible instances; each eligible connected instance
 *   without a task of the service gets one, a second one on an instance is stopped;
 * - throttling: after launches that failed in a row (since a task last reached RUNNING or the
 *   deployment began), nothing starts until `throttleBaseMs × 2^(failures−1)` (at most
 *   `throttleMaxMs`) after the last one;
 * - circuit breaker (when enabled): once the PRIMARY deployment's failures reach the
 *   threshold its rollout is FAILED, nothing more starts or is replaced for it, and with
 *   rollback the newest COMPLETED deployment is deployed again;
 * - an older deployment with no task left is done (INACTIVE); the PRIMARY's rollout is
 *   COMPLETED once it alone remains with desired healthy tasks ("deployment completed", then
 *   "has reached a steady state.");
 * - a DRAINING service (deleted) has desired 0; with no task left it becomes INACTIVE;
 * - a task with scale-in protection (UpdateTaskProtection) is not stopped by scale-in or by a
 *   deployment while it lasts (the deployment completes once it expires or is lifted).
 */
export function planServiceStep(
  service: common.Service,
  allTasks: readonly common.Task[],
  now: number,
  context: Partial<Omit<ServiceStepContext, 'now'>> = {},
): ServiceStep {
  const ctx: ServiceStepContext = { ...NO_CONTEXT, ...context, now };
  const { settings } = ctx;
  const targetHealth = ctx.targetHealth;
  const healthy = (t: common.Task) =>
    targetHealth
      ? isHealthy(t, ctx.healthChecked.has(t.startedBy)) &&
        targetHealth.get(t.taskArn) === 'healthy'
      : isHealthy(t, ctx.healthChecked.has(t.startedBy), now, settings.healthyAfterRunningMs);
  const name = service.serviceName;
  const daemon = service.schedulingStrategy === 'DAEMON';
  const draining = service.status === 'DRAINING';
  const tasks = allTasks.filter((t) => t.lastStatus !== 'STOPPED');
  const stopped = allTasks.filter((t) => t.lastStatus === 'STOPPED');
  const desired = draining ? 0 : daemon ? ctx.daemon.eligible.size : service.desiredCount;
  const config = deploymentConfigurationOf(service);
  const maxTotal = Math.floor((desired * config.maximumPercent) / 100);
  const minHealthy = Math.ceil((desired * config.minimumHealthyPercent) / 100);
  const graceMs = service.healthCheckGracePeriodSeconds * 1000;
  const primary = service.deployments.find((d) => d.status === 'PRIMARY');
  const events: string[] = [];

  // The circuit breaker: failures of each deployment, and whether the PRIMARY's trip now.
  const failedTasks = new Map(
    service.deployments.map((d) => [
      d.id,
      Math.max(
        d.failedTasks,
        stopped.filter((t) => t.startedBy === d.id && isDeploymentFailure(t)).length,
      ),
    ]),
  );
  let primaryFailed = primary?.rolloutState === 'FAILED';
  let rollbackTo: common.Deployment | undefined;
  let failedReason = '';
  if (
    primary &&
    !primaryFailed &&
    !draining &&
    primary.rolloutState === 'IN_PROGRESS' &&
    config.circuitBreaker.enable &&
    (failedTasks.get(primary.id) ?? 0) >= circuitBreakerThreshold(desired)
  ) {
    primaryFailed = true;
    failedReason = 'ECS deployment circuit breaker: tasks failed to start.';
    events.push(
      `(service ${name}) (deployment ${primary.id}) deployment failed: tasks failed to start.`,
    );
    if (config.circuitBreaker.rollback) {
      rollbackTo = lastCompleted(service.deployments, primary);
      events.push(
        rollbackTo
          ? `(service ${name}) (deployment ${primary.id}) rolling back to deployment ${rollbackTo.id}.`
          : `(service ${name}) (deployment ${primary.id}) cannot roll back: no deployment completed before it.`,
      );
    }
  } else if (primary && primaryFailed && config.circuitBreaker.rollback && !draining) {
    // FAILED and still PRIMARY with rollback on: the pass that tripped the breaker recorded
    // the failure but its rollback (UpdateService) did not go through. Asked for again,
    // without repeating the events.
    rollbackTo = lastCompleted(service.deployments, primary);
  }

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

  // 1. Unhealthy tasks are replaced (not while a failed deployment waits for the user).
  for (const t of tasks) {
    if (primaryFailed && t.startedBy === primary?.id) continue;
    if (isUnhealthyPastGrace(t, graceMs, now)) {
      stopTask(t, HEALTH_CHECK_FAILURE);
    } else if (
      live(t) &&
      targetHealth?.get(t.taskArn) === 'unhealthy' &&
      now - Number(t.startedAt || 0) >= graceMs
    ) {
      stopTask(t, ELB_HEALTH_CHECK_FAILURE);
    }
  }
  const still = (t: common.Task) => live(t) && !stopping.has(t.taskArn);

  // 2. Which tasks must move: why, or '' for a task that stays.
  const whyMove = (t: common.Task): string => {
    if (t.startedBy !== primary?.id) {
      return `Task stopped by the replacement of its deployment ${t.startedBy || '(none)'}`;
    }
    if (ctx.draining.has(t.containerInstanceArn)) return 'Container instance is being drained';
    if (daemon && !ctx.daemon.eligible.has(t.containerInstanceArn)) {
      return 'Container instance no longer meets the requirements of the daemon service';
    }
    return '';
  };
  const staying = tasks.filter((t) => still(t) && !whyMove(t));

  // 3. The PRIMARY deployment's surplus: scale-in (REPLICA), a second task on an instance
  //    (DAEMON), or everything when the service is deleted.
  const surplusOrder = [...staying].sort(
    (a, b) => Number(isStarting(b)) - Number(isStarting(a)) || byCrowdedInstance(a, b),
  );
  // Scale-in and deployments leave tasks with scale-in protection alone until it expires.
  const isProtected = (t: common.Task) => Number(t.protectedUntil || 0) > now;
  const surplus = daemon
    ? duplicatesPerInstance(surplusOrder)
    : scaleIn(
        surplusOrder.filter((t) => !isProtected(t)),
        Math.max(0, staying.length - desired),
        staying,
        strategyOf(service),
        ctx.instances,
      );
  for (const t of surplus) {
    stopTask(
      t,
      draining
        ? 'Service is being deleted'
        : 'Scaling activity initiated by (deployment ' + primary!.id + ')',
    );
  }

  // 4. Tasks that must move, within minimumHealthyPercent (while the PRIMARY has not failed:
  //    then the old tasks are what keeps the service up).
  const moving = tasks.filter((t) => still(t) && whyMove(t));
  let spareHealthy = tasks.filter((t) => still(t) && healthy(t)).length - minHealthy;
  const movingOrder = [...moving].sort(
    (a, b) => Number(healthy(a)) - Number(healthy(b)) || byCrowdedInstance(a, b),
  );
  for (const t of movingOrder) {
    const counts = healthy(t);
    const oldDeployment = t.startedBy !== primary?.id;
    if (primaryFailed && oldDeployment && !draining) continue;
    if (oldDeployment && !draining && isProtected(t)) continue;
    if (counts && spareHealthy <= 0 && !draining) continue;
    if (counts) spareHealthy--;
    stopTask(t, whyMove(t));
  }

  // 5. Start what the PRIMARY misses, within maximumPercent (tasks being stopped still count
  //    until they are STOPPED) — unless throttled or failed.
  const occupying = tasks.length;
  const primaryKept = staying.filter((t) => !stopping.has(t.taskArn)).length;
  let start = 0;
  if (primary && !draining && !primaryFailed) {
    if (daemon) {
      const occupied = new Set(tasks.map((t) => t.containerInstanceArn));
      start = [...ctx.daemon.eligible].filter(
        (i) => ctx.daemon.connected.has(i) && !occupied.has(i),
      ).length;
    } else {
      start = Math.max(0, Math.min(desired - primaryKept, maxTotal - occupying));
    }
  }
  let retryAt: number | undefined;
  if (start > 0 && primary) {
    retryAt = throttledUntil(allTasks, Number(primary.createdAt || 0), settings);
    if (retryAt !== undefined && retryAt > now) {
      start = 0;
      if (service.events[0]?.message !== throttledMessage(name))
        events.push(throttledMessage(name));
    } else {
      retryAt = undefined;
    }
  }

  // 6. Progress per deployment.
  const progress: stateV1.DeploymentProgress[] = [];
  const oldLeft = new Set(tasks.filter((t) => t.startedBy !== primary?.id).map((t) => t.startedBy));
  // A deployment with no task left goes INACTIVE, except the one a rollback would return to
  // while the primary is still rolling out (ECS rolls back to the last completed deployment,
  // tasks or not: with minimumHealthyPercent 0 its tasks are all gone by then).
  const rollbackTarget =
    primary?.rolloutState === 'IN_PROGRESS' &&
    config.circuitBreaker.enable &&
    config.circuitBreaker.rollback
      ? lastCompleted(service.deployments, primary)
      : undefined;
  for (const d of service.deployments) {
    if (d.status === 'INACTIVE') continue;
    const mine = tasks.filter((t) => live(t) && t.startedBy === d.id);
    const entry: stateV1.DeploymentProgress = {
      id: d.id,
      runningCount: mine.filter((t) => t.lastStatus === 'RUNNING').length,
      pendingCount: mine.filter(isStarting).length + (d === primary ? start : 0),
      failedTasks: failedTasks.get(d.id) ?? d.failedTasks,
      rolloutState: '',
      rolloutStateReason: '',
      inactive: d !== primary && d !== rollbackTarget && !oldLeft.has(d.id),
    };
    if (d === primary && failedReason) {
      entry.rolloutState = 'FAILED';
      entry.rolloutStateReason = failedReason;
    } else if (d === primary && !primaryFailed) {
      const done =
        oldLeft.size === 0 &&
        mine.filter(healthy).length >= desired &&
        mine.length === desired &&
        start === 0 &&
        retryAt === undefined &&
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
  return { start, stop, progress, events, status, desiredCount: desired, retryAt, rollbackTo };
}

/**
 * When launches may start again after failing in a row: the failed launches since a task of
 * the service last reached RUNNING (and since `since`, when the deployment began) back off
 * exponentially from the last one. Undefined when nothing failed.
 */
export function throttledUntil(
  tasks: readonly common.Task[],
  since: number,
  settings: ServiceStepSettings,
): number | undefined {
  const lastRan = Math.max(since, ...tasks.map((t) => Number(t.startedAt || 0)));
  const streak = tasks
    .filter((t) => isFailedLaunch(t) && Number(t.stoppedAt) >= lastRan)
    .map((t) => Number(t.stoppedAt));
  if (streak.length === 0) return undefined;
  const delay = Math.min(
    settings.throttleMaxMs,
    settings.throttleBaseMs * 2 ** Math.min(streak.length - 1, 30),
  );
  return Math.max(...streak) + delay;
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

/** All but one task per instance, taking the later ones in `ordered` as the ones kept. */
function duplicatesPerInstance(ordered: readonly common.Task[]): common.Task[] {
  const kept = new Set<string>();
  const extra: common.Task[] = [];
  for (const t of [...ordered].reverse()) {
    if (kept.has(t.containerInstanceArn)) extra.push(t);
    else kept.add(t.containerInstanceArn);
  }
  return extra;
}

/** The newest COMPLETED deployment other than `primary` still listed: a rollback's target. */
function lastCompleted(
  deployments: readonly common.Deployment[],
  primary: common.Deployment,
): common.Deployment | undefined {
  return deployments
    .filter((d) => d !== primary && d.status !== 'INACTIVE' && d.rolloutState === 'COMPLETED')
    .sort((a, b) => Number(b.createdAt) - Number(a.createdAt))[0];
}

/** The service's placement strategies, or the default spread over zones, then instances. */
function strategyOf(service: common.Service): PlacementStrategyInput[] {
  try {
    const given = JSON.parse(service.placementStrategyJson || '[]') as PlacementStrategyInput[];
    return Array.isArray(given) && given.length > 0 ? given : DEFAULT_SERVICE_STRATEGY;
  } catch {
    return DEFAULT_SERVICE_STRATEGY;
  }
}

/**
 * `count` tasks to stop from `candidates` (in their order of preference: starting tasks,
 * then the most crowded instance, then the newest), one at a time, each chosen by the
 * service's strategies in turn as ECS scales in: spread over an attribute (zones) takes from
 * the value with the most of the service's tasks, spread over instances from the instance
 * with the most, binpack(field) the task whose instance keeps the most of that field free.
 * Tasks still starting go before running ones whatever the strategies say.
 * `staying` are all the tasks the counts are over. Without instance facts, the preference
 * order alone decides.
 */
function scaleIn(
  candidates: readonly common.Task[],
  count: number,
  staying: readonly common.Task[],
  strategy: readonly PlacementStrategyInput[],
  instances: ReadonlyMap<string, SnapshotInstance> | undefined,
): common.Task[] {
  if (count <= 0) return [];
  if (!instances) return candidates.slice(0, count);
  // What each rule ranks by (higher first); counts follow each task chosen.
  interface Rule {
    rank(t: common.Task): number;
    remove(t: common.Task): void;
  }
  const counting = (keyOf: (t: common.Task) => string): Rule => {
    const counts = new Map<string, number>();
    for (const t of staying) counts.set(keyOf(t), (counts.get(keyOf(t)) ?? 0) + 1);
    return {
      rank: (t) => counts.get(keyOf(t)) ?? 0,
      remove: (t) => counts.set(keyOf(t), (counts.get(keyOf(t)) ?? 1) - 1),
    };
  };
  const rules: Rule[] = [{ rank: (t) => Number(isStarting(t)), remove: () => undefined }];
  for (const rule of strategy) {
    const field = rule.field ?? '';
    if (rule.type === 'spread' && field.startsWith('attribute:')) {
      const name = field.slice('attribute:'.length);
      rules.push(counting((t) => instances.get(t.containerInstanceArn)?.attributes[name] ?? ''));
    } else if (rule.type === 'spread') {
      rules.push(counting((t) => t.containerInstanceArn));
    } else if (rule.type === 'binpack' && (field === 'cpu' || field === 'memory')) {
      // What the tasks chosen so far give back to their instances counts too.
      const freed = new Map<string, number>();
      const free = (t: common.Task) =>
        (instances.get(t.containerInstanceArn)?.remaining[field] ?? 0) +
        (freed.get(t.containerInstanceArn) ?? 0) +
        Number(t[field] || 0);
      rules.push({
        rank: free,
        remove: (t) =>
          freed.set(
            t.containerInstanceArn,
            (freed.get(t.containerInstanceArn) ?? 0) + Number(t[field] || 0),
          ),
      });
    }
  }
  const pool = [...candidates];
  const chosen: common.Task[] = [];
  while (chosen.length < count && pool.length > 0) {
    let best = 0;
    for (let i = 1; i < pool.length; i++) {
      for (const rule of rules) {
        const d = rule.rank(pool[i]) - rule.rank(pool[best]);
        if (d !== 0) {
          if (d > 0) best = i;
          break;
        }
      }
    }
    const [task] = pool.splice(best, 1);
    chosen.push(task);
    for (const rule of rules) rule.remove(task);
  }
  return chosen;
}
