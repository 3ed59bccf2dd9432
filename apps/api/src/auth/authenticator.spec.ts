import { createLogger } from '@wharf/observability';
import type { stateV1 } from '@wharf/proto';
import { Authenticator } from './authenticator';

describe('Authenticator in development mode', () => {
  const auth = new Authenticator(
    {} as stateV1.StateServiceClient, // never asked: development mode checks no key
    { mode: 'dev', region: 'us-east-1', cacheMs: 1_000 },
    createLogger('test', 'silent'),
  );
  const request = (authorization?: string) => ({
    method: 'POST',
    path: '/',
    query: '',
    headers: authorization ? { authorization } : {},
    body: Buffer.from('{}'),
  });

  it('names the caller by the access key of a SigV4 header, unverified', async () => {
    const header =
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=00';
    await expect(auth.ecs(request(header))).resolves.toBe('dev:AKIDEXAMPLE');
  });

  it('answers anonymous without an Authorization header, or with one it cannot read', async () => {
    await expect(auth.ecs(request())).resolves.toBe('dev:anonymous');
    await expect(auth.ecs(request('Basic Zm9vOmJhcg=='))).resolves.toBe('dev:anonymous');
  });
});
