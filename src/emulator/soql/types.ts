import type { DescribeField, ObjectSchema } from '../org/schema.ts';
import type { OrgStore, StoredRecord, StoredValue, Table } from '../org/store.ts';

export interface PrepareOptions {
  /** queryAll: include soft-deleted rows (the recycle bin). */
  readonly includeDeleted: boolean;
  /** "Now" in epoch ms, for date literals such as TODAY and LAST_N_DAYS:n (evaluated in UTC). */
  readonly now: number;
}

/** One lookup traversed by a field path (`Account` in `Account.Name`). */
export interface RelationshipStep {
  /** The reference field (AccountId). */
  readonly field: DescribeField;
  /** Canonical relationship name (Account). */
  readonly name: string;
  /** Canonical path up to and including this step ('Account', 'Account.Owner'). */
  readonly path: string;
  /** The object the lookup points to (the first of referenceTo for polymorphic lookups). */
  readonly target: ObjectSchema;
  /** The target's table when the lookup is not polymorphic; otherwise resolved by id prefix. */
  readonly table: Table | undefined;
}

/** A resolved field reference such as `Account.Owner.Name`. */
export interface FieldPath {
  /** Canonical dotted path. */
  readonly path: string;
  readonly relationships: readonly RelationshipStep[];
  readonly field: DescribeField;
  /** The object that owns `field`. */
  readonly object: ObjectSchema;
}

export type AggregateFunction = 'COUNT' | 'COUNT_DISTINCT' | 'SUM' | 'AVG' | 'MIN' | 'MAX';

/** One item of the SELECT list, in order. */
export interface QueryColumn {
  readonly kind: 'field' | 'subquery' | 'aggregate' | 'typeof';
  /**
   * Canonical dotted path for fields (`Name`, `Account.Name`); the relationship name for subqueries and
   * TYPEOF; the output name (alias or `exprN`) for aggregates.
   */
  readonly path: string;
  /** The key in an AggregateResult row (alias, `exprN`, or the grouped field's name); same as path otherwise. */
  readonly name: string;
  /** The field (for aggregates, the argument; undefined for COUNT()); undefined for subqueries. */
  readonly field: DescribeField | undefined;
  /** The object that owns `field`. */
  readonly object: ObjectSchema | undefined;
  readonly relationships: readonly RelationshipStep[];
  /** An address or location field (REST builds it from its components). */
  readonly compound: boolean;
  readonly aggregate: AggregateFunction | undefined;
  /** Parent-to-child subquery `(SELECT ... FROM Contacts)`: the child query's plan. */
  readonly subquery: QueryPlan | undefined;
}

/**
 * A matched record with its resolved parent records (keyed by canonical relationship path, e.g.
 * 'Account', 'Account.Owner'; null for an empty lookup). For aggregate queries, `record` holds the
 * AggregateResult values keyed by column name and `aggregate` is true.
 */
export interface QueryRow {
  readonly record: StoredRecord;
  readonly parents: ReadonlyMap<string, StoredRecord | null>;
  readonly aggregate: boolean;
}

export interface PreparedQuery {
  readonly soql: string;
  readonly object: ObjectSchema;
  readonly table: Table;
  readonly columns: readonly QueryColumn[];
  readonly includeDeleted: boolean;
  /** `SELECT COUNT() FROM ...`: the answer is `count()`, no rows. */
  readonly isCount: boolean;
  readonly hasAggregate: boolean;
  readonly hasSubquery: boolean;
  readonly hasOffset: boolean;
  readonly hasGroupBy: boolean;
  readonly hasTypeof: boolean;
  readonly hasOrderBy: boolean;
  readonly limit: number | undefined;
  readonly offset: number;
  /**
   * True when `rows()` is exactly the table's `scan(includeDeleted)` in order, one row per record with no
   * parents to resolve: no WHERE, no ORDER BY but `Id ASC`, no OFFSET, no aggregate, no relationship column.
   * A LIMIT only stops it early (after `count()` rows). Lets Bulk stream generated tables without rows.
   */
  readonly scansTable: boolean;
  /** The WHERE's Id bounds (see QueryPlan.idRange); with `only`, the WHERE is nothing else. */
  readonly idRange: IdRange | undefined;
  /** Matched rows after ORDER BY / OFFSET / LIMIT, lazily (streams unless ORDER BY needs a sort). */
  rows(): Iterable<QueryRow>;
  /** How many rows `rows()` yields (COUNT()'s answer), without building rows; O(1) for an unfiltered table. */
  count(): number;
  /** The raw stored value of a field or aggregate column for a row (null for subqueries and compound fields). */
  value(row: QueryRow, column: QueryColumn): StoredValue;
  /** A row as REST JSON (`attributes` first, then the columns; parents nested; subqueries as query results). */
  toRest(row: QueryRow, version: string): Record<string, unknown>;
  /** The child rows of a parent-to-child subquery column for a row. */
  children(row: QueryRow, column: QueryColumn): QueryRow[];
}

