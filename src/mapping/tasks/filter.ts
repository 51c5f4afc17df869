import type { FilterOperator, PushdownFilter } from '../../core/connector.ts';
import type { FieldType, FieldValue, Row, ScalarValue } from '../../core/types.ts';
import { parseDataType, toEpochMillis, toNumber, toText, typeFamily } from '../convert.ts';
import type { TypeFamily } from '../convert.ts';
import { DATA_TYPE_HINT } from './map.ts';
import { operatorOf, prop, quote, report, singleSourceField } from '../types.ts';
import type { SourceName, TaskContext } from '../types.ts';

/**
 * Filter tasks. A PROJECTION lists the source fields to read; every other operator keeps the records
 * whose one source field passes the test. Separate Filter tasks are ANDed, the values of one task
 * (VALUES, comma-separated or a JSON array) are ORed, except NOT_EQUAL_TO whose values must all differ
 * ("none of"). BETWEEN bounds are exclusive (AppFlow's own Airflow operators say "NOT inclusive").
 * Datetime values are epoch milliseconds (ISO-8601 text is also accepted); date values epoch ms or
 * YYYY-MM-DD. Null field values fail every test except NOT_EQUAL_TO, as in SOQL, so a filter gives the
 * same records whether Salesforce evaluates it or the engine does.
 */

export interface ProjectionSpec {
  readonly kind: 'projection';
  readonly index: number;
  readonly fields: readonly string[];
}

/** One predicate over one field, in the engine's terms (BETWEEN is already split into two comparisons). */
export interface Comparison {
  readonly field: string;
  readonly operator: Exclude<FilterOperator, 'BETWEEN'>;
  /** Typed values: text, numbers, booleans, datetimes as ISO strings, dates as YYYY-MM-DD. */
  readonly values: readonly ScalarValue[];
}

export interface PredicateSpec {
  readonly kind: 'predicate';
  readonly index: number;
  readonly field: string;
  readonly operator: FilterOperator;
  readonly dataType: FieldType;
  /** ANDed comparisons this task compiles to (one, or two for BETWEEN / several for NOT_EQUAL_TO with VALUES). */
  readonly comparisons: readonly Comparison[];
}

export type FilterSpec = ProjectionSpec | PredicateSpec;

const PREDICATE_OPERATORS: readonly FilterOperator[] = [
  'EQUAL_TO', 'NOT_EQUAL_TO', 'LESS_THAN', 'LESS_THAN_OR_EQUAL_TO', 'GREATER_THAN', 'GREATER_THAN_OR_EQUAL_TO', 'CONTAINS', 'BETWEEN',
];

function splitValues(raw: string): string[] {
  const text = raw.trim();
  if (text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    } catch {
      // not JSON: fall through to the comma-separated form
    }
  }
  return raw.split(',').map((s) => s.trim());
}

/** Types one filter value by DATA_TYPE; reports and returns undefined when it cannot be typed. */
function typeValue(ctx: TaskContext, key: string, raw: string, dataType: FieldType, family: TypeFamily): ScalarValue | undefined {
  const where = `taskProperties.${key}`;
  switch (family) {
    case 'text': case 'time':
      return raw;
    case 'integer': case 'number': {
      const n = toNumber(raw);
      if (n === undefined) return report(ctx, where, `${quote(raw)} is not a number but DATA_TYPE is ${dataType}. Write a number such as "100", or fix DATA_TYPE.`);
      if (family === 'integer' && !Number.isInteger(n)) return report(ctx, where, `${quote(raw)} is not an integer but DATA_TYPE is ${dataType}. Write a whole number.`);
      return n;
    }
    case 'boolean': {
      const s = raw.trim().toLowerCase();
      if (s === 'true') return true;
      if (s === 'false') return false;
      return report(ctx, where, `${quote(raw)} is not a boolean. Write "true" or "false".`);
    }
    case 'datetime': case 'date': {
      const ms = toEpochMillis(raw);
      if (ms === undefined) {
        return report(ctx, where, `${quote(raw)} is not a ${dataType}. Write epoch milliseconds as AppFlow does, for example "1704067200000" for 2024-01-01T00:00:00Z.`);
      }
      const iso = new Date(ms).toISOString();
      return family === 'date' ? iso.slice(0, 10) : iso;
    }
    case 'compound':
      return report(ctx, 'taskProperties.DATA_TYPE', `filters on ${dataType} fields are not supported. Filter on one of its component fields instead (for example BillingCity).`);
  }
}

