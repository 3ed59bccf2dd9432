/**
 * The api against the real state (Postgres, NATS from Testcontainers) and the real
 * scheduler, all in this process, driven with the AWS SDK as a user would. Placement on real
 * instances is covered by the e2e test.
 */
import {
  ClientException,
  ClusterNotFoundException,
  CreateClusterCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  ListClustersCommand,
  ListContainerInstancesCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { createServer } from 'node:net';
import { createLogger } from '@wharf/observability';
import { createStateClient } from '@wharf/proto';
import { firstValueFrom } from 'rxjs';
import { startControlPlane } from './control-plane-test-fixtures';

jest.setTimeout(180_000);

const TARGET = 'AmazonEC2ContainerServiceV20141113';

describe('api (ECS JSON 1.1) against real state and scheduler', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let url: string;
  let ecs: ECSClient;
  let stateUrl: string;

  const raw = (
    target: string | undefined,
    body: string,
    contentType = 'application/x-amz-json-1.1',
  ) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(target ? { 'x-amz-target': target } : {}) },
      body,
    });

  beforeAll(async () => {
    const plane = await startControlPlane({
      logger: createLogger('api-int', process.env.LOG_LEVEL ?? 'warn'),
    });
    stops.push(() => plane.stop());
    stateUrl = plane.state.grpcUrl;
    url = plane.api.url;
    ecs = new ECSClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    ecs?.destroy();
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('has the default cluster', async () => {
    const res = await ecs.send(new ListClustersCommand({}));
    expect(res.clusterArns).toContain('arn:aws:ecs:us-east-1:000000000000:cluster/default');
    const described = await ecs.send(new DescribeClustersCommand({}));
    expect(described.clusters?.[0]).toMatchObject({ clusterName: 'default', status: 'ACTIVE' });
  });

  it('creates and describes a cluster', async () => {
    const created = await ecs.send(new CreateClusterCommand({ clusterName: 'blue' }));
    expect(created.cluster).toMatchObject({
      clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/blue',
      clusterName: 'blue',
      status: 'ACTIVE',
      registeredContainerInstancesCount: 0,
      settings: [{ name: 'containerInsights', value: 'disabled' }],
    });
    const res = await ecs.send(new DescribeClustersCommand({ clusters: ['blue', 'nope'] }));
    expect(res.clusters?.map((c) => c.clusterName)).toEqual(['blue']);
    expect(res.failures).toEqual([expect.objectContaining({ reason: 'MISSING' })]);
  });

  it('registers revisions 1 and 2 and describes the latest', async () => {
    const input = {
      family: 'web',
      containerDefinitions: [
        {
          name: 'web',
          image: 'wharf/busybox:dev',
          memory: 64,
          portMappings: [{ containerPort: 80 }],
        },
      ],
    };
    const first = await ecs.send(new RegisterTaskDefinitionCommand(input));
    const second = await ecs.send(new RegisterTaskDefinitionCommand(input));
    expect(first.taskDefinition).toMatchObject({ family: 'web', revision: 1, status: 'ACTIVE' });
    expect(second.taskDefinition?.revision).toBe(2);
    expect(second.taskDefinition?.taskDefinitionArn).toBe(
      'arn:aws:ecs:us-east-1:000000000000:task-definition/web:2',
    );
    expect(second.taskDefinition?.registeredAt).toBeInstanceOf(Date);
    const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }));
    expect(latest.taskDefinition).toMatchObject({ revision: 2 });
    expect(latest.taskDefinition?.containerDefinitions?.[0]).toMatchObject({
      name: 'web',
      essential: true,
      portMappings: [{ containerPort: 80, protocol: 'tcp' }],
    });
    const one = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:1' }));
    expect(one.taskDefinition?.revision).toBe(1);
  });

  it('answers an unknown task definition with ClientException', async () => {
    const err = await ecs
      .send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope:3' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientException);
    expect((err as Error).message).toBe('Unable to describe task definition.');
  });

  it.each([
    [
      { family: 'x', containerDefinitions: [{ name: 'a', memory: 1 }] },
      ClientException,
      'Container.image should not be null or empty.',
    ],
    [
      { family: 'bad family', containerDefinitions: [{ name: 'a', image: 'i', memory: 1 }] },
      InvalidParameterException,
      'family',
    ],
    [
      {
        family: 'x',
        containerDefinitions: [
          { name: 'a', image: 'i', memory: 1 },
          { name: 'a', image: 'i', memory: 1 },
        ],
      },
      InvalidParameterException,
      'Duplicate container name: a',
    ],
    [
      {
        family: 'x',
        containerDefinitions: [
          { name: 'a', image: 'i', memory: 1, portMappings: [{ containerPort: 70000 }] },
        ],
      },
      InvalidParameterException,
      'containerDefinitions[0].portMappings[0].containerPort',
    ],
  ])('rejects invalid task definition %#', async (input, type, message) => {
    const err = await ecs
      .send(new RegisterTaskDefinitionCommand(input as never))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toContain(message);
  });

  it('answers protocol errors with 400, __type and X-Amzn-ErrorType', async () => {
    const cases: [string | undefined, string, string][] = [
      [`${TARGET}.Frobnicate`, '{}', 'UnknownOperationException'],
      [undefined, '{}', 'UnknownOperationException'],
      [`${TARGET}.ListClusters`, '{not json', 'SerializationException'],
      [`${TARGET}.RunTask`, '{"taskDefinition":"web","count":"two"}', 'SerializationException'],
      [`${TARGET}.DescribeTaskDefinition`, '{"taskDefinition":5}', 'SerializationException'],
      [`${TARGET}.DescribeTasks`, '{}', 'InvalidParameterException'],
    ];
    for (const [target, body, type] of cases) {
      const res = await raw(target, body);
      expect({ target, status: res.status }).toEqual({ target, status: 400 });
      expect(res.headers.get('x-amzn-errortype')).toBe(type);
      const json = (await res.json()) as { __type: string; message: string };
      expect(json.__type).toBe(type);
      expect(json.message).toEqual(expect.any(String));
      expect(json.message).not.toMatch(/ at .*\.ts:\d+/);
    }
    const named = (await (
      await raw(`${TARGET}.RunTask`, '{"taskDefinition":"web","count":"two"}')
    ).json()) as { message: string };
    expect(named.message).toContain('count');
  });

  it('refuses a body over API_MAX_BODY_BYTES with 413, and goes on answering', async () => {
    const res = await raw(`${TARGET}.ListClusters`, `{"x":"${'y'.repeat(1024 * 1024)}"}`);
    expect(res.status).toBe(413);
    expect(res.headers.get('x-amzn-errortype')).toBe('SerializationException');
    expect(((await res.json()) as { message: string }).message).toContain('exceeds 1048576 bytes');
    // Nor does a body of many chunks under the limit trip it.
    const big = await raw(`${TARGET}.ListClusters`, `{"x":"${'y'.repeat(512 * 1024)}"}`);
    expect(big.status).toBe(200);
    expect(big.headers.get('etag')).toBeNull();
  });

  it('accepts an empty body and any content type', async () => {
    const res = await raw(`${TARGET}.ListClusters`, '', 'text/plain');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-amz-json-1.1');
    expect(((await res.json()) as { clusterArns: string[] }).clusterArns.length).toBeGreaterThan(0);
  });

  it('serves health, readiness and metrics on the same port', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('wharf_api_requests_total');
  });

  it('RunTask on a cluster without instances fails like ECS', async () => {
    const err = await ecs
      .send(new RunTaskCommand({ cluster: 'blue', taskDefinition: 'web' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidParameterException);
    expect((err as Error).message).toBe('No Container Instances were found in your cluster.');
  });

  it('RunTask checks the cluster, the task definition and count', async () => {
    const missing = await ecs
      .send(new RunTaskCommand({ cluster: 'nope', taskDefinition: 'web' }))
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ClusterNotFoundException);
    expect((missing as Error).message).toBe('Cluster not found.');
    const noTd = await ecs
      .send(new RunTaskCommand({ cluster: 'blue', taskDefinition: 'nope' }))
      .catch((e: unknown) => e);
    expect(noTd).toBeInstanceOf(ClientException);
    const tooMany = await ecs
      .send(new RunTaskCommand({ taskDefinition: 'web', count: 11 }))
      .catch((e: unknown) => e);
    expect(tooMany).toBeInstanceOf(InvalidParameterException);
  });

  it('lists no instances or tasks in an empty cluster, and DescribeTasks reports MISSING', async () => {
    const instances = await ecs.send(new ListContainerInstancesCommand({ cluster: 'blue' }));
    expect(instances.containerInstanceArns).toEqual([]);
    const tasks = await ecs.send(new ListTasksCommand({ cluster: 'blue' }));
    expect(tasks.taskArns).toEqual([]);
    const described = await ecs.send(
      new DescribeTasksCommand({ cluster: 'blue', tasks: ['0123456789abcdef0123456789abcdef'] }),
    );
    expect(described.tasks).toEqual([]);
    expect(described.failures?.[0]?.reason).toBe('MISSING');
  });

  it('runs, describes, lists and stops a task (agent unreachable → TaskFailedToStart)', async () => {
    // An instance whose agent address has nobody listening: the task is placed, committed,
    // and marked stopping when the agent cannot be told to start it.
    const closedPort = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => resolve(port));
      });
    });
    await ecs.send(new CreateClusterCommand({ clusterName: 'red' }));
    const state = createStateClient(stateUrl);
    const instance = await firstValueFrom(
      state.client.registerContainerInstance({
        cluster: 'red',
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 2048, memory: 2048, ports: [22], portsUdp: [] },
        attributes: [],
        agentVersion: 'test',
        dockerVersion: '',
        agentAddress: `127.0.0.1:${closedPort}`,
        hostname: 'h',
        hostAddress: '127.0.0.1',
      }),
    );
    state.close();

    const instances = await ecs.send(new ListContainerInstancesCommand({ cluster: 'red' }));
    expect(instances.containerInstanceArns).toEqual([instance.containerInstanceArn]);
    const described = await ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: 'red',
        containerInstances: [instance.containerInstanceArn, 'nope'],
      }),
    );
    expect(described.containerInstances?.[0]).toMatchObject({
      containerInstanceArn: instance.containerInstanceArn,
      status: 'ACTIVE',
      agentConnected: true,
      registeredResources: [
        { name: 'CPU', type: 'INTEGER', integerValue: 2048 },
        { name: 'MEMORY', type: 'INTEGER', integerValue: 2048 },
        { name: 'PORTS', type: 'STRINGSET', stringSetValue: ['22'] },
        { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
      ],
    });
    expect(described.containerInstances?.[0].registeredAt).toBeInstanceOf(Date);
    expect(described.failures?.map((f) => f.reason)).toEqual(['MISSING']);

    const run = await ecs.send(
      new RunTaskCommand({
        cluster: 'red',
        taskDefinition: 'web:1',
        startedBy: 'int-test',
        overrides: { containerOverrides: [{ name: 'web', command: ['sleep', '1'] }] },
        tags: [{ key: 'team', value: 'wharf' }],
      }),
    );
    expect(run.failures).toEqual([]);
    const task = run.tasks![0];
    expect(task).toMatchObject({
      clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/red',
      containerInstanceArn: instance.containerInstanceArn,
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
      group: 'family:web',
      startedBy: 'int-test',
      launchType: 'EC2',
      memory: '64',
      desiredStatus: 'STOPPED',
      stopCode: 'TaskFailedToStart',
      overrides: {
        containerOverrides: [{ name: 'web', command: ['sleep', '1'] }],
        inferenceAcceleratorOverrides: [],
      },
      tags: [{ key: 'team', value: 'wharf' }],
    });
    expect(task.createdAt).toBeInstanceOf(Date);
    expect(task.containers?.[0]).toMatchObject({ name: 'web', taskArn: task.taskArn });

    const here = await ecs.send(
      new DescribeTasksCommand({ cluster: 'red', tasks: [task.taskArn!] }),
    );
    expect(here.tasks?.map((t) => t.taskArn)).toEqual([task.taskArn]);
    const elsewhere = await ecs.send(
      new DescribeTasksCommand({ cluster: 'blue', tasks: [task.taskArn!] }),
    );
    expect(elsewhere.tasks).toEqual([]);
    expect(elsewhere.failures).toEqual([{ arn: task.taskArn, reason: 'MISSING' }]);

    const listed = await ecs.send(
      new ListTasksCommand({ cluster: 'red', desiredStatus: 'STOPPED' }),
    );
    expect(listed.taskArns).toEqual([task.taskArn]);

    const unknown = await ecs
      .send(new StopTaskCommand({ cluster: 'red', task: '0123456789abcdef0123456789abcdef' }))
      .catch((e: unknown) => e);
    expect((unknown as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(
      400,
    );
    expect((unknown as Error).name).toBe('InvalidParameterException');
    expect((unknown as Error).message).toBe('The referenced task was not found.');

    const stopped = await ecs.send(new StopTaskCommand({ cluster: 'red', task: task.taskArn! }));
    expect(stopped.task).toMatchObject({ taskArn: task.taskArn, desiredStatus: 'STOPPED' });
  });
});
