/**
 * Credentials in NATS_URL against a real NATS server that asks for them (Testcontainers).
 */
import { startNats, type StartedNats } from '@wharf/testing';
import { connectNats, ensureStreams } from './nats';

jest.setTimeout(120_000);

describe('NATS credentials in NATS_URL', () => {
  let withPassword: StartedNats;
  let withToken: StartedNats;

  beforeAll(async () => {
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    [withPassword, withToken] = await Promise.all([
      startNats(undefined, 'nats', ['--user', 'wharf', '--pass', 's3cr@t:pw']),
      startNats(undefined, 'nats', ['--auth', 'tok3n']),
    ]);
  });

  afterAll(async () => {
    await withPassword?.container.stop();
    await withToken?.container.stop();
  });

  const withCredentials = (url: string, userinfo: string) =>
    url.replace('nats://', `nats://${userinfo}@`);

  /** Connects, round-trips a message and creates Wharf's streams. */
  async function works(url: string) {
    const nc = await connectNats({ servers: url, name: 'credentials-test' });
    try {
      const sub = nc.subscribe('ping', { max: 1 });
      nc.publish('ping', 'hello');
      for await (const m of sub) expect(m.string()).toBe('hello');
      await ensureStreams(nc);
    } finally {
      await nc.close();
    }
  }

  it('connects with a user and password', async () => {
    await works(withCredentials(withPassword.url, `wharf:${encodeURIComponent('s3cr@t:pw')}`));
  });

  it('connects with a token', async () => {
    await works(withCredentials(withToken.url, 'tok3n'));
  });

  it('is refused without them, or with wrong ones', async () => {
    await expect(connectNats({ servers: withPassword.url, name: 'none' })).rejects.toThrow(
      /authorization/i,
    );
    await expect(
      connectNats({ servers: withCredentials(withToken.url, 'wrong'), name: 'wrong' }),
    ).rejects.toThrow(/authorization/i);
  });
});
