import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { createLogger } from '@wharf/observability';
import type { stateV1 } from '@wharf/proto';
import type { AddressInfo } from 'node:net';
import { Observable, of, throwError } from 'rxjs';
import { apiConfigSchema } from '../config';
import { LbApiModule } from './lb.module';
import { JsonSchema, OPENAPI_DOCUMENT, ResponseObject } from './openapi';

const PREFIX = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:';

type Spec = Record<string, unknown>;
interface GrpcFailure {
  code: number;
  details: string;
}

/**
 * State's load balancer rpcs in memory: enough to answer the api as state does (specs in,
 * normalized specs out, NOT_FOUND / ALREADY_EXISTS with ELBv2 names). Each call is recorded;
 * `failNext` makes the next call fail with a gRPC status instead.
 */
class FakeState {
  resources: stateV1.LbResource[] = [];
  targets: stateV1.LbTarget[] = [];
  calls: { method: string; request: unknown }[] = [];
  failNext: GrpcFailure | undefined;
  private nextId = 1;

  client(): stateV1.StateServiceClient {
    return this as unknown as stateV1.StateServiceClient;
  }

  private answer<T>(method: string, request: unknown, run: () => T): Observable<T> {
    this.calls.push({ method, request });
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) return throwError(() => Object.assign(new Error(failure.details), failure));
    try {
      return of(run());
    } catch (err) {
      return throwError(() => err);
    }
  }

  putLbResource(req: stateV1.PutLbResourceRequest): Observable<stateV1.LbResource> {
    return this.answer('putLbResource', req, () => {
      const input = JSON.parse(req.specJson) as Spec;
      const id = (this.nextId++).toString(16).padStart(16, '0');
      const existing = req.arn ? this.resources.find((r) => r.arn === req.arn) : undefined;
      if (req.arn && existing?.kind !== req.kind) {
        throw grpc(5, `${notFoundName(req.kind)}: ${req.arn} not found.`);
      }
      const name = typeof input.name === 'string' ? input.name : '';
      if (
        name &&
        this.resources.some((r) => r.kind === req.kind && r.name === name && r.arn !== req.arn)
      ) {
        throw grpc(6, `DuplicateLoadBalancerNameException: ${name} is taken.`);
      }
      const resource = normalize(req.kind, existing?.arn ?? '', id, input);
      if (existing) Object.assign(existing, resource, { version: existing.version + 1 });
      else this.resources.push(resource);
      return existing ?? resource;
    });
  }

  deleteLbResource(req: stateV1.DeleteLbResourceRequest): Observable<stateV1.LbResource> {
    return this.answer('deleteLbResource', req, () => {
      const found = this.resources.find((r) => r.arn === req.arn && r.kind === req.kind);
      if (!found) throw grpc(5, `${notFoundName(req.kind)}: ${req.arn} not found.`);
      this.resources = this.resources.filter((r) => r !== found);
      return found;
    });
  }

  listLbResources(
    req: stateV1.ListLbResourcesRequest,
  ): Observable<stateV1.ListLbResourcesResponse> {
    return this.answer('listLbResources', req, () => ({
      resources: this.resources.filter(
        (r) =>
          (!req.kind || r.kind === req.kind) &&
          (!req.parentArn || r.parentArn === req.parentArn) &&
          (req.arns.length === 0 || req.arns.includes(r.arn)) &&
          (req.names.length === 0 || req.names.includes(r.name)),
      ),
    }));
  }

  describeTargetHealth(
    req: stateV1.DescribeTargetHealthRequest,
  ): Observable<stateV1.TargetsResponse> {
    return this.answer('describeTargetHealth', req, () => ({
      targets: this.targets.filter((t) => t.targetGroupArn === req.targetGroupArn),
    }));
  }

  registerTargets(req: stateV1.RegisterTargetsRequest): Observable<stateV1.TargetsResponse> {
    return this.answer('registerTargets', req, () => {
      const group = this.resources.find((r) => r.arn === req.targetGroupArn)!;
      const port = (JSON.parse(group.specJson) as { port: number }).port;
      const added = req.targets.map((t) =>
        target({ targetGroupArn: req.targetGroupArn, id: t.id, port: t.port || port }),
      );
      this.targets.push(...added);
      return { targets: added };
    });
  }

  deregisterTargets(req: stateV1.DeregisterTargetsRequest): Observable<stateV1.TargetsResponse> {
    return this.answer('deregisterTargets', req, () => {
      const changed = this.targets.filter(
        (t) =>
          t.targetGroupArn === req.targetGroupArn &&
          req.targets.some((r) => r.id === t.id && (!r.port || r.port === t.port)),
      );
      for (const t of changed) t.state = 'draining';
      return { targets: changed };
    });
  }
}

