import { ClusterNotFoundError, GrpcCode, InvalidParameterError } from '@wharf/domain';
import { createLogger } from '@wharf/observability';
import { lastValueFrom } from 'rxjs';
import { GrpcExceptionFilter } from './grpc-exception.filter';

const filter = new GrpcExceptionFilter(createLogger('test', 'silent'));
const mapped = (err: unknown) =>
  lastValueFrom(filter.catch(err, {} as never)).catch((e: unknown) => e);

describe('GrpcExceptionFilter', () => {
  it('sends domain errors with their code and the ECS name in the details', async () => {
    expect(await mapped(new ClusterNotFoundError())).toEqual({
      code: GrpcCode.NOT_FOUND,
      message: 'ClusterNotFoundException: Cluster not found.',
    });
    expect(await mapped(new InvalidParameterError('count must be between 1 and 10.'))).toEqual({
      code: GrpcCode.INVALID_ARGUMENT,
      message: 'InvalidParameterException: count must be between 1 and 10.',
    });
  });

  it('passes a gRPC error from state through with its code and details', async () => {
    const fromState = Object.assign(new Error('5 NOT_FOUND: x'), {
      code: GrpcCode.NOT_FOUND,
      details: 'ClientException: Unable to describe task definition.',
    });
    expect(await mapped(fromState)).toEqual({
      code: GrpcCode.NOT_FOUND,
      message: 'ClientException: Unable to describe task definition.',
    });
  });

  it('hides anything else behind INTERNAL', async () => {
    expect(await mapped(new TypeError('cannot read x of undefined'))).toEqual({
      code: GrpcCode.INTERNAL,
      message: 'ServerException: internal error in the scheduler',
    });
  });
});
