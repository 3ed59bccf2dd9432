import { DatabaseUnavailableError, isDatabaseUnavailable, translateDatabaseErrors } from './db';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['a refused connection', withCode('connect ECONNREFUSED 10.0.0.1:5432', 'ECONNREFUSED')],
    ['an unreachable host', withCode('connect EHOSTUNREACH 10.0.0.1:5432', 'EHOSTUNREACH')],
    ['an unknown host name', withCode('getaddrinfo ENOTFOUND postgres', 'ENOTFOUND')],
    ["pg-pool's connect timeout", new Error('timeout exceeded when trying to connect')],
    ["pg's connect timeout", new Error('timeout expired')],
    ['a connection lost mid-call', new Error('Connection terminated unexpectedly')],
    ['SQLSTATE 08006', withCode('connection failure', '08006')],
    ['Postgres shutting down (57P01)', withCode('terminating connection', '57P01')],
    ['Postgres starting (57P03)', withCode('the database system is starting up', '57P03')],
  ])('is true for %s', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('duplicate key value', '23505')],
    ['a serialization failure', withCode('could not serialize access', '40001')],
    [
      'a protocol violation (a bug, 08P01)',
      withCode('bind message supplies 2 parameters', '08P01'),
    ],
    ['a plain error', new Error('boom')],
    ['a non-error', 'ECONNREFUSED'],
  ])('is false for %s', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });
});

describe('translateDatabaseErrors', () => {
  it('answers an outage with a ServerException that says what to do, and logs the cause', () => {
    const warned: object[] = [];
    const logger = { warn: (obj: object) => void warned.push(obj) };
    const err = translateDatabaseErrors(
      withCode('connect EHOSTUNREACH 10.0.0.1:5432', 'EHOSTUNREACH'),
      logger,
    );
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect(err).toMatchObject({
      ecsName: 'ServerException',
      message: 'The cluster state database (Postgres) cannot be reached; try again shortly.',
    });
    expect(warned).toEqual([{ err: 'connect EHOSTUNREACH 10.0.0.1:5432', code: 'EHOSTUNREACH' }]);
    expect(translateDatabaseErrors(new Error('boom'), logger)).toBeUndefined();
  });
});
