import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The container instance ARN this host registered as, kept in the data directory so that an
 * agent restart re-registers as the same instance (and adopts its containers).
 */
export interface StoredIdentity {
  containerInstanceArn: string;
  cluster: string;
}

export const IDENTITY_FILE = 'instance.json';

export async function readIdentity(dataDir: string): Promise<StoredIdentity | undefined> {
  try {
    const parsed = JSON.parse(
      await readFile(join(dataDir, IDENTITY_FILE), 'utf8'),
    ) as StoredIdentity;
    if (typeof parsed.containerInstanceArn !== 'string' || !parsed.containerInstanceArn) {
      return undefined;
    }
    return parsed;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function writeIdentity(dataDir: string, identity: StoredIdentity): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const tmp = join(dataDir, `${IDENTITY_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(identity, null, 2));
  await rename(tmp, join(dataDir, IDENTITY_FILE));
}
