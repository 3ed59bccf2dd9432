import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { throwError } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import { EcsExceptionFilter } from '../ecs-exception.filter';
import type { ApiConfig } from '../config';
import { checkInput, EcsDispatcher } from '../ecs-dispatcher';
import { OPERATIONS, OperationContext } from '../operations';
import { call } from '../operations/operation-context';
import { EcsApiError } from '../protocol/ecs-errors';
import { shapeOf } from '../protocol/ecs-model';
import { ECS_MODEL } from '../protocol/ecs-model.generated';
import { EcsRestModule } from './ecs-rest.module';
import {
  bindingOf,
  ECS_ROUTES,
  ecsAnswer,
  ecsInput,
  EcsRoute,
  expressPath,
  isQueryRoute,
  namesResourceInPath,
  openMembers,
  queryKindOf,
  toV1Error,
  v1StatusOf,
} from './ecs-routes';
import { V1Error } from './v1-error';

const routeOf = (operation: string): EcsRoute => ECS_ROUTES.find((r) => r.operation === operation)!;

/** What `call` throws for a peer's gRPC failure (code, `<EcsName>: message` details). */
async function peerError(
  code: number,
  details: string,
  peer: 'state' | 'scheduler' = 'state',
): Promise<unknown> {
  return call(
    peer,
    throwError(() => Object.assign(new Error(details), { code, details, metadata: {} })),
  )
    .then(() => undefined)
    .catch((err: unknown) => err);
}

describe('the ECS route table', () => {
  it('has one route for every operation the api serves, and none for another', () => {
    expect(ECS_ROUTES.map((r) => r.operation).sort()).toEqual(Object.keys(OPERATIONS).sort());
  });

  it('gives no two routes the same method and path', () => {
    const keys = ECS_ROUTES.map((r) => `${r.method} ${expressPath(r.path).replace(/:\w+/g, ':')}`);
    expect(keys.length).toBe(new Set(keys).size);
  });

  it("binds each path parameter, named in the template, to a member of the operation's input", () => {
    for (const route of ECS_ROUTES) {
      const input = shapeOf(ECS_MODEL, ECS_MODEL.operations[route.operation].input);
      const inPath = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect([route.path, Object.keys(route.params ?? {}).sort()]).toEqual([route.path, inPath]);
      for (const binding of Object.values(route.params ?? {})) {
        const { member, list } = bindingOf(binding);
        const target = input.members?.[member];
        expect([route.operation, member, target !== undefined]).toEqual([
          route.operation,
          member,
          true,
        ]);
        const type = shapeOf(ECS_MODEL, target!).type;
        expect([route.operation, member, type]).toEqual([
          route.operation,
          member,
          list ? 'list' : type === 'enum' ? 'enum' : 'string',
        ]);
      }
    }
  });

  it('can express every other input member of a GET or DELETE route as a query parameter', () => {
    for (const route of ECS_ROUTES.filter(isQueryRoute)) {
      for (const [member, target] of openMembers(route)) {
        expect([route.operation, member, queryKindOf(target) !== undefined]).toEqual([
          route.operation,
          member,
          true,
        ]);
      }
    }
  });

  it('names the resource of a one-resource route after a list member of the answer', () => {
    for (const route of ECS_ROUTES.filter((r) => r.one)) {
      const output = shapeOf(ECS_MODEL, ECS_MODEL.operations[route.operation].output);
      expect([route.operation, shapeOf(ECS_MODEL, output.members![route.one!.list]).type]).toEqual([
        route.operation,
        'list',
      ]);
    }
  });
});

