/**
 * The OpenAPI 3.1 document of the api's REST routes under `/v1`, served at
 * `GET /v1/openapi.json`. Written by hand next to the controllers it describes (logs,
 * utilisation, placement explain, load balancers, listeners, rules, target groups), and
 * generated for the ECS routes from their table and the ECS model (ecs-openapi.ts);
 * openapi.spec.ts checks that it holds together and that the answers match it.
 */
import { ecsOpenApi } from './ecs-openapi';
import { ECS_ROUTE_TAGS } from './ecs-routes';

/** The JSON Schema 2020-12 subset these schemas use. */
export interface JsonSchema {
  $ref?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: (string | number | boolean)[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  default?: unknown;
  format?: string;
}

export interface MediaType {
  schema: JsonSchema;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  description?: string;
  schema: JsonSchema;
}

export interface ResponseObject {
  description: string;
  content?: Record<string, MediaType>;
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** The ECS operation an ECS route runs. */
  'x-ecs-operation'?: string;
  /** `[]`: no bearer token needed. */
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject | { $ref: string }>;
}

export type HttpMethod = 'get' | 'put' | 'post' | 'patch' | 'delete';

export type PathItem = Partial<Record<HttpMethod, Operation>>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  security: Record<string, string[]>[];
  tags: { name: string; description: string }[];
  paths: Record<string, PathItem>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, ResponseObject>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; description: string }>;
  };
}

