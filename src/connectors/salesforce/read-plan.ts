import type { FieldValue, Row } from '../../core/types.ts';
import { isInheritedName, ownValue, rowFrom, rowTemplate } from '../../formats/rows.ts';
import { base64Reference, canonicalCompound, canonicalDatetime, componentKey, fromBulk, fromRest } from '../../api-selection/normalize.ts';
import type { SfField, SfObject } from './describe.ts';
import { csvCell, csvText } from '../../formats/csv.ts';
import type { LineBuffer } from '../../formats/line-buffer.ts';
import { BYTE_CSV_QUOTE, BYTE_JSON_ESCAPE, BYTE_NON_ASCII, BYTE_QUOTE, EMIT_ROOM, type BulkCsvRecords } from '../../salesforce-wire/csv-reader.ts';

/**
 * How the requested output fields map onto what each API can select.
 * - REST selects compound fields directly; Bulk cannot, so it selects their components and we rebuild.
 * - base64 fields are never selected: both APIs produce the same reference (the blob's REST URL).
 */
export interface ReadPlan {
  readonly object: SfObject;
  readonly output: readonly SfField[];
  /** Fields to put in the SOQL SELECT for this API (always includes Id). */
  readonly select: readonly SfField[];
}

export function planRead(object: SfObject, output: readonly SfField[], api: 'REST_SYNC' | 'BULKV2'): ReadPlan {
  const select: SfField[] = [];
  const seen = new Set<string>();
  const add = (f: SfField): void => {
    if (!seen.has(f.name)) {
      seen.add(f.name);
      select.push(f);
    }
  };
  const id = object.field('Id');
  if (id) add(id);
  for (const f of output) {
    if (f.type === 'base64') continue;
    if (api === 'BULKV2' && object.isCompound(f)) {
      for (const c of object.components(f)) add(c);
      continue;
    }
    add(f);
  }
  return { object, output, select };
}

/** One output column, compiled once per read: its value for a source record (REST JSON or Bulk CSV cells). */
type Column<T> = (source: T) => FieldValue;

function base64Column<T>(plan: ReadPlan, version: string, f: SfField, id: (source: T) => FieldValue): Column<T> {
  return (src) => {
    const v = id(src);
    return v === null ? null : base64Reference(version, plan.object.name, String(v), f.name);
  };
}

/** Rows of the plan's output fields, in order: built from a template so they are fast, same-shaped objects. */
function rowBuilder<T>(plan: ReadPlan, columns: ReadonlyArray<Column<T>>): (source: T) => Row {
  const names = plan.output.map((f) => f.name);
  const template = rowTemplate(names);
  const n = names.length;
  return (source) => {
    const row = rowFrom(template);
    for (let i = 0; i < n; i++) row[names[i] as string] = (columns[i] as Column<T>)(source);
    return row;
  };
}

/** Compile a REST record → canonical row function for a plan (once per read). */
export function restRowBuilder(plan: ReadPlan, version: string): (record: Readonly<Record<string, unknown>>) => Row {
  const columns: Array<Column<Readonly<Record<string, unknown>>>> = plan.output.map((f) => {
    if (f.type === 'base64') return base64Column(plan, version, f, (r) => (r['Id'] as FieldValue | undefined) ?? null);
    const name = f.name;
    // A name Object.prototype also has (only a hostile describe could send one) is read as the record's own key.
    if (isInheritedName(name)) return (r) => fromRest(f, ownValue(r, name));
    return (r) => fromRest(f, r[name]);
  });
  return rowBuilder(plan, columns);
}

/**
 * How a Bulk column becomes a canonical value, chosen once per results page header and applied in one loop with
 * a switch (no call per cell): what fromBulk does for the type, the common types inline. `other` columns
 * (compound, base64, time, a field missing from the header) keep a function of the whole record.
 */
const enum Cell {
  /** Text of every type not listed below: the cell as it is; an empty cell is null. */
  Text,
  Datetime,
  Boolean,
  Number,
  Other,
}

