import { createHash } from 'node:crypto';
import type { Agent } from 'node:http';
import type { TargetGroup, TargetHealthState } from '@wharf/domain';
import type { WeightedGroup } from './routing';
import type { UpstreamPool } from './upstream-pool';

/** The cookie of load-balancer-generated target stickiness (ALB `lb_cookie`). */
export const TARGET_STICKINESS_COOKIE = 'AWSALB';
/** The cookie of target group stickiness in a weighted forward. */
export const GROUP_STICKINESS_COOKIE = 'AWSALBTG';

/** A short, stable, opaque cookie value naming a target or a target group. */
export function stickyIdFor(...parts: string[]): string {
  return createHash('sha256').update(parts.join('|')).digest('base64url').slice(0, 22);
}

export type LocalHealth = 'initial' | 'healthy' | 'unhealthy';

/**
 * One target of a target group as the lb sees it: where it is, what state holds about it
 * (`registeredState`: draining/unused come from there) and what this lb's own health checks
 * found (`health`), which is what routing follows.
 */
export interface TargetRuntime {
  /** `${id}:${port}`, unique within the group */
  readonly key: string;
  readonly id: string;
  readonly port: number;
  host: string;
  registeredState: TargetHealthState;
  health: LocalHealth;
  reason: string;
  description: string;
  /** epoch ms when health last became healthy (slow start); 0 = long ago */
  healthySince: number;
  /** requests (and WebSocket connections) in flight */
  outstanding: number;
  readonly stickyId: string;
  /** the pooled keep-alive agent to this target (requests with a body); the proxy creates it */
  agent?: Agent;
  /** the pooled connections to this target for requests without a body; the proxy creates it */
  upstream?: UpstreamPool;
  /** true while the target is offered to new requests */
  eligible: boolean;
  /** set once the target left its group: the agent is closed when the last request ends */
  removed: boolean;
}

export function newTarget(
  targetGroupArn: string,
  init: {
    id: string;
    port: number;
    host: string;
    registeredState: TargetHealthState;
    reason?: string;
    description?: string;
  },
): TargetRuntime {
  const seeded: LocalHealth =
    init.registeredState === 'healthy' || init.registeredState === 'unhealthy'
      ? init.registeredState
      : 'initial';
  return {
    key: targetKey(init.id, init.port),
    id: init.id,
    port: init.port,
    host: init.host,
    registeredState: init.registeredState,
    health: seeded,
    reason: init.reason ?? (seeded === 'initial' ? 'Elb.InitialHealthChecking' : ''),
    description: init.description ?? '',
    healthySince: 0,
    outstanding: 0,
    stickyId: stickyIdFor(targetGroupArn, init.id, String(init.port)),
    eligible: false,
    removed: false,
  };
}

export function targetKey(id: string, port: number): string {
  return `${id}:${port}`;
}

/** Whether state still offers the target to new requests (not draining, unused, unavailable). */
export function isRegistered(state: TargetHealthState): boolean {
  return state === 'initial' || state === 'healthy' || state === 'unhealthy';
}

export interface Pick {
  target: TargetRuntime;
  /** Set-Cookie value to send (stickiness), when any */
  cookie?: string;
}

/**
 * The targets of one target group and the choice among them. Candidates are the healthy
 * registered targets; when none is healthy the group fails open to every registered target
 * (initial and unhealthy), as ALB does. Draining targets never get new requests.
 */
export class TargetPool {
  readonly targets = new Map<string, TargetRuntime>();
  private candidates: TargetRuntime[] = [];
  private byStickyId = new Map<string, TargetRuntime>();
  private next = 0;
  private stickyCookieSuffix = '';
  readonly groupStickyId: string;

  constructor(
    public group: TargetGroup,
    private readonly random: () => number = Math.random,
  ) {
    this.groupStickyId = stickyIdFor(group.targetGroupArn);
    this.setGroup(group);
  }

  setGroup(group: TargetGroup): void {
    this.group = group;
    this.stickyCookieSuffix = `; Max-Age=${group.stickiness.durationSeconds}; Path=/`;
    this.refresh();
  }

  /** Recomputes the candidates; call after any target's state or health changed. */
  refresh(): void {
    const registered: TargetRuntime[] = [];
    const healthy: TargetRuntime[] = [];
    for (const t of this.targets.values()) {
      t.eligible = false;
      if (!isRegistered(t.registeredState)) continue;
      registered.push(t);
      if (t.health === 'healthy') healthy.push(t);
    }
    this.candidates = healthy.length > 0 ? healthy : registered;
    this.byStickyId = new Map();
    for (const t of this.candidates) {
      t.eligible = true;
      this.byStickyId.set(t.stickyId, t);
    }
  }

