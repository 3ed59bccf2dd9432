import fc from 'fast-check';
import { PlacementConstraintInput, PlacementStrategyInput } from './options';
import {
  ClusterSnapshot,
  explainPlacement,
  PlacementRequest,
  planTasks,
  RequiredAttribute,
  SnapshotInstance,
} from './planner';
import { evaluateQuery, parseQuery, QueryTarget } from './query-language';
import { seededRandom } from './random';

const GROUPS = ['family:web', 'family:db', 'service:api'];
const TCP = [22, 80, 443, 8080];
const UDP = [53, 123];
const EXPRESSIONS = [
  'attribute:zone == a',
  'attribute:zone in [a, b]',
  'attribute:type =~ t2.*',
  'not attribute:type exists',
  'attribute:zone != c or attribute:type == m5.large',
  'runningTasksCount < 3',
  'runningTasksCount <= 1 || attribute:zone == b',
  'task:group == family:db',
  'not(task:group == family:web)',
  '!(task:group in [service:api, family:db]) and agentConnected == true',
  'agentVersion >= 1.50.0',
  'registeredAt < 2026-01-01',
  'ec2InstanceId =~ i-[0-3]',
];
const STRATEGIES: PlacementStrategyInput[] = [
  { type: 'random' },
  { type: 'binpack', field: 'cpu' },
  { type: 'binpack', field: 'memory' },
  { type: 'spread', field: 'instanceId' },
  { type: 'spread', field: 'host' },
  { type: 'spread', field: 'attribute:zone' },
  { type: 'spread', field: 'attribute:type' },
];

const instanceArb = (i: number) =>
  fc
    .record({
      status: fc.constantFrom('ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'DRAINING', 'INACTIVE'),
      connected: fc.integer({ min: 0, max: 9 }), // 0 = disconnected (1 in 10)
      agentVersion: fc.constantFrom('1.14.5', '1.50.0', '1.80.1'),
      registeredAt: fc.constantFrom(Date.UTC(2025, 5, 1), Date.UTC(2026, 5, 1)),
      cpu: fc.integer({ min: 0, max: 16 }).map((n) => n * 256),
      memory: fc.integer({ min: 0, max: 32 }).map((n) => n * 256),
      ports: fc.subarray(TCP),
      portsUdp: fc.subarray(UDP),
      zone: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
      type: fc.option(fc.constantFrom('t2.small', 'm5.large'), { nil: undefined }),
      capability: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
      groups: fc.dictionary(fc.constantFrom(...GROUPS), fc.integer({ min: 0, max: 2 })),
    })
    .map((r): SnapshotInstance => {
      const attributes: Record<string, string> = {};
      if (r.zone) attributes.zone = r.zone;
      if (r.type) attributes.type = r.type;
      if (r.capability) attributes['ecs.capability.x'] = '';
      return {
        arn: `ci-${i}`,
        ec2InstanceId: `i-${i}`,
        status: r.status,
        agentConnected: r.connected > 0,
        agentVersion: r.agentVersion,
        registeredAt: r.registeredAt,
        runningTasksCount: Object.values(r.groups).reduce((a, b) => a + b, 0),
        attributes,
        taskGroups: r.groups,
        remaining: { cpu: r.cpu, memory: r.memory, ports: r.ports, portsUdp: r.portsUdp },
      };
    });

const clusterArb: fc.Arbitrary<ClusterSnapshot> = fc
  .integer({ min: 0, max: 12 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => instanceArb(i))))
  .map((instances) => ({ instances }));

const requestArb: fc.Arbitrary<PlacementRequest> = fc.record({
  count: fc.integer({ min: 1, max: 10 }),
  claim: fc.record({
    cpu: fc.integer({ min: 0, max: 4 }).map((n) => n * 256),
    memory: fc.integer({ min: 0, max: 8 }).map((n) => n * 256),
    ports: fc.oneof(
      { weight: 2, arbitrary: fc.constant<number[]>([]) },
      { weight: 1, arbitrary: fc.subarray([80, 443, 8080], { maxLength: 2 }) },
    ),
    portsUdp: fc.oneof(
      { weight: 3, arbitrary: fc.constant<number[]>([]) },
      { weight: 1, arbitrary: fc.subarray(UDP, { maxLength: 1 }) },
    ),
  }),
  group: fc.constantFrom(...GROUPS),
  requiresAttributes: fc.oneof(
    { weight: 3, arbitrary: fc.constant<RequiredAttribute[]>([]) },
    {
      weight: 1,
      arbitrary: fc.subarray([{ name: 'ecs.capability.x' }, { name: 'zone', value: 'a' }], {
        minLength: 1,
        maxLength: 1,
      }),
    },
  ),
  taskDefinitionConstraints: fc.subarray(
    EXPRESSIONS.map((expression): PlacementConstraintInput => ({ type: 'memberOf', expression })),
    { maxLength: 1 },
  ),
  constraints: fc
    .tuple(
      fc.integer({ min: 0, max: 2 }).map((n) => n === 0), // distinctInstance 1 in 3
      fc.subarray(
        EXPRESSIONS.map((expression): PlacementConstraintInput => ({
          type: 'memberOf',
          expression,
        })),
        { maxLength: 1 },
      ),
    )
    .map(([distinct, memberOf]) => [
      ...(distinct ? [{ type: 'distinctInstance' }] : []),
      ...memberOf,
    ]),
  strategy: fc.array(fc.constantFrom(...STRATEGIES), { maxLength: 5 }),
});

/** The oracle: an independent, naive model of one instance as tasks are placed on it. */
interface ModelInstance {
  snapshot: SnapshotInstance;
  cpu: number;
  memory: number;
  ports: number[];
  portsUdp: number[];
  groups: Record<string, number>;
  runningTasksCount: number;
}

