import { createHash, randomBytes, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { BufferPool } from '../../core/buffer-pool.ts';
import { one, sendS3Refusal, signedPayloadHash, type S3Refusal } from './local-guard.ts';

/**
 * The local S3's write path (issue 13: s3rver spent 5-8 CPU s receiving a 460 MB upload, most of what the `s3`
 * benchmark measured). PutObject, UploadPart, CompleteMultipartUpload and AbortMultipartUpload are served here, in
 * front of s3rver and in its folder layout, so s3rver serves everything else (GET, HEAD, List, Copy, Delete,
 * CreateMultipartUpload, ...) from the same files:
 *
 * - `<bucket>/<key folders>/<name>._S3rver_object` (the bytes), `….md5` (the ETag without quotes) and
 *   `<name>._S3rver_metadata.json` (Content-Type, Cache-Control, ..., `x-amz-meta-*`);
 * - `<bucket>/._S3rver_uploads/<uploadId>/`: `key`, `metadata` (the CreateMultipartUpload request's headers, written
 *   by s3rver), per part `<n>.md5`, and the parts' bytes: in one `data` file at (n - 1) × stride (see
 *   {@link strideOf}), or, for a part larger than the stride, in `<n>` as s3rver keeps parts.
 *
 * What it does differently from s3rver: a body is hashed once as it arrives (MD5 for the ETag; SHA-256 when the
 * signature covers the payload, i.e. a hex `x-amz-content-sha256`, which s3rver never checked), copied into pooled
 * 4 MiB buffers and written in 4 MiB writes (s3rver piped it through a Transform into a write stream, a write per
 * socket chunk). A PutObject's object appears under its name only once complete (written beside it, then renamed).
 * CompleteMultipartUpload does not hash the object again: its ETag is S3's, the MD5 of the parts' MD5s and `-N`
 * (s3rver re-read and hashed the whole object, and gave a plain MD5); and when the parts are 1..N of one size and a
 * smaller last one, as every SDK sends them, the upload's `data` file already is the object and is renamed into
 * place (s3rver copied every part into a new file).
 *
 * S3's checks that s3rver lacked, kept cheap: `XAmzContentSHA256Mismatch`, `BadDigest`/`InvalidDigest`
 * (Content-MD5), `MissingContentLength`, `EntityTooLarge` (over 5 GiB), `NoSuchUpload` (an unknown upload, or one
 * of another key), `InvalidArgument` (a part number outside 1-10,000), and on completion `MalformedXML`,
 * `InvalidPartOrder`, `InvalidPart` (a part missing or with another ETag) and `EntityTooSmall` (a part but the last
 * under 5 MiB). AbortMultipartUpload removes the upload (s3rver answered 405).
 *
 * Requests this path does not take go to s3rver as before: SigV2 ones (s3rver checks those signatures), aws-chunked
 * bodies (`STREAMING-*` payload hashes), browser requests (an Origin header: s3rver's CORS), copies
 * (`x-amz-copy-source`) and anything with other query parameters.
 */

/** The local S3's folder, the strides of the uploads in progress (see {@link strideOf}) and the write buffers. */
interface Store {
  readonly root: string;
  readonly strides: Map<string, Promise<number>>;
  readonly buffers: BufferPool;
}

/** A request this path serves, classified. */
type Operation =
  | { readonly kind: 'put'; readonly bucket: string; readonly key: string }
  | { readonly kind: 'part'; readonly bucket: string; readonly key: string; readonly uploadId: string; readonly partNumber: string }
  | { readonly kind: 'complete' | 'abort'; readonly bucket: string; readonly key: string; readonly uploadId: string };

const MAX_SIZE = 5 * 1024 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;
/** A body is written in writes of this size (and CompleteMultipartUpload copies parts in reads and writes of it). */
const WRITE_BATCH = 4 * 1024 * 1024;
/** Reading pauses while this many received bytes wait to be written. */
const MAX_QUEUED = 2 * WRITE_BATCH;
/** Write buffers kept for the next request (3 per upload in progress: one filling, {@link MAX_QUEUED} queued). */
const KEPT_BUFFERS = 8;
/** A part lies in its upload's data file only below this offset (far under any file system's largest file). */
const MAX_DATA_SIZE = 2 ** 40;
/** The largest CompleteMultipartUpload body read (10,000 parts take about 1.3 MB). */
const MAX_XML = 4 * 1024 * 1024;
/** s3rver's FilesystemStore keeps these of an object's request headers (S3Object.ALLOWED_METADATA), then `x-amz-meta-*`. */
const ALLOWED_METADATA = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'content-type', 'expires', 'x-amz-storage-class', 'x-amz-website-redirect-location'];

