import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { awsRejection } from '../helpers/rejection.ts';

/**
 * The local S3's write path (src/emulator/s3/uploads.ts, in front of s3rver): S3's ETags, its checks of parts and
 * of signed payloads, and objects that s3rver then serves. Real HTTP, the AWS SDK as client.
 */

const MiB = 1024 * 1024;
const md5 = (b: Uint8Array): Buffer => createHash('md5').update(b).digest();
/** S3's ETag of a multipart object: the MD5 of the parts' MD5s, `-N`. */
const multipartEtag = (parts: Uint8Array[]): string => `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;

/** `size` bytes that differ from part to part (so a part in the wrong place changes the object). */
function bytes(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4096) b.writeUInt32LE((seed * 7919 + i) >>> 0, i);
  return b;
}

let t: TestS3;
let client: S3Client;
let bucket: string;

beforeAll(async () => {
  t = await startTestS3();
  client = t.client;
  bucket = t.bucket;
});
afterAll(async () => {
  await t.close();
});

/** Uploads `parts` (sent in `order`, by index) and completes with `listed` (indexes; all by default). */
async function multipart(key: string, parts: Buffer[], order: number[] = parts.map((_, i) => i)): Promise<{ UploadId: string; etags: string[] }> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/x-ndjson' }));
  const etags: string[] = [];
  for (const i of order) {
    const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: parts[i] }));
    etags[i] = r.ETag ?? '';
  }
  return { UploadId: UploadId ?? '', etags };
}

const complete = (key: string, UploadId: string, parts: { n: number; etag: string }[]): Promise<unknown> =>
  client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) } }));

/** The files left under the local S3's folder whose name says they were temporary or part of an upload. */
async function leftovers(): Promise<string[]> {
  const all = await readdir(t.s3.directory, { recursive: true });
  return all.filter((f) => f.endsWith('.partial') || /_S3rver_uploads\/[^/]+\/(data|\d+)/.test(f));
}

describe('local S3 uploads', () => {
  it('PutObject: the MD5 ETag, the bytes and the metadata read back through s3rver', async () => {
    const body = bytes(3 * MiB + 17, 1);
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'put/one.bin', Body: body, ContentType: 'text/csv', Metadata: { flow: 'f1' } }));
    expect(put.ETag).toBe(`"${md5(body).toString('hex')}"`);
    expect((await t.getBytes('put/one.bin')).equals(body)).toBe(true);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'put/one.bin' }));
    expect({ etag: head.ETag, type: head.ContentType, length: head.ContentLength, meta: head.Metadata }).toEqual({ etag: put.ETag, type: 'text/csv', length: body.length, meta: { flow: 'f1' } });
    // Stored again: the new bytes replace the old ones.
    await t.put('put/one.bin', 'short');
    expect(await t.getText('put/one.bin')).toBe('short');
  });

  it('multipart, parts of one size then a smaller one: the concatenation, under S3\'s ETag (MD5 of the MD5s, -N)', async () => {
    const parts = [bytes(5 * MiB, 1), bytes(5 * MiB, 2), bytes(5 * MiB, 3), bytes(1234, 4)];
    // Sent out of order (the last first, then 3, 1, 2): each lands in its place.
    const { UploadId, etags } = await multipart('mp/even.jsonl', parts, [3, 2, 0, 1]);
    expect(etags).toEqual(parts.map((p) => `"${md5(p).toString('hex')}"`));
    const done = (await complete('mp/even.jsonl', UploadId, etags.map((etag, i) => ({ n: i + 1, etag })))) as { ETag?: string };
    expect(done.ETag).toBe(multipartEtag(parts));
    expect((await t.getBytes('mp/even.jsonl')).equals(Buffer.concat(parts))).toBe(true);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp/even.jsonl' }));
    expect({ etag: head.ETag, type: head.ContentType }).toEqual({ etag: multipartEtag(parts), type: 'application/x-ndjson' });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'mp/even' }));
    expect(listed.Contents?.map((o) => [o.Key, o.ETag, o.Size])).toEqual([['mp/even.jsonl', multipartEtag(parts), 15 * MiB + 1234]]);
    expect(await leftovers()).toEqual([]);
  });

  it('multipart, parts of different sizes, a part sent twice, only some parts listed: the listed parts, in order', async () => {
    // Part 2 arrives first and sets the stride; part 1 is larger, part 3 smaller, part 4 is not listed.
    const parts = [bytes(6 * MiB + 5, 11), bytes(5 * MiB + 3, 12), bytes(5 * MiB, 13), bytes(100, 14)];
    const { UploadId, etags } = await multipart('mp/uneven.bin', parts, [1, 0, 2, 3]);
    // Part 3 again, with other bytes: the last one sent counts.
    const again = bytes(5 * MiB + 1, 15);
    const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp/uneven.bin', UploadId, PartNumber: 3, Body: again }));
    const listed = [{ n: 1, etag: etags[0] ?? '' }, { n: 2, etag: etags[1] ?? '' }, { n: 3, etag: r.ETag ?? '' }];
    const done = (await complete('mp/uneven.bin', UploadId, listed)) as { ETag?: string };
    const used = [parts[0], parts[1], again] as Buffer[];
    expect(done.ETag).toBe(multipartEtag(used));
    expect((await t.getBytes('mp/uneven.bin')).equals(Buffer.concat(used))).toBe(true);
    expect(await leftovers()).toEqual([]);
  });

  it('multipart, every part no larger than the first but not all of its size, and a number skipped: the listed parts, in order', async () => {
    const parts = [bytes(5 * MiB + 10, 51), bytes(5 * MiB, 52), bytes(5 * MiB + 10, 53), bytes(100, 54)];
    const { UploadId, etags } = await multipart('mp/gaps.bin', parts);
    const done = (await complete('mp/gaps.bin', UploadId, [0, 1, 3].map((i) => ({ n: i + 1, etag: etags[i] ?? '' })))) as { ETag?: string };
    const used = [parts[0], parts[1], parts[3]] as Buffer[];
    expect(done.ETag).toBe(multipartEtag(used));
    expect((await t.getBytes('mp/gaps.bin')).equals(Buffer.concat(used))).toBe(true);
    // Parts 1 and 2 only: part 2 is not of the first one's size, the object is still their concatenation.
    const second = await multipart('mp/gaps2.bin', parts.slice(0, 2));
    await complete('mp/gaps2.bin', second.UploadId, second.etags.map((etag, i) => ({ n: i + 1, etag })));
    expect((await t.getBytes('mp/gaps2.bin')).equals(Buffer.concat(parts.slice(0, 2)))).toBe(true);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses completions S3 refuses: a wrong ETag, parts out of order, a small part before the last, an unknown or another key\'s upload', async () => {
    const parts = [bytes(5 * MiB, 21), bytes(1000, 22), bytes(5 * MiB, 23)];
    const { UploadId, etags } = await multipart('mp/refused.bin', parts);
    const e = (i: number): string => etags[i] ?? '';
    expect(await awsRejection(complete('mp/refused.bin', UploadId, [{ n: 1, etag: e(1) }]))).toEqual({ name: 'InvalidPart', status: 400 });
    expect(await awsRejection(complete('mp/refused.bin', UploadId, [{ n: 1, etag: e(0) }, { n: 4, etag: e(0) }]))).toEqual({ name: 'InvalidPart', status: 400 });
    expect(await awsRejection(complete('mp/refused.bin', UploadId, [{ n: 2, etag: e(1) }, { n: 1, etag: e(0) }]))).toEqual({ name: 'InvalidPartOrder', status: 400 });
    expect(await awsRejection(complete('mp/refused.bin', UploadId, [{ n: 1, etag: e(0) }, { n: 2, etag: e(1) }, { n: 3, etag: e(2) }]))).toEqual({ name: 'EntityTooSmall', status: 400 });
    expect(await awsRejection(complete('mp/other-key.bin', UploadId, [{ n: 1, etag: e(0) }]))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    expect(await awsRejection(complete('mp/refused.bin', 'f00d', [{ n: 1, etag: e(0) }]))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    expect(await awsRejection(client.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp/refused.bin', UploadId, PartNumber: 10001, Body: 'x' })))).toEqual({ name: 'InvalidArgument', status: 400 });
    expect(await t.keys('mp/refused')).toEqual([]);
    // Still complete: the first part alone.
    const done = (await complete('mp/refused.bin', UploadId, [{ n: 1, etag: e(0) }])) as { ETag?: string };
    expect(done.ETag).toBe(multipartEtag([parts[0] as Buffer]));
    expect((await t.getBytes('mp/refused.bin')).equals(parts[0] as Buffer)).toBe(true);
  });

  it('AbortMultipartUpload removes the upload and its parts', async () => {
    const { UploadId } = await multipart('mp/aborted.bin', [bytes(5 * MiB, 31)]);
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mp/aborted.bin', UploadId }));
    expect(await awsRejection(client.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp/aborted.bin', UploadId, PartNumber: 2, Body: 'x' })))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    expect(await awsRejection(client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mp/aborted.bin', UploadId })))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    expect(await leftovers()).toEqual([]);
  });

  it('over http checks the signed payload SHA-256 (uploads and the bodies s3rver reads), accepts UNSIGNED-PAYLOAD, checks Content-MD5', async () => {
    // The body is changed after signing (a deserialize-step middleware runs after the signer).
    const tamper = (c: S3Client, name: string): void => {
      c.middlewareStack.add(
        (next) => async (args) => {
          const request = args.request as { body?: unknown };
          if (typeof request.body === 'string') request.body = request.body.replace('a', 'b');
          else if (request.body instanceof Uint8Array) request.body = Buffer.concat([request.body.subarray(0, 1).map((x) => x ^ 1), request.body.subarray(1)]);
          return next(args);
        },
        { step: 'deserialize', name },
      );
    };
    const { createS3Client } = await import('../../src/connectors/s3/client.ts');
    const bad = createS3Client({ env: { ...t.s3.env, AWS_MAX_ATTEMPTS: '1' } });
    tamper(bad, 'tamper');
    try {
      expect(await awsRejection(bad.send(new PutObjectCommand({ Bucket: bucket, Key: 'sha/put.bin', Body: bytes(100_000, 41) })))).toEqual({ name: 'XAmzContentSHA256Mismatch', status: 400 });
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'sha/part.bin' }));
      expect(await awsRejection(bad.send(new UploadPartCommand({ Bucket: bucket, Key: 'sha/part.bin', UploadId, PartNumber: 1, Body: bytes(6 * MiB, 42) })))).toEqual({ name: 'XAmzContentSHA256Mismatch', status: 400 });
      // The refused part is not there.
      expect(await awsRejection(complete('sha/part.bin', UploadId ?? '', [{ n: 1, etag: `"${md5(bytes(6 * MiB, 42)).toString('hex')}"` }]))).toEqual({ name: 'InvalidPart', status: 400 });
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'sha/part.bin', UploadId }));
      await t.put('sha/kept.txt', 'kept');
      const del = await awsRejection(bad.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'sha/kept.txt' }], Quiet: true } })));
      expect(del).toEqual({ name: 'XAmzContentSHA256Mismatch', status: 400 });
      expect(await t.keys('sha/')).toEqual(['sha/kept.txt']);
    } finally {
      bad.destroy();
    }
    // UNSIGNED-PAYLOAD, as S3 accepts it, over http too.
    const unsigned = createS3Client({ env: t.s3.env });
    unsigned.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'unsigned' },
    );
    try {
      await unsigned.send(new PutObjectCommand({ Bucket: bucket, Key: 'sha/unsigned.txt', Body: 'not hashed' }));
      expect(await t.getText('sha/unsigned.txt')).toBe('not hashed');
    } finally {
      unsigned.destroy();
    }
    const body = Buffer.from('with an MD5');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'sha/md5.txt', Body: body, ContentMD5: md5(body).toString('base64') }));
    expect(await awsRejection(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'sha/md5.txt', Body: 'other', ContentMD5: md5(body).toString('base64') })))).toEqual({ name: 'BadDigest', status: 400 });
    expect(await t.getText('sha/md5.txt')).toBe('with an MD5');
    expect(await leftovers()).toEqual([]);
  });
});