/**
 * A number cell that is already its value's text (`String(Number(cell)) === cell`), so a line copies it: plain
 * decimal, no leading or trailing zero, at most 15 characters (so at most 15 significant digits, which a double
 * keeps exactly and prints as written), not below 1e-6 (printed with an exponent), and not -0 (printed 0).
 */
const PLAIN_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;
function isCanonicalNumber(cell: string): boolean {
  return cell.length <= 15 && PLAIN_NUMBER.test(cell) && cell !== '-0' && !/^-?0\.0{6}/.test(cell);
}

/** What JSON.stringify escapes in a string (surrogates: only lone ones, so any sends the text through it). */
// eslint-disable-next-line no-control-regex -- control characters are among what JSON.stringify escapes
const JSON_ESCAPES = /["\\\u0000-\u001f\ud800-\udfff]/;
const CANONICAL_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function cellKind(f: SfField): Cell {
  switch (f.type) {
    case 'datetime':
      return Cell.Datetime;
    case 'boolean':
      return Cell.Boolean;
    case 'int':
    case 'long':
    case 'double':
    case 'currency':
    case 'percent':
      return Cell.Number;
    case 'time':
      return Cell.Other;
    default:
      return Cell.Text;
  }
}

/** The columns of a Bulk results page, compiled once per header: each output field's kind, cell position, function. */
interface BulkColumns {
  readonly names: readonly string[];
  readonly kinds: readonly Cell[];
  readonly positions: readonly number[];
  readonly others: ReadonlyArray<Column<readonly string[]> | undefined>;
  /** The cell positions each `other` column's function reads (none for the others). */
  readonly reads: ReadonlyArray<readonly number[]>;
  /** A location column's latitude and longitude cells, when it has one of each. */
  readonly locations: ReadonlyArray<readonly [number, number] | undefined>;
}

function bulkColumns(plan: ReadPlan, version: string, header: readonly string[]): BulkColumns {
  const indexOf = new Map(header.map((h, i) => [h.toLowerCase(), i]));
  const idIndex = indexOf.get('id');
  const names = plan.output.map((f) => f.name);
  const kinds: Cell[] = [];
  const positions: number[] = [];
  const others: Array<Column<readonly string[]> | undefined> = [];
  const reads: number[][] = [];
  const locations: Array<readonly [number, number] | undefined> = [];
  for (const f of plan.output) {
    let location: readonly [number, number] | undefined;
    let kind = cellKind(f);
    let other: Column<readonly string[]> | undefined;
    let read: number[] = [];
    const i = indexOf.get(f.name.toLowerCase());
    if (f.type === 'base64') {
      kind = Cell.Other;
      other = base64Column(plan, version, f, (cells) => (idIndex === undefined ? null : (cells[idIndex] ?? null) || null));
      if (idIndex !== undefined) read = [idIndex];
    } else if (plan.object.isCompound(f)) {
      kind = Cell.Other;
      const type = f.type === 'location' ? 'location' : 'address';
      const parts = plan.object
        .components(f)
        .map((c) => ({ field: c, key: componentKey(f, c), index: indexOf.get(c.name.toLowerCase()) }))
        .filter((p): p is { field: SfField; key: string; index: number } => p.key !== undefined && p.index !== undefined);
      read = parts.map((p) => p.index);
      const lat = parts.filter((p) => p.key === 'latitude');
      const lon = parts.filter((p) => p.key === 'longitude');
      if (type === 'location' && parts.length === 2 && lat.length === 1 && lon.length === 1) location = [(lat[0] as { index: number }).index, (lon[0] as { index: number }).index];
      other = (cells) => {
        // Every component empty (most records have no address or location): null, as canonicalCompound says.
        if (parts.every((p) => cells[p.index] === undefined || cells[p.index] === '')) return null;
        const raw: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        for (const p of parts) raw[p.key] = fromBulk(p.field, cells[p.index]);
        return canonicalCompound(type, raw);
      };
    } else if (i === undefined) {
      kind = Cell.Other;
      other = () => null;
    } else if (kind === Cell.Other) {
      other = (cells) => fromBulk(f, cells[i]);
      read = [i];
    }
    kinds.push(kind);
    positions.push(i ?? -1);
    others.push(other);
    reads.push(read);
    locations.push(location);
  }
  return { names, kinds, positions, others, reads, locations };
}

/**
 * Compile a Bulk CSV row (cells by header position) → canonical row function, once per results page header.
 * The values are fromBulk's (test/connectors/salesforce-read-canonical.test.ts holds Bulk and REST reads of every
 * type to the same records); a type-coded loop instead of two calls per cell costs about 7% less CPU on the Bulk
 * export benchmark's rows (issue 13).
 */
export function bulkRowBuilder(plan: ReadPlan, version: string, header: readonly string[]): (cells: readonly string[]) => Row {
  const { names, kinds, positions, others } = bulkColumns(plan, version, header);
  const n = names.length;
  const template = rowTemplate(names);
  return (cells) => {
    const row = rowFrom(template);
    for (let k = 0; k < n; k++) {
      const kind = kinds[k] as Cell;
      let value: FieldValue = null;
      if (kind === Cell.Other) value = (others[k] as Column<readonly string[]>)(cells);
      else {
        const cell = cells[positions[k] as number];
        if (cell !== undefined && cell !== '') {
          switch (kind) {
            case Cell.Text:
              value = cell;
              break;
            case Cell.Datetime:
              value = CANONICAL_DATETIME.test(cell) ? cell : canonicalDatetime(cell);
              break;
            case Cell.Boolean:
              value = cell === 'true';
              break;
            default: {
              const number = Number(cell);
              value = Number.isFinite(number) ? number : null;
            }
          }
        }
      }
      row[names[k] as string] = value;
    }
    return row;
  };
}

/** How {@link bulkLineWriter} writes a column from a record's bytes. */
const enum Rule {
  Text,
  Datetime,
  Boolean,
  Number,
  /** A time cell (fromBulk's canonicalTime): copied when already `HH:MM:SS.sssZ`. */
  Time,
  /** Its text from the decoded cells it reads (compound, base64, a field missing from the header, ...). */
  Column,
}

/** One page's line writer: the line of a record given as cells, or as bytes. */
export interface BulkLineWriter {
  /** The line of a record's cells (without its line end). */
  line(cells: readonly string[]): string;
  /** Writes the line (and its LF) of the reader's {@link BYTES_RECORD} record into `out`. */
  write(records: BulkCsvRecords, out: LineBuffer): void;
  /**
   * Records written from their bytes (`emitted` of them by the scanner's module, the others by JavaScript), records
   * parsed again as cells (a width other than the header's, invalid UTF-8), and column texts built from decoded
   * cells (a value not already as written, a compound, base64 or missing column; its text for empty cells is built
   * once).
   */
  readonly stats: { copied: number; emitted: number; reparsed: number; texts: number };
}

/** `HH:MM:SS.sssZ` and `YYYY-MM-DDTHH:MM:SS.sssZ`: 0 a digit, else the byte itself. */
const TIME_SHAPE = Buffer.from('00:00:00.000Z');
const DATETIME_SHAPE = Buffer.from('0000-00-00T00:00:00.000Z');

function shaped(buf: Uint8Array, s: number, e: number, shape: Uint8Array): boolean {
  if (e - s !== shape.length) return false;
  for (let j = 0; j < shape.length; j++) {
    const b = buf[s + j] as number;
    const want = shape[j] as number;
    if (want === 48 ? (b - 48) >>> 0 > 9 : b !== want) return false;
  }
  return true;
}

/** {@link isCanonicalNumber} on bytes. */
function canonicalNumberAt(buf: Uint8Array, s: number, e: number): boolean {
  if (e - s > 15) return false;
  let j = s;
  const negative = buf[j] === 45;
  if (negative) j++;
  if (j >= e) return false;
  const lead = buf[j] as number;
  if (lead === 48) j++;
  else if (lead > 48 && lead <= 57) {
    while (j < e && (buf[j] as number) >= 48 && (buf[j] as number) <= 57) j++;
  } else return false;
  if (j === e) return !(negative && lead === 48 && e - s === 2);
  if (buf[j] !== 46) return false;
  const dot = ++j;
  while (j < e && (buf[j] as number) >= 48 && (buf[j] as number) <= 57) j++;
  if (j !== e || j === dot || buf[e - 1] === 48) return false;
  // Below 1e-6: printed with an exponent.
  if (lead === 48 && e - dot >= 6) {
    for (let z = dot; z < dot + 6; z++) if (buf[z] !== 48) return true;
    return false;
  }
  return true;
}

/**
 * The end of a number cell's text as the builder writes it, when it is the cell's start: the cell itself when
 * {@link canonicalNumberAt}, or without the zeros ending its decimals (and a bare dot) when that is (`12.50`,
 * `3.0`: Java's doubles, as Bulk writes them); else -1.
 */
function numberTextEnd(buf: Uint8Array, s: number, e: number): number {
  if (s === e) return -1;
  if (canonicalNumberAt(buf, s, e)) return e;
  if (buf[e - 1] !== 48) return -1;
  let dot = s;
  while (dot < e && buf[dot] !== 46) dot++;
  if (dot === e) return -1;
  let t = e;
  while (t > dot + 1 && buf[t - 1] === 48) t--;
  if (t === dot + 1) t = dot;
  return canonicalNumberAt(buf, s, t) ? t : -1;
}

const NULL = Buffer.from('null');
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL_VIEW = viewOf(NULL);
const TRUE_VIEW = viewOf(TRUE);
const FALSE_VIEW = viewOf(FALSE);
/** JSON.stringify's escapes of the bytes below 0x20 and `"`, `\`. */
const JSON_ESCAPE_TEXT: readonly Buffer[] = Array.from({ length: 0x60 }, (_, b) => Buffer.from(JSON.stringify(String.fromCharCode(b)).slice(1, -1)));

/**
 * Copies `from[s, e)` to `to` at `o` (the views are the same bytes'): four bytes at a time through the DataViews
 * (2-3× a loop of bytes on 8-100-byte spans, faster than a native copy's call below about 200 bytes), natively above.
 */
function copy(from: Buffer, fv: DataView, s: number, e: number, to: Buffer, tv: DataView, o: number): number {
  if (e - s > 256) return o + from.copy(to, o, s, e);
  let j = s;
  for (; j + 8 <= e; j += 8, o += 8) {
    tv.setUint32(o, fv.getUint32(j, true), true);
    tv.setUint32(o + 4, fv.getUint32(j + 4, true), true);
  }
  if (j + 4 <= e) {
    tv.setUint32(o, fv.getUint32(j, true), true);
    j += 4;
    o += 4;
  }
  for (; j < e; j++) to[o++] = from[j] as number;
  return o;
}

function viewOf(bytes: Buffer): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * bulkLineWriter's program for the scanner module's emit() (csv-scan.wat, where its layout is described): the
 * column rules (Rule's values; a location 6), cells and texts, then the texts, each with 16 bytes of room after it
 * (the module copies 16 bytes at a time).
 */
function lineProgram(
  csv: boolean,
  rules: Uint8Array,
  positions: readonly number[],
  keys: readonly Buffer[],
  reads: ReadonlyArray<readonly number[]>,
  emptyTexts: readonly Buffer[],
  locations: ReadonlyArray<readonly [number, number] | undefined>,
  texts: { end: Buffer; latitude: Buffer; longitude: Buffer; locationEnd: Buffer },
): Uint8Array {
  const n = rules.length;
  const parts: Buffer[] = [];
  let at = 64 + 48 * n;
  const place = (bytes: Uint8Array): number => {
    const offset = at;
    parts.push(Buffer.from(bytes), Buffer.alloc(16 + ((16 - (bytes.length % 16)) % 16)));
    at += bytes.length + 16 + ((16 - (bytes.length % 16)) % 16);
    return offset;
  };
  const head = new Int32Array(16 + 12 * n);
  const text = (word: number, bytes: Uint8Array): void => {
    head[word] = place(bytes);
    head[word + 1] = bytes.length;
  };
  head[0] = n;
  head[1] = csv ? 1 : 0;
  text(2, texts.end);
  text(4, texts.latitude);
  text(6, texts.longitude);
  text(8, texts.locationEnd);
  const escapes = Buffer.alloc(8 * 0x60);
  for (let b = 0; b < 0x60; b++) (JSON_ESCAPE_TEXT[b] as Buffer).copy(escapes, 8 * b);
  head[10] = place(escapes);
  head[11] = place(Buffer.from(JSON_ESCAPE_TEXT.map((e) => e.length)));
  head[12] = place(DATETIME_SHAPE);
  head[13] = place(TIME_SHAPE);
  for (let k = 0; k < n; k++) {
    const w = 16 + 12 * k;
    const location = locations[k];
    head[w] = rules[k] === Rule.Column && location !== undefined ? 6 : (rules[k] as number);
    head[w + 1] = positions[k] as number;
    text(w + 2, keys[k] as Buffer);
    const read = reads[k] as readonly number[];
    head[w + 4] = place(new Uint8Array(Int32Array.from(read).buffer));
    head[w + 5] = read.length;
    text(w + 6, emptyTexts[k] as Buffer);
    head[w + 8] = location?.[0] ?? 0;
    head[w + 9] = location?.[1] ?? 0;
  }
  return Buffer.concat([Buffer.from(head.buffer), ...parts]);
}

/**
 * Compile a Bulk CSV row → one line of an output file (CSV or JSON lines, without its line end), the same text the
 * file's encoder writes for the row {@link bulkRowBuilder} builds (issue 13: a Map_all export to a file writes
 * Bulk's cells without building rows). Each cell gets the builder's value rule, then the encoder's text rule:
 * CSV as CsvEncoder (src/formats/csv.ts: null an empty cell, strings quoted when they need it), JSON lines as
 * JsonLinesEncoder (`JSON.stringify` of the row, key by key).
 *
 * `write` writes a record from its bytes ({@link BulkCsvRecords}), with no string per cell, what `line` gives for
 * its cells: Bulk quotes every value as RFC 4180 does, so a cell's bytes between its quotes are its CSV text
 * (quoted again when the encoder quotes it) and, with `""` → `\"`, `\` and controls escaped, its JSON text. Text
 * is copied (non-ASCII once the record is valid UTF-8, which decodes and encodes to the same bytes), booleans
 * compared, numbers, datetimes and times copied when already as the builder writes them; any other column gets
 * `line`'s text of its decoded cells; a record of another width or invalid UTF-8 is parsed again as cells.
 *
 * Those rules for the common cells (text, booleans, numbers, datetimes and times as written, a location's numbers,
 * compounds and missing fields whose cells are empty) run in the scanner's WebAssembly module too (csv-scan.wat,
 * emit, with the program {@link lineProgram} makes): a record whose cells are all of those is written there, any
 * other by the JavaScript below (the reference). The module's lines gather in its output room and are copied into
 * the batch with one call (LineBuffer.defer): in process, one 23.5 MB page of 50,000 `Invoice__c` records went from
 * about 4.4-4.9 to 1.8-2.0 ns a byte of results for CSV lines and 5.8-6.4 to 2.1-2.2 for JSON lines, the scan
 * (0.8) included (docs/benchmarks.md).
 * test/connectors/salesforce-bulk-lines.test.ts holds both to the encoders' bytes on every field type and tricky
 * cells, the bytes fed in chunks of every size.
 */
export function bulkLineWriter(plan: ReadPlan, version: string, header: readonly string[], format: 'CSV' | 'JSON'): BulkLineWriter {
  const { names, kinds, positions, others, reads, locations } = bulkColumns(plan, version, header);
  const n = names.length;
  const csv = format === 'CSV';
  const empty = csv ? '' : 'null';
  /** Column k's text in the line. */
  const text = (k: number, cells: readonly string[]): string => {
    const kind = kinds[k] as Cell;
    if (kind === Cell.Other) {
      const value = (others[k] as Column<readonly string[]>)(cells);
      return csv ? csvCell(value) : JSON.stringify(value);
    }
    const cell = cells[positions[k] as number];
    if (cell === undefined || cell === '') return empty;
    switch (kind) {
      case Cell.Text:
        // JSON: text JSON.stringify would copy unchanged (no quote, backslash, control character or surrogate) is quoted as it is.
        return csv ? csvText(cell) : JSON_ESCAPES.test(cell) ? JSON.stringify(cell) : `"${cell}"`;
      case Cell.Datetime:
        if (CANONICAL_DATETIME.test(cell)) return csv ? cell : `"${cell}"`;
        return csv ? csvText(canonicalDatetime(cell)) : JSON.stringify(canonicalDatetime(cell));
      case Cell.Boolean:
        return cell === 'true' ? 'true' : 'false';
      default: {
        if (isCanonicalNumber(cell)) return cell;
        const number = Number(cell);
        return Number.isFinite(number) ? String(number) : empty;
      }
    }
  };
  // JSON: the key of each value, with what goes before it: `{"Id":`, `,"Name":`, ... (JSON.stringify's own escaping).
  const keys = names.map((name, k) => `${k === 0 ? '{' : ','}${JSON.stringify(name)}:`);
  const line = csv
    ? (cells: readonly string[]): string => {
      let line = '';
      for (let k = 0; k < n; k++) {
        if (k > 0) line += ',';
        line += text(k, cells);
      }
      return line;
    }
    : (cells: readonly string[]): string => {
      let line = n === 0 ? '{' : '';
      for (let k = 0; k < n; k++) line += (keys[k] as string) + text(k, cells);
      return `${line}}`;
    };

  const stats = { copied: 0, emitted: 0, reparsed: 0, texts: 0 };
  const width = header.length;
  const rules = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const kind = kinds[k] as Cell;
    const time = kind === Cell.Other && plan.output[k]?.type === 'time' && (positions[k] as number) >= 0;
    rules[k] = kind === Cell.Other ? (time ? Rule.Time : Rule.Column) : kind === Cell.Text ? Rule.Text : kind === Cell.Datetime ? Rule.Datetime : kind === Cell.Boolean ? Rule.Boolean : Rule.Number;
  }
  const keyBytes = keys.map((key) => Buffer.from(csv ? '' : key));
  const LATITUDE = Buffer.from(csv ? '"{""latitude"":' : '{"latitude":');
  const LONGITUDE = Buffer.from(csv ? ',""longitude"":' : ',"longitude":');
  const LOCATION_END = Buffer.from(csv ? '}"' : '}');
  const keyViews = keyBytes.map(viewOf);
  const keysLength = keyBytes.reduce((sum, key) => sum + key.length, 0);
  const latitudeView = viewOf(LATITUDE);
  const longitudeView = viewOf(LONGITUDE);
  const locationEndView = viewOf(LOCATION_END);
  const end = Buffer.from(csv ? '\n' : `${n === 0 ? '{' : ''}}\n`);
  const endView = viewOf(end);
  // The DataView of the output buffer, made again when the buffer is.
  let outBuffer: Buffer | undefined;
  let outView = viewOf(end);
  const outViewOf = (ob: Buffer): DataView => {
    if (ob !== outBuffer) {
      outBuffer = ob;
      outView = viewOf(ob);
    }
    return outView;
  };
  const emptyTexts: Array<{ bytes: Buffer; view: DataView } | undefined> = new Array<{ bytes: Buffer; view: DataView } | undefined>(n);
  const scratch: string[] = new Array<string>(width).fill('');

  /** Cell i of the bytes record, decoded as the parser gives it. */
  const decode = (records: BulkCsvRecords, i: number): string => {
    const s = records.starts[i] as number;
    const e = records.ends[i] as number;
    if (s === e) return '';
    const f = records.flags[i] as number;
    const cell = records.buf.toString((f & BYTE_NON_ASCII) === 0 ? 'latin1' : 'utf8', s, e);
    return (f & BYTE_QUOTE) === 0 ? cell : cell.replaceAll('""', '"');
  };
  /** Column k's text from the record's decoded cells (as bytes when they are all empty: always the same). */
  const columnText = (k: number, records: BulkCsvRecords): string | { bytes: Buffer; view: DataView } => {
    const read = reads[k] as readonly number[];
    let blank = true;
    for (const i of read) if (records.starts[i] !== records.ends[i]) blank = false;
    if (blank) {
      for (const i of read) scratch[i] = '';
      if (emptyTexts[k] === undefined) {
        const bytes = Buffer.from(text(k, scratch));
        emptyTexts[k] = { bytes, view: viewOf(bytes) };
      }
      return emptyTexts[k];
    }
    for (const i of read) scratch[i] = decode(records, i);
    stats.texts++;
    return text(k, scratch);
  };

  // The module's program (csv-scan.wat, emit): the same rules for the common cells, a record with any other left
  // to the loop below. Its room: every key and empty text, a location's texts, the cells' bytes escaped, quotes,
  // commas or 'false', the line end.
  const blank = new Array<string>(width).fill('');
  const emptyBytes = Array.from(rules, (rule, k) => (rule === Rule.Column ? Buffer.from(text(k, blank)) : Buffer.alloc(0)));
  const program = lineProgram(csv, rules, positions, keyBytes, reads, emptyBytes, locations, { end, latitude: LATITUDE, longitude: LONGITUDE, locationEnd: LOCATION_END });
  const programRoom = keysLength + 8 * n + 8 + emptyBytes.reduce((sum, b) => sum + b.length, 0) + locations.filter((l) => l !== undefined).length * (LATITUDE.length + LONGITUDE.length + LOCATION_END.length);

  // Lines the module wrote at the start of its output room, not yet copied into `pendingOut`: copied with one call
  // before anything else is appended to it or read (LineBuffer.defer), when the room is full, or before a record
  // written another way.
  let pending = 0;
  let pendingOut: LineBuffer | undefined;
  let pendingRecords: BulkCsvRecords | undefined;
  const settle = (out: LineBuffer): void => {
    if (pending === 0 || out !== pendingOut) return;
    const length = pending;
    pending = 0;
    pendingOut = undefined;
    const ob = out.reserve(length);
    const o = out.length;
    (pendingRecords as BulkCsvRecords).output.copy(ob, o, 0, length);
    out.advance(o + length);
  };

  const write = (records: BulkCsvRecords, out: LineBuffer): void => {
    if (pending > 0 && (out !== pendingOut || records !== pendingRecords)) settle(pendingOut as LineBuffer);
    if (records.count !== width || ((records.classes & BYTE_NON_ASCII) !== 0 && !records.utf8())) {
      stats.reparsed++;
      out.line(line(records.cellsOfBytes()));
      return;
    }
    const most = programRoom + 6 * (records.end - records.start) + 32;
    if (pending + most > EMIT_ROOM) settle(out);
    if (most <= EMIT_ROOM) {
      const end = records.emit(program, pending);
      if (end >= 0) {
        if (pending === 0) {
          pendingOut = out;
          pendingRecords = records;
          out.defer(settle);
        }
        pending = end;
        stats.copied++;
        stats.emitted++;
        return;
      }
    }
    const buf = records.buf;
    const { starts, ends, flags } = records;
    const bv = records.view;
    // Room for the whole record from its bytes, reserved once: every key, every cell's bytes escaped (6 bytes at
    // most for one), quotes, a comma or 'false' per cell, and the line end. A text built from decoded cells
    // reserves its own room, and this again after it.
    const room = keysLength + 6 * (records.end - records.start) + 8 * n + 8;
    let ob = out.reserve(room);
    let ov = outViewOf(ob);
    let o = out.length;
    for (let k = 0; k < n; k++) {
      const rule = rules[k] as Rule;
      const i = positions[k] as number;
      const s = rule === Rule.Column ? 0 : (starts[i] as number);
      const e = rule === Rule.Column ? 0 : (ends[i] as number);
      const key = keyBytes[k] as Buffer;
      if (csv) {
        if (k > 0) ob[o++] = 44;
      } else o = copy(key, keyViews[k] as DataView, 0, key.length, ob, ov, o);
      let value: string | { bytes: Buffer; view: DataView };
      if (rule === Rule.Column) {
        // A location whose latitude and longitude are both numbers as written: {"latitude":…,"longitude":…}.
        const location = locations[k];
        if (location !== undefined) {
          const [la, lo] = location;
          const laEnd = numberTextEnd(buf, starts[la] as number, ends[la] as number);
          const loEnd = laEnd < 0 ? -1 : numberTextEnd(buf, starts[lo] as number, ends[lo] as number);
          if (loEnd >= 0 && o + 64 + laEnd + loEnd - (starts[la] as number) - (starts[lo] as number) <= ob.length) {
            o = copy(LATITUDE, latitudeView, 0, LATITUDE.length, ob, ov, o);
            o = copy(buf, bv, starts[la] as number, laEnd, ob, ov, o);
            o = copy(LONGITUDE, longitudeView, 0, LONGITUDE.length, ob, ov, o);
            o = copy(buf, bv, starts[lo] as number, loEnd, ob, ov, o);
            o = copy(LOCATION_END, locationEndView, 0, LOCATION_END.length, ob, ov, o);
            continue;
          }
        }
        value = columnText(k, records);
      } else if (s === e) {
        if (!csv) o = copy(NULL, NULL_VIEW, 0, 4, ob, ov, o);
        continue;
      } else {
        switch (rule) {
          case Rule.Text: {
            const f = flags[i] as number;
            if (csv) {
              if ((f & BYTE_CSV_QUOTE) === 0) o = copy(buf, bv, s, e, ob, ov, o);
              else {
                ob[o++] = 34;
                o = copy(buf, bv, s, e, ob, ov, o);
                ob[o++] = 34;
              }
            } else {
              ob[o++] = 34;
              if ((f & BYTE_JSON_ESCAPE) === 0) o = copy(buf, bv, s, e, ob, ov, o);
              else {
                for (let j = s; j < e; j++) {
                  const b = buf[j] as number;
                  if (b < 0x20 || b === 92 || b === 34) {
                    const escape = JSON_ESCAPE_TEXT[b] as Buffer;
                    for (let x = 0; x < escape.length; x++) ob[o++] = escape[x] as number;
                    if (b === 34) j++; // "" is one quote
                  } else ob[o++] = b;
                }
              }
              ob[o++] = 34;
            }
            continue;
          }
          case Rule.Boolean:
            o = e - s === 4 && buf[s] === 116 && buf[s + 1] === 114 && buf[s + 2] === 117 && buf[s + 3] === 101 ? copy(TRUE, TRUE_VIEW, 0, 4, ob, ov, o) : copy(FALSE, FALSE_VIEW, 0, 5, ob, ov, o);
            continue;
          case Rule.Number: {
            const t = numberTextEnd(buf, s, e);
            if (t > 0) {
              o = copy(buf, bv, s, t, ob, ov, o);
              continue;
            }
            break;
          }
          default:
            if (shaped(buf, s, e, rule === Rule.Time ? TIME_SHAPE : DATETIME_SHAPE)) {
              if (!csv) ob[o++] = 34;
              o = copy(buf, bv, s, e, ob, ov, o);
              if (!csv) ob[o++] = 34;
              continue;
            }
        }
        // Not as the builder writes it: its text of the decoded cell.
        if (rule === Rule.Time) value = columnText(k, records);
        else {
          scratch[i] = decode(records, i);
          stats.texts++;
          value = text(k, scratch);
        }
      }
      if (typeof value === 'string') {
        out.advance(o);
        ob = out.reserve(value.length * 3 + room);
        ov = outViewOf(ob);
        o = out.length;
        o += ob.write(value, o);
      } else {
        const { bytes, view } = value;
        if (o + bytes.length + room > ob.length) {
          out.advance(o);
          ob = out.reserve(bytes.length + room);
          ov = outViewOf(ob);
          o = out.length;
        }
        o = copy(bytes, view, 0, bytes.length, ob, ov, o);
      }
    }
    if (o + 3 > ob.length) {
      out.advance(o);
      ob = out.reserve(3);
      ov = outViewOf(ob);
      o = out.length;
    }
    o = copy(end, endView, 0, end.length, ob, ov, o);
    out.advance(o);
    stats.copied++;
  };
  return { line, write, stats };
}
