import { validateTagKeys, validateTagList } from '@wharf/domain';
import { parseJson, EcsTag } from '../protocol/shapes';
import { call, OperationHandler, str } from './operation-context';

/*
 * TagResource, UntagResource and ListTagsForResource on clusters, services, task definitions,
 * tasks and container instances (by ARN). The tags are checked here as ECS checks them
 * (InvalidParameterException naming the member) before state is called; state checks them
 * again, finds the resource (ClusterNotFoundException, ResourceNotFoundException) and keeps
 * at most 50 on it.
 */

export const tagResource: OperationHandler = async (input, { state }) => {
  const tags = validateTagList(input.tags, 'tags');
  await call(
    'state',
    state.tagResource({ resourceArn: str(input.resourceArn), tagsJson: JSON.stringify(tags) }),
  );
  return {};
};

export const untagResource: OperationHandler = async (input, { state }) => {
  const tagKeys = validateTagKeys(input.tagKeys, 'tagKeys');
  await call('state', state.untagResource({ resourceArn: str(input.resourceArn), tagKeys }));
  return {};
};

export const listTagsForResource: OperationHandler = async (input, { state }) => {
  const res = await call(
    'state',
    state.listTagsForResource({ resourceArn: str(input.resourceArn) }),
  );
  return { tags: parseJson<EcsTag[]>(res.tagsJson, []) };
};
