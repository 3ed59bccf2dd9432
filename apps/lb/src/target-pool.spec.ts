import { targetGroupSpec } from './lb-test-fixtures';
import {
  cookieValue,
  newTarget,
  pickGroup,
  stickyIdFor,
  TargetPool,
  type TargetRuntime,
} from './target-pool';
import type { TargetGroup, TargetHealthState } from '@wharf/domain';
import type { LocalHealth } from './target-pool';

const ARN = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1';

function poolWith(
  targets: { id: string; health?: LocalHealth; state?: TargetHealthState }[],
  group: Partial<TargetGroup> = {},
  random?: () => number,
): TargetPool {
  const pool = new TargetPool(targetGroupSpec(ARN, group), random);
  for (const t of targets) {
    const runtime = newTarget(ARN, {
      id: t.id,
      port: 80,
      host: t.id,
      registeredState: t.state ?? 'healthy',
    });
    if (t.health) runtime.health = t.health;
    pool.targets.set(runtime.key, runtime);
  }
  pool.refresh();
  return pool;
}

const picks = (pool: TargetPool, n: number, now = 0) =>
  Array.from({ length: n }, () => pool.pick(undefined, now)?.target.id);

describe('TargetPool', () => {
  it('round-robins over healthy targets only', () => {
    const pool = poolWith([
      { id: 'a' },
      { id: 'b', health: 'unhealthy' },
      { id: 'c' },
      { id: 'd', health: 'initial' },
    ]);
    expect(picks(pool, 4)).toEqual(['a', 'c', 'a', 'c']);
  });

  it('fails open to every registered target when none is healthy', () => {
    const pool = poolWith([
      { id: 'a', health: 'unhealthy' },
      { id: 'b', health: 'initial' },
      { id: 'c', state: 'draining', health: 'unhealthy' },
    ]);
    expect(new Set(picks(pool, 6))).toEqual(new Set(['a', 'b']));
  });

  it('never offers draining or unused targets, even healthy ones', () => {
    const pool = poolWith([
      { id: 'a', state: 'draining', health: 'healthy' },
      { id: 'b', state: 'unused', health: 'healthy' },
      { id: 'c', health: 'healthy' },
    ]);
    expect(new Set(picks(pool, 5))).toEqual(new Set(['c']));
  });

  it('has nothing to offer when every target drains (the proxy answers 503)', () => {
    expect(poolWith([{ id: 'a', state: 'draining' }]).pick(undefined, 0)).toBeUndefined();
    expect(poolWith([]).pick(undefined, 0)).toBeUndefined();
  });

  it('follows health changes after refresh', () => {
    const pool = poolWith([{ id: 'a' }, { id: 'b' }]);
    pool.targets.get('a:80')!.health = 'unhealthy';
    pool.refresh();
    expect(new Set(picks(pool, 4))).toEqual(new Set(['b']));
  });

  it('least outstanding requests picks the least busy target, rotating ties', () => {
    const pool = poolWith([{ id: 'a' }, { id: 'b' }, { id: 'c' }], {
      algorithm: 'least_outstanding_requests',
    });
    const t = (id: string) => pool.targets.get(`${id}:80`) as TargetRuntime;
    t('a').outstanding = 3;
    t('b').outstanding = 1;
    t('c').outstanding = 2;
    expect(picks(pool, 3)).toEqual(['b', 'b', 'b']);
    t('b').outstanding = 5;
    t('a').outstanding = 0;
    t('c').outstanding = 0;
    expect(new Set(picks(pool, 4))).toEqual(new Set(['a', 'c']));
  });

  it('lb_cookie stickiness: sets AWSALB and honours it while the target is eligible', () => {
    const pool = poolWith([{ id: 'a' }, { id: 'b' }], {
      stickiness: { enabled: true, type: 'lb_cookie', durationSeconds: 120 },
    });
    const first = pool.pick(undefined, 0)!;
    expect(first.cookie).toBe(`AWSALB=${first.target.stickyId}; Max-Age=120; Path=/`);
    for (let i = 0; i < 5; i++) {
      expect(pool.pick(first.target.stickyId, 0)!.target).toBe(first.target);
    }
    first.target.health = 'unhealthy';
    pool.refresh();
    const moved = pool.pick(first.target.stickyId, 0)!;
    expect(moved.target).not.toBe(first.target);
    expect(moved.cookie).toContain(moved.target.stickyId);
    expect(pool.pick('unknown', 0)!.target).toBe(moved.target);
  });

  it('ignores the cookie when stickiness is off', () => {
    const pool = poolWith([{ id: 'a' }, { id: 'b' }]);
    const id = pool.targets.get('a:80')!.stickyId;
    const got = [pool.pick(id, 0), pool.pick(id, 0)];
    expect(got.map((p) => p!.target.id)).toEqual(['a', 'b']);
    expect(got[0]!.cookie).toBeUndefined();
  });

  it('slow start gives a newly healthy target a share growing with time', () => {
    let r = 0.5;
    const pool = poolWith([{ id: 'old' }, { id: 'new' }], { slowStartSeconds: 100 }, () => r);
    pool.targets.get('new:80')!.healthySince = 1_000_000;
    const share = (now: number) => {
      let n = 0;
      for (let i = 0; i < 1000; i++) {
        r = (i * 0.618) % 1;
        if (pool.pick(undefined, now)!.target.id === 'new') n++;
      }
      return n / 1000;
    };
    const early = share(1_000_000 + 10_000);
    const late = share(1_000_000 + 80_000);
    const done = share(1_000_000 + 200_000);
    expect(early).toBeLessThan(0.15);
    expect(late).toBeGreaterThan(early);
    expect(done).toBeCloseTo(0.5, 1);
  });
});

