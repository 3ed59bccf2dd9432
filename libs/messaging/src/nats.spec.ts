import { decodeEvents, encode, parseNatsServers } from './nats';
import type { WharfEvent } from './payloads';

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

describe('decodeEvents', () => {
  const event = (id: string, n: number): WharfEvent<{ n: number }> => ({
    v: 1,
    id,
    type: 'task.changed',
    cluster: 'c',
    resourceArn: `arn:aws:ecs:us-east-1:000000000000:task/c/${n}`,
    version: 1,
    at: 0,
    detail: { n },
  });

  it('reads a single event as a list of one', () => {
    expect(decodeEvents(encode(event('7', 1)))).toEqual([event('7', 1)]);
  });

  it("reads a batch's events in their order", () => {
    const batch = { v: 1, id: '7', events: [event('7', 1), event('8', 2), event('9', 3)] };
    expect(decodeEvents<{ n: number }>(encode(batch)).map((e) => e.detail.n)).toEqual([1, 2, 3]);
  });

  it('throws on a message that is not JSON', () => {
    expect(() => decodeEvents(Buffer.from('{"v":1,'))).toThrow(SyntaxError);
  });
});
