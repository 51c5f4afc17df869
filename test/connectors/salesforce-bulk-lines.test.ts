import { describe, expect, it } from 'vitest';
import type { FieldType, Row } from '../../src/core/types.ts';
import { SfObject, type SfField } from '../../src/connectors/salesforce/describe.ts';
import { bulkLineWriter, bulkRowBuilder, planRead, type BulkLineWriter } from '../../src/connectors/salesforce/read-plan.ts';
import { BulkCsvParser, BulkCsvRecords, BYTES_RECORD, CELLS_RECORD, NO_RECORD } from '../../src/salesforce-wire/csv-reader.ts';
import { LineBuffer } from '../../src/formats/line-buffer.ts';
import { CsvEncoder } from '../../src/formats/csv.ts';
import { JsonLinesEncoder } from '../../src/formats/jsonl.ts';
import type { RecordEncoder } from '../../src/formats/types.ts';

/**
 * A Map_all Bulk export to a CSV or JSON lines file writes lines built from Bulk's cells as they are parsed
 * (bulkLineWriter, ReadRequest.encodeAs, issue 13) instead of building rows and encoding them. The bytes must be the encoders' own for the rows bulkRowBuilder
 * builds from the same cells: every field type (compound, base64, a field missing from the header and names that
 * are Object.prototype's included), with the cells where the two could differ.
 */
const SCALAR_TYPES: readonly FieldType[] = ['id', 'reference', 'string', 'textarea', 'email', 'url', 'phone', 'picklist', 'multipicklist', 'combobox', 'encryptedstring', 'boolean', 'int', 'long', 'double', 'currency', 'percent', 'date', 'datetime', 'time'];
const CELLS = [
  '', ' ', 'true', 'false', 'TRUE', '0', '-0', '1.0', '12.50', '9.12260031E8', '1e400', '1e21', '0.1', '-5', '-0.5', '100', '0.000001', '0.0000001', '-0.00000123', '123456789012345', '1234567890123456', '12345678901234567890123', '0.1234567890123456', '007', '1.', '.5', '+5', 'NaN', 'Infinity', '0x10', 'abc', 'null',
  '12:30', '12:30:15.5Z', '2024-01-02', '2024-01-02T03:04:05.000Z', '2024-01-02T03:04:05.000+0200', '2024-01-02T03:04:05Z', '2024-01-02T03:04:05,5Z',
  'a "quoted", text\nline', '"', '""', ',', 'a,b', 'cr\rlf\r\n', 'tab\there', 'back\\slash', 'Zoë 😀 漢字', '\u2028\u2029', '\u0000\u001f', 'lone \ud800 surrogate',
];

const f = (name: string, type: FieldType, compoundFieldName: string | null = null): SfField => ({
  name, type, label: name, nillable: true, compoundFieldName, filterable: true, createable: true, updateable: true,
  externalId: false, idLookup: false, calculated: false, defaultedOnCreate: false, length: 0, referenceTo: [],
});

const fields: SfField[] = [
  f('Id', 'id'),
  ...SCALAR_TYPES.filter((t) => t !== 'id').map((t, i) => f(`F${i}_${t}__c`, t)),
  f('BillingAddress', 'address'), f('BillingStreet', 'textarea', 'BillingAddress'), f('BillingCity', 'string', 'BillingAddress'),
  f('BillingLatitude', 'double', 'BillingAddress'), f('BillingLongitude', 'double', 'BillingAddress'),
  f('Loc__c', 'location'), f('Loc__Latitude__s', 'double', 'Loc__c'), f('Loc__Longitude__s', 'double', 'Loc__c'),
  f('Body__c', 'base64'),
  f('__proto__', 'string'), f('constructor', 'double'),
  f('Missing__c', 'double'),
];
const object = new SfObject('T__c', fields);
const plan = planRead(object, fields, 'BULKV2');
// Bulk's header names the selected fields (not compound or base64 ones) in any case.
const header = plan.select.filter((x) => x.name !== 'Missing__c').map((x, i) => (i % 2 === 0 ? x.name.toUpperCase() : x.name));
const schema = object.schema(fields.map((x) => x.name));

