import { invalidParameter } from './operation-context';

/** ECS: startedBy up to 128 characters; clientToken up to 64 in the range 33–126. */
export const MAX_STARTED_BY_LENGTH = 128;
export const CLIENT_TOKEN_PATTERN = /^[\x21-\x7e]{1,64}$/;
/** ECS: "A total of 8192 characters are allowed for overrides." */
export const MAX_OVERRIDES_LENGTH = 8192;

export function validateStartedBy(startedBy: string): string {
  if (startedBy.length > MAX_STARTED_BY_LENGTH) {
    throw invalidParameter(`startedBy can have at most ${MAX_STARTED_BY_LENGTH} characters.`);
  }
  return startedBy;
}

export function validateClientToken(token: string): string {
  if (token && !CLIENT_TOKEN_PATTERN.test(token)) {
    throw invalidParameter(
      'clientToken must have up to 64 characters, each in the range 33-126 (printable ASCII, no spaces).',
    );
  }
  return token;
}

/** The overrides as the scheduler takes them ('' when absent), within ECS's size limit. */
export function overridesJson(overrides: unknown): string {
  if (overrides === undefined || overrides === null) return '';
  const json = JSON.stringify(overrides);
  if (json.length > MAX_OVERRIDES_LENGTH) {
    throw invalidParameter(
      `overrides can have at most ${MAX_OVERRIDES_LENGTH} characters; got ${json.length}.`,
    );
  }
  return json;
}

/** A list member as JSON for the scheduler ('' when absent or empty). */
export function listJson(value: unknown): string {
  return Array.isArray(value) && value.length > 0 ? JSON.stringify(value) : '';
}