function grpc(code: number, details: string): GrpcFailure & Error {
  return Object.assign(new Error(details), { code, details });
}

function notFoundName(kind: string): string {
  return {
    'load-balancer': 'LoadBalancerNotFoundException',
    listener: 'ListenerNotFoundException',
    rule: 'RuleNotFoundException',
    'target-group': 'TargetGroupNotFoundException',
  }[kind]!;
}

function target(t: Partial<stateV1.LbTarget>): stateV1.LbTarget {
  return {
    targetGroupArn: '',
    id: '',
    port: 0,
    host: '',
    taskArn: '',
    serviceArn: '',
    state: 'initial',
    reason: 'Elb.RegistrationInProgress',
    description: 'Target registration is in progress',
    registeredAt: 1,
    drainingSince: 0,
    updatedAt: 1,
    version: 1,
    ...t,
  };
}

/** What state stores for an input, in the shapes of elb.types.ts. */
function normalize(kind: string, arn: string, id: string, input: Spec): stateV1.LbResource {
  const name = typeof input.name === 'string' ? input.name : '';
  let spec: Spec;
  let parentArn = '';
  switch (kind) {
    case 'load-balancer':
      arn ||= `${PREFIX}loadbalancer/app/${name}/${id}`;
      spec = {
        loadBalancerArn: arn,
        loadBalancerName: name,
        idleTimeoutSeconds: input.idleTimeoutSeconds ?? 60,
        tags: [],
        createdTime: 1_700_000_000_000,
      };
      break;
    case 'listener':
      parentArn = input.loadBalancerArn as string;
      arn ||= `${parentArn.replace(':loadbalancer/', ':listener/')}/${id}`;
      spec = { listenerArn: arn, protocol: 'HTTP', ...input };
      break;
    case 'rule':
      parentArn = input.listenerArn as string;
      arn ||= `${parentArn.replace(':listener/', ':listener-rule/')}/${id}`;
      spec = { ruleArn: arn, ...input };
      break;
    default:
      arn ||= `${PREFIX}targetgroup/${name}/${id}`;
      spec = {
        targetGroupArn: arn,
        targetGroupName: name,
        protocol: 'HTTP',
        port: input.port,
        targetType: 'instance',
        healthCheck: {
          path: '/',
          port: 'traffic-port',
          intervalSeconds: 30,
          timeoutSeconds: 5,
          healthyThresholdCount: 5,
          unhealthyThresholdCount: 2,
          matcher: { httpCode: '200' },
          ...(input.healthCheck as Spec | undefined),
        },
        deregistrationDelaySeconds: 300,
        algorithm: 'round_robin',
        stickiness: { enabled: false, type: 'lb_cookie', durationSeconds: 86400 },
        slowStartSeconds: 0,
        tags: [],
      };
  }
  return {
    arn,
    kind,
    name: kind === 'load-balancer' || kind === 'target-group' ? name : '',
    parentArn,
    specJson: JSON.stringify(spec),
    version: 1,
    createdAt: 1,
  };
}

// ------------------------------------------------------------ checking answers against the document

/**
 * Where `value` breaks `schema` (the JSON Schema subset openapi.ts uses), strictly: a member
 * the schema does not list is reported too, so that an answer cannot drift from the document.
 */