describe('ecsInput', () => {
  it('types query parameters by the model and fills path members', () => {
    expect(
      ecsInput(
        routeOf('ListTasks'),
        { cluster: 'c1' },
        { maxResults: '5', desiredStatus: 'STOPPED' },
        {},
      ),
    ).toEqual({ cluster: 'c1', maxResults: 5, desiredStatus: 'STOPPED' });
    expect(
      ecsInput(
        routeOf('DescribeClusters'),
        { cluster: 'c1' },
        { include: ['TAGS', 'SETTINGS'] },
        {},
      ),
    ).toEqual({ clusters: ['c1'], include: ['TAGS', 'SETTINGS'] });
    expect(
      ecsInput(routeOf('DescribeClusters'), { cluster: 'c1' }, { include: 'TAGS' }, {}),
    ).toEqual({ clusters: ['c1'], include: ['TAGS'] });
    expect(
      ecsInput(routeOf('DeleteService'), { cluster: 'c', service: 's' }, { force: 'true' }, {}),
    ).toEqual({
      cluster: 'c',
      service: 's',
      force: true,
    });
  });

  it('refuses a query value of the wrong type, naming the parameter', () => {
    const bad = (query: Record<string, unknown>, route = routeOf('ListClusters')) => {
      try {
        ecsInput(route, {}, query, {});
      } catch (err) {
        return err instanceof V1Error ? `${err.status} ${err.code} ${err.message}` : String(err);
      }
      return 'accepted';
    };
    expect(bad({ maxResults: 'abc' })).toMatch(/^400 InvalidParameterException .*maxResults/);
    expect(bad({ maxResults: '1.5' })).toMatch(/^400 .*maxResults/);
    expect(bad({ maxResults: ['1', '2'] })).toMatch(/^400 .*maxResults must be given once/);
    expect(bad({ maxresults: '5' })).toMatch(
      /^400 .*Unknown query parameter maxresults.*maxResults/,
    );
    expect(bad({ force: 'yes' }, routeOf('DeleteService'))).toMatch(
      /^400 .*force must be true or false/,
    );
  });

  it('keeps a body member named __proto__ a member, not the prototype', () => {
    const input = ecsInput(routeOf('CreateCluster'), {}, {}, JSON.parse('{"__proto__":{"x":1}}'));
    expect(Object.getPrototypeOf(input)).toBe(Object.prototype);
    expect(Object.hasOwn(input, '__proto__')).toBe(true);
  });

  it('leaves an integer out of range to the model check, which names the member', async () => {
    const input = ecsInput(routeOf('ListClusters'), {}, { maxResults: '99999999999' }, {});
    expect(input).toEqual({ maxResults: 99999999999 });
    expect(() => checkInput('ListClustersRequest', input)).toThrow(
      /maxResults must be an integer from/,
    );
  });

  it('takes the body for other methods; the path wins and must not be contradicted', () => {
    const route = routeOf('CreateService');
    expect(ecsInput(route, { cluster: 'c' }, {}, { serviceName: 's', desiredCount: 1 })).toEqual({
      cluster: 'c',
      serviceName: 's',
      desiredCount: 1,
    });
    expect(ecsInput(route, { cluster: 'c' }, {}, { cluster: 'c', serviceName: 's' })).toEqual({
      cluster: 'c',
      serviceName: 's',
    });
    expect(() => ecsInput(route, { cluster: 'c' }, {}, { cluster: 'other' })).toThrow(
      /cluster is given by the path/,
    );
    expect(() => ecsInput(route, { cluster: 'c' }, { x: '1' }, {})).toThrow(/no query parameters/);
    expect(() => ecsInput(routeOf('ListClusters'), {}, {}, { maxResults: 1 })).toThrow(
      /takes no body/,
    );
  });
});

describe('ecsAnswer', () => {
  const describe1 = routeOf('DescribeClusters');
  it('answers one resource as {cluster}', () => {
    expect(
      ecsAnswer(describe1, { clusters: [{ clusterName: 'a' }], failures: [] }, { cluster: 'a' }),
    ).toEqual({
      cluster: { clusterName: 'a' },
    });
  });
  it('answers a MISSING failure 404 with the resource kind’s ECS name, another 400', () => {
    const missing = () =>
      ecsAnswer(
        describe1,
        { clusters: [], failures: [{ arn: 'x', reason: 'MISSING' }] },
        { cluster: 'nope' },
      );
    expect(missing).toThrow(
      expect.objectContaining({ status: 404, code: 'ClusterNotFoundException' }),
    );
    expect(missing).toThrow(/cluster nope not found/);
    expect(() =>
      ecsAnswer(
        routeOf('DescribeServices'),
        { services: [], failures: [{ reason: 'MISSING' }] },
        {
          cluster: 'c',
          service: 's',
        },
      ),
    ).toThrow(expect.objectContaining({ status: 404, code: 'ServiceNotFoundException' }));
    expect(() =>
      ecsAnswer(
        routeOf('UpdateContainerInstancesState'),
        { containerInstances: [], failures: [{ reason: 'INACTIVE', detail: 'deregistered' }] },
        { cluster: 'c', containerInstance: 'i' },
      ),
    ).toThrow(expect.objectContaining({ status: 400, code: 'ClientException' }));
  });
  it('passes other answers through', () => {
    expect(ecsAnswer(routeOf('ListClusters'), { clusterArns: [] }, {})).toEqual({
      clusterArns: [],
    });
  });
});

