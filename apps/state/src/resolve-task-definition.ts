import type { Pool, PoolClient } from 'pg';
import { ClientError, parseTaskDefinitionRef, TaskDefinitionNotFoundError } from '@wharf/domain';
import type { TaskDefinitionRepository } from './task-definition.repository';

/**
 * A task definition reference (family, family:revision or ARN) → the ARN of the revision it
 * means: a family alone is its latest ACTIVE revision. Unknown → the same ClientException as
 * DescribeTaskDefinition; an explicitly named INACTIVE revision is refused, as ECS does.
 */
export async function resolveTaskDefinitionArn(
  q: Pool | PoolClient,
  taskDefinitions: TaskDefinitionRepository,
  ref: string,
): Promise<string> {
  const parsed = parseTaskDefinitionRef(ref);
  if (!parsed) throw new TaskDefinitionNotFoundError();
  const td =
    parsed.revision === undefined
      ? await taskDefinitions.findLatestActive(q, parsed.family)
      : await taskDefinitions.find(q, parsed.family, parsed.revision);
  if (!td) throw new TaskDefinitionNotFoundError();
  if (td.status !== 'ACTIVE') throw new ClientError('TaskDefinition is inactive');
  return td.taskDefinitionArn;
}
