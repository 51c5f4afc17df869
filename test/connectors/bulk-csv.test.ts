import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { BulkCsvParser } from '../../src/salesforce-wire/csv-reader.ts';

function parseIn(text: string, cuts: readonly number[], delimiter = ',', wholeAsciiChunks = false): string[][] {
  const bytes = Buffer.from(text, 'utf8');
  const p = new BulkCsvParser(delimiter, undefined, { wholeAsciiChunks });
  const rows: string[][] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    rows.push(...p.push(bytes.subarray(from, cut)));
    from = cut;
  }
  rows.push(...p.end());
  return rows;
}

const SAMPLES = [
  '"Id","Name","Amount__c"\n"a015g0000000001AAA","Acme, Inc.","100.0"\n"a015g0000000002AAA","","9.12260031E8"\n',
  '"Id","Notes"\n"1","line one\nline two, with ""quotes"" and a comma"\n"2","Zoë 李 🚀 émoji"\n',
  '"Id","Notes"\r\n"1","crlf\r\ninside"\r\n"2",""\r\n',
  '"Id","Name"\n',
  '"a","b"\n"1","2"',
  'Id,Name\n1,plain\n2,"mixed ""q"""\n',
  '"x"\n""""\n"""a"""\n',
];

describe('BulkCsvParser', () => {
  it.each(SAMPLES.flatMap((text) => [[text, false], [text, true]] as const))('matches csv-parse on %j, whatever the chunk boundaries (ASCII chunks decoded whole: %s)', (text, whole) => {
    const expected = parse(text, { bom: true, relax_column_count: true }) as string[][];
    const len = Buffer.byteLength(text);
    expect(parseIn(text, [], ',', whole)).toEqual(expected);
    for (let cut = 1; cut < len; cut++) expect(parseIn(text, [cut], ',', whole)).toEqual(expected);
    const every = Array.from({ length: len - 1 }, (_, i) => i + 1);
    expect(parseIn(text, every, ',', whole)).toEqual(expected);
  });

  it('honours another delimiter and a BOM', () => {
    expect(parseIn('\uFEFF"a"|"b"\n"1|x"|"2"\n', [2], '|')).toEqual([['a', 'b'], ['1|x', '2']]);
  });

  it('rejects an unterminated quote', () => {
    expect(() => parseIn('"a","b\n', [])).toThrow(/unterminated/);
  });
});

describe('BulkCsvParser: a record that never ends', () => {
  it('is refused with SF_API_ERROR once the unfinished record passes the ceiling, instead of growing without bound', () => {
    const p = new BulkCsvParser(',', 1000);
    expect(p.push(Buffer.from('"Id","Name"\n"1","ok"\n'))).toEqual([['Id', 'Name'], ['1', 'ok']]);
    const chunk = Buffer.from(`"2","${'x'.repeat(400)}`);
    let error: unknown;
    try {
      for (let i = 0; i < 10; i++) p.push(chunk.subarray(i === 0 ? 0 : 5));
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'SF_API_ERROR', details: { limit: 1000 } });
  });
});
