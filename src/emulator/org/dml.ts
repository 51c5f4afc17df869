/**
 * The emulator's one write engine, shared by the REST single-record routes, sObject Collections and
 * Bulk API 2.0 ingest ("row validation is the same code as the REST path").
 *
 * ```ts
 * applyWrites(org, {
 *   operation: 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete',
 *   object: 'Account',
 *   externalIdField?: 'External_Id__c',   // upsert only; 'Id' works too
 *   allOrNone?: false,
 *   encoding: 'json' | 'csv',
 *   rows: [{ ... }],                      // one per record, results come back in the same order
 *   userId: session.userId,
 *   header?: ['Name', 'Account.External_Id__c'], // csv: as uploaded; rows may then be string arrays
 *   jsonText?: body,                      // json: the raw body (line/column of JSON_PARSER_ERROR)
 * }): WriteOutcome[]                      // { success, id?, created? (upsert), errors: [{ statusCode, message, fields }] }
 * ```
 * - `encoding: 'json'`: REST JSON values, typed; `attributes` ignored; keys case-insensitive; a nested
 *   `{"Account": {"External_Id__c": "X"}}` (with `attributes.type` for polymorphic lookups) sets the lookup by
 *   external id. A value of the wrong JSON type throws Salesforce's whole-request 400 JSON_PARSER_ERROR
 *   ({@link SfHttpError}) before anything is written.
 * - `encoding: 'csv'`: strings as uploaded in a Bulk CSV. `#N/A` sets null; an empty string leaves the field
 *   unchanged (insert: not set, so defaults apply). Relationship columns `Account.External_Id__c`,
 *   `Account__r.External_Id__c`, polymorphic `Lead:Who.Email`.
 * - Delete/hardDelete rows carry only `Id`. Deletes go to the recycle bin (queryAll sees them).
 * - With `allOrNone`, any failure undoes every write of the call; the other rows report
 *   ALL_OR_NONE_OPERATION_ROLLED_BACK.
 * - Each row that would be written asks `org.faults.rowLock()`; true fails it with UNABLE_TO_LOCK_ROW.
 *
 * {@link applyMixedWrites} takes rows of several objects (collections create/delete); {@link checkColumns}
 * finds the first CSV column an object does not have (Bulk fails the whole job on it).
 * Only the {@link Table} interface is used (get/findBy, never a scan), so generated tables work too.
 */
import { SfHttpError, jsonParseError } from '../errors.ts';
import { normalizeId } from '../../salesforce-wire/ids.ts';
import type { DescribeField, ObjectSchema } from './schema.ts';
import { SYSTEM_FIELDS, type OrgStore, type StoredRecord, type StoredValue, type Table } from './store.ts';
import {
  JsonTypeError,
  Rejected,
  allowedPicklistValues,
  checkedValue,
  csvValue,
  coerceCsv,
  coerceJson,
  defaultOnCreate,
  isRequiredOnCreate,
  isRequiredOnUpdate,
  isWritable,
  noSuchColumnError,
  notWritableError,
  requiredMissingError,
  writeError,
  type WriteError,
} from './validate.ts';

export type { WriteError } from './validate.ts';

export type WriteOperation = 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete';

/** What the write engine needs of the org (the wired emulator's `org` is one). */
export interface WriteContext {
  readonly store: OrgStore;
  /** Fault injection: true when the row about to be written must fail with UNABLE_TO_LOCK_ROW. */
  readonly faults: { rowLock(): boolean };
  /** Told which objects changed (saving to `--data` may be deferred). */
  readonly persistence: { markDirty(objectName: string): void };
}

export interface WriteRequest {
  readonly operation: WriteOperation;
  readonly object: string;
  /** Upsert: the external id (or idLookup) field that matches records; `Id` works too. */
  readonly externalIdField?: string;
  readonly allOrNone?: boolean;
  readonly encoding: 'json' | 'csv';
  /** One per record: an object keyed by field/column name, or (CSV) an array of values in `header` order. */
  readonly rows: ReadonlyArray<WriteRow>;
  readonly userId: string;
  /** CSV: the header as uploaded; required for array rows, and gives column numbers in errors. */
  readonly header?: readonly string[];
  /** JSON: the raw request body, for the line/column of a JSON_PARSER_ERROR. */
  readonly jsonText?: string;
}

export interface WriteOutcome {
  success: boolean;
  id?: string;
  /** Upsert only: true when the row created a record. */
  created?: boolean;
  errors: WriteError[];
}

