/**
 * Authentication, with the api in its default mode (API_AUTH=sigv4) against real state:
 * access keys made by `wharf admin access-key create`, ECS calls signed by the AWS SDK,
 * /v1 calls with the key as a bearer token. A request without a valid signature gets the
 * AWS error for it and changes nothing; a revoked key stops working.
 */
import {
  CreateClusterCommand,
  ECSClient,
  ListClustersCommand,
  type ECSServiceException,
} from '@aws-sdk/client-ecs';
import { loadConfig } from '@wharf/config';
import { createLogger } from '@wharf/observability';
import { createStateClient, type GrpcClient, type stateV1 } from '@wharf/proto';
import { startNats, startPostgres, type StartedNats, type StartedPostgres } from '@wharf/testing';
import { createServer } from 'node:net';
import { stateConfigSchema } from '../../state/src/config';
import { startState } from '../../state/src/state';
import { runAdmin } from './admin';
import { startApi } from './api';
import { apiConfigSchema } from './config';

jest.setTimeout(180_000);

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Key {
  accessKeyId: string;
  secretAccessKey: string;
}

describe('authentication (API_AUTH=sigv4)', () => {
  let postgres: StartedPostgres;
  let nats: StartedNats;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  const stops: (() => Promise<unknown>)[] = [];
  let url = '';
  let key: Key;

  /** `wharf admin …` against this state; resolves to what it printed. */
  async function admin(...argv: string[]): Promise<string[]> {
    const lines: string[] = [];
    await runAdmin(argv, grpc.client, (line) => lines.push(line));
    return lines;
  }

  const ecs = (credentials: Key) =>
    new ECSClient({
      endpoint: url,
      region: 'us-east-1',
      credentials,
      maxAttempts: 1,
    });

  async function refusal(p: Promise<unknown>): Promise<ECSServiceException> {
    return (await p.then(
      () => {
        throw new Error('expected the request to be refused');
      },
      (err: unknown) => err,
    )) as ECSServiceException;
  }

  const clusterNames = async () =>
    ((await ecs(key).send(new ListClustersCommand({}))).clusterArns ?? []).map((a) =>
      a.split('/').pop(),
    );

  beforeAll(async () => {
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    [postgres, nats] = await Promise.all([startPostgres(), startNats()]);
    stops.push(
      () => postgres.container.stop(),
      () => nats.container.stop(),
    );
    const logger = createLogger('api-auth-int', process.env.LOG_LEVEL ?? 'warn');
    const state = await startState(
      loadConfig(stateConfigSchema, {
        DATABASE_URL: postgres.url,
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
      }),
      logger,
    );
    stops.unshift(() => state.stop());
    grpc = createStateClient(state.grpcUrl);
    stops.unshift(() => Promise.resolve(grpc.close()));
    const api = await startApi(
      loadConfig(apiConfigSchema, {
        API_PORT: '0',
        API_HOST: '127.0.0.1',
        STATE_URL: state.grpcUrl,
        SCHEDULER_URL: `127.0.0.1:${await closedPort()}`,
        API_AUTH_CACHE_MS: '200',
      }),
      logger,
    );
    stops.unshift(() => api.stop());
    url = api.url;
    key = JSON.parse((await admin('access-key', 'create', '--name', 'ops@example'))[0]) as Key;
  });

  afterAll(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('issues keys with the admin command, showing the secret only once', async () => {
    expect(key.accessKeyId).toMatch(/^WKIA[A-Z2-7]{16}$/);
    expect(key.secretAccessKey).toHaveLength(40);
    const env = await admin('access-key', 'create', '--name', 'ci', '--format', 'env');
    expect(env).toEqual([
      expect.stringMatching(/^AWS_ACCESS_KEY_ID=WKIA[A-Z2-7]{16}$/),
      expect.stringMatching(/^AWS_SECRET_ACCESS_KEY=\S{40}$/),
    ]);
    const listed = (await admin('access-key', 'list')).map((l) => JSON.parse(l) as object);
    expect(listed).toEqual([
      expect.objectContaining({
        accessKeyId: key.accessKeyId,
        name: 'ops@example',
        status: 'Active',
      }),
      expect.objectContaining({ name: 'ci', status: 'Active' }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(key.secretAccessKey);
    await expect(admin('access-key', 'create', '--name', 'bad name!')).rejects.toMatchObject({
      details: expect.stringMatching(/name must be 1-64 characters/),
    });
    await expect(admin('access-key', 'create')).rejects.toThrow(/create needs --name/);
  });

  it('serves ECS calls the AWS SDK signs with an issued key', async () => {
    await ecs(key).send(new CreateClusterCommand({ clusterName: 'signed' }));
    expect(await clusterNames()).toContain('signed');
  });

  it('refuses bad signatures, unknown keys and unsigned requests, changing nothing', async () => {
    const before = await clusterNames();

    const wrongSecret = await refusal(
      ecs({ ...key, secretAccessKey: 'x'.repeat(40) }).send(
        new CreateClusterCommand({ clusterName: 'forged' }),
      ),
    );
    expect(wrongSecret.name).toBe('InvalidSignatureException');
    expect(wrongSecret.$metadata.httpStatusCode).toBe(400);

    const unknown = await refusal(
      ecs({ accessKeyId: 'WKIAAAAAAAAAAAAAAAAA', secretAccessKey: key.secretAccessKey }).send(
        new CreateClusterCommand({ clusterName: 'stranger' }),
      ),
    );
    expect(unknown.name).toBe('UnrecognizedClientException');
    expect(unknown.message).toBe('The security token included in the request is invalid.');

    const unsigned = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonEC2ContainerServiceV20141113.CreateCluster',
      },
      body: JSON.stringify({ clusterName: 'anonymous' }),
    });
    expect(unsigned.status).toBe(400);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(await unsigned.json()).toEqual({
      __type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });

    expect(await clusterNames()).toEqual(before);
  });

  it('takes the key as a bearer token on /v1, and leaves its description open', async () => {
    const path = `${url}/v1/load-balancers`;
    const missing = await fetch(path);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ code: 'MissingAuthenticationTokenException' });
    const wrong = await fetch(path, {
      headers: { authorization: `Bearer ${key.accessKeyId}:${'y'.repeat(40)}` },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 'UnrecognizedClientException' });
    const ok = await fetch(path, {
      headers: { authorization: `Bearer ${key.accessKeyId}:${key.secretAccessKey}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ loadBalancers: [] });
    expect((await fetch(`${url}/v1/openapi.json`)).status).toBe(200);
  });

  it('stops accepting a revoked key', async () => {
    const [created] = await admin('access-key', 'create', '--name', 'temporary');
    const temporary = JSON.parse(created) as Key;
    await ecs(temporary).send(new ListClustersCommand({}));
    const [revoked] = await admin('access-key', 'revoke', temporary.accessKeyId);
    expect(JSON.parse(revoked)).toEqual({ accessKeyId: temporary.accessKeyId, status: 'Inactive' });
    // The api trusts a key for API_AUTH_CACHE_MS (200 ms here) before asking state again.
    await new Promise((r) => setTimeout(r, 300));
    const err = await refusal(ecs(temporary).send(new ListClustersCommand({})));
    expect(err.name).toBe('UnrecognizedClientException');
  });
});
