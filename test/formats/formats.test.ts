import { describe, expect, it } from 'vitest';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { createEncoder, openDecoder } from '../../src/formats/index.ts';
import type { FileType, InputFile } from '../../src/formats/index.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import type { EntitySchema, RecordBatch, Row } from '../../src/core/types.ts';

/** An in-memory file that streams in small chunks, so records straddle chunk boundaries. */
function memoryFile(name: string, bytes: Uint8Array, chunk = 7): InputFile {
  return {
    name,
    size: bytes.byteLength,
    async *stream() {
      for (let i = 0; i < bytes.byteLength; i += chunk) yield bytes.subarray(i, i + chunk);
    },
    read: async (start, end) => bytes.slice(start, end),
  };
}

function encodeAll(fileType: FileType, schema: EntitySchema, rows: Row[], preserve = false, batch = 3): Buffer {
  const enc = createEncoder(fileType, schema, { preserveSourceDataTyping: preserve, rowGroupRows: 4 });
  const parts: Uint8Array[] = [];
  for (let i = 0; i < rows.length; i += batch) {
    const b = enc.encode(rows.slice(i, i + batch));
    if (b) parts.push(b);
  }
  const tail = enc.finish();
  if (tail) parts.push(tail);
  return Buffer.concat(parts);
}

async function decodeAll(fileType: FileType, file: InputFile, batchSize = 2): Promise<{ schema: EntitySchema; rows: Row[]; batches: number }> {
  const decoded = await openDecoder(fileType, file, { entity: 'Account', batchSize });
  const rows: Row[] = [];
  let batches = 0;
  for await (const b of decoded.batches as AsyncIterable<RecordBatch>) {
    batches += 1;
    rows.push(...b.rows);
  }
  return { schema: decoded.schema, rows, batches };
}

async function expectInputInvalid(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(isForceflowError(error, 'INPUT_INVALID'), String(error)).toBe(true);
  expect((error as Error).message).toMatch(pattern);
}

const schema: EntitySchema = {
  entity: 'Account',
  fields: [
    { name: 'Id', type: 'id' },
    { name: 'Name', type: 'string' },
    { name: 'Employees', type: 'int' },
    { name: 'Revenue', type: 'currency' },
    { name: 'Active', type: 'boolean' },
    { name: 'Founded', type: 'date' },
    { name: 'CreatedDate', type: 'datetime' },
    { name: 'BillingAddress', type: 'address' },
  ],
};
const rows: Row[] = [
  { Id: '001000000000001AAA', Name: 'Acme, "the" company', Employees: 12, Revenue: 1234.5, Active: true, Founded: '1999-12-31', CreatedDate: '2024-04-16T19:00:00.000Z', BillingAddress: { street: '1 Main St\nSuite 2', city: 'Paris', postalCode: null } },
  { Id: '001000000000002AAA', Name: '', Employees: null, Revenue: 0.1, Active: false, Founded: null, CreatedDate: '1970-01-01T00:00:00.000Z', BillingAddress: null },
  { Id: '001000000000003AAA', Name: null, Employees: -5, Revenue: null, Active: null, Founded: '2024-02-29', CreatedDate: null, BillingAddress: null },
  { Id: '001000000000004AAA', Name: 'Ünïcødé ✓', Employees: 0, Revenue: 99999999.99, Active: true, Founded: '1970-01-01', CreatedDate: '2030-01-01T23:59:59.999Z', BillingAddress: { latitude: 1.5, longitude: -2 } },
  { Id: '001000000000005AAA', Name: 'line\r\nbreak', Employees: 7, Revenue: 3, Active: false, Founded: '2000-01-01', CreatedDate: '2000-01-01T00:00:00.000Z', BillingAddress: null },
];

