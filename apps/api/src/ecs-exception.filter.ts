import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { EcsApiError, toEcsError } from './protocol/ecs-errors';
import { AMZ_JSON_1_1 } from './protocol/target';
import { toV1Error } from './v1/ecs-routes';
import { internalError, V1Error } from './v1/v1-error';

/** Renders an error the way ECS clients parse it; never a stack trace. */
export function sendEcsError(res: Response, error: EcsApiError): void {
  res.locals.errorType = error.type;
  res
    .status(error.status)
    .setHeader('content-type', AMZ_JSON_1_1)
    .setHeader('x-amzn-errortype', error.type)
    .send(JSON.stringify(error.body()));
}

/** A path of the REST API: `/v1` and under it, in any case (Express matches routes so). */
const V1_PATH = /^\/v1(\/|$)/i;

/** How much of a path a `/v1` not-found message quotes. */
const MAX_QUOTED_PATH = 200;

/**
 * Renders Nest's own error for a `/v1` request that no route took (an unmatched path or
 * method) as a `/v1` error, `{"message", "code"}` as JSON: most often an ARN put into a path
 * without URL-encoding, whose '/' makes it several path segments.
 */
function sendV1RouteError(res: Response, req: Request, status: number, message: string): void {
  const code = status === 404 ? 'NotFoundException' : 'ClientException';
  res.locals.errorType = code;
  const path =
    req.path.length > MAX_QUOTED_PATH ? `${req.path.slice(0, MAX_QUOTED_PATH)}…` : req.path;
  res.status(status).json({
    message:
      status === 404
        ? `No /v1 route matches ${req.method} ${path}. An ARN in a path must be URL-encoded ` +
          "(it contains '/'): /v1/tags/arn%3Aaws%3Aecs%3A…%3Acluster%2Fname, not /v1/tags/arn:aws:ecs:…:cluster/name."
        : message,
    code,
  });
}

/**
 * The api's one exception filter: every error becomes an ECS error response, except for a
 * `/v1` path, where it becomes a `/v1` error (the `/v1` controllers have their own filter; this
 * takes what none of them did: an unmatched path, a failure of the `/v1` bearer check).
 */
@Catch()
export class EcsExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<Request>();
    const v1 = V1_PATH.test(req.path ?? '');
    if (exception instanceof HttpException) {
      // Nest's own errors: no route for this method/path.
      const status = exception.getStatus();
      if (v1) {
        sendV1RouteError(res, req, status, exception.message);
        return;
      }
      const type = status === 404 ? 'UnknownOperationException' : 'ClientException';
      sendEcsError(
        res,
        new EcsApiError(
          type,
          status === 404
            ? 'Not found; ECS operations are POST / with X-Amz-Target'
            : exception.message,
          status,
        ),
      );
      return;
    }
    if (v1) {
      this.sendV1Error(res, exception);
      return;
    }
    const { error, internal } = toEcsError(exception);
    if (internal) {
      const cause = (exception as { cause?: unknown }).cause ?? exception;
      this.logger.error(
        { err: cause, operation: res.locals.operation, requestId: res.locals.requestId },
        `request failed: ${error.type}`,
      );
    } else if (exception instanceof EcsApiError && exception.cause) {
      this.logger.error(
        { err: exception.cause, operation: res.locals.operation, requestId: res.locals.requestId },
        error.message,
      );
    }
    sendEcsError(res, error);
  }

  /** Any other error of a `/v1` request, as the `/v1` controllers answer it (toV1Error). */
  private sendV1Error(res: Response, exception: unknown): void {
    const requestId = res.locals.requestId as string | undefined;
    const operation = res.locals.operation as string | undefined;
    let error = toV1Error(exception);
    if (!(error instanceof V1Error)) {
      this.logger.error({ err: error, operation, requestId }, 'request failed: ServerException');
      error = internalError(requestId);
    } else if (error.status >= 500) {
      this.logger.warn(
        { err: (error as { cause?: unknown }).cause ?? exception, operation, requestId },
        `request failed: ${error.code}`,
      );
    }
    const { status, code, message, members } = error as V1Error;
    res.locals.errorType = code;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json({ ...members, message, code });
  }
}
