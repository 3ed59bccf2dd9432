import type { Action, RuleCondition } from '@wharf/domain';
import {
  compileRouter,
  hostWithoutPort,
  redirectLocation,
  route,
  type CompiledAction,
  type RouteRequest,
  type RuleSpec,
} from './routing';

const fixed = (body: string): Action => ({
  type: 'fixed-response',
  fixedResponseConfig: { statusCode: '200', messageBody: body },
});

const request = (overrides: Partial<RouteRequest> = {}): RouteRequest => ({
  method: 'GET',
  host: 'example.com',
  path: '/',
  query: '',
  headers: {},
  sourceIp: '10.0.0.1',
  ...overrides,
});

const bodyOf = (action: CompiledAction) =>
  action.type === 'fixed-response' ? action.body.toString() : action.type;

function routerWith(...conditionSets: RuleCondition[][]) {
  const rules: RuleSpec[] = conditionSets.map((conditions, i) => ({
    priority: i + 1,
    conditions,
    actions: [fixed(`rule${i + 1}`)],
  }));
  return compileRouter(rules, [fixed('default')]);
}

const matches = (condition: RuleCondition, req: Partial<RouteRequest>) =>
  bodyOf(route(routerWith([condition]), request(req))) === 'rule1';

describe('route', () => {
  it('evaluates rules by ascending priority whatever their order, the default last', () => {
    const router = compileRouter(
      [
        {
          priority: 20,
          conditions: [{ field: 'path-pattern', values: ['/api/*'] }],
          actions: [fixed('twenty')],
        },
        {
          priority: 5,
          conditions: [{ field: 'path-pattern', values: ['/api/v2/*'] }],
          actions: [fixed('five')],
        },
        {
          priority: 10,
          conditions: [{ field: 'path-pattern', values: ['/api/v*'] }],
          actions: [fixed('ten')],
        },
      ],
      [fixed('default')],
    );
    expect(bodyOf(route(router, request({ path: '/api/v2/x' })))).toBe('five');
    expect(bodyOf(route(router, request({ path: '/api/v1/x' })))).toBe('ten');
    expect(bodyOf(route(router, request({ path: '/api/other' })))).toBe('twenty');
    expect(bodyOf(route(router, request({ path: '/other' })))).toBe('default');
  });

  it('needs every condition of a rule, and any value within a condition', () => {
    const router = routerWith([
      { field: 'path-pattern', pathPatternConfig: { values: ['/a', '/b'] } },
      { field: 'http-request-method', httpRequestMethodConfig: { values: ['POST', 'PUT'] } },
    ]);
    expect(bodyOf(route(router, request({ path: '/b', method: 'PUT' })))).toBe('rule1');
    expect(bodyOf(route(router, request({ path: '/a', method: 'POST' })))).toBe('rule1');
    expect(bodyOf(route(router, request({ path: '/a', method: 'GET' })))).toBe('default');
    expect(bodyOf(route(router, request({ path: '/c', method: 'POST' })))).toBe('default');
  });

  it('path-pattern: case-sensitive, wildcards, the path only', () => {
    const c: RuleCondition = { field: 'path-pattern', values: ['/img/*.png'] };
    expect(matches(c, { path: '/img/a/b.png', query: 'x=.png' })).toBe(true);
    expect(matches(c, { path: '/IMG/a.png' })).toBe(false);
    expect(matches(c, { path: '/img/a.jpg', query: 'f=a.png' })).toBe(false);
  });

  it('host-header: case-insensitive, wildcards, port ignored', () => {
    const c: RuleCondition = {
      field: 'host-header',
      hostHeaderConfig: { values: ['*.example.com'] },
    };
    expect(matches(c, { host: 'API.Example.COM:8080' })).toBe(true);
    expect(matches(c, { host: 'api.example.com' })).toBe(true);
    expect(matches(c, { host: 'example.com' })).toBe(false);
    expect(matches(c, { host: '' })).toBe(false);
    const legacy: RuleCondition = { field: 'host-header', values: ['a?.test'] };
    expect(matches(legacy, { host: 'ab.test' })).toBe(true);
    expect(matches(legacy, { host: 'abc.test' })).toBe(false);
  });

  it('http-header: name and values case-insensitive, wildcards, any of repeated values', () => {
    const c: RuleCondition = {
      field: 'http-header',
      httpHeaderConfig: { httpHeaderName: 'User-Agent', values: ['*mobile*', 'curl/?.*'] },
    };
    expect(matches(c, { headers: { 'user-agent': 'Something MOBILE Safari' } })).toBe(true);
    expect(matches(c, { headers: { 'user-agent': 'curl/8.5' } })).toBe(true);
    expect(matches(c, { headers: { 'user-agent': 'Firefox' } })).toBe(false);
    expect(matches(c, { headers: {} })).toBe(false);
    const cookie: RuleCondition = {
      field: 'http-header',
      httpHeaderConfig: { httpHeaderName: 'set-cookie', values: ['b=*'] },
    };
    expect(matches(cookie, { headers: { 'set-cookie': ['a=1', 'b=2'] } })).toBe(true);
  });

  it('http-request-method: exact and case-sensitive', () => {
    const c: RuleCondition = {
      field: 'http-request-method',
      httpRequestMethodConfig: { values: ['GET', 'HEAD'] },
    };
    expect(matches(c, { method: 'HEAD' })).toBe(true);
    expect(matches(c, { method: 'get' })).toBe(false);
    expect(matches(c, { method: 'POST' })).toBe(false);
  });

  it('query-string: key/value pairs or values alone, wildcards, case-insensitive', () => {
    const c: RuleCondition = {
      field: 'query-string',
      queryStringConfig: { values: [{ key: 'version', value: 'v*' }, { value: 'beta' }] },
    };
    expect(matches(c, { query: 'a=1&Version=V2' })).toBe(true);
    expect(matches(c, { query: 'channel=BETA' })).toBe(true);
    expect(matches(c, { query: 'version=2' })).toBe(false);
    expect(matches(c, { query: 'other=v2' })).toBe(false);
    expect(matches(c, { query: '' })).toBe(false);
    const flag: RuleCondition = {
      field: 'query-string',
      queryStringConfig: { values: [{ key: 'debug', value: '*' }] },
    };
    expect(matches(flag, { query: 'debug' })).toBe(true);
    expect(matches(flag, { query: 'x=debug' })).toBe(false);
  });

  it('source-ip: IPv4 and IPv6 CIDRs, IPv4-mapped addresses as IPv4', () => {
    const c: RuleCondition = {
      field: 'source-ip',
      sourceIpConfig: { values: ['10.0.0.0/8', '2001:db8::/32', '192.168.1.7/32'] },
    };
    expect(matches(c, { sourceIp: '10.200.3.4' })).toBe(true);
    expect(matches(c, { sourceIp: '::ffff:10.1.2.3' })).toBe(true);
    expect(matches(c, { sourceIp: '192.168.1.7' })).toBe(true);
    expect(matches(c, { sourceIp: '192.168.1.8' })).toBe(false);
    expect(matches(c, { sourceIp: '11.0.0.1' })).toBe(false);
    expect(matches(c, { sourceIp: '2001:db8:1::5' })).toBe(true);
    expect(matches(c, { sourceIp: '2001:db9::5' })).toBe(false);
    expect(matches(c, { sourceIp: '' })).toBe(false);
  });

  it('normalizes forward actions to weighted groups', () => {
    const router = compileRouter([], [{ type: 'forward', targetGroupArn: 'tg-a' }]);
    expect(router.defaultAction).toEqual({
      type: 'forward',
      groups: [{ targetGroupArn: 'tg-a', weight: 1 }],
      totalWeight: 1,
      groupStickinessSeconds: 0,
    });
    const weighted = compileRouter(
      [],
      [
        {
          type: 'forward',
          forwardConfig: {
            targetGroups: [
              { targetGroupArn: 'a', weight: 3 },
              { targetGroupArn: 'b', weight: 0 },
            ],
            targetGroupStickinessConfig: { enabled: true, durationSeconds: 60 },
          },
        },
      ],
    );
    expect(weighted.defaultAction).toMatchObject({ totalWeight: 3, groupStickinessSeconds: 60 });
  });
});

