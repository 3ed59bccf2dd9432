/**
 * A fuzz test of the ECS JSON 1.1 endpoint and the `/v1` REST routes (logs, utilisation,
 * placement explain), against the real state and scheduler in this process (Postgres and NATS
 * from Testcontainers).
 *
 * Every input it sends must be refused: bodies generated from the ECS model's shapes and then
 * broken (a member of the wrong type, a required member missing, a value outside its enum or
 * its integer range), values the api refuses before calling a peer, resources that do not
 * exist, huge strings and arrays, deep nesting, invalid UTF-8, bodies that are not JSON or not
 * an object, targets that name no operation, wrong content types, wrong methods and paths, and
 * malformed `/v1` queries and bodies. So every answer must be a 4xx with a JSON error body (the
 * ECS ones with `__type`, `message` and `X-Amzn-ErrorType`), never a 5xx, a hang or a stack
 * trace; the services must still be healthy afterwards and what the API shows of the stored
 * state must not have changed.
 *
 * The inputs come from fast-check with a fixed seed (FUZZ_SEED overrides it; a failure names
 * it). A request that the model check would accept is never sent for the classes that rely on
 * it, so no valid mutating request is made. The ECS operations' `/v1` routes are fuzzed with the
 * same broken bodies and with malformed queries and paths; the `/v1` load-balancer routes are
 * not fuzzed here.
 */
import { createLogger } from '@wharf/observability';
import { createStateClient } from '@wharf/proto';
import fc from 'fast-check';
import { createServer } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { startControlPlane } from './control-plane-test-fixtures';
import { OPERATIONS } from './operations';
import { findViolation, shapeOf } from './protocol/ecs-model';
import { ECS_MODEL } from './protocol/ecs-model.generated';
import { parseBody, parseTarget } from './protocol/target';
import { ECS_ROUTES, EcsRoute, ecsInput, isQueryRoute, openMembers } from './v1/ecs-routes';

jest.setTimeout(300_000);

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_f022);
const PREFIX = 'AmazonEC2ContainerServiceV20141113';
const AMZ_JSON = 'application/x-amz-json-1.1';
const REQUEST_TIMEOUT_MS = 15_000;
const CONCURRENCY = 6;
const MB = 1024 * 1024;
const OPS = Object.keys(OPERATIONS);

type Json = Record<string, unknown>;

interface FuzzRequest {
  cls: string;
  /** The ECS operation (or /v1 route) it aims at, for the failure report. */
  op: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** `/v1` routes answer `{"message": …}`; the ECS endpoint answers ECS errors. */
  kind: 'ecs' | 'v1';
}

interface Outcome {
  req: FuzzRequest;
  status: number;
  outcome: string;
  problems: string[];
  bodyPreview: string;
}

// ---------------------------------------------------------------------------------------------
// Values from the ECS model

const rng = (seed: number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};
type Rand = ReturnType<typeof rng>;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** Names the fixtures use, so generated values often point at things that exist. */
const KNOWN_STRINGS = [
  'fuzz',
  'default',
  'web',
  'web:1',
  'svc',
  'ACTIVE',
  'DRAINING',
  'TAGS',
  'arn:aws:ecs:us-east-1:000000000000:cluster/fuzz',
  'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\uffff',
  '%s%n',
  '../../etc/passwd',
  "'; DROP TABLE clusters; --",
  '__proto__',
  '😀'.repeat(3),
];

const stringArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KNOWN_STRINGS) },
  { weight: 3, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
);

const arbMemo = new Map<string, fc.Arbitrary<unknown>>();
const MAX_MODEL_DEPTH = 7;

/** A value of the model shape `name` (mostly well-typed; the mutations break it). */
function arbFor(name: string, depth: number): fc.Arbitrary<unknown> {
  const key = `${name}@${depth}`;
  const memo = arbMemo.get(key);
  if (memo) return memo;
  const shape = shapeOf(ECS_MODEL, name);
  let arb: fc.Arbitrary<unknown>;
  switch (shape.type) {
    case 'structure': {
      const members = shape.members ?? {};
      const required = shape.required ?? [];
      const optional = Object.keys(members).filter((m) => !required.includes(m));
      const maxOptional = Math.min(
        optional.length,
        depth >= MAX_MODEL_DEPTH ? 0 : depth === 0 ? 6 : 3,
      );
      arb = fc
        .subarray(optional, { maxLength: maxOptional })
        .chain((chosen) =>
          fc.record(
            Object.fromEntries(
              [...required, ...chosen].map((m) => [m, arbFor(members[m], depth + 1)]),
            ) as Record<string, fc.Arbitrary<unknown>>,
          ),
        );
      break;
    }
    case 'list':
      arb =
        depth >= MAX_MODEL_DEPTH
          ? fc.constant([])
          : fc.array(arbFor(shape.member!, depth + 1), { maxLength: 3 });
      break;
    case 'map':
      arb =
        depth >= MAX_MODEL_DEPTH
          ? fc.constant({})
          : fc.dictionary(
              fc.string({ minLength: 1, maxLength: 8 }),
              arbFor(shape.value!, depth + 1),
              {
                maxKeys: 3,
              },
            );
      break;
    case 'enum':
      arb = fc.constantFrom(...shape.values!);
      break;
    case 'string':
      arb = stringArb;
      break;
    case 'boolean':
      arb = fc.boolean();
      break;
    case 'integer':
    case 'long':
      arb = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.integer({ min: -1000, max: 100_000 }));
      break;
    case 'double':
      arb = fc.double({ noNaN: true, noDefaultInfinity: true });
      break;
    case 'timestamp':
      arb = fc.integer({ min: 0, max: 2_000_000_000 });
      break;
    default:
      arb = fc.constant(undefined);
  }
  arbMemo.set(key, arb);
  return arb;
}

interface Slot {
  parent: Json | unknown[] | undefined;
  key: string | number | undefined;
  shape: string;
  present: boolean;
}

/** Every place in `value` the model gives a shape to, present or (in a present structure) not. */
function slots(
  value: unknown,
  shape: string,
  parent: Slot['parent'],
  key: Slot['key'],
  out: Slot[],
) {
  const s = shapeOf(ECS_MODEL, shape);
  out.push({ parent, key, shape, present: value !== undefined && value !== null });
  if (value === undefined || value === null) return out;
  if (s.type === 'structure' && typeof value === 'object' && !Array.isArray(value)) {
    for (const [m, target] of Object.entries(s.members ?? {})) {
      slots((value as Json)[m], target, value as Json, m, out);
    }
  } else if (s.type === 'list' && Array.isArray(value)) {
    value.forEach((v, i) => slots(v, s.member!, value, i, out));
  } else if (s.type === 'map' && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Json)) slots(v, s.value!, value as Json, k, out);
  }
  return out;
}

const isPlainObject = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const set = (slot: Slot, v: unknown) => {
  (slot.parent as Record<string | number, unknown>)[slot.key!] = v;
};

/** A JSON value that is not of the model type `type` (never null: null counts as absent). */
function wrongValue(type: string, r: Rand): unknown {
  const not: Record<string, unknown[]> = {
    string: [1, 0, true, {}, [], ['x'], { value: 'x' }, 1e308],
    enum: [7, false, {}, [], ['ACTIVE']],
    boolean: ['true', 'false', 1, 0, {}, [], 'yes'],
    integer: ['1', '', 1.5, -0.25, true, {}, [], [1], 1e-7],
    long: ['1', 2.5, false, {}, []],
    double: ['1.0', true, {}, [], 'NaN'],
    timestamp: ['2024-01-01T00:00:00Z', true, {}, []],
    structure: ['x', 1, true, [], [{}]],
    map: ['x', 1, false, [], [['k', 'v']]],
    list: ['x', 1, true, {}, { 0: 'x' }],
  };
  return pick(r, not[type] ?? ['x']);
}

const INT32_OUT_OF_RANGE = [
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32 + 1,
  2 ** 32,
  1e20,
  -1e20,
  2 ** 53 + 2,
];

type MutationKind = 'wrong-type' | 'missing-required' | 'bad-enum' | 'int-range';

