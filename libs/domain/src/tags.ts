import { InvalidParameterError } from './errors';

/**
 * ECS resource tags (the Tag shape's rules): at most 50 on a resource, each key unique and
 * 1-128 characters, each value 0-256, both of letters, digits, spaces and `_ . : / = + - @`
 * (the model's pattern), keys starting with `aws:` in any case reserved. Lengths count
 * characters (code points), as ECS counts Unicode characters.
 */
export const MAX_TAGS_PER_RESOURCE = 50;
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;
export const TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

export interface ResourceTag {
  key: string;
  value: string;
}

const length = (s: string) => [...s].length;

/** One key, at `path` (e.g. `tags[2].key`, `tagKeys[0]`). */
export function validateTagKey(key: unknown, path: string): string {
  if (typeof key !== 'string' || length(key) < 1 || length(key) > MAX_TAG_KEY_LENGTH) {
    throw new InvalidParameterError(
      `${path} must have between 1 and ${MAX_TAG_KEY_LENGTH} characters.`,
    );
  }
  if (!TAG_PATTERN.test(key)) {
    throw new InvalidParameterError(
      `${path} can only contain letters, numbers, spaces and the characters _ . : / = + - @.`,
    );
  }
  if (key.toLowerCase().startsWith('aws:')) {
    throw new InvalidParameterError(`${path}: the aws: prefix is reserved for AWS use.`);
  }
  return key;
}

/**
 * A list of tags as a request gives them (`member` names it in messages): each checked, keys
 * unique, at most 50. Returns them normalised (an absent value is '').
 */
export function validateTagList(value: unknown, member = 'tags'): ResourceTag[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidParameterError(`${member} must be a list of tags.`);
  if (value.length > MAX_TAGS_PER_RESOURCE) {
    throw new InvalidParameterError(
      `${member} can have at most ${MAX_TAGS_PER_RESOURCE} tags; got ${value.length}.`,
    );
  }
  const seen = new Set<string>();
  return value.map((raw, i) => {
    const at = `${member}[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new InvalidParameterError(`${at} must be a tag {key, value}.`);
    }
    const t = raw as { key?: unknown; value?: unknown };
    const key = validateTagKey(t.key, `${at}.key`);
    const tagValue = t.value ?? '';
    if (typeof tagValue !== 'string' || length(tagValue) > MAX_TAG_VALUE_LENGTH) {
      throw new InvalidParameterError(
        `${at}.value can have at most ${MAX_TAG_VALUE_LENGTH} characters.`,
      );
    }
    if (!TAG_PATTERN.test(tagValue)) {
      throw new InvalidParameterError(
        `${at}.value can only contain letters, numbers, spaces and the characters _ . : / = + - @.`,
      );
    }
    if (seen.has(key)) throw new InvalidParameterError(`${at}.key: duplicate tag key '${key}'.`);
    seen.add(key);
    return { key, value: tagValue };
  });
}

/** Tag keys to remove (UntagResource `tagKeys`). */
export function validateTagKeys(value: unknown, member = 'tagKeys'): string[] {
  if (!Array.isArray(value)) throw new InvalidParameterError(`${member} must be a list of keys.`);
  return value.map((k, i) => validateTagKey(k, `${member}[${i}]`));
}

/**
 * `current` with `added` laid over it by key (a key keeps its place; new keys go last).
 * More than 50 tags as a result is refused, naming `member`.
 */
export function mergeTags(
  current: readonly ResourceTag[],
  added: readonly ResourceTag[],
  member = 'tags',
): ResourceTag[] {
  const merged = new Map(current.map((t) => [t.key, t.value]));
  for (const t of added) merged.set(t.key, t.value);
  if (merged.size > MAX_TAGS_PER_RESOURCE) {
    throw new InvalidParameterError(
      `${member}: a resource can have at most ${MAX_TAGS_PER_RESOURCE} tags; this request would leave ${merged.size}.`,
    );
  }
  return [...merged].map(([key, value]) => ({ key, value }));
}

export function removeTags(
  current: readonly ResourceTag[],
  keys: readonly string[],
): ResourceTag[] {
  const gone = new Set(keys);
  return current.filter((t) => !gone.has(t.key));
}
