/**
 * The REST mirror of the ECS operations under `/v1`: one table says, for each route, which ECS
 * operation it runs, which input members its path parameters fill, and how the answer is
 * shaped. The rest is derived from the ECS model: a GET or DELETE route takes every other
 * input member as a query parameter (typed by the model), the other methods take them as the
 * JSON body. The controller (ecs-rest.controller.ts) and the OpenAPI paths (ecs-openapi.ts)
 * are both built from this table; the operation runs through the same EcsDispatcher, model
 * check and handler as `POST /` with X-Amz-Target.
 */
import { GrpcCode } from '@wharf/domain';
import { peerFailureOf } from '../operations/operation-context';
import { toEcsError } from '../protocol/ecs-errors';
import { shapeOf } from '../protocol/ecs-model';
import { ECS_MODEL } from '../protocol/ecs-model.generated';
import { V1Error } from './v1-error';

export type EcsRouteMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface EcsRoute {
  method: EcsRouteMethod;
  /** The OpenAPI path template: `{name}` per path parameter. */
  path: string;
  /** The ECS operation it runs (a key of OPERATIONS). */
  operation: string;
  tag: string;
  summary: string;
  /**
   * Path parameter → the input member it fills. `name[]` fills the list member `name` with
   * that one item (DescribeClusters' `clusters`, DescribeTasks' `tasks` …).
   */
  params?: Record<string, string>;
  /** 201 for routes that create what the path names; 200 otherwise. */
  status?: 200 | 201;
  /**
   * The route names one resource of a list-and-failures answer (Describe…, the state and
   * protection updates): answered as `{[as]: item}`, a MISSING failure is 404 `notFound`.
   */
  one?: { list: string; as: string; notFound: string };
  /**
   * The ECS error name a resource named in the path that does not exist is answered with
   * (404, see toV1Error) where ECS gives it no …NotFoundException name: for the OpenAPI
   * document.
   */
  missing?: string;
}

const CLUSTER = { cluster: 'cluster' };
const ONE_CLUSTER = { list: 'clusters', as: 'cluster', notFound: 'ClusterNotFoundException' };
const ONE_TASK = { list: 'tasks', as: 'task', notFound: 'ResourceNotFoundException' };
const ONE_SERVICE = { list: 'services', as: 'service', notFound: 'ServiceNotFoundException' };
const ONE_INSTANCE = {
  list: 'containerInstances',
  as: 'containerInstance',
  notFound: 'ResourceNotFoundException',
};
const ONE_PROTECTION = {
  list: 'protectedTasks',
  as: 'protectedTask',
  notFound: 'ResourceNotFoundException',
};

