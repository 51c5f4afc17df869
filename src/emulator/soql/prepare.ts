import { parseQuery, type Query } from '@jetstreamapp/soql-parser-js';
import type { OrgStore } from '../org/store.ts';
import { compileQuery } from './compile.ts';
import { MAX_SOQL_LENGTH, SoqlText, malformed, syntaxError } from './errors.ts';
import { children, count, rows, scansTable, value } from './execute.ts';
import { toRest } from './serialize.ts';
import type { PrepareOptions, PreparedQuery, QueryPlan } from './types.ts';

/** A plan behind the {@link PreparedQuery} interface: compile once, then execute and serialise on demand. */
function preparedQuery(plan: QueryPlan): PreparedQuery {
  return {
    soql: plan.soql,
    object: plan.object,
    table: plan.table,
    columns: plan.columns,
    includeDeleted: plan.includeDeleted,
    isCount: plan.isCount,
    hasAggregate: plan.hasAggregate,
    hasSubquery: plan.hasSubquery,
    hasOffset: plan.hasOffset,
    hasGroupBy: plan.hasGroupBy,
    hasTypeof: plan.hasTypeof,
    hasOrderBy: plan.hasOrderBy,
    limit: plan.limit,
    offset: plan.offset,
    scansTable: scansTable(plan),
    idRange: plan.idRange,
    rows: () => rows(plan),
    count: () => count(plan),
    value: (row, column) => value(plan, row, column),
    toRest: (row, version) => toRest(plan, row, version),
    children: (row, column) => children(plan, row, column),
  };
}

/**
 * Parse and compile a SOQL statement against the org's schemas. Throws `SfHttpError` (400) shaped as
 * Salesforce answers: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, INVALID_QUERY_FILTER_OPERATOR,
 * NUMBER_OUTSIDE_VALID_RANGE.
 */
export function prepareQuery(store: OrgStore, soql: string, options: PrepareOptions): PreparedQuery {
  if (soql.length > MAX_SOQL_LENGTH) throw malformed('SOQL statements cannot be longer than 100,000 characters');
  const text = new SoqlText(soql);
  if (soql.trim() === '') throw malformed('unexpected token: <EOF>');
  let query: Query;
  try {
    // ignoreParseErrors given explicitly: with options that leave it out, the parser library builds a new
    // parser for every call (its grammar analysis, about 150 ms of CPU) instead of reusing its own.
    query = parseQuery(soql, { allowApexBindVariables: false, ignoreParseErrors: false });
  } catch (error) {
    throw syntaxError(text, error instanceof Error ? error.message : String(error));
  }
  return preparedQuery(compileQuery({ store, text, options }, query));
}
