/**
 * `wharf admin`: the administrator's command, run where state is reachable (in the stack:
 * `docker compose exec api wharf admin …`).
 *
 *   wharf admin access-key create --name NAME [--format json|env]
 *   wharf admin access-key list
 *   wharf admin access-key revoke ACCESS_KEY_ID
 *
 * `create` prints the new key's secret, once, on standard output (nothing else ever shows it);
 * `--format env` prints AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY lines for `eval`.
 * STATE_URL says where state is (default 127.0.0.1:4701).
 */
import { createStateClient, type stateV1 } from '@wharf/proto';
import { firstValueFrom } from 'rxjs';
import { parseArgs } from 'node:util';

const USAGE = `usage:
  wharf admin access-key create --name NAME [--format json|env]
  wharf admin access-key list
  wharf admin access-key revoke ACCESS_KEY_ID`;

class UsageError extends Error {}

export async function runAdmin(
  argv: string[],
  state: stateV1.StateServiceClient,
  out: (line: string) => void,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, format: { type: 'string', default: 'json' } },
  });
  const [resource, action, ...rest] = positionals;
  if (resource !== 'access-key') throw new UsageError(`unknown resource '${resource ?? ''}'`);
  switch (action) {
    case 'create': {
      if (!values.name) throw new UsageError('create needs --name (what the key is for)');
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

if (require.main === module) {
  const state = createStateClient(process.env.STATE_URL ?? '127.0.0.1:4701');
  runAdmin(process.argv.slice(2), state.client, (line) => process.stdout.write(`${line}\n`))
    .then(() => state.close())
    .catch((err: unknown) => {
      state.close();
      if (
        err instanceof UsageError ||
        (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ) {
        process.stderr.write(`wharf admin: ${(err as Error).message}\n${USAGE}\n`);
        process.exit(2);
      }
      const details = (err as { details?: string }).details ?? (err as Error).message;
      process.stderr.write(`wharf admin: ${details}\n`);
      process.exit(1);
    });
}
