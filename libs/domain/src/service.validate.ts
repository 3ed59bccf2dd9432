import { InvalidParameterError, UnsupportedFeatureError } from './errors';
import {
  compilePlacementOptions,
  MAX_PLACEMENT_CONSTRAINTS,
  MAX_PLACEMENT_STRATEGIES,
  PlacementConstraintInput,
  PlacementStrategyInput,
} from './placement/options';
import { validateTagList } from './tags';

export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;
export const SCHEDULING_STRATEGIES = ['REPLICA', 'DAEMON'] as const;
export type SchedulingStrategy = (typeof SCHEDULING_STRATEGIES)[number];
export const MAX_HEALTH_CHECK_GRACE_PERIOD_SECONDS = 2_147_483_647;

export interface DeploymentCircuitBreaker {
  enable: boolean;
  rollback: boolean;
}

/** ECS DeploymentConfiguration with its defaults filled in. */
export interface DeploymentConfiguration {
  maximumPercent: number;
  minimumHealthyPercent: number;
  deploymentCircuitBreaker: DeploymentCircuitBreaker;
}

/** ECS LoadBalancer as a service takes it; stored as given once its shape is checked. */
export interface ServiceLoadBalancer {
  targetGroupArn: string;
  containerName: string;
  containerPort: number;
  [member: string]: unknown;
}

export interface ServiceTag {
  key: string;
  value: string;
}

/** What CreateService takes (the JSON members already parsed); anything may be missing. */
export interface ServiceSpecInput {
  serviceName: string;
  schedulingStrategy?: string;
  launchType?: string;
  desiredCount?: number;
  deploymentConfiguration?: unknown;
  placementConstraints?: unknown;
  placementStrategy?: unknown;
  loadBalancers?: unknown;
  tags?: unknown;
  healthCheckGracePeriodSeconds?: number;
}

/** A valid service specification, defaults filled in. */
export interface ServiceSpec {
  serviceName: string;
  schedulingStrategy: SchedulingStrategy;
  launchType: 'EC2';
  /** 0 for DAEMON: its desired count is the number of instances, the scheduler's business. */
  desiredCount: number;
  deploymentConfiguration: DeploymentConfiguration;
  placementConstraints: PlacementConstraintInput[];
  placementStrategy: PlacementStrategyInput[];
  loadBalancers: ServiceLoadBalancer[];
  tags: ServiceTag[];
  healthCheckGracePeriodSeconds: number;
}

/**
 * A JSON member of a request (`placement_constraints_json` …): '' or undefined → undefined;
 * text that is not JSON → InvalidParameterError naming the member.
 */
export function parseServiceJson(text: string | undefined, member: string): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidParameterError(`${member} is not valid JSON.`);
  }
}

/**
 * Validates a service as CreateService (or UpdateService, on the merged result) receives it,
 * with ECS's rules, and fills in ECS's defaults. Every error is an InvalidParameterError that
 * names the member, except an unsupported launch type (UnsupportedFeatureError).
 */