/** Every ECS operation the api serves, as a resource route. */
export const ECS_ROUTES: readonly EcsRoute[] = [
  // Clusters
  {
    method: 'post',
    path: '/v1/clusters',
    operation: 'CreateCluster',
    tag: 'Clusters',
    summary: 'Create a cluster',
    status: 201,
  },
  {
    method: 'get',
    path: '/v1/clusters',
    operation: 'ListClusters',
    tag: 'Clusters',
    summary: 'List cluster ARNs',
  },
  {
    method: 'get',
    path: '/v1/clusters/{cluster}',
    operation: 'DescribeClusters',
    tag: 'Clusters',
    summary: 'Describe a cluster',
    params: { cluster: 'clusters[]' },
    one: ONE_CLUSTER,
  },
  {
    method: 'patch',
    path: '/v1/clusters/{cluster}',
    operation: 'UpdateCluster',
    tag: 'Clusters',
    summary: "Update a cluster's settings or configuration",
    params: CLUSTER,
  },
  {
    method: 'put',
    path: '/v1/clusters/{cluster}/settings',
    operation: 'UpdateClusterSettings',
    tag: 'Clusters',
    summary: "Replace a cluster's settings",
    params: CLUSTER,
  },
  {
    method: 'delete',
    path: '/v1/clusters/{cluster}',
    operation: 'DeleteCluster',
    tag: 'Clusters',
    summary: 'Delete a cluster',
    params: CLUSTER,
  },
  // Task definitions
  {
    method: 'post',
    path: '/v1/task-definitions',
    operation: 'RegisterTaskDefinition',
    tag: 'Task definitions',
    summary: 'Register a task definition revision',
    status: 201,
  },
  {
    method: 'get',
    path: '/v1/task-definitions',
    operation: 'ListTaskDefinitions',
    tag: 'Task definitions',
    summary: 'List task definition ARNs',
  },
  {
    method: 'get',
    path: '/v1/task-definitions/{taskDefinition}',
    operation: 'DescribeTaskDefinition',
    tag: 'Task definitions',
    summary: 'Describe a task definition (family, family:revision or ARN)',
    params: { taskDefinition: 'taskDefinition' },
    missing: 'ClientException',
  },
  {
    method: 'delete',
    path: '/v1/task-definitions/{taskDefinition}',
    operation: 'DeregisterTaskDefinition',
    tag: 'Task definitions',
    summary: 'Deregister a task definition revision (it becomes INACTIVE)',
    params: { taskDefinition: 'taskDefinition' },
    missing: 'ClientException',
  },
  {
    method: 'post',
    path: '/v1/task-definitions/delete',
    operation: 'DeleteTaskDefinitions',
    tag: 'Task definitions',
    summary: 'Delete INACTIVE task definition revisions',
  },
  {
    method: 'get',
    path: '/v1/task-definition-families',
    operation: 'ListTaskDefinitionFamilies',
    tag: 'Task definitions',
    summary: 'List task definition families',
  },
  // Container instances
  {
    method: 'get',
    path: '/v1/clusters/{cluster}/container-instances',
    operation: 'ListContainerInstances',
    tag: 'Container instances',
    summary: "List a cluster's container instance ARNs",
    params: CLUSTER,
  },
  {
    method: 'get',
    path: '/v1/clusters/{cluster}/container-instances/{containerInstance}',
    operation: 'DescribeContainerInstances',
    tag: 'Container instances',
    summary: 'Describe a container instance',
    params: { cluster: 'cluster', containerInstance: 'containerInstances[]' },
    one: ONE_INSTANCE,
  },
  {
    method: 'put',
    path: '/v1/clusters/{cluster}/container-instances/{containerInstance}/state',
    operation: 'UpdateContainerInstancesState',
    tag: 'Container instances',
    summary: 'Set a container instance ACTIVE or DRAINING',
    params: { cluster: 'cluster', containerInstance: 'containerInstances[]' },
    one: ONE_INSTANCE,
  },
  {
    method: 'delete',
    path: '/v1/clusters/{cluster}/container-instances/{containerInstance}',
    operation: 'DeregisterContainerInstance',
    tag: 'Container instances',
    summary: 'Deregister a container instance',
    params: { cluster: 'cluster', containerInstance: 'containerInstance' },
    missing: 'ClientException',
  },
  // Attributes
  {
    method: 'get',
    path: '/v1/clusters/{cluster}/attributes',
    operation: 'ListAttributes',
    tag: 'Attributes',
    summary: "List a cluster's attributes",
    params: CLUSTER,
  },
  {
    method: 'put',
    path: '/v1/clusters/{cluster}/attributes',
    operation: 'PutAttributes',
    tag: 'Attributes',
    summary: 'Create or update attributes',
    params: CLUSTER,
  },
  {
    method: 'post',
    path: '/v1/clusters/{cluster}/attributes/delete',
    operation: 'DeleteAttributes',
    tag: 'Attributes',
    summary: 'Delete attributes',
    params: CLUSTER,
  },
  // Tasks
  {
    method: 'post',
    path: '/v1/clusters/{cluster}/tasks',
    operation: 'RunTask',
    tag: 'Tasks',
    summary: 'Run tasks where the scheduler places them',
    params: CLUSTER,
  },
  {
    method: 'post',
    path: '/v1/clusters/{cluster}/tasks/start',
    operation: 'StartTask',
    tag: 'Tasks',
    summary: 'Start tasks on the container instances named',
    params: CLUSTER,
  },
  {
    method: 'get',
    path: '/v1/clusters/{cluster}/tasks',
    operation: 'ListTasks',
    tag: 'Tasks',
    summary: "List a cluster's task ARNs",
    params: CLUSTER,
  },
  {
    method: 'get',
    path: '/v1/clusters/{cluster}/tasks/{task}',
    operation: 'DescribeTasks',
    tag: 'Tasks',
    summary: 'Describe a task',
    params: { cluster: 'cluster', task: 'tasks[]' },
    one: ONE_TASK,
  },
  {
    method: 'delete',
    path: '/v1/clusters/{cluster}/tasks/{task}',
    operation: 'StopTask',
    tag: 'Tasks',
    summary: 'Stop a task',
    params: { cluster: 'cluster', task: 'task' },
    missing: 'InvalidParameterException',
  },
  {
    method: 'get',
    path: '/v1/clusters/{cluster}/tasks/{task}/protection',
    operation: 'GetTaskProtection',
    tag: 'Tasks',
    summary: "A task's scale-in protection",
    params: { cluster: 'cluster', task: 'tasks[]' },
    one: ONE_PROTECTION,
  },
  {
    method: 'put',
    path: '/v1/clusters/{cluster}/tasks/{task}/protection',
    operation: 'UpdateTaskProtection',
    tag: 'Tasks',
    summary: "Set a task's scale-in protection",
    params: { cluster: 'cluster', task: 'tasks[]' },
    one: ONE_PROTECTION,
  },
  // Services
  {
    method: 'post',
    path: '/v1/clusters/{cluster}/services',
    operation: 'CreateService',
    tag: 'Services',
    summary: 'Create a service',
    params: CLUSTER,
    status: 201,
  },
  {
    method: 'get',
    path: '/v1/clusters/{cluster}/services',
    operation: 'ListServices',
    tag: 'Services',
    summary: "List a cluster's service ARNs",
    params: CLUSTER,
  },
  {
    method: 'get',
    path: '/v1/clusters/{cluster}/services/{service}',
    operation: 'DescribeServices',
    tag: 'Services',
    summary: 'Describe a service',
    params: { cluster: 'cluster', service: 'services[]' },
    one: ONE_SERVICE,
  },
  {
    method: 'patch',
    path: '/v1/clusters/{cluster}/services/{service}',
    operation: 'UpdateService',
    tag: 'Services',
    summary: 'Update a service (desired count, task definition, deployment …)',
    params: { cluster: 'cluster', service: 'service' },
  },
  {
    method: 'delete',
    path: '/v1/clusters/{cluster}/services/{service}',
    operation: 'DeleteService',
    tag: 'Services',
    summary: 'Delete a service (force=true: even with a desired count above 0)',
    params: { cluster: 'cluster', service: 'service' },
  },
  // Tags
  {
    method: 'get',
    path: '/v1/tags/{resourceArn}',
    operation: 'ListTagsForResource',
    tag: 'Tags',
    summary: "A resource's tags",
    params: { resourceArn: 'resourceArn' },
  },
  {
    method: 'post',
    path: '/v1/tags/{resourceArn}',
    operation: 'TagResource',
    tag: 'Tags',
    summary: 'Add or overwrite tags of a resource',
    params: { resourceArn: 'resourceArn' },
  },
  {
    method: 'delete',
    path: '/v1/tags/{resourceArn}',
    operation: 'UntagResource',
    tag: 'Tags',
    summary: 'Remove tags from a resource (repeat tagKeys for each key)',
    params: { resourceArn: 'resourceArn' },
  },
  // Account settings
  {
    method: 'get',
    path: '/v1/account-settings',
    operation: 'ListAccountSettings',
    tag: 'Account settings',
    summary: 'List account settings',
  },
  {
    method: 'put',
    path: '/v1/account-settings/{name}',
    operation: 'PutAccountSetting',
    tag: 'Account settings',
    summary: 'Set an account setting (for you, or for principalArn)',
    params: { name: 'name' },
  },
  {
    method: 'put',
    path: '/v1/account-settings/{name}/default',
    operation: 'PutAccountSettingDefault',
    tag: 'Account settings',
    summary: "Set an account setting's default for every user",
    params: { name: 'name' },
  },
  {
    method: 'delete',
    path: '/v1/account-settings/{name}',
    operation: 'DeleteAccountSetting',
    tag: 'Account settings',
    summary: 'Delete an account setting (for you, or for principalArn)',
    params: { name: 'name' },
  },
];

