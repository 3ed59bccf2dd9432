import { arns, clusterNameOf, validateTagList, validateTaskOverride } from '@wharf/domain';
import { EcsApiError } from '../protocol/ecs-errors';
import { toEcsFailure, toEcsTask } from '../protocol/shapes';
import {
  call,
  checkListSize,
  checkMaxResults,
  invalidParameter,
  Json,
  OperationHandler,
  str,
} from './operation-context';
import {
  listJson,
  overridesJson,
  validateClientToken,
  validateStartedBy,
} from './launch-validation';

export const runTask: OperationHandler = async (input, { scheduler }) => {
  const count = input.count === undefined ? 1 : (input.count as number);
  if (count < 1 || count > 10) throw invalidParameter('count must be between 1 and 10.');
  const launchType = str(input.launchType);
  if (launchType && launchType !== 'EC2') {
    throw new EcsApiError(
      'UnsupportedFeatureException',
      `launchType ${launchType} is not supported; Wharf runs tasks on EC2-style container instances.`,
    );
  }
  const capacity = input.capacityProviderStrategy;
  if (Array.isArray(capacity) && capacity.length > 0) {
    throw new EcsApiError(
      'UnsupportedFeatureException',
      'RunTask capacityProviderStrategy is not supported yet.',
    );
  }
  const launch = launchFields(input);
  const clientToken = validateClientToken(str(input.clientToken));
  const res = await call(
    'scheduler',
    scheduler.runTask({
      cluster: str(input.cluster),
      taskDefinition: str(input.taskDefinition),
      count,
      ...launch,
      launchType: launchType || 'EC2',
      placementConstraintsJson: listJson(input.placementConstraints),
      placementStrategyJson: listJson(input.placementStrategy),
      clientToken,
    }),
  );
  if (res.clientTokenConflict) {
    throw new EcsApiError(
      'ConflictException',
      `The clientToken ${clientToken} is already in use with a different RunTask request.`,
      400,
      { resourceIds: res.conflictingTaskArns },
    );
  }
  return {
    tasks: res.tasks.map((t) => toEcsTask(t, { includeTags: true })),
    failures: res.failures.map(toEcsFailure),
  };
};

export const startTask: OperationHandler = async (input, { scheduler }) => {
  const containerInstances = input.containerInstances as string[];
  checkListSize('containerInstances', containerInstances, 10);
  const res = await call(
    'scheduler',
    scheduler.startTask({
      cluster: str(input.cluster),
      taskDefinition: str(input.taskDefinition),
      containerInstances,
      ...launchFields(input),
    }),
  );
  return {
    tasks: res.tasks.map((t) => toEcsTask(t, { includeTags: true })),
    failures: res.failures.map(toEcsFailure),
  };
};

/** The members RunTask and StartTask share, checked as ECS checks them. */
function launchFields(input: Json): {
  group: string;
  startedBy: string;
  overridesJson: string;
  tagsJson: string;
} {
  const overrides = validateTaskOverride(input.overrides);
  const tags = validateTagList(input.tags, 'tags');
  overridesJson(input.overrides); // the size limit applies to what the caller sent
  return {
    group: str(input.group),
    startedBy: validateStartedBy(str(input.startedBy)),
    overridesJson: input.overrides === undefined ? '' : overridesJson(overrides),
    tagsJson: tags.length ? JSON.stringify(tags) : '',
  };
}

export const stopTask: OperationHandler = async (input, { scheduler }) => {
  const res = await call(
    'scheduler',
    scheduler.stopTask({
      cluster: str(input.cluster),
      task: str(input.task),
      reason: str(input.reason),
    }),
  );
  if (!res.task) throw new EcsApiError('ServerException', 'The scheduler returned no task.');
  return { task: toEcsTask(res.task) };
};

export const describeTasks: OperationHandler = async (input, { state, arnContext }) => {
  const requested = input.tasks as string[];
  checkListSize('tasks', requested, 100);
  const clusterName = clusterNameOf(str(input.cluster));
  const clusterArn = arns.cluster(arnContext, clusterName);
  const res = await call('state', state.describeTasks({ cluster: clusterName, tasks: requested }));
  const includeTags = ((input.include as string[] | undefined) ?? []).includes('TAGS');
  // A task of another cluster is MISSING from this one, whatever state returned.
  const inCluster = res.tasks.filter((t) => t.clusterArn === clusterArn);
  const elsewhere = res.tasks.filter((t) => t.clusterArn !== clusterArn);
  const failures = [
    ...res.failures.map(toEcsFailure),
    ...elsewhere.map((t) => ({
      arn: requested.find((r) => r === t.taskArn || t.taskArn.endsWith(`/${r}`)) ?? t.taskArn,
      reason: 'MISSING',
    })),
  ];
  return { tasks: inCluster.map((t) => toEcsTask(t, { includeTags })), failures };
};

export const listTasks: OperationHandler = async (input, { state }) => {
  const res = await call(
    'state',
    state.listTasks({
      cluster: str(input.cluster),
      containerInstance: str(input.containerInstance),
      family: str(input.family),
      startedBy: str(input.startedBy),
      serviceName: str(input.serviceName),
      // ECS lists tasks whose desired status is RUNNING unless another is asked for.
      desiredStatus: str(input.desiredStatus) || 'RUNNING',
      maxResults: checkMaxResults(input.maxResults),
      nextToken: str(input.nextToken),
    }),
  );
  return { taskArns: res.taskArns, ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
};
