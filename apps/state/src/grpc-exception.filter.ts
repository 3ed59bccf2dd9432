import { randomUUID } from 'node:crypto';
import { ArgumentsHost, Catch, RpcExceptionFilter } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { Observable, throwError } from 'rxjs';
import { encodeErrorDetails, GrpcCode, WharfError } from '@wharf/domain';

/**
 * The service's one exception filter. Domain errors travel with their canonical gRPC status
 * and `<EcsName>: message` as details (the client sees details = message). Anything else is
 * INTERNAL with a correlation id; the error itself is logged, never sent.
 */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> {
    if (exception instanceof WharfError) {
      const rpc = new RpcException({
        code: exception.grpcCode,
        message: encodeErrorDetails(exception),
      });
      return throwError(() => rpc.getError());
    }
    if (exception instanceof RpcException) return throwError(() => exception.getError());
    const correlationId = randomUUID();
    const handler = host.getArgByIndex<{ getPath?: () => string } | undefined>(2);
    this.logger.error(
      { err: exception, correlationId, method: handler?.getPath?.() },
      'unhandled error in gRPC handler',
    );
    return throwError(() => ({
      code: GrpcCode.INTERNAL,
      message: `ServerException: internal error (correlation id ${correlationId})`,
    }));
  }
}
