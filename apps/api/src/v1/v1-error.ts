import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { decodeErrorDetails, GrpcCode } from '@wharf/domain';
import { readBody } from '../request-body';
import { API_LOGGER } from '../tokens';

/**
 * An error a `/v1` route answers with: its HTTP status and `{"message": …, "code": …}`. The
 * older `/v1` routes (logs, utilisation, placement explain) answer `{"message": …}` alone;
 * `code` is an addition clients of those may ignore.
 */
export class V1Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Members of the body beyond message and code (ConflictException's `resourceIds`). */
    readonly members: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** What a `/v1` error body holds: message and code, and any members of the error's shape. */
export interface V1ErrorBody {
  [member: string]: unknown;
  message: string;
  code: string;
}

/**
 * Renders every error of the controllers it is bound to as a `/v1` error body. Anything that
 * is not a V1Error is a 500 whose message carries only the request id; the cause is logged.
 */
@Catch()
export class V1ExceptionFilter implements ExceptionFilter {
  constructor(@Inject(API_LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const error = this.toV1Error(exception, res);
    res.locals.errorType = error.code;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body: V1ErrorBody = { ...error.members, message: error.message, code: error.code };
    res.status(error.status).json(body);
  }

  private toV1Error(exception: unknown, res: Response): V1Error {
    if (exception instanceof V1Error) {
      const cause = (exception as { cause?: unknown }).cause;
      if (exception.status >= 500 && cause !== undefined) {
        // A peer that is away (503): the answer says which; the log keeps what gRPC said.
        this.logger.warn(
          {
            err: cause,
            operation: res.locals.operation as string | undefined,
            requestId: res.locals.requestId as string | undefined,
          },
          `request failed: ${exception.code}`,
        );
      }
      return exception;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return new V1Error(
        status,
        status === 404 ? 'NotFoundException' : 'ClientException',
        exception.message,
      );
    }
    const requestId = res.locals.requestId as string | undefined;
    this.logger.error(
      { err: exception, operation: res.locals.operation as string | undefined, requestId },
      'request failed: ServerException',
    );
    return internalError(requestId);
  }
}

/** The 500 a `/v1` request is answered with when its error is not for the client to see. */
export function internalError(requestId: string | undefined): V1Error {
  return new V1Error(
    500,
    'ServerException',
    `Internal error${requestId ? ` (request ${requestId})` : ''}; the api log has the cause.`,
  );
}

/** The error name and status a state failure of a load balancer call is answered with. */
export interface StateErrorNames {
  /** ALREADY_EXISTS: the ELBv2 name for what is taken (a name, a port, a priority). */
  duplicate: string;
}

/** State's generic ECS names: a more precise one is derived from the status code instead. */
const GENERIC_NAMES = new Set(['ClientException', 'ServerException']);

/**
 * Maps a failed state call to a V1Error by the canonical table (google/rpc/code.proto):
 * INVALID_ARGUMENT 400, NOT_FOUND 404, ALREADY_EXISTS 409, FAILED_PRECONDITION 409 (the
 * resource is in use), ABORTED 409, UNAVAILABLE / DEADLINE_EXCEEDED 503. State's message
 * (which names the member or resource) is kept; the error name it sends along
 * (`<Name>Exception: message`) is used unless generic. Anything else is a 500 whose details
 * are logged, not answered.
 */
export function fromStateError(
  err: unknown,
  names: StateErrorNames,
  requestId: string | undefined,
  logger: Logger,
): V1Error {
  const code = (err as { code?: unknown } | null)?.code;
  const details = (err as { details?: unknown } | null)?.details;
  const raw = typeof details === 'string' ? details : '';
  const decoded = decodeErrorDetails(raw);
  const message = decoded?.message ?? raw;
  const named = (fallback: string) =>
    decoded && !GENERIC_NAMES.has(decoded.ecsName) ? decoded.ecsName : fallback;
  switch (code) {
    case GrpcCode.INVALID_ARGUMENT:
      return new V1Error(400, named('InvalidParameterException'), message);
    case GrpcCode.NOT_FOUND:
      return new V1Error(404, named('ResourceNotFoundException'), message);
    case GrpcCode.ALREADY_EXISTS:
      return new V1Error(409, named(names.duplicate), message);
    case GrpcCode.FAILED_PRECONDITION:
      return new V1Error(409, named('ResourceInUseException'), message);
    case GrpcCode.ABORTED:
      return new V1Error(409, named('ConflictException'), message);
    case GrpcCode.UNAVAILABLE:
    case GrpcCode.DEADLINE_EXCEEDED:
      return new V1Error(
        503,
        'ServiceUnavailableException',
        'The state service is unavailable; try again later.',
      );
    default:
      logger.error({ err, requestId }, 'state call failed');
      return internalError(requestId);
  }
}

/** A request's body, whole; over `limit` bytes a 413 `/v1` error, before more is read. */
export function readV1Body(req: Request, limit: number): Promise<Buffer> {
  return readBody(
    req,
    limit,
    () => new V1Error(413, 'SerializationException', `The body exceeds ${limit} bytes.`),
  );
}

/**
 * Reads a request body as one JSON object. Malformed JSON, an empty body or another top-level
 * type is a 400 naming the problem; a body over `limit` bytes a 413. What the members mean
 * is for state to judge.
 */
export async function readJsonObject(
  req: Request,
  limit: number,
  what: string,
): Promise<Record<string, unknown>> {
  const text = (await readV1Body(req, limit)).toString('utf8');
  if (!text.trim()) {
    throw new V1Error(400, 'SerializationException', `The body is empty; send ${what} as JSON.`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new V1Error(
      400,
      'SerializationException',
      `The body is not valid JSON: ${(err as Error).message}`,
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new V1Error(
      400,
      'SerializationException',
      `The body must be a JSON object (${what}), not ${jsonTypeOf(body)}.`,
    );
  }
  return body as Record<string, unknown>;
}

/** A JSON value's type as a message names it: "an array", "a string", "null" … */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A query parameter given at most once; an empty one counts as absent. */
export function singleQueryValue(name: string, value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') {
    throw new V1Error(400, 'InvalidParameterException', `${name} must be given once.`);
  }
  return value;
}
