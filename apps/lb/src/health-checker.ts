import { request as httpRequest } from 'node:http';
import type { Logger } from '@wharf/observability';
import type { TargetGroup } from '@wharf/domain';
import type { LbMetrics } from './lb-metrics';
import type { LiveConfig } from './live-config';
import { isRegistered, type LocalHealth, type TargetPool, type TargetRuntime } from './target-pool';

/** What a health check found, reported to state when a target's state or reason changes. */
export interface TargetHealthReport {
  targetGroupArn: string;
  id: string;
  port: number;
  state: 'healthy' | 'unhealthy';
  reason: string;
  description: string;
}

export type HealthReporter = (reports: TargetHealthReport[]) => Promise<void>;

export type CheckResult =
  | { ok: true }
  | {
      ok: false;
      reason: 'Target.ResponseCodeMismatch' | 'Target.Timeout' | 'Target.FailedHealthChecks';
      description: string;
    };

/** `200`, `200,202`, `200-299` → a test of a status code. */
export function compileMatcher(httpCode: string): (status: number) => boolean {
  const ranges: [number, number][] = [];
  for (const part of httpCode.split(',')) {
    const [from, to] = part.trim().split('-').map(Number);
    if (Number.isInteger(from)) ranges.push([from, Number.isInteger(to) ? to : from]);
  }
  if (ranges.length === 0) ranges.push([200, 200]);
  return (status) => ranges.some(([from, to]) => status >= from && status <= to);
}

interface CheckState {
  timer?: NodeJS.Timeout;
  running: boolean;
  successes: number;
  failures: number;
  pool: TargetPool;
  target: TargetRuntime;
  /** what was last reported to (or read from) state */
  reported: string;
}

/**
 * Active health checks: each registered target of each target group is sent
 * `GET healthCheck.path` every `intervalSeconds`. `healthyThresholdCount` successes in a row
 * make it healthy, `unhealthyThresholdCount` failures unhealthy; routing follows at once and
 * state hears of it only when the state or reason changed. Every lb replica checks on its own;
 * within one replica only the primary process checks (its workers are sent the results).
 * Draining targets are not checked.
 */
export class HealthChecker {
  private readonly checks = new Map<string, CheckState>();
  private stopped = false;
  private pending = new Map<string, TargetHealthReport>();
  private flushTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(
    private readonly live: LiveConfig,
    private readonly report: HealthReporter,
    private readonly metrics: LbMetrics,
    private readonly logger: Logger,
    /** one health check of one target (the HTTP GET below; tests give their own) */
    private readonly check: (
      target: TargetRuntime,
      group: TargetGroup,
    ) => Promise<CheckResult> = probe,
  ) {
    live.onChange(() => this.sync());
  }

  /** Starts checks of new targets and stops those of targets that left or drain. */
  sync(): void {
    if (this.stopped) return;
    const wanted = new Set<string>();
    for (const pool of this.live.pools.values()) {
      for (const target of pool.targets.values()) {
        if (!isRegistered(target.registeredState)) continue;
        const key = `${pool.group.targetGroupArn}|${target.key}`;
        wanted.add(key);
        const held = this.checks.get(key);
        if (held && held.target === target && held.pool === pool) continue;
        if (held) clearTimeout(held.timer);
        const check: CheckState = {
          running: false,
          successes: 0,
          failures: 0,
          pool,
          target,
          reported: `${target.health}|${target.reason}`,
        };
        this.checks.set(key, check);
        // The first check soon (spread a little so many targets do not all go at once).
        this.schedule(check, Math.random() * Math.min(1000, intervalMs(pool.group)));
      }
    }
    for (const [key, check] of this.checks) {
      if (wanted.has(key)) continue;
      clearTimeout(check.timer);
      this.checks.delete(key);
    }
  }

  private schedule(check: CheckState, delayMs: number): void {
    check.timer = setTimeout(() => void this.run(check), delayMs);
    check.timer.unref();
  }

