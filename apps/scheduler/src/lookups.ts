import { clusterNameOf, parseTaskDefinitionRef } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import { firstValueFrom } from 'rxjs';

/**
 * How long a cached cluster or task definition is trusted when no event has said it changed
 * (events missed while NATS was away cannot keep a stale answer for longer).
 */
export const LOOKUP_TTL_MS = 5_000;

interface Entry<T> {
  value: T;
  at: number;
}

/**
 * A cache of one kind of lookup: fresh entries are answered from memory, and concurrent misses
 * of one key share a single call (without that, every RunTask in flight when an entry expired
 * asked state at once: 31 DescribeClusters in one run of the placement bench, each counting
 * the cluster's tasks). `forget` drops every entry and makes calls already under way leave
 * theirs uncached, since they may have read what the event says changed.
 */
class LookupCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly loading = new Map<string, Promise<T>>();
  private generation = 0;

  constructor(private readonly now: () => number) {}

  get(key: string, load: () => Promise<T>, keep: (value: T) => boolean): Promise<T> {
    const entry = this.entries.get(key);
    if (entry && this.now() - entry.at < LOOKUP_TTL_MS) return Promise.resolve(entry.value);
    let pending = this.loading.get(key);
    if (!pending) {
      const generation = this.generation;
      pending = load().then(
        (value) => {
          if (generation === this.generation) {
            this.loading.delete(key);
            if (keep(value)) this.entries.set(key, { value, at: this.now() });
          }
          return value;
        },
        (err: unknown) => {
          if (generation === this.generation) this.loading.delete(key);
          throw err;
        },
      );
      this.loading.set(key, pending);
    }
    return pending;
  }

  forget(): void {
    this.generation++;
    this.entries.clear();
    this.loading.clear();
  }
}

/**
 * The clusters and task definition revisions that RunTask resolves on every call, cached:
 * asking state each time cost more than planning. Kept honest by state's events
 * (`cluster.*`, `task_definition.*` forget everything cached of that kind) and a short TTL.
 * A bare family (the latest ACTIVE revision) is never cached: a revision registered a moment
 * ago must be the one that runs.
 */
export class Lookups {
  private readonly clusters: LookupCache<common.Cluster | undefined>;
  private readonly definitions: LookupCache<common.TaskDefinition>;

  constructor(
    private readonly state: stateV1.StateServiceClient,
    now: () => number = Date.now,
  ) {
    this.clusters = new LookupCache(now);
    this.definitions = new LookupCache(now);
  }

  /** The cluster by name or ARN (undefined: no such cluster). */
  cluster(ref: string): Promise<common.Cluster | undefined> {
    const name = clusterNameOf(ref);
    return this.clusters.get(
      name,
      async () => {
        const { clusters } = await firstValueFrom(
          this.state.describeClusters({ clusters: [name] }),
        );
        return clusters[0];
      },
      // Only a cluster that exists is kept; one created right after a miss must be found.
      (cluster) => cluster !== undefined,
    );
  }

  /** The task definition; state's NOT_FOUND and other errors pass through. */
  taskDefinition(ref: string): Promise<common.TaskDefinition> {
    const describe = () =>
      firstValueFrom(this.state.describeTaskDefinition({ taskDefinition: ref }));
    if (parseTaskDefinitionRef(ref)?.revision === undefined) return describe();
    return this.definitions.get(ref, describe, () => true);
  }

  forgetClusters(): void {
    this.clusters.forget();
  }

  forgetTaskDefinitions(): void {
    this.definitions.forget();
  }
}
