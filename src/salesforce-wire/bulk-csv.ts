/**
 * The Bulk API 2.0 CSV dialect: the job's column delimiter and line ending, RFC 4180 quoting (values are not
 * trimmed, so edge spaces count), and how Bulk query results write a value (every value quoted, Java doubles,
 * `Z` datetimes, null as an empty quoted cell). The client writes ingest CSV and reads result CSV with it; the
 * emulator reads ingest CSV and writes result CSV with it.
 *
 * These encoders run once per cell on the hot paths (the emulator's result pages, the client's write spool,
 * the file writer's CSV): a value without a `"` is returned or wrapped as it is, with no other allocation.
 */

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

/** A job's CSV format as characters. */
export interface CsvDialect {
  readonly delimiter: string;
  readonly eol: string;
}

export function dialect(columnDelimiter: ColumnDelimiter, lineEnding: LineEnding): CsvDialect {
  return { delimiter: COLUMN_DELIMITERS[columnDelimiter], eol: lineEnding === 'CRLF' ? '\r\n' : '\n' };
}

/** The format forceflow's client asks of every Bulk job it creates (and writes and parses accordingly). */
export const CLIENT_JOB_FORMAT = { contentType: 'CSV', columnDelimiter: 'COMMA', lineEnding: 'LF' } as const;
/** {@link CLIENT_JOB_FORMAT} as characters. */
export const CLIENT_DIALECT: CsvDialect = dialect(CLIENT_JOB_FORMAT.columnDelimiter, CLIENT_JOB_FORMAT.lineEnding);

/** The text of a value inside its quotes: every `"` doubled (the same string when it has none). */
export function escapeQuotes(text: string): string {
  return text.indexOf('"') < 0 ? text : text.replace(/"/g, '""');
}

/** A quoted CSV value: `"` + value with `"` doubled + `"`. */
export function quote(text: string): string {
  return `"${escapeQuotes(text)}"`;
}

/** Characters that make a cell of the client's dialect ({@link CLIENT_DIALECT}) need quotes. */
const INGEST_SPECIAL = /[",\r\n]/;

/**
 * One cell of ingest CSV in the client's dialect, as Bulk API 2.0 reads it: quoted only when it must be
 * (a quote, the delimiter, a line break, or an edge space, since values are not trimmed); '' is an empty cell.
 */
export function ingestCell(text: string): string {
  if (text === '') return '';
  if (INGEST_SPECIAL.test(text) || text.charCodeAt(0) === 32 || text.charCodeAt(text.length - 1) === 32) return quote(text);
  return text;
}

/**
 * One line of ingest CSV in the client's dialect ({@link ingestCell} each, LF-terminated). Joined rather than
 * concatenated cell by cell: one flat string instead of a rope of a node per cell and comma (less garbage per
 * row on the Bulk write path); a copy of the cells only when one needs quotes.
 */
export function ingestLine(cells: readonly string[]): string {
  let quoted: string[] | undefined;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i] as string;
    const text = ingestCell(cell);
    if (text !== cell) (quoted ??= cells.slice())[i] = text;
  }
  return `${(quoted ?? cells).join(',')}\n`;
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

/** A stored value of a result cell. */
export type ResultValue = string | number | boolean | null | undefined;
/** The text of a value inside its quotes in Bulk query results (null is empty). */
export type ResultEscaper = (value: ResultValue) => string;

/** Text, ids, dates, datetimes (stored as `2024-04-16T19:00:00.000Z`, which is what Bulk query prints). */
export const escapeResultText: ResultEscaper = (v) => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return escapeQuotes(v);
  if (typeof v === 'number') return String(v);
  return v ? 'true' : 'false';
};
const escapeResultDouble: ResultEscaper = (v) => (typeof v === 'number' ? javaDouble(v) : escapeResultText(v));
const escapeResultInt: ResultEscaper = (v) => (typeof v === 'number' ? String(Math.trunc(v)) : escapeResultText(v));
const escapeResultBoolean: ResultEscaper = (v) => (v === null || v === undefined ? '' : v === true || v === 'true' ? 'true' : 'false');

/** The result escaper of a field type: Java doubles for double/currency/percent, integers, booleans, text. */
export function resultEscaper(type: string | undefined): ResultEscaper {
  if (type === 'double' || type === 'currency' || type === 'percent') return escapeResultDouble;
  if (type === 'int' || type === 'long') return escapeResultInt;
  if (type === 'boolean') return escapeResultBoolean;
  return escapeResultText;
}