  private async run(check: CheckState): Promise<void> {
    const key = `${check.pool.group.targetGroupArn}|${check.target.key}`;
    if (this.stopped || this.checks.get(key) !== check) return;
    const group = check.pool.group;
    const result = await this.check(check.target, group);
    if (this.stopped || this.checks.get(key) !== check) return;
    this.metrics.healthChecks.labels(group.targetGroupArn, result.ok ? 'success' : 'failure').inc();
    this.apply(check, result);
    this.schedule(check, intervalMs(group));
  }

  private apply(check: CheckState, result: CheckResult): void {
    const { target, pool } = check;
    const hc = pool.group.healthCheck;
    let next: LocalHealth = target.health;
    let reason = target.reason;
    let description = target.description;
    if (result.ok) {
      check.successes++;
      check.failures = 0;
      if (target.health !== 'healthy' && check.successes >= hc.healthyThresholdCount) {
        next = 'healthy';
        reason = '';
        description = '';
      }
    } else {
      check.failures++;
      check.successes = 0;
      if (target.health === 'unhealthy' || check.failures >= hc.unhealthyThresholdCount) {
        next = 'unhealthy';
        reason = result.reason;
        description = result.description;
      }
    }
    if (next === target.health && reason === target.reason) return;
    const from = target.health;
    target.health = next;
    target.reason = reason;
    target.description = description;
    if (next === 'healthy' && from !== 'healthy') target.healthySince = Date.now();
    pool.refresh();
    this.live.healthChanged();
    if (from !== next) {
      this.logger.info(
        { targetGroupArn: pool.group.targetGroupArn, target: target.key, from, to: next, reason },
        'target health changed',
      );
    }
    const reported = `${next}|${reason}`;
    if (next !== 'initial' && reported !== check.reported) {
      check.reported = reported;
      this.enqueue({
        targetGroupArn: pool.group.targetGroupArn,
        id: target.id,
        port: target.port,
        state: next,
        reason,
        description,
      });
    }
  }

  private enqueue(report: TargetHealthReport): void {
    this.pending.set(`${report.targetGroupArn}|${report.id}:${report.port}`, report);
    this.scheduleFlush(50);
  }

  private scheduleFlush(delayMs: number): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushing = this.flush();
    }, delayMs);
  }

  private async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.report([...batch.values()]);
    } catch (err) {
      this.logger.warn(
        { err, reports: batch.size },
        'cannot report target health to state; retrying',
      );
      // Keep what was not superseded meanwhile, and try again.
      for (const [key, r] of batch) if (!this.pending.has(key)) this.pending.set(key, r);
      this.scheduleFlush(2000);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const check of this.checks.values()) clearTimeout(check.timer);
    this.checks.clear();
    clearTimeout(this.flushTimer);
    await this.flushing;
  }
}

function intervalMs(group: TargetGroup): number {
  return group.healthCheck.intervalSeconds * 1000;
}

const matchers = new Map<string, (status: number) => boolean>();
function matcherFor(httpCode: string): (status: number) => boolean {
  let m = matchers.get(httpCode);
  if (!m) matchers.set(httpCode, (m = compileMatcher(httpCode)));
  return m;
}

/** One `GET healthCheck.path` to a target, on its traffic port unless the group names one. */
export function probe(target: TargetRuntime, group: TargetGroup): Promise<CheckResult> {
  const hc = group.healthCheck;
  const port = hc.port === 'traffic-port' || !hc.port ? target.port : Number(hc.port);
  const timeoutMs = hc.timeoutSeconds * 1000;
  const matches = matcherFor(hc.matcher.httpCode);
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = httpRequest({
      host: target.host,
      port,
      method: 'GET',
      path: hc.path || '/',
      agent: false,
      headers: { 'user-agent': 'ELB-HealthChecker/2.0', connection: 'close' },
    });
    const timer = setTimeout(() => {
      done({ ok: false, reason: 'Target.Timeout', description: 'Request timed out' });
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      done(
        matches(status)
          ? { ok: true }
          : {
              ok: false,
              reason: 'Target.ResponseCodeMismatch',
              description: `Health checks failed with these codes: [${status}]`,
            },
      );
      res.on('error', () => undefined);
    });
    req.on('error', () =>
      done({ ok: false, reason: 'Target.FailedHealthChecks', description: 'Health checks failed' }),
    );
    req.end();
  });
}
