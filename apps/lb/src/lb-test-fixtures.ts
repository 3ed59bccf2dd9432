import type { Listener, LoadBalancer, Rule, TargetGroup } from '@wharf/domain';
import type { LbResourceMessage, LbTargetMessage } from './lb-model';

/** Builders of normalized specs and state messages, for the lb's tests. */
export function targetGroupSpec(arn: string, overrides: Partial<TargetGroup> = {}): TargetGroup {
  return {
    targetGroupArn: arn,
    targetGroupName: arn.split('/').pop() ?? 'tg',
    protocol: 'HTTP',
    port: 80,
    targetType: 'ip',
    healthCheck: {
      path: '/',
      port: 'traffic-port',
      intervalSeconds: 30,
      timeoutSeconds: 5,
      healthyThresholdCount: 5,
      unhealthyThresholdCount: 2,
      matcher: { httpCode: '200' },
    },
    deregistrationDelaySeconds: 300,
    algorithm: 'round_robin',
    stickiness: { enabled: false, type: 'lb_cookie', durationSeconds: 86400 },
    slowStartSeconds: 0,
    tags: [],
    ...overrides,
  };
}

export function loadBalancerSpec(arn: string, idleTimeoutSeconds = 60): LoadBalancer {
  return {
    loadBalancerArn: arn,
    loadBalancerName: arn.split('/').pop() ?? 'lb',
    idleTimeoutSeconds,
    tags: [],
    createdTime: 0,
  };
}

export function resource(
  kind: LbResourceMessage['kind'],
  spec: LoadBalancer | Listener | Rule | TargetGroup,
  version = 1,
): LbResourceMessage {
  const arn =
    'loadBalancerArn' in spec && kind === 'load-balancer'
      ? spec.loadBalancerArn
      : 'ruleArn' in spec
        ? spec.ruleArn
        : 'listenerArn' in spec
          ? spec.listenerArn
          : (spec as TargetGroup).targetGroupArn;
  return {
    arn,
    kind,
    name: '',
    parentArn: '',
    specJson: JSON.stringify(spec),
    version,
    createdAt: 0,
  };
}

export function target(
  targetGroupArn: string,
  id: string,
  port: number,
  overrides: Partial<LbTargetMessage> = {},
): LbTargetMessage {
  return {
    targetGroupArn,
    id,
    port,
    host: id,
    taskArn: '',
    serviceArn: '',
    state: 'initial',
    reason: 'Elb.InitialHealthChecking',
    description: '',
    registeredAt: 1,
    drainingSince: 0,
    updatedAt: 1,
    version: 1,
    ...overrides,
  };
}
