/**
 * Bulk API 2.0 CSV: the input parser (Salesforce's rules: the job's delimiter and line ending, RFC 4180
 * quoting, values not trimmed) and the output formatting (every value quoted, Java doubles, `Z` datetimes).
 */
import type { DescribeField } from '../org/schema.ts';
import type { StoredValue } from '../org/store.ts';

export const COLUMN_DELIMITERS = {
  BACKQUOTE: '`',
  CARET: '^',
  COMMA: ',',
  PIPE: '|',
  SEMICOLON: ';',
  TAB: '\t',
} as const;
export type ColumnDelimiter = keyof typeof COLUMN_DELIMITERS;
export type LineEnding = 'LF' | 'CRLF';

export interface CsvDialect {
  readonly delimiter: string;
  readonly eol: string;
}

export function dialect(columnDelimiter: ColumnDelimiter, lineEnding: LineEnding): CsvDialect {
  return { delimiter: COLUMN_DELIMITERS[columnDelimiter], eol: lineEnding === 'CRLF' ? '\r\n' : '\n' };
}

/** A quoted CSV value: `"` + value with `"` doubled + `"`. */
export function quote(value: string): string {
  return value.indexOf('"') < 0 ? `"${value}"` : `"${value.replace(/"/g, '""')}"`;
}

/**
 * A double as Java's `Double.toString` prints it (what Bulk results show): `100.0`, `0.5`, `1.0E7`,
 * `9.12260031E8`, `1.0E-4`. Decimal notation for 1e-3 <= |d| < 1e7, otherwise computerized scientific
 * notation with at least one digit after the point. JavaScript's shortest round-trip digits match
 * Java's (JDK 19+).
 */
export function javaDouble(d: number): string {
  if (Number.isNaN(d)) return 'NaN';
  if (d === Infinity) return 'Infinity';
  if (d === -Infinity) return '-Infinity';
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(d);
  if (abs < 1e7 && Number.isInteger(d)) return `${d}.0`;
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(d);
    // String() of numbers in this range never uses exponent notation.
    return s.indexOf('.') < 0 ? `${s}.0` : s;
  }
  const exp = d.toExponential(); // e.g. "9.12260031e+8", "1e-4"
  const e = exp.indexOf('e');
  let mantissa = exp.slice(0, e);
  const power = Number(exp.slice(e + 1));
  if (mantissa.indexOf('.') < 0) mantissa += '.0';
  return `${mantissa}E${power}`;
}

/** How one value of a field is written in Bulk query results (unquoted; null is the empty string). */
export type ValueFormatter = (value: StoredValue | undefined) => string;

/** A formatter for a field type: Java doubles for double/currency/percent, ISO `Z` datetimes, etc. */
export function bulkFormatter(field: Pick<DescribeField, 'type'> | undefined): ValueFormatter {
  const type = field?.type;
  switch (type) {
    case 'double':
    case 'currency':
    case 'percent':
      return (v) => (v === null || v === undefined ? '' : typeof v === 'number' ? javaDouble(v) : String(v));
    case 'int':
    case 'long':
      return (v) => (v === null || v === undefined ? '' : typeof v === 'number' ? String(Math.trunc(v)) : String(v));
    case 'datetime':
      // Stored as `2024-04-16T19:00:00.000Z`, which is what Bulk query prints.
      return (v) => (v === null || v === undefined ? '' : String(v));
    case 'boolean':
      return (v) => (v === null || v === undefined ? '' : v === true || v === 'true' ? 'true' : 'false');
    default:
      return (v) => (v === null || v === undefined ? '' : String(v));
  }
}

/** A formatter that also quotes (what every Bulk query value looks like). */
export function quotedFormatter(field: Pick<DescribeField, 'type'> | undefined): (value: StoredValue | undefined) => string {
  const f = bulkFormatter(field);
  return (v) => quote(f(v));
}

