import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { common } from '@wharf/proto';
import { ClientError, encodeErrorDetails, InvalidParameterError, WharfError } from '@wharf/domain';
import type { TaskReportSink } from '../reporting/report-publisher';
import { planTask, TaskPlan, UnsupportedFieldError } from './container-config';
import { DockerContainerEvent, DockerEventWatcher } from './docker-events';
import { dockerStatus, errorMessage, ImagePullBehavior } from './docker-util';
import { LABELS } from './labels';
import { ManagedTask, ManagedTaskDeps } from './managed-task';
import { buildTaskReport } from './task-report';

export interface TaskEngineOptions {
  docker: Docker;
  sink: TaskReportSink;
  logger: Logger;
  clusterName: string;
  clusterArn: string;
  containerInstanceArn: string;
  defaultStopTimeoutS: number;
  /** AGENT_IMAGE_PULL_BEHAVIOR (default: pull only when missing). */
  pullBehavior?: ImagePullBehavior;
  /** AGENT_TASK_CLEANUP_WAIT_MS (default 10 minutes). */
  cleanupWaitMs?: number;
  /** AGENT_ALLOW_PRIVILEGED. */
  allowPrivileged?: boolean;
  /** AGENT_PENDING_REPORT_DELAY_MS (default 0: PENDING is reported as soon as a task is accepted). */
  pendingReportDelayMs?: number;
  /**
   * What the cluster says about tasks found on the host at start-up (state DescribeTasks).
   * Tasks it wants STOPPED are stopped; when it cannot answer, adopted tasks keep running.
   */
  describeTasks?: (taskArns: string[]) => Promise<ClusterTaskView[]>;
}

export interface ClusterTaskView {
  taskArn: string;
  desiredStatus: string;
  stopCode?: string;
  stoppedReason?: string;
}

export const DEFAULT_TASK_CLEANUP_WAIT_MS = 10 * 60 * 1000;

/** How long a stopped task's ARN is remembered, so a late StartTask does not revive it. */
const TOMBSTONE_TTL_MS = 60 * 60 * 1000;

/**
 * Runs this host's tasks through the Docker engine. Holds one ManagedTask per task (the
 * task's sole writer), routes Docker events to it, and adopts containers left running by an
 * earlier agent process on the same instance.
 */
export class TaskEngine {
  private readonly tasks = new Map<string, ManagedTask>();
  private readonly tombstones = new Map<string, number>();
  private readonly events: DockerEventWatcher;
  private readonly deps: ManagedTaskDeps;
  private readonly log: Logger;
  private checkingDesired = false;

  constructor(private readonly options: TaskEngineOptions) {
    this.log = options.logger.child({ containerInstanceArn: options.containerInstanceArn });
    this.deps = {
      docker: options.docker,
      sink: options.sink,
      logger: options.logger,
      clusterArn: options.clusterArn,
      containerInstanceArn: options.containerInstanceArn,
      pullBehavior: options.pullBehavior ?? 'default',
      cleanupWaitMs: options.cleanupWaitMs ?? DEFAULT_TASK_CLEANUP_WAIT_MS,
      onStopped: (task) => this.forget(task.taskArn),
      pendingReportDelayMs: options.pendingReportDelayMs ?? 0,
    };
    this.events = new DockerEventWatcher(
      options.docker,
      [LABELS.taskArn, `${LABELS.containerInstanceArn}=${options.containerInstanceArn}`],
      (event) => this.route(event),
      this.log,
      () => void this.reconcile(),
    );
  }

  /** Opens the Docker event stream, then adopts what an earlier agent left on the host. */
  async start(): Promise<void> {
    await this.events.start();
    await this.adopt();
  }

  /**
   * Carries out stops the cluster recorded but could not tell this agent: asks the cluster
   * (state DescribeTasks) about every task still meant to run here and stops those it wants
   * STOPPED. The scheduler gives up on an agent it cannot reach (restarting, or its channel
   * still backing off after the agent came back) and leaves the task desired STOPPED; the
   * agent runs this once its gRPC server listens and every AGENT_DESIRED_STATUS_CHECK_MS.
   */
  async checkDesiredStatus(): Promise<void> {
    if (this.checkingDesired) return;
    const tasks = [...this.tasks.values()].filter((t) => t.desiredStatus === 'RUNNING');
    if (!tasks.length) return;
    this.checkingDesired = true;
    try {
      await this.applyClusterView(tasks);
    } finally {
      this.checkingDesired = false;
    }
  }

