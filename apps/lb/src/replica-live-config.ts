import type { Logger } from '@wharf/observability';
import {
  compileListener,
  retireTarget,
  type ListenerRuntime,
  type LiveSnapshot,
  type LiveView,
} from './live-config';
import { newTarget, targetKey, TargetPool } from './target-pool';

/**
 * The live configuration of an lb worker process: a copy of the primary's, replaced by each
 * snapshot the primary sends. Objects that carry runtime state are kept across snapshots —
 * a target's pooled connections and in-flight count, a pool's round-robin position, a
 * listener's compiled router while its rules are unchanged — so a change (a new rule, a
 * target gone, a health flip) never drops a connection. The primary owns health: the
 * worker only follows what it is told.
 */
export class ReplicaLiveConfig implements LiveView {
  readonly pools = new Map<string, TargetPool>();
  listeners = new Map<number, ListenerRuntime>();
  private readonly groupJson = new Map<string, string>();
  private readonly listenerJson = new Map<number, string>();
  private readonly observers: (() => void)[] = [];

  constructor(private readonly logger: Logger) {}

  onChange(observer: () => void): void {
    this.observers.push(observer);
  }

  apply(snapshot: LiveSnapshot): void {
    const groups = new Set<string>();
    for (const { group, targets } of snapshot.groups) {
      const arn = group.targetGroupArn;
      groups.add(arn);
      const json = JSON.stringify(group);
      let pool = this.pools.get(arn);
      if (!pool) {
        pool = new TargetPool(group);
        this.pools.set(arn, pool);
      } else if (this.groupJson.get(arn) !== json) {
        pool.setGroup(group);
      }
      this.groupJson.set(arn, json);
      const keys = new Set<string>();
      for (const t of targets) {
        const key = targetKey(t.id, t.port);
        keys.add(key);
        let held = pool.targets.get(key);
        if (!held) {
          held = newTarget(arn, {
            id: t.id,
            port: t.port,
            host: t.host,
            registeredState: t.registeredState,
          });
          pool.targets.set(key, held);
        }
        held.host = t.host;
        held.registeredState = t.registeredState;
        held.health = t.health;
        held.reason = t.reason;
        held.description = t.description;
        held.healthySince = t.healthySince;
      }
      for (const [key, held] of pool.targets) {
        if (keys.has(key)) continue;
        pool.targets.delete(key);
        retireTarget(held);
      }
      pool.refresh();
    }
    for (const [arn, pool] of this.pools) {
      if (groups.has(arn)) continue;
      this.pools.delete(arn);
      this.groupJson.delete(arn);
      for (const t of pool.targets.values()) retireTarget(t);
    }

    const listeners = new Map<number, ListenerRuntime>();
    const listenerJson = new Map<number, string>();
    for (const source of snapshot.listeners) {
      const port = source.listener.port;
      const json = JSON.stringify(source);
      const held = this.listeners.get(port);
      // The same runtime object when nothing changed: the listener server keeps it as is.
      listeners.set(
        port,
        held && this.listenerJson.get(port) === json ? held : compileListener(source),
      );
      listenerJson.set(port, json);
    }
    const before = [...this.listeners.keys()].sort().join(',');
    const after = [...listeners.keys()].sort().join(',');
    this.listeners = listeners;
    this.listenerJson.clear();
    for (const [port, json] of listenerJson) this.listenerJson.set(port, json);
    if (before !== after) this.logger.debug({ ports: [...listeners.keys()] }, 'listeners changed');
    for (const o of this.observers) o();
  }
}
