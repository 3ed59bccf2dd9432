import { createLogger } from '@wharf/observability';
import type { Listener, Rule } from '@wharf/domain';
import { LbModel } from './lb-model';
import { loadBalancerSpec, resource, target, targetGroupSpec } from './lb-test-fixtures';
import { LiveConfig } from './live-config';
import { route } from './routing';

const LB = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/1';
const LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/1/l1';
const TG = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1';

const listener = (port: number, body = 'default'): Listener => ({
  listenerArn: LISTENER,
  loadBalancerArn: LB,
  port,
  protocol: 'HTTP',
  defaultActions: [
    { type: 'fixed-response', fixedResponseConfig: { statusCode: '200', messageBody: body } },
  ],
});

const rule = (priority: number, path: string): Rule => ({
  ruleArn: `${LISTENER}/rule/${priority}`,
  listenerArn: LISTENER,
  priority,
  conditions: [{ field: 'path-pattern', values: [path] }],
  actions: [{ type: 'forward', targetGroupArn: TG }],
});

describe('LbModel', () => {
  it('drops a resource change older than what it holds', () => {
    const model = new LbModel();
    expect(model.putResource(resource('listener', listener(80, 'v2'), 2))).toBe(true);
    expect(model.putResource(resource('listener', listener(80, 'v1'), 1))).toBe(false);
    expect(model.putResource(resource('listener', listener(80, 'v2 again'), 2))).toBe(false);
    expect(model.listeners()[0].defaultActions[0].fixedResponseConfig?.messageBody).toBe('v2');
  });

  it('keeps a deleted resource deleted against a late change', () => {
    const model = new LbModel();
    model.putResource(resource('listener', listener(80), 1));
    expect(model.deleteResource({ arn: LISTENER, version: 2 })).toBe(true);
    expect(model.putResource(resource('listener', listener(80), 2))).toBe(false);
    expect(model.listeners()).toEqual([]);
    expect(model.putResource(resource('listener', listener(80), 3))).toBe(true);
  });

  it('ignores a deletion older than the held version', () => {
    const model = new LbModel();
    model.putResource(resource('listener', listener(80), 3));
    expect(model.deleteResource({ arn: LISTENER, version: 2 })).toBe(false);
    expect(model.listeners()).toHaveLength(1);
  });

  it('orders targets by version, and a re-registration after removal by registration time', () => {
    const model = new LbModel();
    expect(model.putTarget(target(TG, '10.0.0.1', 80, { version: 2, state: 'healthy' }))).toBe(
      true,
    );
    expect(model.putTarget(target(TG, '10.0.0.1', 80, { version: 1, state: 'initial' }))).toBe(
      false,
    );
    expect(model.targetsOf(TG)[0].state).toBe('healthy');
    expect(model.putTarget(target(TG, '10.0.0.1', 80, { version: 3, state: 'unused' }))).toBe(true);
    expect(model.targetsOf(TG)).toEqual([]);
    expect(model.putTarget(target(TG, '10.0.0.1', 80, { version: 2, state: 'healthy' }))).toBe(
      false,
    );
    expect(
      model.putTarget(
        target(TG, '10.0.0.1', 80, { version: 1, registeredAt: 5, state: 'initial' }),
      ),
    ).toBe(true);
    expect(model.targetsOf(TG)[0].state).toBe('initial');
  });

  it('a resync replaces what it read, but keeps what events applied meanwhile', () => {
    const model = new LbModel();
    model.putResource(resource('target-group', targetGroupSpec(TG), 1));
    model.putResource(resource('listener', listener(80), 1));
    const started = model.beginResync();
    // an event arrives while the read is under way
    model.putTarget(target(TG, 'late', 80, { version: 1 }));
    model.replaceAll(
      {
        resources: [resource('target-group', targetGroupSpec(TG, { port: 81 }), 2)],
        targets: [target(TG, 'a', 80)],
      },
      started,
    );
    expect(model.listeners()).toEqual([]);
    expect(model.targetGroups()[0].port).toBe(81);
    expect(
      model
        .targetsOf(TG)
        .map((t) => t.id)
        .sort(),
    ).toEqual(['a', 'late']);
    model.replaceAll({ resources: [], targets: [] }, model.beginResync());
    expect(model.targetGroups()).toEqual([]);
    expect(model.targetsOf(TG)).toEqual([]);
  });
});

describe('LiveConfig', () => {
  const logger = createLogger('lb-test', 'silent');

  it('compiles a listener once its load balancer is known, with its rules', () => {
    const model = new LbModel();
    const live = new LiveConfig(model, logger);
    let changes = 0;
    live.onChange(() => changes++);
    model.putResource(resource('listener', listener(8080), 1));
    model.putResource(resource('rule', rule(1, '/api/*'), 1));
    expect(live.listeners.size).toBe(0);
    model.putResource(resource('load-balancer', loadBalancerSpec(LB, 7), 1));
    const runtime = live.listeners.get(8080)!;
    expect(runtime.idleTimeoutMs).toBe(7000);
    const req = { method: 'GET', host: 'h', query: '', headers: {}, sourceIp: '1.1.1.1' };
    expect(route(runtime.router, { ...req, path: '/api/x' }).type).toBe('forward');
    expect(route(runtime.router, { ...req, path: '/other' }).type).toBe('fixed-response');
    expect(changes).toBeGreaterThanOrEqual(3);
    model.deleteResource({ arn: LB, version: 2 });
    expect(live.listeners.size).toBe(0);
  });

  it('keeps target pools across changes and picks up targets that came first', () => {
    const model = new LbModel();
    const live = new LiveConfig(model, logger);
    model.putTarget(target(TG, 'a', 80, { state: 'healthy' }));
    model.putResource(resource('target-group', targetGroupSpec(TG), 1));
    const pool = live.pools.get(TG)!;
    expect(pool.pick(undefined, 0)?.target.id).toBe('a');
    model.putResource(
      resource('target-group', targetGroupSpec(TG, { algorithm: 'least_outstanding_requests' }), 2),
    );
    expect(live.pools.get(TG)).toBe(pool);
    expect(pool.group.algorithm).toBe('least_outstanding_requests');
  });

  it('drains and removes targets; a re-registered target is checked afresh', () => {
    const model = new LbModel();
    const live = new LiveConfig(model, logger);
    model.putResource(resource('target-group', targetGroupSpec(TG), 1));
    model.putTarget(target(TG, 'a', 80, { state: 'healthy', version: 1 }));
    model.putTarget(target(TG, 'b', 80, { state: 'healthy', version: 1 }));
    const pool = live.pools.get(TG)!;
    const a = pool.targets.get('a:80')!;
    model.putTarget(target(TG, 'a', 80, { state: 'draining', version: 2 }));
    expect(a.eligible).toBe(false);
    expect(pool.pick(undefined, 0)?.target.id).toBe('b');
    model.putTarget(target(TG, 'a', 80, { state: 'initial', version: 3 }));
    expect(a.health).toBe('initial');
    model.deleteTarget(target(TG, 'a', 80, { version: 4 }));
    expect(pool.targets.has('a:80')).toBe(false);
    expect(a.removed).toBe(true);
  });
});
