import type { ServiceLoadBalancer } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import { firstValueFrom } from 'rxjs';
import type { ClusterView } from '../cluster-snapshots';

/** How long a target group's settings are trusted before they are read again. */
const GROUP_TTL_MS = 10_000;

/** A target a service task should have in a target group. */
export interface WantedTarget {
  targetGroupArn: string;
  id: string;
  port: number;
  host: string;
  taskArn: string;
}

/** The service's `loadBalancers` (state validated them). */
export function loadBalancersOf(service: common.Service): ServiceLoadBalancer[] {
  try {
    const parsed = JSON.parse(service.loadBalancersJson || '[]') as unknown;
    return Array.isArray(parsed) ? (parsed as ServiceLoadBalancer[]) : [];
  } catch {
    return [];
  }
}

/**
 * The targets of a task: for each of the service's load balancers, the host port its
 * container's port is published on, at the address its instance's ports are reachable on
 * (ECS registers the instance and the dynamic host port). None until the task is RUNNING.
 */
export function targetsOfTask(
  task: common.Task,
  loadBalancers: readonly ServiceLoadBalancer[],
  view: Pick<ClusterView, 'record'>,
): WantedTarget[] {
  if (task.lastStatus !== 'RUNNING' || task.desiredStatus !== 'RUNNING') return [];
  const instance = view.record(task.containerInstanceArn);
  if (!instance) return [];
  const id = instance.ec2InstanceId || task.containerInstanceArn.split('/').pop()!;
  const host = instance.hostAddress || instance.hostname;
  const targets: WantedTarget[] = [];
  for (const lb of loadBalancers) {
    const binding = task.containers
      .find((c) => c.name === lb.containerName)
      ?.networkBindings.find(
        (b) => b.containerPort === lb.containerPort && (b.protocol || 'tcp') === 'tcp',
      );
    if (!binding?.hostPort || !host) continue;
    targets.push({
      targetGroupArn: lb.targetGroupArn,
      id,
      port: binding.hostPort,
      host,
      taskArn: task.taskArn,
    });
  }
  return targets;
}

/** What a sync did, for the service's events. */
export interface TargetChanges {
  registered: Map<string, number>;
  deregistered: Map<string, number>;
}

/**
 * The service scheduler's side of the load balancer (ECS semantics): a service task's targets
 * are registered once it runs and deregistered before it is stopped, the task stopping only
 * after the target group's deregistration delay (in-flight requests finish); the health the
 * lb reports decides whether the task counts as healthy.
 */
export class LoadBalancerTargets {
  private readonly groups = new Map<string, { delayMs: number; readAt: number }>();

  constructor(private readonly state: stateV1.StateServiceClient) {}

  /** The targets state has for the service, by target group. */
  async current(
    service: common.Service,
    loadBalancers: readonly ServiceLoadBalancer[],
  ): Promise<stateV1.LbTarget[]> {
    const groups = [...new Set(loadBalancers.map((lb) => lb.targetGroupArn))];
    const answers = await Promise.all(
      groups.map((targetGroupArn) =>
        firstValueFrom(this.state.describeTargetHealth({ targetGroupArn, targets: [] })),
      ),
    );
    return answers.flatMap((a) => a.targets).filter((t) => t.serviceArn === service.serviceArn);
  }

  /**
   * Registers what should be and is not, and deregisters this service's targets whose task
   * no longer wants them (stopped, lost, or about to stop).
   */
  async sync(
    service: common.Service,
    wanted: readonly WantedTarget[],
    current: readonly stateV1.LbTarget[],
  ): Promise<TargetChanges> {
    const key = (t: { targetGroupArn: string; id: string; port: number }) =>
      `${t.targetGroupArn} ${t.id} ${t.port}`;
    const active = current.filter((t) => t.state !== 'draining' && t.state !== 'unused');
    const have = new Set(active.map(key));
    const want = new Set(wanted.map(key));
    const register = groupBy(
      wanted.filter((t) => !have.has(key(t))),
      (t) => t.targetGroupArn,
    );
    const deregister = groupBy(
      active.filter((t) => !want.has(key(t))),
      (t) => t.targetGroupArn,
    );
    const changes: TargetChanges = { registered: new Map(), deregistered: new Map() };
    for (const [targetGroupArn, targets] of register) {
      await firstValueFrom(
        this.state.registerTargets({
          targetGroupArn,
          targets: targets.map((t) => ({
            id: t.id,
            port: t.port,
            host: t.host,
            taskArn: t.taskArn,
            serviceArn: service.serviceArn,
          })),
        }),
      );
      changes.registered.set(targetGroupArn, targets.length);
    }
    for (const [targetGroupArn, targets] of deregister) {
      await this.deregister(targetGroupArn, targets);
      changes.deregistered.set(targetGroupArn, targets.length);
    }
    return changes;
  }

  /** Deregisters a task's targets; resolves to the longest deregistration delay among them. */
  async deactivate(current: readonly stateV1.LbTarget[], taskArn: string): Promise<number> {
    const mine = current.filter(
      (t) => t.taskArn === taskArn && t.state !== 'draining' && t.state !== 'unused',
    );
    let delayMs = 0;
    for (const [targetGroupArn, targets] of groupBy(mine, (t) => t.targetGroupArn)) {
      await this.deregister(targetGroupArn, targets);
      delayMs = Math.max(delayMs, await this.deregistrationDelayMs(targetGroupArn));
    }
    return delayMs;
  }

  private async deregister(targetGroupArn: string, targets: readonly stateV1.LbTarget[]) {
    await firstValueFrom(
      this.state.deregisterTargets({
        targetGroupArn,
        targets: targets.map((t) => ({
          id: t.id,
          port: t.port,
          host: '',
          taskArn: '',
          serviceArn: '',
        })),
      }),
    );
  }

  private async deregistrationDelayMs(targetGroupArn: string): Promise<number> {
    const cached = this.groups.get(targetGroupArn);
    if (cached && Date.now() - cached.readAt < GROUP_TTL_MS) return cached.delayMs;
    const { resources } = await firstValueFrom(
      this.state.listLbResources({
        kind: 'target-group',
        parentArn: '',
        arns: [targetGroupArn],
        names: [],
      }),
    );
    const spec = resources[0]
      ? (JSON.parse(resources[0].specJson) as { deregistrationDelaySeconds?: number })
      : {};
    const delayMs = (spec.deregistrationDelaySeconds ?? 300) * 1000;
    this.groups.set(targetGroupArn, { delayMs, readAt: Date.now() });
    return delayMs;
  }
}

/**
 * Each task's health as the load balancer sees it: `healthy` only when every target it has is
 * healthy, `unhealthy` when any is, else the first state found (e.g. `initial`).
 */
export function taskTargetHealth(targets: readonly stateV1.LbTarget[]): Map<string, string> {
  const health = new Map<string, string>();
  for (const t of targets) {
    if (!t.taskArn || t.state === 'draining' || t.state === 'unused') continue;
    const before = health.get(t.taskArn);
    if (before === 'unhealthy') continue;
    if (t.state === 'unhealthy' || before === undefined || before === 'healthy') {
      health.set(t.taskArn, t.state);
    }
  }
  return health;
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}
