import { GrpcCode } from '@wharf/domain';
import type { common, schedulerV1, stateV1 } from '@wharf/proto';
import { Observable, of, throwError } from 'rxjs';
import { EcsDispatcher } from '../ecs-dispatcher';
import { EcsApiError } from '../protocol/ecs-errors';
import { findViolation } from '../protocol/ecs-model';
import { ECS_MODEL } from '../protocol/ecs-model.generated';

const SERVICE: common.Service = {
  serviceArn: 'arn:aws:ecs:us-east-1:000000000000:service/default/web',
  serviceName: 'web',
  clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
  status: 'ACTIVE',
  desiredCount: 2,
  runningCount: 0,
  pendingCount: 0,
  launchType: 'EC2',
  taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
  schedulingStrategy: 'REPLICA',
  deploymentConfigurationJson:
    '{"maximumPercent":200,"minimumHealthyPercent":100,"deploymentCircuitBreaker":{"enable":false,"rollback":false}}',
  placementConstraintsJson: '[]',
  placementStrategyJson: '[]',
  loadBalancersJson: '[]',
  tagsJson: '[{"key":"team","value":"a"}]',
  healthCheckGracePeriodSeconds: 0,
  deployments: [],
  events: [],
  createdAt: 1_700_000_000_000,
  createdBy: '',
  version: 1,
};

/** A state client that records what each service RPC was asked and answers from `answers`. */
function fakeState(answers: Partial<Record<string, () => Observable<unknown>>> = {}) {
  const calls: Record<string, unknown[]> = {};
  const rpc =
    (name: string, fallback: () => Observable<unknown>) =>
    (req: unknown): Observable<unknown> => {
      (calls[name] ??= []).push(req);
      return (answers[name] ?? fallback)();
    };
  const state = {
    createService: rpc('createService', () => of(SERVICE)),
    updateService: rpc('updateService', () => of(SERVICE)),
    deleteService: rpc('deleteService', () => of({ ...SERVICE, status: 'DRAINING' })),
    describeServices: rpc('describeServices', () =>
      of({
        services: [SERVICE],
        failures: [{ arn: 'nope', reason: 'MISSING', detail: '' }],
      }),
    ),
    listServices: rpc('listServices', () =>
      of({ serviceArns: [SERVICE.serviceArn], nextToken: '' }),
    ),
  } as unknown as stateV1.StateServiceClient;
  const dispatcher = new EcsDispatcher({
    state,
    scheduler: {} as schedulerV1.SchedulerServiceClient,
    arnContext: { region: 'us-east-1', accountId: '000000000000' },
  });
  return {
    calls,
    dispatch: (op: string, input: Record<string, unknown>) => dispatcher.dispatch(op, input),
  };
}

async function ecsError(p: Promise<unknown>): Promise<EcsApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof EcsApiError) return err;
    throw err;
  }
  throw new Error('expected an ECS error');
}

const conformsToOutput = (operation: string, value: unknown) =>
  expect(
    findViolation(ECS_MODEL, ECS_MODEL.operations[operation].output, value, operation, {
      strict: true,
    }),
  ).toBeUndefined();

