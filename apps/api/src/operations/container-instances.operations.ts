import { toEcsContainerInstance, toEcsFailure } from '../protocol/shapes';
import { EcsApiError } from '../protocol/ecs-errors';
import {
  call,
  checkListSize,
  checkMaxResults,
  invalidParameter,
  OperationHandler,
  str,
} from './operation-context';

/** The statuses UpdateContainerInstancesState may set (the model's enum has more). */
const SETTABLE_STATUSES = ['ACTIVE', 'DRAINING'];

export const listContainerInstances: OperationHandler = async (input, { state }) => {
  if (input.filter !== undefined) {
    throw new EcsApiError(
      'UnsupportedFeatureException',
      'ListContainerInstances filter (cluster query language) is not supported yet.',
    );
  }
  const res = await call(
    'state',
    state.listContainerInstances({
      cluster: str(input.cluster),
      status: str(input.status),
      maxResults: checkMaxResults(input.maxResults),
      nextToken: str(input.nextToken),
    }),
  );
  return {
    containerInstanceArns: res.containerInstanceArns,
    ...(res.nextToken ? { nextToken: res.nextToken } : {}),
  };
};

export const describeContainerInstances: OperationHandler = async (input, { state }) => {
  const requested = input.containerInstances as string[];
  checkListSize('containerInstances', requested, 100);
  const res = await call(
    'state',
    state.describeContainerInstances({
      cluster: str(input.cluster),
      containerInstances: requested,
    }),
  );
  const includeTags = ((input.include as string[] | undefined) ?? []).includes('TAGS');
  return {
    containerInstances: res.containerInstances.map((i) =>
      toEcsContainerInstance(i, { includeTags }),
    ),
    failures: res.failures.map(toEcsFailure),
  };
};

/**
 * Sets ACTIVE or DRAINING on up to 10 instances. The model's enum lets REGISTERING,
 * DEREGISTERING and REGISTRATION_FAILED through; ECS refuses them, and so does this. Instances
 * not found, or in a status that cannot change, come back as `failures`, not as an error.
 */
export const updateContainerInstancesState: OperationHandler = async (input, { state }) => {
  const status = input.status as string;
  if (!SETTABLE_STATUSES.includes(status)) {
    throw invalidParameter(
      `status must be one of [${SETTABLE_STATUSES.join(', ')}]; got '${status}'.`,
    );
  }
  const requested = input.containerInstances as string[];
  checkListSize('containerInstances', requested, 10);
  const res = await call(
    'state',
    state.updateContainerInstancesState({
      cluster: str(input.cluster),
      containerInstances: requested,
      status,
    }),
  );
  return {
    containerInstances: res.containerInstances.map((i) => toEcsContainerInstance(i)),
    failures: res.failures.map(toEcsFailure),
  };
};

/**
 * ECS DeregisterContainerInstance. State refuses an instance with tasks not STOPPED unless
 * `force` ("Found running tasks on the instance."); with force, service tasks are recorded
 * STOPPED (the service scheduler replaces them) and standalone ones are orphaned. The
 * instance answers INACTIVE.
 */
export const deregisterContainerInstance: OperationHandler = async (input, { state }) => {
  const res = await call(
    'state',
    state.deregisterContainerInstance({
      cluster: str(input.cluster),
      containerInstance: str(input.containerInstance),
      force: input.force === true,
    }),
  );
  return { containerInstance: toEcsContainerInstance(res.containerInstance!) };
};
