import { decodeErrorDetails, GrpcCode, WharfError } from '@wharf/domain';

/**
 * An error as an ECS client sees it: the shape name (`__type` and `X-Amzn-ErrorType`), the
 * message and the HTTP status. Only ServerException is a 5xx.
 */
export class EcsApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = type === 'ServerException' ? 500 : 400,
    /** Members of the error shape beyond `message` (ConflictException's `resourceIds`). */
    readonly members: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = type;
  }

  body(): { __type: string; message: string } {
    return { ...this.members, __type: this.type, message: this.message };
  }
}

function isGrpcError(err: unknown): err is { code: number; details?: string; message?: string } {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'number' &&
    ('details' in err || 'metadata' in err)
  );
}

/** gRPC status → ECS name when the details do not carry one (google/rpc/code.proto order). */
const BY_GRPC_CODE: Record<number, string> = {
  [GrpcCode.INVALID_ARGUMENT]: 'InvalidParameterException',
  [GrpcCode.OUT_OF_RANGE]: 'InvalidParameterException',
  [GrpcCode.NOT_FOUND]: 'ClientException',
  [GrpcCode.ALREADY_EXISTS]: 'ClientException',
  [GrpcCode.FAILED_PRECONDITION]: 'ClientException',
  [GrpcCode.ABORTED]: 'ClientException',
  [GrpcCode.RESOURCE_EXHAUSTED]: 'ClientException',
  [GrpcCode.PERMISSION_DENIED]: 'AccessDeniedException',
  [GrpcCode.UNAUTHENTICATED]: 'AccessDeniedException',
  [GrpcCode.UNIMPLEMENTED]: 'UnsupportedFeatureException',
};

/**
 * Any error → what the client is told. `peer` names the service a gRPC call went to, for the
 * message when it cannot be reached. Internals (stacks, SQL, unexpected messages) never leak:
 * the returned `internal` flag tells the caller to log the original.
 */
export function toEcsError(
  err: unknown,
  peer = 'a Wharf service',
): { error: EcsApiError; internal: boolean } {
  if (err instanceof EcsApiError) return { error: err, internal: false };
  if (err instanceof WharfError) {
    return {
      error: new EcsApiError(err.ecsName, err.message),
      internal: err.ecsName === 'ServerException',
    };
  }
  if (isGrpcError(err)) {
    const details = err.details ?? '';
    const decoded = decodeErrorDetails(details);
    if (decoded) {
      return {
        error: new EcsApiError(decoded.ecsName, decoded.message),
        internal: decoded.ecsName === 'ServerException',
      };
    }
    if (err.code === GrpcCode.UNAVAILABLE) {
      return {
        error: new EcsApiError('ServerException', `${peer} is unavailable; try again later.`),
        internal: true,
      };
    }
    if (err.code === GrpcCode.DEADLINE_EXCEEDED || err.code === GrpcCode.CANCELLED) {
      return {
        error: new EcsApiError(
          'ServerException',
          `${peer} did not answer in time; try again later.`,
        ),
        internal: true,
      };
    }
    const type = BY_GRPC_CODE[err.code];
    if (type) return { error: new EcsApiError(type, details || type), internal: false };
  }
  return {
    error: new EcsApiError('ServerException', 'The server encountered an internal error.'),
    internal: true,
  };
}
