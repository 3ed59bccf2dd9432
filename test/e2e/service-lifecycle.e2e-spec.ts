/**
 * The service scheduler's other promises, on three real hosts through the AWS SDK:
 * a DAEMON service runs one task on every instance; draining an instance
 * (UpdateContainerInstancesState) moves a REPLICA service's tasks elsewhere, stops the daemon's
 * task there, leaves a standalone task alone and takes no new placement, and reactivating it
 * brings the daemon back; a deployment whose tasks cannot start is throttled, failed by the
 * circuit breaker and rolled back to the last completed deployment.
 */
import {
  CreateServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type Service,
  type Task,
  UpdateContainerInstancesStateCommand,
  UpdateServiceCommand,
  waitUntilServicesStable,
} from '@aws-sdk/client-ecs';
import { eventually, IMAGES, startTopology, type Topology } from '@wharf/testing';

jest.setTimeout(600_000);

const CLUSTER = 'default';
const WAIT = { maxWaitTime: 180, minDelay: 1, maxDelay: 2 };
const id = (arn: string | undefined) => arn?.split('/').pop() ?? '';

describe('DAEMON services, draining, throttling and the circuit breaker', () => {
  let topology: Topology | undefined;
  let ecs: ECSClient;
  let good = '';

  beforeAll(async () => {
    topology = await startTopology({
      hosts: [
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-a' } },
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-b' } },
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-c' } },
      ],
      commonEnv: {
        // Tasks count as healthy 1 s after RUNNING (ECS: 40 s) and failed launches back off
        // from 0.5 s to at most 4 s (ECS: up to 15 min), so the scenarios take seconds.
        SERVICE_HEALTHY_AFTER_RUNNING_MS: '1000',
        SERVICE_THROTTLE_BASE_MS: '500',
        SERVICE_THROTTLE_MAX_MS: '4000',
      },
    });
    ({ ecs } = topology);
    const registered = await register('e2e-lifecycle', IMAGES.workload);
    good = registered;
  });

  afterAll(async () => {
    await topology?.stop();
  });

  async function register(family: string, image: string): Promise<string> {
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        containerDefinitions: [
          {
            name: 'app',
            image,
            essential: true,
            memory: 32,
            cpu: 32,
            command: ['sh', '-c', "trap 'exit 143' TERM; while true; do sleep 1; done"],
            stopTimeout: 5,
          },
        ],
      }),
    );
    return out.taskDefinition!.taskDefinitionArn!;
  }

  async function describeService(name: string): Promise<Service> {
    const out = await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [name] }));
    return out.services![0];
  }

  /** The service's wanted tasks (desired RUNNING), described. */
  async function serviceTasks(name: string): Promise<Task[]> {
    const { taskArns } = await ecs.send(
      new ListTasksCommand({ cluster: CLUSTER, serviceName: name, maxResults: 100 }),
    );
    return taskArns?.length ? topology!.describeTasks(taskArns) : [];
  }

  const stable = (name: string) =>
    waitUntilServicesStable({ client: ecs, ...WAIT }, { cluster: CLUSTER, services: [name] });

  const setState = (instance: string, status: 'ACTIVE' | 'DRAINING') =>
    ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: CLUSTER,
        containerInstances: [instance],
        status,
      }),
    );

  it('runs one task of a DAEMON service on every instance', async () => {
    const created = await ecs.send(
      new CreateServiceCommand({
        cluster: CLUSTER,
        serviceName: 'agentd',
        taskDefinition: good,
        schedulingStrategy: 'DAEMON',
      }),
    );
    expect(created.service).toMatchObject({
      schedulingStrategy: 'DAEMON',
      deploymentConfiguration: { maximumPercent: 100, minimumHealthyPercent: 0 },
    });
    await eventually(
      async () => ((await describeService('agentd')).desiredCount === 3 ? true : undefined),
      'the daemon wants one task per instance',
      60_000,
    );
    await stable('agentd');
    const tasks = await serviceTasks('agentd');
    expect(tasks).toHaveLength(3);
    expect(new Set(tasks.map((t) => t.containerInstanceArn))).toEqual(
      new Set(topology!.hosts.map((h) => h.containerInstanceArn)),
    );
    expect(tasks.every((t) => t.lastStatus === 'RUNNING')).toBe(true);
  });

  it('drains an instance: service tasks move, the daemon leaves, a standalone task stays', async () => {
    await ecs.send(
      new CreateServiceCommand({
        cluster: CLUSTER,
        serviceName: 'web',
        taskDefinition: good,
        desiredCount: 3,
      }),
    );
    await stable('web');
    const drained = topology!.hosts[0].containerInstanceArn;
    expect((await serviceTasks('web')).map((t) => t.containerInstanceArn)).toContain(drained);

    // A standalone task on the instance about to drain.
    const run = await ecs.send(
      new RunTaskCommand({
        cluster: CLUSTER,
        taskDefinition: good,
        placementConstraints: [{ type: 'memberOf', expression: `ec2InstanceId == ${id(drained)}` }],
      }),
    );
    const standalone = run.tasks![0];
    await topology!.waitForTask(
      standalone.taskArn!,
      (t) => t.lastStatus === 'RUNNING',
      'the standalone task runs',
    );

    const out = await setState(drained, 'DRAINING');
    expect(out.failures).toEqual([]);
    expect(out.containerInstances![0]).toMatchObject({
      containerInstanceArn: drained,
      status: 'DRAINING',
    });

    // The REPLICA service is back at 3 RUNNING, none on the drained instance.
    const moved = await eventually(
      async () => {
        const tasks = await serviceTasks('web');
        const running = tasks.filter((t) => t.lastStatus === 'RUNNING');
        return running.length === 3 && tasks.every((t) => t.containerInstanceArn !== drained)
          ? tasks
          : undefined;
      },
      'the service tasks leave the drained instance',
      90_000,
    );
    expect(moved).toHaveLength(3);
    // The daemon wants 2 now, and runs none there.
    await eventually(
      async () => {
        const service = await describeService('agentd');
        const tasks = await serviceTasks('agentd');
        return service.desiredCount === 2 &&
          tasks.length === 2 &&
          tasks.every((t) => t.containerInstanceArn !== drained)
          ? true
          : undefined;
      },
      'the daemon leaves the drained instance',
      60_000,
    );
    // The standalone task is left alone.
    const [still] = await topology!.describeTasks([standalone.taskArn!]);
    expect(still).toMatchObject({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING' });
    // No new placement there: a task that may only go there is not placed.
    const refused = await ecs.send(
      new RunTaskCommand({
        cluster: CLUSTER,
        taskDefinition: good,
        placementConstraints: [{ type: 'memberOf', expression: `ec2InstanceId == ${id(drained)}` }],
      }),
    );
    expect(refused.tasks).toEqual([]);
    expect(refused.failures).toHaveLength(1);

    // Active again: the daemon comes back to it.
    await setState(drained, 'ACTIVE');
    await eventually(
      async () => {
        const tasks = await serviceTasks('agentd');
        return tasks.some((t) => t.containerInstanceArn === drained && t.lastStatus === 'RUNNING')
          ? true
          : undefined;
      },
      'the daemon returns to the reactivated instance',
      60_000,
    );
    expect((await describeService('agentd')).desiredCount).toBe(3);
  });

  it('throttles a deployment that cannot start, fails it at the threshold and rolls back', async () => {
    const before = await describeService('web');
    const completed = before.deployments!.find((d) => d.status === 'PRIMARY')!;
    expect(completed.rolloutState).toBe('COMPLETED');
    // No registry here: an image nobody built never starts (CannotPullContainerError).
    const broken = await register('e2e-lifecycle', 'wharf/never-built:1');
    const updated = await ecs.send(
      new UpdateServiceCommand({
        cluster: CLUSTER,
        service: 'web',
        taskDefinition: broken,
        deploymentConfiguration: {
          maximumPercent: 200,
          minimumHealthyPercent: 100,
          deploymentCircuitBreaker: { enable: true, rollback: true },
        },
      }),
    );
    const failing = updated.service!.deployments!.find((d) => d.status === 'PRIMARY')!;
    expect(failing.taskDefinition).toBe(broken);

    // The circuit breaker trips at 10 failed launches and the service rolls back.
    const rolledBack = await eventually(
      async () => {
        const service = await describeService('web');
        const primary = service.deployments!.find((d) => d.status === 'PRIMARY');
        return primary && primary.id !== failing.id && service.taskDefinition === good
          ? service
          : undefined;
      },
      'the circuit breaker rolls the deployment back',
      180_000,
    );
    const messages = rolledBack.events!.map((e) => e.message);
    expect(messages).toContain('(service web) is unable to consistently start tasks successfully.');
    expect(messages).toContain(
      `(service web) (deployment ${failing.id}) deployment failed: tasks failed to start.`,
    );
    expect(messages).toContain(
      `(service web) (deployment ${failing.id}) rolling back to deployment ${completed.id}.`,
    );
    const failed = rolledBack.deployments!.find((d) => d.id === failing.id);
    if (failed) {
      // Still listed until its last task is gone.
      expect(failed).toMatchObject({ rolloutState: 'FAILED' });
      expect(failed.failedTasks).toBeGreaterThanOrEqual(10);
    }

    // The rollback completes on the good definition; the old tasks kept the service up.
    await stable('web');
    await eventually(
      async () => {
        const service = await describeService('web');
        return service.deployments!.length === 1 &&
          service.deployments![0].rolloutState === 'COMPLETED'
          ? true
          : undefined;
      },
      'the rollback deployment completes',
      90_000,
    );
    const tasks = await serviceTasks('web');
    expect(tasks).toHaveLength(3);
    expect(tasks.every((t) => t.taskDefinitionArn === good && t.lastStatus === 'RUNNING')).toBe(
      true,
    );
  });
});
