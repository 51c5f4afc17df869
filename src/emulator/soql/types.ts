import type { DescribeField, ObjectSchema } from '../org/schema.ts';
import type { StoredRecord, StoredValue, Table } from '../org/store.ts';

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
  /** Parent-to-child subquery `(SELECT ... FROM Contacts)`. */
  readonly subquery: PreparedQuery | undefined;
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
