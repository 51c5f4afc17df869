import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parquetReadObjects } from 'hyparquet';
import { createLocalFileDestination } from '../../src/connectors/local-file/destination.ts';
import { createLocalFileSource } from '../../src/connectors/local-file/source.ts';
import { createErrorSink } from '../../src/connectors/s3/error-sink.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import type { SourceStream } from '../../src/core/connector.ts';
import type { Row } from '../../src/core/types.ts';
import { accountRows, batchesOf, startTestS3, testContext } from '../helpers/s3.ts';
import type { TestS3 } from '../helpers/s3.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forceflow-local-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/')).sort();
}

async function readAll(stream: SourceStream): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const b of stream.batches) rows.push(...b.rows);
  return rows;
}

const startedAt = new Date('2024-04-16T19:05:42.123Z');

describe('LocalFile destination', () => {
  it('uses the S3 layout in the folder: schema version, date path, execution id, partitions', async () => {
    const out = join(dir, 'layout');
    const result = await createLocalFileDestination(
      { path: out, outputFormatConfig: { fileType: 'CSV', prefixConfig: { prefixType: 'PATH_AND_FILENAME', prefixFormat: 'DAY', pathPrefixHierarchy: ['SCHEMA_VERSION', 'EXECUTION_ID'] }, aggregationConfig: { aggregationType: 'SingleFile' } } },
      { flowName: 'accounts', executionId: 'e1', schemaVersion: 2, startedAt, partitionKeys: ['Industry'] },
    ).write(batchesOf(accountRows(8), 3), testContext());
    expect(result.written).toBe(8);
    const base = 'accounts/schemaVersion_2/2024/04/16/e1/';
    expect(await files(out)).toEqual([
      `${base}Industry=Apparel/2024-04-16-e1-00001.csv`,
      `${base}Industry=Banking/2024-04-16-e1-00000.csv`,
      `${base}Industry=Energy%2FOil/2024-04-16-e1-00003.csv`,
      `${base}Industry=null/2024-04-16-e1-00002.csv`,
    ]);
    expect(result.outputs).toContain(join(out, ...`${base}Industry=null/2024-04-16-e1-00002.csv`.split('/')));
    const banking = await readFile(join(out, ...`${base}Industry=Banking/2024-04-16-e1-00000.csv`.split('/')), 'utf8');
    expect(banking.trim().split('\n')).toHaveLength(3); // header + rows 0 and 4
  });

  it('resolves a relative path from baseDir (the flow file folder) and writes typed Parquet', async () => {
    const base = join(dir, 'flows');
    await mkdir(base, { recursive: true });
    const rows = accountRows(50);
    await createLocalFileDestination(
      { path: 'out', outputFormatConfig: { fileType: 'PARQUET', preserveSourceDataTyping: true } },
      { flowName: 'f', executionId: 'e2', schemaVersion: 1, startedAt, baseDir: base },
    ).write(batchesOf(rows, 20), testContext());
    expect(await files(join(base, 'out'))).toEqual(['f/e2/e2-00000.parquet']);
    const bytes = await readFile(join(base, 'out', 'f', 'e2', 'e2-00000.parquet'));
    const back = (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer })) as Record<string, unknown>[];
    expect(back.map((r) => r['NumberOfEmployees'])).toEqual(rows.map((r) => r['NumberOfEmployees']));
  });

  it('keeps at most 32 files open: more interleaved partitions roll over to new files without losing rows', async () => {
    const out = join(dir, 'many');
    const rows = Array.from({ length: 400 }, (_, i) => ({ Id: String(i), Bucket: i % 40 }));
    const schema = { entity: 'X', fields: [{ name: 'Id', type: 'string' as const }, { name: 'Bucket', type: 'int' as const }] };
    const r = await createLocalFileDestination(
      { path: out, outputFormatConfig: { fileType: 'CSV', aggregationConfig: { aggregationType: 'SingleFile' } } },
      { flowName: 'f', executionId: 'e', schemaVersion: 1, startedAt, partitionKeys: ['Bucket'] },
    ).write(batchesOf(rows, 50, schema), testContext());
    const written = await files(out);
    expect(new Set(written.map((f) => f.split('/')[2])).size).toBe(40);
    expect(written.length).toBeGreaterThan(40);
    const ids: string[] = [];
    for (const f of written) ids.push(...(await readFile(join(out, ...f.split('/')), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(',')[0] as string));
    expect(ids.map(Number).sort((a, b) => a - b)).toEqual(rows.map((row) => Number(row.Id)));
    expect(r.written).toBe(400);
  });

  it('starts a new file when the columns change mid-run (a file has one header)', async () => {
    const out = join(dir, 'drift');
    async function* drift() {
      yield { rows: [{ a: '1' }], schema: { entity: 'X', fields: [{ name: 'a', type: 'string' as const }] } };
      yield { rows: [{ a: '2', b: '3' }], schema: { entity: 'X', fields: [{ name: 'a', type: 'string' as const }, { name: 'b', type: 'string' as const }] } };
    }
    await createLocalFileDestination({ path: out, outputFormatConfig: { fileType: 'CSV' } }, { flowName: 'f', executionId: 'e', schemaVersion: 1, startedAt }).write(drift(), testContext());
    expect(await files(out)).toEqual(['f/e/e-00000.csv', 'f/e/e-00001.csv']);
    expect(await readFile(join(out, 'f', 'e', 'e-00001.csv'), 'utf8')).toBe('a,b\n2,3\n');
  });

  it('a failed run leaves no files and no staging folder', async () => {
    const out = join(dir, 'failed');
    const error = await createLocalFileDestination(
      { path: out, outputFormatConfig: { fileType: 'JSON', aggregationConfig: { targetFileSize: 1 } } },
      { flowName: 'f', executionId: 'e3', schemaVersion: 1, startedAt },
    )
      .write(batchesOf(accountRows(30_000), 5000, undefined, 5), testContext())
      .then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toMatch(/source died/);
    expect(await files(out)).toEqual([]);
  });
});

