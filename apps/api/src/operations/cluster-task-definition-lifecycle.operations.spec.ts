import type { common, schedulerV1, stateV1 } from '@wharf/proto';
import { Observable, of } from 'rxjs';
import { EcsDispatcher } from '../ecs-dispatcher';
import { EcsApiError } from '../protocol/ecs-errors';
import { findViolation } from '../protocol/ecs-model';
import { ECS_ALL_OPERATIONS, ECS_MODEL } from '../protocol/ecs-model.generated';
import { OPERATIONS } from '.';
import { UNSUPPORTED_REASONS } from './unsupported.operations';

const CLUSTER: common.Cluster = {
  clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/blue',
  clusterName: 'blue',
  status: 'ACTIVE',
  registeredContainerInstancesCount: 0,
  runningTasksCount: 0,
  pendingTasksCount: 0,
  activeServicesCount: 0,
  tagsJson: '[]',
  settingsJson: '[{"name":"containerInsights","value":"enhanced"}]',
  configurationJson: '{"executeCommandConfiguration":{"logging":"NONE"}}',
};

const TD: common.TaskDefinition = {
  taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:3',
  family: 'web',
  revision: 3,
  status: 'DELETE_IN_PROGRESS',
  definitionJson: JSON.stringify({
    family: 'web',
    containerDefinitions: [{ name: 'web', image: 'nginx', memory: 64 }],
  }),
  registeredAt: 1_700_000_000_000,
  deregisteredAt: 1_700_000_100_000,
  tagsJson: '[]',
};