export function parseFilter(ctx: TaskContext): FilterSpec | undefined {
  const op = operatorOf(ctx);
  if (op === undefined) return undefined; // reported by the common operator check
  if (op === 'PROJECTION') {
    const fields = ctx.task.sourceFields;
    if (fields.length === 0) return report(ctx, 'sourceFields', 'a PROJECTION task lists the source fields to read, but the list is empty. Add the fields, for example ["Id", "Name"].');
    const seen = new Set<string>();
    fields.forEach((f, i) => {
      if (f === '') report(ctx, `sourceFields[${i}]`, 'is empty. Write a field API name.');
      else if (seen.has(f)) report(ctx, `sourceFields[${i}]`, `${quote(f)} is listed twice. Remove the duplicate.`);
      seen.add(f);
    });
    return { kind: 'projection', index: ctx.index, fields: [...seen].filter((f) => f !== '') };
  }
  if (op === 'NO_OP') {
    return report(ctx, 'connectorOperator', 'The operator NO_OP is not valid for filtering tasks. Use PROJECTION to list the fields to read, or a comparison operator such as EQUAL_TO.');
  }
  if (!(PREDICATE_OPERATORS as readonly string[]).includes(op)) {
    return report(ctx, 'connectorOperator', `${op} is not a filter operator. Use PROJECTION or one of ${PREDICATE_OPERATORS.join(', ')}.`);
  }
  const operator = op as FilterOperator;
  const field = singleSourceField(ctx, 'the field to filter on');
  const typeName = prop(ctx, 'DATA_TYPE');
  if (typeName === undefined) {
    report(ctx, 'taskProperties', `DATA_TYPE is missing. Add "DATA_TYPE": the field's type, such as "string", "double", "boolean", "date" or "datetime".`);
    return undefined;
  }
  const dataType = parseDataType(typeName);
  if (dataType === undefined) {
    report(ctx, 'taskProperties.DATA_TYPE', `${quote(typeName)} is not a known data type. ${DATA_TYPE_HINT}`);
    return undefined;
  }
  if (field === undefined) return undefined;
  const family = typeFamily(dataType);
  if (operator === 'CONTAINS' && family !== 'text') {
    return report(ctx, 'connectorOperator', `CONTAINS works on text fields, but DATA_TYPE is ${dataType}. Use EQUAL_TO or a comparison for ${dataType} fields.`);
  }

  if (operator === 'BETWEEN') {
    const lowerRaw = prop(ctx, 'LOWER_BOUND');
    const upperRaw = prop(ctx, 'UPPER_BOUND');
    if (lowerRaw === undefined || upperRaw === undefined) {
      return report(ctx, 'taskProperties', 'BETWEEN needs LOWER_BOUND and UPPER_BOUND. Add both (the bounds are exclusive).');
    }
    const lower = typeValue(ctx, 'LOWER_BOUND', lowerRaw, dataType, family);
    const upper = typeValue(ctx, 'UPPER_BOUND', upperRaw, dataType, family);
    if (lower === undefined || upper === undefined) return undefined;
    if (lower !== null && upper !== null && !(lower < upper)) {
      return report(ctx, 'taskProperties', `LOWER_BOUND ${quote(lowerRaw)} is not below UPPER_BOUND ${quote(upperRaw)}, so no record could match (the bounds are exclusive). Swap or widen them.`);
    }
    return {
      kind: 'predicate', index: ctx.index, field, operator, dataType,
      comparisons: [
        { field, operator: 'GREATER_THAN', values: [lower] },
        { field, operator: 'LESS_THAN', values: [upper] },
      ],
    };
  }

  const one = prop(ctx, 'VALUE');
  const many = prop(ctx, 'VALUES');
  if (one === undefined && many === undefined) {
    return report(ctx, 'taskProperties', `${operator} needs a value. Add "VALUE": "<value>", or "VALUES": "<a>,<b>" to match any of several.`);
  }
  if (one !== undefined && many !== undefined) {
    return report(ctx, 'taskProperties', 'has both VALUE and VALUES. Keep one: VALUE for a single value, VALUES for several.');
  }
  const rawValues = one !== undefined ? [one] : splitValues(many ?? '');
  const key = one !== undefined ? 'VALUE' : 'VALUES';
  const values: ScalarValue[] = [];
  for (const raw of rawValues) {
    const v = typeValue(ctx, key, raw, dataType, family);
    if (v === undefined) return undefined;
    values.push(v);
  }
  if (values.length > 10) report(ctx, `taskProperties.${key}`, `has ${values.length} values; AppFlow allows at most 10 criteria per filter. Split it into several flows or use a range.`);
  const comparisons: Comparison[] = operator === 'NOT_EQUAL_TO'
    ? values.map((v) => ({ field, operator, values: [v] }))
    : [{ field, operator, values }];
  return { kind: 'predicate', index: ctx.index, field, operator, dataType, comparisons };
}

