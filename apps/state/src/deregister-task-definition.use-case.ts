import { TaskDefinitionNotFoundError } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';
import type { TaskDefinitionRepository } from './task-definition.repository';
import {
  revisionRef,
  TASK_DEFINITION_DOES_NOT_EXIST,
  taskDefinitionEvent,
} from './task-definition-lifecycle';

/**
 * ECS DeregisterTaskDefinition: an ACTIVE revision becomes INACTIVE (deregisteredAt set).
 * Tasks and services that use it keep it; new tasks, services and service updates refuse it
 * (resolveTaskDefinitionArn). Deregistering one that is already INACTIVE or being deleted
 * returns it unchanged.
 */
export class DeregisterTaskDefinitionUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly taskDefinitions: TaskDefinitionRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.DeregisterTaskDefinitionRequest): Promise<common.TaskDefinition> {
    const { family, revision } = revisionRef(req.taskDefinition, 'taskDefinition');
    return inTransaction(this.ctx.pool, async (tx) => {
      const found = family ? await this.taskDefinitions.lock(tx, family, revision) : undefined;
      if (!found) throw new TaskDefinitionNotFoundError(TASK_DEFINITION_DOES_NOT_EXIST);
      if (found.status !== 'ACTIVE') return found;
      const td = await this.taskDefinitions.deregister(tx, family, revision);
      await this.outbox.append(tx, taskDefinitionEvent('deregistered', td));
      return td;
    });
  }
}
