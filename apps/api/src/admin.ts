/**
 * `wharf admin`: the administrator's command, run where state is reachable (in the stack:
 * `docker compose exec api wharf admin …`).
 *
 *   wharf admin access-key create --name NAME [--format json|env]
 *   wharf admin access-key list
 *   wharf admin access-key revoke ACCESS_KEY_ID
 *   wharf admin join-token create [--cluster CLUSTER] [--expires-in 24h] [--description TEXT]
 *                                 [--format json|env|token]
 *   wharf admin join-token list
 *   wharf admin join-token revoke JOIN_TOKEN_ID
 *
 * `create` prints the new key's secret, once, on standard output (nothing else ever shows it);
 * `--format env` prints AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY lines for `eval`.
 * A join token is what an agent presents when it registers (WHARF_JOIN_TOKEN): for one cluster
 * (`--cluster`) or any, never expiring unless `--expires-in` (s, m, h, d: `90m`, `1d12h`);
 * `create` shows it once (`--format env`: WHARF_JOIN_TOKEN=…, `token`: the token alone).
 * STATE_URL says where state is (default 127.0.0.1:4701); GRPC_TLS_* as for every service.
 */
import { createStateClient, type GrpcClient, type stateV1 } from '@wharf/proto';
import { firstValueFrom } from 'rxjs';
import { parseArgs } from 'node:util';

const USAGE = `usage:
  wharf admin access-key create --name NAME [--format json|env]
  wharf admin access-key list
  wharf admin access-key revoke ACCESS_KEY_ID
  wharf admin join-token create [--cluster CLUSTER] [--expires-in 24h] [--description TEXT]
                                [--format json|env|token]
  wharf admin join-token list
  wharf admin join-token revoke JOIN_TOKEN_ID`;

class UsageError extends Error {}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * `--expires-in`: whole numbers with units s, m, h, d, largest first (`45s`, `90m`, `1d12h`)
 * → seconds. Anything else, or zero, is a usage error.
 */
export function parseDurationSeconds(text: string): number {
  const trimmed = text.trim();
  if (!/^(\d+[dhms])+$/.test(trimmed)) {
    throw new UsageError(`--expires-in must look like 30m, 24h or 7d, not '${text}'`);
  }
  let seconds = 0;
  for (const [, n, unit] of trimmed.matchAll(/(\d+)([dhms])/g)) {
    seconds += Number(n) * DURATION_UNITS[unit];
  }
  if (seconds <= 0) throw new UsageError('--expires-in must be longer than 0s');
  return seconds;
}

const iso = (epochMs: number): string | null => (epochMs ? new Date(epochMs).toISOString() : null);

function joinTokenJson(t: stateV1.JoinToken): Record<string, unknown> {
  return {
    joinTokenId: t.joinTokenId,
    cluster: t.cluster || '*',
    description: t.description,
    status: t.status,
    createdAt: iso(Number(t.createdAt)),
    expiresAt: iso(Number(t.expiresAt)),
    revokedAt: iso(Number(t.revokedAt)),
    lastUsedAt: iso(Number(t.lastUsedAt)),
  };
}

