/**
 * A `--generate Object=COUNT` table: COUNT records computed on demand by the record generator (values.ts),
 * never held in memory, plus an overlay of what was written since (changed and deleted generated records,
 * inserted records). `get(id)` decodes the id's counter; `count()` is arithmetic; `scan()` is lazy; `findBy`
 * on an external id (`GEN-<n>`) is O(1). Look-ups and writes are the shared ones of {@link StoredTable}; this
 * class says where a record of a counter is: in the overlay, generated, or inserted.
 */
import { normalizeId } from '../../../salesforce-wire/ids.ts';
import { idCounter, makeId } from '../../ids.ts';
import type { DescribeField } from '../schema.ts';
import { StoredTable, textKey, type StoredRecord, type StoredValue } from '../store.ts';
import type { ColumnEncoder, RowShape } from './cells.ts';
import { generatedRowWriter, type CounterRange, type RowWriter } from './csv.ts';
import { RecordGenerator, type GeneratorOptions } from './values.ts';

export class GeneratedTable extends StoredTable<number> {
  readonly generated = true;
  /** Number of generated records (counters 1..size). */
  readonly size: number;
  private readonly generator: RecordGenerator;
  /** Overlay of generated records: counter → changed record, or null when hard-deleted. */
  private readonly overrides = new Map<number, StoredRecord | null>();
  /** Records inserted after generation (counters > size), in id order. */
  private readonly inserted = new Map<number, StoredRecord>();
  private nextCounter: number;
  private hardDeletedGenerated = 0;
  /** The last record {@link generatedRecord} generated, and its counter. */
  private lastCounter = 0;
  private lastRecord: StoredRecord | undefined;
  private softDeleted = 0;

  constructor(options: GeneratorOptions) {
    super(options.schema, options.clock);
    this.size = options.count;
    this.nextCounter = options.count + 1;
    this.generator = new RecordGenerator(options);
  }

  /** The generated record of 0-based `index` (ignores the overlay). */
  generate(index: number): StoredRecord {
    return this.generator.generate(index);
  }

  /**
   * The records of `scan(includeDeleted)`, in the same order, written as bytes of the given fields only (Bulk
   * results of a generated object; generated/csv.ts). Undefined when a field is not one of this table's stored
   * (non-compound) fields.
   */
  rowWriter(fields: readonly DescribeField[], encoders: readonly ColumnEncoder[], includeDeleted: boolean, shape: RowShape, counters?: CounterRange): RowWriter | undefined {
    return generatedRowWriter({ generator: this.generator, overrides: this.overrides, inserted: this.inserted }, fields, encoders, includeDeleted, shape, counters);
  }