export function validateServiceSpec(input: ServiceSpecInput): ServiceSpec {
  if (typeof input.serviceName !== 'string' || !SERVICE_NAME_PATTERN.test(input.serviceName)) {
    throw new InvalidParameterError(
      'serviceName must be 1-255 characters: letters, numbers, hyphens and underscores.',
    );
  }
  const schedulingStrategy = validateSchedulingStrategy(input.schedulingStrategy);
  const launchType = validateLaunchType(input.launchType);

  let desiredCount = 0;
  if (schedulingStrategy === 'REPLICA') {
    if (input.desiredCount === undefined || input.desiredCount === null) {
      throw new InvalidParameterError(
        'desiredCount is required for a service with the REPLICA scheduling strategy.',
      );
    }
    desiredCount = validateDesiredCount(input.desiredCount);
  } else if (input.desiredCount !== undefined && input.desiredCount !== null) {
    throw new InvalidParameterError(
      'desiredCount is not valid for a service with the DAEMON scheduling strategy: it runs one task on each container instance.',
    );
  }

  const deploymentConfiguration = validateDeploymentConfiguration(
    input.deploymentConfiguration,
    schedulingStrategy,
    desiredCount,
  );
  const placementConstraints = arrayMember<PlacementConstraintInput>(
    input.placementConstraints,
    'placementConstraints',
  );
  const placementStrategy = arrayMember<PlacementStrategyInput>(
    input.placementStrategy,
    'placementStrategy',
  );
  if (placementConstraints.length > MAX_PLACEMENT_CONSTRAINTS) {
    throw new InvalidParameterError(
      `placementConstraints: at most ${MAX_PLACEMENT_CONSTRAINTS} constraints, not ${placementConstraints.length}.`,
    );
  }
  if (placementStrategy.length > MAX_PLACEMENT_STRATEGIES) {
    throw new InvalidParameterError(
      `placementStrategy: at most ${MAX_PLACEMENT_STRATEGIES} rules, not ${placementStrategy.length}.`,
    );
  }
  if (schedulingStrategy === 'DAEMON' && placementStrategy.length > 0) {
    throw new InvalidParameterError(
      'Placement strategies are not supported with the DAEMON scheduling strategy.',
    );
  }
  placementConstraints.forEach((c, i) => objectMember(c, `placementConstraints[${i}]`));
  placementStrategy.forEach((s, i) => objectMember(s, `placementStrategy[${i}]`));
  // The same compiler as RunTask, so a bad expression reads the same everywhere.
  compilePlacementOptions({
    constraints: placementConstraints,
    strategy: placementStrategy,
    defaultStrategy: [{ type: 'random' }],
  });

  const loadBalancers = validateLoadBalancers(input.loadBalancers);
  const tags = validateTags(input.tags);
  const healthCheckGracePeriodSeconds = validateHealthCheckGracePeriod(
    input.healthCheckGracePeriodSeconds,
    loadBalancers.length > 0,
  );

  return {
    serviceName: input.serviceName,
    schedulingStrategy,
    launchType,
    desiredCount,
    deploymentConfiguration,
    placementConstraints: placementConstraints.map(stripUndefined),
    placementStrategy: placementStrategy.map(stripUndefined),
    loadBalancers,
    tags,
    healthCheckGracePeriodSeconds,
  };
}

export function validateSchedulingStrategy(value: string | undefined): SchedulingStrategy {
  const v = value || 'REPLICA';
  if (!(SCHEDULING_STRATEGIES as readonly string[]).includes(v)) {
    throw new InvalidParameterError(
      `schedulingStrategy must be REPLICA or DAEMON, not '${String(value)}'.`,
    );
  }
  return v as SchedulingStrategy;
}

/** Wharf runs tasks on its own container instances only: EC2. */
export function validateLaunchType(value: string | undefined): 'EC2' {
  const v = value || 'EC2';
  if (v === 'EC2') return 'EC2';
  if (v === 'FARGATE' || v === 'EXTERNAL') {
    throw new UnsupportedFeatureError(
      `launchType ${v} is not supported by Wharf: services run on the cluster's container instances (EC2).`,
    );
  }
  throw new InvalidParameterError(`launchType must be EC2, FARGATE or EXTERNAL, not '${v}'.`);
}

/** Amazon ECS's quota of tasks per service. */
export const MAX_TASKS_PER_SERVICE = 5000;

export function validateDesiredCount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidParameterError('desiredCount must be an integer greater than or equal to 0.');
  }
  if (value > MAX_TASKS_PER_SERVICE) {
    throw new InvalidParameterError(
      `desiredCount ${value} is more than the ${MAX_TASKS_PER_SERVICE} tasks a service can have.`,
    );
  }
  return value;
}

/**
 * ECS's ranges: minimumHealthyPercent 0-100, maximumPercent at least 100 (exactly 100 for
 * DAEMON, whose tasks are replaced in place); for REPLICA with tasks, the two must leave room
 * for at least one task to be replaced (floor(max × desired) > ceil(min × desired)), or a
 * deployment could never progress.
 */
