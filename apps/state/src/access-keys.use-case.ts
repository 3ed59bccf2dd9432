import { InvalidParameterError, NotFoundError } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import { randomBytes, randomInt } from 'node:crypto';
import type { Pool } from 'pg';
import type { StateContext } from './context';
import { ms } from './db';

interface AccessKeyRow {
  access_key_id: string;
  secret_access_key: string;
  name: string;
  created_at: Date;
  revoked_at: Date | null;
}

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
/** Access key ids look like AWS's (20 characters, upper-case letters and digits). */
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const ACCESS_KEY_ID_PREFIX = 'WKIA';

function newAccessKeyId(): string {
  let id = ACCESS_KEY_ID_PREFIX;
  while (id.length < 20) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** 40 characters, as AWS secrets are: 30 random bytes in base64 (with + and / as AWS has). */
function newSecret(): string {
  return randomBytes(30).toString('base64');
}

function toProto(row: AccessKeyRow): stateV1.AccessKey {
  return {
    accessKeyId: row.access_key_id,
    name: row.name,
    status: row.revoked_at ? 'Inactive' : 'Active',
    createdAt: ms(row.created_at),
    revokedAt: ms(row.revoked_at),
  };
}

/** Create / List / Revoke / Resolve access keys (see the rpcs in state.proto). */
export class AccessKeysUseCase {
  constructor(private readonly ctx: StateContext) {}

  private get pool(): Pool {
    return this.ctx.pool;
  }

  async create(req: stateV1.CreateAccessKeyRequest): Promise<stateV1.AccessKeySecret> {
    if (!NAME.test(req.name)) {
      throw new InvalidParameterError(
        'name must be 1-64 characters: letters, digits and _ . @ - (what the key is for).',
      );
    }
    const { rows } = await this.pool.query<AccessKeyRow>(
      `INSERT INTO access_keys (access_key_id, secret_access_key, name) VALUES ($1, $2, $3)
       RETURNING *`,
      [newAccessKeyId(), newSecret(), req.name],
    );
    return { key: toProto(rows[0]), secretAccessKey: rows[0].secret_access_key };
  }

  async list(): Promise<stateV1.ListAccessKeysResponse> {
    const { rows } = await this.pool.query<AccessKeyRow>(
      'SELECT * FROM access_keys ORDER BY created_at, access_key_id',
    );
    return { keys: rows.map(toProto) };
  }

  async revoke(req: stateV1.RevokeAccessKeyRequest): Promise<stateV1.AccessKey> {
    const { rows } = await this.pool.query<AccessKeyRow>(
      `UPDATE access_keys SET revoked_at = COALESCE(revoked_at, now())
        WHERE access_key_id = $1 RETURNING *`,
      [req.accessKeyId],
    );
    if (!rows[0]) throw new NotFoundError('Access key not found.', 'ResourceNotFoundException');
    return toProto(rows[0]);
  }

  async resolve(req: stateV1.ResolveAccessKeyRequest): Promise<stateV1.AccessKeySecret> {
    const { rows } = await this.pool.query<AccessKeyRow>(
      'SELECT * FROM access_keys WHERE access_key_id = $1 AND revoked_at IS NULL',
      [req.accessKeyId],
    );
    if (!rows[0]) throw new NotFoundError('Access key not found.', 'ResourceNotFoundException');
    return { key: toProto(rows[0]), secretAccessKey: rows[0].secret_access_key };
  }
}
