import { Readable, pipeline } from 'node:stream';
import { parse } from 'csv-parse';
import { ForceflowError } from '../core/errors.ts';
import type { EntitySchema, FieldValue, Row } from '../core/types.ts';
import type { DecodedFile, DecodeOptions, InputFile, RecordEncoder } from './types.ts';
import { DEFAULT_MAX_RECORD_BYTES, guardInput } from './input-guard.ts';
import { rowFrom, rowTemplate } from './rows.ts';
import { quote } from '../salesforce-wire/bulk-csv.ts';
import { valueToText } from './values.ts';

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
  readonly #names: readonly string[];

  constructor(schema: EntitySchema) {
    this.schema = schema;
    this.#names = schema.fields.map((f) => f.name);
  }

  get estimatedSize(): number {
    return this.#size;
  }

  encode(rows: readonly Row[]): Uint8Array | undefined {
    let text = '';
    if (!this.#headerWritten) {
      this.#headerWritten = true;
      text += `${this.#names.map((n) => csvCell(n)).join(',')}\n`;
    }
    for (const row of rows) {
      let line = '';
      for (let i = 0; i < this.#names.length; i += 1) {
        if (i > 0) line += ',';
        line += csvCell(row[this.#names[i] as string]);
      }
      text += `${line}\n`;
    }
    if (text === '') return undefined;
    const bytes = Buffer.from(text, 'utf8');
    this.#size += bytes.byteLength;
    return bytes;
  }

  /** A file with no rows still gets its header. */
  finish(): Uint8Array | undefined {
    return this.#headerWritten ? undefined : this.encode([]);
  }
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
    cast: (value, context) => (value === '' && !context.quoting ? null : value),
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
  const records = parser[Symbol.asyncIterator]() as AsyncIterator<(string | null)[]>;
  const next = async (): Promise<IteratorResult<(string | null)[]>> => {
    try {
      return await records.next();
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
