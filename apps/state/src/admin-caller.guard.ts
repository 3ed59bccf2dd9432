import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call';
import { ClientError, GrpcCode } from '@wharf/domain';

/**
 * State's rpcs that hand out or check credentials: access keys (the api resolves them to
 * verify signatures; `wharf admin` makes them) and agents' join tokens.
 */
export const ADMIN_RPCS: ReadonlySet<string> = new Set([
  'createAccessKey',
  'listAccessKeys',
  'revokeAccessKey',
  'resolveAccessKey',
  'createJoinToken',
  'listJoinTokens',
  'revokeJoinToken',
]);

/**
 * With mutual TLS, every internal caller has a certificate from the CA, agents' hosts
 * included: the certificate says who calls, and only the names in `allowed` (the api's, whose
 * container also runs `wharf admin`) may call the ADMIN_RPCS. State installs it only with TLS:
 * without, nothing tells callers apart, and the internal gRPC ports must be reachable from
 * Wharf's own services only.
 */
export class AdminCallerGuard implements CanActivate {
  constructor(private readonly allowed: readonly string[]) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'rpc') return true;
    if (!ADMIN_RPCS.has(context.getHandler().name)) return true;
    const call = context.getArgByIndex<ServerSurfaceCall | undefined>(2);
    // A subject may repeat CN (node then gives a list): every one must be allowed.
    const cn = call?.getAuthContext?.()?.sslPeerCertificate?.subject?.CN;
    const names = cn === undefined ? [] : ([] as string[]).concat(cn);
    const name = names.join(', ');
    if (names.length > 0 && names.every((n) => this.allowed.includes(n))) return true;
    throw new ClientError(
      `${context.getHandler().name} is only for ${this.allowed.join(', ')}: the caller's certificate names ${name ? `'${name}'` : 'no one'}. Run \`wharf admin\` where the api's certificate is (its container), or add the name to STATE_ADMIN_CLIENTS.`,
      GrpcCode.PERMISSION_DENIED,
    );
  }
}
