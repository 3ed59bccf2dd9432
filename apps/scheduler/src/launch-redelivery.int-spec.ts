/**
 * A launch cut off between its commit and the agent being told (a scheduler that stopped at
 * that moment), against the real state (Postgres and NATS from Testcontainers, started by the
 * api's control-plane fixture without a scheduler): the tasks are committed as the scheduler
 * commits them, no agent is told, and the scheduler's leader must tell the agent later — and
 * stop nothing when an agent cannot be reached.
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

  /** Every stale launch of the cluster, page by page. */
  async function staleLaunches(olderThanMs: number) {
    const all: string[] = [];
    let nextToken = '';
    do {
      const page = await call(
        state.client.listStaleLaunches({ cluster: CLUSTER, olderThanMs, maxResults: 1, nextToken }),
      );
      all.push(...page.launches.map((l) => l.task?.taskArn ?? ''));
      nextToken = page.nextToken;
    } while (nextToken);
    return all;
  }

  it('lists PROVISIONING tasks older than asked on connected instances, page by page; refuses bad input', async () => {
    const instance = await registerInstance(agentAddress);
    const [task, second] = await commitUntold([
      instance.containerInstanceArn,
      instance.containerInstanceArn,
    ]);
    await new Promise((r) => setTimeout(r, 20));
    const first = await call(
      state.client.listStaleLaunches({
        cluster: CLUSTER,
        olderThanMs: 10,
        maxResults: 0,
        nextToken: '',
      }),
    );
    expect(first.launches.find((l) => l.task?.taskArn === task.taskArn)).toMatchObject({
      agentAddress,
      task: { lastStatus: 'PROVISIONING', desiredStatus: 'RUNNING' },
    });
    // a page of one at a time visits both
    expect(await staleLaunches(10)).toEqual(expect.arrayContaining([task.taskArn, second.taskArn]));
    // not yet an hour old
    expect(await staleLaunches(60 * 60_000)).toEqual([]);

    // One on an instance whose agent is disconnected is not listed (the agent may be back).
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
    await new Promise((r) => setTimeout(r, 20));
    expect(await staleLaunches(10)).not.toContain(onSilent.taskArn);

    // A task stopped before any agent heard of it is no stale launch.
    for (const t of [task, second]) {
      await call(
        state.client.markTaskStopping({
          cluster: CLUSTER,
          task: t.taskArn,
          stopCode: 'UserInitiated',
          reason: 'test',
        }),
      );
    }
    expect(await staleLaunches(10)).toEqual([]);

    const refused = (req: Partial<stateV1.ListStaleLaunchesRequest>) =>
      call(
        state.client.listStaleLaunches({
          cluster: CLUSTER,
          olderThanMs: 10,
          maxResults: 0,
          nextToken: '',
          ...req,
        }),
      ).then(
        () => undefined,
        (e: { code: number; details: string }) => e,
      );
    expect((await refused({ cluster: 'nope' }))?.code).toBe(GrpcCode.NOT_FOUND);
    expect(await refused({ olderThanMs: 0 })).toMatchObject({
      code: GrpcCode.INVALID_ARGUMENT,
      details: 'InvalidParameterException: olderThanMs must be greater than 0.',
    });
  });

  it('the leader tells the agent again; a task whose agent cannot be reached is left as it is', async () => {
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

      // The unreachable agent's task: tried, counted, and not stopped (its agent may well be
      // running it: an agent state cannot call is not an agent that does not run the task).
      const metrics = await eventually(
        async () => {
          const text = await (await fetch(`http://127.0.0.1:${scheduler.opsPort}/metrics`)).text();
          return /wharf_scheduler_stale_launches_total\{[^}]*outcome="failed"[^}]*\} [1-9]/.test(
            text,
          )
            ? text
            : undefined;
        },
        'the failed attempt counted',
        30_000,
      );
      expect(metrics).toMatch(
        /wharf_scheduler_stale_launches_total\{[^}]*outcome="told"[^}]*\} [1-9]/,
      );
      const { tasks } = await call(
        state.client.describeTasks({ cluster: CLUSTER, tasks: [unreachable.taskArn] }),
      );
      expect(tasks[0]).toMatchObject({ lastStatus: 'PROVISIONING', desiredStatus: 'RUNNING' });
    } finally {
      await scheduler.stop();
    }
  });
});
