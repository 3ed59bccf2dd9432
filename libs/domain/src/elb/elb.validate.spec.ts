import { InvalidParameterError } from '../errors';
import { elbArns, elbTargetKey, loadBalancerArnOf, parseElbArn } from './elb.arn';
import {
  isCidr,
  targetGroupArnsOf,
  validateListener,
  validateLoadBalancer,
  validateRule,
  validateTargetGroup,
} from './elb.validate';

const ctx = { region: 'us-east-1', accountId: '123456789012' };
const LB = elbArns.loadBalancer(ctx, 'web', '50dc6c495c0c9188');
const LISTENER = elbArns.listener(LB, 'f2f7dc8efc522ab2');
const TG = elbArns.targetGroup(ctx, 'api', '73e2d6bc24d8a067');
const TG2 = elbArns.targetGroup(ctx, 'api-v2', '73e2d6bc24d8a068');

function error(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidParameterError);
    return (err as Error).message;
  }
  throw new Error('expected an InvalidParameterError');
}

const forward = { type: 'forward', targetGroupArn: TG };
const rule = (over: Record<string, unknown> = {}) => ({
  listenerArn: LISTENER,
  priority: 10,
  conditions: [{ field: 'path-pattern', pathPatternConfig: { values: ['/api/*'] } }],
  actions: [forward],
  ...over,
});
const cond = (c: Record<string, unknown>) => rule({ conditions: [c] });
const tg = (over: Record<string, unknown> = {}) => ({ name: 'api', port: 8080, ...over });

describe('ELB ARNs', () => {
  it('builds the ELBv2 formats in the ECS region and account', () => {
    expect(LB).toBe(
      'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188',
    );
    expect(LISTENER).toBe(
      'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2',
    );
    expect(elbArns.rule(LISTENER, '9683b2d02a6cabee')).toBe(
      'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee',
    );
    expect(TG).toBe(
      'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/73e2d6bc24d8a067',
    );
  });

  it('parses them back and refuses other shapes', () => {
    expect(parseElbArn(LISTENER)).toMatchObject({
      kind: 'listener',
      name: 'web',
      id: 'f2f7dc8efc522ab2',
      region: 'us-east-1',
    });
    expect(parseElbArn(elbArns.rule(LISTENER, '9683b2d02a6cabee'))?.kind).toBe('rule');
    expect(parseElbArn(TG)).toMatchObject({ kind: 'target-group', name: 'api' });
    expect(parseElbArn('arn:aws:ecs:us-east-1:1:cluster/default')).toBeUndefined();
    expect(parseElbArn(TG.replace('73e2d6bc24d8a067', 'xyz'))).toBeUndefined();
    expect(parseElbArn(LB.replace('/app/', '/net/'))).toBeUndefined();
    expect(loadBalancerArnOf(elbArns.rule(LISTENER, '9683b2d02a6cabee'))).toBe(LB);
    expect(() => elbArns.listener(TG, 'f2f7dc8efc522ab2')).toThrow('not a load balancer ARN');
    expect(() => elbArns.targetGroup(ctx, 'x', '123')).toThrow('16 hex digits');
    expect(elbTargetKey(TG, 'i-1', 80)).toBe(`${TG}/i-1:80`);
  });
});

