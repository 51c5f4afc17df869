import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type { InputFile } from '../../formats/types.ts';
import { s3Error } from './client.ts';
import { IN_FLIGHT, ObjectUpload, partBuffers } from './upload.ts';
import { isHidden } from '../files/store.ts';
import type { BlobStore, StagedFile, StagedWrite, StoredFile } from '../files/store.ts';

/**
 * A {@link BlobStore} on S3: `bucketName` and an optional `bucketPrefix` (a folder; a trailing `/` is implied).
 *
 * Staging: each file is uploaded by an {@link ObjectUpload} (one PutObject under 8 MiB, multipart from there, 2 parts
 * in flight, so at most ~24 MiB per open file) to `<bucketPrefix>/_temporary/<executionId>/<key>`, inside the prefix the flow
 * may write to. `publish` copies every staged object to its final key (CopyObject; a multipart UploadPartCopy
 * above 5 GiB) and then deletes the staged ones, so final keys only ever hold complete files and appear
 * together at the end of a successful run. A failed run aborts its open multipart uploads and deletes its
 * staged objects; should that cleanup fail too, what remains is under `_temporary/`, which readers
 * (including forceflow's S3 source) skip. A bucket lifecycle rule on `_temporary/` is a good safety net.
 */
export interface S3StoreOptions {
  readonly client: S3Client;
  readonly bucketName: string;
  readonly bucketPrefix?: string;
  /** Names the staging folder; required for writing. */
  readonly executionId?: string;
  /**
   * A KMS key (the flow's kmsArn): every object written (staged upload, multipart upload, published copy) is
   * requested with SSE-KMS under it (`x-amz-server-side-encryption: aws:kms` and
   * `x-amz-server-side-encryption-aws-kms-key-id`). Without it, the bucket's default encryption applies.
   */
  readonly kmsKeyId?: string;
}

const COPY_LIMIT = 5 * 1024 * 1024 * 1024;
const COPY_PART = 1024 * 1024 * 1024;

export function normalisePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

