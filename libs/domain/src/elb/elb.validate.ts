import { isIPv4, isIPv6 } from 'node:net';
import { InvalidParameterError } from '../errors';
import { parseElbArn } from './elb.arn';
import type {
  Action,
  ConditionField,
  FixedResponseConfig,
  ForwardConfig,
  HealthCheckInput,
  Listener,
  LoadBalancer,
  RedirectConfig,
  Rule,
  RuleCondition,
  TargetGroup,
} from './elb.types';

/**
 * Validation and normalization of the ELB resources a user sends (the `*Input` shapes of
 * elb.types.ts, as parsed JSON): every member is checked, unknown members are refused and
 * defaults are filled in. Errors are InvalidParameterError naming the member path. The ARNs
 * of the resources themselves are assigned by state (they are '' here unless given).
 */

/** Load balancer and target group names (ELBv2). */
export const ELB_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;

export const ELB_LIMITS = {
  conditionsPerRule: 5,
  valuesPerCondition: 3,
  /** ALB "match evaluations" per rule: condition values over all of a rule's conditions. */
  valuesPerRule: 5,
  wildcardsPerRule: 5,
  conditionValueLength: 128,
  httpHeaderNameLength: 40,
  httpRequestMethodLength: 40,
  targetGroupsPerForward: 5,
  tagsPerResource: 50,
  messageBodyLength: 1024,
  redirectComponentLength: 128,
  healthCheckPathLength: 1024,
} as const;

export const FIXED_RESPONSE_CONTENT_TYPES = [
  'text/plain',
  'text/css',
  'text/html',
  'application/javascript',
  'application/json',
] as const;

/** The conditions a rule may have at most one of. */
const SINGLE_CONDITIONS: readonly ConditionField[] = [
  'host-header',
  'path-pattern',
  'http-request-method',
  'source-ip',
];

const CONDITION_CONFIG: Record<ConditionField, keyof RuleCondition> = {
  'path-pattern': 'pathPatternConfig',
  'host-header': 'hostHeaderConfig',
  'http-header': 'httpHeaderConfig',
  'http-request-method': 'httpRequestMethodConfig',
  'query-string': 'queryStringConfig',
  'source-ip': 'sourceIpConfig',
};

