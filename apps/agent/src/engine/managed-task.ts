import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { NetworkBindingReport } from '@wharf/messaging';
import type { TaskReportSink } from '../reporting/report-publisher';
import type {
  AgentNetworkMode,
  PlannedDependency,
  PlannedPortMapping,
  PlannedRestartPolicy,
  PlannedVolume,
  Protocol,
  TaskPlan,
} from './container-config';
import { dockerStatus, ensureImage, errorMessage, ImagePullBehavior } from './docker-util';
import { LABELS } from './labels';
import {
  buildTaskReport,
  ContainerKnownStatus,
  ESSENTIAL_EXITED_REASON,
  networkBindingsOf,
  OOM_REASON,
  pullErrorReason,
  TaskKnownStatus,
  TaskSnapshot,
} from './task-report';

export interface ManagedTaskDeps {
  docker: Docker;
  sink: TaskReportSink;
  logger: Logger;
  clusterArn: string;
  containerInstanceArn: string;
  /** AGENT_IMAGE_PULL_BEHAVIOR. */
  pullBehavior: ImagePullBehavior;
  /** AGENT_TASK_CLEANUP_WAIT_MS: how long a STOPPED task's containers are kept. */
  cleanupWaitMs: number;
  /** Called when a STOPPED task's clean-up begins: the engine forgets it. */
  onStopped: (task: ManagedTask) => void;
  /**
   * AGENT_PENDING_REPORT_DELAY_MS: a starting task is reported PENDING only if it is still
   * starting this long after it was accepted (0: at once). See `reportPendingLater`.
   */
  pendingReportDelayMs: number;
}

interface ManagedContainer {
  name: string;
  image: string;
  dockerName: string;
  essential: boolean;
  stopTimeoutS: number;
  portMappings: PlannedPortMapping[];
  dependsOn: PlannedDependency[];
  startTimeoutS: number;
  restartPolicy?: PlannedRestartPolicy;
  createOptions?: Docker.ContainerCreateOptions;
  runtimeId?: string;
  /** When Docker last started it (epoch ms), for restartAttemptPeriod. */
  lastStartedAt?: number;
  /** When Docker saw it exit (epoch ms), from inspect. */
  finishedAt?: number;
  restartCount: number;
  status: ContainerKnownStatus;
  exitCode?: number;
  reason?: string;
  oomKilled?: boolean;
  networkBindings: NetworkBindingReport[];
  healthStatus?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
}

const RETRY_STOP_MS = 2_000;
const DEPENDENCY_POLL_MS = 250;

export type DesiredStatus = 'RUNNING' | 'STOPPED';

/**
 * The one owner of a task inside the agent. Every change to the task — starting it, a stop
 * request, a Docker event — runs as an operation on this task's queue, one at a time, so a
 * stop racing a start always ends in one consistent state. Only queued operations may change
 * `knownStatus` or the containers; `desiredStatus` may be raised to STOPPED at any time (the
 * start pipeline checks it between steps) and never goes back.
 */
export class ManagedTask {
  knownStatus: TaskKnownStatus = 'NONE';
  desiredStatus: DesiredStatus = 'RUNNING';
  stopCode?: string;
  stoppedReason?: string;
  private readonly times: Pick<
    TaskSnapshot,
    | 'pullStartedAt'
    | 'pullStoppedAt'
    | 'startedAt'
    | 'stoppingAt'
    | 'stoppedAt'
    | 'executionStoppedAt'
  > = {};
  private queue: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private cleanupTimer?: NodeJS.Timeout;
  private pendingReportTimer?: NodeJS.Timeout;
  /** Adopted with fewer containers than the task has: it never finished starting. */
  private incomplete = false;
  private disposed = false;

  private constructor(
    private readonly deps: ManagedTaskDeps,
    readonly taskArn: string,
    readonly networkMode: AgentNetworkMode,
    private readonly containers: ManagedContainer[],
    private readonly volumes: PlannedVolume[] = [],
  ) {
    this.log = deps.logger.child({ taskArn, containerInstanceArn: deps.containerInstanceArn });
  }

