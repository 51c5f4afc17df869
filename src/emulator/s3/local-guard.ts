import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { IncomingMessage, type ServerResponse } from 'node:http';
import { checkRequest, type GuardPolicy } from '../../core/http-guard.ts';

/**
 * The local S3's front door (s3rver itself accepts anonymous requests, does not check SigV4 signatures and
 * writes a key's `../` segments through to the file system). In order, a request is refused when:
 * 1. its Host or Origin is foreign (src/core/http-guard.ts: DNS rebinding, web pages);
 * 2. it is unsigned, or signed with SigV4 by other credentials than the local S3's (signature checked here);
 *    a browser form upload (POST multipart/form-data, signed inside the form) is refused outright;
 * 3. its key (or x-amz-copy-source) has a `..` or `.` segment, which would name a file outside the bucket's folder.
 * Refusals are S3's XML `<Error>`. SigV2 requests pass on to s3rver, which checks those signatures itself.
 *
 * A SigV4 signature also covers the body's SHA-256 when `x-amz-content-sha256` is a hex digest (any signed request
 * over plain http from the AWS SDK; `UNSIGNED-PAYLOAD`, which S3 accepts, leaves the body out): the body is then
 * checked against it, `XAmzContentSHA256Mismatch` otherwise. Uploads are checked as they are stored (uploads.ts);
 * {@link checkForwardedBody} checks the other requests' bodies before s3rver reads them.
 */

export interface S3Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

/** The SHA-256 of an empty body, which a signed request without one signs. */
export const EMPTY_SHA256 = createHash('sha256').digest('hex');

/** Bodies s3rver reads whole (XML) are checked up to this size; larger ones are refused. */
const MAX_FORWARDED_BODY = 16 * 1024 * 1024;
/** How far a header-signed request's x-amz-date may be from the clock (S3's 15 minutes). */
const MAX_SKEW_MS = 15 * 60 * 1000;

