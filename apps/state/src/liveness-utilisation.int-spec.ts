import { jetstream, jetstreamManager, JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import {
  connectNats,
  CONSUMERS,
  decodeEvents,
  encode,
  HeartbeatReport,
  STREAMS,
  subjects,
  UtilisationFigures,
  UtilisationReport,
  WharfEvent,
} from '@wharf/messaging';
import { common, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { eventually, startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { stateConfigSchema } from './config';
import { RunningState, startState } from './state';
import { EMPTY_TASK } from './state-test-fixtures';

jest.setTimeout(180_000);

const TTL_MS = 1500;
const HISTORY = 3;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

const figures = (n: number): UtilisationFigures => ({
  cpuPercent: 10 * n + 0.5,
  memoryUsedBytes: 1_000_000 * n,
  memoryLimitBytes: 64 * 1024 * 1024,
  networkRxBytes: 100 * n,
  networkTxBytes: 200 * n,
  blockReadBytes: 300 * n,
  blockWriteBytes: 400 * n,
});

describe('state: agent liveness and utilisation', () => {
  let pg: StartedPostgres;
  let nats: StartedNats;
  let state: RunningState;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  let client: stateV1.StateServiceClient;
  let nc: NatsConnection;
  let js: JetStreamClient;

  const startStateHere = async () => {
    state = await startState(
      stateConfigSchema.parse({
        DATABASE_URL: pg.url,
        STATE_AGENT_JOIN: 'open',
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
        AGENT_HEARTBEAT_TTL_MS: String(TTL_MS),
        UTILISATION_HISTORY_SAMPLES: String(HISTORY),
      }),
      logger,
    );
    grpc = createStateClient(state.grpcUrl);
    client = grpc.client;
  };

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    await startStateHere();
    nc = await connectNats({ servers: nats.url, name: 'state-liveness-test' });
    js = jetstream(nc);
  });

  afterAll(async () => {
    grpc?.close();
    await state?.stop();
    await nc?.close();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const call = <T>(o: Observable<T>) => firstValueFrom(o);

  const registerInstance = () =>
    call(
      client.registerContainerInstance({
        cluster: 'default',
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 2048, memory: 4096, ports: [22], portsUdp: [] },
        attributes: [],
        agentVersion: '0.1.0',
        dockerVersion: '27.0',
        agentAddress: '10.0.0.9:4703',
        hostname: 'host-l',
        hostAddress: '10.0.0.9',
      }),
    );

  const describeInstance = async (arn: string) =>
    (
      await call(
        client.describeContainerInstances({ cluster: 'default', containerInstances: [arn] }),
      )
    ).containerInstances[0];

  const commit = (instance: common.ContainerInstance) =>
    call(
      client.commitPlacements({
        cluster: 'default',
        placements: [
          {
            expectedInstanceVersion: 0,
            fenceLease: '',
            fenceHolder: '',
            task: {
              ...EMPTY_TASK,
              taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/busy:1',
              containerInstanceArn: instance.containerInstanceArn,
              cpu: 128,
              memory: 64,
              startedBy: 'test',
            },
          },
        ],
      }),
    );

  /** The next `container_instance.changed` event of `arn` with the given agentConnected. */
  async function instanceEvent(arn: string, connected: boolean, fromSeq: number) {
    const consumer = await js.consumers.get(STREAMS.events.name, {
      filter_subjects: subjects.event('default', 'container_instance', 'changed'),
      opt_start_seq: fromSeq,
    });
    return eventually(async () => {
      const m = await consumer.next({ expires: 1_000 });
      if (!m) return undefined;
      return decodeEvents<common.ContainerInstance>(m.data).find(
        (e) => e.resourceArn === arn && e.detail.agentConnected === connected,
      );
    }, `container_instance.changed with agentConnected=${connected}`);
  }

  const eventsSeq = async () =>
    (await (await jetstreamManager(nc)).streams.info(STREAMS.events.name)).state.last_seq + 1;

  it('marks a silent agent disconnected (event), refuses placements on it, and reconnects on a heartbeat', async () => {
    const from = await eventsSeq();
    const ci = await registerInstance();
    expect(ci.agentConnected).toBe(true);

    const down = await instanceEvent(ci.containerInstanceArn, false, from);
    expect(down.type).toBe('container_instance.changed');
    expect(down.version).toBe(ci.version + 1);
    const described = await describeInstance(ci.containerInstanceArn);
    expect(described.agentConnected).toBe(false);
    expect(described.version).toBe(ci.version + 1);

    const refused = await commit(described);
    expect(refused.tasks).toHaveLength(0);
    expect(refused.rejected).toEqual([
      {
        index: 0,
        reason: 'AGENT',
        detail: expect.stringContaining('is disconnected') as string,
      },
    ]);
    expect((await describeInstance(ci.containerInstanceArn)).remaining?.cpu).toBe(2048);

    const fromUp = await eventsSeq();
    const hb: HeartbeatReport = {
      v: 1,
      clusterArn: ci.clusterArn,
      containerInstanceArn: ci.containerInstanceArn,
      sentAt: Date.now(),
      runningTasks: 0,
    };
    await js.publish(subjects.report('default', 'heartbeat'), encode(hb));
    const up = await instanceEvent(ci.containerInstanceArn, true, fromUp);
    expect(up.version).toBe(ci.version + 2);

    // Connected again: keep it alive while committing.
    await js.publish(
      subjects.report('default', 'heartbeat'),
      encode({ ...hb, sentAt: Date.now() }),
    );
    const accepted = await commit(await describeInstance(ci.containerInstanceArn));
    expect(accepted.rejected).toEqual([]);
    expect(accepted.tasks).toHaveLength(1);
  });

  it('times heartbeats by JetStream: one stored longer ago than the TTL is stale, an agent clock behind is not', async () => {
    const from = await eventsSeq();
    const ci = await registerInstance();
    await instanceEvent(ci.containerInstanceArn, false, from);
    const heartbeat = (sentAt: number) =>
      js.publish(
        subjects.report('default', 'heartbeat'),
        encode({
          v: 1,
          clusterArn: ci.clusterArn,
          containerInstanceArn: ci.containerInstanceArn,
          sentAt,
          runningTasks: 0,
        } satisfies HeartbeatReport),
      );
    // Stored while state is away, and read back only after the TTL: stale.
    grpc.close();
    await state.stop();
    await heartbeat(Date.now());
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    await startStateHere();
    const jsm = await jetstreamManager(nc);
    await eventually(async () => {
      const info = await jsm.consumers.info(STREAMS.reports.name, CONSUMERS.stateReports);
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    }, 'the stale heartbeat applied');
    expect((await describeInstance(ci.containerInstanceArn)).agentConnected).toBe(false);
    // Sent by an agent whose clock is ten TTLs behind, stored now: fresh.
    await heartbeat(Date.now() - 10 * TTL_MS);
    const up = await instanceEvent(ci.containerInstanceArn, true, from);
    expect(up.version).toBe(ci.version + 2); // one flip down, one flip up: no flip for the stale one
  });

  it('applies a burst of heartbeats in batches: newest per instance, one reconnect event each', async () => {
    const instances = await Promise.all(Array.from({ length: 100 }, () => registerInstance()));
    // Silent since registration: the sweep marks them all disconnected.
    await eventually(async () => {
      const described = await Promise.all(
        instances.map((ci) => describeInstance(ci.containerInstanceArn)),
      );
      return described.every((d, i) => !d.agentConnected && d.version === instances[i].version + 1)
        ? true
        : undefined;
    }, 'all disconnected');

    const fromUp = await eventsSeq();
    const now = Date.now();
    // 5 heartbeats per instance, interleaved.
    const beats = [3, 0, 4, 1, 2].flatMap((k) =>
      instances.map((ci) => ({
        v: 1 as const,
        clusterArn: ci.clusterArn,
        containerInstanceArn: ci.containerInstanceArn,
        sentAt: now - 40 + 10 * k,
        runningTasks: 0,
      })),
    );
    await Promise.all(
      beats.map((hb) => js.publish(subjects.report('default', 'heartbeat'), encode(hb))),
    );

    const arns = new Set(instances.map((ci) => ci.containerInstanceArn));
    const consumer = await js.consumers.get(STREAMS.events.name, {
      filter_subjects: subjects.event('default', 'container_instance', 'changed'),
      opt_start_seq: fromUp,
    });
    const ups = new Map<string, WharfEvent<common.ContainerInstance>[]>();
    await eventually(async () => {
      for (;;) {
        const m = await consumer.next({ expires: 1_000 });
        if (!m) break;
        for (const e of decodeEvents<common.ContainerInstance>(m.data)) {
          if (arns.has(e.resourceArn) && e.detail.agentConnected) {
            ups.set(e.resourceArn, [...(ups.get(e.resourceArn) ?? []), e]);
          }
        }
      }
      return ups.size === instances.length ? true : undefined;
    }, 'all reconnected');
    // Nothing more arrives for them: one reconnect event per instance.
    for (;;) {
      const m = await consumer.next({ expires: 1_000 });
      if (!m) break;
      for (const e of decodeEvents<common.ContainerInstance>(m.data)) {
        if (arns.has(e.resourceArn) && e.detail.agentConnected) {
          ups.set(e.resourceArn, [...(ups.get(e.resourceArn) ?? []), e]);
        }
      }
    }
    for (const ci of instances) {
      const events = ups.get(ci.containerInstanceArn) ?? [];
      expect(events).toHaveLength(1);
      expect(events[0].version).toBe(ci.version + 2);
      // The reconnect happens in whichever batch first carries one of its heartbeats.
      expect(events[0].detail.lastHeartbeatAt).toBeGreaterThanOrEqual(now - 40);
    }
    const described = await Promise.all(
      instances.map((ci) => describeInstance(ci.containerInstanceArn)),
    );
    // The last one stored counts (JetStream's time, whatever the agent's sentAt said).
    for (const d of described) {
      expect(d.lastHeartbeatAt).toBeGreaterThanOrEqual(now);
      expect(d.lastHeartbeatAt).toBeLessThanOrEqual(Date.now());
    }
  });

  it('keeps the latest utilisation per task and instance with a trimmed history, served by GetUtilisation', async () => {
    const ci = await registerInstance();
    await js.publish(
      subjects.report('default', 'heartbeat'),
      encode({
        v: 1,
        clusterArn: ci.clusterArn,
        containerInstanceArn: ci.containerInstanceArn,
        sentAt: Date.now(),
        runningTasks: 0,
      } satisfies HeartbeatReport),
    );
    const instance = await eventually(async () => {
      const i = await describeInstance(ci.containerInstanceArn);
      return i.agentConnected ? i : undefined;
    }, 'instance connected');
    const [task] = (await commit(instance)).tasks;
    expect(task).toBeDefined();

    const base = Date.now() - 60_000;
    const report = (n: number): UtilisationReport => ({
      v: 1,
      clusterArn: ci.clusterArn,
      containerInstanceArn: ci.containerInstanceArn,
      sentAt: base + n * 5_000,
      instance: { ...figures(n), memoryLimitBytes: 8 * 1024 ** 3, onlineCpus: 2 },
      tasks: [
        {
          taskArn: task.taskArn,
          ...figures(n),
          containers: [{ name: 'busy', runtimeId: `c${n}`, ...figures(n) }],
        },
      ],
    });
    for (let n = 1; n <= 5; n++) {
      await js.publish(subjects.report('default', 'utilisation'), encode(report(n)));
    }
    // A redelivered (duplicate) report changes nothing.
    await js.publish(subjects.report('default', 'utilisation'), encode(report(5)));

    const byTask = await eventually(async () => {
      const r = await call(
        client.getUtilisation({
          cluster: 'default',
          task: task.taskArn.split('/').pop()!,
          containerInstance: '',
          historyLimit: 0,
        }),
      );
      return r.latest?.sampledAt === base + 25_000 ? r : undefined;
    }, 'the fifth sample');
    expect(byTask.resourceArn).toBe(task.taskArn);
    expect(byTask.containerInstanceArn).toBe(ci.containerInstanceArn);
    expect(byTask.latest).toMatchObject({ ...figures(5), onlineCpus: 0 });
    expect(byTask.latest?.containers).toEqual([{ name: 'busy', runtimeId: 'c5', ...figures(5) }]);
    expect(byTask.history.map((s) => s.sampledAt)).toEqual([
      base + 25_000,
      base + 20_000,
      base + 15_000,
    ]);

    const byInstance = await call(
      client.getUtilisation({
        cluster: 'default',
        task: '',
        containerInstance: ci.containerInstanceArn,
        historyLimit: 2,
      }),
    );
    expect(byInstance.resourceArn).toBe(ci.containerInstanceArn);
    expect(byInstance.latest).toMatchObject({
      cpuPercent: 50.5,
      memoryLimitBytes: 8 * 1024 ** 3,
      onlineCpus: 2,
      taskCount: 1,
    });
    expect(byInstance.history).toHaveLength(2);
  });

  it('GetUtilisation: unknown task or instance is NOT_FOUND; a known one without samples has no latest', async () => {
    const failure = async (req: Partial<stateV1.GetUtilisationRequest>) => {
      try {
        await call(
          client.getUtilisation({
            cluster: 'default',
            task: '',
            containerInstance: '',
            historyLimit: 0,
            ...req,
          }),
        );
      } catch (err) {
        return err as { code: number; details: string };
      }
      throw new Error('expected GetUtilisation to fail');
    };
    expect((await failure({ task: 'f'.repeat(32) })).code).toBe(GrpcCode.NOT_FOUND);
    expect((await failure({ containerInstance: 'nope' })).code).toBe(GrpcCode.NOT_FOUND);
    expect((await failure({ cluster: 'nope', task: 'x' })).code).toBe(GrpcCode.NOT_FOUND);
    expect((await failure({})).code).toBe(GrpcCode.INVALID_ARGUMENT);

    const ci = await registerInstance();
    const r = await call(
      client.getUtilisation({
        cluster: 'default',
        task: '',
        containerInstance: ci.containerInstanceArn,
        historyLimit: 0,
      }),
    );
    expect(r.latest ?? undefined).toBeUndefined(); // gRPC gives an unset message as null
    expect(r.history).toEqual([]);
  });
});
