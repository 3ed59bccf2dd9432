import type { Pool, PoolClient } from 'pg';
import type { stateV1 } from '@wharf/proto';
import { ms } from './db';

interface LeaseRow {
  name: string;
  holder: string;
  expires_at: Date;
  held: boolean;
}

/**
 * Named leases. Time is Postgres's now(), so the clocks of the replicas asking do not matter.
 * A lease is free when its holder is '' or it expired; an answer shows holder '' then.
 */
export class LeaseRepository {
  /**
   * Takes the lease when it is free or expired, or renews it for its holder (expires_at =
   * now + ttl), in one upsert; answers who holds it until when either way.
   */
  async acquire(pool: Pool, name: string, holder: string, ttlMs: number): Promise<stateV1.Lease> {
    const { rows } = await pool.query<LeaseRow>(
      `WITH taken AS (
         INSERT INTO leases (name, holder, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3::double precision / 1000))
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
           WHERE leases.holder = EXCLUDED.holder OR leases.holder = ''
              OR leases.expires_at <= now()
         RETURNING name, holder, expires_at
       )
       SELECT name, holder, expires_at, true AS held FROM taken
       UNION ALL
       SELECT name, CASE WHEN expires_at > now() THEN holder ELSE '' END, expires_at,
              false AS held FROM leases
        WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM taken)`,
      [name, holder, ttlMs],
    );
    // Empty only when another holder inserted the lease after this statement's snapshot.
    return rows[0] ? toLease(rows[0]) : this.read(pool, name, holder);
  }

  /** Frees the lease at once if `holder` holds it; answers the lease as it is then. */
  async release(pool: Pool, name: string, holder: string): Promise<stateV1.Lease> {
    await pool.query(
      `UPDATE leases SET holder = '', expires_at = now() WHERE name = $1 AND holder = $2`,
      [name, holder],
    );
    return this.read(pool, name, holder);
  }

  private async read(pool: Pool, name: string, holder: string): Promise<stateV1.Lease> {
    const { rows } = await pool.query<LeaseRow>(
      `SELECT name, CASE WHEN expires_at > now() THEN holder ELSE '' END AS holder, expires_at,
              (holder = $2 AND expires_at > now()) AS held
         FROM leases WHERE name = $1`,
      [name, holder],
    );
    return rows[0] ? toLease(rows[0]) : { name, holder: '', expiresAt: 0, held: false };
  }
}

function toLease(r: LeaseRow): stateV1.Lease {
  return {
    name: r.name,
    holder: r.holder,
    expiresAt: ms(r.expires_at),
    held: r.held,
  };
}

/**
 * The holders of the named leases that have not expired, by lease name. The rows are
 * share-locked until the transaction ends, so a replica taking one of them over waits for it:
 * what the transaction fences with a lease is committed only while that lease is held.
 */
export async function lockHeldLeases(
  tx: PoolClient,
  names: readonly string[],
): Promise<Map<string, string>> {
  if (names.length === 0) return new Map();
  const { rows } = await tx.query<{ name: string; holder: string }>(
    `SELECT name, holder FROM leases
      WHERE name = ANY($1::text[]) AND expires_at > now()
      FOR SHARE`,
    [[...new Set(names)]],
  );
  return new Map(rows.map((r) => [r.name, r.holder]));
}
