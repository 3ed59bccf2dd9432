import { invalidParameter } from './operation-context';

/** ECS tag limits (the Tag shape's documentation). */
export const MAX_TAGS = 50;
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;
/** ECS: startedBy up to 128 characters; clientToken up to 64 in the range 33–126. */
export const MAX_STARTED_BY_LENGTH = 128;
export const CLIENT_TOKEN_PATTERN = /^[\x21-\x7e]{1,64}$/;
/** ECS: "A total of 8192 characters are allowed for overrides." */
export const MAX_OVERRIDES_LENGTH = 8192;

export interface EcsTagInput {
  key?: string;
  value?: string;
}

/**
 * Tags as ECS takes them on RunTask and StartTask: at most 50, each key 1–128 characters and
 * unique, each value 0–256; keys starting with `aws:` (any case) are reserved.
 * Returns them normalised (value '' when absent).
 */
export function validateTags(tags: EcsTagInput[] | undefined): { key: string; value: string }[] {
  if (!tags) return [];
  if (tags.length > MAX_TAGS) {
    throw invalidParameter(`Tags can have at most ${MAX_TAGS} items; got ${tags.length}.`);
  }
  const seen = new Set<string>();
  return tags.map((t, i) => {
    const key = t.key ?? '';
    const value = t.value ?? '';
    if (key.length < 1 || [...key].length > MAX_TAG_KEY_LENGTH) {
      throw invalidParameter(
        `tags[${i}].key must have between 1 and ${MAX_TAG_KEY_LENGTH} characters.`,
      );
    }
    if ([...value].length > MAX_TAG_VALUE_LENGTH) {
      throw invalidParameter(
        `tags[${i}].value can have at most ${MAX_TAG_VALUE_LENGTH} characters.`,
      );
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw invalidParameter(`tags[${i}].key: the aws: prefix is reserved for AWS use.`);
    }
    if (seen.has(key)) throw invalidParameter(`Duplicate tag key: ${key}.`);
    seen.add(key);
    return { key, value };
  });
}

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
