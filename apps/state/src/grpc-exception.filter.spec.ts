import type { ArgumentsHost } from '@nestjs/common';
import pino from 'pino';
import { firstValueFrom } from 'rxjs';
import { ClusterNotFoundError, GrpcCode, TaskDefinitionNotFoundError } from '@wharf/domain';
import { GrpcExceptionFilter } from './grpc-exception.filter';

const host = { getArgByIndex: () => undefined } as unknown as ArgumentsHost;
const filter = new GrpcExceptionFilter(pino({ level: 'silent' }));
const errorOf = (e: unknown) => firstValueFrom(filter.catch(e, host)).catch((err: unknown) => err);

describe('GrpcExceptionFilter', () => {
  it('maps domain errors to their status code and ECS name', async () => {
    expect(await errorOf(new TaskDefinitionNotFoundError())).toEqual({
      code: GrpcCode.NOT_FOUND,
      message: 'ClientException: Unable to describe task definition.',
    });
    expect(await errorOf(new ClusterNotFoundError())).toEqual({
      code: GrpcCode.NOT_FOUND,
      message: 'ClusterNotFoundException: Cluster not found.',
    });
  });

  it('answers anything else with INTERNAL and no internals', async () => {
    const err = (await errorOf(new Error('relation "secret_table" does not exist'))) as {
      code: number;
      message: string;
    };
    expect(err.code).toBe(GrpcCode.INTERNAL);
    expect(err.message).toMatch(
      /^ServerException: internal error \(correlation id [0-9a-f-]{36}\)$/,
    );
    expect(err.message).not.toContain('secret_table');
  });
});
