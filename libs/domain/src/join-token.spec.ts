import {
  formatJoinToken,
  hashJoinTokenSecret,
  isJoinTokenId,
  joinTokenMatches,
  newJoinToken,
  parseJoinToken,
} from './join-token';

describe('join tokens', () => {
  it('makes well-formed, distinct tokens that parse back to their id and secret', () => {
    const a = newJoinToken();
    const b = newJoinToken();
    expect(a.token).toMatch(/^wjt_[a-z2-7]{16}_[a-z2-7]{32}$/);
    expect(a.token).not.toBe(b.token);
    expect(parseJoinToken(a.token)).toEqual({ id: a.id, secret: a.secret });
    expect(formatJoinToken(a)).toBe(a.token);
    expect(isJoinTokenId(a.id)).toBe(true);
  });

  it('ignores white space around a token (a pasted line) but nothing else', () => {
    const { token, id, secret } = newJoinToken();
    expect(parseJoinToken(` ${token}\n`)).toEqual({ id, secret });
    for (const bad of [
      '',
      token.toUpperCase(),
      token.slice(0, -1),
      `${token}a`,
      token.replace('wjt_', 'wjx_'),
      token.replace(/_/g, '-'),
      `wjt_${id}_${secret.slice(0, 31)}1`, // 1 is not in the base32 alphabet
    ]) {
      expect(parseJoinToken(bad)).toBeUndefined();
    }
    expect(isJoinTokenId('short')).toBe(false);
  });

  it('hashes the secret salted with the id, and matches only the same token', () => {
    const t = newJoinToken();
    const hash = hashJoinTokenSecret(t);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(t.secret);
    expect(joinTokenMatches(t, hash)).toBe(true);
    const other = newJoinToken();
    expect(joinTokenMatches({ id: t.id, secret: other.secret }, hash)).toBe(false);
    // The same secret under another id hashes differently.
    expect(hashJoinTokenSecret({ id: other.id, secret: t.secret })).not.toBe(hash);
    expect(joinTokenMatches(t, 'not hex')).toBe(false);
  });
});