export function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent plus !'()*). */
function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function splitUrl(url: string): { path: string; query: [string, string][] } {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query: [string, string][] = [];
  for (const part of (q < 0 ? '' : url.slice(q + 1)).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    query.push([decode(eq < 0 ? part : part.slice(0, eq)) ?? part, decode(eq < 0 ? '' : part.slice(eq + 1)) ?? '']);
  }
  return { path, query };
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'utf8');
  const y = Buffer.from(b.toLowerCase(), 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

interface SigV4 {
  readonly accessKeyId: string;
  readonly scope: string; // date/region/service/aws4_request
  readonly signedHeaders: string[];
  readonly signature: string;
  readonly amzDate: string;
  readonly payloadHash: string;
  /** Query pairs that are part of the canonical query (all but X-Amz-Signature). */
  readonly query: [string, string][];
}

function parseSigV4(req: IncomingMessage, query: [string, string][]): SigV4 | S3Refusal {
  const malformed = (what: string): S3Refusal => ({ status: 400, code: 'AuthorizationHeaderMalformed', message: `The SigV4 authorization is malformed: ${what}.` });
  const auth = one(req.headers['authorization']);
  const q = new Map(query.map(([k, v]) => [k.toLowerCase(), v]));
  if (auth !== undefined) {
    const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(auth.trim());
    if (!m?.[1]) return malformed('unsupported algorithm');
    const parts = new Map(m[1].split(',').map((p) => {
      const t = p.trim();
      const eq = t.indexOf('=');
      return [t.slice(0, eq), t.slice(eq + 1)] as [string, string];
    }));
    const credential = parts.get('Credential');
    const signedHeaders = parts.get('SignedHeaders');
    const signature = parts.get('Signature');
    const amzDate = one(req.headers['x-amz-date']);
    const payloadHash = one(req.headers['x-amz-content-sha256']);
    if (!credential || !signedHeaders || !signature) return malformed('it needs Credential, SignedHeaders and Signature');
    if (!amzDate) return malformed('the x-amz-date header is missing');
    if (!payloadHash) return malformed('the x-amz-content-sha256 header is missing');
    const t = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    if (!Number.isFinite(t)) return { status: 403, code: 'AccessDenied', message: 'AWS authentication requires a valid Date or x-amz-date header' };
    if (Math.abs(Date.now() - t) > MAX_SKEW_MS) return { status: 403, code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.' };
    const slash = credential.indexOf('/');
    return { accessKeyId: credential.slice(0, slash), scope: credential.slice(slash + 1), signedHeaders: signedHeaders.split(';'), signature, amzDate, payloadHash, query };
  }
  const credential = q.get('x-amz-credential');
  const signedHeaders = q.get('x-amz-signedheaders');
  const signature = q.get('x-amz-signature');
  const amzDate = q.get('x-amz-date');
  if (!credential || !signedHeaders || !signature || !amzDate || q.get('x-amz-algorithm') !== ALGORITHM) return malformed('a presigned URL needs X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Signature');
  const expires = Number(q.get('x-amz-expires') ?? '604800');
  const t = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!Number.isFinite(t) || !Number.isFinite(expires) || Date.now() > t + expires * 1000) return { status: 403, code: 'AccessDenied', message: 'Request has expired.' };
  const slash = credential.indexOf('/');
  return {
    accessKeyId: credential.slice(0, slash),
    scope: credential.slice(slash + 1),
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate,
    payloadHash: one(req.headers['x-amz-content-sha256']) ?? 'UNSIGNED-PAYLOAD',
    query: query.filter(([k]) => k.toLowerCase() !== 'x-amz-signature'),
  };
}

/** Verify a SigV4 signature (header or presigned query) against the one known key pair. */
export function verifySigV4(req: IncomingMessage, credentials: { accessKeyId: string; secretAccessKey: string }): S3Refusal | undefined {
  const { path, query } = splitUrl(req.url ?? '/');
  const sig = parseSigV4(req, query);
  if ('code' in sig) return sig;
  if (sig.accessKeyId !== credentials.accessKeyId) {
    return { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  }
  const [date, region, service, terminator] = sig.scope.split('/');
  if (!date || !region || !service || terminator !== 'aws4_request') {
    return { status: 400, code: 'AuthorizationHeaderMalformed', message: 'The SigV4 credential scope must be date/region/service/aws4_request.' };
  }
  const canonicalQuery = sig.query
    .map(([k, v]) => [escapeUri(k), escapeUri(v)] as const)
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headerLines = sig.signedHeaders.map((name) => `${name}:${(one(req.headers[name]) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method ?? 'GET', path, canonicalQuery, headerLines, sig.signedHeaders.join(';'), sig.payloadHash].join('\n');
  const stringToSign = [ALGORITHM, sig.amzDate, sig.scope, createHash('sha256').update(canonical, 'utf8').digest('hex')].join('\n');
  let key = hmac(`AWS4${credentials.secretAccessKey}`, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  if (!sameHex(expected, sig.signature)) {
    return { status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.' };
  }
  return undefined;
}

/** Whether a decoded key or path has a `..` or `.` segment (s3rver would resolve it against its folder). */
export function hasDotSegment(decodedPath: string): boolean {
  return decodedPath.split(/[/\\]/).some((s) => s === '..' || s === '.');
}

function isSigned(req: IncomingMessage, query: [string, string][]): 'v4' | 'v2' | false {
  const auth = one(req.headers['authorization']);
  if (auth !== undefined) return /^AWS4-HMAC-SHA256\s/i.test(auth.trim()) ? 'v4' : /^AWS\s/.test(auth.trim()) ? 'v2' : false;
  const keys = new Set(query.map(([k]) => k.toLowerCase()));
  if (keys.has('x-amz-signature')) return 'v4';
  if (keys.has('signature') && keys.has('awsaccesskeyid')) return 'v2';
  return false;
}

/** The first reason to refuse a request to the local S3, or undefined to serve it. */
export function checkLocalS3Request(req: IncomingMessage, policy: GuardPolicy, credentials: { accessKeyId: string; secretAccessKey: string }): S3Refusal | undefined {
  const web = checkRequest(req, policy);
  if (web) return { status: web.status, code: 'AccessDenied', message: web.message };
  const { path, query } = splitUrl(req.url ?? '/');
  const type = (one(req.headers['content-type']) ?? '').toLowerCase();
  if (req.method === 'POST' && type.startsWith('multipart/form-data')) {
    return { status: 403, code: 'AccessDenied', message: 'Browser form uploads (POST multipart/form-data) are refused by the local S3; use PutObject.' };
  }
  const signed = isSigned(req, query);
  if (!signed) {
    return { status: 403, code: 'AccessDenied', message: 'Anonymous requests are refused by the local S3; sign them with its credentials (the AWS_* variables it prints).' };
  }
  if (signed === 'v4') {
    const bad = verifySigV4(req, credentials);
    if (bad) return bad;
  }
  const decodedPath = decode(path);
  const copySource = one(req.headers['x-amz-copy-source']);
  const decodedCopy = copySource === undefined ? undefined : decode(copySource.split('?')[0] ?? '');
  if (decodedPath === undefined || hasDotSegment(decodedPath) || (copySource !== undefined && (decodedCopy === undefined || hasDotSegment(decodedCopy)))) {
    return { status: 400, code: 'InvalidArgument', message: 'An object key with a ".." or "." segment is refused by the local S3: it stores objects as files and such a key would leave the bucket\'s folder.' };
  }
  return undefined;
}

/** The body SHA-256 (lower-case hex) a SigV4 request signs; undefined for UNSIGNED-PAYLOAD, STREAMING-*, SigV2, unsigned. */
export function signedPayloadHash(req: IncomingMessage): string | undefined {
  if (isSigned(req, splitUrl(req.url ?? '/').query) !== 'v4') return undefined;
  const hash = one(req.headers['x-amz-content-sha256']);
  return hash !== undefined && /^[0-9a-f]{64}$/i.test(hash) ? hash.toLowerCase() : undefined;
}

const mismatch: S3Refusal = { status: 400, code: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." };

/**
 * For a request s3rver serves: when its signature covers the body's SHA-256, the body is read and checked (up to
 * {@link MAX_FORWARDED_BODY}: s3rver reads such bodies whole anyway), and the request handed on is a copy that
 * replays it. Resolves with the request to forward, or a refusal.
 */
export async function checkForwardedBody(req: IncomingMessage): Promise<IncomingMessage | S3Refusal> {
  const expected = signedPayloadHash(req);
  if (expected === undefined) return req;
  const length = one(req.headers['content-length']);
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return expected === EMPTY_SHA256 ? req : mismatch;
  if (Number(length) > MAX_FORWARDED_BODY) return { status: 400, code: 'MaxMessageLengthExceeded', message: 'Your request was too big.' };
  const chunks: Buffer[] = [];
  let size = 0;
  const hash = createHash('sha256');
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORWARDED_BODY) return { status: 400, code: 'MaxMessageLengthExceeded', message: 'Your request was too big.' };
    hash.update(chunk);
    chunks.push(chunk);
  }
  if (hash.digest('hex') !== expected) return mismatch;
  const replay = new IncomingMessage(req.socket);
  replay.method = req.method ?? 'GET';
  replay.url = req.url ?? '/';
  replay.headers = req.headers;
  replay.rawHeaders = req.rawHeaders;
  replay.httpVersion = req.httpVersion;
  replay.httpVersionMajor = req.httpVersionMajor;
  replay.httpVersionMinor = req.httpVersionMinor;
  replay.complete = true;
  replay.push(Buffer.concat(chunks));
  replay.push(null);
  return replay;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** Answer a refusal as S3 does: `<Error><Code/><Message/><Resource/><RequestId/></Error>`. */
export function sendS3Refusal(req: IncomingMessage, res: ServerResponse, refusal: S3Refusal): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const resource = splitUrl(req.url ?? '/').path;
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${xmlEscape(refusal.message)}</Message><Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
  // The body is not read: close the connection rather than drain an upload we refused.
  res.writeHead(refusal.status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body), 'x-amz-request-id': requestId, Connection: 'close' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
