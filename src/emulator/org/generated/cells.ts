/**
 * How the Bulk CSV fast path holds one generated row: as cells, one per selected column (a slice of the plan's
 * arena of pre-encoded text, an id, a datetime, an external id or an encoded string), filled by the record
 * generator (values.ts) without building the record, and written here as bytes. Also the byte-level writers
 * of ids and datetimes that make the fast path fast.
 */
import { checksum } from '../../../salesforce-wire/ids.ts';
import { encodeCounter, POD } from '../../ids.ts';
import type { StoredValue } from '../record.ts';

/** Prefix of generated external ids: record i has `GEN-<i + 1>`. */
export const GENERATED_EXTERNAL_ID_PREFIX = 'GEN-';

/** The encoded text of a value of one field (e.g. a Bulk CSV cell without its quotes). */
export type Encoder = (value: StoredValue | undefined) => string;

/** How one selected column is encoded. */
export interface ColumnEncoder {
  readonly encode: Encoder;
  /** True when `encode(s) === s` for every string without a `"`: ids and datetimes are then written directly. */
  readonly plainText: boolean;
}

/** The text before the first cell, between cells and after the last cell of every row (CSV: `"`, `","`, `"\n`). */
export interface RowShape {
  readonly open: string;
  readonly separator: string;
  readonly close: string;
}

const enum Cell {
  /** Bytes of the plan's arena (pre-encoded values, nulls, constants). */
  Arena,
  /** An id of `cellMinter` for counter `cellNum`. */
  Id,
  /** An ISO datetime of epoch ms `cellNum`. */
  Iso,
  /** `GEN-<cellNum>`. */
  Ext,
  /** Encoded text in `cellStr`. */
  Str,
}

/** What a fill computes for some selected fields, and where their encoded bytes are. */
export interface FillPlan {
  /** Per field position: the output position, or -1 when not selected. */
  readonly pos: Int32Array;
  /** Per field position: 1 when selected. */
  readonly want: Uint8Array;
  /** Per output position. */
  readonly encoders: readonly ColumnEncoder[];
  /** Pre-encoded bytes of vocabulary values, constants and nulls. */
  readonly arena: Uint8Array;
  /** A row's cells before its values are drawn: nulls and per-table constants (CreatedById, IsDeleted). */
  readonly initStart: Int32Array;
  readonly initLen: Int32Array;
  /** Per generator: output position of a Const or Vocab field (-1 otherwise), and its values' arena slices. */
  readonly genPos: Int32Array;
  readonly genStart: readonly (Int32Array | undefined)[];
  readonly genLen: readonly (Int32Array | undefined)[];
  /** Per Tuple generator: output position of each component, and the arena slices of each row's components. */
  readonly tuplePos: readonly (Int32Array | undefined)[];
  readonly tupleStart: readonly (readonly Int32Array[] | undefined)[];
  readonly tupleLen: readonly (readonly Int32Array[] | undefined)[];
  /** The object derives values (formulas, person names): records are built whole and then encoded. */
  readonly derived: boolean;
  /** The current row's cells, by output position. */
  readonly cellKind: Uint8Array;
  readonly cellStart: Int32Array;
  readonly cellLen: Int32Array;
  readonly cellNum: Float64Array;
  readonly cellStr: string[];
  readonly cellMinter: (IdMinter | undefined)[];
  /** Upper bound of a row's bytes, not counting Str cells. */
  readonly fixedMax: number;
  /** Characters of the current row's Str cells. */
  strChars: number;
}

export const START_MS = Date.parse('2021-01-04T08:00:00.000Z');
export const SPAN_MS = Date.parse('2024-06-28T18:00:00.000Z') - START_MS;
const PAD2: readonly string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** "SS." for each second of a minute and "mmmZ" for each millisecond of a second. */
const SECS: readonly string[] = PAD2.map((p) => `${p}.`);
const MSZ: readonly string[] = PAD3.map((p) => `${p}Z`);
/** "HH:mm:" for each minute of a day. */
const TIMES: readonly string[] = Array.from({ length: 1440 }, (_, m) => `${PAD2[(m / 60) | 0]}:${PAD2[m % 60]}:`);
/** Generated datetimes fall in [START_MS, START_MS + SPAN_MS + 62 days]: "YYYY-MM-DDT" of each day of that range. */
const BASE_DAY_MS = START_MS - (START_MS % 86_400_000);
const DAY_PREFIXES: readonly string[] = Array.from({ length: Math.ceil(SPAN_MS / 86_400_000) + 64 }, (_, d) =>
  new Date(BASE_DAY_MS + d * 86_400_000).toISOString().slice(0, 11),
);

