import { isForward, statusRank } from '@wharf/domain';
import type { ContainerStateReport, TaskStateReport } from '@wharf/messaging';
import type { common } from '@wharf/proto';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';
import { releaseTaskClaim } from './release-task-claim';
import type { TaskChanges, TaskRepository, TaskRow } from './task.repository';

export type ReportOutcome = 'applied' | 'stale' | 'unknown-task';

/**
 * Applies an agent's TaskStateReport. Idempotent: a report whose seq is not newer than the
 * stored report_seq, or that would move the task backwards in the lifecycle, changes nothing,
 * so redelivery and reordering are harmless. The task's claim is released exactly once, on
 * the transition into STOPPED.
 */
export class ApplyTaskReportUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly tasks: TaskRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(report: TaskStateReport): Promise<ReportOutcome> {
    return inTransaction(this.ctx.pool, async (tx) => {
      const row = await this.tasks.lock(tx, { arn: report.taskArn });
      if (!row) return 'unknown-task';
      if (report.seq <= Number(row.report_seq)) return 'stale';
      if (statusRank(report.lastStatus) < 0 || !isForward(row.last_status, report.lastStatus))
        return 'stale';

      const updated = await this.tasks.update(
        tx,
        row.id,
        mergeReport(row, this.tasks.changesOf(row), report),
      );
      const task = this.tasks.toProto(updated);

      if (
        row.last_status !== 'STOPPED' &&
        updated.last_status === 'STOPPED' &&
        row.container_instance_id
      ) {
        await releaseTaskClaim(tx, row, this.instances, this.outbox);
      }
      await this.outbox.append(tx, {
        cluster: row.cluster,
        entity: 'task',
        event: 'changed',
        resourceArn: task.taskArn,
        version: task.version,
        detail: task,
      });
      return 'applied';
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
