import { randomUUID } from 'node:crypto';
import { ArgumentsHost, Catch, RpcExceptionFilter } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { Observable, throwError } from 'rxjs';
import { encodeErrorDetails, GrpcCode, WharfError } from '@wharf/domain';

/** A gRPC error as @grpc/grpc-js reports it from a call to another service. */
export function isGrpcError(err: unknown): err is { code: number; details: string } {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'number' &&
    typeof (err as { details?: unknown }).details === 'string'
  );
}

/**
 * Whether a call failed with UNAVAILABLE: the service was not reached, so making the call again
 * (later, or on another replica) does nothing twice. Services never answer UNAVAILABLE
 * themselves (see the filter below).
 */
export function isUnreachable(err: unknown): boolean {
  return isGrpcError(err) && err.code === GrpcCode.UNAVAILABLE;
}

/**
 * Each gRPC service's one exception filter. Domain errors travel with their canonical status
 * and `<EcsName>: message` as details (the client sees details = message), so the api can
 * answer with the exact ECS error. An error from a downstream service keeps its code and
 * details, except UNAVAILABLE, which becomes INTERNAL (ServerException). Anything else is INTERNAL with a correlation id; the error is logged, never sent.
 */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  constructor(
    private readonly logger: Logger,
    private readonly service: string,
    /**
     * A service's own reading of errors it knows (state: Postgres unreachable), as the domain
     * error to answer with; undefined leaves the error to the rules below.
     */
    private readonly translate?: (exception: unknown) => WharfError | undefined,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> {
    const handler = host.getArgByIndex?.<{ getPath?: () => string } | undefined>(2);
    const status = grpcStatusOf(this.translate?.(exception) ?? exception, {
      logger: this.logger,
      service: this.service,
      method: handler?.getPath?.(),
    });
    return throwError(() => status);
  }
}

/**
 * The gRPC status (code and details) a handler's error is answered with, by the rules of
 * GrpcExceptionFilter; an unexpected error is logged with a correlation id. For the errors of
 * one message in a stream, which the stream carries as data instead of ending with them.
 */
export function grpcStatusOf(
  exception: unknown,
  at: { logger: Logger; service: string; method?: string },
): { code: number; message: string } {
  if (exception instanceof WharfError) {
    return { code: exception.grpcCode, message: capDetails(encodeErrorDetails(exception)) };
  }
  if (isUnstorableText(exception)) {
    return {
      code: GrpcCode.INVALID_ARGUMENT,
      message:
        'InvalidParameterException: a value contains a character that cannot be stored (NUL, or invalid UTF-8).',
    };
  }
  if (exception instanceof RpcException) {
    const error = exception.getError();
    return typeof error === 'string'
      ? { code: GrpcCode.UNKNOWN, message: capDetails(error) }
      : (error as { code: number; message: string });
  }
  if (isGrpcError(exception)) {
    // An error from a service this one called passes through with its code, except
    // UNAVAILABLE: to the caller that means "this service was not reached, try another
    // replica", which is not true once the call got here and may have done its work.
    const code = exception.code === GrpcCode.UNAVAILABLE ? GrpcCode.INTERNAL : exception.code;
    const message =
      exception.code === GrpcCode.UNAVAILABLE
        ? `ServerException: the ${at.service} could not reach a service it depends on: ${exception.details}`
        : exception.details;
    return { code, message: capDetails(message ?? '') };
  }
  const correlationId = randomUUID();
  at.logger.error(
    { err: exception, correlationId, method: at.method },
    'unhandled error in a gRPC handler',
  );
  return {
    code: GrpcCode.INTERNAL,
    message: `ServerException: internal error in the ${at.service} (correlation id ${correlationId})`,
  };
}

/**
 * gRPC carries the details in a trailer, and a trailer of hundreds of kilobytes (an error
 * that quotes a huge input) makes the peer drop the connection: details are capped.
 */
export const MAX_ERROR_DETAILS = 2048;

function capDetails(details: string): string {
  return details.length <= MAX_ERROR_DETAILS
    ? details
    : `${details.slice(0, MAX_ERROR_DETAILS - 1)}…`;
}

/** Postgres refusing text it cannot store (22021 a NUL or invalid byte, 22P05 untranslatable). */
function isUnstorableText(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05';
}
