/**
 * CPU seconds (process.cpuUsage, not wall time: the machine may be loaded) of forceflow's file formats, in
 * process, on generated Invoice-like data of 15 fields (issue 13):
 *   - reading a 200,000-row CSV file through openCsv (the input guard, csv-parse, rows);
 *   - encoding 1,000,000 rows to CSV and to JSON lines (batches of 2,000 template rows).
 *
 *   node --import tsx bench/format-cpu.ts [csv-rows=200000] [encoded-rows=1000000]
 */
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EntitySchema, FieldType, FieldValue, Row } from '../src/core/types.ts';
import { CsvEncoder, openCsv } from '../src/formats/csv.ts';
import { JsonLinesEncoder } from '../src/formats/jsonl.ts';
import { rowFrom, rowTemplate } from '../src/formats/rows.ts';
import type { RecordEncoder } from '../src/formats/types.ts';

const csvRows = Number(process.argv[2] ?? 200_000);
const encodedRows = Number(process.argv[3] ?? 1_000_000);
const TYPES: readonly FieldType[] = ['string', 'double', 'string', 'datetime', 'boolean', 'string', 'int', 'string', 'date', 'currency', 'string', 'string', 'double', 'boolean', 'address'];
const schema: EntitySchema = { entity: 'Invoice__c', fields: TYPES.map((type, i) => ({ name: `Field${i}__c`, type, nillable: true })) };
const names = schema.fields.map((f) => f.name);

function cpuSeconds(since: NodeJS.CpuUsage): string {
  const u = process.cpuUsage(since);
  return ((u.user + u.system) / 1e6).toFixed(2);
}

function values(k: number): FieldValue[] {
  return [`INV-${k}`, k * 1.25, k % 7 ? `Name, "${k}"` : null, '2024-01-02T03:04:05.000Z', k % 2 === 0, k % 5 ? 'short' : '', k, 'Lorem ipsum dolor sit amet', '2024-01-02', 12.5, 'a0B000000000001AAA', k % 3 ? 'é unicode' : 'plain', 3.14159, false, k % 4 ? { street: '1 Main', city: 'X', postalCode: null } : null];
}

async function readCsv(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-format-cpu-'));
  try {
    const path = join(dir, 'in.csv');
    const encoder = new CsvEncoder(schema);
    const template = rowTemplate(names);
    const parts: Uint8Array[] = [];
    for (let k = 0; k < csvRows; k += 1000) {
      const rows: Row[] = [];
      for (let j = k; j < Math.min(csvRows, k + 1000); j++) {
        const row = rowFrom(template);
        values(j).forEach((v, i) => { row[names[i] as string] = v; });
        rows.push(row);
      }
      const out = encoder.encode(rows);
      if (out) parts.push(out);
    }
    writeFileSync(path, Buffer.concat(parts));
    const file = { name: 'in.csv', size: statSync(path).size, stream: () => createReadStream(path), read: () => Promise.reject(new Error('not used')) };
    const start = process.cpuUsage();
    const decoded = await openCsv(file, { entity: 'Invoice__c' });
    let count = 0;
    for await (const batch of decoded.batches) count += batch.rows.length;
    console.log(`read CSV (${count} rows, ${(file.size / 1e6).toFixed(1)} MB): ${cpuSeconds(start)} CPU s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function encode(label: string, make: () => RecordEncoder): void {
  const template = rowTemplate(names);
  const batches: Row[][] = [];
  for (let b = 0; b < 20; b++) {
    const rows: Row[] = [];
    for (let r = 0; r < 2000; r++) {
      const row = rowFrom(template);
      values(b * 2000 + r).forEach((v, i) => { row[names[i] as string] = v; });
      rows.push(row);
    }
    batches.push(rows);
  }
  const encoder = make();
  const start = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < encodedRows / 2000; i++) bytes += encoder.encode(batches[i % batches.length] as Row[])?.byteLength ?? 0;
  console.log(`encode ${label} (${encodedRows} rows, ${(bytes / 1e6).toFixed(0)} MB): ${cpuSeconds(start)} CPU s`);
}

await readCsv();
encode('CSV', () => new CsvEncoder(schema));
encode('JSON lines', () => new JsonLinesEncoder(schema));