/** `POST /v1/ecs/{operation}`: any served operation with its ECS JSON request as the body. */
export const GENERIC_ECS_PATH = '/v1/ecs/{operation}';

/** The tags the ECS routes use, in the order the document lists them. */
export const ECS_ROUTE_TAGS: { name: string; description: string }[] = [
  { name: 'Clusters', description: 'ECS clusters.' },
  { name: 'Task definitions', description: 'ECS task definitions, by family and revision.' },
  { name: 'Container instances', description: "The hosts of a cluster's tasks." },
  { name: 'Attributes', description: 'Custom attributes of container instances.' },
  {
    name: 'Tasks',
    description: 'ECS tasks: run, list, describe, stop, protect; logs and utilisation.',
  },
  { name: 'Services', description: 'ECS services.' },
  { name: 'Tags', description: 'Tags of clusters, task definitions, tasks, services, instances.' },
  { name: 'Account settings', description: 'ECS account settings and their defaults.' },
  {
    name: 'ECS operations',
    description:
      'Any ECS operation by name, its request and answer exactly the ECS JSON 1.1 bodies.',
  },
];

/** The controller method and OpenAPI operationId of a route: `createCluster` for CreateCluster. */
export const handlerNameOf = (route: EcsRoute): string =>
  route.operation[0].toLowerCase() + route.operation.slice(1);