describe('CSV', () => {
  it('writes a header, RFC 4180 quoting, null as an empty cell and "" as a quoted empty cell', () => {
    const text = encodeAll('CSV', schema, rows.slice(0, 2)).toString('utf8');
    expect(text).toBe(
      'Id,Name,Employees,Revenue,Active,Founded,CreatedDate,BillingAddress\n' +
        '001000000000001AAA,"Acme, ""the"" company",12,1234.5,true,1999-12-31,2024-04-16T19:00:00.000Z,"{""street"":""1 Main St\\nSuite 2"",""city"":""Paris"",""postalCode"":null}"\n' +
        '001000000000002AAA,"",,0.1,false,,1970-01-01T00:00:00.000Z,\n',
    );
  });

  it('reads back every row as strings, keeping null apart from the empty string, across chunk boundaries', async () => {
    const bytes = encodeAll('CSV', schema, rows);
    const { schema: read, rows: back, batches } = await decodeAll('CSV', memoryFile('a.csv', bytes, 5));
    expect(read.fields.map((f) => f.name)).toEqual(schema.fields.map((f) => f.name));
    expect(read.fields.every((f) => f.type === 'string')).toBe(true);
    expect(batches).toBe(3);
    expect(back).toHaveLength(5);
    expect(back[0]).toMatchObject({ Name: 'Acme, "the" company', Employees: '12', Active: 'true', BillingAddress: JSON.stringify(rows[0]?.['BillingAddress']) });
    expect(back[1]).toMatchObject({ Name: '', Employees: null, Founded: null, BillingAddress: null });
    expect(back[2]?.['Name']).toBeNull();
    expect(back[3]?.['Name']).toBe('Ünïcødé ✓');
    expect(back[4]?.['Name']).toBe('line\r\nbreak');
  });

  it('writes only the header for a file with no rows, and reads such a file as columns without rows', async () => {
    const bytes = encodeAll('CSV', schema, []);
    expect(bytes.toString()).toBe('Id,Name,Employees,Revenue,Active,Founded,CreatedDate,BillingAddress\n');
    const { schema: read, rows: back } = await decodeAll('CSV', memoryFile('h.csv', bytes));
    expect(read.fields).toHaveLength(8);
    expect(back).toEqual([]);
  });

  it('accepts a BOM and CRLF line endings', async () => {
    const { rows: back } = await decodeAll('CSV', memoryFile('b.csv', Buffer.from('\uFEFFa,b\r\n1,2\r\n3,\r\n')));
    expect(back).toEqual([{ a: '1', b: '2' }, { a: '3', b: null }]);
  });

  it('names the file and line of a row with the wrong number of cells', async () => {
    const file = memoryFile('bad.csv', Buffer.from('a,b\n1,2\n3,4\n5,6,7\n8,9\n'));
    await expectInputInvalid(decodeAll('CSV', file), /^bad\.csv line 4: /);
  });

  it('names the file and line of an unclosed quote', async () => {
    const file = memoryFile('quote.csv', Buffer.from('a,b\n1,"x\n'));
    await expectInputInvalid(decodeAll('CSV', file), /^quote\.csv line \d+: /);
  });

  it('rejects a header with a duplicated or missing name', async () => {
    await expectInputInvalid(decodeAll('CSV', memoryFile('dup.csv', Buffer.from('a,a\n1,2\n'))), /dup\.csv line 1: header names column "a" twice/);
    await expectInputInvalid(decodeAll('CSV', memoryFile('gap.csv', Buffer.from('a,,c\n1,2,3\n'))), /gap\.csv line 1: header column 2 has no name/);
  });

  it('never loses or duplicates rows over many batches', async () => {
    const many: Row[] = Array.from({ length: 2503 }, (_, i) => ({ Id: String(i), Name: i % 5 === 0 ? 'a,"b"\nc' : `n${i}` }));
    const s: EntitySchema = { entity: 'X', fields: [{ name: 'Id', type: 'string' }, { name: 'Name', type: 'string' }] };
    const { rows: back } = await decodeAll('CSV', memoryFile('m.csv', encodeAll('CSV', s, many, false, 100), 1000), 100);
    expect(back).toEqual(many);
  });
});

