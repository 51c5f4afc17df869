import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlow } from '../../src/flows/runner.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';

/** Cells a spreadsheet or a naive CSV writer gets wrong: commas, quotes, newlines, formulas, unicode, null vs "". */
const INPUT = [
  'Id,Name,Note,Amount',
  '1,"Acme, Inc.","He said ""hi""",=1+2',
  '2,"Line\nbreak",+SUM(A1),-3',
  '3,Zoë 😀 ünïcödé,@cmd,',
  '4,,"",0012',
  '',
].join('\n');

const EXPECTED = [
  { Id: '1', Name: 'Acme, Inc.', Note: 'He said "hi"', Amount: '=1+2' },
  { Id: '2', Name: 'Line\nbreak', Note: '+SUM(A1)', Amount: '-3' },
  { Id: '3', Name: 'Zoë 😀 ünïcödé', Note: '@cmd', Amount: null },
  { Id: '4', Name: null, Note: '', Amount: '0012' },
];

function flow(source: Record<string, unknown>, out: string, fileType: string): Record<string, unknown> {
  return {
    flowName: 'odd-cells',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: source,
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType, aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
  };
}

describe('output files and run records for odd cells', () => {
  let s3: TestS3;
  const dir = mkdtempSync(join(tmpdir(), 'ff-odd-'));
  const input = join(dir, 'in.csv');
  writeFileSync(input, INPUT);
  const localSource = { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: input, fileType: 'CSV' } } };

  beforeAll(async () => {
    s3 = await startTestS3();
  });
  afterAll(async () => {
    await s3?.close();
  });

  it.each(['CSV', 'JSON', 'PARQUET'] as const)('%s keeps every cell as data (formulas too) and the record counts bytes read and written', async (fileType) => {
    const out = join(dir, `out-${fileType}`);
    const record = await runFlow({ flow: flow(localSource, out, fileType) });
    expect(record.executionStatus).toBe('Successful');
    expect(record.executionResult).toMatchObject({ recordsProcessed: 4, recordsWritten: 4, recordsFiltered: 0, recordsDropped: 0 });
    // bytesProcessed is what was read from the source: the file's own size, not an estimate.
    expect(record.executionResult.bytesProcessed).toBe(Buffer.byteLength(INPUT));
    expect(record.outputs).toHaveLength(1);
    const file = record.outputs[0] as string;
    expect(record.executionResult.bytesWritten).toBe(statSync(file).size);
    let rows: unknown[];
    if (fileType === 'CSV') {
      expect(readFileSync(file, 'utf8')).toBe(INPUT);
      rows = EXPECTED;
    } else if (fileType === 'JSON') {
      rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    } else {
      const b = readFileSync(file);
      rows = await parquetReadObjects({ file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer });
    }
    expect(rows).toEqual(EXPECTED);
  });

  it('counts the bytes of S3 source objects as bytesProcessed', async () => {
    await s3.put('odd/in.csv', INPUT);
    const source = { connectorType: 'S3', sourceConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'odd', s3InputFormatConfig: { s3InputFileType: 'CSV' } } } };
    const record = await runFlow({ flow: flow(source, join(dir, 'out-s3'), 'JSON'), s3Client: s3.client });
    expect(record.executionStatus).toBe('Successful');
    expect(record.executionResult.bytesProcessed).toBe(Buffer.byteLength(INPUT));
  });
});

describe('a cancel that comes after the output is published', () => {
  it('leaves the run Successful with its outputs (the files are complete; the window must advance)', async () => {
    const { pino } = await import('pino');
    const { Writable } = await import('node:stream');
    const dir = mkdtempSync(join(tmpdir(), 'ff-late-cancel-'));
    const input = join(dir, 'in.csv');
    writeFileSync(input, INPUT);
    const controller = new AbortController();
    // The destination logs 'files published' once every file is under its final name: cancel right then.
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (chunk.toString('utf8').includes('files published')) controller.abort();
        done();
      },
    });
    const log = pino({ level: 'debug' }, sink);
    const record = await runFlow({
      flow: flow({ connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: input, fileType: 'CSV' } } }, join(dir, 'out'), 'CSV'),
      log,
      signal: controller.signal,
    });
    expect(controller.signal.aborted).toBe(true);
    expect(record.executionStatus).toBe('Successful');
    expect(record.outputs).toHaveLength(1);
    expect(readFileSync(record.outputs[0] as string, 'utf8')).toBe(INPUT);
  });
});

describe('Map_all over files whose columns differ', () => {
  it('keeps the columns a later file adds (a new output file with its own header), losing no value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-grow-'));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', '1.csv'), 'a\n1\n');
    writeFileSync(join(dir, 'in', '2.csv'), 'a,b\n2,y\n');
    const record = await runFlow({ flow: flow({ connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: join(dir, 'in'), fileType: 'CSV' } } }, join(dir, 'out'), 'JSON') });
    expect(record.executionStatus).toBe('Successful');
    const rows = record.outputs.flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown));
    expect(rows).toEqual([{ a: '1' }, { a: '2', b: 'y' }]);
  });
});
