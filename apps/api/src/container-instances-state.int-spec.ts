/**
 * UpdateContainerInstancesState through the ECS API (the AWS SDK as the client), against the
 * real state and scheduler in this process (Postgres and NATS from Testcontainers): the ECS
 * shapes and errors, and that a DRAINING instance takes no new tasks once the scheduler's
 * snapshot has the `container_instance.changed` event. The instances' "agent" is a gRPC
 * server in this process that acknowledges StartTask.
 */
import {
  ClusterNotFoundException,
  CreateClusterCommand,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  UpdateContainerInstancesStateCommand,
} from '@aws-sdk/client-ecs';
import { createLogger } from '@wharf/observability';
import { createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { eventually } from '@wharf/testing';
import { firstValueFrom } from 'rxjs';
import { freePort } from '../../scheduler/src/free-port';
import { startRecordingAgent } from '../../scheduler/src/scheduler-test-fixtures';
import { startControlPlane } from './control-plane-test-fixtures';

jest.setTimeout(180_000);

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected an error');
    },
    (err: Error) => err,
  );

describe('api: UpdateContainerInstancesState', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let ecs: ECSClient;
  let state: GrpcClient<stateV1.StateServiceClient>;
  let agentAddress: string;
  let apiUrl: string;

  const register = (cluster: string) =>
    firstValueFrom(
      state.client.registerContainerInstance({
        cluster,
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 2048, memory: 2000, ports: [22], portsUdp: [] },
        attributes: [{ name: 'ecs.os-type', value: 'linux' }],
        agentVersion: 'test',
        dockerVersion: '',
        agentAddress,
        hostname: 'h',
        hostAddress: '127.0.0.1',
      }),
    );

  /** The placement verdict on `arn` that placement explain gives for the task definition. */
  const verdict = async (cluster: string, arn: string) => {
    const res = await fetch(`${apiUrl}/v1/clusters/${cluster}/placement/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ taskDefinition: 'drainweb' }),
    });
    const body = (await res.json()) as {
      instances: { arn: string; feasible: boolean; failures?: { detail: string }[] }[];
    };
    return body.instances.find((i) => i.arn === arn);
  };

  beforeAll(async () => {
    const plane = await startControlPlane({
      logger: createLogger('api-int', process.env.LOG_LEVEL ?? 'warn'),
      scheduler: { AGENT_CALL_TIMEOUT_MS: '3000' },
    });
    stops.push(() => plane.stop());
    apiUrl = plane.api.url;

    agentAddress = `127.0.0.1:${await freePort()}`;
    const agent = await startRecordingAgent(agentAddress, { start: [], stop: [] });
    stops.unshift(() => agent.close());

    state = createStateClient(plane.state.grpcUrl);
    stops.unshift(async () => state.close());
    ecs = new ECSClient({
      endpoint: plane.api.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'drainweb',
        containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 400 }],
      }),
    );
  });

  afterAll(async () => {
    ecs?.destroy();
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('drains an instance: ECS shapes, MISSING failures, and no new tasks on it', async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: 'drain' }));
    const a = await register('drain');
    const b = await register('drain');
    // The scheduler has the cluster in its snapshot before the change (it then follows events).
    expect(await verdict('drain', a.containerInstanceArn)).toMatchObject({ feasible: true });

    const drained = await ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'drain',
        containerInstances: [a.containerInstanceArn, 'feedface'],
        status: 'DRAINING',
      }),
    );
    expect(drained.containerInstances).toHaveLength(1);
    expect(drained.containerInstances![0]).toMatchObject({
      containerInstanceArn: a.containerInstanceArn,
      status: 'DRAINING',
      version: a.version + 1,
      agentConnected: true,
      registeredResources: expect.arrayContaining([
        expect.objectContaining({ name: 'MEMORY', integerValue: 2000 }),
      ]),
    });
    expect(drained.failures).toEqual([
      {
        arn: 'arn:aws:ecs:us-east-1:000000000000:container-instance/drain/feedface',
        reason: 'MISSING',
      },
    ]);

    // Once the event reaches the scheduler, the DRAINING instance is out of placement.
    await eventually(async () => {
      const v = await verdict('drain', a.containerInstanceArn);
      return v && !v.feasible && v.failures?.[0]?.detail.includes('DRAINING') ? v : undefined;
    }, 'the scheduler sees the instance DRAINING');
    // Spread over instances would put two on each if `a` could still take tasks.
    const run = await ecs.send(
      new RunTaskCommand({
        cluster: 'drain',
        taskDefinition: 'drainweb',
        count: 4,
        placementStrategy: [{ type: 'spread', field: 'instanceId' }],
      }),
    );
    expect(run.failures).toEqual([]);
    expect(run.tasks!.map((t) => t.containerInstanceArn)).toEqual(
      Array(4).fill(b.containerInstanceArn),
    );

    // Back to ACTIVE: it takes tasks again.
    const active = await ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'drain',
        containerInstances: [a.containerInstanceArn],
        status: 'ACTIVE',
      }),
    );
    expect(active.containerInstances![0]).toMatchObject({
      status: 'ACTIVE',
      version: a.version + 2,
    });
    await eventually(
      async () => ((await verdict('drain', a.containerInstanceArn))?.feasible ? true : undefined),
      'the scheduler sees the instance ACTIVE again',
    );
    const described = await ecs.send(
      new DescribeTasksCommand({ cluster: 'drain', tasks: run.tasks!.map((t) => t.taskArn!) }),
    );
    expect(described.tasks).toHaveLength(4);
  });

  it('answers the ECS errors', async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: 'drainerr' }));
    const a = await register('drainerr');
    const send = (input: { cluster?: string; containerInstances: string[]; status: string }) =>
      failure(
        ecs.send(
          new UpdateContainerInstancesStateCommand(
            input as ConstructorParameters<typeof UpdateContainerInstancesStateCommand>[0],
          ),
        ),
      );

    const registering = await send({
      cluster: 'drainerr',
      containerInstances: [a.containerInstanceArn],
      status: 'REGISTERING',
    });
    expect(registering).toBeInstanceOf(InvalidParameterException);
    expect(registering.message).toMatch(/^status must be one of \[ACTIVE, DRAINING\]/);

    const inactive = await send({
      cluster: 'drainerr',
      containerInstances: [a.containerInstanceArn],
      status: 'INACTIVE',
    });
    expect(inactive).toBeInstanceOf(InvalidParameterException);
    expect(inactive.message).toContain("at 'status'");

    const tooMany = await send({
      cluster: 'drainerr',
      containerInstances: Array.from({ length: 11 }, (_, i) => `id-${i}`),
      status: 'DRAINING',
    });
    expect(tooMany).toBeInstanceOf(InvalidParameterException);
    expect(tooMany.message).toBe('containerInstances can have at most 10 items.');

    const noCluster = await send({
      cluster: 'no-such-cluster',
      containerInstances: [a.containerInstanceArn],
      status: 'DRAINING',
    });
    expect(noCluster).toBeInstanceOf(ClusterNotFoundException);
  });
});
