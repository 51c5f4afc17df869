/**
 * Bulk API 2.0 CSV as the emulator reads it: the input parser (Salesforce's rules: the job's delimiter and line
 * ending, RFC 4180 quoting, values not trimmed) and the query locators. The dialect itself and how results write
 * values are src/salesforce-wire/bulk-csv.ts, shared with the client.
 */
import type { CsvDialect } from '../../salesforce-wire/bulk-csv.ts';

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

/** Where a line reader is in the text: the offset and the 1-based line number (for error messages). */
interface LineCursor {
  i: number;
  line: number;
}

/**
 * Read one line of values from `c.i` (Salesforce's rules, see {@link parseCsv}), leaving `c` at the start of the
 * next line. With `values`, the line's values are pushed to it; without, they are only checked (no strings are
 * made). Returns the number of values and whether the line is blank (one empty value).
 */
function readLine(text: string, delim: number, c: LineCursor, values: string[] | undefined): { count: number; blank: boolean } {
  const n = text.length;
  let i = c.i;
  let count = 0;
  let firstEmpty = false;
  while (i < n) {
    let empty: boolean;
    if (text.charCodeAt(i) === 34) {
      // Quoted value.
      let j = i + 1;
      let buf = '';
      let start = j;
      let size = 0;
      const from = j;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) {
          c.i = i;
          throw new CsvInputError(`ClientInputError : Unterminated quoted value at line ${c.line}`);
        }
        if (text.charCodeAt(q + 1) === 34) {
          if (values) buf += text.slice(start, q + 1);
          size += q + 1 - start;
          j = q + 2;
          start = j;
          continue;
        }
        if (values) buf += text.slice(start, q);
        size += q - start;
        i = q + 1;
        break;
      }
      for (let k = from; k < i; k++) if (text.charCodeAt(k) === 10) c.line++;
      empty = size === 0;
      if (values) values.push(buf);
      const ch = text.charCodeAt(i);
      if (i < n && ch !== delim && ch !== 10 && !(ch === 13 && text.charCodeAt(i + 1) === 10)) {
        throw new CsvInputError(`ClientInputError : Invalid quotes or characters after a closing quote at line ${c.line}`);
      }
    } else {
      let j = i;
      let quote = false;
      while (j < n) {
        const ch = text.charCodeAt(j);
        if (ch === delim || ch === 10) break;
        if (ch === 13 && text.charCodeAt(j + 1) === 10) break;
        if (ch === 34) quote = true;
        j++;
      }
      if (quote) throw new CsvInputError(`ClientInputError : Invalid quotes in an unquoted value at line ${c.line}`);
      empty = j === i;
      if (values) values.push(text.slice(i, j));
      i = j;
    }
    if (count === 0) firstEmpty = empty;
    count++;
    if (i >= n) break;
    const ch = text.charCodeAt(i);
    if (ch === delim) {
      i++;
      if (i >= n) {
        if (values) values.push('');
        count++;
      }
      continue;
    }
    // End of line.
    i += ch === 13 ? 2 : 1;
    c.line++;
    break;
  }
  c.i = i;
  return { count, blank: count === 1 && firstEmpty };
}

/**
 * The checked line at `i`, each value quoted: a quoted value's source (quotes included) already is its quoted
 * form (`""` inside stays `""`); an unquoted value (which has no `"`) is wrapped in quotes.
 */
function quotedLine(text: string, delim: number, delimiter: string, i: number): string {
  const n = text.length;
  let out = '';
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (text.charCodeAt(q + 1) === 34) {
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      out += text.slice(i, j);
      i = j;
    } else {
      let j = i;
      while (j < n) {
        const ch = text.charCodeAt(j);
        if (ch === delim || ch === 10) break;
        if (ch === 13 && text.charCodeAt(j + 1) === 10) break;
        j++;
      }
      out += `"${text.slice(i, j)}"`;
      i = j;
    }
    if (i >= n) return out;
    if (text.charCodeAt(i) !== delim) return out;
    out += delimiter;
    i++;
    if (i >= n) return `${out}""`;
  }
}

/**
 * {@link quotedLine} written as bytes into `out` from `pos` (room for `3 × span + 2` bytes, where span is the
 * line's length in the text, must be left): the new position, or -1 when the line holds a character outside
 * ASCII (the caller then writes the string). No string is made.
 */
function writeQuotedLine(text: string, delim: number, i: number, out: Buffer, pos: number): number {
  const n = text.length;
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      // A quoted value is copied as it is, quotes included (`""` inside stays `""`).
      out[pos++] = 34;
      let j = i + 1;
      for (;;) {
        const ch = text.charCodeAt(j++);
        if (ch > 127) return -1;
        out[pos++] = ch;
        if (ch === 34) {
          if (text.charCodeAt(j) !== 34) break;
          out[pos++] = 34;
          j++;
        }
      }
      i = j;
    } else {
      out[pos++] = 34;
      let j = i;
      while (j < n) {
        const ch = text.charCodeAt(j);
        if (ch === delim || ch === 10) break;
        if (ch === 13 && text.charCodeAt(j + 1) === 10) break;
        if (ch > 127) return -1;
        out[pos++] = ch;
        j++;
      }
      out[pos++] = 34;
      i = j;
    }
    if (i >= n) return pos;
    if (text.charCodeAt(i) !== delim) return pos;
    if (delim > 127) return -1;
    out[pos++] = delim;
    i++;
    if (i >= n) {
      out[pos++] = 34;
      out[pos++] = 34;
      return pos;
    }
  }
}