/** Records of every cell in every column, and cells mixed across columns (each column a different cell). */
function records(): string[][] {
  const out: string[][] = [];
  for (const cell of CELLS) out.push(header.map((h, i) => (i === 0 ? `a0A${String(out.length).padStart(15, '0')}` : cell)));
  for (let shift = 0; shift < CELLS.length; shift++) out.push(header.map((_, i) => CELLS[(i + shift) % CELLS.length] as string));
  out.push(['a0A000000000000AAA']); // a short record: the missing cells are null
  return out;
}

function bytesOf(encoder: RecordEncoder, batches: readonly (readonly Row[])[] | undefined, lines: readonly Uint8Array[] | undefined, counts: readonly number[] = []): Buffer {
  const parts: Uint8Array[] = [];
  if (batches !== undefined) {
    for (const batch of batches) {
      const b = encoder.encode(batch);
      if (b !== undefined) parts.push(Buffer.from(b)); // a copy: the encoder may reuse its buffer
    }
  }
  for (const [i, batch] of (lines ?? []).entries()) {
    const b = encoder.encodeLines?.(batch, counts[i] as number);
    if (b !== undefined) parts.push(Buffer.from(b));
  }
  const tail = encoder.finish();
  if (tail !== undefined) parts.push(Buffer.from(tail));
  return Buffer.concat(parts);
}

/** A batch's lines as the Bulk source writes them (src/connectors/salesforce/bulk-source.ts). */
function encoded(line: (cells: readonly string[]) => string, records: readonly (readonly string[])[]): Uint8Array {
  const out = new LineBuffer(64);
  for (const r of records) out.line(line(r));
  return out.bytes();
}

describe('Bulk cells written as file lines (the Map_all export fast path)', () => {
  it.each([
    ['CSV', () => new CsvEncoder(schema)],
    ['JSON', () => new JsonLinesEncoder(schema)],
  ] as const)('%s: the same bytes as the encoder gives for the rows built from the same cells', (fileType, make) => {
    const row = bulkRowBuilder(plan, '60.0', header);
    const line = bulkLineWriter(plan, '60.0', header, fileType).line;
    const all = records();
    // Several batches, so the CSV header is written once and the encoders' buffer sizing is exercised.
    const batches = [all.slice(0, 7), all.slice(7, 8), all.slice(8)];
    const rows = batches.map((b) => b.map(row));
    const viaRows = bytesOf(make(), rows, undefined);
    const viaLines = bytesOf(make(), undefined, batches.map((b) => encoded(line, b)), batches.map((b) => b.length));
    expect(viaRows.length).toBeGreaterThan(1000);
    // Line by line first, so a failure shows the record.
    expect(viaLines.toString('utf8').split('\n')).toEqual(viaRows.toString('utf8').split('\n'));
    expect(viaLines.equals(viaRows)).toBe(true);
  });

  it('the lines hold the values the rows do: quoted text, null and empty, numbers, booleans, dates', () => {
    const cells: string[] = header.map((h) => (h.toLowerCase() === 'id' ? 'a0A000000000001AAA' : ''));
    const set = (name: string, value: string): void => {
      cells[header.findIndex((h) => h.toLowerCase() === name.toLowerCase())] = value;
    };
    set('F1_string__c', 'say "hi", then\nleave');
    set('F10_boolean__c', 'true');
    set('F13_double__c', '12.50');
    set('F17_datetime__c', '2024-01-01T00:00:00.000+0100');
    set('BillingCity', 'Zürich');
    const csv = bulkLineWriter(plan, '60.0', header, 'CSV').line(cells);
    const json = bulkLineWriter(plan, '60.0', header, 'JSON').line(cells);
    const parsed = JSON.parse(json) as Record<string, unknown>;
    expect(parsed['F1_string__c']).toBe('say "hi", then\nleave');
    expect(parsed['F10_boolean__c']).toBe(true);
    expect(parsed['F11_int__c']).toBeNull();
    expect(parsed['F13_double__c']).toBe(12.5);
    expect(parsed['F17_datetime__c']).toBe('2023-12-31T23:00:00.000Z');
    expect(parsed['BillingAddress']).toMatchObject({ city: 'Zürich', street: null });
    expect(parsed['Body__c']).toBe('/services/data/v60.0/sobjects/T__c/a0A000000000001AAA/Body__c');
    expect(parsed['Missing__c']).toBeNull();
    expect(csv).toContain(',"say ""hi"", then\nleave",');
    expect(csv).toContain(',12.5,');
    expect(csv).toContain(',2023-12-31T23:00:00.000Z,');
  });
});

