import { EcsApiError } from './ecs-errors';

export const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';
export const AMZ_JSON_1_1 = 'application/x-amz-json-1.1';

/** `AmazonEC2ContainerServiceV20141113.RunTask` → `RunTask`. */
export function parseTarget(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) {
    throw new EcsApiError(
      'UnknownOperationException',
      `Missing X-Amz-Target header; expected ${ECS_TARGET_PREFIX}.<Operation>`,
    );
  }
  const dot = value.lastIndexOf('.');
  const service = value.slice(0, dot);
  const operation = value.slice(dot + 1);
  if (dot < 0 || service !== ECS_TARGET_PREFIX || !/^[A-Za-z]+$/.test(operation)) {
    throw new EcsApiError(
      'UnknownOperationException',
      `Invalid X-Amz-Target header; expected ${ECS_TARGET_PREFIX}.<Operation>`,
    );
  }
  return operation;
}

/**
 * How deeply a request body may nest. The ECS model's inputs nest a few levels; far deeper
 * JSON (in members the model does not know) would only overflow the stack of whatever walks or
 * re-serialises it later (JSON.stringify of 10,000 levels throws a RangeError).
 */
export const MAX_JSON_DEPTH = 64;

/** Does `value` nest objects and arrays more than `max` levels deep? (No recursion.) */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as object)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** The request body: empty means `{}`; anything but a JSON object is a SerializationException. */
export function parseBody(raw: Buffer | string | undefined): Record<string, unknown> {
  const text = raw === undefined ? '' : raw.toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new EcsApiError('SerializationException', 'The request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EcsApiError('SerializationException', 'The request body must be a JSON object');
  }
  if (nestsDeeperThan(value, MAX_JSON_DEPTH)) {
    throw new EcsApiError(
      'SerializationException',
      `The request body nests more than ${MAX_JSON_DEPTH} levels deep`,
    );
  }
  return value as Record<string, unknown>;
}
