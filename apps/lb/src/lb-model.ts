import type { stateV1 } from '@wharf/proto';
import type { Listener, LoadBalancer, Rule, TargetGroup } from '@wharf/domain';

export type LbResourceMessage = stateV1.LbResource;
export type LbTargetMessage = stateV1.LbTarget;

export type ParsedResource =
  | { kind: 'load-balancer'; arn: string; version: number; spec: LoadBalancer }
  | { kind: 'listener'; arn: string; version: number; spec: Listener }
  | { kind: 'rule'; arn: string; version: number; spec: Rule }
  | { kind: 'target-group'; arn: string; version: number; spec: TargetGroup };

/** What changed in the model, for whoever derives the live configuration from it. */
export interface ModelObserver {
  /** load balancers, listeners, rules or target groups changed */
  resourcesChanged(): void;
  /** one target was added, changed or removed (`target` undefined) */
  targetChanged(targetGroupArn: string, key: string, target: LbTargetMessage | undefined): void;
}

interface Versioned<T> {
  value: T;
  version: number;
  /** a monotonic stamp of when this process applied it (resync keeps what came later) */
  appliedAt: number;
}

interface Tombstone {
  version: number;
  registeredAt: number;
}

export interface ModelSnapshot {
  resources: LbResourceMessage[];
  targets: LbTargetMessage[];
}

/**
 * The lb's copy of state's load balancer resources and targets. The only writer of the
 * copy: events and full resyncs go through here, and a change older than what is held (by
 * version) is dropped, so the order events arrive in does not matter. A deletion leaves a
 * tombstone so that a late `changed` cannot bring the thing back.
 */
export class LbModel {
  private readonly resources = new Map<string, Versioned<ParsedResource>>();
  private readonly targets = new Map<string, Versioned<LbTargetMessage>>();
  private readonly resourceTombstones = new Map<string, Tombstone>();
  private readonly targetTombstones = new Map<string, Tombstone>();
  private stamp = 0;
  private readonly observers: ModelObserver[] = [];

  subscribe(observer: ModelObserver): void {
    this.observers.push(observer);
  }

  /** Applies a resource; false when it was stale (or unreadable) and dropped. */
  putResource(message: LbResourceMessage): boolean {
    const held = this.resources.get(message.arn);
    if (held && held.version >= message.version) return false;
    const tomb = this.resourceTombstones.get(message.arn);
    if (tomb && tomb.version >= message.version) return false;
    const parsed = parseResource(message);
    if (!parsed) return false;
    this.resourceTombstones.delete(message.arn);
    this.resources.set(message.arn, {
      value: parsed,
      version: message.version,
      appliedAt: ++this.stamp,
    });
    for (const o of this.observers) o.resourcesChanged();
    return true;
  }

  deleteResource(message: Pick<LbResourceMessage, 'arn' | 'version'>): boolean {
    const held = this.resources.get(message.arn);
    if (held && held.version > message.version) return false;
    this.resourceTombstones.set(message.arn, { version: message.version, registeredAt: 0 });
    if (!held) return false;
    this.resources.delete(message.arn);
    for (const o of this.observers) o.resourcesChanged();
    return true;
  }

  putTarget(message: LbTargetMessage): boolean {
    const key = fullTargetKey(message);
    const held = this.targets.get(key);
    if (held && !newerTarget(message, held.value)) return false;
    const tomb = this.targetTombstones.get(key);
    if (tomb && !isNewer(message, tomb)) return false;
    this.targetTombstones.delete(key);
    if (message.state === 'unused') {
      // unused = state has finished with it: the same as gone.
      return this.removeTarget(key, message);
    }
    this.targets.set(key, { value: message, version: message.version, appliedAt: ++this.stamp });
    for (const o of this.observers)
      o.targetChanged(message.targetGroupArn, localKey(message), message);
    return true;
  }

  deleteTarget(message: LbTargetMessage): boolean {
    const key = fullTargetKey(message);
    const held = this.targets.get(key);
    if (held && newerTarget(held.value, message)) return false;
    return this.removeTarget(key, message);
  }

  private removeTarget(key: string, message: LbTargetMessage): boolean {
    this.targetTombstones.set(key, {
      version: message.version,
      registeredAt: message.registeredAt,
    });
    if (!this.targets.delete(key)) return false;
    for (const o of this.observers) {
      o.targetChanged(message.targetGroupArn, localKey(message), undefined);
    }
    return true;
  }

