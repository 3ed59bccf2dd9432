/**
 * DeleteCluster, UpdateCluster, UpdateClusterSettings, DeregisterTaskDefinition,
 * DeleteTaskDefinitions, ListTaskDefinitions, ListTaskDefinitionFamilies and the operations
 * Wharf answers as unsupported, through the api with the AWS SDK, against the real state in
 * this process (Postgres and NATS from Testcontainers). No scheduler runs: instances and
 * tasks that must keep a cluster from being deleted are made through state directly.
 */
import {
  ClientException,
  ClusterContainsContainerInstancesException,
  ClusterContainsServicesException,
  ClusterContainsTasksException,
  ClusterNotFoundException,
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  CreateServiceCommand,
  CreateTaskSetCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  InvalidParameterException,
  ListClustersCommand,
  ListServicesCommand,
  ListTaskDefinitionFamiliesCommand,
  ListTaskDefinitionsCommand,
  NamespaceNotFoundException,
  paginateListTaskDefinitionFamilies,
  paginateListTaskDefinitions,
  RegisterTaskDefinitionCommand,
  UnsupportedFeatureException,
  UpdateClusterCommand,
  UpdateClusterSettingsCommand,
} from '@aws-sdk/client-ecs';
import { createLogger } from '@wharf/observability';
import { createStateClient } from '@wharf/proto';
import { Pool } from 'pg';
import { firstValueFrom } from 'rxjs';
import { startControlPlane } from './control-plane-test-fixtures';
import { findViolation } from './protocol/ecs-model';
import { ECS_MODEL } from './protocol/ecs-model.generated';

jest.setTimeout(180_000);

const ARN = 'arn:aws:ecs:us-east-1:000000000000';
const tdArn = (ref: string) => `${ARN}:task-definition/${ref}`;