describe('JSON lines', () => {
  it('writes one object per line in schema order with nested compound fields and explicit nulls', () => {
    const text = encodeAll('JSON', schema, rows.slice(1, 2)).toString('utf8');
    expect(text).toBe('{"Id":"001000000000002AAA","Name":"","Employees":null,"Revenue":0.1,"Active":false,"Founded":null,"CreatedDate":"1970-01-01T00:00:00.000Z","BillingAddress":null}\n');
  });

  it('reads back the same rows with inferred types', async () => {
    const { schema: read, rows: back } = await decodeAll('JSON', memoryFile('a.jsonl', encodeAll('JSON', schema, rows)));
    expect(back).toEqual(rows);
    const types = Object.fromEntries(read.fields.map((f) => [f.name, f.type]));
    expect(types).toMatchObject({ Id: 'string', Employees: 'double', Active: 'boolean', BillingAddress: 'address' });
  });

  it('skips blank lines, fills missing keys with null and grows the schema with later keys', async () => {
    const text = '{"a":1}\n\n{"b":"x"}\n{"a":2,"b":null,"c":[1,2]}\n';
    const { rows: back } = await decodeAll('JSON', memoryFile('g.jsonl', Buffer.from(text)), 10);
    expect(back).toEqual([{ a: 1, b: null, c: null }, { a: null, b: 'x', c: null }, { a: 2, b: null, c: '[1,2]' }]);
  });

  it('names the file and line of a line that is not JSON or not an object', async () => {
    await expectInputInvalid(decodeAll('JSON', memoryFile('bad.jsonl', Buffer.from('{"a":1}\n\n{"a":2\n'))), /^bad\.jsonl line 3: not valid JSON/);
    await expectInputInvalid(decodeAll('JSON', memoryFile('arr.jsonl', Buffer.from('{"a":1}\n[1]\n'))), /^arr\.jsonl line 2: each line must be a JSON object/);
    // The error also comes when the bad line is in a later batch.
    const late = Array.from({ length: 7 }, (_, i) => `{"a":${i}}`).join('\n') + '\nnope\n';
    await expectInputInvalid(decodeAll('JSON', memoryFile('late.jsonl', Buffer.from(late))), /^late\.jsonl line 8: /);
  });
});

