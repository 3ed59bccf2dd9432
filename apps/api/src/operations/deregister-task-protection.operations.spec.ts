import { GrpcCode } from '@wharf/domain';
import type { common, schedulerV1, stateV1 } from '@wharf/proto';
import { Observable, of, throwError } from 'rxjs';
import { EcsDispatcher } from '../ecs-dispatcher';
import { EcsApiError } from '../protocol/ecs-errors';
import { findViolation } from '../protocol/ecs-model';
import { ECS_MODEL } from '../protocol/ecs-model.generated';

const CI_ARN = 'arn:aws:ecs:us-east-1:000000000000:container-instance/blue/0123abcd';
const TASK_ARN = 'arn:aws:ecs:us-east-1:000000000000:task/blue/aaaa';
const OTHER_ARN = 'arn:aws:ecs:us-east-1:000000000000:task/blue/bbbb';

const INSTANCE: common.ContainerInstance = {
  containerInstanceArn: CI_ARN,
  clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/blue',
  ec2InstanceId: '',
  status: 'INACTIVE',
  agentConnected: true,
  registered: { cpu: 2048, memory: 4096, ports: [], portsUdp: [] },
  remaining: { cpu: 2048, memory: 4096, ports: [], portsUdp: [] },
  runningTasksCount: 0,
  pendingTasksCount: 0,
  attributes: [],
  agentVersion: '0.1.0',
  dockerVersion: '',
  agentAddress: '10.0.0.1:4703',
  registeredAt: 1_700_000_000_500,
  version: 5,
  lastHeartbeatAt: 1_700_000_100_000,
  hostname: 'h',
  hostAddress: '10.0.0.1',
  taskGroups: [],
  tagsJson: '',
};

const PROTECTION: stateV1.TaskProtectionResponse = {
  protectedTasks: [
    { taskArn: TASK_ARN, protectionEnabled: true, expirationDate: 1_700_007_200_250 },
    { taskArn: OTHER_ARN, protectionEnabled: false, expirationDate: 0 },
  ],
  failures: [
    {
      arn: 'arn:aws:ecs:us-east-1:000000000000:task/blue/cccc',
      reason: 'TASK_NOT_VALID',
      detail: 'not a service task',
    },
  ],
};

type Method = 'deregisterContainerInstance' | 'updateTaskProtection' | 'getTaskProtection';

