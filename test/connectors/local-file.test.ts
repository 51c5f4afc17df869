import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parquetReadObjects } from 'hyparquet';
import { createLocalFileDestination } from '../../src/connectors/local-file/destination.ts';
import { createLocalFileSource } from '../../src/connectors/local-file/source.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import type { SourceStream } from '../../src/core/connector.ts';
import type { Row } from '../../src/core/types.ts';
import { accountRows, batchesOf, testContext } from '../helpers/s3.ts';

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

// Shared destination behaviours (layout, aggregation, partitions, formats, staging, error files) are in
// test/conformance/, run for LocalFile by test/conformance/local-file.test.ts.
describe('LocalFile destination', () => {
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