describe('Parquet', () => {
  it('buffers one page of values (rows × columns) per column; row groups end by encoded bytes', () => {
    // 100 columns: pages of 400 rows (PAGE_CELLS 40,000). By default 7,000 small rows are one row group; when
    // every page fills the group's byte bound, each page ends a group: 17 groups of 400 and the last 200.
    const wide: EntitySchema = { entity: 'Wide', fields: Array.from({ length: 100 }, (_, i) => ({ name: `F${i}`, type: 'string' as const, nillable: true })) };
    const groups = (rowGroupBytes?: number): number[] => {
      const enc = createEncoder('PARQUET', wide, rowGroupBytes === undefined ? {} : { rowGroupBytes });
      const parts: Uint8Array[] = [];
      for (let b = 0; b < 7; b++) {
        const batch = Array.from({ length: 1000 }, (_, r) => Object.fromEntries(wide.fields.map((f, i) => [f.name, `v${b}-${r}-${i}`])) as Row);
        const out = enc.encode(batch);
        if (out) parts.push(out);
      }
      const tail = enc.finish();
      if (tail) parts.push(tail);
      const bytes = Buffer.concat(parts);
      const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      return meta.row_groups.map((g) => Number(g.num_rows));
    };
    expect(groups()).toEqual([7000]);
    expect(groups(1)).toEqual([...Array.from({ length: 17 }, () => 400), 200]);
  });

  it('writes the values and column statistics hyparquet-writer writes for one row group, dictionary or not', async () => {
    // Columns that stay dictionary-encoded, that are PLAIN, and one whose dictionary outgrows DICTIONARY_MAX_BYTES
    // after its first page (a chunk with dictionary and PLAIN pages), over several pages (PAGE_CELLS / 8 rows).
    const typed: EntitySchema = {
      entity: 'Mix',
      fields: [
        { name: 'Id', type: 'id', nillable: false },
        { name: 'Stage', type: 'picklist', nillable: true },
        { name: 'Grows', type: 'string', nillable: true },
        { name: 'Amount', type: 'currency', nillable: true },
        { name: 'Count', type: 'int', nillable: true },
        { name: 'Big', type: 'long', nillable: true },
        { name: 'Paid', type: 'boolean', nillable: true },
        { name: 'Day', type: 'date', nillable: true },
        { name: 'At', type: 'datetime', nillable: true },
        { name: 'Where', type: 'location', nillable: true },
      ],
    };
    const n = 40_000;
    const rows: Row[] = Array.from({ length: n }, (_, i) => ({
      Id: `a0${String(i * 7919 % n).padStart(8, '0')}${i % 5 === 0 ? '😀' : i % 7 === 0 ? '\uE000' : ''}`,
      Stage: i % 11 === 0 ? null : (['Open', 'Won', 'Lost', 'Zoë'][i % 4] ?? null),
      Grows: i < 20_000 ? 'same' : `unique-${i}-${'x'.repeat(200)}`,
      Amount: i % 13 === 0 ? null : ((i * 31) % 1000) - 500 + 0.25,
      Count: i % 3 === 0 ? 0 : -i,
      Big: i % 17 === 0 ? null : 2 ** 40 + i,
      Paid: i % 9 === 0 ? null : i % 2 === 0,
      Day: `20${String(10 + (i % 15)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 10}`,
      At: i % 19 === 0 ? null : new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
      Where: i % 4 === 0 ? null : { latitude: i % 90, longitude: -(i % 180) },
    }));
    const ours = createEncoder('PARQUET', typed, { preserveSourceDataTyping: true });
    const parts: Uint8Array[] = [];
    for (let i = 0; i < n; i += 1000) {
      const out = ours.encode(rows.slice(i, i + 1000));
      if (out) parts.push(out);
    }
    const tail = ours.finish();
    if (tail) parts.push(tail);
    const mine = Buffer.concat(parts);
    // The same rows through hyparquet-writer's own ParquetWriter.write as one row group (how forceflow wrote them).
    const { ByteWriter, ParquetWriter } = await import('hyparquet-writer');
    const writer = new ByteWriter();
    const schemaElements = parquetMetadata(mine.buffer.slice(mine.byteOffset, mine.byteOffset + mine.byteLength) as ArrayBuffer).schema;
    const pw = new ParquetWriter({ writer, schema: schemaElements });
    const converted = typed.fields.map((f) => ({ name: f.name, data: [] as unknown[] }));
    // The typed values ParquetWriter takes: long and datetime as bigint, date as days; the rest as they are.
    const convertRow = (row: Row, c: number): unknown => {
      const f = typed.fields[c]!;
      const v = row[f.name];
      if (v === null || v === undefined) return null;
      if (f.type === 'long') return BigInt(v as number);
      if (f.type === 'date') return Math.floor(Date.parse(`${v as string}T00:00:00Z`) / 86_400_000);
      if (f.type === 'datetime') return BigInt(Date.parse(v as string));
      return v;
    };
    for (const row of rows) typed.fields.forEach((_, c) => converted[c]!.data.push(convertRow(row, c)));
    pw.write({ columnData: converted as never, rowGroupSize: n });
    pw.finish();
    const theirs = writer.getBytes();
    const ab = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    const mineMeta = parquetMetadata(ab(mine));
    const theirMeta = parquetMetadata(ab(theirs));
    expect(mineMeta.row_groups.length).toBe(1);
    const encodings = Object.fromEntries(mineMeta.row_groups[0]!.columns.map((c) => [c.meta_data!.path_in_schema[0], c.meta_data!.encodings]));
    expect(encodings['Stage']).toEqual(['PLAIN', 'RLE_DICTIONARY']);
    expect(encodings['Grows']).toEqual(['PLAIN', 'RLE_DICTIONARY']);
    expect(mineMeta.row_groups[0]!.columns.find((c) => c.meta_data!.path_in_schema[0] === 'Grows')!.meta_data!.encoding_stats!.map((s) => s.encoding)).toEqual(['PLAIN', 'RLE_DICTIONARY', 'PLAIN']);
    expect(encodings['Id']).toEqual(['PLAIN']);
    const stats = (meta: typeof mineMeta) => meta.row_groups[0]!.columns.map((c) => [c.meta_data!.path_in_schema[0], c.meta_data!.statistics]);
    expect(stats(mineMeta)).toEqual(stats(theirMeta));
    const mineRows = await parquetReadObjects({ file: ab(mine) });
    const theirRows = await parquetReadObjects({ file: ab(theirs) });
    expect(mineRows.length).toBe(n);
    expect(mineRows).toEqual(theirRows);
  });

  it('reads dates and datetimes as Date.parse does, valid or not (the fast path for the usual forms)', async () => {
    const schemaDt: EntitySchema = { entity: 'D', fields: [{ name: 'Day', type: 'date', nillable: true }, { name: 'At', type: 'datetime', nillable: true }] };
    const days = ['2024-02-29', '2023-02-29', '2023-02-30', '2024-04-31', '2024-12-31xyz', '0050-01-01', '0100-03-01', '2024-1-05', '2024-13-01', '9999-12-31', '2024-02-29', '2024-02-29'];
    const ats = ['2024-02-29T23:59:59.999Z', '2023-02-29T10:00:00.000Z', '2024-01-01T24:00:00.000Z', '2024-01-01T10:60:00.000Z', '2024-01-01T10:00:00Z', '2024-01-01T10:00:00.000+02:00', '2024-01-01T10:00:00', '0099-01-01T00:00:00.000Z', '2024-06-30T12:34:56.789Z', '2024-06-31T12:34:56.789Z', '2024-06-30T12:34:56.789Z', '1969-12-31T23:59:59.999Z'];
    const expectedDay = (v: string): number => Date.parse(`${v.slice(0, 10)}T00:00:00Z`);
    const expectedAt = (v: string): number => Date.parse(/(?:Z|[+-]\d{2}(?::?\d{2})?)$/i.test(v) || !v.includes(':') ? v : `${v}Z`);
    for (let i = 0; i < days.length; i += 1) {
      const day = days[i]!;
      const at = ats[i]!;
      const enc = createEncoder('PARQUET', schemaDt, { preserveSourceDataTyping: true });
      const valid = Number.isFinite(expectedDay(day)) && Number.isFinite(expectedAt(at));
      if (!valid) {
        expect(() => enc.encode([{ Day: day, At: at }]), `${day} ${at}`).toThrow(/typed date|typed datetime/);
        continue;
      }
      const bytes = Buffer.concat([enc.encode([{ Day: day, At: at }, { Day: day, At: at }]) ?? new Uint8Array(0), enc.finish() ?? new Uint8Array(0)]);
      const read = (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer })) as { Day: Date; At: Date }[];
      expect(read.map((r) => r.Day.getTime()), day).toEqual([expectedDay(day), expectedDay(day)].map((ms) => Math.floor(ms / 86_400_000) * 86_400_000));
      expect(read.map((r) => r.At.getTime()), at).toEqual([expectedAt(at), expectedAt(at)]);
    }
  });

  it('writes typed columns with preserveSourceDataTyping, read by hyparquet (not the writer)', async () => {
    const bytes = encodeAll('PARQUET', schema, rows, true);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const meta = parquetMetadata(ab);
    expect(Number(meta.num_rows)).toBe(5);
    expect(meta.row_groups.length).toBe(2); // rowGroupRows: 4
    const types = Object.fromEntries(meta.schema.slice(1).map((e) => [e.name, [e.type, e.converted_type ?? null]]));
    expect(types).toEqual({
      Id: ['BYTE_ARRAY', 'UTF8'],
      Name: ['BYTE_ARRAY', 'UTF8'],
      Employees: ['INT32', null],
      Revenue: ['DOUBLE', null],
      Active: ['BOOLEAN', null],
      Founded: ['INT32', 'DATE'],
      CreatedDate: ['INT64', 'TIMESTAMP_MILLIS'],
      BillingAddress: ['BYTE_ARRAY', 'JSON'],
    });
    const objects = (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
    expect(objects[0]).toMatchObject({ Employees: 12, Revenue: 1234.5, Active: true, Name: 'Acme, "the" company', BillingAddress: rows[0]?.['BillingAddress'] });
    expect((objects[0]?.['CreatedDate'] as Date).toISOString()).toBe('2024-04-16T19:00:00.000Z');
    expect((objects[0]?.['Founded'] as Date).toISOString().slice(0, 10)).toBe('1999-12-31');
    expect(objects[2]).toMatchObject({ Name: null, Revenue: null, Active: null, CreatedDate: null });
  });

  it('writes every column as a string without preserveSourceDataTyping (AppFlow default)', async () => {
    const bytes = encodeAll('PARQUET', schema, rows, false);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const meta = parquetMetadata(ab);
    expect(meta.schema.slice(1).every((e) => e.type === 'BYTE_ARRAY' && e.converted_type === 'UTF8')).toBe(true);
    const objects = (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
    expect(objects[0]).toMatchObject({ Employees: '12', Revenue: '1234.5', Active: 'true', BillingAddress: JSON.stringify(rows[0]?.['BillingAddress']) });
    expect(objects[1]).toMatchObject({ Name: '', Employees: null });
  });

  it('decodes its own typed files back to the same canonical rows and field types, row group by row group', async () => {
    const bytes = encodeAll('PARQUET', schema, rows, true);
    const { schema: read, rows: back, batches } = await decodeAll('PARQUET', memoryFile('a.parquet', bytes), 3);
    expect(read.fields).toEqual(schema.fields.map((f) => ({ ...f, nillable: true })));
    expect(back).toEqual(rows);
    expect(batches).toBe(3); // row groups of 4 and 1, the first split by batchSize 3
  });

  it('writes a valid file with no rows', async () => {
    const bytes = encodeAll('PARQUET', schema, [], true);
    const { rows: back, schema: read } = await decodeAll('PARQUET', memoryFile('e.parquet', bytes));
    expect(back).toEqual([]);
    expect(read.fields).toHaveLength(8);
  });

  it('refuses a value that does not fit a typed column, naming the field', () => {
    const enc = createEncoder('PARQUET', schema, { preserveSourceDataTyping: true });
    expect(() => enc.encode([{ Employees: 'many' }])).toThrow(/column "Employees" is typed int/);
  });

  it('refuses out-of-range integers with CONFIG_INVALID naming the field, not a writer crash', () => {
    const wide: EntitySchema = { entity: 'x', fields: [{ name: 'I', type: 'int' }, { name: 'L', type: 'long' }] };
    const attempt = (row: Row): unknown => {
      try {
        const enc = createEncoder('PARQUET', wide, { preserveSourceDataTyping: true });
        enc.encode([row]);
        enc.finish();
        return 'ok';
      } catch (error) {
        return isForceflowError(error) ? `${error.code}: ${error.message.slice(0, 40)}` : `raw ${String(error)}`;
      }
    };
    expect(attempt({ I: 2147483647, L: -(2 ** 63) })).toBe('ok');
    expect(attempt({ I: -2147483648 })).toBe('ok');
    expect(attempt({ I: 2147483648 })).toMatch(/^CONFIG_INVALID: Parquet column "I" is typed int/);
    expect(attempt({ L: 1e20 })).toMatch(/^CONFIG_INVALID: Parquet column "L" is typed long/);
    expect(attempt({ L: 2 ** 63 })).toMatch(/^CONFIG_INVALID: Parquet column "L" is typed long/);
  });

  it('writes a blank numeric cell as null (not 0) and a zone-less datetime as UTC', async () => {
    const saved = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const s: EntitySchema = { entity: 'x', fields: [{ name: 'N', type: 'double' }, { name: 'T', type: 'datetime' }] };
      const bytes = encodeAll('PARQUET', s, [{ N: ' ', T: '2024-04-16T19:00:00' }, { N: '2', T: '2024-04-16T19:00:00.000+0000' }], true);
      const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const objects = (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
      expect(objects[0]?.['N']).toBeNull();
      expect((objects[0]?.['T'] as Date).toISOString()).toBe('2024-04-16T19:00:00.000Z');
      expect((objects[1]?.['T'] as Date).toISOString()).toBe('2024-04-16T19:00:00.000Z');
    } finally {
      if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved;
    }
  });

  it('rejects a file that is not Parquet with INPUT_INVALID', async () => {
    await expectInputInvalid(decodeAll('PARQUET', memoryFile('x.parquet', Buffer.from('not parquet at all'))), /^x\.parquet: not a Parquet file/);
  });
});
