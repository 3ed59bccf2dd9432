/**
 * Tags and account settings through the api with the AWS SDK, against the real state and
 * scheduler in this process (Postgres and NATS from Testcontainers). The container instance
 * is registered straight with state and has no agent: RunTask still creates a task (which
 * then fails to start), and that task is as taggable as any.
 */
import {
  ClusterNotFoundException,
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteAccountSettingCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  ListAccountSettingsCommand,
  ListTagsForResourceCommand,
  PutAccountSettingCommand,
  PutAccountSettingDefaultCommand,
  RegisterTaskDefinitionCommand,
  ResourceNotFoundException,
  RunTaskCommand,
  Setting,
  TagResourceCommand,
  UntagResourceCommand,
  paginateListAccountSettings,
} from '@aws-sdk/client-ecs';
import { createServer } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { createLogger } from '@wharf/observability';
import { createStateClient } from '@wharf/proto';
import { startControlPlane } from './control-plane-test-fixtures';

jest.setTimeout(180_000);

const ACCOUNT = '000000000000';
const ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}`;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ME = `arn:aws:iam::${ACCOUNT}:user/AKIDEXAMPLE`;

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('tags and account settings through the api', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let ecs: ECSClient;
  let other: ECSClient;
  const arns: Record<'cluster' | 'taskDefinition' | 'service' | 'task' | 'instance', string> = {
    cluster: `${ARN}:cluster/tags`,
    taskDefinition: `${ARN}:task-definition/tagged:1`,
    service: `${ARN}:service/tags/api`,
    task: '',
    instance: '',
  };

  const failure = <T>(p: Promise<T>): Promise<Error> =>
    p.then(
      () => {
        throw new Error('expected the request to fail');
      },
      (e: unknown) => e as Error,
    );
  const tagsOf = async (resourceArn: string) =>
    (await ecs.send(new ListTagsForResourceCommand({ resourceArn }))).tags;

  beforeAll(async () => {
    const plane = await startControlPlane({
      logger: createLogger('api-tags-int', process.env.LOG_LEVEL ?? 'warn'),
    });
    stops.push(() => plane.stop());
    const { api, state } = plane;
    const client = (accessKeyId: string) =>
      new ECSClient({
        endpoint: api.url,
        region: 'us-east-1',
        credentials: { accessKeyId, secretAccessKey: 'secret' },
        maxAttempts: 1,
      });
    ecs = client('AKIDEXAMPLE');
    other = client('AKIDOTHER');

    await ecs.send(
      new CreateClusterCommand({ clusterName: 'tags', tags: [{ key: 'team', value: 'core' }] }),
    );
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'tagged',
        containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 32 }],
        tags: [{ key: 'tier', value: 'front' }],
      }),
    );
    const stateClient = createStateClient(state.grpcUrl);
    const instance = await firstValueFrom(
      stateClient.client.registerContainerInstance({
        cluster: 'tags',
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 2048, memory: 2048, ports: [], portsUdp: [] },
        attributes: [],
        agentVersion: 'test',
        dockerVersion: '',
        agentAddress: `127.0.0.1:${await closedPort()}`,
        hostname: 'h',
        hostAddress: '127.0.0.1',
      }),
    );
    stateClient.close();
    arns.instance = instance.containerInstanceArn;
    const run = await ecs.send(
      new RunTaskCommand({
        cluster: 'tags',
        taskDefinition: 'tagged:1',
        tags: [{ key: 'run', value: 'one' }],
      }),
    );
    arns.task = run.tasks![0].taskArn!;
    await ecs.send(
      new CreateServiceCommand({
        cluster: 'tags',
        serviceName: 'api',
        taskDefinition: 'tagged',
        desiredCount: 0,
        tags: [{ key: 'svc', value: 'yes' }],
      }),
    );
  });

  afterAll(async () => {
    ecs?.destroy();
    other?.destroy();
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('lists, adds, replaces and removes tags on every kind; the creation tags are the same ones', async () => {
    const created: [keyof typeof arns, { key: string; value: string }[]][] = [
      ['cluster', [{ key: 'team', value: 'core' }]],
      ['taskDefinition', [{ key: 'tier', value: 'front' }]],
      ['service', [{ key: 'svc', value: 'yes' }]],
      ['task', [{ key: 'run', value: 'one' }]],
      ['instance', []],
    ];
    for (const [kind, initial] of created) {
      const resourceArn = arns[kind];
      expect(await tagsOf(resourceArn)).toEqual(initial);
      const tagged = await ecs.send(
        new TagResourceCommand({
          resourceArn,
          tags: [
            { key: 'env', value: 'dev' },
            { key: 'owner', value: 'me' },
          ],
        }),
      );
      expect(tagged.$metadata.httpStatusCode).toBe(200);
      await ecs.send(
        new TagResourceCommand({ resourceArn, tags: [{ key: 'env', value: 'prod' }] }),
      );
      await ecs.send(new UntagResourceCommand({ resourceArn, tagKeys: ['owner', 'absent'] }));
      expect(await tagsOf(resourceArn)).toEqual([...initial, { key: 'env', value: 'prod' }]);
    }
  });

  it('Describe operations answer tags with include TAGS only', async () => {
    const clusters = await ecs.send(new DescribeClustersCommand({ clusters: ['tags'] }));
    expect(clusters.clusters![0].tags).toBeUndefined();
    const clustersTagged = await ecs.send(
      new DescribeClustersCommand({ clusters: ['tags'], include: ['TAGS'] }),
    );
    expect(clustersTagged.clusters![0].tags).toEqual([
      { key: 'team', value: 'core' },
      { key: 'env', value: 'prod' },
    ]);

    const td = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'tagged' }));
    expect(td.tags).toBeUndefined();
    const tdTagged = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: 'tagged', include: ['TAGS'] }),
    );
    expect(tdTagged.tags).toEqual([
      { key: 'tier', value: 'front' },
      { key: 'env', value: 'prod' },
    ]);
    expect(tdTagged.taskDefinition).not.toHaveProperty('tags');

    const services = await ecs.send(
      new DescribeServicesCommand({ cluster: 'tags', services: ['api'] }),
    );
    expect(services.services![0].tags).toBeUndefined();
    const servicesTagged = await ecs.send(
      new DescribeServicesCommand({ cluster: 'tags', services: ['api'], include: ['TAGS'] }),
    );
    expect(servicesTagged.services![0].tags).toEqual([
      { key: 'svc', value: 'yes' },
      { key: 'env', value: 'prod' },
    ]);

    const tasks = await ecs.send(new DescribeTasksCommand({ cluster: 'tags', tasks: [arns.task] }));
    expect(tasks.tasks![0].tags).toBeUndefined();
    const tasksTagged = await ecs.send(
      new DescribeTasksCommand({ cluster: 'tags', tasks: [arns.task], include: ['TAGS'] }),
    );
    expect(tasksTagged.tasks![0].tags).toEqual([
      { key: 'run', value: 'one' },
      { key: 'env', value: 'prod' },
    ]);

    const instances = await ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: 'tags',
        containerInstances: [arns.instance],
      }),
    );
    expect(instances.containerInstances![0].tags).toBeUndefined();
    const instancesTagged = await ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: 'tags',
        containerInstances: [arns.instance],
        include: ['TAGS'],
      }),
    );
    expect(instancesTagged.containerInstances![0].tags).toEqual([{ key: 'env', value: 'prod' }]);
  });

  it('answers each documented error', async () => {
    const missingCluster = await failure(
      ecs.send(new TagResourceCommand({ resourceArn: `${ARN}:cluster/nope`, tags: [] })),
    );
    expect(missingCluster).toBeInstanceOf(ClusterNotFoundException);
    const listMissingCluster = await failure(
      ecs.send(new ListTagsForResourceCommand({ resourceArn: `${ARN}:task/nope/abc` })),
    );
    expect(listMissingCluster).toBeInstanceOf(ClusterNotFoundException);

    const missingService = await failure(
      ecs.send(
        new TagResourceCommand({
          resourceArn: `${ARN}:service/tags/nope`,
          tags: [{ key: 'a', value: 'b' }],
        }),
      ),
    );
    expect(missingService).toBeInstanceOf(ResourceNotFoundException);
    expect(missingService.message).toBe('The specified service is not found.');
    const missingTask = await failure(
      ecs.send(new UntagResourceCommand({ resourceArn: `${ARN}:task/tags/nope`, tagKeys: ['a'] })),
    );
    expect(missingTask).toBeInstanceOf(ResourceNotFoundException);
    const listMissing = await failure(
      ecs.send(new ListTagsForResourceCommand({ resourceArn: `${ARN}:task-definition/nope:1` })),
    );
    expect(listMissing).toBeInstanceOf(InvalidParameterException);
    expect(listMissing.message).toBe('The specified task definition is not found.');

    const reserved = await failure(
      ecs.send(
        new TagResourceCommand({
          resourceArn: arns.cluster,
          tags: [{ key: 'aws:team', value: 'x' }],
        }),
      ),
    );
    expect(reserved).toBeInstanceOf(InvalidParameterException);
    expect(reserved.message).toBe('tags[0].key: the aws: prefix is reserved for AWS use.');
    const badArn = await failure(
      ecs.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:s3:::bucket' })),
    );
    expect(badArn).toBeInstanceOf(InvalidParameterException);
    expect(badArn.message).toBe(
      "resourceArn: 'arn:aws:s3:::bucket' is not a valid Amazon ECS ARN.",
    );

    const fill = Array.from({ length: 48 }, (_, i) => ({ key: `k${i}`, value: '' }));
    await ecs.send(new TagResourceCommand({ resourceArn: arns.instance, tags: fill }));
    expect(await tagsOf(arns.instance)).toHaveLength(49);
    const tooMany = await failure(
      ecs.send(
        new TagResourceCommand({
          resourceArn: arns.instance,
          tags: [
            { key: 'x', value: '' },
            { key: 'y', value: '' },
          ],
        }),
      ),
    );
    expect(tooMany).toBeInstanceOf(InvalidParameterException);
    expect(tooMany.message).toBe(
      'tags: a resource can have at most 50 tags; this request would leave 51.',
    );
    expect(await tagsOf(arns.instance)).toHaveLength(49);
  });

  it('keeps account settings per caller, with the account default and ECS defaults behind them', async () => {
    const effective = async (client: ECSClient, name: string) =>
      (
        await client.send(
          new ListAccountSettingsCommand({
            effectiveSettings: true,
            name: name as Setting['name'],
          }),
        )
      ).settings;

    expect(await effective(ecs, 'containerInsights')).toEqual([
      { name: 'containerInsights', value: 'disabled', principalArn: ME, type: 'user' },
    ]);
    const byDefault = await ecs.send(
      new PutAccountSettingDefaultCommand({ name: 'containerInsights', value: 'enabled' }),
    );
    expect(byDefault.setting).toEqual({
      name: 'containerInsights',
      value: 'enabled',
      principalArn: ROOT,
      type: 'user',
    });
    const mine = await ecs.send(
      new PutAccountSettingCommand({ name: 'containerInsights', value: 'enhanced' }),
    );
    expect(mine.setting).toMatchObject({ value: 'enhanced', principalArn: ME });
    expect((await effective(ecs, 'containerInsights'))![0].value).toBe('enhanced');
    // Another caller sees the account default.
    expect((await effective(other, 'containerInsights'))![0]).toMatchObject({
      value: 'enabled',
      principalArn: `arn:aws:iam::${ACCOUNT}:user/AKIDOTHER`,
    });
    // Without effectiveSettings only what the principal set itself.
    expect((await ecs.send(new ListAccountSettingsCommand({}))).settings).toEqual([
      { name: 'containerInsights', value: 'enhanced', principalArn: ME, type: 'user' },
    ]);
    expect((await other.send(new ListAccountSettingsCommand({}))).settings).toEqual([]);
    // principalArn names someone else.
    await ecs.send(
      new PutAccountSettingCommand({
        name: 'awsvpcTrunking',
        value: 'enabled',
        principalArn: `arn:aws:iam::${ACCOUNT}:user/AKIDOTHER`,
      }),
    );
    expect((await effective(other, 'awsvpcTrunking'))![0].value).toBe('enabled');

    const deleted = await ecs.send(new DeleteAccountSettingCommand({ name: 'containerInsights' }));
    expect(deleted.setting).toMatchObject({ value: 'enhanced', principalArn: ME });
    expect((await effective(ecs, 'containerInsights'))![0].value).toBe('enabled');
  });

  it('pages effective settings over more than one page', async () => {
    const first = await ecs.send(
      new ListAccountSettingsCommand({ effectiveSettings: true, maxResults: 4 }),
    );
    expect(first.settings).toHaveLength(4);
    expect(first.nextToken).toBeTruthy();
    const names: string[] = [];
    let pages = 0;
    for await (const page of paginateListAccountSettings(
      { client: ecs, pageSize: 4 },
      { effectiveSettings: true },
    )) {
      pages++;
      names.push(...page.settings!.map((s) => s.name!));
    }
    expect(pages).toBe(3);
    expect(names).toEqual([
      'awsvpcTrunking',
      'containerInsights',
      'containerInstanceLongArnFormat',
      'fargateFIPSMode',
      'fargateTaskRetirementWaitPeriod',
      'guardDutyActivate',
      'serviceLongArnFormat',
      'tagResourceAuthorization',
      'taskLongArnFormat',
    ]);
    const all = await ecs.send(new ListAccountSettingsCommand({ effectiveSettings: true }));
    expect(all.settings).toHaveLength(9);
    expect(all.nextToken).toBeUndefined();
    const disabled = await ecs.send(
      new ListAccountSettingsCommand({
        effectiveSettings: true,
        name: 'awsvpcTrunking',
        value: 'disabled',
      }),
    );
    expect(disabled.settings).toEqual([
      { name: 'awsvpcTrunking', value: 'disabled', principalArn: ME, type: 'user' },
    ]);
  });

  it('refuses unknown setting names and bad values with InvalidParameterException', async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [
        () =>
          ecs.send(
            new PutAccountSettingCommand({
              name: 'dualStackIPv6' as Setting['name'],
              value: 'enabled',
            }),
          ),
        "1 validation error detected: Value 'dualStackIPv6' at 'name' failed to satisfy constraint",
      ],
      [
        () => ecs.send(new PutAccountSettingCommand({ name: 'taskLongArnFormat', value: 'maybe' })),
        "value: 'maybe' is not valid for taskLongArnFormat; expected one of [enabled, disabled].",
      ],
      [
        () =>
          ecs.send(new PutAccountSettingCommand({ name: 'guardDutyActivate', value: 'enabled' })),
        'name: guardDutyActivate is read-only',
      ],
      [
        () => ecs.send(new ListAccountSettingsCommand({ maxResults: 11 })),
        'maxResults must be between 1 and 10.',
      ],
      [
        () =>
          ecs.send(
            new DeleteAccountSettingCommand({
              name: 'awsvpcTrunking',
              principalArn: 'arn:aws:iam::999999999999:root',
            }),
          ),
        "principalArn: 'arn:aws:iam::999999999999:root' belongs to account 999999999999",
      ],
    ];
    for (const [p, message] of cases) {
      const err = await failure(p());
      expect(err).toBeInstanceOf(InvalidParameterException);
      expect(err.message.startsWith(message)).toBe(true);
    }
  });
});
