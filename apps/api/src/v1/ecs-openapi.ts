/**
 * The OpenAPI paths and schemas of the ECS routes (ecs-routes.ts), generated from the route
 * table and the ECS model the api checks requests against (protocol/ecs-model.generated.ts,
 * from the Smithy model): each ECS shape is the schema `ecs.<Shape>`, member for member, so a
 * request or answer described here is exactly the ECS JSON one.
 */
import { OPERATIONS } from '../operations';
import { shapeOf } from '../protocol/ecs-model';
import { ECS_ALL_OPERATIONS, ECS_MODEL } from '../protocol/ecs-model.generated';
import {
  bindingOf,
  ECS_ROUTES,
  EcsRoute,
  GENERIC_ECS_PATH,
  handlerNameOf,
  isQueryRoute,
  namesResourceInPath,
  openMembers,
  pathMembers,
  queryKindOf,
  v1StatusOf,
} from './ecs-routes';
import type { JsonSchema, Operation, Parameter, PathItem, ResponseObject } from './openapi';

export const ecsSchemaName = (shape: string): string => `ecs.${shape}`;

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });

/** How the ECS JSON 1.1 protocol writes each simple type. */
const SIMPLE: Record<string, JsonSchema> = {
  string: { type: 'string' },
  boolean: { type: 'boolean' },
  integer: { type: 'integer', format: 'int32' },
  long: { type: 'integer', format: 'int64' },
  double: { type: 'number', format: 'double' },
  timestamp: { type: 'number', description: 'Epoch seconds.' },
};

/**
 * The schema of a model shape: simple types inline, the others a reference to `ecs.<Shape>`,
 * which (with everything it reaches) is added to `schemas`.
 */
export function ecsSchema(shapeName: string, schemas: Record<string, JsonSchema>): JsonSchema {
  const shape = shapeOf(ECS_MODEL, shapeName);
  const simple = SIMPLE[shape.type];
  if (simple) return { ...simple };
  const name = ecsSchemaName(shapeName);
  if (schemas[name]) return ref(name);
  schemas[name] = {};
  switch (shape.type) {
    case 'structure':
      schemas[name] = {
        type: 'object',
        properties: Object.fromEntries(
          Object.entries(shape.members ?? {}).map(([m, t]) => [m, ecsSchema(t, schemas)]),
        ),
        required: shape.required ?? [],
      };
      break;
    case 'list':
      schemas[name] = { type: 'array', items: ecsSchema(shape.member!, schemas) };
      break;
    case 'map':
      schemas[name] = {
        type: 'object',
        additionalProperties: ecsSchema(shape.value!, schemas),
      };
      break;
    case 'enum':
      schemas[name] = { type: 'string', enum: shape.values! };
      break;
    default:
      schemas[name] = { type: 'object' };
  }
  return ref(name);
}

/** The error answers of an operation: its declared ECS errors, by the status /v1 gives each. */
function errorResponses(
  route: EcsRoute | undefined,
  operations: string[],
): Record<string, ResponseObject> {
  const byStatus = new Map<number, Set<string>>();
  const add = (status: number, name: string) =>
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(name));
  for (const op of operations) {
    for (const name of ECS_ALL_OPERATIONS[op].errors) add(v1StatusOf(name), name);
  }
  // What every route may answer besides the operation's own errors: the model check, the
  // bearer token, a body too large, an internal error, a peer service away.
  add(400, 'InvalidParameterException');
  add(400, 'SerializationException');
  add(401, 'MissingAuthenticationTokenException');
  add(401, 'UnrecognizedClientException');
  if (!route || !isQueryRoute(route)) add(413, 'SerializationException');
  if (route?.one) add(404, route.one.notFound);
  if (route && namesResourceInPath(route) && route.missing) add(404, route.missing);
  if (!route) add(404, 'UnknownOperationException');
  add(500, 'ServerException');
  add(503, 'ServiceUnavailableException');
  const WHAT: Record<number, string> = {
    400: 'A bad request; the message names the member or parameter.',
    401: 'No or a bad bearer token.',
    403: 'Not allowed.',
    404:
      route && namesResourceInPath(route)
        ? 'A resource the path names does not exist (its ECS error name is the code).'
        : 'A resource the request names does not exist.',
    409: 'It conflicts with what is there (the resource is in use or still has tasks).',
    413: 'The body is larger than API_MAX_BODY_BYTES.',
    500: 'An internal error; the message has the request id.',
    503: 'State or the scheduler is unavailable or did not answer in time (the message says which); try again later.',
  };
  return Object.fromEntries(
    [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, names]) => [
        String(status),
        {
          description: `${WHAT[status] ?? ''} \`code\`: ${[...names].sort().join(', ')}.`.trim(),
          content: json(ref('Error')),
        },
      ]),
  );
}