function feasible(m: ModelInstance, request: PlacementRequest): boolean {
  const { claim } = request;
  const view: QueryTarget = {
    ...m.snapshot,
    runningTasksCount: m.runningTasksCount,
    taskGroups: m.groups,
  };
  const memberOf = [...(request.taskDefinitionConstraints ?? []), ...(request.constraints ?? [])]
    .filter((c) => c.type === 'memberOf')
    .map((c) => parseQuery(c.expression!));
  const distinct = (request.constraints ?? []).some((c) => c.type === 'distinctInstance');
  return (
    m.snapshot.status === 'ACTIVE' &&
    m.snapshot.agentConnected &&
    (request.requiresAttributes ?? []).every(
      (a) =>
        a.name in m.snapshot.attributes &&
        (a.value === undefined || m.snapshot.attributes[a.name] === a.value),
    ) &&
    m.cpu >= claim.cpu &&
    m.memory >= claim.memory &&
    new Set(claim.ports).size === claim.ports.length &&
    claim.ports.every((p) => !m.ports.includes(p)) &&
    claim.portsUdp.every((p) => !m.portsUdp.includes(p)) &&
    memberOf.every((q) => evaluateQuery(q, view)) &&
    (!distinct || (m.groups[request.group] ?? 0) === 0)
  );
}

describe('planTasks (property)', () => {
  it('never overcommits, never double-books a host port, honours every constraint, and fails only when nothing fits', () => {
    fc.assert(
      fc.property(clusterArb, requestArb, fc.integer(), (snapshot, request, seed) => {
        const plan = planTasks(snapshot, request, { random: seededRandom(seed) });
        const active = snapshot.instances.filter((i) => i.status === 'ACTIVE');
        if (active.length === 0) {
          expect(plan).toEqual({ kind: 'no-instances' });
          return;
        }
        if (plan.kind !== 'plan') throw new Error('expected a plan');
        expect(plan.placements).toHaveLength(request.count);

        const model = new Map<string, ModelInstance>(
          snapshot.instances.map((s) => [
            s.arn,
            {
              snapshot: s,
              cpu: s.remaining.cpu,
              memory: s.remaining.memory,
              ports: [...s.remaining.ports],
              portsUdp: [...s.remaining.portsUdp],
              groups: { ...s.taskGroups },
              runningTasksCount: s.runningTasksCount,
            },
          ]),
        );
        for (const p of plan.placements) {
          if (!p.placed) {
            // It fails only if no instance could take it at this point.
            for (const m of model.values()) expect(feasible(m, request)).toBe(false);
            expect(active.map((i) => i.arn)).toContain(p.failure.arn);
            continue;
          }
          const m = model.get(p.instanceArn)!;
          expect(feasible(m, request)).toBe(true);
          m.cpu -= request.claim.cpu;
          m.memory -= request.claim.memory;
          m.ports.push(...request.claim.ports);
          m.portsUdp.push(...request.claim.portsUdp);
          m.groups[request.group] = (m.groups[request.group] ?? 0) + 1;
          m.runningTasksCount += 1;
          expect(m.cpu).toBeGreaterThanOrEqual(0);
          expect(m.memory).toBeGreaterThanOrEqual(0);
          expect(new Set(m.ports).size).toBe(m.ports.length);
          expect(new Set(m.portsUdp).size).toBe(m.portsUdp.length);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('explain agrees with the oracle on which instances can take the next task', () => {
    fc.assert(
      fc.property(clusterArb, requestArb, (snapshot, request) => {
        const explained = explainPlacement(snapshot, request, { random: seededRandom(1) });
        expect(explained.instances.map((v) => v.arn)).toEqual(snapshot.instances.map((i) => i.arn));
        explained.instances.forEach((verdict, k) => {
          const s = snapshot.instances[k];
          const ok = feasible(
            {
              snapshot: s,
              cpu: s.remaining.cpu,
              memory: s.remaining.memory,
              ports: s.remaining.ports,
              portsUdp: s.remaining.portsUdp,
              groups: s.taskGroups,
              runningTasksCount: s.runningTasksCount,
            },
            request,
          );
          expect(verdict.feasible).toBe(ok);
          if (!verdict.feasible) expect(verdict.failures.length).toBeGreaterThan(0);
        });
        const anyFeasible = explained.instances.some((v) => v.feasible);
        expect(explained.next.placed).toBe(anyFeasible);
        if (explained.next.placed) {
          const chosen = explained.instances.find(
            (v) => v.arn === (explained.next as { instanceArn: string }).instanceArn,
          );
          expect(chosen).toMatchObject({ feasible: true, rank: 1 });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('without random, plans are deterministic and the first task goes where explain ranks first', () => {
    fc.assert(
      fc.property(clusterArb, requestArb, (snapshot, request) => {
        const strategy = (request.strategy ?? []).filter((s) => s.type !== 'random');
        if (strategy.length === 0) strategy.push({ type: 'binpack', field: 'memory' });
        const r = { ...request, strategy };
        const a = planTasks(snapshot, r);
        expect(planTasks(snapshot, r)).toEqual(a);
        const explained = explainPlacement(snapshot, r);
        if (a.kind === 'plan' && a.placements[0].placed) {
          expect(explained.next).toEqual({
            placed: true,
            instanceArn: a.placements[0].instanceArn,
          });
        } else if (a.kind === 'plan' && !a.placements[0].placed) {
          expect(explained.next).toEqual({ placed: false, failure: a.placements[0].failure });
        }
      }),
      { numRuns: 300 },
    );
  });
});
