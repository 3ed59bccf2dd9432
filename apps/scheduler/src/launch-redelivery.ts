import type { stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { firstValueFrom } from 'rxjs';
import type { Lookups } from './lookups';
import type { Committed, TaskLauncher } from './task-launch';

/** Stale launches handled per cluster per sweep, at most (the rest wait for the next one). */
const SWEEP_BATCH = 200;

/**
 * Launches no agent reported on: a task is committed PROVISIONING and its agent told right
 * after; the agent reports PENDING as soon as it accepts. A task still PROVISIONING long after
 * that was never delivered: the scheduler that committed it stopped before telling the agent,
 * or the call was lost. Left alone it would hold its CPU, memory and ports forever.
 *
 * The leader sweeps each cluster on its full passes and tells the agents of such tasks again
 * (the same StartTask: agents start a task ARN at most once however often told). An agent
 * that cannot be reached within AGENT_CALL_TIMEOUT_MS gets the task stopped with
 * TaskFailedToStart, as at launch. State lists no task on an instance whose agent is
 * disconnected: those are the lost-host handling's (the agent may come back and report them).
 */
export class LaunchRedelivery {
  /** Task ARN → when this replica last told its agent; told again at most once per `afterMs`. */
  private readonly told = new Map<string, number>();
  /** Clusters being swept (a slow agent must not make sweeps of one cluster pile up). */
  private readonly sweeping = new Set<string>();
  private readonly handled: Counter<'outcome'>;

  constructor(
    private readonly state: stateV1.StateServiceClient,
    private readonly launcher: TaskLauncher,
    private readonly lookups: Lookups,
    private readonly logger: Logger,
    /** How long after its creation a task still PROVISIONING counts as never delivered. */
    private readonly afterMs: number,
    registry: Registry,
    private readonly now: () => number = Date.now,
  ) {
    this.handled = new Counter({
      name: 'wharf_scheduler_stale_launches_total',
      help:
        'Tasks found PROVISIONING with no agent report: told again (and accepted), or stopped ' +
        '(agent unreachable or refused)',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }

  /** Tells the agents of the cluster's stale launches again; returns how many were told. */
  async sweep(cluster: string): Promise<number> {
    if (this.sweeping.has(cluster)) return 0;
    this.sweeping.add(cluster);
    try {
      return await this.sweepOnce(cluster);
    } finally {
      this.sweeping.delete(cluster);
    }
  }

  private async sweepOnce(cluster: string): Promise<number> {
    const now = this.now();
    for (const [arn, at] of this.told) if (now - at >= this.afterMs) this.told.delete(arn);
    const { launches } = await firstValueFrom(
      this.state.listStaleLaunches({
        cluster,
        createdBeforeMs: now - this.afterMs,
        maxResults: SWEEP_BATCH,
      }),
    );
    const byDefinition = new Map<string, Committed[]>();
    for (const { task, agentAddress } of launches) {
      if (!task || this.told.has(task.taskArn)) continue;
      this.told.set(task.taskArn, now);
      const group = byDefinition.get(task.taskDefinitionArn) ?? [];
      group.push({ task, agentAddress });
      byDefinition.set(task.taskDefinitionArn, group);
    }
    let told = 0;
    await Promise.all(
      [...byDefinition].map(async ([definitionArn, committed]) => {
        this.logger.warn(
          {
            cluster,
            tasks: committed.map((c) => c.task.taskArn),
            instances: [...new Set(committed.map((c) => c.task.containerInstanceArn))],
            afterMs: this.afterMs,
          },
          'tasks still PROVISIONING with no agent report: telling their agents again',
        );
        try {
          const definition = await this.lookups.taskDefinition(definitionArn);
          const after = await this.launcher.startOnAgents(cluster, committed, definition);
          const stopped = after.filter((t) => t.desiredStatus === 'STOPPED').length;
          if (stopped < committed.length) {
            this.handled.inc({ outcome: 'told' }, committed.length - stopped);
          }
          if (stopped > 0) this.handled.inc({ outcome: 'stopped' }, stopped);
          told += committed.length;
        } catch (err) {
          this.logger.warn(
            { err, cluster, taskDefinition: definitionArn },
            'could not tell agents about stale launches; trying again later',
          );
        }
      }),
    );
    return told;
  }
}
