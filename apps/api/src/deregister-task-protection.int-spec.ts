/**
 * DeregisterContainerInstance, UpdateTaskProtection and GetTaskProtection through the api
 * with the AWS SDK, against the real state in this process (Postgres and NATS from
 * Testcontainers). No scheduler or agent runs: instances are registered and tasks placed
 * through state's gRPC API, as an agent and the scheduler would.
 */
import {
  ClusterNotFoundException,
  CreateClusterCommand,
  DeregisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ECSClient,
  GetTaskProtectionCommand,
  InvalidParameterException,
  ListContainerInstancesCommand,
  RegisterTaskDefinitionCommand,
  UpdateTaskProtectionCommand,
} from '@aws-sdk/client-ecs';
import { firstValueFrom } from 'rxjs';
import { createLogger } from '@wharf/observability';
import { common, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { startControlPlane } from './control-plane-test-fixtures';
import { EMPTY_TASK } from '../../state/src/state-test-fixtures';

jest.setTimeout(180_000);

const CLUSTER = 'protect';
const ARN = 'arn:aws:ecs:us-east-1:000000000000';

describe('DeregisterContainerInstance and task protection through the api', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let ecs: ECSClient;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  let taskDefinitionArn: string;

  const failure = <T>(p: Promise<T>): Promise<Error> =>
    p.then(
      () => {
        throw new Error('expected the request to fail');
      },
      (e: unknown) => e as Error,
    );

  beforeAll(async () => {
    // These operations never call the scheduler: none runs.
    const plane = await startControlPlane({
      logger: createLogger('api-deregister-protection-int', process.env.LOG_LEVEL ?? 'warn'),
      scheduler: false,
    });
    stops.push(() => plane.stop());
    grpc = createStateClient(plane.state.grpcUrl);
    stops.unshift(async () => grpc.close());
    ecs = new ECSClient({
      endpoint: plane.api.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'web',
        containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 32 }],
      }),
    );
    taskDefinitionArn = td.taskDefinition!.taskDefinitionArn!;
  });

  afterAll(async () => {
    ecs?.destroy();
    for (const stop of stops) await stop().catch(() => undefined);
  });

  /** An agent's registration. */
  const register = () =>
    firstValueFrom(
      grpc.client.registerContainerInstance({
        cluster: CLUSTER,
        containerInstanceArn: '',
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
  /** The scheduler's commit: one task per group on the instance. */
  async function place(instance: common.ContainerInstance, groups: string[]) {
    const res = await firstValueFrom(
      grpc.client.commitPlacements({
        cluster: CLUSTER,
        placements: groups.map((group) => ({
          expectedInstanceVersion: 0,
          fenceLease: '',
          fenceHolder: '',
          task: {
            ...EMPTY_TASK,
            taskDefinitionArn,
            containerInstanceArn: instance.containerInstanceArn,
            cpu: 10,
            memory: 10,
            group,
            startedBy: 'test',
          },
        })),
      }),
    );
    expect(res.rejected).toEqual([]);
    return res.tasks;
  }
  const listed = async (status?: 'ACTIVE' | 'DRAINING') =>
    (await ecs.send(new ListContainerInstancesCommand({ cluster: CLUSTER, status })))
      .containerInstanceArns ?? [];
  const describeTask = async (taskArn: string) =>
    (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }))).tasks![0];

  it('deregisters an idle instance: INACTIVE, gone from the default listing', async () => {
    const ci = await register();
    expect(await listed()).toContain(ci.containerInstanceArn);
    const res = await ecs.send(
      new DeregisterContainerInstanceCommand({
        cluster: CLUSTER,
        containerInstance: ci.containerInstanceArn.split('/').pop(),
      }),
    );
    expect(res.containerInstance).toMatchObject({
      containerInstanceArn: ci.containerInstanceArn,
      status: 'INACTIVE',
      version: ci.version + 1,
    });
    expect(await listed()).not.toContain(ci.containerInstanceArn);
    // As in ECS: the model's status enum has no INACTIVE, so a deregistered instance is not
    // listed at all; DescribeContainerInstances still answers it.
    const filter = await failure(
      ecs.send(
        new ListContainerInstancesCommand({ cluster: CLUSTER, status: 'INACTIVE' as 'ACTIVE' }),
      ),
    );
    expect(filter).toBeInstanceOf(InvalidParameterException);
    const described = await ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: CLUSTER,
        containerInstances: [ci.containerInstanceArn],
      }),
    );
    expect(described.containerInstances?.[0].status).toBe('INACTIVE');
  });

  it('refuses an instance with tasks without force; with force, stops its service tasks', async () => {
    const ci = await register();
    const [svc, standalone] = await place(ci, ['service:web', 'family:web']);
    const refused = await failure(
      ecs.send(
        new DeregisterContainerInstanceCommand({
          cluster: CLUSTER,
          containerInstance: ci.containerInstanceArn,
        }),
      ),
    );
    expect(refused).toBeInstanceOf(InvalidParameterException);
    expect(refused.message).toBe('Found running tasks on the instance.');
    expect(await listed('ACTIVE')).toContain(ci.containerInstanceArn);

    const res = await ecs.send(
      new DeregisterContainerInstanceCommand({
        cluster: CLUSTER,
        containerInstance: ci.containerInstanceArn,
        force: true,
      }),
    );
    expect(res.containerInstance).toMatchObject({ status: 'INACTIVE', pendingTasksCount: 1 });
    expect(await describeTask(svc.taskArn)).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'ServiceSchedulerInitiated',
    });
    expect(await describeTask(standalone.taskArn)).toMatchObject({
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
    });
  });

  it('answers an unknown instance and an unknown cluster with errors', async () => {
    const unknown = await failure(
      ecs.send(
        new DeregisterContainerInstanceCommand({
          cluster: CLUSTER,
          containerInstance: '0123456789abcdef0123456789abcdef',
        }),
      ),
    );
    expect(unknown.name).toBe('ClientException');
    const noCluster = await failure(
      ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'nope', containerInstance: 'x' })),
    );
    expect(noCluster).toBeInstanceOf(ClusterNotFoundException);
  });

  it('protects service tasks, reads the protection back, and unprotects them', async () => {
    const ci = await register();
    const [a, b] = await place(ci, ['service:web', 'service:web']);
    const before = Date.now();
    const res = await ecs.send(
      new UpdateTaskProtectionCommand({
        cluster: CLUSTER,
        tasks: [a.taskArn!, b.taskArn!.split('/').pop()!],
        protectionEnabled: true,
        expiresInMinutes: 30,
      }),
    );
    expect(res.failures).toEqual([]);
    expect(res.protectedTasks?.map((p) => [p.taskArn, p.protectionEnabled])).toEqual([
      [a.taskArn, true],
      [b.taskArn, true],
    ]);
    const expires = res.protectedTasks![0].expirationDate!.getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 30 * 60_000 - 1);
    expect(expires).toBeLessThanOrEqual(Date.now() + 30 * 60_000);

    const got = await ecs.send(
      new GetTaskProtectionCommand({ cluster: CLUSTER, tasks: [a.taskArn!] }),
    );
    expect(got.protectedTasks).toEqual([
      { taskArn: a.taskArn, protectionEnabled: true, expirationDate: new Date(expires) },
    ]);

    const defaulted = await ecs.send(
      new UpdateTaskProtectionCommand({
        cluster: CLUSTER,
        tasks: [b.taskArn!],
        protectionEnabled: true,
      }),
    );
    expect(defaulted.protectedTasks![0].expirationDate!.getTime()).toBeGreaterThan(
      before + 119 * 60_000,
    );

    const off = await ecs.send(
      new UpdateTaskProtectionCommand({
        cluster: CLUSTER,
        tasks: [a.taskArn!],
        protectionEnabled: false,
      }),
    );
    expect(off.protectedTasks).toEqual([{ taskArn: a.taskArn, protectionEnabled: false }]);
    const after = await ecs.send(
      new GetTaskProtectionCommand({ cluster: CLUSTER, tasks: [a.taskArn!] }),
    );
    expect(after.protectedTasks).toEqual([{ taskArn: a.taskArn, protectionEnabled: false }]);
  });

  it('answers unknown tasks MISSING and standalone tasks TASK_NOT_VALID', async () => {
    const ci = await register();
    const [standalone] = await place(ci, ['family:web']);
    const missing = `${ARN}:task/${CLUSTER}/0123456789abcdef0123456789abcdef`;
    const res = await ecs.send(
      new UpdateTaskProtectionCommand({
        cluster: CLUSTER,
        tasks: [standalone.taskArn!, missing],
        protectionEnabled: true,
      }),
    );
    expect(res.protectedTasks).toEqual([]);
    expect(res.failures).toEqual([
      {
        arn: standalone.taskArn,
        reason: 'TASK_NOT_VALID',
        detail: 'The task is not part of a service; only service tasks can be protected.',
      },
      { arn: missing, reason: 'MISSING' },
    ]);
    const got = await ecs.send(
      new GetTaskProtectionCommand({ cluster: CLUSTER, tasks: [missing] }),
    );
    expect(got.failures).toEqual([{ arn: missing, reason: 'MISSING' }]);
  });

  it('refuses bad input and an unknown cluster', async () => {
    const tooLong = await failure(
      ecs.send(
        new UpdateTaskProtectionCommand({
          cluster: CLUSTER,
          tasks: ['x'],
          protectionEnabled: true,
          expiresInMinutes: 2881,
        }),
      ),
    );
    expect(tooLong).toBeInstanceOf(InvalidParameterException);
    expect(tooLong.message).toBe('expiresInMinutes must be between 1 and 2880.');
    const tooMany = await failure(
      ecs.send(
        new UpdateTaskProtectionCommand({
          cluster: CLUSTER,
          tasks: Array.from({ length: 11 }, (_, i) => `t${i}`),
          protectionEnabled: true,
        }),
      ),
    );
    expect(tooMany.message).toBe('tasks can have at most 10 items.');
    const noTasks = await failure(ecs.send(new GetTaskProtectionCommand({ cluster: CLUSTER })));
    expect(noTasks).toBeInstanceOf(InvalidParameterException);
    expect(noTasks.message).toBe('tasks cannot be empty.');
    for (const command of [
      new UpdateTaskProtectionCommand({ cluster: 'nope', tasks: ['x'], protectionEnabled: true }),
      new GetTaskProtectionCommand({ cluster: 'nope', tasks: ['x'] }),
    ]) {
      expect(await failure(ecs.send(command as UpdateTaskProtectionCommand))).toBeInstanceOf(
        ClusterNotFoundException,
      );
    }
  });
});