describe('LocalFile source', () => {
  it('reads one file, or a folder of files recursively in path order, skipping hidden and staging files', async () => {
    const src = join(dir, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await mkdir(join(src, '_temporary'), { recursive: true });
    await writeFile(join(src, 'b.csv'), 'Id,Name\n3,c\n');
    await writeFile(join(src, 'a.csv'), 'Id,Name\n1,a\n2,"b, b"\n');
    await writeFile(join(src, 'sub', 'c.csv'), 'Id,Name\n4,\n');
    await writeFile(join(src, '_temporary', 'x.csv'), 'Id,Name\n99,z\n');
    await writeFile(join(src, '.DS_Store'), 'junk');
    const folder = await createLocalFileSource({ path: src, fileType: 'CSV' }).open({ entity: 'Account' }, testContext());
    expect(await readAll(folder)).toEqual([
      { Id: '1', Name: 'a' },
      { Id: '2', Name: 'b, b' },
      { Id: '3', Name: 'c' },
      { Id: '4', Name: null },
    ]);
    const one = await createLocalFileSource({ path: 'a.csv', fileType: 'CSV' }, { baseDir: src }).open({ entity: '' }, testContext());
    expect(one.schema.entity).toBe('a');
    expect(await readAll(one)).toHaveLength(2);
  });

  it('reads back JSON lines and Parquet written by the LocalFile destination', async () => {
    const rows = accountRows(300);
    for (const fileType of ['JSON', 'PARQUET'] as const) {
      const out = join(dir, `rt-${fileType}`);
      await createLocalFileDestination({ path: out, outputFormatConfig: { fileType, preserveSourceDataTyping: true } }, { flowName: 'f', executionId: 'e', schemaVersion: 1, startedAt }).write(batchesOf(rows, 100), testContext());
      const stream = await createLocalFileSource({ path: out, fileType }).open({ entity: 'Account' }, testContext());
      expect(await readAll(stream)).toEqual(rows);
    }
  });

  it('fails with FILE_NOT_FOUND for a missing path and INPUT_INVALID with file and line for a bad JSON line', async () => {
    const missing = await createLocalFileSource({ path: join(dir, 'nope'), fileType: 'CSV' }).open({ entity: 'X' }, testContext()).then(() => undefined, (e: unknown) => e);
    expect(isForceflowError(missing, 'FILE_NOT_FOUND')).toBe(true);
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"a":1}\n{"a":2}\nnot json\n');
    const error = await createLocalFileSource({ path: bad, fileType: 'JSON' }).open({ entity: 'X' }, testContext()).then(() => undefined, (e: unknown) => e);
    expect(isForceflowError(error, 'INPUT_INVALID')).toBe(true);
    expect((error as Error).message).toBe(`${bad} line 3: not valid JSON (${(() => { try { JSON.parse('not json'); } catch (e) { return (e as Error).message; } return ''; })()})`);
  });
});

