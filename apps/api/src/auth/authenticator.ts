import { GrpcCode } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { firstValueFrom } from 'rxjs';
import { timingSafeEqual } from 'node:crypto';
import { EcsApiError } from '../protocol/ecs-errors';
import { parseAuthorization, SignedRequest, verifySigV4 } from './sigv4';

export interface AuthSettings {
  /** `sigv4`: every request must be signed with an active key; `dev`: any key, or none. */
  mode: 'sigv4' | 'dev';
  region: string;
  /** How long a key's secret is trusted before state is asked again (a revocation's delay). */
  cacheMs: number;
}

/** Who made a request: the access key id (`dev:<id>` or `dev:anonymous` in development mode). */
export type Principal = string;

/**
 * Authenticates api requests against the access keys state keeps: SigV4 on the ECS protocol,
 * `Authorization: Bearer <access key id>:<secret>` on `/v1`. Secrets are cached briefly and
 * never logged. In development mode nothing is checked (the api says so at start).
 */
export class Authenticator {
  private readonly secrets = new Map<string, { secret: string | undefined; until: number }>();

  constructor(
    private readonly state: stateV1.StateServiceClient,
    private readonly settings: AuthSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get mode(): AuthSettings['mode'] {
    return this.settings.mode;
  }

  /** An ECS protocol request (`POST /`), SigV4-signed for service `ecs`. */
  async ecs(req: SignedRequest): Promise<Principal> {
    if (this.settings.mode === 'dev') return devPrincipal(req.headers.authorization);
    return verifySigV4(req, {
      region: this.settings.region,
      service: 'ecs',
      now: this.now(),
      secretOf: (id) => this.secretOf(id),
    });
  }

  /** A `/v1` request with `Authorization: Bearer <access key id>:<secret>`. */
  async bearer(header: string | undefined): Promise<Principal> {
    if (this.settings.mode === 'dev') return 'dev:anonymous';
    const match = /^Bearer ([A-Z0-9]+):(\S+)$/.exec(header ?? '');
    if (!match) {
      throw new EcsApiError(
        header ? 'IncompleteSignatureException' : 'MissingAuthenticationTokenException',
        header
          ? "Authorization must be 'Bearer <access key id>:<secret access key>'."
          : "Missing Authentication Token: send 'Authorization: Bearer <access key id>:<secret access key>'.",
        401,
      );
    }
    const [, id, given] = match;
    const secret = await this.secretOf(id);
    const a = Buffer.from(secret ?? '');
    const b = Buffer.from(given);
    if (secret === undefined || a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new EcsApiError(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
        401,
      );
    }
    return id;
  }

  private async secretOf(accessKeyId: string): Promise<string | undefined> {
    const cached = this.secrets.get(accessKeyId);
    if (cached && cached.until > this.now()) return cached.secret;
    let secret: string | undefined;
    try {
      const answer = await firstValueFrom(this.state.resolveAccessKey({ accessKeyId }));
      secret = answer.secretAccessKey;
    } catch (err) {
      // NOT_FOUND: unknown or revoked. Anything else (state down) is the server's fault.
      if ((err as { code?: number }).code !== GrpcCode.NOT_FOUND) throw err;
      this.logger.info({ accessKeyId }, 'request with an unknown or revoked access key');
    }
    this.secrets.set(accessKeyId, { secret, until: this.now() + this.settings.cacheMs });
    if (this.secrets.size > 10_000) this.secrets.clear();
    return secret;
  }
}

function devPrincipal(authorization: string | string[] | undefined): Principal {
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  // No header is common in development (curl, scripts): answered without building an error.
  if (!header) return 'dev:anonymous';
  try {
    return `dev:${parseAuthorization(header).credential.accessKeyId}`;
  } catch {
    return 'dev:anonymous';
  }
}
