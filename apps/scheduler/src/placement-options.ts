import {
  CompiledPlacementOptions,
  compilePlacementOptions,
  InvalidParameterError,
  PlacementConstraintInput,
  PlacementStrategyInput,
  TaskDefinitionInput,
} from '@wharf/domain';

/**
 * RunTask's `placementConstraints` / `placementStrategy` as the api passes them (JSON, '' for
 * none) with the task definition's constraints, compiled once per request by
 * `compilePlacementOptions` (which checks types, fields, counts and parses each expression,
 * saying where it fails). An empty strategy means RunTask's default, random.
 */
export function compileRequestOptions(input: {
  constraintsJson?: string;
  strategyJson?: string;
  definition: TaskDefinitionInput;
}): CompiledPlacementOptions {
  return compilePlacementOptions({
    taskDefinitionConstraints: input.definition.placementConstraints ?? [],
    constraints: parseList(input.constraintsJson, 'placementConstraints', ['type', 'expression']),
    strategy: parseList(input.strategyJson, 'placementStrategy', ['type', 'field']),
  });
}

function parseList(
  json: string | undefined,
  name: string,
  fields: string[],
): (PlacementConstraintInput & PlacementStrategyInput)[] {
  if (!json) return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new InvalidParameterError(`${name} is not valid JSON.`);
  }
  if (!Array.isArray(value)) throw new InvalidParameterError(`${name} must be a list.`);
  return value.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new InvalidParameterError(`${name}[${i}] must be an object.`);
    }
    const record = item as Record<string, unknown>;
    for (const f of fields) {
      if (record[f] !== undefined && typeof record[f] !== 'string') {
        throw new InvalidParameterError(`${name}[${i}].${f} must be a string.`);
      }
    }
    return record as PlacementConstraintInput & PlacementStrategyInput;
  });
}
