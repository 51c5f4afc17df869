import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/emulator/bulk/csv.ts';
import { BulkCsvParser } from '../../src/salesforce-wire/csv-reader.ts';
import { BULK_JOB_STATES, isTerminalJobState } from '../../src/salesforce-wire/bulk-jobs.ts';
import { CLIENT_DIALECT, CLIENT_JOB_FORMAT, dialect, escapeQuotes, escapeResultText, ingestCell, ingestLine, quote, resultEscaper } from '../../src/salesforce-wire/bulk-csv.ts';

/**
 * The one Salesforce wire module: the client's encoder and the emulator's parser (and the other way round)
 * agree on the Bulk CSV dialect because both use it.
 */
describe('Bulk CSV dialect (salesforce-wire)', () => {
  it('quotes an ingest cell only when Bulk API 2.0 needs it (quote, delimiter, line break, edge space)', () => {
    expect(ingestCell('')).toBe('');
    expect(ingestCell('plain')).toBe('plain');
    expect(ingestCell('a,b')).toBe('"a,b"');
    expect(ingestCell('say "hi"')).toBe('"say ""hi"""');
    expect(ingestCell('two\nlines')).toBe('"two\nlines"');
    expect(ingestCell('cr\rhere')).toBe('"cr\rhere"');
    expect(ingestCell(' lead')).toBe('" lead"');
    expect(ingestCell('trail ')).toBe('"trail "');
    expect(ingestCell('in side')).toBe('in side');
  });

  it('writes ingest lines the emulator parses back to the same cells in the dialect the client declares', () => {
    const rows = [['Name', 'Description'], ['Acme, Inc.', 'said "yes"\nthen left'], [' padded ', ''], ['#N/A', 'ümlaut ✓']];
    const text = rows.map(ingestLine).join('');
    expect(CLIENT_JOB_FORMAT).toEqual({ contentType: 'CSV', columnDelimiter: 'COMMA', lineEnding: 'LF' });
    expect(CLIENT_DIALECT).toEqual(dialect('COMMA', 'LF'));
    const parsed = parseCsv(text, CLIENT_DIALECT);
    expect(parsed.header).toEqual(rows[0]);
    expect(parsed.rows).toEqual(rows.slice(1));
  });

  it('writes result cells the client parser reads back (every value quoted, quotes doubled)', () => {
    const values = ['a"b', '', 'x,y', 'multi\r\nline'];
    const d = dialect('PIPE', 'CRLF');
    const line = values.map(quote).join(d.delimiter) + d.eol;
    const parser = new BulkCsvParser(d.delimiter);
    const records = [...parser.push(Buffer.from(line, 'utf8')), ...parser.end()];
    expect(records).toEqual([values]);
  });

  it('escapes without allocating when there is no quote, and by field type for results', () => {
    const s = 'no quotes here';
    expect(escapeQuotes(s)).toBe(s);
    expect(escapeQuotes('a"b')).toBe('a""b');
    expect(resultEscaper('double')(100)).toBe('100.0');
    expect(resultEscaper('currency')(null)).toBe('');
    expect(resultEscaper('int')(7.9)).toBe('7');
    expect(resultEscaper('boolean')('true')).toBe('true');
    expect(resultEscaper('boolean')(undefined)).toBe('');
    expect(resultEscaper('string')).toBe(escapeResultText);
    expect(resultEscaper('datetime')('2024-04-16T19:00:00.000Z')).toBe('2024-04-16T19:00:00.000Z');
  });
});

describe('Bulk job states (salesforce-wire)', () => {
  it('names JobComplete, Failed and Aborted terminal and no other state', () => {
    expect(BULK_JOB_STATES.filter(isTerminalJobState)).toEqual(['JobComplete', 'Failed', 'Aborted']);
    expect(isTerminalJobState('SomeFutureState')).toBe(false);
  });
});
