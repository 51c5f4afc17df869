import { idCounter, makeId, normalizeId } from '../ids.ts';
import { Deriver } from './derived.ts';
import type { ObjectSchema } from './schema.ts';
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
}

const START_MS = Date.parse('2021-01-04T08:00:00.000Z');
const SPAN_MS = Date.parse('2024-06-28T18:00:00.000Z') - START_MS;
const AUDIT = new Set(['Id', 'IsDeleted', 'CreatedDate', 'CreatedById', 'LastModifiedDate', 'LastModifiedById', 'SystemModstamp']);
const TWO32 = 4294967296;
const PAD2: readonly string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** "HH:mm:" for each minute of a day. */
const TIMES: readonly string[] = Array.from({ length: 1440 }, (_, m) => `${PAD2[(m / 60) | 0]}:${PAD2[m % 60]}:`);
/** Generated datetimes fall in [START_MS, START_MS + SPAN_MS + 62 days]: "YYYY-MM-DDT" of each day of that range. */
const BASE_DAY_MS = START_MS - (START_MS % 86_400_000);
const DAY_PREFIXES: readonly string[] = Array.from({ length: Math.ceil(SPAN_MS / 86_400_000) + 64 }, (_, d) =>
  new Date(BASE_DAY_MS + d * 86_400_000).toISOString().slice(0, 11),
);

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
    this.seedMix = hash32(hashString(options.schema.name.toLowerCase()) ^ hash32(options.seed));
    const schema = options.schema;
    this.fieldNames = schema.fields.filter((f) => !schema.isCompound(f)).map((f) => f.name);
    this.vals = new Array<StoredValue>(this.fieldNames.length).fill(null);
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
    const base = { value: null, values: [], names: [], rows: [], targetPrefix: '', targetCount: 0, presence: 0, slot: 0, slots: [] };
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
        this.gens.push({ ...base, kind: Kind.RefGenerated, name: f.name, slot: slot(f.name), presence: p, targetPrefix: target.keyPrefix, targetCount: target.generatedCount });
        continue;
      }
      if (values.length === 0) {
        const constant = f.type === 'boolean' ? false : f.type === 'reference' && !f.nillable ? options.defaultUserId : null;
        this.gens.push({ ...base, kind: Kind.Const, name: f.name, slot: slot(f.name), value: constant, presence: TWO32 });
        continue;
      }
      if (f.type === 'email' && f.name === 'Email' && schema.field('FirstName') && schema.field('LastName')) {
        const domains = values.map((v) => String(v).replace(/^[^@]*@/, ''));
        this.gens.push({ ...base, kind: Kind.PersonEmail, name: f.name, slot: slot(f.name), values: domains, presence, slots: [slot('FirstName'), slot('LastName')] });
        continue;
      }
      this.gens.push({ ...base, kind: Kind.Vocab, name: f.name, slot: slot(f.name), values, presence });
    }
  }

  /** ISO-8601 with ms and Z, like `Date#toISOString` but caching the day part (records come in date order). */
  private iso(ms: number): string {
    const day = Math.floor((ms - BASE_DAY_MS) / 86_400_000);
    const dayPrefix = DAY_PREFIXES[day];
    if (dayPrefix === undefined) return new Date(ms).toISOString();
    const rest = ms - BASE_DAY_MS - day * 86_400_000;
    const minute = (rest / 60_000) | 0;
    const msInMinute = rest - minute * 60_000;
    const sec = (msInMinute / 1000) | 0;
    return dayPrefix + TIMES[minute] + PAD2[sec] + '.' + PAD3[msInMinute - sec * 1000] + 'Z';
  }

  /** mulberry32 step on the per-record state. */
  private next(): number {
    const s = (this.rng = (this.rng + 0x6d2b79f5) | 0);
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** The generated record of 0-based `index` (ignores the overlay). */
  generate(index: number): StoredRecord {
    const counter = index + 1;
    this.rng = hash32((counter * 0x9e3779b1) ^ this.seedMix) | 0;
    const v = this.vals;
    v.fill(null);
    v[this.slotId] = makeId(this.schema.keyPrefix, counter);
    if (this.slotIsDeleted >= 0) v[this.slotIsDeleted] = false;
    const created = START_MS + Math.floor((index / Math.max(1, this.size)) * SPAN_MS) + (this.next() % 60_000);
    const r1 = this.next();
    const modified = r1 % 10 < 3 ? created : created + (this.next() % 86_400) * 60_000;
    if (this.slotCreated >= 0) v[this.slotCreated] = this.iso(created);
    if (this.slotCreatedBy >= 0) v[this.slotCreatedBy] = this.defaultUserId;
    if (this.slotModified >= 0) v[this.slotModified] = this.iso(modified);
    if (this.slotModifiedBy >= 0) v[this.slotModifiedBy] = this.defaultUserId;
    if (this.slotModstamp >= 0) v[this.slotModstamp] = this.iso(modified + (r1 % 5000));
    const gens = this.gens;
    for (let g = 0; g < gens.length; g++) {
      const gen = gens[g] as FieldGen;
      switch (gen.kind) {
        case Kind.Const:
          v[gen.slot] = gen.value;
          break;
        case Kind.Vocab:
          if (this.next() < gen.presence) v[gen.slot] = gen.values[this.next() % gen.values.length] as StoredValue;
          break;
        case Kind.Tuple:
          if (this.next() < gen.presence) {
            const row = gen.rows[this.next() % gen.rows.length] as readonly StoredValue[];
            for (let k = 0; k < gen.slots.length; k++) v[gen.slots[k] as number] = row[k] as StoredValue;
          }
          break;
        case Kind.ExternalId:
          v[gen.slot] = GENERATED_EXTERNAL_ID_PREFIX + counter;
          break;
        case Kind.PersonEmail:
          if (this.next() < gen.presence) {
            const first = v[gen.slots[0] as number];
            const last = v[gen.slots[1] as number];
            const local = `${emailPart(first)}.${emailPart(last)}`.replace(/^\.+|\.+$/g, '') || 'contact';
            const email = `${local}${counter}@${gen.values[this.next() % gen.values.length] as string}`;
            v[gen.slot] = email.length <= 80 ? email : `c${counter}@example.com`;
          }
          break;
        case Kind.RefGenerated:
          if (this.next() < gen.presence) v[gen.slot] = makeId(gen.targetPrefix, 1 + (this.next() % gen.targetCount));
          break;
      }
    }
    const rec = this.build(v);
    if (!this.deriver.empty) this.deriver.apply(rec);
    return rec;
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
