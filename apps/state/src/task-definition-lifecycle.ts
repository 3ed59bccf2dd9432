import { InvalidParameterError, parseTaskDefinitionRef } from '@wharf/domain';
import type { common } from '@wharf/proto';
import type { DomainEvent } from './outbox.repository';

/**
 * Task definitions have no version column; their lifecycle only moves forward (ACTIVE →
 * INACTIVE → DELETE_IN_PROGRESS → removed), so its step is the version their events carry.
 */
export const TASK_DEFINITION_LIFECYCLE_VERSION = {
  INACTIVE: 2,
  DELETE_IN_PROGRESS: 3,
  removed: 4,
} as const;

/** `family:revision` or an ARN with a revision; a family alone names no single revision. */
export function revisionRef(ref: string, member: string): { family: string; revision: number } {
  const parsed = parseTaskDefinitionRef(ref);
  if (parsed && parsed.revision === undefined) {
    throw new InvalidParameterError(
      `${member} must name a revision (family:revision or a full ARN); got '${ref}'.`,
    );
  }
  // An unparseable reference names nothing: the caller answers as for an unknown revision.
  return parsed
    ? { family: parsed.family, revision: parsed.revision! }
    : { family: '', revision: 0 };
}

/** Events about task definitions ride on `default`: task definitions are account-wide. */
export function taskDefinitionEvent(
  event: 'deregistered' | 'deleting' | 'deleted',
  td: common.TaskDefinition,
): DomainEvent {
  return {
    cluster: 'default',
    entity: 'task_definition',
    event,
    resourceArn: td.taskDefinitionArn,
    version:
      event === 'deregistered'
        ? TASK_DEFINITION_LIFECYCLE_VERSION.INACTIVE
        : event === 'deleting'
          ? TASK_DEFINITION_LIFECYCLE_VERSION.DELETE_IN_PROGRESS
          : TASK_DEFINITION_LIFECYCLE_VERSION.removed,
    detail: td,
  };
}

export const TASK_DEFINITION_DOES_NOT_EXIST = 'The specified task definition does not exist.';
