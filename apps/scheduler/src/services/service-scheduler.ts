import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { PLACEMENT_REASONS } from '@wharf/domain';
import { decodeEvents, ELB_EVENT_SCOPE, subjects, WharfEvent } from '@wharf/messaging';
import type { common, stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { firstValueFrom } from 'rxjs';
import type { ClusterSnapshots } from '../cluster-snapshots';
import type { LaunchRedelivery } from '../launch-redelivery';
import type { PlacementBatcher } from '../placement-batcher';
import { compileRequestOptions } from '../placement-options';
import type { Planner } from '../planner';
import type { StopTaskUseCase } from '../stop-task.use-case';
import type { TaskLauncher } from '../task-launch';
import { LeaderLease, SERVICE_SCHEDULER_LEASE } from './leader-lease';
import {
  loadBalancersOf,
  LoadBalancerTargets,
  targetsOfTask,
  taskTargetHealth,
} from './load-balancer-targets';
import {
  DEFAULT_SERVICE_STRATEGY,
  planServiceStep,
  ServiceStepContext,
  ServiceStepSettings,
} from './service-step';

/** Task group of a service's tasks (ECS: `service:<name>`). */
export const serviceGroup = (name: string) => `service:${name}`;
/** How long requests for a pass gather before it runs (event bursts make one pass). */
const DEBOUNCE_MS = 50;
/** ListServices' largest page. */
const SERVICE_PAGE = 100;
/** How far back a pass reads a service's STOPPED tasks (failed launches) at most. */
const STOPPED_WINDOW_MS = 60 * 60_000;
/** Placement checks that say an instance should not run a DAEMON service's task at all. */
const NOT_FOR_DAEMON = new Set<string>([
  PLACEMENT_REASONS.STATUS,
  PLACEMENT_REASONS.ATTRIBUTE,
  PLACEMENT_REASONS.MEMBER_OF,
]);

export interface ServiceSchedulerSettings extends ServiceStepSettings {
  /** A full pass over every service at least this often (events trigger passes between). */
  reconcileIntervalMs: number;
  /** This replica's name in the leader lease. */
  holder: string;
  leaseTtlMs: number;
  /**
   * How long after its agent is seen disconnected an instance's service tasks are recorded
   * STOPPED (lost) and replaced elsewhere; state's heartbeat TTL comes before it.
   */
  lostInstanceGraceMs: number;
}

/** Why a lost host's service tasks stopped (ECS-like; the instance id is appended). */
export const LOST_INSTANCE_REASON =
  'Container instance was lost: its agent stopped sending heartbeats';

/**
 * The service scheduler: on the leader replica only (`LeaderLease`), keeps every ACTIVE
 * service at its desired count and carries its deployments through (`planServiceStep`
 * decides; this class reads what state knows, acts, and records what it did). A pass over a
 * service runs when one of its tasks changes, when the service changes, and at least every
 * `reconcileIntervalMs` for all services; passes over one service never overlap.
 */
export class ServiceScheduler {
  private readonly wanted = new Map<string, { cluster: string; name: string }>();
  /** Tasks draining their load balancer connections → the timer that stops them. */
  private readonly deactivating = new Map<string, NodeJS.Timeout>();
  private readonly targets: LoadBalancerTargets;
  /** Throttled services' next pass, when launches may resume. */
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  /** Clusters whose every service wants a pass (an instance changed). */
  private readonly wantedClusters = new Set<string>();
  private readonly busy = new Set<string>();
  /** Service passes and full passes under way. */
  private readonly inFlight = new Set<Promise<void>>();
  private flushTimer?: NodeJS.Timeout;
  private passTimer?: NodeJS.Timeout;
  private subscriptions: Subscription[] = [];
  private stopped = false;
  readonly lease: LeaderLease;
  /** Disconnected instances (cluster/arn) → when first seen so, until handled or back. */
  private readonly disconnected = new Map<
    string,
    { cluster: string; arn: string; since: number }
  >();
  /** Instances whose service tasks were recorded lost; forgotten when the agent is back. */
  private readonly handled = new Set<string>();
  /** `status/agentConnected` of each instance last seen, by `cluster/arn`. */
  private readonly instanceConditions = new Map<string, string>();

  constructor(
    private readonly state: stateV1.StateServiceClient,
    private readonly launcher: TaskLauncher,
    private readonly batcher: PlacementBatcher,
    private readonly stopper: StopTaskUseCase,
    private readonly snapshots: ClusterSnapshots,
    private readonly planner: Planner,
    private readonly launches: LaunchRedelivery,
    private readonly logger: Logger,
    private readonly settings: ServiceSchedulerSettings,
  ) {
    this.targets = new LoadBalancerTargets(state);
    // A new leader looks at every service at once rather than at the next periodic pass.
    this.lease = new LeaderLease(state, settings.holder, settings.leaseTtlMs, logger, (leader) => {
      if (leader)
        void this.fullPass().catch((err: unknown) =>
          this.logger.warn({ err }, 'service scheduler pass failed'),
        );
    });
  }

  start(nc: NatsConnection): void {
    this.subscriptions = [
      nc.subscribe(subjects.event('*', 'task', '*'), {
        callback: (err, msg) => {
          // Most task events are of standalone tasks: those are skipped without decoding.
          if (err || !mayBeServiceTask(msg.data)) return;
          for (const event of readEvents<common.Task>(msg.data)) {
            const group = event.detail?.group ?? '';
            if (group.startsWith('service:')) this.request(event.cluster, group.slice(8));
          }
        },
      }),
      // The load balancer found a target (un)healthy: its service may count or replace it.
      nc.subscribe(subjects.event(ELB_EVENT_SCOPE, 'target', '*'), {
        callback: (err, msg) => {
          if (err) return;
          for (const event of readEvents<stateV1.LbTarget>(msg.data)) {
            const service = event.detail?.serviceArn ?? '';
            const [cluster, serviceName] = service.split(':service/')[1]?.split('/') ?? [];
            if (cluster && serviceName) this.request(cluster, serviceName);
          }
        },
      }),
      nc.subscribe(subjects.event('*', 'service', '*'), {
        callback: (err, msg) => {
          if (err) return;
          for (const event of readEvents<common.Service>(msg.data)) {
            if (event.detail?.serviceName) this.request(event.cluster, event.detail.serviceName);
          }
        },
      }),
    ];
    this.lease.start();
    this.schedulePass(0);
  }

  /**
   * A container instance event (decoded once for the whole scheduler by followClusterEvents).
   * Only a new instance, or one whose status or agent connection changed, concerns services:
   * DAEMON services gain or lose a task, REPLICA services move theirs off a draining one, a lost
   * host's tasks are replaced. Resource changes (every placement makes one) do not.
   */
  instanceChanged(cluster: string, instance: common.ContainerInstance): void {
    this.noteInstance(cluster, instance);
    const key = `${cluster}/${instance.containerInstanceArn}`;
    const condition = `${instance.status}/${instance.agentConnected}`;
    if (this.instanceConditions.get(key) === condition) return;
    // a deregistered instance has nothing more to tell: forget it (fleets come and go)
    if (instance.status === 'INACTIVE') this.instanceConditions.delete(key);
    else this.instanceConditions.set(key, condition);
    this.requestCluster(cluster);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.passTimer);
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    // Draining tasks stay as they are: the next leader sees them and stops them again.
    for (const timer of this.deactivating.values()) clearTimeout(timer);
    for (const s of this.subscriptions) s.unsubscribe();
    // Passes under way finish first: one cut off between its commit and its StartTask calls
    // would leave tasks no agent was told about (the next leader's LaunchRedelivery tells them,
    // but only a minute later).
    await Promise.allSettled([...this.inFlight]);
    await this.lease.stop();
  }

  /** Tracks `pass` until it settles, so that `stop` can wait for it. */
  private track(pass: Promise<void>): Promise<void> {
    this.inFlight.add(pass);
    void pass.finally(() => this.inFlight.delete(pass)).catch(() => undefined);
    return pass;
  }

  /** Asks for a pass over one service soon. */
  request(cluster: string, name: string): void {
    if (this.stopped || !this.lease.isLeader()) return;
    this.wanted.set(`${cluster}/${name}`, { cluster, name });
    this.flushTimer ??= setTimeout(() => this.flush(), DEBOUNCE_MS);
  }

  /** Asks for a pass over every service of a cluster soon. */
  requestCluster(cluster: string): void {
    if (this.stopped || !this.lease.isLeader()) return;
    this.wantedClusters.add(cluster);
    this.flushTimer ??= setTimeout(() => this.flush(), DEBOUNCE_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    for (const cluster of this.wantedClusters) {
      this.wantedClusters.delete(cluster);
      void this.requestServicesOf(cluster).catch((err: unknown) =>
        this.logger.warn({ err, cluster }, 'could not list the services of a cluster'),
      );
    }
    for (const [key, { cluster, name }] of this.wanted) {
      if (this.busy.has(key)) continue; // taken again when the running pass ends
      this.wanted.delete(key);
      this.busy.add(key);
      void this.track(
        this.reconcile(cluster, name)
          .catch((err: unknown) =>
            this.logger.warn({ err, cluster, service: name }, 'service pass failed; retried later'),
          )
          .finally(() => {
            this.busy.delete(key);
            if (this.wanted.has(key) && !this.stopped) {
              this.flushTimer ??= setTimeout(() => this.flush(), DEBOUNCE_MS);
            }
          }),
      );
    }
  }

  private schedulePass(delayMs: number): void {
    if (this.stopped) return;
    this.passTimer = setTimeout(() => {
      void this.track(
        this.fullPass()
          .catch((err: unknown) => this.logger.warn({ err }, 'service scheduler pass failed'))
          .finally(() => this.schedulePass(this.settings.reconcileIntervalMs)),
      );
    }, delayMs);
  }

  /** Follows an instance's connection: a disconnected one may be lost. */
  private noteInstance(cluster: string, instance: common.ContainerInstance): void {
    const key = `${cluster}/${instance.containerInstanceArn}`;
    const gone =
      !instance.agentConnected && (instance.status === 'ACTIVE' || instance.status === 'DRAINING');
    if (!gone) {
      this.disconnected.delete(key);
      this.handled.delete(key);
      return;
    }
    if (this.handled.has(key) || this.disconnected.has(key)) return;
    this.disconnected.set(key, { cluster, arn: instance.containerInstanceArn, since: Date.now() });
    setTimeout(() => void this.handleLost(key), this.settings.lostInstanceGraceMs).unref();
  }

  /**
   * A lost host: its service tasks are recorded STOPPED (state refuses if the agent came
   * back), which makes their services replace them. Tasks that are not a service's are left
   * alone: they may still be running, and nothing would replace them.
   */
  private async handleLost(key: string): Promise<void> {
    const entry = this.disconnected.get(key);
    if (!entry) return;
    if (!this.lease.isLeader()) {
      // Forgotten rather than kept: a kept entry would stop noteInstance from ever arming a
      // timer again, and the instance's tasks would never be replaced. The next leader's full
      // pass notes the instance afresh if it is still gone.
      this.disconnected.delete(key);
      return;
    }
    const waited = Date.now() - entry.since;
    if (waited < this.settings.lostInstanceGraceMs) {
      setTimeout(
        () => void this.handleLost(key),
        this.settings.lostInstanceGraceMs - waited,
      ).unref();
      return;
    }
    try {
      const { tasks } = await firstValueFrom(
        this.state.markInstanceTasksLost({
          cluster: entry.cluster,
          containerInstance: entry.arn,
          groupPrefix: 'service:',
          stopCode: 'ServiceSchedulerInitiated',
          reason: `${LOST_INSTANCE_REASON} (container-instance ${entry.arn.split('/').pop()}).`,
        }),
      );
      this.disconnected.delete(key);
      this.handled.add(key);
      if (tasks.length > 0) {
        this.logger.warn(
          { cluster: entry.cluster, instance: entry.arn, tasks: tasks.map((t) => t.taskArn) },
          'lost container instance: its service tasks will be replaced',
        );
      }
    } catch (err) {
      // Reconnected meanwhile (refused), or state unreachable: the next full pass looks again.
      this.disconnected.delete(key);
      this.logger.info({ err, instance: entry.arn }, 'lost-instance check did not apply');
    }
  }

  /**
   * Requests a pass over every service of every cluster, and looks for lost instances and for
   * launches no agent reported on.
   */
  private async fullPass(): Promise<void> {
    if (!this.lease.isLeader()) return;
    let clusterToken = '';
    do {
      const page = await firstValueFrom(
        this.state.listClusters({ maxResults: SERVICE_PAGE, nextToken: clusterToken }),
      );
      for (const clusterArn of page.clusterArns) {
        const cluster = clusterArn.split('/').pop()!;
        const view = await this.snapshots.get(cluster);
        for (const i of view.instances()) {
          const record = view.record(i.arn);
          if (record) this.noteInstance(cluster, record);
        }
        // Not awaited: an agent that does not answer may hold a sweep for AGENT_CALL_TIMEOUT_MS.
        void this.track(
          this.launches
            .sweep(cluster)
            .then(() => undefined)
            .catch((err: unknown) =>
              this.logger.warn({ err, cluster }, 'stale launch sweep failed; retried next pass'),
            ),
        );
        await this.requestServicesOf(cluster);
      }
      clusterToken = page.nextToken;
    } while (clusterToken);
  }

  private async requestServicesOf(cluster: string): Promise<void> {
    let nextToken = '';
    do {
      const services = await firstValueFrom(
        this.state.listServices({
          cluster,
          launchType: '',
          schedulingStrategy: '',
          maxResults: SERVICE_PAGE,
          nextToken,
        }),
      );
      for (const arn of services.serviceArns) this.request(cluster, arn.split('/').pop()!);
      nextToken = services.nextToken;
    } while (nextToken);
  }

  /** One pass over one service: read, decide, act, record. */
  async reconcile(cluster: string, name: string): Promise<void> {
    const { services } = await firstValueFrom(
      this.state.describeServices({ cluster, services: [name] }),
    );
    const service = services[0];
    if (!service || service.status === 'INACTIVE') return;
    const now = Date.now();
    // Failed launches count from the oldest deployment still in play (within a window).
    const since = Math.max(
      now - STOPPED_WINDOW_MS,
      Math.min(...service.deployments.map((d) => Number(d.createdAt || now))),
    );
    const listed = await firstValueFrom(
      this.state.listServiceTasks({ cluster, service: name, stoppedSinceMs: since }),
    );
    // A task draining connections before it stops counts as being stopped already.
    const tasks = listed.tasks.map((t) =>
      this.deactivating.has(t.taskArn) ? { ...t, desiredStatus: 'STOPPED' } : t,
    );
    const loadBalancers = loadBalancersOf(service);
    const targets =
      loadBalancers.length > 0 ? await this.targets.current(service, loadBalancers) : undefined;
    const context = await this.context(cluster, service);
    const step = planServiceStep(service, tasks, now, {
      ...context,
      targetHealth: targets && taskTargetHealth(targets),
    });
    if (!this.lease.isLeader()) return;
    if (step.retryAt !== undefined) {
      // Throttled: look again when launches may resume (the periodic pass would, later).
      const key = `${cluster}/${name}`;
      clearTimeout(this.retryTimers.get(key));
      this.retryTimers.set(
        key,
        setTimeout(
          () => {
            this.retryTimers.delete(key);
            this.request(cluster, name);
          },
          step.retryAt - now + 10,
        ).unref(),
      );
    }

    const events: string[] = [];
    // Behind a load balancer, a task with a target stops only after draining its connections.
    const draining = targets
      ? step.stop.filter(({ task }) =>
          targets.some(
            (t) => t.taskArn === task.taskArn && t.state !== 'draining' && t.state !== 'unused',
          ),
        )
      : [];
    const stopped = await this.stopTasks(
      cluster,
      step.stop.filter((s) => !draining.includes(s)),
    );
    if (stopped.length > 0) {
      events.push(
        `(service ${name}) has stopped ${stopped.length} running tasks: ${stopped.map(taskRef).join(' ')}.`,
      );
    }
    if (draining.length > 0) {
      await this.deactivate(cluster, name, targets!, draining);
      events.push(`(service ${name}) has begun draining connections on ${draining.length} tasks.`);
    }
    let started: common.Task[] = [];
    if (step.start > 0 && this.lease.isLeader()) {
      const outcome = await this.startTasks(cluster, service, step.start);
      if (outcome.failure?.reason === 'NOT_LEADER') {
        // Another replica leads now: it decides for this service from here on.
        this.logger.info({ cluster, service: name }, 'lost the lease during a pass; stopping it');
        return;
      }
      for (const failure of outcome.launchFailures) {
        this.logger.warn(
          { cluster, service: name, task: failure.taskArn, reason: failure.stoppedReason },
          'a service task failed to start',
        );
      }
      started = outcome.started;
      if (started.length > 0) {
        events.push(
          `(service ${name}) has started ${started.length} tasks: ${started.map(taskRef).join(' ')}.`,
        );
      }
      const unplaced = outcome.failure && unableToPlaceMessage(name, outcome.failure);
      if (unplaced && service.events[0]?.message !== unplaced) events.push(unplaced);
    }
    if (targets) {
      // Targets follow the tasks that run and are wanted; the rest are deregistered.
      const view = await this.snapshots.get(cluster);
      const leaving = new Set(step.stop.map((s) => s.task.taskArn));
      const wanted = tasks
        .filter((t) => !leaving.has(t.taskArn))
        .flatMap((t) => targetsOfTask(t, loadBalancers, view));
      // (The targets of tasks just set draining were deregistered above already.)
      const deactivated = new Set(draining.map((d) => d.task.taskArn));
      const changes = await this.targets.sync(
        service,
        wanted,
        targets.filter((t) => !deactivated.has(t.taskArn)),
      );
      for (const [group, n] of changes.registered) {
        events.push(`(service ${name}) registered ${n} targets in (target-group ${group})`);
      }
      for (const [group, n] of changes.deregistered) {
        events.push(`(service ${name}) deregistered ${n} targets in (target-group ${group})`);
      }
    }
    events.push(...step.events);

    const primary = service.deployments.find((d) => d.status === 'PRIMARY');
    const progress = step.progress.map((p) =>
      p.id === primary?.id
        ? { ...p, pendingCount: p.pendingCount - step.start + started.length }
        : p,
    );
    const live = progress.filter((p) => !p.inactive);
    const daemonDesired =
      service.schedulingStrategy === 'DAEMON' && step.desiredCount !== service.desiredCount
        ? step.desiredCount
        : undefined;
    const changed =
      events.length > 0 ||
      daemonDesired !== undefined ||
      step.status !== '' ||
      service.runningCount !== sum(live, 'runningCount') ||
      service.pendingCount !== sum(live, 'pendingCount') ||
      progress.some((p) => p.inactive || p.rolloutState !== '') ||
      progress.some((p) => {
        const d = service.deployments.find((x) => x.id === p.id);
        return (
          d?.runningCount !== p.runningCount ||
          d?.pendingCount !== p.pendingCount ||
          d?.failedTasks !== p.failedTasks
        );
      });
    if (!changed && !step.rollbackTo) return;
    if (changed) {
      await firstValueFrom(
        this.state.recordServiceProgress({
          cluster,
          service: name,
          expectedVersion: 0,
          deployments: progress,
          events,
          runningCount: sum(live, 'runningCount'),
          pendingCount: sum(live, 'pendingCount'),
          status: step.status,
          daemonDesiredCount: daemonDesired,
        }),
      );
    }
    if (step.rollbackTo) {
      // The circuit breaker tripped: the last completed definition comes back as a new
      // deployment, which the next pass rolls out like any other.
      await firstValueFrom(
        this.state.updateService({
          cluster,
          service: name,
          taskDefinition: step.rollbackTo.taskDefinitionArn,
          forceNewDeployment: true,
        }),
      );
    }
    this.logger.info(
      {
        cluster,
        service: name,
        started: started.map((t) => t.taskArn),
        stopped: stopped.map((t) => t.taskArn),
        events,
      },
      'service pass',
    );
  }

  /**
   * Deregisters the tasks' targets now and stops each task once its target groups'
   * deregistration delay has passed (in-flight requests finish first, as with ECS).
   */
  private async deactivate(
    cluster: string,
    name: string,
    targets: readonly stateV1.LbTarget[],
    stops: { task: common.Task; reason: string }[],
  ): Promise<void> {
    for (const { task, reason } of stops) {
      const delayMs = await this.targets.deactivate(targets, task.taskArn);
      this.logger.info(
        { cluster, service: name, task: task.taskArn, delayMs },
        'service task draining connections before it stops',
      );
      const timer = setTimeout(() => {
        void this.stopTasks(cluster, [{ task, reason }]).finally(() => {
          this.deactivating.delete(task.taskArn);
          this.request(cluster, name);
        });
      }, delayMs);
      timer.unref();
      this.deactivating.set(task.taskArn, timer);
    }
  }

  /** What a pass needs to know besides the service's tasks. */
  private async context(
    cluster: string,
    service: common.Service,
  ): Promise<Omit<ServiceStepContext, 'now'>> {
    const view = await this.snapshots.get(cluster);
    const instances = view.instances();
    const draining = new Set(instances.filter((i) => i.status === 'DRAINING').map((i) => i.arn));
    const daemon = { eligible: new Set<string>(), connected: new Set<string>() };
    if (service.schedulingStrategy === 'DAEMON' && service.status === 'ACTIVE') {
      // Every ACTIVE instance whose attributes meet the service's constraints and required
      // attributes should run one task, whether or not it has room for it right now.
      const { launch, options } = await this.launchOf(cluster, service);
      const verdicts = this.planner.explain(
        { instances },
        this.launcher.placementRequest(launch, serviceGroup(service.serviceName), 1),
        { ...options, distinctInstance: false },
      );
      for (const v of verdicts.instances) {
        if (v.feasible || !v.failures.some((f) => NOT_FOR_DAEMON.has(f.reason))) {
          daemon.eligible.add(v.arn);
        }
      }
      for (const i of instances) if (i.agentConnected) daemon.connected.add(i.arn);
    }
    return {
      healthChecked: await this.healthChecked(cluster, service),
      instances: new Map(instances.map((i) => [i.arn, i])),
      draining,
      daemon,
      settings: this.settings,
    };
  }

  /** The service's deployments whose task definition has container health checks. */
  private async healthChecked(cluster: string, service: common.Service): Promise<Set<string>> {
    const checked = new Set<string>();
    for (const d of service.deployments) {
      const { definition } = await this.launcher.resolve(
        { cluster, taskDefinition: d.taskDefinitionArn, overridesJson: '' },
        { allowInactive: true },
      );
      if (definition.containerDefinitions.some((c) => c.healthCheck)) checked.add(d.id);
    }
    return checked;
  }

  private async stopTasks(
    cluster: string,
    stops: { task: common.Task; reason: string }[],
  ): Promise<common.Task[]> {
    const done = await Promise.all(
      stops.map(async ({ task, reason }) => {
        try {
          // Fenced like placements: a replica that lost the lease leaves the task alone.
          return await this.stopper.stop(
            cluster,
            task.taskArn,
            reason,
            'ServiceSchedulerInitiated',
            { lease: SERVICE_SCHEDULER_LEASE, holder: this.settings.holder },
          );
        } catch (err) {
          this.logger.warn({ err, cluster, task: task.taskArn }, 'could not stop a service task');
          return undefined;
        }
      }),
    );
    return done.filter((t): t is common.Task => t !== undefined);
  }

  private async startTasks(
    cluster: string,
    service: common.Service,
    count: number,
  ): Promise<{
    started: common.Task[];
    failure?: common.Failure;
    launchFailures: common.Task[];
  }> {
    const primary = service.deployments.find((d) => d.status === 'PRIMARY')!;
    const { launch, options } = await this.launchOf(cluster, service);
    const fields = {
      group: serviceGroup(service.serviceName),
      startedBy: primary.id,
      tagsJson: '[]',
      launchType: 'EC2',
    };
    const tasks = Array.from({ length: count }, () => this.launcher.newTask(launch, fields));
    // Fenced by the lease: should another replica have taken over since this pass decided,
    // state refuses these placements rather than let both leaders start tasks.
    const fence = { lease: SERVICE_SCHEDULER_LEASE, holder: this.settings.holder };
    let outcome;
    try {
      outcome = await this.batcher.place(cluster, { launch, tasks, options, fence });
    } catch (err) {
      // No instance at all (InvalidParameterException): a failure of the service, not an error.
      const detail = err instanceof Error ? err.message.replace(/^[A-Za-z]+: /, '') : String(err);
      return { started: [], failure: { arn: '', reason: 'MISSING', detail }, launchFailures: [] };
    }
    const launched = await this.launcher.startOnAgents(
      cluster,
      outcome.committed,
      launch.taskDefinition,
    );
    // A task an agent could not start comes back STOPPED: a failed launch, not a start.
    return {
      started: launched.filter((t) => t.lastStatus !== 'STOPPED'),
      failure: outcome.failures[0],
      launchFailures: launched.filter((t) => t.lastStatus === 'STOPPED'),
    };
  }

  /**
   * How the PRIMARY deployment's tasks launch: its task definition (a service goes on running
   * a revision after it is deregistered, as in ECS) and the placement options — the service's
   * constraints and strategies (default: spread over zones, then instances); a DAEMON's one
   * task per instance is a distinctInstance constraint on the service's group.
   */
  private async launchOf(cluster: string, service: common.Service) {
    const primary = service.deployments.find((d) => d.status === 'PRIMARY')!;
    const launch = await this.launcher.resolve(
      { cluster, taskDefinition: primary.taskDefinitionArn, overridesJson: '' },
      { allowInactive: true },
    );
    const strategy = JSON.parse(service.placementStrategyJson || '[]') as unknown[];
    const options = compileRequestOptions({
      constraintsJson: service.placementConstraintsJson,
      strategyJson: JSON.stringify(strategy.length > 0 ? strategy : DEFAULT_SERVICE_STRATEGY),
      definition: launch.definition,
    });
    const daemon = service.schedulingStrategy === 'DAEMON';
    return { launch, options: daemon ? { ...options, distinctInstance: true } : options };
  }
}

/** The member as state's events spell it (Postgres renders jsonb with a space after ':'). */
const SERVICE_GROUP = [Buffer.from('"group": "service:'), Buffer.from('"group":"service:')];

/**
 * Whether an encoded task event (or batch of them) may be of a service's task: its JSON holds the member
 * `"group": "service:…"`. A false positive only costs a decode; a quote inside a string value
 * is escaped, so no service task is missed.
 */
function mayBeServiceTask(data: Uint8Array): boolean {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return SERVICE_GROUP.some((needle) => bytes.includes(needle));
}

/** The events of a message (a batch's, or the one); none when it is unreadable. */
function readEvents<T>(data: Uint8Array): WharfEvent<T>[] {
  try {
    return decodeEvents<T>(data);
  } catch {
    return [];
  }
}

const taskRef = (t: common.Task) => `(task ${t.taskArn.split('/').pop()})`;

function sum(progress: stateV1.DeploymentProgress[], key: 'runningCount' | 'pendingCount') {
  return progress.reduce((n, p) => n + p[key], 0);
}

/** What closest instance's failure says, in ECS's words. */
const CLOSEST: Record<string, string> = {
  'RESOURCE:MEMORY': 'has insufficient memory available',
  'RESOURCE:CPU': 'has insufficient CPU units available',
  'RESOURCE:PORTS': 'is already using a port required by your task',
  'RESOURCE:PORTS_UDP': 'is already using a port required by your task',
  ATTRIBUTE: 'is missing an attribute required by your task',
  AGENT: 'has an agent that is not connected',
};

/** ECS's event when a service task cannot be placed. */
export function unableToPlaceMessage(service: string, failure: common.Failure): string {
  const head = `(service ${service}) was unable to place a task because no container instance met all of its requirements.`;
  const tail =
    'For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.';
  if (!failure.arn) return `${head} Reason: ${failure.detail} ${tail}`;
  const instance = failure.arn.split('/').pop();
  const closest = CLOSEST[failure.reason] ?? `encountered error "${failure.reason}"`;
  return `${head} The closest matching (container-instance ${instance}) ${closest}. ${tail}`;
}
