import { checksum, encodeCounter, idCounter, makeId, normalizeId, POD } from '../ids.ts';
import { Deriver } from './derived.ts';
import type { DescribeField, ObjectSchema } from './schema.ts';
import { FieldIndexes, nowIso, textKey, type StoredRecord, type StoredValue, type Table } from './store.ts';

/**
 * A `--generate Object=COUNT` table: COUNT records computed on demand from (seed, object, index),
 * never held in memory. Record `i` (0-based) has id `makeId(keyPrefix, i + 1)`, so `get(id)` decodes the
 * id's counter; `count()` is arithmetic; `scan()` is lazy. Values follow the describe's types and use the
 * seed org's records of the same object as vocabulary (names, addresses, picklist values, null rates).
 * External-id fields are invertible: record i has `GEN-<i + 1>`, so `findBy` on them is O(1).
 * Writes go to an overlay (changed/deleted generated records, inserted records).
 */

export interface ReferenceTarget {
  readonly keyPrefix: string;
  /** Record count of a generated target table (references pick a generated record). */
  readonly generatedCount: number;
}

export interface GeneratorOptions {
  readonly schema: ObjectSchema;
  readonly count: number;
  readonly seed: number;
  readonly clock: () => number;
  /** The seed org's records of this object: value vocabulary and null rates. */
  readonly vocabulary: readonly StoredRecord[];
  /** Generated tables other references may point into (object name lower-cased → target). */
  readonly generatedTargets: ReadonlyMap<string, ReferenceTarget>;
  /** The user that creates and modifies generated records. */
  readonly defaultUserId: string;
}

/** Prefix of generated external ids: record i has `GEN-<i + 1>`. */
export const GENERATED_EXTERNAL_ID_PREFIX = 'GEN-';

const enum Kind {
  Const,
  Vocab,
  Tuple,
  ExternalId,
  RefGenerated,
  /** A person's email built from the generated first and last names and a domain of the vocabulary. */
  PersonEmail,
}

interface FieldGen {
  readonly kind: Kind;
  readonly name: string;
  /** Probability of a value (0..1) scaled to 2^32 for an integer compare. */
  readonly presence: number;
  readonly value: StoredValue;
  readonly values: readonly StoredValue[];
  /** Tuple kind: component names and rows of values. */
  readonly names: readonly string[];
  /** Position of the field (Tuple: of each component) in the value array. */
  readonly slot: number;
  readonly slots: readonly number[];
  readonly rows: readonly (readonly StoredValue[])[];
  readonly targetPrefix: string;
  readonly targetCount: number;
  /** RefGenerated kind: mints the target's ids. */
  readonly minter: IdMinter | undefined;
}

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