export function validateDeploymentConfiguration(
  value: unknown,
  strategy: SchedulingStrategy,
  desiredCount: number,
): DeploymentConfiguration {
  const dc =
    value === undefined || value === null ? {} : objectMember(value, 'deploymentConfiguration');
  const daemon = strategy === 'DAEMON';
  const maximumPercent = percent(dc.maximumPercent, daemon ? 100 : 200, 'maximumPercent');
  const minimumHealthyPercent = percent(
    dc.minimumHealthyPercent,
    daemon ? 0 : 100,
    'minimumHealthyPercent',
  );
  if (minimumHealthyPercent > 100) {
    throw new InvalidParameterError(
      'deploymentConfiguration.minimumHealthyPercent must be between 0 and 100.',
    );
  }
  if (daemon && maximumPercent !== 100) {
    throw new InvalidParameterError(
      'deploymentConfiguration.maximumPercent must be 100 for the DAEMON scheduling strategy.',
    );
  }
  if (maximumPercent < 100) {
    throw new InvalidParameterError(
      'deploymentConfiguration.maximumPercent must be greater than or equal to 100.',
    );
  }
  if (!daemon && desiredCount > 0) {
    const upper = Math.floor((maximumPercent * desiredCount) / 100);
    const lower = Math.ceil((minimumHealthyPercent * desiredCount) / 100);
    if (upper <= lower) {
      throw new InvalidParameterError(
        `deploymentConfiguration: with maximumPercent ${maximumPercent} and minimumHealthyPercent ${minimumHealthyPercent}, no task of the ${desiredCount} desired can be replaced; raise maximumPercent or lower minimumHealthyPercent.`,
      );
    }
  }
  const cbValue = dc.deploymentCircuitBreaker;
  const cb =
    cbValue === undefined || cbValue === null
      ? {}
      : objectMember(cbValue, 'deploymentConfiguration.deploymentCircuitBreaker');
  return {
    maximumPercent,
    minimumHealthyPercent,
    deploymentCircuitBreaker: {
      enable: bool(cb.enable, 'deploymentConfiguration.deploymentCircuitBreaker.enable'),
      rollback: bool(cb.rollback, 'deploymentConfiguration.deploymentCircuitBreaker.rollback'),
    },
  };
}

export function validateLoadBalancers(value: unknown): ServiceLoadBalancer[] {
  const list = arrayMember<unknown>(value, 'loadBalancers');
  return list.map((raw, i) => {
    const lb = objectMember(raw, `loadBalancers[${i}]`);
    if (typeof lb.targetGroupArn !== 'string' || lb.targetGroupArn === '') {
      throw new InvalidParameterError(`loadBalancers[${i}].targetGroupArn is required.`);
    }
    if (typeof lb.containerName !== 'string' || lb.containerName === '') {
      throw new InvalidParameterError(`loadBalancers[${i}].containerName is required.`);
    }
    const port = lb.containerPort;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidParameterError(
        `loadBalancers[${i}].containerPort must be an integer between 1 and 65535.`,
      );
    }
    return lb as ServiceLoadBalancer;
  });
}

/** The service's tags: the same rules as every resource's (tags.ts), reserved `aws:` keys too. */
export function validateTags(value: unknown): ServiceTag[] {
  return validateTagList(value, 'tags');
}

/** 0 when not given; ECS refuses it on a service without load balancers. */
export function validateHealthCheckGracePeriod(
  value: number | undefined,
  hasLoadBalancers: boolean,
): number {
  if (value === undefined || value === null) return 0;
  if (!Number.isInteger(value) || value < 0 || value > MAX_HEALTH_CHECK_GRACE_PERIOD_SECONDS) {
    throw new InvalidParameterError(
      `healthCheckGracePeriodSeconds must be an integer between 0 and ${MAX_HEALTH_CHECK_GRACE_PERIOD_SECONDS}.`,
    );
  }
  if (!hasLoadBalancers) {
    throw new InvalidParameterError(
      'Health check grace period is only valid for services configured to use load balancers',
    );
  }
  return value;
}

function percent(value: unknown, fallback: number, member: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidParameterError(
      `deploymentConfiguration.${member} must be a non-negative integer.`,
    );
  }
  return value;
}

function bool(value: unknown, member: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new InvalidParameterError(`${member} must be a boolean.`);
  return value;
}

function arrayMember<T>(value: unknown, member: string): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidParameterError(`${member} must be a list.`);
  return value as T[];
}

function objectMember(value: unknown, member: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidParameterError(`${member} must be an object.`);
  }
  return value as Record<string, unknown>;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
