import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { createS3Destination } from '../../src/connectors/s3/destination.ts';
import type { S3DestinationProperties } from '../../src/connectors/s3/config.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import type { RecordBatch } from '../../src/core/types.ts';
import { ACCOUNT_SCHEMA, accountRows, batchesOf, startTestS3, testContext } from '../helpers/s3.ts';
import type { TestS3 } from '../helpers/s3.ts';

let t: TestS3;
beforeAll(async () => {
  t = await startTestS3();
});
afterAll(async () => {
  await t.close();
});

const startedAt = new Date('2024-04-16T19:05:42.123Z');
let run = 0;
function deps(extra: Partial<Parameters<typeof createS3Destination>[1]> = {}): Parameters<typeof createS3Destination>[1] {
  run += 1;
  return { client: t.client, flowName: `flow${run}`, executionId: `exec-${run}`, schemaVersion: 3, startedAt, ...extra };
}
function props(prefix: string, format: S3DestinationProperties['s3OutputFormatConfig'] = { fileType: 'CSV' }): S3DestinationProperties {
  return { bucketName: t.bucket, bucketPrefix: prefix, s3OutputFormatConfig: format };
}

describe('S3 destination layout', () => {
  it('writes <prefix>/<flowName>/<executionId>/<file> by default, one CSV file, and reports it', async () => {
    const d = deps();
    const result = await createS3Destination(props('out'), d).write(batchesOf(accountRows(10), 4), testContext());
    expect(result).toMatchObject({ written: 10, failed: [] });
    const key = `out/${d.flowName}/${d.executionId}/${d.executionId}-00000.csv`;
    expect(result.outputs).toEqual([`s3://${t.bucket}/${key}`]);
    expect(await t.keys(`out/${d.flowName}/`)).toEqual([key]);
    const text = await t.getText(key);
    expect(result.bytesWritten).toBe(Buffer.byteLength(text));
    expect(text.split('\n')[0]).toBe('Id,Name,Industry,AnnualRevenue,NumberOfEmployees,CreatedDate');
    expect(text.split('\n')).toHaveLength(12);
  });

  const layouts: [string, NonNullable<S3DestinationProperties['s3OutputFormatConfig']>['prefixConfig'], (e: string) => string][] = [
    ['PATH at DAY', { prefixType: 'PATH', prefixFormat: 'DAY' }, (e) => `2024/04/16/${e}/${e}-00000.csv`],
    ['PATH at MINUTE', { prefixType: 'PATH', prefixFormat: 'MINUTE' }, (e) => `2024/04/16/19/05/${e}/${e}-00000.csv`],
    ['PATH at YEAR', { prefixType: 'PATH', prefixFormat: 'YEAR' }, (e) => `2024/${e}/${e}-00000.csv`],
    ['FILENAME at HOUR', { prefixType: 'FILENAME', prefixFormat: 'HOUR' }, (e) => `${e}/2024-04-16-19-${e}-00000.csv`],
    ['PATH_AND_FILENAME at MONTH', { prefixType: 'PATH_AND_FILENAME', prefixFormat: 'MONTH' }, (e) => `2024/04/${e}/2024-04-${e}-00000.csv`],
    ['SCHEMA_VERSION and EXECUTION_ID', { pathPrefixHierarchy: ['SCHEMA_VERSION', 'EXECUTION_ID'] }, (e) => `schemaVersion_3/${e}/${e}-00000.csv`],
    ['SCHEMA_VERSION only', { pathPrefixHierarchy: ['SCHEMA_VERSION'] }, (e) => `schemaVersion_3/${e}-00000.csv`],
    ['no folders at all', { pathPrefixHierarchy: [] }, (e) => `${e}-00000.csv`],
    ['SCHEMA_VERSION with a date path forces the execution id', { prefixType: 'PATH', prefixFormat: 'HOUR', pathPrefixHierarchy: ['SCHEMA_VERSION'] }, (e) => `schemaVersion_3/2024/04/16/19/${e}/${e}-00000.csv`],
  ];
  for (const [name, prefixConfig, expected] of layouts) {
    it(`prefixConfig ${name}`, async () => {
      const d = deps();
      await createS3Destination(props('p', { fileType: 'CSV', prefixConfig }), d).write(batchesOf(accountRows(3), 2), testContext());
      expect(await t.keys(`p/${d.flowName}/`)).toEqual([`p/${d.flowName}/${expected(d.executionId)}`]);
    });
  }

  it('works without a bucket prefix', async () => {
    const d = deps();
    const r = await createS3Destination({ bucketName: t.bucket }, d).write(batchesOf(accountRows(2), 2), testContext());
    // Without s3OutputFormatConfig the file type is JSON (JSON lines), as the compiled plan and docs/flows.md say.
    expect(r.outputs).toEqual([`s3://${t.bucket}/${d.flowName}/${d.executionId}/${d.executionId}-00000.jsonl`]);
    const lines = (await t.getText(`${d.flowName}/${d.executionId}/${d.executionId}-00000.jsonl`)).trim().split('\n');
    expect(lines.map((l) => Object.keys(JSON.parse(l) as object).length)).toEqual([6, 6]);
  });
});