class S3Failure extends Error {
  constructor(readonly refusal: S3Refusal) {
    super(refusal.message);
  }
}

const fail = (status: number, code: string, message: string): S3Failure => new S3Failure({ status, code, message });
const noSuchUpload = (): S3Failure => fail(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** s3rver's file name for a key's resource (FilesystemStore.getResourcePath, encodeKeyPath included). */
function resourcePath(root: string, bucket: string, key: string, resource: string): string {
  const encoded = process.platform === 'win32' ? key.replace(/[<>:"\\|?*]/g, (c) => `&${Buffer.from(c, 'utf8').toString('hex')}`) : key;
  const parts = encoded.split('/');
  const last = parts.pop() ?? '';
  return join(root, bucket, ...parts, `${last}._S3rver_${resource}`);
}

const uploadsFolder = (root: string, bucket: string): string => resourcePath(root, bucket, '', 'uploads');

/** A file name beside the final one that no key's files can have (theirs end in `._S3rver_<resource>`). */
const temporary = (path: string): string => `${path}.${randomBytes(6).toString('hex')}.partial`;

/** The object's metadata file as s3rver writes it: the kept headers in its order, then `x-amz-meta-*`. */
function metadataJson(headers: Readonly<Record<string, unknown>>): string {
  const json: Record<string, unknown> = {};
  for (const name of ALLOWED_METADATA) if (headers[name] !== undefined) json[name] = headers[name];
  json['content-type'] ??= 'binary/octet-stream';
  for (const [name, value] of Object.entries(headers)) if (name.startsWith('x-amz-meta-')) json[name] = value;
  return JSON.stringify(json, null, 2);
}

/** The request's headers with the `x-amz-*` query parameters of a presigned URL over them (as s3rver merges them). */
function headersOf(req: IncomingMessage, query: URLSearchParams): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...req.headers };
  for (const [name, value] of query) if (name.toLowerCase().startsWith('x-amz-')) headers[name.toLowerCase()] = value;
  return headers;
}

/**
 * The bucket and key s3rver would route the request to: path-style for IP literals, `localhost` and this machine's
 * name; otherwise a virtual-hosted bucket (`<bucket>.s3[...].amazonaws.com`, or the whole host name), as its
 * vhost middleware does.
 */
function target(req: IncomingMessage, path: string): { bucket: string; key: string } | undefined {
  // Koa's ctx.hostname: the Host header without its port (an IPv6 literal keeps its brackets, so is no IP to isIP).
  const header = one(req.headers.host) ?? '';
  const host = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : (header.split(':')[0] ?? '');
  let full = path;
  const aws = /^(?:(.+)\.)?s3(-website)?([-.].+)?\.amazonaws\.com$/.exec(host);
  if (aws !== null) {
    if (aws[2] !== undefined) return undefined;
    if (aws[1] !== undefined) full = `/${aws[1]}${path}`;
  } else if (isIP(host) === 0 && host !== 'localhost' && host !== hostname()) {
    full = `/${host}${path}`;
  }
  const slash = full.indexOf('/', 1);
  if (slash < 0) return undefined;
  const bucket = decode(full.slice(1, slash));
  const key = decode(full.slice(slash + 1));
  // Keys with empty segments are left to s3rver (its routes and file names treat them their own way).
  if (bucket === undefined || bucket === '' || key === undefined || key === '' || key.startsWith('/') || key.includes('//')) return undefined;
  return { bucket, key };
}

/** Which of this path's operations the request is, or undefined for s3rver. Called after the guard accepted it. */
function classify(req: IncomingMessage): { op: Operation; query: URLSearchParams } | undefined {
  const method = req.method;
  if (method !== 'PUT' && method !== 'POST' && method !== 'DELETE') return undefined;
  if (req.headers.origin !== undefined || req.headers['x-amz-copy-source'] !== undefined) return undefined;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const names = new Set<string>();
  for (const name of query.keys()) if (name !== 'x-id' && !name.toLowerCase().startsWith('x-amz-')) names.add(name);
  // SigV4 only (header or presigned, as the guard verified), not both (s3rver refuses two mechanisms).
  const header = one(req.headers.authorization);
  const presigned = query.has('X-Amz-Algorithm');
  if ((header === undefined) === !presigned || (header !== undefined && !/^AWS4-HMAC-SHA256\s/i.test(header.trim())) || query.has('Signature')) return undefined;
  const hash = one(req.headers['x-amz-content-sha256']) ?? (presigned ? 'UNSIGNED-PAYLOAD' : '');
  if (hash !== 'UNSIGNED-PAYLOAD' && signedPayloadHash(req) === undefined) return undefined;
  if ((one(req.headers['content-encoding']) ?? '').toLowerCase().includes('aws-chunked')) return undefined;
  const where = target(req, q < 0 ? url : url.slice(0, q));
  if (where === undefined) return undefined;
  const only = (...allowed: string[]): boolean => names.size === allowed.length && allowed.every((n) => names.has(n));
  const uploadId = query.get('uploadId');
  if (method === 'PUT' && only()) return { op: { kind: 'put', ...where }, query };
  if (uploadId === null) return undefined;
  if (method === 'PUT' && only('uploadId', 'partNumber')) return { op: { kind: 'part', ...where, uploadId, partNumber: query.get('partNumber') ?? '' }, query };
  if (method === 'POST' && only('uploadId')) return { op: { kind: 'complete', ...where, uploadId }, query };
  if (method === 'DELETE' && only('uploadId')) return { op: { kind: 'abort', ...where, uploadId }, query };
  return undefined;
}

/** The hashes a body is checked with: the signed SHA-256 (unless UNSIGNED-PAYLOAD) and Content-MD5. */
interface BodyChecks {
  readonly sha256: string | undefined;
  readonly contentMd5: Buffer | undefined;
}

function bodyChecks(req: IncomingMessage): BodyChecks {
  const md5 = one(req.headers['content-md5']);
  let contentMd5: Buffer | undefined;
  if (md5 !== undefined) {
    contentMd5 = /^[A-Za-z0-9+/]{22}==$/.test(md5.trim()) ? Buffer.from(md5.trim(), 'base64') : undefined;
    if (contentMd5?.length !== 16) throw fail(400, 'InvalidDigest', 'The Content-MD5 you specified was not valid.');
  }
  return { sha256: signedPayloadHash(req), contentMd5 };
}

function checkDigests(checks: BodyChecks, sha256: Hash | undefined, md5: Buffer): void {
  if (checks.sha256 !== undefined && sha256 !== undefined && sha256.digest('hex') !== checks.sha256) {
    throw fail(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  if (checks.contentMd5 !== undefined && !checks.contentMd5.equals(md5)) throw fail(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
}

/** The declared body length; S3 refuses a PUT without one, or over 5 GiB. */
function contentLength(req: IncomingMessage): number {
  const value = one(req.headers['content-length']);
  if (value === undefined || !/^\d+$/.test(value)) throw fail(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  const n = Number(value);
  if (n > MAX_SIZE) throw fail(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.');
  return n;
}

/**
 * Receives the request's body into `file` from `position`: every chunk is hashed as it comes and copied into a
 * {@link WRITE_BATCH} buffer of the pool, written once full while reading goes on; reading pauses while
 * {@link MAX_QUEUED} bytes wait. The socket's chunks are dropped at once, so they die young: kept until written,
 * they reached V8's old space, and the external memory they held there brought a full collection every ~20 MB
 * (23 during a 460 MB upload; in the emulator's process, with a generated org in its heap, each costs far more).
 * Resolves with the byte count once all is written.
 */
function receive(req: IncomingMessage, file: FileHandle, hashes: readonly Hash[], position: number, pool: BufferPool): Promise<number> {
  return new Promise((resolve, reject) => {
    // The buffer being filled (undefined once handed to the last write).
    let buffer: Buffer | undefined = pool.take(WRITE_BATCH);
    let filled = 0;
    let queued = 0;
    let total = 0;
    let at = position;
    let writing: Promise<void> = Promise.resolve();
    let done = false;
    const stop = (error: unknown): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      if (buffer !== undefined) pool.give(buffer);
      buffer = undefined;
      reject(error);
    };
    const write = (full: Buffer, bytes: number): void => {
      queued += bytes;
      const where = at;
      at += bytes;
      writing = writing.then(async () => {
        try {
          if (!done) await file.write(full, 0, bytes, where);
        } finally {
          pool.give(full);
        }
        queued -= bytes;
        if (queued < MAX_QUEUED && req.isPaused() && !done) req.resume();
      });
      writing.catch(stop);
      if (queued >= MAX_QUEUED) req.pause();
    };
    const onData = (chunk: Buffer): void => {
      for (const hash of hashes) hash.update(chunk);
      total += chunk.length;
      for (let offset = 0; offset < chunk.length && buffer !== undefined; ) {
        const n = Math.min(buffer.length - filled, chunk.length - offset);
        chunk.copy(buffer, filled, offset, offset + n);
        filled += n;
        offset += n;
        if (filled === buffer.length) {
          write(buffer, filled);
          buffer = pool.take(WRITE_BATCH);
          filled = 0;
        }
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      if (done || buffer === undefined) return;
      const last = buffer;
      buffer = undefined;
      if (filled > 0) write(last, filled);
      else pool.give(last);
      writing.then(() => {
        if (done) return;
        done = true;
        resolve(total);
      }, stop);
    });
    req.once('error', stop);
    req.once('close', () => {
      if (!req.complete) stop(new Error('The client closed the connection before the body was complete.'));
    });
  });
}

/** Reads a small body (CompleteMultipartUpload's XML), checked against its signed SHA-256. */
async function readSmall(req: IncomingMessage, checks: BodyChecks): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const sha256 = checks.sha256 === undefined ? undefined : createHash('sha256');
  const md5 = createHash('md5');
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_XML) throw fail(400, 'MaxMessageLengthExceeded', 'Your request was too big.');
    chunks.push(chunk);
    sha256?.update(chunk);
    md5.update(chunk);
  }
  checkDigests(checks, sha256, md5.digest());
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Receives the body into `file` at `position` (closing the file), hashing it once on the way: its MD5 (hex), after
 * checking it and the signed SHA-256 against the request's headers.
 */
async function receiveChecked(req: IncomingMessage, checks: BodyChecks, file: FileHandle, position: number, pool: BufferPool): Promise<string> {
  const md5 = createHash('md5');
  const sha256 = checks.sha256 === undefined ? undefined : createHash('sha256');
  try {
    await receive(req, file, sha256 === undefined ? [md5] : [md5, sha256], position, pool);
  } finally {
    await file.close();
  }
  const digest = md5.digest();
  checkDigests(checks, sha256, digest);
  return digest.toString('hex');
}

/** Stores the body as `path` (written beside it, then renamed): its MD5, checked against the request's hashes. */
async function storeBody(req: IncomingMessage, path: string, pool: BufferPool): Promise<string> {
  const checks = bodyChecks(req);
  contentLength(req);
  const partial = temporary(path);
  try {
    const md5 = await receiveChecked(req, checks, await open(partial, 'w'), 0, pool);
    await rename(partial, path);
    return md5;
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

async function bucketExists(root: string, bucket: string): Promise<void> {
  const found = await stat(join(root, bucket)).catch(() => undefined);
  if (found?.isDirectory() !== true) throw fail(404, 'NoSuchBucket', 'The specified bucket does not exist');
}

/** The upload's folder, once its key is checked to be the request's. */
async function uploadFolder(root: string, op: { bucket: string; key: string; uploadId: string }): Promise<string> {
  if (!/^[0-9a-zA-Z_-]+$/.test(op.uploadId)) throw noSuchUpload();
  const folder = join(uploadsFolder(root, op.bucket), op.uploadId);
  const key = await readFile(join(folder, 'key'), 'utf8').catch(() => undefined);
  if (key !== op.key) throw noSuchUpload();
  return folder;
}

async function putObject(store: Store, req: IncomingMessage, op: { bucket: string; key: string }, query: URLSearchParams): Promise<string> {
  await bucketExists(store.root, op.bucket);
  const path = resourcePath(store.root, op.bucket, op.key, 'object');
  await mkdir(dirname(path), { recursive: true });
  const md5 = await storeBody(req, path, store.buffers);
  await writeFile(`${path}.md5`, md5);
  await writeFile(resourcePath(store.root, op.bucket, op.key, 'metadata.json'), metadataJson(headersOf(req, query)));
  return md5;
}

/**
 * An upload's stride: the size of its first non-empty part to arrive, kept in its folder's `stride` file. Parts of
 * at most that size are written into the upload's `data` file at (number - 1) × stride, so that parts 1..N of one
 * size followed by a smaller last one already lie there as the object (see {@link completeUpload}).
 */
function strideOf(store: Store, folder: string, length: number): Promise<number> {
  let stride = store.strides.get(folder);
  if (stride === undefined) {
    const file = join(folder, 'stride');
    stride = writeFile(file, String(length), { flag: 'wx' }).then(
      () => length,
      async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
        return Number(await readFile(file, 'utf8'));
      },
    );
    store.strides.set(folder, stride);
  }
  return stride;
}

/**
 * A part is `<n>.md5` (its MD5, as s3rver keeps it, written last: the part exists once it is there) and its bytes:
 * in the upload's `data` file (at (n - 1) × stride, its size in `<n>.size`) when it is no larger than the stride,
 * otherwise in the file `<n>` (s3rver's layout).
 */
async function uploadPart(store: Store, req: IncomingMessage, op: { bucket: string; key: string; uploadId: string; partNumber: string }): Promise<string> {
  await bucketExists(store.root, op.bucket);
  const n = /^\d{1,5}$/.test(op.partNumber) ? Number(op.partNumber) : 0;
  if (n < 1 || n > MAX_PARTS) throw fail(400, 'InvalidArgument', `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`);
  const length = contentLength(req);
  const checks = bodyChecks(req);
  const folder = await uploadFolder(store.root, op);
  const base = join(folder, String(n));
  // A part uploaded again replaces the earlier one: it is missing until the new one is stored.
  await Promise.all([rm(`${base}.md5`, { force: true }), rm(`${base}.size`, { force: true })]);
  const stride = length > 0 ? await strideOf(store, folder, length) : 0;
  let md5: string;
  if (length > 0 && length <= stride && (n - 1) * stride + length <= MAX_DATA_SIZE) {
    await rm(base, { force: true });
    md5 = await receiveChecked(req, checks, await open(join(folder, 'data'), constants.O_WRONLY | constants.O_CREAT), (n - 1) * stride, store.buffers);
    await writeFile(`${base}.size`, String(length));
  } else {
    md5 = await storeBody(req, base, store.buffers);
  }
  await writeFile(`${base}.md5`, md5);
  return md5;
}

const xmlText = (s: string): string => s.replace(/&(quot|apos|lt|gt|amp);/g, (_, e: string) => ({ quot: '"', apos: "'", lt: '<', gt: '>', amp: '&' })[e] ?? '');
const xmlEscape = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

/** The parts a CompleteMultipartUpload body lists, in its order. */
function listedParts(xml: string): { number: number; etag: string }[] {
  const malformed = fail(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  if (!/^\s*(<\?xml[^>]*\?>\s*)?<CompleteMultipartUpload[\s>]/.test(xml)) throw malformed;
  const parts: { number: number; etag: string }[] = [];
  for (const m of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const body = m[1] ?? '';
    const number = /<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(body)?.[1];
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(body)?.[1];
    if (number === undefined || etag === undefined) throw malformed;
    parts.push({ number: Number(number), etag: xmlText(etag).replace(/"/g, '').trim() });
  }
  if (parts.length === 0) throw malformed;
  return parts;
}

/** Copies `length` bytes of `from` at `position` to the end of the open `to`, in large reads and writes. */
async function append(to: FileHandle, from: FileHandle, position: number, length: number, buffer: Buffer): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesRead } = await from.read(buffer, 0, Math.min(buffer.length, length - done), position + done);
    if (bytesRead === 0) throw new Error('A part file is shorter than it was.');
    await to.write(buffer, 0, bytesRead);
    done += bytesRead;
  }
}

/**
 * Checks the listed parts as S3 does, then makes the object: when parts 1..N all lie in the upload's `data` file
 * (all but the last of the stride's size), that file is the object once cut to its size, and is renamed into place
 * with no byte copied; otherwise the parts are copied into a new file. The ETag is S3's: the MD5 of the parts'
 * MD5s, `-N`.
 */
async function completeUpload(store: Store, req: IncomingMessage, op: { bucket: string; key: string; uploadId: string }): Promise<string> {
  const root = store.root;
  await bucketExists(root, op.bucket);
  const checks = bodyChecks(req);
  const folder = await uploadFolder(root, op);
  const parts = listedParts(await readSmall(req, checks));
  const located: { number: number; size: number; inData: boolean }[] = [];
  const digests: Buffer[] = [];
  if (parts.some((part, i) => i > 0 && part.number <= (parts[i - 1]?.number ?? 0))) {
    throw fail(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.');
  }
  for (const [i, part] of parts.entries()) {
    const base = join(folder, String(part.number));
    const md5 = await readFile(`${base}.md5`, 'utf8').catch(() => undefined);
    if (md5 === undefined || md5 !== part.etag) throw fail(400, 'InvalidPart', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.');
    const inData = await readFile(`${base}.size`, 'utf8').catch(() => undefined);
    const size = inData === undefined ? (await stat(base)).size : Number(inData);
    if (i < parts.length - 1 && size < MIN_PART_SIZE) throw fail(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.');
    located.push({ number: part.number, size, inData: inData !== undefined });
    digests.push(Buffer.from(md5, 'hex'));
  }
  const etag = `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${parts.length}`;
  const stride = located.some((p) => p.inData) ? await strideOf(store, folder, 0) : 0;
  const dataFile = join(folder, 'data');
  const path = resourcePath(root, op.bucket, op.key, 'object');
  await mkdir(dirname(path), { recursive: true });
  const inPlace = located.every((p, i) => p.inData && p.number === i + 1 && (i === located.length - 1 || p.size === stride));
  if (inPlace) {
    await truncate(dataFile, located.reduce((sum, p) => sum + p.size, 0));
    await rename(dataFile, path);
  } else {
    const partial = temporary(path);
    const object = await open(partial, 'w');
    const data = located.some((p) => p.inData) ? await open(dataFile, 'r') : undefined;
    const buffer = store.buffers.take(WRITE_BATCH);
    try {
      try {
        for (const p of located) {
          if (p.inData && data !== undefined) {
            await append(object, data, (p.number - 1) * stride, p.size, buffer);
            continue;
          }
          const file = await open(join(folder, String(p.number)), 'r');
          try {
            await append(object, file, 0, p.size, buffer);
          } finally {
            await file.close();
          }
        }
      } finally {
        store.buffers.give(buffer);
        await object.close();
        await data?.close();
      }
      await rename(partial, path);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }
  await writeFile(`${path}.md5`, etag);
  const stored = JSON.parse(await readFile(join(folder, 'metadata'), 'utf8')) as Record<string, unknown>;
  await writeFile(resourcePath(root, op.bucket, op.key, 'metadata.json'), metadataJson(stored));
  await rm(folder, { recursive: true, force: true });
  store.strides.delete(folder);
  return etag;
}

function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

async function serve(store: Store, req: IncomingMessage, res: ServerResponse, op: Operation, query: URLSearchParams): Promise<void> {
  switch (op.kind) {
    case 'put':
    case 'part': {
      const md5 = op.kind === 'put' ? await putObject(store, req, op, query) : await uploadPart(store, req, op);
      res.writeHead(200, { ETag: `"${md5}"`, 'Content-Length': 0, 'x-amz-request-id': requestId() });
      res.end();
      return;
    }
    case 'complete': {
      const etag = await completeUpload(store, req, op);
      const proto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>${xmlEscape(`${proto}://${one(req.headers.host) ?? ''}${path}`)}</Location><Bucket>${xmlEscape(op.bucket)}</Bucket><Key>${xmlEscape(op.key)}</Key><ETag>${xmlEscape(`"${etag}"`)}</ETag></CompleteMultipartUploadResult>`;
      res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body), 'x-amz-request-id': requestId() });
      res.end(body);
      return;
    }
    case 'abort': {
      await bucketExists(store.root, op.bucket);
      const folder = await uploadFolder(store.root, op);
      await rm(folder, { recursive: true, force: true });
      store.strides.delete(folder);
      res.writeHead(204, { 'x-amz-request-id': requestId() });
      res.end();
      return;
    }
  }
}

/**
 * The write path over the local S3's folder `directory`: a request listener that serves the request and returns
 * true, or returns false (having read nothing) for s3rver to serve it.
 */
export function uploadHandler(directory: string): (req: IncomingMessage, res: ServerResponse) => boolean {
  const store: Store = { root: directory, strides: new Map(), buffers: new BufferPool(KEPT_BUFFERS, WRITE_BATCH) };
  return (req, res) => {
    const found = classify(req);
    if (found === undefined) return false;
    serve(store, req, res, found.op, found.query).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      const refusal = error instanceof S3Failure ? error.refusal : { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' };
      sendS3Refusal(req, res, refusal);
    });
    return true;
  };
}
