import type { ArnContext } from '../arn';
import { ELB_ARN_PREFIX, LbResourceKind } from './elb.types';

/** ELBv2 resource ids: 16 lowercase hex digits. */
export const ELB_RESOURCE_ID_PATTERN = /^[0-9a-f]{16}$/;

const prefix = (ctx: ArnContext) => `${ELB_ARN_PREFIX}${ctx.region}:${ctx.accountId}:`;

function checkId(id: string): string {
  if (!ELB_RESOURCE_ID_PATTERN.test(id)) {
    throw new Error(`an ELB resource id is 16 hex digits, not '${id}'`);
  }
  return id;
}

/** The ELBv2 ARN formats, in the region and account the ECS ARNs use. */
export const elbArns = {
  loadBalancer: (ctx: ArnContext, name: string, id: string) =>
    `${prefix(ctx)}loadbalancer/app/${name}/${checkId(id)}`,
  /** `listener/app/{lbName}/{lbId}/{id}` under the load balancer's ARN. */
  listener: (loadBalancerArn: string, id: string) => {
    const lb = parseElbArn(loadBalancerArn);
    if (lb?.kind !== 'load-balancer')
      throw new Error(`not a load balancer ARN: ${loadBalancerArn}`);
    return `${lb.prefix}listener/app/${lb.path.join('/')}/${checkId(id)}`;
  },
  /** `listener-rule/app/{lbName}/{lbId}/{listenerId}/{id}` under the listener's ARN. */
  rule: (listenerArn: string, id: string) => {
    const listener = parseElbArn(listenerArn);
    if (listener?.kind !== 'listener') throw new Error(`not a listener ARN: ${listenerArn}`);
    return `${listener.prefix}listener-rule/app/${listener.path.join('/')}/${checkId(id)}`;
  },
  targetGroup: (ctx: ArnContext, name: string, id: string) =>
    `${prefix(ctx)}targetgroup/${name}/${checkId(id)}`,
};

export interface ParsedElbArn {
  kind: LbResourceKind;
  region: string;
  accountId: string;
  /** `arn:aws:elasticloadbalancing:{region}:{account}:` */
  prefix: string;
  /**
   * The path after the type (and `app/`): [name, id] for a load balancer or target group;
   * [lbName, lbId, id] for a listener; [lbName, lbId, listenerId, id] for a rule.
   */
  path: string[];
  /** The load balancer or target group name (a listener's or rule's load balancer's). */
  name: string;
  /** The resource's own id (the last path segment). */
  id: string;
}

const ARN_SHAPES: { type: string; kind: LbResourceKind; app: boolean; segments: number }[] = [
  { type: 'loadbalancer', kind: 'load-balancer', app: true, segments: 2 },
  { type: 'listener', kind: 'listener', app: true, segments: 3 },
  { type: 'listener-rule', kind: 'rule', app: true, segments: 4 },
  { type: 'targetgroup', kind: 'target-group', app: false, segments: 2 },
];

/** An ELBv2 ARN of one of the four kinds → its parts; undefined for anything else. */
export function parseElbArn(arn: string): ParsedElbArn | undefined {
  const m = /^(arn:aws:elasticloadbalancing:([^:]*):([^:]*):)([a-z-]+)\/(.+)$/.exec(arn);
  if (!m) return undefined;
  const shape = ARN_SHAPES.find((s) => s.type === m[4]);
  if (!shape) return undefined;
  let path = m[5].split('/');
  if (shape.app) {
    if (path[0] !== 'app') return undefined;
    path = path.slice(1);
  }
  if (path.length !== shape.segments || path.some((p) => p === '')) return undefined;
  if (!path.slice(1).every((id) => ELB_RESOURCE_ID_PATTERN.test(id))) return undefined;
  return {
    kind: shape.kind,
    region: m[2],
    accountId: m[3],
    prefix: m[1],
    path,
    name: path[0],
    id: path[path.length - 1],
  };
}

/** The ARN of the load balancer a listener or rule ARN is under (itself for a load balancer). */
export function loadBalancerArnOf(arn: string): string | undefined {
  const parsed = parseElbArn(arn);
  if (!parsed || parsed.kind === 'target-group') return undefined;
  return `${parsed.prefix}loadbalancer/app/${parsed.path[0]}/${parsed.path[1]}`;
}

/**
 * Targets have no ARN: their events carry this key as `resourceArn` (one per target group,
 * id and port, so per-resource version ordering holds for each target).
 */
export function elbTargetKey(targetGroupArn: string, id: string, port: number): string {
  return `${targetGroupArn}/${id}:${port}`;
}
