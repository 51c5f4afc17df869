import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { csvScanWasmSource, loadWabt } from '../../scripts/csv-scan-wasm-source.ts';
import { BulkCsvParser, BulkCsvRecords, BYTE_CSV_QUOTE, BYTE_JSON_ESCAPE, BYTE_NON_ASCII, BYTE_QUOTE, BYTES_RECORD, CELLS_RECORD, NO_RECORD } from '../../src/salesforce-wire/csv-reader.ts';

/** The classes {@link BulkCsvRecords} gives a cell, from its decoded text. */
function classesOf(value: string): number {
  let f = 0;
  for (const ch of value) {
    const c = ch.codePointAt(0) as number;
    if (c >= 0x80) f |= BYTE_NON_ASCII;
    if (ch === ',' || ch === '"' || ch === '\r' || ch === '\n') f |= BYTE_CSV_QUOTE;
    if (ch === '"' || ch === '\\' || c < 0x20) f |= BYTE_JSON_ESCAPE;
    if (ch === '"') f |= BYTE_QUOTE;
  }
  return f;
}

interface Read {
  records: string[][];
  classes: number[][];
  scanned: number;
}

/** Every record of `body` read by BulkCsvRecords in chunks of `size` bytes: the cells (decoded from the bounds of a bytes record) and their classes. */
function read(body: Buffer, size: number): Read {
  const reader = new BulkCsvRecords(',');
  const out: Read = { records: [], classes: [], scanned: 0 };
  for (let at = 0; ; at += size) {
    reader.push(at < body.length ? body.subarray(at, at + size) : undefined);
    for (let kind = reader.next(); kind !== NO_RECORD; kind = reader.next()) {
      if (kind === CELLS_RECORD) {
        out.records.push(reader.cells);
        out.classes.push(reader.cells.map(classesOf));
        continue;
      }
      expect(kind).toBe(BYTES_RECORD);
      const cells: string[] = [];
      const classes: number[] = [];
      let all = 0;
      for (let i = 0; i < reader.count; i++) {
        cells.push(reader.buf.toString('utf8', reader.starts[i], reader.ends[i]).replaceAll('""', '"'));
        classes.push(reader.flags[i] as number);
        all |= reader.flags[i] as number;
      }
      expect(reader.classes).toBe(all);
      expect(reader.buf[reader.end - 1]).toBe(10);
      out.records.push(cells);
      out.classes.push(classes);
    }
    if (at >= body.length) break;
  }
  out.scanned = reader.scanned;
  return out;
}

function parse(body: Buffer): string[][] {
  const parser = new BulkCsvParser(',');
  return [...parser.push(body), ...parser.end()];
}

const quote = (cell: string): string => `"${cell.replaceAll('"', '""')}"`;

describe('the Bulk CSV byte scanner (WebAssembly)', () => {
  it('reads plain records of random cells as the parser does, with their byte classes, in chunks of any size', () => {
    // Cells of the bytes the scanner classifies, around its 16-byte blocks.
    const alphabet = ['a', 'b', '7', ' ', ',', '"', '""', '\n', '\r', '\\', '\t', '\u0001', 'é', '€', '😀', '\u007f', '~'];
    let seed = 13;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const records: string[][] = [['A', 'B', 'C']];
    for (let r = 0; r < 300; r++) {
      const width = 1 + random(40);
      const row: string[] = [];
      for (let c = 0; c < width; c++) {
        const length = random(5) === 0 ? random(70) : random(18);
        let cell = '';
        for (let k = 0; k < length; k++) cell += random(4) === 0 ? (alphabet[random(alphabet.length)] as string) : 'x';
        row.push(cell);
      }
      records.push(row);
    }
    const body = Buffer.from(records.map((row) => `${row.map(quote).join(',')}\n`).join(''));
    expect(parse(body)).toEqual(records);
    for (const size of [1, 2, 3, 7, 16, 17, 100, 4096, body.length]) {
      const got = read(body, size);
      expect(got.records, `chunks of ${size}`).toEqual(records);
      expect(got.classes, `chunks of ${size}`).toEqual(records.map((row) => row.map(classesOf)));
      expect(got.scanned, `chunks of ${size}`).toBe(records.length - 1);
    }
  });

  it('reads records wider than its cell arrays and chunks larger than its memory', () => {
    const wide = Array.from({ length: 5000 }, (_, i) => `v${i}`);
    const header = wide.map((_, i) => `F${i}`);
    const long = ['x'.repeat(300_000), 'é'.repeat(100_000), ...wide.slice(2)];
    const records = [header, wide, long, wide];
    const body = Buffer.from(records.map((row) => `${row.map(quote).join(',')}\n`).join(''));
    for (const size of [65_536, body.length]) {
      const got = read(body, size);
      expect(got.records).toEqual(records);
      expect(got.scanned).toBe(3);
    }
  });
});

describe('src/salesforce-wire/csv-scan-wasm.ts', () => {
  it('is the output of scripts/gen-csv-scan-wasm.ts for csv-scan.wat', async () => {
    const wabt = await loadWabt();
    if (wabt === undefined) {
      if (process.env['CI'] === 'true') throw new Error('csv-scan.test.ts: the wabt package is required under CI=true (npm install with the devDependencies)');
      process.stderr.write('csv-scan.test.ts: the generated WebAssembly check SKIPPED (the wabt devDependency is not installed)\n');
      return;
    }
    const committed = readFileSync(new URL('../../src/salesforce-wire/csv-scan-wasm.ts', import.meta.url), 'utf8');
    expect(committed, 'run: node --import tsx scripts/gen-csv-scan-wasm.ts').toBe(csvScanWasmSource(wabt));
  });
});
