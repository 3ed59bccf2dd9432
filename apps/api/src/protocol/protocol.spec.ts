import { ClientError, GrpcCode, InvalidParameterError } from '@wharf/domain';
import { checkInput } from '../ecs-dispatcher';
import { EcsApiError, toEcsError } from './ecs-errors';
import { findViolation } from './ecs-model';
import { OPERATIONS } from '../operations';
import { ECS_MODEL } from './ecs-model.generated';
import { parseBody, parseTarget } from './target';

function thrown(fn: () => unknown): EcsApiError {
  try {
    fn();
  } catch (err) {
    return err as EcsApiError;
  }
  throw new Error('expected an error');
}

describe('parseTarget', () => {
  it('returns the operation', () => {
    expect(parseTarget('AmazonEC2ContainerServiceV20141113.RunTask')).toBe('RunTask');
  });
  it.each([undefined, '', 'RunTask', 'AmazonEC2ContainerServiceV20141113.', 'Other.RunTask'])(
    'rejects %p with UnknownOperationException',
    (h) => {
      const err = thrown(() => parseTarget(h));
      expect(err).toBeInstanceOf(EcsApiError);
      expect(err.type).toBe('UnknownOperationException');
      expect(err.status).toBe(400);
    },
  );
});

describe('parseBody', () => {
  it('treats an empty body as {}', () => {
    expect(parseBody(undefined)).toEqual({});
    expect(parseBody(Buffer.from('  '))).toEqual({});
  });
  it.each(['{', '[1]', '42', 'null'])('rejects %p with SerializationException', (b) => {
    expect(thrown(() => parseBody(b)).type).toBe('SerializationException');
  });
});

describe('checkInput (ECS model)', () => {
  it('accepts a well-typed RunTask', () => {
    expect(() =>
      checkInput('RunTaskRequest', {
        taskDefinition: 'web:1',
        count: 2,
        overrides: {
          containerOverrides: [{ name: 'web', environment: [{ name: 'A', value: 'b' }] }],
        },
        tags: [{ key: 'k', value: 'v' }],
        unknownMember: 'ignored',
      }),
    ).not.toThrow();
  });
  it.each([
    [
      'RunTaskRequest',
      { taskDefinition: 'x', count: 'two' },
      'SerializationException',
      'count must be an integer',
    ],
    [
      'RunTaskRequest',
      { taskDefinition: 5 },
      'SerializationException',
      'taskDefinition must be a string',
    ],
    ['RunTaskRequest', { count: 1 }, 'InvalidParameterException', 'taskDefinition is required'],
    ['RunTaskRequest', { taskDefinition: 'x', count: 1.5 }, 'SerializationException', 'count'],
    [
      'RunTaskRequest',
      { taskDefinition: 'x', overrides: { containerOverrides: [{ cpu: '1' }] } },
      'SerializationException',
      'overrides.containerOverrides[0].cpu must be an integer',
    ],
    [
      'ListTasksRequest',
      { desiredStatus: 'DONE' },
      'InvalidParameterException',
      "Value 'DONE' at 'desiredStatus'",
    ],
    ['DescribeTasksRequest', { tasks: 'abc' }, 'SerializationException', 'tasks must be a list'],
    [
      'RegisterTaskDefinitionRequest',
      { family: 'f', containerDefinitions: [{ name: 'a', memory: '1' }] },
      'SerializationException',
      'containerDefinitions[0].memory must be an integer',
    ],
    [
      'RegisterTaskDefinitionRequest',
      { family: 'f', containerDefinitions: [{ dockerLabels: { a: 1 } }] },
      'SerializationException',
      'containerDefinitions[0].dockerLabels.a must be a string',
    ],
  ])('%s %j → %s', (shape, input, type, message) => {
    const err = thrown(() => checkInput(shape, input as Record<string, unknown>));
    expect(err.type).toBe(type);
    expect(err.message).toContain(message);
  });
  it('has every operation the api serves', () => {
    expect(Object.keys(ECS_MODEL.operations).sort()).toEqual(Object.keys(OPERATIONS).sort());
    expect(findViolation(ECS_MODEL, 'ListClustersRequest', {}, '')).toBeUndefined();
  });
});

describe('toEcsError', () => {
  const grpc = (code: number, details: string) =>
    Object.assign(new Error(details), { code, details, metadata: {} });
  it('uses the ECS name carried in gRPC details', () => {
    const { error } = toEcsError(
      grpc(GrpcCode.NOT_FOUND, 'ClusterNotFoundException: Cluster not found.'),
    );
    expect(error.body()).toEqual({
      __type: 'ClusterNotFoundException',
      message: 'Cluster not found.',
    });
    expect(error.status).toBe(400);
  });
  it.each([
    [GrpcCode.NOT_FOUND, 'ClientException', 400],
    [GrpcCode.INVALID_ARGUMENT, 'InvalidParameterException', 400],
    [GrpcCode.FAILED_PRECONDITION, 'ClientException', 400],
    [GrpcCode.UNAVAILABLE, 'ServerException', 500],
    [GrpcCode.INTERNAL, 'ServerException', 500],
  ])('maps code %d to %s', (code, type, status) => {
    const { error } = toEcsError(grpc(code, 'no name here'), 'The state service');
    expect(error.type).toBe(type);
    expect(error.status).toBe(status);
  });
  it('says which service is unavailable and hides internals', () => {
    expect(
      toEcsError(grpc(GrpcCode.UNAVAILABLE, 'No connection established'), 'The state service').error
        .message,
    ).toBe('The state service is unavailable; try again later.');
    const { error, internal } = toEcsError(new TypeError('x is undefined at foo.ts:12'));
    expect(error.body()).toEqual({
      __type: 'ServerException',
      message: 'The server encountered an internal error.',
    });
    expect(internal).toBe(true);
  });
  it('maps domain errors by their ECS name', () => {
    expect(toEcsError(new InvalidParameterError('bad')).error.type).toBe(
      'InvalidParameterException',
    );
    expect(toEcsError(new ClientError('no')).error.type).toBe('ClientException');
  });
});