function violations(value: unknown, schema: JsonSchema, path = '$'): string[] {
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = OPENAPI_DOCUMENT.components.schemas[name];
    return target ? violations(value, target, path) : [`${path}: no schema ${name}`];
  }
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((s) => violations(value, s, path).length === 0);
    return matching.length === 1 ? [] : [`${path}: matches ${matching.length} of oneOf`];
  }
  const out: string[] = [];
  const t = schema.type;
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  if (t === 'integer' ? !Number.isInteger(value) : t && t !== actual) {
    return [`${path}: ${actual}, not ${t}`];
  }
  if (schema.enum && !schema.enum.includes(value as string)) {
    out.push(`${path}: ${String(value)} not in ${schema.enum.join('|')}`);
  }
  if (t === 'array') {
    (value as unknown[]).forEach((v, i) =>
      out.push(...violations(v, schema.items!, `${path}[${i}]`)),
    );
  }
  if (t === 'object' && schema.properties) {
    const o = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in o)) out.push(`${path}.${r}: missing`);
    for (const [k, v] of Object.entries(o)) {
      const s = schema.properties[k];
      out.push(...(s ? violations(v, s, `${path}.${k}`) : [`${path}.${k}: not in the document`]));
    }
  }
  return out;
}

function documentedSchema(route: string, method: string, status: number): JsonSchema {
  const op = OPENAPI_DOCUMENT.paths[route]?.[method as 'get'];
  if (!op) throw new Error(`${method} ${route} is not in the document`);
  let response = op.responses[String(status)];
  if (!response) throw new Error(`${method} ${route} does not document ${status}`);
  if ('$ref' in response) {
    response = OPENAPI_DOCUMENT.components.responses[response.$ref.split('/').pop()!];
  }
  return (response as ResponseObject).content!['application/json'].schema;
}

// ------------------------------------------------------------ the api over HTTP

