/**
 * The part of the ECS Smithy model the api serves (generated into ecs-model.generated.ts by
 * apps/api/scripts/gen-ecs-model.js), and the checks derived from it: request members must
 * have the model's JSON types, required members must be there, enum members must hold one of
 * the enum's values.
 */
export type ShapeType =
  | 'structure'
  | 'list'
  | 'map'
  | 'enum'
  | 'string'
  | 'boolean'
  | 'integer'
  | 'long'
  | 'double'
  | 'timestamp'
  | 'Unit'
  | string;

export interface ShapeEntry {
  type: ShapeType;
  members?: Record<string, string>;
  required?: string[];
  member?: string;
  key?: string;
  value?: string;
  values?: string[];
}

export interface EcsModel {
  operations: Record<string, { input: string; output: string }>;
  shapes: Record<string, ShapeEntry>;
}

/** Smithy prelude shapes that the ECS model targets directly. */
const PRELUDE: Record<string, ShapeEntry> = {
  String: { type: 'string' },
  Boolean: { type: 'boolean' },
  PrimitiveBoolean: { type: 'boolean' },
  Integer: { type: 'integer' },
  PrimitiveInteger: { type: 'integer' },
  Long: { type: 'long' },
  PrimitiveLong: { type: 'long' },
  Double: { type: 'double' },
  Timestamp: { type: 'timestamp' },
  Unit: { type: 'Unit' },
};

export function shapeOf(model: EcsModel, name: string): ShapeEntry {
  const shape = model.shapes[name] ?? PRELUDE[name];
  if (!shape) throw new Error(`shape ${name} is not in the ECS model table`);
  return shape;
}

export interface ModelViolation {
  kind: 'type' | 'required' | 'enum' | 'unknown';
  path: string;
  message: string;
}

const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

const EXPECTED: Record<string, string> = {
  structure: 'a structure (JSON object)',
  map: 'a map (JSON object)',
  list: 'a list (JSON array)',
  string: 'a string',
  enum: 'a string',
  boolean: 'a boolean',
  integer: 'an integer',
  long: 'an integer',
  double: 'a number',
  timestamp: 'a timestamp (epoch seconds)',
};

const INTEGER_RANGE: Record<string, [number, number]> = {
  integer: [-(2 ** 31), 2 ** 31 - 1],
  // JSON numbers past 2^53 are not exact; a long must at least fit in 64 bits.
  long: [-(2 ** 63), 2 ** 63 - 1],
};

/**
 * The first place where `value` does not match `shapeName`, or undefined. Members that the
 * model does not know are ignored, as AWS services do, unless `strict`; a null member counts as absent, a null list item or map value is refused (no ECS list or map is sparse).
 */
export function findViolation(
  model: EcsModel,
  shapeName: string,
  value: unknown,
  path: string,
  opts: { strict?: boolean } = {},
): ModelViolation | undefined {
  const shape = shapeOf(model, shapeName);
  const typeError = (): ModelViolation => ({
    kind: 'type',
    path,
    message: `${path} must be ${EXPECTED[shape.type] ?? shape.type}, not ${jsonType(value)}`,
  });
  switch (shape.type) {
    case 'structure': {
      if (jsonType(value) !== 'object') return typeError();
      const obj = value as Record<string, unknown>;
      for (const req of shape.required ?? []) {
        if (obj[req] === undefined || obj[req] === null) {
          const at = path ? `${path}.${req}` : req;
          return { kind: 'required', path: at, message: `${at} is required` };
        }
      }
      if (opts.strict) {
        // Responses: every member must be one the model knows (tests use this).
        const unknown = Object.keys(obj).find((k) => !(k in (shape.members ?? {})));
        if (unknown) {
          const at = path ? `${path}.${unknown}` : unknown;
          return { kind: 'unknown', path: at, message: `${at} is not a member of ${shapeName}` };
        }
      }
      for (const [member, target] of Object.entries(shape.members ?? {})) {
        const v = obj[member];
        if (v === undefined || v === null) continue;
        const found = findViolation(model, target, v, path ? `${path}.${member}` : member, opts);
        if (found) return found;
      }
      return undefined;
    }
    case 'list': {
      if (!Array.isArray(value)) return typeError();
      for (let i = 0; i < value.length; i++) {
        // No ECS list is @sparse: a null item is not "absent", it is a value of the wrong type.
        if (value[i] === null) {
          return { kind: 'type', path: `${path}[${i}]`, message: `${path}[${i}] must not be null` };
        }
        const found = findViolation(model, shape.member!, value[i], `${path}[${i}]`, opts);
        if (found) return found;
      }
      return undefined;
    }
    case 'map': {
      if (jsonType(value) !== 'object') return typeError();
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v === null) {
          return { kind: 'type', path: `${path}.${k}`, message: `${path}.${k} must not be null` };
        }
        const found = findViolation(model, shape.value!, v, `${path}.${k}`, opts);
        if (found) return found;
      }
      return undefined;
    }
    case 'enum':
      if (typeof value !== 'string') return typeError();
      if (!shape.values!.includes(value)) {
        return {
          kind: 'enum',
          path,
          message: `1 validation error detected: Value '${value}' at '${path}' failed to satisfy constraint: Member must satisfy enum value set: [${shape.values!.join(', ')}]`,
        };
      }
      return undefined;
    case 'string':
      return typeof value === 'string' ? undefined : typeError();
    case 'boolean':
      return typeof value === 'boolean' ? undefined : typeError();
    case 'integer':
    case 'long': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return typeError();
      // Smithy's Integer is 32-bit and Long 64-bit: a larger number is not one of them (and
      // an int32 proto field would silently wrap it: 4294967297 became 1).
      const [min, max] = INTEGER_RANGE[shape.type];
      if (value < min || value > max) {
        return {
          kind: 'type',
          path,
          message: `${path} must be an integer from ${min} to ${max}, not ${value}`,
        };
      }
      return undefined;
    }
    case 'double':
    case 'timestamp':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : typeError();
    default:
      return undefined;
  }
}