describe('an empty CSV file of encoded lines', () => {
  it('still gets its header once', () => {
    const viaRows = bytesOf(new CsvEncoder(schema), [[]], undefined);
    const viaLines = bytesOf(new CsvEncoder(schema), undefined, [new Uint8Array(0)], [0]);
    expect(viaLines.equals(viaRows)).toBe(true);
    expect(viaLines.toString('utf8').split('\n')).toHaveLength(2);
  });
});

/**
 * The export's records are written from the results' bytes (BulkCsvRecords + bulkLineWriter.write, issue 13): the
 * file's bytes must be those of the rows path (today's parser, bulkRowBuilder, the encoder) for the same body fed
 * in chunks of every size, whichever way each record goes (copied, a column's text from its decoded cells, parsed
 * again, or read by the parser), and the bytes path must be the one plain records take.
 */
describe('Bulk results transcoded from their bytes to file lines', () => {
  const VALUES = [
    ...CELLS, '1e-7', '0.10', '1.500', '100.00', '-0.0', '0.0', '3.0', '0.0000010', '0.00000100', '-12.340', '1234567890123456', '123456789012345.0', '1.0E5', '09:05', '09:05:07.1Z', '23:59:59.999Z', '00:00:00.000Z',
    '2024-01-02T03:04:05.000-0800', '2024-01-02T03:04:05.123Z', 'plain', 'back\\\\slash "and" quote', 'ctl \u0001\u0008\u000c\u007f', `${'long '.repeat(4000)}end`, 'ümlaut, comma', '😀',
  ];
  const q = (cell: string): string => `"${cell.replaceAll('"', '""')}"`;
  const text = (rows: readonly (readonly string[])[], eol = '\n'): string => rows.map((r) => r.map(q).join(',')).join(eol) + eol;
  /** Records of every value in every column, mixed across columns, and the header first. */
  const plainRecords = (): string[][] => {
    const out: string[][] = [];
    for (const cell of VALUES) out.push(header.map((_, i) => (i === 0 ? `a0A${String(out.length).padStart(15, '0')}` : cell)));
    for (let shift = 0; shift < VALUES.length; shift++) out.push(header.map((_, i) => VALUES[(i * 7 + shift) % VALUES.length] as string));
    return out;
  };

  /** Today's rows path: the parser over the chunks, rows, the encoder. */
  function viaRows(body: Uint8Array, chunk: number, fileType: 'CSV' | 'JSON'): Buffer {
    const parser = new BulkCsvParser(',');
    const all: string[][] = [];
    for (let i = 0; i < body.length; i += chunk) all.push(...parser.push(body.subarray(i, i + chunk)));
    all.push(...parser.end());
    const build = bulkRowBuilder(plan, '60.0', all[0] as string[]);
    const encoder = fileType === 'CSV' ? new CsvEncoder(schema) : new JsonLinesEncoder(schema);
    return bytesOf(encoder, [all.slice(1).map(build)], undefined);
  }

  /** The export's path: BulkCsvRecords over the chunks, each record written as bulk-source.ts writes it. */
  function viaBytes(body: Uint8Array, chunk: number, fileType: 'CSV' | 'JSON'): { bytes: Buffer; writer: BulkLineWriter; records: BulkCsvRecords } {
    const records = new BulkCsvRecords(',');
    const out = new LineBuffer(64);
    let writer: BulkLineWriter | undefined;
    let count = 0;
    const drain = (): void => {
      for (let kind = records.next(); kind !== NO_RECORD; kind = records.next()) {
        if (writer === undefined) {
          writer = bulkLineWriter(plan, '60.0', kind === CELLS_RECORD ? records.cells : records.cellsOfBytes(), fileType);
          continue;
        }
        count++;
        if (kind === BYTES_RECORD) writer.write(records, out);
        else out.line(writer.line(records.cells));
      }
    };
    for (let i = 0; i < body.length; i += chunk) {
      records.push(body.subarray(i, i + chunk));
      drain();
    }
    records.push(undefined);
    drain();
    const encoder = fileType === 'CSV' ? new CsvEncoder(schema) : new JsonLinesEncoder(schema);
    return { bytes: bytesOf(encoder, undefined, [out.bytes()], [count]), writer: writer as BulkLineWriter, records };
  }

  const same = (body: Uint8Array, chunk: number, fileType: 'CSV' | 'JSON'): ReturnType<typeof viaBytes> => {
    const expected = viaRows(body, chunk, fileType);
    const got = viaBytes(body, chunk, fileType);
    expect(got.bytes.toString('utf8').split('\n')).toEqual(expected.toString('utf8').split('\n'));
    expect(got.bytes.equals(expected)).toBe(true);
    return got;
  };

  for (const fileType of ['CSV', 'JSON'] as const) {
    it(`${fileType}: plain records are copied from their bytes, the same bytes as the rows path, in chunks of any size`, () => {
      const rows = plainRecords();
      const body = Buffer.from(text([header, ...rows]));
      expect(body.length).toBeGreaterThan(200_000); // the long text (20 kB) spans chunks
      for (const chunk of [body.length, 65_536, 4096, 1000]) {
        const { writer, records } = same(body, chunk, fileType);
        expect(records.parsed).toBe(1); // the header
        expect(records.scanned).toBe(rows.length);
        expect(writer.stats.copied).toBe(rows.length);
        expect(writer.stats.reparsed).toBe(0);
        expect(writer.stats.texts).toBeGreaterThan(0); // values not as written: 1e400, 9.12260031E8, 12:30, offsets...
      }
      // Every record split at every byte: the short records only (a record is scanned again with each chunk that
      // does not finish it, as the parser does: the 800 kB record of the long text would take minutes byte by byte).
      const short = Buffer.from(text([header, ...rows.filter((r) => !r.some((c) => c.length > 1000))]));
      for (const chunk of [1, 2, 3, 7]) expect(same(short, chunk, fileType).writer.stats.copied).toBeGreaterThan(90);
    });

    it(`${fileType}: canonical values take no text at all (numbers, Java's x.0, datetimes, times, booleans, a location)`, () => {
      const cells: string[] = header.map((h) => {
        const name = h.toLowerCase();
        if (name === 'id') return 'a0A000000000001AAA';
        const type = fields.find((x) => x.name.toLowerCase() === name)?.type;
        if (type === 'datetime') return '2024-01-02T03:04:05.006Z';
        if (type === 'time') return '09:05:07.100Z';
        if (type === 'boolean') return 'true';
        if (type === 'double' || type === 'int' || type === 'currency' || type === 'percent' || type === 'long') return '12.50';
        return 'text, "quoted" ü\\';
      });
      const body = Buffer.from(text([header, cells, cells.map((c) => (c === '12.50' ? '3.0' : c))]));
      const { writer } = same(body, 7, fileType);
      expect(writer.stats).toEqual({ copied: 2, emitted: 0, reparsed: 0, texts: 4 }); // per record, the address (a compound other than a location) and the base64 reference
    });

    it(`${fileType}: records not as Salesforce writes them go to the parser, and back to bytes after them`, () => {
      const rows = plainRecords().filter((r) => !r.some((c) => c.length > 1000)).slice(0, 10);
      const plain = rows.map((r) => r.map(q).join(',')).join('\n');
      const n = rows.length;
      const bodies: Array<[string, Uint8Array, number, number]> = [
        // [why, body, records the parser reads after the header, records copied]
        ['a BOM', Buffer.from(`\ufeff${text([header])}${plain}\n`), 0, n],
        ['CRLF record ends', Buffer.from(text([header, ...rows], '\r\n')), n, 0],
        ['unquoted cells', Buffer.from(`${text([header])}${plain}\n${rows.map((r) => r.map((c, i) => (i % 3 === 0 && !/[",\r\n]/.test(c) ? c : q(c))).join(',')).join('\n')}\n${plain}\n`), n, 2 * n],
        // The parser reads up to the first LF: the two CR records and the plain record the LF ends.
        ['CR record ends', Buffer.from(`${text([header])}${text(rows.slice(0, 2), '\r')}${plain}\n`), 3, n - 1],
        ['the last record without LF', Buffer.from(`${text([header])}${plain}`), 1, n - 1],
        ['an empty line', Buffer.from(`${text([header])}${plain}\n\n${plain}\n`), 1, 2 * n],
        ['a record longer than 1 MiB', Buffer.from(`${text([header])}${plain}\n${text([header.map((_, i) => (i === 0 ? 'a0A000000000009AAA' : 'x'.repeat(100_000)))])}${plain}\n`), 1, 2 * n],
      ];
      for (const [why, body, parsed, copied] of bodies) {
        // (The long record in small chunks: the parser, like the scanner, reads a pending record again with each chunk.)
        for (const chunk of why.includes('1 MiB') ? [body.length, 65_536] : [body.length, 65_536, 4096, 61, 7]) {
          const { records, writer } = same(body, chunk, fileType);
          // Whole, the long record is scanned as bytes; in chunks, it is too long to carry and the parser reads it.
          expect(records.parsed - 1, why).toBe(why.includes('1 MiB') && chunk === body.length ? 0 : parsed);
          expect(writer.stats.copied, why).toBe(copied + (why.includes('1 MiB') && chunk === body.length ? 1 : 0));
        }
      }
    });

    it(`${fileType}: a record of another width, or of invalid UTF-8, is parsed again as cells`, () => {
      const rows = plainRecords().filter((r) => !r.some((c) => c.length > 1000)).slice(0, 4);
      const invalid = [Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0x80]), Buffer.from([0xe2, 0x82])];
      const parts: Buffer[] = [Buffer.from(text([header, ...rows]))];
      for (const bad of invalid) parts.push(Buffer.concat([Buffer.from(`"a0A000000000008AAA","x`), bad, Buffer.from(`y"${',""'.repeat(header.length - 2)}\n`)]));
      parts.push(Buffer.from(text([['a0A000000000007AAA'], header.map(() => '1'), [...header.map(() => '2'), 'extra']])));
      const body = Buffer.concat(parts);
      for (const chunk of [body.length, 5]) {
        const { writer } = same(body, chunk, fileType);
        expect(writer.stats.reparsed).toBe(invalid.length + 2);
        expect(writer.stats.copied).toBe(rows.length + 1);
      }
    });
  }
});

