/**
 * The measured comparison behind forceflow's choice of Parquet writer.
 *
 *   npm install --no-save @dsnp/parquetjs parquet-wasm apache-arrow
 *   node --import tsx bench/parquet-compare.ts [rows=1000000]
 *
 * Each candidate runs in its own child process (so peak RSS is its own) and writes the same realistic
 * Account-like rows (18-char ids, names, picklists, doubles, ints, datetimes, booleans, free text) as
 * typed columns in row groups of 50,000 rows, streaming to a file. Every file is then read back with
 * hyparquet (a reader none of the writers share code with, except hyparquet-writer's author) and its row
 * count and a sample value are checked. Prints a Markdown table: records/s, MB/s (of CSV-equivalent input),
 * peak RSS, file size.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROW_GROUP = 50_000;
const INDUSTRIES = ['Agriculture', 'Apparel', 'Banking', 'Biotechnology', 'Chemicals', 'Communications', 'Construction', 'Energy', null];
const CITIES = ['San Francisco', 'New York', 'Paris', 'Berlin', 'Tokyo', 'Sydney', 'London', null];

interface BenchRow {
  Id: string;
  Name: string;
  Industry: string | null;
  AnnualRevenue: number | null;
  NumberOfEmployees: number | null;
  CreatedDate: string;
  IsDeleted: boolean;
  BillingCity: string | null;
  Phone: string;
  Description: string | null;
}

function makeRow(i: number): BenchRow {
  const id = `001${i.toString(36).padStart(12, '0')}AAA`;
  return {
    Id: id,
    Name: `Account ${i} ${['Inc', 'LLC', 'GmbH', 'SA'][i % 4]}`,
    Industry: INDUSTRIES[i % INDUSTRIES.length] ?? null,
    AnnualRevenue: i % 7 === 0 ? null : Math.round(((i * 7919) % 100_000_000) * 100) / 100,
    NumberOfEmployees: i % 11 === 0 ? null : (i * 31) % 50_000,
    CreatedDate: new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString(),
    IsDeleted: i % 97 === 0,
    BillingCity: CITIES[i % CITIES.length] ?? null,
    Phone: `+1 (415) 555-${(i % 10_000).toString().padStart(4, '0')}`,
    Description: i % 3 === 0 ? null : `Customer since ${2000 + (i % 24)}; notes: ${'lorem ipsum dolor sit amet '.repeat(1 + (i % 4))}`,
  };
}

function csvBytes(rows: number): number {
  let total = 0;
  for (let i = 0; i < rows; i += 1) {
    const r = makeRow(i);
    total += Object.values(r).map((v) => (v === null ? '' : String(v))).join(',').length + 1;
  }
  return total;
}

/**
 * The losing candidates are not dependencies of forceflow: install them to rerun the comparison with
 * `npm install --no-save @dsnp/parquetjs parquet-wasm apache-arrow`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- optional, untyped-at-build-time candidates
async function importCandidate(name: string): Promise<any> {
  return import(name);
}

type Cols = { [K in keyof BenchRow]: BenchRow[K][] };

function columns(start: number, end: number): Cols {
  const c: Cols = { Id: [], Name: [], Industry: [], AnnualRevenue: [], NumberOfEmployees: [], CreatedDate: [], IsDeleted: [], BillingCity: [], Phone: [], Description: [] };
  for (let i = start; i < end; i += 1) {
    const r = makeRow(i);
    for (const k of Object.keys(c) as (keyof BenchRow)[]) (c[k] as unknown[]).push(r[k]);
  }
  return c;
}

async function runHyparquetWriter(rows: number, file: string): Promise<void> {
  const { ByteWriter, ParquetWriter } = await import('hyparquet-writer');
  const fd = openSync(file, 'w');
  const writer = new ByteWriter();
  const flush = (): void => {
    writeSync(fd, writer.getBytes());
    writer.index = 0;
  };
  Object.assign(writer, { flush });
  const schema = [
    { name: 'root', num_children: 10 },
    { name: 'Id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'Name', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'Industry', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'AnnualRevenue', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
    { name: 'NumberOfEmployees', type: 'INT32', repetition_type: 'OPTIONAL' },
    { name: 'CreatedDate', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'OPTIONAL' },
    { name: 'IsDeleted', type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
    { name: 'BillingCity', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'Phone', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'Description', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  ] as const;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the writer's SchemaElement type is not re-exported
  const pw = new ParquetWriter({ writer, schema: schema as any });
  for (let start = 0; start < rows; start += ROW_GROUP) {
    const c = columns(start, Math.min(rows, start + ROW_GROUP));
    await pw.write({
      columnData: Object.entries(c).map(([name, data]) => ({
        name,
        data: name === 'CreatedDate' ? (data as string[]).map((s) => Date.parse(s)) : data,
      })),
      rowGroupSize: ROW_GROUP,
    });
    flush();
  }
  await pw.finish();
  flush();
  closeSync(fd);
}

async function runParquetjs(rows: number, file: string): Promise<void> {
  const parquet = await importCandidate('@dsnp/parquetjs');
  const schema = new parquet.ParquetSchema({
    Id: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    Name: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    Industry: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    AnnualRevenue: { type: 'DOUBLE', optional: true, compression: 'SNAPPY' },
    NumberOfEmployees: { type: 'INT32', optional: true, compression: 'SNAPPY' },
    CreatedDate: { type: 'TIMESTAMP_MILLIS', optional: true, compression: 'SNAPPY' },
    IsDeleted: { type: 'BOOLEAN', optional: true, compression: 'SNAPPY' },
    BillingCity: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    Phone: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    Description: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
  });
  const writer = await parquet.ParquetWriter.openFile(schema, file, { rowGroupSize: ROW_GROUP, useDataPageV2: false });
  for (let i = 0; i < rows; i += 1) {
    const r = makeRow(i);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (v !== null) out[k] = k === 'CreatedDate' ? new Date(v as string) : v;
    await writer.appendRow(out);
  }
  await writer.close();
}

async function runParquetWasm(rows: number, file: string): Promise<void> {
  const arrow = await importCandidate('apache-arrow');
  const pw = await importCandidate('parquet-wasm');
  const fd = openSync(file, 'w');
  let next = 0;
  const input = new ReadableStream({
    pull(controller) {
      if (next >= rows) {
        controller.close();
        return;
      }
      const c = columns(next, Math.min(rows, next + ROW_GROUP));
      next += ROW_GROUP;
      const table = arrow.tableFromArrays({
        Id: c.Id,
        Name: c.Name,
        Industry: arrow.vectorFromArray(c.Industry, new arrow.Utf8()),
        AnnualRevenue: arrow.vectorFromArray(c.AnnualRevenue, new arrow.Float64()),
        NumberOfEmployees: arrow.vectorFromArray(c.NumberOfEmployees, new arrow.Int32()),
        CreatedDate: arrow.vectorFromArray(c.CreatedDate.map((s) => new Date(s)), new arrow.TimestampMillisecond()),
        IsDeleted: arrow.vectorFromArray(c.IsDeleted, new arrow.Bool()),
        BillingCity: arrow.vectorFromArray(c.BillingCity, new arrow.Utf8()),
        Phone: c.Phone,
        Description: arrow.vectorFromArray(c.Description, new arrow.Utf8()),
      });
      for (const batch of pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')).recordBatches()) controller.enqueue(batch);
    },
  });
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).build();
  const output = await pw.transformParquetStream(input, props);
  const reader = output.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    writeSync(fd, value as Uint8Array);
  }
  closeSync(fd);
}

const CANDIDATES: Record<string, (rows: number, file: string) => Promise<void>> = {
  'hyparquet-writer': runHyparquetWriter,
  '@dsnp/parquetjs': runParquetjs,
  'parquet-wasm': runParquetWasm,
};

async function child(name: string, rows: number, file: string): Promise<void> {
  const run = CANDIDATES[name];
  if (run === undefined) throw new Error(`unknown candidate ${name}`);
  const t0 = performance.now();
  await run(rows, file);
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify({ seconds, maxRssKb: process.resourceUsage().maxRSS })}\n`);
}

async function verify(file: string, rows: number): Promise<string> {
  const { parquetMetadata, parquetReadObjects } = await import('hyparquet');
  const buf = readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const meta = parquetMetadata(ab);
  if (Number(meta.num_rows) !== rows) return `row count ${meta.num_rows}`;
  const first = await parquetReadObjects({ file: ab, rowStart: 0, rowEnd: 1 });
  const expected = makeRow(0);
  const got = first[0] as Record<string, unknown> | undefined;
  return got?.['Id'] === expected.Id && got?.['Name'] === expected.Name ? 'ok' : `mismatch ${JSON.stringify(got)}`;
}

async function main(): Promise<void> {
  const [, , flag, name, rowsArg, file] = process.argv;
  if (flag === '--child' && name !== undefined && rowsArg !== undefined && file !== undefined) {
    await child(name, Number(rowsArg), file);
    return;
  }
  const rows = Number(flag ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'parquet-compare-'));
  const inputMb = csvBytes(rows) / 1e6;
  const self = fileURLToPath(import.meta.url);
  console.log(`${rows} rows, ${inputMb.toFixed(1)} MB as CSV, row groups of ${ROW_GROUP}, SNAPPY, typed columns\n`);
  console.log('| library | records/s | MB/s (CSV-equivalent) | peak RSS | file size | read back by hyparquet |');
  console.log('|---|---|---|---|---|---|');
  try {
    for (const candidate of Object.keys(CANDIDATES)) {
      const file = join(dir, `${candidate.replace(/[^a-z]/g, '_')}.parquet`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', candidate, String(rows), file], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (r.status !== 0) {
        console.log(`| ${candidate} | failed: ${(r.stderr || '').split('\n').find((l) => l.trim() !== '') ?? r.status} | | | | |`);
        continue;
      }
      const { seconds, maxRssKb } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { seconds: number; maxRssKb: number };
      const size = statSync(file).size;
      const check = await verify(file, rows);
      console.log(`| ${candidate} | ${Math.round(rows / seconds).toLocaleString('en-US')} | ${(inputMb / seconds).toFixed(1)} | ${(maxRssKb / 1024).toFixed(0)} MB | ${(size / 1e6).toFixed(1)} MB | ${check} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
