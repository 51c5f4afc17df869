import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet-writer';
import { parquetMetadataAsync, parquetRead } from 'hyparquet';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { ForceflowError } from '../core/errors.ts';
import type { EntitySchema, FieldSchema, FieldType, FieldValue, RecordBatch, Row } from '../core/types.ts';
import type { DecodedFile, DecodeOptions, EncoderOptions, InputFile, RecordEncoder } from './types.ts';
import { hasExactKeys, rowFrom, rowTemplate } from './rows.ts';
import { COMPOUND_TYPES, toFieldValue, valueToText } from './values.ts';

/**
 * Parquet, written with hyparquet-writer (chosen by bench/parquet-compare.ts) and read with hyparquet.
 *
 * Columns: with `preserveSourceDataTyping: true` each field gets a Parquet type from its schema type:
 * boolean → BOOLEAN; int → INT32; long → INT64; double, currency, percent → DOUBLE; date → INT32 DATE;
 * datetime → INT64 TIMESTAMP(MILLIS, UTC); address, location and other compound fields → BYTE_ARRAY JSON
 * (JSON text, which Athena/Spark read as a string column; a struct would fail on the first record whose
 * compound has a different shape); everything else (id, string, picklist, time, ...) → UTF8 string.
 * Without it (AppFlow's default) every column is a UTF8 string: `1` becomes "1", true "true", compounds JSON.
 * Every column is OPTIONAL (nullable). SNAPPY compression. The file's key/value metadata holds
 * `forceflow.schema`, the field list with forceflow's types, so a reader gets currency back as currency.
 *
 * Memory: the encoder buffers one row group before encoding it, and the file is written row group by row group.
 * A row group ends at 50,000 rows, 32 MiB of values, or {@link ROW_GROUP_CELLS} values (rows × columns),
 * whichever comes first: encoding a group makes several short-lived copies of every value (hyparquet-writer's
 * levels, dictionary, one Uint8Array per string), so a group of 50,000 rows of a 30-field object took the
 * process's peak RSS to ~680 MB at 1M records; bounded by values, under 300 MB (issue 13; files ~15% larger).
 */
/**
 * The most values (rows × columns) in one row group by default: about 4,500 rows of a 30-field object. 200,000
 * peaked at 283-306 MB on the 1,000,000-record S3 export, 140,000 at about 262 (issue 13's goal: 300 MB).
 */
export const ROW_GROUP_CELLS = 140_000;
const SCHEMA_KEY = 'forceflow.schema';
const DAY_MS = 86_400_000;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
/** A datetime text that names its zone; one that does not is UTC (Date.parse would take the machine's zone). */
const HAS_ZONE = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

interface Column {
  readonly name: string;
  readonly element: SchemaElement;
  readonly convert: (value: FieldValue | undefined) => unknown;
}

function numeric(field: FieldSchema, value: FieldValue | undefined): number | null {
  if (value === null || value === undefined || (typeof value === 'string' && value.trim() === '')) return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) throw typeMismatch(field, value);
  return n;
}

function typeMismatch(field: FieldSchema, value: FieldValue): ForceflowError {
  return new ForceflowError(
    'CONFIG_INVALID',
    `Parquet column "${field.name}" is typed ${field.type} but a record holds ${JSON.stringify(value)}; ` +
      'map the field with a matching DESTINATION_DATA_TYPE or set preserveSourceDataTyping to false.',
    { details: { field: field.name, type: field.type } },
  );
}

