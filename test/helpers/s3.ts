import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { RunContext } from '../../src/core/connector.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { EntitySchema, RecordBatch, Row } from '../../src/core/types.ts';
import { createS3Client } from '../../src/connectors/s3/client.ts';
import { startLocalS3 } from '../../src/emulator/s3/local.ts';
import type { LocalS3 } from '../../src/emulator/s3/local.ts';

/** A local S3 (s3rver over HTTP) and a real SDK client configured only from its `env`. */
export interface TestS3 {
  readonly s3: LocalS3;
  readonly client: S3Client;
  readonly bucket: string;
  keys(prefix?: string): Promise<string[]>;
  getBytes(key: string): Promise<Buffer>;
  getText(key: string): Promise<string>;
  put(key: string, body: string | Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export async function startTestS3(): Promise<TestS3> {
  const s3 = await startLocalS3();
  const client = createS3Client({ env: s3.env });
  const bucket = s3.bucket;
  const getBytes = async (key: string): Promise<Buffer> => {
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await (r.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  };
  return {
    s3,
    client,
    bucket,
    async keys(prefix?: string): Promise<string[]> {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        out.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return out.sort();
    },
    getBytes,
    getText: async (key) => (await getBytes(key)).toString('utf8'),
    async put(key, body): Promise<void> {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async close(): Promise<void> {
      client.destroy();
      await s3.close();
    },
  };
}

export function testContext(signal: AbortSignal = new AbortController().signal): RunContext {
  return { log: silentLogger(), signal, now: () => new Date() };
}

export const ACCOUNT_SCHEMA: EntitySchema = {
  entity: 'Account',
  fields: [
    { name: 'Id', type: 'id' },
    { name: 'Name', type: 'string' },
    { name: 'Industry', type: 'picklist' },
    { name: 'AnnualRevenue', type: 'currency' },
    { name: 'NumberOfEmployees', type: 'int' },
    { name: 'CreatedDate', type: 'datetime' },
  ],
};

const INDUSTRIES = ['Banking', 'Apparel', null, 'Energy/Oil'];

export function accountRows(count: number, offset = 0): Row[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + offset;
    return {
      Id: `001${String(i).padStart(15, '0')}`,
      Name: i % 10 === 3 ? `Acme, "${i}"` : `Account ${i}`,
      Industry: INDUSTRIES[i % INDUSTRIES.length] ?? null,
      AnnualRevenue: i % 5 === 0 ? null : i * 1000.5,
      NumberOfEmployees: i,
      CreatedDate: new Date(Date.UTC(2024, 3, 16, 19) + i * 1000).toISOString(),
    };
  });
}

/** Batches of `size` rows; throws after `failAfter` batches when given (a source dying mid-run). */
export async function* batchesOf(rows: readonly Row[], size: number, schema: EntitySchema = ACCOUNT_SCHEMA, failAfter?: number): AsyncGenerator<RecordBatch> {
  let n = 0;
  for (let i = 0; i < rows.length; i += size) {
    if (failAfter !== undefined && n >= failAfter) throw new Error('source died mid-run');
    n += 1;
    yield { rows: rows.slice(i, i + size), schema };
  }
  if (failAfter !== undefined && n <= failAfter) throw new Error('source died mid-run');
}