describe('validateLoadBalancer', () => {
  it('fills the defaults', () => {
    expect(validateLoadBalancer({ name: 'web' }, LB, 5)).toEqual({
      loadBalancerArn: LB,
      loadBalancerName: 'web',
      idleTimeoutSeconds: 60,
      tags: [],
      createdTime: 5,
    });
    expect(validateLoadBalancer({ name: 'a', tags: [{ key: 'team' }] }).tags).toEqual([
      { key: 'team', value: '' },
    ]);
  });

  it.each([
    [{ name: '-web' }, "name: '-web' is not a valid name"],
    [{ name: 'web-' }, 'not a valid name'],
    [{ name: 'a'.repeat(33) }, 'not a valid name'],
    [{ name: 'we_b' }, 'not a valid name'],
    [{ name: 'internal-web' }, "cannot begin with 'internal-'"],
    [{}, 'name is required'],
    [
      { name: 'web', idleTimeoutSeconds: 0 },
      'idleTimeoutSeconds must be an integer from 1 to 4000',
    ],
    [
      { name: 'web', idleTimeoutSeconds: 4001 },
      'idleTimeoutSeconds must be an integer from 1 to 4000',
    ],
    [{ name: 'web', idleTimeoutSeconds: 1.5 }, 'idleTimeoutSeconds must be an integer'],
    [{ name: 'web', scheme: 'internal' }, "unknown member 'scheme'"],
    [{ name: 'web', tags: [{ key: 'a' }, { key: 'a' }] }, "tags[1].key: duplicate tag key 'a'"],
    [{ name: 'web', tags: [{ key: 'aws:x' }] }, 'tags[0].key: the aws: prefix is reserved'],
    [{ name: 'web', tags: [{ key: 'k', value: 'v'.repeat(257) }] }, 'tags[0].value: at most 256'],
    [{ name: 'web', tags: [{ key: 'k', colour: 'red' }] }, "tags[0]: unknown member 'colour'"],
  ])('refuses %j', (input, message) => {
    expect(error(() => validateLoadBalancer(input))).toContain(message);
  });

  it('accepts the limits', () => {
    expect(
      validateLoadBalancer({ name: 'a'.repeat(32), idleTimeoutSeconds: 4000 }).idleTimeoutSeconds,
    ).toBe(4000);
    expect(validateLoadBalancer({ name: 'a-1', idleTimeoutSeconds: 1 }).loadBalancerName).toBe(
      'a-1',
    );
  });

  it('refuses a non-object', () => {
    expect(error(() => validateLoadBalancer([]))).toBe('the load balancer must be an object');
  });
});

describe('validateListener', () => {
  it('normalizes a forward to one group into a forwardConfig of weight 1', () => {
    expect(validateListener({ loadBalancerArn: LB, port: 80, defaultActions: [forward] })).toEqual({
      listenerArn: '',
      loadBalancerArn: LB,
      port: 80,
      protocol: 'HTTP',
      defaultActions: [
        {
          type: 'forward',
          targetGroupArn: TG,
          forwardConfig: {
            targetGroups: [{ targetGroupArn: TG, weight: 1 }],
            targetGroupStickinessConfig: { enabled: false },
          },
        },
      ],
    });
  });

  it.each([
    [{ port: 80, defaultActions: [forward] }, 'loadBalancerArn is required'],
    [{ loadBalancerArn: TG, port: 80, defaultActions: [forward] }, 'loadBalancerArn: '],
    [
      { loadBalancerArn: LB, port: 0, defaultActions: [forward] },
      'port must be an integer from 1 to 65535',
    ],
    [
      { loadBalancerArn: LB, port: 65536, defaultActions: [forward] },
      'port must be an integer from 1 to 65535',
    ],
    [
      { loadBalancerArn: LB, port: 443, protocol: 'HTTPS', defaultActions: [forward] },
      'protocol must be one of HTTP',
    ],
    [
      { loadBalancerArn: LB, port: 80, defaultActions: [] },
      'defaultActions must have exactly one action',
    ],
    [
      { loadBalancerArn: LB, port: 80, defaultActions: [forward, forward] },
      'defaultActions must have exactly one action',
    ],
    [{ loadBalancerArn: LB, port: 80 }, 'defaultActions is required'],
    [
      { loadBalancerArn: LB, port: 80, defaultActions: [forward], certificates: [] },
      "unknown member 'certificates'",
    ],
  ])('refuses %j', (input, message) => {
    expect(error(() => validateListener(input))).toContain(message);
  });
});

