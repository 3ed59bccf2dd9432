/**
 * A launch cut off between its commit and the agent being told (a scheduler that stopped at
 * that moment), against the real state (Postgres and NATS from Testcontainers, started by the
 * api's control-plane fixture without a scheduler): the tasks are
 * committed as the scheduler commits them, no agent is told, and the scheduler's leader must
 * tell the agent later, or stop the task when its agent cannot be reached.
 */
import { loadConfig } from '@wharf/config';
import { CAPABILITIES, GrpcCode } from '@wharf/domain';
import { createLogger } from '@wharf/observability';
import { createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { eventually, type StartedNats } from '@wharf/testing';
import { Client as PgClient } from 'pg';
import { firstValueFrom, Observable } from 'rxjs';
import { startControlPlane } from '../../api/src/control-plane-test-fixtures';
import { AgentClients } from './agent-clients';
import { schedulerConfigSchema } from './config';
import { freePort } from './free-port';
import { Lookups } from './lookups';
import { startScheduler } from './scheduler';
import { AgentCommands, startRecordingAgent } from './scheduler-test-fixtures';
import { TaskLauncher } from './task-launch';

jest.setTimeout(120_000);

const agentGot: AgentCommands = { start: [], stop: [] };

const call = <T>(obs: Observable<T>) => firstValueFrom(obs);
const CLUSTER = 'crash';
const REDELIVERY_MS = 1_500;

describe('launches no agent was told about', () => {
  let nats: StartedNats;
  const stops: (() => Promise<unknown>)[] = [];
  let state: GrpcClient<stateV1.StateServiceClient>;
  let stateUrl: string;
  let databaseUrl: string;
  let agentAddress: string;

  const registerInstance = (address: string) =>
    call(
      state.client.registerContainerInstance({
        cluster: CLUSTER,
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 1024, memory: 2048, ports: [22], portsUdp: [] },
        attributes: Object.values(CAPABILITIES).map((name) => ({ name, value: '' })),
        agentVersion: 'test',
        dockerVersion: '',
        agentAddress: address,
        hostname: 'h',
        hostAddress: '127.0.0.1',
      }),
    );

  /** Commits one task of `web` on each instance as the scheduler does, telling no agent. */
  async function commitUntold(instanceArns: string[]) {
    const settings = loadConfig(schedulerConfigSchema, { STATE_URL: stateUrl });
    const agents = new AgentClients();
    const launcher = new TaskLauncher(
      state.client,
      agents,
      createLogger('test', 'silent'),
      settings,
      new Lookups(state.client),
    );
    try {
      const launch = await launcher.resolve({
        cluster: CLUSTER,
        taskDefinition: 'web',
        overridesJson: '',
      });
      const res = await call(
        state.client.commitPlacements({
          cluster: CLUSTER,
          placements: instanceArns.map((containerInstanceArn) => ({
            task: {
              ...launcher.newTask(launch, {
                group: '',
                startedBy: 'crashed-scheduler',
                tagsJson: '',
                launchType: '',
              }),
              containerInstanceArn,
            },
            expectedInstanceVersion: 0,
            fenceLease: '',
            fenceHolder: '',
          })),
        }),
      );
      expect(res.rejected).toEqual([]);
      return res.tasks;
    } finally {
      agents.closeAll();
    }
  }

  beforeAll(async () => {
    // The instances here send no heartbeats: they stay connected for the test.
    const plane = await startControlPlane({
      logger: createLogger('launch-redelivery-int', process.env.LOG_LEVEL ?? 'warn'),
      scheduler: false,
      state: { AGENT_HEARTBEAT_TTL_MS: '600000' },
    });
    stops.push(() => plane.stop());
    nats = plane.nats;
    databaseUrl = plane.postgres.url;
    stateUrl = plane.state.grpcUrl;

    agentAddress = `127.0.0.1:${await freePort()}`;
    const agent = await startRecordingAgent(agentAddress, agentGot);
    stops.unshift(() => agent.close());

    state = createStateClient(stateUrl);
    stops.unshift(async () => state.close());
    await call(state.client.createCluster({ clusterName: CLUSTER, tagsJson: '' }));
    await call(
      state.client.registerTaskDefinition({
        definitionJson: JSON.stringify({
          family: 'web',
          containerDefinitions: [
            { name: 'app', image: 'wharf/busybox:dev', memory: 64, essential: true },
          ],
        }),
      }),
    );
  });

  afterAll(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('lists only PROVISIONING tasks older than asked, with their agent; refuses an unknown cluster', async () => {
    const instance = await registerInstance(agentAddress);
    const [task] = await commitUntold([instance.containerInstanceArn]);
    const listed = await call(
      state.client.listStaleLaunches({
        cluster: CLUSTER,
        createdBeforeMs: Date.now() + 1_000,
        maxResults: 0,
      }),
    );
    expect(listed.launches.map((l) => l.task?.taskArn)).toContain(task.taskArn);
    expect(listed.launches.find((l) => l.task?.taskArn === task.taskArn)).toMatchObject({
      agentAddress,
      task: { lastStatus: 'PROVISIONING', desiredStatus: 'RUNNING' },
    });

    // One on an instance whose agent is disconnected is the lost-host handling's: not listed.
    const silent = await registerInstance(agentAddress);
    const [onSilent] = await commitUntold([silent.containerInstanceArn]);
    const pg = new PgClient({ connectionString: databaseUrl });
    await pg.connect();
    try {
      await pg.query('UPDATE container_instances SET agent_connected = false WHERE arn = $1', [
        silent.containerInstanceArn,
      ]);
    } finally {
      await pg.end();
    }
    const connectedOnly = await call(
      state.client.listStaleLaunches({
        cluster: CLUSTER,
        createdBeforeMs: Date.now() + 1_000,
        maxResults: 0,
      }),
    );
    expect(connectedOnly.launches.map((l) => l.task?.taskArn)).toContain(task.taskArn);
    expect(connectedOnly.launches.map((l) => l.task?.taskArn)).not.toContain(onSilent.taskArn);
    const older = await call(
      state.client.listStaleLaunches({
        cluster: CLUSTER,
        createdBeforeMs: task.createdAt - 1,
        maxResults: 0,
      }),
    );
    expect(older.launches.map((l) => l.task?.taskArn)).not.toContain(task.taskArn);

    // A task stopped before any agent heard of it is no stale launch.
    await call(
      state.client.markTaskStopping({
        cluster: CLUSTER,
        task: task.taskArn,
        stopCode: 'UserInitiated',
        reason: 'test',
      }),
    );
    const after = await call(
      state.client.listStaleLaunches({
        cluster: CLUSTER,
        createdBeforeMs: Date.now() + 1_000,
        maxResults: 0,
      }),
    );
    expect(after.launches.map((l) => l.task?.taskArn)).not.toContain(task.taskArn);

    const err = await call(
      state.client.listStaleLaunches({ cluster: 'nope', createdBeforeMs: 0, maxResults: 0 }),
    ).then(
      () => undefined,
      (e: { code: number; details: string }) => e,
    );
    expect(err?.code).toBe(GrpcCode.NOT_FOUND);
  });

  it('the leader tells the agent again, and stops the task whose agent cannot be reached', async () => {
    const reachable = await registerInstance(agentAddress);
    const gone = await registerInstance(`127.0.0.1:${await freePort()}`);
    const [told, unreachable] = await commitUntold([
      reachable.containerInstanceArn,
      gone.containerInstanceArn,
    ]);
    expect(agentGot.start.map((s) => s.task?.taskArn)).not.toContain(told.taskArn);

    const scheduler = await startScheduler(
      loadConfig(schedulerConfigSchema, {
        STATE_URL: stateUrl,
        NATS_URL: nats.url,
        SCHEDULER_GRPC_PORT: '0',
        SCHEDULER_OPS_PORT: '0',
        AGENT_CALL_TIMEOUT_MS: '500',
        SCHEDULER_LAUNCH_REDELIVERY_MS: String(REDELIVERY_MS),
        SERVICE_RECONCILE_INTERVAL_MS: '200',
        SERVICE_LEASE_TTL_MS: '600',
      }),
      createLogger('scheduler', process.env.LOG_LEVEL ?? 'silent'),
    );
    try {
      const request = await eventually(
        async () => agentGot.start.find((s) => s.task?.taskArn === told.taskArn),
        'StartTask sent again for the untold task',
        30_000,
      );
      expect(request.taskDefinition?.family).toBe('web');
      expect(request.task?.containerInstanceArn).toBe(reachable.containerInstanceArn);

      const stopped = await eventually(
        async () => {
          const { tasks } = await call(
            state.client.describeTasks({ cluster: CLUSTER, tasks: [unreachable.taskArn] }),
          );
          return tasks[0]?.lastStatus === 'STOPPED' ? tasks[0] : undefined;
        },
        'the task whose agent is unreachable stopped',
        30_000,
      );
      expect(stopped).toMatchObject({ stopCode: 'TaskFailedToStart', desiredStatus: 'STOPPED' });
      expect(stopped.stoppedReason).toContain('unreachable');
      const instance = await call(
        state.client.describeContainerInstances({
          cluster: CLUSTER,
          containerInstances: [gone.containerInstanceArn],
        }),
      );
      // Its resources are free again.
      expect(instance.containerInstances[0].remaining?.memory).toBe(2048);
      const metrics = await (await fetch(`http://127.0.0.1:${scheduler.opsPort}/metrics`)).text();
      expect(metrics).toMatch(
        /wharf_scheduler_stale_launches_total\{[^}]*outcome="told"[^}]*\} [1-9]/,
      );
      expect(metrics).toMatch(
        /wharf_scheduler_stale_launches_total\{[^}]*outcome="stopped"[^}]*\} 1/,
      );
    } finally {
      await scheduler.stop();
    }
  });
});
