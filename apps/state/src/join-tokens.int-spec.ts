/**
 * Join tokens against a real Postgres (and NATS, which state needs to start), with state
 * requiring them (STATE_AGENT_JOIN=token, the default): create, list, registration accepted
 * with a valid token and refused without one, with a malformed, unknown, wrong, revoked or
 * expired one, or one for another cluster; an open state (STATE_AGENT_JOIN=open) lets agents in
 * without one.
 */
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode, newJoinToken, parseJoinToken } from '@wharf/domain';
import { createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { stateConfigSchema } from './config';
import { RunningState, startState } from './state';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const call = <T>(o: Observable<T>) => firstValueFrom(o);
const grpcError = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a gRPC error');
    },
    (err: { code: number; details: string }) => err,
  );

const registration = (
  cluster: string,
  joinToken?: string,
): stateV1.RegisterContainerInstanceRequest => ({
  cluster,
  containerInstanceArn: '',
  ec2InstanceId: '',
  total: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
  attributes: [],
  agentVersion: 'test',
  dockerVersion: 'test',
  agentAddress: 'host:4703',
  hostname: 'host',
  hostAddress: '127.0.0.1',
  ...(joinToken === undefined ? {} : { joinToken }),
});

describe('state: join tokens', () => {
  let pg: StartedPostgres;
  let nats: StartedNats;
  let state: RunningState;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  let client: stateV1.StateServiceClient;
  let pool: Pool;

  const startWith = (join: 'token' | 'open' | undefined) =>
    startState(
      stateConfigSchema.parse({
        DATABASE_URL: pg.url,
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
        ...(join ? { STATE_AGENT_JOIN: join } : {}),
      }),
      logger,
    );

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    // No STATE_AGENT_JOIN: tokens are required by default.
    state = await startWith(undefined);
    grpc = createStateClient(state.grpcUrl);
    client = grpc.client;
    pool = new Pool({ connectionString: pg.url, max: 2 });
    await call(client.createCluster({ clusterName: 'prod' } as stateV1.CreateClusterRequest));
  });

  afterAll(async () => {
    grpc?.close();
    await pool?.end();
    await state?.stop();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  it('creates a token for a cluster, shows it once and keeps only a hash of its secret', async () => {
    const created = await call(
      client.createJoinToken({ cluster: 'prod', expiresInSeconds: 3600, description: 'rack 1' }),
    );
    const parsed = parseJoinToken(created.joinToken)!;
    expect(parsed.id).toBe(created.token!.joinTokenId);
    expect(created.token).toMatchObject({
      cluster: 'prod',
      description: 'rack 1',
      status: 'Active',
      revokedAt: 0,
      lastUsedAt: 0,
    });
    expect(created.token!.expiresAt - created.token!.createdAt).toBeGreaterThan(3590_000);
    expect(created.token!.expiresAt - created.token!.createdAt).toBeLessThan(3610_000);

    const { rows } = await pool.query<Record<string, unknown>>(
      'SELECT * FROM join_tokens WHERE join_token_id = $1',
      [parsed.id],
    );
    expect(JSON.stringify(rows[0])).not.toContain(parsed.secret);
    const { tokens } = await call(client.listJoinTokens({}));
    expect(tokens.map((t) => t.joinTokenId)).toContain(parsed.id);
    expect(JSON.stringify(tokens)).not.toContain(parsed.secret);
  });

  it('refuses to make a token for a cluster that does not exist, or with a bad expiry', async () => {
    expect(
      await grpcError(
        call(client.createJoinToken({ cluster: 'nope', expiresInSeconds: 0, description: '' })),
      ),
    ).toMatchObject({ code: GrpcCode.NOT_FOUND });
    expect(
      await grpcError(
        call(client.createJoinToken({ cluster: '', expiresInSeconds: -5, description: '' })),
      ),
    ).toMatchObject({ code: GrpcCode.INVALID_ARGUMENT });
  });

  it('registers an agent with a valid token, for its cluster or for any, and records its use', async () => {
    const forProd = await call(
      client.createJoinToken({ cluster: 'prod', expiresInSeconds: 0, description: '' }),
    );
    const instance = await call(
      client.registerContainerInstance(registration('prod', forProd.joinToken)),
    );
    expect(instance.containerInstanceArn).toContain('container-instance/prod/');
    // An agent coming back with its identity presents the token again.
    const again = await call(
      client.registerContainerInstance({
        ...registration('prod', forProd.joinToken),
        containerInstanceArn: instance.containerInstanceArn,
      }),
    );
    expect(again.containerInstanceArn).toBe(instance.containerInstanceArn);

    const forAny = await call(
      client.createJoinToken({ cluster: '', expiresInSeconds: 0, description: '' }),
    );
    expect(forAny.token!.cluster).toBe('');
    await call(client.registerContainerInstance(registration('default', forAny.joinToken)));
    await call(client.registerContainerInstance(registration('prod', forAny.joinToken)));

    const { tokens } = await call(client.listJoinTokens({}));
    const used = tokens.find((t) => t.joinTokenId === forProd.token!.joinTokenId)!;
    expect(used.lastUsedAt).toBeGreaterThan(0);
  });

  it('refuses a registration without a token, saying how to make one', async () => {
    for (const token of [undefined, '', '  ']) {
      const err = await grpcError(
        call(client.registerContainerInstance(registration('prod', token))),
      );
      expect(err.code).toBe(GrpcCode.UNAUTHENTICATED);
      expect(err.details).toContain('requires agents to present a join token');
      expect(err.details).toContain('wharf admin join-token create --cluster prod');
      expect(err.details).toContain('WHARF_JOIN_TOKEN');
    }
  });

  it('refuses a malformed, unknown or wrong token alike (UNAUTHENTICATED)', async () => {
    const real = await call(
      client.createJoinToken({ cluster: 'prod', expiresInSeconds: 0, description: '' }),
    );
    const { id } = parseJoinToken(real.joinToken)!;
    const malformed = await grpcError(
      call(client.registerContainerInstance(registration('prod', 'let-me-in'))),
    );
    expect(malformed).toMatchObject({ code: GrpcCode.UNAUTHENTICATED });
    expect(malformed.details).toContain('is not a join token');
    const unknown = await grpcError(
      call(client.registerContainerInstance(registration('prod', newJoinToken().token))),
    );
    const wrongSecret = await grpcError(
      call(
        client.registerContainerInstance(
          registration('prod', `wjt_${id}_${newJoinToken().secret}`),
        ),
      ),
    );
    for (const err of [unknown, wrongSecret]) {
      expect(err.code).toBe(GrpcCode.UNAUTHENTICATED);
      expect(err.details).toContain('not known to this cluster');
    }
    // The refusal for a wrong secret does not confirm that the id exists.
    expect(wrongSecret.details).toBe(unknown.details);
  });

  it('refuses a token for another cluster (PERMISSION_DENIED)', async () => {
    const forProd = await call(
      client.createJoinToken({ cluster: 'prod', expiresInSeconds: 0, description: '' }),
    );
    const err = await grpcError(
      call(client.registerContainerInstance(registration('default', forProd.joinToken))),
    );
    expect(err.code).toBe(GrpcCode.PERMISSION_DENIED);
    expect(err.details).toContain(`is for cluster prod, not default`);
    expect(err.details).toContain('wharf admin join-token create --cluster default');
  });

  it('refuses a revoked token; revoking is final and an unknown id is NOT_FOUND', async () => {
    const t = await call(
      client.createJoinToken({ cluster: 'prod', expiresInSeconds: 0, description: '' }),
    );
    await call(client.registerContainerInstance(registration('prod', t.joinToken)));
    const revoked = await call(client.revokeJoinToken({ joinTokenId: t.token!.joinTokenId }));
    expect(revoked.status).toBe('Revoked');
    expect(revoked.revokedAt).toBeGreaterThan(0);
    const err = await grpcError(
      call(client.registerContainerInstance(registration('prod', t.joinToken))),
    );
    expect(err.code).toBe(GrpcCode.UNAUTHENTICATED);
    expect(err.details).toContain(`Join token ${t.token!.joinTokenId} was revoked`);
    // Revoking again changes nothing.
    const twice = await call(client.revokeJoinToken({ joinTokenId: t.token!.joinTokenId }));
    expect(twice.revokedAt).toBe(revoked.revokedAt);
    for (const id of [newJoinToken().id, 'not-an-id']) {
      expect(await grpcError(call(client.revokeJoinToken({ joinTokenId: id })))).toMatchObject({
        code: GrpcCode.NOT_FOUND,
      });
    }
  });

  it('refuses an expired token to a new host, but lets a host it admitted come back with it', async () => {
    const t = await call(
      client.createJoinToken({ cluster: 'prod', expiresInSeconds: 3600, description: '' }),
    );
    const other = await call(
      client.createJoinToken({ cluster: 'prod', expiresInSeconds: 3600, description: '' }),
    );
    const admitted = await call(
      client.registerContainerInstance(registration('prod', t.joinToken)),
    );
    // An hour passes.
    await pool.query(
      "UPDATE join_tokens SET expires_at = now() - interval '1 second' WHERE join_token_id = ANY($1)",
      [[t.token!.joinTokenId, other.token!.joinTokenId]],
    );
    const err = await grpcError(
      call(client.registerContainerInstance(registration('prod', t.joinToken))),
    );
    expect(err.code).toBe(GrpcCode.UNAUTHENTICATED);
    expect(err.details).toContain(`Join token ${t.token!.joinTokenId} expired at`);
    const { tokens } = await call(client.listJoinTokens({}));
    expect(tokens.find((x) => x.joinTokenId === t.token!.joinTokenId)?.status).toBe('Expired');

    // The agent restarts: the instance it names was admitted with this token, so it is back.
    const back = await call(
      client.registerContainerInstance({
        ...registration('prod', t.joinToken),
        containerInstanceArn: admitted.containerInstanceArn,
      }),
    );
    expect(back.containerInstanceArn).toBe(admitted.containerInstanceArn);
    // Another expired token does not bring that instance back, and revoking ends it for good.
    const notItsOwn = await grpcError(
      call(
        client.registerContainerInstance({
          ...registration('prod', other.joinToken),
          containerInstanceArn: admitted.containerInstanceArn,
        }),
      ),
    );
    expect(notItsOwn.details).toContain(`Join token ${other.token!.joinTokenId} expired at`);
    await call(client.revokeJoinToken({ joinTokenId: t.token!.joinTokenId }));
    const revoked = await grpcError(
      call(
        client.registerContainerInstance({
          ...registration('prod', t.joinToken),
          containerInstanceArn: admitted.containerInstanceArn,
        }),
      ),
    );
    expect(revoked.details).toContain(`Join token ${t.token!.joinTokenId} was revoked`);
  });

  it('lets any agent in when state is open (STATE_AGENT_JOIN=open)', async () => {
    const open = await startWith('open');
    const openClient = createStateClient(open.grpcUrl);
    try {
      const instance = await call(
        openClient.client.registerContainerInstance(registration('prod')),
      );
      expect(instance.containerInstanceArn).toContain('container-instance/prod/');
    } finally {
      openClient.close();
      await open.stop();
    }
  });
});
