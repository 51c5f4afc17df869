import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ForceflowError } from '../core/errors.ts';
import type { EntitySchema, FieldSchema, FieldValue, RecordBatch, Row } from '../core/types.ts';
import type { DecodedFile, DecodeOptions, InputFile, RecordEncoder } from './types.ts';
import { DEFAULT_MAX_LINE_BYTES, guardInput } from './input-guard.ts';
import { hasExactKeys, rowFrom, rowTemplate } from './rows.ts';
import { inferFieldType, toFieldValue } from './values.ts';
import { LineBuffer } from './line-buffer.ts';
import { BufferPool } from '../core/buffer-pool.ts';

/**
 * JSON lines (what AppFlow's `JSON` file type is): one JSON object per record, `\n` after each.
 *
 * Writing: keys in the schema's field order, every field present (null written as null), compound fields
 * (address, location) as nested objects, numbers and booleans as JSON numbers and booleans.
 *
 * Reading: blank lines are skipped; every other line must be a JSON object, else INPUT_INVALID names the file
 * and line. Nested objects of scalars are compound values; deeper values (arrays, nested objects) are kept as
 * their JSON text. The schema is the union of the keys in order of first appearance (inferred from the first
 * batch, growing if later lines bring new keys); a key missing from a line is null in that row.
 * Invalid UTF-8, a line longer than `maxLineBytes` and a cancel are handled before parsing (input-guard.ts).
 */
export class JsonLinesEncoder implements RecordEncoder {
  readonly fileType = 'JSON' as const;
  readonly schema: EntitySchema;
  #size = 0;
  /** The last batch's bytes per row: sizes the next batch's buffer. */
  #bytesPerRow = 256;
  readonly #names: readonly string[];
  readonly #keys: readonly string[];
  /** The buffer of the last encoded batch, given back by {@link written} (one per open file). */
  readonly #pool = new BufferPool(1);
  /** The buffer of the bytes the last encode returned. */
  #last: Buffer | undefined;

  constructor(schema: EntitySchema) {
    this.schema = schema;
    this.#names = schema.fields.map((f) => f.name);
    this.#keys = this.#names.map((n, i) => `${i === 0 ? '{' : ','}${JSON.stringify(n)}:`);
  }

  get estimatedSize(): number {
    return this.#size;
  }

