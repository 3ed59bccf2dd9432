/**
 * The ECS operations through their /v1 REST routes, against the real state in this process
 * (Postgres and NATS from Testcontainers), with the api in its default authentication mode: a
 * real access key as the bearer token. What the routes answer is what the ECS handlers answer,
 * in the ECS shapes. A scheduler runs for the routes that go through it (RunTask, StopTask); a
 * second api, its state and scheduler dead ports, shows the 503 of a peer that is away.
 */
import { loadConfig } from '@wharf/config';
import { createLogger } from '@wharf/observability';
import { createStateClient } from '@wharf/proto';
import { createServer } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { runAdmin } from '../admin';
import { startApi } from '../api';
import { apiConfigSchema } from '../config';
import { startControlPlane } from '../control-plane-test-fixtures';
import { findViolation } from '../protocol/ecs-model';
import { ECS_MODEL } from '../protocol/ecs-model.generated';

jest.setTimeout(180_000);

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

type Json = Record<string, unknown>;
const enc = encodeURIComponent;

/** Where `value` is not exactly the ECS shape (strict: no member the model does not know). */
const notEcs = (shape: string, value: unknown) =>
  findViolation(ECS_MODEL, shape, value, '', { strict: true })?.message;

describe('the ECS REST routes under /v1 against real state', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let url: string;
  let stateUrl: string;
  /** An api whose state and scheduler are not there (API_AUTH=dev: no key to look up). */
  let deadUrl: string;
  /** The same with API_AUTH=sigv4: the bearer check itself needs state. */
  let deadSigv4Url: string;
  let bearer: string;

  beforeAll(async () => {
    const logger = createLogger('api-ecs-rest-int', process.env.LOG_LEVEL ?? 'warn');
    // API_AUTH sigv4 (the default): /v1 takes a real access key as its bearer token.
    const plane = await startControlPlane({ logger, api: { API_AUTH: 'sigv4' } });
    stops.push(() => plane.stop());
    stateUrl = plane.state.grpcUrl;
    url = plane.api.url;
    const dead = await startApi(
      loadConfig(apiConfigSchema, {
        API_AUTH: 'dev',
        API_PORT: '0',
        API_HOST: '127.0.0.1',
        STATE_URL: `127.0.0.1:${await closedPort()}`,
        SCHEDULER_URL: `127.0.0.1:${await closedPort()}`,
      }),
      logger,
    );
    stops.unshift(() => dead.stop());
    deadUrl = dead.url;
    const deadSigv4 = await startApi(
      loadConfig(apiConfigSchema, {
        API_PORT: '0',
        API_HOST: '127.0.0.1',
        STATE_URL: `127.0.0.1:${await closedPort()}`,
        SCHEDULER_URL: `127.0.0.1:${await closedPort()}`,
      }),
      logger,
    );
    stops.unshift(() => deadSigv4.stop());
    deadSigv4Url = deadSigv4.url;
    const grpc = createStateClient(stateUrl);
    const lines: string[] = [];
    await runAdmin(['access-key', 'create', '--name', 'rest@example'], grpc.client, (l) =>
      lines.push(l),
    );
    grpc.close();
    const key = JSON.parse(lines[0]) as { accessKeyId: string; secretAccessKey: string };
    bearer = `Bearer ${key.accessKeyId}:${key.secretAccessKey}`;
  });

  afterAll(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    authorization: string | undefined = bearer,
  ): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: authorization ? { authorization } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return { status: res.status, body: (await res.json()) as Json };
  }

  it('refuses a request without a valid bearer token with 401', async () => {
    expect(await call('GET', '/v1/clusters', undefined, '')).toEqual({
      status: 401,
      body: { code: 'MissingAuthenticationTokenException', message: expect.any(String) },
    });
    const wrong = await call('GET', '/v1/clusters', undefined, 'Bearer WKIAAAAAAAAAAAAAAAAA:nope');
    expect(wrong).toMatchObject({ status: 401, body: { code: 'UnrecognizedClientException' } });
  });

  it('creates, lists page by page, describes, tags and deletes clusters', async () => {
    const created = await call('POST', '/v1/clusters', {
      clusterName: 'rest-a',
      tags: [{ key: 'team', value: 'web' }],
    });
    expect(created.status).toBe(201);
    expect(notEcs('CreateClusterResponse', created.body)).toBeUndefined();
    const arn = (created.body.cluster as Json).clusterArn as string;
    expect(arn).toMatch(/^arn:aws:ecs:[^:]+:\d+:cluster\/rest-a$/);
    for (const name of ['rest-b', 'rest-c', 'rest-d', 'rest-e']) {
      expect((await call('POST', '/v1/clusters', { clusterName: name })).status).toBe(201);
    }

    // More than one page: maxResults=2 over at least six clusters (with `default`).
    const seen: string[] = [];
    let pages = 0;
    let nextToken: string | undefined;
    do {
      const q = `maxResults=2${nextToken ? `&nextToken=${enc(nextToken)}` : ''}`;
      const page = await call('GET', `/v1/clusters?${q}`);
      expect(page.status).toBe(200);
      expect(notEcs('ListClustersResponse', page.body)).toBeUndefined();
      const arns = page.body.clusterArns as string[];
      expect(arns.length).toBeLessThanOrEqual(2);
      seen.push(...arns);
      nextToken = page.body.nextToken as string | undefined;
      pages++;
    } while (nextToken && pages < 20);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.map((a) => a.split('/').pop())).toEqual(
      expect.arrayContaining(['rest-a', 'rest-b', 'rest-c', 'rest-d', 'rest-e']),
    );

    // Describe one, by name and by its URL-encoded ARN.
    const described = await call('GET', '/v1/clusters/rest-a?include=TAGS');
    expect(described.status).toBe(200);
    expect(Object.keys(described.body)).toEqual(['cluster']);
    expect(notEcs('Cluster', described.body.cluster)).toBeUndefined();
    expect(described.body.cluster).toMatchObject({
      clusterArn: arn,
      status: 'ACTIVE',
      tags: [{ key: 'team', value: 'web' }],
    });
    expect((await call('GET', `/v1/clusters/${enc(arn)}`)).body.cluster).toMatchObject({
      clusterArn: arn,
    });

    // Tags through /v1/tags/{resourceArn}.
    expect(
      await call('POST', `/v1/tags/${enc(arn)}`, { tags: [{ key: 'env', value: 'prod' }] }),
    ).toEqual({ status: 200, body: {} });
    const tags = await call('GET', `/v1/tags/${enc(arn)}`);
    expect(tags.status).toBe(200);
    expect(tags.body.tags).toEqual(
      expect.arrayContaining([
        { key: 'team', value: 'web' },
        { key: 'env', value: 'prod' },
      ]),
    );
    expect(await call('DELETE', `/v1/tags/${enc(arn)}?tagKeys=team&tagKeys=env`)).toEqual({
      status: 200,
      body: {},
    });
    expect((await call('GET', `/v1/tags/${enc(arn)}`)).body).toEqual({ tags: [] });

    // Update, then delete: the cluster is INACTIVE afterwards, as ECS shows it.
    const updated = await call('PUT', '/v1/clusters/rest-b/settings', {
      settings: [{ name: 'containerInsights', value: 'enabled' }],
    });
    expect(updated.status).toBe(200);
    expect((updated.body.cluster as Json).settings).toEqual([
      { name: 'containerInsights', value: 'enabled' },
    ]);
    const deleted = await call('DELETE', '/v1/clusters/rest-e');
    expect(deleted.status).toBe(200);
    expect(notEcs('DeleteClusterResponse', deleted.body)).toBeUndefined();
    expect((deleted.body.cluster as Json).status).toBe('INACTIVE');
    expect((await call('GET', '/v1/clusters/rest-e')).body.cluster).toMatchObject({
      status: 'INACTIVE',
    });
  });

  it('answers 404 with the ECS error name for a cluster or service that does not exist', async () => {
    expect(await call('GET', '/v1/clusters/no-such-cluster')).toEqual({
      status: 404,
      body: {
        code: 'ClusterNotFoundException',
        message: expect.stringContaining('no-such-cluster'),
      },
    });
    const services = await call('GET', '/v1/clusters/no-such-cluster/services');
    expect(services).toMatchObject({ status: 404, body: { code: 'ClusterNotFoundException' } });
    const deleted = await call('DELETE', '/v1/clusters/no-such-cluster');
    expect(deleted).toMatchObject({ status: 404, body: { code: 'ClusterNotFoundException' } });
    expect((await call('POST', '/v1/clusters', { clusterName: 'rest-svc' })).status).toBe(201);
    expect(await call('GET', '/v1/clusters/rest-svc/services')).toEqual({
      status: 200,
      body: { serviceArns: [] },
    });
    const service = await call('GET', '/v1/clusters/rest-svc/services/nope');
    expect(service).toMatchObject({ status: 404, body: { code: 'ServiceNotFoundException' } });
  });

  it('answers 400 naming the bad member or parameter', async () => {
    const badCount = await call('POST', '/v1/clusters/rest-a/services', {
      serviceName: 's',
      taskDefinition: 'web',
      desiredCount: 'two',
    });
    expect(badCount).toEqual({
      status: 400,
      body: { code: 'SerializationException', message: expect.stringContaining('desiredCount') },
    });
    const noContainers = await call('POST', '/v1/task-definitions', { family: 'x' });
    expect(noContainers).toEqual({
      status: 400,
      body: {
        code: 'InvalidParameterException',
        message: expect.stringContaining('containerDefinitions'),
      },
    });
    const badQuery = await call('GET', '/v1/clusters?maxResults=many');
    expect(badQuery).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('maxResults') },
    });
    const outOfRange = await call('GET', '/v1/clusters?maxResults=1000');
    expect(outOfRange).toMatchObject({
      status: 400,
      body: { code: 'InvalidParameterException', message: expect.stringContaining('maxResults') },
    });
    const badName = await call('POST', '/v1/clusters', { clusterName: 'no spaces' });
    expect(badName).toMatchObject({ status: 400, body: { code: 'InvalidParameterException' } });
  });

  it('registers, lists, describes and deregisters task definitions', async () => {
    const web = {
      family: 'rest-web',
      containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 64 }],
    };
    const first = await call('POST', '/v1/task-definitions', web);
    expect(first.status).toBe(201);
    expect(notEcs('RegisterTaskDefinitionResponse', first.body)).toBeUndefined();
    expect((first.body.taskDefinition as Json).revision).toBe(1);
    expect(
      ((await call('POST', '/v1/task-definitions', web)).body.taskDefinition as Json).revision,
    ).toBe(2);

    const described = await call('GET', '/v1/task-definitions/rest-web');
    expect(described.status).toBe(200);
    expect(notEcs('DescribeTaskDefinitionResponse', described.body)).toBeUndefined();
    expect((described.body.taskDefinition as Json).revision).toBe(2);
    expect(
      ((await call('GET', '/v1/task-definitions/rest-web:1')).body.taskDefinition as Json).revision,
    ).toBe(1);

    const listed = await call('GET', '/v1/task-definitions?familyPrefix=rest-web&sort=DESC');
    expect(listed.status).toBe(200);
    expect((listed.body.taskDefinitionArns as string[]).map((a) => a.split('/').pop())).toEqual([
      'rest-web:2',
      'rest-web:1',
    ]);
    expect((await call('GET', '/v1/task-definition-families?familyPrefix=rest')).body).toEqual({
      families: ['rest-web'],
    });

    const deregistered = await call('DELETE', '/v1/task-definitions/rest-web:1');
    expect(deregistered.status).toBe(200);
    expect((deregistered.body.taskDefinition as Json).status).toBe('INACTIVE');
    const inactive = await call(
      'GET',
      '/v1/task-definitions?familyPrefix=rest-web&status=INACTIVE',
    );
    expect((inactive.body.taskDefinitionArns as string[]).map((a) => a.split('/').pop())).toEqual([
      'rest-web:1',
    ]);
  });

  it('creates, describes, updates and deletes a service', async () => {
    const td = {
      family: 'rest-svc',
      containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 64 }],
    };
    expect((await call('POST', '/v1/task-definitions', td)).status).toBe(201);
    expect((await call('POST', '/v1/clusters', { clusterName: 'rest-services' })).status).toBe(201);
    const created = await call('POST', '/v1/clusters/rest-services/services', {
      serviceName: 'api',
      taskDefinition: 'rest-svc',
      desiredCount: 0,
    });
    expect(created.status).toBe(201);
    expect(notEcs('CreateServiceResponse', created.body)).toBeUndefined();
    expect(created.body.service).toMatchObject({ serviceName: 'api', desiredCount: 0 });
    // The cluster in the body must not contradict the path.
    const contradicted = await call('POST', '/v1/clusters/rest-services/services', {
      cluster: 'rest-a',
      serviceName: 'other',
      taskDefinition: 'rest-svc',
    });
    expect(contradicted).toMatchObject({
      status: 400,
      body: { code: 'InvalidParameterException', message: expect.stringContaining('cluster') },
    });

    const described = await call('GET', '/v1/clusters/rest-services/services/api');
    expect(described.status).toBe(200);
    expect(notEcs('Service', described.body.service)).toBeUndefined();
    expect(described.body.service).toMatchObject({ serviceName: 'api', status: 'ACTIVE' });

    const updated = await call('PATCH', '/v1/clusters/rest-services/services/api', {
      desiredCount: 0,
      taskDefinition: 'rest-svc:1',
    });
    expect(updated.status).toBe(200);
    expect(notEcs('UpdateServiceResponse', updated.body)).toBeUndefined();

    const listed = await call('GET', '/v1/clusters/rest-services/services?maxResults=10');
    expect((listed.body.serviceArns as string[]).map((a) => a.split('/').pop())).toEqual(['api']);

    // A cluster with an active service cannot be deleted: 409, with the ECS name.
    expect(await call('DELETE', '/v1/clusters/rest-services')).toMatchObject({
      status: 409,
      body: { code: 'ClusterContainsServicesException' },
    });
    const deleted = await call('DELETE', '/v1/clusters/rest-services/services/api?force=true');
    expect(deleted.status).toBe(200);
    expect((deleted.body.service as Json).status).toMatch(/^(DRAINING|INACTIVE)$/);
  });

  it('serves tasks, container instances, attributes and account settings of a cluster', async () => {
    expect(await call('GET', '/v1/clusters/rest-a/tasks')).toEqual({
      status: 200,
      body: { taskArns: [] },
    });
    expect(await call('GET', '/v1/clusters/rest-a/container-instances')).toEqual({
      status: 200,
      body: { containerInstanceArns: [] },
    });
    expect(
      await call('GET', '/v1/clusters/rest-a/attributes?targetType=container-instance'),
    ).toEqual({ status: 200, body: { attributes: [] } });
    const task = await call('GET', '/v1/clusters/rest-a/tasks/0123456789abcdef0123456789abcdef');
    expect(task).toMatchObject({ status: 404, body: { code: 'ResourceNotFoundException' } });

    const put = await call('PUT', '/v1/account-settings/containerInsights', { value: 'enabled' });
    expect(put.status).toBe(200);
    expect(notEcs('PutAccountSettingResponse', put.body)).toBeUndefined();
    const listed = await call('GET', '/v1/account-settings?name=containerInsights');
    expect(listed.status).toBe(200);
    expect(listed.body.settings).toEqual([
      expect.objectContaining({ name: 'containerInsights', value: 'enabled' }),
    ]);
    expect((await call('DELETE', '/v1/account-settings/containerInsights')).status).toBe(200);
  });

  it('answers 404 for a missing resource the path names, 400 for one a body names', async () => {
    expect((await call('POST', '/v1/clusters', { clusterName: 'rest-missing' })).status).toBe(201);
    for (const [method, path] of [
      ['GET', '/v1/task-definitions/no-such-family'],
      ['GET', '/v1/task-definitions/no-such-family:3'],
      ['DELETE', '/v1/task-definitions/no-such-family:1'],
    ]) {
      const res = await call(method, path);
      expect([method, path, res]).toEqual([
        method,
        path,
        { status: 404, body: { code: 'ClientException', message: expect.any(String) } },
      ]);
    }
    const instance = await call(
      'DELETE',
      '/v1/clusters/rest-missing/container-instances/0123456789abcdef0123456789abcdef',
    );
    expect(instance).toEqual({
      status: 404,
      body: { code: 'ClientException', message: expect.stringContaining('was not found') },
    });
    const task = await call(
      'DELETE',
      '/v1/clusters/rest-missing/tasks/0123456789abcdef0123456789abcdef',
    );
    expect(task).toEqual({
      status: 404,
      body: { code: 'InvalidParameterException', message: 'The referenced task was not found.' },
    });
    // The missing task definition is named in the body: 400, as ECS answers it.
    const run = await call('POST', '/v1/clusters/rest-missing/tasks', {
      taskDefinition: 'no-such-family',
    });
    expect(run).toMatchObject({ status: 400, body: { code: 'ClientException' } });
    const service = await call('POST', '/v1/clusters/rest-missing/services', {
      serviceName: 's',
      taskDefinition: 'no-such-family',
      desiredCount: 1,
    });
    expect(service).toMatchObject({ status: 400, body: { code: 'ClientException' } });
  });

  it("answers a RunTask clientToken conflict 409 with ConflictException's resourceIds", async () => {
    const td = {
      family: 'rest-token',
      containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 64 }],
    };
    expect((await call('POST', '/v1/task-definitions', td)).status).toBe(201);
    // An instance whose agent nobody listens for: the task is placed (then fails to start).
    const grpc = createStateClient(stateUrl);
    try {
      await firstValueFrom(
        grpc.client.registerContainerInstance({
          cluster: 'rest-missing',
          containerInstanceArn: '',
          ec2InstanceId: '',
          total: { cpu: 2048, memory: 2048, ports: [22], portsUdp: [] },
          attributes: [],
          agentVersion: 'test',
          dockerVersion: '',
          agentAddress: `127.0.0.1:${await closedPort()}`,
          hostname: 'h',
          hostAddress: '127.0.0.1',
        }),
      );
    } finally {
      grpc.close();
    }
    const first = await call('POST', '/v1/clusters/rest-missing/tasks', {
      taskDefinition: 'rest-token',
      clientToken: 'rest-token-1',
    });
    expect(first.status).toBe(200);
    expect(first.body.tasks).toHaveLength(1);
    const conflict = await call('POST', '/v1/clusters/rest-missing/tasks', {
      taskDefinition: 'rest-token',
      clientToken: 'rest-token-1',
      count: 2,
    });
    expect(conflict).toEqual({
      status: 409,
      body: {
        code: 'ConflictException',
        message: expect.stringContaining('rest-token-1'),
        resourceIds: (first.body.tasks as Json[]).map((t) => t.taskArn),
      },
    });
  });

  it('answers 503 naming the service that is away', async () => {
    const get = (path: string, method = 'GET', base = deadUrl) =>
      fetch(`${base}${path}`, { method, headers: { authorization: bearer } }).then(async (res) => ({
        status: res.status,
        type: res.headers.get('content-type'),
        body: (await res.json()) as Json,
      }));
    expect(await get('/v1/clusters')).toEqual({
      status: 503,
      type: expect.stringMatching(/^application\/json/),
      body: {
        code: 'ServiceUnavailableException',
        message: 'The state service is unavailable; try again later.',
      },
    });
    expect(await get('/v1/clusters/c/tasks/t', 'DELETE')).toMatchObject({
      status: 503,
      body: {
        code: 'ServiceUnavailableException',
        message: 'The scheduler service is unavailable; try again later.',
      },
    });
    // The bearer check cannot look the key up: 503 too, in the /v1 shape.
    expect(await get('/v1/clusters', 'GET', deadSigv4Url)).toEqual({
      status: 503,
      type: expect.stringMatching(/^application\/json/),
      body: {
        code: 'ServiceUnavailableException',
        message: expect.stringContaining('unavailable; try again later.'),
      },
    });
  });

  it('answers a /v1 path no route takes 404 in the /v1 shape, saying to URL-encode ARNs', async () => {
    const arn = 'arn:aws:ecs:us-east-1:123456789012:cluster/rest-a';
    const res = await call('GET', `/v1/tags/${arn}`);
    expect(res).toEqual({
      status: 404,
      body: { code: 'NotFoundException', message: expect.stringContaining('URL-encoded') },
    });
    expect(res.body.message).toContain(`No /v1 route matches GET /v1/tags/${arn}`);
    expect(await call('DELETE', '/V1/no-such-route')).toMatchObject({
      status: 404,
      body: { code: 'NotFoundException' },
    });
  });

  it('runs any operation by name at POST /v1/ecs/{operation}', async () => {
    const res = await call('POST', '/v1/ecs/DescribeClusters', { clusters: ['rest-a', 'nope'] });
    expect(res.status).toBe(200);
    expect(notEcs('DescribeClustersResponse', res.body)).toBeUndefined();
    expect(res.body.failures).toEqual([expect.objectContaining({ reason: 'MISSING' })]);
    expect(await call('POST', '/v1/ecs/NoSuchOperation', {})).toMatchObject({
      status: 404,
      body: { code: 'UnknownOperationException' },
    });
  });
});
