/**
 * Attributes, RunTask (clientToken, tags, overrides, placement options) and StartTask through
 * the ECS API, against the real state and scheduler in this process (Postgres and NATS from
 * Testcontainers). Container instances are registered straight through state's gRPC API and
 * their "agent" is a gRPC server in this process that acknowledges StartTask.
 */
import {
  AttributeLimitExceededException,
  ConflictException,
  CreateClusterCommand,
  DeleteAttributesCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  ListAttributesCommand,
  ListTasksCommand,
  PutAttributesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StartTaskCommand,
  TargetNotFoundException,
  UnsupportedFeatureException,
} from '@aws-sdk/client-ecs';
import { createLogger } from '@wharf/observability';
import { createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { Pool } from 'pg';
import { firstValueFrom } from 'rxjs';
import { freePort } from '../../scheduler/src/free-port';
import { AgentCommands, startRecordingAgent } from '../../scheduler/src/scheduler-test-fixtures';
import { startControlPlane } from './control-plane-test-fixtures';

jest.setTimeout(180_000);

/** What the agent was told (it accepts everything). */
const told: AgentCommands = { start: [], stop: [] };

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected an error');
    },
    (err: Error) => err,
  );

describe('api: attributes, RunTask and StartTask semantics', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let ecs: ECSClient;
  let state: GrpcClient<stateV1.StateServiceClient>;
  let pool: Pool;
  let agentAddress: string;
  let apiUrl: string;

  const register = (cluster: string, memory: number, address = agentAddress) =>
    firstValueFrom(
      state.client.registerContainerInstance({
        cluster,
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 2048, memory, ports: [22], portsUdp: [] },
        attributes: [{ name: 'ecs.os-type', value: 'linux' }],
        agentVersion: 'test',
        dockerVersion: '',
        agentAddress: address,
        hostname: 'h',
        hostAddress: '127.0.0.1',
      }),
    );

  beforeAll(async () => {
    const plane = await startControlPlane({
      logger: createLogger('api-int', process.env.LOG_LEVEL ?? 'warn'),
      scheduler: { AGENT_CALL_TIMEOUT_MS: '3000' },
    });
    stops.push(() => plane.stop());
    apiUrl = plane.api.url;

    agentAddress = `127.0.0.1:${await freePort()}`;
    const agent = await startRecordingAgent(agentAddress, told);
    stops.unshift(() => agent.close());

    state = createStateClient(plane.state.grpcUrl);
    pool = new Pool({ connectionString: plane.postgres.url, max: 2 });
    stops.unshift(async () => {
      state.close();
      await pool.end();
    });
    ecs = new ECSClient({
      endpoint: plane.api.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });

    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'web',
        containerDefinitions: [
          { name: 'web', image: 'wharf/busybox:dev', memory: 400 },
          { name: 'side', image: 'wharf/busybox:dev', memory: 100 },
        ],
      }),
    );
  });

  afterAll(async () => {
    ecs?.destroy();
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('puts, lists, describes and deletes attributes like ECS', async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: 'attrs' }));
    const a = await register('attrs', 1024);
    const b = await register('attrs', 1024);
    const bId = b.containerInstanceArn.split('/').pop()!;

    const put = await ecs.send(
      new PutAttributesCommand({
        cluster: 'attrs',
        attributes: [
          { name: 'stack', value: 'prod', targetId: a.containerInstanceArn },
          { name: 'stack', value: 'dev', targetId: bId, targetType: 'container-instance' },
          { name: 'gpu', targetId: a.containerInstanceArn },
        ],
      }),
    );
    expect(put.attributes).toEqual([
      {
        name: 'stack',
        value: 'prod',
        targetType: 'container-instance',
        targetId: a.containerInstanceArn,
      },
      {
        name: 'stack',
        value: 'dev',
        targetType: 'container-instance',
        targetId: b.containerInstanceArn,
      },
      { name: 'gpu', targetType: 'container-instance', targetId: a.containerInstanceArn },
    ]);

    const described = await ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: 'attrs',
        containerInstances: [a.containerInstanceArn],
      }),
    );
    expect(described.containerInstances?.[0].attributes).toEqual([
      { name: 'ecs.os-type', value: 'linux' },
      { name: 'gpu' },
      { name: 'stack', value: 'prod' },
    ]);

    const all = await ecs.send(
      new ListAttributesCommand({ cluster: 'attrs', targetType: 'container-instance' }),
    );
    expect(all.attributes).toHaveLength(5);
    expect(all.nextToken).toBeUndefined();
    const prod = await ecs.send(
      new ListAttributesCommand({
        cluster: 'attrs',
        targetType: 'container-instance',
        attributeName: 'stack',
        attributeValue: 'prod',
      }),
    );
    expect(prod.attributes).toEqual([
      {
        name: 'stack',
        value: 'prod',
        targetType: 'container-instance',
        targetId: a.containerInstanceArn,
      },
    ]);
    const page = await ecs.send(
      new ListAttributesCommand({
        cluster: 'attrs',
        targetType: 'container-instance',
        maxResults: 2,
      }),
    );
    expect(page.attributes).toHaveLength(2);
    const rest = await ecs.send(
      new ListAttributesCommand({
        cluster: 'attrs',
        targetType: 'container-instance',
        maxResults: 10,
        nextToken: page.nextToken,
      }),
    );
    expect([...page.attributes!, ...rest.attributes!]).toEqual(all.attributes);

    const deleted = await ecs.send(
      new DeleteAttributesCommand({
        cluster: 'attrs',
        attributes: [{ name: 'stack', targetId: a.containerInstanceArn }],
      }),
    );
    expect(deleted.attributes).toEqual([
      { name: 'stack', targetType: 'container-instance', targetId: a.containerInstanceArn },
    ]);
    const after = await ecs.send(
      new ListAttributesCommand({
        cluster: 'attrs',
        targetType: 'container-instance',
        attributeName: 'stack',
      }),
    );
    expect(after.attributes?.map((x) => x.targetId)).toEqual([b.containerInstanceArn]);
  });

  it('answers attribute errors with the ECS names', async () => {
    const a = await register('attrs', 1024);
    const unknown = await failure(
      ecs.send(
        new PutAttributesCommand({
          cluster: 'attrs',
          attributes: [
            { name: 'x', value: '1', targetId: 'feedface', targetType: 'container-instance' },
          ],
        }),
      ),
    );
    expect(unknown).toBeInstanceOf(TargetNotFoundException);
    const deleteUnknown = await failure(
      ecs.send(
        new DeleteAttributesCommand({
          cluster: 'attrs',
          attributes: [{ name: 'x', targetId: 'feedface', targetType: 'container-instance' }],
        }),
      ),
    );
    expect(deleteUnknown).toBeInstanceOf(TargetNotFoundException);
    const badName = await failure(
      ecs.send(
        new PutAttributesCommand({
          cluster: 'attrs',
          attributes: [{ name: 'no spaces', value: '1', targetId: a.containerInstanceArn }],
        }),
      ),
    );
    expect(badName).toBeInstanceOf(InvalidParameterException);
    const noType = await failure(
      ecs.send(
        new PutAttributesCommand({
          cluster: 'attrs',
          attributes: [{ name: 'x', value: '1', targetId: 'feedface' }],
        }),
      ),
    );
    expect(noType).toBeInstanceOf(InvalidParameterException);
    const elevenInOneCall = await failure(
      ecs.send(
        new PutAttributesCommand({
          cluster: 'attrs',
          attributes: Array.from({ length: 11 }, (_, i) => ({
            name: `n${i}`,
            targetId: a.containerInstanceArn,
          })),
        }),
      ),
    );
    expect(elevenInOneCall).toBeInstanceOf(InvalidParameterException);
    await ecs.send(
      new PutAttributesCommand({
        cluster: 'attrs',
        attributes: Array.from({ length: 10 }, (_, i) => ({
          name: `n${i}`,
          targetId: a.containerInstanceArn,
        })),
      }),
    );
    const eleventh = await failure(
      ecs.send(
        new PutAttributesCommand({
          cluster: 'attrs',
          attributes: [{ name: 'n10', targetId: a.containerInstanceArn }],
        }),
      ),
    );
    expect(eleventh).toBeInstanceOf(AttributeLimitExceededException);
    const valueWithoutName = await failure(
      ecs.send(
        new ListAttributesCommand({
          cluster: 'attrs',
          targetType: 'container-instance',
          attributeValue: 'x',
        }),
      ),
    );
    expect(valueWithoutName).toBeInstanceOf(InvalidParameterException);
  });

  it('RunTask: tags, overrides, startedBy, default group, failures that explain', async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: 'run' }));
    const instance = await register('run', 1200);
    const run = await ecs.send(
      new RunTaskCommand({
        cluster: 'run',
        taskDefinition: 'web',
        count: 3,
        startedBy: 'batch-7',
        overrides: {
          containerOverrides: [
            {
              name: 'web',
              command: ['sleep', '5'],
              environment: [{ name: 'A', value: '1' }],
              memory: 300,
            },
          ],
        },
        tags: [
          { key: 'team', value: 'wharf' },
          { key: 'empty', value: '' },
        ],
        placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.os-type == linux' }],
        placementStrategy: [{ type: 'binpack', field: 'memory' }],
      }),
    );
    // 300 + 100 per task on 1200 MiB: three fit exactly.
    expect(run.failures).toEqual([]);
    expect(run.tasks).toHaveLength(3);
    const task = run.tasks![0];
    expect(task).toMatchObject({
      containerInstanceArn: instance.containerInstanceArn,
      group: 'family:web',
      startedBy: 'batch-7',
      memory: '400',
      tags: [
        { key: 'team', value: 'wharf' },
        { key: 'empty', value: '' },
      ],
    });
    expect(task.overrides?.containerOverrides).toEqual([
      {
        name: 'web',
        command: ['sleep', '5'],
        environment: [{ name: 'A', value: '1' }],
        memory: 300,
      },
      { name: 'side' },
    ]);
    const described = await ecs.send(
      new DescribeTasksCommand({ cluster: 'run', tasks: [task.taskArn!], include: ['TAGS'] }),
    );
    expect(described.tasks?.[0].tags).toEqual([
      { key: 'team', value: 'wharf' },
      { key: 'empty', value: '' },
    ]);
    const untagged = await ecs.send(
      new DescribeTasksCommand({ cluster: 'run', tasks: [task.taskArn!] }),
    );
    expect(untagged.tasks?.[0].tags).toBeUndefined();

    const full = await ecs.send(
      new RunTaskCommand({ cluster: 'run', taskDefinition: 'web', group: 'batch' }),
    );
    expect(full.tasks).toEqual([]);
    expect(full.failures).toEqual([
      {
        arn: instance.containerInstanceArn,
        reason: 'RESOURCE:MEMORY',
        detail: expect.stringContaining('0 MiB free of 500 needed'),
      },
    ]);
  });

  it.each([
    [{ overrides: { containerOverrides: [{ name: 'nope', command: ['x'] }] } }, 'nope'],
    [{ tags: Array.from({ length: 51 }, (_, i) => ({ key: `k${i}` })) }, '50'],
    [{ tags: [{ key: 'k'.repeat(129) }] }, 'key'],
    [{ tags: [{ key: 'k', value: 'v'.repeat(257) }] }, 'value'],
    [{ startedBy: 's'.repeat(129) }, 'startedBy'],
    [{ clientToken: 't'.repeat(65) }, 'clientToken'],
    [{ count: 0 }, 'count'],
    [{ placementStrategy: [{ type: 'binpack', field: 'disk' }] }, 'binpack'],
    [{ placementConstraints: [{ type: 'memberOf' }] }, 'expression'],
    [
      { placementConstraints: Array.from({ length: 11 }, () => ({ type: 'distinctInstance' })) },
      '10',
    ],
  ])('RunTask refuses %j with InvalidParameterException', async (input, message) => {
    const err = await failure(
      ecs.send(new RunTaskCommand({ cluster: 'run', taskDefinition: 'web', ...(input as object) })),
    );
    expect(err).toBeInstanceOf(InvalidParameterException);
    expect(err.message).toContain(message);
  });

  it('RunTask still refuses capacityProviderStrategy', async () => {
    const err = await failure(
      ecs.send(
        new RunTaskCommand({
          cluster: 'run',
          taskDefinition: 'web',
          capacityProviderStrategy: [{ capacityProvider: 'x' }],
        }),
      ),
    );
    expect(err).toBeInstanceOf(UnsupportedFeatureException);
  });

  it('RunTask clientToken: the same request returns the same tasks, another one conflicts', async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: 'idem' }));
    await register('idem', 4000);
    const input = {
      cluster: 'idem',
      taskDefinition: 'web',
      count: 2,
      clientToken: 'retry-me-1',
      tags: [{ key: 'a', value: 'b' }],
    };
    const startsBefore = told.start.length;
    const [first, second] = await Promise.all([
      ecs.send(new RunTaskCommand(input)),
      ecs.send(new RunTaskCommand(input)),
    ]);
    const third = await ecs.send(new RunTaskCommand(input));
    const arns = (r: { tasks?: { taskArn?: string }[] }) => r.tasks!.map((t) => t.taskArn).sort();
    expect(arns(first)).toHaveLength(2);
    expect(arns(second)).toEqual(arns(first));
    expect(arns(third)).toEqual(arns(first));
    expect(third.tasks?.[0].tags).toEqual([{ key: 'a', value: 'b' }]);
    expect(told.start.length - startsBefore).toBe(2);

    const conflict = await failure(ecs.send(new RunTaskCommand({ ...input, count: 1 })));
    expect(conflict).toBeInstanceOf(ConflictException);
    expect((conflict as ConflictException).resourceIds?.sort()).toEqual(arns(first));

    // Tokens are per cluster.
    await ecs.send(new CreateClusterCommand({ clusterName: 'idem2' }));
    await register('idem2', 4000);
    const elsewhere = await ecs.send(new RunTaskCommand({ ...input, cluster: 'idem2' }));
    expect(arns(elsewhere)).toHaveLength(2);
    expect(arns(elsewhere)).not.toEqual(arns(first));

    // A request that failed as a whole leaves the token free for a retry.
    await ecs.send(new CreateClusterCommand({ clusterName: 'empty' }));
    const noInstances = await failure(
      ecs.send(new RunTaskCommand({ ...input, cluster: 'empty', clientToken: 'retry-me-2' })),
    );
    expect(noInstances).toBeInstanceOf(InvalidParameterException);
    await register('empty', 4000);
    const retried = await ecs.send(
      new RunTaskCommand({ ...input, cluster: 'empty', clientToken: 'retry-me-2' }),
    );
    expect(retried.tasks).toHaveLength(2);
  });

  it('StartTask: one task on each named instance, failures for the rest', async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: 'start' }));
    const roomy = await register('start', 2000);
    const small = await register('start', 300);
    const gone = await register('start', 2000);
    await pool.query('UPDATE container_instances SET agent_connected = false WHERE arn = $1', [
      gone.containerInstanceArn,
    ]);
    const inactive = await register('start', 2000);
    await pool.query(`UPDATE container_instances SET status = 'INACTIVE' WHERE arn = $1`, [
      inactive.containerInstanceArn,
    ]);
    const startsBefore = told.start.length;
    const res = await ecs.send(
      new StartTaskCommand({
        cluster: 'start',
        taskDefinition: 'web:1',
        containerInstances: [
          roomy.containerInstanceArn.split('/').pop()!,
          small.containerInstanceArn,
          gone.containerInstanceArn,
          inactive.containerInstanceArn,
          'feedface',
        ],
        startedBy: 'me',
        group: 'manual',
        tags: [{ key: 'k', value: 'v' }],
        overrides: {
          containerOverrides: [{ name: 'side', environment: [{ name: 'X', value: 'y' }] }],
        },
      }),
    );
    expect(res.tasks).toHaveLength(1);
    expect(res.tasks![0]).toMatchObject({
      containerInstanceArn: roomy.containerInstanceArn,
      group: 'manual',
      startedBy: 'me',
      tags: [{ key: 'k', value: 'v' }],
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
    });
    expect(res.failures).toEqual([
      {
        arn: small.containerInstanceArn,
        reason: 'RESOURCE:MEMORY',
        detail: expect.stringContaining('300 MiB free of 500 needed'),
      },
      {
        arn: gone.containerInstanceArn,
        reason: 'AGENT',
        detail: expect.stringContaining('disconnected'),
      },
      { arn: inactive.containerInstanceArn, reason: 'INACTIVE', detail: expect.any(String) },
      { arn: 'feedface', reason: 'MISSING' },
    ]);
    expect(told.start.length - startsBefore).toBe(1);

    const none = await failure(
      ecs.send(
        new StartTaskCommand({ cluster: 'start', taskDefinition: 'web', containerInstances: [] }),
      ),
    );
    expect(none).toBeInstanceOf(InvalidParameterException);
    const eleven = await failure(
      ecs.send(
        new StartTaskCommand({
          cluster: 'start',
          taskDefinition: 'web',
          containerInstances: Array.from({ length: 11 }, () => roomy.containerInstanceArn),
        }),
      ),
    );
    expect(eleven).toBeInstanceOf(InvalidParameterException);
    const badOverride = await failure(
      ecs.send(
        new StartTaskCommand({
          cluster: 'start',
          taskDefinition: 'web',
          containerInstances: [roomy.containerInstanceArn],
          overrides: { containerOverrides: [{ name: 'ghost' }] },
        }),
      ),
    );
    expect(badOverride).toBeInstanceOf(InvalidParameterException);
  });
  it('POST /v1/clusters/{cluster}/placement/explain: every verdict, nothing committed', async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: 'explain' }));
    const big = await register('explain', 2000);
    const small = await register('explain', 300);
    const gone = await register('explain', 2000);
    await pool.query('UPDATE container_instances SET agent_connected = false WHERE arn = $1', [
      gone.containerInstanceArn,
    ]);
    const explain = (cluster: string, body: unknown) =>
      fetch(`${apiUrl}/v1/clusters/${cluster}/placement/explain`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

    const ok = await explain('explain', {
      taskDefinition: 'web',
      count: 2,
      placementStrategy: [{ type: 'binpack', field: 'memory' }],
    });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as {
      group: string;
      strategies: string[];
      instances: Record<string, unknown>[];
      next: { placed: boolean; instanceArn?: string };
      plan: { placed: boolean; instanceArn?: string }[];
    };
    expect(body.group).toBe('family:web');
    expect(body.strategies).toEqual(['binpack(memory)']);
    const verdict = (arn: string) => body.instances.find((i) => i.arn === arn);
    expect(verdict(big.containerInstanceArn)).toMatchObject({
      feasible: true,
      rank: 1,
      strategies: [{ strategy: 'binpack(memory)', score: 2000, rank: 1 }],
    });
    expect(verdict(small.containerInstanceArn)).toMatchObject({
      feasible: false,
      failures: [{ reason: 'RESOURCE:MEMORY', detail: '300 MiB free of 500 needed' }],
    });
    expect(verdict(gone.containerInstanceArn)).toMatchObject({
      feasible: false,
      failures: [{ reason: 'AGENT' }],
    });
    expect(body.next).toEqual({ placed: true, instanceArn: big.containerInstanceArn });
    expect(body.plan).toEqual([
      { placed: true, instanceArn: big.containerInstanceArn },
      { placed: true, instanceArn: big.containerInstanceArn },
    ]);
    const tasks = await ecs.send(new ListTasksCommand({ cluster: 'explain' }));
    expect(tasks.taskArns).toEqual([]);

    const cases: [string, unknown, number, RegExp][] = [
      ['explain', '{', 400, /not valid JSON/],
      ['explain', {}, 400, /taskDefinition is required/],
      ['explain', { taskDefinition: 'web', count: 11 }, 400, /count must be/],
      [
        'explain',
        { taskDefinition: 'web', placementStrategy: {} },
        400,
        /placementStrategy must be a list/,
      ],
      [
        'explain',
        {
          taskDefinition: 'web',
          placementConstraints: [{ type: 'memberOf', expression: 'attribute:x ==' }],
        },
        400,
        /at position \d+/,
      ],
      ['explain', { taskDefinition: 'nope' }, 404, /task definition/],
      ['nope', { taskDefinition: 'web' }, 404, /Cluster not found/],
    ];
    for (const [cluster, req, status, message] of cases) {
      const res = await explain(cluster, req);
      expect({ req, status: res.status }).toEqual({ req, status });
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    }
  });
});
