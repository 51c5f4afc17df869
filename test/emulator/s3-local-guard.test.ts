import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/connectors/s3/client.ts';
import { startLocalS3, type LocalS3 } from '../../src/emulator/s3/local.ts';
import { awsRejection } from '../helpers/rejection.ts';

/**
 * The local S3 (s3rver) behind its guard: web pages (foreign Host/Origin), anonymous or wrongly signed
 * requests and keys with ".." segments are refused, and nothing is written anywhere. Real HTTP.
 */

function bytes(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d;
  return ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
}

/** SHA-256 (and HMAC) in the shape @smithy/signature-v4 takes, from node:crypto. */
class Sha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

let parent: string;
let s3: LocalS3;
let port: number;
let client: S3Client;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'forceflow-s3-guard-'));
  s3 = await startLocalS3({ directory: join(parent, 'store') });
  port = Number(new URL(s3.endpoint).port);
  client = createS3Client({ env: s3.env });
});
afterAll(async () => {
  client.destroy();
  await s3.close();
  await rm(parent, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly text: string;
}

function send(method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { 'Content-Length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every file under `dir`, relative. */
async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name).slice(dir.length + 1)).sort();
}

const code = (xml: string): string | undefined => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

describe('local S3 guard', () => {
  it('still serves the SDK: put, get, copy and batch delete, signed with its credentials', async () => {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'ok/a b+c(1).txt', Body: 'hello' }));
    await client.send(new CopyObjectCommand({ Bucket: s3.bucket, Key: 'ok/copy.txt', CopySource: `${s3.bucket}/ok/a b+c(1).txt` }));
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'ok/copy.txt' }));
    expect(await got.Body?.transformToString()).toBe('hello');
    // Query strings with characters SigV4 encodes (space, +, parentheses, /).
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'ok/a b+c(2).txt', Body: 'again' }));
    const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'ok/a b+c(', Delimiter: '/' }));
    const keys = (page.Contents ?? []).map((o) => o.Key ?? '');
    expect(keys).toEqual(['ok/a b+c(1).txt', 'ok/a b+c(2).txt']);
    const deleted = await client.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: [{ Key: 'ok/copy.txt' }] } }));
    expect(deleted.Deleted?.map((d) => d.Key)).toEqual(['ok/copy.txt']);
  });

  it('refuses anonymous PUT and form POST uploads, with "../" keys or without, and writes nothing', async () => {
    const before = await files(parent);
    for (const path of [`/${s3.bucket}/../../escape.txt`, `/${s3.bucket}/..%2F..%2Fescape.txt`, `/${s3.bucket}/plain.txt`]) {
      const put = await send('PUT', path, { 'Content-Type': 'text/plain' }, 'owned');
      expect(put.status, path).toBe(403);
      expect(code(put.text)).toBe('AccessDenied');
    }
    const boundary = 'xyz';
    const form = [`--${boundary}`, 'Content-Disposition: form-data; name="key"', '', '../../escape.txt', `--${boundary}`, 'Content-Disposition: form-data; name="file"; filename="f"', '', 'owned', `--${boundary}--`, ''].join('\r\n');
    const post = await send('POST', `/${s3.bucket}`, { 'Content-Type': `multipart/form-data; boundary=${boundary}` }, form);
    expect(post.status).toBe(403);
    expect(code(post.text)).toBe('AccessDenied');
    expect(await files(parent)).toEqual(before);
  });

  it('refuses a request signed with other credentials', async () => {
    const wrong = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: 'not-the-secret' }, maxAttempts: 1 });
    const other = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'SOMEONE', secretAccessKey: 'x' }, maxAttempts: 1 });
    try {
      expect(await awsRejection(wrong.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'wrong.txt', Body: 'x' })))).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });
      expect(await awsRejection(other.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'wrong.txt', Body: 'x' })))).toEqual({ name: 'InvalidAccessKeyId', status: 403 });
      expect(await awsRejection(client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'wrong.txt' })))).toMatchObject({ name: 'NoSuchKey' });
    } finally {
      wrong.destroy();
      other.destroy();
    }
  });

  it('refuses keys and copy sources with ".." segments even when signed, and writes nothing outside its folder', async () => {
    const before = await files(parent);
    for (const Key of ['../escape.txt', 'a/../../escape.txt', 'a/..', '..']) {
      expect(await awsRejection(client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: 'owned' }))), Key).toEqual({ name: 'InvalidArgument', status: 400 });
    }
    expect(await awsRejection(client.send(new CopyObjectCommand({ Bucket: s3.bucket, Key: 'stolen.txt', CopySource: `${s3.bucket}/../../etc/hostname` })))).toEqual({ name: 'InvalidArgument', status: 400 });
    expect(await files(parent)).toEqual(before);
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin with an S3 XML error', async () => {
    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', sha256: Sha256, credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY } });
    const signed = async (host: string, extra: Record<string, string> = {}): Promise<Record<string, string>> => {
      const r = await signer.sign({ method: 'GET', protocol: 'http:', hostname: host.split(':')[0] ?? host, port, path: `/${s3.bucket}`, query: {}, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra } });
      return r.headers as Record<string, string>;
    };
    const rebind = await send('GET', `/${s3.bucket}`, await signed(`rebind.evil.example:${port}`));
    expect(rebind.status).toBe(421);
    expect(code(rebind.text)).toBe('AccessDenied');
    const page = await send('GET', `/${s3.bucket}`, { ...(await signed(`127.0.0.1:${port}`)), Origin: 'https://evil.example' });
    expect(page.status).toBe(403);
    expect(code(page.text)).toBe('AccessDenied');
    const own = await send('GET', `/${s3.bucket}`, await signed(`localhost:${port}`));
    expect(own.status).toBe(200);
  });

  it('accepts a presigned URL made with its credentials and refuses a tampered one', async () => {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'shared.txt', Body: 'presigned' }));
    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', sha256: Sha256, uriEscapePath: false, credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY } });
    const presigned = await signer.presign({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port, path: `/${s3.bucket}/shared.txt`, query: {}, headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, { expiresIn: 300, unsignableHeaders: new Set(['x-amz-content-sha256']) });
    const query = new URLSearchParams(presigned.query as Record<string, string>).toString();
    const ok = await send('GET', `/${s3.bucket}/shared.txt?${query}`);
    expect(ok).toEqual({ status: 200, text: 'presigned' });
    const tampered = await send('GET', `/${s3.bucket}/other.txt?${query}`);
    expect(tampered.status).toBe(403);
    expect(code(tampered.text)).toBe('SignatureDoesNotMatch');
  });
});