const PATH_PATTERN_CHARS = /^[A-Za-z0-9_\-.$/~"'@:+&*?]+$/;
const HOST_HEADER_CHARS = /^[A-Za-z0-9\-.*?]+$/;
/** RFC 9110 token */
const HEADER_NAME_CHARS = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const HTTP_METHOD_CHARS = /^[A-Z_-]+$/;
const PRINTABLE = /^[\x20-\x7e]+$/;
const PRINTABLE_NO_SPACE = /^[\x21-\x7e]+$/;
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

// ---------------------------------------------------------------- load balancers

export function validateLoadBalancer(
  input: unknown,
  loadBalancerArn = '',
  createdTime = 0,
): LoadBalancer {
  const o = objectAt(input, '', 'the load balancer');
  onlyMembers(o, '', ['name', 'idleTimeoutSeconds', 'tags']);
  const name = elbName(o.name, 'name');
  if (name.startsWith('internal-')) {
    throw new InvalidParameterError("name: a load balancer name cannot begin with 'internal-'");
  }
  return {
    loadBalancerArn,
    loadBalancerName: name,
    idleTimeoutSeconds: intAt(o.idleTimeoutSeconds, 'idleTimeoutSeconds', 1, 4000, 60),
    tags: tagsAt(o.tags, 'tags'),
    createdTime,
  };
}

// ---------------------------------------------------------------- listeners and rules

export function validateListener(input: unknown, listenerArn = ''): Listener {
  const o = objectAt(input, '', 'the listener');
  onlyMembers(o, '', ['loadBalancerArn', 'port', 'protocol', 'defaultActions']);
  const loadBalancerArn = arnAt(o.loadBalancerArn, 'loadBalancerArn', 'load-balancer');
  const port = intAt(o.port, 'port', 1, 65535);
  const protocol = enumAt(o.protocol, 'protocol', ['HTTP'] as const, 'HTTP');
  return {
    listenerArn,
    loadBalancerArn,
    port,
    protocol,
    defaultActions: actionsAt(o.defaultActions, 'defaultActions'),
  };
}

export function validateRule(input: unknown, ruleArn = ''): Rule {
  const o = objectAt(input, '', 'the rule');
  onlyMembers(o, '', ['listenerArn', 'priority', 'conditions', 'actions']);
  const listenerArn = arnAt(o.listenerArn, 'listenerArn', 'listener');
  const priority = intAt(o.priority, 'priority', 1, 50000);
  const conditions = conditionsAt(o.conditions, 'conditions');
  return { ruleArn, listenerArn, priority, conditions, actions: actionsAt(o.actions, 'actions') };
}

/** The target groups the actions forward to, each once, in order. */
export function targetGroupArnsOf(actions: readonly Action[]): string[] {
  const arns = new Set<string>();
  for (const action of actions) {
    if (action.targetGroupArn) arns.add(action.targetGroupArn);
    for (const tg of action.forwardConfig?.targetGroups ?? []) arns.add(tg.targetGroupArn);
  }
  return [...arns];
}

function actionsAt(value: unknown, path: string): Action[] {
  const list = arrayAt(value, path);
  if (list.length !== 1) {
    throw new InvalidParameterError(
      `${path} must have exactly one action (forward, fixed-response or redirect), not ${list.length}`,
    );
  }
  return [actionAt(list[0], `${path}[0]`)];
}

function actionAt(value: unknown, path: string): Action {
  const o = objectAt(value, path);
  onlyMembers(o, path, [
    'type',
    'targetGroupArn',
    'forwardConfig',
    'fixedResponseConfig',
    'redirectConfig',
  ]);
  const type = enumAt(o.type, `${path}.type`, ['forward', 'fixed-response', 'redirect'] as const);
  const own = {
    forward: ['targetGroupArn', 'forwardConfig'],
    'fixed-response': ['fixedResponseConfig'],
    redirect: ['redirectConfig'],
  }[type];
  for (const member of [
    'targetGroupArn',
    'forwardConfig',
    'fixedResponseConfig',
    'redirectConfig',
  ]) {
    if (!own.includes(member) && present(o[member])) {
      throw new InvalidParameterError(`${path}.${member} is not allowed in a ${type} action`);
    }
  }
  if (type === 'fixed-response') {
    return {
      type,
      fixedResponseConfig: fixedResponseAt(o.fixedResponseConfig, `${path}.fixedResponseConfig`),
    };
  }
  if (type === 'redirect') {
    return { type, redirectConfig: redirectAt(o.redirectConfig, `${path}.redirectConfig`) };
  }
  const hasArn = present(o.targetGroupArn);
  const hasConfig = present(o.forwardConfig);
  if (hasArn === hasConfig) {
    throw new InvalidParameterError(
      `${path}: a forward action needs either targetGroupArn or forwardConfig${hasArn ? ', not both' : ''}`,
    );
  }
  const forwardConfig: ForwardConfig = hasArn
    ? {
        targetGroups: [
          {
            targetGroupArn: arnAt(o.targetGroupArn, `${path}.targetGroupArn`, 'target-group'),
            weight: 1,
          },
        ],
        targetGroupStickinessConfig: { enabled: false },
      }
    : forwardConfigAt(o.forwardConfig, `${path}.forwardConfig`);
  const groups = forwardConfig.targetGroups;
  return {
    type,
    ...(groups.length === 1 ? { targetGroupArn: groups[0].targetGroupArn } : {}),
    forwardConfig,
  };
}

function forwardConfigAt(value: unknown, path: string): ForwardConfig {
  const o = objectAt(value, path);
  onlyMembers(o, path, ['targetGroups', 'targetGroupStickinessConfig']);
  const list = arrayAt(o.targetGroups, `${path}.targetGroups`);
  if (list.length < 1 || list.length > ELB_LIMITS.targetGroupsPerForward) {
    throw new InvalidParameterError(
      `${path}.targetGroups must have 1 to ${ELB_LIMITS.targetGroupsPerForward} target groups, not ${list.length}`,
    );
  }
  const seen = new Set<string>();
  const targetGroups = list.map((raw, i) => {
    const at = `${path}.targetGroups[${i}]`;
    const tg = objectAt(raw, at);
    onlyMembers(tg, at, ['targetGroupArn', 'weight']);
    const targetGroupArn = arnAt(tg.targetGroupArn, `${at}.targetGroupArn`, 'target-group');
    if (seen.has(targetGroupArn)) {
      throw new InvalidParameterError(
        `${at}.targetGroupArn: target group '${targetGroupArn}' is listed twice`,
      );
    }
    seen.add(targetGroupArn);
    return { targetGroupArn, weight: intAt(tg.weight, `${at}.weight`, 0, 999, 1) };
  });
  const stickinessPath = `${path}.targetGroupStickinessConfig`;
  let targetGroupStickinessConfig: ForwardConfig['targetGroupStickinessConfig'] = {
    enabled: false,
  };
  if (present(o.targetGroupStickinessConfig)) {
    const s = objectAt(o.targetGroupStickinessConfig, stickinessPath);
    onlyMembers(s, stickinessPath, ['enabled', 'durationSeconds']);
    const enabled = boolAt(s.enabled, `${stickinessPath}.enabled`);
    if (enabled) {
      if (!present(s.durationSeconds)) {
        throw new InvalidParameterError(
          `${stickinessPath}.durationSeconds is required when target group stickiness is enabled`,
        );
      }
      targetGroupStickinessConfig = {
        enabled,
        durationSeconds: intAt(s.durationSeconds, `${stickinessPath}.durationSeconds`, 1, 604800),
      };
    } else if (present(s.durationSeconds)) {
      intAt(s.durationSeconds, `${stickinessPath}.durationSeconds`, 1, 604800);
    }
  }
  return { targetGroups, targetGroupStickinessConfig };
}

function fixedResponseAt(value: unknown, path: string): FixedResponseConfig {
  const o = objectAt(value, path, `${path} (required for a fixed-response action)`);
  onlyMembers(o, path, ['statusCode', 'contentType', 'messageBody']);
  const statusCode = stringAt(o.statusCode, `${path}.statusCode`);
  if (!/^[245]\d\d$/.test(statusCode)) {
    throw new InvalidParameterError(
      `${path}.statusCode must be a 2XX, 4XX or 5XX code, not '${statusCode}'`,
    );
  }
  const contentType = enumAt(
    o.contentType,
    `${path}.contentType`,
    FIXED_RESPONSE_CONTENT_TYPES,
    'text/plain',
  );
  const messageBody = present(o.messageBody)
    ? stringAt(o.messageBody, `${path}.messageBody`, true)
    : '';
  if (messageBody.length > ELB_LIMITS.messageBodyLength) {
    throw new InvalidParameterError(
      `${path}.messageBody: at most ${ELB_LIMITS.messageBodyLength} characters (${messageBody.length} given)`,
    );
  }
  return { statusCode, contentType, messageBody };
}

function redirectAt(value: unknown, path: string): RedirectConfig {
  const o = objectAt(value, path, `${path} (required for a redirect action)`);
  onlyMembers(o, path, ['protocol', 'port', 'host', 'path', 'query', 'statusCode']);
  const statusCode = enumAt(o.statusCode, `${path}.statusCode`, ['HTTP_301', 'HTTP_302'] as const);
  const protocol = enumAt(
    o.protocol,
    `${path}.protocol`,
    ['HTTP', 'HTTPS', '#{protocol}'] as const,
    '#{protocol}',
  );
  const port = present(o.port) ? stringAt(o.port, `${path}.port`) : '#{port}';
  if (port !== '#{port}' && !validPortString(port)) {
    throw new InvalidParameterError(
      `${path}.port must be #{port} or a port from 1 to 65535, not '${port}'`,
    );
  }
  const component = (member: 'host' | 'path' | 'query', fallback: string, allowEmpty = false) => {
    if (!present(o[member])) return fallback;
    const s = stringAt(o[member], `${path}.${member}`, allowEmpty);
    if (s.length > ELB_LIMITS.redirectComponentLength) {
      throw new InvalidParameterError(
        `${path}.${member}: at most ${ELB_LIMITS.redirectComponentLength} characters`,
      );
    }
    if (!/^[\x21-\x7e]*$/.test(s)) {
      throw new InvalidParameterError(
        `${path}.${member}: only printable characters without spaces`,
      );
    }
    return s;
  };
  const host = component('host', '#{host}');
  const redirectPath = component('path', '/#{path}');
  if (!redirectPath.startsWith('/')) {
    throw new InvalidParameterError(`${path}.path must start with /`);
  }
  const query = component('query', '#{query}', true);
  if (query.startsWith('?')) {
    throw new InvalidParameterError(`${path}.query: leave out the leading ?`);
  }
  if (
    protocol === '#{protocol}' &&
    port === '#{port}' &&
    host === '#{host}' &&
    redirectPath === '/#{path}' &&
    query === '#{query}'
  ) {
    throw new InvalidParameterError(
      `${path} would redirect to the same URL: change at least one of protocol, port, host, path or query`,
    );
  }
  return { protocol, port, host, path: redirectPath, query, statusCode };
}

function conditionsAt(value: unknown, path: string): RuleCondition[] {
  const list = arrayAt(value, path);
  if (list.length < 1 || list.length > ELB_LIMITS.conditionsPerRule) {
    throw new InvalidParameterError(
      `${path} must have 1 to ${ELB_LIMITS.conditionsPerRule} conditions, not ${list.length}`,
    );
  }
  const fields = new Map<ConditionField, number>();
  let values = 0;
  let wildcards = 0;
  const conditions = list.map((raw, i) => {
    const at = `${path}[${i}]`;
    const c = conditionAt(raw, at);
    const earlier = fields.get(c.condition.field);
    if (earlier !== undefined && SINGLE_CONDITIONS.includes(c.condition.field)) {
      throw new InvalidParameterError(
        `${at}.field: a rule can have only one ${c.condition.field} condition (${path}[${earlier}] is one)`,
      );
    }
    fields.set(c.condition.field, i);
    values += c.values;
    wildcards += c.wildcards;
    return c.condition;
  });
  if (values > ELB_LIMITS.valuesPerRule) {
    throw new InvalidParameterError(
      `${path}: at most ${ELB_LIMITS.valuesPerRule} condition values per rule (${values} given)`,
    );
  }
  if (wildcards > ELB_LIMITS.wildcardsPerRule) {
    throw new InvalidParameterError(
      `${path}: at most ${ELB_LIMITS.wildcardsPerRule} wildcards (* or ?) per rule (${wildcards} given)`,
    );
  }
  return conditions;
}

function conditionAt(
  value: unknown,
  path: string,
): { condition: RuleCondition; values: number; wildcards: number } {
  const o = objectAt(value, path);
  onlyMembers(o, path, ['field', 'values', ...Object.values(CONDITION_CONFIG)]);
  const field = enumAt(o.field, `${path}.field`, Object.keys(CONDITION_CONFIG) as ConditionField[]);
  const configMember = CONDITION_CONFIG[field];
  for (const member of Object.values(CONDITION_CONFIG)) {
    if (member !== configMember && present(o[member])) {
      throw new InvalidParameterError(`${path}.${member} is not allowed in a ${field} condition`);
    }
  }
  const legacy = present(o.values);
  if (legacy && field !== 'path-pattern' && field !== 'host-header') {
    throw new InvalidParameterError(
      `${path}.values: a ${field} condition takes its values in ${configMember}`,
    );
  }
  if (legacy === present(o[configMember])) {
    throw new InvalidParameterError(
      legacy
        ? `${path}: give the values in either values or ${configMember}, not both`
        : `${path}.${configMember} is required for a ${field} condition`,
    );
  }
  let config: Record<string, unknown>;
  let configPath: string;
  if (legacy) {
    config = { values: o.values };
    configPath = path;
  } else {
    configPath = `${path}.${configMember}`;
    config = objectAt(o[configMember], configPath);
  }
  const valuesPath = `${configPath}.values`;

  if (field === 'query-string') {
    onlyMembers(config, configPath, ['values']);
    const pairs = valueListAt(config.values, valuesPath).map((raw, i) => {
      const at = `${valuesPath}[${i}]`;
      const pair = objectAt(raw, at);
      onlyMembers(pair, at, ['key', 'value']);
      const value = conditionString(pair.value, `${at}.value`, PRINTABLE_NO_SPACE);
      if (!present(pair.key)) return { value };
      return { key: conditionString(pair.key, `${at}.key`, PRINTABLE_NO_SPACE), value };
    });
    const wildcards = pairs.reduce(
      (n, p) => n + unescapedWildcards(p.value) + unescapedWildcards(p.key ?? ''),
      0,
    );
    return {
      condition: { field, queryStringConfig: { values: pairs } },
      values: pairs.length,
      wildcards,
    };
  }

  if (field === 'http-header') {
    onlyMembers(config, configPath, ['httpHeaderName', 'values']);
    const name = stringAt(config.httpHeaderName, `${configPath}.httpHeaderName`);
    if (name.length > ELB_LIMITS.httpHeaderNameLength || !HEADER_NAME_CHARS.test(name)) {
      throw new InvalidParameterError(
        `${configPath}.httpHeaderName: an HTTP header name (token characters, at most ${ELB_LIMITS.httpHeaderNameLength})`,
      );
    }
    const values = valueListAt(config.values, valuesPath).map((v, i) =>
      conditionString(v, `${valuesPath}[${i}]`, PRINTABLE),
    );
    return {
      condition: { field, httpHeaderConfig: { httpHeaderName: name, values } },
      values: values.length,
      wildcards: values.reduce((n, v) => n + wildcardsIn(v), 0),
    };
  }

  onlyMembers(config, configPath, ['values']);
  const raw = valueListAt(config.values, valuesPath);
  let values: string[];
  let wildcards = 0;
  switch (field) {
    case 'path-pattern':
      values = raw.map((v, i) => conditionString(v, `${valuesPath}[${i}]`, PATH_PATTERN_CHARS));
      wildcards = values.reduce((n, v) => n + wildcardsIn(v), 0);
      break;
    case 'host-header':
      values = raw.map((v, i) => conditionString(v, `${valuesPath}[${i}]`, HOST_HEADER_CHARS));
      wildcards = values.reduce((n, v) => n + wildcardsIn(v), 0);
      break;
    case 'http-request-method':
      values = raw.map((v, i) => {
        const at = `${valuesPath}[${i}]`;
        const method = stringAt(v, at);
        if (method.length > ELB_LIMITS.httpRequestMethodLength || !HTTP_METHOD_CHARS.test(method)) {
          throw new InvalidParameterError(
            `${at}: an HTTP method in upper case (A-Z, - and _, at most ${ELB_LIMITS.httpRequestMethodLength} characters), not '${method}'`,
          );
        }
        return method;
      });
      break;
    default:
      values = raw.map((v, i) => {
        const at = `${valuesPath}[${i}]`;
        const cidr = stringAt(v, at);
        if (!isCidr(cidr)) {
          throw new InvalidParameterError(
            `${at}: an IPv4 or IPv6 CIDR block (e.g. 10.0.0.0/16), not '${cidr}'`,
          );
        }
        return cidr;
      });
  }
  return {
    condition: { field, [configMember]: { values } } as RuleCondition,
    values: values.length,
    wildcards,
  };
}

function valueListAt(value: unknown, path: string): unknown[] {
  const list = arrayAt(value, path);
  if (list.length < 1 || list.length > ELB_LIMITS.valuesPerCondition) {
    throw new InvalidParameterError(
      `${path} must have 1 to ${ELB_LIMITS.valuesPerCondition} values, not ${list.length}`,
    );
  }
  return list;
}

function conditionString(value: unknown, path: string, chars: RegExp): string {
  const s = stringAt(value, path);
  if (s.length > ELB_LIMITS.conditionValueLength) {
    throw new InvalidParameterError(
      `${path}: at most ${ELB_LIMITS.conditionValueLength} characters`,
    );
  }
  if (!chars.test(s)) throw new InvalidParameterError(`${path}: characters not allowed in '${s}'`);
  return s;
}

function wildcardsIn(s: string): number {
  return (s.match(/[*?]/g) ?? []).length;
}

/** In query strings `\*` and `\?` are the literal characters. */
function unescapedWildcards(s: string): number {
  return wildcardsIn(s.replace(/\\./g, ''));
}

export function isCidr(value: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value);
  if (!m) return false;
  const bits = Number(m[2]);
  if (isIPv4(m[1])) return bits <= 32;
  if (isIPv6(m[1])) return bits <= 128;
  return false;
}