/** Opaque Bulk query locators: base64 of the row offset, without padding (as Salesforce's look). */
export function encodeLocator(offset: number): string {
  return Buffer.from(String(offset), 'utf8').toString('base64').replace(/=+$/, '');
}

export function decodeLocator(locator: string): number | undefined {
  if (!/^[A-Za-z0-9+/_-]+$/.test(locator)) return undefined;
  const text = Buffer.from(locator, 'base64').toString('utf8');
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The outcome of parsing an uploaded CSV. */
export interface ParsedCsv {
  /** Header names as uploaded (unquoted). */
  readonly header: string[];
  /** Data rows (each with the header's length). */
  readonly rows: string[][];
}

/** A Bulk job-level CSV problem; `message` is Salesforce's errorMessage text. */
export class CsvInputError extends Error {}

/**
 * Parse CSV data as Salesforce's Bulk API 2.0 does: the job's delimiter and line ending, `"` quoting
 * (`""` escapes a quote, quoted values may contain delimiters and line breaks), values not trimmed,
 * blank lines skipped. Throws {@link CsvInputError} with Salesforce's message on a line-ending mismatch
 * or malformed quoting.
 */
export function parseCsv(text: string, d: CsvDialect): ParsedCsv {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const crlf = d.eol === '\r\n';
  const firstLf = text.indexOf('\n');
  if (firstLf >= 0) {
    const hasCr = firstLf > 0 && text.charCodeAt(firstLf - 1) === 13;
    if (hasCr !== crlf) {
      throw new CsvInputError(`ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is ${crlf ? 'CRLF' : 'LF'}`);
    }
  }
  const delim = d.delimiter.charCodeAt(0);
  const out: string[][] = [];
  let row: string[] = [];
  let i = 0;
  const n = text.length;
  let line = 1;
  while (i < n) {
    let value: string;
    if (text.charCodeAt(i) === 34) {
      // Quoted value.
      let j = i + 1;
      let buf = '';
      let start = j;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) throw new CsvInputError(`ClientInputError : Unterminated quoted value at line ${line}`);
        if (text.charCodeAt(q + 1) === 34) {
          buf += text.slice(start, q + 1);
          j = q + 2;
          start = j;
          continue;
        }
        buf += text.slice(start, q);
        i = q + 1;
        break;
      }
      for (let k = 0; k < buf.length; k++) if (buf.charCodeAt(k) === 10) line++;
      value = buf;
      const c = text.charCodeAt(i);
      if (i < n && c !== delim && c !== 10 && !(c === 13 && text.charCodeAt(i + 1) === 10)) {
        throw new CsvInputError(`ClientInputError : Invalid quotes or characters after a closing quote at line ${line}`);
      }
    } else {
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === delim || c === 10) break;
        if (c === 13 && text.charCodeAt(j + 1) === 10) break;
        j++;
      }
      value = text.slice(i, j);
      if (value.indexOf('"') >= 0) throw new CsvInputError(`ClientInputError : Invalid quotes in an unquoted value at line ${line}`);
      i = j;
    }
    row.push(value);
    if (i >= n) break;
    const c = text.charCodeAt(i);
    if (c === delim) {
      i++;
      if (i >= n) row.push('');
      continue;
    }
    // End of line.
    i += c === 13 ? 2 : 1;
    line++;
    if (!(row.length === 1 && row[0] === '')) out.push(row);
    row = [];
  }
  if (row.length > 0 && !(row.length === 1 && row[0] === '')) out.push(row);
  const header = out.shift();
  if (!header) throw new CsvInputError('ClientInputError : No header row found in the data');
  const width = header.length;
  for (let r = 0; r < out.length; r++) {
    const cells = out[r] as string[];
    if (cells.length !== width) {
      throw new CsvInputError(`ClientInputError : Number of columns in row ${r + 2} (${cells.length}) does not match the header (${width})`);
    }
  }
  return { header, rows: out };
}

/** A CSV line of already-quoted values. */
export function line(values: readonly string[], d: CsvDialect): string {
  return values.join(d.delimiter) + d.eol;
}
