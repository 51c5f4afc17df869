import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import { parquetMetadataAsync, parquetRead } from 'hyparquet';
import type { AsyncBuffer, ColumnChunk, Encoding, FileMetaData, Statistics } from 'hyparquet';
import type { MinMaxType, PageEncodingStats } from 'hyparquet/src/types.js';
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
 * Memory: the encoder buffers the values of one data page per column as JavaScript values ({@link PAGE_CELLS}
 * values, rows × columns, about 1,300 rows of a 30-field object), then encodes them into one DATA_PAGE_V2 per
 * column (SNAPPY) and keeps only those bytes. A row group is the pages of every column: it ends at
 * {@link ROW_GROUP_BYTES} of encoded pages (the `rowGroupBytes` option) or 1,000,000 rows, whichever comes first,
 * and is then written column chunk by column chunk (dictionary page first). So the memory is one page of values
 * plus one row group of encoded bytes, whatever the record count, and a file has few, large row groups (the
 * footer, which holds every row group's metadata until the end, stays small). Columns whose first page has
 * repeated values use a dictionary (RLE_DICTIONARY pages) until it exceeds {@link DICTIONARY_MAX_BYTES}; later
 * pages of that chunk are PLAIN. Encoding a page reuses the same scratch buffers and writes strings into them
 * directly (no Uint8Array per value). Issue 13: before, row groups were encoded whole by hyparquet-writer's
 * ParquetWriter.write, which copies every value several times, so groups had to stay small (140,000 values).
 */
const SCHEMA_KEY = 'forceflow.schema';
const DAY_MS = 86_400_000;
/** 2^63: INT64 holds integers in [-2^63, 2^63). */
const INT64_LIMIT = 2 ** 63;
/** A datetime text that names its zone; one that does not is UTC (Date.parse would take the machine's zone). */
const HAS_ZONE = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number in `text` at [start, start + length) of decimal digits only, else -1. */
function digits(text: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i += 1) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Milliseconds of the date `YYYY-MM-DD` that `text` starts with, when its year is 100-9999 and its month and day
 * exist (where Date.UTC and Date.parse agree); otherwise NaN, and Date.parse decides (same result, slower).
 */
function isoDateMillis(text: string): number {
  if (text.length < 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return Number.NaN;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  if (year < 100 || month < 1 || month > 12 || day < 1) return Number.NaN;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (DAYS_IN_MONTH[month - 1] as number) + (leap ? 1 : 0)) return Number.NaN;
  return Date.UTC(year, month - 1, day);
}

/** Milliseconds of `YYYY-MM-DDTHH:MM:SS.sssZ` (how Salesforce writes datetimes) in the usual ranges, else NaN. */
function isoDateTimeMillis(text: string): number {
  if (text.length !== 24 || text.charCodeAt(23) !== 90 || text.charCodeAt(10) !== 84 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46) return Number.NaN;
  const day = isoDateMillis(text);
  const hours = digits(text, 11, 2);
  const minutes = digits(text, 14, 2);
  const seconds = digits(text, 17, 2);
  const millis = digits(text, 20, 3);
  if (Number.isNaN(day) || hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59 || millis < 0) return Number.NaN;
  return day + ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis;
}

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
      // A JavaScript number (every integer a double holds is exact), written as INT64 without a BigInt per value.
      return {
        name,
        element: { ...base, type: 'INT64' },
        convert: (v) => {
          const n = numeric(field, v);
          if (n === null) return null;
          if (!Number.isInteger(n) || n >= INT64_LIMIT || n < -INT64_LIMIT) throw typeMismatch(field, v ?? null);
          return n;
        },
      };
    case 'double':
    case 'currency':
    case 'percent':
      return { name, element: { ...base, type: 'DOUBLE' }, convert: (v) => numeric(field, v) };
    case 'date': {
      // The last text and its day: a date column repeats its values.
      let lastText: string | undefined;
      let lastDay = 0;
      return {
        name,
        element: { ...base, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
        convert: (v) => {
          if (v === null || v === undefined || v === '') return null;
          if (v === lastText) return lastDay;
          let ms = typeof v === 'string' ? isoDateMillis(v) : Number.NaN;
          if (Number.isNaN(ms) && typeof v === 'string') ms = Date.parse(`${v.slice(0, 10)}T00:00:00Z`);
          if (!Number.isFinite(ms)) throw typeMismatch(field, v);
          lastText = v as string;
          lastDay = Math.floor(ms / DAY_MS);
          return lastDay;
        },
      };
    }
    case 'datetime': {
      // Milliseconds as a number (written as INT64 without a BigInt per value); the last text and its value.
      let lastText: string | undefined;
      let lastMs = 0;
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
          if (typeof v === 'number') {
            if (!Number.isInteger(v) || v >= INT64_LIMIT || v < -INT64_LIMIT) throw typeMismatch(field, v);
            return v;
          }
          if (v === lastText) return lastMs;
          let ms = typeof v === 'string' ? isoDateTimeMillis(v) : Number.NaN;
          if (Number.isNaN(ms) && typeof v === 'string') ms = Date.parse(HAS_ZONE.test(v) || !v.includes(':') ? v : `${v}Z`);
          if (!Number.isFinite(ms)) throw typeMismatch(field, v);
          lastText = v as string;
          lastMs = ms;
          return ms;
        },
      };
    }
    default:
      if (COMPOUND_TYPES.has(field.type)) {
        return {
          name,
          element: { ...base, type: 'BYTE_ARRAY', converted_type: 'JSON' },
          // JSON text (a compound value holds only strings, numbers, booleans and nulls).
          convert: (v) => (v === null || v === undefined ? null : JSON.stringify(v)),
        };
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

/** A ByteWriter that also writes strings as Parquet byte arrays (length + UTF-8) without a Uint8Array per string. */
class PageWriter extends ByteWriter {
  #bytes = Buffer.from(this.buffer);

  override ensure(size: number): void {
    if (this.index + size <= this.buffer.byteLength) return;
    super.ensure(size);
    this.#bytes = Buffer.from(this.buffer);
  }

  /** Appends a PLAIN BYTE_ARRAY value; returns its UTF-8 length. */
  appendString(value: string): number {
    this.ensure(4 + value.length * 3);
    const n = this.#bytes.write(value, this.index + 4);
    this.view.setUint32(this.index, n, true);
    this.index += 4 + n;
    this.offset += 4 + n;
    return n;
  }

  reset(): void {
    this.index = 0;
    this.offset = 0;
  }
}

/**
 * Compares strings in UTF-8 byte order (code point order), as Parquet orders BYTE_ARRAY statistics. JavaScript's
 * `<` compares UTF-16 code units, which differs only where a surrogate meets U+E000-U+FFFF; lone surrogates
 * compare as U+FFFD, as they are written. The same order as hyparquet-writer's statistics.
 */
function compareStrings(left: string, right: string): number {
  if (left === right) return 0;
  const length = Math.min(left.length, right.length);
  let i = 0;
  while (i < length && left.charCodeAt(i) === right.charCodeAt(i)) i++;
  if (i > 0) {
    const prev = left.charCodeAt(i - 1);
    if (prev >= 0xd800 && prev <= 0xdbff) i--;
  }
  while (i < left.length && i < right.length) {
    const a = codePoint(left, i);
    const b = codePoint(right, i);
    if (a !== b) return a - b;
    i += a > 0xffff ? 2 : 1;
  }
  return left.length - right.length;
}

function codePoint(text: string, i: number): number {
  const code = text.codePointAt(i) ?? 0xfffd;
  return code >= 0xd800 && code <= 0xdfff ? 0xfffd : code;
}

/** The bytes a dictionary entry takes (for the dictionary's size bound and the choice of encoding). */
function entrySize(type: string, value: unknown): number {
  if (type === 'BYTE_ARRAY') return 4 + (value as string).length;
  return type === 'INT32' ? 4 : 8;
}

/** A column's data pages of the row group being built, with its dictionary and statistics. */
interface ColumnChunkState {
  readonly column: Column;
  readonly type: 'BOOLEAN' | 'INT32' | 'INT64' | 'DOUBLE' | 'BYTE_ARRAY';
  /** Converted values of the page being filled (null for null). */
  values: unknown[];
  /** Encoded pages (header, levels, compressed values). */
  pages: Uint8Array[];
  bytes: number;
  uncompressed: number;
  /** undefined: not chosen yet (the chunk's first page decides); null: PLAIN. */
  dictionary: Map<unknown, number> | null | undefined;
  entries: unknown[];
  dictionaryBytes: number;
  dictionaryPages: number;
  plainPages: number;
  nulls: number;
  min: unknown;
  max: unknown;
  /** Whether min / max are ASCII (then `<` orders them as code points against any string). */
  minAscii: boolean;
  maxAscii: boolean;
}

/**
 * The most values (rows × columns) buffered as JavaScript values before they are encoded into one data page per
 * column: about 1,300 rows of a 30-field object (250-50,000 rows). Small enough that the values mostly die in V8's
 * young generation: at 80,000 or 140,000 they survived into the old one, whose garbage took the 1,000,000-record
 * S3 export to 262-277 MB of peak RSS against 182-186 MB at 40,000 (issue 13). Row groups are made of such pages
 * and end by encoded bytes.
 */
export const PAGE_CELLS = 40_000;
/**
 * A column chunk stops using its dictionary (later pages are PLAIN) when the dictionary grows past this, counted
 * as the memory it holds until the row group ends: each entry's encoded size plus {@link DICTIONARY_ENTRY_OVERHEAD}
 * (the Map's entry, the value kept). About 20,000 numbers or 15,000 short strings.
 */
export const DICTIONARY_MAX_BYTES = 1024 * 1024;
const DICTIONARY_ENTRY_OVERHEAD = 48;
/** The default bound of a row group's encoded bytes (SNAPPY pages, what the encoder holds until the group ends). */
export const ROW_GROUP_BYTES = 8 * 1024 * 1024;
const ROW_GROUP_ROWS = 1_000_000;
const PAGE_VALUE_BYTES = 8 * 1024 * 1024;

export class ParquetEncoder implements RecordEncoder {
  readonly fileType = 'PARQUET' as const;
  readonly schema: EntitySchema;
  readonly #columns: readonly Column[];
  readonly #names: readonly string[];
  readonly #writer = new ByteWriter();
  readonly #parquet: ParquetWriter;
  readonly #rowGroupRows: number;
  readonly #rowGroupBytes: number;
  readonly #pageRows: number;
  readonly #pageBytes: number;
  readonly #chunks: ColumnChunkState[];
  /** The values buffered for the next page, one array per column (the chunks' `values`). */
  readonly #buffer: unknown[][];
  readonly #data = new PageWriter(64 * 1024);
  readonly #levelWriter = new PageWriter(1024);
  readonly #page = new PageWriter(64 * 1024);
  #levels = new Uint8Array(0);
  #indexes = new Int32Array(0);
  #bufferedRows = 0;
  #bufferedBytes = 0;
  #groupRows = 0;
  #groupBytes = 0;
  #emitted = 0;

  constructor(schema: EntitySchema, options: EncoderOptions = {}) {
    this.schema = schema;
    this.#columns = schema.fields.map((f) => (options.preserveSourceDataTyping === true ? typedColumn(f) : stringColumn(f)));
    this.#names = this.#columns.map((c) => c.name);
    this.#rowGroupRows = Math.max(1, options.rowGroupRows ?? ROW_GROUP_ROWS);
    this.#rowGroupBytes = options.rowGroupBytes ?? ROW_GROUP_BYTES;
    this.#pageRows = Math.min(50_000, Math.max(250, Math.floor(PAGE_CELLS / Math.max(1, this.#columns.length))));
    this.#pageBytes = PAGE_VALUE_BYTES;
    this.#chunks = this.#columns.map((column) => ({
      column,
      type: column.element.type as ColumnChunkState['type'],
      values: [],
      pages: [],
      bytes: 0,
      uncompressed: 0,
      dictionary: undefined,
      entries: [],
      dictionaryBytes: 0,
      dictionaryPages: 0,
      plainPages: 0,
      nulls: 0,
      min: undefined,
      max: undefined,
      minAscii: false,
      maxAscii: false,
    }));
    this.#buffer = this.#chunks.map((c) => c.values);
    const fields = schema.fields.map((f) => ({ name: f.name, type: f.type }));
    this.#parquet = new ParquetWriter({
      writer: this.#writer,
      schema: [{ name: 'root', num_children: this.#columns.length }, ...this.#columns.map((c) => c.element)],
      kvMetadata: [{ key: SCHEMA_KEY, value: JSON.stringify({ entity: schema.entity, fields }) }],
      createdBy: 'forceflow (hyparquet-writer)',
    });
  }

  get estimatedSize(): number {
    return this.#emitted + this.#writer.index + this.#groupBytes + Math.round(this.#bufferedBytes / 3);
  }

  /** Rows the page being filled takes before it is encoded (a row group's last page may be shorter). */
  #pageLimit(): number {
    return Math.min(this.#pageRows, this.#rowGroupRows - this.#groupRows);
  }

  encode(rows: readonly Row[]): Uint8Array | undefined {
    // Column by column (one property name per loop: the fast path for V8), unless this batch fills a page:
    // then row by row, so pages and row groups end exactly where they always do (the bytes stay the same).
    if (rows.length > 0 && this.#bufferedRows + rows.length < this.#pageLimit() && this.#encodeByColumn(rows)) return undefined;
    const chunks: Uint8Array[] = [];
    for (const row of rows) {
      for (let c = 0; c < this.#columns.length; c += 1) {
        const column = this.#columns[c] as Column;
        const value = row[column.name];
        (this.#buffer[c] as unknown[]).push(column.convert(value));
        this.#bufferedBytes += sizeOf(value);
      }
      this.#bufferedRows += 1;
      if (this.#bufferedRows >= this.#pageLimit() || this.#bufferedBytes >= this.#pageBytes) {
        const bytes = this.#flushPage();
        if (bytes !== undefined) chunks.push(bytes);
      }
    }
    return join(chunks);
  }

  /**
   * Buffers the rows column by column when they stay below the byte limit of the page even after the
   * last one (row by row, the page would have been flushed no earlier). Otherwise buffers nothing and
   * returns false. On a value that does not convert, the buffer is put back and false returned, so that row by
   * row meets the same first bad value and throws the same error.
   */
  #encodeByColumn(rows: readonly Row[]): boolean {
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
    if (this.#bufferedBytes + bytes >= this.#pageBytes) {
      for (const buffer of this.#buffer) buffer.length = before;
      return false;
    }
    this.#bufferedBytes += bytes;
    this.#bufferedRows += rows.length;
    return true;
  }

  finish(): Uint8Array | undefined {
    const chunks: Uint8Array[] = [];
    if (this.#bufferedRows > 0) this.#encodePages();
    const last = this.#flushRowGroup();
    if (last !== undefined) chunks.push(last);
    void this.#parquet.finish();
    const tail = this.#take();
    if (tail !== undefined) chunks.push(tail);
    return join(chunks);
  }

  /** Encodes the buffered values into one page per column; ends the row group when it is full. */
  #flushPage(): Uint8Array | undefined {
    this.#encodePages();
    if (this.#groupRows >= this.#rowGroupRows || this.#groupBytes >= this.#rowGroupBytes) return this.#flushRowGroup();
    return undefined;
  }

  #encodePages(): void {
    const n = this.#bufferedRows;
    if (this.#levels.length < n) {
      this.#levels = new Uint8Array(n);
      this.#indexes = new Int32Array(n);
    }
    for (const chunk of this.#chunks) {
      const before = chunk.bytes;
      this.#encodePage(chunk, n);
      this.#groupBytes += chunk.bytes - before;
      chunk.values.length = 0;
    }
    this.#groupRows += n;
    this.#bufferedRows = 0;
    this.#bufferedBytes = 0;
  }

  /** One DATA_PAGE_V2 of the chunk's buffered values: definition levels (RLE), then SNAPPY values. */
  #encodePage(chunk: ColumnChunkState, n: number): void {
    const values = chunk.values;
    const levels = this.#levels.subarray(0, n);
    let nulls = 0;
    for (let i = 0; i < n; i += 1) {
      const present = values[i] !== null && values[i] !== undefined;
      levels[i] = present ? 1 : 0;
      if (!present) nulls += 1;
    }
    chunk.nulls += nulls;
    if (chunk.dictionary === undefined) chunk.dictionary = this.#chooseDictionary(chunk, n);
    const data = this.#data;
    data.reset();
    let encoding: Encoding;
    if (chunk.dictionary !== null && chunk.dictionaryBytes <= DICTIONARY_MAX_BYTES) {
      encoding = 'RLE_DICTIONARY';
      this.#writeIndexes(chunk, n);
      chunk.dictionaryPages += 1;
    } else {
      encoding = chunk.type === 'BOOLEAN' ? 'RLE' : 'PLAIN';
      this.#writePlain(chunk, n);
      chunk.plainPages += 1;
    }
    const levelWriter = this.#levelWriter;
    levelWriter.reset();
    const levelBytes = writeRleBitPackedHybrid(levelWriter, levels, 1);
    const compressed = snappyCompress(data.getBytes());
    const page = this.#page;
    page.reset();
    writePageHeader(page, {
      type: 'DATA_PAGE_V2',
      uncompressed_page_size: levelBytes + data.index,
      compressed_page_size: levelBytes + compressed.byteLength,
      data_page_header_v2: {
        num_values: n,
        num_nulls: nulls,
        num_rows: n,
        encoding,
        definition_levels_byte_length: levelBytes,
        repetition_levels_byte_length: 0,
        is_compressed: true,
      },
    });
    const headerBytes = page.index;
    page.appendBytes(levelWriter.getBytes());
    page.appendBytes(compressed);
    chunk.pages.push(page.getBytes().slice());
    chunk.bytes += page.index;
    chunk.uncompressed += headerBytes + levelBytes + data.index;
  }

  /**
   * At a chunk's first page: a dictionary unless its distinct values take more than 90% of the bytes of the
   * page's values (nearly all distinct: ids, timestamps), else null (PLAIN). A page is small, so values that
   * repeat across a row group may look distinct in it; a dictionary that does not pay ends at
   * {@link DICTIONARY_MAX_BYTES}. Booleans are never dictionary-encoded.
   */
  #chooseDictionary(chunk: ColumnChunkState, n: number): Map<unknown, number> | null {
    if (chunk.type === 'BOOLEAN') return null;
    const seen = new Map<unknown, number>();
    let distinct = 0;
    let total = 0;
    for (let i = 0; i < n; i += 1) {
      const value = chunk.values[i];
      if (value === null || value === undefined) continue;
      const size = entrySize(chunk.type, value);
      total += size;
      if (!seen.has(value)) {
        seen.set(value, 0);
        distinct += size;
      }
    }
    return total > 0 && distinct * 10 <= total * 9 ? new Map() : null;
  }

  /** Dictionary indexes of the non-null values (new values join the dictionary and the statistics). */
  #writeIndexes(chunk: ColumnChunkState, n: number): void {
    const dictionary = chunk.dictionary as Map<unknown, number>;
    const indexes = this.#indexes;
    let k = 0;
    let max = 0;
    // The previous value's index: a run of equal values costs no lookup.
    let last: unknown = null;
    let lastIndex = 0;
    for (let i = 0; i < n; i += 1) {
      const value = chunk.values[i];
      if (value === null || value === undefined) continue;
      let index: number | undefined = lastIndex;
      if (value !== last) {
        index = dictionary.get(value);
        if (index === undefined) {
          index = chunk.entries.length;
          dictionary.set(value, index);
          chunk.entries.push(value);
          chunk.dictionaryBytes += entrySize(chunk.type, value) + DICTIONARY_ENTRY_OVERHEAD;
          this.#observe(chunk, value, false);
        }
        last = value;
        lastIndex = index;
      }
      if (index > max) max = index;
      indexes[k++] = index;
    }
    const bitWidth = Math.ceil(Math.log2(max + 1));
    this.#data.appendUint8(bitWidth);
    writeRleBitPackedHybrid(this.#data, indexes.subarray(0, k), bitWidth);
  }

  #writePlain(chunk: ColumnChunkState, n: number): void {
    const data = this.#data;
    const values = chunk.values;
    switch (chunk.type) {
      case 'BOOLEAN': {
        const bits: number[] = [];
        for (let i = 0; i < n; i += 1) {
          const value = values[i];
          if (value === null || value === undefined) continue;
          bits.push(value === true ? 1 : 0);
          this.#observe(chunk, value, true);
        }
        const rle = this.#levelWriter;
        rle.reset();
        writeRleBitPackedHybrid(rle, bits, 1);
        data.appendUint32(rle.index);
        data.appendBytes(rle.getBytes());
        return;
      }
      case 'BYTE_ARRAY':
        for (let i = 0; i < n; i += 1) {
          const value = values[i];
          if (value === null || value === undefined) continue;
          const text = value as string;
          this.#observe(chunk, text, data.appendString(text) === text.length);
        }
        return;
      default:
        for (let i = 0; i < n; i += 1) {
          const value = values[i];
          if (value === null || value === undefined) continue;
          writeNumber(data, chunk.type, value);
          this.#observe(chunk, value, true);
        }
    }
  }

  /** Statistics: `ascii` says `<` orders this value as Parquet does (numbers, booleans, ASCII strings). */
  #observe(chunk: ColumnChunkState, value: unknown, ascii: boolean): void {
    if (chunk.min === undefined) {
      chunk.min = value;
      chunk.max = value;
      chunk.minAscii = ascii;
      chunk.maxAscii = ascii;
      return;
    }
    if (typeof value === 'string') {
      if (ascii || chunk.minAscii ? value < (chunk.min as string) : compareStrings(value, chunk.min as string) < 0) {
        chunk.min = value;
        chunk.minAscii = ascii;
      } else if (ascii || chunk.maxAscii ? value > (chunk.max as string) : compareStrings(value, chunk.max as string) > 0) {
        chunk.max = value;
        chunk.maxAscii = ascii;
      }
      return;
    }
    if ((value as number) < (chunk.min as number)) chunk.min = value;
    else if ((value as number) > (chunk.max as number)) chunk.max = value;
  }

  /** Writes the row group: each column's dictionary page (if any) and data pages, then its metadata for the footer. */
  #flushRowGroup(): Uint8Array | undefined {
    if (this.#groupRows === 0) return this.#take();
    const prefix = this.#writer.index;
    const dictionaries = this.#chunks.map((chunk) => (chunk.dictionary instanceof Map && chunk.entries.length > 0 ? this.#dictionaryPage(chunk) : undefined));
    let total = prefix;
    for (const [c, chunk] of this.#chunks.entries()) total += chunk.bytes + (dictionaries[c]?.bytes.byteLength ?? 0);
    const out = Buffer.allocUnsafeSlow(total);
    out.set(this.#writer.getBytes(), 0);
    let at = prefix;
    let position = this.#writer.offset;
    const start = position;
    let uncompressedTotal = 0n;
    const columns: ColumnChunk[] = [];
    for (const [c, chunk] of this.#chunks.entries()) {
      const chunkStart = position;
      const dictionary = dictionaries[c];
      let uncompressed = chunk.uncompressed;
      const encodings: Encoding[] = [];
      const stats: PageEncodingStats[] = [];
      if (dictionary !== undefined) {
        out.set(dictionary.bytes, at);
        at += dictionary.bytes.byteLength;
        position += dictionary.bytes.byteLength;
        uncompressed += dictionary.uncompressed;
        encodings.push('PLAIN');
        stats.push({ page_type: 'DICTIONARY_PAGE', encoding: 'PLAIN', count: 1 });
      }
      const dataStart = position;
      for (const page of chunk.pages) {
        out.set(page, at);
        at += page.byteLength;
      }
      position += chunk.bytes;
      if (chunk.dictionaryPages > 0) {
        encodings.push('RLE_DICTIONARY');
        stats.push({ page_type: 'DATA_PAGE_V2', encoding: 'RLE_DICTIONARY', count: chunk.dictionaryPages });
      }
      if (chunk.plainPages > 0) {
        const encoding = chunk.type === 'BOOLEAN' ? 'RLE' : 'PLAIN';
        if (!encodings.includes(encoding)) encodings.push(encoding);
        stats.push({ page_type: 'DATA_PAGE_V2', encoding, count: chunk.plainPages });
      }
      uncompressedTotal += BigInt(uncompressed);
      columns.push({
        file_offset: BigInt(chunkStart),
        meta_data: {
          type: chunk.type,
          encodings,
          path_in_schema: [chunk.column.name],
          codec: 'SNAPPY',
          num_values: BigInt(this.#groupRows),
          total_compressed_size: BigInt(position - chunkStart),
          total_uncompressed_size: BigInt(uncompressed),
          data_page_offset: BigInt(dataStart),
          dictionary_page_offset: dictionary === undefined ? undefined : BigInt(chunkStart),
          statistics: this.#statistics(chunk),
          encoding_stats: stats,
        },
      });
      this.#resetChunk(chunk);
    }
    this.#writer.offset = position;
    this.#writer.index = 0;
    this.#parquet.num_rows += BigInt(this.#groupRows);
    this.#parquet.row_groups.push({ columns, total_byte_size: uncompressedTotal, num_rows: BigInt(this.#groupRows), total_compressed_size: BigInt(position - start) });
    this.#emitted += total;
    this.#groupRows = 0;
    this.#groupBytes = 0;
    return out;
  }

  #statistics(chunk: ColumnChunkState): Statistics {
    let min = chunk.min;
    let max = chunk.max;
    // Signed zero as Parquet wants it: min -0, max +0.
    if (min === 0) min = -0;
    if (max === 0) max = 0;
    // nan_count as hyparquet-writer gives it for floating-point columns (its ChunkStatistics; numeric values are finite).
    const statistics = {
      min_value: min as MinMaxType | undefined,
      max_value: max as MinMaxType | undefined,
      null_count: BigInt(chunk.nulls),
      nan_count: chunk.type === 'DOUBLE' ? 0n : undefined,
    };
    return statistics;
  }

  #dictionaryPage(chunk: ColumnChunkState): { bytes: Uint8Array; uncompressed: number } {
    const data = this.#data;
    data.reset();
    for (const value of chunk.entries) {
      if (chunk.type === 'BYTE_ARRAY') data.appendString(value as string);
      else writeNumber(data, chunk.type, value);
    }
    const compressed = snappyCompress(data.getBytes());
    const page = this.#page;
    page.reset();
    writePageHeader(page, {
      type: 'DICTIONARY_PAGE',
      uncompressed_page_size: data.index,
      compressed_page_size: compressed.byteLength,
      dictionary_page_header: { num_values: chunk.entries.length, encoding: 'PLAIN' },
    });
    const headerBytes = page.index;
    page.appendBytes(compressed);
    return { bytes: page.getBytes().slice(), uncompressed: headerBytes + data.index };
  }

  #resetChunk(chunk: ColumnChunkState): void {
    chunk.pages = [];
    chunk.bytes = 0;
    chunk.uncompressed = 0;
    chunk.dictionary = undefined;
    chunk.entries = [];
    chunk.dictionaryBytes = 0;
    chunk.dictionaryPages = 0;
    chunk.plainPages = 0;
    chunk.nulls = 0;
    chunk.min = undefined;
    chunk.max = undefined;
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

function writeNumber(data: ByteWriter, type: ColumnChunkState['type'], value: unknown): void {
  if (type === 'INT32') data.appendInt32(value as number);
  else if (type === 'INT64') {
    // Two's complement from a number: the low 32 bits, then the high (exact for every integer in INT64's range).
    const n = value as number;
    data.appendUint32(n >>> 0);
    data.appendInt32(Math.floor(n / 4_294_967_296));
  }
  else data.appendFloat64(value as number);
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
