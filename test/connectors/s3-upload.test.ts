import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { HttpResponse } from '@smithy/protocol-http';
import type { HttpRequest } from '@smithy/protocol-http';
import { describe, expect, it } from 'vitest';
import { createS3Client, payloadHashHeader } from '../../src/connectors/s3/client.ts';
import { IN_FLIGHT, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, ObjectUpload, PART_SIZE, partBuffers, partSize } from '../../src/connectors/s3/upload.ts';

// What the S3 store's uploads send (src/connectors/s3/upload.ts, client.ts); the round trips through a real
// SDK and s3rver are the blob store conformance suite's (test/conformance/s3.test.ts).

const MiB = 1024 * 1024;

describe('part sizes', () => {
  it('are 8 MiB for parts 1-1,000, then double every 1,000 parts, within S3 limits up to part 10,000', () => {
    expect([1, 1000, 1001, 2000, 2001, 10_000].map(partSize)).toEqual([8, 8, 16, 16, 32, 4096].map((m) => m * MiB));
    let total = 0;
    for (let n = 1; n <= MAX_PARTS; n += 1) {
      const size = partSize(n);
      expect(size).toBeGreaterThanOrEqual(MIN_PART_SIZE);
      expect(size).toBeLessThanOrEqual(MAX_PART_SIZE);
      total += size;
    }
    // 10,000 parts hold more than S3's largest object (5 TiB).
    expect(total).toBeGreaterThan(5 * 1024 * 1024 * MiB);
  });
});

interface Sent {
  readonly name: string;
  readonly input: Record<string, unknown>;
  /** A copy of the body when it was sent. */
  readonly body?: Buffer;
}

/** A client that answers upload commands after a tick, and checks a part's bytes did not change while it was being sent. */
function fakeClient(failPart?: number): { client: S3Client; sent: Sent[] } {
  const sent: Sent[] = [];
  const send = async (command: { input: Record<string, unknown> }): Promise<unknown> => {
    const body = command.input['Body'];
    const copy = body instanceof Uint8Array ? Buffer.from(body) : undefined;
    sent.push({ name: command.constructor.name, input: command.input, ...(copy === undefined ? {} : { body: copy }) });
    await new Promise((r) => setTimeout(r, 1));
    if (command instanceof CreateMultipartUploadCommand) return { UploadId: 'u1' };
    if (command instanceof UploadPartCommand) {
      const n = command.input.PartNumber as number;
      if (n === failPart) throw Object.assign(new Error('part failed'), { name: 'InternalError' });
      expect(Buffer.compare(Buffer.from(body as Uint8Array), copy as Buffer), `part ${n} changed while it was sent`).toBe(0);
      return { ETag: `"e${n}"` };
    }
    return {};
  };
  return { client: { send } as unknown as S3Client, sent };
}

/** Random bytes: no two parts alike, so a part sent with another's bytes shows. */
function bytes(n: number): Buffer {
  return randomBytes(n);
}

async function upload(total: number, chunk: number, failPart?: number): Promise<{ sent: Sent[]; data: Buffer; error?: unknown }> {
  const { client, sent } = fakeClient(failPart);
  const u = new ObjectUpload({ client, bucket: 'b', key: 'k', contentType: 'text/plain', buffers: partBuffers(IN_FLIGHT + 2), sse: {} });
  const data = bytes(total);
  try {
    for (let i = 0; i < total; i += chunk) await u.write(data.subarray(i, i + chunk));
    await u.finish();
    expect(u.size).toBe(total);
  } catch (error) {
    await u.abort();
    if (failPart === undefined) throw error;
    return { sent, data, error };
  }
  return { sent, data };
}

const names = (sent: readonly Sent[]) => sent.map((s) => s.name);
const parts = (sent: readonly Sent[]) => sent.filter((s) => s.name === 'UploadPartCommand');

