import { compileAny, compileWildcard } from './wildcard';

describe('compileWildcard', () => {
  it('matches * as any run of characters and ? as exactly one', () => {
    const m = compileWildcard('/api/*/items?', false);
    expect(m('/api/v1/items1')).toBe(true);
    expect(m('/api//itemsX')).toBe(true);
    expect(m('/api/v1/a/b/items2')).toBe(true);
    expect(m('/api/v1/items')).toBe(false);
    expect(m('/api/v1/items12')).toBe(false);
    expect(m('/x/api/v1/items1')).toBe(false);
  });

  it('is case-sensitive unless asked otherwise', () => {
    expect(compileWildcard('/Images/*', false)('/images/a.png')).toBe(false);
    expect(compileWildcard('/Images/*', false)('/Images/a.png')).toBe(true);
    expect(compileWildcard('*.Example.com', true)('api.example.COM')).toBe(true);
    expect(compileWildcard('Example.com', true)('EXAMPLE.COM')).toBe(true);
    expect(compileWildcard('Example.com', true)('EXAMPLE.COMx')).toBe(false);
  });

  it('treats regular expression characters literally', () => {
    const m = compileWildcard('/a.b+(c)[d]$^|{e}\\', false);
    expect(m('/a.b+(c)[d]$^|{e}\\')).toBe(true);
    expect(m('/aXb+(c)[d]$^|{e}\\')).toBe(false);
    expect(compileWildcard('a.*', false)('abc')).toBe(false);
  });

  it('reads \\* and \\? as the literal characters', () => {
    const m = compileWildcard('what\\?*', false);
    expect(m('what?now')).toBe(true);
    expect(m('whatXnow')).toBe(false);
    expect(compileWildcard('a\\*b', false)('a*b')).toBe(true);
    expect(compileWildcard('a\\*b', false)('axxb')).toBe(false);
  });

  it('matches across newlines and the empty string for *', () => {
    expect(compileWildcard('*', false)('')).toBe(true);
    expect(compileWildcard('a*', false)('a\nb')).toBe(true);
  });

  it('compileAny accepts any of its patterns', () => {
    const m = compileAny(['/a', '/b/*'], false);
    expect(m('/a')).toBe(true);
    expect(m('/b/c')).toBe(true);
    expect(m('/c')).toBe(false);
  });
});
