import { Readable, pipeline } from 'node:stream';
import { parse } from 'csv-parse';
import { ForceflowError } from '../core/errors.ts';
import type { EntitySchema, FieldValue, Row } from '../core/types.ts';
import type { DecodedFile, DecodeOptions, InputFile, RecordEncoder } from './types.ts';
import { DEFAULT_MAX_RECORD_BYTES, guardInput } from './input-guard.ts';
import { hasExactKeys, rowFrom, rowTemplate } from './rows.ts';
import { quote } from '../salesforce-wire/bulk-csv.ts';
import { valueToText } from './values.ts';
import { LineBuffer } from './line-buffer.ts';

/**
 * CSV as forceflow writes and reads it.
 *
 * Writing: a header row with the field names, then one line per record, `\n` line endings, UTF-8 without BOM.
 * Cells are quoted as RFC 4180 says (doubled quotes inside) when they hold a comma, a quote, CR or LF, and
 * ALSO when they hold the empty string, so that null (an empty, unquoted cell) and "" (a quoted empty cell)
 * stay different. Numbers use JavaScript's shortest round-trip form, booleans `true`/`false`, compound
 * fields (address, location) their JSON text.
 *
 * Reading: the first row is the header (names must be present and unique); every value is a string, except
 * an empty unquoted cell, which is null. A UTF-8 BOM is skipped; CRLF and LF both work. A malformed file
 * (an unclosed quote, a row with a different number of cells) fails with INPUT_INVALID naming the file and line.
 * Invalid UTF-8, a record longer than `maxRecordBytes` and a cancel are handled before parsing (input-guard.ts).
 */
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: FieldValue | undefined): string {
  const text = valueToText(value);
  if (text === null) return '';
  if (text === '' ) return '""';
  return NEEDS_QUOTES.test(text) ? quote(text) : text;
}

export class CsvEncoder implements RecordEncoder {
  readonly fileType = 'CSV' as const;
  readonly schema: EntitySchema;
  #size = 0;
  #headerWritten = false;
  /** The last batch's bytes per row: sizes the next batch's buffer. */
  #bytesPerRow = 128;
  readonly #names: readonly string[];

  constructor(schema: EntitySchema) {
    this.schema = schema;
    this.#names = schema.fields.map((f) => f.name);
  }

  get estimatedSize(): number {
    return this.#size;
  }

