import { createLogger } from '@wharf/observability';
import { LbModel } from './lb-model';
import { loadBalancerSpec, resource, target, targetGroupSpec } from './lb-test-fixtures';
import { LiveConfig } from './live-config';
import { ReplicaLiveConfig } from './replica-live-config';

const ARN = 'arn:aws:elasticloadbalancing:us-east-1:000000000000';
const LB = `${ARN}:loadbalancer/app/web/1`;
const LISTENER = `${ARN}:listener/app/web/1/main`;
const TG = `${ARN}:targetgroup/web/1`;
const logger = createLogger('test', 'silent');

function primary() {
  const model = new LbModel();
  const live = new LiveConfig(model, logger);
  model.putResource(resource('load-balancer', loadBalancerSpec(LB, 30), 1));
  model.putResource(resource('target-group', targetGroupSpec(TG, { slowStartSeconds: 30 }), 1));
  model.putTarget(target(TG, '10.0.0.1', 80, { state: 'healthy' }));
  model.putTarget(target(TG, '10.0.0.2', 80, { state: 'healthy' }));
  model.putResource(
    resource(
      'listener',
      {
        listenerArn: LISTENER,
        loadBalancerArn: LB,
        port: 8080,
        protocol: 'HTTP',
        defaultActions: [{ type: 'forward', targetGroupArn: TG }],
      },
      1,
    ),
  );
  return { model, live };
}

describe('ReplicaLiveConfig (an lb worker’s copy of the primary’s configuration)', () => {
  it('routes as the primary does, from a snapshot that survives IPC (JSON)', () => {
    const { live } = primary();
    const replica = new ReplicaLiveConfig(logger);
    replica.apply(JSON.parse(JSON.stringify(live.snapshot())));
    expect([...replica.listeners.keys()]).toEqual([8080]);
    expect(replica.listeners.get(8080)!.idleTimeoutMs).toBe(30_000);
    const pool = replica.pools.get(TG)!;
    expect([...pool.targets.keys()].sort()).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
    expect(pool.candidateCount()).toBe(2);
    // the same sticky ids as the primary's (and every other worker's)
    expect(pool.targets.get('10.0.0.1:80')!.stickyId).toBe(
      live.pools.get(TG)!.targets.get('10.0.0.1:80')!.stickyId,
    );
  });

  it('keeps targets (in-flight counts, pooled connections) and unchanged listeners across snapshots', () => {
    const { model, live } = primary();
    const replica = new ReplicaLiveConfig(logger);
    let changes = 0;
    replica.onChange(() => changes++);
    replica.apply(live.snapshot());
    const listener = replica.listeners.get(8080);
    const held = replica.pools.get(TG)!.targets.get('10.0.0.1:80')!;
    held.outstanding = 3;

    // a health change in the primary: the worker follows, slow start included
    const primaryTarget = live.pools.get(TG)!.targets.get('10.0.0.2:80')!;
    primaryTarget.health = 'unhealthy';
    primaryTarget.reason = 'Target.Timeout';
    live.pools.get(TG)!.refresh();
    live.pools.get(TG)!.targets.get('10.0.0.1:80')!.healthySince = 12345;
    replica.apply(live.snapshot());
    expect(replica.listeners.get(8080)).toBe(listener);
    expect(replica.pools.get(TG)!.targets.get('10.0.0.1:80')).toBe(held);
    expect(held.outstanding).toBe(3);
    expect(held.healthySince).toBe(12345);
    expect(replica.pools.get(TG)!.candidateCount()).toBe(1);
    expect(replica.pools.get(TG)!.targets.get('10.0.0.2:80')!.reason).toBe('Target.Timeout');

    // a target removed: retired (no new requests) once the snapshot says so
    model.deleteTarget(target(TG, '10.0.0.1', 80, { version: 2 }));
    replica.apply(live.snapshot());
    expect(held.removed).toBe(true);
    expect(replica.pools.get(TG)!.targets.has('10.0.0.1:80')).toBe(false);

    // a rule: the listener is recompiled
    model.putResource(
      resource(
        'rule',
        {
          ruleArn: `${LISTENER}/rule/1`,
          listenerArn: LISTENER,
          priority: 1,
          conditions: [{ field: 'path-pattern', values: ['/x'] }],
          actions: [{ type: 'fixed-response', fixedResponseConfig: { statusCode: '204' } }],
        },
        1,
      ),
    );
    replica.apply(live.snapshot());
    expect(replica.listeners.get(8080)).not.toBe(listener);
    expect(replica.listeners.get(8080)!.router.rules).toHaveLength(1);
    expect(changes).toBe(4);
  });

  it('drops listeners and target groups the primary no longer has', () => {
    const { model, live } = primary();
    const replica = new ReplicaLiveConfig(logger);
    replica.apply(live.snapshot());
    const held = replica.pools.get(TG)!.targets.get('10.0.0.2:80')!;
    model.deleteResource({ arn: LISTENER, version: 2 });
    model.deleteResource({ arn: TG, version: 2 });
    replica.apply(live.snapshot());
    expect(replica.listeners.size).toBe(0);
    expect(replica.pools.size).toBe(0);
    expect(held.removed).toBe(true);
  });
});
