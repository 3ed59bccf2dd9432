import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { NetworkBindingReport } from '@wharf/messaging';
import type { TaskReportSink } from '../reporting/report-publisher';
import type { AgentNetworkMode, PlannedPortMapping, Protocol, TaskPlan } from './container-config';
import { dockerStatus, ensureImage, errorMessage } from './docker-util';
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
  /** Called once the task is STOPPED and its containers are removed. */
  onStopped: (task: ManagedTask) => void;
}

interface ManagedContainer {
  name: string;
  image: string;
  dockerName: string;
  essential: boolean;
  stopTimeoutS: number;
  portMappings: PlannedPortMapping[];
  createOptions?: Docker.ContainerCreateOptions;
  runtimeId?: string;
  status: ContainerKnownStatus;
  exitCode?: number;
  reason?: string;
  oomKilled?: boolean;
  networkBindings: NetworkBindingReport[];
  healthStatus?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
}

const RETRY_STOP_MS = 2_000;

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

  private constructor(
    private readonly deps: ManagedTaskDeps,
    readonly taskArn: string,
    readonly networkMode: AgentNetworkMode,
    private readonly containers: ManagedContainer[],
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
        createOptions: c.createOptions,
        status: 'NONE',
        networkBindings: [],
        healthStatus: c.hasHealthCheck ? 'UNKNOWN' : undefined,
      })),
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
        runtimeId: info.Id,
        status,
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

  /** After adoption: settle what happened while the agent was away, then report. */
  resume(): Promise<void> {
    return this.enqueue('resume', async () => {
      if (this.containers.some((c) => c.status === 'CREATED' || c.status === 'NONE')) {
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
    this.deps.sink.submit(buildTaskReport(this.snapshot()));
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
    this.report();

    for (const image of new Set(this.containers.map((c) => c.image))) {
      try {
        const how = await ensureImage(this.docker, image);
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

    for (const c of this.containers) {
      if (this.stopRequested()) return this.progressStop();
      try {
        c.runtimeId = await this.create(c);
        c.status = 'CREATED';
      } catch (err) {
        return this.failStart(c, `CannotCreateContainerError: ${errorMessage(err)}`);
      }
    }

    for (const c of this.containers) {
      if (this.stopRequested()) return this.progressStop();
      try {
        await this.docker.getContainer(c.runtimeId!).start();
      } catch (err) {
        if (dockerStatus(err) !== 304) {
          return this.failStart(c, `CannotStartContainerError: ${errorMessage(err)}`);
        }
      }
      c.status = 'RUNNING';
    }

    // Read back what Docker did: dynamic host ports, and containers that already exited.
    for (const c of this.containers) await this.refresh(c);
    this.times.startedAt = Date.now();
    if (await this.settle()) return;
    this.knownStatus = 'RUNNING';
    this.log.info(
      { containers: this.containers.map((c) => ({ name: c.name, id: c.runtimeId })) },
      'task RUNNING',
    );
    this.report();
  }

  private async create(c: ManagedContainer): Promise<string> {
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
      if (await this.settle()) return;
      if (this.knownStatus === 'RUNNING') this.report();
    }
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
    await this.removeContainers();
    this.deps.onStopped(this);
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

function isStopped(c: ManagedContainer): boolean {
  return c.status === 'STOPPED';
}

function healthOf(status: string | undefined): 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN' | undefined {
  if (status === 'healthy') return 'HEALTHY';
  if (status === 'unhealthy') return 'UNHEALTHY';
  if (status === 'starting') return 'UNKNOWN';
  return undefined;
}