describe('ObjectUpload', () => {
  it('a file under one part is one PutObject of its bytes, with its length and content type', async () => {
    const { sent, data } = await upload(PART_SIZE - 1, 300_000);
    expect(names(sent)).toEqual(['PutObjectCommand']);
    expect(sent[0]?.body?.equals(data)).toBe(true);
    expect(sent[0]?.input).toMatchObject({ ContentLength: PART_SIZE - 1, ContentType: 'text/plain', Key: 'k' });
  });

  it('an empty file is an empty PutObject', async () => {
    const { sent } = await upload(0, 1);
    expect(names(sent)).toEqual(['PutObjectCommand']);
    expect(sent[0]?.body?.length).toBe(0);
  });

  it('a file of exactly one part is a multipart upload of that one part; one byte more makes a second part of one byte', async () => {
    const exact = await upload(PART_SIZE, 1_000_000);
    expect(names(exact.sent)).toEqual(['CreateMultipartUploadCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']);
    expect(parts(exact.sent)[0]?.input).toMatchObject({ PartNumber: 1, ContentLength: PART_SIZE, UploadId: 'u1' });
    const more = await upload(PART_SIZE + 1, 1_000_000);
    expect(parts(more.sent).map((p) => p.body?.length)).toEqual([PART_SIZE, 1]);
    expect(more.sent.at(-1)?.input['MultipartUpload']).toEqual({ Parts: [{ ETag: '"e1"', PartNumber: 1 }, { ETag: '"e2"', PartNumber: 2 }] });
  });

  it('sends whole parts whatever the chunks, keeps every byte in order, and reuses a few part buffers', async () => {
    const { sent, data } = await upload(6 * PART_SIZE + 12_345, 777_777);
    const p = parts(sent);
    expect(p.map((s) => s.input['PartNumber'])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(p.map((s) => s.body?.length)).toEqual([...Array(6).fill(PART_SIZE), 12_345]);
    expect(Buffer.concat(p.map((s) => s.body as Buffer)).equals(data)).toBe(true);
    // The bodies sent are views of part buffers: one being filled and IN_FLIGHT being sent, then reused.
    const buffers = new Set(p.map((s) => (s.input['Body'] as Uint8Array).buffer));
    expect(buffers.size).toBeLessThanOrEqual(IN_FLIGHT + 1);
  });

  it('a failed part fails the upload, which aborts the multipart upload and completes nothing', async () => {
    const { sent, error } = await upload(5 * PART_SIZE, 1_000_000, 2);
    expect((error as Error).message).toBe('part failed');
    expect(names(sent)).toContain('AbortMultipartUploadCommand');
    expect(names(sent)).not.toContain('CompleteMultipartUploadCommand');
    const abort = sent.find((s) => s.name === 'AbortMultipartUploadCommand');
    expect(abort?.input).toMatchObject({ UploadId: 'u1', Key: 'k' });
  });

  it('a write after abort() is refused', async () => {
    const { client } = fakeClient();
    const u = new ObjectUpload({ client, bucket: 'b', key: 'k', contentType: 'text/plain', buffers: partBuffers(1), sse: {} });
    await u.write(bytes(10));
    await u.abort();
    await expect(u.write(bytes(10))).rejects.toThrow(/aborted/);
  });
});

/** An S3 client of createS3Client() whose requests are captured, not sent. */
function capturingClient(endpoint: string, env: Record<string, string> = {}): { client: S3Client; requests: HttpRequest[] } {
  const requests: HttpRequest[] = [];
  const client = createS3Client({ env: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', ...env }, endpoint });
  client.config.requestHandler = {
    handle: async (request: HttpRequest) => {
      requests.push(request);
      return { response: new HttpResponse({ statusCode: 200, headers: { etag: '"x"' }, body: Readable.from([]) }) };
    },
  } as unknown as typeof client.config.requestHandler;
  return { client, requests };
}

describe('the S3 client: payload signing and checksums of uploads', () => {
  it('payloadHashHeader: UNSIGNED-PAYLOAD only for a binary body over HTTPS', () => {
    expect(payloadHashHeader('https:', new Uint8Array(3))).toBe('UNSIGNED-PAYLOAD');
    expect(payloadHashHeader('http:', new Uint8Array(3))).toBeUndefined();
    expect(payloadHashHeader('https:', '<Delete/>')).toBeUndefined();
    expect(payloadHashHeader('https:', undefined)).toBeUndefined();
  });

  it('over HTTPS an UploadPart body is sent unsigned, with no CRC32; the request is still signed', async () => {
    const { client, requests } = capturingClient('https://s3.example.test');
    await client.send(new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId: 'u', PartNumber: 1, Body: bytes(1000) }));
    const h = requests[0]?.headers ?? {};
    expect(h['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(h['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AK\//);
    expect(Object.keys(h).filter((k) => k.startsWith('x-amz-checksum') || k === 'x-amz-sdk-checksum-algorithm')).toEqual([]);
    client.destroy();
  });

  it('over plain HTTP a PutObject body has its SHA-256 signed', async () => {
    const { client, requests } = capturingClient('http://127.0.0.1:9');
    const body = bytes(1000);
    await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: body }));
    expect(requests[0]?.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
    client.destroy();
  });

  it('AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_SUPPORTED brings back the SDK CRC32 of each part', async () => {
    const { client, requests } = capturingClient('https://s3.example.test', { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_supported' });
    await client.send(new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId: 'u', PartNumber: 1, Body: bytes(1000) }));
    expect(requests[0]?.headers['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    client.destroy();
  });
});