  /**
   * Replaces the model with a full read of state. What the snapshot holds wins unless the
   * model already has something newer; what it lacks is removed unless it was applied after
   * the read started (`startedStamp`, from `beginResync`).
   */
  replaceAll(snapshot: ModelSnapshot, startedStamp: number): void {
    const seenResources = new Set<string>();
    let resourcesChanged = false;
    for (const message of snapshot.resources) {
      seenResources.add(message.arn);
      const held = this.resources.get(message.arn);
      if (held && held.version >= message.version) continue;
      const tomb = this.resourceTombstones.get(message.arn);
      if (tomb && tomb.version >= message.version) continue;
      const parsed = parseResource(message);
      if (!parsed) continue;
      this.resources.set(message.arn, {
        value: parsed,
        version: message.version,
        appliedAt: ++this.stamp,
      });
      resourcesChanged = true;
    }
    for (const [arn, held] of this.resources) {
      if (!seenResources.has(arn) && held.appliedAt <= startedStamp) {
        this.resources.delete(arn);
        resourcesChanged = true;
      }
    }
    this.resourceTombstones.clear();
    if (resourcesChanged) for (const o of this.observers) o.resourcesChanged();

    const seenTargets = new Set<string>();
    for (const message of snapshot.targets) {
      const key = fullTargetKey(message);
      seenTargets.add(key);
      const held = this.targets.get(key);
      if (held && !newerTarget(message, held.value)) continue;
      this.putTarget(message);
    }
    for (const [key, held] of [...this.targets]) {
      if (!seenTargets.has(key) && held.appliedAt <= startedStamp)
        this.removeTarget(key, held.value);
    }
    this.targetTombstones.clear();
  }

  /** The stamp to give `replaceAll` for a read of state that starts now. */
  beginResync(): number {
    return this.stamp;
  }

  loadBalancer(arn: string): LoadBalancer | undefined {
    const r = this.resources.get(arn)?.value;
    return r?.kind === 'load-balancer' ? r.spec : undefined;
  }

  listeners(): Listener[] {
    return this.ofKind('listener');
  }

  rules(): Rule[] {
    return this.ofKind('rule');
  }

  targetGroups(): TargetGroup[] {
    return this.ofKind('target-group');
  }

  targetsOf(targetGroupArn: string): LbTargetMessage[] {
    const out: LbTargetMessage[] = [];
    for (const t of this.targets.values()) {
      if (t.value.targetGroupArn === targetGroupArn) out.push(t.value);
    }
    return out;
  }

  private ofKind<K extends ParsedResource['kind']>(kind: K): SpecOf<K>[] {
    const out: SpecOf<K>[] = [];
    for (const r of this.resources.values()) {
      if (r.value.kind === kind) out.push(r.value.spec as SpecOf<K>);
    }
    return out;
  }
}

type SpecOf<K extends ParsedResource['kind']> = Extract<ParsedResource, { kind: K }>['spec'];

function parseResource(message: LbResourceMessage): ParsedResource | undefined {
  let spec: unknown;
  try {
    spec = JSON.parse(message.specJson);
  } catch {
    return undefined;
  }
  if (typeof spec !== 'object' || spec === null) return undefined;
  switch (message.kind) {
    case 'load-balancer':
    case 'listener':
    case 'rule':
    case 'target-group':
      return {
        kind: message.kind,
        arn: message.arn,
        version: message.version,
        spec,
      } as ParsedResource;
    default:
      return undefined;
  }
}

export function fullTargetKey(t: Pick<LbTargetMessage, 'targetGroupArn' | 'id' | 'port'>): string {
  return `${t.targetGroupArn}|${t.id}:${t.port}`;
}

export function localKey(t: Pick<LbTargetMessage, 'id' | 'port'>): string {
  return `${t.id}:${t.port}`;
}

/**
 * Targets are ordered by registration, then version: a target registered again after it was
 * removed is a new one even if state numbers its versions afresh.
 */
function isNewer(t: LbTargetMessage, than: Tombstone): boolean {
  if (t.registeredAt !== than.registeredAt) return t.registeredAt > than.registeredAt;
  return t.version > than.version;
}

function newerTarget(a: LbTargetMessage, b: LbTargetMessage): boolean {
  return isNewer(a, { version: b.version, registeredAt: b.registeredAt });
}
