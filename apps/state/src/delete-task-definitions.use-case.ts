import { InvalidParameterError } from '@wharf/domain';
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

const MAX_PER_REQUEST = 10;

/**
 * ECS DeleteTaskDefinitions: each INACTIVE revision becomes DELETE_IN_PROGRESS and is
 * answered so. One that no live task or service uses is removed in the same transaction;
 * the others stay DELETE_IN_PROGRESS until SweepDeletedTaskDefinitionsUseCase finds them
 * unused. A revision already DELETE_IN_PROGRESS is answered as it is; an ACTIVE or unknown
 * one is a failure. The family keeps its revision counter: a new registration continues it.
 */
export class DeleteTaskDefinitionsUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly taskDefinitions: TaskDefinitionRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(
    req: stateV1.DeleteTaskDefinitionsRequest,
  ): Promise<stateV1.DeleteTaskDefinitionsResponse> {
    if (req.taskDefinitions.length === 0 || req.taskDefinitions.length > MAX_PER_REQUEST) {
      throw new InvalidParameterError(
        `taskDefinitions must have 1 to ${MAX_PER_REQUEST} items; got ${req.taskDefinitions.length}.`,
      );
    }
    const refs = req.taskDefinitions.map((ref, i) => ({
      ref,
      ...revisionRef(ref, `taskDefinitions[${i}]`),
    }));
    return inTransaction(this.ctx.pool, async (tx) => {
      const taskDefinitions: common.TaskDefinition[] = [];
      const failures: common.Failure[] = [];
      const deleting: common.TaskDefinition[] = [];
      const seen = new Set<string>();
      // Locked in one order so concurrent deletes of overlapping lists cannot deadlock.
      const order = [...refs].sort((a, b) =>
        a.family === b.family ? a.revision - b.revision : a.family < b.family ? -1 : 1,
      );
      const found = new Map<string, common.TaskDefinition | undefined>();
      for (const r of order) {
        const key = `${r.family}:${r.revision}`;
        if (!found.has(key)) {
          found.set(
            key,
            r.family ? await this.taskDefinitions.lock(tx, r.family, r.revision) : undefined,
          );
        }
      }
      for (const r of refs) {
        const key = `${r.family}:${r.revision}`;
        const td = found.get(key);
        const arn = td?.taskDefinitionArn ?? r.ref;
        if (!td) {
          failures.push({ arn, reason: TASK_DEFINITION_DOES_NOT_EXIST, detail: '' });
        } else if (td.status === 'ACTIVE') {
          failures.push({
            arn,
            reason:
              'The specified task definition is still in ACTIVE status. Please deregister the target and try again.',
            detail: '',
          });
        } else if (!seen.has(key)) {
          seen.add(key);
          if (td.status === 'INACTIVE') {
            const marked = await this.taskDefinitions.markDeleteInProgress(
              tx,
              r.family,
              r.revision,
            );
            await this.outbox.append(tx, taskDefinitionEvent('deleting', marked));
            deleting.push(marked);
            taskDefinitions.push(marked);
          } else {
            taskDefinitions.push(td);
          }
        }
      }
      const used = await this.taskDefinitions.inUse(
        tx,
        deleting.map((td) => td.taskDefinitionArn),
      );
      for (const td of deleting) {
        if (used.has(td.taskDefinitionArn)) continue;
        await this.taskDefinitions.remove(tx, td.family, td.revision);
        await this.outbox.append(tx, taskDefinitionEvent('deleted', td));
      }
      return { taskDefinitions, failures };
    });
  }
}
