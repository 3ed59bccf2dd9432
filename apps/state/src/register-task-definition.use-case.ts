import {
  FAMILY_PATTERN,
  InvalidParameterError,
  requiredAttributesOf,
  TaskDefinition,
  TaskDefinitionInput,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';
import type { TaskDefinitionRepository } from './task-definition.repository';

/**
 * Stores the next revision of a family. The input was validated by the api (libs/domain);
 * this only guards what the storage itself relies on (a family and container definitions).
 */
export class RegisterTaskDefinitionUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly taskDefinitions: TaskDefinitionRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.RegisterTaskDefinitionRequest): Promise<common.TaskDefinition> {
    const input = parseInput(req.definitionJson);
    const { tags, ...fields } = input;
    return inTransaction(this.ctx.pool, async (tx) => {
      const revision = await this.taskDefinitions.nextRevision(tx, input.family);
      const registeredAt = new Date();
      const definition: TaskDefinition = {
        ...fields,
        taskDefinitionArn: this.taskDefinitions.arnOf(input.family, revision),
        revision,
        status: 'ACTIVE',
        compatibilities: ['EC2'],
        requiresAttributes: requiredAttributesOf(input),
        registeredAt: registeredAt.getTime() / 1000,
      };
      const td = await this.taskDefinitions.insert(
        tx,
        input.family,
        revision,
        definition,
        tags,
        registeredAt,
      );
      await this.outbox.append(tx, {
        cluster: 'default', // task definitions are account-wide; their events ride on `default`
        entity: 'task_definition',
        event: 'registered',
        resourceArn: td.taskDefinitionArn,
        version: revision,
        detail: td,
      });
      return td;
    });
  }
}

function parseInput(json: string): TaskDefinitionInput {
  let input: unknown;
  try {
    input = JSON.parse(json);
  } catch {
    throw new InvalidParameterError('definition_json is not valid JSON.');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidParameterError('definition_json must be a JSON object.');
  }
  const td = input as Partial<TaskDefinitionInput>;
  if (typeof td.family !== 'string' || !FAMILY_PATTERN.test(td.family)) {
    throw new InvalidParameterError(
      'Family must be 1-255 characters: letters, numbers, hyphens and underscores.',
    );
  }
  if (!Array.isArray(td.containerDefinitions) || td.containerDefinitions.length === 0) {
    throw new InvalidParameterError('Container list cannot be empty.');
  }
  return td as TaskDefinitionInput;
}
