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
  return value as Record<string, unknown>;
}
