/**
 * Services on three real hosts, driven through the ECS API with the AWS SDK: a REPLICA service
 * reaches its desired count spread over the hosts (the services-stable waiter holds), a task
 * whose container dies is replaced, a new task definition rolls out within 200% / 100% of the
 * desired count, a frozen host's tasks are replaced elsewhere (and stopped there when it
 * thaws), a deployment survives a kill -9 of the scheduler leader (two replicas), scale-in
 * stops the surplus, and DeleteService drains the service to INACTIVE (the services-inactive
 * waiter holds).
 */
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type Service,
  type Task,
  UpdateServiceCommand,
  waitUntilServicesInactive,
  waitUntilServicesStable,
} from '@aws-sdk/client-ecs';
import {
  eventually,
  IMAGES,
  startTopology,
  type StartedService,
  type Topology,
} from '@wharf/testing';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

jest.setTimeout(600_000);

const run = promisify(execFile);
/** `docker ARGS` against the outer engine, where the topology's containers run. */
const outerDocker = async (args: string[]) => (await run('docker', args)).stdout;

/** Whether a scheduler replica leads the service scheduler now, from its last log saying so. */
async function leadership(scheduler: StartedService): Promise<{ leader: boolean; since?: number }> {
  const { stdout, stderr } = await run('docker', ['logs', scheduler.container.getId()], {
    maxBuffer: 64 * 1024 * 1024,
  });
  let state: { leader: boolean; since?: number } = { leader: false };
  for (const line of `${stdout}\n${stderr}`.split('\n')) {
    if (!line.includes('service scheduler leader')) continue;
    const entry = JSON.parse(line.slice(line.indexOf('{'))) as { msg: string; time: string };
    if (entry.msg === 'became service scheduler leader')
      state = { leader: true, since: Date.parse(entry.time) };
    if (entry.msg === 'no longer service scheduler leader') state = { leader: false };
  }
  return state;
}

const CLUSTER = 'default';
const SERVICE = 'web';
const WAIT = { maxWaitTime: 180, minDelay: 1, maxDelay: 2 };

