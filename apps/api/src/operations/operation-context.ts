import type { ArnContext } from '@wharf/domain';
import type { schedulerV1, stateV1 } from '@wharf/proto';
import { firstValueFrom, Observable } from 'rxjs';
import { EcsApiError, toEcsError } from '../protocol/ecs-errors';

/** What an ECS operation handler may use: the peers it calls and the ARN context. */
export interface OperationContext {
  state: stateV1.StateServiceClient;
  scheduler: schedulerV1.SchedulerServiceClient;
  arnContext: ArnContext;
  /**
   * Who made the request, as the authenticator names it: an access key id, `dev:<id>` or
   * `dev:anonymous` (API_AUTH=dev); absent when unknown (account settings use the root user).
   */
  principal?: string;
}

export type Json = Record<string, unknown>;
/** Input has already been checked against the operation's input shape in the ECS model. */
export type OperationHandler = (input: Json, ctx: OperationContext) => Promise<Json>;

/** The peer a gRPC call went to and the status code it failed with. */
export interface PeerFailure {
  peer: 'state' | 'scheduler' | undefined;
  code: number;
}

/** Where `call` keeps the PeerFailure on the error it throws: never part of an ECS answer. */
const PEER_FAILURE = 'peerFailure';

/**
 * Awaits one gRPC call and turns its failure into the ECS error the client should see; the
 * original error rides along as `cause` so the request log can show it when it is internal.
 * The gRPC status code (and the peer) ride along too, as a non-enumerable property the ECS
 * answer never shows: the `/v1` routes tell a missing resource (NOT_FOUND) and an unreachable
 * peer (UNAVAILABLE) by it, which ECS names only as ClientException or ServerException.
 */
export async function call<T>(peer: 'state' | 'scheduler', obs: Observable<T>): Promise<T> {
  try {
    return await firstValueFrom(obs);
  } catch (err) {
    const { error, internal } = toEcsError(err, `The ${peer} service`);
    if (internal) (error as { cause?: unknown }).cause = err;
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'number' && error !== err) {
      Object.defineProperty(error, PEER_FAILURE, {
        value: { peer, code } satisfies PeerFailure,
        enumerable: false,
        configurable: true,
      });
    }
    throw error;
  }
}

/**
 * The peer and gRPC status code of a failed call: from the error `call` threw, or from a
 * gRPC error as it is (its peer then unknown). Undefined for any other error.
 */
export function peerFailureOf(err: unknown): PeerFailure | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const kept = (err as Record<string, unknown>)[PEER_FAILURE] as PeerFailure | undefined;
  if (kept) return kept;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && ('details' in err || 'metadata' in err)) {
    return { peer: undefined, code };
  }
  return undefined;
}

export function invalidParameter(message: string): EcsApiError {
  return new EcsApiError('InvalidParameterException', message);
}

export function checkMaxResults(value: unknown, max = 100): number {
  if (value === undefined) return 0;
  const n = value as number;
  if (n < 1 || n > max) throw invalidParameter(`maxResults must be between 1 and ${max}.`);
  return n;
}

export function checkListSize(name: string, list: unknown[], max: number): void {
  if (list.length === 0) throw invalidParameter(`${name} cannot be empty.`);
  if (list.length > max) throw invalidParameter(`${name} can have at most ${max} items.`);
}

export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