// ---------------------------------------------------------------- target groups

export function validateTargetGroup(input: unknown, targetGroupArn = ''): TargetGroup {
  const o = objectAt(input, '', 'the target group');
  onlyMembers(o, '', [
    'name',
    'protocol',
    'port',
    'targetType',
    'healthCheck',
    'deregistrationDelaySeconds',
    'algorithm',
    'stickiness',
    'slowStartSeconds',
    'tags',
  ]);
  const targetGroupName = elbName(o.name, 'name');
  const protocol = enumAt(o.protocol, 'protocol', ['HTTP'] as const, 'HTTP');
  const port = intAt(o.port, 'port', 1, 65535);
  const targetType = enumAt(o.targetType, 'targetType', ['instance', 'ip'] as const, 'instance');
  const healthCheck = healthCheckAt(o.healthCheck, 'healthCheck');
  const deregistrationDelaySeconds = intAt(
    o.deregistrationDelaySeconds,
    'deregistrationDelaySeconds',
    0,
    3600,
    300,
  );
  const algorithm = enumAt(
    o.algorithm,
    'algorithm',
    ['round_robin', 'least_outstanding_requests'] as const,
    'round_robin',
  );
  let stickiness: TargetGroup['stickiness'] = {
    enabled: false,
    type: 'lb_cookie',
    durationSeconds: 86400,
  };
  if (present(o.stickiness)) {
    const s = objectAt(o.stickiness, 'stickiness');
    onlyMembers(s, 'stickiness', ['enabled', 'type', 'durationSeconds']);
    stickiness = {
      enabled: boolAt(s.enabled, 'stickiness.enabled'),
      type: enumAt(s.type, 'stickiness.type', ['lb_cookie'] as const, 'lb_cookie'),
      durationSeconds: intAt(s.durationSeconds, 'stickiness.durationSeconds', 1, 604800, 86400),
    };
  }
  const slowStartSeconds = intAt(o.slowStartSeconds, 'slowStartSeconds', 0, 900, 0);
  if (slowStartSeconds > 0 && slowStartSeconds < 30) {
    throw new InvalidParameterError(
      `slowStartSeconds must be 0 (off) or from 30 to 900, not ${slowStartSeconds}`,
    );
  }
  if (slowStartSeconds > 0 && algorithm === 'least_outstanding_requests') {
    throw new InvalidParameterError(
      'slowStartSeconds cannot be used with algorithm least_outstanding_requests',
    );
  }
  return {
    targetGroupArn,
    targetGroupName,
    protocol,
    port,
    targetType,
    healthCheck,
    deregistrationDelaySeconds,
    algorithm,
    stickiness,
    slowStartSeconds,
    tags: tagsAt(o.tags, 'tags'),
  };
}

