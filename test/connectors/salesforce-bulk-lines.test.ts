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