function typedColumn(field: FieldSchema): Column {
  const name = field.name;
  const base = { name, repetition_type: 'OPTIONAL' as const };
  switch (field.type) {
    case 'boolean':
      return {
        name,
        element: { ...base, type: 'BOOLEAN' },
        convert: (v) => {
          if (v === null || v === undefined || v === '') return null;
          if (typeof v === 'boolean') return v;
          if (v === 'true' || v === 'false') return v === 'true';
          throw typeMismatch(field, v);
        },
      };
    case 'int':
      return {
        name,
        element: { ...base, type: 'INT32' },
        convert: (v) => {
          const n = numeric(field, v);
          if (n !== null && (!Number.isInteger(n) || n > 2 ** 31 - 1 || n < -(2 ** 31))) throw typeMismatch(field, v ?? null);
          return n;
        },
      };
    case 'long':
      return {
        name,
        element: { ...base, type: 'INT64' },
        convert: (v) => {
          const n = numeric(field, v);
          if (n === null) return null;
          if (!Number.isInteger(n)) throw typeMismatch(field, v ?? null);
          const big = BigInt(n);
          if (big > INT64_MAX || big < INT64_MIN) throw typeMismatch(field, v ?? null);
          return big;
        },
      };
    case 'double':
    case 'currency':
    case 'percent':
      return { name, element: { ...base, type: 'DOUBLE' }, convert: (v) => numeric(field, v) };
    case 'date':
      return {
        name,
        element: { ...base, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
        convert: (v) => {
          if (v === null || v === undefined || v === '') return null;
          const ms = typeof v === 'string' ? Date.parse(`${v.slice(0, 10)}T00:00:00Z`) : Number.NaN;
          if (!Number.isFinite(ms)) throw typeMismatch(field, v);
          return Math.floor(ms / DAY_MS);
        },
      };
    case 'datetime':
      return {
        name,
        element: {
          ...base,
          type: 'INT64',
          converted_type: 'TIMESTAMP_MILLIS',
          logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
        },
        convert: (v) => {
          if (v === null || v === undefined || v === '') return null;
          const ms = typeof v === 'string' ? Date.parse(HAS_ZONE.test(v) || !v.includes(':') ? v : `${v}Z`) : typeof v === 'number' ? v : Number.NaN;
          if (!Number.isFinite(ms)) throw typeMismatch(field, v);
          return BigInt(ms);
        },
      };
    default:
      if (COMPOUND_TYPES.has(field.type)) {
        return { name, element: { ...base, type: 'BYTE_ARRAY', converted_type: 'JSON' }, convert: (v) => v ?? null };
      }
      return stringColumn(field);
  }
}

function stringColumn(field: FieldSchema): Column {
  return {
    name: field.name,
    element: { name: field.name, repetition_type: 'OPTIONAL', type: 'BYTE_ARRAY', converted_type: 'UTF8' },
    convert: (v) => valueToText(v),
  };
}

function sizeOf(value: FieldValue | undefined): number {
  if (typeof value === 'string') return value.length;
  if (value === null || value === undefined) return 1;
  if (typeof value === 'object') return 32;
  return 8;
}

export class ParquetEncoder implements RecordEncoder {
  readonly fileType = 'PARQUET' as const;
  readonly schema: EntitySchema;
  readonly #columns: readonly Column[];
  readonly #names: readonly string[];
  readonly #writer = new ByteWriter();
  readonly #parquet: ParquetWriter;
  readonly #rowGroupRows: number;
  readonly #rowGroupBytes: number;
  #buffer: unknown[][];
  #bufferedRows = 0;
  #bufferedBytes = 0;
  #emitted = 0;

  constructor(schema: EntitySchema, options: EncoderOptions = {}) {
    this.schema = schema;
    this.#columns = schema.fields.map((f) => (options.preserveSourceDataTyping === true ? typedColumn(f) : stringColumn(f)));
    this.#names = this.#columns.map((c) => c.name);
    this.#rowGroupRows = options.rowGroupRows ?? Math.min(50_000, Math.max(1_000, Math.floor(ROW_GROUP_CELLS / Math.max(1, this.#columns.length))));
    this.#rowGroupBytes = options.rowGroupBytes ?? 32 * 1024 * 1024;
    this.#buffer = this.#columns.map(() => []);
    const fields = schema.fields.map((f) => ({ name: f.name, type: f.type }));
    this.#parquet = new ParquetWriter({
      writer: this.#writer,
      schema: [{ name: 'root', num_children: this.#columns.length }, ...this.#columns.map((c) => c.element)],
      kvMetadata: [{ key: SCHEMA_KEY, value: JSON.stringify({ entity: schema.entity, fields }) }],
      createdBy: 'forceflow (hyparquet-writer)',
    });
  }

  get estimatedSize(): number {
    return this.#emitted + this.#writer.index + Math.round(this.#bufferedBytes / 3);
  }

  encode(rows: readonly Row[]): Uint8Array | undefined {
    // Column by column (one property name per loop: the fast path for V8), unless this batch closes a row
    // group: then row by row, so row groups end exactly where they always have (the bytes stay the same).
    if (rows.length > 0 && this.#bufferedRows + rows.length < this.#rowGroupRows && this.#encodeByColumn(rows)) return undefined;
    const chunks: Uint8Array[] = [];
    for (const row of rows) {
      for (let c = 0; c < this.#columns.length; c += 1) {
        const column = this.#columns[c] as Column;
        const value = row[column.name];
        (this.#buffer[c] as unknown[]).push(column.convert(value));
        this.#bufferedBytes += sizeOf(value);
      }
      this.#bufferedRows += 1;
      if (this.#bufferedRows >= this.#rowGroupRows || this.#bufferedBytes >= this.#rowGroupBytes) {
        const bytes = this.#flushRowGroup();
        if (bytes !== undefined) chunks.push(bytes);
      }
    }
    return join(chunks);
  }

  /**
   * Buffers the rows column by column when they stay below the byte limit of the row group even after the
   * last one (row by row, the group would have been flushed no earlier). Otherwise buffers nothing and
   * returns false. On a value that does not convert, the buffer is put back and false returned, so that row by
   * row meets the same first bad value and throws the same error.
   */
  #encodeByColumn(rows: readonly Row[]): boolean {
    // One pass per column: convert and count the bytes together; should the group's byte limit be reached
    // (once per row group at most), the buffer is put back and the batch goes row by row.
    let bytes = 0;
    const before = this.#bufferedRows;
    const columns = this.#columns;
    const buffers = this.#buffer;
    const names = this.#names;
    const count = columns.length;
    try {
      for (const row of rows) {
        // A row with exactly the schema's keys in order (what the sources and the transform build) gives its
        // values in column order with one native call instead of one keyed lookup per column.
        const values = hasExactKeys(row, names) ? Object.values(row) : names.map((name) => row[name]);
        for (let c = 0; c < count; c += 1) {
          const value = values[c];
          bytes += sizeOf(value);
          (buffers[c] as unknown[]).push((columns[c] as Column).convert(value));
        }
      }
    } catch {
      for (const buffer of this.#buffer) buffer.length = before;
      return false;
    }
    if (this.#bufferedBytes + bytes >= this.#rowGroupBytes) {
      for (const buffer of this.#buffer) buffer.length = before;
      return false;
    }
    this.#bufferedBytes += bytes;
    this.#bufferedRows += rows.length;
    return true;
  }

  finish(): Uint8Array | undefined {
    const chunks: Uint8Array[] = [];
    const last = this.#flushRowGroup();
    if (last !== undefined) chunks.push(last);
    void this.#parquet.finish();
    const tail = this.#take();
    if (tail !== undefined) chunks.push(tail);
    return join(chunks);
  }

  #flushRowGroup(): Uint8Array | undefined {
    if (this.#bufferedRows === 0) return this.#take();
    const n = this.#bufferedRows;
    void this.#parquet.write({
      columnData: this.#columns.map((c, i) => ({ name: c.name, data: this.#buffer[i] as unknown[] as never })),
      rowGroupSize: n,
    });
    this.#buffer = this.#columns.map(() => []);
    this.#bufferedRows = 0;
    this.#bufferedBytes = 0;
    return this.#take();
  }

  /** Hands out what the writer encoded so far and rewinds its buffer (its `offset` keeps counting). */
  #take(): Uint8Array | undefined {
    if (this.#writer.index === 0) return undefined;
    const bytes = new Uint8Array(this.#writer.getBytes());
    this.#writer.index = 0;
    this.#emitted += bytes.byteLength;
    return bytes;
  }
}

function join(chunks: readonly Uint8Array[]): Uint8Array | undefined {
  if (chunks.length === 0) return undefined;
  if (chunks.length === 1) return chunks[0];
  return Buffer.concat(chunks);
}

/** Parquet types back to forceflow field types, for files that were not written by forceflow. */
function fieldTypeOf(element: SchemaElement): FieldType {
  const logical = element.logical_type?.type;
  if (element.converted_type === 'DATE' || logical === 'DATE') return 'date';
  if (element.converted_type === 'TIMESTAMP_MILLIS' || element.converted_type === 'TIMESTAMP_MICROS' || logical === 'TIMESTAMP' || element.type === 'INT96') return 'datetime';
  if (element.converted_type === 'JSON' || logical === 'JSON') return 'complexvalue';
  switch (element.type) {
    case 'BOOLEAN':
      return 'boolean';
    case 'INT32':
      return 'int';
    case 'INT64':
      return 'long';
    case 'FLOAT':
    case 'DOUBLE':
      return 'double';
    default:
      return 'string';
  }
}

function canonical(type: FieldType, value: unknown): FieldValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return type === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
  return toFieldValue(value);
}

function asyncBuffer(file: InputFile): AsyncBuffer {
  return {
    byteLength: file.size,
    slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
      const bytes = await file.read(start, end ?? file.size);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

/** Opens a Parquet file: reads its footer, then streams one row group at a time (ranged reads). */
export async function openParquet(file: InputFile, options: DecodeOptions): Promise<DecodedFile> {
  const batchSize = options.batchSize ?? 5000;
  const buffer = asyncBuffer(file);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (cause) {
    if (cause instanceof ForceflowError) throw cause;
    throw new ForceflowError('INPUT_INVALID', `${file.name}: not a Parquet file (${(cause as Error).message})`, { details: { file: file.name }, cause });
  }
  const leaves = metadata.schema.slice(1).filter((e) => e.num_children === undefined || e.num_children === 0);
  const stored = metadata.key_value_metadata?.find((kv) => kv.key === SCHEMA_KEY)?.value;
  const storedTypes = new Map<string, FieldType>();
  if (stored !== undefined) {
    try {
      for (const f of (JSON.parse(stored) as { fields: { name: string; type: FieldType }[] }).fields) storedTypes.set(f.name, f.type);
    } catch {
      // A foreign or damaged hint: fall back to the Parquet types.
    }
  }
  const top = metadata.schema.slice(1);
  const names = top.length === leaves.length ? top.map((e) => e.name) : topLevelNames(metadata.schema);
  const fields: FieldSchema[] = names.map((name) => {
    const element = metadata.schema.find((e) => e.name === name);
    const type = storedTypes.get(name) ?? (element === undefined ? 'string' : fieldTypeOf(element));
    return { name, type, nillable: true };
  });
  const schema: EntitySchema = { entity: options.entity, fields };
  const template = rowTemplate(names);

  async function* batches(): AsyncGenerator<RecordBatch> {
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const groupRows = Number(group.num_rows);
      for (let start = rowStart; start < rowStart + groupRows; start += batchSize) {
        const end = Math.min(rowStart + groupRows, start + batchSize);
        // Rows as arrays in `names` order: hyparquet's object rows are plain objects, on which a column named
        // "__proto__" would be lost.
        let arrays: unknown[][];
        try {
          arrays = await new Promise<unknown[][]>((done, fail) => {
            parquetRead({ file: buffer, metadata, rowStart: start, rowEnd: end, columns: names, rowFormat: 'array', onComplete: done }).catch(fail);
          });
        } catch (cause) {
          if (cause instanceof ForceflowError) throw cause;
          throw new ForceflowError('INPUT_INVALID', `${file.name} rows ${start}-${end}: ${(cause as Error).message}`, { details: { file: file.name }, cause });
        }
        const rows = arrays.map((values) => {
          const row = rowFrom(template);
          for (let i = 0; i < fields.length; i++) {
            const f = fields[i] as FieldSchema;
            row[f.name] = canonical(f.type, values[i]);
          }
          return row;
        });
        yield { rows, schema };
      }
      rowStart += groupRows;
    }
  }
  return { schema, batches: batches() };
}

/** Names of the top-level columns when the schema has groups (nested columns are read as JSON text). */
function topLevelNames(schema: readonly SchemaElement[]): string[] {
  const names: string[] = [];
  let i = 1;
  const skip = (index: number): number => {
    const children = schema[index]?.num_children ?? 0;
    let next = index + 1;
    for (let c = 0; c < children; c += 1) next = skip(next);
    return next;
  };
  while (i < schema.length) {
    names.push((schema[i] as SchemaElement).name);
    i = skip(i);
  }
  return names;
}
