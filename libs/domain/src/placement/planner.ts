import type { InstanceResources, ResourceClaim } from '../resources';
import {
  CompiledPlacementOptions,
  compilePlacementOptions,
  PlacementConstraintInput,
  PlacementStrategyInput,
  strategyLabel,
} from './options';
import { evaluateQuery, QueryTarget } from './query-language';
import { RandomSource } from './random';

/** One container instance as the planner sees it. */
export interface SnapshotInstance extends QueryTarget {
  arn: string;
  /** ACTIVE, DRAINING, INACTIVE …; only ACTIVE instances take tasks. */
  status: string;
  /** What is left: cpu units, MiB, and the TCP/UDP host ports already taken. */
  remaining: InstanceResources;
}

/** A read-only view of one cluster's instances; the planner never modifies it. */
export interface ClusterSnapshot {
  instances: readonly SnapshotInstance[];
}

export interface RequiredAttribute {
  name: string;
  value?: string;
}

/** N identical tasks to place (RunTask count, or a service's missing tasks). */
export interface PlacementRequest {
  count: number;
  /** What each task reserves (`taskClaim`: memoryReservation when set). */
  claim: ResourceClaim;
  /** The task group: RunTask's `group`, default `family:<family>`; `service:<name>` for services. */
  group: string;
  /** The task definition's requiresAttributes (name, optional value). */
  requiresAttributes?: readonly RequiredAttribute[];
  taskDefinitionConstraints?: readonly PlacementConstraintInput[];
  constraints?: readonly PlacementConstraintInput[];
  /** Empty or missing: random (RunTask's default). */
  strategy?: readonly PlacementStrategyInput[];
}

export interface PlanOptions {
  /** Defaults to Math.random; pass `seededRandom(seed)` for reproducible plans. */
  random?: RandomSource;
  /** Reuse options compiled once (`compilePlacementOptions`) across re-plans. */
  compiled?: CompiledPlacementOptions;
}

/** ECS failure reasons, plus STATUS which only explanations use. */
export const PLACEMENT_REASONS = {
  STATUS: 'STATUS',
  AGENT: 'AGENT',
  ATTRIBUTE: 'ATTRIBUTE',
  CPU: 'RESOURCE:CPU',
  MEMORY: 'RESOURCE:MEMORY',
  PORTS: 'RESOURCE:PORTS',
  PORTS_UDP: 'RESOURCE:PORTS_UDP',
  MEMBER_OF: 'MemberOf placement constraint unsatisfied.',
  DISTINCT_INSTANCE: 'DistinctInstance placement constraint unsatisfied.',
} as const;
export type PlacementFailureReason = (typeof PLACEMENT_REASONS)[keyof typeof PLACEMENT_REASONS];

/** An ECS `Failure`: arn is the instance that came closest. */
export interface PlacementFailure {
  arn: string;
  reason: PlacementFailureReason;
  detail: string;
}

export type PlannedTask =
  { placed: true; instanceArn: string } | { placed: false; failure: PlacementFailure };

export type TaskPlan =
  | { kind: 'plan'; placements: PlannedTask[] }
  /** No ACTIVE instance in the cluster: ECS rejects the whole call (NO_CONTAINER_INSTANCES). */
  | { kind: 'no-instances' };

/** Every check an instance fails, in the order placement applies them. */
const STAGES: PlacementFailureReason[] = [
  PLACEMENT_REASONS.STATUS,
  PLACEMENT_REASONS.AGENT,
  PLACEMENT_REASONS.ATTRIBUTE,
  PLACEMENT_REASONS.CPU,
  PLACEMENT_REASONS.MEMORY,
  PLACEMENT_REASONS.PORTS,
  PLACEMENT_REASONS.PORTS_UDP,
  PLACEMENT_REASONS.MEMBER_OF,
  PLACEMENT_REASONS.DISTINCT_INSTANCE,
];

export interface CheckFailure {
  reason: PlacementFailureReason;
  detail: string;
}

/**
 * With random first, how many instances a task draws (uniformly, among those that pass the
 * static checks) before it scans them all: when at least a tenth fit, 32 draws miss them all
 * 3% of the time.
 */
const RANDOM_PROBES = 32;

const enum StrategyKind {
  BinpackCpu,
  BinpackMemory,
  SpreadInstance,
  SpreadAttribute,
  Random,
}