/** The pushdown form of a predicate task for a source that evaluates filters itself (Salesforce: SOQL WHERE). */
export function toPushdown(spec: PredicateSpec): PushdownFilter[] {
  return spec.comparisons.map((c) => ({ field: c.field, operator: c.operator, values: c.values }));
}

function normalise(value: FieldValue | undefined, family: TypeFamily): ScalarValue | undefined {
  if (value === null || value === undefined) return undefined;
  switch (family) {
    case 'integer': case 'number': return toNumber(value);
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      const s = toText(value)?.trim().toLowerCase();
      return s === 'true' ? true : s === 'false' ? false : undefined;
    }
    case 'datetime': {
      const ms = toEpochMillis(value);
      return ms === undefined ? undefined : ms;
    }
    case 'date': {
      const ms = toEpochMillis(value);
      return ms === undefined ? undefined : new Date(ms).toISOString().slice(0, 10);
    }
    default: {
      const s = toText(value);
      return s === null ? undefined : s;
    }
  }
}

function compare(a: ScalarValue, b: ScalarValue): number {
  if (a === b) return 0;
  if (a === null || b === null) return Number.NaN;
  return a < b ? -1 : a > b ? 1 : Number.NaN;
}

/** Compiles one comparison into a row predicate (the engine-side evaluation). */
export function compileComparison(c: Comparison, dataType: FieldType): (row: Row) => boolean {
  const family = typeFamily(dataType);
  // Filter values in the engine's comparable form: datetimes as epoch ms, the rest as typed.
  const targets = c.values.map((v) => (family === 'datetime' && typeof v === 'string' ? Date.parse(v) : v));
  const field = c.field;
  const test = ((): ((x: ScalarValue) => boolean) => {
    switch (c.operator) {
      case 'EQUAL_TO': return (x) => targets.some((t) => compare(x, t) === 0);
      case 'NOT_EQUAL_TO': return (x) => targets.every((t) => compare(x, t) !== 0);
      case 'LESS_THAN': return (x) => targets.some((t) => compare(x, t) < 0);
      case 'LESS_THAN_OR_EQUAL_TO': return (x) => targets.some((t) => compare(x, t) <= 0);
      case 'GREATER_THAN': return (x) => targets.some((t) => compare(x, t) > 0);
      case 'GREATER_THAN_OR_EQUAL_TO': return (x) => targets.some((t) => compare(x, t) >= 0);
      case 'CONTAINS': return (x) => typeof x === 'string' && targets.some((t) => typeof t === 'string' && x.includes(t));
    }
  })();
  const nullMatches = c.operator === 'NOT_EQUAL_TO';
  return (row) => {
    const x = normalise(row[field], family);
    return x === undefined ? nullMatches : test(x);
  };
}

/** All predicate tasks ANDed into one row test; undefined when there is nothing to test. */
export function compileFilters(specs: readonly PredicateSpec[]): ((row: Row) => boolean) | undefined {
  const tests = specs.flatMap((s) => s.comparisons.map((c) => compileComparison(c, s.dataType)));
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (row) => {
    for (const t of tests) if (!t(row)) return false;
    return true;
  };
}

/** Binds the engine's Filter predicates to an input schema: one row test (undefined when none). */
export function bindFilters(specs: readonly PredicateSpec[], sourceName: SourceName): ((row: Row) => boolean) | undefined {
  return compileFilters(specs.map((s) => {
    const field = sourceName(s.field, s.index);
    return { ...s, field, comparisons: s.comparisons.map((c) => ({ ...c, field })) };
  }));
}