function healthCheckAt(value: unknown, path: string): Required<HealthCheckInput> {
  const o = present(value) ? objectAt(value, path) : {};
  onlyMembers(o, path, [
    'path',
    'port',
    'intervalSeconds',
    'timeoutSeconds',
    'healthyThresholdCount',
    'unhealthyThresholdCount',
    'matcher',
  ]);
  const checkPath = present(o.path) ? stringAt(o.path, `${path}.path`) : '/';
  if (!checkPath.startsWith('/')) throw new InvalidParameterError(`${path}.path must start with /`);
  if (checkPath.length > ELB_LIMITS.healthCheckPathLength) {
    throw new InvalidParameterError(
      `${path}.path: at most ${ELB_LIMITS.healthCheckPathLength} characters`,
    );
  }
  if (!PRINTABLE_NO_SPACE.test(checkPath)) {
    throw new InvalidParameterError(`${path}.path: only printable characters without spaces`);
  }
  const port = present(o.port) ? stringAt(o.port, `${path}.port`) : 'traffic-port';
  if (port !== 'traffic-port' && !validPortString(port)) {
    throw new InvalidParameterError(
      `${path}.port must be traffic-port or a port from 1 to 65535, not '${port}'`,
    );
  }
  const intervalSeconds = intAt(o.intervalSeconds, `${path}.intervalSeconds`, 5, 300, 30);
  const timeoutSeconds = intAt(o.timeoutSeconds, `${path}.timeoutSeconds`, 2, 120, 5);
  if (timeoutSeconds >= intervalSeconds) {
    throw new InvalidParameterError(
      `${path}.timeoutSeconds must be less than ${path}.intervalSeconds (${intervalSeconds})`,
    );
  }
  let httpCode = '200';
  if (present(o.matcher)) {
    const m = objectAt(o.matcher, `${path}.matcher`);
    onlyMembers(m, `${path}.matcher`, ['httpCode']);
    httpCode = matcherAt(m.httpCode, `${path}.matcher.httpCode`);
  }
  return {
    path: checkPath,
    port,
    intervalSeconds,
    timeoutSeconds,
    healthyThresholdCount: intAt(
      o.healthyThresholdCount,
      `${path}.healthyThresholdCount`,
      2,
      10,
      5,
    ),
    unhealthyThresholdCount: intAt(
      o.unhealthyThresholdCount,
      `${path}.unhealthyThresholdCount`,
      2,
      10,
      2,
    ),
    matcher: { httpCode },
  };
}

