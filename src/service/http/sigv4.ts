import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ApiError } from '../api-error.ts';

/** A key the service accepts: its secret, whether it may only read, and the identity AppFlow records. */
export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly readOnly: boolean;
  /** `arn:aws:iam::<account>:user/<name>`. */
  readonly arn: string;
}

/** Where the verifier looks up secrets (the key store, or a fixed list). */
export interface KeyResolver {
  find(accessKeyId: string): Promise<AccessKey | undefined>;
}

/** A request as received: the raw path and query (not decoded), the headers, and the exact body bytes. */
export interface ReceivedRequest {
  readonly method: string;
  /** Path and query exactly as on the request line, e.g. `/tags/arn%3Aaws%3A...?tagKeys=a`. */
  readonly rawUrl: string;
  /** Node's `rawHeaders` (name, value, name, value, ...), so repeated headers are joined as SigV4 joins them. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export interface VerifyOptions {
  readonly keys: KeyResolver;
  /** The regions the service answers for (the credential scope must name one). */
  readonly regions: readonly string[];
  readonly now: Date;
}

/** The SigV4 clock rule (AWS's REST-JSON services): five minutes either way. */
export const MAX_SKEW_MS = 5 * 60 * 1000;
const SERVICE = 'appflow';

/** SHA-256 / HMAC-SHA-256 in smithy's Checksum shape, over node:crypto. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytes(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export class NodeSha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  reset(): void {
    throw new Error('not supported');
  }
}

function incomplete(message: string): ApiError {
  return new ApiError('IncompleteSignatureException', message);
}

function invalid(message: string): ApiError {
  return new ApiError('InvalidSignatureException', message);
}

export const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  readonly terminator: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

function parseAuthorization(header: string): ParsedAuthorization {
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(header.trim());
  if (!m?.[1]) {
    throw incomplete(`Authorization header must start with 'AWS4-HMAC-SHA256' followed by Credential, SignedHeaders and Signature (AWS Signature Version 4).`);
  }
  const parts = new Map<string, string>();
  for (const part of m[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!parts.get(name)) throw incomplete(`Authorization header requires '${name}' parameter.`);
  }
  const credential = (parts.get('Credential') ?? '').split('/');
  if (credential.length !== 5 || credential.some((c) => c === '')) {
    throw incomplete(`Authorization header's Credential must be <access key id>/<yyyymmdd>/<region>/appflow/aws4_request.`);
  }
  const [accessKeyId, scopeDate, region, service, terminator] = credential as [string, string, string, string, string];
  const signature = parts.get('Signature') ?? '';
  if (!/^[0-9a-f]{64}$/.test(signature)) throw incomplete(`Authorization header's Signature must be 64 lower-case hexadecimal digits.`);
  const signedHeaders = (parts.get('SignedHeaders') ?? '').split(';');
  return { accessKeyId, scopeDate, region, service, terminator, signedHeaders, signature };
}

/** `yyyymmddThhmmssZ` → Date, or undefined when malformed. */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  return Number.isNaN(d.getTime()) || formatAmzDate(d) !== value ? undefined : d;
}

