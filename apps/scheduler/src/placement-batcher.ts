import { CompiledPlacementOptions, InvalidParameterError, ResourceClaim } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { firstValueFrom } from 'rxjs';
import type { ClusterSnapshots, ClusterView, WorkingSnapshot } from './cluster-snapshots';
import { NO_CONTAINER_INSTANCES, Planner } from './planner';
import type { Committed, Launch, TaskLauncher } from './task-launch';

/** How many times placements that state rejected (the instance changed) are planned again. */
export const MAX_PLACEMENT_ATTEMPTS = 3;
/** The most placements one CommitPlacements carries; more queued wait for the next batch. */
export const MAX_BATCH_PLACEMENTS = 500;
/**
 * Commits of one cluster in flight at once from this process. The next batch is planned while
 * the previous one commits (on the snapshot less what that one claims), so planning, the
 * commit's round trips and Postgres overlap instead of taking turns.
 */
export const MAX_COMMITS_IN_FLIGHT = 2;
/**
 * A commit starts while another is under way only for at least this many queued placements (a
 * full batch). Below that, waiting for the commit under way lets the next batch grow, and one
 * commit of 40 placements costs much less than two of 20: each carries a transaction of seven
 * statements, two event messages and its round trips. On the placement bench (2 cores, every
 * service on them, 32 RunTask calls of 10 in flight) one commit at a time placed 7% more per
 * second at 8% less CPU per placement than two; with Postgres on other hosts a full queue still
 * gets the overlap.
 */
export const OVERLAP_FROM_PLACEMENTS = MAX_BATCH_PLACEMENTS;

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

/** What a batch in flight claims on one instance, until its commit's answer says. */
interface PendingOnInstance {
  /** The instance's version once the commit takes every claim (state bumps it per task). */
  after: number;
  takes: { claim: ResourceClaim; group: string }[];
}

/** A batch whose commit is under way: its claims, by instance ARN. */
type InFlight = Map<string, PendingOnInstance>;

/** One cluster's jobs waiting, the batches committing, and the batch being planned. */
interface Lane {
  queue: Queued[];
  inFlight: Set<InFlight>;
  planning?: Queued[];
}

/**
 * Places tasks on a cluster in batches: every request that arrives while a commit is under way
 * (two, once OVERLAP_FROM_PLACEMENTS wait) waits for the next batch, which plans them one after
 * the other on the cluster snapshot (each seeing the tasks planned before it, and what the
 * batches in flight claim) and commits all of them to state in one CommitPlacements. What state
 * rejects because an instance changed under the plan (another replica placed there, a task
 * stopped) is planned again, first in the next batch, against the instance as the commit's
 * answer describes it; after MAX_PLACEMENT_ATTEMPTS the rejection is the task's failure. A task
 * is only failed for fitting nowhere on a snapshot read from state for that decision: planned
 * on one kept from events (which may not have brought the instance registered a moment ago
 * yet), it is planned again after the cluster is read.
 *
 * Batches are planned one at a time per cluster in this process, each on the snapshot less the
 * claims of the batches still committing, and expect each instance at the version those commits
 * leave it at: batches planned side by side on the same snapshot would be rejected as stale. A
 * claim the snapshot already shows (the commit's event came before its answer) is not taken
 * twice.
 */
