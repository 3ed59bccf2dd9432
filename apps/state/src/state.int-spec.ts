import { jetstream, jetstreamManager, JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import {
  connectNats,
  decode,
  decodeEvents,
  encode,
  HeartbeatReport,
  STREAMS,
  subjects,
  TaskStateReport,
  WharfEvent,
} from '@wharf/messaging';
import { common, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { eventually, startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { stateConfigSchema } from './config';
import { MIGRATIONS } from './migrations';
import { migrate } from './migrations/migrator';
import { PruneHistoryUseCase } from './prune-history.use-case';
import { ServiceRepository } from './service.repository';
import { RunningState, startState } from './state';
import { TaskRepository } from './task.repository';
import { EMPTY_CONTAINER, EMPTY_TASK, taskCountDrift } from './state-test-fixtures';

jest.setTimeout(180_000);

const EMPTY_LIST_TASKS: stateV1.ListTasksRequest = {
  cluster: '',
  containerInstance: '',
  family: '',
  startedBy: '',
  desiredStatus: '',
  maxResults: 0,
  nextToken: '',
  serviceName: '',
};

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe('state service (Postgres + NATS)', () => {
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
    const config = stateConfigSchema.parse({
      DATABASE_URL: pg.url,
      STATE_AGENT_JOIN: 'open',
      NATS_URL: nats.url,
      STATE_GRPC_PORT: '0',
      STATE_OPS_PORT: '0',
      // published events stay in the outbox, where this spec reads them
      OUTBOX_RETENTION_MS: '3600000',
      AGENT_HEARTBEAT_TTL_MS: '30000',
    });
    state = await startState(config, logger);
    grpc = createStateClient(state.grpcUrl);
    client = grpc.client;
    pool = new Pool({ connectionString: pg.url, max: 4 });
    nc = await connectNats({ servers: nats.url, name: 'state-test' });
    js = jetstream(nc);
  });

  afterAll(async () => {
    grpc?.close();
    await state?.stop();
    await nc?.close();
    await pool?.end();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const call = <T>(o: import('rxjs').Observable<T>) => firstValueFrom(o);

  async function grpcError(p: Promise<unknown>): Promise<{ code: number; details: string }> {
    try {
      await p;
    } catch (err) {
      return err as { code: number; details: string };
    }
    throw new Error('expected the call to fail');
  }

  async function registerInstance(cluster = 'default', total?: Partial<common.Resources>) {
    return call(
      client.registerContainerInstance({
        cluster,
        containerInstanceArn: '',
        ec2InstanceId: 'i-test',
        total: {
          cpu: 4096,
          memory: 8192,
          ports: [22, 2375, 2376, 51678, 51679],
          portsUdp: [],
          ...total,
        },
        attributes: [{ name: 'ecs.os-type', value: 'linux' }],
        agentVersion: '0.1.0',
        dockerVersion: '27.0',
        agentAddress: '10.0.0.5:4703',
        hostname: 'host-a',
        hostAddress: '10.0.0.5',
      }),
    );
  }

  /** MarkTaskStopping as the scheduler sends it. */
  const markStopping = (task: string, reason: string, stopCode: string) =>
    call(client.markTaskStopping({ cluster: 'default', task, reason, stopCode }));

  function placement(
    instance: common.ContainerInstance,
    claim: { cpu: number; memory: number; hostPorts?: number[] },
    expectedInstanceVersion = 0,
  ): stateV1.Placement {
    return {
      expectedInstanceVersion,
      fenceLease: '',
      fenceHolder: '',
      task: {
        ...EMPTY_TASK,
        taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
        containerInstanceArn: instance.containerInstanceArn,
        cpu: claim.cpu,
        memory: claim.memory,
        hostPorts: claim.hostPorts ?? [],
        startedBy: 'test',
        containers: [
          {
            ...EMPTY_CONTAINER,
            name: 'web',
            image: 'wharf/busybox:dev',
            essential: true,
          },
        ],
      },
    };
  }

  async function describeInstance(arn: string, cluster = 'default') {
    const res = await call(
      client.describeContainerInstances({ cluster, containerInstances: [arn] }),
    );
    return res.containerInstances[0];
  }

  async function describeTask(arn: string) {
    const res = await call(client.describeTasks({ cluster: 'default', tasks: [arn] }));
    return res.tasks[0];
  }

  it('has the default cluster after migration', async () => {
    const res = await call(client.describeClusters({ clusters: [] }));
    expect(res.clusters.map((c) => c.clusterArn)).toEqual([
      'arn:aws:ecs:us-east-1:000000000000:cluster/default',
    ]);
    expect(res.clusters[0].status).toBe('ACTIVE');
  });

  it('re-running migrations is a no-op, and replicas migrating at once do not collide', async () => {
    expect(await migrate(pool, logger)).toEqual([]);
    const { rows } = await pool.query('SELECT id FROM schema_migrations');
    expect(rows.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id));

    await pool.query('CREATE DATABASE fresh');
    const fresh = new Pool({ connectionString: pg.url.replace(/\/wharf$/, '/fresh'), max: 6 });
    try {
      const applied = await Promise.all([
        migrate(fresh, logger),
        migrate(fresh, logger),
        migrate(fresh, logger),
      ]);
      expect(applied.flat()).toEqual(MIGRATIONS.map((m) => m.id));
      const clusters = await fresh.query('SELECT name FROM clusters');
      expect(clusters.rows).toEqual([{ name: 'default' }]);
    } finally {
      await fresh.end();
    }
  });

  it('creates clusters idempotently, lists with pagination, reports missing ones', async () => {
    const a = await call(client.createCluster({ clusterName: 'alpha', tagsJson: '' }));
    const again = await call(client.createCluster({ clusterName: 'alpha', tagsJson: '' }));
    expect(again).toEqual(a);
    await call(
      client.createCluster({ clusterName: 'beta', tagsJson: '[{"key":"k","value":"v"}]' }),
    );

    const first = await call(client.listClusters({ maxResults: 2, nextToken: '' }));
    expect(first.clusterArns).toHaveLength(2);
    expect(first.nextToken).not.toBe('');
    const second = await call(client.listClusters({ maxResults: 2, nextToken: first.nextToken }));
    const all = [...first.clusterArns, ...second.clusterArns].map((arn) => arn.split('/')[1]);
    expect(all).toEqual(expect.arrayContaining(['alpha', 'beta', 'default']));

    const res = await call(client.describeClusters({ clusters: ['beta', a.clusterArn, 'nope'] }));
    expect(res.clusters.map((c) => c.clusterName)).toEqual(['beta', 'alpha']);
    expect(JSON.parse(res.clusters[0].tagsJson)).toEqual([{ key: 'k', value: 'v' }]);
    expect(res.failures).toEqual([
      { arn: 'arn:aws:ecs:us-east-1:000000000000:cluster/nope', reason: 'MISSING', detail: '' },
    ]);

    const bad = await grpcError(
      call(client.createCluster({ clusterName: 'no spaces', tagsJson: '' })),
    );
    expect(bad.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/^InvalidParameterException: /);
  });

  it('numbers task definition revisions 1, 2, 3 and describes by family, family:rev and ARN', async () => {
    const input = {
      family: 'web',
      containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 128 }],
      tags: [{ key: 'team', value: 'a' }],
    };
    const registered = await Promise.all(
      [1, 2, 3].map(() =>
        call(client.registerTaskDefinition({ definitionJson: JSON.stringify(input) })),
      ),
    );
    expect(registered.map((td) => td.revision).sort()).toEqual([1, 2, 3]);
    const latest = await call(client.describeTaskDefinition({ taskDefinition: 'web' }));
    expect(latest.revision).toBe(3);
    const def = JSON.parse(latest.definitionJson);
    expect(def).toMatchObject({
      family: 'web',
      revision: 3,
      status: 'ACTIVE',
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:3',
      compatibilities: ['EC2'],
      requiresAttributes: [],
      containerDefinitions: input.containerDefinitions,
    });
    expect(def.tags).toBeUndefined();
    expect(def.registeredAt).toBeCloseTo(latest.registeredAt / 1000, 3);

    expect((await call(client.describeTaskDefinition({ taskDefinition: 'web:2' }))).revision).toBe(
      2,
    );
    const byArn = await call(
      client.describeTaskDefinition({
        taskDefinition: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
      }),
    );
    expect(byArn.revision).toBe(1);
  });

  it('derives requiresAttributes from the features a definition uses, as ECS does', async () => {
    const td = await call(
      client.registerTaskDefinition({
        definitionJson: JSON.stringify({
          family: 'checked',
          memory: '256',
          containerDefinitions: [
            {
              name: 'db',
              image: 'wharf/busybox:dev',
              healthCheck: { command: ['CMD-SHELL', 'true'] },
            },
            {
              name: 'app',
              image: 'wharf/busybox:dev',
              dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }],
            },
          ],
        }),
      }),
    );
    expect(JSON.parse(td.definitionJson).requiresAttributes).toEqual([
      { name: 'ecs.capability.container-health-check' },
      { name: 'ecs.capability.container-ordering' },
      { name: 'ecs.capability.task-cpu-mem-limit' },
    ]);
  });

  it('answers an unknown task definition with NOT_FOUND and a ClientException', async () => {
    for (const ref of ['nope', 'web:99', 'not a ref!']) {
      const err = await grpcError(call(client.describeTaskDefinition({ taskDefinition: ref })));
      expect(err.code).toBe(GrpcCode.NOT_FOUND);
      expect(err.details).toBe('ClientException: Unable to describe task definition.');
    }
  });

  it('registers a container instance, describes it with remaining resources, re-registers keeping identity', async () => {
    const ci = await registerInstance('default', { cpu: 2048, memory: 4096 });
    expect(ci.containerInstanceArn).toMatch(
      /^arn:aws:ecs:us-east-1:000000000000:container-instance\/default\/[0-9a-f]{32}$/,
    );
    const described = await describeInstance(ci.containerInstanceArn);
    expect(described).toMatchObject({
      status: 'ACTIVE',
      agentConnected: true,
      registered: { cpu: 2048, memory: 4096, ports: [22, 2375, 2376, 51678, 51679], portsUdp: [] },
      remaining: { cpu: 2048, memory: 4096, ports: [22, 2375, 2376, 51678, 51679], portsUdp: [] },
      attributes: [{ name: 'ecs.os-type', value: 'linux' }],
      agentAddress: '10.0.0.5:4703',
      hostAddress: '10.0.0.5',
      hostname: 'host-a',
      runningTasksCount: 0,
      pendingTasksCount: 0,
    });

    const commit = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [placement(ci, { cpu: 512, memory: 256 })],
      }),
    );
    expect(commit.tasks).toHaveLength(1);

    const again = await call(
      client.registerContainerInstance({
        cluster: 'default',
        containerInstanceArn: ci.containerInstanceArn,
        ec2InstanceId: 'i-test',
        total: { cpu: 4096, memory: 4096, ports: [22], portsUdp: [] },
        attributes: [],
        agentVersion: '0.1.1',
        dockerVersion: '27.0',
        agentAddress: '10.0.0.6:4703',
        hostname: 'host-a',
        hostAddress: '10.0.0.6',
      }),
    );
    expect(again.containerInstanceArn).toBe(ci.containerInstanceArn);
    expect(again.version).toBeGreaterThan(ci.version);
    expect(again.remaining).toEqual({
      cpu: 4096 - 512,
      memory: 4096 - 256,
      ports: [22],
      portsUdp: [],
    });
    expect(again.pendingTasksCount).toBe(1);

    const missing = await call(
      client.describeContainerInstances({
        cluster: 'default',
        containerInstances: ['0'.repeat(32)],
      }),
    );
    expect(missing.failures[0]).toMatchObject({
      arn: `arn:aws:ecs:us-east-1:000000000000:container-instance/default/${'0'.repeat(32)}`,
      reason: 'MISSING',
    });

    const unknownCluster = await grpcError(registerInstance('nowhere'));
    expect(unknownCluster.code).toBe(GrpcCode.NOT_FOUND);
    expect(unknownCluster.details).toMatch(/^ClusterNotFoundException: /);
  });

  it('lists container instances with full records and pagination', async () => {
    await call(client.createCluster({ clusterName: 'listing', tagsJson: '' }));
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await registerInstance('listing'));
    const page1 = await call(
      client.listContainerInstances({
        cluster: 'listing',
        status: 'ACTIVE',
        maxResults: 2,
        nextToken: '',
      }),
    );
    expect(page1.containerInstanceArns).toHaveLength(2);
    expect(page1.containerInstances.map((c) => c.containerInstanceArn)).toEqual(
      page1.containerInstanceArns,
    );
    expect(page1.containerInstances[0].registered?.cpu).toBe(4096);
    const page2 = await call(
      client.listContainerInstances({
        cluster: 'listing',
        status: '',
        maxResults: 2,
        nextToken: page1.nextToken,
      }),
    );
    expect(page2.nextToken).toBe('');
    expect([...page1.containerInstanceArns, ...page2.containerInstanceArns].sort()).toEqual(
      made.map((m) => m.containerInstanceArn).sort(),
    );
    const draining = await call(
      client.listContainerInstances({
        cluster: 'listing',
        status: 'DRAINING',
        maxResults: 0,
        nextToken: '',
      }),
    );
    expect(draining.containerInstanceArns).toEqual([]);
  });

  it('never overcommits: 20 concurrent commits of 1024 CPU on a 4096-CPU instance accept exactly 4', async () => {
    const ci = await registerInstance();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        call(
          client.commitPlacements({
            cluster: 'default',
            placements: [placement(ci, { cpu: 1024, memory: 128 })],
          }),
        ),
      ),
    );
    const accepted = results.flatMap((r) => r.tasks);
    const rejected = results.flatMap((r) => r.rejected);
    expect(accepted).toHaveLength(4);
    expect(rejected).toHaveLength(16);
    expect(new Set(rejected.map((r) => r.reason))).toEqual(new Set(['RESOURCE:CPU']));
    expect(
      accepted.every((t) => t.lastStatus === 'PROVISIONING' && t.desiredStatus === 'RUNNING'),
    ).toBe(true);
    const after = await describeInstance(ci.containerInstanceArn);
    expect(after.remaining?.cpu).toBe(0);
    expect(after.remaining?.memory).toBe(8192 - 4 * 128);
    expect(after.pendingTasksCount).toBe(4);
    expect(after.version).toBe(ci.version + 4);
  });

  it('stops a task no agent ever took (TaskFailedToStart while PROVISIONING) and frees its claim', async () => {
    const ci = await registerInstance(undefined, { cpu: 1024, memory: 512 });
    const res = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [placement(ci, { cpu: 512, memory: 256, hostPorts: [9090] })],
      }),
    );
    const task = res.tasks[0];
    expect((await describeInstance(ci.containerInstanceArn)).remaining?.cpu).toBe(512);

    const stopped = await markStopping(task.taskArn, 'agent unreachable', 'TaskFailedToStart');
    expect(stopped).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'TaskFailedToStart',
      stoppedReason: 'agent unreachable',
    });
    expect(stopped.stoppedAt).toBeGreaterThan(0);
    const after = await describeInstance(ci.containerInstanceArn);
    expect(after.remaining).toMatchObject({ cpu: 1024, memory: 512 });
    expect(after.remaining?.ports).not.toContain(9090);

    // Asking again changes nothing and releases nothing twice.
    const again = await markStopping(task.taskArn, 'x', 'TaskFailedToStart');
    expect(again.version).toBe(stopped.version);
    expect((await describeInstance(ci.containerInstanceArn)).remaining?.cpu).toBe(1024);
  });

  it('stops a task asked to stop while its launch was in flight once that launch fails', async () => {
    const ci = await registerInstance(undefined, { cpu: 1024, memory: 512 });
    const res = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [placement(ci, { cpu: 512, memory: 256, hostPorts: [9191] })],
      }),
    );
    const task = res.tasks[0];
    // StopTask while the scheduler's StartTask to the agent is still waiting…
    const asked = await markStopping(task.taskArn, 'scale-in', 'UserInitiated');
    expect(asked).toMatchObject({ lastStatus: 'PROVISIONING', desiredStatus: 'STOPPED' });
    // …then that StartTask fails: no agent will ever report this task.
    const stopped = await markStopping(task.taskArn, 'agent unreachable', 'TaskFailedToStart');
    expect(stopped).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'scale-in',
    });
    const after = await describeInstance(ci.containerInstanceArn);
    expect(after.remaining).toMatchObject({ cpu: 1024, memory: 512 });
    expect(after.remaining?.ports).not.toContain(9191);
  });

  it('commits the placements that fit and rejects the rest by index (ports, stale version)', async () => {
    const ci = await registerInstance();
    const res = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [
          placement(ci, { cpu: 10, memory: 10, hostPorts: [8080] }),
          placement(ci, { cpu: 10, memory: 10, hostPorts: [8080] }),
          placement(ci, { cpu: 10, memory: 10, hostPorts: [22] }),
          placement(ci, { cpu: 10, memory: 10 }, ci.version + 7),
          placement(ci, { cpu: 10, memory: 10_000 }),
          placement(ci, { cpu: 10, memory: 10 }, ci.version),
        ],
      }),
    );
    expect(res.tasks).toHaveLength(2);
    expect(res.rejected.map((r) => [r.index, r.reason])).toEqual([
      [1, 'RESOURCE:PORTS'],
      [2, 'RESOURCE:PORTS'],
      [3, 'STALE'],
      [4, 'RESOURCE:MEMORY'],
    ]);
    const second = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [placement(ci, { cpu: 10, memory: 10, hostPorts: [8080] })],
      }),
    );
    expect(second.tasks).toHaveLength(0);
    expect(second.rejected[0]).toMatchObject({ index: 0, reason: 'RESOURCE:PORTS' });
    const after = await describeInstance(ci.containerInstanceArn);
    expect(after.remaining?.ports).toEqual([22, 2375, 2376, 8080, 51678, 51679]);

    const task = res.tasks[0];
    expect(task.taskArn).toMatch(
      /^arn:aws:ecs:us-east-1:000000000000:task\/default\/[0-9a-f]{32}$/,
    );
    expect(task.containers[0]).toMatchObject({ name: 'web', lastStatus: 'PENDING' });
    expect(task.containers[0].containerArn).toMatch(/:container\/default\//);
    const dup = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [{ ...placement(ci, { cpu: 1, memory: 1 }), task: { ...task, hostPorts: [] } }],
      }),
    );
    expect(dup.rejected[0]).toMatchObject({ index: 0, reason: 'DUPLICATE' });
    // The same id under another ARN is the same task: rejected too, not a failed commit.
    const sameId = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [
          {
            ...placement(ci, { cpu: 1, memory: 1 }),
            task: {
              ...task,
              taskArn: task.taskArn.replace('/default/', '/elsewhere/'),
              hostPorts: [],
            },
          },
        ],
      }),
    );
    expect(sameId.rejected[0]).toMatchObject({ index: 0, reason: 'DUPLICATE' });
  });

  it('answers a commit with each task as stored: what DescribeTasks then gives', async () => {
    const ci = await registerInstance();
    const base = placement(ci, { cpu: 3, memory: 5, hostPorts: [9090] });
    const overrides = { containerOverrides: [{ name: 'web', command: ['sh', '-c', 'true'] }] };
    const tags = [{ key: 'team', value: 'a' }];
    const res = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [
          {
            ...base,
            task: {
              ...base.task!,
              group: 'family:web',
              overridesJson: JSON.stringify(overrides),
              tagsJson: JSON.stringify(tags),
            },
          },
        ],
      }),
    );
    const committed = res.tasks[0];
    const described = await describeTask(committed.taskArn);
    // JSON fields compared as values: Postgres keeps jsonb keys in its own order.
    const normalised = (t: common.Task) => ({
      ...t,
      overridesJson: JSON.parse(t.overridesJson) as unknown,
      tagsJson: JSON.parse(t.tagsJson) as unknown,
    });
    expect(normalised(committed)).toEqual(normalised(described));
    expect(committed).toMatchObject({
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      version: 1,
      group: 'family:web',
      hostPorts: [9090],
      healthStatus: 'UNKNOWN',
    });
    expect(committed.createdAt).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.parse(committed.overridesJson)).toEqual(overrides);
    expect(JSON.parse(committed.tagsJson)).toEqual(tags);
  });

  it('lists and describes tasks with filters', async () => {
    const ci = await registerInstance();
    const res = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [placement(ci, { cpu: 1, memory: 1 }), placement(ci, { cpu: 1, memory: 1 })],
      }),
    );
    const list = await call(
      client.listTasks({
        ...EMPTY_LIST_TASKS,
        cluster: 'default',
        containerInstance: ci.containerInstanceArn,
        family: 'web',
        desiredStatus: 'RUNNING',
        maxResults: 1,
      }),
    );
    expect(list.taskArns).toHaveLength(1);
    const rest = await call(
      client.listTasks({
        ...EMPTY_LIST_TASKS,
        cluster: 'default',
        containerInstance: ci.containerInstanceArn,
        nextToken: list.nextToken,
      }),
    );
    expect([...list.taskArns, ...rest.taskArns].sort()).toEqual(
      res.tasks.map((t) => t.taskArn).sort(),
    );
    const stopped = await call(
      client.listTasks({
        ...EMPTY_LIST_TASKS,
        cluster: 'default',
        containerInstance: ci.containerInstanceArn,
        desiredStatus: 'STOPPED',
      }),
    );
    expect(stopped.taskArns).toEqual([]);

    const id = res.tasks[0].taskArn.split('/').pop()!;
    const described = await call(
      client.describeTasks({ cluster: 'default', tasks: [id, 'f'.repeat(32)] }),
    );
    expect(described.tasks.map((t) => t.taskArn)).toEqual([res.tasks[0].taskArn]);
    expect(described.failures).toEqual([
      {
        arn: `arn:aws:ecs:us-east-1:000000000000:task/default/${'f'.repeat(32)}`,
        reason: 'MISSING',
        detail: '',
      },
    ]);
  });

  it('applies task reports idempotently and releases resources when STOPPED', async () => {
    const ci = await registerInstance();
    const [task] = (
      await call(
        client.commitPlacements({
          cluster: 'default',
          placements: [placement(ci, { cpu: 1024, memory: 512, hostPorts: [9090] })],
        }),
      )
    ).tasks;
    const report = (
      seq: number,
      lastStatus: string,
      extra: Partial<TaskStateReport> = {},
    ): TaskStateReport => ({
      v: 1,
      clusterArn: task.clusterArn,
      containerInstanceArn: ci.containerInstanceArn,
      taskArn: task.taskArn,
      seq,
      lastStatus,
      containers: [
        {
          name: 'web',
          runtimeId: 'c0ffee',
          lastStatus:
            lastStatus === 'STOPPED' ? 'STOPPED' : lastStatus === 'RUNNING' ? 'RUNNING' : 'PENDING',
          networkBindings: [
            { bindIP: '0.0.0.0', containerPort: 80, hostPort: 9090, protocol: 'tcp' },
          ],
        },
      ],
      reportedAt: Date.now(),
      ...extra,
    });
    const publish = (r: TaskStateReport) =>
      js.publish(subjects.report('default', 'task_state'), encode(r), {
        msgID: `${r.taskArn}:${r.seq}:${Math.random()}`,
      });

    await publish(report(1, 'PENDING'));
    await publish(report(2, 'RUNNING', { startedAt: 1_700_000_000_000 }));
    const running = await eventually(async () => {
      const t = await describeTask(task.taskArn);
      return t.lastStatus === 'RUNNING' ? t : undefined;
    }, 'task RUNNING');
    expect(running.startedAt).toBe(1_700_000_000_000);
    expect(running.containers[0]).toMatchObject({
      runtimeId: 'c0ffee',
      lastStatus: 'RUNNING',
      networkBindings: [{ bindIp: '0.0.0.0', containerPort: 80, hostPort: 9090, protocol: 'tcp' }],
    });
    expect((await describeInstance(ci.containerInstanceArn)).runningTasksCount).toBe(1);

    // The same report again, and an older one: nothing changes.
    await publish(report(2, 'RUNNING'));
    await publish(report(1, 'PENDING'));
    // A newer seq that would move the task backwards changes nothing either.
    await publish(report(3, 'PENDING'));
    await new Promise((r) => setTimeout(r, 1_000));
    const unchanged = await describeTask(task.taskArn);
    expect(unchanged.version).toBe(running.version);
    expect(unchanged.lastStatus).toBe('RUNNING');

    const stopping = await markStopping(task.taskArn, 'scaling down', '');
    expect(stopping).toMatchObject({
      desiredStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'scaling down',
    });
    expect(stopping.stoppingAt).toBeGreaterThan(0);
    expect(stopping.version).toBe(running.version + 1);

    const stoppedReport = report(4, 'STOPPED', { stopCode: 'UserInitiated' });
    stoppedReport.containers[0].exitCode = 137;
    stoppedReport.containers[0].reason = 'killed';
    await publish(stoppedReport);
    const stopped = await eventually(async () => {
      const t = await describeTask(task.taskArn);
      return t.lastStatus === 'STOPPED' ? t : undefined;
    }, 'task STOPPED');
    expect(stopped).toMatchObject({
      desiredStatus: 'STOPPED',
      stoppedReason: 'scaling down',
      stopCode: 'UserInitiated',
    });
    expect(stopped.containers[0]).toMatchObject({
      lastStatus: 'STOPPED',
      exitCode: 137,
      reason: 'killed',
    });
    expect(stopped.stoppedAt).toBeGreaterThan(0);

    const released = await describeInstance(ci.containerInstanceArn);
    expect(released.remaining).toEqual(ci.remaining);
    expect(released.runningTasksCount).toBe(0);

    // A repeated STOPPED report must not release the claim twice.
    await publish(stoppedReport);
    await publish({ ...stoppedReport, seq: 5 });
    await eventually(async () => {
      const t = await describeTask(task.taskArn);
      return t.version === stopped.version + 1 ? t : undefined;
    }, 'seq 5 applied');
    expect((await describeInstance(ci.containerInstanceArn)).remaining).toEqual(ci.remaining);
    expect((await describeInstance(ci.containerInstanceArn)).version).toBe(released.version);

    const unknown = await grpcError(
      call(
        client.markTaskStopping({
          cluster: 'default',
          task: 'e'.repeat(32),
          reason: '',
          stopCode: '',
        }),
      ),
    );
    expect(unknown.code).toBe(GrpcCode.NOT_FOUND);
    expect(unknown.details).toBe('InvalidParameterException: The referenced task was not found.');
  });

  it('records heartbeats from reports', async () => {
    const ci = await registerInstance();
    await pool.query(
      "UPDATE container_instances SET last_heartbeat_at = now() - interval '1 hour' WHERE arn = $1",
      [ci.containerInstanceArn],
    );
    expect((await describeInstance(ci.containerInstanceArn)).agentConnected).toBe(false);
    const hb: HeartbeatReport = {
      v: 1,
      clusterArn: ci.clusterArn,
      containerInstanceArn: ci.containerInstanceArn,
      sentAt: Date.now(),
      runningTasks: 0,
    };
    await js.publish(subjects.report('default', 'heartbeat'), encode(hb));
    await eventually(
      async () =>
        (await describeInstance(ci.containerInstanceArn)).agentConnected ? true : undefined,
      'agent connected again',
    );
  });

  it('removes a report from the stream once it is applied (the reports stream is a work queue)', async () => {
    const jsm = await jetstreamManager(nc);
    const ci = await registerInstance();
    const hb: HeartbeatReport = {
      v: 1,
      clusterArn: ci.clusterArn,
      containerInstanceArn: ci.containerInstanceArn,
      sentAt: Date.now(),
      runningTasks: 0,
    };
    const ack = await js.publish(subjects.report('default', 'heartbeat'), encode(hb));
    expect(ack.seq).toBeGreaterThan(0);
    await eventually(
      async () =>
        (await jsm.streams.info(STREAMS.reports.name)).state.messages === 0 ? true : undefined,
      'the reports stream to be empty once state acknowledged everything',
    );
  });

  it('relays outbox events to JetStream, deduplicating a re-publish of the same id', async () => {
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(STREAMS.events.name)).state.last_seq;
    const cluster = await call(client.createCluster({ clusterName: 'events', tagsJson: '' }));

    const consumer = await js.consumers.get(STREAMS.events.name, {
      filter_subjects: subjects.event('events', 'cluster', 'created'),
      opt_start_seq: before + 1,
    });
    const msg = await consumer.next({ expires: 10_000 });
    expect(msg).not.toBeNull();
    const event = decode<WharfEvent<common.Cluster>>(msg!.data);
    expect(event).toMatchObject({
      v: 1,
      type: 'cluster.created',
      cluster: 'events',
      resourceArn: cluster.clusterArn,
      version: 1,
    });
    expect(event.detail.clusterName).toBe('events');
    expect(msg!.headers?.get('Nats-Msg-Id')).toBe(event.id);

    const ack = await js.publish(msg!.subject, msg!.data, { msgID: event.id });
    expect(ack.duplicate).toBe(true);

    const ci = await registerInstance();
    const [task] = (
      await call(
        client.commitPlacements({
          cluster: 'default',
          placements: [placement(ci, { cpu: 1, memory: 1 })],
        }),
      )
    ).tasks;
    const taskEvents = await js.consumers.get(STREAMS.events.name, {
      filter_subjects: subjects.event('default', 'task', 'created'),
      opt_start_seq: before + 1,
    });
    const created = await eventually(async () => {
      const m = await taskEvents.next({ expires: 2_000 });
      if (!m) return undefined;
      return decodeEvents<common.Task>(m.data).find((e) => e.resourceArn === task.taskArn);
    }, 'task.created event');
    expect(created).toMatchObject({
      type: 'task.created',
      version: 1,
      detail: { lastStatus: 'PROVISIONING' },
    });

    // The relay marks a batch published when its transaction commits, just after publishing.
    await eventually(async () => {
      const { rows } = await pool.query('SELECT published_at FROM outbox WHERE id = $1', [
        event.id,
      ]);
      return rows[0].published_at ? true : undefined;
    }, 'outbox row marked published');
  });

  it('names the event messages that carry the instances a commit changed', async () => {
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(STREAMS.events.name)).state.last_seq;
    const [a, b] = [await registerInstance(), await registerInstance()];
    const res = await call(
      client.commitPlacements({
        cluster: 'default',
        placements: [placement(a, { cpu: 1, memory: 1 }), placement(b, { cpu: 1, memory: 1 })],
      }),
    );
    expect(res.tasks).toHaveLength(2);
    expect(res.instanceEventMessageIds).toHaveLength(1);
    const [messageId] = res.instanceEventMessageIds;

    const changes = await js.consumers.get(STREAMS.events.name, {
      filter_subjects: subjects.event('default', 'container_instance', 'changed'),
      opt_start_seq: before + 1,
    });
    const msg = await eventually(async () => {
      const m = await changes.next({ expires: 2_000 });
      return m?.headers?.get('Nats-Msg-Id') === messageId ? m : undefined;
    }, 'the named container_instance.changed message');
    // The same records as the answer's, at the same versions.
    const carried = decodeEvents<common.ContainerInstance>(msg.data).map((e) => e.detail);
    const answered = res.instances.map((i) => ({
      arn: i.containerInstanceArn,
      version: Number(i.version),
      remaining: i.remaining,
    }));
    expect(
      carried.map((i) => ({
        arn: i.containerInstanceArn,
        version: Number(i.version),
        remaining: i.remaining,
      })),
    ).toEqual(expect.arrayContaining(answered));
    expect(carried).toHaveLength(2);
  });

  it('runs as several replicas on one database', async () => {
    const replica = await startState(
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
    const other = createStateClient(replica.grpcUrl);
    try {
      const ci = await registerInstance();
      const commits = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          call(
            (i % 2 ? other.client : client).commitPlacements({
              cluster: 'default',
              placements: [placement(ci, { cpu: 1024, memory: 64 })],
            }),
          ),
        ),
      );
      expect(commits.flatMap((c) => c.tasks)).toHaveLength(4);
      const seen = await call(
        other.client.describeContainerInstances({
          cluster: 'default',
          containerInstances: [ci.containerInstanceArn],
        }),
      );
      expect(seen.containerInstances[0].remaining?.cpu).toBe(0);
    } finally {
      other.close();
      await replica.stop();
    }
  });

  it('serves health, readiness and metrics', async () => {
    const base = `http://127.0.0.1:${state.opsPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { postgres: true, nats: true } });
    expect(await (await fetch(`${base}/metrics`)).text()).toContain(
      'wharf_state_outbox_published_total',
    );
  });

  // Last: its sweep deletes every STOPPED task the tests above left.
  it('deletes stopped tasks once past the retention, and only those', async () => {
    const arn = { region: 'us-east-1', accountId: '000000000000' };
    const prune = async (retentionMs: number) =>
      (
        await new PruneHistoryUseCase(
          { pool, arn, logger, agentHeartbeatTtlMs: 30_000 },
          new TaskRepository(arn),
          new ServiceRepository(arn),
          retentionMs,
        ).execute()
      ).tasks;
    const ci = await registerInstance(undefined, { cpu: 1024, memory: 512 });
    const [stopping, live] = (
      await call(
        client.commitPlacements({
          cluster: 'default',
          placements: [
            placement(ci, { cpu: 256, memory: 128 }),
            placement(ci, { cpu: 256, memory: 128 }),
          ],
        }),
      )
    ).tasks;
    await markStopping(stopping.taskArn, 'agent unreachable', 'TaskFailedToStart');

    expect(await prune(60 * 60_000)).toBe(0); // stopped too recently
    await new Promise((r) => setTimeout(r, 20));
    expect(await prune(10)).toBeGreaterThanOrEqual(1);
    const described = await call(
      client.describeTasks({ cluster: 'default', tasks: [stopping.taskArn, live.taskArn] }),
    );
    expect(described.tasks.map((t) => t.taskArn)).toEqual([live.taskArn]);
    expect(described.failures).toEqual([
      expect.objectContaining({ arn: stopping.taskArn, reason: 'MISSING' }),
    ]);
    expect(await prune(10)).toBe(0);
  });

  // Last: every change the specs above made (commits, reports, stops, lost and deregistered
  // instances, deleted tasks) went through the triggers that count each instance's tasks.
  it('keeps instance_task_counts equal to counting the tasks', async () => {
    expect(await taskCountDrift(pool)).toEqual([]);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM instance_task_counts');
    expect(rows[0].n).toBeGreaterThan(0);
  });
});
