import { ResourceClaim, SnapshotInstance, subtractClaim } from '@wharf/domain';
import type { common } from '@wharf/proto';
import { byRegistration, toSnapshotInstance } from './planner';

/** Event messages remembered as taken from commits' answers, at most (see `applyCommitted`). */
const TAKEN_MESSAGES_KEPT = 4096;

/** Reads every container instance of a cluster (all statuses) from state. */
export type ListInstances = (cluster: string) => Promise<common.ContainerInstance[]>;

interface Known {
  record: common.ContainerInstance;
  /** Position in `ClusterView.ordered`. */
  index: number;
}

/**
 * What one scheduler knows about one cluster's container instances: the record state last
 * sent for each (with its version) and the planner's view of it, oldest registration first.
 * Records only move forward: an update older than what is known (an event that arrives after
 * a commit's answer, a list read before an event) is ignored.
 */
export class ClusterView {
  private readonly known = new Map<string, Known>();
  private ordered: SnapshotInstance[] = [];
  /**
   * An instance was added since `ordered` was built: it is rebuilt on its next use, not on
   * every addition (a fleet registering one by one would otherwise sort it each time).
   */
  private unordered = false;
  loadedAt = 0;

  /**
   * Deregistered (INACTIVE) instances, by ARN → the version they went INACTIVE at: dropped
   * from the view, and an older record that arrives late does not bring them back.
   */
  private readonly gone = new Map<string, number>();

  /** Takes each record that is newer than the one known; returns how many were taken. */
  apply(records: readonly common.ContainerInstance[]): number {
    let taken = 0;
    for (const record of records) {
      const arn = record.containerInstanceArn;
      const version = Number(record.version);
      const known = this.known.get(arn);
      if (known && Number(known.record.version) >= version) continue;
      if ((this.gone.get(arn) ?? -1) >= version) continue;
      taken++;
      if (record.status === 'INACTIVE') {
        this.gone.set(arn, version);
        if (known) {
          this.known.delete(arn);
          this.unordered = true;
        }
        continue;
      }
      this.gone.delete(arn);
      if (known) {
        known.record = record;
        if (!this.unordered) this.ordered[known.index] = toSnapshotInstance(record);
      } else {
        this.known.set(record.containerInstanceArn, { record, index: -1 });
        this.unordered = true;
      }
    }
    return taken;
  }

  /** The planner's view, oldest registration first. Do not modify; see `workingCopy`. */
  instances(): readonly SnapshotInstance[] {
    if (this.unordered) this.reorder();
    return this.ordered;
  }

  record(arn: string): common.ContainerInstance | undefined {
    return this.known.get(arn)?.record;
  }

  get size(): number {
    return this.known.size;
  }

  /** A copy to plan several requests on, one after the other (see `WorkingSnapshot.take`). */
  workingCopy(): WorkingSnapshot {
    return new WorkingSnapshot(this.instances(), this.known);
  }

  private reorder(): void {
    this.unordered = false;
    const records = [...this.known.values()].map((k) => k.record).sort(byRegistration);
    this.ordered = records.map(toSnapshotInstance);
    records.forEach((r, index) => {
      this.known.get(r.containerInstanceArn)!.index = index;
    });
  }
}

/**
 * A cluster view that tasks planned but not yet committed are taken from, so the next request
 * planned in the same batch sees them: less remaining, their host ports taken, one more task
 * of their group (distinctInstance and spread count it).
 */
export class WorkingSnapshot {
  readonly instances: SnapshotInstance[];

  constructor(
    instances: readonly SnapshotInstance[],
    private readonly known: ReadonlyMap<string, Known>,
  ) {
    this.instances = [...instances];
  }

  take(arn: string, claim: ResourceClaim, group: string): void {
    const index = this.known.get(arn)?.index;
    if (index === undefined) return;
    const before = this.instances[index];
    this.instances[index] = {
      ...before,
      remaining: subtractClaim(before.remaining, claim),
      taskGroups: { ...before.taskGroups, [group]: (before.taskGroups[group] ?? 0) + 1 },
    };
  }
}

