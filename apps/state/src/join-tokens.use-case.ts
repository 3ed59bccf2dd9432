import {
  clusterNameOf,
  ClusterNotFoundError,
  GrpcCode,
  hashJoinTokenSecret,
  InvalidParameterError,
  isJoinTokenId,
  JoinRefusedError,
  joinTokenMatches,
  newJoinToken,
  NotFoundError,
  parseJoinToken,
} from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { Pool, PoolClient } from 'pg';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { ms } from './db';

interface JoinTokenRow {
  join_token_id: string;
  secret_hash: string;
  cluster: string | null;
  description: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const DESCRIPTION = /^[\x20-\x7e]{0,128}$/;
/** Ten years: a longer expiry is a mistake in units, and "never" is 0. */
const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600;

function status(row: JoinTokenRow, now = Date.now()): 'Active' | 'Expired' | 'Revoked' {
  if (row.revoked_at) return 'Revoked';
  if (row.expires_at && row.expires_at.getTime() <= now) return 'Expired';
  return 'Active';
}

function toProto(row: JoinTokenRow): stateV1.JoinToken {
  return {
    joinTokenId: row.join_token_id,
    cluster: row.cluster ?? '',
    description: row.description,
    status: status(row),
    createdAt: ms(row.created_at),
    expiresAt: ms(row.expires_at),
    revokedAt: ms(row.revoked_at),
    lastUsedAt: ms(row.last_used_at),
  };
}

/** What an operator does about a refused agent, in every refusal's message. */
function remedy(cluster: string): string {
  return (
    `Create a join token with \`wharf admin join-token create --cluster ${cluster}\` ` +
    `and set WHARF_JOIN_TOKEN on the agent to it.`
  );
}

/**
 * Create / List / Revoke join tokens (see the rpcs in state.proto), and `admit`, which
 * RegisterContainerInstance asks before it registers an agent when tokens are required.
 */
export class JoinTokensUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
  ) {}

  private get pool(): Pool {
    return this.ctx.pool;
  }

  async create(req: stateV1.CreateJoinTokenRequest): Promise<stateV1.JoinTokenSecret> {
    const cluster = req.cluster ? clusterNameOf(req.cluster) : null;
    if (cluster !== null && !(await this.clusters.exists(this.pool, cluster))) {
      throw new ClusterNotFoundError();
    }
    const expiresIn = Number(req.expiresInSeconds);
    if (!Number.isInteger(expiresIn) || expiresIn < 0 || expiresIn > MAX_EXPIRES_IN_SECONDS) {
      throw new InvalidParameterError(
        `expiresInSeconds must be 0 (never) or a whole number of seconds up to ${MAX_EXPIRES_IN_SECONDS}.`,
      );
    }
    if (!DESCRIPTION.test(req.description)) {
      throw new InvalidParameterError(
        'description must be at most 128 printable ASCII characters.',
      );
    }
    const token = newJoinToken();
    const { rows } = await this.pool.query<JoinTokenRow>(
      `INSERT INTO join_tokens (join_token_id, secret_hash, cluster, description, expires_at)
       VALUES ($1, $2, $3, $4,
               CASE WHEN $5::bigint > 0 THEN now() + make_interval(secs => $5::bigint) END)
       RETURNING *`,
      [token.id, hashJoinTokenSecret(token), cluster, req.description, expiresIn],
    );
    this.ctx.logger.info(
      { joinTokenId: token.id, cluster: cluster ?? '*', expiresAt: rows[0].expires_at },
      'join token created',
    );
    return { token: toProto(rows[0]), joinToken: token.token };
  }

  async list(): Promise<stateV1.ListJoinTokensResponse> {
    const { rows } = await this.pool.query<JoinTokenRow>(
      'SELECT * FROM join_tokens ORDER BY created_at, join_token_id',
    );
    return { tokens: rows.map((row) => toProto(row)) };
  }

  async revoke(req: stateV1.RevokeJoinTokenRequest): Promise<stateV1.JoinToken> {
    const id = req.joinTokenId.trim();
    if (!isJoinTokenId(id)) {
      throw new NotFoundError('Join token not found.', 'ResourceNotFoundException');
    }
    const { rows } = await this.pool.query<JoinTokenRow>(
      `UPDATE join_tokens SET revoked_at = COALESCE(revoked_at, now())
        WHERE join_token_id = $1 RETURNING *`,
      [id],
    );
    if (!rows[0]) throw new NotFoundError('Join token not found.', 'ResourceNotFoundException');
    this.ctx.logger.info({ joinTokenId: id }, 'join token revoked');
    return toProto(rows[0]);
  }

  /**
   * Lets an agent register in `cluster` (a name) with `presented`, or throws JoinRefusedError
   * saying why and what to do; returns the token's id, which the instance records. Runs in the
   * registration's transaction `tx` with the token's row locked, so a revoke that commits first
   * keeps the agent out and one that comes after waits for the registration. A returning
   * instance (`returning`: the instance the agent names, not deregistered) may present the very
   * token it was admitted with after that token expired, so that restarting an agent never
   * costs a host its place; a revoked token, or another token past its expiry, is refused. The
   * refusal never says whether an id exists with another secret: unknown and wrong are the
   * same answer.
   */
  async admit(
    tx: PoolClient,
    presented: string,
    cluster: string,
    returning?: { joinTokenId: string | null },
  ): Promise<string> {
    if (!presented.trim()) {
      throw new JoinRefusedError(
        `This cluster requires agents to present a join token, and none was given. ${remedy(cluster)}`,
        GrpcCode.UNAUTHENTICATED,
      );
    }
    const parsed = parseJoinToken(presented);
    if (!parsed) {
      throw new JoinRefusedError(
        `WHARF_JOIN_TOKEN is not a join token (they look like wjt_<16 characters>_<32 characters>). ${remedy(cluster)}`,
        GrpcCode.UNAUTHENTICATED,
      );
    }
    // Postgres's clock set expires_at, so it says whether the token has expired.
    const { rows } = await tx.query<JoinTokenRow & { db_now: Date }>(
      'SELECT *, now() AS db_now FROM join_tokens WHERE join_token_id = $1 FOR UPDATE',
      [parsed.id],
    );
    const row = rows[0];
    if (!row || !joinTokenMatches(parsed, row.secret_hash)) {
      throw new JoinRefusedError(
        `The join token is not known to this cluster. ${remedy(cluster)}`,
        GrpcCode.UNAUTHENTICATED,
      );
    }
    switch (status(row, row.db_now.getTime())) {
      case 'Revoked':
        throw new JoinRefusedError(
          `Join token ${row.join_token_id} was revoked. ${remedy(cluster)}`,
          GrpcCode.UNAUTHENTICATED,
        );
      case 'Expired':
        if (returning?.joinTokenId === row.join_token_id) break;
        throw new JoinRefusedError(
          `Join token ${row.join_token_id} expired at ${row.expires_at!.toISOString()}. ${remedy(cluster)}`,
          GrpcCode.UNAUTHENTICATED,
        );
      case 'Active':
        break;
    }
    if (row.cluster !== null && row.cluster !== cluster) {
      throw new JoinRefusedError(
        `Join token ${row.join_token_id} is for cluster ${row.cluster}, not ${cluster}. ${remedy(cluster)}`,
        GrpcCode.PERMISSION_DENIED,
      );
    }
    await tx.query('UPDATE join_tokens SET last_used_at = now() WHERE join_token_id = $1', [
      row.join_token_id,
    ]);
    return row.join_token_id;
  }
}