/** One row of a mixed-object write; `object` may be omitted for delete (taken from the id's key prefix). */
export interface MixedWriteItem {
  readonly object?: string;
  readonly row: WriteRow;
}

export type WriteRow = Readonly<Record<string, unknown>> | readonly string[];

export type MixedWriteRequest = Omit<WriteRequest, 'object' | 'rows'> & { readonly items: readonly MixedWriteItem[] };

export const ROLLED_BACK: WriteError = {
  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
  fields: [],
};

interface RefSpec {
  readonly field: DescribeField;
  readonly targets: readonly string[];
  readonly extField: string;
  readonly raw: unknown;
}

interface Plan {
  table?: Table;
  error?: WriteError;
  /** Canonical field name → coerced value (the Id field excluded). */
  values: Record<string, StoredValue>;
  refs: RefSpec[];
  /** The Id given in the row, as given (undefined when absent or empty). */
  id?: string;
}

const SYSTEM = new Set<string>(SYSTEM_FIELDS.map((s) => s.toLowerCase()));

/** Apply writes to one object; see the module comment. Results are in request order. */
export function applyWrites(org: WriteContext, request: WriteRequest): WriteOutcome[] {
  const { rows, object, ...rest } = request;
  return applyMixedWrites(org, { ...rest, items: rows.map((row) => ({ object, row })) });
}