describe('S3 destination aggregation', () => {
  it('None groups pages into one file until 100,000 records, then rolls over at a batch boundary', async () => {
    const d = deps();
    const r = await createS3Destination(props('agg', { fileType: 'JSON', aggregationConfig: { aggregationType: 'None' } }), d).write(
      batchesOf(accountRows(130_000), 40_000),
      testContext(),
    );
    expect(r.written).toBe(130_000);
    const keys = await t.keys(`agg/${d.flowName}/`);
    expect(keys.map((k) => k.split('/').pop())).toEqual([`${d.executionId}-00000.jsonl`, `${d.executionId}-00001.jsonl`]);
    const lines = (await t.getText(keys[0] as string)).trim().split('\n');
    expect(lines).toHaveLength(120_000);
    expect(JSON.parse(lines[0] as string)).toEqual(accountRows(1)[0]);
  });

  it('SingleFile writes one file per run', async () => {
    const d = deps();
    await createS3Destination(props('agg', { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } }), d).write(batchesOf(accountRows(130_000), 40_000), testContext());
    expect(await t.keys(`agg/${d.flowName}/`)).toHaveLength(1);
  });

  it('targetFileSize rolls files over at about that many MB, losing and repeating no record', async () => {
    const d = deps();
    const rows = accountRows(40_000);
    const r = await createS3Destination(props('agg', { fileType: 'CSV', aggregationConfig: { aggregationType: 'SingleFile', targetFileSize: 1 } }), d).write(batchesOf(rows, 7000), testContext());
    const keys = await t.keys(`agg/${d.flowName}/`);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    let total = 0;
    const ids: string[] = [];
    for (const [i, key] of keys.entries()) {
      const bytes = await t.getBytes(key);
      if (i < keys.length - 1) {
        expect(bytes.byteLength).toBeGreaterThanOrEqual(1024 * 1024);
        expect(bytes.byteLength).toBeLessThan(1024 * 1024 + 200_000);
      }
      total += bytes.byteLength;
      const lines = bytes.toString('utf8').trim().split('\n');
      expect(lines[0]).toBe('Id,Name,Industry,AnnualRevenue,NumberOfEmployees,CreatedDate');
      ids.push(...lines.slice(1).map((l) => l.split(',')[0] as string));
    }
    expect(r.bytesWritten).toBe(total);
    expect(ids).toEqual(rows.map((row) => row['Id']));
  });
});

