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
 * The clusters and task definition revisions that RunTask resolves on every call, cached:
 * asking state each time cost more than planning. Kept honest by state's events
 * (`cluster.*`, `task_definition.*` forget everything cached of that kind) and a short TTL.
 * A bare family (the latest ACTIVE revision) is never cached: a revision registered a moment
 * ago must be the one that runs.
 */
export class Lookups {
  private readonly clusters = new Map<string, Entry<common.Cluster | undefined>>();
  private readonly definitions = new Map<string, Entry<common.TaskDefinition>>();

  constructor(
    private readonly state: stateV1.StateServiceClient,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cluster by name or ARN (undefined: no such cluster). */
  async cluster(ref: string): Promise<common.Cluster | undefined> {
    const name = clusterNameOf(ref);
    const cached = this.fresh(this.clusters.get(name));
    if (cached) return cached.value;
    const { clusters } = await firstValueFrom(this.state.describeClusters({ clusters: [name] }));
    const cluster = clusters[0];
    // Only a cluster that exists is kept; one created right after a miss must be found.
    if (cluster) this.clusters.set(name, { value: cluster, at: this.now() });
    return cluster;
  }

  /** The task definition; state's NOT_FOUND and other errors pass through. */
  async taskDefinition(ref: string): Promise<common.TaskDefinition> {
    const namesRevision = parseTaskDefinitionRef(ref)?.revision !== undefined;
    const cached = namesRevision ? this.fresh(this.definitions.get(ref)) : undefined;
    if (cached) return cached.value;
    const definition = await firstValueFrom(
      this.state.describeTaskDefinition({ taskDefinition: ref }),
    );
    if (namesRevision) this.definitions.set(ref, { value: definition, at: this.now() });
    return definition;
  }

  forgetClusters(): void {
    this.clusters.clear();
  }

  forgetTaskDefinitions(): void {
    this.definitions.clear();
  }

  private fresh<T>(entry: Entry<T> | undefined): Entry<T> | undefined {
    return entry && this.now() - entry.at < LOOKUP_TTL_MS ? entry : undefined;
  }
}
