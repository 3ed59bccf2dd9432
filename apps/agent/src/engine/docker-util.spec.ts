import type Docker from 'dockerode';
import { ensureImage } from './docker-util';

function fakeDocker(present: boolean) {
  const pulls: string[] = [];
  const docker = {
    getImage: () => ({
      inspect: async () => {
        if (!present) throw Object.assign(new Error('no such image'), { statusCode: 404 });
        return {};
      },
    }),
    pull: async (image: string) => {
      pulls.push(image);
      return {};
    },
    modem: {
      followProgress: (_s: unknown, done: (e: null, o: unknown[]) => void) => done(null, []),
    },
  } as unknown as Docker;
  return { docker, pulls };
}

describe('ensureImage (AGENT_IMAGE_PULL_BEHAVIOR)', () => {
  it('default and prefer-cached pull only a missing image', async () => {
    for (const behavior of ['default', 'prefer-cached'] as const) {
      const cached = fakeDocker(true);
      expect(await ensureImage(cached.docker, 'a:1', behavior)).toBe('present');
      expect(cached.pulls).toEqual([]);
      const missing = fakeDocker(false);
      expect(await ensureImage(missing.docker, 'a:1', behavior)).toBe('pulled');
      expect(missing.pulls).toEqual(['a:1']);
    }
  });

  it('always pulls, even a cached image', async () => {
    const cached = fakeDocker(true);
    await ensureImage(cached.docker, 'b:1', 'always');
    await ensureImage(cached.docker, 'b:1', 'always');
    expect(cached.pulls).toEqual(['b:1', 'b:1']);
  });

  it('once pulls the first time this agent uses an image, then uses the cache', async () => {
    const cached = fakeDocker(true);
    expect(await ensureImage(cached.docker, 'c:1', 'once')).toBe('pulled');
    expect(await ensureImage(cached.docker, 'c:1', 'once')).toBe('present');
    expect(cached.pulls).toEqual(['c:1']);
  });

  it('a failed pull rejects with Docker’s message', async () => {
    const { docker } = fakeDocker(false);
    (docker as unknown as { modem: unknown }).modem = {
      followProgress: (_s: unknown, done: (e: null, o: unknown[]) => void) =>
        done(null, [{ error: 'manifest unknown' }]),
    };
    await expect(ensureImage(docker, 'd:1')).rejects.toThrow('manifest unknown');
  });
});
