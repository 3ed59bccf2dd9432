import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { EcsApiError, toEcsError } from './protocol/ecs-errors';
import { AMZ_JSON_1_1 } from './protocol/target';

/** Renders an error the way ECS clients parse it; never a stack trace. */
export function sendEcsError(res: Response, error: EcsApiError): void {
  res.locals.errorType = error.type;
  res
    .status(error.status)
    .setHeader('content-type', AMZ_JSON_1_1)
    .setHeader('x-amzn-errortype', error.type)
    .send(JSON.stringify(error.body()));
}

/** The api's one exception filter: every error becomes an ECS error response. */
@Catch()
export class EcsExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (exception instanceof HttpException) {
      // Nest's own errors: no route for this method/path.
      const status = exception.getStatus();
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
}
