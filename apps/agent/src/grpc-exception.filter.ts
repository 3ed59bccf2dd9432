import { ArgumentsHost, Catch, RpcExceptionFilter } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';
import type { Logger } from 'pino';
import { encodeErrorDetails, GrpcCode, WharfError } from '@wharf/domain';

/** The agent's one mapping from errors to gRPC statuses; internals never leak. */
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
    if (exception instanceof RpcException) return throwError(() => exception.getError());
    this.logger.error({ err: exception }, 'unhandled error in a gRPC handler');
    return throwError(() => ({ code: GrpcCode.INTERNAL, message: 'internal error' }));
  }
}
