import { idCounter, makeId, normalizeId } from '../ids.ts';
import type { ObjectSchema } from './schema.ts';
import { Deriver } from './derived.ts';
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

/**
 * Indexes of a table's external-id, idLookup and unique fields: value → keys (ids or counters) of live
 * records. Shared by the in-memory and the generated tables.
 */
export class FieldIndexes<K> {
  private readonly schema: ObjectSchema;
  private readonly indexes = new Map<string, Map<string, Set<K>>>();

  constructor(schema: ObjectSchema) {
    this.schema = schema;
    for (const f of schema.fields) {
      if ((f.externalId || f.idLookup || f.unique) && f.type !== 'id') this.indexes.set(f.name, new Map());
    }
  }

  has(fieldName: string): boolean {
    return this.indexes.has(fieldName);
  }

  /** Keys of live records whose indexed field equals `value`, or undefined when the field is not indexed. */
  lookup(fieldName: string, value: StoredValue): ReadonlySet<K> | undefined {
    const index = this.indexes.get(fieldName);
    if (!index) return undefined;
    return index.get(textKey(value, this.schema.field(fieldName)?.caseSensitive ?? false)) ?? new Set();
  }

  add(key: K, rec: StoredRecord): void {
    if (rec['IsDeleted'] === true) return;
    for (const [name, index] of this.indexes) {
      const v = rec[name] ?? null;
      if (v === null) continue;
      const k = textKey(v, this.schema.field(name)?.caseSensitive ?? false);
      let set = index.get(k);
      if (!set) index.set(k, (set = new Set()));
      set.add(key);
    }
  }

  remove(key: K, rec: StoredRecord): void {
    for (const [name, index] of this.indexes) {
      const v = rec[name] ?? null;
      if (v === null) continue;
      index.get(textKey(v, this.schema.field(name)?.caseSensitive ?? false))?.delete(key);
    }
  }
}

/**
 * An in-memory table. Records are kept in insertion order (ids are minted from an increasing counter,
 * so this is also Id order). Indexes on external-id / idLookup / unique fields are maintained on write.
 */
export class MemoryTable implements Table {
  readonly generated = false;
  readonly schema: ObjectSchema;
  private readonly records = new Map<string, StoredRecord>();
  private readonly indexes: FieldIndexes<string>;
  private deletedCount = 0;
  private counter: number;
  private readonly clock: () => number;
  /** Formula fields, person Name, Opportunity stage fields: recomputed on every write. */
  private readonly deriver: Deriver;

  constructor(schema: ObjectSchema, options: { clock: () => number; firstCounter?: number }) {
    this.schema = schema;
    this.deriver = new Deriver(schema);
    this.clock = options.clock;
    this.counter = options.firstCounter ?? 1;
    this.indexes = new FieldIndexes(schema);
  }

  count(includeDeleted: boolean): number {
    return includeDeleted ? this.records.size : this.records.size - this.deletedCount;
  }

  *scan(includeDeleted: boolean): Iterable<StoredRecord> {
    for (const r of this.records.values()) {
      if (includeDeleted || r['IsDeleted'] !== true) yield r;
    }
  }

  get(id: string, includeDeleted = false): StoredRecord | undefined {
    const key = normalizeId(id);
    if (!key) return undefined;
    const r = this.records.get(key);
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
    const ids = this.indexes.lookup(field.name, value);
    const out: StoredRecord[] = [];
    if (ids) {
      for (const id of ids) {
        const r = this.records.get(id);
        if (r && r['IsDeleted'] !== true) out.push(r);
      }
      return out;
    }
    const key = textKey(value, field.caseSensitive);
    for (const r of this.scan(false)) if (textKey(r[field.name] ?? null, field.caseSensitive) === key) out.push(r);
    return out;
  }

