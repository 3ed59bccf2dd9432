import { randomUUID } from 'node:crypto';
import { clusterNameOf, ClusterNotFoundError, InvalidParameterError } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';

/** How long a client token is remembered (ECS keeps them for at least this long). */
export const CLIENT_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
/** A reservation its owner never completed (it crashed) can be taken over after this. */
export const CLIENT_TOKEN_ABANDONED_MS = 2 * 60 * 1000;
export const MAX_CLIENT_TOKEN_LENGTH = 64;

interface TokenRow {
  request_hash: string;
  task_arns: string[] | null;
  failures: unknown[];
}

/**
 * RunTask client tokens, per cluster. Reserving inserts the token, or — when it exists —
 * tells the caller what the earlier request was. The insert is the only arbiter: of two
 * requests reserving the same token at once exactly one owns it. An expired token (24 h) or
 * an abandoned reservation is replaced in the same statement, under a new reservation id:
 * Complete and Release act only for the current one (an empty id, from a caller that predates
 * them, acts for any).
 */
export class ClientTokensUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
  ) {}

  async reserve(
    req: stateV1.ReserveClientTokenRequest,
  ): Promise<stateV1.ReserveClientTokenResponse> {
    const cluster = await this.cluster(req.cluster, req.clientToken);
    for (let attempt = 0; attempt < 3; attempt++) {
      const reservation = randomUUID();
      const inserted = await this.ctx.pool.query(
        `INSERT INTO run_task_client_tokens (cluster, client_token, request_hash, reservation)
         VALUES ($1, $2, $3, $6)
         ON CONFLICT (cluster, client_token) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, task_arns = NULL, failures = '[]',
               created_at = now(), reservation = EXCLUDED.reservation
         WHERE run_task_client_tokens.created_at
                 < now() - make_interval(secs => $4::double precision / 1000)
            OR (run_task_client_tokens.task_arns IS NULL AND run_task_client_tokens.created_at
                 < now() - make_interval(secs => $5::double precision / 1000))
         RETURNING 1`,
        [
          cluster,
          req.clientToken,
          req.requestHash,
          CLIENT_TOKEN_TTL_MS,
          CLIENT_TOKEN_ABANDONED_MS,
          reservation,
        ],
      );
      if (inserted.rowCount) {
        return {
          reserved: true,
          requestHash: '',
          completed: false,
          taskArns: [],
          failuresJson: '',
          reservation,
        };
      }
      const { rows } = await this.ctx.pool.query<TokenRow>(
        `SELECT request_hash, task_arns, failures FROM run_task_client_tokens
          WHERE cluster = $1 AND client_token = $2`,
        [cluster, req.clientToken],
      );
      // Released between the insert and the read: try to reserve again.
      if (!rows[0]) continue;
      return {
        reserved: false,
        requestHash: rows[0].request_hash,
        completed: rows[0].task_arns !== null,
        taskArns: rows[0].task_arns ?? [],
        failuresJson: JSON.stringify(rows[0].failures ?? []),
        reservation: '',
      };
    }
    throw new InvalidParameterError('clientToken is in use by concurrent requests; retry.');
  }

  async complete(req: stateV1.CompleteClientTokenRequest): Promise<stateV1.ClientTokenAck> {
    const cluster = await this.cluster(req.cluster, req.clientToken);
    await this.ctx.pool.query(
      `UPDATE run_task_client_tokens SET task_arns = $3::jsonb, failures = $4::jsonb
        WHERE cluster = $1 AND client_token = $2 AND task_arns IS NULL
          AND ($5 = '' OR reservation = $5)`,
      [
        cluster,
        req.clientToken,
        JSON.stringify(req.taskArns),
        req.failuresJson || '[]',
        req.reservation ?? '',
      ],
    );
    return {};
  }

  async release(req: stateV1.ReleaseClientTokenRequest): Promise<stateV1.ClientTokenAck> {
    const cluster = await this.cluster(req.cluster, req.clientToken);
    await this.ctx.pool.query(
      `DELETE FROM run_task_client_tokens
        WHERE cluster = $1 AND client_token = $2 AND task_arns IS NULL
          AND ($3 = '' OR reservation = $3)`,
      [cluster, req.clientToken, req.reservation ?? ''],
    );
    return {};
  }

  /** Drops tokens older than the TTL (run periodically). */
  async pruneExpired(): Promise<number> {
    const { rowCount } = await this.ctx.pool.query(
      `DELETE FROM run_task_client_tokens
        WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)`,
      [CLIENT_TOKEN_TTL_MS],
    );
    return rowCount ?? 0;
  }

  private async cluster(ref: string, token: string): Promise<string> {
    if (!token || token.length > MAX_CLIENT_TOKEN_LENGTH) {
      throw new InvalidParameterError(
        `clientToken must be 1 to ${MAX_CLIENT_TOKEN_LENGTH} characters.`,
      );
    }
    const cluster = clusterNameOf(ref);
    if (!(await this.clusters.exists(this.ctx.pool, cluster))) throw new ClusterNotFoundError();
    return cluster;
  }
}