export class PlacementBatcher {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly state: stateV1.StateServiceClient,
    private readonly snapshots: ClusterSnapshots,
    private readonly launcher: TaskLauncher,
    private readonly planner: Planner,
    private readonly logger: Logger,
    /** OVERLAP_FROM_PLACEMENTS, but for tests of commits that overlap. */
    private readonly overlapFrom = OVERLAP_FROM_PLACEMENTS,
  ) {}

  place(cluster: string, job: PlacementJob): Promise<PlacementOutcome> {
    return new Promise((resolve, reject) => {
      let lane = this.lanes.get(cluster);
      if (!lane) {
        lane = { queue: [], inFlight: new Set() };
        this.lanes.set(cluster, lane);
      }
      lane.queue.push(new Queued(job, resolve, reject));
      this.pump(cluster, lane);
    });
  }

  /**
   * Starts the next batch when none is being planned and a commit may start: none is under
   * way, or fewer than MAX_COMMITS_IN_FLIGHT and `overlapFrom` placements are queued.
   */
  private pump(cluster: string, lane: Lane): void {
    if (lane.planning || lane.inFlight.size >= MAX_COMMITS_IN_FLIGHT) return;
    if (lane.queue.length === 0) {
      if (lane.inFlight.size === 0) this.lanes.delete(cluster);
      return;
    }
    if (lane.inFlight.size > 0 && !holdsPlacements(lane.queue, this.overlapFrom)) return;
    const batch = takeBatch(lane.queue);
    lane.planning = batch;
    const planned = () => {
      if (lane.planning === batch) lane.planning = undefined;
      this.pump(cluster, lane);
    };
    this.placeBatch(cluster, lane, batch, planned)
      .then(
        (again) => lane.queue.unshift(...again),
        (err: unknown) => {
          for (const queued of batch) if (!queued.settled) queued.abandon(err);
        },
      )
      .finally(planned);
  }

  /**
   * Plans one batch, calls `planned` once its claims are recorded in the lane (the next batch
   * may be planned from then on), commits it; returns the jobs with placements to plan again.
   */
  private async placeBatch(
    cluster: string,
    lane: Lane,
    batch: Queued[],
    planned: () => void,
  ): Promise<Queued[]> {
    const { view, fresh } = await this.snapshots.read(cluster);
    const working = view.workingCopy();
    const expected = takeClaimsInFlight(view, working, lane.inFlight);
    const expectedVersion = (arn: string) => expected.get(arn) ?? view.record(arn)?.version ?? 0;
    const mine: InFlight = new Map();
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
        const arn = planned.instanceArn;
        const task = { ...queued.pending[i], containerInstanceArn: arn };
        const version = expectedVersion(arn);
        placements.push({
          task,
          expectedInstanceVersion: queued.checkVersion ? version : 0,
          fenceLease: queued.job.fence?.lease ?? '',
          fenceHolder: queued.job.fence?.holder ?? '',
        });
        owners.push(queued);
        queued.inFlight++;
        working.take(arn, launch.claim, group);
        const pending = mine.get(arn) ?? { after: version, takes: [] };
        pending.after++;
        pending.takes.push({ claim: launch.claim, group });
        mine.set(arn, pending);
      });
      queued.pending = [];
    }

    if (placements.length > 0) {
      lane.inFlight.add(mine);
      planned();
      try {
        const result = await firstValueFrom(this.state.commitPlacements({ cluster, placements }));
        this.snapshots.applyCommitted(cluster, result.instances, result.instanceEventMessageIds);
        this.distribute(view, placements, owners, result);
      } finally {
        lane.inFlight.delete(mine);
      }
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

/**
 * Takes from `working` what the batches in flight claim and the snapshot does not show yet,
 * and returns the version each such instance will have once they commit (what the next batch
 * expects). An instance whose record is already at that version (the commit's event came
 * first) keeps its record as it is.
 */
function takeClaimsInFlight(
  view: ClusterView,
  working: WorkingSnapshot,
  inFlight: ReadonlySet<InFlight>,
): Map<string, number> {
  const expected = new Map<string, number>();
  for (const batch of inFlight) {
    for (const [arn, pending] of batch) {
      if ((view.record(arn)?.version ?? 0) >= pending.after) continue;
      for (const { claim, group } of pending.takes) working.take(arn, claim, group);
      expected.set(arn, Math.max(expected.get(arn) ?? 0, pending.after));
    }
  }
  return expected;
}

/** Whether at least `count` placements wait in the queue. */
function holdsPlacements(queue: readonly Queued[], count: number): boolean {
  let n = 0;
  for (const queued of queue) {
    n += queued.pending.length;
    if (n >= count) return true;
  }
  return false;
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
