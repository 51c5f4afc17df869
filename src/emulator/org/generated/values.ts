/**
 * Value generation of a `--generate Object=COUNT` table: record `i` (0-based) computed from (seed, object, i),
 * never held in memory. Record `i` has id `makeId(keyPrefix, i + 1)`. Values follow the describe's types and use
 * the seed org's records of the same object as vocabulary (names, addresses, picklist values, null rates).
 * External-id fields are invertible: record i has `GEN-<i + 1>`. A record is produced whole (`generate`) or,
 * for the Bulk CSV fast path, as the encoded cells of some columns (`fill` with a plan from `plan`).
 */
import { Deriver } from '../derived.ts';
import type { StoredRecord, StoredValue } from '../record.ts';
import type { DescribeField, ObjectSchema } from '../schema.ts';
import {
  GENERATED_EXTERNAL_ID_PREFIX,
  IdMinter,
  SPAN_MS,
  START_MS,
  isoCellFits,
  isoText,
  resetCells,
  setExtCell,
  setIdCell,
  setIsoCell,
  setStrCell,
  type ColumnEncoder,
  type FillPlan,
  type ShapeBytes,
} from './cells.ts';

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

const AUDIT = new Set(['Id', 'IsDeleted', 'CreatedDate', 'CreatedById', 'LastModifiedDate', 'LastModifiedById', 'SystemModstamp']);
const TWO32 = 4294967296;

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

/** The records of one generated object, by 0-based index. */
export class RecordGenerator {
  readonly schema: ObjectSchema;
  /** Number of generated records (counters 1..size). */
  readonly size: number;
  /** Invertible external-id fields (`GEN-<counter>`). */
  readonly extIdFields = new Set<string>();
  private readonly seedMix: number;
  private readonly gens: FieldGen[] = [];
  /** The stored (non-compound) fields, by position. */
  private readonly fieldNames: string[];
  private readonly deriver: Deriver;
  private readonly defaultUserId: string;
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

  constructor(options: GeneratorOptions) {
    const schema = options.schema;
    this.schema = schema;
    this.size = options.count;
    this.defaultUserId = options.defaultUserId;
    this.deriver = new Deriver(schema);
    this.minter = new IdMinter(schema.keyPrefix);
    this.seedMix = hash32(hashString(schema.name.toLowerCase()) ^ hash32(options.seed));
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
  fill(index: number, plan: FillPlan | undefined): void {
    const counter = index + 1;
    this.rng = hash32((counter * 0x9e3779b1) ^ this.seedMix) | 0;
    const v = this.vals;
    const po = plan !== undefined && !plan.derived ? plan : undefined;
    // Raw values are kept for a whole record, and for a person email built from the names.
    const raw = po === undefined || this.hasPersonEmail;
    if (raw) v.fill(null);
    if (po) resetCells(po);
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
            if (po && po.encoders[po.pos[gen.slot] as number]?.plainText) setExtCell(po, po.pos[gen.slot] as number, counter);
            else this.put(po, gen.slot, GENERATED_EXTERNAL_ID_PREFIX + counter);
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
      if (p >= 0) setStrCell(plan, p, (plan.encoders[p] as ColumnEncoder).encode(value));
    }
  }

  private putId(plan: FillPlan, slot: number, minter: IdMinter, counter: number): void {
    const p = plan.pos[slot] as number;
    if (p >= 0 && (plan.encoders[p] as ColumnEncoder).plainText) setIdCell(plan, p, minter, counter);
    else this.put(plan, slot, minter.id(counter));
  }

  private putIso(plan: FillPlan | undefined, slot: number, ms: number): void {
    const p = plan ? (plan.pos[slot] as number) : -1;
    if (plan && p >= 0 && (plan.encoders[p] as ColumnEncoder).plainText && isoCellFits(ms)) setIsoCell(plan, p, ms);
    else this.put(plan, slot, isoText(ms));
  }

  /** The generated record of 0-based `index`. */
  generate(index: number): StoredRecord {
    this.fill(index, undefined);
    const rec = this.build(this.vals);
    if (!this.deriver.empty) this.deriver.apply(rec);
    return rec;
  }

  /**
   * The cells of rows of the given fields encoded with `encoders` between `shape`'s separators: vocabulary
   * values, constants and nulls pre-encoded once into the plan's arena. Undefined when a field is not one of
   * the generated stored (non-compound) fields.
   */
  plan(fields: readonly DescribeField[], encoders: readonly ColumnEncoder[], shape: ShapeBytes): FillPlan | undefined {
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
}