async function runJoinToken(
  action: string | undefined,
  rest: string[],
  values: { cluster?: string; 'expires-in'?: string; description?: string; format?: string },
  state: stateV1.StateServiceClient,
  out: (line: string) => void,
): Promise<void> {
  switch (action) {
    case 'create': {
      const format = values.format ?? 'json';
      if (format !== 'json' && format !== 'env' && format !== 'token') {
        throw new UsageError(`--format must be json, env or token, not '${format}'`);
      }
      const expiresInSeconds =
        values['expires-in'] !== undefined ? parseDurationSeconds(values['expires-in']) : 0;
      const created = await firstValueFrom(
        state.createJoinToken({
          cluster: values.cluster ?? '',
          expiresInSeconds,
          description: values.description ?? '',
        }),
      );
      if (format === 'env') out(`WHARF_JOIN_TOKEN=${created.joinToken}`);
      else if (format === 'token') out(created.joinToken);
      else out(JSON.stringify({ joinToken: created.joinToken, ...joinTokenJson(created.token!) }));
      return;
    }
    case 'list': {
      const { tokens } = await firstValueFrom(state.listJoinTokens({}));
      for (const t of tokens) out(JSON.stringify(joinTokenJson(t)));
      return;
    }
    case 'revoke': {
      const [id] = rest;
      if (!id) throw new UsageError('revoke needs the join token id (see join-token list)');
      const revoked = await firstValueFrom(state.revokeJoinToken({ joinTokenId: id }));
      out(JSON.stringify({ joinTokenId: revoked.joinTokenId, status: revoked.status }));
      return;
    }
    default:
      throw new UsageError(`unknown action '${action ?? ''}'`);
  }
}

export async function runAdmin(
  argv: string[],
  state: stateV1.StateServiceClient,
  out: (line: string) => void,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      format: { type: 'string' },
      cluster: { type: 'string' },
      'expires-in': { type: 'string' },
      description: { type: 'string' },
    },
  });
  const [resource, action, ...rest] = positionals;
  if (resource === 'join-token') return runJoinToken(action, rest, values, state, out);
  if (resource !== 'access-key') throw new UsageError(`unknown resource '${resource ?? ''}'`);
  switch (action) {
    case 'create': {
      if (!values.name) throw new UsageError('create needs --name (what the key is for)');
      values.format ??= 'json';
      if (values.format !== 'json' && values.format !== 'env') {
        throw new UsageError(`--format must be json or env, not '${values.format}'`);
      }
      const created = await firstValueFrom(state.createAccessKey({ name: values.name }));
      if (values.format === 'env') {
        out(`AWS_ACCESS_KEY_ID=${created.key!.accessKeyId}`);
        out(`AWS_SECRET_ACCESS_KEY=${created.secretAccessKey}`);
      } else {
        out(
          JSON.stringify({
            accessKeyId: created.key!.accessKeyId,
            secretAccessKey: created.secretAccessKey,
            name: created.key!.name,
          }),
        );
      }
      return;
    }
    case 'list': {
      const { keys } = await firstValueFrom(state.listAccessKeys({}));
      for (const k of keys) {
        out(
          JSON.stringify({
            accessKeyId: k.accessKeyId,
            name: k.name,
            status: k.status,
            createdAt: new Date(Number(k.createdAt)).toISOString(),
          }),
        );
      }
      return;
    }
    case 'revoke': {
      const [id] = rest;
      if (!id) throw new UsageError('revoke needs the access key id');
      const revoked = await firstValueFrom(state.revokeAccessKey({ accessKeyId: id }));
      out(JSON.stringify({ accessKeyId: revoked.accessKeyId, status: revoked.status }));
      return;
    }
    default:
      throw new UsageError(`unknown action '${action ?? ''}'`);
  }
}

function connect(): GrpcClient<stateV1.StateServiceClient> {
  try {
    return createStateClient(process.env.STATE_URL ?? '127.0.0.1:4701');
  } catch (err) {
    // A bad GRPC_TLS_* setting: say which, without a stack trace.
    process.stderr.write(`wharf admin: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (require.main === module) {
  const state = connect();
  runAdmin(process.argv.slice(2), state.client, (line) => process.stdout.write(`${line}\n`))
    .then(() => state.close())
    .catch((err: unknown) => {
      state.close();
      const code = (err as { code?: unknown }).code;
      // gRPC errors have numeric codes; parseArgs's are strings.
      if (
        err instanceof UsageError ||
        (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))
      ) {
        process.stderr.write(`wharf admin: ${(err as Error).message}\n${USAGE}\n`);
        process.exit(2);
      }
      const details = (err as { details?: string }).details ?? (err as Error).message;
      process.stderr.write(`wharf admin: ${details}\n`);
      process.exit(1);
    });
}
