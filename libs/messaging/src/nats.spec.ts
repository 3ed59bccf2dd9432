import { parseNatsServers } from './nats';

describe('parseNatsServers', () => {
  it('passes servers without credentials through', () => {
    expect(parseNatsServers('nats://a:4222, nats://b:4222')).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
    });
  });

  it('takes a user and password, or a token, out of the URLs', () => {
    expect(
      parseNatsServers('nats://wharf:p%40ss%3Aword@a:4222,nats://wharf:p%40ss%3Aword@b'),
    ).toEqual({ servers: ['nats://a:4222', 'nats://b'], user: 'wharf', pass: 'p@ss:word' });
    expect(parseNatsServers('nats://s3cret@nats:4222')).toEqual({
      servers: ['nats://nats:4222'],
      token: 's3cret',
    });
    expect(parseNatsServers('tok@nats:4222')).toEqual({
      servers: ['nats://nats:4222'],
      token: 'tok',
    });
  });

  it('refuses a server that is no URL without showing it', () => {
    expect(() => parseNatsServers('nats://u:secret@[bad')).toThrow(
      'NATS_URL: a server is not a URL (nats://[user:password@]host:port)',
    );
  });

  it('refuses servers with different credentials', () => {
    expect(() => parseNatsServers('nats://a:x@a:4222,nats://b:y@b:4222')).toThrow(
      'NATS_URL: every server that carries credentials must carry the same',
    );
  });
});
