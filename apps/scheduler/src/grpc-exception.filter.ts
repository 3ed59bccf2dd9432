import { ArgumentsHost, Catch, RpcExceptionFilter } from '@nestjs/common';
import { encodeErrorDetails, GrpcCode, WharfError } from '@wharf/domain';
import type { Logger } from 'pino';
import { Observable, throwError } from 'rxjs';

/** A gRPC error as @grpc/grpc-js reports it (from a call to another service). */
export function isGrpcError(err: unknown): err is { code: number; details: string } {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'number' &&
    typeof (err as { details?: unknown }).details === 'string'
  );
}

/**
 * The scheduler's one exception filter. Domain errors travel as their canonical gRPC code
 * with the ECS name in the details; an error from state (or an agent) keeps its code and
 * details, so the api can still name it; anything else is INTERNAL without internals.
 */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    if (exception instanceof WharfError) {
      return throwError(() => ({
        code: exception.grpcCode,
        message: encodeErrorDetails(exception),
      }));
    }
    if (isGrpcError(exception)) {
      return throwError(() => ({ code: exception.code, message: exception.details }));
    }
    this.logger.error({ err: exception }, 'unexpected error in a scheduler call');
    return throwError(() => ({
      code: GrpcCode.INTERNAL,
      message: 'ServerException: internal error in the scheduler',
    }));
  }
}
