/**
 * DeregisterContainerInstance (and what an INACTIVE instance refuses afterwards) and task
 * scale-in protection (UpdateTaskProtection / GetTaskProtection), against a real Postgres and
 * NATS.
 */
import { jetstream, JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import { connectNats, encode, HeartbeatReport, subjects } from '@wharf/messaging';
import { common, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { eventually, startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { stateConfigSchema } from './config';
import { RunningState, startState } from './state';
import { EMPTY_TASK } from './state-test-fixtures';

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
const CLUSTER = 'dereg';
const ARN = 'arn:aws:ecs:us-east-1:000000000000';

describe('state: DeregisterContainerInstance and task protection', () => {
  let pg: StartedPostgres;
  let nats: StartedNats;
  let state: RunningState;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  let client: stateV1.StateServiceClient;
  let pool: Pool;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let taskDefinitionArn: string;

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
    nc = await connectNats({ servers: nats.url, name: 'state-deregister-protection-test' });
    js = jetstream(nc);
    await call(client.createCluster({ clusterName: CLUSTER, tagsJson: '' }));
    await call(client.createCluster({ clusterName: 'elsewhere', tagsJson: '' }));
    const td = await call(
      client.registerTaskDefinition({
        definitionJson: JSON.stringify({
          family: 'web',
          containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 32 }],
        }),
      }),
    );
    taskDefinitionArn = td.taskDefinitionArn;
  });

  afterAll(async () => {
    grpc?.close();
    await pool?.end();
    await state?.stop();
    await nc?.close();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const register = (containerInstanceArn = '', cluster = CLUSTER) =>
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
  const newTask = (containerInstanceArn: string, group: string): common.Task => ({
    ...EMPTY_TASK,
    taskDefinitionArn,
    containerInstanceArn,
    cpu: 100,
    memory: 32,
    group,
    startedBy: 'test',
  });
  const commit = (containerInstanceArn: string, groups: string[]) =>
    call(
      client.commitPlacements({
        cluster: CLUSTER,
        placements: groups.map((group) => ({
          expectedInstanceVersion: 0,
          fenceLease: '',
          fenceHolder: '',
          task: newTask(containerInstanceArn, group),
        })),
      }),
    );
  /** Creates one task per group on the instance (PROVISIONING, claims taken). */
  async function place(instance: common.ContainerInstance, groups: string[]) {
    const res = await commit(instance.containerInstanceArn, groups);
    expect(res.rejected).toEqual([]);
    return res.tasks;
  }
  const deregister = (containerInstance: string, force = false, cluster = CLUSTER) =>
    call(client.deregisterContainerInstance({ cluster, containerInstance, force }));
  const describeInstance = async (arn: string) =>
    (await call(client.describeContainerInstances({ cluster: CLUSTER, containerInstances: [arn] })))
      .containerInstances[0];
  const describeTask = async (arn: string) =>
    (await call(client.describeTasks({ cluster: CLUSTER, tasks: [arn] }))).tasks[0];
  const listInstances = async (status: string) =>
    (
      await call(
        client.listContainerInstances({ cluster: CLUSTER, status, maxResults: 100, nextToken: '' }),
      )
    ).containerInstanceArns;
  /** Event types in the outbox for a resource, oldest first. */
  const outboxTypes = async (arn: string) =>
    (
      await pool.query<{ type: string; version: number }>(
        `SELECT payload::jsonb ->>'type' AS type, (payload::jsonb ->>'version')::int AS version FROM outbox_events
          WHERE payload::jsonb ->>'resourceArn' = $1 ORDER BY id`,
        [arn],
      )
    ).rows;
  const protect = (tasks: string[], protectionEnabled = true, expiresInMinutes = 0) =>
    call(
      client.updateTaskProtection({ cluster: CLUSTER, tasks, protectionEnabled, expiresInMinutes }),
    );

  describe('DeregisterContainerInstance', () => {
    it('deregisters an idle instance: INACTIVE, version + 1, one changed event, listed only as INACTIVE', async () => {
      const ci = await register();
      const res = await deregister(idOf(ci.containerInstanceArn));
      expect(res.stoppedTasks).toEqual([]);
      expect(res.containerInstance).toMatchObject({
        containerInstanceArn: ci.containerInstanceArn,
        status: 'INACTIVE',
        version: ci.version + 1,
      });
      expect(await outboxTypes(ci.containerInstanceArn)).toEqual([
        { type: 'container_instance.registered', version: ci.version },
        { type: 'container_instance.changed', version: ci.version + 1 },
      ]);
      expect(await listInstances('')).not.toContain(ci.containerInstanceArn);
      expect(await listInstances('ACTIVE')).not.toContain(ci.containerInstanceArn);
      expect(await listInstances('INACTIVE')).toContain(ci.containerInstanceArn);
      // DescribeContainerInstances still answers it, as ECS does.
      expect((await describeInstance(ci.containerInstanceArn)).status).toBe('INACTIVE');
      const cluster = (await call(client.describeClusters({ clusters: [CLUSTER] }))).clusters[0];
      const active = await listInstances('');
      expect(cluster.registeredContainerInstancesCount).toBe(active.length);

      // Again: returned as it is, nothing written.
      const again = await deregister(ci.containerInstanceArn);
      expect(again.containerInstance?.version).toBe(ci.version + 1);
      expect(await outboxTypes(ci.containerInstanceArn)).toHaveLength(2);
    });

    it('refuses an instance with tasks unless force', async () => {
      const ci = await register();
      const [task] = await place(ci, ['family:web']);
      const err = await grpcError(deregister(ci.containerInstanceArn));
      expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
      expect(err.details).toBe('InvalidParameterException: Found running tasks on the instance.');
      const after = await describeInstance(ci.containerInstanceArn);
      expect(after.status).toBe('ACTIVE');
      expect((await describeTask(task.taskArn)).lastStatus).toBe('PROVISIONING');
    });

    it('with force: service tasks recorded STOPPED and released, standalone tasks orphaned as they are', async () => {
      const ci = await register();
      const [svcTask, standalone] = await place(ci, ['service:web', 'family:web']);
      const before = await describeInstance(ci.containerInstanceArn);
      expect(before.remaining?.cpu).toBe(1024 - 200);

      const res = await deregister(ci.containerInstanceArn, true);
      expect(res.stoppedTasks.map((t) => t.taskArn)).toEqual([svcTask.taskArn]);
      const stopped = await describeTask(svcTask.taskArn);
      expect(stopped).toMatchObject({
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        stopCode: 'ServiceSchedulerInitiated',
        stoppedReason: `Container instance ${ci.containerInstanceArn} was deregistered.`,
        version: svcTask.version + 1,
      });
      expect(stopped.stoppedAt).toBeGreaterThan(0);
      expect(await outboxTypes(svcTask.taskArn)).toEqual([
        { type: 'task.created', version: svcTask.version },
        { type: 'task.changed', version: svcTask.version + 1 },
      ]);
      const orphan = await describeTask(standalone.taskArn);
      expect(orphan).toMatchObject({
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        version: standalone.version,
      });
      expect(res.containerInstance).toMatchObject({
        status: 'INACTIVE',
        // the service task's claim is back; the orphan keeps its own
        remaining: expect.objectContaining({ cpu: 1024 - 100 }) as common.Resources,
        runningTasksCount: 0,
        pendingTasksCount: 1,
      });
      const changed = await outboxTypes(ci.containerInstanceArn);
      expect(changed[changed.length - 1]).toEqual({
        type: 'container_instance.changed',
        version: res.containerInstance!.version,
      });
    });

    it('takes no placements once INACTIVE', async () => {
      const ci = await register();
      await deregister(ci.containerInstanceArn);
      const res = await commit(ci.containerInstanceArn, ['family:web']);
      expect(res.tasks).toEqual([]);
      expect(res.rejected).toHaveLength(1);
      expect(res.rejected[0].detail).toContain('INACTIVE');
    });

    it("refuses its agent's registration under the old ARN; heartbeats do not reactivate it", async () => {
      const ci = await register();
      await deregister(ci.containerInstanceArn);
      const err = await grpcError(register(ci.containerInstanceArn));
      expect(err.code).toBe(GrpcCode.FAILED_PRECONDITION);
      expect(err.details).toMatch(/^ClientException: Container instance .* was deregistered/);

      const hb: HeartbeatReport = {
        v: 1,
        clusterArn: ci.clusterArn,
        containerInstanceArn: ci.containerInstanceArn,
        sentAt: Date.now() + 1000,
        runningTasks: 0,
      };
      const beatBefore = (await describeInstance(ci.containerInstanceArn)).lastHeartbeatAt;
      await js.publish(subjects.report(CLUSTER, 'heartbeat'), encode(hb));
      await eventually(async () => {
        const now = await describeInstance(ci.containerInstanceArn);
        return now.lastHeartbeatAt > beatBefore ? now : undefined;
      }, 'the heartbeat applied');
      expect((await describeInstance(ci.containerInstanceArn)).status).toBe('INACTIVE');
      expect(await listInstances('')).not.toContain(ci.containerInstanceArn);

      // The host can come back as a new instance (its agent's identity cleared).
      const fresh = await register();
      expect(fresh.containerInstanceArn).not.toBe(ci.containerInstanceArn);
      expect(fresh.status).toBe('ACTIVE');
    });

    it('answers an unknown instance, an instance of another cluster and an unknown cluster with errors', async () => {
      const unknown = await grpcError(deregister('0123456789abcdef0123456789abcdef'));
      expect(unknown.code).toBe(GrpcCode.NOT_FOUND);
      expect(unknown.details).toMatch(/^ClientException: The referenced container instance/);
      const other = await register('', 'elsewhere');
      const wrongCluster = await grpcError(deregister(other.containerInstanceArn));
      expect(wrongCluster.code).toBe(GrpcCode.NOT_FOUND);
      expect(
        (
          await call(
            client.describeContainerInstances({
              cluster: 'elsewhere',
              containerInstances: [other.containerInstanceArn],
            }),
          )
        ).containerInstances[0].status,
      ).toBe('ACTIVE');
      const noCluster = await grpcError(deregister(other.containerInstanceArn, false, 'nope'));
      expect(noCluster.code).toBe(GrpcCode.NOT_FOUND);
      expect(noCluster.details).toMatch(/^ClusterNotFoundException: /);
      const empty = await grpcError(deregister(''));
      expect(empty.code).toBe(GrpcCode.INVALID_ARGUMENT);
    });
  });

  describe('UpdateTaskProtection / GetTaskProtection', () => {
    it('protects service tasks (default 120 minutes), extends, reads, and unprotects', async () => {
      const ci = await register();
      const [a, b] = await place(ci, ['service:web', 'service:web']);
      const t0 = Date.now();
      // a by id, b by ARN
      const res = await protect([idOf(a.taskArn), b.taskArn]);
      const t1 = Date.now();
      expect(res.failures).toEqual([]);
      expect(res.protectedTasks.map((p) => [p.taskArn, p.protectionEnabled])).toEqual([
        [a.taskArn, true],
        [b.taskArn, true],
      ]);
      for (const p of res.protectedTasks) {
        expect(p.expirationDate).toBeGreaterThanOrEqual(t0 + 120 * 60_000);
        expect(p.expirationDate).toBeLessThanOrEqual(t1 + 120 * 60_000);
      }
      // On the Task message, with version + 1 and task.changed.
      const task = await describeTask(a.taskArn);
      expect(task.protectedUntil).toBe(res.protectedTasks[0].expirationDate);
      expect(task.version).toBe(a.version + 1);
      expect((await outboxTypes(a.taskArn)).map((e) => e.type)).toEqual([
        'task.created',
        'task.changed',
      ]);

      // Each call restarts the clock with its own duration.
      const shorter = await protect([a.taskArn], true, 5);
      expect(shorter.protectedTasks[0].expirationDate).toBeLessThan(t0 + 6 * 60_000);
      const got = await call(
        client.getTaskProtection({ cluster: CLUSTER, tasks: [a.taskArn, idOf(b.taskArn)] }),
      );
      expect(got).toEqual({
        protectedTasks: [
          shorter.protectedTasks[0],
          {
            taskArn: b.taskArn,
            protectionEnabled: true,
            expirationDate: res.protectedTasks[1].expirationDate,
          },
        ],
        failures: [],
      });

      const off = await protect([a.taskArn], false);
      expect(off.protectedTasks).toEqual([
        { taskArn: a.taskArn, protectionEnabled: false, expirationDate: 0 },
      ]);
      expect((await describeTask(a.taskArn)).protectedUntil).toBe(0);
      // Unprotecting an unprotected task writes nothing.
      const version = (await describeTask(a.taskArn)).version;
      await protect([a.taskArn], false);
      expect((await describeTask(a.taskArn)).version).toBe(version);
    });

    it('reads expired protection as disabled', async () => {
      const ci = await register();
      const [a] = await place(ci, ['service:web']);
      await protect([a.taskArn], true, 1);
      await pool.query(
        `UPDATE tasks SET protected_until = now() - interval '1 second' WHERE arn = $1`,
        [a.taskArn],
      );
      const got = await call(client.getTaskProtection({ cluster: CLUSTER, tasks: [a.taskArn] }));
      expect(got.protectedTasks).toEqual([
        { taskArn: a.taskArn, protectionEnabled: false, expirationDate: 0 },
      ]);
      expect((await describeTask(a.taskArn)).protectedUntil).toBe(0);
    });

    it('answers unknown tasks MISSING and standalone or stopped tasks TASK_NOT_VALID', async () => {
      const ci = await register();
      const [svc, standalone, other] = await place(ci, ['service:web', 'family:web', 'service:x']);
      await pool.query(`UPDATE tasks SET last_status = 'STOPPED' WHERE arn = $1`, [other.taskArn]);
      const missingId = '0123456789abcdef0123456789abcdef';
      const res = await protect([missingId, standalone.taskArn, svc.taskArn, other.taskArn]);
      expect(res.protectedTasks.map((p) => p.taskArn)).toEqual([svc.taskArn]);
      expect(res.failures).toEqual([
        { arn: `${ARN}:task/${CLUSTER}/${missingId}`, reason: 'MISSING', detail: '' },
        {
          arn: standalone.taskArn,
          reason: 'TASK_NOT_VALID',
          detail: 'The task is not part of a service; only service tasks can be protected.',
        },
        {
          arn: other.taskArn,
          reason: 'TASK_NOT_VALID',
          detail: 'The task is STOPPED; only a task that has not stopped can be protected.',
        },
      ]);
      expect((await describeTask(standalone.taskArn)).protectedUntil).toBe(0);
      const got = await call(
        client.getTaskProtection({ cluster: CLUSTER, tasks: [standalone.taskArn, missingId] }),
      );
      expect(got.protectedTasks).toEqual([]);
      expect(got.failures.map((f) => f.reason)).toEqual(['TASK_NOT_VALID', 'MISSING']);
    });

    it('validates its input and the cluster', async () => {
      const ci = await register();
      const [a] = await place(ci, ['service:web']);
      for (const minutes of [-1, 2881]) {
        const err = await grpcError(protect([a.taskArn], true, minutes));
        expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
        expect(err.details).toBe(
          'InvalidParameterException: expiresInMinutes must be between 1 and 2880.',
        );
      }
      const max = await protect([a.taskArn], true, 2880);
      expect(max.protectedTasks[0].expirationDate).toBeGreaterThan(Date.now() + 2879 * 60_000);
      expect((await grpcError(protect([]))).details).toBe(
        'InvalidParameterException: tasks cannot be empty.',
      );
      expect((await grpcError(protect(Array(11).fill(a.taskArn)))).details).toBe(
        'InvalidParameterException: tasks can have at most 10 items.',
      );
      const noCluster = await grpcError(
        call(
          client.updateTaskProtection({
            cluster: 'nope',
            tasks: [a.taskArn],
            protectionEnabled: true,
            expiresInMinutes: 0,
          }),
        ),
      );
      expect(noCluster.details).toMatch(/^ClusterNotFoundException: /);
      const getNoCluster = await grpcError(
        call(client.getTaskProtection({ cluster: 'nope', tasks: [a.taskArn] })),
      );
      expect(getNoCluster.code).toBe(GrpcCode.NOT_FOUND);
      // A task of another cluster is MISSING here.
      const elsewhere = await call(
        client.getTaskProtection({ cluster: 'elsewhere', tasks: [a.taskArn] }),
      );
      expect(elsewhere.failures).toEqual([{ arn: a.taskArn, reason: 'MISSING', detail: '' }]);
      expect(
        (await grpcError(call(client.getTaskProtection({ cluster: CLUSTER, tasks: [] })))).details,
      ).toBe('InvalidParameterException: tasks cannot be empty.');
    });
  });
});