  static fromPlan(deps: ManagedTaskDeps, plan: TaskPlan): ManagedTask {
    return new ManagedTask(
      deps,
      plan.taskArn,
      plan.networkMode,
      plan.containers.map((c) => ({
        name: c.name,
        image: c.image,
        dockerName: c.dockerName,
        essential: c.essential,
        stopTimeoutS: c.stopTimeoutS,
        portMappings: c.portMappings,
        dependsOn: c.dependsOn,
        startTimeoutS: c.startTimeoutS,
        restartPolicy: c.restartPolicy,
        createOptions: c.createOptions,
        status: 'NONE',
        restartCount: 0,
        networkBindings: [],
        healthStatus: c.hasHealthCheck ? 'UNKNOWN' : undefined,
      })),
      plan.volumes,
    );
  }

  /** A task found on the host at start-up, rebuilt from its containers' labels and state. */
  static adopt(
    deps: ManagedTaskDeps,
    taskArn: string,
    infos: Docker.ContainerInspectInfo[],
    defaultStopTimeoutS: number,
  ): ManagedTask {
    const mode = (infos[0]?.HostConfig?.NetworkMode ?? 'bridge') as string;
    const networkMode: AgentNetworkMode = mode === 'host' || mode === 'none' ? mode : 'bridge';
    const containers = infos.map((info): ManagedContainer => {
      const labels = info.Config.Labels ?? {};
      const portMappings = Object.keys(info.Config.ExposedPorts ?? {}).map((key) => {
        const [port, proto] = key.split('/');
        const containerPort = Number(port);
        return { containerPort, hostPort: containerPort, protocol: proto as Protocol };
      });
      const state = info.State;
      const status: ContainerKnownStatus = state.Running
        ? 'RUNNING'
        : state.Status === 'created'
          ? 'CREATED'
          : 'STOPPED';
      const health = (state as { Health?: { Status?: string } }).Health?.Status;
      return {
        name: labels[LABELS.containerName] ?? info.Name.replace(/^\//, ''),
        image: info.Config.Image,
        dockerName: info.Name.replace(/^\//, ''),
        essential: labels[LABELS.essential] !== 'false',
        stopTimeoutS: Number(labels[LABELS.stopTimeout] ?? defaultStopTimeoutS),
        portMappings,
        // Dependencies belong to the start pipeline of the agent that ran it.
        dependsOn: [],
        startTimeoutS: 0,
        restartPolicy: restartPolicyLabel(labels[LABELS.restartPolicy]),
        runtimeId: info.Id,
        status,
        restartCount: 0,
        lastStartedAt: dockerTime(state.StartedAt),
        finishedAt: dockerTime(state.FinishedAt),
        exitCode: status === 'STOPPED' ? state.ExitCode : undefined,
        reason: status === 'STOPPED' && state.OOMKilled ? OOM_REASON : undefined,
        networkBindings:
          status === 'RUNNING'
            ? networkBindingsOf(networkMode, portMappings, info.NetworkSettings?.Ports as never)
            : [],
        healthStatus: healthOf(health),
      };
    });
    const task = new ManagedTask(deps, taskArn, networkMode, containers);
    task.knownStatus = 'RUNNING';
    const expected = Number(infos[0]?.Config.Labels?.[LABELS.containerCount] ?? 0);
    task.incomplete = expected > containers.length;
    const started = infos
      .map((i) => Date.parse(i.State.StartedAt))
      .filter((t) => Number.isFinite(t) && t > 0);
    if (started.length) task.times.startedAt = Math.min(...started);
    return task;
  }

  snapshot(): TaskSnapshot {
    return {
      clusterArn: this.deps.clusterArn,
      containerInstanceArn: this.deps.containerInstanceArn,
      taskArn: this.taskArn,
      knownStatus: this.knownStatus,
      stopCode: this.stopCode,
      stoppedReason: this.stoppedReason,
      containers: this.containers.map((c) => ({
        name: c.name,
        runtimeId: c.runtimeId,
        status: c.status,
        exitCode: c.exitCode,
        reason: c.reason,
        networkBindings: c.networkBindings,
        healthStatus: c.healthStatus,
      })),
      ...this.times,
    };
  }

  /** Resolves once every operation queued so far has finished. */
  idle(): Promise<void> {
    return this.queue;
  }

  start(): Promise<void> {
    return this.enqueue('start', () => this.runStart());
  }

  /**
   * After the Docker engine came back (or the event stream broke): re-inspect every container
   * and apply what happened meanwhile.
   */
  reconcile(): Promise<void> {
    return this.enqueue('reconcile', async () => {
      if (this.knownStatus !== 'RUNNING') return;
      const before = JSON.stringify(this.snapshot().containers);
      for (const c of this.containers) if (c.status === 'RUNNING') await this.refresh(c);
      if (await this.settle()) return;
      if (JSON.stringify(this.snapshot().containers) !== before) this.report();
    });
  }

  /** Drops timers; the engine is closing (containers are left as they are). */
  dispose(): void {
    this.disposed = true;
    if (this.cleanupTimer) clearTimeout(this.cleanupTimer);
    clearTimeout(this.pendingReportTimer);
  }

  /** After adoption: settle what happened while the agent was away, then report. */
  resume(): Promise<void> {
    return this.enqueue('resume', async () => {
      if (
        this.incomplete ||
        this.containers.some((c) => c.status === 'CREATED' || c.status === 'NONE')
      ) {
        this.setDesiredStopped(
          'TaskFailedToStart',
          'The agent restarted while the task was starting',
        );
      }
      if (!(await this.settle())) this.report();
    });
  }

  stop(stopCode: string, reason: string): Promise<void> {
    this.setDesiredStopped(stopCode, reason);
    return this.enqueue('stop', () => this.progressStop());
  }

  /** A Docker event for one of this task's containers (by its `com.wharf.container-name`). */
  onContainerEvent(action: string, containerName: string): Promise<void> {
    return this.enqueue(`event ${action}`, () => this.handleEvent(action, containerName));
  }

  private enqueue(what: string, op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(op).catch((err: unknown) => this.recover(what, err));
    this.queue = next;
    return next;
  }

  /**
   * An operation failed part-way (typically the Docker engine stopped answering). A task
   * still starting is given up; a stop is retried until it is carried through, so the task
   * always ends STOPPED and reported.
   */
  private recover(what: string, err: unknown): void {
    this.log.error({ err: errorMessage(err), op: what }, 'task operation failed');
    if (this.knownStatus === 'STOPPED') return;
    if (this.knownStatus !== 'RUNNING') {
      this.setDesiredStopped(
        'TaskFailedToStart',
        `CannotStartContainerError: ${errorMessage(err)}`,
      );
    }
    if (this.desiredStatus === 'STOPPED') {
      const timer = setTimeout(
        () => void this.enqueue('stop (retry)', () => this.progressStop()),
        RETRY_STOP_MS,
      );
      timer.unref();
    }
  }

  /** Desired status only moves forward; the first stop's code and reason are kept. */
  private setDesiredStopped(stopCode: string, reason: string): void {
    if (this.desiredStatus === 'STOPPED') return;
    this.desiredStatus = 'STOPPED';
    this.stopCode = stopCode;
    this.stoppedReason = reason;
    this.log.info({ stopCode, reason }, 'task desired status STOPPED');
  }

  /** Read through a method: a stop may have been requested while an operation awaited. */
  private stopRequested(): boolean {
    return this.desiredStatus === 'STOPPED';
  }

  private report(): void {
    // Whatever is reported now says more than the PENDING still waiting (or is PENDING itself).
    clearTimeout(this.pendingReportTimer);
    this.pendingReportTimer = undefined;
    this.deps.sink.submit(buildTaskReport(this.snapshot()));
  }

  /**
   * PENDING is reported only if the task is still starting `pendingReportDelayMs` after it was
   * accepted. A start whose images are on the host is RUNNING within that time, and one report
   * (RUNNING) tells the cluster as much as two: every report is a JetStream message, a state
   * transaction and a task.changed event, so a busy cluster applies half as many. ECS's agent
   * does not report PENDING at all. A task that takes longer (a pull, a dependency it waits
   * for) still shows PENDING, from then on, and a launch no agent took stays PROVISIONING.
   */
  private reportPendingLater(): void {
    const delayMs = this.deps.pendingReportDelayMs;
    if (delayMs <= 0) return this.report();
    this.pendingReportTimer = setTimeout(() => {
      this.pendingReportTimer = undefined;
      if (!this.disposed) this.report();
    }, delayMs);
  }

  private get docker(): Docker {
    return this.deps.docker;
  }

  // ---- start -------------------------------------------------------------------------------

  private async runStart(): Promise<void> {
    if (this.knownStatus !== 'NONE') return;
    if (this.desiredStatus === 'STOPPED') return this.progressStop();
    this.knownStatus = 'PENDING';
    this.times.pullStartedAt = Date.now();
    this.reportPendingLater();

    for (const image of new Set(this.containers.map((c) => c.image))) {
      try {
        const how = await ensureImage(this.docker, image, this.deps.pullBehavior);
        this.log.info({ image, how }, 'image ready');
      } catch (err) {
        const reason = pullErrorReason(image, err);
        this.log.warn({ image, err: errorMessage(err) }, 'image pull failed');
        this.times.pullStoppedAt = Date.now();
        for (const c of this.containers) if (c.image === image) c.reason = reason;
        this.setDesiredStopped('TaskFailedToStart', reason);
        return this.progressStop();
      }
    }
    this.times.pullStoppedAt = Date.now();
    for (const c of this.containers) c.status = 'PULLED';

    for (const v of this.volumes) {
      if (this.stopRequested()) return this.progressStop();
      const failure = await this.ensureVolume(v);
      if (failure) {
        this.setDesiredStopped('TaskFailedToStart', failure);
        return this.progressStop();
      }
    }

    // In start order: each container waits for its dependencies' conditions, then is created
    // and started. A container that is a dependency is therefore running (or done) before
    // anything that depends on it exists.
    for (const c of this.containers) {
      if (this.stopRequested()) return this.progressStop();
      const unmet = await this.waitForDependencies(c);
      // The engine closed while waiting: leave everything as it is for the next agent.
      if (this.disposed) return;
      if (this.stopRequested()) return this.progressStop();
      if (unmet) {
        c.reason = unmet;
        this.log.warn({ container: c.name, reason: unmet }, 'dependency cannot be met');
        this.setDesiredStopped('TaskFailedToStart', unmet);
        return this.progressStop();
      }
      try {
        c.runtimeId = await this.create(c);
        c.status = 'CREATED';
      } catch (err) {
        return this.failStart(c, `CannotCreateContainerError: ${errorMessage(err)}`);
      }
      if (this.stopRequested()) return this.progressStop();
      try {
        await this.docker.getContainer(c.runtimeId).start();
      } catch (err) {
        if (dockerStatus(err) !== 304) {
          return this.failStart(c, `CannotStartContainerError: ${errorMessage(err)}`);
        }
      }
      c.status = 'RUNNING';
      c.lastStartedAt = Date.now();
    }

    // Read back what Docker did: dynamic host ports, and containers that already exited.
    for (const c of this.containers) if (c.status === 'RUNNING') await this.refresh(c);
    this.times.startedAt = Date.now();
    if (await this.settle()) return;
    this.knownStatus = 'RUNNING';
    this.log.info(
      { containers: this.containers.map((c) => ({ name: c.name, id: c.runtimeId })) },
      'task RUNNING',
    );
    this.report();
  }

  /**
   * Waits until every dependsOn condition of `c` holds. Returns a reason when one can never
   * hold (or startTimeout passed); undefined when they all hold or a stop was requested.
   */
  private async waitForDependencies(c: ManagedContainer): Promise<string | undefined> {
    if (!c.dependsOn.length) return undefined;
    const deadline = Date.now() + c.startTimeoutS * 1000;
    for (;;) {
      if (this.stopRequested() || this.disposed) return undefined;
      let pending: PlannedDependency | undefined;
      for (const dep of c.dependsOn) {
        const target = this.containers.find((x) => x.name === dep.containerName);
        if (!target) return dependencyReason(c, dep, 'is not in the task');
        const verdict = dependencyVerdict(dep, target);
        if (verdict === 'never') return dependencyReason(c, dep, describeState(target));
        if (verdict === 'waiting') pending ??= dep;
      }
      if (!pending) return undefined;
      if (Date.now() > deadline) {
        const target = this.containers.find((x) => x.name === pending!.containerName)!;
        return dependencyReason(
          c,
          pending,
          `was not met within startTimeout ${c.startTimeoutS}s (${describeState(target)})`,
        );
      }
      await sleep(DEPENDENCY_POLL_MS);
      for (const x of this.containers) if (x.status === 'RUNNING') await this.refresh(x);
      // An essential container that exited meanwhile stops the task (settle carries it out).
      if (this.containers.some((x) => x.essential && x.status === 'STOPPED')) {
        await this.settle();
        return undefined;
      }
    }
  }

  /** Creates the task's Docker volume (task scope), or checks/provisions a shared one. */
  private async ensureVolume(v: PlannedVolume): Promise<string | undefined> {
    if (v.scope === 'shared') {
      try {
        await this.docker.getVolume(v.dockerName).inspect();
        return undefined;
      } catch (err) {
        if (dockerStatus(err) !== 404) throw err;
      }
      if (!v.autoprovision) {
        return `CannotCreateVolumeError: shared volume ${v.dockerName} does not exist and autoprovision is false`;
      }
    }
    try {
      await this.docker.createVolume({
        Name: v.dockerName,
        Driver: v.driver,
        DriverOpts: v.driverOpts,
        Labels: v.labels,
      });
      this.log.info({ volume: v.dockerName, scope: v.scope }, 'volume created');
      return undefined;
    } catch (err) {
      return `CannotCreateVolumeError: ${v.dockerName}: ${errorMessage(err)}`;
    }
  }

  private async create(c: ManagedContainer): Promise<string> {
    if (c.runtimeId) return c.runtimeId;
    try {
      const created = await this.docker.createContainer(c.createOptions!);
      return created.id;
    } catch (err) {
      // A container of that name exists: ours from an earlier attempt at this task is reused.
      if (dockerStatus(err) !== 409) throw err;
      const info = await this.docker.getContainer(c.dockerName).inspect();
      if (info.Config.Labels?.[LABELS.taskArn] !== this.taskArn) throw err;
      return info.Id;
    }
  }

  private failStart(c: ManagedContainer, reason: string): Promise<void> {
    this.log.warn({ container: c.name, reason }, 'task failed to start');
    c.reason = reason;
    this.setDesiredStopped('TaskFailedToStart', reason);
    return this.progressStop();
  }

  /** Re-inspects a container: runtime id, bindings, health, and whether it has exited. */
  private async refresh(c: ManagedContainer): Promise<void> {
    if (!c.runtimeId) return;
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(c.runtimeId).inspect();
    } catch (err) {
      if (dockerStatus(err) !== 404) throw err;
      this.markStopped(c, undefined, 'The container was removed outside the agent');
      return;
    }
    c.finishedAt = dockerTime(info.State.FinishedAt) ?? c.finishedAt;
    c.lastStartedAt = dockerTime(info.State.StartedAt) ?? c.lastStartedAt;
    if (info.State.Running) {
      c.networkBindings = networkBindingsOf(
        this.networkMode,
        c.portMappings,
        info.NetworkSettings?.Ports as never,
      );
      const health = healthOf((info.State as { Health?: { Status?: string } }).Health?.Status);
      if (health) c.healthStatus = health;
    } else if (info.State.Status !== 'created') {
      this.markStopped(c, info.State.ExitCode, info.State.OOMKilled ? OOM_REASON : undefined);
    }
  }

  private markStopped(c: ManagedContainer, exitCode: number | undefined, reason?: string): void {
    c.status = 'STOPPED';
    c.exitCode = exitCode;
    c.networkBindings = [];
    if (reason && !c.reason) c.reason = reason;
    if (c.oomKilled && !c.reason) c.reason = OOM_REASON;
    this.log.info({ container: c.name, exitCode, essential: c.essential }, 'container stopped');
  }

  /**
   * Applies the task rules after a container changed: an essential container that stopped
   * (or every container stopped) stops the task. Returns true when the task is now stopping
   * or stopped (and the stop has been carried out).
   */
  private async settle(): Promise<boolean> {
    if (this.desiredStatus !== 'STOPPED') {
      const essentialExited = this.containers.some((c) => c.essential && c.status === 'STOPPED');
      const allStopped = this.containers.every((c) => c.status === 'STOPPED');
      if (essentialExited || allStopped) {
        this.setDesiredStopped('EssentialContainerExited', ESSENTIAL_EXITED_REASON);
      }
    }
    if (this.desiredStatus !== 'STOPPED') return false;
    await this.progressStop();
    return true;
  }

  // ---- events ------------------------------------------------------------------------------

  private async handleEvent(action: string, containerName: string): Promise<void> {
    const c = this.containers.find((x) => x.name === containerName);
    if (!c || this.knownStatus === 'STOPPED') return;
    if (action === 'oom') {
      c.oomKilled = true;
      return;
    }
    if (action.startsWith('health_status')) {
      const health = healthOf(action.split(':')[1]?.trim());
      if (!health || health === c.healthStatus) return;
      c.healthStatus = health;
      if (this.knownStatus === 'RUNNING') this.report();
      return;
    }
    if (action === 'die') {
      if (c.status === 'STOPPED' || c.status === 'NONE') return;
      await this.refresh(c);
      if (!isStopped(c)) return; // restarted meanwhile
      if (await this.restartIfPolicyAllows(c)) return;
      if (await this.settle()) return;
      if (this.knownStatus === 'RUNNING') this.report();
    }
  }

  /**
   * ECS restartPolicy: a container that exits while the task should run is started again,
   * unless its exit code is ignored or it ran for less than restartAttemptPeriod.
   */
  private async restartIfPolicyAllows(c: ManagedContainer): Promise<boolean> {
    const policy = c.restartPolicy;
    if (!policy || this.stopRequested() || this.knownStatus !== 'RUNNING') return false;
    if (c.exitCode !== undefined && policy.ignoredExitCodes.includes(c.exitCode)) return false;
    const ranMs = (c.finishedAt ?? Date.now()) - (c.lastStartedAt ?? 0);
    if (ranMs < policy.restartAttemptPeriodS * 1000) return false;
    try {
      await this.docker.getContainer(c.runtimeId!).start();
    } catch (err) {
      this.log.warn({ container: c.name, err: errorMessage(err) }, 'restart failed');
      return false;
    }
    c.restartCount++;
    c.status = 'RUNNING';
    c.lastStartedAt = Date.now();
    c.reason = undefined;
    this.log.info(
      { container: c.name, exitCode: c.exitCode, restartCount: c.restartCount },
      'container restarted by its restart policy',
    );
    await this.refresh(c);
    this.report();
    return true;
  }

  // ---- stop --------------------------------------------------------------------------------

  /**
   * Carries a stop through: SIGTERM each running container (SIGKILL after its stopTimeout),
   * collect the exit codes, report STOPPED, then remove the containers.
   */
  private async progressStop(): Promise<void> {
    if (this.knownStatus === 'STOPPED') return;
    this.times.stoppingAt ??= Date.now();
    await Promise.all(
      this.containers
        .filter((c) => c.runtimeId && c.status !== 'STOPPED')
        .map((c) => this.stopContainer(c)),
    );
    for (const c of this.containers) if (c.status !== 'STOPPED') this.markStopped(c, undefined);
    const now = Date.now();
    this.times.pullStoppedAt ??= this.times.pullStartedAt ? now : undefined;
    this.times.executionStoppedAt = now;
    this.times.stoppedAt = now;
    this.knownStatus = 'STOPPED';
    this.log.info({ stopCode: this.stopCode, reason: this.stoppedReason }, 'task STOPPED');
    this.report();
    this.scheduleCleanup();
  }

  /**
   * Keeps a STOPPED task's containers for AGENT_TASK_CLEANUP_WAIT_MS after its last container
   * exited (Docker's FinishedAt, so a task found long-stopped after a restart goes at once).
   */
  private scheduleCleanup(): void {
    if (this.disposed) return;
    const finished = this.containers
      .map((c) => c.finishedAt)
      .filter((t): t is number => t !== undefined);
    const base = finished.length ? Math.max(...finished) : (this.times.stoppedAt ?? Date.now());
    const delay = Math.max(0, base + this.deps.cleanupWaitMs - Date.now());
    this.cleanupTimer = setTimeout(() => void this.enqueue('cleanup', () => this.cleanup()), delay);
    this.cleanupTimer.unref();
  }

  private async cleanup(): Promise<void> {
    if (this.disposed) return;
    this.deps.onStopped(this);
    await this.removeContainers();
    // Task-scoped volumes carry the task's ARN (shared ones do not), also for adopted tasks.
    const { Volumes } = await this.docker.listVolumes({
      filters: { label: [`${LABELS.taskArn}=${this.taskArn}`] },
    });
    for (const v of Volumes ?? []) {
      await this.docker
        .getVolume(v.Name)
        .remove()
        .catch((err: unknown) => {
          if (dockerStatus(err) !== 404) {
            this.log.warn({ volume: v.Name, err: errorMessage(err) }, 'volume not removed');
          }
        });
    }
    this.log.info('task cleaned up');
  }

  private async stopContainer(c: ManagedContainer): Promise<void> {
    const container = this.docker.getContainer(c.runtimeId!);
    try {
      await container.stop({ t: c.stopTimeoutS });
    } catch (err) {
      const status = dockerStatus(err);
      if (status !== 304 && status !== 404) {
        this.log.warn({ container: c.name, err: errorMessage(err) }, 'docker stop failed; killing');
        await container.kill().catch(() => undefined);
      }
    }
    try {
      const info = await container.inspect();
      const ran = info.State.Status !== 'created';
      this.markStopped(
        c,
        ran ? info.State.ExitCode : undefined,
        info.State.OOMKilled ? OOM_REASON : undefined,
      );
    } catch {
      this.markStopped(c, c.exitCode);
    }
  }

  private async removeContainers(): Promise<void> {
    for (const c of this.containers) {
      if (!c.runtimeId) continue;
      try {
        await this.docker.getContainer(c.runtimeId).remove({ force: true, v: true });
      } catch (err) {
        if (dockerStatus(err) !== 404 && dockerStatus(err) !== 409) {
          this.log.warn({ container: c.name, err: errorMessage(err) }, 'container not removed');
        }
      }
    }
  }
}

function restartPolicyLabel(raw: string | undefined): PlannedRestartPolicy | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as PlannedRestartPolicy;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Docker's RFC 3339 times → epoch ms; its zero time (never) → undefined. */
function dockerTime(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) && t > 0 ? t : undefined;
}

