/**
 * Execution of a compiled SOQL plan: the matched rows after WHERE, ORDER BY, OFFSET and LIMIT (streamed over the
 * table's scan unless a sort or an aggregate needs them all), COUNT(), raw column values and subquery children.
 */
import type { StoredRecord, StoredValue } from '../org/store.ts';
import type { FieldPath, IdRange, Norm, OrderSpec, QueryColumn, QueryPlan, QueryRow, ValueKind } from './types.ts';
import { EMPTY_PARENTS, compareNorm, kindOf, normalize, resolveParent } from './values.ts';

function makeRow(plan: QueryPlan, record: StoredRecord): QueryRow {
  return { record, parents: plan.hasRelationships ? new Map() : EMPTY_PARENTS, aggregate: false };
}

function* matched(plan: QueryPlan, source: Iterable<StoredRecord>): Generator<QueryRow> {
  const filter = plan.filter;
  for (const record of source) {
    const row = makeRow(plan, record);
    if (!filter || filter(row)) yield row;
  }
}

function sortRows(plan: QueryPlan, rows: QueryRow[]): QueryRow[] {
  const order = plan.order;
  if (order.length === 0) return rows;
  const keyed = rows.map((row) => ({ row, keys: order.map((o) => o.key(row)) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < order.length; i++) {
      const o = order[i] as OrderSpec;
      const x = a.keys[i] ?? null;
      const y = b.keys[i] ?? null;
      if (x === y) continue;
      if (x === null) return o.nullsFirst ? -1 : 1;
      if (y === null) return o.nullsFirst ? 1 : -1;
      const c = compareNorm(x, y);
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  });
  return keyed.map((k) => k.row);
}

function* window(plan: QueryPlan, rows: Iterable<QueryRow>): Generator<QueryRow> {
  let skip = plan.offset;
  let left = plan.limit ?? Number.POSITIVE_INFINITY;
  if (left <= 0) return;
  for (const row of rows) {
    if (skip > 0) {
      skip--;
      continue;
    }
    prefetchParents(plan, row);
    yield row;
    if (--left <= 0) return;
  }
}

function prefetchParents(plan: QueryPlan, row: QueryRow): void {
  for (const steps of plan.selectSteps) resolveParent(plan.store, row, steps, plan.includeDeleted);
}

/** Rows drawn from a source of records (the table, or a parent's children for a subquery). */
function rowsFrom(plan: QueryPlan, source: Iterable<StoredRecord>): Iterable<QueryRow> {
  if (plan.hasAggregate) return aggregateRows(plan, source);
  if (plan.order.length === 0) return window(plan, matched(plan, source));
  return window(plan, sortRows(plan, [...matched(plan, source)]));
}

/** The table's records in Id order, or only those an `Id =` / `Id IN` filter can match (by key lookup). */
function source(plan: QueryPlan): Iterable<StoredRecord> {
  if (plan.idDescending) return descending(plan);
  const keys = plan.idKeys;
  if (!keys) return plan.idRange ? inRange(plan, plan.idRange) : plan.table.scan(plan.includeDeleted);
  const out: StoredRecord[] = [];
  for (const id of keys) {
    const r = plan.table.get(id, plan.includeDeleted);
    if (r) out.push(r);
  }
  return out;
}

/**
 * The records an Id range can match, in Id order (scan order is Id order): from the lower bound (where the
 * table can seek, generated tables by counter) up to the first record past the upper one. The WHERE's filter
 * still decides each record (the bounds' exact operators).
 */
function* inRange(plan: QueryPlan, range: IdRange): Generator<StoredRecord> {
  const table = plan.table;
  const records = range.from !== undefined && table.scanFrom ? table.scanFrom(range.from, plan.includeDeleted) : table.scan(plan.includeDeleted);
  const { from, to } = range;
  for (const r of records) {
    const id = r['Id'];
    if (typeof id !== 'string') continue;
    if (from !== undefined && id < from) continue;
    if (to !== undefined && id > to) return;
    yield r;
  }
}

/** The records in reverse Id order (ORDER BY Id DESC): by key for `Id IN`, else the table's scan backwards. */
function descending(plan: QueryPlan): Iterable<StoredRecord> {
  const table = plan.table;
  if (plan.idKeys) {
    const out: StoredRecord[] = [];
    for (const id of plan.idKeys) {
      const r = table.get(id, plan.includeDeleted);
      if (r) out.push(r);
    }
    return out.reverse();
  }
  return table.scanDescending ? table.scanDescending(plan.includeDeleted) : [...table.scan(plan.includeDeleted)].reverse();
}

export function scansTable(plan: QueryPlan): boolean {
  return !plan.idDescending && !plan.isCount && !plan.hasAggregate && !plan.filter && !plan.idKeys && plan.order.length === 0 && plan.offset === 0 && !plan.hasRelationships && !plan.parentLink;
}

export function rows(plan: QueryPlan): Iterable<QueryRow> {
  if (plan.isCount) return [];
  return rowsFrom(plan, source(plan));
}

export function count(plan: QueryPlan): number {
  let n: number;
  if (plan.hasAggregate) {
    n = 0;
    for (const _ of aggregateRows(plan, source(plan), false)) n++;
    return n;
  }
  if (!plan.filter) {
    n = plan.table.count(plan.includeDeleted);
  } else {
    n = 0;
    for (const _ of matched(plan, source(plan))) n++;
  }
  n = Math.max(0, n - plan.offset);
  return plan.limit === undefined ? n : Math.min(n, plan.limit);
}

function* aggregateRows(plan: QueryPlan, source: Iterable<StoredRecord>, windowed = true): Generator<QueryRow> {
  interface Acc { count: number; distinct: Set<Norm>; sum: number; min: StoredValue; max: StoredValue; minN: Norm; maxN: Norm }
  const groups = new Map<string, { keys: StoredValue[]; accs: Acc[] }>();
  const groupKinds = plan.groupBy.map((g) => kindOf(g.field));
  const groupGetters = plan.groupBy.map((g) => rawGetter(plan, g));
  const aggGetters = plan.aggregates.map((a) => (a.arg ? rawGetter(plan, a.arg) : () => null));
  const aggKinds = plan.aggregates.map((a) => (a.arg ? kindOf(a.arg.field) : 'other'));
  const fresh = (): Acc[] => plan.aggregates.map(() => ({ count: 0, distinct: new Set(), sum: 0, min: null, max: null, minN: null, maxN: null }));
  for (const row of matched(plan, source)) {
    const keys = groupGetters.map((g) => g(row));
    const id = JSON.stringify(keys.map((k, i) => normalize(groupKinds[i] as ValueKind, k)));
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { keys, accs: fresh() }));
    plan.aggregates.forEach((a, i) => {
      const acc = group.accs[i] as Acc;
      if (!a.arg) {
        acc.count++;
        return;
      }
      const v = (aggGetters[i] as (r: QueryRow) => StoredValue)(row);
      if (v === null) return;
      acc.count++;
      const n = normalize(aggKinds[i] as ValueKind, v);
      if (a.fn === 'COUNT_DISTINCT') acc.distinct.add(n);
      if (typeof v === 'number') acc.sum += v;
      if (acc.minN === null || compareNorm(n, acc.minN) < 0) {
        acc.minN = n;
        acc.min = v;
      }
      if (acc.maxN === null || compareNorm(n, acc.maxN) > 0) {
        acc.maxN = n;
        acc.max = v;
      }
    });
  }
  if (groups.size === 0 && plan.groupBy.length === 0) groups.set('[]', { keys: [], accs: fresh() });
  const out: QueryRow[] = [];
  for (const { keys, accs } of groups.values()) {
    const values: Record<string, StoredValue> = {};
    keys.forEach((k, i) => (values[`__group${i}`] = k));
    plan.aggregates.forEach((a, i) => {
      const acc = accs[i] as Acc;
      let v: StoredValue;
      switch (a.fn) {
        case 'COUNT': v = acc.count; break;
        case 'COUNT_DISTINCT': v = acc.distinct.size; break;
        case 'SUM': v = acc.count === 0 ? null : acc.sum; break;
        case 'AVG': v = acc.count === 0 ? null : acc.sum / acc.count; break;
        case 'MIN': v = acc.min; break;
        case 'MAX': v = acc.max; break;
      }
      values[a.column.name] = v;
    });
    if (plan.having && !plan.having(values)) continue;
    out.push({ record: values, parents: EMPTY_PARENTS, aggregate: true });
  }
  const sorted = sortRows(plan, out);
  if (!windowed) {
    yield* sorted;
    return;
  }
  const end = plan.limit === undefined ? undefined : plan.offset + plan.limit;
  yield* sorted.slice(plan.offset, end);
}