function matcherAt(value: unknown, path: string): string {
  const s = stringAt(value, path);
  const usage = `HTTP codes from 200 to 499 as "200", "200,202" or "200-299"`;
  for (const part of s.split(',')) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (!m) throw new InvalidParameterError(`${path} must be ${usage}, not '${s}'`);
    const low = Number(m[1]);
    const high = m[2] === undefined ? low : Number(m[2]);
    if (low < 200 || high > 499) {
      throw new InvalidParameterError(`${path}: ${part} is outside 200-499`);
    }
    if (high < low) throw new InvalidParameterError(`${path}: the range ${part} is empty`);
  }
  return s;
}

// ---------------------------------------------------------------- helpers

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function describe(path: string, what?: string): string {
  return what ?? (path || 'the value');
}

function objectAt(value: unknown, path: string, what?: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidParameterError(`${describe(path, what)} must be an object`);
  }
  return value as Record<string, unknown>;
}

function arrayAt(value: unknown, path: string): unknown[] {
  if (!present(value)) throw new InvalidParameterError(`${path} is required`);
  if (!Array.isArray(value)) throw new InvalidParameterError(`${path} must be an array`);
  return value;
}

function onlyMembers(o: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    const names = unknown.map((k) => `'${k}'`).join(', ');
    throw new InvalidParameterError(
      `${path ? `${path}: ` : ''}unknown member${unknown.length > 1 ? 's' : ''} ${names} (allowed: ${allowed.join(', ')})`,
    );
  }
}