export const isQueryRoute = (route: EcsRoute): boolean =>
  route.method === 'get' || route.method === 'delete';

/** The Express path of a template: `/v1/clusters/{cluster}` → `/v1/clusters/:cluster`. */
export const expressPath = (path: string): string => path.replace(/\{([^}]+)\}/g, ':$1');

/** The member a path-parameter binding fills, and whether as a one-item list. */
export function bindingOf(binding: string): { member: string; list: boolean } {
  return binding.endsWith('[]')
    ? { member: binding.slice(0, -2), list: true }
    : { member: binding, list: false };
}

function inputShapeOf(route: EcsRoute) {
  return shapeOf(ECS_MODEL, ECS_MODEL.operations[route.operation].input);
}

/** The input members a route's path parameters fill. */
export function pathMembers(route: EcsRoute): Set<string> {
  return new Set(Object.values(route.params ?? {}).map((b) => bindingOf(b).member));
}

/** The input members (and their model shape names) the route takes as query or body. */
export function openMembers(route: EcsRoute): [string, string][] {
  const bound = pathMembers(route);
  return Object.entries(inputShapeOf(route).members ?? {}).filter(([m]) => !bound.has(m));
}

/** What a query parameter's value is read as, from its member's shape in the model. */
export type QueryKind = 'string' | 'integer' | 'boolean' | 'string-list';

export function queryKindOf(shapeName: string): QueryKind | undefined {
  const shape = shapeOf(ECS_MODEL, shapeName);
  switch (shape.type) {
    case 'string':
    case 'enum':
      return 'string';
    case 'integer':
    case 'long':
      return 'integer';
    case 'boolean':
      return 'boolean';
    case 'list':
      return queryKindOf(shape.member!) === 'string' ? 'string-list' : undefined;
    default:
      return undefined;
  }
}

