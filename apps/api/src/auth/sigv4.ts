import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { EcsApiError } from '../protocol/ecs-errors';

/**
 * AWS Signature Version 4, checked the way AWS checks it (docs: "Create a signed AWS API
 * request"): the canonical request is rebuilt from what arrived — method, path, query, the
 * headers the client says it signed, the body's SHA-256 — and signed again with the secret of
 * the access key named in the credential scope; the signatures must match, the scope must
 * name this region and service, and the request time must be within 15 minutes.
 */

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** How far a request's time may be from ours, either way (AWS: 15 minutes). */
export const MAX_CLOCK_SKEW_MS = 15 * 60_000;

export interface SignedRequest {
  method: string;
  /** The path as sent, percent-encoded, without the query. */
  path: string;
  /** The query string as sent, without '?'; '' for none. */
  query: string;
  /** Header names in lower case; repeated headers as arrays. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

export interface ParsedAuthorization {
  credential: Credential;
  signedHeaders: string[];
  signature: string;
}

const invalidSignature = (message: string) =>
  new EcsApiError('InvalidSignatureException', message, 400);

/** Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization {
  if (!header) {
    throw new EcsApiError(
      'MissingAuthenticationTokenException',
      'Missing Authentication Token',
      400,
    );
  }
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== ALGORITHM) {
    throw new EcsApiError(
      'IncompleteSignatureException',
      `Unsupported AWS 'algorithm': '${algorithm}'. Sign requests with ${ALGORITHM}.`,
      400,
    );
  }
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((f) => !fields.get(f));
  if (missing.length > 0) {
    throw new EcsApiError(
      'IncompleteSignatureException',
      `Authorization header requires ${missing.map((m) => `'${m}'`).join(', ')} parameter(s).`,
      400,
    );
  }
  const scope = fields.get('Credential')!.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !scope[0]) {
    throw new EcsApiError(
      'IncompleteSignatureException',
      "Credential must have the form '<access key id>/<yyyymmdd>/<region>/<service>/aws4_request'.",
      400,
    );
  }
  return {
    credential: { accessKeyId: scope[0], date: scope[1], region: scope[2], service: scope[3] },
    signedHeaders: fields.get('SignedHeaders')!.split(';'),
    signature: fields.get('Signature')!,
  };
}

/** RFC 3986 encoding, as SigV4 wants it (unreserved characters stay). */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    return value;
  }
}

/** Each path segment encoded once (services other than S3 normalise and encode the path). */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const s of (path || '/').split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  const joined = `/${segments.map((s) => uriEncode(decode(s))).join('/')}`;
  return path.endsWith('/') && joined !== '/' ? `${joined}/` : joined;
}

function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const key = eq < 0 ? p : p.slice(0, eq);
      const value = eq < 0 ? '' : p.slice(eq + 1);
      return [uriEncode(decode(key)), uriEncode(decode(value))] as const;
    })
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function headerValue(value: string | string[] | undefined): string {
  const values = Array.isArray(value) ? value : [value ?? ''];
  return values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',');
}

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data).digest();

/** The request's time from X-Amz-Date (basic ISO 8601, e.g. 20150830T123600Z), in ms. */
export function requestTime(amzDate: string | undefined): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate ?? '');
  if (!m) return undefined;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

/** The signature a request should carry, signed with `secret`. */
export function expectedSignature(
  req: SignedRequest,
  auth: ParsedAuthorization,
  amzDate: string,
  secret: string,
): string {
  const { credential } = auth;
  const signed = [...auth.signedHeaders].sort();
  // The body is always hashed here: a client's x-amz-content-sha256 is only a claim about it
  // (and, when signed, part of the canonical headers, so a false one fails the check below).
  const payloadHash = sha256Hex(req.body);
  const canonicalRequest = [
    req.method.toUpperCase(),
    canonicalPath(req.path),
    canonicalQuery(req.query),
    signed.map((h) => `${h}:${headerValue(req.headers[h])}\n`).join(''),
    signed.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${credential.date}/${credential.region}/${credential.service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${secret}`, credential.date), credential.region), credential.service),
    'aws4_request',
  );
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

export interface VerifyOptions {
  region: string;
  service: string;
  now: number;
  /** The secret of an active key, or undefined when the key is unknown or revoked. */
  secretOf: (accessKeyId: string) => Promise<string | undefined>;
}

/** Checks a SigV4-signed request; resolves to its access key id, or throws the AWS error. */
export async function verifySigV4(req: SignedRequest, options: VerifyOptions): Promise<string> {
  const auth = parseAuthorization(headerValue(req.headers.authorization) || undefined);
  const amzDate = headerValue(req.headers['x-amz-date']);
  const at = requestTime(amzDate);
  if (at === undefined) {
    throw new EcsApiError(
      'IncompleteSignatureException',
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header in basic ISO 8601 form (yyyymmddThhmmssZ).",
      400,
    );
  }
  if (!auth.signedHeaders.includes('host')) {
    throw invalidSignature("The 'host' header must be signed.");
  }
  if (auth.signedHeaders.some((h) => h !== h.toLowerCase() || req.headers[h] === undefined)) {
    throw invalidSignature('SignedHeaders names a header the request does not have.');
  }
  if (auth.credential.date !== amzDate.slice(0, 8)) {
    throw invalidSignature(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.credential.date}' != '${amzDate.slice(0, 8)}'.`,
    );
  }
  if (auth.credential.region !== options.region) {
    throw invalidSignature(
      `Credential should be scoped to a valid region, not '${auth.credential.region}' (this endpoint is '${options.region}').`,
    );
  }
  if (auth.credential.service !== options.service) {
    throw invalidSignature(`Credential should be scoped to correct service: '${options.service}'.`);
  }
  if (Math.abs(options.now - at) > MAX_CLOCK_SKEW_MS) {
    throw invalidSignature(
      `Signature expired: ${amzDate} is now earlier than ${basicIso(options.now - MAX_CLOCK_SKEW_MS)} (${basicIso(options.now)} - 15 min.)`,
    );
  }
  const secret = await options.secretOf(auth.credential.accessKeyId);
  if (secret === undefined) {
    throw new EcsApiError(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
      400,
    );
  }
  const expected = Buffer.from(expectedSignature(req, auth, amzDate, secret), 'utf8');
  const given = Buffer.from(auth.signature, 'utf8');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw invalidSignature(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return auth.credential.accessKeyId;
}

function basicIso(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
