import { jetstream, jetstreamManager, JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import {
  connectNats,
  encode,
  STREAMS,
  subjects,
  TaskStateReport,
  WharfEvent,
} from '@wharf/messaging';
import { common, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { eventually, startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { ApplyTaskReportUseCase, ReportOutcome } from './apply-task-report.use-case';
import { stateConfigSchema } from './config';
import { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { OutboxRepository } from './outbox.repository';
import { RunningState, startState } from './state';
import { TaskRepository } from './task.repository';
import { EMPTY_CONTAINER, EMPTY_TASK, taskCountDrift } from './state-test-fixtures';

jest.setTimeout(180_000);

const TTL_MS = 30_000;
const TASK_DEFINITION = 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1';
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

interface Claim {
  cpu: number;
  memory: number;
  hostPorts?: number[];
  group?: string;
}

interface OutboxEvent {
  id: number;
  payload: WharfEvent<common.Task & common.ContainerInstance>;
}

describe('state: set-based commits and batched task reports', () => {
  let pg: StartedPostgres;
  let nats: StartedNats;
  let state: RunningState;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  let client: stateV1.StateServiceClient;
  let pool: Pool;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let applyReports: ApplyTaskReportUseCase;

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
        AGENT_HEARTBEAT_TTL_MS: String(TTL_MS),
      }),
      logger,
    );
    grpc = createStateClient(state.grpcUrl);
    client = grpc.client;
    pool = new Pool({ connectionString: pg.url, max: 4 });
    nc = await connectNats({ servers: nats.url, name: 'state-batching-test' });
    js = jetstream(nc);
    const ctx: StateContext = {
      pool,
      logger,
      arn: { region: 'us-east-1', accountId: '000000000000' },
      agentHeartbeatTtlMs: TTL_MS,
    };
    applyReports = new ApplyTaskReportUseCase(
      ctx,
      new TaskRepository(ctx.arn),
      new ContainerInstanceRepository(ctx.arn, TTL_MS),
      new OutboxRepository(),
    );
  });

  afterAll(async () => {
    grpc?.close();
    await state?.stop();
    await nc?.close();
    await pool?.end();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const call = <T>(o: Observable<T>) => firstValueFrom(o);

  const registerInstance = (total: Partial<common.Resources> = {}, cluster = 'default') =>
    call(
      client.registerContainerInstance({
        cluster,
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 1024, memory: 1024, ports: [22], portsUdp: [], ...total },
        attributes: [],
        agentVersion: '0.1.0',
        dockerVersion: '27.0',
        agentAddress: '10.0.0.7:4703',
        hostname: 'host-b',
        hostAddress: '10.0.0.7',
      }),
    );

  const placement = (
    instance: common.ContainerInstance | string,
    claim: Claim,
    expectedInstanceVersion = 0,
  ): stateV1.Placement => ({
    expectedInstanceVersion,
    fenceLease: '',
    fenceHolder: '',
    task: {
      ...EMPTY_TASK,
      taskDefinitionArn: TASK_DEFINITION,
      containerInstanceArn: typeof instance === 'string' ? instance : instance.containerInstanceArn,
      cpu: claim.cpu,
      memory: claim.memory,
      hostPorts: claim.hostPorts ?? [],
      group: claim.group ?? '',
      startedBy: 'test',
      containers: [
        { ...EMPTY_CONTAINER, name: 'web', image: 'wharf/busybox:dev', essential: true },
      ],
    },
  });

  const commit = (placements: stateV1.Placement[], cluster = 'default') =>
    call(client.commitPlacements({ cluster, placements }));

  const describeInstances = async (arns: string[]) =>
    (
      await call(
        client.describeContainerInstances({ cluster: 'default', containerInstances: arns }),
      )
    ).containerInstances;

  const describeTasks = async (arns: string[]) => {
    const byArn = new Map(
      (await call(client.describeTasks({ cluster: 'default', tasks: arns }))).tasks.map((t) => [
        t.taskArn,
        t,
      ]),
    );
    return arns.map((arn) => byArn.get(arn)!);
  };

  const lastOutboxId = async () =>
    Number((await pool.query('SELECT coalesce(max(id), 0) AS id FROM outbox_events')).rows[0].id);

  const outboxAfter = async (id: number): Promise<OutboxEvent[]> =>
    (
      await pool.query<{ id: string; payload: OutboxEvent['payload'] }>(
        'SELECT id, payload::jsonb AS payload FROM outbox_events WHERE id > $1 ORDER BY id',
        [id],
      )
    ).rows.map((r) => ({ id: Number(r.id), payload: r.payload }));

  /** As JSON carries it: without ts-proto's `_field` markers of optional fields. */
  const plain = <T>(x: T): T =>
    JSON.parse(JSON.stringify(x, (k, v: unknown) => (k.startsWith('_') ? undefined : v))) as T;

  const byId = (a: string, b: string) => (a.split('/').pop()! < b.split('/').pop()! ? -1 : 1);

  describe('CommitPlacements', () => {
    it('answers every named instance as it is after the commit (rejected-only ones too), with task groups, and writes their events', async () => {
      await call(client.createCluster({ clusterName: 'elsewhere', tagsJson: '' }));
      const a = await registerInstance();
      const b = await registerInstance();
      const foreign = await registerInstance({}, 'elsewhere');
      const db = await commit([placement(b, { cpu: 512, memory: 64, group: 'service:db' })]);
      expect(db.tasks).toHaveLength(1);
      const [bBefore] = await describeInstances([b.containerInstanceArn]);
      expect(bBefore.taskGroups).toEqual([{ group: 'service:db', count: 1 }]);

      const from = await lastOutboxId();
      const res = await commit([
        placement(a, { cpu: 512, memory: 64, group: 'service:web' }),
        placement(b, { cpu: 4096, memory: 64, group: 'service:web' }),
        placement(a, { cpu: 512, memory: 64, group: 'service:web' }),
        placement(foreign, { cpu: 1, memory: 1 }),
        placement(`${a.containerInstanceArn.slice(0, -4)}ffff`, { cpu: 1, memory: 1 }),
      ]);
      expect(res.tasks).toHaveLength(2);
      expect(res.rejected.map((r) => [r.index, r.reason])).toEqual([
        [1, 'RESOURCE:CPU'],
        [3, 'INSTANCE_NOT_FOUND'],
        [4, 'INSTANCE_NOT_FOUND'],
      ]);

      // Exactly the named instances of the cluster, in id order, as Describe shows them now.
      const expectedArns = [a.containerInstanceArn, b.containerInstanceArn].sort(byId);
      expect(res.instances.map((i) => i.containerInstanceArn)).toEqual(expectedArns);
      expect(res.instances).toEqual(await describeInstances(expectedArns));
      const after = new Map(res.instances.map((i) => [i.containerInstanceArn, i]));
      expect(after.get(a.containerInstanceArn)).toMatchObject({
        version: a.version + 2,
        pendingTasksCount: 2,
        remaining: { cpu: 0, memory: 1024 - 128 },
        taskGroups: [{ group: 'service:web', count: 2 }],
      });
      // Only rejected here: unchanged, still reported.
      expect(after.get(b.containerInstanceArn)).toEqual(bBefore);

      // One task.created per task in placement order, then one changed event per touched
      // instance (not the rejected-only one), with real task groups; ids in that order.
      const events = await outboxAfter(from);
      expect(events.map((e) => [e.payload.type, e.payload.resourceArn])).toEqual([
        ['task.created', res.tasks[0].taskArn],
        ['task.created', res.tasks[1].taskArn],
        ['container_instance.changed', a.containerInstanceArn],
      ]);
      expect(events.map((e) => e.payload.id)).toEqual(events.map((e) => String(e.id)));
      expect(events[0].payload.version).toBe(1);
      expect(events[0].payload.detail).toEqual(res.tasks[0]);
      expect(events[2].payload.version).toBe(a.version + 2);
      expect(events[2].payload.detail).toEqual(after.get(a.containerInstanceArn));
    });

    it('answers each task exactly as a read finds it afterwards (JSON in the order Postgres keeps it)', async () => {
      const ci = await registerInstance({ ports: [22] });
      const p = placement(ci, { cpu: 128, memory: 64, hostPorts: [8080], group: 'family:web' });
      // Keys in an order jsonb does not keep: by length, then bytewise in UTF-8 (é after z);
      // integer-like keys come first in any JavaScript object.
      p.task!.overridesJson = JSON.stringify({
        taskRoleArn: '',
        containerOverrides: [
          { name: 'web', environment: [{ value: '1', name: 'A' }], command: ['true'], memory: 64 },
        ],
        cpu: '256',
        extra: { z: 1, é: 2, '10': 3, a: [{ bb: 1, a: 2 }] },
      });
      p.task!.tagsJson = JSON.stringify([{ value: 'blue', key: 'team' }]);
      p.task!.containers = [
        { ...EMPTY_CONTAINER, name: 'web', image: 'wharf/busybox:dev', essential: true },
        { ...EMPTY_CONTAINER, name: 'log', image: 'wharf/busybox:dev', memoryReservation: '32' },
      ];
      const from = await lastOutboxId();
      const res = await commit([p, placement(ci, { cpu: 128, memory: 64 })]);
      expect(res.tasks).toHaveLength(2);
      const read = await describeTasks(res.tasks.map((t) => t.taskArn));
      expect(res.tasks).toEqual(read);
      expect(res.tasks[0].overridesJson).toBe(read[0].overridesJson);
      expect(JSON.parse(res.tasks[0].overridesJson)).toEqual(JSON.parse(p.task!.overridesJson));
      const created = (await outboxAfter(from)).filter((e) => e.payload.type === 'task.created');
      expect(created.map((e) => e.payload.detail)).toEqual(plain(read));
    });

    it('fills taskGroups in the container_instance events of registration and release too', async () => {
      const ci = await registerInstance();
      const [task] = (
        await commit([
          placement(ci, { cpu: 1, memory: 1, group: 'service:a' }),
          placement(ci, { cpu: 1, memory: 1, group: 'service:b' }),
        ])
      ).tasks;
      const from = await lastOutboxId();
      await call(
        client.markTaskStopping({
          cluster: 'default',
          task: task.taskArn,
          reason: 'never started',
          stopCode: 'TaskFailedToStart',
        }),
      );
      await registerInstance(); // a new one: no tasks, no groups
      const reregistered = await call(
        client.registerContainerInstance({
          cluster: 'default',
          containerInstanceArn: ci.containerInstanceArn,
          ec2InstanceId: '',
          total: { cpu: 1024, memory: 1024, ports: [22], portsUdp: [] },
          attributes: [],
          agentVersion: '0.1.0',
          dockerVersion: '27.0',
          agentAddress: '10.0.0.7:4703',
          hostname: 'host-b',
          hostAddress: '10.0.0.7',
        }),
      );
      expect(reregistered.taskGroups).toEqual([{ group: 'service:b', count: 1 }]);
      const events = (await outboxAfter(from)).filter(
        (e) => e.payload.resourceArn === ci.containerInstanceArn,
      );
      expect(events.map((e) => [e.payload.type, e.payload.detail.taskGroups])).toEqual([
        ['container_instance.changed', [{ group: 'service:b', count: 1 }]],
        ['container_instance.registered', [{ group: 'service:b', count: 1 }]],
      ]);
    });

    it('commits 200 placements over 4 instances in one request exactly as checking them one by one would', async () => {
      const instances = await Promise.all(
        Array.from({ length: 4 }, () => registerInstance({ cpu: 1000, memory: 1500 })),
      );
      const placements = Array.from({ length: 200 }, (_, i) => {
        const ci = instances[i % instances.length];
        const claim: Claim = {
          cpu: 30 + (i % 7),
          memory: 20 + (i % 5) * 10,
          hostPorts: i % 10 === 0 ? [8000 + (i % 3)] : [],
          group: `service:g${i % 3}`,
        };
        // Every 17th expects a version the instance never had.
        return placement(ci, claim, i % 17 === 5 ? ci.version + 1000 : 0);
      });

      // The sequential model: each placement against what the earlier ones left.
      const model = new Map(
        instances.map((ci) => [
          ci.containerInstanceArn,
          { cpu: 1000, memory: 1500, ports: [22], accepted: 0, groups: new Map<string, number>() },
        ]),
      );
      const expectedRejections: [number, string][] = [];
      placements.forEach((p, index) => {
        const t = p.task!;
        const m = model.get(t.containerInstanceArn)!;
        let reason = '';
        if (p.expectedInstanceVersion) reason = 'STALE';
        else if (t.cpu > m.cpu) reason = 'RESOURCE:CPU';
        else if (t.memory > m.memory) reason = 'RESOURCE:MEMORY';
        else if (t.hostPorts.some((port) => m.ports.includes(port))) reason = 'RESOURCE:PORTS';
        if (reason) {
          expectedRejections.push([index, reason]);
          return;
        }
        m.cpu -= t.cpu;
        m.memory -= t.memory;
        m.ports = [...m.ports, ...t.hostPorts].sort((x, y) => x - y);
        m.accepted += 1;
        m.groups.set(t.group, (m.groups.get(t.group) ?? 0) + 1);
      });
      expect(expectedRejections.some(([, r]) => r === 'RESOURCE:CPU')).toBe(true);
      expect(expectedRejections.some(([, r]) => r === 'RESOURCE:PORTS')).toBe(true);

      const from = await lastOutboxId();
      const res = await commit(placements);
      expect(res.rejected.map((r) => [r.index, r.reason])).toEqual(expectedRejections);
      const acceptedIndexes = placements
        .map((_, i) => i)
        .filter((i) => !expectedRejections.some(([r]) => r === i));
      expect(res.tasks.map((t) => t.containerInstanceArn)).toEqual(
        acceptedIndexes.map((i) => placements[i].task!.containerInstanceArn),
      );
      expect(res.tasks.map((t) => t.cpu)).toEqual(
        acceptedIndexes.map((i) => placements[i].task!.cpu),
      );
      expect(new Set(res.tasks.map((t) => t.taskArn)).size).toBe(res.tasks.length);
      expect(res.tasks.every((t) => t.version === 1 && t.lastStatus === 'PROVISIONING')).toBe(true);

      const arns = instances.map((ci) => ci.containerInstanceArn).sort(byId);
      const described = await describeInstances(arns);
      expect(res.instances).toEqual(described);
      for (const d of described) {
        const m = model.get(d.containerInstanceArn)!;
        const before = instances.find((ci) => ci.containerInstanceArn === d.containerInstanceArn)!;
        expect(d.remaining).toEqual({ cpu: m.cpu, memory: m.memory, ports: m.ports, portsUdp: [] });
        expect(d.pendingTasksCount).toBe(m.accepted);
        expect(d.version).toBe(before.version + m.accepted);
        expect(d.taskGroups).toEqual(
          [...m.groups]
            .sort(([x], [y]) => (x < y ? -1 : 1))
            .map(([group, count]) => ({ group, count })),
        );
      }

      const events = await outboxAfter(from);
      expect(events.map((e) => e.payload.resourceArn)).toEqual([
        ...res.tasks.map((t) => t.taskArn),
        ...arns,
      ]);
      expect(events.slice(res.tasks.length).map((e) => e.payload.version)).toEqual(
        described.map((d) => d.version),
      );
      expect(events.map((e) => e.payload.id)).toEqual(events.map((e) => String(e.id)));
    });

    it('never overcommits under concurrent 100-placement commits on the same instances', async () => {
      const instances = await Promise.all(
        Array.from({ length: 4 }, () => registerInstance({ cpu: 1000, memory: 4000 })),
      );
      const results = await Promise.all(
        Array.from({ length: 3 }, () =>
          commit(
            Array.from({ length: 100 }, (_, i) =>
              placement(instances[i % instances.length], { cpu: 30, memory: 10 }),
            ),
          ),
        ),
      );
      // 1000 CPU / 30 = 33 tasks per instance, whatever the interleaving.
      expect(results.flatMap((r) => r.tasks)).toHaveLength(4 * 33);
      const described = await describeInstances(instances.map((ci) => ci.containerInstanceArn));
      for (const d of described) {
        expect(d.remaining?.cpu).toBe(1000 - 33 * 30);
        expect(d.pendingTasksCount).toBe(33);
      }
    });
  });

  describe('task reports', () => {
    const report = (
      task: common.Task,
      seq: number,
      lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED',
      extra: Partial<TaskStateReport> = {},
    ): TaskStateReport => ({
      v: 1,
      clusterArn: task.clusterArn,
      containerInstanceArn: task.containerInstanceArn,
      taskArn: task.taskArn,
      seq,
      lastStatus,
      containers: [
        {
          name: 'web',
          runtimeId: `rt-${seq}`,
          lastStatus,
          ...(lastStatus === 'STOPPED' ? { exitCode: 0, reason: 'done' } : {}),
        },
      ],
      reportedAt: 1_700_000_000_000 + seq * 1000,
      ...extra,
    });

    /** The reports of one scenario for tasks [t1, t2, t3] (same shape for twins). */
    const scenario = ([t1, t2, t3]: common.Task[]): TaskStateReport[] => [
      report(t1, 1, 'PENDING'),
      report(t1, 2, 'RUNNING'),
      report(t2, 1, 'RUNNING'),
      report(t1, 2, 'RUNNING'), // repeated
      report(t3, 1, 'PENDING'),
      report(t3, 2, 'STOPPED', { stopCode: 'EssentialContainerExited' }),
      report(t2, 1, 'PENDING'), // not newer
      { ...report(t1, 1, 'RUNNING'), taskArn: `${t1.taskArn.slice(0, -4)}ffff` }, // unknown task
      // t1's id in another cluster's ARN: tasks are found by id, but only the whole ARN matches
      {
        ...report(t1, 4, 'RUNNING'),
        taskArn: t1.taskArn.replace(/\/[^/]+\/([^/]+)$/, '/elsewhere/$1'),
      },
      report(t1, 3, 'PENDING'), // backwards
      report(t3, 3, 'STOPPED'), // STOPPED again: applied, no second release
    ];
    const expectedOutcomes: ReportOutcome[] = [
      'applied',
      'applied',
      'applied',
      'stale',
      'applied',
      'applied',
      'stale',
      'unknown-task',
      'unknown-task',
      'stale',
      'applied',
    ];

    /** What a report may leave different between twins. */
    const comparable = (t: common.Task) => ({
      ...t,
      taskArn: '',
      containerInstanceArn: '',
      createdAt: 0,
      containers: t.containers.map((c) => ({ ...c, containerArn: '' })),
    });

    it('applies a batch in one go exactly as one report at a time, and a redelivered batch changes nothing', async () => {
      const ci = await registerInstance();
      const claims = [
        { cpu: 100, memory: 10, hostPorts: [9001] },
        { cpu: 200, memory: 20 },
        { cpu: 300, memory: 30, hostPorts: [9003] },
      ];
      const batched = (await commit(claims.map((c) => placement(ci, c)))).tasks;
      const other = await registerInstance();
      const serial = (await commit(claims.map((c) => placement(other, c)))).tasks;
      const [ciBefore, otherBefore] = await describeInstances([
        ci.containerInstanceArn,
        other.containerInstanceArn,
      ]);

      const from = await lastOutboxId();
      expect(await applyReports.executeBatch(scenario(batched))).toEqual(expectedOutcomes);
      const batchEvents = await outboxAfter(from);

      const fromSerial = await lastOutboxId();
      const serialOutcomes: ReportOutcome[] = [];
      for (const r of scenario(serial)) serialOutcomes.push(await applyReports.execute(r));
      expect(serialOutcomes).toEqual(expectedOutcomes);
      const serialEvents = await outboxAfter(fromSerial);

      const [t1, t2, t3] = await describeTasks(batched.map((t) => t.taskArn));
      expect([t1, t2, t3].map((t) => [t.lastStatus, t.version])).toEqual([
        ['RUNNING', 3],
        ['RUNNING', 2],
        ['STOPPED', 4],
      ]);
      expect(t3).toMatchObject({ desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
      expect(t3.containers[0]).toMatchObject({
        lastStatus: 'STOPPED',
        exitCode: 0,
        runtimeId: 'rt-3',
      });
      expect((await describeTasks(serial.map((t) => t.taskArn))).map(comparable)).toEqual(
        [t1, t2, t3].map(comparable),
      );

      // t3's claim came back exactly once.
      const [ciAfter, otherAfter] = await describeInstances([
        ci.containerInstanceArn,
        other.containerInstanceArn,
      ]);
      expect(ciAfter.remaining).toEqual({
        cpu: 1024 - 300,
        memory: 1024 - 30,
        ports: [22, 9001],
        portsUdp: [],
      });
      expect(ciAfter.version).toBe(ciBefore.version + 1);
      expect(ciAfter.runningTasksCount).toBe(2);
      expect(ciAfter.taskGroups).toEqual([{ group: '', count: 2 }]);
      expect(otherAfter.remaining).toEqual(ciAfter.remaining);
      expect(otherAfter.version).toBe(otherBefore.version + 1);

      // Same events: the release, then one task.changed per applied report with its version.
      const shape = (events: OutboxEvent[]) =>
        events.map((e) => [e.payload.type, e.payload.version]);
      expect(shape(batchEvents)).toEqual([
        ['container_instance.changed', ciBefore.version + 1],
        ['task.changed', 2],
        ['task.changed', 3],
        ['task.changed', 2],
        ['task.changed', 2],
        ['task.changed', 3],
        ['task.changed', 4],
      ]);
      expect(shape(serialEvents).sort()).toEqual(shape(batchEvents).sort());
      expect(batchEvents[0].payload.detail).toEqual(ciAfter);
      const lastOfT3 = batchEvents.filter((e) => e.payload.resourceArn === t3.taskArn).pop()!;
      expect(lastOfT3.payload.detail).toEqual(plain(t3));
      const firstOfT1 = batchEvents.find((e) => e.payload.resourceArn === t1.taskArn)!;
      expect(firstOfT1.payload.detail).toMatchObject({ lastStatus: 'PENDING', version: 2 });

      // Redelivery of the whole batch: nothing applies, nothing is written.
      const fromAgain = await lastOutboxId();
      expect(await applyReports.executeBatch(scenario(batched))).toEqual(
        expectedOutcomes.map((o) => (o === 'applied' ? 'stale' : o)),
      );
      expect(await outboxAfter(fromAgain)).toEqual([]);
      expect(await describeTasks(batched.map((t) => t.taskArn))).toEqual([t1, t2, t3]);
      expect((await describeInstances([ci.containerInstanceArn]))[0]).toEqual(ciAfter);
    });

    it('applies many reports for many tasks from the stream; redelivery is harmless and a poison report blocks no other', async () => {
      const instances = await Promise.all([
        registerInstance({ cpu: 4096 }),
        registerInstance({ cpu: 4096 }),
      ]);
      const tasks = (
        await commit(
          Array.from({ length: 60 }, (_, i) => placement(instances[i % 2], { cpu: 64, memory: 8 })),
        )
      ).tasks;
      expect(tasks).toHaveLength(60);
      const instancesBefore = await describeInstances(instances.map((i) => i.containerInstanceArn));
      const stops = (_: common.Task, i: number) => i % 3 === 0;
      const publish = (r: TaskStateReport) =>
        js.publish(subjects.report('default', 'task_state'), encode(r), {
          msgID: `${r.taskArn}:${r.seq}:${Math.random()}`,
        });
      const rounds = [
        tasks.map((t) => report(t, 1, 'PENDING')),
        tasks.map((t) => report(t, 2, 'RUNNING')),
        tasks.filter(stops).map((t) => report(t, 3, 'STOPPED')),
      ];
      // One that cannot be applied (containers is not a list), among the others.
      const poison = {
        ...report(tasks[1], 10, 'RUNNING'),
        containers: null,
      } as unknown as TaskStateReport;
      for (const [i, round] of rounds.entries()) {
        for (const r of round) await publish(r);
        if (i === 1) await publish(poison);
      }

      const expected = (i: number) => (stops(tasks[i], i) ? ['STOPPED', 4] : ['RUNNING', 3]);
      const settled = await eventually(async () => {
        const now = await describeTasks(tasks.map((t) => t.taskArn));
        return now.every((t, i) => t.lastStatus === expected(i)[0]) ? now : undefined;
      }, 'every report applied');
      expect(settled.map((t) => [t.lastStatus, t.version])).toEqual(
        tasks.map((_, i) => expected(i)),
      );
      expect(settled[1].containers[0].runtimeId).toBe('rt-2');

      const checkInstances = async () => {
        const now = await describeInstances(instances.map((i) => i.containerInstanceArn));
        now.forEach((d, k) => {
          const stoppedHere = tasks.filter(
            (t, i) => stops(t, i) && t.containerInstanceArn === d.containerInstanceArn,
          ).length;
          expect(d.remaining?.cpu).toBe(instancesBefore[k].remaining!.cpu + 64 * stoppedHere);
          expect(d.version).toBe(instancesBefore[k].version + stoppedHere);
          expect(d.runningTasksCount).toBe(30 - stoppedHere);
        });
        return now;
      };
      const instancesAfter = await checkInstances();

      // Everything again, then one new report as a marker: once it is applied, the redelivered
      // ones before it were handled too (the lane keeps the order received).
      for (const round of rounds) for (const r of round) await publish(r);
      await publish(report(tasks[2], 5, 'STOPPED'));
      await eventually(async () => {
        const [t] = await describeTasks([tasks[2].taskArn]);
        return t.lastStatus === 'STOPPED' ? t : undefined;
      }, 'the marker report applied');
      const again = await describeTasks(tasks.map((t) => t.taskArn));
      expect(again.filter((_, i) => i !== 2)).toEqual(settled.filter((_, i) => i !== 2));
      expect(again[2].version).toBe(settled[2].version + 1);
      const final = await describeInstances(instances.map((i) => i.containerInstanceArn));
      const markerOn = final.findIndex(
        (d) => d.containerInstanceArn === tasks[2].containerInstanceArn,
      );
      final.forEach((d, k) => {
        expect(d.version).toBe(instancesAfter[k].version + (k === markerOn ? 1 : 0));
      });

      // The poison report failed on its own (and keeps coming back) without holding the others:
      // every other report was acknowledged, so the work-queue stream holds only the poison.
      const jsm = await jetstreamManager(nc);
      await eventually(
        async () =>
          (await jsm.streams.info(STREAMS.reports.name)).state.messages === 1 ? true : undefined,
        'every report but the poison acknowledged',
      );
      const metrics = await (await fetch(`http://127.0.0.1:${state.opsPort}/metrics`)).text();
      expect(metrics).toMatch(/wharf_state_reports_total\{kind="any",outcome="error"[^}]*\} [1-9]/);
    });
  });

  it('keeps instance_task_counts equal to counting the tasks after the batches above', async () => {
    expect(await taskCountDrift(pool)).toEqual([]);
  });
});
