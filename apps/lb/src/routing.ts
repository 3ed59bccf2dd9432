import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { Action, RuleCondition } from '@wharf/domain';
import { compileAny, compileWildcard } from './wildcard';

/** What rules look at in a request; the proxy fills it once per request. */
export interface RouteRequest {
  method: string;
  /** the Host header as sent (port included), or '' */
  host: string;
  /** the path without the query */
  path: string;
  /** the query without the leading '?', or '' */
  query: string;
  headers: IncomingHttpHeaders;
  sourceIp: string;
}

export interface WeightedGroup {
  targetGroupArn: string;
  weight: number;
}

export type CompiledAction =
  | {
      type: 'forward';
      groups: WeightedGroup[];
      /** sum of the weights; 0 means no group may receive traffic */
      totalWeight: number;
      /** target-group stickiness (AWSALBTG), seconds; 0 = off */
      groupStickinessSeconds: number;
    }
  | { type: 'fixed-response'; statusCode: number; contentType: string; body: Buffer }
  | {
      type: 'redirect';
      statusCode: 301 | 302;
      protocol: string;
      host: string;
      port: string;
      path: string;
      query: string;
    };

export interface CompiledRule {
  priority: number;
  matches: (req: RouteRequest) => boolean;
  action: CompiledAction;
}

/** A listener's rules, compiled: ordered by priority, the default action last. */
export interface Router {
  rules: CompiledRule[];
  defaultAction: CompiledAction;
}

export interface RuleSpec {
  priority: number;
  conditions: RuleCondition[];
  actions: Action[];
}

/** Compiles a listener's rules and default actions; done once per configuration change. */
export function compileRouter(rules: RuleSpec[], defaultActions: Action[]): Router {
  const compiled = [...rules]
    .sort((a, b) => a.priority - b.priority)
    .map((rule) => ({
      priority: rule.priority,
      matches: compileConditions(rule.conditions),
      action: compileAction(rule.actions),
    }));
  return { rules: compiled, defaultAction: compileAction(defaultActions) };
}

/** The action for a request: the first rule (by priority) whose conditions all match. */
export function route(router: Router, req: RouteRequest): CompiledAction {
  const rules = router.rules;
  for (let i = 0; i < rules.length; i++) {
    if (rules[i].matches(req)) return rules[i].action;
  }
  return router.defaultAction;
}

// ---------------------------------------------------------------- conditions

function compileConditions(conditions: RuleCondition[]): (req: RouteRequest) => boolean {
  const tests = conditions.map(compileCondition);
  if (tests.length === 1) return tests[0];
  return (req) => {
    for (const test of tests) if (!test(req)) return false;
    return true;
  };
}

export function compileCondition(condition: RuleCondition): (req: RouteRequest) => boolean {
  switch (condition.field) {
    case 'path-pattern': {
      const match = compileAny(
        condition.pathPatternConfig?.values ?? condition.values ?? [],
        false,
      );
      return (req) => match(req.path);
    }
    case 'host-header': {
      const match = compileAny(condition.hostHeaderConfig?.values ?? condition.values ?? [], true);
      return (req) => match(hostWithoutPort(req.host));
    }
    case 'http-header': {
      const config = condition.httpHeaderConfig;
      if (!config) return never;
      const name = config.httpHeaderName.toLowerCase();
      const match = compileAny(config.values, true);
      return (req) => {
        const value = req.headers[name];
        if (value === undefined) return false;
        if (typeof value === 'string') return match(value);
        for (const v of value) if (match(v)) return true;
        return false;
      };
    }
    case 'http-request-method': {
      const methods = new Set(condition.httpRequestMethodConfig?.values ?? []);
      return (req) => methods.has(req.method);
    }
    case 'query-string': {
      const pairs = (condition.queryStringConfig?.values ?? []).map((kv) => ({
        key: kv.key === undefined || kv.key === '' ? undefined : compileWildcard(kv.key, true),
        value: compileWildcard(kv.value, true),
      }));
      return (req) => {
        if (req.query === '') return false;
        const params = parseQuery(req.query);
        for (const pair of pairs) {
          for (const [key, value] of params) {
            if ((pair.key === undefined || pair.key(key)) && pair.value(value)) return true;
          }
        }
        return false;
      };
    }
    case 'source-ip': {
      const list = new BlockList();
      for (const cidr of condition.sourceIpConfig?.values ?? []) addCidr(list, cidr);
      return (req) => {
        const ip = normalizeIp(req.sourceIp);
        if (isIPv4(ip)) return list.check(ip, 'ipv4');
        if (isIPv6(ip)) return list.check(ip, 'ipv6');
        return false;
      };
    }
    default:
      return never;
  }
}