  encode(rows: readonly Row[]): Uint8Array | undefined {
    if (rows.length === 0) return undefined;
    const names = this.#names;
    const out = new LineBuffer(rows.length * this.#bytesPerRow * 1.25, '', this.#pool);
    for (const row of rows) {
      // A row with exactly the schema's keys in order (what the Salesforce source and the transform build)
      // is its own JSON line: one native call instead of one per value.
      if (hasExactKeys(row, names)) out.line(JSON.stringify(row));
      else {
        let line = names.length === 0 ? '{' : '';
        for (let i = 0; i < names.length; i += 1) {
          line += this.#keys[i] as string;
          line += JSON.stringify(row[names[i] as string] ?? null);
        }
        out.line(`${line}}`);
      }
    }
    const bytes = out.bytes();
    this.#last = out.buffer;
    this.#size += bytes.length;
    this.#bytesPerRow = Math.ceil(bytes.length / rows.length);
    return bytes;
  }

  /** Lines a source encoded for this file's columns (RecordBatch.encoded: the bytes {@link encode} gives for their rows). */
  encodeLines(lines: Uint8Array, count: number): Uint8Array | undefined {
    this.#size += lines.length;
    if (count > 0) this.#bytesPerRow = Math.ceil(lines.length / count);
    return lines.length === 0 ? undefined : lines;
  }

  written(): void {
    if (this.#last !== undefined) this.#pool.give(this.#last);
    this.#last = undefined;
  }

  finish(): Uint8Array | undefined {
    return undefined;
  }
}

/**
 * The most distinct keys (columns) a JSON lines file may have: five times the widest Salesforce object. Every key
 * becomes a column of every record, so a file whose lines each bring new keys would make each record (and each
 * output line) as wide as the whole file: its cost grows with the square of its length.
 */
export const MAX_JSONL_COLUMNS = 5_000;

function inputInvalid(file: string, line: number, message: string, cause?: unknown): ForceflowError {
  return new ForceflowError('INPUT_INVALID', `${file} line ${line}: ${message}`, { details: { file, line }, cause });
}

/** Opens a JSON lines file: reads its first batch to learn the columns, then streams the rest. */
export async function openJsonLines(file: InputFile, options: DecodeOptions): Promise<DecodedFile> {
  const batchSize = options.batchSize ?? 5000;
  const maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const maxColumns = options.maxColumns ?? MAX_JSONL_COLUMNS;
  // The byte stage bounds each line before readline buffers it, checks UTF-8, and ends the read on a cancel.
  const input = Readable.from(guardInput(file.stream(), {
    name: file.name,
    maxLineBytes: maxLine,
    limit: { what: 'the line', option: '--max-line-bytes', field: 'maxLineBytes' },
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.invalidUtf8 ? { invalidUtf8: options.invalidUtf8 } : {}),
    ...(options.onInvalidUtf8Replaced ? { onReplaced: options.onInvalidUtf8Replaced } : {}),
  }));
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  let lineNo = 0;

  const fields: FieldSchema[] = [];
  const known = new Set<string>();
  let schema: EntitySchema = { entity: options.entity, fields: [] };

  async function readBatch(): Promise<Row[]> {
    const parsed: Record<string, unknown>[] = [];
    const lineOf: number[] = [];
    while (parsed.length < batchSize) {
      const r = await lines.next();
      if (r.done === true) break;
      lineNo += 1;
      const text = r.value.trim();
      if (text === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (cause) {
        throw inputInvalid(file.name, lineNo, `not valid JSON (${(cause as Error).message})`, cause);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw inputInvalid(file.name, lineNo, 'each line must be a JSON object');
      }
      parsed.push(value as Record<string, unknown>);
      lineOf.push(lineNo);
    }
    let grew = false;
    // Rows start from a template of the columns known before this batch (no prototype: a key such as "__proto__"
    // or "constructor" is an ordinary column); keys first seen in this batch are filled with null below, in the
    // rows that lack them. So a batch costs its rows times its columns, whatever order the keys come in.
    const before = fields.length;
    const template = rowTemplate(fields.map((f) => f.name));
    const rows = parsed.map((obj, index) => {
      const row = rowFrom(template);
      for (const key of Object.keys(obj)) {
        const value: FieldValue = toFieldValue(obj[key]);
        row[key] = value;
        if (!known.has(key)) {
          if (known.size >= maxColumns) {
            throw inputInvalid(file.name, lineOf[index] ?? lineNo, `the file has more than ${maxColumns} distinct keys, the limit for a JSON lines file (every key is a column of every record). Keys that vary by record (ids, dates) belong in values; keep per-record data under one key as a nested object or array.`);
          }
          known.add(key);
          fields.push({ name: key, type: inferFieldType(value), nillable: true });
          grew = true;
        } else if (value !== null && !firstTyped.has(key)) {
          // A field first seen as null was typed string; its first real value decides.
          const i = fields.findIndex((f) => f.name === key);
          const f = fields[i];
          if (f !== undefined && typeof value !== 'string') {
            fields[i] = { ...f, type: inferFieldType(value) };
            grew = true;
          }
        }
        if (value !== null) firstTyped.add(key);
      }
      return row;
    });
    if (grew || schema.fields.length !== fields.length) schema = { entity: options.entity, fields: [...fields] };
    if (fields.length > before) {
      const added = fields.slice(before).map((f) => f.name);
      for (const row of rows) for (const name of added) if (row[name] === undefined) row[name] = null;
    }
    return rows;
  }
  const firstTyped = new Set<string>();

  let firstRows: Row[];
  try {
    firstRows = await readBatch();
  } catch (error) {
    input.destroy();
    throw error;
  }

  async function* batches(): AsyncGenerator<RecordBatch> {
    try {
      let rows = firstRows;
      while (rows.length > 0) {
        yield { rows, schema };
        rows = await readBatch();
      }
    } finally {
      input.destroy();
    }
  }
  return { schema, batches: batches() };
}
