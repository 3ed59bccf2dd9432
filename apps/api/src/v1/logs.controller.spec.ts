import { parseLogsQuery } from './logs.controller';

describe('parseLogsQuery', () => {
  it('defaults to every line, no follow, no timestamps', () => {
    expect(parseLogsQuery({})).toEqual({
      container: '',
      follow: false,
      tail: -1,
      since: 0,
      timestamps: false,
    });
  });

  it('reads since as epoch seconds or ISO 8601, tail as a count or all', () => {
    expect(parseLogsQuery({ since: '1700000000.5', tail: '10' })).toMatchObject({
      since: 1_700_000_000_500,
      tail: 10,
    });
    expect(parseLogsQuery({ since: '2024-01-02T15:04:05Z', tail: 'all' })).toMatchObject({
      since: Date.UTC(2024, 0, 2, 15, 4, 5),
      tail: -1,
    });
    expect(parseLogsQuery({ follow: 'true', timestamps: '1', container: 'web' })).toMatchObject({
      follow: true,
      timestamps: true,
      container: 'web',
    });
  });

  it.each([
    [{ tail: '-1' }, /^tail must be/],
    [{ tail: '1.5' }, /^tail must be/],
    [{ since: 'yesterday' }, /^since must be/],
    [{ since: '2024-13-45T99:00:00Z' }, /^since must be/],
    [{ follow: 'yes' }, /^follow must be true or false/],
    [{ container: ['a', 'b'] }, /^container must be given once/],
  ])('names the bad parameter in %j', (query, message) => {
    expect(() => parseLogsQuery(query)).toThrow(message);
  });
});
