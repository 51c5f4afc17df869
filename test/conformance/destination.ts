import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorSink, ErrorSinkDeps } from '../../src/connectors/files/error-sink.ts';
import type { OutputFormatConfig } from '../../src/formats/config.ts';
import type { FileDestinationDeps } from '../../src/connectors/files/output.ts';
import type { Destination } from '../../src/core/connector.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import type { EntitySchema, RecordBatch, Row } from '../../src/core/types.ts';
import { ACCOUNT_SCHEMA, accountRows, batchesOf, testContext } from '../helpers/s3.ts';

/**
 * What every file destination (S3, LocalFile) and its error files must do the same way: staged output
 * published only by a successful run, nothing left by a failed or cancelled one, AppFlow's layout and file
 * names, aggregation, partitions, and the three formats. A destination's test file runs
 * `describeFileDestination(name, start)` with a fixture that gives fresh, empty roots (bucket prefix or folder).
 */
export interface DestinationRoot {
  destination(format: OutputFormatConfig | undefined, deps: FileDestinationDeps): Destination;
  /** The error file writer (a Salesforce destination's failed records) on this root. */
  errorSink(deps: ErrorSinkDeps): ErrorSink;
  /** Every file under the root, staged ones included: keys relative to the root, `/`-separated, sorted. */
  files(): Promise<string[]>;
  read(key: string): Promise<Buffer>;
  /** The full name (`s3://…` or path) outputs report for a key relative to the root. */
  nameOf(key: string): string;
}

export interface DestinationFixture {
  /** A fresh, empty root. */
  root(): Promise<DestinationRoot>;
  close(): Promise<void>;
}

const startedAt = new Date('2024-04-16T19:05:42.123Z');
const HEADER = 'Id,Name,Industry,AnnualRevenue,NumberOfEmployees,CreatedDate';
const ID_SCHEMA: EntitySchema = { entity: 'X', fields: [{ name: 'Id', type: 'int' }] };

function deps(flowName: string, executionId: string, extra: Partial<FileDestinationDeps> = {}): FileDestinationDeps {
  return { flowName, executionId, schemaVersion: 3, startedAt, ...extra };
}

function lines(bytes: Buffer): string[] {
  return bytes.toString('utf8').trim().split('\n');
}

async function parquetRows(bytes: Buffer): Promise<{ rows: Record<string, unknown>[]; file: ArrayBuffer }> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return { rows: (await parquetReadObjects({ file })) as Record<string, unknown>[], file };
}

function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e: unknown) => e);
}