/**
 * The planner's working copy of the cluster. Indexes are positions in `instances` (the
 * snapshot's ACTIVE instances in snapshot order). Only what placing a task changes is copied
 * (cpu, memory, ports, the group's count, the instance's query view); the snapshot is never
 * written. An instance is copied (and its static checks and memberOf evaluated) when it is
 * first looked at: random placement looks at a few instances per task, not at all of them.
 */
class PlanningState {
  readonly instances: SnapshotInstance[];
  readonly cpu: Float64Array;
  readonly memory: Float64Array;
  readonly ports: (readonly number[])[];
  readonly portsUdp: (readonly number[])[];
  /** Tasks of the request's group on each instance. */
  readonly groupCount: Int32Array;
  /** For memberOf: the instance as it is after this plan's placements so far. */
  readonly views: QueryTarget[];
  /** Static checks passed: agent connected and required attributes present. */
  readonly staticOk: Uint8Array;
  readonly memberOfOk: Uint8Array;
  /** Per spread-on-attribute strategy: each instance's value, and tasks of the group per value. */
  /** Per spread-on-attribute strategy: each instance's value as an id, and tasks per value id. */
  readonly spreadValueIds: (Int32Array | undefined)[];
  readonly spreadCounts: (Float64Array | undefined)[];
  readonly claimHasDuplicatePorts: boolean;
  readonly claimHasDuplicatePortsUdp: boolean;
  readonly strategyKinds: Int8Array;
  /** 1 once instance i is copied (see `load`). */
  private readonly loaded: Uint8Array;
  private readonly required: readonly RequiredAttribute[];

  constructor(
    snapshot: ClusterSnapshot,
    readonly request: PlacementRequest,
    readonly options: CompiledPlacementOptions,
  ) {
    this.instances = snapshot.instances.filter((i) => i.status === 'ACTIVE');
    const n = this.instances.length;
    this.cpu = new Float64Array(n);
    this.memory = new Float64Array(n);
    this.ports = new Array(n);
    this.portsUdp = new Array(n);
    this.groupCount = new Int32Array(n);
    this.views = new Array(n);
    this.staticOk = new Uint8Array(n);
    this.memberOfOk = new Uint8Array(n);
    this.loaded = new Uint8Array(n);
    this.required = request.requiresAttributes ?? [];
    this.spreadValueIds = [];
    this.spreadCounts = [];
    for (const strategy of options.strategies) {
      if (strategy.type !== 'spread' || strategy.field !== 'attribute') {
        this.spreadValueIds.push(undefined);
        this.spreadCounts.push(undefined);
        continue;
      }
      // Values are interned so scoring is two array reads; instances without the attribute
      // share one value. Tasks of the group count wherever they run, ACTIVE or not.
      const ids = new Map<string | undefined, number>();
      const idOf = (inst: SnapshotInstance) => {
        const v = attributeValue(inst, strategy.attribute);
        let id = ids.get(v);
        if (id === undefined) ids.set(v, (id = ids.size));
        return id;
      };
      this.spreadValueIds.push(Int32Array.from(this.instances, idOf));
      const tasksPerValue: number[] = [];
      for (const inst of snapshot.instances) {
        const id = idOf(inst);
        tasksPerValue[id] = (tasksPerValue[id] ?? 0) + (inst.taskGroups[request.group] ?? 0);
      }
      this.spreadCounts.push(Float64Array.from(tasksPerValue, (c) => c ?? 0));
    }
    this.strategyKinds = Int8Array.from(options.strategies, (st) =>
      st.type === 'binpack'
        ? st.field === 'cpu'
          ? StrategyKind.BinpackCpu
          : StrategyKind.BinpackMemory
        : st.type === 'spread'
          ? st.field === 'instanceId'
            ? StrategyKind.SpreadInstance
            : StrategyKind.SpreadAttribute
          : StrategyKind.Random,
    );
    this.claimHasDuplicatePorts = hasDuplicate(request.claim.ports);
    this.claimHasDuplicatePortsUdp = hasDuplicate(request.claim.portsUdp);
  }

  /** Copies instance i into the working arrays, once, before anything reads them. */
  private load(i: number): void {
    this.loaded[i] = 1;
    const inst = this.instances[i];
    this.cpu[i] = inst.remaining.cpu;
    this.memory[i] = inst.remaining.memory;
    this.ports[i] = inst.remaining.ports;
    this.portsUdp[i] = inst.remaining.portsUdp;
    this.groupCount[i] = inst.taskGroups[this.request.group] ?? 0;
    this.views[i] = inst;
    this.staticOk[i] =
      inst.agentConnected && this.required.every((a) => attributeSatisfied(inst, a)) ? 1 : 0;
    this.memberOfOk[i] = this.staticOk[i] && this.memberOfHolds(i) ? 1 : 0;
  }

