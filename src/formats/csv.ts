import { ForceflowError } from '../core/errors.ts';
import type { EntitySchema, FieldValue, Row } from '../core/types.ts';
import { DEFAULT_CSV_BATCH_ROWS, type DecodedFile, type DecodeOptions, type InputFile, type RecordEncoder } from './types.ts';
import { DEFAULT_MAX_RECORD_BYTES, guardInput } from './input-guard.ts';
import { hasExactKeys, rowFrom, rowTemplate } from './rows.ts';
import { quote } from '../salesforce-wire/bulk-csv.ts';
import { valueToText } from './values.ts';
import { LineBuffer } from './line-buffer.ts';
import { BufferPool } from '../core/buffer-pool.ts';
import { BulkCsvParser } from '../salesforce-wire/csv-reader.ts';

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
 * an empty unquoted cell, which is null. A UTF-8 BOM is skipped; CRLF, LF and CR all work. A malformed file
 * (an unclosed quote, a stray quote, a row with a different number of cells) fails with INPUT_INVALID naming
 * the file and line.
 * Invalid UTF-8, a record longer than `maxRecordBytes` and a cancel are handled before parsing (input-guard.ts).
 */
const NEEDS_QUOTES = /[",\r\n]/;

/** A non-empty string as a CSV cell: quoted (quotes doubled) when it holds a comma, a quote, CR or LF. */
export function csvText(text: string): string {
  return NEEDS_QUOTES.test(text) ? quote(text) : text;
}

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
  /** The buffer of the last encoded batch, given back by {@link written} (one per open file). */
  readonly #pool = new BufferPool(1);
  /** The buffer of the bytes the last encode returned. */
  #last: Buffer | undefined;

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
    const out = new LineBuffer(rows.length * this.#bytesPerRow * 1.25, header, this.#pool);
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
    this.#last = out.buffer;
    this.#size += bytes.length;
    if (rows.length > 0) this.#bytesPerRow = Math.ceil(bytes.length / rows.length);
    return bytes;
  }

  /**
   * Lines a source encoded for this file's columns (RecordBatch.encoded: the bytes {@link encode} gives for their
   * rows), the header first when it is not written yet.
   */
  encodeLines(lines: Uint8Array, count: number): Uint8Array | undefined {
    const header = this.#headerWritten ? undefined : this.encode([]);
    const bytes = header === undefined ? lines : Buffer.concat([header, lines]);
    this.#size += lines.length;
    if (count > 0) this.#bytesPerRow = Math.ceil(lines.length / count);
    return bytes.length === 0 ? undefined : bytes;
  }

  written(): void {
    if (this.#last !== undefined) this.#pool.give(this.#last);
    this.#last = undefined;
  }

  /** A file with no rows still gets its header. */
  finish(): Uint8Array | undefined {
    return this.#headerWritten ? undefined : this.encode([]);
  }
}

function inputInvalid(file: string, line: number | undefined, message: string, cause?: unknown): ForceflowError {
  const where = line === undefined ? file : `${file} line ${line}`;
  return new ForceflowError('INPUT_INVALID', `${where}: ${message}`, { details: { file, line }, cause });
}

/**
 * Opens a CSV file: reads up to its header, then streams its rows in batches.
 *
 * The file is read by the Bulk API CSV parser (src/salesforce-wire/csv-reader.ts, which jumps from quote to
 * quote and slices whole values) in its strict mode: record ends detected from the first line break (LF, CRLF or
 * CR; the others are ordinary characters of unquoted values), empty unquoted cells null, empty lines skipped,
 * every record as long as the header, a quote only at the start of a value. It replaced csv-parse here (issue
 * 13: about 6x less CPU on a 15-column file), and is held to csv-parse's output by test/formats/csv-nulls.test.ts.
 */
export async function openCsv(file: InputFile, options: DecodeOptions): Promise<DecodedFile> {
  const batchSize = options.batchSize ?? DEFAULT_CSV_BATCH_ROWS;
  const maxRecord = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const parser = new BulkCsvParser<string | null>(',', maxRecord, {
    recordEnd: 'first',
    nulls: true,
    skipEmptyLines: true,
    sameLength: true,
    strictQuotes: true,
    fail: (reason, message, line) => reason === 'too-long'
      ? new ForceflowError('INPUT_INVALID', `${file.name} line ${line}: a CSV record is longer than ${maxRecord} bytes, the limit for input files. An unclosed quote makes one record of the rest of the file: check the quotes there. If the file is right, raise the limit with --max-record-bytes (RunFlowOptions.maxRecordBytes).`, {
        details: { file: file.name, line, reason: 'too-long', limit: maxRecord, option: '--max-record-bytes' },
      })
      : inputInvalid(file.name, line, message),
  });
  // A line is never longer than its record, so the byte stage refuses a line past the record limit before
  // the parser holds it (and checks UTF-8, and the cancel). The parser's own ceiling (in characters, so never
  // tighter than the bytes) catches a record of many short lines.
  const bytes = guardInput(file.stream(), {
    name: file.name,
    maxLineBytes: maxRecord,
    limit: { what: 'the line (and so its CSV record)', option: '--max-record-bytes', field: 'maxRecordBytes' },
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.invalidUtf8 ? { invalidUtf8: options.invalidUtf8 } : {}),
    ...(options.onInvalidUtf8Replaced ? { onReplaced: options.onInvalidUtf8Replaced } : {}),
  })[Symbol.asyncIterator]();
  let queue: (string | null)[][] = [];
  let at = 0;
  let ended = false;
  let finishing = false;
  const next = async (): Promise<IteratorResult<(string | null)[]>> => {
    while (at >= queue.length) {
      if (ended) return { done: true, value: undefined };
      if (finishing) {
        // A failure found after the last records is thrown by a second end().
        queue = parser.end();
        ended = true;
      } else {
        const chunk = await bytes.next();
        if (chunk.done === true) {
          finishing = true;
          queue = parser.end();
        } else queue = parser.push(chunk.value);
      }
      at = 0;
    }
    return { done: false, value: queue[at++] as (string | null)[] };
  };
  const close = (): void => {
    ended = true;
    queue = [];
    void bytes.return?.(undefined).catch(() => undefined);
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
      close();
    }
  }
  return { schema, batches: batches() };
}
