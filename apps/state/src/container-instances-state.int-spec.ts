/**
 * UpdateContainerInstancesState (ACTIVE ↔ DRAINING) and re-registration of a DRAINING
 * instance, against a real Postgres and NATS.
 */
import { jetstream, jetstreamManager, JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import { connectNats, decodeEvents, STREAMS, subjects, WharfEvent } from '@wharf/messaging';
import { common, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { eventually, startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
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
const idOf = (arn: string) => arn.split('/').pop()!;
const CLUSTER = 'drain';

describe('state: UpdateContainerInstancesState', () => {
  let pg: StartedPostgres;
  let nats: StartedNats;
  let state: RunningState;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  let client: stateV1.StateServiceClient;
  let pool: Pool;
  let nc: NatsConnection;
  let js: JetStreamClient;

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
    nc = await connectNats({ servers: nats.url, name: 'state-instances-state-test' });
    js = jetstream(nc);
    await call(client.createCluster({ clusterName: CLUSTER, tagsJson: '' }));
    await call(client.createCluster({ clusterName: 'elsewhere', tagsJson: '' }));
  });

  afterAll(async () => {
    grpc?.close();
    await pool?.end();
    await state?.stop();
    await nc?.close();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const register = (cluster = CLUSTER, containerInstanceArn = '') =>
    call(
      client.registerContainerInstance({
        cluster,
        containerInstanceArn,
        ec2InstanceId: '',
        total: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
        attributes: [],
        agentVersion: '0.1.0',
        dockerVersion: '',
        agentAddress: '10.0.0.1:4703',
        hostname: 'h',
        hostAddress: '10.0.0.1',
      }),
    );
  const update = (containerInstances: string[], status: string, cluster = CLUSTER) =>
    call(client.updateContainerInstancesState({ cluster, containerInstances, status }));
  const describe1 = async (arn: string, cluster = CLUSTER) =>
    (await call(client.describeContainerInstances({ cluster, containerInstances: [arn] })))
      .containerInstances[0];
  /** The `container_instance.*` outbox events of an instance, oldest first. */
  const outboxOf = async (arn: string) =>
    (
      await pool.query<{ subject: string; payload: WharfEvent<common.ContainerInstance> }>(
        `SELECT subject, payload::jsonb AS payload FROM outbox_events WHERE payload::jsonb ->>'resourceArn' = $1 ORDER BY id`,
        [arn],
      )
    ).rows;
  const eventsSeq = async () =>
    (await (await jetstreamManager(nc)).streams.info(STREAMS.events.name)).state.last_seq + 1;
  /** The first `container_instance.changed` event published for `arn` from `fromSeq` on. */
  async function publishedChange(arn: string, fromSeq: number) {
    const consumer = await js.consumers.get(STREAMS.events.name, {
      filter_subjects: subjects.event(CLUSTER, 'container_instance', 'changed'),
      opt_start_seq: fromSeq,
    });
    return eventually(async () => {
      const m = await consumer.next({ expires: 1_000 });
      // One message may carry the changes of several instances (one statement's events).
      return m
        ? decodeEvents<common.ContainerInstance>(m.data).find((e) => e.resourceArn === arn)
        : undefined;
    }, `container_instance.changed of ${arn}`);
  }

  it('drains and reactivates instances: version + 1 and one changed event per change', async () => {
    const a = await register();
    const b = await register();
    const from = await eventsSeq();

    // b by id, a by ARN; the answer follows the request order.
    const drained = await update(
      [idOf(b.containerInstanceArn), a.containerInstanceArn],
      'DRAINING',
    );
    expect(drained.failures).toEqual([]);
    expect(
      drained.containerInstances.map((i) => [i.containerInstanceArn, i.status, i.version]),
    ).toEqual([
      [b.containerInstanceArn, 'DRAINING', b.version + 1],
      [a.containerInstanceArn, 'DRAINING', a.version + 1],
    ]);
    expect(await describe1(a.containerInstanceArn)).toMatchObject({
      status: 'DRAINING',
      version: a.version + 1,
      registered: a.registered,
      remaining: a.remaining,
    });

    const rowsA = await outboxOf(a.containerInstanceArn);
    expect(rowsA.map((r) => r.payload.type)).toEqual([
      'container_instance.registered',
      'container_instance.changed',
    ]);
    expect(rowsA[1].subject).toBe(subjects.event(CLUSTER, 'container_instance', 'changed'));
    expect(rowsA[1].payload).toMatchObject({
      version: a.version + 1,
      detail: { containerInstanceArn: a.containerInstanceArn, status: 'DRAINING' },
    });
    // The relay publishes it: what the scheduler's snapshot follows.
    const published = await publishedChange(a.containerInstanceArn, from);
    expect(published).toMatchObject({
      type: 'container_instance.changed',
      version: a.version + 1,
      detail: { status: 'DRAINING', version: a.version + 1 },
    });

    // Asking for the status it already has changes nothing: no version bump, no event.
    const again = await update([a.containerInstanceArn], 'DRAINING');
    expect(again.failures).toEqual([]);
    expect(again.containerInstances.map((i) => [i.status, i.version])).toEqual([
      ['DRAINING', a.version + 1],
    ]);
    expect(await outboxOf(a.containerInstanceArn)).toHaveLength(2);

    const active = await update([a.containerInstanceArn], 'ACTIVE');
    expect(active.containerInstances.map((i) => [i.status, i.version])).toEqual([
      ['ACTIVE', a.version + 2],
    ]);
    const after = await outboxOf(a.containerInstanceArn);
    expect(after).toHaveLength(3);
    expect(after[2].payload).toMatchObject({
      type: 'container_instance.changed',
      version: a.version + 2,
      detail: { status: 'ACTIVE' },
    });
    expect((await describe1(b.containerInstanceArn)).status).toBe('DRAINING');
  });

  it('answers instances not in the cluster as MISSING failures and still changes the others', async () => {
    const a = await register();
    const other = await register('elsewhere');
    const unknownArn = `arn:aws:ecs:us-east-1:000000000000:container-instance/${CLUSTER}/feedface`;

    const res = await update(
      [
        'deadbeef',
        a.containerInstanceArn,
        unknownArn,
        other.containerInstanceArn,
        idOf(a.containerInstanceArn), // the same instance again: answered once
      ],
      'DRAINING',
    );
    expect(res.containerInstances.map((i) => [i.containerInstanceArn, i.status])).toEqual([
      [a.containerInstanceArn, 'DRAINING'],
    ]);
    expect(res.failures).toEqual([
      {
        arn: `arn:aws:ecs:us-east-1:000000000000:container-instance/${CLUSTER}/deadbeef`,
        reason: 'MISSING',
        detail: '',
      },
      { arn: unknownArn, reason: 'MISSING', detail: '' },
      { arn: other.containerInstanceArn, reason: 'MISSING', detail: '' },
    ]);
    expect(res.containerInstances[0].version).toBe(a.version + 1);
    // The instance of the other cluster is untouched.
    expect(await describe1(other.containerInstanceArn, 'elsewhere')).toMatchObject({
      status: 'ACTIVE',
      version: other.version,
    });
    expect(await outboxOf(other.containerInstanceArn)).toHaveLength(1);

    const allMissing = await update(['nope'], 'ACTIVE');
    expect(allMissing.containerInstances).toEqual([]);
    expect(allMissing.failures.map((f) => f.reason)).toEqual(['MISSING']);
  });

  it('does not move an INACTIVE instance: a failure with its status as the reason', async () => {
    const a = await register();
    const b = await register();
    await pool.query(`UPDATE container_instances SET status = 'INACTIVE' WHERE arn = $1`, [
      a.containerInstanceArn,
    ]);

    for (const status of ['DRAINING', 'ACTIVE']) {
      const res = await update([a.containerInstanceArn, b.containerInstanceArn], status);
      expect(res.failures).toEqual([
        {
          arn: a.containerInstanceArn,
          reason: 'INACTIVE',
          detail: expect.stringContaining(`can be set to ${status}`),
        },
      ]);
      expect(res.containerInstances.map((i) => [i.containerInstanceArn, i.status])).toEqual([
        [b.containerInstanceArn, status],
      ]);
    }
    expect(await describe1(a.containerInstanceArn)).toMatchObject({
      status: 'INACTIVE',
      version: a.version,
    });
    expect(await outboxOf(a.containerInstanceArn)).toHaveLength(1);
  });

  it('refuses a status other than ACTIVE or DRAINING, naming status and the allowed values', async () => {
    const a = await register();
    for (const status of ['INACTIVE', 'REGISTERING', 'draining', '']) {
      const err = await grpcError(update([a.containerInstanceArn], status));
      expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
      expect(err.details).toMatch(
        /^InvalidParameterException: status must be one of \[ACTIVE, DRAINING\]/,
      );
    }
    expect(await describe1(a.containerInstanceArn)).toMatchObject({
      status: 'ACTIVE',
      version: a.version,
    });
  });

  it('refuses no instances or more than 10, changing nothing', async () => {
    const a = await register();
    const empty = await grpcError(update([], 'DRAINING'));
    expect(empty.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(empty.details).toBe('InvalidParameterException: containerInstances cannot be empty.');

    const eleven = [a.containerInstanceArn, ...Array.from({ length: 10 }, (_, i) => `id-${i}`)];
    const tooMany = await grpcError(update(eleven, 'DRAINING'));
    expect(tooMany.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(tooMany.details).toBe(
      'InvalidParameterException: containerInstances can have at most 10 items.',
    );
    expect((await describe1(a.containerInstanceArn)).status).toBe('ACTIVE');

    // Ten is allowed.
    const ten = await update(eleven.slice(0, 10), 'DRAINING');
    expect(ten.containerInstances.map((i) => i.status)).toEqual(['DRAINING']);
    expect(ten.failures).toHaveLength(9);
  });

  it('answers an unknown cluster with ClusterNotFoundException', async () => {
    const a = await register();
    const err = await grpcError(update([a.containerInstanceArn], 'DRAINING', 'no-such-cluster'));
    expect(err.code).toBe(GrpcCode.NOT_FOUND);
    expect(err.details).toMatch(/^ClusterNotFoundException: /);
    expect((await describe1(a.containerInstanceArn)).status).toBe('ACTIVE');
  });

  it('keeps a DRAINING instance DRAINING when its agent registers again', async () => {
    const a = await register();
    await update([a.containerInstanceArn], 'DRAINING');

    const again = await register(CLUSTER, a.containerInstanceArn);
    expect(again.containerInstanceArn).toBe(a.containerInstanceArn);
    expect(again.status).toBe('DRAINING');
    expect(again.version).toBe(a.version + 2);
    expect(await describe1(a.containerInstanceArn)).toMatchObject({ status: 'DRAINING' });
    const rows = await outboxOf(a.containerInstanceArn);
    expect(rows[rows.length - 1].payload).toMatchObject({
      type: 'container_instance.registered',
      detail: { status: 'DRAINING' },
    });

    // And an ACTIVE one stays ACTIVE.
    await update([a.containerInstanceArn], 'ACTIVE');
    expect((await register(CLUSTER, a.containerInstanceArn)).status).toBe('ACTIVE');
  });
});