  /**
   * Copies every instance not copied yet. The methods below read the working arrays as they
   * are, so a scan loads all first; a random draw goes through `fitsLoading`.
   */
  loadAll(): void {
    for (let i = 0; i < this.instances.length; i++) if (!this.loaded[i]) this.load(i);
  }

  /** `fits` for an instance that may not be copied yet (random draws). */
  fitsLoading(i: number): boolean {
    if (!this.loaded[i]) this.load(i);
    return this.fits(i);
  }

  memberOfHolds(i: number): boolean {
    for (const c of this.options.memberOf) if (!evaluateQuery(c.query, this.views[i])) return false;
    return true;
  }

  /** The hot path: does the next task fit on instance i now? */
  fits(i: number): boolean {
    const claim = this.request.claim;
    if (!this.staticOk[i] || this.cpu[i] < claim.cpu || this.memory[i] < claim.memory) return false;
    if (
      claim.ports.length > 0 &&
      (this.claimHasDuplicatePorts || overlaps(claim.ports, this.ports[i]))
    )
      return false;
    if (
      claim.portsUdp.length > 0 &&
      (this.claimHasDuplicatePortsUdp || overlaps(claim.portsUdp, this.portsUdp[i]))
    )
      return false;
    if (!this.memberOfOk[i]) return false;
    if (this.options.distinctInstance && this.groupCount[i] > 0) return false;
    return true;
  }

  /** Takes one task's claim on instance i and counts it in its group. */
  place(i: number): void {
    const claim = this.request.claim;
    const group = this.request.group;
    this.cpu[i] -= claim.cpu;
    this.memory[i] -= claim.memory;
    if (claim.ports.length > 0) this.ports[i] = [...this.ports[i], ...claim.ports];
    if (claim.portsUdp.length > 0) this.portsUdp[i] = [...this.portsUdp[i], ...claim.portsUdp];
    this.groupCount[i] += 1;
    const view = this.views[i];
    this.views[i] = {
      ...view,
      runningTasksCount: view.runningTasksCount + 1,
      taskGroups: { ...view.taskGroups, [group]: (view.taskGroups[group] ?? 0) + 1 },
    };
    if (this.options.memberOf.some((c) => c.query.dynamic)) {
      this.memberOfOk[i] = this.staticOk[i] && this.memberOfHolds(i) ? 1 : 0;
    }
    for (let s = 0; s < this.spreadCounts.length; s++) {
      const counts = this.spreadCounts[s];
      if (counts) counts[this.spreadValueIds[s]![i]] += 1;
    }
  }

  /** The strategy's score of instance i: lower is preferred. */
  score(s: number, i: number, randomKey: (i: number) => number): number {
    switch (this.strategyKinds[s]) {
      case StrategyKind.BinpackCpu:
        return this.cpu[i];
      case StrategyKind.BinpackMemory:
        return this.memory[i];
      case StrategyKind.SpreadInstance:
        return this.groupCount[i];
      case StrategyKind.SpreadAttribute:
        return this.spreadCounts[s]![this.spreadValueIds[s]![i]];
      default:
        return randomKey(i);
    }
  }

