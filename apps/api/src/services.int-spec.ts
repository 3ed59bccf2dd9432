/**
 * ECS services through the api with the AWS SDK, against the real state in this process
 * (Postgres and NATS from Testcontainers). No scheduler runs, so nothing reconciles: the
 * services keep the counts and deployments state gave them, which is what is checked here.
 * Deployments rolling out on real instances are the e2e test's business.
 */
import {
  ClusterNotFoundException,
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  InvalidParameterException,
  ListServicesCommand,
  RegisterTaskDefinitionCommand,
  ServiceNotActiveException,
  ServiceNotFoundException,
  UnsupportedFeatureException,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { createLogger } from '@wharf/observability';
import { startControlPlane } from './control-plane-test-fixtures';
import { findViolation } from './protocol/ecs-model';
import { ECS_MODEL } from './protocol/ecs-model.generated';

jest.setTimeout(180_000);

const ARN = 'arn:aws:ecs:us-east-1:000000000000';

describe('ECS services through the api against real state', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let ecs: ECSClient;
  let url: string;
  const startedAt = Date.now();

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
      logger: createLogger('api-services-int', process.env.LOG_LEVEL ?? 'warn'),
      scheduler: false,
    });
    stops.push(() => plane.stop());
    url = plane.api.url;
    ecs = new ECSClient({
      endpoint: plane.api.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    const web = {
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
    await ecs.send(new RegisterTaskDefinitionCommand(web));
    await ecs.send(new RegisterTaskDefinitionCommand(web));
    await ecs.send(new CreateClusterCommand({ clusterName: 'paged' }));
  });

  afterAll(async () => {
    ecs?.destroy();
    for (const stop of stops) await stop().catch(() => undefined);
  });

  it('creates a service with ECS defaults and one PRIMARY deployment', async () => {
    const { service } = await ecs.send(
      new CreateServiceCommand({
        serviceName: 'web',
        taskDefinition: 'web:1',
        desiredCount: 2,
        tags: [{ key: 'team', value: 'a' }],
        enableECSManagedTags: true,
        propagateTags: 'NONE',
        deploymentController: { type: 'ECS' },
      }),
    );
    expect(service).toMatchObject({
      serviceArn: `${ARN}:service/default/web`,
      serviceName: 'web',
      clusterArn: `${ARN}:cluster/default`,
      status: 'ACTIVE',
      desiredCount: 2,
      runningCount: 0,
      pendingCount: 0,
      launchType: 'EC2',
      taskDefinition: `${ARN}:task-definition/web:1`,
      schedulingStrategy: 'REPLICA',
      deploymentConfiguration: {
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        deploymentCircuitBreaker: { enable: false, rollback: false },
      },
      loadBalancers: [],
      serviceRegistries: [],
      placementConstraints: [],
      deploymentController: { type: 'ECS' },
      tags: [{ key: 'team', value: 'a' }],
    });
    expect(service?.deployments).toHaveLength(1);
    expect(service?.deployments?.[0]).toMatchObject({
      id: expect.stringMatching(/^ecs-svc\/\d+$/),
      status: 'PRIMARY',
      taskDefinition: `${ARN}:task-definition/web:1`,
      desiredCount: 2,
      launchType: 'EC2',
    });
    // Timestamps are epoch seconds on the wire: the SDK turns them into the right Date.
    const created = service!.createdAt!.getTime();
    expect(created).toBeGreaterThanOrEqual(startedAt - 60_000);
    expect(created).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(service?.deployments?.[0].createdAt?.getTime()).toBeGreaterThanOrEqual(
      startedAt - 60_000,
    );
    expect(service).not.toHaveProperty('roleArn');
  });

  it('returns the service for the same CreateService again, refuses a different one', async () => {
    const again = await ecs.send(
      new CreateServiceCommand({
        serviceName: 'web',
        taskDefinition: 'web:1',
        desiredCount: 2,
        tags: [{ key: 'team', value: 'a' }],
      }),
    );
    expect(again.service?.serviceArn).toBe(`${ARN}:service/default/web`);
    const err = await failure(
      ecs.send(
        new CreateServiceCommand({ serviceName: 'web', taskDefinition: 'web:2', desiredCount: 1 }),
      ),
    );
    expect(err).toBeInstanceOf(InvalidParameterException);
    expect(err.message).toBe('Creation of service was not idempotent.');
  });

  it('describes services with MISSING failures, and tags only when asked', async () => {
    const res = await ecs.send(new DescribeServicesCommand({ services: ['web', 'nope'] }));
    expect(res.services?.map((s) => s.serviceName)).toEqual(['web']);
    expect(res.services?.[0]).not.toHaveProperty('tags');
    expect(res.failures).toEqual([
      expect.objectContaining({ arn: expect.stringContaining('nope'), reason: 'MISSING' }),
    ]);
    const byArn = await ecs.send(
      new DescribeServicesCommand({ services: [`${ARN}:service/default/web`], include: ['TAGS'] }),
    );
    expect(byArn.services?.[0].tags).toEqual([{ key: 'team', value: 'a' }]);
    const err = await failure(
      ecs.send(new DescribeServicesCommand({ cluster: 'nope', services: ['web'] })),
    );
    expect(err).toBeInstanceOf(ClusterNotFoundException);
  });

  it('updates the count, and a new task definition makes a new PRIMARY deployment', async () => {
    const scaled = await ecs.send(new UpdateServiceCommand({ service: 'web', desiredCount: 3 }));
    expect(scaled.service).toMatchObject({
      desiredCount: 3,
      taskDefinition: `${ARN}:task-definition/web:1`,
    });
    expect(scaled.service?.deployments).toHaveLength(1);
    const first = scaled.service!.deployments![0].id;

    const rolled = await ecs.send(
      new UpdateServiceCommand({ service: 'web', taskDefinition: 'web:2' }),
    );
    expect(rolled.service?.taskDefinition).toBe(`${ARN}:task-definition/web:2`);
    expect(rolled.service?.deployments?.map((d) => [d.status, d.taskDefinition])).toEqual([
      ['PRIMARY', `${ARN}:task-definition/web:2`],
      ['ACTIVE', `${ARN}:task-definition/web:1`],
    ]);
    expect(rolled.service?.deployments?.[1].id).toBe(first);
    expect(rolled.service?.desiredCount).toBe(3);
  });

  it('answers every operation with only members of its ECS output shape, timestamps in seconds', async () => {
    const post = async (operation: string, input: object) => {
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
    const created = await post('CreateService', {
      serviceName: 'raw',
      taskDefinition: 'web',
      desiredCount: 0,
    });
    const service = created.service as { createdAt: number; deployments: { updatedAt: number }[] };
    expect(service.createdAt).toBeGreaterThan(startedAt / 1000 - 60);
    expect(service.createdAt).toBeLessThan(Date.now() / 1000 + 60);
    expect(service.deployments[0].updatedAt).toBeLessThan(Date.now() / 1000 + 60);
    await post('UpdateService', { service: 'raw', forceNewDeployment: true });
    await post('DescribeServices', { services: ['raw', 'nope'], include: ['TAGS'] });
    await post('ListServices', {});
    await post('DeleteService', { service: 'raw' });
  });

  it('answers ServiceNotFoundException for a service the cluster does not have', async () => {
    const update = await failure(
      ecs.send(new UpdateServiceCommand({ service: 'ghost', desiredCount: 1 })),
    );
    expect(update).toBeInstanceOf(ServiceNotFoundException);
    const del = await failure(ecs.send(new DeleteServiceCommand({ service: 'ghost' })));
    expect(del).toBeInstanceOf(ServiceNotFoundException);
    const otherCluster = await failure(
      ecs.send(new UpdateServiceCommand({ cluster: 'paged', service: 'web', desiredCount: 1 })),
    );
    expect(otherCluster).toBeInstanceOf(ServiceNotFoundException);
  });

  it('refuses members Wharf does not support, naming them', async () => {
    const network = await failure(
      ecs.send(
        new CreateServiceCommand({
          serviceName: 'vpc',
          taskDefinition: 'web',
          desiredCount: 1,
          networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } },
        }),
      ),
    );
    expect(network).toBeInstanceOf(UnsupportedFeatureException);
    expect(network.message).toMatch(/networkConfiguration is not supported/);
    const fargate = await failure(
      ecs.send(
        new CreateServiceCommand({
          serviceName: 'f',
          taskDefinition: 'web',
          desiredCount: 1,
          launchType: 'FARGATE',
        }),
      ),
    );
    expect(fargate).toBeInstanceOf(UnsupportedFeatureException);
    const exec = await failure(
      ecs.send(new UpdateServiceCommand({ service: 'web', enableExecuteCommand: true })),
    );
    expect(exec).toBeInstanceOf(UnsupportedFeatureException);
    expect(exec.message).toMatch(/enableExecuteCommand/);
  });

  it('answers bad values with InvalidParameterException naming the member', async () => {
    const percent = await failure(
      ecs.send(
        new CreateServiceCommand({
          serviceName: 'bad',
          taskDefinition: 'web',
          desiredCount: 1,
          deploymentConfiguration: { minimumHealthyPercent: 150 },
        }),
      ),
    );
    expect(percent).toBeInstanceOf(InvalidParameterException);
    expect(percent.message).toMatch(/minimumHealthyPercent/);
    const noCount = await failure(
      ecs.send(new CreateServiceCommand({ serviceName: 'bad', taskDefinition: 'web' })),
    );
    expect(noCount).toBeInstanceOf(InvalidParameterException);
    expect(noCount.message).toMatch(/desiredCount/);
    const name = await failure(
      ecs.send(
        new CreateServiceCommand({
          serviceName: 'no spaces',
          taskDefinition: 'web',
          desiredCount: 1,
        }),
      ),
    );
    expect(name).toBeInstanceOf(InvalidParameterException);
    expect(name.message).toMatch(/serviceName/);
  });

  it('deletes only a service scaled to 0 unless forced; a deleted one is not ACTIVE', async () => {
    const scaled = await failure(ecs.send(new DeleteServiceCommand({ service: 'web' })));
    expect(scaled).toBeInstanceOf(InvalidParameterException);
    expect(scaled.message).toBe('The service cannot be stopped while it is scaled above 0.');

    const { service } = await ecs.send(new DeleteServiceCommand({ service: 'web', force: true }));
    expect(service).toMatchObject({ serviceName: 'web', status: 'DRAINING', desiredCount: 0 });

    const update = await failure(
      ecs.send(new UpdateServiceCommand({ service: 'web', desiredCount: 1 })),
    );
    expect(update).toBeInstanceOf(ServiceNotActiveException);
    // DeleteService does not declare ServiceNotActiveException, so the SDK has no class for it.
    const again = await failure(ecs.send(new DeleteServiceCommand({ service: 'web' })));
    expect(again.name).toBe('ServiceNotActiveException');

    await ecs.send(
      new CreateServiceCommand({ serviceName: 'idle', taskDefinition: 'web', desiredCount: 0 }),
    );
    const idle = await ecs.send(
      new DeleteServiceCommand({ service: `${ARN}:service/default/idle` }),
    );
    expect(idle.service?.status).toBe('DRAINING');
  });

  it('lists the services of a cluster over two pages', async () => {
    for (const name of ['a', 'b', 'c']) {
      await ecs.send(
        new CreateServiceCommand({
          cluster: 'paged',
          serviceName: name,
          taskDefinition: 'web',
          desiredCount: 0,
        }),
      );
    }
    const first = await ecs.send(new ListServicesCommand({ cluster: 'paged', maxResults: 2 }));
    expect(first.serviceArns).toHaveLength(2);
    expect(first.nextToken).toBeTruthy();
    const second = await ecs.send(
      new ListServicesCommand({ cluster: 'paged', maxResults: 2, nextToken: first.nextToken }),
    );
    expect(second.serviceArns).toHaveLength(1);
    expect(second.nextToken).toBeUndefined();
    expect([...first.serviceArns!, ...second.serviceArns!].sort()).toEqual(
      ['a', 'b', 'c'].map((n) => `${ARN}:service/paged/${n}`),
    );
    const daemons = await ecs.send(
      new ListServicesCommand({ cluster: 'paged', schedulingStrategy: 'DAEMON' }),
    );
    expect(daemons.serviceArns).toEqual([]);
    const missing = await failure(ecs.send(new ListServicesCommand({ cluster: 'nope' })));
    expect(missing).toBeInstanceOf(ClusterNotFoundException);
  });
});