describe('the /v1 status of ECS errors', () => {
  it.each([
    ['ClusterNotFoundException', 400, 404],
    ['ServiceNotFoundException', 400, 404],
    ['ResourceNotFoundException', 400, 404],
    ['UnknownOperationException', 400, 404],
    ['InvalidParameterException', 400, 400],
    ['ClientException', 400, 400],
    ['SerializationException', 400, 400],
    ['SerializationException', 413, 413],
    ['UnsupportedFeatureException', 400, 400],
    ['ClusterContainsServicesException', 400, 409],
    ['ConflictException', 400, 409],
    ['AccessDeniedException', 400, 403],
    ['ServerException', 500, 500],
  ])('%s (ECS status %i) is %i', (type, status, v1) => {
    expect(v1StatusOf(type, status)).toBe(v1);
  });

  it('keeps the ECS name as the code, and leaves internal errors for the filter to log', () => {
    expect(toV1Error(new EcsApiError('ServiceNotFoundException', 'gone'))).toEqual(
      new V1Error(404, 'ServiceNotFoundException', 'gone'),
    );
    const cause = new Error('pg exploded');
    const internal = new EcsApiError('ServerException', 'internal');
    (internal as { cause?: unknown }).cause = cause;
    expect(toV1Error(internal)).toBe(cause);
    const plain = new TypeError('x');
    expect(toV1Error(plain)).toBe(plain);
  });

  it('answers a NOT_FOUND of a resource named in the path 404, keeping the ECS name', async () => {
    const td = await peerError(
      GrpcCode.NOT_FOUND,
      'ClientException: Unable to describe task definition.',
    );
    for (const op of ['DescribeTaskDefinition', 'DeregisterTaskDefinition']) {
      expect(toV1Error(td, routeOf(op))).toEqual(
        new V1Error(404, 'ClientException', 'Unable to describe task definition.'),
      );
    }
    const ci = await peerError(
      GrpcCode.NOT_FOUND,
      'ClientException: The referenced container instance x was not found in cluster c.',
    );
    expect(toV1Error(ci, routeOf('DeregisterContainerInstance'))).toMatchObject({
      status: 404,
      code: 'ClientException',
    });
    const task = await peerError(
      GrpcCode.NOT_FOUND,
      'InvalidParameterException: The referenced task was not found.',
      'scheduler',
    );
    expect(toV1Error(task, routeOf('StopTask'))).toEqual(
      new V1Error(404, 'InvalidParameterException', 'The referenced task was not found.'),
    );
    // A task definition named in a body, and POST /v1/ecs/{operation}: still 400.
    for (const op of ['RunTask', 'StartTask', 'CreateService', 'UpdateService']) {
      expect(namesResourceInPath(routeOf(op))).toBe(false);
      expect(toV1Error(td, routeOf(op))).toMatchObject({ status: 400, code: 'ClientException' });
    }
    expect(toV1Error(td)).toMatchObject({ status: 400, code: 'ClientException' });
    // Another code on a path route, and a NOT_FOUND-free error: by the name, as before.
    const invalid = await peerError(GrpcCode.INVALID_ARGUMENT, 'InvalidParameterException: bad');
    expect(toV1Error(invalid, routeOf('StopTask'))).toMatchObject({ status: 400 });
    expect(
      toV1Error(new EcsApiError('ClientException', 'x'), routeOf('DescribeTaskDefinition')),
    ).toMatchObject({ status: 400 });
  });

  it('keeps the gRPC code out of the ECS answer', async () => {
    const err = (await peerError(
      GrpcCode.NOT_FOUND,
      'InvalidParameterException: The referenced task was not found.',
    )) as EcsApiError;
    expect(err).toBeInstanceOf(EcsApiError);
    expect(err.status).toBe(400);
    expect(JSON.stringify(err.body())).toBe(
      '{"__type":"InvalidParameterException","message":"The referenced task was not found."}',
    );
    expect(Object.keys(err)).not.toContain('peerFailure');
    expect(JSON.stringify(err)).not.toContain('peerFailure');
  });

  it('answers a peer that is away or too slow 503, naming it', async () => {
    const away = await peerError(GrpcCode.UNAVAILABLE, 'No connection established');
    const v1 = toV1Error(away, routeOf('ListClusters'));
    expect(v1).toEqual(
      new V1Error(
        503,
        'ServiceUnavailableException',
        'The state service is unavailable; try again later.',
      ),
    );
    expect((v1 as { cause?: unknown }).cause).toMatchObject({ code: GrpcCode.UNAVAILABLE });
    const slow = await peerError(GrpcCode.DEADLINE_EXCEEDED, 'Deadline exceeded', 'scheduler');
    expect(toV1Error(slow)).toEqual(
      new V1Error(
        503,
        'ServiceUnavailableException',
        'The scheduler service did not answer in time; try again later.',
      ),
    );
    // A gRPC error as it is (not through call): the peer is not known.
    const raw = Object.assign(new Error('x'), { code: GrpcCode.UNAVAILABLE, details: 'x' });
    expect(toV1Error(raw)).toMatchObject({
      status: 503,
      message: 'A Wharf service is unavailable; try again later.',
    });
  });

  it("carries the error shape's other members (ConflictException's resourceIds)", () => {
    const conflict = new EcsApiError('ConflictException', 'in use', 400, { resourceIds: ['a'] });
    const v1 = toV1Error(conflict) as V1Error;
    expect(v1).toEqual(new V1Error(409, 'ConflictException', 'in use'));
    expect(v1.members).toEqual({ resourceIds: ['a'] });
  });
});