/** Whether a dependsOn condition holds, may still hold, or never can. */
export function dependencyVerdict(
  dep: PlannedDependency,
  target: Pick<ManagedContainer, 'status' | 'exitCode' | 'healthStatus'>,
): 'met' | 'waiting' | 'never' {
  const stopped = target.status === 'STOPPED';
  switch (dep.condition) {
    case 'START':
      return target.status === 'RUNNING' || stopped ? 'met' : 'waiting';
    case 'COMPLETE':
      return stopped ? 'met' : 'waiting';
    case 'SUCCESS':
      if (!stopped) return 'waiting';
      return target.exitCode === 0 ? 'met' : 'never';
    case 'HEALTHY':
      if (target.healthStatus === 'HEALTHY') return 'met';
      if (stopped || target.healthStatus === 'UNHEALTHY' || !target.healthStatus) return 'never';
      return 'waiting';
  }
}

function describeState(c: ManagedContainer): string {
  if (c.status === 'STOPPED') {
    return c.exitCode === undefined
      ? `${c.name} stopped`
      : `${c.name} exited with code ${c.exitCode}`;
  }
  if (c.healthStatus === 'UNHEALTHY') return `${c.name} is unhealthy`;
  if (c.healthStatus === undefined) return `${c.name} has no health check`;
  return `${c.name} is ${c.status.toLowerCase()}`;
}

function dependencyReason(c: ManagedContainer, dep: PlannedDependency, why: string): string {
  return `DependencyError: container ${c.name} dependsOn ${dep.containerName} ${dep.condition}, which cannot be met: ${why}`;
}

function isStopped(c: ManagedContainer): boolean {
  return c.status === 'STOPPED';
}

function healthOf(status: string | undefined): 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN' | undefined {
  if (status === 'healthy') return 'HEALTHY';
  if (status === 'unhealthy') return 'UNHEALTHY';
  if (status === 'starting') return 'UNKNOWN';
  return undefined;
}
