import type { stateV1 } from '@wharf/proto';
import { EcsApiError } from '../protocol/ecs-errors';
import { toEcsFailure, toEcsService } from '../protocol/shapes';
import {
  call,
  checkListSize,
  checkMaxResults,
  invalidParameter,
  Json,
  OperationHandler,
  str,
} from './operation-context';

/*
 * The api maps members; state validates what they say (names, counts, deployment
 * configuration, placement, tags) and keeps the service. What the api decides alone is which
 * ECS members Wharf cannot honour on a self-hosted cluster: those are refused with
 * UnsupportedFeatureException (which CreateService and UpdateService declare) naming the
 * member, never silently dropped. Members whose value asks for nothing (an empty list,
 * `enableExecuteCommand: false`, `propagateTags: NONE`, `deploymentController: {type: ECS}`,
 * `serviceConnectConfiguration: {enabled: false}`) and `enableECSManagedTags` (tags Wharf has no
 * use for) are accepted and have no effect. See apps/api/README.md.
 */

const unsupported = (message: string) => new EcsApiError('UnsupportedFeatureException', message);

const given = (v: unknown): boolean => v !== undefined && v !== null;
const nonEmptyList = (v: unknown): boolean => Array.isArray(v) && v.length > 0;

/** Refuses the members Wharf does not support, whichever of the two operations carries them. */
export function refuseUnsupportedServiceMembers(input: Json, operation: string): void {
  const refuse = (member: string, why: string) => {
    throw unsupported(`${operation}: ${member} is not supported by Wharf: ${why}`);
  };
  if (nonEmptyList(input.capacityProviderStrategy)) {
    refuse(
      'capacityProviderStrategy',
      'there are no capacity providers; services run on the container instances registered in the cluster.',
    );
  }
  if (given(input.platformVersion) && input.platformVersion !== '') {
    refuse('platformVersion', 'it applies to Fargate only.');
  }
  if (given(input.networkConfiguration)) {
    refuse(
      'networkConfiguration',
      'the awsvpc network mode is not available; tasks use bridge or host networking.',
    );
  }
  if (nonEmptyList(input.serviceRegistries)) {
    refuse('serviceRegistries', 'there is no Cloud Map service discovery.');
  }
  const connect = input.serviceConnectConfiguration as { enabled?: boolean } | undefined;
  if (given(connect) && connect!.enabled !== false) {
    refuse('serviceConnectConfiguration', 'there is no Service Connect.');
  }
  if (nonEmptyList(input.volumeConfigurations)) {
    refuse('volumeConfigurations', 'there are no managed EBS volumes.');
  }
  if (input.enableExecuteCommand === true) {
    refuse('enableExecuteCommand', 'there is no ECS Exec; use docker exec on the host.');
  }
  const propagate = str(input.propagateTags);
  if (propagate && propagate !== 'NONE') {
    refuse(
      `propagateTags ${propagate}`,
      'tags are not copied onto the tasks of the service; only NONE is accepted.',
    );
  }
  const controller = input.deploymentController as { type?: string } | undefined;
  if (given(controller) && controller!.type !== 'ECS') {
    refuse(
      `deploymentController ${str(controller!.type)}`,
      'services are deployed by the rolling update of Wharf (type ECS) only.',
    );
  }
  if (given(input.role) && input.role !== '') {
    refuse('role', 'there is no IAM; the load balancer is configured without a service role.');
  }
}

/** A present member as JSON (an empty list too: on UpdateService it clears the member). */
const json = (v: unknown): string | undefined => (given(v) ? JSON.stringify(v) : undefined);
const int = (v: unknown): number | undefined => (given(v) ? (v as number) : undefined);
const cluster = (input: Json): string => str(input.cluster) || 'default';

/** ECS: "Up to 36 ASCII characters in the range of 33-126 (inclusive) are allowed." */
export const SERVICE_CLIENT_TOKEN_PATTERN = /^[\x21-\x7e]{1,36}$/;

function serviceClientToken(value: unknown): string {
  const token = str(value);
  if (token && !SERVICE_CLIENT_TOKEN_PATTERN.test(token)) {
    throw invalidParameter(
      'clientToken must have up to 36 characters, each in the range 33-126 (printable ASCII, no spaces).',
    );
  }
  return token;
}

export function createServiceRequest(input: Json): stateV1.CreateServiceRequest {
  refuseUnsupportedServiceMembers(input, 'CreateService');
  return {
    cluster: cluster(input),
    serviceName: str(input.serviceName),
    taskDefinition: str(input.taskDefinition),
    desiredCount: int(input.desiredCount),
    schedulingStrategy: str(input.schedulingStrategy),
    launchType: str(input.launchType),
    deploymentConfigurationJson: json(input.deploymentConfiguration) ?? '',
    placementConstraintsJson: json(input.placementConstraints) ?? '',
    placementStrategyJson: json(input.placementStrategy) ?? '',
    loadBalancersJson: json(input.loadBalancers) ?? '',
    tagsJson: json(input.tags) ?? '',
    healthCheckGracePeriodSeconds: int(input.healthCheckGracePeriodSeconds),
    clientToken: serviceClientToken(input.clientToken),
  };
}

export function updateServiceRequest(input: Json): stateV1.UpdateServiceRequest {
  refuseUnsupportedServiceMembers(input, 'UpdateService');
  return {
    cluster: cluster(input),
    service: str(input.service),
    desiredCount: int(input.desiredCount),
    taskDefinition: given(input.taskDefinition) ? str(input.taskDefinition) : undefined,
    forceNewDeployment: input.forceNewDeployment === true,
    deploymentConfigurationJson: json(input.deploymentConfiguration),
    placementConstraintsJson: json(input.placementConstraints),
    placementStrategyJson: json(input.placementStrategy),
    loadBalancersJson: json(input.loadBalancers),
    healthCheckGracePeriodSeconds: int(input.healthCheckGracePeriodSeconds),
  };
}

/** ECS answers CreateService with the tags it was given; the other writes leave them out. */
export const createService: OperationHandler = async (input, { state }) => {
  const service = await call('state', state.createService(createServiceRequest(input)));
  return { service: toEcsService(service, { includeTags: true }) };
};

export const updateService: OperationHandler = async (input, { state }) => {
  const service = await call('state', state.updateService(updateServiceRequest(input)));
  return { service: toEcsService(service) };
};

export const deleteService: OperationHandler = async (input, { state }) => {
  const service = await call(
    'state',
    state.deleteService({
      cluster: cluster(input),
      service: str(input.service),
      force: input.force === true,
    }),
  );
  return { service: toEcsService(service) };
};

export const describeServices: OperationHandler = async (input, { state }) => {
  const requested = input.services as string[];
  checkListSize('services', requested, 10);
  const includeTags = ((input.include as string[] | undefined) ?? []).includes('TAGS');
  const res = await call(
    'state',
    state.describeServices({ cluster: cluster(input), services: requested }),
  );
  return {
    services: res.services.map((s) => toEcsService(s, { includeTags })),
    failures: res.failures.map(toEcsFailure),
  };
};

export const listServices: OperationHandler = async (input, { state }) => {
  const res = await call(
    'state',
    state.listServices({
      cluster: cluster(input),
      launchType: str(input.launchType),
      schedulingStrategy: str(input.schedulingStrategy),
      maxResults: checkMaxResults(input.maxResults),
      nextToken: str(input.nextToken),
    }),
  );
  return {
    serviceArns: res.serviceArns,
    ...(res.nextToken ? { nextToken: res.nextToken } : {}),
  };
};
