import type { Pool, PoolClient } from 'pg';

type Queryable = Pool | PoolClient;

export interface AccountSettingRow {
  principal_arn: string;
  name: string;
  value: string;
}

/** Account settings as set, one row per principal and name (table `account_settings`). */
export class AccountSettingRepository {
  async upsert(q: Queryable, principalArn: string, name: string, value: string): Promise<void> {
    await q.query(
      `INSERT INTO account_settings (principal_arn, name, value) VALUES ($1, $2, $3)
       ON CONFLICT (principal_arn, name) DO UPDATE SET value = $3, updated_at = now()`,
      [principalArn, name, value],
    );
  }

  /** Deletes the principal's setting; its value, or undefined when it had none. */
  async delete(q: Queryable, principalArn: string, name: string): Promise<string | undefined> {
    const { rows } = await q.query<{ value: string }>(
      'DELETE FROM account_settings WHERE principal_arn = $1 AND name = $2 RETURNING value',
      [principalArn, name],
    );
    return rows[0]?.value;
  }

  /** Every setting the principals have, ordered by name. */
  async ofPrincipals(q: Queryable, principalArns: string[]): Promise<AccountSettingRow[]> {
    const { rows } = await q.query<AccountSettingRow>(
      `SELECT principal_arn, name, value FROM account_settings
        WHERE principal_arn = ANY($1::text[]) ORDER BY name, principal_arn`,
      [principalArns],
    );
    return rows;
  }
}
