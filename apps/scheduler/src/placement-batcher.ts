import { CompiledPlacementOptions, InvalidParameterError } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { firstValueFrom } from 'rxjs';
import type { ClusterSnapshots, ClusterView } from './cluster-snapshots';
import { NO_CONTAINER_INSTANCES, Planner } from './planner';
import type { Committed, Launch, TaskLauncher } from './task-launch';

/** How many times placements that state rejected (the instance changed) are planned again. */
export const MAX_PLACEMENT_ATTEMPTS = 3;
/** The most placements one CommitPlacements carries; more queued wait for the next batch. */
export const MAX_BATCH_PLACEMENTS = 500;

/** Tasks of one launch to place: RunTask's `count`, or a service's missing tasks. */
export interface PlacementJob {
  launch: Launch;
  /** New task records (PROVISIONING), all of one group; containerInstanceArn is filled in. */
  tasks: common.Task[];
  options: CompiledPlacementOptions;
  /**
   * Fencing: commit only while `holder` holds the lease `lease` (state checks it in the
   * commit); a placement refused for it is a NOT_LEADER failure, never planned again.
   */
  fence?: { lease: string; holder: string };
}

export interface PlacementOutcome {
  committed: Committed[];
  failures: common.Failure[];
}

interface Rejection {
  task: common.Task;
  rejected: stateV1.RejectedPlacement;
}

/** A job on its way through the queue. */
class Queued {
  pending: common.Task[];
  attempt = 1;
  readonly committed: Committed[] = [];
  readonly failures: common.Failure[] = [];
  rejections: Rejection[] = [];
  /** How many of its tasks the commit under way carries. */
  inFlight = 0;
  /** Tasks that fit nowhere on a snapshot not read for this batch: planned again on a fresh one. */
  unplaced: common.Task[] = [];
  /** Planned on a snapshot read from state for it: what does not fit now is a failure. */
  verified = false;
  settled = false;
  /**
   * The expected instance version guards decisions that depend on the instance's other tasks.
   * Without such constraints the last attempt commits with no expected version: state's
   * resource check under the row lock is then the whole verdict, so a task that fits is not
   * failed for losing races to other replicas.
   */
  readonly versionMatters: boolean;

  constructor(
    readonly job: PlacementJob,
    private readonly settle: (outcome: PlacementOutcome) => void,
    private readonly fail: (err: unknown) => void,
  ) {
    this.pending = job.tasks;
    this.versionMatters =
      job.options.distinctInstance || job.options.memberOf.some((c) => c.query.dynamic);
  }

  get checkVersion(): boolean {
    return this.versionMatters || this.attempt < MAX_PLACEMENT_ATTEMPTS;
  }

  resolve(): void {
    this.settled = true;
    this.settle({ committed: this.committed, failures: this.failures });
  }

  reject(err: unknown): void {
    this.settled = true;
    this.fail(err);
  }

  /**
   * The batch failed (state unreachable, …). Tasks an earlier batch committed are kept and
   * started; the rest fail with the error. With nothing committed, the call fails.
   */
  abandon(err: unknown): void {
    if (this.committed.length === 0) return this.reject(err);
    const detail = err instanceof Error ? err.message : String(err);
    for (let i = 0; i < this.pending.length + this.inFlight + this.unplaced.length; i++) {
      this.failures.push({ arn: '', reason: 'STATE', detail });
    }
    this.resolve();
  }
}

/**
 * Places tasks on a cluster in batches: every request that arrives while a commit is in flight
 * waits for the next batch, which plans them one after the other on the cluster snapshot
 * (each seeing the tasks planned before it) and commits all of them to state in one
 * CommitPlacements. What state rejects because an instance changed under the plan (another
 * replica placed there, a task stopped) is planned again, first in the next batch, against
 * the instance as the commit's answer describes it; after MAX_PLACEMENT_ATTEMPTS the rejection
 * is the task's failure. A task is only failed for fitting nowhere on a snapshot read from state
 * for that decision: planned on one kept from events (which may not have brought the instance
 * registered a moment ago yet), it is planned again after the cluster is read.
 *
 * One batch at a time per cluster in this process: batches planned side by side would plan on
 * the same snapshot, and state would reject one of them as stale.
 */
export class PlacementBatcher {
  private readonly queues = new Map<string, Queued[]>();

  constructor(
    private readonly state: stateV1.StateServiceClient,
    private readonly snapshots: ClusterSnapshots,
    private readonly launcher: TaskLauncher,
    private readonly planner: Planner,
    private readonly logger: Logger,
  ) {}

  place(cluster: string, job: PlacementJob): Promise<PlacementOutcome> {
    return new Promise((resolve, reject) => {
      const queued = new Queued(job, resolve, reject);
      const queue = this.queues.get(cluster);
      if (queue) {
        queue.push(queued);
        return;
      }
      this.queues.set(cluster, [queued]);
      void this.drain(cluster);
    });
  }

