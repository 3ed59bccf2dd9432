import { arns, clusterNameOf, validateTaskOverride } from '@wharf/domain';
import { EcsApiError } from '../protocol/ecs-errors';
import { toEcsFailure, toEcsTask } from '../protocol/shapes';
import {
  call,
  checkListSize,
  checkMaxResults,
  invalidParameter,
  OperationHandler,
  str,
} from './operation-context';

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
  for (const unsupported of [
    'capacityProviderStrategy',
    'placementConstraints',
    'placementStrategy',
  ]) {
    const v = input[unsupported];
    if (Array.isArray(v) && v.length > 0) {
      throw new EcsApiError(
        'UnsupportedFeatureException',
        `RunTask ${unsupported} is not supported yet.`,
      );
    }
  }
  const overrides = validateTaskOverride(input.overrides);
  const res = await call(
    'scheduler',
    scheduler.runTask({
      cluster: str(input.cluster),
      taskDefinition: str(input.taskDefinition),
      count,
      group: str(input.group),
      startedBy: str(input.startedBy),
      overridesJson: input.overrides === undefined ? '' : JSON.stringify(overrides),
      tagsJson: input.tags ? JSON.stringify(input.tags) : '',
      launchType: launchType || 'EC2',
    }),
  );
  return {
    tasks: res.tasks.map((t) => toEcsTask(t, { includeTags: true })),
    failures: res.failures.map(toEcsFailure),
  };
};

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
      desiredStatus: str(input.desiredStatus),
      maxResults: checkMaxResults(input.maxResults),
      nextToken: str(input.nextToken),
    }),
  );
  return { taskArns: res.taskArns, ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
};