  /** Every check instance i fails for the next task, in placement order. */
  failures(i: number): CheckFailure[] {
    const inst = this.instances[i];
    const claim = this.request.claim;
    const out: CheckFailure[] = [];
    if (!inst.agentConnected) {
      out.push({ reason: PLACEMENT_REASONS.AGENT, detail: 'the agent is disconnected' });
    }
    for (const a of this.request.requiresAttributes ?? []) {
      if (attributeSatisfied(inst, a)) continue;
      const have = attributeValue(inst, a.name);
      out.push({
        reason: PLACEMENT_REASONS.ATTRIBUTE,
        detail:
          have === undefined
            ? `missing required attribute ${a.name}`
            : `attribute ${a.name} is '${have}', the task definition requires '${a.value}'`,
      });
    }
    if (this.cpu[i] < claim.cpu) {
      out.push({
        reason: PLACEMENT_REASONS.CPU,
        detail: `${this.cpu[i]} CPU units free of ${claim.cpu} needed`,
      });
    }
    if (this.memory[i] < claim.memory) {
      out.push({
        reason: PLACEMENT_REASONS.MEMORY,
        detail: `${this.memory[i]} MiB free of ${claim.memory} needed`,
      });
    }
    const tcp = portConflicts(claim.ports, this.ports[i]);
    if (tcp.length > 0) {
      out.push({ reason: PLACEMENT_REASONS.PORTS, detail: portsDetail(tcp, 'tcp') });
    }
    const udp = portConflicts(claim.portsUdp, this.portsUdp[i]);
    if (udp.length > 0) {
      out.push({ reason: PLACEMENT_REASONS.PORTS_UDP, detail: portsDetail(udp, 'udp') });
    }
    for (const c of this.options.memberOf) {
      if (!evaluateQuery(c.query, this.views[i])) {
        out.push({
          reason: PLACEMENT_REASONS.MEMBER_OF,
          detail: `does not satisfy memberOf(${c.query.expression})${c.source === 'taskDefinition' ? ' from the task definition' : ''}`,
        });
      }
    }
    if (this.options.distinctInstance && this.groupCount[i] > 0) {
      out.push({
        reason: PLACEMENT_REASONS.DISTINCT_INSTANCE,
        detail: `already runs ${this.groupCount[i]} task(s) of group '${this.request.group}'`,
      });
    }
    return out;
  }

  /** Why the next task fits nowhere: the instance that came closest, and a tally. */
  noFit(): PlacementFailure {
    this.loadAll();
    const claim = this.request.claim;
    const tally = new Map<PlacementFailureReason, number>();
    let best: { i: number; stage: number; gap: number; first: CheckFailure } | undefined;
    for (let i = 0; i < this.instances.length; i++) {
      const first = this.failures(i)[0];
      if (!first) continue; // fits after all: callers only ask when nothing fits
      tally.set(first.reason, (tally.get(first.reason) ?? 0) + 1);
      const stage = STAGES.indexOf(first.reason);
      const gap =
        first.reason === PLACEMENT_REASONS.CPU
          ? claim.cpu - this.cpu[i]
          : first.reason === PLACEMENT_REASONS.MEMORY
            ? claim.memory - this.memory[i]
            : 0;
      if (!best || stage > best.stage || (stage === best.stage && gap < best.gap)) {
        best = { i, stage, gap, first };
      }
    }
    const arn = this.instances[best!.i].arn;
    const summary = STAGES.filter((r) => tally.has(r))
      .map((r) => `${tally.get(r)} ${r}`)
      .join(', ');
    return {
      arn,
      reason: best!.first.reason,
      detail: `No container instance met all of its requirements. Closest is ${arn}: ${best!.first.detail}. Of ${this.instances.length} ACTIVE instances: ${summary}.`,
    };
  }
}

/**
 * Places `request.count` identical tasks one at a time on a snapshot of the cluster.
 *
 * For each task: the candidates are the ACTIVE instances that pass every check (agent
 * connected, requiresAttributes, CPU, MEMORY, PORTS, PORTS_UDP, every memberOf, and
 * distinctInstance: no task of the request's group on it, counting tasks placed earlier in
 * this plan); the strategies then choose like ECS chains them: the first strategy ranks the
 * candidates, the next breaks its ties, and so on (binpack: least remaining cpu/memory;
 * spread: fewest tasks of the group on the instance / on instances with the same attribute
 * value — a value with none counts 0, instances without the attribute share one value;
 * random: uniformly among the instances still tied, one draw per task — strategies after a
 * random cannot matter). Without random, what is still tied goes to the instance first in
 * snapshot order. The task is then taken from the working copy (resources,
 * ports, group and task counts), so later tasks see it.
 *
 * A task that fits nowhere fails with the reason of the instance that came closest (the one
 * that passed the most checks, in the order above; for CPU/MEMORY the smallest shortfall),
 * its arn, and a detail with the numbers and a tally of reasons. Nothing changes after a
 * failure, so the request's remaining tasks fail the same way.
 *
 * Pure: the snapshot is not modified. Throws InvalidParameterError for invalid constraints or
 * strategies (see `compilePlacementOptions`).
 *
 * Cost: O(instances) to set up. The first scan copies and checks every instance once
 * (O(instances × memberOf constraints)); each scan then costs O(instances × strategies) per
 * task, with no allocation except on the chosen instance. With random first, a task usually
 * takes a few random draws instead (until one fits, see RANDOM_PROBES), and only the instances
 * drawn are copied and checked.
 */