describe('cluster and task definition lifecycle through the api', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let ecs: ECSClient;
  let url: string;
  let pool: Pool;
  let stateUrl: string;

  const failure = <T>(p: Promise<T>): Promise<Error> =>
    p.then(
      () => {
        throw new Error('expected the request to fail');
      },
      (e: unknown) => e as Error,
    );

  /** The raw answer, checked against the operation's output shape in the model. */
  const raw = async (operation: string, input: Record<string, unknown>) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AmazonEC2ContainerServiceV20141113.${operation}`,
      },
      body: JSON.stringify(input),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    const output = ECS_MODEL.operations[operation].output;
    expect(findViolation(ECS_MODEL, output, body, output, { strict: true })).toBeUndefined();
    return body;
  };

  const registerFamily = (family: string) =>
    ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        containerDefinitions: [{ name: 'c', image: 'wharf/busybox:dev', memory: 64 }],
      }),
    );

  beforeAll(async () => {
    // These operations never call the scheduler: none runs.
    const plane = await startControlPlane({
      logger: createLogger('api-lifecycle-int', process.env.LOG_LEVEL ?? 'warn'),
      scheduler: false,
    });
    stops.push(() => plane.stop());
    stateUrl = plane.state.grpcUrl;
    url = plane.api.url;
    pool = new Pool({ connectionString: plane.postgres.url, max: 2 });
    stops.unshift(() => pool.end());
    ecs = new ECSClient({
      endpoint: plane.api.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    ecs?.destroy();
    for (const stop of stops) await stop().catch(() => undefined);
  });

  describe('clusters', () => {
    it('keeps settings and configuration and shows them as DescribeClusters include asks', async () => {
      const { cluster: created } = await ecs.send(
        new CreateClusterCommand({
          clusterName: 'observed',
          settings: [{ name: 'containerInsights', value: 'enabled' }],
        }),
      );
      expect(created?.settings).toEqual([{ name: 'containerInsights', value: 'enabled' }]);

      const { cluster: enhanced } = await ecs.send(
        new UpdateClusterSettingsCommand({
          cluster: 'observed',
          settings: [{ name: 'containerInsights', value: 'enhanced' }],
        }),
      );
      expect(enhanced?.settings).toEqual([{ name: 'containerInsights', value: 'enhanced' }]);

      const updated = await raw('UpdateCluster', {
        cluster: `${ARN}:cluster/observed`,
        configuration: {
          executeCommandConfiguration: {
            logging: 'OVERRIDE',
            logConfiguration: { cloudWatchLogGroupName: 'exec', cloudWatchEncryptionEnabled: true },
          },
        },
      });
      expect(updated.cluster).toMatchObject({
        clusterName: 'observed',
        status: 'ACTIVE',
        settings: [{ name: 'containerInsights', value: 'enhanced' }],
        configuration: {
          executeCommandConfiguration: {
            logging: 'OVERRIDE',
            logConfiguration: {
              cloudWatchLogGroupName: 'exec',
              cloudWatchEncryptionEnabled: true,
              s3EncryptionEnabled: false,
            },
          },
        },
      });

      const plain = await raw('DescribeClusters', { clusters: ['observed'] });
      const [plainCluster] = plain.clusters as Record<string, unknown>[];
      expect(plainCluster).not.toHaveProperty('settings');
      expect(plainCluster).not.toHaveProperty('configuration');
      const { clusters } = await ecs.send(
        new DescribeClustersCommand({
          clusters: ['observed'],
          include: ['SETTINGS', 'CONFIGURATIONS'],
        }),
      );
      expect(clusters?.[0].settings).toEqual([{ name: 'containerInsights', value: 'enhanced' }]);
      expect(clusters?.[0].configuration).toEqual(
        (updated.cluster as Record<string, unknown>).configuration,
      );
    });

    it('answers the documented errors of UpdateCluster and UpdateClusterSettings', async () => {
      const badValue = await failure(
        ecs.send(
          new UpdateClusterSettingsCommand({
            cluster: 'observed',
            settings: [{ name: 'containerInsights', value: 'sometimes' }],
          }),
        ),
      );
      expect(badValue).toBeInstanceOf(InvalidParameterException);
      expect(badValue.message).toMatch(/settings\[0\]\.value for containerInsights must be one of/);
      // A name outside the model's enum never reaches state.
      const badName = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'AmazonEC2ContainerServiceV20141113.UpdateClusterSettings',
        },
        body: JSON.stringify({
          cluster: 'observed',
          settings: [{ name: 'insights', value: 'enabled' }],
        }),
      });
      expect(badName.status).toBe(400);
      expect(badName.headers.get('x-amzn-errortype')).toBe('InvalidParameterException');
      const noCluster = await failure(
        ecs.send(
          new UpdateClusterSettingsCommand({
            cluster: 'nowhere',
            settings: [{ name: 'containerInsights', value: 'enabled' }],
          }),
        ),
      );
      expect(noCluster).toBeInstanceOf(ClusterNotFoundException);
      const override = await failure(
        ecs.send(
          new UpdateClusterCommand({
            cluster: 'observed',
            configuration: { executeCommandConfiguration: { logging: 'OVERRIDE' } },
          }),
        ),
      );
      expect(override).toBeInstanceOf(InvalidParameterException);
      const namespace = await failure(
        ecs.send(
          new UpdateClusterCommand({
            cluster: 'observed',
            serviceConnectDefaults: { namespace: 'local' },
          }),
        ),
      );
      expect(namespace).toBeInstanceOf(NamespaceNotFoundException);
      expect(namespace.message).toBe(
        'UpdateCluster: serviceConnectDefaults is not supported by Wharf: there are no Cloud Map namespaces (no Service Connect).',
      );
    });

    it('refuses to delete a cluster with instances, services or tasks; then it is INACTIVE', async () => {
      await ecs.send(new CreateClusterCommand({ clusterName: 'temp' }));
      await registerFamily('temp-web');
      const grpc = createStateClient(stateUrl);
      try {
        await firstValueFrom(
          grpc.client.registerContainerInstance({
            cluster: 'temp',
            containerInstanceArn: '',
            ec2InstanceId: 'i-temp',
            total: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
            attributes: [],
            agentVersion: '0.1.0',
            dockerVersion: '27.0',
            agentAddress: '10.0.0.7:4703',
            hostname: 'temp-host',
            hostAddress: '10.0.0.7',
          }),
        );
      } finally {
        grpc.close();
      }
      const instances = await failure(ecs.send(new DeleteClusterCommand({ cluster: 'temp' })));
      expect(instances).toBeInstanceOf(ClusterContainsContainerInstancesException);
      expect(instances.message).toBe(
        'The Cluster cannot be deleted while Container Instances are active or draining.',
      );
      // (DeregisterContainerInstance is not this test's business.)
      await pool.query(`UPDATE container_instances SET status = 'INACTIVE' WHERE cluster = 'temp'`);

      await ecs.send(
        new CreateServiceCommand({
          cluster: 'temp',
          serviceName: 'svc',
          taskDefinition: 'temp-web',
          desiredCount: 0,
        }),
      );
      const services = await failure(ecs.send(new DeleteClusterCommand({ cluster: 'temp' })));
      expect(services).toBeInstanceOf(ClusterContainsServicesException);
      expect(services.message).toBe('The Cluster cannot be deleted while Services are active.');
      await ecs.send(new DeleteServiceCommand({ cluster: 'temp', service: 'svc' }));
      // No scheduler here to finish draining it.
      await pool.query(`UPDATE services SET status = 'INACTIVE' WHERE cluster = 'temp'`);

      await pool.query(
        `INSERT INTO tasks (id, arn, cluster, task_definition_arn, family, last_status, desired_status)
         VALUES ('t-temp', $1, 'temp', $2, 'temp-web', 'PENDING', 'RUNNING')`,
        [`${ARN}:task/temp/t-temp`, tdArn('temp-web:1')],
      );
      const tasks = await failure(ecs.send(new DeleteClusterCommand({ cluster: 'temp' })));
      expect(tasks).toBeInstanceOf(ClusterContainsTasksException);
      expect(tasks.message).toBe('The Cluster cannot be deleted while Tasks are active.');
      await pool.query(`UPDATE tasks SET last_status = 'STOPPED' WHERE id = 't-temp'`);

      const deleted = await raw('DeleteCluster', { cluster: `${ARN}:cluster/temp` });
      expect(deleted.cluster).toMatchObject({
        clusterArn: `${ARN}:cluster/temp`,
        clusterName: 'temp',
        status: 'INACTIVE',
        settings: [{ name: 'containerInsights', value: 'disabled' }],
      });
      const { clusters } = await ecs.send(new DescribeClustersCommand({ clusters: ['temp'] }));
      expect(clusters?.map((c) => c.status)).toEqual(['INACTIVE']);
      const { clusterArns } = await ecs.send(new ListClustersCommand({}));
      expect(clusterArns).not.toContain(`${ARN}:cluster/temp`);
      expect(await failure(ecs.send(new ListServicesCommand({ cluster: 'temp' })))).toBeInstanceOf(
        ClusterNotFoundException,
      );
      expect(await failure(ecs.send(new DeleteClusterCommand({ cluster: 'temp' })))).toBeInstanceOf(
        ClusterNotFoundException,
      );
      expect(
        await failure(ecs.send(new DeleteClusterCommand({ cluster: 'never-was' }))),
      ).toBeInstanceOf(ClusterNotFoundException);
    });
  });

  describe('task definitions', () => {
    beforeAll(async () => {
      // 12 ACTIVE revisions over 4 families, more than one page at maxResults 5.
      for (const family of ['lt-a', 'lt-a', 'lt-a', 'lt-b', 'lt-b', 'lt-c', 'lt-d', 'lt-d']) {
        await registerFamily(family);
      }
      for (const family of ['lt-c', 'lt-c', 'lt-e', 'lt-e']) await registerFamily(family);
    });

    it('deregisters a revision and answers the documented errors', async () => {
      const res = await raw('DeregisterTaskDefinition', { taskDefinition: 'lt-a:1' });
      const td = res.taskDefinition as Record<string, unknown>;
      expect(td).toMatchObject({ taskDefinitionArn: tdArn('lt-a:1'), status: 'INACTIVE' });
      expect(typeof td.deregisteredAt).toBe('number');
      const { taskDefinition } = await ecs.send(
        new DescribeTaskDefinitionCommand({ taskDefinition: 'lt-a:1' }),
      );
      expect(taskDefinition?.status).toBe('INACTIVE');
      expect(taskDefinition?.deregisteredAt).toBeInstanceOf(Date);

      const unknown = await failure(
        ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'lt-a:99' })),
      );
      expect(unknown).toBeInstanceOf(ClientException);
      expect(unknown.message).toBe('The specified task definition does not exist.');
      const familyOnly = await failure(
        ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'lt-a' })),
      );
      expect(familyOnly).toBeInstanceOf(InvalidParameterException);
    });

    it('pages ListTaskDefinitions in order, ASC and DESC, and refuses a bad token', async () => {
      const pages: string[][] = [];
      for await (const page of paginateListTaskDefinitions(
        { client: ecs, pageSize: 5 },
        { familyPrefix: 'lt-' },
      )) {
        pages.push(page.taskDefinitionArns ?? []);
      }
      expect(pages.map((p) => p.length)).toEqual([5, 5, 1]);
      const expected = [
        'lt-a:2',
        'lt-a:3',
        'lt-b:1',
        'lt-b:2',
        'lt-c:1',
        'lt-c:2',
        'lt-c:3',
        'lt-d:1',
        'lt-d:2',
        'lt-e:1',
        'lt-e:2',
      ].map(tdArn);
      expect(pages.flat()).toEqual(expected);

      const first = await ecs.send(
        new ListTaskDefinitionsCommand({ familyPrefix: 'lt-', sort: 'DESC', maxResults: 4 }),
      );
      expect(first.taskDefinitionArns).toEqual([...expected].reverse().slice(0, 4));
      // Written meanwhile, before the cursor: the next page is unaffected.
      await registerFamily('lt-z');
      const second = await ecs.send(
        new ListTaskDefinitionsCommand({
          familyPrefix: 'lt-',
          sort: 'DESC',
          maxResults: 4,
          nextToken: first.nextToken,
        }),
      );
      expect(second.taskDefinitionArns).toEqual([...expected].reverse().slice(4, 8));

      const inactive = await ecs.send(new ListTaskDefinitionsCommand({ status: 'INACTIVE' }));
      expect(inactive.taskDefinitionArns).toEqual([tdArn('lt-a:1')]);
      expect(inactive.nextToken).toBeUndefined();

      for (const input of [
        { nextToken: 'garbage' },
        { sort: 'ASC' as const, nextToken: first.nextToken },
        { maxResults: 101 },
        { maxResults: 0 },
      ]) {
        expect(await failure(ecs.send(new ListTaskDefinitionsCommand(input)))).toBeInstanceOf(
          InvalidParameterException,
        );
      }
    });

    it('pages ListTaskDefinitionFamilies by status', async () => {
      await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'lt-b:1' }));
      await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'lt-b:2' }));
      const all: string[] = [];
      let pages = 0;
      for await (const page of paginateListTaskDefinitionFamilies(
        { client: ecs, pageSize: 2 },
        { familyPrefix: 'lt-' },
      )) {
        all.push(...(page.families ?? []));
        pages++;
      }
      expect(all).toEqual(['lt-a', 'lt-b', 'lt-c', 'lt-d', 'lt-e', 'lt-z']);
      expect(pages).toBe(3);
      const active = await ecs.send(
        new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'lt-', status: 'ACTIVE' }),
      );
      expect(active.families).toEqual(['lt-a', 'lt-c', 'lt-d', 'lt-e', 'lt-z']);
      const inactive = await raw('ListTaskDefinitionFamilies', {
        familyPrefix: 'lt-',
        status: 'INACTIVE',
      });
      expect(inactive).toEqual({ families: ['lt-b'] });
      expect(
        await failure(ecs.send(new ListTaskDefinitionFamiliesCommand({ nextToken: 'garbage' }))),
      ).toBeInstanceOf(InvalidParameterException);
    });

    it('deletes INACTIVE revisions and reports the others as failures', async () => {
      const res = await raw('DeleteTaskDefinitions', {
        taskDefinitions: ['lt-b:1', tdArn('lt-b:2'), 'lt-c:1', 'lt-c:42'],
      });
      expect(
        (res.taskDefinitions as Record<string, unknown>[]).map((t) => [
          t.taskDefinitionArn,
          t.status,
        ]),
      ).toEqual([
        [tdArn('lt-b:1'), 'DELETE_IN_PROGRESS'],
        [tdArn('lt-b:2'), 'DELETE_IN_PROGRESS'],
      ]);
      expect(res.failures).toEqual([
        {
          arn: tdArn('lt-c:1'),
          reason:
            'The specified task definition is still in ACTIVE status. Please deregister the target and try again.',
        },
        { arn: 'lt-c:42', reason: 'The specified task definition does not exist.' },
      ]);
      // Nothing used them: gone, and so is the family.
      expect(
        await failure(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'lt-b:1' }))),
      ).toBeInstanceOf(ClientException);
      const { families } = await ecs.send(
        new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'lt-b' }),
      );
      expect(families).toEqual([]);
      const tooMany = await failure(
        ecs.send(
          new DeleteTaskDefinitionsCommand({
            taskDefinitions: Array.from({ length: 11 }, (_, i) => `lt-a:${i + 1}`),
          }),
        ),
      );
      expect(tooMany).toBeInstanceOf(InvalidParameterException);
      expect(tooMany.message).toBe('taskDefinitions can have at most 10 items.');
    });
  });

  describe('operations with no meaning here', () => {
    it('answers CreateCapacityProvider with ClientException saying why', async () => {
      const err = await failure(
        ecs.send(
          new CreateCapacityProviderCommand({
            name: 'cp',
            autoScalingGroupProvider: { autoScalingGroupArn: 'arn:aws:autoscaling:x' },
          }),
        ),
      );
      expect(err).toBeInstanceOf(ClientException);
      expect(err.message).toBe(
        'CreateCapacityProvider is not supported by Wharf: there are no Auto Scaling groups or Fargate here; capacity is the container instances that register.',
      );
    });

    it('answers CreateTaskSet with UnsupportedFeatureException saying why', async () => {
      const err = await failure(
        ecs.send(
          new CreateTaskSetCommand({
            service: 'web',
            cluster: 'default',
            taskDefinition: 'lt-a:2',
          }),
        ),
      );
      expect(err).toBeInstanceOf(UnsupportedFeatureException);
      expect(err.message).toBe(
        'CreateTaskSet is not supported by Wharf: task sets belong to the EXTERNAL and CODE_DEPLOY deployment controllers; Wharf services deploy only by the rolling update (the ECS controller).',
      );
    });
  });
});
