import {
  AttributeLimitExceededError,
  InvalidParameterError,
  parseArn,
  resourceIdOf,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';

/** The one target type ECS attributes have. */
export const CONTAINER_INSTANCE_TARGET = 'container-instance';
/** Custom attributes one resource may carry, and attributes one call may name (ECS). */
export const MAX_CUSTOM_ATTRIBUTES = 10;
export const MAX_ATTRIBUTES_PER_CALL = 10;

const NAME = /^[A-Za-z0-9_./\\-]{1,128}$/;
const VALUE = /^[A-Za-z0-9_.@/\\: -]{1,128}$/;

/**
 * Checks the attributes of a PutAttributes (`withValues`) or DeleteAttributes call and
 * resolves each target to a container instance id. Pure; the messages follow ECS's rules
 * for names (1–128 letters, numbers, `-_/\.`) and values (1–128 letters, numbers,
 * `-_.@/\:` and spaces, not at either end).
 */
export function checkTargetAttributes(
  attributes: stateV1.TargetAttribute[],
  opts: { withValues: boolean },
): { attribute: stateV1.TargetAttribute; instanceId: string }[] {
  if (attributes.length === 0) throw new InvalidParameterError('attributes cannot be empty.');
  if (attributes.length > MAX_ATTRIBUTES_PER_CALL) {
    throw new InvalidParameterError(
      `You can specify up to ${MAX_ATTRIBUTES_PER_CALL} attributes in a single call.`,
    );
  }
  return attributes.map((a) => {
    if (!NAME.test(a.name)) {
      throw new InvalidParameterError(
        `Attribute name "${a.name}" is invalid: it must contain 1 to 128 letters, numbers, hyphens, underscores, forward slashes, back slashes or periods.`,
      );
    }
    if (opts.withValues && a.value && (!VALUE.test(a.value) || a.value.trim() !== a.value)) {
      throw new InvalidParameterError(
        `Attribute value "${a.value}" of ${a.name} is invalid: it must contain 1 to 128 letters, numbers, hyphens, underscores, periods, at signs, forward slashes, back slashes, colons or spaces, and cannot start or end with a space.`,
      );
    }
    if (a.targetType && a.targetType !== CONTAINER_INSTANCE_TARGET) {
      throw new InvalidParameterError(`targetType ${a.targetType} is not supported.`);
    }
    if (!a.targetId) {
      throw new InvalidParameterError(`Attribute ${a.name} needs a targetId.`);
    }
    const arn = parseArn(a.targetId);
    if (!arn && a.targetType !== CONTAINER_INSTANCE_TARGET) {
      throw new InvalidParameterError(
        `Attribute ${a.name}: targetType is required when targetId is not an ARN.`,
      );
    }
    if (arn && arn.resourceType !== CONTAINER_INSTANCE_TARGET) {
      throw new InvalidParameterError(
        `Attribute ${a.name}: targetId ${a.targetId} is not a container instance ARN.`,
      );
    }
    return { attribute: a, instanceId: resourceIdOf(a.targetId, 'container-instance') };
  });
}

/** Sets (or replaces, by name) custom attributes; more than the limit is refused. */
export function putCustom(
  current: common.Attribute[],
  put: common.Attribute[],
  targetArn: string,
): common.Attribute[] {
  const byName = new Map(current.map((a) => [a.name, a]));
  for (const a of put) byName.set(a.name, { name: a.name, value: a.value });
  if (byName.size > MAX_CUSTOM_ATTRIBUTES) {
    throw new AttributeLimitExceededError(
      `You can apply up to ${MAX_CUSTOM_ATTRIBUTES} custom attributes for each resource; ${targetArn} would have ${byName.size}.`,
    );
  }
  return sortByName([...byName.values()]);
}

export function deleteCustom(current: common.Attribute[], names: string[]): common.Attribute[] {
  const drop = new Set(names);
  return current.filter((a) => !drop.has(a.name));
}

/**
 * What an instance shows: the agent's attributes with the custom ones laid over them by
 * name (agent order first, then new custom ones; a custom attribute set through the API wins over the agent's value of the same name).
 */
export function mergeAttributes(
  agent: common.Attribute[],
  custom: common.Attribute[],
): common.Attribute[] {
  const byName = new Map(agent.map((a) => [a.name, a]));
  for (const a of custom) byName.set(a.name, a);
  return [...byName.values()];
}

const sortByName = (xs: common.Attribute[]) =>
  xs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