describe('the ECS routes served in-process', () => {
  let app: INestApplication;
  let base: string;
  const calls: { operation: string; input: Record<string, unknown> }[] = [];
  let answer: (operation: string) => unknown = () => ({});
  /** Off: every route reaches the recorder, whatever members its operation requires. */
  let modelCheck = true;
  const real = new EcsDispatcher({} as OperationContext);
  const dispatcher = {
    async dispatch(operation: string, input: Record<string, unknown>) {
      // The real model check, then a recorded call instead of the handler.
      if (!Object.hasOwn(OPERATIONS, operation)) return real.dispatch(operation, input);
      if (modelCheck) checkInput(ECS_MODEL.operations[operation].input, input);
      calls.push({ operation, input });
      return answer(operation);
    },
  } as unknown as EcsDispatcher;

  beforeAll(async () => {
    app = await NestFactory.create(
      EcsRestModule.create({
        config: { API_MAX_BODY_BYTES: 4096 } as ApiConfig,
        dispatcher,
        logger: pino({ level: 'silent' }),
      }),
      new ExpressAdapter(),
      { bodyParser: false, logger: false },
    );
    // The api's global filter, as main wires it: what no /v1 route takes.
    app.useGlobalFilters(new EcsExceptionFilter(pino({ level: 'silent' })));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());

  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('serves every route of the table with its operation', async () => {
    modelCheck = false;
    for (const route of ECS_ROUTES) {
      calls.length = 0;
      answer = () =>
        route.one ? { [route.one.list]: [{ arn: 'x' }], failures: [] } : { ok: route.operation };
      const path = route.path.replace(/\{([^}]+)\}/g, (_, p: string) =>
        encodeURIComponent(`${p}/1`),
      );
      const res = await send(route.method.toUpperCase(), path);
      const where = `${route.method} ${route.path}`;
      expect([where, res.status]).toEqual([where, route.status ?? 200]);
      expect([where, calls.map((c) => c.operation)]).toEqual([where, [route.operation]]);
      for (const [param, binding] of Object.entries(route.params ?? {})) {
        const { member, list } = bindingOf(binding);
        expect(calls[0].input[member]).toEqual(list ? [`${param}/1`] : `${param}/1`);
      }
      expect(res.body).toEqual(
        route.one ? { [route.one.as]: { arn: 'x' } } : { ok: route.operation },
      );
    }
    modelCheck = true;
  });

  it('answers model violations 400 naming the member, before any handler runs', async () => {
    calls.length = 0;
    const res = await send('POST', '/v1/clusters/c1/services', {
      serviceName: 's',
      desiredCount: 'x',
    });
    expect(res).toEqual({
      status: 400,
      body: { code: 'SerializationException', message: expect.stringContaining('desiredCount') },
    });
    const missing = await send('GET', '/v1/clusters/c1/attributes');
    expect(missing).toEqual({
      status: 400,
      body: { code: 'InvalidParameterException', message: 'targetType is required' },
    });
    const enumValue = await send('GET', '/v1/clusters/c1/tasks?desiredStatus=DONE');
    expect(enumValue.status).toBe(400);
    expect(enumValue.body.message).toContain("'DONE' at 'desiredStatus'");
    expect(calls).toEqual([]);
  });

  it('answers bodies that are not JSON objects, and bodies too large, as /v1 errors', async () => {
    expect(await send('POST', '/v1/clusters', '{')).toMatchObject({
      status: 400,
      body: { code: 'SerializationException' },
    });
    expect(await send('POST', '/v1/clusters', '[]')).toMatchObject({ status: 400 });
    expect(await send('POST', '/v1/clusters', { clusterName: 'x'.repeat(5000) })).toMatchObject({
      status: 413,
      body: { code: 'SerializationException' },
    });
  });

  it('answers an ECS not-found error 404 and keeps its name', async () => {
    answer = () => {
      throw new EcsApiError('ClusterNotFoundException', 'Cluster not found.');
    };
    expect(await send('GET', '/v1/clusters/nope/services')).toEqual({
      status: 404,
      body: { code: 'ClusterNotFoundException', message: 'Cluster not found.' },
    });
    answer = () => {
      throw new Error('boom');
    };
    const internal = await send('GET', '/v1/clusters');
    expect(internal.status).toBe(500);
    expect(internal.body.code).toBe('ServerException');
    expect(JSON.stringify(internal.body)).not.toContain('boom');
  });

  it('answers 404 for a missing resource the path names, 400 for one the body names', async () => {
    const notFound = await peerError(
      GrpcCode.NOT_FOUND,
      'ClientException: Unable to describe task definition.',
    );
    answer = () => {
      throw notFound;
    };
    const body = { code: 'ClientException', message: 'Unable to describe task definition.' };
    expect(await send('GET', '/v1/task-definitions/nope')).toEqual({ status: 404, body });
    expect(await send('DELETE', '/v1/task-definitions/nope:1')).toEqual({ status: 404, body });
    expect(await send('POST', '/v1/clusters/c/tasks', { taskDefinition: 'nope' })).toEqual({
      status: 400,
      body,
    });
    expect(
      await send('POST', '/v1/clusters/c/services', { serviceName: 's', taskDefinition: 'nope' }),
    ).toEqual({ status: 400, body });
    expect(await send('POST', '/v1/ecs/DescribeTaskDefinition', { taskDefinition: 'x' })).toEqual({
      status: 400,
      body,
    });
  });

  it('answers 503 naming the service that is away', async () => {
    const away = await peerError(GrpcCode.UNAVAILABLE, 'No connection established', 'scheduler');
    answer = () => {
      throw away;
    };
    expect(await send('DELETE', '/v1/clusters/c/tasks/t')).toEqual({
      status: 503,
      body: {
        code: 'ServiceUnavailableException',
        message: 'The scheduler service is unavailable; try again later.',
      },
    });
  });

  it("answers a conflict 409 with the error's resourceIds", async () => {
    answer = () => {
      throw new EcsApiError('ConflictException', 'in use', 400, { resourceIds: ['r1', 'r2'] });
    };
    expect(await send('DELETE', '/v1/clusters/c')).toEqual({
      status: 409,
      body: { code: 'ConflictException', message: 'in use', resourceIds: ['r1', 'r2'] },
    });
  });

  it('answers a /v1 path no route takes with a /v1 404 that says to URL-encode ARNs', async () => {
    for (const path of [
      '/v1/tags/arn:aws:ecs:us-east-1:123456789012:cluster/c',
      '/V1/nope',
      '/v1',
    ]) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const got = (await res.json()) as Record<string, unknown>;
      expect(got).toEqual({ code: 'NotFoundException', message: expect.any(String) });
      expect(got.message).toContain('No /v1 route matches GET');
      expect(got.message).toContain('URL-encoded');
    }
    // Outside /v1 the ECS shape stays.
    const ecs = await fetch(`${base}/v2/x`);
    expect(ecs.status).toBe(404);
    expect(ecs.headers.get('content-type')).toMatch(/^application\/x-amz-json-1\.1/);
    expect(await ecs.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('runs any operation by name at POST /v1/ecs/{operation}', async () => {
    answer = (op) => ({ ran: op });
    calls.length = 0;
    expect(await send('POST', '/v1/ecs/ListClusters', { maxResults: 2 })).toEqual({
      status: 200,
      body: { ran: 'ListClusters' },
    });
    expect(calls).toEqual([{ operation: 'ListClusters', input: { maxResults: 2 } }]);
    expect(await send('POST', '/v1/ecs/ListClusters')).toMatchObject({ status: 200 });
    expect(await send('POST', '/v1/ecs/Nope', {})).toMatchObject({
      status: 404,
      body: { code: 'UnknownOperationException' },
    });
    expect(await send('POST', '/v1/ecs/CreateTaskSet', {})).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('not supported by Wharf') },
    });
  });
});
