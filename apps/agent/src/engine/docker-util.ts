import type Docker from 'dockerode';

/** The HTTP status Docker answered with, when dockerode's error carries one. */
export function dockerStatus(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const json = (err as { json?: { message?: string } }).json;
    return json?.message ?? err.message;
  }
  return String(err);
}

/**
 * AGENT_IMAGE_PULL_BEHAVIOR, after ECS_IMAGE_PULL_BEHAVIOR. `default` and `prefer-cached`:
 * pull only when the image is missing. `always`: pull every time; a failed pull fails the task.
 * `once`: pull the first time this agent process uses the image (or when it is missing).
 */
export type ImagePullBehavior = 'default' | 'always' | 'once' | 'prefer-cached';

/** Images this process has pulled (for `once`). */
const pulledOnce = new Set<string>();

/** Makes `image` available by the pull behaviour. Rejects with Docker's reason on failure. */
export async function ensureImage(
  docker: Docker,
  image: string,
  behavior: ImagePullBehavior = 'default',
): Promise<'present' | 'pulled'> {
  const mustPull = behavior === 'always' || (behavior === 'once' && !pulledOnce.has(image));
  if (!mustPull) {
    try {
      await docker.getImage(image).inspect();
      return 'present';
    } catch (err) {
      if (dockerStatus(err) !== 404) throw err;
    }
  }
  await pullImage(docker, image);
  pulledOnce.add(image);
  return 'pulled';
}

async function pullImage(docker: Docker, image: string): Promise<void> {
  const stream = await docker.pull(image);
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, output: { error?: string }[]) => {
      const failed = output?.find((o) => o.error);
      if (err) reject(err);
      else if (failed) reject(new Error(failed.error));
      else resolve();
    });
  });
}
