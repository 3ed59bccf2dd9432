import { GrpcCode } from '@wharf/domain';
import type { common, schedulerV1, stateV1 } from '@wharf/proto';
import { Observable, of, throwError } from 'rxjs';
import { EcsDispatcher } from '../ecs-dispatcher';
import { EcsApiError } from '../protocol/ecs-errors';
import { findViolation } from '../protocol/ecs-model';
import { ECS_MODEL } from '../protocol/ecs-model.generated';

const ARN = 'arn:aws:ecs:us-east-1:000000000000:container-instance/blue/0123abcd';

const INSTANCE: common.ContainerInstance = {
  containerInstanceArn: ARN,
  clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/blue',
  ec2InstanceId: '',
  status: 'DRAINING',
  agentConnected: true,
  registered: { cpu: 2048, memory: 4096, ports: [22], portsUdp: [] },
  remaining: { cpu: 1024, memory: 3072, ports: [22, 8080], portsUdp: [] },
  runningTasksCount: 1,
  pendingTasksCount: 0,
  attributes: [
    { name: 'ecs.os-type', value: 'linux' },
    { name: 'gpu', value: '' },
  ],
  agentVersion: '0.1.0',
  dockerVersion: '',
  agentAddress: '10.0.0.1:4703',
  registeredAt: 1_700_000_000_500,
  version: 4,
  lastHeartbeatAt: 1_700_000_100_000,
  hostname: 'h',
  hostAddress: '10.0.0.1',
  taskGroups: [{ group: 'service:web', count: 1 }],
  tagsJson: '[{"key":"team","value":"ops"}]',
};