/** The text without a byte order mark, after checking that its line ending is the job's. */
function checkedText(text: string, d: CsvDialect): string {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const crlf = d.eol === '\r\n';
  const firstLf = text.indexOf('\n');
  if (firstLf >= 0) {
    const hasCr = firstLf > 0 && text.charCodeAt(firstLf - 1) === 13;
    if (hasCr !== crlf) {
      throw new CsvInputError(`ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is ${crlf ? 'CRLF' : 'LF'}`);
    }
  }
  return text;
}

function widthError(row: number, count: number, width: number): CsvInputError {
  return new CsvInputError(`ClientInputError : Number of columns in row ${row} (${count}) does not match the header (${width})`);
}

/**
 * Parse CSV data as Salesforce's Bulk API 2.0 does: the job's delimiter and line ending, `"` quoting
 * (`""` escapes a quote, quoted values may contain delimiters and line breaks), values not trimmed,
 * blank lines skipped. Throws {@link CsvInputError} with Salesforce's message on a line-ending mismatch
 * or malformed quoting.
 */
export function parseCsv(text: string, d: CsvDialect): ParsedCsv {
  const index = indexCsv(text, d);
  const rows: string[][] = [];
  for (let r = 0; r < index.rowCount; r++) rows.push(index.row(r));
  return { header: index.header, rows };
}

/**
 * Uploaded CSV data checked whole (the same rules and errors as {@link parseCsv}) but kept as its text and
 * the offset of each data row: a row's values are read when they are needed (a chunk being written, a
 * result file), so a million-row job holds one string rather than millions of values.
 */
export interface CsvIndex {
  /** Header names as uploaded (unquoted). */
  readonly header: string[];
  readonly rowCount: number;
  /** The values of data row `r` (0-based; each row has the header's length). */
  row(r: number): string[];
  /**
   * Data row `r` as result files show it: every value quoted (`"` doubled inside), joined by the delimiter;
   * the same text as `row(r).map(quote).join(delimiter)`, taken from the upload's own text.
   */
  quotedRow(r: number): string;
  /**
   * {@link quotedRow}'s text as bytes written into `out` at `pos`: the new position, or -1 when the row is not
   * plain ASCII (nothing usable was written; write `quotedRow(r)` instead). `out` must have
   * {@link quotedRowRoom}`(r)` bytes free from `pos`.
   */
  writeQuotedRow(r: number, out: Buffer, pos: number): number;
  /** The bytes {@link writeQuotedRow} may need for row `r`. */
  quotedRowRoom(r: number): number;
}

/** Check CSV data as {@link parseCsv} does and index its rows (see {@link CsvIndex}). */
export function indexCsv(input: string, d: CsvDialect): CsvIndex {
  const text = checkedText(input, d);
  const delim = d.delimiter.charCodeAt(0);
  const c: LineCursor = { i: 0, line: 1 };
  let header: string[] | undefined;
  const starts: number[] = [];
  let width = 0;
  /** The first row whose width is not the header's (reported once the whole text has been checked). */
  let badWidth: CsvInputError | undefined;
  while (c.i < text.length) {
    const start = c.i;
    if (header === undefined) {
      const values: string[] = [];
      const line = readLine(text, delim, c, values);
      if (line.blank) continue;
      header = values;
      width = values.length;
      continue;
    }
    const line = readLine(text, delim, c, undefined);
    if (line.blank) continue;
    if (line.count !== width && badWidth === undefined) badWidth = widthError(starts.length + 2, line.count, width);
    starts.push(start);
  }
  if (!header) throw new CsvInputError('ClientInputError : No header row found in the data');
  if (badWidth) throw badWidth;
  const cursor: LineCursor = { i: 0, line: 0 };
  return {
    header,
    rowCount: starts.length,
    row(r: number): string[] {
      const values: string[] = [];
      cursor.i = starts[r] as number;
      readLine(text, delim, cursor, values);
      return values;
    },
    quotedRow(r: number): string {
      return quotedLine(text, delim, d.delimiter, starts[r] as number);
    },
    writeQuotedRow(r: number, out: Buffer, pos: number): number {
      return writeQuotedLine(text, delim, starts[r] as number, out, pos);
    },
    quotedRowRoom(r: number): number {
      return 3 * ((starts[r + 1] ?? text.length) - (starts[r] as number)) + 2;
    },
  };
}

/** A CSV line of already-quoted values. */
export function line(values: readonly string[], d: CsvDialect): string {
  return values.join(d.delimiter) + d.eol;
}
