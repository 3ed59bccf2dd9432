import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { ADVISORY_LOCKS, inTransaction } from '../db';
import { MIGRATIONS, Migration } from './index';

/**
 * Applies pending migrations in one transaction under a transaction-scoped advisory lock, so
 * replicas starting together queue up and the later ones find nothing left to do.
 * Returns the ids it applied.
 */
export async function migrate(
  pool: Pool,
  logger: Logger,
  migrations: Migration[] = MIGRATIONS,
): Promise<string[]> {
  return inTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.migrations]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ id: string }>('SELECT id FROM schema_migrations');
    const done = new Set(rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      await tx.query(m.sql);
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [m.id]);
      applied.push(m.id);
      logger.info({ migration: m.id }, 'migration applied');
    }
    return applied;
  });
}
