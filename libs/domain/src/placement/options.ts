import { InvalidParameterError } from '../errors';
import { ParsedQuery, parseQuery } from './query-language';

/** ECS: at most 10 constraints per task, task definition and request together. */
export const MAX_PLACEMENT_CONSTRAINTS = 10;
/** ECS: at most 5 strategy rules. */
export const MAX_PLACEMENT_STRATEGIES = 5;

/** A placement constraint as ECS takes it (RunTask, CreateService, task definition). */
export interface PlacementConstraintInput {
  type?: string;
  expression?: string;
}

/** A placement strategy rule as ECS takes it. */
export interface PlacementStrategyInput {
  type?: string;
  field?: string;
}

export type CompiledConstraint =
  | { type: 'distinctInstance' }
  | { type: 'memberOf'; query: ParsedQuery; source: 'taskDefinition' | 'request' };

export type CompiledStrategy =
  | { type: 'binpack'; field: 'cpu' | 'memory' }
  /** field 'instanceId' also stands for ECS's `host`, which has the same effect. */
  | { type: 'spread'; field: 'instanceId' }
  | { type: 'spread'; field: 'attribute'; attribute: string }
  | { type: 'random' };

export interface CompiledPlacementOptions {
  constraints: CompiledConstraint[];
  distinctInstance: boolean;
  memberOf: Extract<CompiledConstraint, { type: 'memberOf' }>[];
  strategies: CompiledStrategy[];
}

/** RunTask's default when no strategy is given. */
export const DEFAULT_RUN_TASK_STRATEGY: PlacementStrategyInput[] = [{ type: 'random' }];

/**
 * Validates and compiles constraints (task definition's and the request's, both apply) and
 * strategies. Throws InvalidParameterError for: more than 10 constraints in all, more than 5
 * strategies, an unknown type or field, memberOf without an expression, distinctInstance with
 * one, or an expression that does not parse (the message says where).
 * An empty or missing strategy list means `defaultStrategy` (RunTask: random).
 */
export function compilePlacementOptions(input: {
  taskDefinitionConstraints?: readonly PlacementConstraintInput[];
  constraints?: readonly PlacementConstraintInput[];
  strategy?: readonly PlacementStrategyInput[];
  defaultStrategy?: readonly PlacementStrategyInput[];
}): CompiledPlacementOptions {
  const fromTd = input.taskDefinitionConstraints ?? [];
  const fromRequest = input.constraints ?? [];
  if (fromTd.length + fromRequest.length > MAX_PLACEMENT_CONSTRAINTS) {
    throw new InvalidParameterError(
      `Too many placement constraints: ${fromTd.length + fromRequest.length} (the task definition's and the request's together); at most ${MAX_PLACEMENT_CONSTRAINTS}.`,
    );
  }
  const constraints: CompiledConstraint[] = [
    ...fromTd.map((c, i) => compileConstraint(c, 'taskDefinition', i)),
    ...fromRequest.map((c, i) => compileConstraint(c, 'request', i)),
  ];

  const rules =
    input.strategy && input.strategy.length > 0
      ? input.strategy
      : (input.defaultStrategy ?? DEFAULT_RUN_TASK_STRATEGY);
  if (rules.length > MAX_PLACEMENT_STRATEGIES) {
    throw new InvalidParameterError(
      `Too many placement strategy rules: ${rules.length}; at most ${MAX_PLACEMENT_STRATEGIES}.`,
    );
  }
  const strategies = rules.map(compileStrategy);
  const memberOf = constraints.filter(
    (c): c is Extract<CompiledConstraint, { type: 'memberOf' }> => c.type === 'memberOf',
  );
  return {
    constraints,
    distinctInstance: constraints.some((c) => c.type === 'distinctInstance'),
    memberOf,
    strategies,
  };
}

function compileConstraint(
  c: PlacementConstraintInput,
  source: 'taskDefinition' | 'request',
  index: number,
): CompiledConstraint {
  const where =
    source === 'taskDefinition' ? 'task definition placement constraint' : 'placement constraint';
  if (c.type === 'distinctInstance') {
    if (c.expression) {
      throw new InvalidParameterError(
        `${where} ${index + 1}: an expression cannot be given for a distinctInstance constraint.`,
      );
    }
    return { type: 'distinctInstance' };
  }
  if (c.type === 'memberOf') {
    if (!c.expression || !c.expression.trim()) {
      throw new InvalidParameterError(`${where} ${index + 1}: memberOf requires an expression.`);
    }
    return { type: 'memberOf', query: parseQuery(c.expression, 'memberOf expression'), source };
  }
  throw new InvalidParameterError(
    `${where} ${index + 1}: unknown type '${c.type ?? ''}'; expected memberOf or distinctInstance.`,
  );
}

function compileStrategy(s: PlacementStrategyInput, index: number): CompiledStrategy {
  const where = `placement strategy ${index + 1}`;
  const field = s.field ?? '';
  switch (s.type) {
    case 'random':
      return { type: 'random' };
    case 'binpack': {
      const f = field.toLowerCase();
      if (f === 'cpu' || f === 'memory') return { type: 'binpack', field: f };
      throw new InvalidParameterError(
        `${where}: binpack field must be cpu or memory, not '${field}'.`,
      );
    }
    case 'spread':
      if (field === 'instanceId' || field === 'host')
        return { type: 'spread', field: 'instanceId' };
      if (field.startsWith('attribute:') && field.length > 'attribute:'.length) {
        return { type: 'spread', field: 'attribute', attribute: field.slice('attribute:'.length) };
      }
      throw new InvalidParameterError(
        `${where}: spread field must be instanceId, host or attribute:<name>, not '${field}'.`,
      );
    default:
      throw new InvalidParameterError(
        `${where}: unknown type '${s.type ?? ''}'; expected random, spread or binpack.`,
      );
  }
}

/** How a compiled strategy reads in explanations: `binpack(memory)`, `spread(attribute:x)`. */
export function strategyLabel(s: CompiledStrategy): string {
  if (s.type === 'random') return 'random';
  if (s.type === 'binpack') return `binpack(${s.field})`;
  return s.field === 'instanceId' ? 'spread(instanceId)' : `spread(attribute:${s.attribute})`;
}
