/**
 * The ECS API through the AWS SDK v3, end to end on the containerised topology (two real
 * hosts): what a user's tools see. Clusters (tags, settings, paging, deletion refused while a
 * service remains), task definition revisions from registration to deletion, container
 * instances (attributes, draining), tasks (RunTask and StartTask with the SDK's waiters),
 * a service from stable to INACTIVE with task protection, account settings per access key, and
 * the errors: ECS's exception names and messages, and requests that fail authentication
 * changing nothing.
 */
import {
  ClusterContainsServicesException,
  ClusterNotFoundException,
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  CreateServiceCommand,
  CreateTaskSetCommand,
  DeleteAccountSettingCommand,
  DeleteAttributesCommand,
  DeleteClusterCommand,
  DeregisterContainerInstanceCommand,
  DeleteServiceCommand,
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  GetTaskProtectionCommand,
  InvalidParameterException,
  ListAccountSettingsCommand,
  ListServicesCommand,
  ListAttributesCommand,
  ListClustersCommand,
  ListContainerInstancesCommand,
  ListTagsForResourceCommand,
  ListTaskDefinitionFamiliesCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  paginateListClusters,
  PutAccountSettingCommand,
  PutAccountSettingDefaultCommand,
  PutAttributesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  ServiceNotFoundException,
  StartTaskCommand,
  StopTaskCommand,
  TagResourceCommand,
  UnsupportedFeatureException,
  UntagResourceCommand,
  UpdateClusterCommand,
  UpdateClusterSettingsCommand,
  UpdateContainerInstancesStateCommand,
  UpdateServiceCommand,
  UpdateTaskProtectionCommand,
  waitUntilServicesInactive,
  waitUntilServicesStable,
  waitUntilTasksRunning,
  waitUntilTasksStopped,
  type ECSServiceException,
} from '@aws-sdk/client-ecs';
import { IMAGES, startTopology, type AccessKey, type Topology } from '@wharf/testing';

jest.setTimeout(600_000);

const ACCOUNT = '000000000000';
const ARN_PREFIX = `arn:aws:ecs:us-east-1:${ACCOUNT}`;
const CLUSTER = 'default';
/** The workload's task definition family: one container that sleeps until told to stop. */
const SLEEPER = 'e2e-api-sleeper';
/** The SDK waiters, polling every second or two rather than their 6–15 s defaults. */
const WAIT = { maxWaitTime: 120, minDelay: 1, maxDelay: 2 };
const ID = '[0-9a-f]{32}';

/** The error `promise` rejects with (it must reject). */
async function failure(promise: Promise<unknown>): Promise<ECSServiceException> {
  try {
    await promise;
  } catch (err) {
    return err as ECSServiceException;
  }
  throw new Error('expected the request to fail');
}