describe('error sink', () => {
  let t: TestS3;
  beforeAll(async () => {
    t = await startTestS3();
  });
  afterAll(async () => {
    await t.close();
  });

  const failures = [
    { index: 0, record: { Name: 'Acme', Email__c: 'bad' }, errorCode: 'INVALID_EMAIL_ADDRESS', message: 'Email: invalid email address: bad', fields: ['Email__c'] },
    { index: 3, record: { Name: 'Globex, "Inc"', Email__c: null }, errorCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [LastName]', fields: ['LastName', 'Company'] },
  ];

  it('writes original fields plus errorCode, errorMessage, errorFields to S3 under <prefix>/<flow>/<execution>/', async () => {
    const sink = createErrorSink({ s3: { client: t.client, bucketName: t.bucket, bucketPrefix: 'errors' } }, { flowName: 'leads', executionId: 'x1' });
    await sink.add(failures.slice(0, 1));
    await sink.add([]);
    await sink.add(failures.slice(1));
    expect(await t.keys('errors/leads/')).toEqual([]); // not visible before finish()
    const done = await sink.finish();
    expect(done).toEqual({ key: `s3://${t.bucket}/errors/leads/x1/errors.csv`, count: 2 });
    expect(await t.keys('errors/')).toEqual(['errors/leads/x1/errors.csv']);
    expect(await t.getText('errors/leads/x1/errors.csv')).toBe(
      'Name,Email__c,errorCode,errorMessage,errorFields\n' +
        'Acme,bad,INVALID_EMAIL_ADDRESS,Email: invalid email address: bad,Email__c\n' +
        '"Globex, ""Inc""",,REQUIRED_FIELD_MISSING,Required fields are missing: [LastName],LastName;Company\n',
    );
  });

  it('writes to a local folder with the given field order, and nothing when no record failed', async () => {
    const local = join(dir, 'errors');
    const sink = createErrorSink({ localDir: local }, { flowName: 'leads', executionId: 'x2', fields: ['Email__c', 'Name', 'Phone'] });
    await sink.add(failures);
    const done = await sink.finish();
    expect(done.key).toBe(join(local, 'leads', 'x2', 'errors.csv'));
    expect((await readFile(done.key as string, 'utf8')).split('\n')[0]).toBe('Email__c,Name,Phone,errorCode,errorMessage,errorFields');
    expect(await files(local)).toEqual(['leads/x2/errors.csv']);
    const empty = createErrorSink({ localDir: local }, { flowName: 'leads', executionId: 'x3' });
    expect(await empty.finish()).toEqual({ key: null, count: 0 });
    expect(await files(local)).toEqual(['leads/x2/errors.csv']);
  });
});