  /** How many targets new requests may go to now. */
  candidateCount(): number {
    return this.candidates.length;
  }

  /**
   * The target for a new request; `stickyId` is the request's AWSALB cookie value, if any.
   * Undefined when the group has no target to offer (the caller answers 503).
   */
  pick(stickyId: string | undefined, now: number): Pick | undefined {
    const candidates = this.candidates;
    const n = candidates.length;
    if (n === 0) return undefined;
    const sticky = this.group.stickiness.enabled;
    if (sticky && stickyId !== undefined) {
      const target = this.byStickyId.get(stickyId);
      if (target) return { target, cookie: this.cookieFor(target) };
    }
    const target =
      n === 1
        ? candidates[0]
        : this.group.algorithm === 'least_outstanding_requests'
          ? this.leastOutstanding(candidates)
          : this.roundRobin(candidates, now);
    return sticky ? { target, cookie: this.cookieFor(target) } : { target };
  }

  private cookieFor(target: TargetRuntime): string {
    return `${TARGET_STICKINESS_COOKIE}=${target.stickyId}${this.stickyCookieSuffix}`;
  }

  private roundRobin(candidates: TargetRuntime[], now: number): TargetRuntime {
    const n = candidates.length;
    const slowStartMs = this.group.slowStartSeconds * 1000;
    for (let tries = 0; tries < n; tries++) {
      const target = candidates[this.next++ % n];
      if (this.next >= 1 << 30) this.next = 0;
      if (slowStartMs <= 0 || target.health !== 'healthy') return target;
      // Slow start: a newly healthy target takes a share of requests that grows linearly
      // over the slow start duration; a skipped turn goes to the next target.
      const elapsed = now - target.healthySince;
      if (elapsed >= slowStartMs || this.random() < Math.max(elapsed / slowStartMs, 0.01)) {
        return target;
      }
    }
    return candidates[this.next++ % n];
  }

  /**
   * `outstanding` counts this process's requests only: with LB_WORKERS > 1 each worker
   * balances its own share of the traffic by least outstanding requests, without knowing the
   * other workers' in-flight counts (sharing them per request would cost more than it buys;
   * the primary hands connections to workers in turn, so their shares are alike).
   */
  private leastOutstanding(candidates: TargetRuntime[]): TargetRuntime {
    // Start the scan where the last one left off so that ties rotate.
    const n = candidates.length;
    const start = this.next++ % n;
    if (this.next >= 1 << 30) this.next = 0;
    let best = candidates[start];
    for (let i = 1; i < n; i++) {
      const t = candidates[(start + i) % n];
      if (t.outstanding < best.outstanding) best = t;
    }
    return best;
  }
}

/**
 * The target group of a weighted forward: the one the AWSALBTG cookie names when group
 * stickiness is on and that group still has weight, else one drawn by weight. Undefined when
 * every weight is 0.
 */
export function pickGroup(
  groups: WeightedGroup[],
  totalWeight: number,
  stickyGroupId: string | undefined,
  stickyIdOf: (targetGroupArn: string) => string,
  random: () => number = Math.random,
): WeightedGroup | undefined {
  if (groups.length === 1) return groups[0];
  if (totalWeight <= 0) return undefined;
  if (stickyGroupId !== undefined) {
    for (const g of groups) {
      if (g.weight > 0 && stickyIdOf(g.targetGroupArn) === stickyGroupId) return g;
    }
  }
  let r = random() * totalWeight;
  for (const g of groups) {
    if (g.weight <= 0) continue;
    if (r < g.weight) return g;
    r -= g.weight;
  }
  for (let i = groups.length - 1; i >= 0; i--) if (groups[i].weight > 0) return groups[i];
  return undefined;
}

/** The value of one cookie in a Cookie header, without parsing the rest. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let at = 0;
  for (;;) {
    const found = header.indexOf(name, at);
    if (found < 0) return undefined;
    const before = found === 0 ? ';' : header[found - 1];
    if ((before === ';' || before === ' ') && header[found + name.length] === '=') {
      const start = found + name.length + 1;
      const end = header.indexOf(';', start);
      return (end < 0 ? header.slice(start) : header.slice(start, end)).trim();
    }
    at = found + name.length;
  }
}