/**
 * `x-amz-copy-source` must be URL-encoded. encodeURI's form (reserved characters such as `=` left as they
 * are, `%` and non-ASCII encoded) is what both S3 and s3rver (which only applies decodeURI) read back right.
 */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURI(key).replaceAll('?', '%3F').replaceAll('#', '%23')}`;
}

/** Where a run's files are staged under a bucket prefix: `<bucketPrefix>/_temporary/<executionId>/`. */
export function stagingPrefix(bucketPrefix: string | undefined, executionId: string): string {
  return `${normalisePrefix(bucketPrefix)}_temporary/${executionId}/`;
}

export function createS3Store(options: S3StoreOptions): BlobStore {
  const { client, bucketName: bucket } = options;
  const prefix = normalisePrefix(options.bucketPrefix);
  const stagingRoot = stagingPrefix(options.bucketPrefix, options.executionId ?? 'read-only');
  const uri = (key: string): string => `s3://${bucket}/${key}`;
  // A copy does not keep the source's encryption: every request that creates an object names the key again.
  const sse = options.kmsKeyId === undefined ? {} : { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: options.kmsKeyId };
  // Part buffers of this store's uploads, reused: enough for one file's filling part and parts in flight, and one more.
  const buffers = partBuffers(IN_FLIGHT + 2);

  async function copyLarge(from: string, to: string, size: number): Promise<void> {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: to, ...sse }));
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0, n = 1; start < size; start += COPY_PART, n += 1) {
        const end = Math.min(size, start + COPY_PART) - 1;
        const r = await client.send(
          new UploadPartCopyCommand({ Bucket: bucket, Key: to, UploadId, PartNumber: n, CopySource: copySource(bucket, from), CopySourceRange: `bytes=${start}-${end}` }),
        );
        parts.push({ ETag: r.CopyPartResult?.ETag ?? '', PartNumber: n });
      }
      await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (error) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId })).catch(() => undefined);
      throw error;
    }
  }

  async function deleteKeys(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
    }
  }

  return {
    location: `s3://${bucket}/${prefix}`,

    create(key: string, contentType: string): StagedWrite {
      const staged = `${stagingRoot}${key}`;
      const upload = new ObjectUpload({ client, bucket, key: staged, contentType, buffers, sse });
      return {
        async write(chunk: Uint8Array): Promise<void> {
          try {
            await upload.write(chunk);
          } catch (error) {
            throw s3Error(error, 'Uploading', uri(staged));
          }
        },
        async close(): Promise<StagedFile> {
          try {
            await upload.finish();
          } catch (error) {
            throw s3Error(error, 'Uploading', uri(staged));
          }
          return { key, size: upload.size, staged };
        },
        async abort(): Promise<void> {
          await upload.abort();
          await deleteKeys([staged]).catch(() => undefined);
        },
      };
    },

    async publish(files: readonly StagedFile[]): Promise<string[]> {
      const limit = pLimit(4);
      const published: string[] = [];
      try {
        await Promise.all(
          files.map((f) =>
            limit(async () => {
              const to = `${prefix}${f.key}`;
              try {
                if (f.size > COPY_LIMIT) await copyLarge(f.staged, to, f.size);
                else await client.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: copySource(bucket, f.staged), ...sse }));
              } catch (error) {
                throw s3Error(error, 'Publishing', uri(to));
              }
              published.push(to);
            }),
          ),
        );
      } catch (error) {
        // Do not leave part of a run looking complete.
        await deleteKeys(published).catch(() => undefined);
        await deleteKeys(files.map((f) => f.staged)).catch(() => undefined);
        throw error;
      }
      try {
        await deleteKeys(files.map((f) => f.staged));
      } catch (error) {
        throw s3Error(error, 'Cleaning up', uri(stagingRoot));
      }
      return files.map((f) => uri(`${prefix}${f.key}`));
    },

    async discard(files: readonly StagedFile[]): Promise<void> {
      await deleteKeys(files.map((f) => f.staged)).catch(() => undefined);
    },

    async list(): Promise<StoredFile[]> {
      const base = prefix === '' ? '' : (options.bucketPrefix ?? '').replace(/^\/+/, '');
      const files: StoredFile[] = [];
      let token: string | undefined;
      do {
        let page;
        try {
          page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: base, ContinuationToken: token }));
        } catch (error) {
          throw s3Error(error, 'Listing', uri(base));
        }
        for (const o of page.Contents ?? []) {
          const key = o.Key ?? '';
          const size = o.Size ?? 0;
          // `base` may name one object, or a folder (with or without its `/`).
          const relative = key === base ? key.split('/').pop() ?? key : key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
          if (relative === undefined || key.endsWith('/') || size === 0 || isHidden(relative)) continue;
          files.push({ key, size, ...(o.LastModified === undefined ? {} : { lastModified: o.LastModified.getTime() }) });
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return files.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    open(file: StoredFile): InputFile {
      const name = uri(file.key);
      const get = async (range?: string): Promise<AsyncIterable<Uint8Array>> => {
        try {
          const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: file.key, Range: range }));
          return r.Body as AsyncIterable<Uint8Array>;
        } catch (error) {
          throw s3Error(error, 'Reading', name);
        }
      };
      return {
        name,
        size: file.size,
        async *stream() {
          yield* await get();
        },
        async read(start: number, end: number): Promise<Uint8Array> {
          if (end <= start) return new Uint8Array(0);
          const chunks: Uint8Array[] = [];
          for await (const c of await get(`bytes=${start}-${end - 1}`)) chunks.push(c);
          return Buffer.concat(chunks);
        },
      };
    },
  };
}

/** Remove an interrupted run's staged objects (every key under `…/_temporary/<executionId>/`). */
export async function removeStagingPrefix(client: S3Client, bucket: string, prefix: string): Promise<void> {
  if (!/(^|\/)_temporary\/[^/]+\/$/.test(prefix)) throw new Error(`s3://${bucket}/${prefix} is not a staging prefix (…/_temporary/<executionId>/)`);
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key ?? '' })).filter((k) => k.Key !== '');
    if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
}
