import { Client, ClientConfig, Pool, PoolClient } from 'pg';
import { GrpcCode, WharfError } from '@wharf/domain';

export type Db = Pool;
export type Tx = PoolClient;

/** Advisory lock keys (pg_advisory_lock takes a bigint); one per cross-replica critical section. */
export const ADVISORY_LOCKS = {
  migrations: 0x57_68_61_72_66_01, // "Wharf" 1
  outboxRelay: 0x57_68_61_72_66_02,
} as const;

export interface PoolOptions {
  /**
   * How long opening a connection may take. Without it, while Postgres is down (its host
   * unreachable, or not answering) every call that needs a new connection waits until the
   * kernel gives up — 40 s here, minutes across hosts; with it they fail within this with a
   * ServerException that says why. It is set on the connections, not the pool: the pool's own
   * option would also fail calls that merely wait for a busy pool's next free connection, as if
   * the database were gone.
   */
  connectTimeoutMs: number;
  /**
   * How long one statement may go unanswered; 0: no limit (migrations, which may take long
   * and wait for each other). A Postgres that stops or restarts closes its connections and
   * those calls fail at once; one whose host vanishes without a word, or that stops answering
   * (frozen, paused), leaves its statements waiting until TCP gives up, up to a quarter of an
   * hour with data unacknowledged, while the pool's connections all hang and every call waits.
   * With this limit such a call fails with the ServerException of an unreachable database, and
   * its connection is closed (transaction() and the pool drop a connection whose statement
   * failed so).
   */
  queryTimeoutMs: number;
  /** connections at most (10) */
  max?: number;
}

export function createPool(url: string, options: PoolOptions): Pool {
  class BoundedClient extends Client {
    constructor(config: ClientConfig = {}) {
      super({
        ...config,
        connectionTimeoutMillis: options.connectTimeoutMs,
        query_timeout: options.queryTimeoutMs || undefined,
      });
    }
  }
  return new Pool({
    connectionString: url,
    max: options.max ?? 10,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    Client: BoundedClient,
  });
}

/** Socket errors of a database that cannot be reached. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
]);
/** What pg and pg-pool say when a connection cannot be made or was lost. */
const UNREACHABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  // a statement unanswered for the pool's queryTimeoutMs
  'Query read timeout',
];
/**
 * SQLSTATEs of a connection that failed or a server going away: connection exceptions (not
 * 08P01, a protocol violation, which is a bug) and admin_shutdown, crash_shutdown,
 * cannot_connect_now.
 */
const UNAVAILABLE_SQLSTATES = new Set([
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08007',
  '57P01',
  '57P02',
  '57P03',
]);
/** pg's words for a connection not made within connectionTimeoutMillis. */
const CONNECT_TIMEOUT_MESSAGE = 'timeout expired';

/**
 * Whether `err` says Postgres is unreachable or going away (not that a statement failed):
 * socket errors, pg's connection errors and UNAVAILABLE_SQLSTATES.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)))
    return true;
  return (
    err.message === CONNECT_TIMEOUT_MESSAGE ||
    UNREACHABLE_MESSAGES.some((m) => err.message.startsWith(m))
  );
}

/** The answer to a call that failed because Postgres could not be reached. */
export class DatabaseUnavailableError extends WharfError {
  constructor() {
    super(
      'ServerException',
      GrpcCode.INTERNAL,
      'The cluster state database (Postgres) cannot be reached; try again shortly.',
    );
  }
}

/** For the gRPC exception filter: a database outage becomes DatabaseUnavailableError. */
export function translateDatabaseErrors(
  err: unknown,
  logger: { warn: (obj: object, msg: string) => void },
): WharfError | undefined {
  if (!isDatabaseUnavailable(err)) return undefined;
  logger.warn(
    { err: (err as Error).message, code: (err as { code?: unknown }).code },
    'Postgres cannot be reached; the call fails with ServerException',
  );
  return new DatabaseUnavailableError();
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
  // A connection that breaks (Postgres restarted, its host gone) fails the query in flight and
  // also emits 'error' on the client. The pool listens only while the client is idle: without
  // this listener the event would be thrown and take the whole process down.
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    if (!broken && !isDatabaseUnavailable(err)) {
      await client.query('ROLLBACK').catch(() => undefined);
    } else {
      broken ??= err as Error;
    }
    throw err;
  } finally {
    client.removeListener('error', onError);
    // A broken connection is closed rather than handed to the next caller.
    client.release(broken);
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
