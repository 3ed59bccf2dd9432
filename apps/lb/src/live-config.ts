import type { Logger } from '@wharf/observability';
import type { Listener, Rule, TargetGroup, TargetHealthState } from '@wharf/domain';
import type { LbModel, LbTargetMessage, ModelObserver } from './lb-model';
import { compileRouter, type Router } from './routing';
import {
  isRegistered,
  newTarget,
  TargetPool,
  type LocalHealth,
  type TargetRuntime,
} from './target-pool';

/** What a listener is compiled from: its spec, its rules and its load balancer's idle timeout. */
export interface ListenerSource {
  listener: Listener;
  rules: Rule[];
  idleTimeoutSeconds: number;
}

/** What a listener's server needs per request; replaced as a whole on every change. */
export interface ListenerRuntime {
  listenerArn: string;
  loadBalancerArn: string;
  port: number;
  idleTimeoutMs: number;
  router: Router;
  /** what it was compiled from (sent to the lb's worker processes, which compile their own) */
  source: ListenerSource;
}

/**
 * What the proxy serves from: the listeners by port and the target pools by target group
 * ARN, and a way to hear of changes. `LiveConfig` derives it from the model; in a worker
 * process `ReplicaLiveConfig` applies what the primary sends.
 */
export interface LiveView {
  readonly pools: Map<string, TargetPool>;
  readonly listeners: Map<number, ListenerRuntime>;
  onChange(observer: () => void): void;
}

/** One target as the primary process sends it to the workers. */
export interface TargetSnapshot {
  id: string;
  port: number;
  host: string;
  registeredState: TargetHealthState;
  health: LocalHealth;
  reason: string;
  description: string;
  healthySince: number;
}

/**
 * The whole live configuration as plain data: what the primary process sends its workers
 * (over IPC) on every change, so that every worker routes the same way.
 */
export interface LiveSnapshot {
  listeners: ListenerSource[];
  groups: { group: TargetGroup; targets: TargetSnapshot[] }[];
}

/** Compiles a listener's rules; once per change, never per request. */
export function compileListener(source: ListenerSource): ListenerRuntime {
  const { listener } = source;
  return {
    listenerArn: listener.listenerArn,
    loadBalancerArn: listener.loadBalancerArn,
    port: listener.port,
    idleTimeoutMs: (source.idleTimeoutSeconds || 60) * 1000,
    router: compileRouter(source.rules, listener.defaultActions),
    source,
  };
}

/**
 * The configuration the data plane runs on, derived from the model: a compiled router per
 * listener port and a target pool per target group. Rules and wildcards are compiled here,
 * once per change, never per request. Pools are kept across changes (their targets carry
 * health, in-flight counts and connection pools).
 */
export class LiveConfig implements ModelObserver, LiveView {
  readonly pools = new Map<string, TargetPool>();
  listeners = new Map<number, ListenerRuntime>();
  private readonly observers: (() => void)[] = [];

  constructor(
    private readonly model: LbModel,
    private readonly logger: Logger,
  ) {
    model.subscribe(this);
    this.rebuild();
  }

  /** Called after every change of listeners, pools or targets. */
  onChange(observer: () => void): void {
    this.observers.push(observer);
  }

  resourcesChanged(): void {
    this.rebuild();
  }

  /** The health checker changed a target's health (routing follows; observers are told). */
  healthChanged(): void {
    this.notify();
  }

  /** The configuration as plain data, for the lb's worker processes. */
  snapshot(): LiveSnapshot {
    const groups: LiveSnapshot['groups'] = [];
    for (const pool of this.pools.values()) {
      const targets: TargetSnapshot[] = [];
      for (const t of pool.targets.values()) {
        targets.push({
          id: t.id,
          port: t.port,
          host: t.host,
          registeredState: t.registeredState,
          health: t.health,
          reason: t.reason,
          description: t.description,
          healthySince: t.healthySince,
        });
      }
      groups.push({ group: pool.group, targets });
    }
    return { listeners: [...this.listeners.values()].map((l) => l.source), groups };
  }