const badRequest = (message: string) => new V1Error(400, 'InvalidParameterException', message);

function queryValue(name: string, kind: QueryKind, raw: unknown): unknown {
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.some((v) => typeof v !== 'string')) {
    throw badRequest(`The query parameter ${name} must be a plain value.`);
  }
  const strings = values as string[];
  if (kind === 'string-list') return strings;
  if (strings.length > 1) {
    throw badRequest(`The query parameter ${name} must be given once.`);
  }
  const [v] = strings;
  switch (kind) {
    case 'string':
      return v;
    case 'integer': {
      // The model check then says whether it fits the member (int32 …), naming it.
      if (!/^-?\d{1,20}$/.test(v)) {
        throw badRequest(`The query parameter ${name} must be an integer, not '${v}'.`);
      }
      return Number(v);
    }
    case 'boolean':
      if (v !== 'true' && v !== 'false') {
        throw badRequest(`The query parameter ${name} must be true or false, not '${v}'.`);
      }
      return v === 'true';
  }
}

/**
 * The ECS request a route's path parameters, query and body make. Path parameters fill their
 * members; a GET or DELETE takes the other members from the query (unknown parameters are
 * refused, so a misspelt one is not silently ignored), any other method from the body. A body
 * member that a path parameter fills must agree with it. What the values mean is for the
 * dispatcher's model check and the operation's handler.
 */
export function ecsInput(
  route: EcsRoute,
  params: Record<string, string>,
  query: Record<string, unknown>,
  body: Record<string, unknown> | undefined,
): Record<string, unknown> {
  // Spread, not Object.assign: a body member named `__proto__` stays a member.
  const input: Record<string, unknown> = isQueryRoute(route) ? {} : { ...body };
  if (isQueryRoute(route)) {
    if (body !== undefined && Object.keys(body).length > 0) {
      throw new V1Error(
        400,
        'SerializationException',
        `${route.method.toUpperCase()} ${route.path} takes no body; its members are query parameters.`,
      );
    }
    const open = new Map(openMembers(route));
    for (const [name, raw] of Object.entries(query)) {
      const shapeName = open.get(name);
      const kind = shapeName === undefined ? undefined : queryKindOf(shapeName);
      if (!kind) {
        const known = [...open.keys()];
        throw badRequest(
          `Unknown query parameter ${name}; ${route.path} takes ${known.length ? known.join(', ') : 'none'}.`,
        );
      }
      input[name] = queryValue(name, kind, raw);
    }
  } else {
    if (Object.keys(query).length > 0) {
      throw badRequest(
        `${route.method.toUpperCase()} ${route.path} takes no query parameters (${Object.keys(query).join(', ')}); send the members in the JSON body.`,
      );
    }
  }
  for (const [param, binding] of Object.entries(route.params ?? {})) {
    const { member, list } = bindingOf(binding);
    const value = list ? [params[param]] : params[param];
    const given = input[member];
    if (given !== undefined && given !== null && JSON.stringify(given) !== JSON.stringify(value)) {
      throw badRequest(
        `${member} is given by the path (${params[param]}); the body must not name another.`,
      );
    }
    input[member] = value;
  }
  return input;
}

/**
 * The answer of a route: the operation's output as it is, or for a route naming one resource
 * that resource, `{[as]: item}`. A failure for it is 404 (MISSING) or 400 with its reason.
 */