function parametersOf(route: EcsRoute, schemas: Record<string, JsonSchema>): Parameter[] {
  const input = shapeOf(ECS_MODEL, ECS_MODEL.operations[route.operation].input);
  const params: Parameter[] = Object.entries(route.params ?? {}).map(([name, binding]) => {
    const { member, list } = bindingOf(binding);
    return {
      name,
      in: 'path',
      required: true,
      description: `The request's \`${member}\`${list ? ' (as its one item)' : ''}; URL-encoded when it is an ARN.`,
      schema: { type: 'string' },
    };
  });
  if (!isQueryRoute(route)) return params;
  for (const [member, target] of openMembers(route)) {
    const kind = queryKindOf(target);
    if (!kind) continue;
    const list = shapeOf(ECS_MODEL, target);
    params.push({
      name: member,
      in: 'query',
      required: (input.required ?? []).includes(member),
      description:
        kind === 'string-list'
          ? `The request's \`${member}\`: repeat the parameter for each item.`
          : `The request's \`${member}\`.`,
      schema:
        kind === 'string-list'
          ? { type: 'array', items: ecsSchema(list.member!, schemas) }
          : ecsSchema(target, schemas),
    });
  }
  return params;
}

function requestBodyOf(route: EcsRoute, schemas: Record<string, JsonSchema>) {
  const inputName = ECS_MODEL.operations[route.operation].input;
  const input = shapeOf(ECS_MODEL, inputName);
  const bound = pathMembers(route);
  const required = (input.required ?? []).filter((m) => !bound.has(m));
  let schema = ecsSchema(inputName, schemas);
  if (bound.size > 0) {
    // The input shape without the members the path gives.
    const name = `${route.operation}Body`;
    schemas[name] = {
      type: 'object',
      description: `${ecsSchemaName(inputName)} without ${[...bound].join(', ')} (from the path).`,
      properties: Object.fromEntries(
        openMembers(route).map(([m, t]) => [m, ecsSchema(t, schemas)]),
      ),
      required,
    };
    schema = ref(name);
  }
  return { required: required.length > 0, content: json(schema) };
}

function successOf(route: EcsRoute, schemas: Record<string, JsonSchema>): ResponseObject {
  const outputName = ECS_MODEL.operations[route.operation].output;
  if (!route.one) {
    return {
      description: `The ${route.operation} answer.`,
      content: json(ecsSchema(outputName, schemas)),
    };
  }
  const { list, as } = route.one;
  const listShape = shapeOf(ECS_MODEL, shapeOf(ECS_MODEL, outputName).members![list]);
  const name = `${as[0].toUpperCase()}${as.slice(1)}Answer`;
  schemas[name] = {
    type: 'object',
    description: `The one item of ${route.operation}'s \`${list}\`.`,
    properties: { [as]: ecsSchema(listShape.member!, schemas) },
    required: [as],
  };
  return { description: `The ${as}.`, content: json(ref(name)) };
}

function operationOf(route: EcsRoute, schemas: Record<string, JsonSchema>): Operation {
  const where = isQueryRoute(route)
    ? 'Its other members are query parameters.'
    : 'Its other members are the JSON body.';
  const op: Operation = {
    operationId: handlerNameOf(route),
    summary: route.summary,
    description:
      `ECS ${route.operation}` +
      (route.params ? `, its ${[...pathMembers(route)].join(', ')} from the path. ` : '. ') +
      where +
      (route.one ? ` A failure for the resource is ${route.one.notFound} (404).` : ''),
    tags: [route.tag],
    'x-ecs-operation': route.operation,
    parameters: parametersOf(route, schemas),
    responses: {
      [String(route.status ?? 200)]: successOf(route, schemas),
      ...errorResponses(route, [route.operation]),
    },
  };
  if (!isQueryRoute(route)) op.requestBody = requestBodyOf(route, schemas);
  if (op.parameters!.length === 0) delete op.parameters;
  return op;
}

/** The paths and schemas of every ECS route and of `POST /v1/ecs/{operation}`. */
export function ecsOpenApi(): {
  paths: Record<string, PathItem>;
  schemas: Record<string, JsonSchema>;
} {
  const schemas: Record<string, JsonSchema> = {};
  const paths: Record<string, PathItem> = {};
  for (const route of ECS_ROUTES) {
    paths[route.path] = { ...paths[route.path], [route.method]: operationOf(route, schemas) };
  }
  const served = Object.keys(OPERATIONS);
  paths[GENERIC_ECS_PATH] = {
    post: {
      operationId: 'invokeOperation',
      summary: 'Any ECS operation by name',
      description:
        "The body is the operation's ECS JSON request (ecs.<Operation>Request) and the answer " +
        'its ECS JSON response, exactly as `POST /` with X-Amz-Target; errors are /v1 errors.',
      tags: ['ECS operations'],
      parameters: [
        {
          name: 'operation',
          in: 'path',
          required: true,
          description: 'The ECS operation, e.g. ListClusters.',
          schema: { type: 'string', enum: served },
        },
      ],
      requestBody: {
        required: false,
        content: json({
          anyOf: served.map((op) => ecsSchema(ECS_MODEL.operations[op].input, schemas)),
        }),
      },
      responses: {
        '200': {
          description: "The operation's ECS answer.",
          content: json({
            anyOf: served.map((op) => ecsSchema(ECS_MODEL.operations[op].output, schemas)),
          }),
        },
        ...errorResponses(undefined, served),
      },
    },
  };
  return { paths, schemas };
}