/** A state client whose `method` records its requests and answers `answer`. */
function fakeState(method: Method, answer: () => Observable<unknown>) {
  const calls: unknown[] = [];
  const state = {
    [method]: (req: unknown) => {
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

const conforms = (op: string, res: unknown) =>
  expect(
    findViolation(ECS_MODEL, ECS_MODEL.operations[op].output, res, op, { strict: true }),
  ).toBeUndefined();

describe('DeregisterContainerInstance', () => {
  const answer = () => of({ containerInstance: INSTANCE, stoppedTasks: [] });

  it('passes cluster, instance and force to state and answers the instance', async () => {
    const { calls, dispatch } = fakeState('deregisterContainerInstance', answer);
    const res = await dispatch('DeregisterContainerInstance', { containerInstance: '0123abcd' });
    await dispatch('DeregisterContainerInstance', {
      cluster: 'blue',
      containerInstance: CI_ARN,
      force: true,
    });
    expect(calls).toEqual([
      { cluster: '', containerInstance: '0123abcd', force: false },
      { cluster: 'blue', containerInstance: CI_ARN, force: true },
    ]);
    conforms('DeregisterContainerInstance', res);
    expect((res as { containerInstance: unknown }).containerInstance).toMatchObject({
      containerInstanceArn: CI_ARN,
      status: 'INACTIVE',
      version: 5,
    });
  });

  it('refuses a missing containerInstance or a force that is not a boolean', async () => {
    const { calls, dispatch } = fakeState('deregisterContainerInstance', answer);
    expect(await ecsError(dispatch('DeregisterContainerInstance', {}))).toMatchObject({
      type: 'InvalidParameterException',
      message: 'containerInstance is required',
    });
    expect(
      await ecsError(
        dispatch('DeregisterContainerInstance', { containerInstance: CI_ARN, force: 'yes' }),
      ),
    ).toMatchObject({ type: 'SerializationException' });
    expect(calls).toEqual([]);
  });

  it("answers state's refusal of an instance with tasks", async () => {
    const { dispatch } = fakeState('deregisterContainerInstance', () =>
      throwError(() => ({
        code: GrpcCode.INVALID_ARGUMENT,
        details: 'InvalidParameterException: Found running tasks on the instance.',
        metadata: {},
      })),
    );
    expect(
      await ecsError(dispatch('DeregisterContainerInstance', { containerInstance: CI_ARN })),
    ).toMatchObject({
      type: 'InvalidParameterException',
      message: 'Found running tasks on the instance.',
      status: 400,
    });
  });
});

describe('UpdateTaskProtection', () => {
  const answer = () => of(PROTECTION);

  it('passes the request to state (no expiresInMinutes = 0, state applies 120)', async () => {
    const { calls, dispatch } = fakeState('updateTaskProtection', answer);
    await dispatch('UpdateTaskProtection', {
      cluster: 'blue',
      tasks: ['aaaa'],
      protectionEnabled: true,
    });
    await dispatch('UpdateTaskProtection', {
      cluster: 'blue',
      tasks: [TASK_ARN, OTHER_ARN],
      protectionEnabled: false,
      expiresInMinutes: 2880,
    });
    expect(calls).toEqual([
      { cluster: 'blue', tasks: ['aaaa'], protectionEnabled: true, expiresInMinutes: 0 },
      {
        cluster: 'blue',
        tasks: [TASK_ARN, OTHER_ARN],
        protectionEnabled: false,
        expiresInMinutes: 2880,
      },
    ]);
  });

  it('answers protectedTasks (expirationDate in epoch seconds, none when disabled) and failures', async () => {
    const { dispatch } = fakeState('updateTaskProtection', answer);
    const res = await dispatch('UpdateTaskProtection', {
      cluster: 'blue',
      tasks: [TASK_ARN],
      protectionEnabled: true,
    });
    conforms('UpdateTaskProtection', res);
    expect(res).toEqual({
      protectedTasks: [
        { taskArn: TASK_ARN, protectionEnabled: true, expirationDate: 1_700_007_200.25 },
        { taskArn: OTHER_ARN, protectionEnabled: false },
      ],
      failures: [
        {
          arn: 'arn:aws:ecs:us-east-1:000000000000:task/blue/cccc',
          reason: 'TASK_NOT_VALID',
          detail: 'not a service task',
        },
      ],
    });
  });

  it('refuses expiresInMinutes outside 1–2880, no tasks or more than 10, and missing members', async () => {
    const { calls, dispatch } = fakeState('updateTaskProtection', answer);
    const base = { cluster: 'blue', tasks: [TASK_ARN], protectionEnabled: true };
    for (const expiresInMinutes of [0, 2881]) {
      expect(
        await ecsError(dispatch('UpdateTaskProtection', { ...base, expiresInMinutes })),
      ).toMatchObject({
        type: 'InvalidParameterException',
        message: 'expiresInMinutes must be between 1 and 2880.',
      });
    }
    expect(await ecsError(dispatch('UpdateTaskProtection', { ...base, tasks: [] }))).toMatchObject({
      type: 'InvalidParameterException',
      message: 'tasks cannot be empty.',
    });
    expect(
      await ecsError(
        dispatch('UpdateTaskProtection', { ...base, tasks: Array(11).fill(TASK_ARN) }),
      ),
    ).toMatchObject({
      type: 'InvalidParameterException',
      message: 'tasks can have at most 10 items.',
    });
    for (const member of ['cluster', 'tasks', 'protectionEnabled'] as const) {
      const input: Record<string, unknown> = { ...base };
      delete input[member];
      expect(await ecsError(dispatch('UpdateTaskProtection', input))).toMatchObject({
        type: 'InvalidParameterException',
        message: `${member} is required`,
      });
    }
    expect(calls).toEqual([]);
  });

  it('answers the ECS error state sends', async () => {
    const { dispatch } = fakeState('updateTaskProtection', () =>
      throwError(() => ({
        code: GrpcCode.NOT_FOUND,
        details: 'ClusterNotFoundException: Cluster not found.',
        metadata: {},
      })),
    );
    expect(
      await ecsError(
        dispatch('UpdateTaskProtection', {
          cluster: 'gone',
          tasks: [TASK_ARN],
          protectionEnabled: true,
        }),
      ),
    ).toMatchObject({ type: 'ClusterNotFoundException', message: 'Cluster not found.' });
  });
});

describe('GetTaskProtection', () => {
  const answer = () => of(PROTECTION);

  it('passes the tasks to state and answers in the ECS shape', async () => {
    const { calls, dispatch } = fakeState('getTaskProtection', answer);
    const res = await dispatch('GetTaskProtection', { cluster: 'blue', tasks: [TASK_ARN] });
    expect(calls).toEqual([{ cluster: 'blue', tasks: [TASK_ARN] }]);
    conforms('GetTaskProtection', res);
    expect((res as { protectedTasks: unknown }).protectedTasks).toEqual([
      { taskArn: TASK_ARN, protectionEnabled: true, expirationDate: 1_700_007_200.25 },
      { taskArn: OTHER_ARN, protectionEnabled: false },
    ]);
  });

  it('refuses no tasks (absent or empty), more than 100, and a missing cluster', async () => {
    const { calls, dispatch } = fakeState('getTaskProtection', answer);
    for (const input of [{ cluster: 'blue' }, { cluster: 'blue', tasks: [] }]) {
      expect(await ecsError(dispatch('GetTaskProtection', input))).toMatchObject({
        type: 'InvalidParameterException',
        message: 'tasks cannot be empty.',
      });
    }
    expect(
      await ecsError(
        dispatch('GetTaskProtection', { cluster: 'blue', tasks: Array(101).fill('x') }),
      ),
    ).toMatchObject({ message: 'tasks can have at most 100 items.' });
    expect(await ecsError(dispatch('GetTaskProtection', { tasks: [TASK_ARN] }))).toMatchObject({
      type: 'InvalidParameterException',
      message: 'cluster is required',
    });
    expect(calls).toEqual([]);
    await dispatch('GetTaskProtection', { cluster: 'blue', tasks: Array(100).fill('x') });
    expect(calls).toHaveLength(1);
  });
});