/** A state client that records UpdateContainerInstancesState requests and answers `answer`. */
function fakeState(
  answer: () => Observable<stateV1.UpdateContainerInstancesStateResponse> = () =>
    of({
      containerInstances: [INSTANCE],
      failures: [
        {
          arn: 'arn:aws:ecs:us-east-1:000000000000:container-instance/blue/nope',
          reason: 'MISSING',
          detail: '',
        },
      ],
    }),
) {
  const calls: stateV1.UpdateContainerInstancesStateRequest[] = [];
  const state = {
    updateContainerInstancesState: (req: stateV1.UpdateContainerInstancesStateRequest) => {
      calls.push(req);
      return answer();
    },
  } as unknown as stateV1.StateServiceClient;
  const dispatcher = new EcsDispatcher({
    state,
    scheduler: {} as schedulerV1.SchedulerServiceClient,
    arnContext: { region: 'us-east-1', accountId: '000000000000' },
  });
  return {
    calls,
    dispatch: (input: Record<string, unknown>) =>
      dispatcher.dispatch('UpdateContainerInstancesState', input),
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

describe('UpdateContainerInstancesState', () => {
  it('passes the request to state, defaulting the cluster', async () => {
    const { calls, dispatch } = fakeState();
    await dispatch({ containerInstances: ['0123abcd', ARN], status: 'DRAINING' });
    await dispatch({ cluster: 'blue', containerInstances: [ARN], status: 'ACTIVE' });
    expect(calls).toEqual([
      { cluster: '', containerInstances: ['0123abcd', ARN], status: 'DRAINING' },
      { cluster: 'blue', containerInstances: [ARN], status: 'ACTIVE' },
    ]);
  });

  it('answers containerInstances and failures in the ECS shapes', async () => {
    const { dispatch } = fakeState();
    const res = await dispatch({ containerInstances: [ARN, 'nope'], status: 'DRAINING' });
    expect(
      findViolation(
        ECS_MODEL,
        ECS_MODEL.operations.UpdateContainerInstancesState.output,
        res,
        'UpdateContainerInstancesState',
        { strict: true },
      ),
    ).toBeUndefined();
    expect(res).toEqual({
      containerInstances: [
        {
          containerInstanceArn: ARN,
          version: 4,
          versionInfo: { agentVersion: '0.1.0' },
          status: 'DRAINING',
          agentConnected: true,
          runningTasksCount: 1,
          pendingTasksCount: 0,
          registeredResources: expect.arrayContaining([
            expect.objectContaining({ name: 'CPU', type: 'INTEGER', integerValue: 2048 }),
          ]),
          remainingResources: expect.arrayContaining([
            expect.objectContaining({ name: 'MEMORY', type: 'INTEGER', integerValue: 3072 }),
          ]),
          attributes: [{ name: 'ecs.os-type', value: 'linux' }, { name: 'gpu' }],
          registeredAt: 1_700_000_000.5,
          attachments: [],
        },
      ],
      failures: [
        {
          arn: 'arn:aws:ecs:us-east-1:000000000000:container-instance/blue/nope',
          reason: 'MISSING',
        },
      ],
    });
  });

  it.each(['REGISTERING', 'DEREGISTERING', 'REGISTRATION_FAILED'])(
    'refuses status %s (in the model enum, not settable) naming status and the allowed values',
    async (status) => {
      const { calls, dispatch } = fakeState();
      const err = await ecsError(dispatch({ containerInstances: [ARN], status }));
      expect(err).toMatchObject({
        type: 'InvalidParameterException',
        status: 400,
        message: `status must be one of [ACTIVE, DRAINING]; got '${status}'.`,
      });
      expect(calls).toEqual([]);
    },
  );

  it('refuses a status outside the model enum, naming status', async () => {
    const { calls, dispatch } = fakeState();
    const err = await ecsError(dispatch({ containerInstances: [ARN], status: 'INACTIVE' }));
    expect(err.type).toBe('InvalidParameterException');
    expect(err.message).toContain("Value 'INACTIVE' at 'status' failed to satisfy constraint");
    expect(calls).toEqual([]);
  });

  it('refuses no instances and more than 10, naming containerInstances', async () => {
    const { calls, dispatch } = fakeState();
    const empty = await ecsError(dispatch({ containerInstances: [], status: 'DRAINING' }));
    expect(empty).toMatchObject({
      type: 'InvalidParameterException',
      message: 'containerInstances cannot be empty.',
    });
    const eleven = Array.from({ length: 11 }, (_, i) => `id-${i}`);
    const tooMany = await ecsError(dispatch({ containerInstances: eleven, status: 'DRAINING' }));
    expect(tooMany).toMatchObject({
      type: 'InvalidParameterException',
      message: 'containerInstances can have at most 10 items.',
    });
    expect(calls).toEqual([]);

    await dispatch({ containerInstances: eleven.slice(0, 10), status: 'DRAINING' });
    expect(calls).toHaveLength(1);
  });

  it('refuses missing required members and members of the wrong type', async () => {
    const { calls, dispatch } = fakeState();
    expect(await ecsError(dispatch({ containerInstances: [ARN] }))).toMatchObject({
      type: 'InvalidParameterException',
      message: 'status is required',
    });
    expect(await ecsError(dispatch({ status: 'DRAINING' }))).toMatchObject({
      type: 'InvalidParameterException',
      message: 'containerInstances is required',
    });
    expect(await ecsError(dispatch({ containerInstances: ARN, status: 'DRAINING' }))).toMatchObject(
      { type: 'SerializationException' },
    );
    expect(calls).toEqual([]);
  });

  it('answers the ECS error state sends', async () => {
    const { dispatch } = fakeState(() =>
      throwError(() => ({
        code: GrpcCode.NOT_FOUND,
        details: 'ClusterNotFoundException: Cluster not found.',
        metadata: {},
      })),
    );
    const err = await ecsError(
      dispatch({ cluster: 'gone', containerInstances: [ARN], status: 'DRAINING' }),
    );
    expect(err).toMatchObject({
      type: 'ClusterNotFoundException',
      message: 'Cluster not found.',
      status: 400,
    });
  });
});