  /** Stops watching Docker and waits for in-flight task operations. Containers keep running. */
  async close(timeoutMs = 5_000): Promise<void> {
    this.events.stop();
    for (const t of this.tasks.values()) t.dispose();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.tasks.values()].map((t) => t.idle())),
      new Promise((r) => (timer = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  get(taskArn: string): ManagedTask | undefined {
    return this.tasks.get(taskArn);
  }

  /** Known tasks by their known status, for metrics. */
  countByStatus(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.tasks.values()) out[t.knownStatus] = (out[t.knownStatus] ?? 0) + 1;
    return out;
  }

  runningTaskCount(): number {
    let n = 0;
    for (const t of this.tasks.values()) if (t.knownStatus === 'RUNNING') n++;
    return n;
  }

  /** Accepts a task and starts it in the background. A task already known is not started twice. */
  startTask(
    task: common.Task | undefined,
    definition: common.TaskDefinition | undefined,
  ): { accepted: boolean; started?: Promise<void> } {
    if (!task?.taskArn) throw new InvalidParameterError('task.task_arn is required');
    if (!definition?.definitionJson) {
      throw new InvalidParameterError('task_definition.definition_json is required');
    }
    if (
      task.containerInstanceArn &&
      task.containerInstanceArn !== this.options.containerInstanceArn
    ) {
      throw new ClientError(
        `task ${task.taskArn} is placed on ${task.containerInstanceArn}, not on this instance`,
      );
    }
    const existing = this.tasks.get(task.taskArn);
    if (existing) return { accepted: true, started: existing.idle() };
    if (this.tombstones.has(task.taskArn)) {
      this.log.info({ taskArn: task.taskArn }, 'StartTask for a task already stopped; ignored');
      return { accepted: true };
    }
    let plan: TaskPlan;
    try {
      plan = planTask({
        taskArn: task.taskArn,
        overridesJson: task.overridesJson,
        definitionJson: definition.definitionJson,
        family: definition.family,
        revision: definition.revision,
        clusterName: this.options.clusterName,
        containerInstanceArn: this.options.containerInstanceArn,
        defaultStopTimeoutS: this.options.defaultStopTimeoutS,
        allowPrivileged: this.options.allowPrivileged,
      });
    } catch (err) {
      if (err instanceof UnsupportedFieldError) {
        // A well-formed task this agent cannot run as written: accepted, and failed by name.
        this.tombstones.set(task.taskArn, Date.now());
        this.log.warn({ taskArn: task.taskArn, field: err.field }, 'task refused');
        this.reportStopped(task.taskArn, 'TaskFailedToStart', err.message);
        return { accepted: true };
      }
      // The caller hears INVALID_ARGUMENT; the cluster hears the task will never start.
      this.tombstones.set(task.taskArn, Date.now());
      const reason = err instanceof WharfError ? encodeErrorDetails(err) : errorMessage(err);
      this.reportStopped(task.taskArn, 'TaskFailedToStart', reason);
      throw err;
    }
    const managed = ManagedTask.fromPlan(this.deps, plan);
    this.tasks.set(task.taskArn, managed);
    this.log.info(
      { taskArn: task.taskArn, containers: plan.containers.map((c) => c.name) },
      'task accepted',
    );
    return { accepted: true, started: managed.start() };
  }

  /**
   * Sets the task's desired status to STOPPED; the task's owner carries it out. An unknown
   * task still has any containers labelled with its ARN removed, and is reported STOPPED so
   * the cluster does not wait for it.
   */
  stopTask(
    taskArn: string,
    reason: string,
    stopCode: string,
  ): { known: boolean; stopped: Promise<void> } {
    const code = stopCode || 'UserInitiated';
    const why = reason || 'Task stopped by the agent on request';
    const task = this.tasks.get(taskArn);
    if (task) return { known: true, stopped: task.stop(code, why) };
    const wasStopped = this.tombstones.has(taskArn);
    this.tombstones.set(taskArn, Date.now());
    return { known: false, stopped: this.cleanUpUnknown(taskArn, code, why, wasStopped) };
  }

  private async cleanUpUnknown(
    taskArn: string,
    stopCode: string,
    reason: string,
    alreadyReported: boolean,
  ): Promise<void> {
    try {
      const found = await this.options.docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.taskArn}=${taskArn}`] },
      });
      for (const c of found) {
        await this.options.docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch((err: unknown) => {
            if (dockerStatus(err) !== 404) throw err;
          });
      }
      if (found.length)
        this.log.info({ taskArn, removed: found.length }, 'removed containers of an unknown task');
    } catch (err) {
      this.log.warn({ taskArn, err: errorMessage(err) }, 'cleaning up an unknown task failed');
    }
    if (!alreadyReported) this.reportStopped(taskArn, stopCode, reason);
  }

  /** A STOPPED report for a task this agent holds no containers of. */
  private reportStopped(taskArn: string, stopCode: string, reason: string): void {
    const now = Date.now();
    this.options.sink.submit(
      buildTaskReport({
        clusterArn: this.options.clusterArn,
        containerInstanceArn: this.options.containerInstanceArn,
        taskArn,
        knownStatus: 'STOPPED',
        containers: [],
        stopCode,
        stoppedReason: reason,
        stoppingAt: now,
        stoppedAt: now,
        executionStoppedAt: now,
      }),
    );
  }

  private forget(taskArn: string): void {
    this.tasks.delete(taskArn);
    const now = Date.now();
    this.tombstones.set(taskArn, now);
    for (const [arn, at] of this.tombstones) {
      if (now - at > TOMBSTONE_TTL_MS) this.tombstones.delete(arn);
    }
  }

  private route(event: DockerContainerEvent): void {
    const attrs = event.Actor?.Attributes ?? {};
    const task = this.tasks.get(attrs[LABELS.taskArn]);
    const name = attrs[LABELS.containerName];
    if (!task || !name) return;
    this.log.debug(
      { taskArn: task.taskArn, container: name, action: event.Action },
      'docker event',
    );
    void task.onContainerEvent(event.Action, name);
  }

  /**
   * The Docker event stream came back after a break (the engine restarted, or the connection
   * dropped): events may have been lost, so every task re-inspects its containers, and any
   * labelled container not yet known is adopted.
   */
  private async reconcile(): Promise<void> {
    this.log.info({ tasks: this.tasks.size }, 'reconciling with the Docker engine');
    for (const t of this.tasks.values()) void t.reconcile();
    await this.adopt().catch((err: unknown) =>
      this.log.warn({ err: errorMessage(err) }, 'adoption after reconnect failed'),
    );
  }

  /** Rebuilds tasks from containers labelled for this instance, then lets each settle. */
  private async adopt(): Promise<void> {
    const found = await this.options.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.containerInstanceArn}=${this.options.containerInstanceArn}`] },
    });
    const byTask = new Map<string, Docker.ContainerInspectInfo[]>();
    for (const summary of found) {
      const taskArn = summary.Labels?.[LABELS.taskArn];
      // A tombstoned task is being cleaned up, not abandoned.
      if (!taskArn || this.tasks.has(taskArn) || this.tombstones.has(taskArn)) continue;
      try {
        const info = await this.options.docker.getContainer(summary.Id).inspect();
        byTask.set(taskArn, [...(byTask.get(taskArn) ?? []), info]);
      } catch (err) {
        if (dockerStatus(err) !== 404) throw err;
      }
    }
    const adopted: ManagedTask[] = [];
    for (const [taskArn, infos] of byTask) {
      if (this.tasks.has(taskArn)) continue;
      const task = ManagedTask.adopt(this.deps, taskArn, infos, this.options.defaultStopTimeoutS);
      this.tasks.set(taskArn, task);
      adopted.push(task);
      this.log.info({ taskArn, containers: infos.length }, 'adopted task from a previous agent');
      void task.resume();
    }
    if (adopted.length) await this.applyClusterView(adopted);
  }

  /**
   * Stops those of `tasks` the cluster wants stopped (e.g. adopted ones after a StopTask
   * while the agent was down).
   */
  private async applyClusterView(tasks: ManagedTask[]): Promise<void> {
    if (!this.options.describeTasks) return;
    let views: ClusterTaskView[];
    try {
      views = await this.options.describeTasks(tasks.map((t) => t.taskArn));
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not ask the cluster about its tasks');
      return;
    }
    for (const view of views) {
      if (view.desiredStatus !== 'STOPPED') continue;
      const task = this.tasks.get(view.taskArn);
      if (!task || task.desiredStatus === 'STOPPED') continue;
      this.log.info({ taskArn: view.taskArn }, 'the cluster wants this task stopped');
      void task.stop(
        view.stopCode || 'UserInitiated',
        view.stoppedReason || 'Task stopped while the agent was away',
      );
    }
  }
}