/**
 * The common cells are written by the scanner's WebAssembly module (csv-scan.wat, emit: bulkLineWriter's program),
 * a record with any other cell by the writer's JavaScript; the module's lines are gathered and copied into the
 * batch's LineBuffer later (LineBuffer.defer). A plan without base64 (whose reference reads the Id, so every record
 * would fall back), with random cells of every byte the module treats apart, around its 16-byte copies, and values
 * that must fall back; batches of a few records each in new LineBuffers, as the Bulk source writes them.
 */
describe('Bulk results written by the WebAssembly line writer', () => {
  const moduleFields = fields.filter((x) => x.type !== 'base64');
  const moduleObject = new SfObject('T__c', moduleFields);
  const modulePlan = planRead(moduleObject, moduleFields, 'BULKV2');
  const moduleHeader = modulePlan.select.filter((x) => x.name !== 'Missing__c').map((x) => x.name);
  const moduleSchema = moduleObject.schema(moduleFields.map((x) => x.name));
  const typeOf = (name: string): FieldType | undefined => moduleFields.find((x) => x.name === name)?.type;
  const q = (cell: string): string => `"${cell.replaceAll('"', '""')}"`;

  let seed = 7;
  // A linear congruential generator's high bits (its low bits repeat with short periods).
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * n);
  };
  const pick = <T>(values: readonly T[]): T => values[random(values.length)] as T;
  const ALPHABET = ['a', 'Z', '7', ' ', ',', '"', '\n', '\r', '\\', '\t', '\u0001', '\u001f', '\u007f', 'é', '€', '😀', '\u2028', '/', '<'];
  const text = (): string => {
    const length = pick([0, 1, 2, 14, 15, 16, 17, 18, 31, 32, 33, random(70)]);
    let cell = '';
    while (cell.length < length) cell += random(3) === 0 ? pick(ALPHABET) : 'x';
    return cell;
  };
  const digits = (n: number): string => Array.from({ length: n }, () => String(random(10))).join('');
  // One cell in 40 is a value the module leaves to JavaScript (so most records are the module's, some not).
  const rare = (): boolean => random(40) === 0;
  // Numbers as written (copied), with Java's zeros (trimmed); else not as written (JavaScript's text).
  const number = (): string => (rare()
    ? pick(['0.0000001', '-0', '007', '1e5', '1.0E5', '1234567890123456', '123456789012345.0', '.5', 'abc', '-0.0'])
    : pick(['', '0', '-5', `${1 + random(9)}${digits(random(14))}`, `${1 + random(9)}.${digits(3)}7`, `-0.${digits(4)}1`, `${random(1000)}.0`, `${random(1000)}.50`, '12.500', '0.000001', '0.10']));
  const cellOf = (name: string): string => {
    if (name === 'Id') return `a0A${digits(15)}`;
    if (name.startsWith('Billing')) return rare() ? text() : ''; // the address: mostly empty (its text otherwise)
    switch (typeOf(name)) {
      case 'boolean':
        return pick(['true', 'false', '', 'TRUE']);
      case 'datetime':
        return rare() ? pick(['2024-01-02T03:04:05.000+0200', '2024-01-02T03:04:05Z', '2024-01-02T03:04:05.000Zx']) : pick(['', `2024-0${1 + random(9)}-1${random(10)}T0${random(10)}:1${random(10)}:2${random(10)}.${digits(3)}Z`]);
      case 'time':
        return rare() ? pick(['12:30', '12:30:15.5Z', '1:30:15.500Z']) : pick(['', `1${random(10)}:0${random(10)}:3${random(10)}.${digits(3)}Z`]);
      case 'int': case 'long': case 'double': case 'currency': case 'percent':
        return number();
      default:
        return text();
    }
  };
  const body = (records: number): { text: string; rows: string[][] } => {
    const rows: string[][] = [];
    for (let r = 0; r < records; r++) rows.push(moduleHeader.map(cellOf));
    return { text: `${moduleHeader.map(q).join(',')}\n${rows.map((row) => row.map(q).join(',')).join('\n')}\n`, rows };
  };

  function viaRows(bytes: Buffer, fileType: 'CSV' | 'JSON'): Buffer {
    const parser = new BulkCsvParser(',');
    const all = [...parser.push(bytes), ...parser.end()];
    const build = bulkRowBuilder(modulePlan, '60.0', all[0] as string[]);
    const encoder = fileType === 'CSV' ? new CsvEncoder(moduleSchema) : new JsonLinesEncoder(moduleSchema);
    return bytesOf(encoder, [all.slice(1).map(build)], undefined);
  }

  /** As bulk-source.ts writes a page: a LineBuffer per `batch` records, its bytes taken once full. */
  function viaBytes(bytes: Buffer, chunk: number, batch: number, fileType: 'CSV' | 'JSON'): { bytes: Buffer; writer: BulkLineWriter } {
    const records = new BulkCsvRecords(',');
    let writer: BulkLineWriter | undefined;
    let out: LineBuffer | undefined;
    let lines = 0;
    const batches: Uint8Array[] = [];
    const counts: number[] = [];
    const take = (): void => {
      batches.push(Buffer.from((out as LineBuffer).bytes()));
      counts.push(lines);
      out = undefined;
      lines = 0;
    };
    const drain = (): void => {
      for (let kind = records.next(); kind !== NO_RECORD; kind = records.next()) {
        if (writer === undefined) {
          writer = bulkLineWriter(modulePlan, '60.0', kind === CELLS_RECORD ? records.cells : records.cellsOfBytes(), fileType);
          continue;
        }
        out ??= new LineBuffer(64);
        if (kind === BYTES_RECORD) writer.write(records, out);
        else out.line(writer.line(records.cells));
        if (++lines >= batch) take();
      }
    };
    for (let i = 0; i < bytes.length; i += chunk) {
      records.push(bytes.subarray(i, i + chunk));
      drain();
    }
    records.push(undefined);
    drain();
    if (out !== undefined) take();
    const encoder = fileType === 'CSV' ? new CsvEncoder(moduleSchema) : new JsonLinesEncoder(moduleSchema);
    return { bytes: bytesOf(encoder, undefined, batches, counts), writer: writer as BulkLineWriter };
  }

  const same = (bytes: Buffer, chunk: number, batch: number, fileType: 'CSV' | 'JSON'): BulkLineWriter => {
    const expected = viaRows(bytes, fileType);
    const got = viaBytes(bytes, chunk, batch, fileType);
    expect(got.bytes.toString('utf8').split('\n')).toEqual(expected.toString('utf8').split('\n'));
    expect(got.bytes.equals(expected)).toBe(true);
    return got.writer;
  };

  for (const fileType of ['CSV', 'JSON'] as const) {
    it(`${fileType}: random cells, the same bytes as the rows path, the module writing the records it can`, () => {
      const { text: csv } = body(3000);
      const bytes = Buffer.from(csv);
      for (const [chunk, batch] of [[bytes.length, 1000], [65_536, 7], [4096, 1], [1000, 61]] as const) {
        const writer = same(bytes, chunk, batch, fileType);
        expect(writer.stats.copied).toBe(3000);
        // Most records are the module's; those with a value it leaves (Java's E notation, an offset...) are not.
        expect(writer.stats.emitted).toBeGreaterThan(100);
        expect(writer.stats.emitted).toBeLessThan(3000);
      }
      // Every record split at every byte.
      const short = Buffer.from(body(150).text);
      for (const chunk of [1, 2, 3, 7, 61]) expect(same(short, chunk, 10, fileType).stats.emitted).toBeGreaterThan(40);
    });

    it(`${fileType}: the module's lines keep their place among lines written otherwise (parsed records, JavaScript's, a full output room)`, () => {
      const { rows } = body(400);
      const plain = (row: readonly string[]): string => row.map(q).join(',');
      // Unquoted cells (the parser reads them), a record of another width (parsed again), a long record whose
      // line cannot fit the module's output room (the JavaScript writes it), among plain ones; the output room
      // (256 KiB) filled more than once.
      const parts: string[] = [moduleHeader.map(q).join(',')];
      rows.forEach((row, i) => {
        if (i % 37 === 5) parts.push(row.map((c, k) => (k === 0 && !/[",\r\n]/.test(c) ? c : q(c))).join(','));
        else if (i % 53 === 9) parts.push(`${plain(row)},"extra"`);
        else if (i % 101 === 11) parts.push(plain(row.map((c, k) => (typeOf(moduleHeader[k] as string) === 'string' ? 'y'.repeat(50_000) : c))));
        else parts.push(plain(row));
      });
      const bytes = Buffer.from(`${parts.join('\n')}\n`);
      expect(bytes.length).toBeGreaterThan(600_000);
      for (const [chunk, batch] of [[bytes.length, 1000], [65_536, 3], [4096, 1], [1000, 50]] as const) {
        const writer = same(bytes, chunk, batch, fileType);
        expect(writer.stats.emitted).toBeGreaterThan(100);
        expect(writer.stats.reparsed).toBe(8);
      }
    });
  }
});