describe('actions', () => {
  const withAction = (action: unknown) => () => validateRule(rule({ actions: [action] }));

  it('weighted forward: weights default to 1, 0–999, stickiness needs a duration', () => {
    const [action] = validateRule(
      rule({
        actions: [
          {
            type: 'forward',
            forwardConfig: {
              targetGroups: [{ targetGroupArn: TG, weight: 0 }, { targetGroupArn: TG2 }],
              targetGroupStickinessConfig: { enabled: true, durationSeconds: 604800 },
            },
          },
        ],
      }),
    ).actions;
    expect(action).toEqual({
      type: 'forward',
      forwardConfig: {
        targetGroups: [
          { targetGroupArn: TG, weight: 0 },
          { targetGroupArn: TG2, weight: 1 },
        ],
        targetGroupStickinessConfig: { enabled: true, durationSeconds: 604800 },
      },
    });
    expect(targetGroupArnsOf([action, action])).toEqual([TG, TG2]);
  });

  const groups = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      targetGroupArn: elbArns.targetGroup(ctx, `g${i}`, `000000000000000${i}`),
    }));

  it.each([
    [
      { type: 'forward' },
      'actions[0]: a forward action needs either targetGroupArn or forwardConfig',
    ],
    [
      {
        type: 'forward',
        targetGroupArn: TG,
        forwardConfig: { targetGroups: [{ targetGroupArn: TG }] },
      },
      'not both',
    ],
    [{ type: 'forward', targetGroupArn: LB }, "actions[0].targetGroupArn: '"],
    [
      { type: 'forward', forwardConfig: { targetGroups: [] } },
      'actions[0].forwardConfig.targetGroups must have 1 to 5 target groups, not 0',
    ],
    [
      { type: 'forward', forwardConfig: { targetGroups: groups(6) } },
      'must have 1 to 5 target groups, not 6',
    ],
    [
      { type: 'forward', forwardConfig: { targetGroups: [{ targetGroupArn: TG, weight: 1000 }] } },
      'actions[0].forwardConfig.targetGroups[0].weight must be an integer from 0 to 999',
    ],
    [
      {
        type: 'forward',
        forwardConfig: { targetGroups: [{ targetGroupArn: TG }, { targetGroupArn: TG }] },
      },
      'targetGroups[1].targetGroupArn: target group',
    ],
    [
      {
        type: 'forward',
        forwardConfig: {
          targetGroups: [{ targetGroupArn: TG }],
          targetGroupStickinessConfig: { enabled: true },
        },
      },
      'targetGroupStickinessConfig.durationSeconds is required',
    ],
    [
      {
        type: 'forward',
        forwardConfig: {
          targetGroups: [{ targetGroupArn: TG }],
          targetGroupStickinessConfig: { enabled: true, durationSeconds: 604801 },
        },
      },
      'durationSeconds must be an integer from 1 to 604800',
    ],
    [
      { type: 'forward', targetGroupArn: TG, redirectConfig: {} },
      'actions[0].redirectConfig is not allowed in a forward action',
    ],
    [
      { type: 'authenticate-oidc' },
      'actions[0].type must be one of forward, fixed-response, redirect',
    ],
    [{ type: 'forward', targetGroupArn: TG, order: 1 }, "actions[0]: unknown member 'order'"],
    [
      { type: 'fixed-response' },
      'actions[0].fixedResponseConfig (required for a fixed-response action) must be an object',
    ],
    [
      { type: 'fixed-response', fixedResponseConfig: { statusCode: '302' } },
      "actions[0].fixedResponseConfig.statusCode must be a 2XX, 4XX or 5XX code, not '302'",
    ],
    [
      { type: 'fixed-response', fixedResponseConfig: { statusCode: '4XX' } },
      'statusCode must be a 2XX',
    ],
    [
      {
        type: 'fixed-response',
        fixedResponseConfig: { statusCode: '404', contentType: 'image/png' },
      },
      'actions[0].fixedResponseConfig.contentType must be one of',
    ],
    [
      {
        type: 'fixed-response',
        fixedResponseConfig: { statusCode: '200', messageBody: 'x'.repeat(1025) },
      },
      'actions[0].fixedResponseConfig.messageBody: at most 1024 characters',
    ],
    [
      { type: 'redirect', redirectConfig: { statusCode: 'HTTP_307', host: 'x' } },
      'actions[0].redirectConfig.statusCode must be one of HTTP_301, HTTP_302',
    ],
    [
      { type: 'redirect', redirectConfig: { statusCode: 'HTTP_301' } },
      'actions[0].redirectConfig would redirect to the same URL',
    ],
    [
      { type: 'redirect', redirectConfig: { statusCode: 'HTTP_301', protocol: 'FTP' } },
      'redirectConfig.protocol must be one of HTTP, HTTPS, #{protocol}',
    ],
    [
      { type: 'redirect', redirectConfig: { statusCode: 'HTTP_301', port: '70000' } },
      'redirectConfig.port must be #{port} or a port from 1 to 65535',
    ],
    [
      { type: 'redirect', redirectConfig: { statusCode: 'HTTP_301', path: 'x' } },
      'redirectConfig.path must start with /',
    ],
    [
      { type: 'redirect', redirectConfig: { statusCode: 'HTTP_301', query: '?a=1' } },
      'redirectConfig.query: leave out the leading ?',
    ],
    [
      { type: 'redirect', redirectConfig: { statusCode: 'HTTP_301', host: 'h'.repeat(129) } },
      'redirectConfig.host: at most 128 characters',
    ],
  ])('refuses %j', (action, message) => {
    expect(error(withAction(action))).toContain(message);
  });

  it('fills fixed-response and redirect defaults', () => {
    expect(
      validateRule(
        rule({ actions: [{ type: 'fixed-response', fixedResponseConfig: { statusCode: '503' } }] }),
      ).actions,
    ).toEqual([
      {
        type: 'fixed-response',
        fixedResponseConfig: { statusCode: '503', contentType: 'text/plain', messageBody: '' },
      },
    ]);
    expect(
      validateRule(
        rule({
          actions: [
            {
              type: 'redirect',
              redirectConfig: { statusCode: 'HTTP_302', protocol: 'HTTPS', port: '443' },
            },
          ],
        }),
      ).actions[0].redirectConfig,
    ).toEqual({
      protocol: 'HTTPS',
      port: '443',
      host: '#{host}',
      path: '/#{path}',
      query: '#{query}',
      statusCode: 'HTTP_302',
    });
  });
});