/**
 * Every cluster's view, kept current without reading the cluster for each request: loaded
 * once from state, then updated from the instances each commit returns and from state's
 * `container_instance.changed` events. A view older than `resyncMs` is read again whole (the
 * safety net for events missed while NATS was away), as is every view after a reconnect.
 */
export class ClusterSnapshots {
  private readonly views = new Map<string, ClusterView>();
  private readonly loading = new Map<string, Promise<ClusterView>>();
  /**
   * msgIDs of event messages whose records were taken from a commit's answer already (see
   * `applyCommitted`), oldest first; at most TAKEN_MESSAGES_KEPT, so that one which never
   * arrives (NATS was away) is not remembered forever.
   */
  private readonly taken = new Set<string>();

  constructor(
    private readonly list: ListInstances,
    private readonly resyncMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cluster's view, read from state first when it is missing or due a resync. */
  async get(cluster: string): Promise<ClusterView> {
    return (await this.read(cluster)).view;
  }

  /** As `get`, and whether the view was read from state for this call (`fresh`). */
  async read(cluster: string): Promise<{ view: ClusterView; fresh: boolean }> {
    const view = this.views.get(cluster);
    if (view && this.now() - view.loadedAt < this.resyncMs) return { view, fresh: false };
    let loading = this.loading.get(cluster);
    if (!loading) {
      loading = this.load(cluster, view).finally(() => this.loading.delete(cluster));
      this.loading.set(cluster, loading);
    }
    return { view: await loading, fresh: true };
  }

  /** Records from a commit's answer or an event; clusters not loaded yet are left to `get`. */
  apply(cluster: string, records: readonly common.ContainerInstance[]): void {
    this.views.get(cluster)?.apply(records);
  }

  /**
   * A commit's answer: its records, and the msgIDs of the event messages that carry the same
   * records of the instances it changed (`instanceEventMessageIds`). Those messages need not be
   * decoded when they arrive (`tookAlready`): with random placement a commit changes an
   * instance per task, and each of its `container_instance.changed` events came back to the
   * scheduler that made it, to be parsed and dropped as not newer.
   */
  applyCommitted(
    cluster: string,
    records: readonly common.ContainerInstance[],
    messageIds: readonly string[],
  ): void {
    const view = this.views.get(cluster);
    if (!view) return;
    view.apply(records);
    for (const id of messageIds) this.taken.add(id);
    for (const id of this.taken) {
      if (this.taken.size <= TAKEN_MESSAGES_KEPT) break;
      this.taken.delete(id);
    }
  }

  /** Whether an event message holds records taken from a commit's answer (then forgotten). */
  tookAlready(messageId: string): boolean {
    return this.taken.delete(messageId);
  }

  /** The cluster's view is read again on its next use. */
  expire(cluster: string): void {
    const view = this.views.get(cluster);
    if (view) view.loadedAt = 0;
  }

  /** Every view is read again on its next use (NATS reconnected: events may be missing). */
  expireAll(): void {
    for (const view of this.views.values()) view.loadedAt = 0;
  }

  private async load(cluster: string, existing: ClusterView | undefined): Promise<ClusterView> {
    const startedAt = this.now();
    // A first view is in place (as due) before the list is read, so the events of
    // changes made meanwhile land in it rather than being dropped until the next resync.
    const view = existing ?? new ClusterView();
    if (!existing) {
      view.loadedAt = Number.NEGATIVE_INFINITY;
      this.views.set(cluster, view);
    }
    const records = await this.list(cluster);
    // Events applied while the list was read are newer than what it says; `apply` keeps them.
    view.apply(records);
    view.loadedAt = startedAt;
    this.views.set(cluster, view);
    return view;
  }
}
