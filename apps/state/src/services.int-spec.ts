/**
 * ECS services (Create/Update/Delete/Describe/List, ListServiceTasks, RecordServiceProgress)
 * and leases against a real Postgres (and NATS, which the state service needs to start).
 */
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import { common, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { stateConfigSchema } from './config';
import { ServiceRepository } from './service.repository';
import { EMPTY_CONTAINER, EMPTY_TASK } from './state-test-fixtures';
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

const ARN = 'arn:aws:ecs:us-east-1:000000000000';

/** UTF-8 bytes of every string in `value`, however deep. */
const textBytes = (value: unknown): number =>
  typeof value === 'string'
    ? Buffer.byteLength(value)
    : value && typeof value === 'object'
      ? Object.values(value).reduce((n: number, v) => n + textBytes(v), 0)
      : 0;
const CLUSTER = 'svc';

const EMPTY_CREATE: stateV1.CreateServiceRequest = {
  cluster: CLUSTER,
  serviceName: '',
  taskDefinition: 'web',
  desiredCount: undefined,
  schedulingStrategy: '',
  launchType: '',
  deploymentConfigurationJson: '',
  placementConstraintsJson: '',
  placementStrategyJson: '',
  loadBalancersJson: '',
  tagsJson: '',
  healthCheckGracePeriodSeconds: undefined,
  clientToken: '',
};

const EMPTY_UPDATE: stateV1.UpdateServiceRequest = {
  cluster: CLUSTER,
  service: '',
  forceNewDeployment: false,
};

const EMPTY_PROGRESS: stateV1.RecordServiceProgressRequest = {
  cluster: CLUSTER,
  service: '',
  expectedVersion: 0,
  deployments: [],
  events: [],
  runningCount: 0,
  pendingCount: 0,
  status: '',
};

describe('state: services and leases', () => {
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
    await call(client.createCluster({ clusterName: CLUSTER, tagsJson: '' }));
    await call(client.createCluster({ clusterName: 'listing', tagsJson: '' }));
    for (const family of ['web', 'web', 'api']) {
      await call(
        client.registerTaskDefinition({
          definitionJson: JSON.stringify({
            family,
            containerDefinitions: [{ name: family, image: 'wharf/busybox:dev', memory: 64 }],
          }),
        }),
      );
    }
  });

  afterAll(async () => {
    grpc?.close();
    await pool?.end();
    await state?.stop();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const create = (req: Partial<stateV1.CreateServiceRequest>) =>
    call(client.createService({ ...EMPTY_CREATE, ...req }));
  const update = (req: Partial<stateV1.UpdateServiceRequest>) =>
    call(client.updateService({ ...EMPTY_UPDATE, ...req }));
  const describe1 = async (service: string, cluster = CLUSTER) => {
    const res = await call(client.describeServices({ cluster, services: [service] }));
    return res.services[0];
  };
  const progress = (req: Partial<stateV1.RecordServiceProgressRequest>) =>
    call(client.recordServiceProgress({ ...EMPTY_PROGRESS, ...req }));
  const outboxTypes = async (arn: string) => {
    const { rows } = await pool.query<{ type: string; version: number }>(
      `SELECT payload::jsonb ->> 'type' AS type, (payload::jsonb ->> 'version')::int AS version FROM outbox_events
        WHERE payload::jsonb ->> 'resourceArn' = $1 ORDER BY id`,
      [arn],
    );
    return rows.map((r) => `${r.type}@${r.version}`);
  };
  /** An instance of `capacity` CPU units and MiB, whose agent is at `address`. */
  const registerInstance = (hostname: string, address: string, capacity: number) =>
    call(
      client.registerContainerInstance({
        cluster: CLUSTER,
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: capacity, memory: capacity, ports: [], portsUdp: [] },
        attributes: [],
        agentVersion: '0.1.0',
        dockerVersion: '',
        agentAddress: `${address}:4703`,
        hostname,
        hostAddress: address,
      }),
    );

  it('creates a service with defaults, its ARN and a first PRIMARY deployment', async () => {
    const s = await create({
      serviceName: 'web',
      taskDefinition: 'web',
      desiredCount: 2,
      tagsJson: '[{"key":"team","value":"a"}]',
    });
    expect(s).toMatchObject({
      serviceArn: `${ARN}:service/${CLUSTER}/web`,
      serviceName: 'web',
      clusterArn: `${ARN}:cluster/${CLUSTER}`,
      status: 'ACTIVE',
      desiredCount: 2,
      runningCount: 0,
      pendingCount: 0,
      launchType: 'EC2',
      schedulingStrategy: 'REPLICA',
      // the family alone is its latest ACTIVE revision
      taskDefinitionArn: `${ARN}:task-definition/web:2`,
      placementConstraintsJson: '[]',
      placementStrategyJson: '[]',
      loadBalancersJson: '[]',
      healthCheckGracePeriodSeconds: 0,
      events: [],
      version: 1,
    });
    expect(JSON.parse(s.deploymentConfigurationJson)).toEqual({
      maximumPercent: 200,
      minimumHealthyPercent: 100,
      deploymentCircuitBreaker: { enable: false, rollback: false },
    });
    expect(JSON.parse(s.tagsJson)).toEqual([{ key: 'team', value: 'a' }]);
    expect(s.createdAt).toBeGreaterThan(0);
    expect(s.deployments).toHaveLength(1);
    const d = s.deployments[0];
    expect(d.id).toMatch(/^ecs-svc\/\d{19}$/);
    expect(d).toMatchObject({
      status: 'PRIMARY',
      taskDefinitionArn: `${ARN}:task-definition/web:2`,
      desiredCount: 2,
      pendingCount: 0,
      runningCount: 0,
      failedTasks: 0,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: `ECS deployment ${d.id} in progress.`,
      launchType: 'EC2',
    });
    expect(await outboxTypes(s.serviceArn)).toEqual(['service.created@1']);

    const daemon = await create({
      serviceName: 'daemon',
      taskDefinition: 'web:1',
      schedulingStrategy: 'DAEMON',
    });
    expect(daemon.desiredCount).toBe(0);
    expect(daemon.taskDefinitionArn).toBe(`${ARN}:task-definition/web:1`);
    expect(JSON.parse(daemon.deploymentConfigurationJson)).toMatchObject({
      maximumPercent: 100,
      minimumHealthyPercent: 0,
    });
  });

  it('answers a repeated identical create with the service, and refuses a different one', async () => {
    const req = {
      serviceName: 'idem',
      taskDefinition: 'web:2',
      desiredCount: 2,
      placementConstraintsJson: '[{"type":"distinctInstance"}]',
      deploymentConfigurationJson: '{"minimumHealthyPercent":50,"maximumPercent":150}',
    };
    const first = await create(req);
    // the family alone resolves to the same revision: still the same request
    const again = await create({ ...req, taskDefinition: 'web' });
    expect(again).toEqual(first);
    const concurrent = await Promise.all([1, 2, 3].map(() => create(req)));
    expect(concurrent.every((s) => s.serviceArn === first.serviceArn)).toBe(true);

    const err = await grpcError(create({ ...req, desiredCount: 3 }));
    expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(err.details).toBe('InvalidParameterException: Creation of service was not idempotent.');
    expect((await describe1('idem')).deployments).toHaveLength(1);
  });

  it('refuses invalid creates naming the member, unknown clusters and task definitions', async () => {
    const cases: [Partial<stateV1.CreateServiceRequest>, number, RegExp][] = [
      [{ serviceName: 'bad name', desiredCount: 1 }, GrpcCode.INVALID_ARGUMENT, /serviceName/],
      [{ serviceName: 'x' }, GrpcCode.INVALID_ARGUMENT, /desiredCount is required/],
      [
        {
          serviceName: 'x',
          schedulingStrategy: 'DAEMON',
          placementStrategyJson: '[{"type":"random"}]',
        },
        GrpcCode.INVALID_ARGUMENT,
        /Placement strategies are not supported with the DAEMON scheduling strategy\./,
      ],
      [
        { serviceName: 'x', desiredCount: 1, healthCheckGracePeriodSeconds: 30 },
        GrpcCode.INVALID_ARGUMENT,
        /Health check grace period is only valid for services configured to use load balancers/,
      ],
      [
        {
          serviceName: 'x',
          desiredCount: 1,
          placementConstraintsJson: '[{"type":"memberOf","expression":"attribute:a =="}]',
        },
        GrpcCode.INVALID_ARGUMENT,
        /memberOf expression/,
      ],
      [
        { serviceName: 'x', desiredCount: 1, loadBalancersJson: '{' },
        GrpcCode.INVALID_ARGUMENT,
        /loadBalancers is not valid JSON/,
      ],
      [
        { serviceName: 'x', desiredCount: 1, launchType: 'FARGATE' },
        GrpcCode.UNIMPLEMENTED,
        /^UnsupportedFeatureException: launchType FARGATE is not supported/,
      ],
      [
        { serviceName: 'x', desiredCount: 1, taskDefinition: '' },
        GrpcCode.INVALID_ARGUMENT,
        /taskDefinition is required/,
      ],
      [
        { serviceName: 'x', desiredCount: 1, taskDefinition: 'nope' },
        GrpcCode.NOT_FOUND,
        /^ClientException: Unable to describe task definition\./,
      ],
      [
        { serviceName: 'x', desiredCount: 1, cluster: 'nowhere' },
        GrpcCode.NOT_FOUND,
        /^ClusterNotFoundException: /,
      ],
    ];
    for (const [req, code, details] of cases) {
      const err = await grpcError(create(req));
      expect({ req, code: err.code }).toEqual({ req, code });
      expect(err.details).toMatch(details);
    }
    const missing = await call(client.describeServices({ cluster: CLUSTER, services: ['x'] }));
    expect(missing.services).toEqual([]);
  });

  it('updates the desired count, deploys a new task definition and forces new deployments', async () => {
    const s = await create({ serviceName: 'upd', taskDefinition: 'web:1', desiredCount: 1 });
    const first = s.deployments[0];

    const scaled = await update({ service: 'upd', desiredCount: 3 });
    expect(scaled.version).toBe(2);
    expect(scaled.desiredCount).toBe(3);
    expect(scaled.deployments).toHaveLength(1);
    expect(scaled.deployments[0]).toMatchObject({ id: first.id, desiredCount: 3 });

    // the same revision again is no deployment, and no change at all
    const same = await update({ service: s.serviceArn, taskDefinition: 'web:1' });
    expect(same.version).toBe(2);

    const deployed = await update({ service: 'upd', taskDefinition: 'web' });
    expect(deployed.version).toBe(3);
    expect(deployed.taskDefinitionArn).toBe(`${ARN}:task-definition/web:2`);
    expect(
      deployed.deployments.map((d) => [d.status, d.taskDefinitionArn, d.desiredCount]),
    ).toEqual([
      ['PRIMARY', `${ARN}:task-definition/web:2`, 3],
      ['ACTIVE', `${ARN}:task-definition/web:1`, 3],
    ]);
    expect(deployed.deployments[1]).toMatchObject({
      id: first.id,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: first.rolloutStateReason,
    });

    const forced = await update({ service: 'upd', forceNewDeployment: true });
    expect(forced.deployments.map((d) => d.status)).toEqual(['PRIMARY', 'ACTIVE', 'ACTIVE']);
    expect(forced.deployments[1].id).toBe(deployed.deployments[0].id);
    expect(forced.deployments[0].taskDefinitionArn).toBe(`${ARN}:task-definition/web:2`);
    expect(forced.deployments[0].id).not.toBe(deployed.deployments[0].id);

    const configured = await update({
      service: 'upd',
      placementStrategyJson: '[{"type":"spread","field":"instanceId"}]',
      // (load balancers, and with them a grace period, need a target group:
      // load-balancers.int-spec covers them)
    });
    expect(JSON.parse(configured.placementStrategyJson)).toEqual([
      { type: 'spread', field: 'instanceId' },
    ]);
    expect(configured.deployments).toHaveLength(3);
    expect(await outboxTypes(s.serviceArn)).toEqual([
      'service.created@1',
      'service.updated@2',
      'service.updated@3',
      'service.updated@4',
      'service.updated@5',
    ]);

    const bad = await grpcError(
      update({ service: 'upd', deploymentConfigurationJson: '{"minimumHealthyPercent":101}' }),
    );
    expect(bad.details).toMatch(
      /^InvalidParameterException: deploymentConfiguration\.minimumHealthyPercent/,
    );
    const negative = await grpcError(update({ service: 'upd', desiredCount: -1 }));
    expect(negative.details).toMatch(/desiredCount must be/);
    const daemon = await grpcError(update({ service: 'daemon', desiredCount: 2 }));
    expect(daemon.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(daemon.details).toMatch(/desiredCount is not valid .* DAEMON/);
    const missing = await grpcError(update({ service: 'nope', desiredCount: 1 }));
    expect(missing.code).toBe(GrpcCode.NOT_FOUND);
    expect(missing.details).toBe('ServiceNotFoundException: Service not found.');
    const otherCluster = await grpcError(
      update({ service: `${ARN}:service/listing/upd`, desiredCount: 1 }),
    );
    expect(otherCluster.code).toBe(GrpcCode.NOT_FOUND);
  });

  it('deletes only a service scaled to 0 unless forced, leaving it DRAINING', async () => {
    const s = await create({ serviceName: 'del', desiredCount: 2 });
    const refused = await grpcError(
      call(client.deleteService({ cluster: CLUSTER, service: 'del', force: false })),
    );
    expect(refused.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(refused.details).toBe(
      'InvalidParameterException: The service cannot be stopped while it is scaled above 0.',
    );
    const deleted = await call(
      client.deleteService({ cluster: CLUSTER, service: s.serviceArn, force: true }),
    );
    expect(deleted).toMatchObject({ status: 'DRAINING', desiredCount: 0, version: 2 });
    expect(deleted.deployments[0]).toMatchObject({ status: 'PRIMARY', desiredCount: 0 });
    expect(await outboxTypes(s.serviceArn)).toEqual(['service.created@1', 'service.deleted@2']);

    // thunks, so that each call is made only once its rejection is awaited
    for (const attempt of [
      () => call(client.deleteService({ cluster: CLUSTER, service: 'del', force: true })),
      () => update({ service: 'del', desiredCount: 1 }),
    ]) {
      const err = await grpcError(attempt());
      expect(err.code).toBe(GrpcCode.FAILED_PRECONDITION);
      expect(err.details).toBe('ServiceNotActiveException: Service was not ACTIVE.');
    }
    // the name stays taken while DRAINING
    const taken = await grpcError(create({ serviceName: 'del', desiredCount: 2 }));
    expect(taken.details).toMatch(/not idempotent/);

    await create({ serviceName: 'del0', desiredCount: 0 });
    const zero = await call(
      client.deleteService({ cluster: CLUSTER, service: 'del0', force: false }),
    );
    expect(zero.status).toBe('DRAINING');
    const unknown = await grpcError(
      call(client.deleteService({ cluster: CLUSTER, service: 'nope', force: true })),
    );
    expect(unknown.details).toBe('ServiceNotFoundException: Service not found.');
  });

  it('describes by name and ARN, reporting missing ones, at most 10', async () => {
    const res = await call(
      client.describeServices({
        cluster: CLUSTER,
        services: [
          'web',
          `${ARN}:service/${CLUSTER}/daemon`,
          'ghost',
          `${ARN}:service/listing/web`,
        ],
      }),
    );
    expect(res.services.map((s) => s.serviceName)).toEqual(['web', 'daemon']);
    expect(res.failures).toEqual([
      { arn: `${ARN}:service/${CLUSTER}/ghost`, reason: 'MISSING', detail: '' },
      { arn: `${ARN}:service/listing/web`, reason: 'MISSING', detail: '' },
    ]);
    const tooMany = await grpcError(
      call(
        client.describeServices({
          cluster: CLUSTER,
          services: Array.from({ length: 11 }, (_, i) => `s${i}`),
        }),
      ),
    );
    expect(tooMany.code).toBe(GrpcCode.INVALID_ARGUMENT);
    const unknownCluster = await grpcError(
      call(client.describeServices({ cluster: 'nowhere', services: ['web'] })),
    );
    expect(unknownCluster.details).toMatch(/^ClusterNotFoundException/);
  });

  it('lists ACTIVE and DRAINING services in pages, with filters', async () => {
    const names = Array.from({ length: 7 }, (_, i) => `l${i}`);
    for (const name of names) {
      await create({ cluster: 'listing', serviceName: name, desiredCount: 0 });
    }
    await create({ cluster: 'listing', serviceName: 'ld', schedulingStrategy: 'DAEMON' });
    await call(client.deleteService({ cluster: 'listing', service: 'l0', force: false }));
    await create({ cluster: 'listing', serviceName: 'gone', desiredCount: 0 });
    await call(client.deleteService({ cluster: 'listing', service: 'gone', force: false }));
    await progress({ cluster: 'listing', service: 'gone', status: 'INACTIVE' });

    const all: string[] = [];
    let nextToken = '';
    let pages = 0;
    do {
      const page = await call(
        client.listServices({
          cluster: 'listing',
          launchType: '',
          schedulingStrategy: '',
          maxResults: 3,
          nextToken,
        }),
      );
      expect(page.serviceArns.length).toBeLessThanOrEqual(3);
      all.push(...page.serviceArns);
      // a service created between pages does not disturb the pages
      if (pages === 0) await create({ cluster: 'listing', serviceName: 'late', desiredCount: 0 });
      nextToken = page.nextToken;
      pages++;
    } while (nextToken);
    expect(pages).toBeGreaterThan(2);
    const listed = all.map((a) => a.split('/').pop());
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed).toEqual(expect.arrayContaining([...names, 'ld']));
    expect(listed).not.toContain('gone');

    const daemons = await call(
      client.listServices({
        cluster: 'listing',
        launchType: '',
        schedulingStrategy: 'DAEMON',
        maxResults: 0,
        nextToken: '',
      }),
    );
    expect(daemons).toEqual({ serviceArns: [`${ARN}:service/listing/ld`], nextToken: '' });
    const ec2 = await call(
      client.listServices({
        cluster: 'listing',
        launchType: 'EC2',
        schedulingStrategy: 'REPLICA',
        maxResults: 100,
        nextToken: '',
      }),
    );
    expect(ec2.serviceArns).toHaveLength(names.length + 1);
    const none = await call(
      client.listServices({
        cluster: 'listing',
        launchType: 'FARGATE',
        schedulingStrategy: '',
        maxResults: 0,
        nextToken: '',
      }),
    );
    expect(none.serviceArns).toEqual([]);
    // default page size 10
    const firstPage = await call(
      client.listServices({
        cluster: 'listing',
        launchType: '',
        schedulingStrategy: '',
        maxResults: 0,
        nextToken: '',
      }),
    );
    expect(firstPage.serviceArns).toHaveLength(9);
  });

  it('lists the tasks of a service that are not STOPPED', async () => {
    await create({ serviceName: 'tasks', desiredCount: 3 });
    const instance = await registerInstance('h', '10.0.0.1', 4096);
    const task = (group: string): stateV1.Placement => ({
      expectedInstanceVersion: 0,
      fenceLease: '',
      fenceHolder: '',
      task: {
        ...EMPTY_TASK,
        taskDefinitionArn: `${ARN}:task-definition/web:2`,
        containerInstanceArn: instance.containerInstanceArn,
        cpu: 10,
        memory: 10,
        group,
        startedBy: 'ecs-svc/1234567890123456789',
        containers: [
          { ...EMPTY_CONTAINER, name: 'web', image: 'wharf/busybox:dev', essential: true },
        ],
      },
    });
    const start = Date.now() - 1000; // Postgres' clock and ours may differ by a little
    const commit = await call(
      client.commitPlacements({
        cluster: CLUSTER,
        placements: [
          task('service:tasks'),
          task('service:tasks'),
          task('service:tasks'),
          task('service:other'),
          task('family:web'),
        ],
      }),
    );
    expect(commit.rejected).toEqual([]);
    const [a, b, c] = commit.tasks;
    await call(
      client.markTaskStopping({
        cluster: CLUSTER,
        task: c.taskArn,
        reason: 'failed',
        stopCode: 'TaskFailedToStart',
      }),
    );
    const res = await call(
      client.listServiceTasks({
        cluster: CLUSTER,
        service: `${ARN}:service/${CLUSTER}/tasks`,
        stoppedSinceMs: 0,
      }),
    );
    expect(res.tasks.map((t) => t.taskArn).sort()).toEqual([a.taskArn, b.taskArn].sort());
    // with the ones STOPPED since a time (the failed launch just now, not before it)
    const withStopped = await call(
      client.listServiceTasks({ cluster: CLUSTER, service: 'tasks', stoppedSinceMs: start }),
    );
    expect(withStopped.tasks.map((t) => t.taskArn).sort()).toEqual(
      [a.taskArn, b.taskArn, c.taskArn].sort(),
    );
    expect(withStopped.tasks.find((t) => t.taskArn === c.taskArn)).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'TaskFailedToStart',
    });
    const later = await call(
      client.listServiceTasks({
        cluster: CLUSTER,
        service: 'tasks',
        stoppedSinceMs: Date.now() + 60_000,
      }),
    );
    expect(later.tasks).toHaveLength(2);
    expect(res.tasks[0]).toMatchObject({
      group: 'service:tasks',
      startedBy: 'ecs-svc/1234567890123456789',
      lastStatus: 'PROVISIONING',
    });
    expect(res.tasks[0].containers).toHaveLength(1);
    const missing = await grpcError(
      call(client.listServiceTasks({ cluster: CLUSTER, service: 'ghost', stoppedSinceMs: 0 })),
    );
    expect(missing.details).toMatch(/^ServiceNotFoundException/);

    // Fencing: a placement fenced by a lease commits only while its sender holds the lease.
    await call(client.acquireLease({ name: 'fence-test', holder: 'leader', ttlMs: 60_000 }));
    const fenced = (holder: string) => ({
      ...task('service:tasks'),
      fenceLease: 'fence-test',
      fenceHolder: holder,
    });
    const fencing = await call(
      client.commitPlacements({
        cluster: CLUSTER,
        placements: [fenced('leader'), fenced('old-leader'), task('service:tasks')],
      }),
    );
    expect(fencing.tasks).toHaveLength(2);
    expect(fencing.rejected).toEqual([
      { index: 1, reason: 'NOT_LEADER', detail: 'old-leader does not hold the lease fence-test' },
    ]);
    // Stops are fenced the same way: the old leader's is refused and changes nothing.
    const [kept, stoppedByLeader] = fencing.tasks;
    const stopFenced = (taskArn: string, holder: string) =>
      call(
        client.markTaskStopping({
          cluster: CLUSTER,
          task: taskArn,
          reason: 'scale-in',
          stopCode: 'ServiceSchedulerInitiated',
          fenceLease: 'fence-test',
          fenceHolder: holder,
        }),
      );
    const refused = await grpcError(stopFenced(kept.taskArn, 'old-leader'));
    expect(refused.code).toBe(GrpcCode.FAILED_PRECONDITION);
    expect(refused.details).toMatch(/old-leader does not hold the lease fence-test/);
    const untouched = await call(client.describeTasks({ cluster: CLUSTER, tasks: [kept.taskArn] }));
    expect(untouched.tasks[0].desiredStatus).toBe('RUNNING');
    await expect(stopFenced(stoppedByLeader.taskArn, 'leader')).resolves.toMatchObject({
      desiredStatus: 'STOPPED',
      stopCode: 'ServiceSchedulerInitiated',
    });
    await call(client.releaseLease({ name: 'fence-test', holder: 'leader' }));
    const released = await call(
      client.commitPlacements({ cluster: CLUSTER, placements: [fenced('leader')] }),
    );
    expect(released.rejected.map((r) => r.reason)).toEqual(['NOT_LEADER']);
  });

  it('lists a service of 5,000 tasks, more than gRPC carries by default (4 MiB)', async () => {
    await create({ serviceName: 'big', desiredCount: 5000 });
    const instance = await registerInstance('big', '10.0.0.2', 1_000_000);
    const container = (name: string): common.Container => ({
      ...EMPTY_CONTAINER,
      name,
      image: `registry.example.com/team/${'a-rather-long-image-name-'.repeat(6)}:build-1234`,
      essential: true,
    });
    const placement: stateV1.Placement = {
      expectedInstanceVersion: 0,
      fenceLease: '',
      fenceHolder: '',
      task: {
        ...EMPTY_TASK,
        taskDefinitionArn: `${ARN}:task-definition/web:2`,
        containerInstanceArn: instance.containerInstanceArn,
        cpu: 1,
        memory: 1,
        group: 'service:big',
        startedBy: 'ecs-svc/1234567890123456789',
        containers: [container('app'), container('sidecar'), container('log-router')],
      },
    };
    for (let i = 0; i < 10; i++) {
      const commit = await call(
        client.commitPlacements({ cluster: CLUSTER, placements: Array(500).fill(placement) }),
      );
      expect(commit.rejected).toEqual([]);
    }
    const res = await call(
      client.listServiceTasks({ cluster: CLUSTER, service: 'big', stoppedSinceMs: 0 }),
    );
    expect(res.tasks).toHaveLength(5000);
    // The text alone, a lower bound of the encoded answer, is over gRPC's default 4 MiB.
    expect(textBytes(res)).toBeGreaterThan(4 * 1024 * 1024);
  });

  it('records progress: version check, counts, rollout states, INACTIVE deployments, events, status', async () => {
    const s = await create({ serviceName: 'prog', desiredCount: 2, taskDefinition: 'web:1' });
    const v2 = await update({ service: 'prog', taskDefinition: 'web:2' });
    const [primary, old] = v2.deployments;

    const stale = await grpcError(
      progress({ service: 'prog', expectedVersion: 1, runningCount: 1 }),
    );
    expect(stale.code).toBe(GrpcCode.ABORTED);
    expect(stale.details).toMatch(/version 2, not the expected 1/);

    const p = await progress({
      service: 'prog',
      expectedVersion: 2,
      runningCount: 2,
      pendingCount: 1,
      deployments: [
        {
          id: primary.id,
          pendingCount: 1,
          runningCount: 1,
          failedTasks: 0,
          rolloutState: '',
          rolloutStateReason: '',
          inactive: false,
        },
        {
          id: old.id,
          pendingCount: 0,
          runningCount: 1,
          failedTasks: 2,
          rolloutState: '',
          rolloutStateReason: '',
          inactive: false,
        },
      ],
      events: [
        '(service prog) has started 1 tasks: (task a).',
        '(service prog) has stopped 1 running tasks: (task b).',
      ],
    });
    expect(p).toMatchObject({ version: 3, runningCount: 2, pendingCount: 1, status: 'ACTIVE' });
    expect(p.deployments[0]).toMatchObject({
      id: primary.id,
      pendingCount: 1,
      runningCount: 1,
      rolloutState: 'IN_PROGRESS',
    });
    expect(p.deployments[1]).toMatchObject({ id: old.id, runningCount: 1, failedTasks: 2 });
    expect(p.events.map((e) => e.message)).toEqual([
      '(service prog) has stopped 1 running tasks: (task b).',
      '(service prog) has started 1 tasks: (task a).',
    ]);
    expect(p.events[0].id).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.events[0].createdAt).toBeGreaterThan(0);

    // the same again changes nothing and writes nothing
    const same = await progress({
      service: 'prog',
      runningCount: 2,
      pendingCount: 1,
      deployments: [
        {
          id: primary.id,
          pendingCount: 1,
          runningCount: 1,
          failedTasks: 0,
          rolloutState: '',
          rolloutStateReason: '',
          inactive: false,
        },
      ],
    });
    expect(same.version).toBe(3);

    const done = await progress({
      service: s.serviceArn,
      expectedVersion: 3,
      runningCount: 2,
      deployments: [
        {
          id: primary.id,
          pendingCount: 0,
          runningCount: 2,
          failedTasks: 0,
          rolloutState: 'COMPLETED',
          rolloutStateReason: 'ECS deployment completed.',
          inactive: false,
        },
        {
          id: old.id,
          pendingCount: 0,
          runningCount: 0,
          failedTasks: 2,
          rolloutState: '',
          rolloutStateReason: '',
          inactive: true,
        },
      ],
      events: ['(service prog) has reached a steady state.'],
    });
    expect(done.version).toBe(4);
    expect(done.deployments).toHaveLength(1);
    expect(done.deployments[0]).toMatchObject({
      id: primary.id,
      rolloutState: 'COMPLETED',
      rolloutStateReason: 'ECS deployment completed.',
      runningCount: 2,
    });
    expect(done.events[0].message).toBe('(service prog) has reached a steady state.');
    expect(done.events).toHaveLength(3);

    // many events: describe shows the newest 100
    await progress({
      service: 'prog',
      runningCount: 2,
      events: Array.from({ length: 120 }, (_, i) => `e${i}`),
    });
    const described = await describe1('prog');
    expect(described.events).toHaveLength(100);
    expect(described.events[0].message).toBe('e119');
    expect(described.events[99].message).toBe('e20');
    // and only those are kept
    const kept = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM service_events e JOIN services s ON s.id = e.service_id
        WHERE s.name = 'prog'`,
    );
    expect(Number(kept.rows[0].n)).toBe(100);

    // an INACTIVE deployment is deleted once past the retention; the others stay
    const deployments = new ServiceRepository({ region: 'us-east-1', accountId: '000000000000' });
    const pruneDeployments = async (retentionMs: number) => {
      const tx = await pool.connect();
      try {
        return await deployments.deleteInactiveDeploymentsBefore(tx, retentionMs, 1000);
      } finally {
        tx.release();
      }
    };
    expect(await pruneDeployments(60 * 60_000)).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(await pruneDeployments(10)).toBeGreaterThanOrEqual(1);
    const left = await pool.query<{ id: string }>(
      'SELECT id FROM service_deployments WHERE id = ANY($1::text[])',
      [[primary.id, old.id]],
    );
    expect(left.rows.map((r) => r.id)).toEqual([primary.id]);
    expect((await describe1('prog')).deployments.map((d) => d.id)).toEqual([primary.id]);

    // a DAEMON service's desired count is what the scheduler says; a REPLICA's is the user's
    const replica = await grpcError(progress({ service: 'prog', daemonDesiredCount: 3 }));
    expect(replica.details).toMatch(/daemonDesiredCount: service prog uses the REPLICA/);
    const daemon = await create({
      serviceName: 'daemon-progress',
      taskDefinition: 'web:1',
      desiredCount: undefined,
      schedulingStrategy: 'DAEMON',
    });
    expect(daemon.desiredCount).toBe(0);
    const counted = await progress({ service: 'daemon-progress', daemonDesiredCount: 3 });
    expect(counted.desiredCount).toBe(3);
    expect(counted.deployments[0].desiredCount).toBe(3);
    expect(counted.version).toBe(daemon.version + 1);

    const badStatus = await grpcError(progress({ service: 'prog', status: 'INACTIVE' }));
    expect(badStatus.details).toMatch(/only a DRAINING one becomes INACTIVE/);
    const badDeployment = await grpcError(
      progress({
        service: 'prog',
        deployments: [
          {
            id: 'ecs-svc/0000000000000000000',
            pendingCount: 0,
            runningCount: 0,
            failedTasks: 0,
            rolloutState: '',
            rolloutStateReason: '',
            inactive: true,
          },
        ],
      }),
    );
    expect(badDeployment.code).toBe(GrpcCode.INVALID_ARGUMENT);

    // delete, drain, INACTIVE: still described, no longer listed, the name free again
    await update({ service: 'prog', desiredCount: 0 });
    await call(client.deleteService({ cluster: CLUSTER, service: 'prog', force: false }));
    const inactive = await progress({
      service: 'prog',
      status: 'INACTIVE',
      runningCount: 0,
      deployments: [
        {
          id: primary.id,
          pendingCount: 0,
          runningCount: 0,
          failedTasks: 0,
          rolloutState: '',
          rolloutStateReason: '',
          inactive: true,
        },
      ],
    });
    expect(inactive.status).toBe('INACTIVE');
    expect(inactive.deployments).toEqual([]);
    expect((await describe1('prog')).status).toBe('INACTIVE');
    const reborn = await create({ serviceName: 'prog', desiredCount: 1 });
    expect(reborn.status).toBe('ACTIVE');
    expect(reborn.version).toBe(1);
    expect(reborn.events).toEqual([]);
    expect((await describe1('prog')).version).toBe(1);
    const updInactive = await grpcError(update({ service: 'nope2' }));
    expect(updInactive.code).toBe(GrpcCode.NOT_FOUND);
  });

  it('grants a lease to one holder at a time, renews it, expires it and releases it', async () => {
    const acquire = (holder: string, ttlMs = 1_500) =>
      call(client.acquireLease({ name: 'service-scheduler', holder, ttlMs }));
    const a = await acquire('a');
    expect(a).toMatchObject({ name: 'service-scheduler', holder: 'a', held: true });
    expect(a.expiresAt).toBeGreaterThan(Date.now() - 5_000);

    const b = await acquire('b');
    expect(b).toMatchObject({ holder: 'a', held: false, expiresAt: a.expiresAt });

    await new Promise((r) => setTimeout(r, 200));
    const renewed = await acquire('a');
    expect(renewed.held).toBe(true);
    expect(renewed.expiresAt).toBeGreaterThan(a.expiresAt);

    // releasing someone else's lease does nothing
    expect(
      await call(client.releaseLease({ name: 'service-scheduler', holder: 'b' })),
    ).toMatchObject({
      holder: 'a',
      held: false,
    });

    await new Promise((r) => setTimeout(r, 1_700));
    const taken = await acquire('b', 60_000);
    expect(taken).toMatchObject({ holder: 'b', held: true });
    expect((await acquire('a')).held).toBe(false);

    const released = await call(client.releaseLease({ name: 'service-scheduler', holder: 'b' }));
    expect(released).toMatchObject({ holder: '', held: false });
    expect((await acquire('a')).held).toBe(true);

    // concurrent contenders for a free lease: exactly one wins
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call(client.acquireLease({ name: 'race', holder: `h${i}`, ttlMs: 10_000 })),
      ),
    );
    expect(results.filter((r) => r.held)).toHaveLength(1);
    const winner = results.find((r) => r.held)!.holder;
    expect(results.every((r) => r.holder === winner)).toBe(true);

    const bad = await grpcError(call(client.acquireLease({ name: 'x', holder: 'a', ttlMs: 0 })));
    expect(bad.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(await call(client.releaseLease({ name: 'never', holder: 'a' }))).toEqual({
      name: 'never',
      holder: '',
      expiresAt: 0,
      held: false,
    });
  });
});
