/**
 * The emulator's SOQL engine, shared by REST query/queryAll and Bulk API 2.0 query. By stage:
 * prepare.ts (parse, then compile once) → compile.ts (statement → `QueryPlan`, types.ts) → execute.ts
 * (rows, count, values, subquery children) and serialize.ts (REST JSON); values.ts holds how values compare
 * and how a row reaches its parents, errors.ts and literals.ts Salesforce's errors and literal syntax.
 *
 * - `prepareQuery(store, soql, { includeDeleted, now })` parses the statement once (with
 *   @jetstreamapp/soql-parser-js) and compiles it against the org's `ObjectSchema`s. It throws an
 *   `SfHttpError` (HTTP 400) in Salesforce's shape and wording: MALFORMED_QUERY ("unexpected token: SELEKT",
 *   "SOQL statements cannot be longer than 100,000 characters"), INVALID_FIELD (caret snippet "No such column
 *   'X' on entity 'Account'...", filter type errors, non-filterable / non-sortable fields), INVALID_TYPE (unknown
 *   object or child relationship), INVALID_QUERY_FILTER_OPERATOR ("invalid ID field: x"),
 *   NUMBER_OUTSIDE_VALID_RANGE (OFFSET over 2000).
 * - The returned `PreparedQuery` has:
 *   - `object` (the FROM object's ObjectSchema), `table`, `columns` (the SELECT items in order: `kind`
 *     'field' | 'subquery' | 'aggregate' | 'typeof', canonical dotted `path` such as `Account.Name`, output
 *     `name`, the resolved `field` DescribeField and owning `object`, `relationships` traversed, `compound`,
 *     `aggregate` function, `subquery`);
 *   - flags `isCount` (SELECT COUNT()), `hasAggregate`, `hasSubquery`, `hasOffset`, `hasGroupBy`, `hasTypeof`,
 *     `hasOrderBy`, and `limit` / `offset`;
 *   - `rows()`: a lazy iterable of `QueryRow { record, parents, aggregate }` after WHERE, ORDER BY, OFFSET, LIMIT.
 *     With no ORDER BY (or ORDER BY Id ASC) it streams over `Table.scan()` without materialising; other ORDER BYs
 *     and aggregates materialise the matched rows. Each call starts a new scan.
 *   - `count()`: the number of rows `rows()` yields (COUNT()'s answer) without building rows; O(1) through
 *     `table.count()` when there is no WHERE.
 *   - `value(row, column)`: the raw stored value of a field/aggregate column (for CSV); null for compound
 *     fields and subqueries.
 *   - `toRest(row, version)`: REST JSON: `attributes` first, canonical field names, `+0000` datetimes, compound
 *     address/location objects, parent relationships nested with their own `attributes` (null for an empty
 *     lookup), subqueries as `{"totalSize","done","records"}` or null, AggregateResult rows with `expr0`...
 *   - `children(row, column)`: the child rows of a subquery column.
 * - Semantics follow Salesforce: names case-insensitive, canonical in output; text comparisons and LIKE
 *   case-insensitive; `!=` and NOT IN include nulls; date literals (TODAY, LAST_N_DAYS:n, ...) evaluated in
 *   UTC against `now`; ORDER BY default ASC NULLS FIRST (DESC NULLS LAST); AND and OR cannot be mixed
 *   without parentheses.
 */
export { MAX_OFFSET } from './compile.ts';
export { prepareQuery } from './prepare.ts';
export { MAX_SOQL_LENGTH } from './errors.ts';
export type { AggregateFunction, FieldPath, PrepareOptions, PreparedQuery, QueryColumn, QueryRow, RelationshipStep } from './types.ts';