  /**
   * Each line is built from the row's values by type (strings checked for the characters that need quotes,
   * numbers and booleans as they are, only compound values through {@link csvCell}) and written into the batch's
   * buffer in groups of lines, instead of one string for the batch encoded at the end: the same bytes (the
   * randomized test in test/formats/csv-encoder.test.ts holds it to csvCell), about half the CPU.
   */
  encode(rows: readonly Row[]): Uint8Array | undefined {
    const names = this.#names;
    const count = names.length;
    const header = this.#headerWritten ? '' : `${names.map((n) => csvCell(n)).join(',')}\n`;
    this.#headerWritten = true;
    if (rows.length === 0 && header === '') return undefined;
    const out = new LineBuffer(rows.length * this.#bytesPerRow * 1.25, header);
    for (const row of rows) {
      // A row with exactly the schema's keys in order (what the sources and the transform build) gives its
      // values in column order with one native call instead of one keyed lookup per cell.
      const values = hasExactKeys(row, names) ? Object.values(row) : undefined;
      let line = '';
      for (let i = 0; i < count; i += 1) {
        if (i > 0) line += ',';
        const value = values === undefined ? row[names[i] as string] : values[i];
        if (value === null || value === undefined) continue;
        if (typeof value === 'string') {
          if (value === '') line += '""';
          else if (NEEDS_QUOTES.test(value)) line += quote(value);
          else line += value;
        } else if (typeof value === 'number' || typeof value === 'boolean') line += String(value);
        else line += csvCell(value);
      }
      out.line(line);
    }
    const bytes = out.bytes();
    this.#size += bytes.length;
    if (rows.length > 0) this.#bytesPerRow = Math.ceil(bytes.length / rows.length);
    return bytes;
  }

  /** A file with no rows still gets its header. */
  finish(): Uint8Array | undefined {
    return this.#headerWritten ? undefined : this.encode([]);
  }
}

/** A record as csv-parse gives it with `raw: true`. */
interface RawRecord {
  readonly record: string[];
  readonly raw: string;
}

function isLineBreak(c: number): boolean {
  return c === 10 || c === 13;
}

/**
 * The record's values, with each empty value that was an empty unquoted cell made null (an empty quoted cell
 * stays ""). Only a record with an empty value is scanned: its raw text is walked field by field (a quoted field
 * from quote to quote, an unquoted one by the length of its value), enough to see whether each empty value was
 * quoted. The raw text csv-parse gives may start with the line breaks of skipped empty lines (and end with part
 * of the record delimiter): the first field starts after them, less any line breaks its own value starts with.
 */
export function withNulls({ record, raw }: RawRecord): (string | null)[] {
  let last = -1;
  for (let i = record.length - 1; i >= 0; i--) {
    if (record[i] === '') {
      last = i;
      break;
    }
  }
  if (last < 0) return record;
  const out: (string | null)[] = record;
  let pos = 0;
  while (pos < raw.length && isLineBreak(raw.charCodeAt(pos))) pos++;
  for (let i = 0; i <= last; i++) {
    const value = record[i] as string;
    if (raw.charCodeAt(pos) === 34) {
      // Quoted: jump from quote to quote; a doubled quote is an escaped one.
      let k = pos + 1;
      for (;;) {
        const q = raw.indexOf('"', k);
        if (q < 0) return out; // cannot happen: csv-parse accepted the record
        if (raw.charCodeAt(q + 1) === 34) k = q + 2;
        else {
          pos = q + 1;
          break;
        }
      }
    } else {
      if (value === '') out[i] = null;
      if (i === 0) {
        let lead = 0;
        while (lead < value.length && isLineBreak(value.charCodeAt(lead))) lead++;
        pos -= lead;
      }
      pos += value.length;
    }
    pos++; // the delimiter
  }
  return out;
}

interface CsvParseError extends Error {
  readonly code?: string;
  readonly lines?: number;
}

function inputInvalid(file: string, line: number | undefined, message: string, cause?: unknown): ForceflowError {
  const where = line === undefined ? file : `${file} line ${line}`;
  return new ForceflowError('INPUT_INVALID', `${where}: ${message}`, { details: { file, line }, cause });
}

/** Opens a CSV file: reads up to its header, then streams its rows in batches. */
export async function openCsv(file: InputFile, options: DecodeOptions): Promise<DecodedFile> {
  const batchSize = options.batchSize ?? 5000;
  const maxRecord = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const parser = parse({
    bom: true,
    relax_column_count: false,
    skip_empty_lines: true,
    // csv-parse counts the bytes of the field being read plus the characters of the record's other fields.
    max_record_size: maxRecord,
    // No `cast`: csv-parse builds a context object per field for it, which was most of an import's CPU (about
    // 11x the parse without it, measured on a 15-column, 200,000-row file). `raw` gives each record's text
    // instead, and only a record holding an empty value is looked at again to tell null from "" (rawNulls).
    raw: true,
  });
  // A line is never longer than its record, so the byte stage refuses a line past the record limit before
  // csv-parse buffers it (and checks UTF-8, and the cancel).
  const bytes = guardInput(file.stream(), {
    name: file.name,
    maxLineBytes: maxRecord,
    limit: { what: 'the line (and so its CSV record)', option: '--max-record-bytes', field: 'maxRecordBytes' },
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.invalidUtf8 ? { invalidUtf8: options.invalidUtf8 } : {}),
    ...(options.onInvalidUtf8Replaced ? { onReplaced: options.onInvalidUtf8Replaced } : {}),
  });
  pipeline(Readable.from(bytes), parser, () => {
    // Errors surface through the parser's iterator below.
  });
  const records = parser[Symbol.asyncIterator]() as AsyncIterator<RawRecord>;
  const next = async (): Promise<IteratorResult<(string | null)[]>> => {
    try {
      const r = await records.next();
      if (r.done === true) return r;
      return { done: false, value: withNulls(r.value) };
    } catch (error) {
      const e = error as CsvParseError;
      if (e instanceof ForceflowError) throw e;
      if (e.code === 'CSV_MAX_RECORD_SIZE') {
        throw new ForceflowError('INPUT_INVALID', `${file.name} line ${e.lines ?? '?'}: a CSV record is longer than ${maxRecord} bytes, the limit for input files. An unclosed quote makes one record of the rest of the file: check the quotes there. If the file is right, raise the limit with --max-record-bytes (RunFlowOptions.maxRecordBytes).`, {
          details: { file: file.name, line: e.lines ?? null, reason: 'too-long', limit: maxRecord, option: '--max-record-bytes' },
          cause: error,
        });
      }
      // csv-parse quotes the field in some messages (INVALID_OPENING_QUOTE): keep the message short.
      const message = e.message.replace(/ on line \d+$/, '');
      throw inputInvalid(file.name, e.lines, message.length > 300 ? `${message.slice(0, 297)}...` : message, error);
    }
  };

  const first = await next();
  const header = first.done === true ? [] : first.value;
  const seen = new Set<string>();
  header.forEach((name, i) => {
    if (name === null || name.trim() === '') throw inputInvalid(file.name, 1, `header column ${i + 1} has no name`);
    if (seen.has(name)) throw inputInvalid(file.name, 1, `header names column ${JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}...` : name)} twice`);
    seen.add(name);
  });
  const names = header as string[];
  const schema: EntitySchema = { entity: options.entity, fields: names.map((name) => ({ name, type: 'string' as const, nillable: true })) };

  const template = rowTemplate(names);
  async function* batches(): AsyncGenerator<{ rows: Row[]; schema: EntitySchema }> {
    if (first.done === true) return;
    let rows: Row[] = [];
    try {
      for (;;) {
        const r = await next();
        if (r.done === true) break;
        const row = rowFrom(template);
        for (let i = 0; i < names.length; i += 1) row[names[i] as string] = r.value[i] ?? null;
        rows.push(row);
        if (rows.length >= batchSize) {
          yield { rows, schema };
          rows = [];
        }
      }
      if (rows.length > 0) yield { rows, schema };
    } finally {
      parser.destroy();
    }
  }
  return { schema, batches: batches() };
}