describe('service operations: request mapping', () => {
  it('maps CreateService, defaulting the cluster and leaving absent members empty or unset', async () => {
    const { calls, dispatch } = fakeState();
    const res = await dispatch('CreateService', {
      serviceName: 'web',
      taskDefinition: 'web:1',
      desiredCount: 2,
    });
    expect(calls.createService).toEqual([
      {
        cluster: 'default',
        serviceName: 'web',
        taskDefinition: 'web:1',
        desiredCount: 2,
        schedulingStrategy: '',
        launchType: '',
        deploymentConfigurationJson: '',
        placementConstraintsJson: '',
        placementStrategyJson: '',
        loadBalancersJson: '',
        tagsJson: '',
        healthCheckGracePeriodSeconds: undefined,
        clientToken: '',
      },
    ]);
    conformsToOutput('CreateService', res);
    expect(res).toMatchObject({
      service: { serviceName: 'web', tags: [{ key: 'team', value: 'a' }] },
    });
  });

  it('passes every CreateService member Wharf supports, ECS shapes as JSON', async () => {
    const { calls, dispatch } = fakeState();
    const input = {
      cluster: 'blue',
      serviceName: 'web',
      taskDefinition: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:3',
      schedulingStrategy: 'DAEMON',
      launchType: 'EC2',
      deploymentConfiguration: { maximumPercent: 100, minimumHealthyPercent: 0 },
      placementConstraints: [{ type: 'distinctInstance' }],
      placementStrategy: [],
      loadBalancers: [{ targetGroupArn: 'tg', containerName: 'web', containerPort: 80 }],
      tags: [{ key: 'k', value: 'v' }],
      healthCheckGracePeriodSeconds: 30,
      clientToken: 'tok-1',
      // accepted, no effect
      enableECSManagedTags: true,
      enableExecuteCommand: false,
      propagateTags: 'NONE',
      deploymentController: { type: 'ECS' },
      capacityProviderStrategy: [],
      serviceRegistries: [],
      serviceConnectConfiguration: { enabled: false },
    };
    await dispatch('CreateService', input);
    expect(calls.createService![0]).toEqual({
      cluster: 'blue',
      serviceName: 'web',
      taskDefinition: input.taskDefinition,
      desiredCount: undefined,
      schedulingStrategy: 'DAEMON',
      launchType: 'EC2',
      deploymentConfigurationJson: '{"maximumPercent":100,"minimumHealthyPercent":0}',
      placementConstraintsJson: '[{"type":"distinctInstance"}]',
      placementStrategyJson: '[]',
      loadBalancersJson: '[{"targetGroupArn":"tg","containerName":"web","containerPort":80}]',
      tagsJson: '[{"key":"k","value":"v"}]',
      healthCheckGracePeriodSeconds: 30,
      clientToken: 'tok-1',
    });
  });

  it('maps UpdateService: absent members stay unset, an empty list clears', async () => {
    const { calls, dispatch } = fakeState();
    const res = await dispatch('UpdateService', { service: 'web', desiredCount: 0 });
    expect(calls.updateService![0]).toEqual({
      cluster: 'default',
      service: 'web',
      desiredCount: 0,
      taskDefinition: undefined,
      forceNewDeployment: false,
      deploymentConfigurationJson: undefined,
      placementConstraintsJson: undefined,
      placementStrategyJson: undefined,
      loadBalancersJson: undefined,
      healthCheckGracePeriodSeconds: undefined,
    });
    conformsToOutput('UpdateService', res);
    expect((res as { service: object }).service).not.toHaveProperty('tags');

    await dispatch('UpdateService', {
      cluster: 'blue',
      service: 'arn:aws:ecs:us-east-1:000000000000:service/blue/web',
      taskDefinition: 'web:2',
      forceNewDeployment: true,
      placementConstraints: [],
      placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }],
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
      loadBalancers: [],
      healthCheckGracePeriodSeconds: 0,
    });
    expect(calls.updateService![1]).toEqual({
      cluster: 'blue',
      service: 'arn:aws:ecs:us-east-1:000000000000:service/blue/web',
      desiredCount: undefined,
      taskDefinition: 'web:2',
      forceNewDeployment: true,
      deploymentConfigurationJson: '{"deploymentCircuitBreaker":{"enable":true,"rollback":true}}',
      placementConstraintsJson: '[]',
      placementStrategyJson: '[{"type":"spread","field":"attribute:ecs.availability-zone"}]',
      loadBalancersJson: '[]',
      healthCheckGracePeriodSeconds: 0,
    });
  });

  it('maps DeleteService with force', async () => {
    const { calls, dispatch } = fakeState();
    const res = await dispatch('DeleteService', { service: 'web', force: true });
    expect(calls.deleteService).toEqual([{ cluster: 'default', service: 'web', force: true }]);
    conformsToOutput('DeleteService', res);
    expect(res).toMatchObject({ service: { status: 'DRAINING' } });
    await dispatch('DeleteService', { cluster: 'blue', service: 'web' });
    expect(calls.deleteService![1]).toEqual({ cluster: 'blue', service: 'web', force: false });
  });

  it('maps DescribeServices, with tags only when asked', async () => {
    const { calls, dispatch } = fakeState();
    const plain = await dispatch('DescribeServices', { services: ['web', 'nope'] });
    expect(calls.describeServices).toEqual([{ cluster: 'default', services: ['web', 'nope'] }]);
    conformsToOutput('DescribeServices', plain);
    expect(plain).toMatchObject({ failures: [{ arn: 'nope', reason: 'MISSING' }] });
    expect((plain as { services: object[] }).services[0]).not.toHaveProperty('tags');
    const tagged = await dispatch('DescribeServices', {
      cluster: 'blue',
      services: ['web'],
      include: ['TAGS'],
    });
    expect((tagged as { services: object[] }).services[0]).toHaveProperty('tags', [
      { key: 'team', value: 'a' },
    ]);
  });

  it.each([
    [{ services: [] }, 'services cannot be empty.'],
    [
      { services: Array.from({ length: 11 }, (_, i) => `s${i}`) },
      'services can have at most 10 items.',
    ],
  ])('checks the DescribeServices list %#', async (input, message) => {
    const { calls, dispatch } = fakeState();
    const err = await ecsError(dispatch('DescribeServices', input));
    expect(err).toMatchObject({ type: 'InvalidParameterException', message });
    expect(calls.describeServices).toBeUndefined();
  });

  it('maps ListServices and its paging', async () => {
    const { calls, dispatch } = fakeState({
      listServices: () => of({ serviceArns: ['a'], nextToken: 'next' }),
    });
    const res = await dispatch('ListServices', {
      cluster: 'blue',
      maxResults: 1,
      nextToken: 'tok',
      launchType: 'EC2',
      schedulingStrategy: 'REPLICA',
    });
    expect(calls.listServices).toEqual([
      {
        cluster: 'blue',
        launchType: 'EC2',
        schedulingStrategy: 'REPLICA',
        maxResults: 1,
        nextToken: 'tok',
      },
    ]);
    expect(res).toEqual({ serviceArns: ['a'], nextToken: 'next' });
    conformsToOutput('ListServices', res);
    await dispatch('ListServices', {});
    expect(calls.listServices![1]).toMatchObject({ cluster: 'default', maxResults: 0 });
    const err = await ecsError(dispatch('ListServices', { maxResults: 101 }));
    expect(err).toMatchObject({ type: 'InvalidParameterException' });
  });

  it('answers the ECS error state sends', async () => {
    const { dispatch } = fakeState({
      updateService: () =>
        throwError(() => ({
          code: GrpcCode.FAILED_PRECONDITION,
          details: 'ServiceNotActiveException: Service was not ACTIVE.',
          metadata: {},
        })),
    });
    const err = await ecsError(dispatch('UpdateService', { service: 'web', desiredCount: 1 }));
    expect(err).toMatchObject({
      type: 'ServiceNotActiveException',
      message: 'Service was not ACTIVE.',
    });
  });

  it.each(['x'.repeat(37), 'has space'])('refuses the clientToken %p', async (clientToken) => {
    const { calls, dispatch } = fakeState();
    const err = await ecsError(
      dispatch('CreateService', { serviceName: 'web', desiredCount: 1, clientToken }),
    );
    expect(err).toMatchObject({
      type: 'InvalidParameterException',
      message: expect.stringMatching(/^clientToken must have up to 36 characters/),
    });
    expect(calls.createService).toBeUndefined();
  });

  it('checks members against the ECS model before calling state', async () => {
    const { calls, dispatch } = fakeState();
    await expect(dispatch('CreateService', { taskDefinition: 'web' })).rejects.toMatchObject({
      type: 'InvalidParameterException',
      message: 'serviceName is required',
    });
    await expect(
      dispatch('CreateService', { serviceName: 'web', desiredCount: '2' }),
    ).rejects.toMatchObject({ type: 'SerializationException' });
    await expect(
      dispatch('CreateService', { serviceName: 'web', schedulingStrategy: 'ONE' }),
    ).rejects.toMatchObject({ type: 'InvalidParameterException' });
    expect(calls.createService).toBeUndefined();
  });
});