describe('the ECS API through the AWS SDK, on two real hosts', () => {
  let topology: Topology | undefined;
  let ecs: ECSClient;
  /** Clients this file made besides the topology's, destroyed at the end. */
  const clients: ECSClient[] = [];

  /** An ECS client of the api signing with `credentials`, trying once (no retries). */
  const clientWith = (credentials: AccessKey): ECSClient => {
    const client = new ECSClient({
      endpoint: topology!.services.api.url,
      region: 'us-east-1',
      credentials,
      maxAttempts: 1,
    });
    clients.push(client);
    return client;
  };

  /** Every cluster ARN, page by page through the SDK's paginator. */
  async function allClusterArns(client = ecs, pageSize = 2): Promise<string[]> {
    const arns: string[] = [];
    for await (const page of paginateListClusters({ client, pageSize }, {})) {
      arns.push(...(page.clusterArns ?? []));
    }
    return arns;
  }

  beforeAll(async () => {
    topology = await startTopology({
      // RUNNING is healthy at once, so a service is stable within seconds.
      commonEnv: { SERVICE_HEALTHY_AFTER_RUNNING_MS: '0' },
    });
    ({ ecs } = topology);
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: SLEEPER,
        containerDefinitions: [
          {
            name: 'sleeper',
            image: IMAGES.workload,
            essential: true,
            memory: 32,
            cpu: 64,
            command: ['sh', '-c', "trap 'exit 143' TERM; while true; do sleep 1; done"],
            stopTimeout: 2,
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await topology?.stop();
  });

  it('creates, pages, describes, tags and updates clusters', async () => {
    const created = await ecs.send(
      new CreateClusterCommand({
        clusterName: 'e2e-api-a',
        tags: [{ key: 'team', value: 'platform' }],
        settings: [{ name: 'containerInsights', value: 'enabled' }],
      }),
    );
    expect(created.cluster).toMatchObject({
      clusterArn: `${ARN_PREFIX}:cluster/e2e-api-a`,
      clusterName: 'e2e-api-a',
      status: 'ACTIVE',
      registeredContainerInstancesCount: 0,
      runningTasksCount: 0,
      pendingTasksCount: 0,
      activeServicesCount: 0,
      tags: [{ key: 'team', value: 'platform' }],
      settings: [{ name: 'containerInsights', value: 'enabled' }],
    });
    for (const name of ['e2e-api-b', 'e2e-api-c', 'e2e-api-d']) {
      await ecs.send(new CreateClusterCommand({ clusterName: name }));
    }
    const expected = ['default', 'e2e-api-a', 'e2e-api-b', 'e2e-api-c', 'e2e-api-d'].map(
      (name) => `${ARN_PREFIX}:cluster/${name}`,
    );

    // By hand: two a page, following nextToken to the end (ListClusters pages by name).
    const pages: string[][] = [];
    let nextToken: string | undefined;
    do {
      const page = await ecs.send(new ListClustersCommand({ maxResults: 2, nextToken }));
      pages.push(page.clusterArns ?? []);
      nextToken = page.nextToken;
    } while (nextToken);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.slice(0, -1).every((p) => p.length === 2)).toBe(true);
    expect(pages.flat().sort()).toEqual(expected);
    // And with the SDK's paginator.
    expect((await allClusterArns()).sort()).toEqual(expected);

    const described = await ecs.send(
      new DescribeClustersCommand({
        clusters: ['e2e-api-a', `${ARN_PREFIX}:cluster/default`, 'e2e-api-nope'],
        include: ['TAGS', 'SETTINGS'],
      }),
    );
    expect(described.clusters?.map((c) => c.clusterName)).toEqual(['e2e-api-a', 'default']);
    expect(described.clusters![0]).toMatchObject({
      tags: [{ key: 'team', value: 'platform' }],
      settings: [{ name: 'containerInsights', value: 'enabled' }],
    });
    expect(described.clusters![1]).toMatchObject({
      status: 'ACTIVE',
      registeredContainerInstancesCount: 2,
      settings: [{ name: 'containerInsights', value: 'disabled' }],
    });
    expect(described.failures).toEqual([
      { arn: `${ARN_PREFIX}:cluster/e2e-api-nope`, reason: 'MISSING' },
    ]);
    // Without `include`, neither tags nor settings.
    const plain = await ecs.send(new DescribeClustersCommand({ clusters: ['e2e-api-a'] }));
    expect(plain.clusters![0].tags).toBeUndefined();
    expect(plain.clusters![0].settings).toBeUndefined();

    const updated = await ecs.send(
      new UpdateClusterSettingsCommand({
        cluster: 'e2e-api-a',
        settings: [{ name: 'containerInsights', value: 'enhanced' }],
      }),
    );
    expect(updated.cluster?.settings).toEqual([{ name: 'containerInsights', value: 'enhanced' }]);
    const reconfigured = await ecs.send(
      new UpdateClusterCommand({
        cluster: 'e2e-api-b',
        settings: [{ name: 'containerInsights', value: 'enabled' }],
        configuration: { executeCommandConfiguration: { logging: 'DEFAULT' } },
      }),
    );
    expect(reconfigured.cluster).toMatchObject({
      clusterName: 'e2e-api-b',
      settings: [{ name: 'containerInsights', value: 'enabled' }],
      configuration: { executeCommandConfiguration: { logging: 'DEFAULT' } },
    });

    const clusterArn = `${ARN_PREFIX}:cluster/e2e-api-a`;
    await ecs.send(
      new TagResourceCommand({
        resourceArn: clusterArn,
        tags: [
          { key: 'env', value: 'e2e' },
          { key: 'team', value: 'runtime' },
        ],
      }),
    );
    const tagged = await ecs.send(new ListTagsForResourceCommand({ resourceArn: clusterArn }));
    expect(tagged.tags?.sort((a, b) => a.key!.localeCompare(b.key!))).toEqual([
      { key: 'env', value: 'e2e' },
      { key: 'team', value: 'runtime' },
    ]);
    await ecs.send(new UntagResourceCommand({ resourceArn: clusterArn, tagKeys: ['team'] }));
    expect(
      (await ecs.send(new ListTagsForResourceCommand({ resourceArn: clusterArn }))).tags,
    ).toEqual([{ key: 'env', value: 'e2e' }]);
  });

  it('registers, lists, describes, deregisters and deletes task definition revisions', async () => {
    const family = 'e2e-api-td';
    const register = (memory: number) =>
      ecs.send(
        new RegisterTaskDefinitionCommand({
          family,
          containerDefinitions: [{ name: 'app', image: IMAGES.workload, memory }],
          tags: [{ key: 'revision-memory', value: String(memory) }],
        }),
      );
    const first = await register(16);
    const second = await register(24);
    expect(first.taskDefinition).toMatchObject({
      taskDefinitionArn: `${ARN_PREFIX}:task-definition/${family}:1`,
      family,
      revision: 1,
      status: 'ACTIVE',
    });
    expect(first.taskDefinition?.registeredAt).toBeInstanceOf(Date);
    expect(first.tags).toEqual([{ key: 'revision-memory', value: '16' }]);
    expect(second.taskDefinition?.revision).toBe(2);
    const [arn1, arn2] = [1, 2].map((r) => `${ARN_PREFIX}:task-definition/${family}:${r}`);

    const families = await ecs.send(
      new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'e2e-api' }),
    );
    expect(families.families?.sort()).toEqual([SLEEPER, family].sort());

    // Newest first, one a page.
    const page1 = await ecs.send(
      new ListTaskDefinitionsCommand({ familyPrefix: family, sort: 'DESC', maxResults: 1 }),
    );
    expect(page1.taskDefinitionArns).toEqual([arn2]);
    expect(page1.nextToken).toEqual(expect.any(String));
    const page2 = await ecs.send(
      new ListTaskDefinitionsCommand({
        familyPrefix: family,
        sort: 'DESC',
        maxResults: 1,
        nextToken: page1.nextToken,
      }),
    );
    expect(page2.taskDefinitionArns).toEqual([arn1]);
    if (page2.nextToken) {
      const page3 = await ecs.send(
        new ListTaskDefinitionsCommand({
          familyPrefix: family,
          sort: 'DESC',
          maxResults: 1,
          nextToken: page2.nextToken,
        }),
      );
      expect(page3.taskDefinitionArns).toEqual([]);
    }

    // A family alone is its latest ACTIVE revision; tags only when asked for.
    const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family }));
    expect(latest.taskDefinition?.taskDefinitionArn).toBe(arn2);
    expect(latest.taskDefinition?.containerDefinitions?.[0]).toMatchObject({
      name: 'app',
      memory: 24,
    });
    expect(latest.tags).toBeUndefined();
    const withTags = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: `${family}:1`, include: ['TAGS'] }),
    );
    expect(withTags.tags).toEqual([{ key: 'revision-memory', value: '16' }]);

    const deregistered = await ecs.send(
      new DeregisterTaskDefinitionCommand({ taskDefinition: `${family}:1` }),
    );
    expect(deregistered.taskDefinition).toMatchObject({
      taskDefinitionArn: arn1,
      status: 'INACTIVE',
    });
    expect(deregistered.taskDefinition?.deregisteredAt).toBeInstanceOf(Date);
    const active = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family }));
    expect(active.taskDefinitionArns).toEqual([arn2]);
    const inactive = await ecs.send(
      new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'INACTIVE' }),
    );
    expect(inactive.taskDefinitionArns).toEqual([arn1]);

    // Only an INACTIVE revision can be deleted; the ACTIVE one is a failure.
    const deleted = await ecs.send(
      new DeleteTaskDefinitionsCommand({ taskDefinitions: [`${family}:1`, `${family}:2`] }),
    );
    expect(deleted.taskDefinitions).toEqual([
      expect.objectContaining({ taskDefinitionArn: arn1, status: 'DELETE_IN_PROGRESS' }),
    ]);
    expect(deleted.failures).toEqual([expect.objectContaining({ arn: arn2 })]);
  });

  it('lists and describes container instances, keeps their attributes, and drains one', async () => {
    const listed = await ecs.send(new ListContainerInstancesCommand({ cluster: CLUSTER }));
    const hostArns = topology!.hosts.map((h) => h.containerInstanceArn);
    expect(listed.containerInstanceArns?.sort()).toEqual([...hostArns].sort());
    for (const arn of hostArns) {
      expect(arn).toMatch(new RegExp(`^${ARN_PREFIX}:container-instance/default/${ID}$`));
    }

    const described = await ecs.send(
      new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: hostArns }),
    );
    expect(described.failures).toEqual([]);
    expect(described.containerInstances?.map((ci) => ci.containerInstanceArn)).toEqual(hostArns);
    for (const ci of described.containerInstances!) {
      expect(ci).toMatchObject({ status: 'ACTIVE', agentConnected: true });
      expect(ci.registeredAt).toBeInstanceOf(Date);
      const registered = Object.fromEntries(
        (ci.registeredResources ?? []).map((r) => [r.name, r.integerValue]),
      );
      expect(registered).toMatchObject({ CPU: 2048, MEMORY: 1024 });
    }

    const [first, second] = hostArns;
    const attribute = { name: 'e2e.disk', value: 'ssd', targetType: 'container-instance' } as const;
    const put = await ecs.send(
      new PutAttributesCommand({
        cluster: CLUSTER,
        attributes: [{ ...attribute, targetId: first }],
      }),
    );
    expect(put.attributes).toEqual([{ ...attribute, targetId: first }]);
    const found = await ecs.send(
      new ListAttributesCommand({
        cluster: CLUSTER,
        targetType: 'container-instance',
        attributeName: 'e2e.disk',
      }),
    );
    expect(found.attributes).toEqual([{ ...attribute, targetId: first }]);
    const withAttribute = await ecs.send(
      new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: [first] }),
    );
    expect(withAttribute.containerInstances![0].attributes).toContainEqual(
      expect.objectContaining({ name: 'e2e.disk', value: 'ssd' }),
    );
    await ecs.send(
      new DeleteAttributesCommand({
        cluster: CLUSTER,
        attributes: [{ ...attribute, targetId: first }],
      }),
    );
    const gone = await ecs.send(
      new ListAttributesCommand({
        cluster: CLUSTER,
        targetType: 'container-instance',
        attributeName: 'e2e.disk',
      }),
    );
    expect(gone.attributes).toEqual([]);

    const drained = await ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: CLUSTER,
        containerInstances: [second],
        status: 'DRAINING',
      }),
    );
    expect(drained.failures).toEqual([]);
    expect(drained.containerInstances).toEqual([
      expect.objectContaining({ containerInstanceArn: second, status: 'DRAINING' }),
    ]);
    const draining = await ecs.send(
      new ListContainerInstancesCommand({ cluster: CLUSTER, status: 'DRAINING' }),
    );
    expect(draining.containerInstanceArns).toEqual([second]);
    const restored = await ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: CLUSTER,
        containerInstances: [second],
        status: 'ACTIVE',
      }),
    );
    expect(restored.containerInstances?.[0].status).toBe('ACTIVE');
    expect(
      (await ecs.send(new ListContainerInstancesCommand({ cluster: CLUSTER, status: 'DRAINING' })))
        .containerInstanceArns,
    ).toEqual([]);
  });

  it('runs, starts and stops tasks, with the SDK waiters', async () => {
    const run = await ecs.send(
      new RunTaskCommand({
        cluster: CLUSTER,
        taskDefinition: SLEEPER,
        count: 2,
        tags: [{ key: 'purpose', value: 'e2e' }],
      }),
    );
    expect(run.failures).toEqual([]);
    expect(run.tasks).toHaveLength(2);
    const taskArns = run.tasks!.map((t) => t.taskArn!);
    for (const task of run.tasks!) {
      expect(task.taskArn).toMatch(new RegExp(`^${ARN_PREFIX}:task/default/${ID}$`));
      expect(task).toMatchObject({
        clusterArn: `${ARN_PREFIX}:cluster/default`,
        taskDefinitionArn: `${ARN_PREFIX}:task-definition/${SLEEPER}:1`,
        desiredStatus: 'RUNNING',
        launchType: 'EC2',
        tags: [{ key: 'purpose', value: 'e2e' }],
      });
      expect(task.createdAt).toBeInstanceOf(Date);
    }

    await waitUntilTasksRunning({ client: ecs, ...WAIT }, { cluster: CLUSTER, tasks: taskArns });
    const running = await ecs.send(
      new DescribeTasksCommand({ cluster: CLUSTER, tasks: taskArns, include: ['TAGS'] }),
    );
    expect(running.failures).toEqual([]);
    for (const task of running.tasks!) {
      expect(task).toMatchObject({
        lastStatus: 'RUNNING',
        tags: [{ key: 'purpose', value: 'e2e' }],
      });
      expect(task.startedAt).toBeInstanceOf(Date);
      expect(task.containers?.[0]).toMatchObject({ name: 'sleeper', lastStatus: 'RUNNING' });
      expect(topology!.hosts.map((h) => h.containerInstanceArn)).toContain(
        task.containerInstanceArn,
      );
    }
    const listed = await ecs.send(new ListTasksCommand({ cluster: CLUSTER, family: SLEEPER }));
    expect(listed.taskArns?.sort()).toEqual([...taskArns].sort());

    for (const task of taskArns) {
      const stopped = await ecs.send(
        new StopTaskCommand({ cluster: CLUSTER, task, reason: 'e2e-api done' }),
      );
      expect(stopped.task).toMatchObject({ taskArn: task, desiredStatus: 'STOPPED' });
    }
    await waitUntilTasksStopped({ client: ecs, ...WAIT }, { cluster: CLUSTER, tasks: taskArns });
    for (const task of await topology!.describeTasks(taskArns)) {
      expect(task).toMatchObject({
        lastStatus: 'STOPPED',
        stopCode: 'UserInitiated',
        stoppedReason: 'e2e-api done',
      });
      expect(task.stoppedAt).toBeInstanceOf(Date);
    }
    expect((await ecs.send(new ListTasksCommand({ cluster: CLUSTER }))).taskArns).toEqual([]);

    // StartTask: on the instance named, not where the scheduler would choose.
    const instance = topology!.hosts[1].containerInstanceArn;
    const started = await ecs.send(
      new StartTaskCommand({
        cluster: CLUSTER,
        taskDefinition: `${SLEEPER}:1`,
        containerInstances: [instance.split('/').pop()!],
        startedBy: 'e2e-api',
      }),
    );
    expect(started.failures).toEqual([]);
    expect(started.tasks).toEqual([
      expect.objectContaining({ containerInstanceArn: instance, startedBy: 'e2e-api' }),
    ]);
    const startedArn = started.tasks![0].taskArn!;
    await waitUntilTasksRunning(
      { client: ecs, ...WAIT },
      { cluster: CLUSTER, tasks: [startedArn] },
    );
    expect(
      (await ecs.send(new ListTasksCommand({ cluster: CLUSTER, startedBy: 'e2e-api' }))).taskArns,
    ).toEqual([startedArn]);
    await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: startedArn }));
    await waitUntilTasksStopped(
      { client: ecs, ...WAIT },
      { cluster: CLUSTER, tasks: [startedArn] },
    );
  });

  it('runs a service to stable, protects its task, and deletes it to INACTIVE', async () => {
    const serviceName = 'e2e-api-svc';
    const created = await ecs.send(
      new CreateServiceCommand({
        cluster: CLUSTER,
        serviceName,
        taskDefinition: SLEEPER,
        desiredCount: 1,
      }),
    );
    expect(created.service).toMatchObject({
      serviceArn: `${ARN_PREFIX}:service/default/${serviceName}`,
      serviceName,
      clusterArn: `${ARN_PREFIX}:cluster/default`,
      status: 'ACTIVE',
      desiredCount: 1,
      launchType: 'EC2',
      schedulingStrategy: 'REPLICA',
    });
    expect(created.service?.createdAt).toBeInstanceOf(Date);

    await waitUntilServicesStable(
      { client: ecs, ...WAIT },
      { cluster: CLUSTER, services: [serviceName] },
    );
    const services = await ecs.send(new ListServicesCommand({ cluster: CLUSTER }));
    expect(services.serviceArns).toContain(created.service!.serviceArn);
    const { taskArns } = await ecs.send(new ListTasksCommand({ cluster: CLUSTER, serviceName }));
    expect(taskArns).toHaveLength(1);
    const [taskArn] = taskArns!;

    const before = Date.now();
    const protectedNow = await ecs.send(
      new UpdateTaskProtectionCommand({
        cluster: CLUSTER,
        tasks: [taskArn],
        protectionEnabled: true,
        expiresInMinutes: 60,
      }),
    );
    expect(protectedNow.failures).toEqual([]);
    expect(protectedNow.protectedTasks).toEqual([
      { taskArn, protectionEnabled: true, expirationDate: expect.any(Date) },
    ]);
    const expires = protectedNow.protectedTasks![0].expirationDate!.getTime();
    // Whole seconds on the wire: allow for the rounding.
    expect(expires).toBeGreaterThanOrEqual(before + 60 * 60_000 - 1_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 60 * 60_000 + 1_000);
    const read = await ecs.send(
      new GetTaskProtectionCommand({ cluster: CLUSTER, tasks: [taskArn] }),
    );
    expect(read.protectedTasks).toEqual(protectedNow.protectedTasks);
    const unprotected = await ecs.send(
      new UpdateTaskProtectionCommand({
        cluster: CLUSTER,
        tasks: [taskArn],
        protectionEnabled: false,
      }),
    );
    expect(unprotected.protectedTasks).toEqual([{ taskArn, protectionEnabled: false }]);

    const scaledIn = await ecs.send(
      new UpdateServiceCommand({ cluster: CLUSTER, service: serviceName, desiredCount: 0 }),
    );
    expect(scaledIn.service?.desiredCount).toBe(0);
    const deleted = await ecs.send(
      new DeleteServiceCommand({ cluster: CLUSTER, service: serviceName }),
    );
    expect(deleted.service?.status).toBe('DRAINING');
    await waitUntilServicesInactive(
      { client: ecs, ...WAIT },
      { cluster: CLUSTER, services: [serviceName] },
    );
    const [task] = await topology!.describeTasks([taskArn]);
    expect(task.lastStatus).toBe('STOPPED');
  });

  it('refuses to delete a cluster that has a service, then deletes it once the service is gone', async () => {
    const cluster = 'e2e-api-doomed';
    await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    await ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: 'idle',
        taskDefinition: SLEEPER,
        desiredCount: 0,
      }),
    );
    const refused = await failure(ecs.send(new DeleteClusterCommand({ cluster })));
    expect(refused).toBeInstanceOf(ClusterContainsServicesException);
    expect(refused.$metadata.httpStatusCode).toBe(400);

    await ecs.send(new DeleteServiceCommand({ cluster, service: 'idle' }));
    await waitUntilServicesInactive({ client: ecs, ...WAIT }, { cluster, services: ['idle'] });
    const deleted = await ecs.send(new DeleteClusterCommand({ cluster }));
    expect(deleted.cluster).toMatchObject({
      clusterArn: `${ARN_PREFIX}:cluster/${cluster}`,
      status: 'INACTIVE',
    });
    // Still described (as INACTIVE), no longer listed.
    const described = await ecs.send(new DescribeClustersCommand({ clusters: [cluster] }));
    expect(described.clusters?.[0].status).toBe('INACTIVE');
    expect(await allClusterArns()).not.toContain(`${ARN_PREFIX}:cluster/${cluster}`);
  });

  it('keeps account settings per access key', async () => {
    const { accessKeyId } = topology!.credentials;
    const principalArn = `arn:aws:iam::${ACCOUNT}:user/${accessKeyId}`;
    const put = await ecs.send(
      new PutAccountSettingCommand({ name: 'containerInsights', value: 'enabled' }),
    );
    expect(put.setting).toEqual({
      name: 'containerInsights',
      value: 'enabled',
      principalArn,
      type: 'user',
    });

    const effective = await ecs.send(
      new ListAccountSettingsCommand({ effectiveSettings: true, name: 'containerInsights' }),
    );
    expect(effective.settings).toEqual([
      expect.objectContaining({ name: 'containerInsights', value: 'enabled', principalArn }),
    ]);
    const all = await ecs.send(new ListAccountSettingsCommand({ effectiveSettings: true }));
    const byName = Object.fromEntries((all.settings ?? []).map((s) => [s.name, s.value]));
    expect(byName).toMatchObject({
      containerInsights: 'enabled',
      serviceLongArnFormat: 'enabled',
      awsvpcTrunking: 'disabled',
    });

    // Another key is another principal: ECS's default is in effect for it.
    const issued = await topology!.services.api.container.exec([
      'wharf',
      'admin',
      'access-key',
      'create',
      '--name',
      'e2e-api-second',
    ]);
    expect(issued.exitCode).toBe(0);
    const other = clientWith(JSON.parse(issued.stdout) as AccessKey);
    const theirs = await other.send(
      new ListAccountSettingsCommand({ effectiveSettings: true, name: 'containerInsights' }),
    );
    expect(theirs.settings?.map((s) => s.value)).toEqual(['disabled']);

    // The account default applies to every principal without a setting of its own.
    const byDefault = await ecs.send(
      new PutAccountSettingDefaultCommand({ name: 'containerInsights', value: 'enhanced' }),
    );
    expect(byDefault.setting).toMatchObject({
      name: 'containerInsights',
      value: 'enhanced',
      principalArn: `arn:aws:iam::${ACCOUNT}:root`,
    });
    const theirsNow = await other.send(
      new ListAccountSettingsCommand({ effectiveSettings: true, name: 'containerInsights' }),
    );
    expect(theirsNow.settings?.map((s) => s.value)).toEqual(['enhanced']);
    // Deleting a principal's own setting falls back to the default.
    const deleted = await ecs.send(new DeleteAccountSettingCommand({ name: 'containerInsights' }));
    expect(deleted.setting).toMatchObject({ value: 'enabled', principalArn });
    const mineNow = await ecs.send(
      new ListAccountSettingsCommand({ effectiveSettings: true, name: 'containerInsights' }),
    );
    expect(mineNow.settings?.map((s) => s.value)).toEqual(['enhanced']);
    await ecs.send(
      new PutAccountSettingDefaultCommand({ name: 'containerInsights', value: 'disabled' }),
    );
  });

  it('answers ECS errors, and changes nothing for requests that fail authentication', async () => {
    const unknownCluster = await failure(
      ecs.send(new DescribeServicesCommand({ cluster: 'e2e-api-nope', services: ['web'] })),
    );
    expect(unknownCluster).toBeInstanceOf(ClusterNotFoundException);
    expect(unknownCluster.$metadata.httpStatusCode).toBe(400);

    const tooMany = await failure(
      ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: SLEEPER, count: 11 })),
    );
    expect(tooMany).toBeInstanceOf(InvalidParameterException);
    expect(tooMany.message).toMatch(/\bcount\b/);
    expect((await ecs.send(new ListTasksCommand({ cluster: CLUSTER }))).taskArns).toEqual([]);

    const noService = await failure(
      ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'nope', desiredCount: 1 })),
    );
    expect(noService).toBeInstanceOf(ServiceNotFoundException);

    // An operation Wharf does not serve, declaring UnsupportedFeatureException: refused so,
    // naming itself and why, before its input is looked at.
    const taskSet = await failure(
      ecs.send(
        new CreateTaskSetCommand({ cluster: CLUSTER, service: 'web', taskDefinition: SLEEPER }),
      ),
    );
    expect(taskSet).toBeInstanceOf(UnsupportedFeatureException);
    expect(taskSet.message).toMatch(/^CreateTaskSet is not supported by Wharf: \S/);
    // CreateCapacityProvider's exception class is left out: the SDK's model declares
    // UnsupportedFeatureException for it, Wharf's older reference model does not, so Wharf
    // answers ClientException (reported; to be decided).
    const capacityProvider = await failure(
      ecs.send(
        new CreateCapacityProviderCommand({
          name: 'e2e',
          autoScalingGroupProvider: { autoScalingGroupArn: 'arn:aws:autoscaling:x' },
        }),
      ),
    );
    expect(capacityProvider.$metadata.httpStatusCode).toBe(400);
    expect(capacityProvider.message).toMatch(
      /^CreateCapacityProvider is not supported by Wharf: there are no Auto Scaling groups/,
    );

    const clustersBefore = await allClusterArns();
    const { accessKeyId, secretAccessKey } = topology!.credentials;
    const wrongSecret = clientWith({ accessKeyId, secretAccessKey: `${secretAccessKey}x` });
    const unknownKey = clientWith({ accessKeyId: 'AKIAE2EUNKNOWN000000', secretAccessKey });
    for (const [client, expected] of [
      [wrongSecret, 'InvalidSignatureException'],
      [unknownKey, 'UnrecognizedClientException'],
    ] as const) {
      const refused = await failure(
        client.send(new CreateClusterCommand({ clusterName: 'e2e-api-unsigned' })),
      );
      expect(refused.name).toBe(expected);
      expect(refused.$metadata.httpStatusCode).toBe(400);
      const listing = await failure(client.send(new ListClustersCommand({})));
      expect(listing.name).toBe(expected);
    }
    expect(await allClusterArns()).toEqual(clustersBefore);
    expect(clustersBefore).not.toContain(`${ARN_PREFIX}:cluster/e2e-api-unsigned`);
  });

  // Last: the host stays deregistered for the rest of the topology's life.
  it('deregisters a container instance, which is INACTIVE and no longer listed', async () => {
    const arn = topology!.hosts[1].containerInstanceArn;
    const res = await ecs.send(
      new DeregisterContainerInstanceCommand({
        cluster: CLUSTER,
        containerInstance: arn.split('/').pop(),
      }),
    );
    expect(res.containerInstance).toMatchObject({ containerInstanceArn: arn, status: 'INACTIVE' });
    const listed = await ecs.send(new ListContainerInstancesCommand({ cluster: CLUSTER }));
    expect(listed.containerInstanceArns).toEqual([topology!.hosts[0].containerInstanceArn]);
    const described = await ecs.send(
      new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: [arn] }),
    );
    expect(described.containerInstances?.[0].status).toBe('INACTIVE');
  });
});