  targetChanged(targetGroupArn: string, key: string, message: LbTargetMessage | undefined): void {
    const pool = this.pools.get(targetGroupArn);
    if (!pool) return; // the group's targets are picked up when the group appears
    if (message) this.upsertTarget(pool, message);
    else {
      const target = pool.targets.get(key);
      if (target) {
        pool.targets.delete(key);
        retireTarget(target);
        this.logger.info({ targetGroupArn, target: key }, 'target removed from its target group');
      }
    }
    pool.refresh();
    this.notify();
  }

  private upsertTarget(pool: TargetPool, message: LbTargetMessage): void {
    const state = message.state as TargetHealthState;
    const key = `${message.id}:${message.port}`;
    const held = pool.targets.get(key);
    if (!held) {
      pool.targets.set(
        key,
        newTarget(pool.group.targetGroupArn, {
          id: message.id,
          port: message.port,
          host: message.host || message.id,
          registeredState: state,
          reason: message.reason,
          description: message.description,
        }),
      );
      this.logger.info(
        { targetGroupArn: pool.group.targetGroupArn, target: key, state },
        'target added to its target group',
      );
      return;
    }
    const wasRegistered = isRegistered(held.registeredState);
    if (held.registeredState !== state) {
      this.logger.info(
        {
          targetGroupArn: pool.group.targetGroupArn,
          target: key,
          from: held.registeredState,
          to: state,
        },
        'target state changed in state',
      );
    }
    held.registeredState = state;
    held.host = message.host || message.id;
    if (!wasRegistered && isRegistered(state)) {
      // Registered again after draining: its health is checked afresh.
      held.health = 'initial';
      held.reason = 'Elb.InitialHealthChecking';
      held.description = '';
    }
  }

  private rebuild(): void {
    const groups = new Map<string, TargetGroup>();
    for (const g of this.model.targetGroups()) groups.set(g.targetGroupArn, g);
    for (const [arn, pool] of this.pools) {
      if (groups.has(arn)) continue;
      this.pools.delete(arn);
      for (const t of pool.targets.values()) retireTarget(t);
      this.logger.info({ targetGroupArn: arn }, 'target group removed');
    }
    for (const [arn, group] of groups) {
      const pool = this.pools.get(arn);
      if (pool) {
        if (JSON.stringify(pool.group) !== JSON.stringify(group)) {
          pool.setGroup(group);
          this.logger.info({ targetGroupArn: arn }, 'target group changed');
        }
        continue;
      }
      const created = new TargetPool(group);
      this.pools.set(arn, created);
      for (const t of this.model.targetsOf(arn)) this.upsertTarget(created, t);
      created.refresh();
      this.logger.info({ targetGroupArn: arn, name: group.targetGroupName }, 'target group added');
    }

    const rulesByListener = new Map<string, Rule[]>();
    for (const rule of this.model.rules()) {
      const list = rulesByListener.get(rule.listenerArn) ?? [];
      list.push(rule);
      rulesByListener.set(rule.listenerArn, list);
    }
    const listeners = new Map<number, ListenerRuntime>();
    for (const listener of this.model.listeners()) {
      const lb = this.model.loadBalancer(listener.loadBalancerArn);
      if (!lb) continue; // its load balancer is not known (yet)
      listeners.set(
        listener.port,
        compileListener({
          listener,
          rules: rulesByListener.get(listener.listenerArn) ?? [],
          idleTimeoutSeconds: lb.idleTimeoutSeconds,
        }),
      );
    }
    const before = [...this.listeners.keys()].sort().join(',');
    const after = [...listeners.keys()].sort().join(',');
    this.listeners = listeners;
    if (before !== after) this.logger.info({ ports: [...listeners.keys()] }, 'listeners changed');
    this.notify();
  }

  private notify(): void {
    for (const o of this.observers) o();
  }
}

/**
 * A target that left its group takes no new requests; its connection pool is closed once
 * the requests it still serves have finished (the proxy calls this again as each ends).
 */
export function retireTarget(target: TargetRuntime): void {
  target.removed = true;
  target.eligible = false;
  if (target.outstanding === 0) {
    target.agent?.destroy();
    target.agent = undefined;
    target.upstream?.destroy();
    target.upstream = undefined;
  }
}
