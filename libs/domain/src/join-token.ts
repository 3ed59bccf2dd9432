import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Join tokens, which agents present when they register (WHARF_JOIN_TOKEN):
 * `wjt_<id>_<secret>`, the id 16 and the secret 32 characters of lower-case base32 (160 random
 * bits). The id names the token in lists and revocations; only a hash of the secret is kept.
 * The secret is random and long, so a plain SHA-256 (salted with the id) is enough: there is
 * nothing for a slow password hash to protect against.
 */
export const JOIN_TOKEN_PREFIX = 'wjt';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const ID_LENGTH = 16;
const SECRET_LENGTH = 32;
const TOKEN = new RegExp(
  `^${JOIN_TOKEN_PREFIX}_([${ALPHABET}]{${ID_LENGTH}})_([${ALPHABET}]{${SECRET_LENGTH}})$`,
);
const ID = new RegExp(`^[${ALPHABET}]{${ID_LENGTH}}$`);

export interface ParsedJoinToken {
  id: string;
  secret: string;
}

/** `length` characters of the alphabet, 5 random bits each. */
function randomBase32(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i] & 31];
  return out;
}

/** A new token: its id, its secret and the whole token as the agent is given it. */
export function newJoinToken(): ParsedJoinToken & { token: string } {
  const id = randomBase32(ID_LENGTH);
  const secret = randomBase32(SECRET_LENGTH);
  return { id, secret, token: formatJoinToken({ id, secret }) };
}

export function formatJoinToken({ id, secret }: ParsedJoinToken): string {
  return `${JOIN_TOKEN_PREFIX}_${id}_${secret}`;
}

/** The id and secret of a well-formed token (surrounding white space ignored); else undefined. */
export function parseJoinToken(token: string): ParsedJoinToken | undefined {
  const m = TOKEN.exec(token.trim());
  return m ? { id: m[1], secret: m[2] } : undefined;
}

export function isJoinTokenId(id: string): boolean {
  return ID.test(id);
}

/** What state stores for a token: hex SHA-256 of `<id>:<secret>`. */
export function hashJoinTokenSecret({ id, secret }: ParsedJoinToken): string {
  return createHash('sha256').update(`${id}:${secret}`).digest('hex');
}

/** Whether `token` is the one `storedHash` was made from (compared in constant time). */
export function joinTokenMatches(token: ParsedJoinToken, storedHash: string): boolean {
  const actual = Buffer.from(hashJoinTokenSecret(token), 'hex');
  const expected = Buffer.from(storedHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
