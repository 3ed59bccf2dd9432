/**
 * ALB wildcard patterns: `*` matches zero or more characters, `?` exactly one; `\*` and `\?`
 * are the literal characters. Patterns are compiled once per configuration change into a
 * matcher; the hot path only runs the matcher.
 */
export type Matcher = (value: string) => boolean;

export function compileWildcard(pattern: string, caseInsensitive: boolean): Matcher {
  let hasWildcard = false;
  let literal = '';
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && (pattern[i + 1] === '*' || pattern[i + 1] === '?')) {
      i++;
      literal += pattern[i];
      source += '\\' + pattern[i];
    } else if (c === '*') {
      hasWildcard = true;
      source += '[\\s\\S]*';
    } else if (c === '?') {
      hasWildcard = true;
      source += '[\\s\\S]';
    } else {
      literal += c;
      source += c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  if (!hasWildcard) {
    // A plain string compares faster than a regular expression.
    if (caseInsensitive) {
      const lower = literal.toLowerCase();
      return (value) => value.length === lower.length && value.toLowerCase() === lower;
    }
    return (value) => value === literal;
  }
  if (source === '[\\s\\S]*') return () => true;
  const re = new RegExp(`^${source}$`, caseInsensitive ? 'i' : '');
  return (value) => re.test(value);
}

/** A matcher that accepts a value matching any of the patterns. */
export function compileAny(patterns: string[], caseInsensitive: boolean): Matcher {
  const matchers = patterns.map((p) => compileWildcard(p, caseInsensitive));
  if (matchers.length === 1) return matchers[0];
  return (value) => {
    for (const m of matchers) if (m(value)) return true;
    return false;
  };
}
