import { isForward, statusRank } from '@wharf/domain';
import type { ContainerStateReport, TaskStateReport } from '@wharf/messaging';
import type { common } from '@wharf/proto';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { DomainEvent, instanceChanged, OutboxRepository, taskChanged } from './outbox.repository';
import { lockInstancesOf, releaseTaskClaims } from './release-task-claim';
import type { TaskChanges, TaskRepository, TaskRow } from './task.repository';

export type ReportOutcome = 'applied' | 'stale' | 'unknown-task';

/** A task as the reports of a batch leave it: its locked row, its row now, reports applied. */
interface TaskProgress {
  before: TaskRow;
  current: TaskRow;
  applied: number;
}

/**
 * Applies agents' TaskStateReports. Idempotent: a report whose seq is not newer than the
 * stored report_seq, or that would move the task backwards in the lifecycle, changes nothing,
 * so redelivery and reordering are harmless. The task's claim is released exactly once, on
 * the transition into STOPPED.
 *
 * `executeBatch` applies many reports in one transaction with a constant number of
 * statements: the tasks are locked at once (id order), the reports are merged in memory in
 * the order given (so several reports of one task apply one after the other, each bumping the
 * version and writing its own `task.changed`), then every task is written once, the claims of
 * the tasks that stopped are released (one `container_instance.changed` per instance, the
 * version bumped once per released task) and the events appended in one statement.
 */
export class ApplyTaskReportUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly tasks: TaskRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(report: TaskStateReport): Promise<ReportOutcome> {
    const [outcome] = await this.executeBatch([report]);
    return outcome;
  }

  /** One outcome per report, in the order given. All or nothing: one transaction. */
  async executeBatch(reports: readonly TaskStateReport[]): Promise<ReportOutcome[]> {
    if (reports.length === 0) return [];
    return inTransaction(this.ctx.pool, async (tx) => {
      const locked = await this.tasks.lockByArns(tx, [...new Set(reports.map((r) => r.taskArn))]);
      const progress = new Map<string, TaskProgress>();
      const events: DomainEvent[] = [];
      const outcomes = reports.map((report): ReportOutcome => {
        const before = locked.get(report.taskArn);
        if (!before) return 'unknown-task';
        const p = progress.get(before.id) ?? { before, current: before, applied: 0 };
        const row = p.current;
        if (report.seq <= Number(row.report_seq)) return 'stale';
        if (statusRank(report.lastStatus) < 0 || !isForward(row.last_status, report.lastStatus))
          return 'stale';
        p.current = this.tasks.withChanges(
          row,
          mergeReport(row, this.tasks.changesOf(row), report),
        );
        p.applied += 1;
        progress.set(before.id, p);
        events.push(taskChanged(this.tasks.toProto(p.current)));
        return 'applied';
      });
      if (progress.size === 0) return outcomes;

      const stopped = [...progress.values()].filter(
        (p) => p.before.last_status !== 'STOPPED' && p.current.last_status === 'STOPPED',
      );
      // Before the statuses change (see lockInstancesOf).
      const releasing = await lockInstancesOf(
        tx,
        stopped.map((p) => p.before),
        this.instances,
      );
      await this.tasks.writeMany(
        tx,
        [...progress.values()].map((p) => ({
          id: p.before.id,
          changes: this.tasks.changesOf(p.current),
          bumpBy: p.applied,
        })),
      );
      const changedInstances = await releaseTaskClaims(
        tx,
        stopped.map((p) => p.before),
        this.instances,
        releasing,
      );
      await this.outbox.appendMany(tx, [...changedInstances.map(instanceChanged), ...events]);
      return outcomes;
    });
  }
}

export function mergeReport(row: TaskRow, current: TaskChanges, r: TaskStateReport): TaskChanges {
  const stopped = r.lastStatus === 'STOPPED';
  const containers = current.containers.map((c) =>
    mergeContainer(
      c,
      r.containers.find((x) => x.name === c.name),
    ),
  );
  const stoppedAt = current.stoppedAt || r.stoppedAt || (stopped ? r.reportedAt : 0);
  return {
    lastStatus: r.lastStatus,
    desiredStatus: stopped ? 'STOPPED' : row.desired_status,
    containers,
    healthStatus: taskHealth(containers),
    // A user's stop reason stays unless the agent says something more specific.
    stopCode: r.stopCode || current.stopCode,
    stoppedReason: r.stoppedReason || current.stoppedReason,
    reportSeq: r.seq,
    pullStartedAt: current.pullStartedAt || r.pullStartedAt || 0,
    pullStoppedAt: current.pullStoppedAt || r.pullStoppedAt || 0,
    startedAt: current.startedAt || r.startedAt || (r.lastStatus === 'RUNNING' ? r.reportedAt : 0),
    stoppingAt: current.stoppingAt || r.stoppingAt || (stopped ? r.reportedAt : 0),
    stoppedAt,
    executionStoppedAt: current.executionStoppedAt || r.executionStoppedAt || stoppedAt,
  };
}

function mergeContainer(
  c: common.Container,
  r: ContainerStateReport | undefined,
): common.Container {
  if (!r) return c;
  return {
    ...c,
    runtimeId: r.runtimeId || c.runtimeId,
    lastStatus: isForward(c.lastStatus, r.lastStatus) ? r.lastStatus : c.lastStatus,
    exitCode: r.exitCode ?? c.exitCode,
    reason: r.reason ?? c.reason,
    networkBindings: r.networkBindings
      ? r.networkBindings.map((b) => ({
          bindIp: b.bindIP,
          containerPort: b.containerPort,
          hostPort: b.hostPort,
          protocol: b.protocol,
        }))
      : c.networkBindings,
    healthStatus: r.healthStatus ?? c.healthStatus,
  };
}

/** ECS: UNHEALTHY if an essential container is; HEALTHY when every essential one reporting health is. */
function taskHealth(containers: common.Container[]): string {
  const essential = containers.filter((c) => c.essential);
  if (essential.some((c) => c.healthStatus === 'UNHEALTHY')) return 'UNHEALTHY';
  const reporting = essential.filter((c) => c.healthStatus && c.healthStatus !== 'UNKNOWN');
  if (reporting.length > 0 && reporting.every((c) => c.healthStatus === 'HEALTHY'))
    return 'HEALTHY';
  return 'UNKNOWN';
}
