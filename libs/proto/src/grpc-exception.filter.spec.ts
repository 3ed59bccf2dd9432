import type { ArgumentsHost } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import pino from 'pino';
import { firstValueFrom } from 'rxjs';
import {
  ClusterNotFoundError,
  GrpcCode,
  InvalidParameterError,
  TaskDefinitionNotFoundError,
  WharfError,
} from '@wharf/domain';
import { GrpcExceptionFilter } from './grpc-exception.filter';

const host = { getArgByIndex: () => undefined } as unknown as ArgumentsHost;
const filter = new GrpcExceptionFilter(pino({ level: 'silent' }), 'scheduler');
const errorOf = (e: unknown) => firstValueFrom(filter.catch(e, host)).catch((err: unknown) => err);

describe('GrpcExceptionFilter', () => {
  it('sends domain errors with their status code and the ECS name in the details', async () => {
    expect(await errorOf(new TaskDefinitionNotFoundError())).toEqual({
      code: GrpcCode.NOT_FOUND,
      message: 'ClientException: Unable to describe task definition.',
    });
    expect(await errorOf(new ClusterNotFoundError())).toEqual({
      code: GrpcCode.NOT_FOUND,
      message: 'ClusterNotFoundException: Cluster not found.',
    });
    expect(await errorOf(new InvalidParameterError('count must be between 1 and 10.'))).toEqual({
      code: GrpcCode.INVALID_ARGUMENT,
      message: 'InvalidParameterException: count must be between 1 and 10.',
    });
  });

  it("answers with a service's own translation of errors it knows, and as before otherwise", async () => {
    const translating = new GrpcExceptionFilter(pino({ level: 'silent' }), 'state', (e) =>
      e instanceof Error && e.message === 'db gone'
        ? new WharfError('ServerException', GrpcCode.INTERNAL, 'The database cannot be reached.')
        : undefined,
    );
    const caught = (e: unknown) =>
      firstValueFrom(translating.catch(e, host)).catch((err: unknown) => err);
    expect(await caught(new Error('db gone'))).toEqual({
      code: GrpcCode.INTERNAL,
      message: 'ServerException: The database cannot be reached.',
    });
    expect(await caught(new ClusterNotFoundError())).toEqual({
      code: GrpcCode.NOT_FOUND,
      message: 'ClusterNotFoundException: Cluster not found.',
    });
  });

  it('passes an error from a downstream service through with its code and details', async () => {
    const fromState = Object.assign(new Error('5 NOT_FOUND: x'), {
      code: GrpcCode.NOT_FOUND,
      details: 'ClientException: Unable to describe task definition.',
    });
    expect(await errorOf(fromState)).toEqual({
      code: GrpcCode.NOT_FOUND,
      message: 'ClientException: Unable to describe task definition.',
    });
    // UNAVAILABLE would tell the caller this service was never reached (try another replica).
    const stateDown = Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
      code: GrpcCode.UNAVAILABLE,
      details: 'No connection established',
    });
    expect(await errorOf(stateDown)).toEqual({
      code: GrpcCode.INTERNAL,
      message:
        'ServerException: the scheduler could not reach a service it depends on: No connection established',
    });
    const rpc = new RpcException({ code: GrpcCode.UNAVAILABLE, message: 'agent gone' });
    expect(await errorOf(rpc)).toEqual({ code: GrpcCode.UNAVAILABLE, message: 'agent gone' });
  });

  it('answers anything else with INTERNAL, a correlation id and no internals', async () => {
    const err = (await errorOf(new Error('relation "secret_table" does not exist'))) as {
      code: number;
      message: string;
    };
    expect(err.code).toBe(GrpcCode.INTERNAL);
    expect(err.message).toMatch(
      /^ServerException: internal error in the scheduler \(correlation id [0-9a-f-]{36}\)$/,
    );
    expect(err.message).not.toContain('secret_table');
  });
});
