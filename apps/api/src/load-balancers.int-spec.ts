/**
 * Load balancer management under /v1 through the api, against the real state in this process
 * (Postgres and NATS from Testcontainers): what the api answers is what state validated and
 * stored. No scheduler runs; nothing here needs one.
 */
import { createLogger } from '@wharf/observability';
import { startControlPlane } from './control-plane-test-fixtures';

jest.setTimeout(180_000);

type Json = Record<string, unknown>;

describe('load balancers through the api against real state', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let url: string;

  beforeAll(async () => {
    // These routes never call the scheduler: none runs.
    const plane = await startControlPlane({
      logger: createLogger('api-lb-int', process.env.LOG_LEVEL ?? 'warn'),
      scheduler: false,
    });
    stops.push(() => plane.stop());
    url = plane.api.url;
  });

  afterAll(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${url}${path}`, {
      method,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return { status: res.status, body: (await res.json()) as Json };
  }
  const enc = encodeURIComponent;

  it('creates, lists, gets, replaces and deletes a load balancer', async () => {
    const created = await call('POST', '/v1/load-balancers', { name: 'crud' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      loadBalancerArn: expect.stringMatching(
        /^arn:aws:elasticloadbalancing:[^:]+:\d+:loadbalancer\/app\/crud\/[0-9a-f]{16}$/,
      ),
      loadBalancerName: 'crud',
      idleTimeoutSeconds: 60,
      tags: [],
      createdTime: expect.any(Number),
    });
    const arn = created.body.loadBalancerArn as string;

    const listed = await call('GET', '/v1/load-balancers');
    expect(listed.status).toBe(200);
    expect(listed.body.loadBalancers).toContainEqual(created.body);
    expect(await call('GET', '/v1/load-balancers/crud')).toEqual({
      status: 200,
      body: created.body,
    });
    expect(await call('GET', `/v1/load-balancers/${enc(arn)}`)).toEqual({
      status: 200,
      body: created.body,
    });

    const replaced = await call('PUT', '/v1/load-balancers/crud', {
      name: 'crud',
      idleTimeoutSeconds: 120,
      tags: [{ key: 'team', value: 'web' }],
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({
      loadBalancerArn: arn,
      idleTimeoutSeconds: 120,
      tags: [{ key: 'team', value: 'web' }],
    });
    expect((await call('GET', `/v1/load-balancers/${enc(arn)}`)).body).toEqual(replaced.body);

    const deleted = await call('DELETE', `/v1/load-balancers/${enc(arn)}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.loadBalancerArn).toBe(arn);
    const gone = await call('GET', '/v1/load-balancers/crud');
    expect(gone).toEqual({
      status: 404,
      body: { code: 'LoadBalancerNotFoundException', message: expect.stringContaining('crud') },
    });
    expect((await call('DELETE', `/v1/load-balancers/${enc(arn)}`)).status).toBe(404);
    expect((await call('PUT', '/v1/load-balancers/crud', { name: 'crud' })).status).toBe(404);
  });

  it('answers 400 naming the member state refuses, and for bodies that are not objects', async () => {
    const badTimeout = await call('POST', '/v1/load-balancers', {
      name: 'bad',
      idleTimeoutSeconds: 0,
    });
    expect(badTimeout.status).toBe(400);
    expect(badTimeout.body.message).toMatch(/idleTimeoutSeconds/);
    expect(badTimeout.body.code).toMatch(/Exception$/);
    const badName = await call('POST', '/v1/target-groups', { name: '-x-', port: 80 });
    expect(badName.status).toBe(400);
    expect(badName.body.message).toMatch(/name/);

    const malformed = await call('POST', '/v1/listeners', '{"port": 80');
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/^The body is not valid JSON/);
    const array = await call('POST', '/v1/rules', '[]');
    expect(array).toEqual({
      status: 400,
      body: {
        code: 'SerializationException',
        message: 'The body must be a JSON object (a RuleInput), not an array.',
      },
    });
  });

  it('answers 409 for a taken name, listener port and rule priority, and for a group in use', async () => {
    const lb = (await call('POST', '/v1/load-balancers', { name: 'dup' })).body;
    const again = await call('POST', '/v1/load-balancers', { name: 'dup' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('DuplicateLoadBalancerNameException');

    const tg = (await call('POST', '/v1/target-groups', { name: 'dup-tg', port: 8080 })).body;
    const tgAgain = await call('POST', '/v1/target-groups', { name: 'dup-tg', port: 8081 });
    expect(tgAgain.status).toBe(409);
    expect(tgAgain.body.code).toBe('DuplicateTargetGroupNameException');

    const forward = [{ type: 'forward', targetGroupArn: tg.targetGroupArn }];
    const listenerInput = {
      loadBalancerArn: lb.loadBalancerArn,
      port: 18080,
      defaultActions: forward,
    };
    const listener = await call('POST', '/v1/listeners', listenerInput);
    expect(listener.status).toBe(201);
    expect(listener.body).toMatchObject({ protocol: 'HTTP', port: 18080 });
    const samePort = await call('POST', '/v1/listeners', listenerInput);
    expect(samePort.status).toBe(409);
    expect(samePort.body.code).toBe('DuplicateListenerException');

    const ruleInput = {
      listenerArn: listener.body.listenerArn,
      priority: 5,
      conditions: [{ field: 'path-pattern', values: ['/api/*'] }],
      actions: forward,
    };
    const rule = await call('POST', '/v1/rules', ruleInput);
    expect(rule.status).toBe(201);
    const samePriority = await call('POST', '/v1/rules', ruleInput);
    expect(samePriority.status).toBe(409);
    expect(samePriority.body.code).toBe('PriorityInUseException');

    const inUse = await call('DELETE', '/v1/target-groups/dup-tg');
    expect(inUse.status).toBe(409);
    expect(inUse.body.code).toBe('ResourceInUseException');

    // Deleting the load balancer takes its listener and rule with it; then the group is free.
    expect((await call('DELETE', '/v1/load-balancers/dup')).status).toBe(200);
    const listenerPath = `/v1/listeners/${enc(listener.body.listenerArn as string)}`;
    expect((await call('GET', listenerPath)).status).toBe(404);
    expect((await call('GET', `/v1/rules/${enc(rule.body.ruleArn as string)}`)).status).toBe(404);
    expect((await call('DELETE', '/v1/target-groups/dup-tg')).status).toBe(200);
  });

  it('manages listeners and rules by encoded ARN and lists them under their parent', async () => {
    const lb = (await call('POST', '/v1/load-balancers', { name: 'routing' })).body;
    const lbArn = lb.loadBalancerArn as string;
    const notFound = { type: 'fixed-response', fixedResponseConfig: { statusCode: '404' } };
    const listener = (
      await call('POST', '/v1/listeners', {
        loadBalancerArn: lbArn,
        port: 18081,
        defaultActions: [notFound],
      })
    ).body;
    const listenerArn = listener.listenerArn as string;
    expect(listenerArn).toContain('/');

    expect(await call('GET', `/v1/listeners?loadBalancerArn=${enc(lbArn)}`)).toEqual({
      status: 200,
      body: { listeners: [listener] },
    });
    expect((await call('GET', '/v1/listeners?loadBalancerArn=routing')).body).toEqual({
      listeners: [listener],
    });
    const noLb = await call('GET', '/v1/listeners?loadBalancerArn=nowhere');
    expect(noLb.status).toBe(404);
    expect(noLb.body.code).toBe('LoadBalancerNotFoundException');

    const replaced = await call('PUT', `/v1/listeners/${enc(listenerArn)}`, {
      loadBalancerArn: lbArn,
      port: 18082,
      defaultActions: [notFound],
    });
    expect(replaced).toEqual({ status: 200, body: { ...listener, port: 18082 } });
    expect((await call('GET', `/v1/listeners/${enc(listenerArn)}`)).body).toEqual(replaced.body);

    const rule = (
      await call('POST', '/v1/rules', {
        listenerArn,
        priority: 1,
        conditions: [{ field: 'host-header', values: ['api.example.com'] }],
        actions: [notFound],
      })
    ).body;
    expect(await call('GET', `/v1/rules?listenerArn=${enc(listenerArn)}`)).toEqual({
      status: 200,
      body: { rules: [rule] },
    });
    const rulePath = `/v1/rules/${enc(rule.ruleArn as string)}`;
    const moved = await call('PUT', rulePath, { ...rule, ruleArn: undefined, priority: 2 });
    expect(moved.status).toBe(200);
    expect(moved.body.priority).toBe(2);
    expect((await call('DELETE', rulePath)).status).toBe(200);
    const gone = await call('GET', rulePath);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('RuleNotFoundException');

    const badRef = await call('GET', '/v1/listeners/web');
    expect(badRef.status).toBe(400);
    expect(badRef.body.message).toMatch(/not an ARN/);
    expect((await call('DELETE', `/v1/listeners/${enc(listenerArn)}`)).status).toBe(200);
  });

  it('creates target groups with defaults and shows, registers and deregisters targets', async () => {
    const created = await call('POST', '/v1/target-groups', {
      name: 'ips',
      port: 8000,
      targetType: 'ip',
      deregistrationDelaySeconds: 60,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      targetGroupName: 'ips',
      protocol: 'HTTP',
      port: 8000,
      targetType: 'ip',
      healthCheck: { path: '/', port: 'traffic-port', matcher: { httpCode: '200' } },
      algorithm: 'round_robin',
    });
    const tgArn = created.body.targetGroupArn as string;
    expect((await call('GET', '/v1/target-groups')).body.targetGroups).toContainEqual(created.body);

    expect(await call('GET', '/v1/target-groups/ips/targets')).toEqual({
      status: 200,
      body: { targetHealthDescriptions: [] },
    });
    const registered = await call('POST', `/v1/target-groups/${enc(tgArn)}/targets`, {
      targets: [{ id: '10.0.0.5', port: 32768 }, { id: '10.0.0.6' }],
    });
    expect(registered.status).toBe(200);
    const health = await call('GET', '/v1/target-groups/ips/targets');
    expect(health.status).toBe(200);
    const views = health.body.targetHealthDescriptions as Json[];
    expect(views).toHaveLength(2);
    expect(views).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          target: { id: '10.0.0.5', port: 32768 },
          healthCheckPort: '32768',
          targetHealth: expect.objectContaining({ state: 'initial' }),
        }),
        expect.objectContaining({
          target: { id: '10.0.0.6', port: 8000 },
          healthCheckPort: '8000',
        }),
      ]),
    );

    const badIp = await call('POST', '/v1/target-groups/ips/targets', {
      targets: [{ id: 'i-0123' }],
    });
    expect(badIp.status).toBe(400);
    expect(badIp.body.message).toMatch(/i-0123/);
    const badBody = await call('POST', '/v1/target-groups/ips/targets', { targets: [{ id: 7 }] });
    expect(badBody).toEqual({
      status: 400,
      body: {
        code: 'InvalidParameterException',
        message: 'targets[0].id must be a container instance id or an IP address.',
      },
    });

    const deregistered = await call('POST', '/v1/target-groups/ips/targets/deregister', {
      targets: [{ id: '10.0.0.6' }],
    });
    expect(deregistered.status).toBe(200);
    const after = (await call('GET', '/v1/target-groups/ips/targets')).body
      .targetHealthDescriptions as Json[];
    expect(after.find((v) => (v.target as Json).id === '10.0.0.6')).toMatchObject({
      targetHealth: { state: 'draining' },
    });

    const replaced = await call('PUT', '/v1/target-groups/ips', {
      name: 'ips',
      port: 8000,
      targetType: 'ip',
      healthCheck: { port: '9100' },
    });
    expect(replaced.status).toBe(200);
    const checkPorts = (
      (await call('GET', '/v1/target-groups/ips/targets')).body.targetHealthDescriptions as Json[]
    ).map((v) => v.healthCheckPort);
    expect(new Set(checkPorts)).toEqual(new Set(['9100']));

    const noGroup = await call('GET', '/v1/target-groups/nowhere/targets');
    expect(noGroup.status).toBe(404);
    expect(noGroup.body.code).toBe('TargetGroupNotFoundException');
  });

  it('serves the OpenAPI document and its page', async () => {
    const res = await fetch(`${url}/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Json };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/target-groups/{arnOrName}/targets');
    const page = await fetch(`${url}/v1/docs`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });
});