describe('a REPLICA service on three hosts', () => {
  let topology: Topology | undefined;
  let ecs: ECSClient;

  beforeAll(async () => {
    topology = await startTopology({
      schedulers: 2,
      // RUNNING is healthy at once (ECS waits 40 s for tasks without health checks; the unit
      // tests cover that), so rollouts here take seconds.
      commonEnv: { SERVICE_HEALTHY_AFTER_RUNNING_MS: '0' },
      hosts: [
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-a' } },
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-b' } },
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-c' } },
      ],
    });
    ({ ecs } = topology);
  });

  afterAll(async () => {
    await topology?.stop();
  });

  const register = (version: string) =>
    ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'e2e-service',
        containerDefinitions: [
          {
            name: 'app',
            image: IMAGES.workload,
            essential: true,
            memory: 32,
            cpu: 64,
            command: ['sh', '-c', "trap 'exit 143' TERM; while true; do sleep 1; done"],
            environment: [{ name: 'VERSION', value: version }],
            stopTimeout: 5,
          },
        ],
      }),
    );

  async function describeService(): Promise<Service> {
    const out = await ecs.send(
      new DescribeServicesCommand({ cluster: CLUSTER, services: [SERVICE] }),
    );
    return out.services![0];
  }

  /** The service's tasks that are wanted (desired RUNNING), described. */
  async function serviceTasks(): Promise<Task[]> {
    const { taskArns } = await ecs.send(
      new ListTasksCommand({ cluster: CLUSTER, serviceName: SERVICE, maxResults: 100 }),
    );
    return taskArns?.length ? topology!.describeTasks(taskArns) : [];
  }

  /**
   * Samples the service's tasks until stopped: the most that occupy the cluster (not yet
   * STOPPED) and the fewest RUNNING and wanted at any sample.
   */
  function watchOccupancy() {
    let most = 0;
    let fewestRunning = Infinity;
    let watching = true;
    const sampling = (async () => {
      while (watching) {
        const wanted = await ecs.send(
          new ListTasksCommand({ cluster: CLUSTER, serviceName: SERVICE, maxResults: 100 }),
        );
        const stopping = await ecs.send(
          new ListTasksCommand({
            cluster: CLUSTER,
            serviceName: SERVICE,
            desiredStatus: 'STOPPED',
            maxResults: 100,
          }),
        );
        // A task asked to stop between the two calls is in both lists: count it once.
        const arns = [...new Set([...(wanted.taskArns ?? []), ...(stopping.taskArns ?? [])])];
        const all = arns.length ? await topology!.describeTasks(arns) : [];
        const occupying = all.filter((t) => t.lastStatus !== 'STOPPED');
        most = Math.max(most, occupying.length);
        fewestRunning = Math.min(
          fewestRunning,
          occupying.filter((t) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING')
            .length,
        );
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    return {
      stop: async () => {
        watching = false;
        await sampling;
        return { most, fewestRunning };
      },
    };
  }

  it('reaches its desired count spread over the hosts, and says so', async () => {
    const v1 = await register('1');
    const created = await ecs.send(
      new CreateServiceCommand({
        cluster: CLUSTER,
        serviceName: SERVICE,
        taskDefinition: v1.taskDefinition!.taskDefinitionArn,
        desiredCount: 3,
      }),
    );
    expect(created.service).toMatchObject({
      serviceName: SERVICE,
      status: 'ACTIVE',
      desiredCount: 3,
      schedulingStrategy: 'REPLICA',
      deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100 },
    });
    expect(created.service!.deployments).toEqual([
      expect.objectContaining({ status: 'PRIMARY', rolloutState: 'IN_PROGRESS', desiredCount: 3 }),
    ]);

    await waitUntilServicesStable(
      { client: ecs, ...WAIT },
      { cluster: CLUSTER, services: [SERVICE] },
    );
    const service = await describeService();
    expect(service).toMatchObject({ runningCount: 3, pendingCount: 0 });
    expect(service.deployments).toEqual([
      expect.objectContaining({ status: 'PRIMARY', rolloutState: 'COMPLETED', runningCount: 3 }),
    ]);
    const messages = service.events!.map((e) => e.message);
    expect(messages[0]).toBe(`(service ${SERVICE}) has reached a steady state.`);
    expect(messages).toContainEqual(
      expect.stringMatching(
        /^\(service web\) has started 3 tasks: \(task [0-9a-f]{32}\) \(task [0-9a-f]{32}\) \(task [0-9a-f]{32}\)\.$/,
      ),
    );

    const tasks = await serviceTasks();
    expect(tasks).toHaveLength(3);
    expect(tasks.every((t) => t.lastStatus === 'RUNNING' && t.group === `service:${SERVICE}`)).toBe(
      true,
    );
    expect(new Set(tasks.map((t) => t.startedBy))).toEqual(new Set([service.deployments![0].id]));
    // The default placement spreads over zones, one instance each.
    expect(new Set(tasks.map((t) => t.containerInstanceArn)).size).toBe(3);
  });

  it('replaces a task whose container dies', async () => {
    const [victim] = await serviceTasks();
    const host = topology!.hosts.find(
      (h) => h.containerInstanceArn === victim.containerInstanceArn,
    )!;
    await host.docker(['kill', victim.containers![0].runtimeId!]);

    const replaced = await eventually(
      async () => {
        const tasks = await serviceTasks();
        return tasks.length === 3 &&
          tasks.every((t) => t.lastStatus === 'RUNNING') &&
          !tasks.some((t) => t.taskArn === victim.taskArn)
          ? tasks
          : undefined;
      },
      'a replacement RUNNING',
      60_000,
    );
    expect(replaced).toHaveLength(3);
    const [stopped] = await topology!.describeTasks([victim.taskArn!]);
    expect(stopped).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
    await waitUntilServicesStable(
      { client: ecs, ...WAIT },
      { cluster: CLUSTER, services: [SERVICE] },
    );
    const messages = (await describeService()).events!.map((e) => e.message);
    expect(messages).toContainEqual(
      expect.stringMatching(/^\(service web\) has started 1 tasks: \(task [0-9a-f]{32}\)\.$/),
    );
  });

  it('replaces the tasks of a lost host elsewhere, and stops them there when it returns', async () => {
    const before = await serviceTasks();
    const lostHost = topology!.hosts.find((h) =>
      before.some((t) => t.containerInstanceArn === h.containerInstanceArn),
    )!;
    const lostTasks = before.filter(
      (t) => t.containerInstanceArn === lostHost.containerInstanceArn,
    );
    // A frozen host: no heartbeats, its containers stay as they are (as after a partition).
    await outerDocker(['pause', lostHost.container.getId()]);
    const frozenAt = Date.now();
    try {
      const after = await eventually(
        async () => {
          const tasks = await serviceTasks();
          return tasks.length === 3 &&
            tasks.every(
              (t) =>
                t.lastStatus === 'RUNNING' &&
                t.containerInstanceArn !== lostHost.containerInstanceArn,
            )
            ? tasks
            : undefined;
        },
        'the lost host’s tasks RUNNING elsewhere',
        90_000,
      );
      // Seen by the test, not asserted (timings vary): the target is 10 s by default.
      process.stdout.write(
        `lost host: replacements RUNNING ${((Date.now() - frozenAt) / 1000).toFixed(1)} s after it froze\n`,
      );
      expect(after).toHaveLength(3);
      const stopped = await topology!.describeTasks(lostTasks.map((t) => t.taskArn!));
      for (const t of stopped) {
        expect(t).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'ServiceSchedulerInitiated' });
        expect(t.stoppedReason).toMatch(/^Container instance was lost/);
      }
    } finally {
      await outerDocker(['unpause', lostHost.container.getId()]);
    }
    // Back: its agent learns the tasks are STOPPED and stops what is left of them.
    await eventually(
      async () => {
        for (const t of lostTasks) {
          const running = await lostHost.docker([
            'ps',
            '-q',
            '--filter',
            `label=com.wharf.task-arn=${t.taskArn}`,
          ]);
          if (running.trim() !== '') return undefined;
        }
        return true;
      },
      'the returned host’s leftover containers stopped',
      60_000,
    );
    await waitUntilServicesStable(
      { client: ecs, ...WAIT },
      { cluster: CLUSTER, services: [SERVICE] },
    );
  });

  it('rolls out a new task definition within 200% and 100% of the desired count', async () => {
    const v2 = await register('2');
    const v2Arn = v2.taskDefinition!.taskDefinitionArn!;
    await ecs.send(
      new UpdateServiceCommand({ cluster: CLUSTER, service: SERVICE, taskDefinition: v2Arn }),
    );

    // Watch the rollout: never more than 6 tasks (200%), never fewer than 3 healthy (100%).
    const watch = watchOccupancy();
    try {
      await eventually(
        async () => {
          const s = await describeService();
          return s.deployments?.length === 1 &&
            s.deployments[0].taskDefinition === v2Arn &&
            s.deployments[0].rolloutState === 'COMPLETED'
            ? s
            : undefined;
        },
        'the new deployment COMPLETED',
        120_000,
      );
    } finally {
      const { most, fewestRunning } = await watch.stop();
      expect(most).toBeLessThanOrEqual(6);
      expect(fewestRunning).toBeGreaterThanOrEqual(3);
    }
    const tasks = await serviceTasks();
    expect(tasks).toHaveLength(3);
    expect(tasks.every((t) => t.taskDefinitionArn === v2Arn && t.lastStatus === 'RUNNING')).toBe(
      true,
    );
    const messages = (await describeService()).events!.map((e) => e.message);
    expect(messages).toContainEqual(
      expect.stringMatching(
        /^\(service web\) \(deployment ecs-svc\/\d{19}\) deployment completed\.$/,
      ),
    );
  });

  it('carries a deployment through when the scheduler leader is killed mid-way', async () => {
    const schedulers = topology!.services.schedulers;
    const leader = await eventually(
      async () => {
        for (const s of schedulers) if ((await leadership(s)).leader) return s;
        return undefined;
      },
      'a service scheduler leader',
      30_000,
    );
    const follower = schedulers.find((s) => s !== leader)!;
    const v3 = await register('3');
    const v3Arn = v3.taskDefinition!.taskDefinitionArn!;
    const watch = watchOccupancy();
    try {
      await ecs.send(
        new UpdateServiceCommand({ cluster: CLUSTER, service: SERVICE, taskDefinition: v3Arn }),
      );
      await new Promise((r) => setTimeout(r, 300)); // the leader has begun the deployment
      await outerDocker(['kill', '--signal', 'KILL', leader.container.getId()]);
      const killedAt = Date.now();
      await eventually(
        async () => {
          const s = await describeService();
          return s.deployments?.length === 1 &&
            s.deployments[0].taskDefinition === v3Arn &&
            s.deployments[0].rolloutState === 'COMPLETED'
            ? s
            : undefined;
        },
        'the deployment COMPLETED by the new leader',
        120_000,
      );
      const took = await leadership(follower);
      expect(took.leader).toBe(true);
      process.stdout.write(
        `leader killed: the other replica led ${((took.since! - killedAt) / 1000).toFixed(1)} s later\n`,
      );
    } finally {
      const { most, fewestRunning } = await watch.stop();
      expect(most).toBeLessThanOrEqual(6);
      expect(fewestRunning).toBeGreaterThanOrEqual(3);
    }
    const tasks = await serviceTasks();
    expect(tasks).toHaveLength(3);
    expect(tasks.every((t) => t.taskDefinitionArn === v3Arn && t.lastStatus === 'RUNNING')).toBe(
      true,
    );
  });

  it('scales in, refuses to delete a service still scaled up, then drains it to INACTIVE', async () => {
    await ecs.send(
      new UpdateServiceCommand({ cluster: CLUSTER, service: SERVICE, desiredCount: 1 }),
    );
    await waitUntilServicesStable(
      { client: ecs, ...WAIT },
      { cluster: CLUSTER, services: [SERVICE] },
    );
    expect((await serviceTasks()).length).toBe(1);

    await expect(
      ecs.send(new DeleteServiceCommand({ cluster: CLUSTER, service: SERVICE })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });

    const deleted = await ecs.send(
      new DeleteServiceCommand({ cluster: CLUSTER, service: SERVICE, force: true }),
    );
    expect(deleted.service).toMatchObject({ status: 'DRAINING', desiredCount: 0 });
    await waitUntilServicesInactive(
      { client: ecs, ...WAIT },
      { cluster: CLUSTER, services: [SERVICE] },
    );
    expect(await serviceTasks()).toEqual([]);
  });
});