/** Breaks `value` once in the way `kind` says (another way when the value has no such place). */
function mutate(value: Json, shape: string, kind: MutationKind, r: Rand): MutationKind {
  const all = slots(value, shape, undefined, undefined, []).filter((s) => s.parent !== undefined);
  const typed = (types: string[], present?: boolean) =>
    all.filter(
      (s) =>
        types.includes(shapeOf(ECS_MODEL, s.shape).type) &&
        (present === undefined || s.present === present),
    );
  if (kind === 'missing-required') {
    const structs = slots(value, shape, undefined, undefined, []).filter(
      (s) =>
        (s.present || s.parent === undefined) &&
        shapeOf(ECS_MODEL, s.shape).type === 'structure' &&
        (shapeOf(ECS_MODEL, s.shape).required ?? []).length > 0 &&
        // An earlier mutation may have put a non-object where the structure was.
        isPlainObject(s.parent === undefined ? value : (s.parent as Json)[s.key as string]),
    );
    if (structs.length) {
      const s = pick(r, structs);
      const obj = (s.parent === undefined ? value : (s.parent as Json)[s.key as string]) as Json;
      const member = pick(r, shapeOf(ECS_MODEL, s.shape).required!);
      if (r() < 0.7) delete obj[member];
      else obj[member] = null;
      return kind;
    }
    kind = 'wrong-type';
  }
  if (kind === 'bad-enum') {
    const enums = typed(['enum']);
    if (enums.length) {
      set(
        pick(r, enums),
        pick(r, ['', 'active', 'NOPE', 'ACTIVE ', 'Ec2', '\u0000', 'x'.repeat(300)]),
      );
      return kind;
    }
    kind = 'wrong-type';
  }
  if (kind === 'int-range') {
    const ints = typed(['integer']);
    if (ints.length) {
      set(pick(r, ints), pick(r, INT32_OUT_OF_RANGE));
      return kind;
    }
    kind = 'wrong-type';
  }
  const candidates = all.filter((s) =>
    [
      'string',
      'enum',
      'boolean',
      'integer',
      'long',
      'double',
      'timestamp',
      'structure',
      'map',
      'list',
    ].includes(shapeOf(ECS_MODEL, s.shape).type),
  );
  const slot = pick(r, candidates);
  set(slot, wrongValue(shapeOf(ECS_MODEL, slot.shape).type, r));
  return 'wrong-type';
}

const UNKNOWN_MEMBER_NAMES = [
  'Cluster',
  'clusterName ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '',
  'x-amz-target',
  '$where',
  'unknownMember',
  'a.b',
];