describe('validateRule conditions', () => {
  it('normalizes the legacy values into the config member', () => {
    expect(
      validateRule(cond({ field: 'host-header', values: ['*.example.com'] })).conditions,
    ).toEqual([{ field: 'host-header', hostHeaderConfig: { values: ['*.example.com'] } }]);
  });

  it('accepts each kind of condition', () => {
    const r = validateRule(
      rule({
        conditions: [
          { field: 'http-header', httpHeaderConfig: { httpHeaderName: 'X-Env', values: ['prod'] } },
          { field: 'http-request-method', httpRequestMethodConfig: { values: ['GET'] } },
          { field: 'query-string', queryStringConfig: { values: [{ key: 'v', value: '2' }] } },
          { field: 'source-ip', sourceIpConfig: { values: ['10.0.0.0/8'] } },
          { field: 'path-pattern', pathPatternConfig: { values: ['/a'] } },
        ],
      }),
    );
    expect(r.conditions.map((c) => c.field)).toEqual([
      'http-header',
      'http-request-method',
      'query-string',
      'source-ip',
      'path-pattern',
    ]);
    expect(r.conditions[2]).toEqual({
      field: 'query-string',
      queryStringConfig: { values: [{ key: 'v', value: '2' }] },
    });
  });

  it.each([
    [rule({ conditions: [] }), 'conditions must have 1 to 5 conditions, not 0'],
    [rule({ priority: 0 }), 'priority must be an integer from 1 to 50000'],
    [rule({ priority: 50001 }), 'priority must be an integer from 1 to 50000'],
    [rule({ priority: undefined }), 'priority is required'],
    [rule({ listenerArn: LB }), 'listenerArn: '],
    [
      rule({
        conditions: [
          { field: 'path-pattern', values: ['/a'] },
          { field: 'path-pattern', values: ['/b'] },
        ],
      }),
      'conditions[1].field: a rule can have only one path-pattern condition (conditions[0] is one)',
    ],
    [
      cond({ field: 'path-pattern', pathPatternConfig: { values: ['/a', '/b', '/c', '/d'] } }),
      'conditions[0].pathPatternConfig.values must have 1 to 3 values, not 4',
    ],
    [
      cond({ field: 'path-pattern', pathPatternConfig: { values: [] } }),
      'must have 1 to 3 values, not 0',
    ],
    [
      cond({ field: 'path-pattern', pathPatternConfig: { values: ['/' + 'a'.repeat(128)] } }),
      'conditions[0].pathPatternConfig.values[0]: at most 128 characters',
    ],
    [
      cond({ field: 'path-pattern', pathPatternConfig: { values: ['/a b'] } }),
      "conditions[0].pathPatternConfig.values[0]: characters not allowed in '/a b'",
    ],
    [
      cond({ field: 'path-pattern', pathPatternConfig: { values: ['/*/*/*/*/*/*'] } }),
      'conditions: at most 5 wildcards (* or ?) per rule (6 given)',
    ],
    [
      cond({ field: 'host-header', hostHeaderConfig: { values: ['exa_mple.com'] } }),
      'conditions[0].hostHeaderConfig.values[0]: characters not allowed',
    ],
    [
      cond({ field: 'host-header', values: ['a.com'], hostHeaderConfig: { values: ['a.com'] } }),
      'conditions[0]: give the values in either values or hostHeaderConfig, not both',
    ],
    [
      cond({ field: 'host-header' }),
      'conditions[0].hostHeaderConfig is required for a host-header condition',
    ],
    [
      cond({ field: 'host-header', pathPatternConfig: { values: ['/'] } }),
      'conditions[0].pathPatternConfig is not allowed in a host-header condition',
    ],
    [
      cond({ field: 'source-ip', values: ['10.0.0.0/8'] }),
      'conditions[0].values: a source-ip condition takes its values in sourceIpConfig',
    ],
    [cond({ field: 'cookie', values: ['a'] }), 'conditions[0].field must be one of'],
    [
      cond({ field: 'http-header', httpHeaderConfig: { httpHeaderName: 'X Env', values: ['a'] } }),
      'conditions[0].httpHeaderConfig.httpHeaderName: an HTTP header name',
    ],
    [
      cond({
        field: 'http-header',
        httpHeaderConfig: { httpHeaderName: 'X'.repeat(41), values: ['a'] },
      }),
      'httpHeaderName: an HTTP header name',
    ],
    [
      cond({ field: 'http-header', httpHeaderConfig: { values: ['a'] } }),
      'conditions[0].httpHeaderConfig.httpHeaderName is required',
    ],
    [
      cond({ field: 'http-request-method', httpRequestMethodConfig: { values: ['get'] } }),
      'conditions[0].httpRequestMethodConfig.values[0]: an HTTP method in upper case',
    ],
    [
      cond({ field: 'query-string', queryStringConfig: { values: [{ key: 'a' }] } }),
      'conditions[0].queryStringConfig.values[0].value is required',
    ],
    [
      cond({ field: 'query-string', queryStringConfig: { values: [{ key: '', value: 'x' }] } }),
      'conditions[0].queryStringConfig.values[0].key must not be empty',
    ],
    [
      cond({ field: 'query-string', queryStringConfig: { values: [{ value: 'a b' }] } }),
      'queryStringConfig.values[0].value: characters not allowed',
    ],
    [
      cond({ field: 'query-string', queryStringConfig: { values: [{ value: 'x', op: 'eq' }] } }),
      "conditions[0].queryStringConfig.values[0]: unknown member 'op'",
    ],
    [
      cond({ field: 'source-ip', sourceIpConfig: { values: ['10.0.0.1'] } }),
      'conditions[0].sourceIpConfig.values[0]: an IPv4 or IPv6 CIDR block',
    ],
    [
      cond({ field: 'source-ip', sourceIpConfig: { values: ['10.0.0.0/33'] } }),
      'an IPv4 or IPv6 CIDR block',
    ],
    [cond({ field: 'source-ip', sourceIpConfig: { values: ['*'] } }), 'an IPv4 or IPv6 CIDR block'],
    [
      cond({ field: 'path-pattern', pathPatternConfig: { values: ['/'], caseSensitive: true } }),
      "conditions[0].pathPatternConfig: unknown member 'caseSensitive'",
    ],
    [
      rule({
        conditions: [
          { field: 'path-pattern', values: ['/a', '/b', '/c'] },
          { field: 'host-header', values: ['a.com', 'b.com', 'c.com'] },
        ],
      }),
      'conditions: at most 5 condition values per rule (6 given)',
    ],
    [
      rule({
        conditions: Array.from({ length: 6 }, () => ({
          field: 'http-header',
          httpHeaderConfig: { httpHeaderName: 'X', values: ['a'] },
        })),
      }),
      'conditions must have 1 to 5 conditions, not 6',
    ],
  ])('refuses %#', (input, message) => {
    expect(error(() => validateRule(input))).toContain(message);
  });

  it('counts escaped wildcards in query strings as literal characters', () => {
    const values = [{ value: '\\*\\*\\*' }, { value: '\\?\\?\\?' }];
    expect(() =>
      validateRule(cond({ field: 'query-string', queryStringConfig: { values } })),
    ).not.toThrow();
    expect(
      error(() =>
        validateRule(
          cond({
            field: 'query-string',
            queryStringConfig: { values: [{ key: '***', value: '***' }] },
          }),
        ),
      ),
    ).toContain('at most 5 wildcards');
  });

  it('allows several http-header and query-string conditions and 5 wildcards', () => {
    expect(() =>
      validateRule(
        rule({
          conditions: [
            { field: 'http-header', httpHeaderConfig: { httpHeaderName: 'A', values: ['x*'] } },
            { field: 'http-header', httpHeaderConfig: { httpHeaderName: 'B', values: ['y?'] } },
            { field: 'path-pattern', values: ['/a/*/*/*'] },
          ],
        }),
      ),
    ).not.toThrow();
  });

  it('checks CIDRs', () => {
    expect(isCidr('192.168.0.0/16')).toBe(true);
    expect(isCidr('2001:db8::/32')).toBe(true);
    expect(isCidr('2001:db8::/129')).toBe(false);
    expect(isCidr('300.1.1.1/8')).toBe(false);
    expect(isCidr('10.0.0.0/')).toBe(false);
  });
});

