/**
 * Domain errors. Each carries the ECS error name a client should see and the canonical
 * gRPC status it travels as between services. Services map them in one exception filter;
 * the api maps gRPC statuses (and the `ecs-error` in the message prefix) back to ECS names.
 */
export type EcsErrorName =
  | 'ClientException'
  | 'InvalidParameterException'
  | 'ClusterNotFoundException'
  | 'ServiceNotFoundException'
  | 'ServiceNotActiveException'
  | 'ResourceNotFoundException'
  | 'ResourceInUseException'
  | 'UnsupportedFeatureException'
  | 'TargetNotFoundException'
  | 'AttributeLimitExceededException'
  | 'ConflictException'
  | 'ClusterContainsContainerInstancesException'
  | 'ClusterContainsServicesException'
  | 'ClusterContainsTasksException'
  | 'ServerException'
  | 'AccessDeniedException'
  // ELBv2
  | 'DuplicateLoadBalancerNameException'
  | 'DuplicateTargetGroupNameException'
  | 'DuplicateListenerException'
  | 'PriorityInUseException'
  | 'LoadBalancerNotFoundException'
  | 'ListenerNotFoundException'
  | 'RuleNotFoundException'
  | 'TargetGroupNotFoundException'
  | 'InvalidTargetException';

/** gRPC canonical codes (google/rpc/code.proto). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCodeValue = (typeof GrpcCode)[keyof typeof GrpcCode];

export class WharfError extends Error {
  constructor(
    readonly ecsName: EcsErrorName,
    readonly grpcCode: GrpcCodeValue,
    message: string,
  ) {
    super(message);
    this.name = ecsName;
  }
}

export class InvalidParameterError extends WharfError {
  constructor(message: string) {
    super('InvalidParameterException', GrpcCode.INVALID_ARGUMENT, message);
  }
}

export class ClientError extends WharfError {
  constructor(message: string, code: GrpcCodeValue = GrpcCode.FAILED_PRECONDITION) {
    super('ClientException', code, message);
  }
}

export class ClusterNotFoundError extends WharfError {
  constructor(message = 'Cluster not found.') {
    super('ClusterNotFoundException', GrpcCode.NOT_FOUND, message);
  }
}

/** ECS answers an unknown task definition with ClientException, not a NotFound name. */
export class TaskDefinitionNotFoundError extends WharfError {
  constructor(message = 'Unable to describe task definition.') {
    super('ClientException', GrpcCode.NOT_FOUND, message);
  }
}

export class NotFoundError extends WharfError {
  constructor(message: string, ecsName: EcsErrorName = 'ClientException') {
    super(ecsName, GrpcCode.NOT_FOUND, message);
  }
}

/** A service name or ARN the cluster does not have (ECS `ServiceNotFoundException`). */
export class ServiceNotFoundError extends WharfError {
  constructor(message = 'Service not found.') {
    super('ServiceNotFoundException', GrpcCode.NOT_FOUND, message);
  }
}

/** Updating or deleting a service that is DRAINING or INACTIVE. */
export class ServiceNotActiveError extends WharfError {
  constructor(message = 'Service was not ACTIVE.') {
    super('ServiceNotActiveException', GrpcCode.FAILED_PRECONDITION, message);
  }
}

/** DeleteCluster of a cluster that still has instances, services or tasks. */
export class ClusterNotEmptyError extends WharfError {
  constructor(
    ecsName:
      | 'ClusterContainsContainerInstancesException'
      | 'ClusterContainsServicesException'
      | 'ClusterContainsTasksException',
    message: string,
  ) {
    super(ecsName, GrpcCode.FAILED_PRECONDITION, message);
  }
}

/** A feature ECS has and Wharf does not (Fargate, external instances). */
export class UnsupportedFeatureError extends WharfError {
  constructor(message: string) {
    super('UnsupportedFeatureException', GrpcCode.UNIMPLEMENTED, message);
  }
}

/**
 * A write that expected a resource version the resource no longer has (optimistic
 * concurrency between services): the caller reads the resource again and retries.
 */
export class VersionConflictError extends WharfError {
  constructor(message: string) {
    super('ClientException', GrpcCode.ABORTED, message);
  }
}

/** A resource named by ARN (TagResource, UntagResource) that does not exist. */
export class ResourceNotFoundError extends WharfError {
  constructor(message = 'The specified resource is not found.') {
    super('ResourceNotFoundException', GrpcCode.NOT_FOUND, message);
  }
}

/** PutAttributes/DeleteAttributes naming a resource the cluster does not have. */
export class TargetNotFoundError extends WharfError {
  constructor(message: string) {
    super('TargetNotFoundException', GrpcCode.NOT_FOUND, message);
  }
}

/** More custom attributes on one resource than ECS allows (10). */
export class AttributeLimitExceededError extends WharfError {
  constructor(message: string) {
    super('AttributeLimitExceededException', GrpcCode.RESOURCE_EXHAUSTED, message);
  }
}

/** An ELB name, listener port or rule priority already taken (ELBv2 `Duplicate…`/`PriorityInUse`). */
export class ElbConflictError extends WharfError {
  constructor(
    ecsName:
      | 'DuplicateLoadBalancerNameException'
      | 'DuplicateTargetGroupNameException'
      | 'DuplicateListenerException'
      | 'PriorityInUseException',
    message: string,
  ) {
    super(ecsName, GrpcCode.ALREADY_EXISTS, message);
  }
}

/** An ELB resource (load balancer, listener, rule or target group) that does not exist. */
export class ElbNotFoundError extends WharfError {
  constructor(
    ecsName:
      | 'LoadBalancerNotFoundException'
      | 'ListenerNotFoundException'
      | 'RuleNotFoundException'
      | 'TargetGroupNotFoundException',
    message: string,
  ) {
    super(ecsName, GrpcCode.NOT_FOUND, message);
  }
}

/** A resource still used by another (ELBv2 and ECS `ResourceInUseException`). */
export class ResourceInUseError extends WharfError {
  constructor(message: string) {
    super('ResourceInUseException', GrpcCode.FAILED_PRECONDITION, message);
  }
}

/** A target that cannot be registered in a target group (ELBv2 `InvalidTargetException`). */
export class InvalidTargetError extends WharfError {
  constructor(message: string) {
    super('InvalidTargetException', GrpcCode.INVALID_ARGUMENT, message);
  }
}

/**
 * An agent's registration refused for its join token: UNAUTHENTICATED when it has no valid
 * token (missing, malformed, unknown, revoked, expired), PERMISSION_DENIED when the token is
 * valid but not for the cluster asked for. Never retried by the agent.
 */
export class JoinRefusedError extends WharfError {
  constructor(
    message: string,
    code: typeof GrpcCode.UNAUTHENTICATED | typeof GrpcCode.PERMISSION_DENIED,
  ) {
    super('AccessDeniedException', code, message);
  }
}

/**
 * Between services, the ECS name rides in the gRPC status details as `<EcsName>: message`,
 * so the api can answer with the exact ECS error even where two names share a status code.
 */
export function encodeErrorDetails(err: WharfError): string {
  return `${err.ecsName}: ${err.message}`;
}

export function decodeErrorDetails(
  details: string,
): { ecsName: EcsErrorName; message: string } | undefined {
  const m = /^([A-Za-z]+Exception): ([\s\S]*)$/.exec(details);
  if (!m) return undefined;
  return { ecsName: m[1] as EcsErrorName, message: m[2] };
}