export function formatAmzDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** Header names lower-cased, repeated headers joined with `,` (SigV4's rule, where Node joins with `, `). */
function joinHeaders(rawHeaders: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = rawHeaders[i + 1] ?? '';
    const prev = out.get(name);
    out.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

/** The raw query string as name → value(s), percent-decoded once (`+` stays a plus: SDKs send `%20`). */
function parseQuery(rawQuery: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  if (rawQuery === '') return query;
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = decode(eq < 0 ? '' : pair.slice(eq + 1));
    const prev = query[name];
    query[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return query;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw incomplete(`The query string is not valid percent-encoding.`);
  }
}

export function sha256Hex(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Verify a request's AWS Signature Version 4 (header form) and return the key that signed it, or throw
 * the AWS-named {@link ApiError}: no Authorization → MissingAuthenticationTokenException; malformed →
 * IncompleteSignatureException; unknown key → UnrecognizedClientException; wrong scope, clock outside
 * ±5 minutes, body not matching its hash, or a different signature → InvalidSignatureException.
 *
 * Verification re-signs the request with @smithy/signature-v4 (the SDK's own signer): the raw path (so
 * `%3A` in a tag ARN is encoded again, the non-S3 rule), the raw query, only the signed headers, and the
 * payload hash computed here from the exact body bytes (a signed `x-amz-content-sha256` must equal it;
 * the CLI sends none). Signatures are compared in constant time.
 */
export async function verifySigV4(req: ReceivedRequest, options: VerifyOptions): Promise<AccessKey> {
  const { headers, auth, key, signingDate, rawPath, query } = await checkHeaders(req, options);
  return verifySignature(req, headers, auth, key, signingDate, rawPath, query);
}

/**
 * Every check that needs no body: the Authorization header's form, the scope, the clock and the key.
 * The protocol layer runs it before reading the body, so an unauthenticated caller cannot make the service
 * buffer a body (up to bodyLimit) per connection; {@link verifySigV4} repeats it with the signature.
 */
export async function verifySigV4Headers(req: Omit<ReceivedRequest, 'body'>, options: VerifyOptions): Promise<AccessKey> {
  return (await checkHeaders(req, options)).key;
}

async function checkHeaders(req: Omit<ReceivedRequest, 'body'>, options: VerifyOptions) {
  const headers = joinHeaders(req.rawHeaders);
  const q = req.rawUrl.indexOf('?');
  const rawPath = q < 0 ? req.rawUrl : req.rawUrl.slice(0, q);
  const rawQuery = q < 0 ? '' : req.rawUrl.slice(q + 1);
  const query = parseQuery(rawQuery);
  const authorization = headers.get('authorization');
  if (authorization === undefined || authorization.trim() === '') {
    if (Object.keys(query).some((k) => k.toLowerCase() === 'x-amz-signature' || k.toLowerCase() === 'x-amz-algorithm')) {
      throw incomplete('Presigned URLs (query-string authentication) are not accepted; sign the Authorization header.');
    }
    throw new ApiError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const auth = parseAuthorization(authorization);
  const amzDate = headers.get('x-amz-date');
  if (amzDate === undefined) throw incomplete(`Authorization header requires existence of a 'X-Amz-Date' header.`);
  const signingDate = parseAmzDate(amzDate.trim());
  if (signingDate === undefined) throw incomplete(`X-Amz-Date must be yyyymmddThhmmssZ (ISO 8601 basic format), not '${amzDate.slice(0, 40)}'.`);
  if (auth.terminator !== 'aws4_request') throw invalid(`Credential should be scoped with a valid terminator: 'aws4_request', not '${auth.terminator}'.`);
  if (auth.service !== SERVICE) throw invalid(`Credential should be scoped to correct service: '${SERVICE}'.`);
  if (!options.regions.includes(auth.region)) throw invalid(`Credential should be scoped to a valid region, not '${auth.region}'. This service answers for ${options.regions.join(', ')}.`);
  const dateOfRequest = formatAmzDate(signingDate).slice(0, 8);
  if (auth.scopeDate !== dateOfRequest) {
    throw invalid(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${dateOfRequest}', from '${amzDate}'.`);
  }
  for (const required of ['host', 'x-amz-date']) {
    if (!auth.signedHeaders.includes(required)) throw invalid(`'${required}' must be a 'SignedHeader' in the AWS Authorization.`);
  }
  const now = options.now;
  const skew = signingDate.getTime() - now.getTime();
  if (skew < -MAX_SKEW_MS) {
    const earliest = formatAmzDate(new Date(now.getTime() - MAX_SKEW_MS));
    throw invalid(`Signature expired: ${amzDate} is now earlier than ${earliest} (${formatAmzDate(now)} - 5 min.)`);
  }
  if (skew > MAX_SKEW_MS) {
    const latest = formatAmzDate(new Date(now.getTime() + MAX_SKEW_MS));
    throw invalid(`Signature not yet current: ${amzDate} is still later than ${latest} (${formatAmzDate(now)} + 5 min.)`);
  }
  const key = await options.keys.find(auth.accessKeyId);
  if (key === undefined) throw new ApiError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  return { headers, auth, key, signingDate, rawPath, query };
}

async function verifySignature(req: ReceivedRequest, headers: Map<string, string>, auth: ParsedAuthorization, key: AccessKey, signingDate: Date, rawPath: string, query: Record<string, string | string[]>): Promise<AccessKey> {
  const payloadHash = sha256Hex(req.body);
  const claimed = headers.get('x-amz-content-sha256');
  if (claimed !== undefined && claimed.trim().toLowerCase() !== payloadHash) {
    throw invalid(`The provided 'x-amz-content-sha256' header does not match what was computed.`);
  }
  const signed: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = headers.get(name);
    if (value !== undefined) signed[name] = value;
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    region: auth.region,
    service: SERVICE,
    sha256: NodeSha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const request = new HttpRequest({
    method: req.method.toUpperCase(),
    protocol: 'http:',
    hostname: signed['host'] ?? '',
    path: rawPath,
    query,
    headers: { ...signed, 'x-amz-content-sha256': payloadHash },
    body: req.body,
  });
  // The payload hash travels as a header only to give the signer our own value; it is signed only if
  // the client signed it (signableHeaders is exactly the client's list).
  if (!auth.signedHeaders.includes('x-amz-content-sha256')) {
    delete request.headers['x-amz-content-sha256'];
  }
  const resigned = await signer.sign(request, { signingDate, signableHeaders: new Set(auth.signedHeaders) });
  const expected = /Signature=([0-9a-f]{64})/.exec(String(resigned.headers['authorization'] ?? ''))?.[1] ?? '';
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(auth.signature, 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw invalid(SIGNATURE_MISMATCH);
  return key;
}