/** A state client that records every call by method name and answers from `answers`. */
function fakeState(answers: Record<string, () => Observable<unknown>>) {
  const calls: { method: string; req: unknown }[] = [];
  const state = new Proxy(
    {},
    {
      get: (_t, method: string) => (req: unknown) => {
        calls.push({ method, req });
        const answer = answers[method];
        if (!answer) throw new Error(`unexpected call ${method}`);
        return answer();
      },
    },
  ) as stateV1.StateServiceClient;
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

function conformsToOutput(op: string, res: unknown): void {
  expect(
    findViolation(ECS_MODEL, ECS_MODEL.operations[op].output, res, op, { strict: true }),
  ).toBeUndefined();
}

describe('operations that mean nothing in Wharf', () => {
  it('has a reason for every operation of the model that is not served', () => {
    const unexplained = Object.keys(ECS_ALL_OPERATIONS).filter(
      (op) => !(op in OPERATIONS) && !(op in UNSUPPORTED_REASONS),
    );
    expect(unexplained).toEqual([]);
    // ...and no reason for an operation that is served or not in the model.
    for (const op of Object.keys(UNSUPPORTED_REASONS)) {
      expect(op in ECS_ALL_OPERATIONS && !(op in OPERATIONS)).toBe(true);
    }
    expect(Object.keys(ECS_ALL_OPERATIONS)).toHaveLength(56);
  });

  it.each([
    ['CreateCapacityProvider', 'ClientException', /no Auto Scaling groups or Fargate/],
    ['PutClusterCapacityProviders', 'ClientException', /capacity is the container instances/],
    ['CreateTaskSet', 'UnsupportedFeatureException', /EXTERNAL and CODE_DEPLOY/],
    ['UpdateServicePrimaryTaskSet', 'UnsupportedFeatureException', /rolling update/],
    ['ExecuteCommand', 'ClientException', /no ECS Exec/],
    ['ListServicesByNamespace', 'ClientException', /no Cloud Map namespaces/],
    ['SubmitAttachmentStateChanges', 'ClientException', /no attachments/],
    ['RegisterContainerInstance', 'ClientException', /gRPC and NATS/],
  ])('%s → %s naming the operation and why', async (op, type, why) => {
    const { calls, dispatch } = fakeState({});
    const err = await ecsError(dispatch(op, { anything: 1 }));
    expect(err.type).toBe(type);
    expect(err.message.startsWith(`${op} is not supported by Wharf: `)).toBe(true);
    expect(err.message).toMatch(why);
    expect(calls).toEqual([]);
  });

  it('declares UnsupportedFeatureException exactly where the model does', async () => {
    const { dispatch } = fakeState({});
    for (const op of Object.keys(UNSUPPORTED_REASONS)) {
      const err = await ecsError(dispatch(op, {}));
      const declared = ECS_ALL_OPERATIONS[op].errors.includes('UnsupportedFeatureException');
      expect([op, err.type]).toEqual([
        op,
        declared ? 'UnsupportedFeatureException' : 'ClientException',
      ]);
    }
  });

  it('keeps UnknownOperationException for names outside the model', async () => {
    const { dispatch } = fakeState({});
    expect((await ecsError(dispatch('LaunchRockets', {}))).type).toBe('UnknownOperationException');
  });
});

describe('cluster operations', () => {
  it('DeleteCluster passes the cluster and answers the Cluster shape', async () => {
    const { calls, dispatch } = fakeState({
      deleteCluster: () => of({ ...CLUSTER, status: 'INACTIVE' }),
    });
    const res = await dispatch('DeleteCluster', { cluster: 'blue' });
    expect(calls).toEqual([{ method: 'deleteCluster', req: { cluster: 'blue' } }]);
    conformsToOutput('DeleteCluster', res);
    expect(res).toMatchObject({
      cluster: {
        status: 'INACTIVE',
        settings: [{ name: 'containerInsights', value: 'enhanced' }],
        configuration: { executeCommandConfiguration: { logging: 'NONE' } },
      },
    });
  });

  it('DeleteCluster requires cluster (model)', async () => {
    const { dispatch } = fakeState({});
    expect((await ecsError(dispatch('DeleteCluster', {}))).type).toBe('InvalidParameterException');
  });

  it('UpdateCluster sends settings and configuration as JSON, absent ones as unchanged', async () => {
    const { calls, dispatch } = fakeState({ updateCluster: () => of(CLUSTER) });
    const configuration = { executeCommandConfiguration: { logging: 'NONE' } };
    const res = await dispatch('UpdateCluster', { cluster: 'blue', configuration });
    await dispatch('UpdateCluster', {
      cluster: 'blue',
      settings: [{ name: 'containerInsights', value: 'enabled' }],
    });
    expect(calls.map((c) => c.req)).toEqual([
      {
        cluster: 'blue',
        settingsJson: undefined,
        configurationJson: JSON.stringify(configuration),
      },
      {
        cluster: 'blue',
        settingsJson: '[{"name":"containerInsights","value":"enabled"}]',
        configurationJson: undefined,
      },
    ]);
    conformsToOutput('UpdateCluster', res);
  });

  it('UpdateCluster refuses serviceConnectDefaults: there are no namespaces', async () => {
    const { calls, dispatch } = fakeState({});
    const err = await ecsError(
      dispatch('UpdateCluster', { cluster: 'blue', serviceConnectDefaults: { namespace: 'ns' } }),
    );
    expect(err.type).toBe('NamespaceNotFoundException');
    expect(err.message).toMatch(/serviceConnectDefaults is not supported by Wharf/);
    expect(calls).toEqual([]);
  });

  it('CreateCluster refuses capacity providers and namespaces instead of dropping them', async () => {
    const { calls, dispatch } = fakeState({ createCluster: () => of(CLUSTER) });
    const providers = await ecsError(
      dispatch('CreateCluster', { clusterName: 'blue', capacityProviders: ['FARGATE'] }),
    );
    expect([providers.type, providers.message]).toEqual([
      'ClientException',
      "CreateCluster: capacityProviders is not supported by Wharf: there are no capacity providers; tasks run on the cluster's container instances.",
    ]);
    const strategy = await ecsError(
      dispatch('CreateCluster', {
        defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT' }],
      }),
    );
    expect(strategy.type).toBe('ClientException');
    const namespace = await ecsError(
      dispatch('CreateCluster', { serviceConnectDefaults: { namespace: 'ns' } }),
    );
    expect(namespace.type).toBe('NamespaceNotFoundException');
    expect(calls).toEqual([]);
    const res = await dispatch('CreateCluster', {
      clusterName: 'blue',
      capacityProviders: [],
      defaultCapacityProviderStrategy: [],
      settings: [{ name: 'containerInsights', value: 'enhanced' }],
    });
    expect(calls[0].req).toEqual({
      clusterName: 'blue',
      tagsJson: '',
      settingsJson: '[{"name":"containerInsights","value":"enhanced"}]',
      configurationJson: undefined,
    });
    conformsToOutput('CreateCluster', res);
  });

  it('UpdateClusterSettings checks settings before state', async () => {
    const { calls, dispatch } = fakeState({ updateCluster: () => of(CLUSTER) });
    expect((await ecsError(dispatch('UpdateClusterSettings', { cluster: 'blue' }))).type).toBe(
      'InvalidParameterException',
    );
    const empty = await ecsError(dispatch('UpdateClusterSettings', { cluster: 'b', settings: [] }));
    expect([empty.type, empty.message]).toEqual([
      'InvalidParameterException',
      'settings cannot be empty.',
    ]);
    const badName = await ecsError(
      dispatch('UpdateClusterSettings', {
        cluster: 'b',
        settings: [{ name: 'containerInsight', value: 'enabled' }],
      }),
    );
    expect(badName.type).toBe('InvalidParameterException');
    expect(calls).toEqual([]);
    const res = await dispatch('UpdateClusterSettings', {
      cluster: 'blue',
      settings: [{ name: 'containerInsights', value: 'enhanced' }],
    });
    conformsToOutput('UpdateClusterSettings', res);
  });

  it('DescribeClusters includes settings and configuration only when asked', async () => {
    const { dispatch } = fakeState({
      describeClusters: () => of({ clusters: [CLUSTER], failures: [] }),
    });
    const plain = (await dispatch('DescribeClusters', { clusters: ['blue'] })) as {
      clusters: Record<string, unknown>[];
    };
    expect(plain.clusters[0]).not.toHaveProperty('settings');
    expect(plain.clusters[0]).not.toHaveProperty('configuration');
    const full = (await dispatch('DescribeClusters', {
      clusters: ['blue'],
      include: ['SETTINGS', 'CONFIGURATIONS'],
    })) as { clusters: Record<string, unknown>[] };
    conformsToOutput('DescribeClusters', full);
    expect(full.clusters[0].settings).toEqual([{ name: 'containerInsights', value: 'enhanced' }]);
    expect(full.clusters[0].configuration).toEqual({
      executeCommandConfiguration: { logging: 'NONE' },
    });
  });
});

describe('task definition operations', () => {
  it('DeregisterTaskDefinition answers the TaskDefinition with deregisteredAt', async () => {
    const { calls, dispatch } = fakeState({
      deregisterTaskDefinition: () => of({ ...TD, status: 'INACTIVE' }),
    });
    const res = await dispatch('DeregisterTaskDefinition', { taskDefinition: 'web:3' });
    expect(calls).toEqual([
      { method: 'deregisterTaskDefinition', req: { taskDefinition: 'web:3' } },
    ]);
    conformsToOutput('DeregisterTaskDefinition', res);
    expect(res).toMatchObject({
      taskDefinition: { status: 'INACTIVE', deregisteredAt: 1_700_000_100, revision: 3 },
    });
  });

  it('DeleteTaskDefinitions takes 1 to 10 and answers definitions and failures', async () => {
    const { calls, dispatch } = fakeState({
      deleteTaskDefinitions: () =>
        of({
          taskDefinitions: [TD],
          failures: [
            { arn: 'web:1', reason: 'The specified task definition does not exist.', detail: '' },
          ],
        }),
    });
    for (const taskDefinitions of [[], Array.from({ length: 11 }, (_, i) => `web:${i + 1}`)]) {
      expect((await ecsError(dispatch('DeleteTaskDefinitions', { taskDefinitions }))).type).toBe(
        'InvalidParameterException',
      );
    }
    expect(calls).toEqual([]);
    const res = await dispatch('DeleteTaskDefinitions', { taskDefinitions: ['web:3', 'web:1'] });
    conformsToOutput('DeleteTaskDefinitions', res);
    expect(res).toMatchObject({
      taskDefinitions: [{ status: 'DELETE_IN_PROGRESS' }],
      failures: [{ arn: 'web:1', reason: 'The specified task definition does not exist.' }],
    });
  });

  it('ListTaskDefinitions checks maxResults and the enums, passes the filters', async () => {
    const { calls, dispatch } = fakeState({
      listTaskDefinitions: () => of({ taskDefinitionArns: [TD.taskDefinitionArn], nextToken: 'n' }),
    });
    for (const input of [
      { maxResults: 0 },
      { maxResults: 101 },
      { status: 'ALL' },
      { sort: 'UP' },
    ]) {
      expect((await ecsError(dispatch('ListTaskDefinitions', input))).type).toBe(
        'InvalidParameterException',
      );
    }
    expect(calls).toEqual([]);
    const res = await dispatch('ListTaskDefinitions', {
      familyPrefix: 'we',
      status: 'INACTIVE',
      sort: 'DESC',
      maxResults: 5,
      nextToken: 't',
    });
    expect(calls[0].req).toEqual({
      familyPrefix: 'we',
      status: 'INACTIVE',
      sort: 'DESC',
      maxResults: 5,
      nextToken: 't',
    });
    conformsToOutput('ListTaskDefinitions', res);
    expect(res).toEqual({ taskDefinitionArns: [TD.taskDefinitionArn], nextToken: 'n' });
  });

  it('ListTaskDefinitionFamilies leaves nextToken out on the last page', async () => {
    const { calls, dispatch } = fakeState({
      listTaskDefinitionFamilies: () => of({ families: ['web'], nextToken: '' }),
    });
    expect(
      (await ecsError(dispatch('ListTaskDefinitionFamilies', { status: 'DELETE_IN_PROGRESS' })))
        .type,
    ).toBe('InvalidParameterException');
    const res = await dispatch('ListTaskDefinitionFamilies', { status: 'ALL' });
    expect(calls[0].req).toEqual({ familyPrefix: '', status: 'ALL', maxResults: 0, nextToken: '' });
    expect(res).toEqual({ families: ['web'] });
  });
});