function addUnknownMembers(value: Json, shape: string, r: Rand): void {
  const structs = slots(value, shape, undefined, undefined, []).filter(
    (s) =>
      (s.present || s.parent === undefined) && shapeOf(ECS_MODEL, s.shape).type === 'structure',
  );
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const s = pick(r, structs);
    const obj = (s.parent === undefined ? value : (s.parent as Json)[s.key as string]) as Json;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) continue;
    const name = pick(r, UNKNOWN_MEMBER_NAMES);
    const v = pick(r, [
      1,
      'x',
      null,
      true,
      {},
      [],
      { cluster: 'default' },
      [[[1]]],
      'x'.repeat(1000),
    ]);
    Object.defineProperty(obj, name, {
      value: v,
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
}

/** A body for `op` from its input shape, broken by `kind` (and then maybe more). */
const brokenBodyArb = (kinds: MutationKind[], withUnknown: boolean) =>
  fc
    .constantFrom(...OPS)
    .chain((op) =>
      fc.tuple(
        fc.constant(op),
        arbFor(ECS_MODEL.operations[op].input, 0),
        fc.constantFrom(...kinds),
        fc.integer(),
      ),
    )
    .map(([op, base, kind, seed]) => {
      const r = rng(seed);
      const shape = ECS_MODEL.operations[op].input;
      const value = structuredClone(base) as Json;
      const applied = mutate(value, shape, kind, r);
      // Sometimes more than one thing is wrong.
      while (r() < 0.3)
        mutate(value, shape, pick(r, ['wrong-type', 'missing-required'] as const), r);
      if (withUnknown) addUnknownMembers(value, shape, r);
      return { op, value, kind: applied };
    });

/** Would the api's model check refuse this body for this operation? */
function modelRefuses(op: string, body: string | Buffer): boolean {
  let input: Json;
  try {
    input = parseBody(typeof body === 'string' ? Buffer.from(body) : body);
  } catch {
    return true;
  }
  return findViolation(ECS_MODEL, ECS_MODEL.operations[op].input, input, '') !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Requests

const ecsRequest = (
  cls: string,
  op: string,
  body: string | Buffer | undefined,
  headers: Record<string, string | undefined> = {},
): FuzzRequest => {
  const h: Record<string, string> = { 'content-type': AMZ_JSON, 'x-amz-target': `${PREFIX}.${op}` };
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete h[k];
    else h[k] = v;
  }
  return { cls, op, method: 'POST', path: '/', headers: h, body, kind: 'ecs' };
};

/** A cluster name that no fixture uses. */
const absentCluster = fc
  .tuple(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.boolean())
  .map(([s, asArn]) =>
    asArn ? `arn:aws:ecs:us-east-1:000000000000:cluster/fuzz-absent-${s}` : `fuzz-absent-${s}`,
  );

const nesting = (depth: number, open: string, leaf: string, close: string) =>
  open.repeat(depth) + leaf + close.repeat(depth);
const deepArray = (depth: number) => nesting(depth, '[', '1', ']');
const deepObject = (depth: number) => nesting(depth, '{"a":', '1', '}');

function samples<T>(arb: fc.Arbitrary<T>, numRuns: number, salt: number): T[] {
  return fc.sample(arb, { seed: SEED + salt, numRuns });
}

interface Fixtures {
  instanceArn: string;
  instanceId: string;
}

function buildRequests(fx: Fixtures): FuzzRequest[] {
  const out: FuzzRequest[] = [];
  let salt = 0;
  const add = (reqs: FuzzRequest[]) => out.push(...reqs);

  // 1. Bodies from the model, each broken at least once.
  for (const kind of ['wrong-type', 'missing-required', 'bad-enum', 'int-range'] as const) {
    add(
      samples(brokenBodyArb([kind], false), kind === 'wrong-type' ? 450 : 250, ++salt)
        .map(({ op, value, kind: applied }) => ({ op, body: JSON.stringify(value), applied }))
        .filter(({ op, body }) => modelRefuses(op, body))
        .map(({ op, body, applied }) => ecsRequest(`model:${applied}`, op, body)),
    );
  }
  // 2. The same with members the model does not know (which alone are ignored, as in ECS).
  add(
    samples(brokenBodyArb(['wrong-type', 'missing-required', 'bad-enum'], true), 250, ++salt)
      .map(({ op, value }) => ({ op, body: JSON.stringify(value) }))
      .filter(({ op, body }) => modelRefuses(op, body))
      .map(({ op, body }) => ecsRequest('unknown-members', op, body)),
  );

  // 3. Well-typed values the api refuses before calling state or the scheduler.
  const inst = fx.instanceArn;
  const tag = (key: string, value = 'v') => ({ key, value });
  const semantic: [string, fc.Arbitrary<Json>][] = [
    ['ListClusters', fc.record({ maxResults: fc.constantFrom(0, -1, 101, 1000, 2 ** 31 - 1) })],
    [
      'ListServices',
      fc.record({ cluster: fc.constant('fuzz'), maxResults: fc.constantFrom(0, -5, 101) }),
    ],
    ['ListTasks', fc.record({ maxResults: fc.constantFrom(0, 101, -1) })],
    [
      'ListContainerInstances',
      fc.record({ cluster: fc.constant('fuzz'), maxResults: fc.constantFrom(0, 101) }),
    ],
    ['ListContainerInstances', fc.record({ cluster: fc.constant('fuzz'), filter: stringArb })],
    [
      'ListAttributes',
      fc.record({
        targetType: fc.constant('container-instance'),
        maxResults: fc.constantFrom(0, 101),
      }),
    ],
    [
      'ListAttributes',
      fc.record({ targetType: fc.constant('container-instance'), attributeValue: stringArb }),
    ],
    [
      'DescribeClusters',
      fc.integer({ min: 101, max: 400 }).map((n) => ({ clusters: Array(n).fill('fuzz') })),
    ],
    [
      'DescribeTasks',
      fc.constantFrom(0, 101, 500).map((n) => ({ cluster: 'fuzz', tasks: Array(n).fill('t') })),
    ],
    [
      'DescribeServices',
      fc.constantFrom(0, 11, 50).map((n) => ({ cluster: 'fuzz', services: Array(n).fill('svc') })),
    ],
    [
      'DescribeContainerInstances',
      fc
        .constantFrom(0, 101)
        .map((n) => ({ cluster: 'fuzz', containerInstances: Array(n).fill(inst) })),
    ],
    [
      'UpdateContainerInstancesState',
      fc.record({
        cluster: fc.constant('fuzz'),
        containerInstances: fc.constant([inst]),
        status: fc.constantFrom('REGISTERING', 'DEREGISTERING', 'REGISTRATION_FAILED'),
      }),
    ],
    [
      'UpdateContainerInstancesState',
      fc.constantFrom(0, 11, 30).map((n) => ({
        cluster: 'fuzz',
        containerInstances: Array(n).fill(inst),
        status: 'DRAINING',
      })),
    ],
    [
      'PutAttributes',
      fc.constantFrom(0, 11).map((n) => ({
        cluster: 'fuzz',
        attributes: Array(n).fill({ name: 'x', targetId: inst }),
      })),
    ],
    [
      'DeleteAttributes',
      fc.constantFrom(0, 11).map((n) => ({
        cluster: 'fuzz',
        attributes: Array(n).fill({ name: 'stack', targetId: inst }),
      })),
    ],
    [
      'CreateCluster',
      fc.record({
        clusterName: fc.oneof(
          fc.constantFrom('a b', 'a/b', 'a.b', 'ü', 'x'.repeat(256), 'tab\t', 'a\u0000'),
          fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z0-9_-]+$/.test(s)),
        ),
      }),
    ],
    [
      'RegisterTaskDefinition',
      fc.record({
        family: fc.constantFrom('a b', 'x'.repeat(256), 'web/1', 'wéb', ''),
        containerDefinitions: fc.constant([
          { name: 'web', image: 'wharf/busybox:dev', memory: 64 },
        ]),
      }),
    ],
    [
      'RegisterTaskDefinition',
      fc.record({
        family: fc.constant('fuzzfamily'),
        containerDefinitions: fc.constantFrom(
          [],
          [{}],
          [{ name: 'a' }],
          [{ image: 'x', memory: 64 }],
          [{ name: 'a b', image: 'x', memory: 64 }],
          [{ name: 'a', image: 'x', memory: -1 }],
        ),
      }),
    ],
    [
      'RegisterTaskDefinition',
      fc.record(
        {
          family: fc.constant('fuzzfamily'),
          networkMode: fc.constantFrom('bogus', ''),
          cpu: fc.constantFrom('abc', '-1', '0'),
          containerDefinitions: fc.constant([{ name: 'web', image: 'x', memory: 64 }]),
        },
        { requiredKeys: ['family', 'cpu', 'containerDefinitions'] },
      ),
    ],
    [
      'RunTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        count: fc.constantFrom(0, -1, 11, 1000, 2 ** 31 - 1),
      }),
    ],
    [
      'RunTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        launchType: fc.constantFrom('FARGATE', 'EXTERNAL'),
      }),
    ],
    [
      'RunTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        capacityProviderStrategy: fc.constant([{ capacityProvider: 'x' }]),
      }),
    ],
    [
      'RunTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        clientToken: fc.constantFrom('has space', 'x'.repeat(65), 'ünicode', '\u0000', 'tab\t'),
      }),
    ],
    [
      'RunTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        startedBy: fc.constant('x'.repeat(129)),
      }),
    ],
    [
      'RunTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        tags: fc.constantFrom(
          Array.from({ length: 51 }, (_, i) => tag(`k${i}`)),
          [tag('a'), tag('a')],
          [tag('aws:x')],
          [tag('AWS:y')],
          [tag('')],
          [{ value: 'v' }],
          [tag('x'.repeat(129))],
          [tag('k', 'v'.repeat(257))],
        ),
      }),
    ],
    [
      'RunTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        overrides: fc.constantFrom(
          {
            containerOverrides: [
              { name: 'web', environment: [{ name: 'A', value: 'x'.repeat(9000) }] },
            ],
          },
          { containerOverrides: [{}] },
          { containerOverrides: [{ name: 'web', memory: 0 }] },
          { cpu: 'lots' },
          { memory: '-5' },
          { containerOverrides: [{ name: 'web', memory: 10, memoryReservation: 20 }] },
        ),
      }),
    ],
    [
      'StartTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        containerInstances: fc.constantFrom([], Array(11).fill(inst)),
      }),
    ],
    [
      'StartTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        containerInstances: fc.constant([inst]),
        tags: fc.constant([tag('aws:x')]),
      }),
    ],
    [
      'StartTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.constant('web'),
        containerInstances: fc.constant([inst]),
        startedBy: fc.constant('y'.repeat(200)),
      }),
    ],
    ...(['CreateService', 'UpdateService'] as const).map(
      (op) =>
        [
          op,
          fc
            .record({
              member: fc.constantFrom<[string, unknown]>(
                ['platformVersion', 'LATEST'],
                ['networkConfiguration', { awsvpcConfiguration: { subnets: ['s'] } }],
                ['role', 'ecsServiceRole'],
                ['enableExecuteCommand', true],
                ['propagateTags', 'SERVICE'],
                ['propagateTags', 'TASK_DEFINITION'],
                ['deploymentController', { type: 'CODE_DEPLOY' }],
                ['deploymentController', {}],
                ['serviceRegistries', [{ registryArn: 'x' }]],
                ['capacityProviderStrategy', [{ capacityProvider: 'x' }]],
                ['serviceConnectConfiguration', { enabled: true }],
                ['serviceConnectConfiguration', {}],
                ['clientToken', 'has space'],
                ['clientToken', 'x'.repeat(37)],
              ),
              desiredCount: fc.integer({ min: 0, max: 3 }),
            })
            .filter(({ member }) => op === 'CreateService' || member[0] !== 'clientToken')
            .map(({ member, desiredCount }) => ({
              cluster: 'fuzz',
              ...(op === 'CreateService'
                ? { serviceName: 'svc2', taskDefinition: 'web' }
                : { service: 'svc' }),
              desiredCount,
              [member[0]]: member[1],
            })),
        ] as [string, fc.Arbitrary<Json>],
    ),
    [
      'DescribeTaskDefinition',
      fc.record({
        taskDefinition: fc.constantFrom(
          'nope',
          'web:0',
          'web:-1',
          'web:abc',
          'web:99',
          'web:99999999999999999999',
          'web:1.5',
          'arn:aws:ecs:us-east-1:000000000000:task-definition/',
          'arn:',
          ':',
          'web::1',
          '',
        ),
      }),
    ],
  ];
  semantic.forEach(([op, arb]) =>
    add(samples(arb, 14, ++salt).map((b) => ecsRequest('refused-by-api', op, JSON.stringify(b)))),
  );

  // 4. Plausible requests naming a cluster, service, task or task definition that does not
  // exist: state or the scheduler refuses them, and nothing is written.
  const missing: [string, fc.Arbitrary<Json>][] = [
    [
      'CreateService',
      fc.record({
        cluster: absentCluster,
        serviceName: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
        taskDefinition: fc.constant('web'),
        desiredCount: fc.integer({ min: 0, max: 5 }),
      }),
    ],
    [
      'UpdateService',
      fc.record({
        cluster: absentCluster,
        service: fc.constant('svc'),
        desiredCount: fc.integer({ min: 0, max: 5 }),
      }),
    ],
    [
      'UpdateService',
      fc.record({
        cluster: fc.constant('fuzz'),
        service: fc.stringMatching(/^nope-[a-z0-9]{1,10}$/),
        desiredCount: fc.integer({ min: 0, max: 5 }),
      }),
    ],
    [
      'DeleteService',
      fc.record({ cluster: absentCluster, service: fc.constant('svc'), force: fc.boolean() }),
    ],
    [
      'DeleteService',
      fc.record({
        cluster: fc.constant('fuzz'),
        service: fc.stringMatching(/^nope-[a-z0-9]{1,10}$/),
        force: fc.boolean(),
      }),
    ],
    ['RunTask', fc.record({ cluster: absentCluster, taskDefinition: fc.constant('web') })],
    [
      'RunTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        taskDefinition: fc.stringMatching(/^nope[a-z0-9]{0,8}(:[0-9]{1,3})?$/),
      }),
    ],
    [
      'StartTask',
      fc.record({
        cluster: absentCluster,
        taskDefinition: fc.constant('web'),
        containerInstances: fc.constant([inst]),
      }),
    ],
    ['StopTask', fc.record({ cluster: absentCluster, task: fc.stringMatching(/^[0-9a-f]{32}$/) })],
    [
      'StopTask',
      fc.record({
        cluster: fc.constant('fuzz'),
        task: fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), stringArb),
      }),
    ],
    [
      'PutAttributes',
      fc.record({
        cluster: absentCluster,
        attributes: fc.constant([{ name: 'x', targetId: inst }]),
      }),
    ],
    [
      'DeleteAttributes',
      fc.record({
        cluster: absentCluster,
        attributes: fc.constant([{ name: 'stack', targetId: inst }]),
      }),
    ],
    [
      'UpdateContainerInstancesState',
      fc.record({
        cluster: absentCluster,
        containerInstances: fc.constant([inst]),
        status: fc.constantFrom('ACTIVE', 'DRAINING'),
      }),
    ],
    ['ListServices', fc.record({ cluster: absentCluster })],
    ['ListTasks', fc.record({ cluster: absentCluster })],
    ['ListContainerInstances', fc.record({ cluster: absentCluster })],
    ['DescribeServices', fc.record({ cluster: absentCluster, services: fc.constant(['svc']) })],
    [
      'DescribeTaskDefinition',
      fc.record({
        taskDefinition: fc.oneof(stringArb, fc.stringMatching(/^nope[a-z]{0,6}:[0-9]{1,4}$/)),
      }),
    ],
  ];
  missing.forEach(([op, arb]) =>
    add(samples(arb, 16, ++salt).map((b) => ecsRequest('unknown-resource', op, JSON.stringify(b)))),
  );

  // 5. Huge strings: over the body limit, and large ones under it in members that reach peers.
  const huge = (n: number) => 'h'.repeat(n);
  add(OPS.map((op) => ecsRequest('huge-string', op, JSON.stringify({ cluster: huge(MB + 16) }))));
  add(
    [
      ['ListServices', { cluster: huge(600_000) }],
      ['ListTasks', { cluster: huge(600_000), family: huge(100_000) }],
      ['DescribeClusters', { clusters: [huge(600_000)], include: 'TAGS' }],
      ['DescribeTaskDefinition', { taskDefinition: huge(900_000) }],
      ['ListClusters', { nextToken: huge(900_000), maxResults: 0 }],
      ['CreateCluster', { clusterName: huge(900_000) }],
      ['RegisterTaskDefinition', { family: huge(900_000), containerDefinitions: [] }],
      ['RunTask', { cluster: 'fuzz', taskDefinition: 'web', startedBy: huge(900_000) }],
      ['RunTask', { cluster: 'fuzz', taskDefinition: huge(900_000) }],
      [
        'CreateService',
        { cluster: huge(600_000), serviceName: huge(300_000), taskDefinition: 'web' },
      ],
      ['UpdateService', { cluster: 'fuzz', service: huge(900_000) }],
      ['StopTask', { cluster: 'fuzz', task: huge(900_000) }],
      ['PutAttributes', { cluster: 'fuzz', attributes: [{ name: huge(900_000), targetId: inst }] }],
      [
        'UpdateContainerInstancesState',
        { cluster: 'fuzz', containerInstances: [huge(900_000)], status: 'ACTIVE ' },
      ],
      ...[2_000, 10_000, 64_000, 200_000].flatMap((n) => [
        ['UpdateService', { cluster: huge(n), service: 'svc' }],
        ['StopTask', { cluster: 'fuzz', task: huge(n) }],
      ]),
    ].map(([op, b]) => ecsRequest('huge-string', op as string, JSON.stringify(b))),
  );

  // 6. Huge arrays (100k items).
  const n100k = 100_000;
  const many = (v: unknown) => Array(n100k).fill(v);
  add(
    [
      ['DescribeClusters', { clusters: many('a') }],
      ['DescribeClusters', { clusters: many(1) }],
      ['DescribeTasks', { cluster: 'fuzz', tasks: many('t') }],
      ['DescribeServices', { cluster: 'fuzz', services: many('s') }],
      ['DescribeContainerInstances', { cluster: 'fuzz', containerInstances: many('i') }],
      [
        'UpdateContainerInstancesState',
        { cluster: 'fuzz', containerInstances: many('i'), status: 'DRAINING' },
      ],
      ['StartTask', { cluster: 'fuzz', taskDefinition: 'web', containerInstances: many('i') }],
      ['PutAttributes', { cluster: 'fuzz', attributes: many({}) }],
      ['DeleteAttributes', { cluster: 'fuzz', attributes: many({ name: 'a' }) }],
      ['RunTask', { cluster: 'fuzz', taskDefinition: 'web', tags: many({}) }],
      [
        'RunTask',
        { cluster: 'fuzz', taskDefinition: 'web', count: 0, placementConstraints: many({}) },
      ],
      ['RunTask', { cluster: 'fuzz-absent-x', taskDefinition: 'web', placementStrategy: many({}) }],
      [
        'RunTask',
        { cluster: 'fuzz', taskDefinition: 'web', overrides: { containerOverrides: many({}) } },
      ],
      ['RegisterTaskDefinition', { family: 'fuzz huge', containerDefinitions: many({}) }],
      ['RegisterTaskDefinition', { family: 'fuzzhuge', containerDefinitions: many({}) }],
      ['CreateCluster', { clusterName: 'bad name', tags: many({}) }],
      [
        'CreateService',
        {
          cluster: 'fuzz-absent-y',
          serviceName: 's',
          taskDefinition: 'web',
          loadBalancers: many({}),
        },
      ],
      [
        'UpdateService',
        { cluster: 'fuzz', service: 'svc', placementConstraints: many({ type: 7 }) },
      ],
      ['ListTasks', { cluster: 'fuzz', family: many('x') }],
      ['ListClusters', { maxResults: 0, unknownMember: many(0) }],
    ].map(([op, b]) => ecsRequest('huge-array', op as string, JSON.stringify(b))),
  );

  // Null items in lists and null map values (no ECS list or map is sparse).
  add(
    [
      ['DescribeClusters', { clusters: [null] }],
      ['DescribeClusters', { clusters: ['fuzz', null] }],
      ['DescribeServices', { cluster: 'fuzz', services: [null] }],
      ['DescribeTasks', { cluster: 'fuzz', tasks: [null] }],
      ['DescribeContainerInstances', { cluster: 'fuzz', containerInstances: [null] }],
      ['DescribeServices', { cluster: 'fuzz', services: ['svc'], include: [null] }],
      ['DescribeTaskDefinition', { taskDefinition: 'web', include: [null] }],
      ['PutAttributes', { cluster: 'fuzz-absent-n', attributes: [null] }],
      ['DeleteAttributes', { cluster: 'fuzz-absent-n', attributes: [null] }],
      ['RunTask', { cluster: 'fuzz-absent-n', taskDefinition: 'web', tags: [null] }],
      [
        'RunTask',
        {
          cluster: 'fuzz-absent-n',
          taskDefinition: 'web',
          overrides: { containerOverrides: [null] },
        },
      ],
      [
        'StartTask',
        { cluster: 'fuzz-absent-n', taskDefinition: 'web', containerInstances: [null] },
      ],
      [
        'UpdateContainerInstancesState',
        { cluster: 'fuzz-absent-n', containerInstances: [null], status: 'DRAINING' },
      ],
      [
        'CreateService',
        {
          cluster: 'fuzz-absent-n',
          serviceName: 's',
          taskDefinition: 'web',
          placementConstraints: [null],
        },
      ],
      ['UpdateService', { cluster: 'fuzz-absent-n', service: 'svc', loadBalancers: [null] }],
      ['RegisterTaskDefinition', { family: 'bad family', containerDefinitions: [null] }],
      [
        'RegisterTaskDefinition',
        { family: 'bad family', containerDefinitions: [{ name: 'a', dockerLabels: { a: null } }] },
      ],
    ].map(([op, b]) => ecsRequest('null-items', op as string, JSON.stringify(b))),
  );

  // 7. Deep nesting (10k levels): the whole body, unknown members, and inside known members.
  const deep = 10_000;
  add(OPS.map((op) => ecsRequest('deep-nesting', op, deepArray(deep))));
  add(OPS.map((op) => ecsRequest('deep-nesting', op, deepObject(deep))));
  add(
    OPS.map((op) =>
      ecsRequest('deep-nesting', op, `{"cluster":"fuzz-absent-deep","x":${deepArray(deep)}}`),
    ),
  );
  add(
    [
      [
        'CreateService',
        `{"cluster":"fuzz-absent-d","serviceName":"s","taskDefinition":"web","deploymentConfiguration":{"x":${deepArray(deep)}}}`,
      ],
      [
        'CreateService',
        `{"cluster":"fuzz-absent-d","serviceName":"s","taskDefinition":"web","tags":[{"key":"k","x":${deepObject(deep)}}]}`,
      ],
      [
        'UpdateService',
        `{"cluster":"fuzz-absent-d","service":"svc","placementStrategy":[{"type":"spread","x":${deepArray(deep)}}]}`,
      ],
      [
        'RunTask',
        `{"cluster":"fuzz-absent-d","taskDefinition":"web","overrides":{"x":${deepArray(deep)}}}`,
      ],
      [
        'RunTask',
        `{"cluster":"fuzz-absent-d","taskDefinition":"web","placementConstraints":[{"type":"memberOf","x":${deepObject(deep)}}]}`,
      ],
      [
        'StartTask',
        `{"cluster":"fuzz-absent-d","taskDefinition":"web","containerInstances":["i"],"overrides":{"containerOverrides":[{"name":"web","x":${deepArray(deep)}}]}}`,
      ],
      ['CreateCluster', `{"clusterName":"bad name","tags":[{"key":"k","x":${deepArray(deep)}}]}`],
      [
        'RegisterTaskDefinition',
        `{"family":"bad family","containerDefinitions":[{"name":"w","x":${deepArray(deep)}}]}`,
      ],
      [
        'PutAttributes',
        `{"cluster":"fuzz-absent-d","attributes":[{"name":"n","x":${deepArray(deep)}}]}`,
      ],
      ['DescribeClusters', `{"clusters":${nesting(deep, '[', '"fuzz"', ']')}}`],
    ].map(([op, b]) => ecsRequest('deep-nesting', op, b)),
  );

  // 8. Invalid UTF-8: inside strings of broken bodies, in absent cluster names, and anywhere.
  const badBytes = [
    [0xff],
    [0xfe, 0xff],
    [0xc3, 0x28],
    [0xed, 0xa0, 0x80],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
    [0xe2, 0x82],
    [0xc0, 0xaf],
    [0x80],
  ];
  add(
    samples(
      fc.tuple(
        brokenBodyArb(['wrong-type', 'missing-required'], false),
        fc.integer(),
        fc.boolean(),
      ),
      150,
      ++salt,
    )
      .map(([{ op, value }, seed, inString]) => {
        const r = rng(seed);
        const text = Buffer.from(JSON.stringify(value));
        const bytes = Buffer.from(pick(r, badBytes));
        // Inside a string: right after an opening quote of a value; else at a random place.
        const quotes = [...text.toString('latin1').matchAll(/:"/g)].map((m) => m.index + 2);
        const at =
          inString && quotes.length ? pick(r, quotes) : Math.floor(r() * (text.length + 1));
        return { op, body: Buffer.concat([text.subarray(0, at), bytes, text.subarray(at)]) };
      })
      .filter(({ op, body }) => modelRefuses(op, body))
      .map(({ op, body }) => ecsRequest('invalid-utf8', op, body)),
  );
  add(
    samples(
      fc.tuple(
        fc.constantFrom(
          ...[
            'ListServices',
            'ListTasks',
            'DescribeServices',
            'RunTask',
            'UpdateService',
            'DeleteService',
            'StopTask',
          ],
        ),
        fc.constantFrom(...badBytes),
      ),
      40,
      ++salt,
    ).map(([op, bytes]) =>
      ecsRequest(
        'invalid-utf8',
        op,
        Buffer.concat([
          Buffer.from('{"cluster":"fuzz-absent-'),
          Buffer.from(bytes),
          Buffer.from(
            '","services":["svc"],"service":"svc","taskDefinition":"web","task":"0123456789abcdef0123456789abcdef"}',
          ),
        ]),
      ),
    ),
  );

  // 9. Bodies that are not JSON, 10. not an object, 11. empty, for operations with required
  // members (an empty body is {} and valid for the others).
  const withRequired = OPS.filter(
    (op) => (shapeOf(ECS_MODEL, ECS_MODEL.operations[op].input).required ?? []).length > 0,
  );
  const nonJson = fc.oneof(
    fc.string({ minLength: 1, maxLength: 40 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    fc.constantFrom(
      'NaN',
      'undefined',
      "{'cluster':'fuzz'}",
      '{"cluster":"fuzz",}',
      '{"cluster":"fuzz"}garbage',
      '{"a":1}{"b":2}',
      '{"a":01}',
      '{"a":0x10}',
      '{"a":Infinity}',
      '\ufeff{}',
      '<xml><cluster>fuzz</cluster></xml>',
      'cluster=fuzz&maxResults=1',
      '{"cluster":"fuzz"',
      '{"a":"\\x41"}',
      '{"a":"\\ud800',
      '{"a":"line\nbreak"}',
      '{' + '"k":1,'.repeat(5000),
    ),
  );
  add(
    samples(fc.tuple(fc.constantFrom(...OPS), nonJson), 250, ++salt)
      .filter(([op, b]) => modelRefuses(op, b))
      .map(([op, b]) => ecsRequest('non-json', op, b)),
  );
  add(
    samples(
      fc.tuple(
        fc.constantFrom(...OPS),
        fc.oneof(
          fc.constantFrom('[]', '[{}]', '1', '-0', '1e400', 'null', 'true', 'false', '""', '"{}"'),
          fc
            .jsonValue()
            .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
            .map((v) => JSON.stringify(v)),
        ),
      ),
      150,
      ++salt,
    )
      .filter(([op, b]) => modelRefuses(op, b))
      .map(([op, b]) => ecsRequest('not-object', op, b)),
  );
  add(
    samples(
      fc.tuple(fc.constantFrom(...withRequired), fc.constantFrom('', ' ', '\n\t ', '{}')),
      60,
      ++salt,
    ).map(([op, b]) => ecsRequest('empty-body', op, b)),
  );

  // 12. Targets that name no operation Wharf serves (the bodies are broken too).
  const targets = fc.oneof(
    fc.constant(undefined),
    fc.string({ maxLength: 30 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
    fc.constantFrom(
      '',
      PREFIX,
      `${PREFIX}.`,
      `.ListClusters`,
      `${PREFIX}.ListClusters.Extra`,
      `${PREFIX}.listclusters`,
      `${PREFIX.toLowerCase()}.ListClusters`,
      `AmazonEC2ContainerServiceV20141112.ListClusters`,
      `${PREFIX}.DeleteCluster`,
      `${PREFIX}.ListTaskDefinitionFamilies`,
      `${PREFIX}.DeregisterTaskDefinition`,
      `${PREFIX}.TagResource`,
      `${PREFIX}.constructor`,
      `${PREFIX}.toString`,
      `${PREFIX}.valueOf`,
      `${PREFIX}.hasOwnProperty`,
      `${PREFIX}.isPrototypeOf`,
      `${PREFIX}.propertyIsEnumerable`,
      `${PREFIX}.toLocaleString`,
      `${PREFIX}.__proto__`,
      `${PREFIX}.List Clusters`,
      `${PREFIX}.ListClusters, ${PREFIX}.ListClusters`,
      `DynamoDB_20120810.ListTables`,
    ),
    fc
      .string({ minLength: 1, maxLength: 20 })
      .map((s) => `${PREFIX}.${s.replace(/[^\x20-\x7e]/g, '')}`),
  );
  add(
    samples(fc.tuple(targets, brokenBodyArb(['wrong-type'], false)), 250, ++salt)
      .filter(([t]) => {
        try {
          return !Object.hasOwn(OPERATIONS, parseTarget(t?.trim()));
        } catch {
          return true;
        }
      })
      .map(([t, { op, value }]) =>
        ecsRequest('bad-target', op, JSON.stringify(value), { 'x-amz-target': t }),
      ),
  );

  // 13. Wrong content types (the api takes any; the bodies are broken).
  add(
    samples(
      fc.tuple(
        fc.constantFrom(
          undefined,
          '',
          'text/plain',
          'application/json',
          'application/x-amz-json-1.0',
          'application/xml',
          'multipart/form-data; boundary=xyz',
          'application/x-www-form-urlencoded',
          'application/x-amz-json-1.1; charset=latin1',
          'garbage',
          '*/*',
        ),
        brokenBodyArb(['wrong-type', 'missing-required', 'bad-enum'], false),
      ),
      200,
      ++salt,
    )
      .map(([ct, { op, value }]) => ({ ct, op, body: JSON.stringify(value) }))
      .filter(({ op, body }) => modelRefuses(op, body))
      .map(({ ct, op, body }) =>
        ecsRequest('content-type', op, Buffer.from(body), { 'content-type': ct }),
      ),
  );

  // 14. Other methods on `/`, and paths that are no route (none under /v1, whose load-balancer
  // routes are someone else's).
  add(
    samples(
      fc.tuple(
        fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'POST'),
        fc.oneof(
          fc.constant('/'),
          fc.constantFrom(
            '/fuzz',
            '/v2/x',
            '/%',
            '/%zz',
            '/..%2f..%2fetc',
            '/%00',
            '//',
            '/healthz/x',
            '/ECS',
            '/?x=1',
          ),
          fc.stringMatching(/^[a-z0-9%._~-]{1,20}$/).map((s) => `/fuzz-${s}`),
        ),
      ),
      120,
      ++salt,
    )
      .filter(([m, p]) => !(m === 'POST' && (p === '/' || p.startsWith('/?'))))
      .map(([method, path]) => ({
        ...ecsRequest('method-path', 'ListClusters', method === 'GET' ? undefined : '{}'),
        method,
        path,
      })),
  );

  // 15–17. The /v1 routes that exist: logs, utilisation, placement explain.
  const segment = fc.oneof(
    fc.constantFrom(
      'fuzz',
      'default',
      'fuzz-absent-v1',
      '%',
      '%zz',
      '%E0%A4%A',
      '%00',
      '%2F',
      '..',
      'a%20b',
      '%F0%9F%98%80',
      encodeURIComponent('arn:aws:ecs:us-east-1:000000000000:cluster/fuzz'),
    ),
    fc.stringMatching(/^[A-Za-z0-9._~-]{1,40}$/),
    fc.string({ minLength: 1, maxLength: 12 }).map(encodeURIComponent),
  );
  const taskSeg = fc.oneof(segment, fc.stringMatching(/^[0-9a-f]{32}$/));
  const qval = fc.oneof(
    fc.constantFrom(
      '',
      'true',
      'false',
      'yes',
      '-1',
      '1.5',
      'all',
      '1e3',
      '99999999999',
      '2024-13-45',
      'now',
      '%',
      '%zz',
      '%00',
    ),
    fc.string({ maxLength: 10 }).map(encodeURIComponent),
  );
  const logsQuery = fc
    .array(
      fc.tuple(
        fc.constantFrom(
          'follow',
          'tail',
          'since',
          'timestamps',
          'container',
          'tail[]',
          'since[a]',
          'x',
        ),
        qval,
      ),
      { maxLength: 4 },
    )
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
  add(
    samples(fc.tuple(segment, taskSeg, logsQuery), 220, ++salt).map(([c, t, q]) => ({
      cls: 'v1-logs',
      op: 'GetTaskLogs',
      method: 'GET',
      path: `/v1/clusters/${c}/tasks/${t}/logs${q ? `?${q}` : ''}`,
      headers: {},
      kind: 'v1' as const,
    })),
  );
  const historyQuery = fc.oneof(
    fc.constant(''),
    fc
      .constantFrom(
        '-1',
        '1001',
        'abc',
        '1.5',
        '1e2',
        '%',
        '%zz',
        ' 1',
        '0x10',
        '99999999999999999999',
      )
      .map((h) => `history=${h}`),
    fc.constantFrom('history=1&history=2', 'history[]=1', 'history[a]=1'),
  );
  add(
    samples(
      fc.tuple(
        segment,
        fc.oneof(taskSeg, fc.constant(fx.instanceId)),
        fc.constantFrom('tasks', 'container-instances'),
        historyQuery,
      ),
      220,
      ++salt,
    )
      // Only the real instance with an acceptable history is answered 200 (`history[]` is
      // another parameter to the query parser).
      .filter(
        ([, id, what, q]) =>
          !(
            id === fx.instanceId &&
            what === 'container-instances' &&
            !/^history=(-1|1001|abc|1\.5|1e2|%|%zz| 1|0x10|9{20})$|^history=1&history=2$/.test(q)
          ),
      )
      .map(([c, id, what, q]) => ({
        cls: 'v1-utilisation',
        op: 'GetUtilisation',
        method: 'GET',
        path: `/v1/clusters/${c}/${what}/${id}/utilisation${q ? `?${q}` : ''}`,
        headers: {},
        kind: 'v1' as const,
      })),
  );
  const explainBody = fc.oneof(
    nonJson,
    fc.constantFrom(
      '',
      '[]',
      'null',
      '1',
      '"x"',
      '{}',
      '{"taskDefinition":""}',
      '{"taskDefinition":5}',
    ),
    fc
      .record(
        {
          taskDefinition: fc.oneof(fc.constant('web'), stringArb),
          count: fc.oneof(
            fc.constantFrom(0, 11, -1, 1.5, '2', null, 2 ** 31),
            fc.integer({ min: 1, max: 10 }),
          ),
          group: fc.oneof(fc.constantFrom(1, true, {}, []), stringArb),
          placementConstraints: fc.constantFrom(
            'x',
            1,
            {},
            [],
            [{ type: 'memberOf', expression: 'attribute:x ==' }],
            [{ type: 'bogus' }],
          ),
          placementStrategy: fc.constantFrom(
            'x',
            {},
            [],
            [{ type: 'binpack', field: 'nope' }],
            [{ type: 'random', field: 1 }],
          ),
          overrides: fc.constantFrom(
            'x',
            [],
            1,
            {},
            { containerOverrides: 'x' },
            { cpu: 'lots' },
            { containerOverrides: [{ name: 'nope' }] },
          ),
        },
        { requiredKeys: [] },
      )
      .map((b) => JSON.stringify(b)),
  );
  add(
    samples(fc.tuple(segment, explainBody), 200, ++salt).map(([c, b]) => ({
      cls: 'v1-placement',
      op: 'ExplainPlacement',
      method: 'POST',
      path: `/v1/clusters/${c}/placement/explain`,
      headers: { 'content-type': 'application/json' },
      body: b,
      kind: 'v1' as const,
    })),
  );
  // 18–20. The ECS operations under /v1 (v1/ecs-routes.ts): `POST /v1/ecs/{operation}` with
  // broken model bodies and names that are no served operation; the resource routes with
  // broken bodies or bodies that are not JSON objects, and with malformed or mistyped query
  // parameters, on path segments that may name nothing. Only what the api must refuse is sent:
  // the oracle is the route table and the model check (ecsRouteRefuses).
  add(
    samples(
      brokenBodyArb(['wrong-type', 'missing-required', 'bad-enum', 'int-range'], true),
      300,
      ++salt,
    )
      .map(({ op, value }) => ({ op, body: JSON.stringify(value) }))
      .filter(({ op, body }) => modelRefuses(op, body))
      .map(({ op, body }) => v1EcsRequest('v1-ecs-generic', op, 'POST', `/v1/ecs/${op}`, body)),
  );
  add(
    samples(
      fc.tuple(
        fc.constantFrom(
          'CreateTaskSet',
          'ExecuteCommand',
          'RegisterContainerInstance',
          'Nope',
          'listClusters',
          'constructor',
          '__proto__',
          'toString',
          '%zz',
          '%00',
          'ListClusters%2F..',
        ),
        fc.constantFrom('{}', '', '[]', '{"cluster":"fuzz"}'),
      ),
      40,
      ++salt,
    ).map(([op, body]) => v1EcsRequest('v1-ecs-generic', op, 'POST', `/v1/ecs/${op}`, body)),
  );
  const routeSegment = segment.filter((s) => s !== '.' && s !== '..');
  const segmentsFor = (route: EcsRoute) =>
    fc.array(fc.oneof(routeSegment, fc.constant('fuzz')), {
      minLength: route.path.split('{').length - 1,
      maxLength: route.path.split('{').length - 1,
    });
  const bodyRoutes = ECS_ROUTES.filter((r) => !isQueryRoute(r));
  add(
    samples(
      fc.constantFrom(...bodyRoutes).chain((route) =>
        fc.tuple(
          fc.constant(route),
          segmentsFor(route),
          fc.oneof(
            nonJson,
            fc.constantFrom('[]', 'null', '1', '"x"', deepArray(100), deepObject(100)),
            arbFor(ECS_MODEL.operations[route.operation].input, 0).chain((base) =>
              fc.integer().map((seed) => {
                const r = rng(seed);
                const value = structuredClone(base) as Json;
                mutate(
                  value,
                  ECS_MODEL.operations[route.operation].input,
                  pick(r, ['wrong-type', 'missing-required', 'bad-enum', 'int-range'] as const),
                  r,
                );
                return JSON.stringify(value);
              }),
            ),
          ),
        ),
      ),
      300,
      ++salt,
    )
      .filter(([route, segs, body]) => ecsRouteRefuses(route, segs, '', body))
      .map(([route, segs, body]) =>
        v1EcsRequest(
          'v1-ecs-body',
          route.operation,
          route.method.toUpperCase(),
          fillPath(route, segs),
          body,
        ),
      ),
  );
  const queryRoutes = ECS_ROUTES.filter(isQueryRoute);
  const queryValue = fc.oneof(
    fc.constantFrom(
      '',
      'true',
      'yes',
      '1',
      '-1',
      '1.5',
      'abc',
      '1e3',
      '99999999999',
      'BOGUS',
      'TAGS',
      'STOPPED',
      '%zz',
      '%00',
    ),
    fc.string({ maxLength: 10 }),
  );
  add(
    samples(
      fc
        .constantFrom(...queryRoutes)
        .chain((route) =>
          fc.tuple(
            fc.constant(route),
            segmentsFor(route),
            fc.array(
              fc.tuple(
                fc.oneof(
                  fc.constantFrom(...openMembers(route).map(([m]) => m), 'x'),
                  fc.constantFrom(
                    'maxresults',
                    'include[]',
                    'tagKeys[0]',
                    'cluster',
                    '__proto__',
                    'constructor',
                  ),
                ),
                queryValue,
              ),
              { minLength: 1, maxLength: 4 },
            ),
          ),
        ),
      300,
      ++salt,
    )
      .map(([route, segs, pairs]) => {
        const q = pairs
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join('&');
        return [route, segs, q] as const;
      })
      .filter(([route, segs, q]) => ecsRouteRefuses(route, segs, q, undefined))
      .map(([route, segs, q]) =>
        v1EcsRequest(
          'v1-ecs-query',
          route.operation,
          route.method.toUpperCase(),
          `${fillPath(route, segs)}?${q}`,
          undefined,
        ),
      ),
  );

  // 21. Reads through the ECS GET routes of what does not exist: a cluster, or in the fixture
  // cluster a task, service, instance or task definition that is not there (404 or 400).
  const getRoutes = ECS_ROUTES.filter((r) => r.method === 'get' && r.path.includes('{'));
  add(
    samples(
      fc.tuple(
        fc.constantFrom(...getRoutes),
        fc.oneof(absentCluster, fc.constant('fuzz')),
        fc.oneof(
          fc.stringMatching(/^[0-9a-f]{32}$/),
          fc.constantFrom('nope', 'nope:1', 'web:99', 'arn:aws:ecs:us-east-1:000000000000:x/y'),
        ),
      ),
      150,
      ++salt,
    )
      .filter(([route, cluster]) => {
        // Only names that cannot exist: the fixture cluster alone, or `fuzz` in a cluster
        // route whose other segment names nothing, must be judged by the table below.
        const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
        return !(names.length === 1 && names[0] === 'cluster' && cluster === 'fuzz');
      })
      .map(([route, cluster, other]) => {
        const path = route.path
          .replace('{cluster}', encodeURIComponent(cluster))
          .replace(/\{[^}]+\}/g, encodeURIComponent(other));
        return v1EcsRequest('v1-ecs-absent', route.operation, 'GET', path, undefined);
      }),
  );

  // The placement oracle: only bodies it must refuse (a bad field, or nothing to explain).
  return out.filter((r) => r.cls !== 'v1-placement' || explainMustFail(r));

  function explainMustFail(r: FuzzRequest): boolean {
    const cluster = r.path.split('/')[3];
    let b: unknown;
    try {
      b = JSON.parse(String(r.body));
    } catch {
      return true;
    }
    if (typeof b !== 'object' || b === null || Array.isArray(b)) return true;
    const o = b as Json;
    // With the real cluster and task definition and well-formed members it would explain.
    const wellFormed =
      o.taskDefinition === 'web' &&
      (o.count === undefined ||
        (Number.isInteger(o.count) && (o.count as number) >= 1 && (o.count as number) <= 10)) &&
      (o.group === undefined || typeof o.group === 'string') &&
      (o.placementConstraints === undefined ||
        (Array.isArray(o.placementConstraints) && o.placementConstraints.length === 0)) &&
      (o.placementStrategy === undefined ||
        (Array.isArray(o.placementStrategy) && o.placementStrategy.length === 0)) &&
      (o.overrides === undefined || JSON.stringify(o.overrides) === '{}');
    return !(wellFormed && ['fuzz', 'default'].includes(decodeURIComponentSafe(cluster)));
  }
}

function v1EcsRequest(
  cls: string,
  op: string,
  method: string,
  path: string,
  body: string | undefined,
): FuzzRequest {
  return {
    cls,
    op,
    method,
    path,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body,
    kind: 'v1' as const,
  };
}

/** A route's path with its `{parameters}` replaced by `segs` (already URL-encoded), in order. */
function fillPath(route: EcsRoute, segs: string[]): string {
  let i = 0;
  return route.path.replace(/\{[^}]+\}/g, () => segs[i++]);
}

/**
 * Must the api refuse this request to an ECS route? As the route reads it: the path
 * parameters decoded, the body parsed, the query and body made the ECS input by the route
 * table, then the model check. A request it would accept is never sent (it might change state).
 */
function ecsRouteRefuses(
  route: EcsRoute,
  segs: string[],
  query: string,
  body: string | undefined,
): boolean {
  const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const params: Record<string, string> = {};
  for (const [i, name] of names.entries()) {
    try {
      params[name] = decodeURIComponent(segs[i]);
    } catch {
      return true;
    }
  }
  let parsed: Json;
  try {
    parsed = parseBody(Buffer.from(body ?? ''));
  } catch {
    return true;
  }
  const q: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(query)) {
    const had = q[k];
    q[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
  }
  let input: Json;
  try {
    input = ecsInput(route, params, q, parsed);
  } catch {
    return true;
  }
  return (
    findViolation(ECS_MODEL, ECS_MODEL.operations[route.operation].input, input, '') !== undefined
  );
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// Deep nesting and /v1 placement explain bodies are also sent with nested overrides; see
// buildV1Deep below (kept apart: their expected answer is documented in the report).
function v1DeepRequests(): FuzzRequest[] {
  const deep = 10_000;
  return [
    `{"taskDefinition":"web","overrides":{"x":${deepArray(deep)}}}`,
    `{"taskDefinition":"web","placementConstraints":[${deepArray(deep)}]}`,
    deepArray(deep),
    deepObject(deep),
  ].map((body) => ({
    cls: 'v1-placement',
    op: 'ExplainPlacement',
    method: 'POST',
    path: '/v1/clusters/fuzz-absent-deep/placement/explain',
    headers: { 'content-type': 'application/json' },
    body,
    kind: 'v1' as const,
  }));
}

// ---------------------------------------------------------------------------------------------
// Known bugs outside the api's ECS layer (in state, or in /v1 code this test must not change),
// reported and counted as `known:` in the summary instead of failing the run. Remove an entry
// when its bug is fixed: the run then proves it.

// Bugs the fuzz found outside the api, fixed since: a revision beyond int32 (500), a
// ~900 KB identifier echoed in an error's gRPC trailer (the connection dropped), a NUL in a
// cluster name via /v1 (Postgres refused it: 502), 10,000-level nesting in placement
// explain (500). An entry here lets a known bug be counted, not hidden, until it is fixed.
const KNOWN_BUGS: { name: string; matches: (o: Outcome) => boolean }[] = [];

const knownBug = (o: Outcome) => KNOWN_BUGS.find((k) => k.matches(o))?.name;

// ---------------------------------------------------------------------------------------------
// Sending and judging

const STACK_TRACE = /\n\s+at |\bat [\w.<>]+ \(|\.ts:\d+|\.js:\d+|node_modules|Error: /;

async function send(url: string, req: FuzzRequest): Promise<Outcome> {
  const problems: string[] = [];
  let status = 0;
  let text = '';
  let headers: Headers | undefined;
  try {
    const res = await fetch(url + req.path, {
      method: req.method,
      headers: req.headers,
      body:
        req.body === undefined
          ? undefined
          : typeof req.body === 'string'
            ? req.body
            : new Uint8Array(req.body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    status = res.status;
    headers = res.headers;
    text = await res.text();
  } catch (err) {
    const name = (err as Error).name;
    problems.push(
      name === 'TimeoutError'
        ? `no answer in ${REQUEST_TIMEOUT_MS} ms`
        : `request failed: ${String(err)} (${String((err as { cause?: unknown }).cause)})`,
    );
    return {
      req,
      status,
      outcome: name === 'TimeoutError' ? 'timeout' : 'network error',
      problems,
      bodyPreview: '',
    };
  }
  if (status < 400 || status > 499) problems.push(`status ${status}`);
  let body: Json | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      body = parsed as Json;
  } catch {
    // judged below
  }
  if (!body) problems.push('the body is not a JSON object');
  const message = body?.message;
  if (typeof message !== 'string' || message === '') problems.push('no message');
  if (STACK_TRACE.test(text)) problems.push('a stack trace or internal detail in the body');
  let outcome = String(status);
  if (req.kind === 'ecs') {
    const type = body?.__type;
    if (typeof type !== 'string' || type === '') problems.push('no __type');
    const header = headers?.get('x-amzn-errortype');
    if (!header) problems.push('no X-Amzn-ErrorType header');
    else if (header !== type)
      problems.push(`X-Amzn-ErrorType ${header} is not __type ${String(type)}`);
    outcome = `${status} ${String(type)}`;
  }
  return { req, status, outcome, problems, bodyPreview: text.slice(0, 300) };
}

async function runAll(url: string, reqs: FuzzRequest[], concurrency: number): Promise<Outcome[]> {
  const results: Outcome[] = new Array(reqs.length);
  let next = 0;
  const worker = async () => {
    while (next < reqs.length) {
      const i = next++;
      results[i] = await send(url, reqs[i]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

function describeRequest(r: FuzzRequest): string {
  const body =
    r.body === undefined
      ? '(no body)'
      : typeof r.body === 'string'
        ? r.body
        : r.body.toString('latin1');
  const preview = body.length > 240 ? `${body.slice(0, 240)}… (${body.length} bytes)` : body;
  return `${r.method} ${r.path.slice(0, 200)} target=${r.headers['x-amz-target'] ?? '-'} content-type=${r.headers['content-type'] ?? '-'} body=${JSON.stringify(preview)}`;
}

function summaryTable(results: Outcome[]): string {
  const byClass = new Map<string, Map<string, number>>();
  for (const r of results) {
    const m = byClass.get(r.req.cls) ?? new Map<string, number>();
    m.set(r.outcome, (m.get(r.outcome) ?? 0) + 1);
    byClass.set(r.req.cls, m);
  }
  const lines = [
    `fuzz: ${results.length} inputs, seed ${SEED}`,
    `${'class'.padEnd(24)} ${'n'.padStart(5)}  answers`,
  ];
  for (const [cls, m] of [...byClass].sort(([a], [b]) => a.localeCompare(b))) {
    const n = [...m.values()].reduce((a, b) => a + b, 0);
    const answers = [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([o, c]) => `${o}: ${c}`)
      .join(', ');
    lines.push(`${cls.padEnd(24)} ${String(n).padStart(5)}  ${answers}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('fuzz: the ECS JSON protocol and the /v1 routes refuse what is invalid, and only that', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let url: string;
  let stateUrl: string;
  let fixtures: Fixtures;

  const ecs = async (op: string, body: Json): Promise<Json> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': AMZ_JSON, 'x-amz-target': `${PREFIX}.${op}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${op} ${JSON.stringify(body)}: ${res.status} ${text}`);
    return JSON.parse(text) as Json;
  };

  const pages = async (op: string, body: Json, member: string): Promise<string[]> => {
    const all: string[] = [];
    let nextToken: string | undefined;
    do {
      const res = await ecs(op, { ...body, ...(nextToken ? { nextToken } : {}) });
      all.push(...(res[member] as string[]));
      nextToken = res.nextToken as string | undefined;
    } while (nextToken);
    return all;
  };

  /** What the API shows of everything stored. */
  const snapshot = async (): Promise<Json> => {
    const clusterArns = await pages('ListClusters', {}, 'clusterArns');
    const clusters = await ecs('DescribeClusters', { clusters: clusterArns, include: ['TAGS'] });
    const perCluster: Json = {};
    for (const cluster of clusterArns) {
      const serviceArns = await pages('ListServices', { cluster }, 'serviceArns');
      const services = serviceArns.length
        ? await ecs('DescribeServices', { cluster, services: serviceArns, include: ['TAGS'] })
        : {};
      const running = await pages('ListTasks', { cluster }, 'taskArns');
      const stopped = await pages('ListTasks', { cluster, desiredStatus: 'STOPPED' }, 'taskArns');
      const tasks = [...running, ...stopped];
      const describedTasks = tasks.length
        ? await ecs('DescribeTasks', { cluster, tasks, include: ['TAGS'] })
        : {};
      const instanceArns = await pages(
        'ListContainerInstances',
        { cluster },
        'containerInstanceArns',
      );
      const instances = instanceArns.length
        ? await ecs('DescribeContainerInstances', { cluster, containerInstances: instanceArns })
        : {};
      const attributes = await ecs('ListAttributes', { cluster, targetType: 'container-instance' });
      perCluster[cluster] = {
        serviceArns,
        services,
        tasks,
        describedTasks,
        instanceArns,
        instances,
        attributes,
      };
    }
    const taskDefinitions: Json = {};
    for (const td of ['web', 'web:1', 'web:2']) {
      taskDefinitions[td] = await ecs('DescribeTaskDefinition', {
        taskDefinition: td,
        include: ['TAGS'],
      });
    }
    const missingRevision = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': AMZ_JSON, 'x-amz-target': `${PREFIX}.DescribeTaskDefinition` },
      body: JSON.stringify({ taskDefinition: 'web:3' }),
    });
    const otherFamilies: Json = {};
    for (const family of ['fuzzfamily', 'fuzzhuge', 'nope']) {
      otherFamilies[family] = (
        await fetch(url, {
          method: 'POST',
          headers: { 'content-type': AMZ_JSON, 'x-amz-target': `${PREFIX}.DescribeTaskDefinition` },
          body: JSON.stringify({ taskDefinition: family }),
        })
      ).status;
    }
    return {
      clusterArns,
      clusters,
      perCluster,
      taskDefinitions,
      web3Status: missingRevision.status,
      otherFamilies,
    };
  };

  beforeAll(async () => {
    const plane = await startControlPlane({
      logger: createLogger('api-fuzz-int', process.env.LOG_LEVEL ?? 'fatal'),
      // The fixture instance has no agent sending heartbeats; it must stay as it is.
      state: { AGENT_HEARTBEAT_TTL_MS: String(60 * 60 * 1000) },
      scheduler: { AGENT_CALL_TIMEOUT_MS: '2000' },
    });
    stops.push(() => plane.stop());
    stateUrl = plane.state.grpcUrl;
    url = plane.api.url;

    // Fixtures: two revisions of a task definition, a cluster with an instance (whose agent
    // is not there: nothing is started on it), an attribute, and a service that wants no tasks.
    const web = {
      family: 'web',
      containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 64 }],
      tags: [{ key: 'team', value: 'fuzz' }],
    };
    await ecs('RegisterTaskDefinition', web);
    await ecs('RegisterTaskDefinition', web);
    await ecs('CreateCluster', { clusterName: 'fuzz', tags: [{ key: 'k', value: 'v' }] });
    const stateClient = createStateClient(stateUrl);
    const instance = await firstValueFrom(
      stateClient.client.registerContainerInstance({
        cluster: 'fuzz',
        containerInstanceArn: '',
        ec2InstanceId: 'i-fuzz',
        total: { cpu: 1024, memory: 512, ports: [22], portsUdp: [] },
        attributes: [{ name: 'ecs.os-type', value: 'linux' }],
        agentVersion: 'test',
        dockerVersion: '',
        agentAddress: `127.0.0.1:${await closedPort()}`,
        hostname: 'fuzz-host',
        hostAddress: '127.0.0.1',
      }),
    );
    stateClient.close();
    fixtures = {
      instanceArn: instance.containerInstanceArn,
      instanceId: instance.containerInstanceArn.split('/').pop()!,
    };
    await ecs('PutAttributes', {
      cluster: 'fuzz',
      attributes: [{ name: 'stack', value: 'prod', targetId: fixtures.instanceArn }],
    });
    await ecs('CreateService', {
      cluster: 'fuzz',
      serviceName: 'svc',
      taskDefinition: 'web',
      desiredCount: 0,
      tags: [{ key: 'k', value: 'v' }],
    });
  });

  afterAll(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('answers every invalid input with a 4xx error and changes nothing', async () => {
    // The service scheduler may still record the new service's steady state: wait until what
    // the API shows stops moving.
    let before = await snapshot();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const again = await snapshot();
      if (JSON.stringify(again) === JSON.stringify(before)) break;
      before = again;
    }

    const requests = [...buildRequests(fixtures), ...v1DeepRequests()];
    const started = Date.now();
    // Bodies of ~900 KB that reach state can drop its connection (a known state bug, above),
    // which would fail unrelated requests in flight: they go last, one at a time.
    const isolated = (r: FuzzRequest) => {
      const n = r.body?.length ?? 0;
      return n > 800_000 && n <= MB;
    };
    const results = [
      ...(await runAll(
        url,
        requests.filter((r) => !isolated(r)),
        CONCURRENCY,
      )),
      ...(await runAll(url, requests.filter(isolated), 1)),
    ];
    await new Promise((r) => setTimeout(r, 1000));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);

    const healthz = await fetch(`${url}/healthz`);
    const readyz = await fetch(`${url}/readyz`);
    const stateClient = createStateClient(stateUrl);
    const stateAnswers = await firstValueFrom(
      stateClient.client.listClusters({ maxResults: 1, nextToken: '' }),
    )
      .then(() => true)
      .catch(() => false);
    stateClient.close();
    const after = await snapshot();

    for (const r of results) {
      const known = r.problems.length > 0 ? knownBug(r) : undefined;
      if (known) r.outcome = `known: ${known}`;
    }
    const failures = results.filter((r) => r.problems.length > 0 && !knownBug(r));
    // The summary is this test's report (how each class of input was answered).
    // eslint-disable-next-line no-console
    console.log(
      `${summaryTable(results)}\n${results.length} requests in ${seconds} s; ${failures.length} broke an invariant` +
        failures
          .slice(0, 25)
          .map(
            (f) =>
              `\n  [${f.req.cls} ${f.req.op}] ${f.problems.join('; ')}\n    ${describeRequest(f.req)}\n    → ${f.bodyPreview}`,
          )
          .join(''),
    );

    const context = `(FUZZ_SEED=${SEED} reproduces this run)`;
    expect({ healthz: healthz.status, readyz: readyz.status, stateAnswers, context }).toEqual({
      healthz: 200,
      readyz: 200,
      stateAnswers: true,
      context,
    });
    expect({ after, context }).toEqual({ after: before, context });
    expect({
      failures: failures.map(
        (f) => `[${f.req.cls} ${f.req.op}] ${f.problems.join('; ')}: ${describeRequest(f.req)}`,
      ),
      context,
    }).toEqual({
      failures: [],
      context,
    });
  });
});
