/**
 * The scheduler against the real state (real Postgres and NATS from Testcontainers), called
 * over gRPC, placing on container instances registered in state whose agent is a real gRPC
 * server in this process that records the commands it gets (Docker work is the e2e test's).
 */
import { Controller } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions } from '@nestjs/microservices';
import { loadConfig } from '@wharf/config';
import { GrpcCode } from '@wharf/domain';
import { createLogger } from '@wharf/observability';
import {
  agentV1,
  createSchedulerClient,
  createStateClient,
  grpcOptions,
  GrpcClient,
  schedulerV1,
  stateV1,
} from '@wharf/proto';
import { startNats, startPostgres, type StartedNats, type StartedPostgres } from '@wharf/testing';
import { firstValueFrom, Observable } from 'rxjs';
import { stateConfigSchema } from '../../state/src/config';
import { startState } from '../../state/src/state';
import { schedulerConfigSchema } from './config';
import { freePort } from './free-port';
import { startScheduler } from './scheduler';

jest.setTimeout(180_000);

const received: { start: agentV1.StartTaskRequest[]; stop: agentV1.AgentStopTaskRequest[] } = {
  start: [],
  stop: [],
};

@Controller()
@agentV1.AgentServiceControllerMethods()
class RecordingAgent implements agentV1.AgentServiceController {
  startTask(req: agentV1.StartTaskRequest): agentV1.StartTaskResponse {
    received.start.push(req);
    return { accepted: true };
  }
  stopTask(req: agentV1.AgentStopTaskRequest): agentV1.AgentStopTaskResponse {
    received.stop.push(req);
    return { known: true };
  }
}

const call = <T>(obs: Observable<T>) => firstValueFrom(obs);
const grpcError = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a gRPC error');
    },
    (err: { code: number; details: string }) => err,
  );