  /**
   * The counters whose ids satisfy Id bounds (`from`/`to`, inclusive or not), by binary search: ids grow with the
   * counter. `first > last` when none does.
   */
  counterRange(range: { from?: string; fromInclusive?: boolean; to?: string; toInclusive?: boolean }): CounterRange {
    const top = this.nextCounter - 1;
    const id = (c: number): string => makeId(this.schema.keyPrefix, c);
    const above = (c: number): boolean => range.from === undefined || (range.fromInclusive ? id(c) >= range.from : id(c) > range.from);
    const below = (c: number): boolean => range.to === undefined || (range.toInclusive ? id(c) <= range.to : id(c) < range.to);
    // first: the smallest counter above the lower bound; last: the largest below the upper one.
    let lo = 1;
    let hi = top + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (above(mid)) hi = mid;
      else lo = mid + 1;
    }
    const first = lo;
    lo = 0;
    hi = top;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (below(mid)) lo = mid;
      else hi = mid - 1;
    }
    return { first, last: lo };
  }

  /** The records of `scan(includeDeleted)` with counters in the range, counted from the overlay alone. */
  countRange(range: CounterRange, includeDeleted: boolean): number {
    if (range.first > range.last) return 0;
    const lastGenerated = Math.min(this.size, range.last);
    let n = Math.max(0, lastGenerated - range.first + 1);
    for (const [c, r] of this.overrides) {
      if (c < range.first || c > lastGenerated) continue;
      if (!r || (!includeDeleted && r['IsDeleted'] === true)) n--;
    }
    for (const [c, r] of this.inserted) {
      if (c < range.first || c > range.last) continue;
      if (includeDeleted || r['IsDeleted'] !== true) n++;
    }
    return n;
  }

  count(includeDeleted: boolean): number {
    const total = this.size - this.hardDeletedGenerated + this.inserted.size;
    return includeDeleted ? total : total - this.softDeleted;
  }

  *scan(includeDeleted: boolean): Iterable<StoredRecord> {
    yield* this.scanCounters(1, includeDeleted);
  }

  /** The records of `scan` from the counter of `id` on (all of them when the id is not one this table mints). */
  scanFrom(id: string, includeDeleted: boolean): Iterable<StoredRecord> {
    const key = normalizeId(id);
    const c = key && key.slice(0, 3) === this.schema.keyPrefix ? idCounter(key) : undefined;
    return this.scanCounters(c === undefined ? 1 : Math.max(1, c), includeDeleted);
  }

  /** The records of `scan`, last first (ORDER BY Id DESC), lazily. */
  *scanDescending(includeDeleted: boolean): Iterable<StoredRecord> {
    for (const r of [...this.inserted.values()].reverse()) {
      if (!includeDeleted && r['IsDeleted'] === true) continue;
      yield r;
    }
    for (let c = this.size; c >= 1; c--) {
      const r = this.atCounter(c, includeDeleted);
      if (r) yield r;
    }
  }

  /** The record of generated counter `c`: its override (none when deleted for good, or soft-deleted and `includeDeleted` is false), else the generator's. */
  private atCounter(c: number, includeDeleted: boolean): StoredRecord | undefined {
    const overrides = this.overrides;
    if (overrides.size > 0 && overrides.has(c)) {
      const r = overrides.get(c);
      return r && (includeDeleted || r['IsDeleted'] !== true) ? r : undefined;
    }
    return this.generator.generate(c - 1);
  }

  private *scanCounters(first: number, includeDeleted: boolean): Iterable<StoredRecord> {
    for (let c = first; c <= this.size; c++) {
      const r = this.atCounter(c, includeDeleted);
      if (r) yield r;
    }
    for (const [c, r] of [...this.inserted.entries()]) {
      if (c < first) continue;
      if (!includeDeleted && r['IsDeleted'] === true) continue;
      yield r;
    }
  }

  /** The counter of one of this table's ids, or undefined. */
  protected keyOf(id: string): number | undefined {
    // The record generated last (an upsert's match, about to be updated by its Id): its counter is known.
    if (this.lastRecord !== undefined && id === this.lastRecord['Id']) return this.lastCounter;
    const key = normalizeId(id);
    if (!key || key.slice(0, 3) !== this.schema.keyPrefix) return undefined;
    const n = idCounter(key);
    return n !== undefined && n >= 1 ? n : undefined;
  }

  protected read(c: number): StoredRecord | undefined {
    if (c <= this.size) {
      const o = this.overrides.get(c);
      if (o !== undefined || this.overrides.has(c)) return o ?? undefined;
      return this.generatedRecord(c);
    }
    return this.inserted.get(c);
  }

  /**
   * The generated record of counter `c`, remembered for the next call: an upsert looks its record up by
   * external id and then updates it by id, which would otherwise generate it twice. Records are never
   * changed in place (writes build new ones), so handing out the same object again is safe.
   */
  private generatedRecord(c: number): StoredRecord {
    if (this.lastCounter === c && this.lastRecord !== undefined) return this.lastRecord;
    const rec = this.generator.generate(c - 1);
    this.lastCounter = c;
    this.lastRecord = rec;
    return rec;
  }

  protected mint(): { key: number; id: string } {
    const c = this.nextCounter++;
    return { key: c, id: makeId(this.schema.keyPrefix, c) };
  }

  protected keep(c: number, old: StoredRecord | undefined, rec: StoredRecord): void {
    if (old?.['IsDeleted'] === true) this.softDeleted--;
    if (rec['IsDeleted'] === true) this.softDeleted++;
    if (c <= this.size) this.overrides.set(c, rec);
    else this.inserted.set(c, rec);
  }

  protected drop(c: number, old: StoredRecord): void {
    if (old['IsDeleted'] === true) this.softDeleted--;
    if (c <= this.size) {
      this.overrides.set(c, null);
      this.hardDeletedGenerated++;
    } else {
      this.inserted.delete(c);
    }
  }

  /**
   * Invertible external ids (`GEN-<n>`): the generated record of that counter unless the overlay has it, plus
   * the overlay's index. Other fields (e.g. an idLookup Email) are scanned: generated records are not indexed.
   */
  protected override findIndexed(fieldName: string, value: StoredValue): StoredRecord[] | undefined {
    if (!this.generator.extIdFields.has(fieldName)) return undefined;
    const indexed = this.indexes.lookup(fieldName, value);
    if (!indexed) return undefined;
    let generated: StoredRecord | undefined;
    let gc = 0;
    const c = typeof value === 'string' ? genCounter(value) : 0;
    if (c >= 1 && c <= this.size && !this.overrides.has(c)) {
      const r = this.generatedRecord(c);
      const v = r[fieldName] ?? null;
      if (v === value || textKey(v, this.schema.field(fieldName)?.caseSensitive ?? false) === textKey(value, this.schema.field(fieldName)?.caseSensitive ?? false)) {
        generated = r;
        gc = c;
      }
    }
    // The generated match first, then the overlay's in index order (a counter listed once).
    const out: StoredRecord[] = generated ? [generated] : [];
    for (const c of indexed) {
      if (c === gc) continue;
      const r = this.read(c);
      if (r && r['IsDeleted'] !== true) out.push(r);
    }
    return out;
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
      const old = this.read(c);
      if (old) this.replace(c, old, rec);
      else if (c > this.size) this.replace(c, undefined, rec);
    }
    this.nextCounter = Math.max(this.nextCounter, nextCounter);
  }
}

/** The counter of a generated external id `GEN-<n>` (any case; n from 1, at most 15 digits, no leading 0), else 0. */
function genCounter(value: string): number {
  const n = value.length;
  if (n < 5 || n > 19) return 0;
  if ((value.charCodeAt(0) | 32) !== 103 || (value.charCodeAt(1) | 32) !== 101 || (value.charCodeAt(2) | 32) !== 110 || value.charCodeAt(3) !== 45) return 0;
  let c = 0;
  for (let i = 4; i < n; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (i === 4 && d === 0)) return 0;
    c = c * 10 + d;
  }
  return c;
}