/** Rows of a generated table written as encoded bytes of some fields: see `GeneratedTable.rowWriter`. */
export interface RowWriter {
  /**
   * Write up to `maxRows` rows into `buf` from `pos`, stopping before a row that might not fit. Returns the
   * number of rows written; `pos` is then the end of the written bytes. When it returns 0 and `done` is false,
   * the next row needs a buffer with `need` bytes free.
   */
  write(buf: Buffer, pos: number, maxRows: number): number;
  readonly pos: number;
  readonly done: boolean;
  readonly need: number;
  /** Pass over up to `n` rows without computing them; returns how many rows were passed. */
  skip(n: number): number;
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
interface FillPlan {
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

const START_MS = Date.parse('2021-01-04T08:00:00.000Z');
const SPAN_MS = Date.parse('2024-06-28T18:00:00.000Z') - START_MS;
const AUDIT = new Set(['Id', 'IsDeleted', 'CreatedDate', 'CreatedById', 'LastModifiedDate', 'LastModifiedById', 'SystemModstamp']);
const TWO32 = 4294967296;
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
interface ShapeBytes {
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

/** The ASCII part of a name usable in an email address ("Zoë" → "zoe", "山田" → ""). */
function emailPart(value: StoredValue | undefined): string {
  if (typeof value !== 'string') return '';
  let out = '';
  for (const ch of value.normalize('NFKD').toLowerCase()) {
    const c = ch.charCodeAt(0);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) out += ch;
  }
  return out;
}

function hash32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class GeneratedTable implements Table {
  readonly generated = true;
  readonly schema: ObjectSchema;
  /** Number of generated records (counters 1..size). */
  readonly size: number;
  private readonly seedMix: number;
  private readonly gens: FieldGen[] = [];
  private readonly fieldNames: string[];
  private readonly deriver: Deriver;
  private readonly defaultUserId: string;
  private readonly clock: () => number;
  private readonly hasCreated: boolean;
  private readonly hasModified: boolean;
  private readonly hasModstamp: boolean;
  private readonly hasIsDeleted: boolean;
  private readonly extIdFields = new Set<string>();
  /** Overlay of generated records: counter → changed record, or null when hard-deleted. */
  private readonly overrides = new Map<number, StoredRecord | null>();
  /** Records inserted after generation (counters > size), in id order. */
  private readonly inserted = new Map<number, StoredRecord>();
  private readonly indexes: FieldIndexes<number>;
  private nextCounter: number;
  private rng = 0;
  /** A generator reads other generated values (PersonEmail reads the names). */
  private hasPersonEmail = false;
  private readonly minter: IdMinter;
  /** Per field position: all 1 (a whole record is computed). */
  private readonly wantAll: Uint8Array;
  /** Values of the record being generated, by field position (reused). */
  private readonly vals: StoredValue[];
  /** Builds a record object from `vals` with one object literal: every record shares one hidden class. */
  private readonly build: (v: readonly StoredValue[]) => Record<string, StoredValue>;
  private readonly slotId: number;
  private readonly slotIsDeleted: number;
  private readonly slotCreated: number;
  private readonly slotCreatedBy: number;
  private readonly slotModified: number;
  private readonly slotModifiedBy: number;
  private readonly slotModstamp: number;
  private hardDeletedGenerated = 0;
  private softDeleted = 0;

  constructor(options: GeneratorOptions) {
    this.schema = options.schema;
    this.size = options.count;
    this.nextCounter = options.count + 1;
    this.clock = options.clock;
    this.defaultUserId = options.defaultUserId;
    this.deriver = new Deriver(options.schema);
    this.minter = new IdMinter(options.schema.keyPrefix);
    this.seedMix = hash32(hashString(options.schema.name.toLowerCase()) ^ hash32(options.seed));
    const schema = options.schema;
    this.fieldNames = schema.fields.filter((f) => !schema.isCompound(f)).map((f) => f.name);
    this.vals = new Array<StoredValue>(this.fieldNames.length).fill(null);
    this.wantAll = new Uint8Array(this.fieldNames.length).fill(1);
    // Field names come from the describe; JSON.stringify quotes them safely. A literal is ~10x faster than keyed stores.
    const literal = this.fieldNames.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(', ');
    this.build = new Function('v', `return { ${literal} };`) as (v: readonly StoredValue[]) => Record<string, StoredValue>;
    const at = (n: string): number => this.fieldNames.indexOf(n);
    this.slotId = at('Id');
    this.slotIsDeleted = at('IsDeleted');
    this.slotCreated = at('CreatedDate');
    this.slotCreatedBy = at('CreatedById');
    this.slotModified = at('LastModifiedDate');
    this.slotModifiedBy = at('LastModifiedById');
    this.slotModstamp = at('SystemModstamp');
    this.hasCreated = !!schema.field('CreatedDate');
    this.hasModified = !!schema.field('LastModifiedDate');
    this.hasModstamp = !!schema.field('SystemModstamp');
    this.hasIsDeleted = !!schema.field('IsDeleted');
    this.indexes = new FieldIndexes(schema);
    this.compile(options);
  }

  private compile(options: GeneratorOptions): void {
    const { schema, vocabulary } = options;
    const total = Math.max(1, vocabulary.length);
    const base = { value: null, values: [], names: [], rows: [], targetPrefix: '', targetCount: 0, presence: 0, slot: 0, slots: [], minter: undefined };
    const slot = (name: string): number => this.fieldNames.indexOf(name);
    const done = new Set<string>();
    // Compound groups (addresses, geolocations) take whole tuples from one seed record, so they stay coherent.
    for (const f of schema.fields) {
      if (!schema.isCompound(f)) continue;
      const comps = schema.compoundComponents(f.name).map((c) => c.name);
      const rows: StoredValue[][] = [];
      for (const r of vocabulary) {
        const row = comps.map((n) => r[n] ?? null);
        if (row.some((v) => v !== null)) rows.push(row);
      }
      for (const n of comps) done.add(n);
      if (rows.length === 0) continue;
      this.gens.push({ ...base, kind: Kind.Tuple, name: f.name, names: comps, slots: comps.map(slot), rows, presence: Math.round((rows.length / total) * TWO32) });
    }
    for (const f of schema.fields) {
      if (schema.isCompound(f) || done.has(f.name) || AUDIT.has(f.name)) continue;
      if (f.calculated) continue; // the deriver computes formulas
      if ((f.externalId || f.unique) && (f.type === 'string' || f.type === 'email')) {
        this.extIdFields.add(f.name);
        this.gens.push({ ...base, kind: Kind.ExternalId, name: f.name, slot: slot(f.name) });
        continue;
      }
      const values: StoredValue[] = [];
      for (const r of vocabulary) {
        const v = r[f.name] ?? null;
        if (v !== null) values.push(v);
      }
      const presence = Math.round((values.length / total) * TWO32);
      const targetName = f.type === 'reference' && f.referenceTo.length === 1 ? f.referenceTo[0] : undefined;
      const target = targetName ? options.generatedTargets.get(targetName.toLowerCase()) : undefined;
      if (target && target.generatedCount > 0) {
        if (values.length === 0 && f.nillable) {
          this.gens.push({ ...base, kind: Kind.Const, name: f.name, slot: slot(f.name), value: null, presence: TWO32 });
          continue;
        }
        const p = values.length > 0 ? presence : TWO32;
        this.gens.push({ ...base, kind: Kind.RefGenerated, name: f.name, slot: slot(f.name), presence: p, targetPrefix: target.keyPrefix, targetCount: target.generatedCount, minter: new IdMinter(target.keyPrefix) });
        continue;
      }
      if (values.length === 0) {
        const constant = f.type === 'boolean' ? false : f.type === 'reference' && !f.nillable ? options.defaultUserId : null;
        this.gens.push({ ...base, kind: Kind.Const, name: f.name, slot: slot(f.name), value: constant, presence: TWO32 });
        continue;
      }
      if (f.type === 'email' && f.name === 'Email' && schema.field('FirstName') && schema.field('LastName')) {
        const domains = values.map((v) => String(v).replace(/^[^@]*@/, ''));
        this.hasPersonEmail = true;
        this.gens.push({ ...base, kind: Kind.PersonEmail, name: f.name, slot: slot(f.name), values: domains, presence, slots: [slot('FirstName'), slot('LastName')] });
        continue;
      }
      this.gens.push({ ...base, kind: Kind.Vocab, name: f.name, slot: slot(f.name), values, presence });
    }
  }

  /** ISO-8601 with ms and Z, like `Date#toISOString` but from tables of days, minutes, seconds and milliseconds. */
  private iso(ms: number): string {
    const day = Math.floor((ms - BASE_DAY_MS) / 86_400_000);
    const dayPrefix = DAY_PREFIXES[day];
    if (dayPrefix === undefined) return new Date(ms).toISOString();
    const rest = ms - BASE_DAY_MS - day * 86_400_000;
    const minute = (rest / 60_000) | 0;
    const msInMinute = rest - minute * 60_000;
    const sec = (msInMinute / 1000) | 0;
    return dayPrefix + (TIMES[minute] as string) + (SECS[sec] as string) + (MSZ[msInMinute - sec * 1000] as string);
  }

  /** mulberry32 step on the per-record state. */
  private next(): number {
    const s = (this.rng = (this.rng + 0x6d2b79f5) | 0);
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * Compute record `index` into `vals` (raw values by field position). Every record draws the same random
   * sequence whatever is selected, so values never depend on the plan. With a plan (Bulk streaming of some
   * columns), the costly values (ids, datetimes, emails, external ids) are computed only when selected, and
   * selected values are also written to `out` as encoded text (vocabulary values pre-encoded once).
   */
  private fill(index: number, plan: FillPlan | undefined): void {
    const counter = index + 1;
    this.rng = hash32((counter * 0x9e3779b1) ^ this.seedMix) | 0;
    const v = this.vals;
    const po = plan !== undefined && !plan.derived ? plan : undefined;
    // Raw values are kept for a whole record, and for a person email built from the names.
    const raw = po === undefined || this.hasPersonEmail;
    if (raw) v.fill(null);
    if (po) {
      po.cellKind.fill(Cell.Arena);
      po.cellStart.set(po.initStart);
      po.cellLen.set(po.initLen);
      po.strChars = 0;
    }
    // Costly values are computed when the whole record is wanted or their column is selected.
    const want = po ? po.want : this.wantAll;
    if (want[this.slotId] === 1) {
      if (po) this.putId(po, this.slotId, this.minter, counter);
      else v[this.slotId] = this.minter.id(counter);
    }
    if (this.slotIsDeleted >= 0) v[this.slotIsDeleted] = false;
    const created = START_MS + Math.floor((index / Math.max(1, this.size)) * SPAN_MS) + (this.next() % 60_000);
    const r1 = this.next();
    const modified = r1 % 10 < 3 ? created : created + (this.next() % 86_400) * 60_000;
    if (want[this.slotCreated] === 1) this.putIso(po, this.slotCreated, created);
    if (this.slotCreatedBy >= 0) v[this.slotCreatedBy] = this.defaultUserId;
    if (want[this.slotModified] === 1) this.putIso(po, this.slotModified, modified);
    if (this.slotModifiedBy >= 0) v[this.slotModifiedBy] = this.defaultUserId;
    if (want[this.slotModstamp] === 1) this.putIso(po, this.slotModstamp, modified + (r1 % 5000));
    const gens = this.gens;
    for (let g = 0; g < gens.length; g++) {
      const gen = gens[g] as FieldGen;
      const p = po ? (po.genPos[g] as number) : -1;
      switch (gen.kind) {
        case Kind.Const:
          v[gen.slot] = gen.value;
          if (p >= 0) {
            (po as FillPlan).cellStart[p] = ((po as FillPlan).genStart[g] as Int32Array)[0] as number;
            (po as FillPlan).cellLen[p] = ((po as FillPlan).genLen[g] as Int32Array)[0] as number;
          }
          break;
        case Kind.Vocab:
          if (this.next() < gen.presence) {
            const k = this.next() % gen.values.length;
            if (raw) v[gen.slot] = gen.values[k] as StoredValue;
            if (p >= 0) {
              (po as FillPlan).cellStart[p] = ((po as FillPlan).genStart[g] as Int32Array)[k] as number;
              (po as FillPlan).cellLen[p] = ((po as FillPlan).genLen[g] as Int32Array)[k] as number;
            }
          }
          break;
        case Kind.Tuple:
          if (this.next() < gen.presence) {
            const k = this.next() % gen.rows.length;
            if (raw) {
              const row = gen.rows[k] as readonly StoredValue[];
              for (let j = 0; j < gen.slots.length; j++) v[gen.slots[j] as number] = row[j] as StoredValue;
            }
            const at = po?.tuplePos[g];
            if (po && at) {
              const starts = po.tupleStart[g] as readonly Int32Array[];
              const lens = po.tupleLen[g] as readonly Int32Array[];
              for (let j = 0; j < at.length; j++) {
                const q = at[j] as number;
                if (q >= 0) {
                  po.cellStart[q] = (starts[j] as Int32Array)[k] as number;
                  po.cellLen[q] = (lens[j] as Int32Array)[k] as number;
                }
              }
            }
          }
          break;
        case Kind.ExternalId:
          if (want[gen.slot] === 1) {
            if (po && po.encoders[po.pos[gen.slot] as number]?.plainText) {
              const q = po.pos[gen.slot] as number;
              po.cellKind[q] = Cell.Ext;
              po.cellNum[q] = counter;
            } else this.put(po, gen.slot, GENERATED_EXTERNAL_ID_PREFIX + counter);
          }
          break;
        case Kind.PersonEmail:
          if (this.next() < gen.presence) {
            const domain = gen.values[this.next() % gen.values.length] as string;
            if (want[gen.slot] === 1) {
              const first = v[gen.slots[0] as number];
              const last = v[gen.slots[1] as number];
              const local = `${emailPart(first)}.${emailPart(last)}`.replace(/^\.+|\.+$/g, '') || 'contact';
              const email = `${local}${counter}@${domain}`;
              this.put(po, gen.slot, email.length <= 80 ? email : `c${counter}@example.com`);
            }
          }
          break;
        case Kind.RefGenerated:
          if (this.next() < gen.presence) {
            const target = 1 + (this.next() % gen.targetCount);
            if (want[gen.slot] === 1) {
              if (po) this.putId(po, gen.slot, gen.minter as IdMinter, target);
              else v[gen.slot] = (gen.minter as IdMinter).id(target);
            }
          }
          break;
      }
    }
  }

  /** Store a computed value, and its encoded text when its column is selected. */
  private put(plan: FillPlan | undefined, slot: number, value: StoredValue): void {
    this.vals[slot] = value;
    if (plan !== undefined) {
      const p = plan.pos[slot] as number;
      if (p >= 0) {
        const text = (plan.encoders[p] as ColumnEncoder).encode(value);
        plan.cellKind[p] = Cell.Str;
        plan.cellStr[p] = text;
        plan.strChars += text.length;
      }
    }
  }

  private putId(plan: FillPlan, slot: number, minter: IdMinter, counter: number): void {
    const p = plan.pos[slot] as number;
    if (p >= 0 && (plan.encoders[p] as ColumnEncoder).plainText) {
      plan.cellKind[p] = Cell.Id;
      plan.cellNum[p] = counter;
      plan.cellMinter[p] = minter;
    } else this.put(plan, slot, minter.id(counter));
  }

  private putIso(plan: FillPlan | undefined, slot: number, ms: number): void {
    const p = plan ? (plan.pos[slot] as number) : -1;
    const day = Math.floor((ms - BASE_DAY_MS) / 86_400_000);
    if (plan && p >= 0 && (plan.encoders[p] as ColumnEncoder).plainText && day >= 0 && day < DAY_PREFIXES.length) {
      plan.cellKind[p] = Cell.Iso;
      plan.cellNum[p] = ms;
    } else this.put(plan, slot, this.iso(ms));
  }

  /** Write the current row's cells (after a fill or an overlay record's encoding) into `buf`. */
  private emit(plan: FillPlan, shape: ShapeBytes, buf: Buffer, at: number): number {
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

  /** The generated record of 0-based `index` (ignores the overlay). */
  generate(index: number): StoredRecord {
    this.fill(index, undefined);
    const rec = this.build(this.vals);
    if (!this.deriver.empty) this.deriver.apply(rec);
    return rec;
  }

  /**
   * The records of `scan(includeDeleted)`, in the same order, written as bytes of the given fields only (Bulk
   * results of a generated object): generated records are not built as objects, only the selected columns'
   * costly values are computed, and vocabulary values are encoded once per writer. Undefined when a field is
   * not one of this table's stored (non-compound) fields.
   */
  rowWriter(fields: readonly DescribeField[], encoders: readonly ColumnEncoder[], includeDeleted: boolean, shape: RowShape): RowWriter | undefined {
    const shapeBytes: ShapeBytes = { open: Buffer.from(shape.open, 'utf8'), separator: Buffer.from(shape.separator, 'utf8'), close: Buffer.from(shape.close, 'utf8') };
    const plan = this.plan(fields, encoders, shapeBytes);
    if (!plan) return undefined;
    const names = fields.map((f) => f.name);
    const encodeRecord = (r: StoredRecord): void => {
      plan.strChars = 0;
      for (let p = 0; p < names.length; p++) {
        const text = (encoders[p] as ColumnEncoder).encode(r[names[p] as string]);
        plan.cellKind[p] = Cell.Str;
        plan.cellStr[p] = text;
        plan.strChars += text.length;
      }
    };
    const overrides = this.overrides;
    const size = this.size;
    let c = 1;
    let later: StoredRecord[] | undefined;
    let li = 0;
    /** Prepare the next visible row's cells; false at the end. */
    const advance = (compute: boolean): boolean => {
      while (c <= size) {
        const at = c++;
        if (overrides.size > 0 && overrides.has(at)) {
          const r = overrides.get(at);
          if (!r || (!includeDeleted && r['IsDeleted'] === true)) continue;
          if (compute) encodeRecord(r);
          return true;
        }
        if (compute) {
          if (plan.derived) encodeRecord(this.generate(at - 1));
          else this.fill(at - 1, plan);
        }
        return true;
      }
      later ??= [...this.inserted.values()];
      while (li < later.length) {
        const r = later[li++] as StoredRecord;
        if (!includeDeleted && r['IsDeleted'] === true) continue;
        if (compute) encodeRecord(r);
        return true;
      }
      return false;
    };
    const separators = shapeBytes.open.length + shapeBytes.close.length + Math.max(0, names.length - 1) * shapeBytes.separator.length;
    let ready = false;
    const writer = {
      pos: 0,
      done: false,
      need: 0,
      write: (buf: Buffer, pos: number, maxRows: number): number => {
        let rows = 0;
        writer.pos = pos;
        while (rows < maxRows) {
          if (!ready) {
            if (!advance(true)) {
              writer.done = true;
              break;
            }
            ready = true;
          }
          const need = plan.fixedMax + separators + plan.strChars * 3;
          if (pos + need > buf.length) {
            writer.need = need;
            break;
          }
          pos = this.emit(plan, shapeBytes, buf, pos);
          ready = false;
          rows++;
        }
        writer.pos = pos;
        return rows;
      },
      skip: (n: number): number => {
        let done = 0;
        if (ready && n > 0) {
          ready = false;
          done++;
        }
        if (overrides.size === 0 && c <= size && done < n) {
          const step = Math.min(n - done, size - c + 1);
          c += step;
          done += step;
        }
        while (done < n && advance(false)) done++;
        return done;
      },
    };
    return writer;
  }

  private plan(fields: readonly DescribeField[], encoders: readonly ColumnEncoder[], shape: ShapeBytes): FillPlan | undefined {
    const n = fields.length;
    const pos = new Int32Array(this.fieldNames.length).fill(-1);
    for (let p = 0; p < n; p++) {
      const slot = this.fieldNames.indexOf((fields[p] as DescribeField).name);
      if (slot < 0 || (pos[slot] as number) >= 0 || !encoders[p]) return undefined;
      pos[slot] = p;
    }
    const chunks: Buffer[] = [];
    let arenaSize = 0;
    const maxLen = new Int32Array(n);
    /** Arena slice of a value's encoded text for output position p, after the text before the cell: [start, length]. */
    const slice = (p: number, value: StoredValue): [number, number] => {
      const before = p === 0 ? shape.open : shape.separator;
      const bytes = Buffer.concat([before, Buffer.from((encoders[p] as ColumnEncoder).encode(value), 'utf8')]);
      const start = arenaSize;
      chunks.push(bytes);
      arenaSize += bytes.length;
      if (bytes.length > (maxLen[p] as number)) maxLen[p] = bytes.length;
      return [start, bytes.length];
    };
    const initStart = new Int32Array(n);
    const initLen = new Int32Array(n);
    for (let p = 0; p < n; p++) [initStart[p], initLen[p]] = slice(p, null);
    // Per-table constants of every generated record.
    const constants: [number, StoredValue][] = [
      [this.slotIsDeleted, false],
      [this.slotCreatedBy, this.defaultUserId],
      [this.slotModifiedBy, this.defaultUserId],
    ];
    for (const [slot, value] of constants) {
      const p = slot >= 0 ? (pos[slot] as number) : -1;
      if (p >= 0) [initStart[p], initLen[p]] = slice(p, value);
    }
    const genPos = new Int32Array(this.gens.length).fill(-1);
    const genStart: (Int32Array | undefined)[] = [];
    const genLen: (Int32Array | undefined)[] = [];
    const tuplePos: (Int32Array | undefined)[] = [];
    const tupleStart: (Int32Array[] | undefined)[] = [];
    const tupleLen: (Int32Array[] | undefined)[] = [];
    this.gens.forEach((gen, g) => {
      genStart.push(undefined);
      genLen.push(undefined);
      tuplePos.push(undefined);
      tupleStart.push(undefined);
      tupleLen.push(undefined);
      if (gen.kind === Kind.Const || gen.kind === Kind.Vocab) {
        const p = pos[gen.slot] as number;
        if (p < 0) return;
        const values = gen.kind === Kind.Const ? [gen.value] : gen.values;
        const starts = new Int32Array(values.length);
        const lens = new Int32Array(values.length);
        values.forEach((value, k) => ([starts[k], lens[k]] = slice(p, value)));
        genPos[g] = p;
        genStart[g] = starts;
        genLen[g] = lens;
      } else if (gen.kind === Kind.Tuple) {
        const at = Int32Array.from(gen.slots, (s) => pos[s] as number);
        if (!at.some((x) => x >= 0)) return;
        const starts = gen.slots.map(() => new Int32Array(gen.rows.length));
        const lens = gen.slots.map(() => new Int32Array(gen.rows.length));
        gen.rows.forEach((row, k) => {
          at.forEach((q, j) => {
            if (q >= 0) [(starts[j] as Int32Array)[k], (lens[j] as Int32Array)[k]] = slice(q, row[j] as StoredValue);
          });
        });
        tuplePos[g] = at;
        tupleStart[g] = starts;
        tupleLen[g] = lens;
      }
    });
    // Upper bound of the directly written cells: ids 18 bytes, datetimes 24, GEN-<counter> 20.
    let fixedMax = 0;
    for (let p = 0; p < n; p++) fixedMax += Math.max(maxLen[p] as number, 24);
    return {
      pos,
      want: Uint8Array.from(pos, (p) => (p >= 0 ? 1 : 0)),
      encoders,
      arena: Buffer.concat(chunks, arenaSize),
      initStart,
      initLen,
      genPos,
      genStart,
      genLen,
      tuplePos,
      tupleStart,
      tupleLen,
      derived: !this.deriver.empty,
      cellKind: new Uint8Array(n),
      cellStart: new Int32Array(n),
      cellLen: new Int32Array(n),
      cellNum: new Float64Array(n),
      cellStr: new Array<string>(n).fill(''),
      cellMinter: new Array<IdMinter | undefined>(n).fill(undefined),
      fixedMax,
      strChars: 0,
    };
  }

  count(includeDeleted: boolean): number {
    const total = this.size - this.hardDeletedGenerated + this.inserted.size;
    return includeDeleted ? total : total - this.softDeleted;
  }

  *scan(includeDeleted: boolean): Iterable<StoredRecord> {
    const overrides = this.overrides;
    for (let c = 1; c <= this.size; c++) {
      if (overrides.size > 0 && overrides.has(c)) {
        const r = overrides.get(c);
        if (!r) continue;
        if (!includeDeleted && r['IsDeleted'] === true) continue;
        yield r;
      } else {
        yield this.generate(c - 1);
      }
    }
    for (const r of [...this.inserted.values()]) {
      if (!includeDeleted && r['IsDeleted'] === true) continue;
      yield r;
    }
  }

  /** The counter of one of this table's ids, or undefined. */
  private counterOf(id: string): number | undefined {
    const key = normalizeId(id);
    if (!key || key.slice(0, 3) !== this.schema.keyPrefix) return undefined;
    const n = idCounter(key);
    return n !== undefined && n >= 1 ? n : undefined;
  }

  private byCounter(c: number): StoredRecord | undefined {
    if (c <= this.size) {
      if (this.overrides.has(c)) return this.overrides.get(c) ?? undefined;
      return this.generate(c - 1);
    }
    return this.inserted.get(c);
  }

  get(id: string, includeDeleted = false): StoredRecord | undefined {
    const c = this.counterOf(id);
    if (c === undefined) return undefined;
    const r = this.byCounter(c);
    if (!r) return undefined;
    return includeDeleted || r['IsDeleted'] !== true ? r : undefined;
  }

  findBy(fieldName: string, value: StoredValue): StoredRecord[] {
    const field = this.schema.field(fieldName);
    if (!field) return [];
    if (field.type === 'id') {
      const r = typeof value === 'string' ? this.get(value) : undefined;
      return r ? [r] : [];
    }
    const key = textKey(value, field.caseSensitive);
    const indexed = this.indexes.lookup(field.name, value);
    // Invertible fields (GEN-<n>): O(1) plus the overlay's index. Others (e.g. an idLookup Email): a scan.
    if (indexed && this.extIdFields.has(field.name)) {
      const out = new Map<number, StoredRecord>();
      if (typeof value === 'string') {
        const m = /^gen-([1-9][0-9]{0,14})$/i.exec(value);
        const c = m?.[1] ? Number(m[1]) : 0;
        if (c >= 1 && c <= this.size && !this.overrides.has(c)) {
          const r = this.generate(c - 1);
          if (textKey(r[field.name] ?? null, field.caseSensitive) === key) out.set(c, r);
        }
      }
      for (const c of indexed) {
        const r = this.byCounter(c);
        if (r && r['IsDeleted'] !== true) out.set(c, r);
      }
      return [...out.values()];
    }
    const out: StoredRecord[] = [];
    for (const r of this.scan(false)) if (textKey(r[field.name] ?? null, field.caseSensitive) === key) out.push(r);
    return out;
  }

  insert(values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord {
    const c = this.nextCounter++;
    const now = nowIso(this.clock);
    const rec: Record<string, StoredValue> = {};
    for (const n of this.fieldNames) rec[n] = values[n] ?? null;
    rec['Id'] = makeId(this.schema.keyPrefix, c);
    if (this.hasIsDeleted) rec['IsDeleted'] = false;
    if (this.hasCreated) {
      rec['CreatedDate'] = now;
      rec['CreatedById'] = userId;
    }
    if (this.hasModified) {
      rec['LastModifiedDate'] = now;
      rec['LastModifiedById'] = userId;
    }
    if (this.hasModstamp) rec['SystemModstamp'] = now;
    if (this.schema.field('OwnerId') && (rec['OwnerId'] ?? null) === null) rec['OwnerId'] = userId;
    this.deriver.apply(rec);
    this.inserted.set(c, rec);
    this.indexRecord(c, rec);
    return rec;
  }

  update(id: string, values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord {
    const c = this.counterOf(id);
    const old = c === undefined ? undefined : this.byCounter(c);
    if (c === undefined || !old) throw new Error(`${this.schema.name}: no record ${id}`);
    const now = nowIso(this.clock);
    const rec: Record<string, StoredValue> = { ...old, ...values };
    if (this.hasModified) {
      rec['LastModifiedDate'] = now;
      rec['LastModifiedById'] = userId;
    }
    if (this.hasModstamp) rec['SystemModstamp'] = now;
    if (!this.deriver.empty) this.deriver.apply(rec, new Set(Object.keys(values)));
    this.replace(c, old, rec);
    return rec;
  }

  delete(id: string, userId: string): void {
    const c = this.counterOf(id);
    const old = c === undefined ? undefined : this.byCounter(c);
    if (c === undefined || !old || old['IsDeleted'] === true) return;
    const now = nowIso(this.clock);
    const rec: Record<string, StoredValue> = { ...old, IsDeleted: true };
    if (this.hasModified) {
      rec['LastModifiedDate'] = now;
      rec['LastModifiedById'] = userId;
    }
    if (this.hasModstamp) rec['SystemModstamp'] = now;
    this.replace(c, old, rec);
  }

  hardDelete(id: string): void {
    const c = this.counterOf(id);
    const old = c === undefined ? undefined : this.byCounter(c);
    if (c === undefined || !old) return;
    this.unindexRecord(c, old);
    if (old['IsDeleted'] === true) this.softDeleted--;
    if (c <= this.size) {
      this.overrides.set(c, null);
      this.hardDeletedGenerated++;
    } else {
      this.inserted.delete(c);
    }
  }

  private replace(c: number, old: StoredRecord, rec: StoredRecord): void {
    this.unindexRecord(c, old);
    if (old['IsDeleted'] === true) this.softDeleted--;
    if (rec['IsDeleted'] === true) this.softDeleted++;
    if (c <= this.size) this.overrides.set(c, rec);
    else this.inserted.set(c, rec);
    this.indexRecord(c, rec);
  }

  private indexRecord(c: number, rec: StoredRecord): void {
    this.indexes.add(c, rec);
  }

  private unindexRecord(c: number, rec: StoredRecord): void {
    this.indexes.remove(c, rec);
  }

  /** Number of overlay entries (changed, deleted and inserted records). */
  get overlaySize(): number {
    return this.overrides.size + this.inserted.size;
  }

  /** The overlay, for persistence: `[counter, record | null]` pairs in counter order, and the next counter. */
  overlay(): { entries: [number, StoredRecord | null][]; nextCounter: number } {
    const entries: [number, StoredRecord | null][] = [...this.overrides.entries()].sort((a, b) => a[0] - b[0]);
    for (const e of this.inserted.entries()) entries.push(e);
    return { entries, nextCounter: this.nextCounter };
  }

  /** Restore a saved overlay (on start with --data). */
  loadOverlay(entries: readonly (readonly [number, StoredRecord | null])[], nextCounter: number): void {
    for (const [c, rec] of entries) {
      if (rec === null) {
        if (c <= this.size && !this.overrides.has(c)) {
          this.overrides.set(c, null);
          this.hardDeletedGenerated++;
        }
        continue;
      }
      const old = this.byCounter(c);
      if (old) this.replace(c, old, rec);
      else if (c > this.size) {
        this.inserted.set(c, rec);
        if (rec['IsDeleted'] === true) this.softDeleted++;
        this.indexRecord(c, rec);
      }
    }
    this.nextCounter = Math.max(this.nextCounter, nextCounter);
  }
}