// ---------------------------------------------------------------- the plan (compile.ts → execute.ts, serialize.ts)

/** How a field's values compare: lower-cased text, epoch ms for dates, numbers, booleans. */
export type ValueKind = 'text' | 'id' | 'number' | 'boolean' | 'date' | 'datetime' | 'time' | 'multipicklist' | 'other';
/** A comparable form of a value (see {@link ValueKind}). */
export type Norm = string | number | boolean | null;
export type Predicate = (row: QueryRow) => boolean;

/** An output node of a REST record: a field, a nested parent, a subquery or a TYPEOF. */
export type OutNode =
  | { readonly kind: 'field'; readonly column: QueryColumn; readonly key: string }
  | { readonly kind: 'parent'; readonly step: RelationshipStep; readonly trail: readonly RelationshipStep[]; readonly children: OutNode[] }
  | { readonly kind: 'subquery'; readonly column: QueryColumn }
  | { readonly kind: 'typeof'; readonly step: RelationshipStep; readonly cases: ReadonlyMap<string, readonly DescribeField[]>; readonly otherwise: readonly DescribeField[] | undefined };

export interface AggregateSpec {
  readonly column: QueryColumn;
  readonly fn: AggregateFunction;
  readonly arg: FieldPath | undefined;
  readonly raw: string;
}

export interface OrderSpec {
  readonly key: (row: QueryRow) => Norm;
  readonly desc: boolean;
  readonly nullsFirst: boolean;
}

/**
 * A compiled SOQL statement: everything execution (execute.ts) and REST output (serialize.ts) need, decided
 * once at compile time. Predicates and sort keys are closures over resolved fields.
 */
export interface QueryPlan {
  readonly soql: string;
  readonly object: ObjectSchema;
  readonly table: Table;
  /** The tables, for parent look-ups. */
  readonly store: OrgStore;
  readonly columns: readonly QueryColumn[];
  readonly includeDeleted: boolean;
  readonly isCount: boolean;
  readonly hasAggregate: boolean;
  readonly hasSubquery: boolean;
  readonly hasOffset: boolean;
  readonly hasGroupBy: boolean;
  readonly hasTypeof: boolean;
  readonly hasOrderBy: boolean;
  readonly limit: number | undefined;
  readonly offset: number;
  readonly filter: Predicate | undefined;
  readonly having: ((values: Record<string, StoredValue>) => boolean) | undefined;
  /** ORDER BY keys; empty when the scan order (Id) is the order, or its reverse (`idDescending`). */
  readonly order: readonly OrderSpec[];
  /** ORDER BY Id DESC alone: the rows in reverse scan order. */
  readonly idDescending: boolean;
  /** The REST output tree. */
  readonly out: readonly OutNode[];
  /** Relationship paths of the SELECT list: their parents are resolved before a row is handed out. */
  readonly selectSteps: readonly (readonly RelationshipStep[])[];
  readonly groupBy: readonly FieldPath[];
  readonly aggregates: readonly AggregateSpec[];
  /** Some column, condition or key reaches a parent record. */
  readonly hasRelationships: boolean;
  /** When WHERE is `Id = x` / `Id IN (...)` ANDed with other conditions: the only records worth reading. */
  readonly idKeys: readonly string[] | undefined;
  /**
   * When WHERE is an AND chain with `Id >`, `>=`, `<`, `<=` conditions (a range read, e.g. one job of a split
   * Bulk read): the bounds (18-char ids), so the scan starts at the lower one and stops past the upper one.
   */
  readonly idRange: IdRange | undefined;
  /** For a subquery: the child field that points to the parent (AccountId). */
  readonly parentLink: DescribeField | undefined;
  /** Built on first use while executing: a subquery's child records by parent id. */
  readonly cache: { childIndex?: Map<string, StoredRecord[]> };
}

/** Id bounds of a WHERE clause (see QueryPlan.idRange); the filter still applies the exact comparisons. */
export interface IdRange {
  readonly from?: string;
  /** `>=` rather than `>`. */
  readonly fromInclusive?: boolean;
  readonly to?: string;
  /** `<=` rather than `<`. */
  readonly toInclusive?: boolean;
  /** The WHERE holds nothing but these Id comparisons (ANDed). */
  readonly only: boolean;
}
