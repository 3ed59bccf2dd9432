/**
 * PutAttributes / DeleteAttributes / ListAttributes and the RunTask client tokens against a
 * real Postgres (and NATS, which the state service needs to start).
 */
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import { common, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
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

describe('state: attributes and client tokens', () => {
  let pg: StartedPostgres;
  let nats: StartedNats;
  let state: RunningState;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  let client: stateV1.StateServiceClient;
  let pool: Pool;

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    state = await startState(
      stateConfigSchema.parse({
        DATABASE_URL: pg.url,
        STATE_AGENT_JOIN: 'open',
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
        // published events stay in the outbox, where this spec reads them
        OUTBOX_RETENTION_MS: '3600000',
      }),
      logger,
    );
    grpc = createStateClient(state.grpcUrl);
    client = grpc.client;
    pool = new Pool({ connectionString: pg.url, max: 2 });
    await call(client.createCluster({ clusterName: 'attrs', tagsJson: '' }));
    await call(client.createCluster({ clusterName: 'other', tagsJson: '' }));
  });

  afterAll(async () => {
    grpc?.close();
    await pool?.end();
    await state?.stop();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const register = (cluster: string, attributes: common.Attribute[], arn = '') =>
    call(
      client.registerContainerInstance({
        cluster,
        containerInstanceArn: arn,
        ec2InstanceId: '',
        total: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
        attributes,
        agentVersion: '0.1.0',
        dockerVersion: '',
        agentAddress: '10.0.0.1:4703',
        hostname: 'h',
        hostAddress: '10.0.0.1',
      }),
    );
  const target = (name: string, value: string, targetId: string, targetType = '') => ({
    name,
    value,
    targetType,
    targetId,
  });
  const list = (req: Partial<stateV1.ListAttributesRequest> = {}) =>
    call(
      client.listAttributes({
        cluster: 'attrs',
        targetType: 'container-instance',
        attributeName: '',
        attributeValue: '',
        maxResults: 0,
        nextToken: '',
        ...req,
      }),
    );
  const describe1 = async (arn: string) =>
    (await call(client.describeContainerInstances({ cluster: 'attrs', containerInstances: [arn] })))
      .containerInstances[0];

  it('puts, lists, describes and deletes custom attributes; re-registration keeps them', async () => {
    const a = await register('attrs', [{ name: 'ecs.os-type', value: 'linux' }]);
    const b = await register('attrs', []);
    const id = (arn: string) => arn.split('/').pop()!;

    const put = await call(
      client.putAttributes({
        cluster: 'attrs',
        attributes: [
          target('stack', 'prod', a.containerInstanceArn),
          target('stack', 'dev', id(b.containerInstanceArn), 'container-instance'),
          target('gpu', '', a.containerInstanceArn),
        ],
      }),
    );
    expect(put.attributes.map((x) => [x.name, x.targetId])).toEqual([
      ['stack', a.containerInstanceArn],
      ['stack', b.containerInstanceArn],
      ['gpu', a.containerInstanceArn],
    ]);
    const described = await describe1(a.containerInstanceArn);
    expect(described.attributes).toEqual([
      { name: 'ecs.os-type', value: 'linux' },
      { name: 'gpu', value: '' },
      { name: 'stack', value: 'prod' },
    ]);
    expect(described.version).toBe(a.version + 1);

    const { rows } = await pool.query(
      `SELECT payload::jsonb AS payload FROM outbox_events WHERE subject LIKE '%container_instance.changed'
         AND payload::jsonb ->>'resourceArn' = $1 ORDER BY id DESC LIMIT 1`,
      [a.containerInstanceArn],
    );
    expect(rows[0].payload).toMatchObject({
      type: 'container_instance.changed',
      version: a.version + 1,
      detail: { attributes: expect.arrayContaining([{ name: 'stack', value: 'prod' }]) },
    });

    const all = await list();
    expect(all.attributes).toHaveLength(4);
    expect((await list({ attributeName: 'stack' })).attributes.map((x) => x.value).sort()).toEqual([
      'dev',
      'prod',
    ]);
    expect((await list({ attributeName: 'stack', attributeValue: 'dev' })).attributes).toEqual([
      target('stack', 'dev', b.containerInstanceArn, 'container-instance'),
    ]);

    // Pages of one, in a stable order, cover everything exactly once.
    const seen: string[] = [];
    let nextToken = '';
    do {
      const page = await list({ maxResults: 1, nextToken });
      seen.push(...page.attributes.map((x) => `${x.targetId}:${x.name}`));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(seen).toEqual(all.attributes.map((x) => `${x.targetId}:${x.name}`));

    // The agent comes back with other attributes of its own: the custom ones stay.
    await register('attrs', [{ name: 'ecs.os-type', value: 'bsd' }], a.containerInstanceArn);
    expect((await describe1(a.containerInstanceArn)).attributes).toEqual([
      { name: 'ecs.os-type', value: 'bsd' },
      { name: 'gpu', value: '' },
      { name: 'stack', value: 'prod' },
    ]);

    const deleted = await call(
      client.deleteAttributes({
        cluster: 'attrs',
        attributes: [target('stack', '', a.containerInstanceArn)],
      }),
    );
    expect(deleted.attributes).toEqual([
      target('stack', '', a.containerInstanceArn, 'container-instance'),
    ]);
    expect((await describe1(a.containerInstanceArn)).attributes.map((x) => x.name)).toEqual([
      'ecs.os-type',
      'gpu',
    ]);
  });

  it('refuses unknown targets, other clusters, too many attributes, and changes nothing', async () => {
    const a = await register('attrs', []);
    const elsewhere = await register('other', []);
    const unknown = await grpcError(
      call(
        client.putAttributes({
          cluster: 'attrs',
          attributes: [
            target('x', '1', a.containerInstanceArn),
            target('x', '1', 'feedface', 'container-instance'),
          ],
        }),
      ),
    );
    expect(unknown.code).toBe(GrpcCode.NOT_FOUND);
    expect(unknown.details).toMatch(/^TargetNotFoundException: /);
    const other = await grpcError(
      call(
        client.putAttributes({
          cluster: 'attrs',
          attributes: [target('x', '1', elsewhere.containerInstanceArn)],
        }),
      ),
    );
    expect(other.details).toMatch(/^TargetNotFoundException: /);
    expect((await describe1(a.containerInstanceArn)).attributes).toEqual([]);

    const ten = Array.from({ length: 10 }, (_, i) => target(`n${i}`, 'v', a.containerInstanceArn));
    await call(client.putAttributes({ cluster: 'attrs', attributes: ten }));
    const over = await grpcError(
      call(
        client.putAttributes({
          cluster: 'attrs',
          attributes: [target('eleventh', 'v', a.containerInstanceArn)],
        }),
      ),
    );
    expect(over.details).toMatch(/^AttributeLimitExceededException: /);
    const bad = await grpcError(
      call(
        client.putAttributes({
          cluster: 'attrs',
          attributes: [target('bad name', 'v', a.containerInstanceArn)],
        }),
      ),
    );
    expect(bad.code).toBe(GrpcCode.INVALID_ARGUMENT);
    const noCluster = await grpcError(
      call(
        client.putAttributes({
          cluster: 'nope',
          attributes: [target('x', 'v', a.containerInstanceArn)],
        }),
      ),
    );
    expect(noCluster.details).toMatch(/^ClusterNotFoundException: /);
    const badList = await grpcError(list({ attributeValue: 'v' }));
    expect(badList.code).toBe(GrpcCode.INVALID_ARGUMENT);
  });

  it('reserves a client token once, answers later callers, completes and releases', async () => {
    const reserve = (clientToken: string, requestHash: string) =>
      call(client.reserveClientToken({ cluster: 'attrs', clientToken, requestHash }));

    const [first, second] = await Promise.all([reserve('tok-1', 'h1'), reserve('tok-1', 'h1')]);
    expect([first.reserved, second.reserved].sort()).toEqual([false, true]);
    const owner = first.reserved ? first : second;
    expect(owner.reservation).not.toBe('');
    const waiting = await reserve('tok-1', 'h2');
    expect(waiting).toMatchObject({ reserved: false, requestHash: 'h1', completed: false });

    await call(
      client.completeClientToken({
        cluster: 'attrs',
        clientToken: 'tok-1',
        taskArns: ['arn:t1', 'arn:t2'],
        failuresJson: JSON.stringify([{ arn: 'i', reason: 'RESOURCE:MEMORY', detail: '' }]),
        reservation: owner.reservation,
      }),
    );
    expect(await reserve('tok-1', 'h1')).toMatchObject({
      reserved: false,
      requestHash: 'h1',
      completed: true,
      taskArns: ['arn:t1', 'arn:t2'],
    });
    // Another cluster has its own tokens.
    expect(
      (
        await call(
          client.reserveClientToken({ cluster: 'other', clientToken: 'tok-1', requestHash: 'h9' }),
        )
      ).reserved,
    ).toBe(true);

    const tok2 = await reserve('tok-2', 'h1');
    expect(tok2.reserved).toBe(true);
    await call(
      client.releaseClientToken({
        cluster: 'attrs',
        clientToken: 'tok-2',
        reservation: tok2.reservation,
      }),
    );
    expect((await reserve('tok-2', 'h3')).reserved).toBe(true);

    // A slow request's reservation, abandoned and taken over by a retry: the slow one can
    // neither complete nor release the retry's reservation.
    const slow = await reserve('tok-3', 'h1');
    await pool.query(
      `UPDATE run_task_client_tokens SET created_at = now() - interval '3 minutes'
        WHERE client_token = 'tok-3' AND cluster = 'attrs'`,
    );
    const retry = await reserve('tok-3', 'h1');
    expect(retry.reserved).toBe(true);
    expect(retry.reservation).not.toBe(slow.reservation);
    const late = { cluster: 'attrs', clientToken: 'tok-3', reservation: slow.reservation };
    await call(client.releaseClientToken(late));
    await call(client.completeClientToken({ ...late, taskArns: ['arn:slow'], failuresJson: '' }));
    expect(await reserve('tok-3', 'h1')).toMatchObject({ reserved: false, completed: false });
    await call(
      client.completeClientToken({
        cluster: 'attrs',
        clientToken: 'tok-3',
        taskArns: ['arn:retry'],
        failuresJson: '',
        reservation: retry.reservation,
      }),
    );
    expect(await reserve('tok-3', 'h1')).toMatchObject({
      completed: true,
      taskArns: ['arn:retry'],
    });

    // A token older than 24 h is forgotten.
    await pool.query(
      `UPDATE run_task_client_tokens SET created_at = now() - interval '25 hours'
        WHERE client_token = 'tok-1' AND cluster = 'attrs'`,
    );
    expect((await reserve('tok-1', 'h5')).reserved).toBe(true);

    const tooLong = await grpcError(reserve('x'.repeat(65), 'h'));
    expect(tooLong.code).toBe(GrpcCode.INVALID_ARGUMENT);
  });
});