const never = () => false;

/** `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`. */
export function hostWithoutPort(host: string): string {
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf(']');
    return end < 0 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

function parseQuery(query: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    out.push(eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)]);
  }
  return out;
}

/** Sockets on a dual-stack server see IPv4 clients as `::ffff:a.b.c.d`. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

function addCidr(list: BlockList, cidr: string): void {
  const slash = cidr.indexOf('/');
  const address = slash < 0 ? cidr : cidr.slice(0, slash);
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (!family) return;
  const prefix = slash < 0 ? (family === 'ipv4' ? 32 : 128) : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(prefix)) return;
  list.addSubnet(address, prefix, family);
}

// ---------------------------------------------------------------- actions

const FIXED_RESPONSE_DEFAULT_TYPE = 'text/plain';

export function compileAction(actions: Action[]): CompiledAction {
  const action = actions.find(
    (a) => a.type === 'forward' || a.type === 'fixed-response' || a.type === 'redirect',
  );
  if (!action) {
    return {
      type: 'fixed-response',
      statusCode: 503,
      contentType: FIXED_RESPONSE_DEFAULT_TYPE,
      body: Buffer.alloc(0),
    };
  }
  if (action.type === 'forward') {
    const tuples = action.forwardConfig?.targetGroups.length
      ? action.forwardConfig.targetGroups
      : action.targetGroupArn
        ? [{ targetGroupArn: action.targetGroupArn, weight: 1 }]
        : [];
    const groups = tuples.map((t) => ({ targetGroupArn: t.targetGroupArn, weight: t.weight ?? 1 }));
    const stickiness = action.forwardConfig?.targetGroupStickinessConfig;
    return {
      type: 'forward',
      groups,
      totalWeight: groups.reduce((sum, g) => sum + g.weight, 0),
      groupStickinessSeconds: stickiness?.enabled ? (stickiness.durationSeconds ?? 86400) : 0,
    };
  }
  if (action.type === 'fixed-response') {
    const config = action.fixedResponseConfig;
    return {
      type: 'fixed-response',
      statusCode: Number(config?.statusCode ?? 503) || 503,
      contentType: config?.contentType ?? FIXED_RESPONSE_DEFAULT_TYPE,
      body: Buffer.from(config?.messageBody ?? '', 'utf8'),
    };
  }
  const config = action.redirectConfig;
  return {
    type: 'redirect',
    statusCode: config?.statusCode === 'HTTP_301' ? 301 : 302,
    protocol: config?.protocol ?? '#{protocol}',
    host: config?.host ?? '#{host}',
    port: config?.port ?? '#{port}',
    path: config?.path ?? '/#{path}',
    query: config?.query ?? '#{query}',
  };
}

export interface RedirectContext {
  /** 'http' for the listeners here */
  protocol: string;
  host: string;
  port: number;
  path: string;
  query: string;
}

/**
 * The Location of a redirect action: `#{protocol}`, `#{host}`, `#{port}`, `#{path}` (the
 * path without its leading slash) and `#{query}` are replaced by the request's values; a
 * port that is the scheme's default is left out.
 */
export function redirectLocation(
  action: Extract<CompiledAction, { type: 'redirect' }>,
  ctx: RedirectContext,
): string {
  const fill = (template: string) =>
    template
      .replace(/#\{protocol\}/g, ctx.protocol)
      .replace(/#\{host\}/g, ctx.host)
      .replace(/#\{port\}/g, String(ctx.port))
      .replace(/#\{path\}/g, ctx.path.startsWith('/') ? ctx.path.slice(1) : ctx.path)
      .replace(/#\{query\}/g, ctx.query);
  const protocol = fill(action.protocol).toLowerCase();
  const host = fill(action.host);
  const port = fill(action.port);
  let path = fill(action.path);
  if (!path.startsWith('/')) path = `/${path}`;
  const query = fill(action.query);
  const defaultPort = protocol === 'https' ? '443' : '80';
  const authority = port === '' || port === defaultPort ? host : `${host}:${port}`;
  return `${protocol}://${authority}${path}${query ? `?${query}` : ''}`;
}
