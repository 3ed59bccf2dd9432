import { validateTaskDefinition } from '@wharf/domain';
import { toEcsTaskDefinition } from '../protocol/shapes';
import { call, OperationHandler, str } from './operation-context';

export const registerTaskDefinition: OperationHandler = async (input, { state }) => {
  const definition = validateTaskDefinition(input);
  const registered = await call(
    'state',
    state.registerTaskDefinition({ definitionJson: JSON.stringify(definition) }),
  );
  const { taskDefinition, tags } = toEcsTaskDefinition(registered);
  return { taskDefinition, tags: tags.length ? tags : (definition.tags ?? []) };
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
