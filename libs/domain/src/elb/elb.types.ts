/**
 * Wharf's application load balancer resources, shaped like the ELBv2 API's (camelCase
 * members, the same names, enums and defaults), stored by state as JSON specs and served by
 * the lb service. ecs-semantics.md §6 has the ALB facts these follow.
 *
 * The `*Input` types are what a user sends (optional members may be left out); the
 * normalized types (without `Input`) are what `validate*` in this folder returns and what
 * state stores: every default filled in, every value checked.
 */

/** The kinds of resource state stores (`LbResource.kind`). */
export type LbResourceKind = 'load-balancer' | 'listener' | 'rule' | 'target-group';

/** ELBv2 ARNs: `arn:aws:elasticloadbalancing:{region}:{account}:{resource}`. */
export const ELB_ARN_PREFIX = 'arn:aws:elasticloadbalancing:';

// ---------------------------------------------------------------- load balancers

export interface LoadBalancerInput {
  /** 1–32 characters, letters, digits and hyphens, not starting or ending with a hyphen. */
  name: string;
  /** ALB attribute `idle_timeout.timeout_seconds`: 1–4000, default 60. */
  idleTimeoutSeconds?: number;
  tags?: { key: string; value?: string }[];
}

export interface LoadBalancer {
  loadBalancerArn: string;
  loadBalancerName: string;
  idleTimeoutSeconds: number;
  tags: { key: string; value: string }[];
  /** epoch ms */
  createdTime: number;
}

// ---------------------------------------------------------------- actions and conditions

export type ActionType = 'forward' | 'fixed-response' | 'redirect';

export interface TargetGroupTuple {
  targetGroupArn: string;
  /** 0–999, default 1. */
  weight?: number;
}

export interface ForwardConfig {
  targetGroups: TargetGroupTuple[];
  /** Target-group stickiness (cookie AWSALBTG): 1–604800 s. */
  targetGroupStickinessConfig?: { enabled: boolean; durationSeconds?: number };
}

export interface FixedResponseConfig {
  /** "2XX", "4XX" or "5XX" as a 3-digit code, e.g. "404". */
  statusCode: string;
  /** text/plain | text/css | text/html | application/javascript | application/json */
  contentType?: string;
  /** at most 1024 characters */
  messageBody?: string;
}

export interface RedirectConfig {
  /** HTTP, HTTPS or #{protocol}; default #{protocol} */
  protocol?: string;
  /** 1–65535 or #{port}; default #{port} */
  port?: string;
  /** default #{host} */
  host?: string;
  /** starts with /; default /#{path} */
  path?: string;
  /** without the leading ?; default #{query} */
  query?: string;
  statusCode: 'HTTP_301' | 'HTTP_302';
}

export interface Action {
  type: ActionType;
  /** forward to one target group (the same as forwardConfig with one group of weight 1) */
  targetGroupArn?: string;
  forwardConfig?: ForwardConfig;
  fixedResponseConfig?: FixedResponseConfig;
  redirectConfig?: RedirectConfig;
}

export type ConditionField =
  | 'path-pattern'
  | 'host-header'
  | 'http-header'
  | 'http-request-method'
  | 'query-string'
  | 'source-ip';

/**
 * One rule condition, as ELBv2's RuleCondition: `field` plus the config member of that field
 * (or, for path-pattern and host-header, the legacy `values`).
 */
export interface RuleCondition {
  field: ConditionField;
  values?: string[];
  pathPatternConfig?: { values: string[] };
  hostHeaderConfig?: { values: string[] };
  httpHeaderConfig?: { httpHeaderName: string; values: string[] };
  httpRequestMethodConfig?: { values: string[] };
  queryStringConfig?: { values: { key?: string; value: string }[] };
  sourceIpConfig?: { values: string[] };
}

// ---------------------------------------------------------------- listeners and rules

export interface ListenerInput {
  loadBalancerArn: string;
  /** 1–65535; unique over every listener (the lb binds it on each lb replica). */
  port: number;
  /** HTTP only (no certificates here). */
  protocol?: 'HTTP';
  /** exactly one terminal action */
  defaultActions: Action[];
}

export interface Listener {
  listenerArn: string;
  loadBalancerArn: string;
  port: number;
  protocol: 'HTTP';
  defaultActions: Action[];
}

export interface RuleInput {
  listenerArn: string;
  /** 1–50000, unique within the listener. */
  priority: number;
  /** 1–5 conditions (at most one each of host-header, path-pattern, http-request-method and source-ip) */
  conditions: RuleCondition[];
  actions: Action[];
}

export interface Rule {
  ruleArn: string;
  listenerArn: string;
  priority: number;
  conditions: RuleCondition[];
  actions: Action[];
}

// ---------------------------------------------------------------- target groups

export interface HealthCheckInput {
  /** default "/" */
  path?: string;
  /** "traffic-port" (default) or a port number as a string */
  port?: string;
  /** 5–300, default 30 */
  intervalSeconds?: number;
  /** 2–120, default 5; less than the interval */
  timeoutSeconds?: number;
  /** 2–10, default 5 */
  healthyThresholdCount?: number;
  /** 2–10, default 2 */
  unhealthyThresholdCount?: number;
  /** HTTP codes 200–499: "200", "200,202", "200-299"; default "200" */
  matcher?: { httpCode: string };
}

export interface TargetGroupInput {
  /** 1–32 characters, letters, digits and hyphens, not starting or ending with a hyphen. */
  name: string;
  protocol?: 'HTTP';
  /** 1–65535: the port targets receive traffic on unless registered with their own. */
  port: number;
  /** `instance` (ECS registers instance + dynamic host port) or `ip`; cannot change later. */
  targetType?: 'instance' | 'ip';
  healthCheck?: HealthCheckInput;
  /** 0–3600, default 300 */
  deregistrationDelaySeconds?: number;
  /** default round_robin */
  algorithm?: 'round_robin' | 'least_outstanding_requests';
  /** lb_cookie (AWSALB), 1–604800 s, default disabled / 86400 */
  stickiness?: { enabled: boolean; type?: 'lb_cookie'; durationSeconds?: number };
  /** 30–900 or 0 (default); not with least_outstanding_requests */
  slowStartSeconds?: number;
  tags?: { key: string; value?: string }[];
}

export interface TargetGroup {
  targetGroupArn: string;
  targetGroupName: string;
  protocol: 'HTTP';
  port: number;
  targetType: 'instance' | 'ip';
  healthCheck: Required<HealthCheckInput>;
  deregistrationDelaySeconds: number;
  algorithm: 'round_robin' | 'least_outstanding_requests';
  stickiness: { enabled: boolean; type: 'lb_cookie'; durationSeconds: number };
  slowStartSeconds: number;
  tags: { key: string; value: string }[];
}

// ---------------------------------------------------------------- targets

/** ALB target health states. */
export type TargetHealthState =
  'initial' | 'healthy' | 'unhealthy' | 'unused' | 'draining' | 'unavailable';
