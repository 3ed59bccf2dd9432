/**
 * The whole topology, end to end: Postgres, NATS, state, scheduler, api and lb each in their
 * own container on one Docker network, and two hosts, each a container with its own Docker
 * engine and a Wharf agent. Driven through the ECS API with the AWS SDK, as a user would.
 */
import {
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { eventually, IMAGES, startTopology, type Topology } from '@wharf/testing';

jest.setTimeout(600_000);

describe('one task from RunTask to STOPPED on two real hosts', () => {
  let topology: Topology | undefined;
  let ecs: ECSClient;
  let hosts: Topology['hosts'];

  beforeAll(async () => {
    topology = await startTopology({
      hosts: [
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-a' } },
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-b' } },
      ],
    });
    ({ ecs, hosts } = topology);
  });

  afterAll(async () => {
    await topology?.stop();
  });

  async function describe(taskArns: string[]): Promise<Task[]> {
    return topology!.describeTasks(taskArns);
  }

  it('runs two tasks on the hosts, stops them, and refuses what cannot fit', async () => {
    const registered = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'e2e-web',
        containerDefinitions: [
          {
            name: 'web',
            image: IMAGES.workload,
            essential: true,
            memory: 64,
            cpu: 256,
            command: [
              'sh',
              '-c',
              "trap 'exit 143' TERM; echo started $GREETING; while true; do sleep 1; done",
            ],
            environment: [{ name: 'GREETING', value: 'hello-from-wharf' }],
            portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }],
            stopTimeout: 10,
          },
        ],
      }),
    );
    expect(registered.taskDefinition?.revision).toBe(1);

    const run = await ecs.send(
      new RunTaskCommand({ cluster: 'default', taskDefinition: 'e2e-web', count: 2 }),
    );
    expect(run.failures).toEqual([]);
    expect(run.tasks).toHaveLength(2);
    const taskArns = run.tasks!.map((t) => t.taskArn!);
    // The static host port 8080 can be held once per instance: one task on each host.
    expect(new Set(run.tasks!.map((t) => t.containerInstanceArn)).size).toBe(2);

    const running = await eventually(
      async () => {
        const tasks = await describe(taskArns);
        return tasks.length === 2 && tasks.every((t) => t.lastStatus === 'RUNNING')
          ? tasks
          : undefined;
      },
      'both tasks RUNNING',
      120_000,
    );
    for (const task of running) {
      expect(task.containers?.[0].networkBindings).toEqual([
        expect.objectContaining({ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }),
      ]);
      expect(task.startedAt).toBeInstanceOf(Date);
    }

    const listed = await ecs.send(new ListTasksCommand({ cluster: 'default', family: 'e2e-web' }));
    expect(listed.taskArns?.sort()).toEqual([...taskArns].sort());

    // The real containers on the hosts' own engines.
    for (const host of hosts) {
      const ids = (
        await host.docker(['ps', '-q', '--filter', 'label=com.wharf.container-name=web'])
      )
        .trim()
        .split('\n')
        .filter(Boolean);
      expect(ids).toHaveLength(1);
      const [inspect] = JSON.parse(await host.docker(['inspect', ids[0]]));
      expect(taskArns).toContain(inspect.Config.Labels['com.wharf.task-arn']);
      expect(inspect.Config.Labels['com.wharf.cluster']).toBe('default');
      expect(inspect.Config.Labels['com.wharf.container-instance-arn']).toMatch(
        /^arn:aws:ecs:us-east-1:000000000000:container-instance\/default\//,
      );
      expect(inspect.Config.Env).toContain('GREETING=hello-from-wharf');
      expect(inspect.HostConfig.Memory).toBe(64 * 1024 * 1024);
      expect(inspect.HostConfig.CpuShares).toBe(256);
    }

    for (const taskArn of taskArns) {
      const stopped = await ecs.send(
        new StopTaskCommand({ cluster: 'default', task: taskArn, reason: 'e2e says stop' }),
      );
      expect(stopped.task?.desiredStatus).toBe('STOPPED');
    }
    const done = await eventually(
      async () => {
        const tasks = await describe(taskArns);
        return tasks.every((t) => t.lastStatus === 'STOPPED') ? tasks : undefined;
      },
      'both tasks STOPPED',
      120_000,
    );
    for (const task of done) {
      expect(task.stoppedReason).toBe('e2e says stop');
      expect(task.stopCode).toBe('UserInitiated');
      expect(task.containers?.[0].exitCode).toBe(143);
      expect(task.stoppedAt).toBeInstanceOf(Date);
    }
    // ListTasks shows RUNNING-desired tasks by default; the stopped ones on request.
    const stillListed = await ecs.send(new ListTasksCommand({ cluster: 'default' }));
    expect(stillListed.taskArns).toEqual([]);
    const stoppedList = await ecs.send(
      new ListTasksCommand({ cluster: 'default', desiredStatus: 'STOPPED' }),
    );
    expect(stoppedList.taskArns?.sort()).toEqual([...taskArns].sort());

    for (const host of hosts) {
      await eventually(
        async () =>
          (
            await host.docker(['ps', '-aq', '--filter', 'label=com.wharf.cluster=default'])
          ).trim() === ''
            ? true
            : undefined,
        `containers removed from ${host.alias}`,
        30_000,
      );
    }

    // More memory than any instance has: a failure, not a task.
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'e2e-huge',
        containerDefinitions: [{ name: 'big', image: IMAGES.workload, memory: 4096 }],
      }),
    );
    const huge = await ecs.send(
      new RunTaskCommand({ cluster: 'default', taskDefinition: 'e2e-huge', count: 1 }),
    );
    expect(huge.tasks).toEqual([]);
    expect(huge.failures).toEqual([expect.objectContaining({ reason: 'RESOURCE:MEMORY' })]);
  });
});