describe('redirectLocation', () => {
  const redirect = (config: Partial<NonNullable<Action['redirectConfig']>>) => {
    const action = compileRouter(
      [],
      [{ type: 'redirect', redirectConfig: { statusCode: 'HTTP_301', ...config } }],
    ).defaultAction;
    if (action.type !== 'redirect') throw new Error('not a redirect');
    return action;
  };
  const ctx = { protocol: 'http', host: 'example.com', port: 8080, path: '/a/b', query: 'x=1' };

  it('keeps the request by default', () => {
    const action = redirect({});
    expect(action.statusCode).toBe(301);
    expect(redirectLocation(action, ctx)).toBe('http://example.com:8080/a/b?x=1');
    expect(redirectLocation(action, { ...ctx, query: '', port: 80 })).toBe(
      'http://example.com/a/b',
    );
  });

  it('substitutes #{...} in every part', () => {
    const action = redirect({
      protocol: 'HTTPS',
      port: '443',
      host: 'new.#{host}',
      path: '/v2/#{path}',
      query: '#{query}&from=#{port}',
    });
    expect(redirectLocation(action, ctx)).toBe('https://new.example.com/v2/a/b?x=1&from=8080');
    expect(redirect({ statusCode: 'HTTP_302' }).statusCode).toBe(302);
  });
});

describe('hostWithoutPort', () => {
  it('strips ports from names and bracketed IPv6 addresses', () => {
    expect(hostWithoutPort('a.b:80')).toBe('a.b');
    expect(hostWithoutPort('a.b')).toBe('a.b');
    expect(hostWithoutPort('[::1]:8080')).toBe('[::1]');
    expect(hostWithoutPort('[::1]')).toBe('[::1]');
  });
});