describe('service operations: members Wharf does not support', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'capacityProviderStrategy',
      { capacityProviderStrategy: [{ capacityProvider: 'FARGATE' }] },
      /capacityProviderStrategy is not supported/,
    ],
    ['platformVersion', { platformVersion: 'LATEST' }, /platformVersion is not supported/],
    [
      'networkConfiguration',
      { networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } } },
      /networkConfiguration is not supported.*awsvpc/,
    ],
    [
      'serviceRegistries',
      { serviceRegistries: [{ registryArn: 'arn' }] },
      /serviceRegistries is not supported/,
    ],
    [
      'serviceConnectConfiguration',
      { serviceConnectConfiguration: { enabled: true } },
      /serviceConnectConfiguration is not supported/,
    ],
    [
      'volumeConfigurations',
      { volumeConfigurations: [{ name: 'v' }] },
      /volumeConfigurations is not supported/,
    ],
    [
      'enableExecuteCommand',
      { enableExecuteCommand: true },
      /enableExecuteCommand is not supported/,
    ],
    ['propagateTags', { propagateTags: 'SERVICE' }, /propagateTags SERVICE is not supported/],
  ];

  it.each(cases)('CreateService refuses %s', async (_member, extra, message) => {
    const { calls, dispatch } = fakeState();
    const err = await ecsError(
      dispatch('CreateService', { serviceName: 'web', desiredCount: 1, ...extra }),
    );
    expect(err.type).toBe('UnsupportedFeatureException');
    expect(err.message).toMatch(/^CreateService: /);
    expect(err.message).toMatch(message);
    expect(calls.createService).toBeUndefined();
  });

  it.each(cases)('UpdateService refuses %s', async (_member, extra, message) => {
    const { calls, dispatch } = fakeState();
    const err = await ecsError(dispatch('UpdateService', { service: 'web', ...extra }));
    expect(err.type).toBe('UnsupportedFeatureException');
    expect(err.message).toMatch(/^UpdateService: /);
    expect(err.message).toMatch(message);
    expect(calls.updateService).toBeUndefined();
  });

  it('CreateService refuses a deployment controller other than ECS, and a role', async () => {
    const { dispatch } = fakeState();
    await expect(
      dispatch('CreateService', {
        serviceName: 'web',
        desiredCount: 1,
        deploymentController: { type: 'CODE_DEPLOY' },
      }),
    ).rejects.toMatchObject({
      type: 'UnsupportedFeatureException',
      message: expect.stringMatching(/deploymentController CODE_DEPLOY is not supported/),
    });
    await expect(
      dispatch('CreateService', { serviceName: 'web', desiredCount: 1, role: 'ecsServiceRole' }),
    ).rejects.toMatchObject({
      type: 'UnsupportedFeatureException',
      message: expect.stringMatching(/role is not supported/),
    });
  });
});
