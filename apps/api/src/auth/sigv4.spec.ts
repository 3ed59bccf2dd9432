import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac } from 'node:crypto';
import { EcsApiError } from '../protocol/ecs-errors';
import { parseAuthorization, SignedRequest, verifySigV4 } from './sigv4';

/** node:crypto in the shape the SDK's signer wants (what @smithy/hash-node does). */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData) =>
  typeof d === 'string'
    ? d
    : d instanceof ArrayBuffer
      ? new Uint8Array(d)
      : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}

const KEY = {
  accessKeyId: 'WKIAEXAMPLEEXAMPLE22',
  secretAccessKey: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXM=',
};
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

/** A request signed by the AWS SDK's own signer, as an ECS client would send it. */
async function signed(
  body: string,
  more: {
    region?: string;
    service?: string;
    at?: number;
    path?: string;
    query?: Record<string, string>;
  } = {},
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    credentials: KEY,
    region: more.region ?? 'us-east-1',
    service: more.service ?? 'ecs',
    sha256: Sha256,
  });
  const request = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 4700,
      path: more.path ?? '/',
      query: more.query ?? {},
      headers: {
        host: '127.0.0.1:4700',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters',
        'user-agent': 'aws-sdk-js/3 test',
      },
      body,
    },
    { signingDate: new Date(more.at ?? NOW) },
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
  const query = new URLSearchParams(request.query as Record<string, string>).toString();
  return { method: 'POST', path: request.path, query, headers, body: Buffer.from(body) };
}

const options = (secrets: Record<string, string> = { [KEY.accessKeyId]: KEY.secretAccessKey }) => ({
  region: 'us-east-1',
  service: 'ecs',
  now: NOW,
  secretOf: (id: string) => Promise.resolve(secrets[id]),
});

async function refusal(p: Promise<unknown>): Promise<EcsApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EcsApiError);
  return err as EcsApiError;
}

describe('verifySigV4', () => {
  it('accepts a request the AWS SDK signed, naming its key', async () => {
    const req = await signed('{"maxResults":10}');
    expect(await verifySigV4(req, options())).toBe(KEY.accessKeyId);
  });

  it('accepts a path and a query string the signer encoded', async () => {
    const req = await signed('{}', { path: '/a b/c', query: { z: '1', a: 'x y', 'k*': 'v~' } });
    expect(await verifySigV4(req, options())).toBe(KEY.accessKeyId);
  });

  it('refuses a body changed after signing', async () => {
    const req = await signed('{"maxResults":10}');
    const err = await refusal(
      verifySigV4({ ...req, body: Buffer.from('{"maxResults":11}') }, options()),
    );
    expect(err.type).toBe('InvalidSignatureException');
    expect(err.message).toMatch(/^The request signature we calculated does not match/);
  });

  it('refuses a signed header changed after signing', async () => {
    const req = await signed('{}');
    const tampered = {
      ...req,
      headers: {
        ...req.headers,
        'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DeleteCluster',
      },
    };
    expect((await refusal(verifySigV4(tampered, options()))).type).toBe(
      'InvalidSignatureException',
    );
  });

  it('refuses a key it does not know (or one revoked) as UnrecognizedClientException', async () => {
    const req = await signed('{}');
    const err = await refusal(verifySigV4(req, options({})));
    expect(err.type).toBe('UnrecognizedClientException');
    expect(err.message).toBe('The security token included in the request is invalid.');
  });

  it('refuses the right key with the wrong secret', async () => {
    const req = await signed('{}');
    const err = await refusal(verifySigV4(req, options({ [KEY.accessKeyId]: 'not-the-secret' })));
    expect(err.type).toBe('InvalidSignatureException');
  });

  it('refuses requests signed too long ago or in the future, and for another region or service', async () => {
    for (const at of [NOW - 16 * 60_000, NOW + 16 * 60_000]) {
      const err = await refusal(verifySigV4(await signed('{}', { at }), options()));
      expect(err.type).toBe('InvalidSignatureException');
      expect(err.message).toMatch(/^Signature expired/);
    }
    expect(await verifySigV4(await signed('{}', { at: NOW - 14 * 60_000 }), options())).toBe(
      KEY.accessKeyId,
    );
    const region = await refusal(
      verifySigV4(await signed('{}', { region: 'eu-west-1' }), options()),
    );
    expect(region.message).toMatch(/valid region, not 'eu-west-1'/);
    const service = await refusal(verifySigV4(await signed('{}', { service: 's3' }), options()));
    expect(service.message).toMatch(/correct service: 'ecs'/);
  });

  it('answers a request without a signature, or with a malformed one, with the AWS error', async () => {
    const req = await signed('{}');
    const { authorization: _, ...unsigned } = req.headers;
    const missing = await refusal(verifySigV4({ ...req, headers: unsigned }, options()));
    expect(missing.type).toBe('MissingAuthenticationTokenException');
    for (const header of [
      'Bearer abc',
      'AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00',
      'AWS4-HMAC-SHA256 SignedHeaders=host',
    ]) {
      const err = await refusal(
        verifySigV4({ ...req, headers: { ...req.headers, authorization: header } }, options()),
      );
      expect(err.type).toBe('IncompleteSignatureException');
    }
  });

  it('parses the authorization header', () => {
    expect(
      parseAuthorization(
        'AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc',
      ),
    ).toEqual({
      credential: { accessKeyId: 'AKID', date: '20261125', region: 'us-east-1', service: 'ecs' },
      signedHeaders: ['host', 'x-amz-date'],
      signature: 'abc',
    });
  });
});