describe('S3 destination partitions and formats', () => {
  it('writes field=value folders in key order, null as field=null, escaping unsafe characters', async () => {
    const d = deps();
    const rows = accountRows(8);
    await createS3Destination(props('part', { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } }), { ...d, partitionKeys: ['Industry', 'NumberOfEmployees'] }).write(
      batchesOf(rows.map((r) => ({ ...r, NumberOfEmployees: Number(r['NumberOfEmployees']) % 2 })), 3),
      testContext(),
    );
    const base = `part/${d.flowName}/${d.executionId}/`;
    const keys = (await t.keys(base)).map((k) => k.slice(base.length));
    expect(keys).toEqual([
      `Industry=Apparel/NumberOfEmployees=1/${d.executionId}-00001.jsonl`,
      `Industry=Banking/NumberOfEmployees=0/${d.executionId}-00000.jsonl`,
      `Industry=Energy%2FOil/NumberOfEmployees=1/${d.executionId}-00003.jsonl`,
      `Industry=null/NumberOfEmployees=0/${d.executionId}-00002.jsonl`,
    ]);
    // Apparel rows are 1 and 5, from two different batches, in one file.
    const apparel = await t.getText(`${base}Industry=Apparel/NumberOfEmployees=1/${d.executionId}-00001.jsonl`);
    expect(apparel.trim().split('\n').map((l) => (JSON.parse(l) as { Id: string }).Id)).toEqual([rows[1]?.['Id'], rows[5]?.['Id']]);
  });

  it('SingleFile keeps one file per partition', async () => {
    const d = deps();
    await createS3Destination(props('part', { fileType: 'CSV', aggregationConfig: { aggregationType: 'SingleFile' } }), { ...d, partitionKeys: ['Industry'] }).write(
      batchesOf(accountRows(40), 3),
      testContext(),
    );
    const keys = await t.keys(`part/${d.flowName}/`);
    expect(keys.map((k) => k.split('/')[3])).toEqual(['Industry=Apparel', 'Industry=Banking', 'Industry=Energy%2FOil', 'Industry=null']);
    const banking = await t.getText(keys[1] as string);
    expect(banking.trim().split('\n')).toHaveLength(11);
  });

  it('writes typed Parquet that hyparquet reads back', async () => {
    const d = deps();
    const rows = accountRows(1000);
    await createS3Destination(props('pq', { fileType: 'PARQUET', preserveSourceDataTyping: true }), d).write(batchesOf(rows, 300), testContext());
    const [key] = await t.keys(`pq/${d.flowName}/`);
    expect(key).toMatch(/\.parquet$/);
    const bytes = await t.getBytes(key as string);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    expect(parquetMetadata(ab).schema.find((e) => e.name === 'NumberOfEmployees')?.type).toBe('INT32');
    const back = (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
    expect(back).toHaveLength(1000);
    expect(back[7]).toMatchObject({ Id: rows[7]?.['Id'], AnnualRevenue: 7003.5, NumberOfEmployees: 7 });
    expect((back[7]?.['CreatedDate'] as Date).toISOString()).toBe(rows[7]?.['CreatedDate']);
  });

  it('writes no file for a run with no records', async () => {
    const d = deps();
    const r = await createS3Destination(props('empty'), d).write(batchesOf([], 10), testContext());
    expect(r).toMatchObject({ written: 0, bytesWritten: 0, outputs: [] });
    expect(await t.keys(`empty/${d.flowName}/`)).toEqual([]);
  });
});

describe('S3 destination atomic visibility', () => {
  it('a source that dies mid-run leaves nothing under the flow folder and nothing staged', async () => {
    const d = deps();
    // 3 batches of 60,000 JSON rows: the first file (None) is closed after 120,000 rows, before the failure.
    const error = await createS3Destination(props('atomic', { fileType: 'JSON' }), d)
      .write(batchesOf(accountRows(180_000), 60_000, ACCOUNT_SCHEMA, 2), testContext())
      .then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toMatch(/source died mid-run/);
    expect(await t.keys('atomic/')).toEqual([]);
  });

  it('an aborted run ends RUN_CANCELED and leaves nothing', async () => {
    const d = deps();
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<RecordBatch> {
      yield { rows: accountRows(10), schema: ACCOUNT_SCHEMA };
      controller.abort();
      yield { rows: accountRows(10, 10), schema: ACCOUNT_SCHEMA };
    }
    const error = await createS3Destination(props('cancel'), d).write(slow(), testContext(controller.signal)).then(() => undefined, (e: unknown) => e);
    expect(isForceflowError(error, 'RUN_CANCELED')).toBe(true);
    expect(await t.keys('cancel/')).toEqual([]);
  });

  it('a missing bucket fails with FILE_NOT_FOUND', async () => {
    const d = deps();
    const error = await createS3Destination({ bucketName: 'no-such-bucket' }, d).write(batchesOf(accountRows(3), 3), testContext()).then(() => undefined, (e: unknown) => e);
    expect(isForceflowError(error, 'FILE_NOT_FOUND')).toBe(true);
  });
});