  private async drain(cluster: string): Promise<void> {
    const queue = this.queues.get(cluster)!;
    while (queue.length > 0) {
      const batch = takeBatch(queue);
      try {
        queue.unshift(...(await this.placeBatch(cluster, batch)));
      } catch (err) {
        for (const queued of batch) if (!queued.settled) queued.abandon(err);
      }
    }
    this.queues.delete(cluster);
  }

  /** Plans and commits one batch; returns the jobs with placements to plan again. */
  private async placeBatch(cluster: string, batch: Queued[]): Promise<Queued[]> {
    const { view, fresh } = await this.snapshots.read(cluster);
    const working = view.workingCopy();
    const placements: stateV1.Placement[] = [];
    const owners: Queued[] = [];

    for (const queued of batch) {
      const { launch, options } = queued.job;
      const group = queued.pending[0].group;
      const unverified = !fresh && !queued.verified;
      const plan = this.planner.plan(
        working,
        this.launcher.placementRequest(launch, group, queued.pending.length),
        options,
      );
      if (plan.kind === 'no-instances') {
        if (unverified) {
          queued.unplaced = queued.pending;
        } else if (queued.committed.length === 0 && queued.failures.length === 0) {
          queued.reject(new InvalidParameterError(NO_CONTAINER_INSTANCES));
        } else {
          for (const _ of queued.pending) {
            queued.failures.push({ arn: '', reason: 'MISSING', detail: NO_CONTAINER_INSTANCES });
          }
          queued.resolve();
        }
        queued.pending = [];
        continue;
      }
      plan.placements.forEach((planned, i) => {
        if (!planned.placed) {
          if (unverified) queued.unplaced.push(queued.pending[i]);
          else queued.failures.push({ ...planned.failure });
          return;
        }
        const task = { ...queued.pending[i], containerInstanceArn: planned.instanceArn };
        const version = view.record(planned.instanceArn)?.version ?? 0;
        placements.push({
          task,
          expectedInstanceVersion: queued.checkVersion ? version : 0,
          fenceLease: queued.job.fence?.lease ?? '',
          fenceHolder: queued.job.fence?.holder ?? '',
        });
        owners.push(queued);
        queued.inFlight++;
        working.take(planned.instanceArn, launch.claim, group);
      });
      queued.pending = [];
    }

    if (placements.length > 0) {
      const result = await firstValueFrom(this.state.commitPlacements({ cluster, placements }));
      this.snapshots.apply(cluster, result.instances);
      this.distribute(view, placements, owners, result);
    }

    const again: Queued[] = [];
    for (const queued of batch) {
      queued.inFlight = 0;
      if (queued.settled) continue;
      // A fenced job whose sender lost its lease is not planned again: its failures say so.
      const fencedOut = queued.rejections.some((r) => r.rejected.reason === 'NOT_LEADER');
      const replan =
        queued.rejections.length > 0 && queued.attempt < MAX_PLACEMENT_ATTEMPTS && !fencedOut;
      if (replan) {
        this.logger.info(
          {
            cluster,
            attempt: queued.attempt,
            rejected: queued.rejections.map((r) => ({
              instance: r.task.containerInstanceArn,
              reason: r.rejected.reason,
              detail: r.rejected.detail,
            })),
          },
          'placements rejected by state; planning them again',
        );
        queued.attempt++;
      } else {
        for (const { task, rejected } of queued.rejections) {
          queued.failures.push({
            arn: task.containerInstanceArn,
            reason: rejected.reason,
            detail: rejected.detail,
          });
        }
      }
      if (queued.unplaced.length > 0) {
        queued.verified = true;
        this.snapshots.expire(cluster);
      }
      queued.pending = [
        ...(replan ? queued.rejections.map((r) => r.task) : []),
        ...queued.unplaced,
      ].map((task) => ({ ...task, containerInstanceArn: '' }));
      queued.rejections = [];
      queued.unplaced = [];
      if (queued.pending.length === 0) queued.resolve();
      else again.push(queued);
    }
    return again;
  }

  /** Hands each committed task, and each rejection, back to the job it came from. */
  private distribute(
    view: ClusterView,
    placements: stateV1.Placement[],
    owners: Queued[],
    result: stateV1.CommitPlacementsResponse,
  ): void {
    const committed = new Map(result.tasks.map((t) => [t.taskArn, t]));
    const rejected = new Map(result.rejected.map((r) => [r.index, r]));
    placements.forEach((placement, index) => {
      const owner = owners[index];
      const rejection = rejected.get(index);
      if (rejection) {
        owner.rejections.push({ task: placement.task!, rejected: rejection });
        return;
      }
      const task = committed.get(placement.task!.taskArn);
      if (!task) return;
      const agentAddress = view.record(task.containerInstanceArn)?.agentAddress ?? '';
      owner.committed.push({ task, agentAddress });
    });
  }
}

/** Jobs from the front of the queue up to MAX_BATCH_PLACEMENTS tasks (at least one job). */
function takeBatch(queue: Queued[]): Queued[] {
  let tasks = queue[0].pending.length;
  let n = 1;
  while (n < queue.length && tasks + queue[n].pending.length <= MAX_BATCH_PLACEMENTS) {
    tasks += queue[n].pending.length;
    n++;
  }
  return queue.splice(0, n);
}
