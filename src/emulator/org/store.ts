import { normalizeId } from '../../salesforce-wire/ids.ts';
import { idCounter, makeId } from '../ids.ts';
import type { ObjectSchema } from './schema.ts';
import { Deriver } from './derived.ts';
import { FormulaView } from './formula.ts';
import type { StoredRecord, StoredValue } from './record.ts';

export type { StoredRecord, StoredValue } from './record.ts';

/** One object's records. Implemented in memory (seed data) and by generated tables (`--generate`). */
export interface Table {
  readonly schema: ObjectSchema;
  /** True for `--generate` tables, whose records are computed on demand. */
  readonly generated: boolean;
  /** Live records, plus deleted ones (the recycle bin) when `includeDeleted`. O(1). */
  count(includeDeleted: boolean): number;
  /** Records in a stable order (creation order, which is Id order), produced lazily. */
  scan(includeDeleted: boolean): Iterable<StoredRecord>;
  /**
   * Optional seek: the records of `scan` from the first whose Id may be at or after `id` (18-char), in the same
   * order. Callers still compare Ids; a table without it is scanned from the start.
   */
  scanFrom?(id: string, includeDeleted: boolean): Iterable<StoredRecord>;
  /** Optional: the records of `scan` in reverse order, lazily (a table without it is scanned whole and reversed). */
  scanDescending?(includeDeleted: boolean): Iterable<StoredRecord>;
  /** A record by 15- or 18-char id. Deleted records only when `includeDeleted`. */
  get(id: string, includeDeleted?: boolean): StoredRecord | undefined;
  /**
   * Live records whose `field` equals `value`: text compares case-insensitively unless the field is caseSensitive.
   * Used for external ids and idLookup fields.
   */
  findBy(fieldName: string, value: StoredValue): StoredRecord[];
  /** Insert with system fields set (Id, CreatedDate, ..., IsDeleted false). `values` are already validated. */
  insert(values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord;
  /** Update the given fields (already validated) and the system modstamp fields. */
  update(id: string, values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord;
  /** Soft delete: the record goes to the recycle bin (IsDeleted true), still visible to queryAll. */
  delete(id: string, userId: string): void;
  /** Remove the record for good (Bulk hardDelete). */
  hardDelete(id: string): void;
}

export function nowIso(clock: () => number): string {
  return new Date(clock()).toISOString();
}

/** Names of the system audit fields every object carries (when its describe has them). */
export const SYSTEM_FIELDS = ['Id', 'IsDeleted', 'CreatedDate', 'CreatedById', 'LastModifiedDate', 'LastModifiedById', 'SystemModstamp'] as const;

/** How a field value is compared for look-ups: text case-insensitively unless the field is caseSensitive. */
export function textKey(value: StoredValue, caseSensitive: boolean): string {
  if (value === null) return '\u0000null';
  const s = String(value);
  return caseSensitive ? s : s.toLowerCase();
}

/** No keys: what a look-up of an indexed value no live record has answers. */
const NO_KEYS: readonly never[] = [];

interface FieldIndex<K> {
  readonly name: string;
  readonly caseSensitive: boolean;
  /** Value key → the one record key that has it (the usual case: unique values), or a set when several do. */
  readonly map: Map<string, K | Set<K>>;
}

/**
 * Indexes of a table's external-id, idLookup and unique fields: value → keys (ids or counters) of live
 * records, in the order they were added. Shared by the in-memory and the generated tables. A value held by
 * one record keeps its key alone (no set per value: a million upserted external ids are a million entries).
 */
export class FieldIndexes<K> {
  private readonly indexes = new Map<string, FieldIndex<K>>();
  private readonly list: FieldIndex<K>[] = [];

  constructor(schema: ObjectSchema) {
    for (const f of schema.fields) {
      if ((f.externalId || f.idLookup || f.unique) && f.type !== 'id') {
        const index: FieldIndex<K> = { name: f.name, caseSensitive: f.caseSensitive, map: new Map() };
        this.indexes.set(f.name, index);
        this.list.push(index);
      }
    }
  }

  has(fieldName: string): boolean {
    return this.indexes.has(fieldName);
  }

  /** Keys of live records whose indexed field equals `value`, or undefined when the field is not indexed. */
  lookup(fieldName: string, value: StoredValue): Iterable<K> | undefined {
    const index = this.indexes.get(fieldName);
    if (!index) return undefined;
    const keys = index.map.get(textKey(value, index.caseSensitive));
    if (keys === undefined) return NO_KEYS;
    return keys instanceof Set ? keys : [keys];
  }

  add(key: K, rec: StoredRecord): void {
    if (rec['IsDeleted'] === true) return;
    for (const index of this.list) {
      const v = rec[index.name] ?? null;
      if (v === null) continue;
      const k = textKey(v, index.caseSensitive);
      const keys = index.map.get(k);
      if (keys === undefined) index.map.set(k, key);
      else if (keys instanceof Set) keys.add(key);
      else if (keys !== key) index.map.set(k, new Set([keys, key]));
    }
  }

  remove(key: K, rec: StoredRecord): void {
    for (const index of this.list) {
      const v = rec[index.name] ?? null;
      if (v === null) continue;
      const k = textKey(v, index.caseSensitive);
      const keys = index.map.get(k);
      if (keys === undefined) continue;
      if (keys instanceof Set) keys.delete(key);
      else if (keys === key) index.map.delete(k);
    }
  }
}

/**
 * What every table does the same way, whatever holds its records: look-ups by id and by indexed field, and
 * writes that stamp the audit fields, recompute derived fields and keep the field indexes. A subclass says
 * how a record is keyed (`K`: an id in memory, a counter for generated tables) and where it is kept.
 */
export abstract class StoredTable<K> implements Table {
  abstract readonly generated: boolean;
  readonly schema: ObjectSchema;
  /** Indexes of external-id, idLookup and unique fields, over the records this table keeps. */
  protected readonly indexes: FieldIndexes<K>;
  /** Formula fields, person Name, Opportunity stage fields: recomputed on every write. */
  protected readonly deriver: Deriver;
  protected readonly clock: () => number;
  /** The stored (non-compound) fields' names: a new record's keys. */
  private readonly stored: ReadonlySet<string>;
  /** A new record with every stored field null, in describe order (one object literal: one shape, no reshaping). */
  private readonly blank: () => Record<string, StoredValue>;
  /** Which audit fields the object has (each written only when it does). */
  private readonly audit: { readonly IsDeleted: boolean; readonly CreatedDate: boolean; readonly CreatedById: boolean; readonly LastModifiedDate: boolean; readonly SystemModstamp: boolean; readonly LastModifiedById: boolean; readonly OwnerId: boolean };
  /** The last clock reading and its ISO text (writes of one batch share a millisecond). */
  private lastNow = { ms: Number.NaN, iso: '' };

  constructor(schema: ObjectSchema, clock: () => number) {
    this.schema = schema;
    this.clock = clock;
    this.deriver = new Deriver(schema);
    this.indexes = new FieldIndexes(schema);
    const storedNames = schema.fields.filter((f) => !schema.isCompound(f)).map((f) => f.name);
    this.stored = new Set(storedNames);
    // Field names are embedded with JSON.stringify; no value reaches the generated source.
    this.blank = new Function(`return { ${storedNames.map((n) => `${JSON.stringify(n)}: null`).join(', ')} };`) as () => Record<string, StoredValue>;
    const has = (name: string): boolean => schema.field(name) !== undefined;
    this.audit = {
      IsDeleted: has('IsDeleted'),
      CreatedDate: has('CreatedDate'),
      CreatedById: has('CreatedById'),
      LastModifiedDate: has('LastModifiedDate'),
      SystemModstamp: has('SystemModstamp'),
      LastModifiedById: has('LastModifiedById'),
      OwnerId: has('OwnerId'),
    };
  }

  /** The clock as ISO text (what nowIso gives), computed once per millisecond. */
  private now(): string {
    const ms = this.clock();
    if (ms !== this.lastNow.ms) this.lastNow = { ms, iso: new Date(ms).toISOString() };
    return this.lastNow.iso;
  }

  abstract count(includeDeleted: boolean): number;
  abstract scan(includeDeleted: boolean): Iterable<StoredRecord>;

  /** The key of one of this table's ids (15 or 18 chars), or undefined. */
  protected abstract keyOf(id: string): K | undefined;
  /** The record kept under a key, deleted or not. */
  protected abstract read(key: K): StoredRecord | undefined;
  /** A key and Id for a new record. */
  protected abstract mint(): { readonly key: K; readonly id: string };
  /** Keep `rec` under `key` in place of `old` (undefined for a new record); the indexes are kept by the caller. */
  protected abstract keep(key: K, old: StoredRecord | undefined, rec: StoredRecord): void;
  /** Forget the record under `key` for good. */
  protected abstract drop(key: K, old: StoredRecord): void;

  /** Live records an index answers for (undefined: no index can, so the records are scanned). */
  protected findIndexed(fieldName: string, value: StoredValue): StoredRecord[] | undefined {
    const keys = this.indexes.lookup(fieldName, value);
    if (!keys) return undefined;
    const out: StoredRecord[] = [];
    for (const key of keys) {
      const r = this.read(key);
      if (r && r['IsDeleted'] !== true) out.push(r);
    }
    return out;
  }

  get(id: string, includeDeleted = false): StoredRecord | undefined {
    const key = this.keyOf(id);
    if (key === undefined) return undefined;
    const r = this.read(key);
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
    const indexed = this.findIndexed(field.name, value);
    if (indexed) return indexed;
    const key = textKey(value, field.caseSensitive);
    const out: StoredRecord[] = [];
    for (const r of this.scan(false)) if (textKey(r[field.name] ?? null, field.caseSensitive) === key) out.push(r);
    return out;
  }

  insert(values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord {
    const { key, id } = this.mint();
    const now = this.now();
    // The blank record has every stored field already, in describe order, and the same shape for every record
    // of the table (property-by-property adds to {} would reshape it thirty times).
    const rec = this.blank();
    for (const name in values) {
      const v = values[name];
      if (v !== undefined && this.stored.has(name)) rec[name] = v;
    }
    rec['Id'] = id;
    const audit = this.audit;
    if (audit.IsDeleted) rec['IsDeleted'] = false;
    if (audit.CreatedDate) rec['CreatedDate'] = now;
    if (audit.CreatedById) rec['CreatedById'] = userId;
    this.stampModified(rec, now, userId);
    if (audit.OwnerId && (rec['OwnerId'] ?? null) === null) rec['OwnerId'] = userId;
    this.deriver.apply(rec);
    this.replace(key, undefined, rec);
    return rec;
  }

  update(id: string, values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord {
    const key = this.keyOf(id);
    const old = key === undefined ? undefined : this.read(key);
    if (key === undefined || !old) throw new Error(`${this.schema.name}: no record ${id}`);
    const rec: Record<string, StoredValue> = { ...old, ...values };
    this.stampModified(rec, this.now(), userId);
    if (!this.deriver.empty) this.deriver.apply(rec, this.deriver.readsChanged ? new Set(Object.keys(values)) : undefined);
    this.replace(key, old, rec);
    return rec;
  }

  delete(id: string, userId: string): void {
    const key = this.keyOf(id);
    const old = key === undefined ? undefined : this.read(key);
    if (key === undefined || !old || old['IsDeleted'] === true) return;
    const rec: Record<string, StoredValue> = { ...old, IsDeleted: true };
    this.stampModified(rec, this.now(), userId);
    this.replace(key, old, rec);
  }

  hardDelete(id: string): void {
    const key = this.keyOf(id);
    const old = key === undefined ? undefined : this.read(key);
    if (key === undefined || !old) return;
    this.indexes.remove(key, old);
    this.drop(key, old);
  }

  /** Keep a record in place of another (or as a new one), re-indexed. */
  protected replace(key: K, old: StoredRecord | undefined, rec: StoredRecord): void {
    if (old) this.indexes.remove(key, old);
    this.keep(key, old, rec);
    this.indexes.add(key, rec);
  }

  private stampModified(rec: Record<string, StoredValue>, now: string, userId: string): void {
    const audit = this.audit;
    if (audit.LastModifiedDate) rec['LastModifiedDate'] = now;
    if (audit.SystemModstamp) rec['SystemModstamp'] = now;
    if (audit.LastModifiedById) rec['LastModifiedById'] = userId;
  }
}

/**
 * An in-memory table. Records are kept in insertion order (ids are minted from an increasing counter,
 * so this is also Id order). Indexes on external-id / idLookup / unique fields are maintained on write.
 */
export class MemoryTable extends StoredTable<string> {
  readonly generated = false;
  private readonly records = new Map<string, StoredRecord>();
  private deletedCount = 0;
  private counter: number;

  constructor(schema: ObjectSchema, options: { clock: () => number; firstCounter?: number }) {
    super(schema, options.clock);
    this.counter = options.firstCounter ?? 1;
  }

  count(includeDeleted: boolean): number {
    return includeDeleted ? this.records.size : this.records.size - this.deletedCount;
  }

  *scan(includeDeleted: boolean): Iterable<StoredRecord> {
    for (const r of this.records.values()) {
      if (includeDeleted || r['IsDeleted'] !== true) yield r;
    }
  }

  /** Load a record as it is (seed data, persisted state); keeps its Id and audit fields. */
  load(record: StoredRecord): void {
    const id = normalizeId(String(record['Id']));
    if (!id) throw new Error(`${this.schema.name}: bad Id ${String(record['Id'])}`);
    const full: Record<string, StoredValue> = {};
    for (const f of this.schema.fields) if (!this.schema.isCompound(f)) full[f.name] = record[f.name] ?? null;
    full['Id'] = id;
    if ('IsDeleted' in full && full['IsDeleted'] === null) full['IsDeleted'] = false;
    this.replace(id, this.records.get(id), full);
    const n = idCounter(id);
    if (n !== undefined && n >= this.counter) this.counter = n + 1;
  }

  /** Every record (deleted included), for persistence. */
  all(): IterableIterator<StoredRecord> {
    return this.records.values();
  }

  protected keyOf(id: string): string | undefined {
    return normalizeId(id);
  }

  protected read(key: string): StoredRecord | undefined {
    return this.records.get(key);
  }

  protected mint(): { key: string; id: string } {
    const id = makeId(this.schema.keyPrefix, this.counter++);
    return { key: id, id };
  }

  protected keep(key: string, old: StoredRecord | undefined, rec: StoredRecord): void {
    if (old?.['IsDeleted'] === true) this.deletedCount--;
    this.records.set(key, rec);
    if (rec['IsDeleted'] === true) this.deletedCount++;
  }

  protected drop(key: string, old: StoredRecord): void {
    this.records.delete(key);
    if (old['IsDeleted'] === true) this.deletedCount--;
  }
}

/**
 * A table whose object has formulas reaching a parent (`Invoice__r.Exchange_Rate__c * Quantity__c`): every
 * record it hands out has them computed from the current parents (src/emulator/org/formula.ts). Writes go to
 * the stored table as they are; the stored records never hold those values, and a parent's change never
 * touches a child's audit fields.
 */
class FormulaTable implements Table {
  readonly schema: ObjectSchema;
  readonly generated: boolean;

  constructor(readonly stored: Table, private readonly view: FormulaView) {
    this.schema = stored.schema;
    this.generated = stored.generated;
  }

  count(includeDeleted: boolean): number {
    return this.stored.count(includeDeleted);
  }

  *scan(includeDeleted: boolean): Iterable<StoredRecord> {
    for (const r of this.stored.scan(includeDeleted)) yield this.view.apply(r);
  }

  get(id: string, includeDeleted?: boolean): StoredRecord | undefined {
    const r = this.stored.get(id, includeDeleted);
    return r && this.view.apply(r);
  }

  findBy(fieldName: string, value: StoredValue): StoredRecord[] {
    return this.stored.findBy(fieldName, value).map((r) => this.view.apply(r));
  }

  insert(values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord {
    return this.view.apply(this.stored.insert(values, userId));
  }

  update(id: string, values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord {
    return this.view.apply(this.stored.update(id, values, userId));
  }

  delete(id: string, userId: string): void {
    this.stored.delete(id, userId);
  }

  hardDelete(id: string): void {
    this.stored.hardDelete(id);
  }
}

/**
 * The org's tables, looked up case-insensitively by object name. A table whose formulas reach a parent is
 * handed out through a {@link FormulaTable} (computed on read); `storedTable` gives the table as stored
 * (persistence).
 */
export class OrgStore {
  private readonly byLower = new Map<string, Table>();
  private readonly storedByLower = new Map<string, Table>();

  add(table: Table): void {
    const key = table.schema.name.toLowerCase();
    this.storedByLower.set(key, table);
    const view = new FormulaView(table.schema, {
      schema: (name) => this.storedByLower.get(name.toLowerCase())?.schema,
      parent: (target, id) => (target ? this.table(target.name) : this.tableForId(id))?.get(id, true),
    });
    this.byLower.set(key, view.empty ? table : new FormulaTable(table, view));
  }

  table(name: string): Table | undefined {
    return this.byLower.get(name.toLowerCase());
  }

  /** The table as stored (a {@link MemoryTable} or a generated table), without formulas computed on read. */
  storedTable(name: string): Table | undefined {
    return this.storedByLower.get(name.toLowerCase());
  }

  /** The table whose key prefix matches an id's first three characters. */
  tableForId(id: string): Table | undefined {
    const prefix = id.slice(0, 3);
    for (const t of this.byLower.values()) if (t.schema.keyPrefix === prefix) return t;
    return undefined;
  }

  tables(): readonly Table[] {
    return [...this.byLower.values()];
  }
}
