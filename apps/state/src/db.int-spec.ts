/**
 * The state's Postgres access against a real Postgres (Testcontainers): what a broken
 * connection does to a transaction, the pool and the process.
 */
import { execFileSync } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Pool } from 'pg';
import { startPostgres, type StartedPostgres } from '@wharf/testing';
import { createPool, inTransaction, isDatabaseUnavailable } from './db';

jest.setTimeout(120_000);

describe('state database access', () => {
  let postgres: StartedPostgres;
  let pool: Pool;
  const poolErrors: Error[] = [];

  beforeAll(async () => {
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    postgres = await startPostgres();
    pool = createPool(postgres.url, { connectTimeoutMs: 5_000, queryTimeoutMs: 30_000 });
    pool.on('error', (err) => poolErrors.push(err));
  });

  afterAll(async () => {
    await pool?.end();
    await postgres?.container.stop();
  });

  it('a connection that breaks in a transaction fails that call only; the process and pool go on', async () => {
    const failed = await inTransaction(pool, async (tx) => {
      // What a reset from the network looks like to pg: its socket fails under it.
      (tx as unknown as { connection: { stream: Socket } }).connection.stream.destroy(
        Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      );
      await tx.query('SELECT 1');
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isDatabaseUnavailable(failed)).toBe(true);
    // The broken connection was closed, not handed on: the next calls work.
    for (let i = 0; i < 12; i++) {
      const { rows } = await inTransaction(pool, (tx) =>
        tx.query<{ one: number }>('SELECT 1 AS one'),
      );
      expect(rows[0].one).toBe(1);
    }
  });

  it('a Postgres that stops answering fails calls after the statement timeout, then serves again', async () => {
    const short = createPool(postgres.url, { connectTimeoutMs: 2_000, queryTimeoutMs: 1_000 });
    short.on('error', () => undefined);
    const container = postgres.container.getId();
    try {
      await inTransaction(short, (tx) => tx.query('SELECT 1')); // a pooled connection
      // Frozen: its kernel still takes connections and bytes, nothing answers (as a host
      // that vanished mid-connection). Without the timeout these calls would hang for good.
      execFileSync('docker', ['pause', container]);
      let failures: unknown[];
      try {
        failures = await Promise.all([
          inTransaction(short, (tx) => tx.query('SELECT 1')).catch((err: unknown) => err),
          short.query('SELECT 1').catch((err: unknown) => err),
        ]);
      } finally {
        execFileSync('docker', ['unpause', container]);
      }
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(Error);
        expect(isDatabaseUnavailable(failure)).toBe(true);
      }
      // The connections that hung were closed, not handed on: calls work again.
      for (let i = 0; i < 3; i++) {
        const { rows } = await inTransaction(short, (tx) =>
          tx.query<{ one: number }>('SELECT 1 AS one'),
        );
        expect(rows[0].one).toBe(1);
      }
    } finally {
      await short.end();
    }
  }, 60_000);
});