  /** Load a record as it is (seed data, persisted state); keeps its Id and audit fields. */
  load(record: StoredRecord): void {
    const id = normalizeId(String(record['Id']));
    if (!id) throw new Error(`${this.schema.name}: bad Id ${String(record['Id'])}`);
    const full: Record<string, StoredValue> = {};
    for (const f of this.schema.fields) if (!this.schema.isCompound(f)) full[f.name] = record[f.name] ?? null;
    full['Id'] = id;
    if ('IsDeleted' in full && full['IsDeleted'] === null) full['IsDeleted'] = false;
    this.put(id, full);
    const n = idCounter(id);
    if (n !== undefined && n >= this.counter) this.counter = n + 1;
  }

  insert(values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord {
    const id = makeId(this.schema.keyPrefix, this.counter++);
    const now = nowIso(this.clock);
    const rec: Record<string, StoredValue> = {};
    for (const f of this.schema.fields) {
      if (this.schema.isCompound(f)) continue;
      rec[f.name] = values[f.name] ?? null;
    }
    rec['Id'] = id;
    this.setIfPresent(rec, 'IsDeleted', false);
    this.setIfPresent(rec, 'CreatedDate', now);
    this.setIfPresent(rec, 'LastModifiedDate', now);
    this.setIfPresent(rec, 'SystemModstamp', now);
    this.setIfPresent(rec, 'CreatedById', userId);
    this.setIfPresent(rec, 'LastModifiedById', userId);
    if (this.schema.field('OwnerId') && (rec['OwnerId'] ?? null) === null) rec['OwnerId'] = userId;
    this.deriver.apply(rec);
    this.put(id, rec);
    return rec;
  }

  update(id: string, values: Readonly<Record<string, StoredValue>>, userId: string): StoredRecord {
    const key = normalizeId(id);
    const old = key ? this.records.get(key) : undefined;
    if (!key || !old) throw new Error(`${this.schema.name}: no record ${id}`);
    const now = nowIso(this.clock);
    const rec: Record<string, StoredValue> = { ...old, ...values };
    this.setIfPresent(rec, 'LastModifiedDate', now);
    this.setIfPresent(rec, 'SystemModstamp', now);
    this.setIfPresent(rec, 'LastModifiedById', userId);
    if (!this.deriver.empty) this.deriver.apply(rec, new Set(Object.keys(values)));
    this.unindex(key, old);
    this.put(key, rec);
    return rec;
  }

  delete(id: string, userId: string): void {
    const key = normalizeId(id);
    const old = key ? this.records.get(key) : undefined;
    if (!key || !old || old['IsDeleted'] === true) return;
    const now = nowIso(this.clock);
    const rec: Record<string, StoredValue> = { ...old, IsDeleted: true };
    this.setIfPresent(rec, 'LastModifiedDate', now);
    this.setIfPresent(rec, 'SystemModstamp', now);
    this.setIfPresent(rec, 'LastModifiedById', userId);
    this.unindex(key, old);
    this.records.set(key, rec);
    this.deletedCount++;
  }

  hardDelete(id: string): void {
    const key = normalizeId(id);
    const old = key ? this.records.get(key) : undefined;
    if (!key || !old) return;
    this.unindex(key, old);
    this.records.delete(key);
    if (old['IsDeleted'] === true) this.deletedCount--;
  }

  /** Every record (deleted included), for persistence. */
  all(): IterableIterator<StoredRecord> {
    return this.records.values();
  }

  private setIfPresent(rec: Record<string, StoredValue>, name: string, value: StoredValue): void {
    if (this.schema.field(name)) rec[name] = value;
  }

  private put(id: string, rec: StoredRecord): void {
    const old = this.records.get(id);
    if (old?.['IsDeleted'] === true) this.deletedCount--;
    this.records.set(id, rec);
    if (rec['IsDeleted'] === true) this.deletedCount++;
    this.indexes.add(id, rec);
  }

  private unindex(id: string, rec: StoredRecord): void {
    this.indexes.remove(id, rec);
  }
}

/** The org's tables, looked up case-insensitively by object name. */
export class OrgStore {
  private readonly byLower = new Map<string, Table>();

  add(table: Table): void {
    this.byLower.set(table.schema.name.toLowerCase(), table);
  }

  table(name: string): Table | undefined {
    return this.byLower.get(name.toLowerCase());
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
