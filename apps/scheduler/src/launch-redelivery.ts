import type { common, stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { firstValueFrom } from 'rxjs';
import type { AgentClients } from './agent-clients';
import type { Lookups } from './lookups';

/** Stale launches read per cluster per sweep, at most (the next sweep reads on from there). */
const SWEEP_PAGE = 200;

/** A stale launch with its task (every one state lists has one). */
type DueLaunch = stateV1.StaleLaunch & { task: common.Task };

export interface LaunchRedeliverySettings {
  /** How long after its creation a task still PROVISIONING counts as never delivered. */
  afterMs: number;
  /** How long one StartTask to an agent may take (AGENT_CALL_TIMEOUT_MS). */
  callTimeoutMs: number;
}

/**
 * Launches no agent reported on: a task is committed PROVISIONING and its agent told right
 * after; the agent reports PENDING as soon as it accepts. A task still PROVISIONING long after
 * that was most likely never delivered: the scheduler that committed it stopped before telling
 * the agent, or the call was lost. Left alone it would hold its CPU, memory and ports forever.
 *
 * The leader sweeps each cluster on its full passes and tells the agents of such tasks again:
 * the same StartTask, which an agent accepts once per task ARN however often told (a task it
 * already runs, or stopped within the last hour, is not started again). It only ever tells:
 * it never stops a task. A task may also still be PROVISIONING because its agent's reports are
 * late (a backlog after an outage, a partition between this scheduler and the agent), so an
 * agent that cannot be reached proves nothing; and an agent that refuses a task reports it
 * STOPPED itself. State lists no task on an instance whose agent is disconnected: a lost host's
 * service tasks are replaced by the lost-host handling, its other tasks wait for the agent.
 *
 * Each sweep reads one page in task id order, continuing after the previous sweep's page, so
 * every stale task is visited however many there are. A task told is not told again within
 * `afterMs`.
 */
export class LaunchRedelivery {
  /** Task ARN → when this replica last told its agent. */
  private readonly told = new Map<string, number>();
  /** Where the next sweep of each cluster reads on ('' = from the start). */
  private readonly cursors = new Map<string, string>();
  /** Clusters being swept (a slow agent must not make sweeps of one cluster pile up). */
  private readonly sweeping = new Set<string>();
  private readonly handled: Counter<'outcome'>;

  constructor(
    private readonly state: stateV1.StateServiceClient,
    private readonly agents: AgentClients,
    private readonly lookups: Lookups,
    private readonly logger: Logger,
    private readonly settings: LaunchRedeliverySettings,
    registry: Registry,
    private readonly now: () => number = Date.now,
  ) {
    this.handled = new Counter({
      name: 'wharf_scheduler_stale_launches_total',
      help:
        'Tasks found PROVISIONING long after their launch with no agent report, told to their ' +
        'agent again, by outcome (told: the agent answered; failed: it could not be reached, or the task definition read)',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }

  /** Tells the agents of stale launches on one page of the cluster; returns how many answered. */
  async sweep(cluster: string): Promise<number> {
    if (this.sweeping.has(cluster)) return 0;
    this.sweeping.add(cluster);
    try {
      return await this.sweepPage(cluster);
    } finally {
      this.sweeping.delete(cluster);
    }
  }

  private async sweepPage(cluster: string): Promise<number> {
    const now = this.now();
    for (const [arn, at] of this.told) if (now - at >= this.settings.afterMs) this.told.delete(arn);
    const { launches, nextToken } = await firstValueFrom(
      this.state.listStaleLaunches({
        cluster,
        olderThanMs: this.settings.afterMs,
        maxResults: SWEEP_PAGE,
        nextToken: this.cursors.get(cluster) ?? '',
      }),
    );
    this.cursors.set(cluster, nextToken);
    const due = launches.filter(
      (l): l is DueLaunch => l.task !== undefined && !this.told.has(l.task.taskArn),
    );
    if (due.length === 0) return 0;
    for (const { task } of due) this.told.set(task.taskArn, now);
    this.logger.warn(
      {
        cluster,
        tasks: due.map((l) => l.task.taskArn),
        instances: [...new Set(due.map((l) => l.task.containerInstanceArn))],
        afterMs: this.settings.afterMs,
      },
      'tasks still PROVISIONING with no agent report: telling their agents again',
    );
    const answered = await Promise.all(due.map((l) => this.tell(cluster, l)));
    return answered.filter(Boolean).length;
  }

  /** Sends the task's StartTask again; whether its agent answered. */
  private async tell(cluster: string, { task, agentAddress }: DueLaunch) {
    try {
      const taskDefinition = await this.lookups.taskDefinition(task.taskDefinitionArn);
      await this.agents.startTask(
        agentAddress,
        { task, taskDefinition },
        this.settings.callTimeoutMs,
      );
      this.handled.inc({ outcome: 'told' });
      return true;
    } catch (err) {
      this.handled.inc({ outcome: 'failed' });
      this.logger.warn(
        {
          cluster,
          task: task.taskArn,
          instance: task.containerInstanceArn,
          agentAddress,
          err: err instanceof Error ? err.message : String(err),
        },
        'could not tell the agent about a stale launch again; trying again later',
      );
      return false;
    }
  }
}
