import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse';
import { openCsv } from '../../src/formats/csv.ts';
import type { InputFile } from '../../src/formats/index.ts';
import type { RecordBatch } from '../../src/core/types.ts';

/**
 * openCsv tells an empty unquoted cell (null) from an empty quoted one ("") from csv-parse's raw record text
 * instead of a per-field `cast` callback (issue 13: the callback was most of an import's CPU). These tests hold
 * it to what the callback gave, on random files with the awkward cases: empty lines, CRLF and LF, a BOM, quoted
 * line breaks and quotes, values made of line breaks, empty cells first, last and everywhere.
 */
function memoryFile(name: string, bytes: Uint8Array, chunk: number): InputFile {
  return {
    name,
    size: bytes.byteLength,
    async *stream() {
      for (let i = 0; i < bytes.byteLength; i += chunk) yield bytes.subarray(i, i + chunk);
    },
    read: async (start, end) => bytes.slice(start, end),
  };
}

/** What the parser with the per-field `cast` (the code before) gives: the reference. */
async function viaCast(text: string): Promise<(string | null)[][]> {
  const parser = parse({ bom: true, relax_column_count: false, skip_empty_lines: true, cast: (value, context) => (value === '' && !context.quoting ? null : value) });
  parser.end(text);
  const out: (string | null)[][] = [];
  for await (const record of parser) out.push(record as (string | null)[]);
  return out;
}

async function viaOpenCsv(text: string, chunk: number): Promise<(string | null)[][]> {
  const decoded = await openCsv(memoryFile('r.csv', Buffer.from(text, 'utf8'), chunk), { entity: 'X', batchSize: 3 });
  const names = decoded.schema.fields.map((f) => f.name);
  const out: (string | null)[][] = [names];
  for await (const b of decoded.batches as AsyncIterable<RecordBatch>) for (const row of b.rows) out.push(names.map((n) => row[n] as string | null));
  return out;
}

/** A small deterministic generator (the failures are reproducible by seed). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomCsv(seed: number): string {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const eol = pick(['\n', '\r\n', '\r']);
  const columns = 1 + Math.floor(r() * 5);
  // In a CRLF or CR file an LF is an ordinary character of an unquoted cell too.
  const cells = ['', '""', 'a', '"a,b"', '"say ""hi"""', '"x\ny"', '"\r\n"', '"é€😀"', '12.5', ' sp ', ...(eol === '\r\n' ? ['\nv', '\n'] : eol === '\r' ? ['\nv'] : [])];
  const cell = (): string => pick(cells);
  const lines: string[] = [Array.from({ length: columns }, (_, i) => `c${i}`).join(',')];
  const rows = Math.floor(r() * 12);
  for (let i = 0; i < rows; i++) {
    lines.push(Array.from({ length: columns }, cell).join(','));
    if (r() < 0.2) lines.push('');
  }
  const body = lines.join(eol) + (r() < 0.5 ? eol : '');
  return (r() < 0.3 ? '\ufeff' : '') + body;
}

describe('CSV input: null and "" without a per-field cast', () => {
  it('matches the cast reference on 400 random files (LF, CRLF and CR record ends), read in chunks of 1, 7 and 64 KiB', async () => {
    for (let seed = 1; seed <= 400; seed++) {
      const text = randomCsv(seed);
      const expected = await viaCast(text);
      if (expected.length === 0) continue;
      const chunk = [1, 7, 65536][seed % 3] as number;
      expect({ seed, rows: await viaOpenCsv(text, chunk) }).toEqual({ seed, rows: expected });
    }
  });

  it('keeps null and "" apart in the first, middle and last cells, after skipped empty lines', async () => {
    const text = 'a,b,c\r\n\r\n\r\n,"",\r\n"",,""\r\n\r\n,x,\r\n';
    expect(await viaOpenCsv(text, 5)).toEqual([['a', 'b', 'c'], [null, '', null], ['', null, ''], [null, 'x', null]]);
  });

  it('a first value that starts with a line break (LF inside an unquoted cell of a CRLF file)', async () => {
    const text = 'a,b,c\r\nx,y,z\r\n\r\n\nv,,""\r\n';
    const expected = await viaCast(text);
    expect(expected[2]).toEqual(['\nv', null, '']);
    expect(await viaOpenCsv(text, 3)).toEqual(expected);
  });
});
