import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Destination } from '../../src/connectors/s3/destination.ts';
import { createS3Source } from '../../src/connectors/s3/source.ts';
import { createS3Client } from '../../src/connectors/s3/client.ts';
import { createEncoder } from '../../src/formats/index.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import type { SourceStream } from '../../src/core/connector.ts';
import type { Row } from '../../src/core/types.ts';
import { ACCOUNT_SCHEMA, accountRows, batchesOf, startTestS3, testContext } from '../helpers/s3.ts';
import type { TestS3 } from '../helpers/s3.ts';

let t: TestS3;
beforeAll(async () => {
  t = await startTestS3();
});
afterAll(async () => {
  await t.close();
});

async function readAll(stream: SourceStream): Promise<{ rows: Row[]; batches: number }> {
  const rows: Row[] = [];
  let batches = 0;
  for await (const b of stream.batches) {
    batches += 1;
    rows.push(...b.rows);
  }
  return { rows, batches };
}

describe('S3 source', () => {
  it('reads every format the destination writes back to the same rows (Parquet typed, via the S3 round trip)', async () => {
    const rows = accountRows(2500);
    for (const fileType of ['CSV', 'JSON', 'PARQUET'] as const) {
      const prefix = `roundtrip-${fileType}`;
      await createS3Destination(
        { bucketName: t.bucket, bucketPrefix: prefix, s3OutputFormatConfig: { fileType, preserveSourceDataTyping: true, aggregationConfig: { targetFileSize: 1 } } },
        { client: t.client, flowName: 'f', executionId: 'e1', schemaVersion: 1, startedAt: new Date() },
      ).write(batchesOf(rows, 1000), testContext());
      const stream = await createS3Source({ bucketName: t.bucket, bucketPrefix: prefix }, { client: t.client, batchSize: 1000 }).open({ entity: 'Account' }, testContext());
      expect(stream.schema.fields.map((f) => f.name)).toEqual(ACCOUNT_SCHEMA.fields.map((f) => f.name));
      const { rows: back } = await readAll(stream);
      if (fileType === 'CSV') {
        expect(back).toEqual(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)]))));
      } else {
        expect(back).toEqual(rows);
      }
      if (fileType === 'PARQUET') expect(stream.schema.fields.find((f) => f.name === 'AnnualRevenue')?.type).toBe('currency');
    }
  });

  it('reads objects in key order, skips _temporary, dot files and empty objects, and honours s3InputFileType', async () => {
    await t.put('in/b.data', 'id\n3\n4\n');
    await t.put('in/a.data', 'id\n1\n2\n');
    await t.put('in/sub/c.data', 'id\n5\n');
    await t.put('in/_temporary/x/d.data', 'id\n99\n');
    await t.put('in/.hidden', 'id\n98\n');
    await t.put('in/empty.data', '');
    await t.put('inbox/other.data', 'id\n97\n');
    const stream = await createS3Source({ bucketName: t.bucket, bucketPrefix: 'in', s3InputFormatConfig: { s3InputFileType: 'CSV' } }, { client: t.client }).open({ entity: 'X' }, testContext());
    const { rows } = await readAll(stream);
    expect(rows.map((r) => r['id'])).toEqual(['1', '2', '3', '4', '5']);
  });

  it('reads a single object named by the prefix, by its extension', async () => {
    await t.put('single/accounts.jsonl', '{"Id":"a","n":1}\n{"Id":"b","n":2}\n');
    const stream = await createS3Source({ bucketName: t.bucket, bucketPrefix: 'single/accounts.jsonl' }, { client: t.client }).open({ entity: 'Account' }, testContext());
    expect((await readAll(stream)).rows).toEqual([{ Id: 'a', n: 1 }, { Id: 'b', n: 2 }]);
  });

  it('keeps only the requested fields, and names a missing one', async () => {
    await t.put('proj/a.csv', 'Id,Name,Extra\n1,x,y\n');
    const source = createS3Source({ bucketName: t.bucket, bucketPrefix: 'proj' }, { client: t.client });
    const stream = await source.open({ entity: 'A', fields: ['Name', 'Id'] }, testContext());
    expect(stream.schema.fields.map((f) => f.name)).toEqual(['Name', 'Id']);
    expect((await readAll(stream)).rows).toEqual([{ Name: 'x', Id: '1' }]);
    const excluded = await source.open({ entity: 'A', excludeFields: ['Extra'] }, testContext());
    expect((await readAll(excluded)).rows).toEqual([{ Id: '1', Name: 'x' }]);
    const error = await source.open({ entity: 'A', fields: ['Nope'] }, testContext()).then(() => undefined, (e: unknown) => e);
    expect(isForceflowError(error, 'FIELD_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toMatch(/"Nope"/);
  });

  it('fails with INPUT_INVALID naming the object and line of a malformed CSV row or JSON line', async () => {
    await t.put('bad-csv/a.csv', 'a,b\n1,2\n3\n');
    const csv = await createS3Source({ bucketName: t.bucket, bucketPrefix: 'bad-csv' }, { client: t.client }).open({ entity: 'X' }, testContext());
    const e1 = await readAll(csv).then(() => undefined, (e: unknown) => e);
    expect(isForceflowError(e1, 'INPUT_INVALID')).toBe(true);
    expect((e1 as Error).message).toMatch(new RegExp(`^s3://${t.bucket}/bad-csv/a\\.csv line 3: `));

    await t.put('bad-jsonl/a.jsonl', '{"a":1}\n{"a":\n');
    const e2 = await createS3Source({ bucketName: t.bucket, bucketPrefix: 'bad-jsonl' }, { client: t.client })
      .open({ entity: 'X' }, testContext())
      .then(() => undefined, (e: unknown) => e);
    expect(isForceflowError(e2, 'INPUT_INVALID')).toBe(true);
    expect((e2 as Error).message).toMatch(/bad-jsonl\/a\.jsonl line 2: not valid JSON/);
  });

  it('refuses an object that is not UTF-8 (naming object, line and byte offset), or with invalidUtf8 "replace" reads U+FFFD and counts it', async () => {
    await t.put('latin1/a.jsonl', Buffer.from('{"a":"ok"}\n{"a":"caf\xe9"}\n', 'latin1'));
    const refused = await createS3Source({ bucketName: t.bucket, bucketPrefix: 'latin1' }, { client: t.client })
      .open({ entity: 'X' }, testContext())
      .then(() => undefined, (e: unknown) => e);
    expect(isForceflowError(refused, 'INPUT_INVALID')).toBe(true);
    expect((refused as Error).message).toMatch(new RegExp(`^s3://${t.bucket}/latin1/a\\.jsonl line 2 \\(byte offset 20\\): not valid UTF-8`));

    const stream = await createS3Source({ bucketName: t.bucket, bucketPrefix: 'latin1' }, { client: t.client, input: { invalidUtf8: 'replace' } }).open({ entity: 'X' }, testContext());
    const { rows } = await readAll(stream);
    expect(rows.map((r) => r['a'])).toEqual(['ok', 'caf\uFFFD']);
    expect(stream.invalidUtf8Replacements?.()).toBe(1);
  });

  it('streams a Parquet object one row group at a time with ranged reads', async () => {
    const rows = accountRows(3000);
    const enc = createEncoder('PARQUET', ACCOUNT_SCHEMA, { preserveSourceDataTyping: true, rowGroupRows: 1000 });
    const bytes = Buffer.concat([enc.encode(rows) ?? new Uint8Array(), enc.finish() ?? new Uint8Array()]);
    await t.put('pq/a.parquet', bytes);
    const stream = await createS3Source({ bucketName: t.bucket, bucketPrefix: 'pq' }, { client: t.client, batchSize: 5000 }).open({ entity: 'Account' }, testContext());
    const { rows: back, batches } = await readAll(stream);
    expect(batches).toBe(3);
    expect(back).toEqual(rows);
  });

  it('maps refused credentials to S3_ACCESS_DENIED', async () => {
    const client = createS3Client({ env: { ...t.s3.env, AWS_ACCESS_KEY_ID: 'NOT-S3RVER', AWS_SECRET_ACCESS_KEY: 'wrong' } });
    const error = await createS3Source({ bucketName: t.bucket }, { client }).open({ entity: 'X' }, testContext()).then(() => undefined, (e: unknown) => e);
    client.destroy();
    expect(isForceflowError(error, 'S3_ACCESS_DENIED'), String(error)).toBe(true);
  });
});
