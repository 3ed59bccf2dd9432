/**
 * Tags (TagResource, UntagResource, ListTagsForResource) on every taggable kind, and account
 * settings, against a real Postgres (and NATS, which the state service needs to start).
 */
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import { createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { stateConfigSchema } from './config';
import { RunningState, startState } from './state';
import { EMPTY_TASK } from './state-test-fixtures';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const call = <T>(o: Observable<T>) => firstValueFrom(o);
const grpcError = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a gRPC error');
    },
    (err: { code: number; details: string }) => err,
  );

const ACCOUNT = '000000000000';
const ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}`;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const CLUSTER = 'tagged';
const tags = (r: { tagsJson: string }) =>
  JSON.parse(r.tagsJson) as { key: string; value: string }[];

describe('state: tags and account settings', () => {
  let pg: StartedPostgres;
  let nats: StartedNats;
  let state: RunningState;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  let client: stateV1.StateServiceClient;
  let pool: Pool;
  let instanceArn: string;
  let taskArn: string;
  let serviceArn: string;

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    state = await startState(
      stateConfigSchema.parse({
        DATABASE_URL: pg.url,
        STATE_AGENT_JOIN: 'open',
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
      }),
      logger,
    );
    grpc = createStateClient(state.grpcUrl);
    client = grpc.client;
    pool = new Pool({ connectionString: pg.url, max: 2 });
    await call(
      client.createCluster({
        clusterName: CLUSTER,
        tagsJson: '[{"key":"team","value":"core"}]',
      } as stateV1.CreateClusterRequest),
    );
    await call(
      client.registerTaskDefinition({
        definitionJson: JSON.stringify({
          family: 'web',
          containerDefinitions: [{ name: 'web', image: 'wharf/busybox:dev', memory: 64 }],
          tags: [{ key: 'tier', value: 'front' }],
        }),
      }),
    );
    const instance = await call(
      client.registerContainerInstance({
        cluster: CLUSTER,
        containerInstanceArn: '',
        ec2InstanceId: '',
        total: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
        attributes: [],
        agentVersion: 'test',
        dockerVersion: '',
        agentAddress: '127.0.0.1:1',
        hostname: 'h',
        hostAddress: '127.0.0.1',
      }),
    );
    instanceArn = instance.containerInstanceArn;
    const commit = await call(
      client.commitPlacements({
        cluster: CLUSTER,
        placements: [
          {
            expectedInstanceVersion: 0,
            fenceLease: '',
            fenceHolder: '',
            task: {
              ...EMPTY_TASK,
              taskDefinitionArn: `${ARN}:task-definition/web:1`,
              containerInstanceArn: instanceArn,
              cpu: 10,
              memory: 10,
              startedBy: 'test',
              tagsJson: '[{"key":"run","value":"1"}]',
            },
          },
        ],
      }),
    );
    taskArn = commit.tasks[0].taskArn;
    const service = await call(
      client.createService({
        cluster: CLUSTER,
        serviceName: 'api',
        taskDefinition: 'web',
        desiredCount: 0,
        schedulingStrategy: '',
        launchType: '',
        deploymentConfigurationJson: '',
        placementConstraintsJson: '',
        placementStrategyJson: '',
        loadBalancersJson: '',
        tagsJson: '[{"key":"svc","value":"yes"}]',
        healthCheckGracePeriodSeconds: undefined,
        clientToken: '',
      }),
    );
    serviceArn = service.serviceArn;
  });

  afterAll(async () => {
    grpc?.close();
    await pool?.end();
    await state?.stop();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  describe('tags', () => {
    it('lists the tags each kind was created with, by its ARN', async () => {
      const expected: [string, { key: string; value: string }[]][] = [
        [`${ARN}:cluster/${CLUSTER}`, [{ key: 'team', value: 'core' }]],
        [`${ARN}:task-definition/web:1`, [{ key: 'tier', value: 'front' }]],
        [taskArn, [{ key: 'run', value: '1' }]],
        [serviceArn, [{ key: 'svc', value: 'yes' }]],
        [instanceArn, []],
      ];
      for (const [resourceArn, want] of expected) {
        expect(tags(await call(client.listTagsForResource({ resourceArn })))).toEqual(want);
      }
    });

    it('adds and replaces by key, removes keys, on every kind, and Describe sees the same tags', async () => {
      for (const resourceArn of [
        `${ARN}:cluster/${CLUSTER}`,
        `${ARN}:task-definition/web:1`,
        taskArn,
        serviceArn,
        instanceArn,
      ]) {
        const before = tags(await call(client.listTagsForResource({ resourceArn })));
        const added = await call(
          client.tagResource({
            resourceArn,
            tagsJson: '[{"key":"env","value":"dev"},{"key":"owner","value":"me"}]',
          }),
        );
        expect(tags(added)).toEqual([
          ...before,
          { key: 'env', value: 'dev' },
          { key: 'owner', value: 'me' },
        ]);
        const replaced = await call(
          client.tagResource({ resourceArn, tagsJson: '[{"key":"env","value":"prod"}]' }),
        );
        expect(tags(replaced)).toContainEqual({ key: 'env', value: 'prod' });
        expect(tags(replaced)).toHaveLength(before.length + 2);
        const removed = await call(
          client.untagResource({ resourceArn, tagKeys: ['owner', 'never-there'] }),
        );
        expect(tags(removed)).toEqual([...before, { key: 'env', value: 'prod' }]);
        expect(tags(await call(client.listTagsForResource({ resourceArn })))).toEqual(
          tags(removed),
        );
      }
      const [cluster] = (await call(client.describeClusters({ clusters: [CLUSTER] }))).clusters;
      expect(tags(cluster)).toContainEqual({ key: 'env', value: 'prod' });
      const td = await call(client.describeTaskDefinition({ taskDefinition: 'web:1' }));
      expect(tags(td)).toEqual([
        { key: 'tier', value: 'front' },
        { key: 'env', value: 'prod' },
      ]);
      const [task] = (await call(client.describeTasks({ cluster: CLUSTER, tasks: [taskArn] })))
        .tasks;
      expect(tags(task)).toEqual([
        { key: 'run', value: '1' },
        { key: 'env', value: 'prod' },
      ]);
      const [service] = (
        await call(client.describeServices({ cluster: CLUSTER, services: ['api'] }))
      ).services;
      expect(tags(service)).toEqual([
        { key: 'svc', value: 'yes' },
        { key: 'env', value: 'prod' },
      ]);
      const [instance] = (
        await call(
          client.describeContainerInstances({
            cluster: CLUSTER,
            containerInstances: [instanceArn],
          }),
        )
      ).containerInstances;
      expect(tags(instance)).toEqual([{ key: 'env', value: 'prod' }]);
    });

    it('keeps at most 50 tags on a resource, counting the ones it has', async () => {
      const resourceArn = instanceArn;
      const many = (n: number, prefix: string) =>
        JSON.stringify(Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: '' })));
      const current = tags(await call(client.listTagsForResource({ resourceArn }))).length;
      await call(client.tagResource({ resourceArn, tagsJson: many(50 - current, 'k') }));
      const err = await grpcError(
        call(client.tagResource({ resourceArn, tagsJson: many(1, 'extra') })),
      );
      expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
      expect(err.details).toBe(
        'InvalidParameterException: tags: a resource can have at most 50 tags; this request would leave 51.',
      );
      // Replacing an existing key is no new tag.
      await call(client.tagResource({ resourceArn, tagsJson: '[{"key":"k0","value":"v"}]' }));
      expect(tags(await call(client.listTagsForResource({ resourceArn })))).toHaveLength(50);
    });

    it('answers the ECS errors for unknown and unsupported resources', async () => {
      const cases: [() => Promise<unknown>, number, string][] = [
        [
          () => call(client.tagResource({ resourceArn: `${ARN}:cluster/nope`, tagsJson: '[]' })),
          GrpcCode.NOT_FOUND,
          'ClusterNotFoundException: Cluster not found.',
        ],
        [
          () => call(client.listTagsForResource({ resourceArn: `${ARN}:service/nope/api` })),
          GrpcCode.NOT_FOUND,
          'ClusterNotFoundException: Cluster not found.',
        ],
        [
          () =>
            call(
              client.tagResource({ resourceArn: `${ARN}:service/${CLUSTER}/nope`, tagsJson: '[]' }),
            ),
          GrpcCode.NOT_FOUND,
          'ResourceNotFoundException: The specified service is not found.',
        ],
        [
          () =>
            call(
              client.untagResource({ resourceArn: `${ARN}:task/${CLUSTER}/0000`, tagKeys: ['a'] }),
            ),
          GrpcCode.NOT_FOUND,
          'ResourceNotFoundException: The specified task is not found.',
        ],
        [
          () =>
            call(
              client.tagResource({ resourceArn: `${ARN}:task-definition/web:99`, tagsJson: '[]' }),
            ),
          GrpcCode.NOT_FOUND,
          'ResourceNotFoundException: The specified task definition is not found.',
        ],
        [
          () =>
            call(
              client.listTagsForResource({
                resourceArn: `${ARN}:container-instance/${CLUSTER}/nope`,
              }),
            ),
          GrpcCode.INVALID_ARGUMENT,
          'InvalidParameterException: The specified container instance is not found.',
        ],
        [
          () => call(client.listTagsForResource({ resourceArn: 'not-an-arn' })),
          GrpcCode.INVALID_ARGUMENT,
          "InvalidParameterException: resourceArn: 'not-an-arn' is not a valid Amazon ECS ARN.",
        ],
        [
          () => call(client.listTagsForResource({ resourceArn: `${ARN}:capacity-provider/cp` })),
          GrpcCode.INVALID_ARGUMENT,
          'InvalidParameterException: resourceArn: Wharf keeps tags on clusters, services, task definitions, tasks and container instances, not on capacity-provider resources.',
        ],
        [
          () => call(client.listTagsForResource({ resourceArn: `${ARN}:task-definition/web` })),
          GrpcCode.INVALID_ARGUMENT,
          `InvalidParameterException: resourceArn: '${ARN}:task-definition/web' is not a valid task-definition ARN.`,
        ],
        [
          () =>
            call(
              client.listTagsForResource({
                resourceArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/${CLUSTER}`,
              }),
            ),
          GrpcCode.INVALID_ARGUMENT,
          `InvalidParameterException: resourceArn: 'arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/${CLUSTER}' is not in this region and account (us-east-1, ${ACCOUNT}).`,
        ],
        [
          () =>
            call(
              client.tagResource({
                resourceArn: `${ARN}:cluster/${CLUSTER}`,
                tagsJson: '[{"key":"aws:x"}]',
              }),
            ),
          GrpcCode.INVALID_ARGUMENT,
          'InvalidParameterException: tags[0].key: the aws: prefix is reserved for AWS use.',
        ],
      ];
      for (const [p, code, details] of cases) {
        const err = await grpcError(p());
        expect({ code: err.code, details: err.details }).toEqual({ code, details });
      }
    });

    it('finds a task by the short ARN format too, and refuses bad tags at CreateCluster', async () => {
      const id = taskArn.split('/').pop()!;
      const res = await call(client.listTagsForResource({ resourceArn: `${ARN}:task/${id}` }));
      expect(tags(res)).toContainEqual({ key: 'run', value: '1' });
      const err = await grpcError(
        call(
          client.createCluster({
            clusterName: 'badtags',
            tagsJson: '[{"key":"aws:reserved"}]',
          } as stateV1.CreateClusterRequest),
        ),
      );
      expect(err.details).toBe(
        'InvalidParameterException: tags[0].key: the aws: prefix is reserved for AWS use.',
      );
    });
  });

  describe('account settings', () => {
    const list = (req: Partial<stateV1.ListAccountSettingsRequest>) =>
      call(
        client.listAccountSettings({
          principalArn: ALICE,
          name: '',
          value: '',
          effectiveSettings: false,
          maxResults: 0,
          nextToken: '',
          ...req,
        }),
      );

    it('answers ECS defaults when nothing is set, then the default, then the principal’s own', async () => {
      const defaults = await list({ effectiveSettings: true });
      expect(defaults.settings).toHaveLength(9);
      expect(defaults.nextToken).toBe('');
      expect(Object.fromEntries(defaults.settings.map((s) => [s.name, s.value]))).toEqual({
        awsvpcTrunking: 'disabled',
        containerInsights: 'disabled',
        containerInstanceLongArnFormat: 'enabled',
        fargateFIPSMode: 'disabled',
        fargateTaskRetirementWaitPeriod: '7',
        guardDutyActivate: 'disabled',
        serviceLongArnFormat: 'enabled',
        tagResourceAuthorization: 'on',
        taskLongArnFormat: 'enabled',
      });
      expect(defaults.settings.every((s) => s.principalArn === ALICE)).toBe(true);
      expect(defaults.settings.find((s) => s.name === 'guardDutyActivate')?.type).toBe(
        'aws_managed',
      );
      expect((await list({})).settings).toEqual([]);

      const byDefault = await call(
        client.putAccountSetting({
          name: 'containerInsights',
          value: 'enabled',
          principalArn: '',
          accountDefault: true,
        }),
      );
      expect(byDefault).toEqual({
        name: 'containerInsights',
        value: 'enabled',
        principalArn: ROOT,
        type: 'user',
      });
      const effective = async () =>
        (await list({ effectiveSettings: true, name: 'containerInsights' })).settings[0]?.value;
      expect(await effective()).toBe('enabled');

      await call(
        client.putAccountSetting({
          name: 'containerInsights',
          value: 'enhanced',
          principalArn: ALICE,
          accountDefault: false,
        }),
      );
      expect(await effective()).toBe('enhanced');
      expect((await list({})).settings).toEqual([
        { name: 'containerInsights', value: 'enhanced', principalArn: ALICE, type: 'user' },
      ]);
      // Another principal still sees the account default.
      const bob = await list({
        principalArn: `arn:aws:iam::${ACCOUNT}:role/bob`,
        effectiveSettings: true,
        name: 'containerInsights',
      });
      expect(bob.settings[0].value).toBe('enabled');

      const deleted = await call(
        client.deleteAccountSetting({ name: 'containerInsights', principalArn: ALICE }),
      );
      expect(deleted).toEqual({
        name: 'containerInsights',
        value: 'enhanced',
        principalArn: ALICE,
        type: 'user',
      });
      expect(await effective()).toBe('enabled');
      // Deleting what is not set deletes nothing and answers the value in effect.
      const again = await call(
        client.deleteAccountSetting({ name: 'containerInsights', principalArn: ALICE }),
      );
      expect(again.value).toBe('enabled');
      const { rows } = await pool.query(
        'SELECT principal_arn, name, value FROM account_settings ORDER BY principal_arn',
      );
      expect(rows).toEqual([{ principal_arn: ROOT, name: 'containerInsights', value: 'enabled' }]);
    });

    it('pages by name and filters by name and value', async () => {
      const first = await list({ effectiveSettings: true, maxResults: 4 });
      expect(first.settings.map((s) => s.name)).toEqual([
        'awsvpcTrunking',
        'containerInsights',
        'containerInstanceLongArnFormat',
        'fargateFIPSMode',
      ]);
      const second = await list({
        effectiveSettings: true,
        maxResults: 4,
        nextToken: first.nextToken,
      });
      const third = await list({
        effectiveSettings: true,
        maxResults: 4,
        nextToken: second.nextToken,
      });
      expect(second.settings).toHaveLength(4);
      expect(third.settings.map((s) => s.name)).toEqual(['taskLongArnFormat']);
      expect(third.nextToken).toBe('');
      const filtered = await list({
        effectiveSettings: true,
        name: 'serviceLongArnFormat',
        value: 'disabled',
      });
      expect(filtered.settings).toEqual([]);
      const matched = await list({
        effectiveSettings: true,
        name: 'serviceLongArnFormat',
        value: 'enabled',
      });
      expect(matched.settings.map((s) => s.value)).toEqual(['enabled']);
    });

    it('refuses what ECS refuses, naming the member', async () => {
      const put = (req: Partial<stateV1.PutAccountSettingRequest>) =>
        call(
          client.putAccountSetting({
            name: 'awsvpcTrunking',
            value: 'enabled',
            principalArn: ALICE,
            accountDefault: false,
            ...req,
          }),
        );
      const cases: [() => Promise<unknown>, string][] = [
        [
          () => put({ name: 'dualStackIPv6' }),
          "InvalidParameterException: name: 'dualStackIPv6' is not an account setting",
        ],
        [
          () => put({ value: 'on' }),
          "InvalidParameterException: value: 'on' is not valid for awsvpcTrunking; expected one of [enabled, disabled].",
        ],
        [
          () => put({ name: 'guardDutyActivate' }),
          'InvalidParameterException: name: guardDutyActivate is read-only',
        ],
        [
          () => put({ name: 'fargateFIPSMode' }),
          'InvalidParameterException: name: fargateFIPSMode can only be set with PutAccountSettingDefault.',
        ],
        [
          () => put({ name: 'fargateTaskRetirementWaitPeriod', value: '14' }),
          'InvalidParameterException: principalArn: fargateTaskRetirementWaitPeriod can only be set for the root user',
        ],
        [
          () => put({ principalArn: 'arn:aws:iam::123456789012:user/x' }),
          "InvalidParameterException: principalArn: 'arn:aws:iam::123456789012:user/x' belongs to account 123456789012",
        ],
        [
          () => list({ value: 'enabled' }),
          'InvalidParameterException: value: a value can only be given with a setting name.',
        ],
        [
          () => list({ maxResults: 11 }),
          'InvalidParameterException: maxResults must be between 1 and 10.',
        ],
        [
          () => call(client.deleteAccountSetting({ name: 'nope', principalArn: ALICE })),
          "InvalidParameterException: name: 'nope' is not an account setting",
        ],
      ];
      for (const [p, details] of cases) {
        const err = await grpcError(p());
        expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
        expect(err.details.startsWith(details)).toBe(true);
      }
      // The root user may set the retirement wait period (the account default).
      const root = await put({
        name: 'fargateTaskRetirementWaitPeriod',
        value: '14',
        principalArn: ROOT,
      });
      expect(root.value).toBe('14');
    });
  });
});