/** Upsert key problems: undefined when `name` can match records of the object. */
export function externalIdFieldError(schema: ObjectSchema, name: string): { unknown: boolean; error: WriteError } | undefined {
  const f = schema.field(name);
  if (!f) {
    return { unknown: true, error: writeError('NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${name}`) };
  }
  if (f.type === 'id' || f.externalId || f.idLookup) return undefined;
  return {
    unknown: false,
    error: writeError('INVALID_FIELD', `Field name provided, ${f.name} is not an External ID or indexed field for ${schema.name}`),
  };
}

/**
 * The first CSV header column the object cannot take (plain field, or relationship column
 * `[Type:]Rel.Field` whose parent field exists), as written; undefined when every column is known.
 */
export function checkColumns(org: { readonly store: OrgStore }, object: string, header: readonly string[], _operation: WriteOperation | string): string | undefined {
  const table = org.store.table(object);
  if (!table) return header[0];
  for (const col of header) {
    if (col.includes('.')) {
      const ref = parseRelColumn(org, table.schema, col);
      if ('error' in ref) return col;
      continue;
    }
    if (!table.schema.field(col)) return col;
  }
  return undefined;
}

function parseRelColumn(org: { readonly store: OrgStore }, schema: ObjectSchema, col: string): { field: DescribeField; targets: string[]; extField: string } | { error: true } {
  const m = /^(?:([^:.]+):)?([^:.]+)\.([^:.]+)$/.exec(col);
  if (!m) return { error: true };
  const [, typePrefix, relName, extField] = m as unknown as [string, string | undefined, string, string];
  const field = schema.relationship(relName);
  if (!field || field.type !== 'reference') return { error: true };
  let targets = [...field.referenceTo];
  if (typePrefix !== undefined) {
    if (!field.polymorphicForeignKey && targets.length <= 1) return { error: true };
    const t = targets.find((x) => x.toLowerCase() === typePrefix.toLowerCase());
    if (!t) return { error: true };
    targets = [t];
  }
  const known = targets.filter((t) => org.store.table(t)?.schema.field(extField));
  if (known.length === 0) return { error: true };
  return { field, targets: known, extField };
}

/** Line and column (1-based) of a key's value in a JSON text, as Jackson reports positions. */
function jsonLocation(text: string | undefined, key: string, valueText: string): string {
  if (!text) return 'at [line:1, column:1]';
  const re = new RegExp(`"${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s*:\\s*`, 'g');
  let pos = -1;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index + m[0].length;
    pos = start;
    if (text.startsWith(JSON.stringify(valueText), start) || text.startsWith(valueText, start)) break;
  }
  if (pos < 0) return 'at [line:1, column:1]';
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `at [line:${line}, column:${col}]`;
}

/** Parse one row into values and relationship specs (phase 1; may throw JsonTypeError). */
function planRow(org: WriteContext, request: MixedWriteRequest, item: MixedWriteItem): Plan {
  const plan: Plan = { values: {}, refs: [] };
  const entries: [string, unknown][] = isArrayRow(item.row)
    ? item.row.map((v, i): [string, unknown] => [request.header?.[i] ?? `col${i}`, v])
    : Object.entries(item.row);
  const deleting = request.operation === 'delete' || request.operation === 'hardDelete';
  const setError = (e: WriteError): void => {
    plan.error ??= e;
  };
  // Id first (delete rows of mixed objects find their table from it).
  for (const [key, value] of entries) {
    if (key.toLowerCase() !== 'id') continue;
    if (value === null || value === undefined || value === '' || value === '#N/A') continue;
    if (typeof value !== 'string') {
      if (request.encoding === 'json' && typeof value === 'object') {
        const idField = org.store.table(item.object ?? '')?.schema.field('Id');
        if (idField) throw new JsonTypeError(key, idField, Array.isArray(value) ? 'START_ARRAY' : 'START_OBJECT', Array.isArray(value) ? '[' : '{');
      }
      plan.id = String(value);
    } else plan.id = value;
  }
  let table = item.object !== undefined ? org.store.table(item.object) : undefined;
  if (!table && item.object === undefined && plan.id !== undefined) {
    const id = normalizeId(plan.id);
    table = id ? org.store.tableForId(id) : undefined;
    if (!table) {
      setError(malformedId(plan.id));
      return plan;
    }
  }
  if (!table) {
    setError(
      item.object !== undefined
        ? writeError('INVALID_TYPE', `sObject type '${item.object}' is not supported.`)
        : deleting || request.operation === 'update'
          ? writeError('MISSING_ARGUMENT', `Id not specified in ${deleting ? 'a delete' : 'an update'} call`)
          : writeError('INVALID_TYPE', 'Must specify a type in attributes'),
    );
    return plan;
  }
  plan.table = table;
  if (deleting) return plan;
  const schema = table.schema;
  let index = -1;
  for (const [key, value] of entries) {
    index++;
    const lower = key.toLowerCase();
    if (lower === 'id') continue;
    if (request.encoding === 'json') {
      if (lower === 'attributes') continue;
      const field = schema.field(key);
      if (field) {
        const c = coerceJson(field, value, key);
        if (c.ok) plan.values[field.name] = c.value;
        else setError(c.error);
        continue;
      }
      const rel = schema.relationship(key);
      if (rel && rel.type === 'reference' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const nested = value as Record<string, unknown>;
        const attrs = nested['attributes'];
        const typeName = attrs && typeof attrs === 'object' ? (attrs as Record<string, unknown>)['type'] : undefined;
        const entries = Object.entries(nested).filter(([k]) => k !== 'attributes');
        const first = entries[0];
        if (!first) {
          setError(writeError('INVALID_FIELD', `Foreign key external ID: not specified for field ${key} in entity ${rel.referenceTo[0] ?? ''}`));
          continue;
        }
        const targets = typeof typeName === 'string' ? rel.referenceTo.filter((t) => t.toLowerCase() === typeName.toLowerCase()) : [...rel.referenceTo];
        plan.refs.push({ field: rel, targets: targets.length > 0 ? targets : [...rel.referenceTo], extField: first[0], raw: first[1] });
        continue;
      }
      setError(noSuchColumnError(schema, key));
      continue;
    }
    // CSV
    const raw = value === null || value === undefined ? '' : String(value);
    const colIndex = index;
    if (key.includes('.')) {
      const ref = parseRelColumn(org, schema, key);
      if ('error' in ref) {
        setError(noSuchColumnError(schema, key));
        continue;
      }
      if (raw === '') continue;
      if (raw === '#N/A') {
        plan.values[ref.field.name] = null;
        continue;
      }
      plan.refs.push({ field: ref.field, targets: ref.targets, extField: ref.extField, raw });
      continue;
    }
    const field = schema.field(key);
    if (!field) {
      setError(noSuchColumnError(schema, key));
      continue;
    }
    if (raw === '') continue;
    if (raw === '#N/A') {
      plan.values[field.name] = null;
      continue;
    }
    const c = coerceCsv(field, raw, colIndex);
    if (c.ok) plan.values[field.name] = c.value;
    else setError(c.error);
  }
  return plan;
}

function isArrayRow(row: WriteRow): row is readonly string[] {
  return Array.isArray(row);
}

function malformedId(raw: string): WriteError {
  return writeError('MALFORMED_ID', `Record ID: id value of incorrect type: ${raw}`, ['Id']);
}

/** What a CSV header column is, worked out once per call rather than once per row. */
type CsvColumn =
  | { readonly kind: 'id' }
  | { readonly kind: 'field'; readonly field: DescribeField }
  | { readonly kind: 'ref'; readonly field: DescribeField; readonly targets: readonly string[]; readonly extField: string }
  | { readonly kind: 'unknown'; readonly key: string };

interface CsvColumns {
  readonly table: Table;
  readonly columns: readonly CsvColumn[];
}

/**
 * The header's columns of each object a CSV request writes (Bulk ingest: one object, a 10,000-row chunk per
 * call). Rows it cannot plan the same way as {@link planRow} (not CSV arrays, no object, unknown object, more
 * cells than header names) get no columns and go through planRow.
 */
class CsvColumnCache {
  private readonly org: WriteContext;
  private readonly request: MixedWriteRequest;
  private readonly byObject = new Map<string, CsvColumns | undefined>();

  constructor(org: WriteContext, request: MixedWriteRequest) {
    this.org = org;
    this.request = request;
  }

  of(item: MixedWriteItem): CsvColumns | undefined {
    const header = this.request.header;
    if (this.request.encoding !== 'csv' || header === undefined || item.object === undefined || !isArrayRow(item.row) || item.row.length > header.length) {
      return undefined;
    }
    if (this.byObject.has(item.object)) return this.byObject.get(item.object);
    const table = this.org.store.table(item.object);
    const columns: CsvColumns | undefined = table
      ? {
          table,
          columns: header.map((key): CsvColumn => {
            if (key.toLowerCase() === 'id') return { kind: 'id' };
            if (key.includes('.')) {
              const ref = parseRelColumn(this.org, table.schema, key);
              return 'error' in ref ? { kind: 'unknown', key } : { kind: 'ref', ...ref };
            }
            const field = table.schema.field(key);
            return field ? { kind: 'field', field } : { kind: 'unknown', key };
          }),
        }
      : undefined;
    this.byObject.set(item.object, columns);
    return columns;
  }
}

/** {@link planRow} for a CSV row of strings whose columns are known: the same plan, without per-row look-ups. */
function planCsvRow(request: MixedWriteRequest, row: readonly string[], { table, columns }: CsvColumns): Plan {
  const plan: Plan = { values: {}, refs: [], table };
  for (let i = 0; i < row.length; i++) {
    const value = row[i];
    if ((columns[i] as CsvColumn).kind === 'id' && value !== null && value !== undefined && value !== '' && value !== '#N/A') plan.id = value;
  }
  if (request.operation === 'delete' || request.operation === 'hardDelete') return plan;
  const schema = table.schema;
  for (let i = 0; i < row.length; i++) {
    const column = columns[i] as CsvColumn;
    if (column.kind === 'id') continue;
    if (column.kind === 'unknown') {
      plan.error ??= noSuchColumnError(schema, column.key);
      continue;
    }
    const value = row[i];
    const raw = value === null || value === undefined ? '' : String(value);
    if (raw === '') continue;
    if (raw === '#N/A') {
      plan.values[column.field.name] = null;
      continue;
    }
    if (column.kind === 'ref') {
      plan.refs.push({ field: column.field, targets: column.targets, extField: column.extField, raw });
      continue;
    }
    const v = csvValue(column.field, raw, i);
    if (v instanceof Rejected) plan.error ??= v.error;
    else plan.values[column.field.name] = v;
  }
  return plan;
}

/** Apply writes whose rows may be of different objects; see the module comment. */
export function applyMixedWrites(org: WriteContext, request: MixedWriteRequest): WriteOutcome[] {
  // Phase 1: parse every row; a JSON type error rejects the whole request before any write.
  const plans: Plan[] = [];
  const csvColumns = new CsvColumnCache(org, request);
  for (const item of request.items) {
    try {
      const columns = csvColumns.of(item);
      plans.push(columns ? planCsvRow(request, item.row as readonly string[], columns) : planRow(org, request, item));
    } catch (error) {
      if (error instanceof JsonTypeError) {
        throw jsonParseError(`${error.message} ${jsonLocation(request.jsonText, error.key, error.valueText)}`);
      }
      throw error;
    }
  }
  return new WriteRun(org, request).run(plans);
}

type Undo = () => void;

/** Where a row is written: a new record, or an existing one (upsert by external id leaves the key field as it is). */
type SaveTarget =
  | {
      readonly mode: 'create';
      readonly existing?: undefined;
      readonly id?: undefined;
      readonly skipField?: undefined;
      /** Upsert: its key value already found on no live record (the duplicate check of that field would find none either). */
      readonly unmatched?: { readonly field: string; readonly value: StoredValue };
    }
  | { readonly mode: 'update'; readonly existing: StoredRecord; readonly id: string; readonly skipField?: string; readonly unmatched?: undefined };

/** What saving a row of an object needs of its describe, worked out once per call. */
interface SaveInfo {
  /** Fields with a value on create when the row gives none (system fields excluded), in describe order. */
  readonly defaults: readonly { readonly name: string; readonly value: StoredValue }[];
  readonly hasOwnerId: boolean;
  readonly requiredOnCreate: readonly DescribeField[];
  /** Unique and external id fields (not Id): checked for duplicates. */
  readonly unique: readonly DescribeField[];
  /** Restricted picklists' allowed values. */
  readonly picklists: ReadonlyMap<DescribeField, ReadonlySet<string>>;
}

function saveInfo(schema: ObjectSchema): SaveInfo {
  const defaults: { name: string; value: StoredValue }[] = [];
  const picklists = new Map<DescribeField, ReadonlySet<string>>();
  for (const f of schema.fields) {
    if (!SYSTEM.has(f.name.toLowerCase())) {
      const d = defaultOnCreate(f);
      if (d !== undefined) defaults.push({ name: f.name, value: d });
    }
    if ((f.type === 'picklist' || f.type === 'multipicklist') && f.restrictedPicklist) picklists.set(f, allowedPicklistValues(f));
  }
  return {
    defaults,
    hasOwnerId: schema.field('OwnerId') !== undefined,
    requiredOnCreate: schema.fields.filter((f) => isRequiredOnCreate(f)),
    unique: schema.fields.filter((f) => (f.unique || f.externalId) && f.type !== 'id'),
    picklists,
  };
}

class WriteRun {
  private readonly org: WriteContext;
  private readonly request: MixedWriteRequest;
  private readonly saveInfos = new Map<ObjectSchema, SaveInfo>();
  /** References found good in this call: field → raw value → id (see checkReference). */
  private readonly goodReferences = new Map<DescribeField, Map<string, string>>();
  /** Upsert: the external id field of each object, or the problem with it. */
  private readonly upsertKeys = new Map<ObjectSchema, { error: WriteError } | { field: DescribeField }>();
  private readonly undo: Undo[] = [];
  private readonly deferred: (() => void)[] = [];
  private readonly pendingDeleted = new Set<string>();
  private readonly touched = new Set<string>();

  constructor(org: WriteContext, request: MixedWriteRequest) {
    this.org = org;
    this.request = request;
  }

  run(plans: readonly Plan[]): WriteOutcome[] {
    const outcomes = plans.map((p) => this.one(p));
    const allOrNone = this.request.allOrNone === true;
    if (allOrNone && outcomes.some((o) => !o.success)) {
      for (const u of this.undo.reverse()) {
        try {
          u();
        } catch {
          // best effort: the record may already be gone
        }
      }
      const creating = this.request.operation === 'insert';
      for (const o of outcomes) {
        if (!o.success) continue;
        o.success = false;
        o.errors = [{ ...ROLLED_BACK, fields: [] }];
        delete o.created;
        if (creating || this.request.operation === 'upsert') delete o.id;
      }
    } else {
      for (const d of this.deferred) d();
    }
    for (const name of this.touched) this.org.persistence.markDirty(name);
    return outcomes;
  }

  private fail(error: WriteError, id?: string): WriteOutcome {
    return id === undefined ? { success: false, errors: [error] } : { id, success: false, errors: [error] };
  }

  /** Resolve an Id given for update/delete against the table. */
  private target(table: Table, raw: string | undefined, operation: WriteOperation): { id: string; record: StoredRecord } | { error: WriteError; id?: string } {
    if (raw === undefined) {
      const verb = operation === 'update' ? 'update' : 'delete';
      return { error: writeError('MISSING_ARGUMENT', `Id not specified in an ${verb} call`) };
    }
    const id = normalizeId(raw);
    if (!id || id.slice(0, 3) !== table.schema.keyPrefix) return { error: malformedId(raw) };
    const record = table.get(id, true);
    if (!record) return { error: writeError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id'), id };
    if (record['IsDeleted'] === true || this.pendingDeleted.has(id)) {
      return operation === 'hardDelete' && !this.pendingDeleted.has(id)
        ? { id, record }
        : { error: writeError('ENTITY_IS_DELETED', 'entity is deleted'), id };
    }
    return { id, record };
  }

  private one(plan: Plan): WriteOutcome {
    const table = plan.table;
    if (!table) return this.fail(plan.error ?? writeError('INVALID_TYPE', 'sObject type is not supported.'));
    const op = this.request.operation;
    switch (op) {
      case 'delete':
      case 'hardDelete':
        return this.remove(plan, table, op);
      case 'insert':
        return this.insert(plan, table);
      case 'update':
        return this.update(plan, table);
      case 'upsert':
        return this.upsert(plan, table);
    }
  }

  /** delete / hardDelete: the record goes to the recycle bin, or for good. */
  private remove(plan: Plan, table: Table, op: 'delete' | 'hardDelete'): WriteOutcome {
    if (plan.error) return this.fail(plan.error);
    const t = this.target(table, plan.id, op);
    if ('error' in t) return this.fail(t.error, t.id);
    if (this.org.faults.rowLock()) return this.fail(lockError(t.id), t.id);
    const id = t.id;
    this.touched.add(table.schema.name);
    if (this.request.allOrNone) {
      this.pendingDeleted.add(id);
      this.deferred.push(() => (op === 'delete' ? table.delete(id, this.request.userId) : table.hardDelete(id)));
    } else {
      try {
        if (op === 'delete') table.delete(id, this.request.userId);
        else table.hardDelete(id);
      } catch (error) {
        return this.fail(unknownError(error), id);
      }
    }
    return { id, success: true, errors: [] };
  }

  /** insert: a new record; an Id in the row is an error. */
  private insert(plan: Plan, table: Table): WriteOutcome {
    if (plan.error) return this.fail(plan.error);
    if (plan.id !== undefined) {
      return this.fail(writeError('INVALID_FIELD_FOR_INSERT_UPDATE', 'cannot specify Id in an insert call', ['Id']));
    }
    return this.save(plan, table, { mode: 'create' });
  }

  /** update: the record the row's Id names. */
  private update(plan: Plan, table: Table): WriteOutcome {
    const t = this.target(table, plan.id, 'update');
    if ('error' in t) return this.fail(t.error, t.id);
    if (plan.error) return this.fail(plan.error, t.id);
    return this.save(plan, table, { mode: 'update', existing: t.record, id: t.id });
  }

  /** upsert: update the record the external id (or Id) matches, else create one. */
  private upsert(plan: Plan, table: Table): WriteOutcome {
    const schema = table.schema;
    let upsertKey = this.upsertKeys.get(schema);
    if (upsertKey === undefined) {
      const extName = this.request.externalIdField ?? 'Id';
      const keyProblem = externalIdFieldError(schema, extName);
      upsertKey = keyProblem ? { error: keyProblem.error } : { field: schema.field(extName) as DescribeField };
      this.upsertKeys.set(schema, upsertKey);
    }
    // A fresh error object per row, as before (outcomes do not share their errors).
    if ('error' in upsertKey) return this.fail({ ...upsertKey.error, fields: [...upsertKey.error.fields] });
    if (plan.error) return this.fail(plan.error);
    const extField = upsertKey.field;
    if (extField.type === 'id') {
      if (plan.id === undefined) return this.save(plan, table, { mode: 'create' });
      const t = this.target(table, plan.id, 'update');
      if ('error' in t) return this.fail(t.error, t.id);
      return this.save(plan, table, { mode: 'update', existing: t.record, id: t.id });
    }
    const key = plan.values[extField.name];
    // Salesforce matches on the key and never creates a record that has none: the row fails.
    if (key === undefined || key === null || key === '') return this.fail(writeError('MISSING_ARGUMENT', `${extField.name} not specified`));
    const found = table.findBy(extField.name, key);
    const matches = this.pendingDeleted.size === 0 ? found : found.filter((r) => !this.pendingDeleted.has(String(r['Id'])));
    if (matches.length > 1) {
      return this.fail(
        writeError(
          'DUPLICATE_EXTERNAL_ID',
          `${extField.name}: more than one record found for external id field: [${matches.map((r) => String(r['Id'])).join(', ')}]`,
        ),
      );
    }
    const match = matches[0];
    if (!match) return this.save(plan, table, { mode: 'create', unmatched: { field: extField.name, value: key } });
    return this.save(plan, table, { mode: 'update', existing: match, id: String(match['Id']), skipField: extField.name });
  }

  /**
   * Insert or update one planned row (every operation but delete ends here): resolve relationship
   * columns, check writability, defaults, required fields, values and uniqueness, then write.
   */
  private save(plan: Plan, table: Table, target: SaveTarget): WriteOutcome {
    const schema = table.schema;
    const { mode, existing, id, skipField } = target;
    // Relationship columns / nested objects by external id. An upsert that matched leaves its key field as it is
    // (copied without it: deleting a key would turn the object into a slow dictionary).
    // A plan is saved once: its values are this row's to complete, unless a key must be left out of them.
    const skip = skipField !== undefined && existing && skipField in plan.values ? skipField : undefined;
    let values = plan.values;
    if (skip !== undefined) {
      values = {};
      for (const name in plan.values) if (name !== skip) values[name] = plan.values[name] as StoredValue;
    }
    for (const ref of plan.refs) {
      const resolved = this.resolveRef(ref);
      if ('error' in resolved) return this.fail(resolved.error, id);
      values[ref.field.name] = resolved.id;
    }

    // Read-only fields.
    let notWritable: string[] | undefined;
    for (const name in values) {
      const f = schema.field(name);
      if (f !== undefined && !isWritable(f, mode)) (notWritable ??= []).push(name);
    }
    if (notWritable) return this.fail(notWritableError(notWritable), id);

    // Defaults and required fields.
    let info = this.saveInfos.get(schema);
    if (info === undefined) this.saveInfos.set(schema, (info = saveInfo(schema)));
    if (mode === 'create') {
      for (const d of info.defaults) if (!(d.name in values)) values[d.name] = d.value;
      if (info.hasOwnerId && (values['OwnerId'] ?? null) === null) values['OwnerId'] = this.request.userId;
      let missing: string[] | undefined;
      for (const f of info.requiredOnCreate) if ((values[f.name] ?? null) === null) (missing ??= []).push(f.name);
      if (missing) return this.fail(requiredMissingError(missing));
    } else {
      let missing: string[] | undefined;
      for (const name in values) {
        if (values[name] !== null) continue;
        const f = schema.field(name);
        if (f !== undefined && isRequiredOnUpdate(f)) (missing ??= []).push(name);
      }
      if (missing) return this.fail(requiredMissingError(missing), id);
    }

    // Field values: lengths, picklists, emails, numbers, references (values of existing keys change, no key is added).
    for (const name in values) {
      const f = schema.field(name);
      const v = values[name] ?? null;
      if (!f || v === null) continue;
      const checked = checkedValue(f, v, info.picklists.get(f));
      if (checked instanceof Rejected) return this.fail(checked.error, id);
      values[name] = checked;
      if (f.type === 'reference') {
        const r = this.checkReference(f, String(v));
        if ('error' in r) return this.fail(r.error, id);
        values[name] = r.id;
      }
    }

    // Unique and external id fields.
    for (const f of info.unique) {
      const v = values[f.name];
      if (v === undefined || v === null || v === '') continue;
      // Nothing was written since the upsert looked this value up and found no live record.
      if (target.unmatched !== undefined && target.unmatched.field === f.name && target.unmatched.value === v) continue;
      const dup = table.findBy(f.name, v).find((r) => String(r['Id']) !== id && !this.pendingDeleted.has(String(r['Id'])));
      if (dup) {
        return this.fail(
          writeError('DUPLICATE_VALUE', `duplicate value found: ${f.name} duplicates value on record with id: ${String(dup['Id']).slice(0, 15)}`, [f.name]),
          id,
        );
      }
    }

    if (this.org.faults.rowLock()) return this.fail(lockError(id ?? this.lockTarget(schema, values)), id);

    const upsert = this.request.operation === 'upsert';
    try {
      if (target.mode === 'create') {
        const rec = table.insert(values, this.request.userId);
        const newId = String(rec['Id']);
        if (this.request.allOrNone) this.undo.push(() => table.hardDelete(newId));
        this.touched.add(schema.name);
        return upsert ? { id: newId, success: true, errors: [], created: true } : { id: newId, success: true, errors: [] };
      }
      const recId = target.id;
      // Only an all-or-none call ever undoes its writes.
      if (this.request.allOrNone) {
        const before: Record<string, StoredValue> = {};
        for (const name of Object.keys(values)) before[name] = target.existing[name] ?? null;
        this.undo.push(() => table.update(recId, before, this.request.userId));
      }
      table.update(recId, values, this.request.userId);
      this.touched.add(schema.name);
      return upsert ? { id: recId, success: true, errors: [], created: false } : { id: recId, success: true, errors: [] };
    } catch (error) {
      return this.fail(unknownError(error), id);
    }
  }

  /** A parent by external id: exactly one live match. */
  private resolveRef(ref: RefSpec): { id: string } | { error: WriteError } {
    const target = ref.targets[0] ?? '';
    for (const t of ref.targets) {
      const table = this.org.store.table(t);
      const f = table?.schema.field(ref.extField);
      if (!table || !f) continue;
      if (!(f.type === 'id' || f.externalId || f.idLookup)) {
        return { error: writeError('INVALID_FIELD', `Field name provided, ${f.name} is not an External ID or indexed field for ${table.schema.name}`) };
      }
      let key: StoredValue;
      if (this.request.encoding === 'csv') {
        const c = coerceCsv(f, String(ref.raw), 0);
        if (!c.ok) return { error: c.error };
        key = c.value;
      } else {
        const c = coerceJson(f, ref.raw, ref.extField);
        if (!c.ok) return { error: c.error };
        key = c.value;
      }
      if (key === null) continue;
      const matches =
        f.type === 'id'
          ? [table.get(String(key))].filter((r): r is StoredRecord => r !== undefined)
          : table.findBy(f.name, key).filter((r) => !this.pendingDeleted.has(String(r['Id'])));
      if (matches.length > 1) {
        return {
          error: writeError(
            'DUPLICATE_EXTERNAL_ID',
            `${f.name}: more than one record found for external id field: [${matches.map((r) => String(r['Id'])).join(', ')}]`,
          ),
        };
      }
      const m = matches[0];
      if (m) return { id: String(m['Id']) };
    }
    const extName = this.org.store.table(target)?.schema.field(ref.extField)?.name ?? ref.extField;
    return {
      error: writeError('INVALID_FIELD', `Foreign key external ID: ${String(ref.raw)} not found for field ${extName} in entity ${this.org.store.table(target)?.schema.name ?? target}`),
    };
  }

  /** A lookup id must be an id of one of the field's referenceTo objects, and the record must exist. */
  private checkReference(field: DescribeField, raw: string): { id: string } | { error: WriteError } {
    // A call that deletes nothing cannot make a record it found missing or deleted later in the call: a
    // reference found good (every created row's OwnerId, for one) is good for the rest of the call.
    const op = this.request.operation;
    if (op === 'delete' || op === 'hardDelete') return this.referenceCheck(field, raw);
    let good = this.goodReferences.get(field);
    if (good === undefined) this.goodReferences.set(field, (good = new Map()));
    const known = good.get(raw);
    if (known !== undefined) return { id: known };
    const r = this.referenceCheck(field, raw);
    if ('id' in r) good.set(raw, r.id);
    return r;
  }

  private referenceCheck(field: DescribeField, raw: string): { id: string } | { error: WriteError } {
    const bad = (): { error: WriteError } => ({
      error: writeError('MALFORMED_ID', `${field.label}: id value of incorrect type: ${raw}`, [field.name]),
    });
    const id = normalizeId(raw);
    if (!id) return bad();
    const targets = field.referenceTo.map((t) => this.org.store.table(t));
    const table = this.org.store.tableForId(id);
    const allKnown = targets.every((t) => t !== undefined);
    if (!table || !field.referenceTo.some((t) => t.toLowerCase() === table.schema.name.toLowerCase())) {
      // Objects the emulated org does not have cannot be checked: accept their ids.
      return allKnown || table ? bad() : { id };
    }
    const rec = table.get(id, true);
    if (!rec) return { error: writeError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id') };
    if (rec['IsDeleted'] === true || this.pendingDeleted.has(id)) {
      return { error: writeError('ENTITY_IS_DELETED', 'entity is deleted', [field.name]) };
    }
    return { id };
  }

  /** The record an insert locks: its first parent, else its owner. */
  private lockTarget(schema: ObjectSchema, values: Readonly<Record<string, StoredValue>>): string {
    for (const f of schema.fields) {
      if (f.type === 'reference' && f.name !== 'OwnerId' && typeof values[f.name] === 'string') return String(values[f.name]);
    }
    return String(values['OwnerId'] ?? this.request.userId);
  }
}

function lockError(id: string): WriteError {
  return writeError('UNABLE_TO_LOCK_ROW', `unable to obtain exclusive access to this record or 1 records: ${id}`);
}

function unknownError(error: unknown): WriteError {
  if (error instanceof SfHttpError) return writeError('UNKNOWN_EXCEPTION', error.message);
  return writeError('UNKNOWN_EXCEPTION', `An unexpected error occurred: ${error instanceof Error ? error.message : String(error)}`);
}