export function describeFileDestination(name: string, start: () => Promise<DestinationFixture>): void {
  describe(`${name} file destination (conformance)`, () => {
    let fixture: DestinationFixture;
    beforeAll(async () => {
      fixture = await start();
    });
    afterAll(async () => {
      await fixture.close();
    });

    describe('layout and file names', () => {
      it('writes <flowName>/<executionId>/<executionId>-00000.jsonl by default (JSON lines) and reports its name and bytes', async () => {
        const root = await fixture.root();
        const all = accountRows(10);
        const result = await root.destination(undefined, deps('accounts', 'e1')).write(batchesOf(all, 4), testContext());
        const key = 'accounts/e1/e1-00000.jsonl';
        expect(result).toMatchObject({ written: 10, failed: [], outputs: [root.nameOf(key)] });
        expect(await root.files()).toEqual([key]);
        const bytes = await root.read(key);
        expect(result.bytesWritten).toBe(bytes.byteLength);
        expect(lines(bytes).map((l) => JSON.parse(l) as Row)).toEqual(all);
      });

      it('follows prefixConfig: date folders and file name prefixes, schema version and execution id folders', async () => {
        const layouts: [OutputFormatConfig['prefixConfig'], (e: string) => string][] = [
          [{ prefixType: 'PATH', prefixFormat: 'DAY' }, (e) => `2024/04/16/${e}/${e}-00000.csv`],
          [{ prefixType: 'PATH', prefixFormat: 'MINUTE' }, (e) => `2024/04/16/19/05/${e}/${e}-00000.csv`],
          [{ prefixType: 'PATH', prefixFormat: 'YEAR' }, (e) => `2024/${e}/${e}-00000.csv`],
          [{ prefixFormat: 'MONTH' }, (e) => `2024/04/${e}/${e}-00000.csv`],
          [{ prefixType: 'FILENAME', prefixFormat: 'HOUR' }, (e) => `${e}/2024-04-16-19-${e}-00000.csv`],
          [{ prefixType: 'PATH_AND_FILENAME', prefixFormat: 'MONTH' }, (e) => `2024/04/${e}/2024-04-${e}-00000.csv`],
          [{ pathPrefixHierarchy: ['SCHEMA_VERSION', 'EXECUTION_ID'] }, (e) => `schemaVersion_3/${e}/${e}-00000.csv`],
          [{ pathPrefixHierarchy: ['SCHEMA_VERSION'] }, (e) => `schemaVersion_3/${e}-00000.csv`],
          [{ pathPrefixHierarchy: [] }, (e) => `${e}-00000.csv`],
          // A date path needs the execution id folder, as in AppFlow.
          [{ prefixType: 'PATH', prefixFormat: 'HOUR', pathPrefixHierarchy: ['SCHEMA_VERSION'] }, (e) => `schemaVersion_3/2024/04/16/19/${e}/${e}-00000.csv`],
        ];
        const root = await fixture.root();
        for (const [i, [prefixConfig]] of layouts.entries()) {
          await root.destination({ fileType: 'CSV', prefixConfig }, deps(`f${i}`, `e${i}`)).write(batchesOf(accountRows(3), 2), testContext());
        }
        expect(await root.files()).toEqual(layouts.map(([, expected], i) => `f${i}/${expected(`e${i}`)}`).sort());
      });

      it('escapes a flow name and execution id that would break keys or folders', async () => {
        const root = await fixture.root();
        const r = await root.destination({ fileType: 'CSV' }, deps('a/b#c', 'x:1')).write(batchesOf(accountRows(1), 1), testContext());
        expect(await root.files()).toEqual(['a%2Fb%23c/x%3A1/x%3A1-00000.csv']);
        expect(r.outputs).toEqual([root.nameOf('a%2Fb%23c/x%3A1/x%3A1-00000.csv')]);
      });
    });

    describe('aggregation', () => {
      const rows = Array.from({ length: 130_000 }, (_, i) => ({ Id: i }));

      it('None groups pages into one file until it holds 100,000 records, then rolls over at a batch boundary', async () => {
        const root = await fixture.root();
        const r = await root.destination({ fileType: 'JSON', aggregationConfig: { aggregationType: 'None' } }, deps('f', 'e')).write(batchesOf(rows, 40_000, ID_SCHEMA), testContext());
        expect(r.written).toBe(130_000);
        expect(await root.files()).toEqual(['f/e/e-00000.jsonl', 'f/e/e-00001.jsonl']);
        const first = lines(await root.read('f/e/e-00000.jsonl'));
        expect(first).toHaveLength(120_000);
        expect(first[0]).toBe('{"Id":0}');
        expect(lines(await root.read('f/e/e-00001.jsonl'))[0]).toBe('{"Id":120000}');
      });

      it('SingleFile writes one file per run, however many records', async () => {
        const root = await fixture.root();
        const r = await root.destination({ fileType: 'CSV', aggregationConfig: { aggregationType: 'SingleFile' } }, deps('f', 'e')).write(batchesOf(rows, 40_000, ID_SCHEMA), testContext());
        expect(await root.files()).toEqual(['f/e/e-00000.csv']);
        expect(lines(await root.read('f/e/e-00000.csv'))).toHaveLength(130_001);
        expect(r.outputs).toEqual([root.nameOf('f/e/e-00000.csv')]);
      });

      it('targetFileSize rolls files over at about that many MB, each with its header, losing and repeating no record', async () => {
        const root = await fixture.root();
        const all = accountRows(40_000);
        const r = await root.destination({ fileType: 'CSV', aggregationConfig: { aggregationType: 'SingleFile', targetFileSize: 1 } }, deps('f', 'e')).write(batchesOf(all, 7000), testContext());
        const keys = await root.files();
        expect(keys.length).toBeGreaterThanOrEqual(3);
        expect(keys).toEqual(keys.map((_, i) => `f/e/e-${String(i).padStart(5, '0')}.csv`));
        expect(r.outputs).toEqual(keys.map((k) => root.nameOf(k)));
        let total = 0;
        const ids: string[] = [];
        for (const [i, key] of keys.entries()) {
          const bytes = await root.read(key);
          if (i < keys.length - 1) {
            expect(bytes.byteLength).toBeGreaterThanOrEqual(1024 * 1024);
            expect(bytes.byteLength).toBeLessThan(1024 * 1024 + 200_000);
          }
          total += bytes.byteLength;
          const [header, ...body] = lines(bytes);
          expect(header).toBe(HEADER);
          ids.push(...body.map((l) => l.split(',')[0] as string));
        }
        expect(r.bytesWritten).toBe(total);
        expect(ids).toEqual(all.map((row) => row['Id']));
      });

      it('a run with no records writes no file', async () => {
        const root = await fixture.root();
        const r = await root.destination(undefined, deps('f', 'e')).write(batchesOf([], 10), testContext());
        expect(r).toMatchObject({ written: 0, bytesWritten: 0, outputs: [] });
        expect(await root.files()).toEqual([]);
      });

      it('starts a new file when the columns change mid-run (a file has one header)', async () => {
        const root = await fixture.root();
        async function* drift(): AsyncGenerator<RecordBatch> {
          yield { rows: [{ a: '1' }], schema: { entity: 'X', fields: [{ name: 'a', type: 'string' }] } };
          yield { rows: [{ a: '2', b: '3' }], schema: { entity: 'X', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'string' }] } };
        }
        await root.destination({ fileType: 'CSV' }, deps('f', 'e')).write(drift(), testContext());
        expect(await root.files()).toEqual(['f/e/e-00000.csv', 'f/e/e-00001.csv']);
        expect((await root.read('f/e/e-00001.csv')).toString()).toBe('a,b\n2,3\n');
      });
    });

    describe('partitions', () => {
      it('writes field=value folders in key order, null as field=null, escaping unsafe characters, each partition in its file', async () => {
        const root = await fixture.root();
        const all: Row[] = accountRows(8).map((r) => ({ ...r, NumberOfEmployees: Number(r['NumberOfEmployees']) % 2 }));
        await root
          .destination({ fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } }, deps('f', 'e', { partitionKeys: ['Industry', 'NumberOfEmployees'] }))
          .write(batchesOf(all, 3), testContext());
        expect(await root.files()).toEqual([
          'f/e/Industry=Apparel/NumberOfEmployees=1/e-00001.jsonl',
          'f/e/Industry=Banking/NumberOfEmployees=0/e-00000.jsonl',
          'f/e/Industry=Energy%2FOil/NumberOfEmployees=1/e-00003.jsonl',
          'f/e/Industry=null/NumberOfEmployees=0/e-00002.jsonl',
        ]);
        // Apparel rows are 1 and 5, from two different batches, in one file.
        const apparel = lines(await root.read('f/e/Industry=Apparel/NumberOfEmployees=1/e-00001.jsonl'));
        expect(apparel.map((l) => (JSON.parse(l) as { Id: string }).Id)).toEqual([all[1]?.['Id'], all[5]?.['Id']]);
      });

      it('SingleFile keeps one file per partition, below date folders and after a date file name prefix', async () => {
        const root = await fixture.root();
        const format: OutputFormatConfig = {
          fileType: 'CSV',
          prefixConfig: { prefixType: 'PATH_AND_FILENAME', prefixFormat: 'DAY', pathPrefixHierarchy: ['SCHEMA_VERSION', 'EXECUTION_ID'] },
          aggregationConfig: { aggregationType: 'SingleFile' },
        };
        const r = await root.destination(format, deps('f', 'e', { partitionKeys: ['Industry'] })).write(batchesOf(accountRows(40), 3), testContext());
        const base = 'f/schemaVersion_3/2024/04/16/e/';
        const keys = [`${base}Industry=Apparel/2024-04-16-e-00001.csv`, `${base}Industry=Banking/2024-04-16-e-00000.csv`, `${base}Industry=Energy%2FOil/2024-04-16-e-00003.csv`, `${base}Industry=null/2024-04-16-e-00002.csv`];
        expect(await root.files()).toEqual(keys);
        expect([...r.outputs ?? []].sort()).toEqual(keys.map((k) => root.nameOf(k)).sort());
        expect(lines(await root.read(keys[1] as string))).toHaveLength(11);
      });

      it('keeps at most 32 files open: more interleaved partitions roll over to new files without losing rows', async () => {
        const root = await fixture.root();
        const all = Array.from({ length: 400 }, (_, i) => ({ Id: i, Bucket: i % 40 }));
        const schema: EntitySchema = { entity: 'X', fields: [{ name: 'Id', type: 'int' }, { name: 'Bucket', type: 'int' }] };
        const r = await root
          .destination({ fileType: 'CSV', aggregationConfig: { aggregationType: 'SingleFile' } }, deps('f', 'e', { partitionKeys: ['Bucket'] }))
          .write(batchesOf(all, 50, schema), testContext());
        const keys = await root.files();
        expect(new Set(keys.map((k) => k.split('/')[2])).size).toBe(40);
        expect(keys.length).toBeGreaterThan(40);
        const ids: number[] = [];
        for (const key of keys) ids.push(...lines(await root.read(key)).slice(1).map((l) => Number(l.split(',')[0])));
        expect(ids.sort((a, b) => a - b)).toEqual(all.map((row) => row.Id));
        expect(r.written).toBe(400);
      });
    });

    describe('formats', () => {
      it('keeps odd cells as data in every format: commas, quotes, line breaks, formulas, unicode, null apart from ""', async () => {
        const root = await fixture.root();
        const schema: EntitySchema = { entity: 'X', fields: ['Id', 'Name', 'Note'].map((n) => ({ name: n, type: 'string' as const })) };
        const odd: Row[] = [
          { Id: '1', Name: 'Acme, Inc.', Note: 'He said "hi"' },
          { Id: '2', Name: 'Line\nbreak\r\nCRLF', Note: '=1+2' },
          { Id: '3', Name: 'Zoë 😀 ünïcödé', Note: null },
          { Id: '4', Name: null, Note: '' },
        ];
        for (const fileType of ['CSV', 'JSON', 'PARQUET'] as const) {
          await root.destination({ fileType }, deps(fileType, 'e')).write(batchesOf(odd, 2, schema), testContext());
        }
        expect((await root.read('CSV/e/e-00000.csv')).toString()).toBe('Id,Name,Note\n1,"Acme, Inc.","He said ""hi"""\n2,"Line\nbreak\r\nCRLF",=1+2\n3,Zoë 😀 ünïcödé,\n4,,""\n');
        expect(lines(await root.read('JSON/e/e-00000.jsonl')).map((l) => JSON.parse(l) as Row)).toEqual(odd);
        expect((await parquetRows(await root.read('PARQUET/e/e-00000.parquet'))).rows).toEqual(odd);
      });

      it('writes CSV, JSON lines and typed Parquet that read back to the rows written', async () => {
        const root = await fixture.root();
        const all = accountRows(1000);
        for (const fileType of ['CSV', 'JSON', 'PARQUET'] as const) {
          const r = await root.destination({ fileType, preserveSourceDataTyping: true }, deps(fileType, 'e')).write(batchesOf(all, 300), testContext());
          const keys = await root.files();
          const extension = { CSV: 'csv', JSON: 'jsonl', PARQUET: 'parquet' }[fileType];
          const key = `${fileType}/e/e-00000.${extension}`;
          expect(keys).toContain(key);
          const bytes = await root.read(key);
          expect(r.bytesWritten).toBe(bytes.byteLength);
          if (fileType === 'CSV') {
            expect(lines(bytes)).toHaveLength(1001);
            expect(lines(bytes)[1]).toBe('001000000000000000,Account 0,Banking,,0,2024-04-16T19:00:00.000Z');
          } else if (fileType === 'JSON') {
            expect(lines(bytes).map((l) => JSON.parse(l) as Row)).toEqual(all);
          } else {
            const { rows, file } = await parquetRows(bytes);
            expect(parquetMetadata(file).schema.find((e) => e.name === 'NumberOfEmployees')?.type).toBe('INT32');
            expect(rows).toHaveLength(1000);
            expect(rows[7]).toMatchObject({ Id: all[7]?.['Id'], AnnualRevenue: 7003.5, NumberOfEmployees: 7 });
            expect((rows[7]?.['CreatedDate'] as Date).toISOString()).toBe(all[7]?.['CreatedDate']);
          }
        }
      });
    });

    describe('nothing visible unless the run succeeds', () => {
      it('a source that dies after files were closed leaves no file, published or staged', async () => {
        const root = await fixture.root();
        // 1 MB files of JSON lines: several are closed (and staged) before the fifth batch fails.
        const error = await failure(
          root.destination({ fileType: 'JSON', aggregationConfig: { targetFileSize: 1 } }, deps('f', 'e')).write(batchesOf(accountRows(30_000), 5000, ACCOUNT_SCHEMA, 5), testContext()),
        );
        expect((error as Error).message).toMatch(/source died mid-run/);
        expect(await root.files()).toEqual([]);
      });

      it('a cancelled run ends RUN_CANCELED and leaves no file', async () => {
        const root = await fixture.root();
        const controller = new AbortController();
        async function* cancelled(): AsyncGenerator<RecordBatch> {
          yield { rows: accountRows(10), schema: ACCOUNT_SCHEMA };
          controller.abort();
          yield { rows: accountRows(10, 10), schema: ACCOUNT_SCHEMA };
        }
        const error = await failure(root.destination(undefined, deps('f', 'e')).write(cancelled(), testContext(controller.signal)));
        expect(isForceflowError(error, 'RUN_CANCELED')).toBe(true);
        expect(await root.files()).toEqual([]);
      });
    });

    describe('error files', () => {
      const failures = [
        { index: 0, record: { Name: 'Acme', Email__c: 'bad' }, errorCode: 'INVALID_EMAIL_ADDRESS', message: 'Email: invalid email address: bad', fields: ['Email__c'] },
        { index: 3, record: { Name: 'Globex, "Inc"', Email__c: null }, errorCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [LastName]', fields: ['LastName', 'Company'] },
      ];

      it('writes <flowName>/<executionId>/errors.csv (original fields, errorCode, errorMessage, errorFields), staged until finish()', async () => {
        const root = await fixture.root();
        const sink = root.errorSink({ flowName: 'leads', executionId: 'x1' });
        await sink.add(failures.slice(0, 1));
        await sink.add([]);
        await sink.add(failures.slice(1));
        // Staged (an S3 upload may hold a small file's bytes until finish()): nothing visible yet.
        expect((await root.files()).filter((k) => !k.startsWith('_temporary/'))).toEqual([]);
        expect(await sink.finish()).toEqual({ key: root.nameOf('leads/x1/errors.csv'), count: 2 });
        expect(await root.files()).toEqual(['leads/x1/errors.csv']);
        expect((await root.read('leads/x1/errors.csv')).toString()).toBe(
          'Name,Email__c,errorCode,errorMessage,errorFields\n' +
            'Acme,bad,INVALID_EMAIL_ADDRESS,Email: invalid email address: bad,Email__c\n' +
            '"Globex, ""Inc""",,REQUIRED_FIELD_MISSING,Required fields are missing: [LastName],LastName;Company\n',
        );
      });

      it('puts the given fields first, in order; writes nothing when no record failed; abort() leaves nothing', async () => {
        const root = await fixture.root();
        const sink = root.errorSink({ flowName: 'leads', executionId: 'x2', fields: ['Email__c', 'Name', 'Phone'] });
        await sink.add(failures);
        expect((await sink.finish()).key).toBe(root.nameOf('leads/x2/errors.csv'));
        expect(lines(await root.read('leads/x2/errors.csv'))[0]).toBe('Email__c,Name,Phone,errorCode,errorMessage,errorFields');
        expect(await root.errorSink({ flowName: 'leads', executionId: 'x3' }).finish()).toEqual({ key: null, count: 0 });
        const aborted = root.errorSink({ flowName: 'leads', executionId: 'x4' });
        await aborted.add(failures);
        await aborted.abort();
        expect(await root.files()).toEqual(['leads/x2/errors.csv']);
      });
    });
  });
}