const ref = (schema: string): JsonSchema => ({ $ref: `#/components/schemas/${schema}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const body = (schema: string) => ({ required: true, content: json(ref(schema)) });
const ok = (description: string, schema: string): ResponseObject => ({
  description,
  content: json(ref(schema)),
});
const error = (status: string) => ({ $ref: `#/components/responses/${status}` });
/** The errors every load balancer route may answer, besides those it lists. */
const lbErrors = (...statuses: string[]) =>
  Object.fromEntries(['500', '503', ...statuses].sort().map((s) => [s, error(s)]));

const str = (description?: string): JsonSchema => ({ type: 'string', description });
const int = (minimum: number, maximum: number, description?: string): JsonSchema => ({
  type: 'integer',
  minimum,
  maximum,
  description,
});
const list = (items: JsonSchema, description?: string): JsonSchema => ({
  type: 'array',
  items,
  description,
});
const obj = (
  properties: Record<string, JsonSchema>,
  required: string[] = [],
  description?: string,
): JsonSchema => ({ type: 'object', properties, required, description });

const NAME: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 32,
  pattern: '^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$',
  description: 'Letters, digits and hyphens; not starting or ending with a hyphen.',
};

const pathParam = (name: string, description: string): Parameter => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const queryParam = (name: string, description: string, schema = str()): Parameter => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const LB_REF = pathParam('arnOrName', 'The load balancer ARN (URL-encoded) or name.');
const TG_REF = pathParam('arnOrName', 'The target group ARN (URL-encoded) or name.');
const LISTENER_ARN = pathParam('listenerArn', 'The listener ARN, URL-encoded.');
const RULE_ARN = pathParam('ruleArn', 'The rule ARN, URL-encoded.');
const CLUSTER = pathParam('cluster', 'The cluster name or ARN.');
const TASK = pathParam('task', 'The task id or ARN (URL-encoded).');

/** get, put and delete of one resource; create and list on the collection. */
function resourcePaths(r: {
  collection: string;
  one: string;
  param: Parameter;
  tag: string;
  noun: string;
  schema: string;
  listKey: string;
  listSchema: string;
  listParams?: Parameter[];
  createErrors: string[];
  deleteNote: string;
}): Record<string, PathItem> {
  const Name = r.schema;
  return {
    [r.collection]: {
      post: {
        operationId: `create${Name}`,
        summary: `Create a ${r.noun}`,
        description: `State checks every member of the ${Name}Input; a bad one is 400 naming it.`,
        tags: [r.tag],
        requestBody: body(`${Name}Input`),
        responses: {
          '201': ok(`The ${r.noun}, with every default filled in.`, Name),
          ...lbErrors('400', '413', ...r.createErrors),
        },
      },
      get: {
        operationId: `list${Name}s`,
        summary: `List ${r.noun}s`,
        description: 'Oldest first.',
        tags: [r.tag],
        parameters: r.listParams,
        responses: {
          '200': ok(`The ${r.noun}s as \`{${r.listKey}: [...]}\`.`, r.listSchema),
          ...lbErrors(...(r.listParams ? ['400', '404'] : [])),
        },
      },
    },
    [r.one]: {
      get: {
        operationId: `get${Name}`,
        summary: `Get a ${r.noun}`,
        tags: [r.tag],
        parameters: [r.param],
        responses: { '200': ok(`The ${r.noun}.`, Name), ...lbErrors('400', '404') },
      },
      put: {
        operationId: `replace${Name}`,
        summary: `Replace a ${r.noun}`,
        description: `The body is the whole ${Name}Input; a member left out takes its default.`,
        tags: [r.tag],
        parameters: [r.param],
        requestBody: body(`${Name}Input`),
        responses: {
          '200': ok(`The ${r.noun} as it now is.`, Name),
          ...lbErrors('400', '404', '409', '413'),
        },
      },
      delete: {
        operationId: `delete${Name}`,
        summary: `Delete a ${r.noun}`,
        description: r.deleteNote,
        tags: [r.tag],
        parameters: [r.param],
        responses: {
          '200': ok(`The deleted ${r.noun}.`, Name),
          ...lbErrors('400', '404', '409'),
        },
      },
    },
  };
}

const TAG = obj({ key: str(), value: str() }, ['key']);
const TARGET_HEALTH_STATES = [
  'initial',
  'healthy',
  'unhealthy',
  'unused',
  'draining',
  'unavailable',
];
const HEALTH_CHECK_PROPERTIES: Record<string, JsonSchema> = {
  path: { type: 'string', default: '/' },
  port: { type: 'string', default: 'traffic-port', description: '"traffic-port" or a port.' },
  intervalSeconds: { ...int(5, 300), default: 30 },
  timeoutSeconds: { ...int(2, 120), default: 5, description: 'Less than the interval.' },
  healthyThresholdCount: { ...int(2, 10), default: 5 },
  unhealthyThresholdCount: { ...int(2, 10), default: 2 },
  matcher: obj({ httpCode: str('200–499: "200", "200,202" or "200-299".') }, ['httpCode']),
};
const TARGET_GROUP_PROPERTIES: Record<string, JsonSchema> = {
  protocol: { type: 'string', enum: ['HTTP'], default: 'HTTP' },
  port: int(1, 65535, 'The port targets receive traffic on unless registered with their own.'),
  targetType: {
    type: 'string',
    enum: ['instance', 'ip'],
    default: 'instance',
    description: 'Cannot change once created.',
  },
  deregistrationDelaySeconds: { ...int(0, 3600), default: 300 },
  algorithm: {
    type: 'string',
    enum: ['round_robin', 'least_outstanding_requests'],
    default: 'round_robin',
  },
  stickiness: obj(
    {
      enabled: { type: 'boolean' },
      type: { type: 'string', enum: ['lb_cookie'] },
      durationSeconds: { ...int(1, 604800), default: 86400 },
    },
    ['enabled'],
    'Cookie AWSALB.',
  ),
  slowStartSeconds: {
    type: 'integer',
    default: 0,
    description: '0, or 30–900; not with least_outstanding_requests.',
  },
};

const LOAD_BALANCER_PATHS = resourcePaths({
  collection: '/v1/load-balancers',
  one: '/v1/load-balancers/{arnOrName}',
  param: LB_REF,
  tag: 'Load balancers',
  noun: 'load balancer',
  schema: 'LoadBalancer',
  listKey: 'loadBalancers',
  listSchema: 'LoadBalancerList',
  createErrors: ['409'],
  deleteNote: 'Its listeners and their rules are deleted with it.',
});
const LISTENER_PATHS = resourcePaths({
  collection: '/v1/listeners',
  one: '/v1/listeners/{listenerArn}',
  param: LISTENER_ARN,
  tag: 'Listeners',
  noun: 'listener',
  schema: 'Listener',
  listKey: 'listeners',
  listSchema: 'ListenerList',
  listParams: [
    queryParam('loadBalancerArn', "Only this load balancer's listeners (its ARN or name)."),
  ],
  createErrors: ['404', '409'],
  deleteNote: 'Its rules are deleted with it.',
});
const RULE_PATHS = resourcePaths({
  collection: '/v1/rules',
  one: '/v1/rules/{ruleArn}',
  param: RULE_ARN,
  tag: 'Rules',
  noun: 'rule',
  schema: 'Rule',
  listKey: 'rules',
  listSchema: 'RuleList',
  listParams: [queryParam('listenerArn', "Only this listener's rules.")],
  createErrors: ['404', '409'],
  deleteNote: "The listener's other rules and default actions stay.",
});
const TARGET_GROUP_PATHS = resourcePaths({
  collection: '/v1/target-groups',
  one: '/v1/target-groups/{arnOrName}',
  param: TG_REF,
  tag: 'Target groups',
  noun: 'target group',
  schema: 'TargetGroup',
  listKey: 'targetGroups',
  listSchema: 'TargetGroupList',
  createErrors: ['409'],
  deleteNote:
    'A target group an action or an ECS service still uses is 409 ResourceInUseException.',
});

const logsParameters: Parameter[] = [
  CLUSTER,
  TASK,
  queryParam('container', 'The container name; required when the task has several.'),
  queryParam('follow', 'Keep streaming until the container stops.', {
    type: 'boolean',
    default: false,
  }),
  queryParam('tail', 'The last N lines, or "all".', { type: 'string', default: 'all' }),
  queryParam('since', 'Epoch seconds (fractions allowed) or an ISO 8601 instant.'),
  queryParam('timestamps', 'Prefix each line with its RFC 3339 time.', {
    type: 'boolean',
    default: false,
  }),
];

const utilisationResponses = {
  '200': ok('The latest sample and the history, newest first.', 'Utilisation'),
  '400': error('400'),
  '404': error('404'),
  '502': error('502'),
  '503': error('503'),
};

const ECS = ecsOpenApi();

export const OPENAPI_DOCUMENT: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Wharf REST API',
    version: '1',
    description:
      "Wharf's REST routes under /v1, beside the ECS JSON 1.1 protocol at POST /. Every ECS " +
      'operation Wharf serves has a resource route here, running the same validation and ' +
      'handler as POST /; request and answer bodies are the ECS JSON shapes (the ecs.* ' +
      'schemas, from the ECS model). Send `Authorization: Bearer <access key id>:<secret>`. ' +
      'Errors are JSON `{"message": …, "code": …}`: `code` is the ECS error name on the ECS ' +
      'routes (ClusterNotFoundException is 404, InvalidParameterException 400 …), an ' +
      'ELBv2-style name on the load balancer routes; the older routes (logs, utilisation, ' +
      'placement explain) answer `message` alone. ARNs in a path are URL-encoded (they ' +
      'contain "/" and ":").',
  },
  servers: [{ url: '/' }],
  security: [{ bearer: [] }],
  tags: [
    ...ECS_ROUTE_TAGS,
    { name: 'Load balancers', description: 'Application load balancers.' },
    {
      name: 'Listeners',
      description: 'Ports a load balancer listens on and their default actions.',
    },
    { name: 'Rules', description: "Conditions and actions of a listener's routing." },
    { name: 'Target groups', description: 'Target groups, their targets and target health.' },
    { name: 'Placement', description: 'Why a task would be placed where.' },
    { name: 'Documentation', description: 'This document and its rendering.' },
  ],
  paths: {
    ...ECS.paths,
    ...LOAD_BALANCER_PATHS,
    ...LISTENER_PATHS,
    ...RULE_PATHS,
    ...TARGET_GROUP_PATHS,
    '/v1/target-groups/{arnOrName}/targets': {
      get: {
        operationId: 'describeTargetHealth',
        summary: "A target group's targets and their health",
        tags: ['Target groups'],
        parameters: [TG_REF],
        responses: {
          '200': ok('Every target of the group.', 'TargetHealthDescriptions'),
          ...lbErrors('400', '404'),
        },
      },
      post: {
        operationId: 'registerTargets',
        summary: 'Register targets',
        description: 'Each target starts `initial` until health checks find it healthy.',
        tags: ['Target groups'],
        parameters: [TG_REF],
        requestBody: body('TargetsRequest'),
        responses: {
          '200': ok('The registered targets.', 'TargetHealthDescriptions'),
          ...lbErrors('400', '404', '413'),
        },
      },
    },
    '/v1/target-groups/{arnOrName}/targets/deregister': {
      post: {
        operationId: 'deregisterTargets',
        summary: 'Deregister targets',
        description:
          "Each target is `draining` until the group's deregistration delay has passed, then gone.",
        tags: ['Target groups'],
        parameters: [TG_REF],
        requestBody: body('TargetsRequest'),
        responses: {
          '200': ok('The deregistered targets.', 'TargetHealthDescriptions'),
          ...lbErrors('400', '404', '413'),
        },
      },
    },
    '/v1/clusters/{cluster}/tasks/{task}/logs': {
      get: {
        operationId: 'getTaskLogs',
        summary: "A task container's logs",
        description:
          "Read from the agent of the task's container instance. With follow=true the response " +
          'stays open until the container stops or the client goes away.',
        tags: ['Tasks'],
        parameters: logsParameters,
        responses: {
          '200': {
            description: 'The log lines, stdout and stderr interleaved.',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          '400': error('400'),
          '404': error('404'),
          '500': error('500'),
          '502': error('502'),
          '503': error('503'),
        },
      },
    },
    '/v1/clusters/{cluster}/tasks/{task}/utilisation': {
      get: {
        operationId: 'getTaskUtilisation',
        summary: "A task's utilisation",
        tags: ['Tasks'],
        parameters: [
          CLUSTER,
          TASK,
          queryParam('history', 'At most this many samples of history (0–1000).', int(0, 1000)),
        ],
        responses: utilisationResponses,
      },
    },
    '/v1/clusters/{cluster}/container-instances/{id}/utilisation': {
      get: {
        operationId: 'getContainerInstanceUtilisation',
        summary: "A container instance's utilisation",
        tags: ['Tasks'],
        parameters: [
          CLUSTER,
          pathParam('id', 'The container instance id or ARN (URL-encoded).'),
          queryParam('history', 'At most this many samples of history (0–1000).', int(0, 1000)),
        ],
        responses: utilisationResponses,
      },
    },
    '/v1/clusters/{cluster}/placement/explain': {
      post: {
        operationId: 'explainPlacement',
        summary: 'Explain where a task would be placed',
        description:
          'Why each container instance would or would not take the task, where the next task ' +
          'goes and where RunTask would put `count` tasks. Commits nothing.',
        tags: ['Placement'],
        parameters: [CLUSTER],
        requestBody: body('ExplainRequest'),
        responses: {
          '200': ok('The explanation.', 'PlacementExplanation'),
          '400': error('400'),
          '404': error('404'),
          '413': error('413'),
          '500': error('500'),
          '502': error('502'),
          '503': error('503'),
        },
      },
    },
    '/v1/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        security: [],
        summary: 'This document',
        tags: ['Documentation'],
        responses: {
          '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) },
        },
      },
    },
    '/v1/docs': {
      get: {
        operationId: 'getDocs',
        security: [],
        summary: 'This document rendered as a page',
        tags: ['Documentation'],
        responses: {
          '200': {
            description: 'An HTML page',
            content: { 'text/html': { schema: { type: 'string' } } },
          },
        },
      },
    },
  },
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'An access key as `<access key id>:<secret access key>`.',
      },
    },
    responses: {
      '400': {
        description: 'A bad request; the message names the member or parameter.',
        content: json(ref('Error')),
      },
      '404': { description: 'Not found.', content: json(ref('Error')) },
      '409': {
        description:
          'A name, listener port or rule priority already taken (Duplicate…Exception, ' +
          'PriorityInUseException), or a resource still in use (ResourceInUseException).',
        content: json(ref('Error')),
      },
      '413': {
        description: 'The body is larger than API_MAX_BODY_BYTES.',
        content: json(ref('Error')),
      },
      '500': {
        description: 'An internal error; the message has the request id.',
        content: json(ref('Error')),
      },
      '502': { description: 'A peer service failed.', content: json(ref('Error')) },
      '503': {
        description: 'A peer service is unavailable; try again.',
        content: json(ref('Error')),
      },
    },
    schemas: {
      Error: obj(
        {
          message: str('What is wrong, naming the member or resource.'),
          code: str(
            'The error name: the ECS one on the ECS routes (ClusterNotFoundException …), ' +
              'an ELBv2-style one on the load balancer routes (LoadBalancerNotFoundException …).',
          ),
        },
        ['message'],
        'Members of the error shape beyond its message ride along: ConflictException has ' +
          '`resourceIds`, the resources that conflict.',
      ),
      ...ECS.schemas,
      Tag: TAG,
      LoadBalancerInput: obj(
        {
          name: NAME,
          idleTimeoutSeconds: { ...int(1, 4000), default: 60 },
          tags: list(TAG),
        },
        ['name'],
      ),
      LoadBalancer: obj(
        {
          loadBalancerArn: str(),
          loadBalancerName: str(),
          idleTimeoutSeconds: int(1, 4000),
          tags: list(TAG),
          createdTime: { type: 'integer', description: 'Epoch milliseconds.' },
        },
        ['loadBalancerArn', 'loadBalancerName', 'idleTimeoutSeconds', 'tags', 'createdTime'],
      ),
      LoadBalancerList: obj({ loadBalancers: list(ref('LoadBalancer')) }, ['loadBalancers']),
      TargetGroupTuple: obj({ targetGroupArn: str(), weight: { ...int(0, 999), default: 1 } }, [
        'targetGroupArn',
      ]),
      ForwardConfig: obj(
        {
          targetGroups: list(ref('TargetGroupTuple')),
          targetGroupStickinessConfig: obj(
            { enabled: { type: 'boolean' }, durationSeconds: int(1, 604800) },
            ['enabled'],
            'Cookie AWSALBTG.',
          ),
        },
        ['targetGroups'],
      ),
      FixedResponseConfig: obj(
        {
          statusCode: { type: 'string', pattern: '^[245]\\d\\d$' },
          contentType: {
            type: 'string',
            enum: [
              'text/plain',
              'text/css',
              'text/html',
              'application/javascript',
              'application/json',
            ],
          },
          messageBody: { type: 'string', maxLength: 1024 },
        },
        ['statusCode'],
      ),
      RedirectConfig: obj(
        {
          protocol: { type: 'string', default: '#{protocol}' },
          port: { type: 'string', default: '#{port}' },
          host: { type: 'string', default: '#{host}' },
          path: { type: 'string', default: '/#{path}' },
          query: { type: 'string', default: '#{query}' },
          statusCode: { type: 'string', enum: ['HTTP_301', 'HTTP_302'] },
        },
        ['statusCode'],
      ),
      Action: obj(
        {
          type: { type: 'string', enum: ['forward', 'fixed-response', 'redirect'] },
          targetGroupArn: str('forward to one target group'),
          forwardConfig: ref('ForwardConfig'),
          fixedResponseConfig: ref('FixedResponseConfig'),
          redirectConfig: ref('RedirectConfig'),
        },
        ['type'],
      ),
      RuleCondition: obj(
        {
          field: {
            type: 'string',
            enum: [
              'path-pattern',
              'host-header',
              'http-header',
              'http-request-method',
              'query-string',
              'source-ip',
            ],
          },
          values: list(str(), 'path-pattern and host-header only (legacy form).'),
          pathPatternConfig: obj({ values: list(str()) }, ['values']),
          hostHeaderConfig: obj({ values: list(str()) }, ['values']),
          httpHeaderConfig: obj({ httpHeaderName: str(), values: list(str()) }, [
            'httpHeaderName',
            'values',
          ]),
          httpRequestMethodConfig: obj({ values: list(str()) }, ['values']),
          queryStringConfig: obj({ values: list(obj({ key: str(), value: str() }, ['value'])) }, [
            'values',
          ]),
          sourceIpConfig: obj({ values: list(str('CIDR')) }, ['values']),
        },
        ['field'],
      ),
      ListenerInput: obj(
        {
          loadBalancerArn: str(),
          port: int(1, 65535, 'Unique over every listener.'),
          protocol: { type: 'string', enum: ['HTTP'], default: 'HTTP' },
          defaultActions: list(ref('Action'), 'Exactly one terminal action.'),
        },
        ['loadBalancerArn', 'port', 'defaultActions'],
      ),
      Listener: obj(
        {
          listenerArn: str(),
          loadBalancerArn: str(),
          port: int(1, 65535),
          protocol: { type: 'string', enum: ['HTTP'] },
          defaultActions: list(ref('Action')),
        },
        ['listenerArn', 'loadBalancerArn', 'port', 'protocol', 'defaultActions'],
      ),
      ListenerList: obj({ listeners: list(ref('Listener')) }, ['listeners']),
      RuleInput: obj(
        {
          listenerArn: str(),
          priority: int(1, 50000, 'Unique within the listener.'),
          conditions: { ...list(ref('RuleCondition')), minItems: 1, maxItems: 5 },
          actions: list(ref('Action')),
        },
        ['listenerArn', 'priority', 'conditions', 'actions'],
      ),
      Rule: obj(
        {
          ruleArn: str(),
          listenerArn: str(),
          priority: int(1, 50000),
          conditions: list(ref('RuleCondition')),
          actions: list(ref('Action')),
        },
        ['ruleArn', 'listenerArn', 'priority', 'conditions', 'actions'],
      ),
      RuleList: obj({ rules: list(ref('Rule')) }, ['rules']),
      HealthCheck: obj(HEALTH_CHECK_PROPERTIES, Object.keys(HEALTH_CHECK_PROPERTIES)),
      HealthCheckInput: obj(HEALTH_CHECK_PROPERTIES),
      TargetGroupInput: obj(
        {
          name: NAME,
          ...TARGET_GROUP_PROPERTIES,
          healthCheck: ref('HealthCheckInput'),
          tags: list(TAG),
        },
        ['name', 'port'],
      ),
      TargetGroup: obj(
        {
          targetGroupArn: str(),
          targetGroupName: str(),
          ...TARGET_GROUP_PROPERTIES,
          healthCheck: ref('HealthCheck'),
          tags: list(TAG),
        },
        [
          'targetGroupArn',
          'targetGroupName',
          'protocol',
          'port',
          'targetType',
          'healthCheck',
          'deregistrationDelaySeconds',
          'algorithm',
          'stickiness',
          'slowStartSeconds',
          'tags',
        ],
      ),
      TargetGroupList: obj({ targetGroups: list(ref('TargetGroup')) }, ['targetGroups']),
      TargetDescription: obj(
        {
          id: str('The container instance id (target type instance) or an IP address.'),
          port: int(1, 65535, "Absent: the target group's port."),
        },
        ['id'],
      ),
      TargetsRequest: obj({ targets: list(ref('TargetDescription')) }, ['targets']),
      TargetHealthDescription: obj(
        {
          target: obj({ id: str(), port: int(1, 65535) }, ['id', 'port']),
          healthCheckPort: str(),
          targetHealth: obj(
            {
              state: { type: 'string', enum: TARGET_HEALTH_STATES },
              reason: str('e.g. Target.ResponseCodeMismatch; absent when healthy.'),
              description: str(),
            },
            ['state'],
          ),
          taskArn: str('The task the target serves, when an ECS service registered it.'),
          serviceArn: str(),
        },
        ['target', 'healthCheckPort', 'targetHealth'],
      ),
      TargetHealthDescriptions: obj(
        { targetHealthDescriptions: list(ref('TargetHealthDescription')) },
        ['targetHealthDescriptions'],
      ),
      UtilisationSample: obj(
        {
          sampledAt: { type: 'string', format: 'date-time' },
          cpuPercent: { type: 'number', description: 'Percent of one CPU.' },
          memoryUsedBytes: { type: 'integer' },
          memoryLimitBytes: { type: 'integer' },
          networkRxBytes: { type: 'integer' },
          networkTxBytes: { type: 'integer' },
          blockReadBytes: { type: 'integer' },
          blockWriteBytes: { type: 'integer' },
          containers: list({ type: 'object' }, 'Per container (task samples).'),
          onlineCpus: { type: 'integer', description: 'Instance samples.' },
          taskCount: { type: 'integer', description: 'Instance samples.' },
        },
        ['sampledAt', 'cpuPercent', 'memoryUsedBytes'],
      ),
      Utilisation: obj(
        {
          cluster: str(),
          taskArn: str('Task utilisation only.'),
          containerInstanceArn: str(),
          latest: { oneOf: [ref('UtilisationSample'), { type: 'null' }] },
          history: list(ref('UtilisationSample')),
        },
        ['cluster', 'containerInstanceArn', 'latest', 'history'],
      ),
      ExplainRequest: obj(
        {
          taskDefinition: str('A family, family:revision or ARN.'),
          count: { ...int(1, 10), default: 1 },
          group: str(),
          placementConstraints: list({ type: 'object' }, 'As RunTask.'),
          placementStrategy: list({ type: 'object' }, 'As RunTask.'),
          overrides: { type: 'object', description: 'An ECS TaskOverride.' },
        },
        ['taskDefinition'],
      ),
      PlacementExplanation: obj(
        {
          cluster: str(),
          taskDefinitionArn: str(),
          count: { type: 'integer' },
          group: str(),
          claim: { type: 'object', description: 'What one task needs (cpu, memory, ports).' },
          strategies: list(str(), 'The strategies applied, in order.'),
          instances: list(
            obj(
              {
                arn: str(),
                feasible: { type: 'boolean' },
                failures: list(obj({ reason: str(), detail: str() }, ['reason', 'detail'])),
                rank: { type: 'integer' },
                strategies: list(
                  obj({ strategy: str(), score: { type: 'number' }, rank: { type: 'integer' } }),
                ),
              },
              ['arn', 'feasible'],
            ),
            'Every instance: infeasible with each check it fails, or feasible with its ranks.',
          ),
          next: { type: 'object', description: 'Where the next task would go, or why not.' },
          plan: list({ type: 'object' }, 'Where RunTask would put each of `count` tasks.'),
        },
        ['cluster', 'taskDefinitionArn', 'count', 'instances', 'next', 'plan'],
      ),
    },
  },
};