/** ISO-8601 with ms and Z, like `Date#toISOString` but from tables of days, minutes, seconds and milliseconds. */
export function isoText(ms: number): string {
  const day = Math.floor((ms - BASE_DAY_MS) / 86_400_000);
  const dayPrefix = DAY_PREFIXES[day];
  if (dayPrefix === undefined) return new Date(ms).toISOString();
  const rest = ms - BASE_DAY_MS - day * 86_400_000;
  const minute = (rest / 60_000) | 0;
  const msInMinute = rest - minute * 60_000;
  const sec = (msInMinute / 1000) | 0;
  return dayPrefix + (TIMES[minute] as string) + (SECS[sec] as string) + (MSZ[msInMinute - sec * 1000] as string);
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CHECKSUM_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const isUpper = (ch: string): number => (ch >= 'A' && ch <= 'Z' ? 1 : 0);
const ONE: readonly string[] = [...BASE62];
const ONE_BITS: readonly number[] = ONE.map(isUpper);
/** Every two base-62 digits, and which of the two are upper-case letters (bit 0: the first). */
const PAIR: readonly string[] = ONE.flatMap((a) => ONE.map((b) => a + b));
const PAIR_BITS: readonly number[] = ONE_BITS.flatMap((a) => ONE_BITS.map((b) => a | (b << 1)));
const ONE_CODES = Buffer.from(BASE62, 'latin1');
const PAIR_CODES = Buffer.from(PAIR.join(''), 'latin1');
const P4 = 62 ** 4;
const P5 = 62 ** 5;

/**
 * `makeId(keyPrefix, counter)` without re-encoding the whole id: the last five counter digits (and the last
 * checksum character, which depends on them only) come from tables; the first ten characters and the first
 * two checksum characters are cached for the current block of 62^5 counters.
 */
export class IdMinter {
  private readonly keyPrefix: string;
  private block = -1;
  private head = '';
  private headChecksum = '';
  /** The first ten characters, then the first two checksum characters. */
  private headBytes: Uint8Array = new Uint8Array(12);

  constructor(keyPrefix: string) {
    this.keyPrefix = keyPrefix;
  }

  /** `id(counter)` as 18 bytes at `pos`; returns the end position. */
  write(buf: Buffer, pos: number, counter: number): number {
    const block = Math.floor(counter / P5);
    if (block !== this.block) this.id(counter);
    const head = this.headBytes;
    for (let i = 0; i < 10; i++) buf[pos + i] = head[i] as number;
    const lo = counter - block * P5;
    const a = Math.floor(lo / P4);
    const rest = lo - a * P4;
    const b = Math.floor(rest / 3844);
    const c = rest - b * 3844;
    buf[pos + 10] = ONE_CODES[a] as number;
    buf[pos + 11] = PAIR_CODES[b * 2] as number;
    buf[pos + 12] = PAIR_CODES[b * 2 + 1] as number;
    buf[pos + 13] = PAIR_CODES[c * 2] as number;
    buf[pos + 14] = PAIR_CODES[c * 2 + 1] as number;
    buf[pos + 15] = head[10] as number;
    buf[pos + 16] = head[11] as number;
    const bits = (ONE_BITS[a] as number) | ((PAIR_BITS[b] as number) << 1) | ((PAIR_BITS[c] as number) << 3);
    buf[pos + 17] = CHECKSUM_ALPHABET.charCodeAt(bits);
    return pos + 18;
  }

  id(counter: number): string {
    const block = Math.floor(counter / P5);
    if (block !== this.block) {
      const id15 = this.keyPrefix + POD + encodeCounter(counter);
      this.head = id15.slice(0, 10);
      this.headChecksum = checksum(id15).slice(0, 2);
      this.headBytes = Buffer.from(this.head + this.headChecksum, 'latin1');
      this.block = block;
    }
    const lo = counter - block * P5;
    const a = Math.floor(lo / P4);
    const rest = lo - a * P4;
    const b = Math.floor(rest / 3844);
    const c = rest - b * 3844;
    const bits = (ONE_BITS[a] as number) | ((PAIR_BITS[b] as number) << 1) | ((PAIR_BITS[c] as number) << 3);
    return this.head + (ONE[a] as string) + (PAIR[b] as string) + (PAIR[c] as string) + this.headChecksum + (CHECKSUM_ALPHABET[bits] as string);
  }
}

/** A RowShape as bytes. */
export interface ShapeBytes {
  readonly open: Uint8Array;
  readonly separator: Uint8Array;
  readonly close: Uint8Array;
}

function copyBytes(src: Uint8Array, buf: Buffer, pos: number): number {
  for (let i = 0; i < src.length; i++) buf[pos + i] = src[i] as number;
  return pos + src.length;
}

/** "YYYY-MM-DDT" of each day of DAY_PREFIXES, 11 bytes each. */
const DAY_BYTES = Buffer.from(DAY_PREFIXES.join(''), 'latin1');

/** `iso(ms)` as bytes, for a datetime inside DAY_PREFIXES' range. */
function writeIso(buf: Buffer, pos: number, ms: number): number {
  const day = Math.floor((ms - BASE_DAY_MS) / 86_400_000);
  let s = day * 11;
  for (let i = 0; i < 11; i++) buf[pos++] = DAY_BYTES[s++] as number;
  let rest = ms - BASE_DAY_MS - day * 86_400_000;
  const h = (rest / 3_600_000) | 0;
  rest -= h * 3_600_000;
  const m = (rest / 60_000) | 0;
  rest -= m * 60_000;
  const sec = (rest / 1000) | 0;
  const milli = rest - sec * 1000;
  buf[pos++] = 48 + ((h / 10) | 0);
  buf[pos++] = 48 + (h % 10);
  buf[pos++] = 58;
  buf[pos++] = 48 + ((m / 10) | 0);
  buf[pos++] = 48 + (m % 10);
  buf[pos++] = 58;
  buf[pos++] = 48 + ((sec / 10) | 0);
  buf[pos++] = 48 + (sec % 10);
  buf[pos++] = 46;
  buf[pos++] = 48 + ((milli / 100) | 0);
  buf[pos++] = 48 + (((milli / 10) | 0) % 10);
  buf[pos++] = 48 + (milli % 10);
  buf[pos++] = 90;
  return pos;
}

/** `GEN-<counter>` as bytes. */
function writeExt(buf: Buffer, pos: number, counter: number): number {
  buf[pos++] = 71; // G
  buf[pos++] = 69; // E
  buf[pos++] = 78; // N
  buf[pos++] = 45; // -
  let digits = 1;
  for (let x = counter; x >= 10; x = Math.floor(x / 10)) digits++;
  let x = counter;
  for (let i = digits - 1; i >= 0; i--) {
    const q = Math.floor(x / 10);
    buf[pos + i] = 48 + (x - q * 10);
    x = q;
  }
  return pos + digits;
}

/** A RowShape as bytes. */
export function shapeBytes(shape: RowShape): ShapeBytes {
  return { open: Buffer.from(shape.open, 'utf8'), separator: Buffer.from(shape.separator, 'utf8'), close: Buffer.from(shape.close, 'utf8') };
}

/** Start a row: every cell its plan's initial arena slice (null, or a per-table constant). */
export function resetCells(plan: FillPlan): void {
  plan.cellKind.fill(Cell.Arena);
  plan.cellStart.set(plan.initStart);
  plan.cellLen.set(plan.initLen);
  plan.strChars = 0;
}

/** Cell `p` is the encoded text `text`. */
export function setStrCell(plan: FillPlan, p: number, text: string): void {
  plan.cellKind[p] = Cell.Str;
  plan.cellStr[p] = text;
  plan.strChars += text.length;
}

/** Cell `p` is the id of `counter` minted by `minter`. */
export function setIdCell(plan: FillPlan, p: number, minter: IdMinter, counter: number): void {
  plan.cellKind[p] = Cell.Id;
  plan.cellNum[p] = counter;
  plan.cellMinter[p] = minter;
}

/** True when a datetime can be an Iso cell (it falls inside the tables of days). */
export function isoCellFits(ms: number): boolean {
  const day = Math.floor((ms - BASE_DAY_MS) / 86_400_000);
  return day >= 0 && day < DAY_PREFIXES.length;
}

/** Cell `p` is the datetime of epoch ms `ms` (see {@link isoCellFits}). */
export function setIsoCell(plan: FillPlan, p: number, ms: number): void {
  plan.cellKind[p] = Cell.Iso;
  plan.cellNum[p] = ms;
}

/** Cell `p` is `GEN-<counter>`. */
export function setExtCell(plan: FillPlan, p: number, counter: number): void {
  plan.cellKind[p] = Cell.Ext;
  plan.cellNum[p] = counter;
}

/** Write the current row's cells (after a fill or an overlay record's encoding) into `buf` from `at`; returns the end. */
export function emitRow(plan: FillPlan, shape: ShapeBytes, buf: Buffer, at: number): number {
  let pos = at;
  const arena = plan.arena;
  const kinds = plan.cellKind;
  const n = kinds.length;
  // Arena slices start with the text before their cell; other cells are preceded by it here.
  for (let p = 0; p < n; p++) {
    const kind = kinds[p];
    if (kind === Cell.Arena) {
      let s = plan.cellStart[p] as number;
      const e = s + (plan.cellLen[p] as number);
      while (s < e) buf[pos++] = arena[s++] as number;
      continue;
    }
    pos = copyBytes(p === 0 ? shape.open : shape.separator, buf, pos);
    if (kind === Cell.Id) pos = (plan.cellMinter[p] as IdMinter).write(buf, pos, plan.cellNum[p] as number);
    else if (kind === Cell.Iso) pos = writeIso(buf, pos, plan.cellNum[p] as number);
    else if (kind === Cell.Ext) pos = writeExt(buf, pos, plan.cellNum[p] as number);
    else pos += buf.write(plan.cellStr[p] as string, pos, 'utf8');
  }
  return copyBytes(shape.close, buf, pos);
}