export function planTasks(
  snapshot: ClusterSnapshot,
  request: PlacementRequest,
  options: PlanOptions = {},
): TaskPlan {
  const compiled = options.compiled ?? compileOptionsOf(request);
  const random = options.random ?? Math.random;
  const state = new PlanningState(snapshot, request, compiled);
  const n = state.instances.length;
  if (n === 0) return { kind: 'no-instances' };

  // A random draw never ties, so strategies after the first `random` cannot matter: rank by
  // the ones before it, then pick uniformly among the instances still tied (one draw per
  // task). Without `random`, what is still tied goes to the first in snapshot order.
  const firstRandom = compiled.strategies.findIndex((s) => s.type === 'random');
  const ranked = firstRandom < 0 ? compiled.strategies.length : firstRandom;
  const noRandom = () => Number.NaN; // never called: random is not among the ranked
  // Candidates that pass the static checks, for the scan (the rest are never looked at
  // again); listed on the first scan, which random draws usually spare.
  let candidates: number[] | undefined;

  const placements: PlannedTask[] = [];
  const tied: number[] = [];
  const bestScores = new Float64Array(ranked); // scores only change when a task is placed
  for (let task = 0; task < request.count; task++) {
    // Random first (RunTask's default): every instance that fits is tied, and the pick is
    // uniform among them. Drawing ACTIVE instances uniformly until one fits picks with that
    // same distribution without checking every instance; after RANDOM_PROBES misses (few fit)
    // the scan below picks, uniformly too, or finds that nothing fits.
    if (firstRandom === 0) {
      let drawn = -1;
      for (let probe = 0; probe < RANDOM_PROBES && drawn < 0; probe++) {
        const i = Math.min(n - 1, Math.floor(random() * n));
        if (state.fitsLoading(i)) drawn = i;
      }
      if (drawn >= 0) {
        state.place(drawn);
        placements.push({ placed: true, instanceArn: state.instances[drawn].arn });
        continue;
      }
    }
    let best = -1;
    tied.length = 0;
    if (!candidates) {
      state.loadAll();
      candidates = [];
      for (let i = 0; i < n; i++) if (state.staticOk[i]) candidates.push(i);
    }
    for (const i of candidates) {
      if (!state.fits(i)) continue;
      let order = best < 0 ? -1 : 0;
      for (let s = 0; order === 0 && s < ranked; s++) {
        order = state.score(s, i, noRandom) - bestScores[s];
      }
      if (order < 0) {
        best = i;
        tied.length = 0;
        for (let s = 0; s < ranked; s++) bestScores[s] = state.score(s, i, noRandom);
      }
      if (order <= 0) tied.push(i);
    }
    if (best < 0) {
      const failure = state.noFit();
      for (; task < request.count; task++) placements.push({ placed: false, failure });
      break;
    }
    if (firstRandom >= 0 && tied.length > 1) {
      best = tied[Math.min(tied.length - 1, Math.floor(random() * tied.length))];
    }
    state.place(best);
    placements.push({ placed: true, instanceArn: state.instances[best].arn });
  }
  return { kind: 'plan', placements };
}

export interface StrategyStanding {
  /** e.g. `binpack(memory)`, `spread(attribute:ecs.availability-zone)`, `random`. */
  strategy: string;
  /** Lower is preferred: remaining cpu/MiB, tasks of the group, or the random draw. */
  score: number;
  /** 1 = best; equal scores share a rank. */
  rank: number;
}

export type InstanceVerdict =
  | {
      arn: string;
      feasible: false;
      /** Every check it fails, in placement order. */
      failures: CheckFailure[];
    }
  | {
      arn: string;
      feasible: true;
      /** Place in the chained ordering: 1 is where the next task goes. */
      rank: number;
      strategies: StrategyStanding[];
    };

export interface PlacementExplanation {
  group: string;
  claim: ResourceClaim;
  /** The strategies applied, in order (the default when the request gives none). */
  strategies: string[];
  /** Every instance of the snapshot, in snapshot order. */
  instances: InstanceVerdict[];
  /** Where the next task would go, or why it would fail. */
  next: { placed: true; instanceArn: string } | { placed: false; failure?: PlacementFailure };
}

/**
 * Why each instance would or would not take the request's next task: infeasible with every
 * failing check, or feasible with its score and rank in each strategy and in the chained
 * ordering. Commits nothing; uses the same checks and ordering as `planTasks`. With a random
 * strategy its ranking is one draw (a score per instance), so `next` may differ from where
 * `planTasks` puts the task; without random they agree.
 */
