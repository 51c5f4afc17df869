import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { CompletedPart, S3Client, ServerSideEncryption } from '@aws-sdk/client-s3';
import { ForceflowError } from '../../core/errors.ts';
import { BufferPool } from '../../core/buffer-pool.ts';

/**
 * One object written to S3 from chunks: a PutObject when it ends within its first part, a multipart upload
 * otherwise. Each chunk is copied once, into a part buffer of the exact part size that UploadPart sends as it
 * is (no stream, no re-chunking); a chunk is not kept after write() returns. Part buffers come from
 * {@link partBuffers} (a BufferPool, src/core/buffer-pool.ts), shared by a store's files, so a run allocates a handful of them however many parts it sends.
 *
 * Part sizes ({@link partSize}): 8 MiB for parts 1-1,000, then doubling every 1,000 parts (16 MiB up to 16 GiB of
 * file, ...), so the 10,000 parts S3 allows reach past its 5 TiB object limit and no part exceeds 5 GiB. Every part
 * but the last is at least S3's 5 MiB minimum.
 *
 * Memory per file: the part being filled plus at most {@link IN_FLIGHT} parts being sent (24 MiB at 8 MiB parts).
 * A first part grows from 64 KiB as bytes come, so a small file holds about its own size, not 8 MiB.
 */
export const PART_SIZE = 8 * 1024 * 1024;
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;
const PARTS_PER_STEP = 1000;
const FIRST_BUFFER = 64 * 1024;
export const IN_FLIGHT = 2;

/** The size of part `partNumber` (1-based) of a multipart upload. */
export function partSize(partNumber: number): number {
  return Math.min(MAX_PART_SIZE, PART_SIZE * 2 ** Math.floor((partNumber - 1) / PARTS_PER_STEP));
}

/** Part buffers that finished uploading, for the next part (of any file of the store) to reuse: full-size ones only. */
export function partBuffers(keep: number): BufferPool {
  return new BufferPool(keep, PART_SIZE);
}

export interface ObjectUploadOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly contentType: string;
  readonly buffers: BufferPool;
  /** Headers of requests that create the object (SSE-KMS). */
  readonly sse: { readonly ServerSideEncryption?: ServerSideEncryption; readonly SSEKMSKeyId?: string };
}

export class ObjectUpload {
  /** Bytes written so far. */
  size = 0;
  readonly #o: ObjectUploadOptions;
  #buffer: Buffer | undefined;
  #length = 0;
  #partNumber = 1;
  #uploadId: Promise<string | undefined> | undefined;
  readonly #sending: Promise<void>[] = [];
  readonly #parts: CompletedPart[] = [];
  #failure: { error: unknown } | undefined;
  #stopped = false;

  constructor(options: ObjectUploadOptions) {
    this.#o = options;
  }

  /** Copies the chunk into part buffers, sending each one that fills; waits while {@link IN_FLIGHT} parts are being sent. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#check();
    this.size += chunk.byteLength;
    for (let offset = 0; offset < chunk.byteLength; ) {
      const target = partSize(this.#partNumber);
      const n = Math.min(target - this.#length, chunk.byteLength - offset);
      const buffer = this.#reserve(this.#length + n, target);
      buffer.set(offset === 0 && n === chunk.byteLength ? chunk : chunk.subarray(offset, offset + n), this.#length);
      this.#length += n;
      offset += n;
      if (this.#length === target) await this.#send();
    }
  }

  /** Sends what is left and completes the object. */
  async finish(): Promise<void> {
    this.#check();
    const { client, bucket: Bucket, key: Key } = this.#o;
    if (this.#uploadId === undefined) {
      const buffer = this.#buffer;
      this.#buffer = undefined;
      const Body = buffer === undefined ? new Uint8Array(0) : buffer.subarray(0, this.#length);
      await client.send(new PutObjectCommand({ Bucket, Key, Body, ContentLength: Body.byteLength, ContentType: this.#o.contentType, ...this.#o.sse }));
      if (buffer !== undefined) this.#o.buffers.give(buffer);
      return;
    }
    if (this.#length > 0) await this.#send();
    await Promise.all(this.#sending);
    const UploadId = await this.#uploadId;
    const Parts = [...this.#parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
  }

  /** Stops: waits for the parts being sent, then aborts the multipart upload (best effort). */
  async abort(): Promise<void> {
    this.#stopped = true;
    this.#buffer = undefined;
    await Promise.allSettled(this.#sending);
    const UploadId = await this.#uploadId?.catch(() => undefined);
    if (UploadId !== undefined) {
      await this.#o.client.send(new AbortMultipartUploadCommand({ Bucket: this.#o.bucket, Key: this.#o.key, UploadId })).catch(() => undefined);
    }
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
    if (this.#stopped) throw new ForceflowError('INTERNAL', `The upload of ${this.#o.key} was aborted.`);
  }

  /** The part buffer, with room for `need` bytes: a first part grows (doubling), later parts are full-size at once. */
  #reserve(need: number, target: number): Buffer {
    const current = this.#buffer;
    if (current !== undefined && current.length >= need) return current;
    const size = this.#partNumber > 1 ? target : Math.min(target, Math.max(need, FIRST_BUFFER, 2 * (current?.length ?? 0)));
    const next = this.#o.buffers.take(size);
    if (current !== undefined) current.copy(next, 0, 0, this.#length);
    this.#buffer = next;
    return next;
  }

  /** Sends the part buffer as the next part (after the oldest of {@link IN_FLIGHT} parts being sent is done). */
  async #send(): Promise<void> {
    const buffer = this.#buffer as Buffer;
    const length = this.#length;
    const PartNumber = this.#partNumber;
    if (PartNumber > MAX_PARTS) throw new ForceflowError('S3_ERROR', `${this.#o.key} is larger than an S3 object can be (${MAX_PARTS} parts).`);
    this.#buffer = undefined;
    this.#length = 0;
    this.#partNumber += 1;
    const { client, bucket: Bucket, key: Key } = this.#o;
    this.#uploadId ??= client
      .send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: this.#o.contentType, ...this.#o.sse }))
      .then((r) => r.UploadId);
    while (this.#sending.length >= IN_FLIGHT) await this.#sending.shift();
    this.#check();
    const uploadId = this.#uploadId;
    const sent = (async () => {
      const UploadId = await uploadId;
      const r = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: buffer.subarray(0, length), ContentLength: length }));
      this.#parts.push({ ETag: r.ETag ?? '', PartNumber });
      // Only once the part is stored: a failed request may still hold the buffer.
      this.#o.buffers.give(buffer);
    })();
    sent.catch((error: unknown) => {
      this.#failure ??= { error };
    });
    this.#sending.push(sent);
  }
}
