import { describe, expect, it } from 'vitest';
import type { EntitySchema, Row } from '../../src/core/types.ts';
import { JsonLinesEncoder } from '../../src/formats/jsonl.ts';
import { ParquetEncoder } from '../../src/formats/parquet.ts';
import { rowTemplate } from '../../src/formats/rows.ts';

const schema: EntitySchema = {
  entity: 'Invoice__c',
  fields: [
    { name: 'Id', type: 'id' }, { name: 'Name', type: 'string' }, { name: 'Amount__c', type: 'currency' },
    { name: 'Is_Paid__c', type: 'boolean' }, { name: 'Notes__c', type: 'textarea' }, { name: 'Location__c', type: 'location' },
  ],
};
const names = schema.fields.map((f) => f.name);
const values: Row[] = [
  { Id: 'a01', Name: 'Zoë "Q" \\ \u0001 \u2028 😀 \ud800', Amount__c: 1e21, Is_Paid__c: true, Notes__c: 'line1\nline2\r\t', Location__c: { latitude: 1.5, longitude: -0.000001 } },
  { Id: 'a02', Name: '', Amount__c: -0, Is_Paid__c: false, Notes__c: null, Location__c: null },
];
const expected =
  '{"Id":"a01","Name":"Zoë \\"Q\\" \\\\ \\u0001 \u2028 😀 \\ud800","Amount__c":1e+21,"Is_Paid__c":true,"Notes__c":"line1\\nline2\\r\\t","Location__c":{"latitude":1.5,"longitude":-0.000001}}\n' +
  '{"Id":"a02","Name":"","Amount__c":0,"Is_Paid__c":false,"Notes__c":null,"Location__c":null}\n';

const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');

describe('JSON lines encoder: whole-row and per-value paths write the same bytes', () => {
  it('rows with exactly the schema keys in order (the whole-row path)', () => {
    const rows = values.map((v) => ({ ...rowTemplate(names), ...v }));
    expect(text(new JsonLinesEncoder(schema).encode(rows))).toBe(expected);
  });

  it('rows in another key order, missing keys (null) or with extra keys (the per-value path)', () => {
    const shuffled = values.map((v) => Object.fromEntries(Object.entries(v).reverse()) as Row);
    expect(text(new JsonLinesEncoder(schema).encode(shuffled))).toBe(expected);
    const missing = { ...values[1] } as Row;
    delete missing['Notes__c'];
    const extra = { ...values[1], Extra: 'x' } as Row;
    expect(text(new JsonLinesEncoder(schema).encode([missing, extra]))).toBe(expected.split('\n')[1] + '\n' + expected.split('\n')[1] + '\n');
  });

  it('a mixed batch keeps row order and counts its bytes', () => {
    const fast = { ...rowTemplate(names), ...values[0] };
    const slow = Object.fromEntries(Object.entries(values[1] as Row).reverse()) as Row;
    const encoder = new JsonLinesEncoder(schema);
    const out = encoder.encode([fast, slow]);
    expect(text(out)).toBe(expected);
    expect(encoder.estimatedSize).toBe(Buffer.byteLength(expected));
  });

  it('grows its buffer when a batch is wider than the last one (multi-byte characters included)', () => {
    const encoder = new JsonLinesEncoder(schema);
    const small = { ...rowTemplate(names), Id: 'a' };
    expect(text(encoder.encode([small]))).toBe('{"Id":"a","Name":null,"Amount__c":null,"Is_Paid__c":null,"Notes__c":null,"Location__c":null}\n');
    const wide = Array.from({ length: 5 }, (_, i) => ({ ...rowTemplate(names), Id: `w${i}`, Notes__c: '李🚀é"'.repeat(20_000 * (i + 1)) }));
    const expectedWide = wide.map((r) => `${JSON.stringify(r)}\n`).join('');
    const out = encoder.encode(wide);
    expect(out?.byteLength).toBe(Buffer.byteLength(expectedWide));
    expect(text(out)).toBe(expectedWide);
    expect(text(encoder.encode([small]))).toBe(text(new JsonLinesEncoder(schema).encode([small])));
  });
});

describe('Parquet encoder: column-by-column buffering writes the same file as row by row', () => {
  const rows: Row[] = Array.from({ length: 120 }, (_, i) => ({
    ...rowTemplate(names), Id: `a${i}`, Name: i % 7 === 0 ? null : `Zoë ${i}`, Amount__c: i * 1.25, Is_Paid__c: i % 2 === 0, Notes__c: 'n'.repeat(i), Location__c: i % 3 === 0 ? null : { latitude: i, longitude: -i },
  }));
  const file = (calls: readonly (readonly Row[])[], typed: boolean): Buffer => {
    const encoder = new ParquetEncoder(schema, { preserveSourceDataTyping: typed, rowGroupRows: 100 });
    const parts: Uint8Array[] = [];
    for (const call of calls) { const b = encoder.encode(call); if (b) parts.push(b); }
    const tail = encoder.finish();
    if (tail) parts.push(tail);
    return Buffer.concat(parts);
  };

  it.each([true, false])('typed %s: many small calls (by column) and one call (by row) give identical bytes', (typed) => {
    const one = file([rows], typed);
    const small = file([rows.slice(0, 40), rows.slice(40, 99), rows.slice(99, 100), rows.slice(100)], typed);
    expect(small.equals(one)).toBe(true);
    expect(one.subarray(0, 4).toString()).toBe('PAR1');
  });

  it('a value that does not convert fails with the error row by row gives (first bad row, not first bad column)', () => {
    const bad = rows.slice(0, 10).map((r) => ({ ...r }));
    (bad[3] as Row)['Is_Paid__c'] = 'maybe';
    (bad[6] as Row)['Amount__c'] = 'lots';
    const encoder = new ParquetEncoder(schema, { preserveSourceDataTyping: true });
    expect(() => encoder.encode(bad)).toThrow(/"Is_Paid__c"/);
  });
});