export function explainPlacement(
  snapshot: ClusterSnapshot,
  request: PlacementRequest,
  options: PlanOptions = {},
): PlacementExplanation {
  const compiled = options.compiled ?? compileOptionsOf(request);
  const random = options.random ?? Math.random;
  const state = new PlanningState(snapshot, request, compiled);
  state.loadAll();
  const index = new Map(state.instances.map((inst, i) => [inst, i]));
  const draws = new Map<number, number>();
  const randomKey = (i: number) => {
    if (!draws.has(i)) draws.set(i, random());
    return draws.get(i)!;
  };

  const feasible: number[] = [];
  for (let i = 0; i < state.instances.length; i++) if (state.fits(i)) feasible.push(i);
  const scores = new Map(
    feasible.map((i) => [i, compiled.strategies.map((_, s) => state.score(s, i, randomKey))]),
  );
  const ordered = [...feasible].sort((a, b) => {
    const sa = scores.get(a)!;
    const sb = scores.get(b)!;
    for (let s = 0; s < sa.length; s++) if (sa[s] !== sb[s]) return sa[s] - sb[s];
    return a - b;
  });
  const overallRank = new Map(ordered.map((i, r) => [i, r + 1]));
  const perStrategyRank = compiled.strategies.map((_, s) => {
    const distinct = [...new Set(feasible.map((i) => scores.get(i)![s]))].sort((x, y) => x - y);
    return new Map(distinct.map((v, r) => [v, r + 1]));
  });

  const instances: InstanceVerdict[] = snapshot.instances.map((inst) => {
    const i = index.get(inst);
    if (i === undefined) {
      return {
        arn: inst.arn,
        feasible: false,
        failures: [
          {
            reason: PLACEMENT_REASONS.STATUS,
            detail: `the instance is ${inst.status}; only ACTIVE instances take tasks`,
          },
        ],
      };
    }
    if (!overallRank.has(i)) return { arn: inst.arn, feasible: false, failures: state.failures(i) };
    const sc = scores.get(i)!;
    return {
      arn: inst.arn,
      feasible: true,
      rank: overallRank.get(i)!,
      strategies: compiled.strategies.map((strategy, s) => ({
        strategy: strategyLabel(strategy),
        score: sc[s],
        rank: perStrategyRank[s].get(sc[s])!,
      })),
    };
  });
  const next: PlacementExplanation['next'] =
    ordered.length > 0
      ? { placed: true, instanceArn: state.instances[ordered[0]].arn }
      : { placed: false, failure: state.instances.length > 0 ? state.noFit() : undefined };
  return {
    group: request.group,
    claim: request.claim,
    strategies: compiled.strategies.map(strategyLabel),
    instances,
    next,
  };
}

function compileOptionsOf(request: PlacementRequest): CompiledPlacementOptions {
  return compilePlacementOptions({
    taskDefinitionConstraints: request.taskDefinitionConstraints,
    constraints: request.constraints,
    strategy: request.strategy,
  });
}

function attributeValue(inst: QueryTarget, name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(inst.attributes, name)
    ? inst.attributes[name]
    : undefined;
}

/** requiresAttributes: present, and equal when the requirement names a value. */
function attributeSatisfied(inst: QueryTarget, a: RequiredAttribute): boolean {
  const v = attributeValue(inst, a.name);
  return v !== undefined && (a.value === undefined || a.value === '' || v === a.value);
}

function overlaps(wanted: readonly number[], taken: readonly number[]): boolean {
  for (const p of wanted) if (taken.includes(p)) return true;
  return false;
}

function hasDuplicate(xs: readonly number[]): boolean {
  return new Set(xs).size !== xs.length;
}

/** Ports the claim cannot have: already taken, or asked for twice by the task itself. */
function portConflicts(wanted: readonly number[], taken: readonly number[]): number[] {
  const out = new Set<number>();
  const seen = new Set<number>();
  for (const p of wanted) {
    if (taken.includes(p) || seen.has(p)) out.add(p);
    seen.add(p);
  }
  return [...out].sort((a, b) => a - b);
}

function portsDetail(ports: number[], protocol: 'tcp' | 'udp'): string {
  return `host port${ports.length > 1 ? 's' : ''} ${ports.map((p) => `${p}/${protocol}`).join(', ')} already in use`;
}
