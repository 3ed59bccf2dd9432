import { Pool, PoolClient } from 'pg';

export type Db = Pool;
export type Tx = PoolClient;

/** Advisory lock keys (pg_advisory_lock takes a bigint); one per cross-replica critical section. */
export const ADVISORY_LOCKS = {
  migrations: 0x57_68_61_72_66_01, // "Wharf" 1
  outboxRelay: 0x57_68_61_72_66_02,
} as const;

export function createPool(url: string): Pool {
  return new Pool({ connectionString: url, max: 10, idleTimeoutMillis: 30_000 });
}

/** Runs `work` in a transaction; rolls back and rethrows on any error. */
export function inTransaction<T>(pool: Pool, work: (tx: Tx) => Promise<T>): Promise<T> {
  return transaction(pool, 'BEGIN', work);
}

/**
 * Runs read-only `work` on one snapshot (REPEATABLE READ): its queries all see the database
 * as of the first, so a row that changes between two of them is not seen twice or not at all.
 */
export function inSnapshot<T>(pool: Pool, work: (tx: Tx) => Promise<T>): Promise<T> {
  return transaction(pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', work);
}

async function transaction<T>(pool: Pool, begin: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Milliseconds since the epoch for a timestamptz column, 0 when null. */
export function ms(value: Date | null | undefined): number {
  return value ? value.getTime() : 0;
}

/** A timestamptz parameter from epoch milliseconds; 0/undefined → null. */
export function tsParam(epochMs: number | undefined | null): Date | null {
  return epochMs ? new Date(epochMs) : null;
}

/** Opaque keyset pagination tokens. */
export const pageToken = {
  encode: (lastKey: string) => Buffer.from(lastKey, 'utf8').toString('base64url'),
  decode: (token: string) => (token ? Buffer.from(token, 'base64url').toString('utf8') : ''),
};

export function pageSize(maxResults: number, fallback = 100, max = 1000): number {
  if (!maxResults || maxResults < 1) return fallback;
  return Math.min(maxResults, max);
}