describe('load balancer routes under /v1', () => {
  let app: INestApplication;
  let base = '';
  const state = new FakeState();

  beforeAll(async () => {
    app = await NestFactory.create(
      LbApiModule.create({
        config: apiConfigSchema.parse({ API_MAX_BODY_BYTES: '2048' }),
        state: state.client(),
        logger: createLogger('api-lb-test', 'silent'),
      }),
      new ExpressAdapter(),
      { bodyParser: false, logger: false },
    );
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(() => app?.close());
  beforeEach(() => {
    state.resources = [];
    state.targets = [];
    state.calls = [];
    state.failNext = undefined;
  });

  /**
   * One request; the answer must be JSON and match what the document says `route` answers
   * with that status.
   */
  async function call(
    method: string,
    path: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${base}${path}`, {
      method,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const json = (await res.json()) as Record<string, unknown>;
    expect(violations(json, documentedSchema(route, method.toLowerCase(), res.status))).toEqual([]);
    return { status: res.status, body: json };
  }
  const enc = encodeURIComponent;
  const LB = '/v1/load-balancers/{arnOrName}';
  const TG = '/v1/target-groups/{arnOrName}';

  it('creates, lists, gets (by name or encoded ARN), replaces and deletes a load balancer', async () => {
    const created = await call('POST', '/v1/load-balancers', '/v1/load-balancers', {
      name: 'web',
      idleTimeoutSeconds: 30,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ loadBalancerName: 'web', idleTimeoutSeconds: 30 });
    const arn = created.body.loadBalancerArn as string;
    expect(arn).toMatch(/^arn:aws:elasticloadbalancing:.*:loadbalancer\/app\/web\//);
    expect(state.calls[0]).toEqual({
      method: 'putLbResource',
      request: {
        kind: 'load-balancer',
        arn: '',
        specJson: '{"name":"web","idleTimeoutSeconds":30}',
      },
    });

    const listed = await call('GET', '/v1/load-balancers', '/v1/load-balancers');
    expect(listed).toEqual({ status: 200, body: { loadBalancers: [created.body] } });
    expect(await call('GET', '/v1/load-balancers/web', LB)).toEqual({
      status: 200,
      body: created.body,
    });
    expect((await call('GET', `/v1/load-balancers/${enc(arn)}`, LB)).body).toEqual(created.body);

    const replaced = await call('PUT', '/v1/load-balancers/web', LB, { name: 'web' });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ loadBalancerArn: arn, idleTimeoutSeconds: 60 });
    // A name is looked up first; state replaces by ARN.
    expect(state.calls.at(-1)).toMatchObject({ method: 'putLbResource', request: { arn } });

    const deleted = await call('DELETE', `/v1/load-balancers/${enc(arn)}`, LB);
    expect(deleted).toEqual({ status: 200, body: replaced.body });
    expect(state.calls.at(-1)).toEqual({
      method: 'deleteLbResource',
      request: { kind: 'load-balancer', arn },
    });
    const gone = await call('GET', '/v1/load-balancers/web', LB);
    expect(gone).toEqual({
      status: 404,
      body: { code: 'LoadBalancerNotFoundException', message: 'Load balancer web not found.' },
    });
    const deleteGone = await call('DELETE', `/v1/load-balancers/${enc(arn)}`, LB);
    expect(deleteGone.status).toBe(404);
    expect(deleteGone.body.code).toBe('LoadBalancerNotFoundException');
  });

  it.each([
    ['{"name": "web",', /^The body is not valid JSON: /],
    ['', /^The body is empty; send a LoadBalancerInput as JSON\.$/],
    [
      '[{"name":"web"}]',
      /^The body must be a JSON object \(a LoadBalancerInput\), not an array\.$/,
    ],
    ['"web"', /not a string\.$/],
    ['null', /not null\.$/],
  ])('answers 400 for the body %j without calling state', async (body, message) => {
    const res = await call('POST', '/v1/load-balancers', '/v1/load-balancers', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SerializationException');
    expect(res.body.message).toMatch(message);
    expect(state.calls).toEqual([]);
  });

  it('answers 413 for a body over API_MAX_BODY_BYTES', async () => {
    const res = await call('POST', '/v1/target-groups', '/v1/target-groups', {
      name: 'x'.repeat(3000),
    });
    expect(res).toEqual({
      status: 413,
      body: { code: 'SerializationException', message: 'The body exceeds 2048 bytes.' },
    });
  });

  it.each([
    [
      3,
      'InvalidParameterException: idleTimeoutSeconds must be 1–4000',
      400,
      'InvalidParameterException',
      'idleTimeoutSeconds must be 1–4000',
    ],
    [3, 'name is required', 400, 'InvalidParameterException', 'name is required'],
    [
      5,
      'TargetGroupNotFoundException: Target group tg not found.',
      404,
      'TargetGroupNotFoundException',
      'Target group tg not found.',
    ],
    [
      6,
      'DuplicateLoadBalancerNameException: web exists',
      409,
      'DuplicateLoadBalancerNameException',
      'web exists',
    ],
    [6, 'ClientException: web exists', 409, 'DuplicateListenerException', 'web exists'],
    [9, 'ResourceInUseException: used by a rule', 409, 'ResourceInUseException', 'used by a rule'],
    [9, 'in use', 409, 'ResourceInUseException', 'in use'],
    [
      14,
      'connect ECONNREFUSED 10.0.0.9:4701',
      503,
      'ServiceUnavailableException',
      'The state service is unavailable; try again later.',
    ],
  ])('maps state status %i "%s" to %i %s', async (code, details, status, name, message) => {
    state.failNext = { code, details };
    const res = await call('POST', '/v1/listeners', '/v1/listeners', { port: 80 });
    expect(res).toEqual({ status, body: { code: name, message } });
  });

  it('answers other state failures with 500 and the request id, never their details', async () => {
    state.failNext = {
      code: 13,
      details: 'error: relation "lb_resources" at Pool.query (/app/db.ts:12)',
    };
    const res = await call('DELETE', '/v1/target-groups/tg', TG);
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('ServerException');
    expect(JSON.stringify(res.body)).not.toMatch(/relation|db\.ts|Pool/);
  });

  it('names the ELBv2 duplicate error by kind when state sends none', async () => {
    for (const [path, name] of [
      ['/v1/target-groups', 'DuplicateTargetGroupNameException'],
      ['/v1/listeners', 'DuplicateListenerException'],
      ['/v1/rules', 'PriorityInUseException'],
    ]) {
      state.failNext = { code: 6, details: 'taken' };
      const res = await call('POST', path, path, {});
      expect(res).toEqual({ status: 409, body: { code: name, message: 'taken' } });
    }
  });

  it('serves listeners and rules by encoded ARN and filters them by parent', async () => {
    const lb = (await call('POST', '/v1/load-balancers', '/v1/load-balancers', { name: 'web' }))
      .body.loadBalancerArn as string;
    const action = { type: 'fixed-response', fixedResponseConfig: { statusCode: '404' } };
    const listener = await call('POST', '/v1/listeners', '/v1/listeners', {
      loadBalancerArn: lb,
      port: 8080,
      defaultActions: [action],
    });
    expect(listener.status).toBe(201);
    const listenerArn = listener.body.listenerArn as string;
    expect(listenerArn).toContain('/');
    const rule = await call('POST', '/v1/rules', '/v1/rules', {
      listenerArn,
      priority: 10,
      conditions: [{ field: 'path-pattern', values: ['/api/*'] }],
      actions: [action],
    });
    expect(rule.status).toBe(201);

    // The load balancer by name or ARN; an unknown one is 404, not an empty list.
    for (const ref of ['web', lb]) {
      const byParent = await call(
        'GET',
        `/v1/listeners?loadBalancerArn=${enc(ref)}`,
        '/v1/listeners',
      );
      expect(byParent.body).toEqual({ listeners: [listener.body] });
    }
    expect(state.calls.at(-1)).toMatchObject({ request: { kind: 'listener', parentArn: lb } });
    const unknownLb = await call('GET', '/v1/listeners?loadBalancerArn=nope', '/v1/listeners');
    expect(unknownLb.status).toBe(404);
    expect(unknownLb.body.code).toBe('LoadBalancerNotFoundException');
    const twice = await call(
      'GET',
      '/v1/listeners?loadBalancerArn=a&loadBalancerArn=b',
      '/v1/listeners',
    );
    expect(twice).toEqual({
      status: 400,
      body: { code: 'InvalidParameterException', message: 'loadBalancerArn must be given once.' },
    });

    const rules = await call('GET', `/v1/rules?listenerArn=${enc(listenerArn)}`, '/v1/rules');
    expect(rules.body).toEqual({ rules: [rule.body] });
    const ruleArn = rule.body.ruleArn as string;
    expect((await call('GET', `/v1/rules/${enc(ruleArn)}`, '/v1/rules/{ruleArn}')).body).toEqual(
      rule.body,
    );
    const listenerPath = `/v1/listeners/${enc(listenerArn)}`;
    const replaced = await call('PUT', listenerPath, '/v1/listeners/{listenerArn}', {
      loadBalancerArn: lb,
      port: 8081,
      defaultActions: [action],
    });
    expect(replaced.body).toMatchObject({ listenerArn, port: 8081 });

    // A listener has no name: anything but an ARN is refused before state is asked.
    const calls = state.calls.length;
    const byName = await call('GET', '/v1/listeners/http', '/v1/listeners/{listenerArn}');
    expect(byName.status).toBe(400);
    expect(byName.body.message).toMatch(/^Listener http is not an ARN/);
    expect(state.calls.length).toBe(calls);

    expect((await call('DELETE', `/v1/rules/${enc(ruleArn)}`, '/v1/rules/{ruleArn}')).status).toBe(
      200,
    );
    const gone = await call('GET', `/v1/rules/${enc(ruleArn)}`, '/v1/rules/{ruleArn}');
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('RuleNotFoundException');
  });

  it('registers, describes and deregisters targets of a group named by name or ARN', async () => {
    const tg = await call('POST', '/v1/target-groups', '/v1/target-groups', {
      name: 'api',
      port: 8000,
    });
    const other = await call('POST', '/v1/target-groups', '/v1/target-groups', {
      name: 'admin',
      port: 9000,
      healthCheck: { port: '9100' },
    });
    const tgArn = tg.body.targetGroupArn as string;
    const registered = await call('POST', '/v1/target-groups/api/targets', `${TG}/targets`, {
      targets: [{ id: 'i-1', port: 32768 }, { id: 'i-2' }],
    });
    expect(registered.status).toBe(200);
    expect(state.calls.at(-1)).toEqual({
      method: 'registerTargets',
      request: {
        targetGroupArn: tgArn,
        targets: [
          { id: 'i-1', port: 32768, host: '', taskArn: '', serviceArn: '' },
          { id: 'i-2', port: 0, host: '', taskArn: '', serviceArn: '' },
        ],
      },
    });
    state.targets[0].state = 'healthy';
    state.targets[0].reason = '';
    state.targets[0].description = '';
    state.targets[0].taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/default/abc';
    state.targets[0].serviceArn = 'arn:aws:ecs:us-east-1:000000000000:service/default/api';
    state.targets.push(
      target({ targetGroupArn: other.body.targetGroupArn as string, id: 'i-3', port: 9000 }),
    );

    const health = await call('GET', `/v1/target-groups/${enc(tgArn)}/targets`, `${TG}/targets`);
    expect(health).toEqual({
      status: 200,
      body: {
        targetHealthDescriptions: [
          {
            target: { id: 'i-1', port: 32768 },
            healthCheckPort: '32768',
            targetHealth: { state: 'healthy' },
            taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/default/abc',
            serviceArn: 'arn:aws:ecs:us-east-1:000000000000:service/default/api',
          },
          {
            target: { id: 'i-2', port: 8000 },
            healthCheckPort: '8000',
            targetHealth: {
              state: 'initial',
              reason: 'Elb.RegistrationInProgress',
              description: 'Target registration is in progress',
            },
          },
        ],
      },
    });
    // A health check port of its own is what the view shows.
    const admin = await call('GET', '/v1/target-groups/admin/targets', `${TG}/targets`);
    expect(admin.body.targetHealthDescriptions).toEqual([
      expect.objectContaining({ target: { id: 'i-3', port: 9000 }, healthCheckPort: '9100' }),
    ]);

    const deregistered = await call(
      'POST',
      '/v1/target-groups/api/targets/deregister',
      `${TG}/targets/deregister`,
      { targets: [{ id: 'i-2' }] },
    );
    expect(deregistered.body.targetHealthDescriptions).toEqual([
      expect.objectContaining({
        target: { id: 'i-2', port: 8000 },
        targetHealth: expect.objectContaining({ state: 'draining' }),
      }),
    ]);

    const unknown = await call('GET', '/v1/target-groups/nope/targets', `${TG}/targets`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('TargetGroupNotFoundException');
  });

  it.each([
    [{}, 'targets is required: a list of {id, port}.'],
    [{ targets: {} }, 'targets must be a list of {id, port}, not an object.'],
    [{ targets: ['i-1'] }, 'targets[0] must be an object {id, port}, not a string.'],
    [
      { targets: [{ port: 80 }] },
      'targets[0].id must be a container instance id or an IP address.',
    ],
    [
      { targets: [{ id: 'i-1' }, { id: 'i-2', port: '80' }] },
      'targets[1].port must be a whole number from 1 to 65535.',
    ],
    [
      { targets: [{ id: 'i-1', port: 2 ** 32 }] },
      'targets[0].port must be a whole number from 1 to 65535.',
    ],
  ])('answers 400 naming the member for the targets body %j', async (body, message) => {
    await call('POST', '/v1/target-groups', '/v1/target-groups', { name: 'api', port: 80 });
    const calls = state.calls.length;
    const res = await call('POST', '/v1/target-groups/api/targets', `${TG}/targets`, body);
    expect(res).toEqual({ status: 400, body: { code: 'InvalidParameterException', message } });
    expect(state.calls.length).toBe(calls);
  });
});