function rawGetter(plan: QueryPlan, ref: FieldPath): (row: QueryRow) => StoredValue {
  const name = ref.field.name;
  if (ref.relationships.length === 0) return (row) => row.record[name] ?? null;
  const { store } = plan;
  const inc = plan.includeDeleted;
  return (row) => resolveParent(store, row, ref.relationships, inc)?.[name] ?? null;
}

export function value(plan: QueryPlan, row: QueryRow, column: QueryColumn): StoredValue {
  if (row.aggregate) {
    if (column.kind === 'aggregate') return row.record[column.name] ?? null;
    const gi = plan.groupBy.findIndex((g) => g.path.toLowerCase() === column.path.toLowerCase());
    return gi < 0 ? null : (row.record[`__group${gi}`] ?? null);
  }
  if (column.kind !== 'field' || !column.field || column.compound) return null;
  if (column.relationships.length === 0) return row.record[column.field.name] ?? null;
  return resolveParent(plan.store, row, column.relationships, plan.includeDeleted)?.[column.field.name] ?? null;
}

export function children(plan: QueryPlan, row: QueryRow, column: QueryColumn): QueryRow[] {
  const child = column.subquery;
  if (!child || row.aggregate) return [];
  const id = row.record['Id'];
  if (typeof id !== 'string') return [];
  const records = childRecords(child, id);
  return [...rowsFrom(child, child.idDescending ? [...records].reverse() : records)];
}

/** The child records pointing at a parent id (index built once, on first use). */
function childRecords(plan: QueryPlan, parentId: string): readonly StoredRecord[] {
  const link = plan.parentLink;
  if (!link) return [];
  if (!plan.cache.childIndex) {
    const index = new Map<string, StoredRecord[]>();
    for (const r of plan.table.scan(plan.includeDeleted)) {
      const p = r[link.name];
      if (typeof p !== 'string') continue;
      let list = index.get(p);
      if (!list) index.set(p, (list = []));
      list.push(r);
    }
    plan.cache.childIndex = index;
  }
  return plan.cache.childIndex.get(parentId) ?? [];
}