describe('scheduler against real state', () => {
  let postgres: StartedPostgres;
  let nats: StartedNats;
  const stops: (() => Promise<unknown>)[] = [];
  let state: GrpcClient<stateV1.StateServiceClient>;
  let scheduler: GrpcClient<schedulerV1.SchedulerServiceClient>;
  let agentAddress: string;

  async function registerInstance(cluster: string, address: string, memory = 1000) {
    return call(
      state.client.registerContainerInstance({
        cluster,
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 1024, memory, ports: [22], portsUdp: [] },
        attributes: [],
        agentVersion: 'test',
        dockerVersion: '',
        agentAddress: address,
        hostname: 'h',
        hostAddress: '127.0.0.1',
      }),
    );
  }

  const definition = (family: string, memory: number, hostPort?: number) =>
    JSON.stringify({
      family,
      containerDefinitions: [
        {
          name: 'app',
          image: 'wharf/busybox:dev',
          memory,
          essential: true,
          portMappings: hostPort ? [{ containerPort: 80, hostPort, protocol: 'tcp' }] : [],
        },
      ],
    });

  const runTask = (req: Partial<schedulerV1.RunTaskRequest>) =>
    call(
      scheduler.client.runTask({
        cluster: '',
        taskDefinition: '',
        count: 1,
        group: '',
        startedBy: '',
        overridesJson: '',
        tagsJson: '',
        launchType: '',
        ...req,
      }),
    );

  beforeAll(async () => {
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    [postgres, nats] = await Promise.all([startPostgres(), startNats()]);
    stops.push(
      () => postgres.container.stop(),
      () => nats.container.stop(),
    );
    const logger = createLogger('scheduler-int', process.env.LOG_LEVEL ?? 'warn');
    const runningState = await startState(
      loadConfig(stateConfigSchema, {
        DATABASE_URL: postgres.url,
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
      }),
      logger,
    );
    stops.unshift(() => runningState.stop());
    const running = await startScheduler(
      loadConfig(schedulerConfigSchema, {
        STATE_URL: runningState.grpcUrl,
        NATS_URL: nats.url,
        SCHEDULER_GRPC_PORT: '0',
        SCHEDULER_OPS_PORT: '0',
        AGENT_CALL_TIMEOUT_MS: '3000',
      }),
      logger,
    );
    stops.unshift(() => running.stop());

    agentAddress = `127.0.0.1:${await freePort()}`;
    const agent = await NestFactory.createMicroservice<MicroserviceOptions>(
      { module: class AgentModule {}, controllers: [RecordingAgent] } as never,
      { ...grpcOptions('agent', agentAddress), logger: false },
    );
    await agent.listen();
    stops.unshift(() => agent.close());

    state = createStateClient(runningState.grpcUrl);
    scheduler = createSchedulerClient(running.grpcUrl);
    stops.unshift(async () => {
      state.close();
      scheduler.close();
    });

    await call(state.client.createCluster({ clusterName: 'one', tagsJson: '' }));
    await call(state.client.createCluster({ clusterName: 'dead', tagsJson: '' }));
    await call(state.client.registerTaskDefinition({ definitionJson: definition('web', 400) }));
    await call(
      state.client.registerTaskDefinition({ definitionJson: definition('port', 1, 8080) }),
    );
  });

  afterAll(async () => {
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('rejects a bad count, an unknown cluster and an empty cluster with ECS errors', async () => {
    const tooMany = await grpcError(runTask({ cluster: 'one', taskDefinition: 'web', count: 11 }));
    expect(tooMany.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(tooMany.details).toMatch(/^InvalidParameterException: count must be between 1 and 10/);
    const noCluster = await grpcError(runTask({ cluster: 'nope', taskDefinition: 'web' }));
    expect(noCluster).toMatchObject({
      code: GrpcCode.NOT_FOUND,
      details: 'ClusterNotFoundException: Cluster not found.',
    });
    const noTd = await grpcError(runTask({ cluster: 'one', taskDefinition: 'nope' }));
    expect(noTd).toMatchObject({
      code: GrpcCode.NOT_FOUND,
      details: 'ClientException: Unable to describe task definition.',
    });
    const empty = await grpcError(runTask({ cluster: 'one', taskDefinition: 'web' }));
    expect(empty).toMatchObject({
      code: GrpcCode.INVALID_ARGUMENT,
      details: 'InvalidParameterException: No Container Instances were found in your cluster.',
    });
  });

  it('places first fit, reports what does not fit, and starts the rest on the agent', async () => {
    const instance = await registerInstance('one', agentAddress);
    const res = await runTask({ cluster: 'one', taskDefinition: 'web', count: 3, startedBy: 'me' });
    expect(res.tasks).toHaveLength(2);
    expect(res.failures).toEqual([
      { arn: instance.containerInstanceArn, reason: 'RESOURCE:MEMORY', detail: '' },
    ]);
    for (const t of res.tasks) {
      expect(t).toMatchObject({
        clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/one',
        containerInstanceArn: instance.containerInstanceArn,
        taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
        desiredStatus: 'RUNNING',
        group: 'family:web',
        startedBy: 'me',
        launchType: 'EC2',
        memory: 400,
      });
      expect(t.taskArn).toMatch(/:task\/one\/[0-9a-f]{32}$/);
      expect(t.containers[0]).toMatchObject({ name: 'app', image: 'wharf/busybox:dev' });
      expect(t.containers[0].containerArn).toContain(':container/one/');
    }
    expect(received.start.map((r) => r.task?.taskArn).sort()).toEqual(
      res.tasks.map((t) => t.taskArn).sort(),
    );
    expect(received.start[0].taskDefinition?.family).toBe('web');
    const [described] = (
      await call(
        state.client.describeContainerInstances({
          cluster: 'one',
          containerInstances: [instance.containerInstanceArn],
        }),
      )
    ).containerInstances;
    expect(described.remaining?.memory).toBe(200);
  });

  it('fails a second task on a taken static host port with RESOURCE:PORTS', async () => {
    const res = await runTask({ cluster: 'one', taskDefinition: 'port', count: 2 });
    expect(res.tasks).toHaveLength(1);
    expect(res.failures.map((f) => f.reason)).toEqual(['RESOURCE:PORTS']);
    expect(res.tasks[0].hostPorts).toEqual([8080]);
  });

  it('stops a task: state records it and the agent is told', async () => {
    const { taskArns } = await call(
      state.client.listTasks({
        cluster: 'one',
        containerInstance: '',
        family: 'web',
        startedBy: '',
        desiredStatus: '',
        maxResults: 0,
        nextToken: '',
        serviceName: '',
      }),
    );
    const res = await call(
      scheduler.client.stopTask({ cluster: 'one', task: taskArns[0], reason: '' }),
    );
    expect(res.task).toMatchObject({
      taskArn: taskArns[0],
      desiredStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'Task stopped by user',
    });
    expect(received.stop).toEqual([
      { taskArn: taskArns[0], reason: 'Task stopped by user', stopCode: 'UserInitiated' },
    ]);
  });

  it('stops a task whose agent cannot be reached with TaskFailedToStart', async () => {
    await registerInstance('dead', `127.0.0.1:${await freePort()}`);
    const res = await runTask({ cluster: 'dead', taskDefinition: 'web' });
    expect(res.tasks).toHaveLength(1);
    expect(res.tasks[0]).toMatchObject({ desiredStatus: 'STOPPED', stopCode: 'TaskFailedToStart' });
    expect(res.tasks[0].stoppedReason).toContain('unreachable');
  });
});
