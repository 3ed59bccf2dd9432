import { toEcsContainerInstance, toEcsFailure } from '../protocol/shapes';
import { EcsApiError } from '../protocol/ecs-errors';
import { call, checkListSize, checkMaxResults, OperationHandler, str } from './operation-context';

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
  return {
    containerInstances: res.containerInstances.map(toEcsContainerInstance),
    failures: res.failures.map(toEcsFailure),
  };
};
