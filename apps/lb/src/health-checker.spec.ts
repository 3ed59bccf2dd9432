import { createLogger } from '@wharf/observability';
import {
  compileMatcher,
  HealthChecker,
  type CheckResult,
  type TargetHealthReport,
} from './health-checker';
import { LbMetrics } from './lb-metrics';
import { LbModel } from './lb-model';
import { resource, target, targetGroupSpec } from './lb-test-fixtures';
import { LiveConfig } from './live-config';

describe('compileMatcher', () => {
  it('reads single codes, lists and ranges', () => {
    const single = compileMatcher('200');
    expect([200, 201, 404].map(single)).toEqual([true, false, false]);
    const list = compileMatcher('200,202, 301');
    expect([200, 201, 202, 301].map(list)).toEqual([true, false, true, true]);
    const range = compileMatcher('200-299,404');
    expect([199, 200, 250, 299, 300, 404].map(range)).toEqual([
      false,
      true,
      true,
      true,
      false,
      true,
    ]);
  });
});

describe('HealthChecker', () => {
  const TG = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/hc/1';
  const logger = createLogger('lb-test', 'silent');
  let checker: HealthChecker | undefined;

  afterEach(async () => {
    await checker?.stop();
    checker = undefined;
  });

  function setUp(initialState = 'initial') {
    const model = new LbModel();
    const live = new LiveConfig(model, logger);
    const results = new Map<string, CheckResult>();
    const checked: string[] = [];
    const reports: TargetHealthReport[] = [];
    checker = new HealthChecker(
      live,
      async (r) => {
        reports.push(...r);
      },
      new LbMetrics(),
      logger,
      async (target) => {
        checked.push(target.key);
        return results.get(target.key) ?? { ok: true };
      },
    );
    model.putResource(
      resource(
        'target-group',
        targetGroupSpec(TG, {
          healthCheck: {
            path: '/',
            port: 'traffic-port',
            intervalSeconds: 0.01,
            timeoutSeconds: 0.005,
            healthyThresholdCount: 3,
            unhealthyThresholdCount: 2,
            matcher: { httpCode: '200' },
          },
        }),
      ),
    );
    model.putTarget(target(TG, 'a', 80, { state: initialState }));
    const pool = live.pools.get(TG)!;
    return { model, pool, results, checked, reports, a: pool.targets.get('a:80')! };
  }

  const until = async (what: string, probe: () => boolean) => {
    const deadline = Date.now() + 3000;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it('makes a new target healthy after the healthy threshold and reports it once', async () => {
    const { a, reports, checked } = setUp();
    expect(a.health).toBe('initial');
    await until('healthy', () => a.health === 'healthy');
    expect(checked.length).toBeGreaterThanOrEqual(3);
    await until('the report', () => reports.length > 0);
    const seen = checked.length;
    await until('more checks', () => checked.length > seen + 3);
    expect(reports).toEqual([
      { targetGroupArn: TG, id: 'a', port: 80, state: 'healthy', reason: '', description: '' },
    ]);
  });

  it('marks a target unhealthy after the unhealthy threshold, with the reason, and reports a new reason', async () => {
    const { a, pool, results, reports } = setUp('healthy');
    expect(a.health).toBe('healthy');
    results.set('a:80', {
      ok: false,
      reason: 'Target.ResponseCodeMismatch',
      description: 'Health checks failed with these codes: [500]',
    });
    await until('unhealthy', () => a.health === 'unhealthy');
    expect(a.reason).toBe('Target.ResponseCodeMismatch');
    // the only target fails open: it stays a candidate
    expect(pool.pick(undefined, 0)?.target).toBe(a);
    // (reports are batched: a change superseded before the batch goes is not sent)
    await until('the first report', () => reports.length === 1);
    results.set('a:80', { ok: false, reason: 'Target.Timeout', description: 'Request timed out' });
    await until('the new reason', () => reports.some((r) => r.reason === 'Target.Timeout'));
    expect(reports.map((r) => `${r.state}|${r.reason}`)).toEqual([
      'unhealthy|Target.ResponseCodeMismatch',
      'unhealthy|Target.Timeout',
    ]);
  });

  it('does not check draining targets', async () => {
    const { model, checked } = setUp('healthy');
    await until('a check', () => checked.length > 0);
    model.putTarget(target(TG, 'a', 80, { state: 'draining', version: 2 }));
    await new Promise((r) => setTimeout(r, 30));
    const seen = checked.length;
    await new Promise((r) => setTimeout(r, 80));
    expect(checked.length).toBe(seen);
  });
});