function stringAt(value: unknown, path: string, allowEmpty = false): string {
  if (!present(value)) throw new InvalidParameterError(`${path} is required`);
  if (typeof value !== 'string') throw new InvalidParameterError(`${path} must be a string`);
  if (!allowEmpty && value === '') throw new InvalidParameterError(`${path} must not be empty`);
  return value;
}

function boolAt(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidParameterError(`${path} is required and must be true or false`);
  }
  return value;
}

function intAt(value: unknown, path: string, min: number, max: number, fallback?: number): number {
  if (!present(value)) {
    if (fallback === undefined) throw new InvalidParameterError(`${path} is required`);
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidParameterError(
      `${path} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function enumAt<T extends string>(
  value: unknown,
  path: string,
  allowed: readonly T[],
  fallback?: T,
): T {
  if (!present(value)) {
    if (fallback === undefined)
      throw new InvalidParameterError(`${path} is required (${allowed.join(' | ')})`);
    return fallback;
  }
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidParameterError(
      `${path} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

function elbName(value: unknown, path: string): string {
  const name = stringAt(value, path);
  if (!ELB_NAME_PATTERN.test(name)) {
    throw new InvalidParameterError(
      `${path}: '${name}' is not a valid name (1-32 letters, digits and hyphens, not beginning or ending with a hyphen)`,
    );
  }
  return name;
}

function arnAt(
  value: unknown,
  path: string,
  kind: 'load-balancer' | 'listener' | 'target-group',
): string {
  const arn = stringAt(value, path);
  if (parseElbArn(arn)?.kind !== kind) {
    throw new InvalidParameterError(`${path}: '${arn}' is not a ${kind.replace('-', ' ')} ARN`);
  }
  return arn;
}

function validPortString(s: string): boolean {
  return /^[1-9]\d{0,4}$/.test(s) && Number(s) <= 65535;
}

function tagsAt(value: unknown, path: string): { key: string; value: string }[] {
  if (!present(value)) return [];
  const list = arrayAt(value, path);
  if (list.length > ELB_LIMITS.tagsPerResource) {
    throw new InvalidParameterError(`${path}: at most ${ELB_LIMITS.tagsPerResource} tags`);
  }
  const keys = new Set<string>();
  return list.map((raw, i) => {
    const at = `${path}[${i}]`;
    const tag = objectAt(raw, at);
    onlyMembers(tag, at, ['key', 'value']);
    const key = stringAt(tag.key, `${at}.key`);
    if (key.length > 128 || !TAG_CHARS.test(key)) {
      throw new InvalidParameterError(
        `${at}.key: at most 128 letters, digits, spaces and _ . : / = + - @`,
      );
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw new InvalidParameterError(`${at}.key: the aws: prefix is reserved`);
    }
    if (keys.has(key)) throw new InvalidParameterError(`${at}.key: duplicate tag key '${key}'`);
    keys.add(key);
    const tagValue = present(tag.value) ? stringAt(tag.value, `${at}.value`, true) : '';
    if (tagValue.length > 256 || !TAG_CHARS.test(tagValue)) {
      throw new InvalidParameterError(
        `${at}.value: at most 256 letters, digits, spaces and _ . : / = + - @`,
      );
    }
    return { key, value: tagValue };
  });
}
