import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvInputError, decodeLocator, encodeLocator, indexCsv, parseCsv } from '../../src/emulator/bulk/csv.ts';
import { dialect, javaDouble, quote } from '../../src/salesforce-wire/bulk-csv.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

describe('Bulk CSV helpers', () => {
  it('prints doubles as Java does', () => {
    const cases: [number, string][] = [
      [100, '100.0'], [912260031, '9.12260031E8'], [0.5, '0.5'], [1e7, '1.0E7'], [9999999, '9999999.0'], [0.001, '0.001'],
      [0.0001, '1.0E-4'], [-2.5, '-2.5'], [123456.789, '123456.789'], [1.5e300, '1.5E300'], [-1e-10, '-1.0E-10'], [0, '0.0'],
    ];
    for (const [n, want] of cases) expect(javaDouble(n), String(n)).toBe(want);
  });

  it('encodes locators like Salesforce (base64, no padding) and decodes them back', () => {
    expect(encodeLocator(10000)).toBe('MTAwMDA');
    expect(decodeLocator('MTAwMDA')).toBe(10000);
    expect(decodeLocator('not a locator!')).toBeUndefined();
  });

  it('parses quoted values with delimiters, quotes and line breaks, and keeps spaces', () => {
    const p = parseCsv('Name,Description\n" A, Inc ","say ""hi""\nthen go"\n B ,\n', dialect('COMMA', 'LF'));
    expect(p.header).toEqual(['Name', 'Description']);
    expect(p.rows).toEqual([[' A, Inc ', 'say "hi"\nthen go'], [' B ', '']]);
  });

  it('indexes rows whose values and quoted text (result files) match a whole parse, for every dialect', () => {
    const cases: [string, ReturnType<typeof dialect>][] = [
      ['Name,Description\n" A, Inc ","say ""hi""\nthen go"\n\n B ,\n"",x\n"""",\nlast,"no eol"', dialect('COMMA', 'LF')],
      ['A|B\r\n"x|y"|"a\r\nb"\r\n|\r\n"""q"""|', dialect('PIPE', 'CRLF')],
      ['\ufeffA\tB\nééé\t"🙂"\nx\t"y""z"\n', dialect('TAB', 'LF')],
    ];
    for (const [text, d] of cases) {
      const whole = parseCsv(text, d);
      const index = indexCsv(text, d);
      expect(index.header).toEqual(whole.header);
      expect(index.rowCount).toBe(whole.rows.length);
      whole.rows.forEach((row, r) => {
        expect(index.row(r)).toEqual(row);
        const quoted = row.map(quote).join(d.delimiter);
        expect(index.quotedRow(r)).toBe(quoted);
        // The same text as bytes written into a result chunk (at an offset, within the room it asks for), or -1
        // for a row that is not ASCII.
        const out = Buffer.alloc(index.quotedRowRoom(r) + 3, 0x7e);
        const at = index.writeQuotedRow(r, out, 3);
        if ([...quoted].every((ch) => ch.charCodeAt(0) < 128)) expect(out.toString('utf8', 3, at)).toBe(quoted);
        else expect(at).toBe(-1);
      });
    }
  });

  it('reports a ragged row after checking the whole text, as a whole parse does', () => {
    const d = dialect('COMMA', 'LF');
    expect(() => indexCsv('A,B\nx\n"y"z,1\n', d)).toThrow(/Invalid quotes or characters after a closing quote at line 3/);
    expect(() => indexCsv('A,B\n1,2\nx\n3\n', d)).toThrow(/Number of columns in row 3 \(1\)/);
  });

  it('refuses a wrong line ending, bad quoting and ragged rows', () => {
    expect(() => parseCsv('A\r\nx\r\n', dialect('COMMA', 'LF'))).toThrow(CsvInputError);
    expect(() => parseCsv('A\nx\n', dialect('COMMA', 'CRLF'))).toThrow(/Current LineEnding setting is CRLF/);
    expect(() => parseCsv('A,B\n"x"y,1\n', dialect('COMMA', 'LF'))).toThrow(CsvInputError);
    expect(() => parseCsv('A,B\nx\n', dialect('COMMA', 'LF'))).toThrow(/columns/);
  });
});

describe('Bulk query over a generated object', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ generate: { Account: 2_500 } });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('streams pages that together equal the single-page result, re-fetchable in any order', async () => {
    const base = `${emu.instanceUrl}/services/data/v60.0`;
    const headers = { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' };
    const job = (await (await fetch(`${base}/jobs/query`, { method: 'POST', headers, body: JSON.stringify({ operation: 'query', query: 'SELECT Id, Name, AnnualRevenue, CreatedDate FROM Account' }) })).json()) as { id: string };
    const info = (await (await fetch(`${base}/jobs/query/${job.id}`, { headers })).json()) as { state: string; numberRecordsProcessed: number };
    expect(info).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 2_500 });
    const whole = await (await fetch(`${base}/jobs/query/${job.id}/results`, { headers })).text();
    const wholeLines = whole.trimEnd().split('\n');
    expect(wholeLines).toHaveLength(2_501);
    const pages: string[] = [];
    const locators: string[] = [];
    let locator = '';
    while (locator !== 'null') {
      const res = await fetch(`${base}/jobs/query/${job.id}/results?maxRecords=1000${locator ? `&locator=${locator}` : ''}`, { headers });
      pages.push(await res.text());
      locator = res.headers.get('sforce-locator') ?? 'missing';
      locators.push(locator);
    }
    expect(pages).toHaveLength(3);
    const joined = [wholeLines[0], ...pages.flatMap((p) => p.trimEnd().split('\n').slice(1))];
    expect(joined).toEqual(wholeLines);
    // Page 2 again, after the iterator moved on: the same rows.
    const again = await (await fetch(`${base}/jobs/query/${job.id}/results?maxRecords=1000&locator=${locators[0] ?? ''}`, { headers })).text();
    expect(again).toBe(pages[1]);
  });
});