export function ecsAnswer(
  route: EcsRoute,
  output: unknown,
  params: Record<string, string>,
): unknown {
  const out = (output ?? {}) as Record<string, unknown>;
  if (!route.one) return out;
  const { list, as, notFound } = route.one;
  const items = (out[list] as unknown[] | undefined) ?? [];
  if (items.length > 0) return { [as]: items[0] };
  const failure = ((out.failures as { arn?: string; reason?: string; detail?: string }[]) ?? [])[0];
  const named = Object.entries(route.params ?? {}).find(([, b]) => bindingOf(b).member === list);
  const ref = named ? params[named[0]] : (failure?.arn ?? '');
  if (!failure || failure.reason === 'MISSING') {
    throw new V1Error(404, notFound, `${as} ${ref} not found.`);
  }
  throw new V1Error(
    400,
    'ClientException',
    `${as} ${ref}: ${failure.reason}${failure.detail ? ` (${failure.detail})` : ''}.`,
  );
}

/** ECS error names that mean "this conflicts with what is there" rather than "bad request". */
const CONFLICTS = new Set([
  'ConflictException',
  'ResourceInUseException',
  'ClusterContainsContainerInstancesException',
  'ClusterContainsServicesException',
  'ClusterContainsTasksException',
]);

/**
 * The HTTP status a `/v1` route answers an ECS error with: 404 for a named resource that does
 * not exist (…NotFoundException) and an unknown operation, 403 AccessDeniedException, 409 for
 * conflicts, the error's own status when it is not 400 (413, 401, 500), else 400.
 */
export function v1StatusOf(type: string, status = type === 'ServerException' ? 500 : 400): number {
  if (status !== 400) return status;
  if (type.endsWith('NotFoundException') || type === 'UnknownOperationException') return 404;
  if (type === 'AccessDeniedException') return 403;
  if (CONFLICTS.has(type)) return 409;
  return 400;
}

/**
 * Whether every resource a route's request names is in its URL: it has path parameters and
 * takes no body (GET, DELETE). A resource state does not find (gRPC NOT_FOUND) is then the
 * one the path names, and answered 404 whatever its ECS name; a route with a body (RunTask's
 * or CreateService's taskDefinition) may name the missing one there, and that stays 400.
 */
export const namesResourceInPath = (route: EcsRoute): boolean =>
  route.params !== undefined && Object.keys(route.params).length > 0 && isQueryRoute(route);

/**
 * An error of an ECS operation as the `/v1` error it is answered with, its ECS name as `code`
 * (the same translation the ECS endpoint makes) and the members of its shape beyond the
 * message (ConflictException's `resourceIds`). A peer (state, scheduler) that cannot be
 * reached or did not answer in time is 503 ServiceUnavailableException naming it; a resource
 * of a `route` that names it in its path (namesResourceInPath) that does not exist is 404.
 * An internal error is returned as its cause, for the V1 filter to log and answer 500 with
 * the request id.
 */
export function toV1Error(err: unknown, route?: EcsRoute): unknown {
  if (err instanceof V1Error) return err;
  const cause = (err as { cause?: unknown } | null)?.cause;
  const failure = peerFailureOf(err) ?? peerFailureOf(cause);
  if (
    failure &&
    (failure.code === GrpcCode.UNAVAILABLE || failure.code === GrpcCode.DEADLINE_EXCEEDED)
  ) {
    const peer = failure.peer ? `The ${failure.peer} service` : 'A Wharf service';
    const unavailable = new V1Error(
      503,
      'ServiceUnavailableException',
      failure.code === GrpcCode.UNAVAILABLE
        ? `${peer} is unavailable; try again later.`
        : `${peer} did not answer in time; try again later.`,
    );
    (unavailable as { cause?: unknown }).cause = cause ?? err;
    return unavailable;
  }
  const { error, internal } = toEcsError(err);
  if (internal || error.type === 'ServerException') {
    return cause ?? err;
  }
  const status =
    failure?.code === GrpcCode.NOT_FOUND &&
    error.status === 400 &&
    route !== undefined &&
    namesResourceInPath(route)
      ? 404
      : v1StatusOf(error.type, error.status);
  return new V1Error(status, error.type, error.message, { ...error.members });
}
