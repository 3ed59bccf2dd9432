import { validateTagList, validateTaskDefinition } from '@wharf/domain';
import { toEcsFailure, toEcsTaskDefinition } from '../protocol/shapes';
import { call, checkListSize, checkMaxResults, OperationHandler, str } from './operation-context';

export const registerTaskDefinition: OperationHandler = async (input, { state }) => {
  const definition = validateTaskDefinition(input);
  // The rules TagResource applies later to these same tags.
  validateTagList(input.tags, 'tags');
  const registered = await call(
    'state',
    state.registerTaskDefinition({ definitionJson: JSON.stringify(definition) }),
  );
  const { taskDefinition, tags } = toEcsTaskDefinition(registered);
  return { taskDefinition, tags };
};

export const describeTaskDefinition: OperationHandler = async (input, { state }) => {
  const found = await call(
    'state',
    state.describeTaskDefinition({ taskDefinition: str(input.taskDefinition) }),
  );
  const { taskDefinition, tags } = toEcsTaskDefinition(found);
  const include = (input.include as string[] | undefined) ?? [];
  return include.includes('TAGS') ? { taskDefinition, tags } : { taskDefinition };
};

/** ACTIVE → INACTIVE; a revision is required (state refuses a family alone). */
export const deregisterTaskDefinition: OperationHandler = async (input, { state }) => {
  const td = await call(
    'state',
    state.deregisterTaskDefinition({ taskDefinition: str(input.taskDefinition) }),
  );
  return { taskDefinition: toEcsTaskDefinition(td).taskDefinition };
};

/** 1 to 10 revisions; each INACTIVE one answers DELETE_IN_PROGRESS, the rest are failures. */
export const deleteTaskDefinitions: OperationHandler = async (input, { state }) => {
  const requested = input.taskDefinitions as string[];
  checkListSize('taskDefinitions', requested, 10);
  const res = await call('state', state.deleteTaskDefinitions({ taskDefinitions: requested }));
  return {
    taskDefinitions: res.taskDefinitions.map((td) => toEcsTaskDefinition(td).taskDefinition),
    failures: res.failures.map(toEcsFailure),
  };
};

export const listTaskDefinitions: OperationHandler = async (input, { state }) => {
  const res = await call(
    'state',
    state.listTaskDefinitions({
      familyPrefix: str(input.familyPrefix),
      status: str(input.status),
      sort: str(input.sort),
      maxResults: checkMaxResults(input.maxResults),
      nextToken: str(input.nextToken),
    }),
  );
  return {
    taskDefinitionArns: res.taskDefinitionArns,
    ...(res.nextToken ? { nextToken: res.nextToken } : {}),
  };
};

export const listTaskDefinitionFamilies: OperationHandler = async (input, { state }) => {
  const res = await call(
    'state',
    state.listTaskDefinitionFamilies({
      familyPrefix: str(input.familyPrefix),
      status: str(input.status),
      maxResults: checkMaxResults(input.maxResults),
      nextToken: str(input.nextToken),
    }),
  );
  return { families: res.families, ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
};
