import { createLogger } from '@wharf/observability';
import { createServer } from 'node:net';
import { startApi, RunningApi } from './api';
import { apiConfigSchema } from './config';

/** A port with nobody listening: the peers the api calls are down. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const TARGET = 'AmazonEC2ContainerServiceV20141113';

describe('api HTTP layer with its peers down', () => {
  let api: RunningApi;

  beforeAll(async () => {
    const port = await closedPort();
    api = await startApi(
      apiConfigSchema.parse({
        API_AUTH: 'dev',
        API_PORT: '0',
        API_HOST: '127.0.0.1',
        STATE_URL: `127.0.0.1:${port}`,
        SCHEDULER_URL: `127.0.0.1:${port}`,
      }),
      createLogger('api-test', 'silent'),
    );
  });
  afterAll(() => api?.stop());

  const post = (target: string | undefined, body = '{}') =>
    fetch(api.url, {
      method: 'POST',
      headers: target ? { 'x-amz-target': target } : {},
      body,
    });

  it('answers ServerException (500) naming the unavailable service, without internals', async () => {
    const res = await post(`${TARGET}.ListClusters`);
    expect(res.status).toBe(500);
    expect(res.headers.get('x-amzn-errortype')).toBe('ServerException');
    expect(await res.json()).toEqual({
      __type: 'ServerException',
      message: 'The state service is unavailable; try again later.',
    });
    const run = await post(`${TARGET}.RunTask`, '{"taskDefinition":"web"}');
    expect(((await run.json()) as { message: string }).message).toBe(
      'The scheduler service is unavailable; try again later.',
    );
  });

  it('validates before calling a peer', async () => {
    const res = await post(
      `${TARGET}.RegisterTaskDefinition`,
      '{"family":"x","containerDefinitions":[]}',
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { __type: string }).__type).toBe('ClientException');
  });

  it('rejects operations it does not serve and unsupported members', async () => {
    // In the model, not served: why, with the error the operation declares.
    const res = await post(`${TARGET}.CreateCapacityProvider`, '{"name":"cp"}');
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('ClientException');
    expect(((await res.json()) as { message: string }).message).toMatch(
      /^CreateCapacityProvider is not supported by Wharf: there are no Auto Scaling groups/,
    );
    const taskSet = await post(`${TARGET}.CreateTaskSet`, '{}');
    expect(taskSet.headers.get('x-amzn-errortype')).toBe('UnsupportedFeatureException');
    // Not in the model at all.
    const unknown = await post(`${TARGET}.LaunchRockets`, '{}');
    expect(unknown.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    const fargate = await post(
      `${TARGET}.RunTask`,
      '{"taskDefinition":"web","launchType":"FARGATE"}',
    );
    expect(((await fargate.json()) as { __type: string }).__type).toBe(
      'UnsupportedFeatureException',
    );
  });

  it('answers other paths with a JSON 404 and keeps health endpoints', async () => {
    const res = await fetch(`${api.url}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { __type: string }).__type).toBe('UnknownOperationException');
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${api.url}/readyz`)).status).toBe(503);
  });
});