describe('pickGroup', () => {
  const groups = [
    { targetGroupArn: 'a', weight: 1 },
    { targetGroupArn: 'b', weight: 3 },
    { targetGroupArn: 'c', weight: 0 },
  ];
  const id = (arn: string) => `id-${arn}`;

  it('draws by weight, never a group of weight 0', () => {
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 400; i++) {
      counts[pickGroup(groups, 4, undefined, id, () => i / 400)!.targetGroupArn]++;
    }
    expect(counts).toEqual({ a: 100, b: 300, c: 0 });
  });

  it('honours the AWSALBTG group while it has weight', () => {
    expect(pickGroup(groups, 4, 'id-a', id, () => 0.99)!.targetGroupArn).toBe('a');
    expect(pickGroup(groups, 4, 'id-c', id, () => 0)!.targetGroupArn).toBe('a');
    expect(pickGroup(groups, 4, 'id-zz', id, () => 0.99)!.targetGroupArn).toBe('b');
  });

  it('gives nothing when every weight is 0, the group itself when there is one', () => {
    expect(
      pickGroup(
        [
          { targetGroupArn: 'a', weight: 0 },
          { targetGroupArn: 'b', weight: 0 },
        ],
        0,
        undefined,
        id,
      ),
    ).toBeUndefined();
    expect(pickGroup([{ targetGroupArn: 'a', weight: 1 }], 1, undefined, id)!.targetGroupArn).toBe(
      'a',
    );
  });
});

describe('cookieValue', () => {
  it('finds one cookie by exact name', () => {
    expect(cookieValue('a=1; AWSALB=xyz; AWSALBTG=tg', 'AWSALB')).toBe('xyz');
    expect(cookieValue('AWSALBTG=tg; AWSALB=xyz', 'AWSALBTG')).toBe('tg');
    expect(cookieValue('AWSALBTG=tg', 'AWSALB')).toBeUndefined();
    expect(cookieValue('XAWSALB=1', 'AWSALB')).toBeUndefined();
    expect(cookieValue(undefined, 'AWSALB')).toBeUndefined();
  });

  it('sticky ids are stable and distinct', () => {
    expect(stickyIdFor('x', 'y')).toBe(stickyIdFor('x', 'y'));
    expect(stickyIdFor('x', 'y')).not.toBe(stickyIdFor('x', 'z'));
  });
});