describe('validateTargetGroup', () => {
  it('fills the defaults', () => {
    expect(validateTargetGroup(tg(), TG)).toEqual({
      targetGroupArn: TG,
      targetGroupName: 'api',
      protocol: 'HTTP',
      port: 8080,
      targetType: 'instance',
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
    });
    expect(validateTargetGroup(tg({ stickiness: { enabled: true } })).stickiness).toEqual({
      enabled: true,
      type: 'lb_cookie',
      durationSeconds: 86400,
    });
  });

  it('accepts the limits', () => {
    const t = validateTargetGroup(
      tg({
        targetType: 'ip',
        healthCheck: {
          path: '/health',
          port: '9000',
          intervalSeconds: 5,
          timeoutSeconds: 4,
          healthyThresholdCount: 10,
          unhealthyThresholdCount: 10,
          matcher: { httpCode: '200,202,300-499' },
        },
        deregistrationDelaySeconds: 0,
        slowStartSeconds: 900,
        stickiness: { enabled: true, durationSeconds: 604800 },
      }),
    );
    expect(t.healthCheck.matcher.httpCode).toBe('200,202,300-499');
    expect(t.deregistrationDelaySeconds).toBe(0);
    expect(validateTargetGroup(tg({ slowStartSeconds: 30 })).slowStartSeconds).toBe(30);
    expect(
      validateTargetGroup(tg({ healthCheck: { intervalSeconds: 300, timeoutSeconds: 120 } }))
        .healthCheck.timeoutSeconds,
    ).toBe(120);
  });

  it.each([
    [tg({ name: 'a_b' }), 'name: '],
    [tg({ port: 0 }), 'port must be an integer from 1 to 65535'],
    [tg({ port: undefined }), 'port is required'],
    [tg({ protocol: 'HTTPS' }), 'protocol must be one of HTTP'],
    [tg({ targetType: 'lambda' }), 'targetType must be one of instance, ip'],
    [
      tg({ healthCheck: { intervalSeconds: 4 } }),
      'healthCheck.intervalSeconds must be an integer from 5 to 300',
    ],
    [
      tg({ healthCheck: { intervalSeconds: 301 } }),
      'healthCheck.intervalSeconds must be an integer from 5 to 300',
    ],
    [
      tg({ healthCheck: { timeoutSeconds: 1 } }),
      'healthCheck.timeoutSeconds must be an integer from 2 to 120',
    ],
    [
      tg({ healthCheck: { timeoutSeconds: 30 } }),
      'healthCheck.timeoutSeconds must be less than healthCheck.intervalSeconds (30)',
    ],
    [
      tg({ healthCheck: { intervalSeconds: 10, timeoutSeconds: 10 } }),
      'healthCheck.timeoutSeconds must be less than healthCheck.intervalSeconds (10)',
    ],
    [
      tg({ healthCheck: { healthyThresholdCount: 1 } }),
      'healthCheck.healthyThresholdCount must be an integer from 2 to 10',
    ],
    [
      tg({ healthCheck: { unhealthyThresholdCount: 11 } }),
      'healthCheck.unhealthyThresholdCount must be an integer from 2 to 10',
    ],
    [tg({ healthCheck: { path: 'health' } }), 'healthCheck.path must start with /'],
    [
      tg({ healthCheck: { path: '/' + 'a'.repeat(1024) } }),
      'healthCheck.path: at most 1024 characters',
    ],
    [
      tg({ healthCheck: { port: '0' } }),
      "healthCheck.port must be traffic-port or a port from 1 to 65535, not '0'",
    ],
    [tg({ healthCheck: { port: 8080 } }), 'healthCheck.port must be a string'],
    [
      tg({ healthCheck: { matcher: { httpCode: '199' } } }),
      'healthCheck.matcher.httpCode: 199 is outside 200-499',
    ],
    [
      tg({ healthCheck: { matcher: { httpCode: '200-500' } } }),
      'healthCheck.matcher.httpCode: 200-500 is outside 200-499',
    ],
    [tg({ healthCheck: { matcher: { httpCode: '299-200' } } }), 'the range 299-200 is empty'],
    [
      tg({ healthCheck: { matcher: { httpCode: '2xx' } } }),
      'healthCheck.matcher.httpCode must be HTTP codes from 200 to 499',
    ],
    [
      tg({ healthCheck: { matcher: { grpcCode: '0' } } }),
      "healthCheck.matcher: unknown member 'grpcCode'",
    ],
    [tg({ healthCheck: { protocol: 'HTTPS' } }), "healthCheck: unknown member 'protocol'"],
    [
      tg({ deregistrationDelaySeconds: 3601 }),
      'deregistrationDelaySeconds must be an integer from 0 to 3600',
    ],
    [
      tg({ deregistrationDelaySeconds: -1 }),
      'deregistrationDelaySeconds must be an integer from 0 to 3600',
    ],
    [
      tg({ algorithm: 'random' }),
      'algorithm must be one of round_robin, least_outstanding_requests',
    ],
    [
      tg({ stickiness: { enabled: true, type: 'app_cookie' } }),
      'stickiness.type must be one of lb_cookie',
    ],
    [
      tg({ stickiness: { enabled: true, durationSeconds: 0 } }),
      'stickiness.durationSeconds must be an integer from 1 to 604800',
    ],
    [
      tg({ stickiness: { enabled: true, durationSeconds: 604801 } }),
      'stickiness.durationSeconds must be an integer from 1 to 604800',
    ],
    [
      tg({ stickiness: { durationSeconds: 10 } }),
      'stickiness.enabled is required and must be true or false',
    ],
    [tg({ slowStartSeconds: 29 }), 'slowStartSeconds must be 0 (off) or from 30 to 900, not 29'],
    [tg({ slowStartSeconds: 901 }), 'slowStartSeconds must be an integer from 0 to 900'],
    [
      tg({ slowStartSeconds: 60, algorithm: 'least_outstanding_requests' }),
      'slowStartSeconds cannot be used with algorithm least_outstanding_requests',
    ],
    [tg({ vpcId: 'vpc-1', matcher: {} }), "unknown members 'vpcId', 'matcher'"],
  ])('refuses %#', (input, message) => {
    expect(error(() => validateTargetGroup(input))).toContain(message);
  });

  it('allows least_outstanding_requests without slow start', () => {
    expect(validateTargetGroup(tg({ algorithm: 'least_outstanding_requests' })).algorithm).toBe(
      'least_outstanding_requests',
    );
  });
});
