import { ForceflowError } from '../../core/errors.ts';
import type { PushdownFilter } from '../../core/connector.ts';
import type { ScalarValue } from '../../core/types.ts';
import { toEpochMillis } from '../../mapping/convert.ts';
import type { SfField, SfObject } from './describe.ts';

/**
 * SOQL built from a projection, the flow's pushed-down filters and an incremental window.
 *
 * Safety: field names come only from the object's describe (never from filter values), and every value
 * is rendered as a typed literal: numbers and booleans are validated and printed by us, dates and
 * datetimes must parse, and strings are quoted with every SOQL escape applied. No filter value can
 * change the shape of the query.
 */

/** Escape a string for a SOQL single-quoted literal. Other control characters and the Unicode line breaks
 *  (U+0085, U+2028, U+2029) are written as `\uXXXX` (a documented SOQL escape), so no character of a value
 *  reaches the query raw where a lexer might read it as a line end. */
export function escapeSoqlString(value: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point: they are escaped
  return value.replace(/[\\'"\u0000-\u001f\u007f\u0085\u2028\u2029]/g, (c) => {
    switch (c) {
      case '\\': return '\\\\';
      case "'": return "\\'";
      case '"': return '\\"';
      case '\n': return '\\n';
      case '\r': return '\\r';
      case '\t': return '\\t';
      case '\b': return '\\b';
      case '\f': return '\\f';
      default: return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
}

/** Escape LIKE wildcards too (for CONTAINS). */
function escapeLike(value: string): string {
  return escapeSoqlString(value).replace(/[%_]/g, (c) => `\\${c}`);
}

function invalid(field: SfField, value: unknown, expected: string): ForceflowError {
  return new ForceflowError('FILTER_VALUE_INVALID', `Filter on ${field.name}: ${JSON.stringify(value)} is not a valid ${field.type} value. Use ${expected}.`, {
    details: { field: field.name, type: field.type },
  });
}

function plainNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) >= 1e21) return BigInt(n).toString();
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

/** Decimal text only (`42`, `-1.5`, `1e3`): not hex (`0x10`), not `Infinity`, not `1,000`. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A lone UTF-16 surrogate cannot be sent (URL encoding and JSON would fail or change it). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Epoch ms of a date/datetime filter value (epoch ms as a number or digits, or ISO-8601; no zone = UTC), the same
 *  reading as the engine-side filters (src/mapping), so a filter selects the same records wherever it runs. */
function filterMillis(value: ScalarValue): number | undefined {
  if (typeof value === 'boolean') return undefined;
  const ms = toEpochMillis(value);
  return ms === undefined || Number.isNaN(new Date(ms).getTime()) ? undefined : ms;
}

/** A typed SOQL literal for a value compared with `field`. */
export function soqlLiteral(field: SfField, value: ScalarValue): string {
  if (value === null) return 'null';
  switch (field.type) {
    case 'int':
    case 'long':
    case 'double':
    case 'currency':
    case 'percent': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && DECIMAL.test(value.trim()) ? Number(value.trim()) : Number.NaN;
      if (!Number.isFinite(n)) throw invalid(field, value, 'a number such as 42 or 1234.5');
      return plainNumber(n);
    }
    case 'boolean': {
      if (value === true || value === 'true' || value === 'TRUE') return 'true';
      if (value === false || value === 'false' || value === 'FALSE') return 'false';
      throw invalid(field, value, 'true or false');
    }
    case 'date': {
      const ms = filterMillis(value);
      if (ms === undefined) throw invalid(field, value, 'a date YYYY-MM-DD (or epoch milliseconds)');
      return new Date(ms).toISOString().slice(0, 10);
    }
    case 'datetime': {
      const ms = filterMillis(value);
      if (ms === undefined) throw invalid(field, value, 'an ISO-8601 datetime such as 2024-04-16T19:00:00Z, or epoch milliseconds');
      return new Date(ms).toISOString();
    }
    case 'time': {
      const m = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?$/.exec(String(value).trim());
      if (typeof value !== 'string' || !m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59) throw invalid(field, value, 'a time HH:mm:ss.SSSZ');
      return `${m[1]}:${m[2]}:${m[3] ?? '00'}.${(m[4] ?? '0').padEnd(3, '0')}Z`;
    }
    default: {
      const text = String(value);
      if (LONE_SURROGATE.test(text)) throw invalid(field, value, 'well-formed Unicode text (it holds half of a surrogate pair)');
      return `'${escapeSoqlString(text)}'`;
    }
  }
}

const COMPARISON: Record<string, string> = {
  LESS_THAN: '<', LESS_THAN_OR_EQUAL_TO: '<=', GREATER_THAN: '>', GREATER_THAN_OR_EQUAL_TO: '>=',
};

const TEXT_TYPES = new Set(['string', 'textarea', 'picklist', 'multipicklist', 'combobox', 'phone', 'url', 'email', 'id', 'reference', 'encryptedstring']);

/**
 * One filter as a SOQL condition. Semantics (shared with the engine-side filters of src/mapping):
 * EQUAL_TO with several values: any of them (IN); NOT_EQUAL_TO with several values: none of them (NOT IN);
 * comparisons and CONTAINS with several values: any of them (OR); BETWEEN: lower < field < upper (exclusive,
 * as AppFlow documents its bounds); CONTAINS: case-insensitive substring (SOQL LIKE).
 */
export function filterCondition(object: SfObject, filter: PushdownFilter): string {
  const field = object.require(filter.field, 'filter');
  if (!field.filterable) {
    throw new ForceflowError('FILTER_VALUE_INVALID', `Filter on ${field.name}: Salesforce cannot filter on this ${field.type} field. Remove the filter task or filter on another field.`, { details: { field: field.name } });
  }
  const name = field.name;
  const values = filter.values;
  if (values.length === 0) throw new ForceflowError('FILTER_VALUE_INVALID', `Filter on ${name}: ${filter.operator} needs at least one value.`);
  switch (filter.operator) {
    case 'EQUAL_TO':
    case 'NOT_EQUAL_TO': {
      const neg = filter.operator === 'NOT_EQUAL_TO';
      if (values.length === 1 || values.includes(null)) {
        const parts = values.map((v) => `${name} ${neg ? '!=' : '='} ${soqlLiteral(field, v)}`);
        return parts.length === 1 ? (parts[0] as string) : `(${parts.join(neg ? ' AND ' : ' OR ')})`;
      }
      return `${name} ${neg ? 'NOT IN' : 'IN'} (${values.map((v) => soqlLiteral(field, v)).join(', ')})`;
    }
    case 'LESS_THAN':
    case 'LESS_THAN_OR_EQUAL_TO':
    case 'GREATER_THAN':
    case 'GREATER_THAN_OR_EQUAL_TO': {
      const op = COMPARISON[filter.operator] as string;
      const parts = values.map((v) => `${name} ${op} ${soqlLiteral(field, v)}`);
      return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
    }
    case 'BETWEEN': {
      if (values.length !== 2) throw new ForceflowError('FILTER_VALUE_INVALID', `Filter on ${name}: BETWEEN needs LOWER_BOUND and UPPER_BOUND.`);
      return `(${name} > ${soqlLiteral(field, values[0] ?? null)} AND ${name} < ${soqlLiteral(field, values[1] ?? null)})`;
    }
    case 'CONTAINS': {
      if (!TEXT_TYPES.has(field.type)) {
        throw new ForceflowError('FILTER_VALUE_INVALID', `Filter on ${name}: CONTAINS works on text fields, and ${name} is ${field.type}. Use EQUAL_TO or a comparison.`);
      }
      const parts = values.map((v) => {
        if (v === null) throw new ForceflowError('FILTER_VALUE_INVALID', `Filter on ${name}: CONTAINS needs text to look for, not null. Use EQUAL_TO null to find records without a value.`, { details: { field: name } });
        const text = String(v);
        if (LONE_SURROGATE.test(text)) throw invalid(field, v, 'well-formed Unicode text (it holds half of a surrogate pair)');
        return `${name} LIKE '%${escapeLike(text)}%'`;
      });
      return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
    }
  }
}

export interface SelectSpec {
  readonly object: SfObject;
  readonly fields: readonly string[];
  readonly filters?: readonly PushdownFilter[];
  /** Incremental window: from (exclusive) .. to (inclusive). */
  readonly window?: { readonly field: string; readonly from?: string; readonly to: string };
  readonly orderById?: boolean;
  /** ORDER BY these fields (ascending), when not ordering by Id alone (an early-stoppable read: the window field, Id). */
  readonly orderBy?: readonly string[];
}

export function whereClause(spec: Omit<SelectSpec, 'fields'>): string {
  const conds = (spec.filters ?? []).map((f) => filterCondition(spec.object, f));
  if (spec.window) {
    const wf = spec.object.require(spec.window.field, 'incrementalPullConfig.datetimeTypeFieldName');
    if (wf.type !== 'datetime' || !wf.filterable) {
      // A date field would cut windows at whole days: a record changed later on the day a window ended falls
      // in neither that window (already read) nor the next (which starts after that day). It would be missed.
      throw new ForceflowError('FLOW_INVALID', `incrementalPullConfig.datetimeTypeFieldName: ${spec.object.name}.${wf.name} is a ${wf.filterable ? wf.type : `non-filterable ${wf.type}`} field; incremental windows need a filterable datetime field such as LastModifiedDate or SystemModstamp.`, {
        details: { object: spec.object.name, field: wf.name, type: wf.type },
      });
    }
    if (spec.window.from !== undefined) conds.push(`${wf.name} > ${soqlLiteral(wf, spec.window.from)}`);
    conds.push(`${wf.name} <= ${soqlLiteral(wf, spec.window.to)}`);
  }
  return conds.length ? ` WHERE ${conds.join(' AND ')}` : '';
}

export function buildSelect(spec: SelectSpec): string {
  const names = spec.fields.map((n) => spec.object.require(n, 'projection').name);
  const order = spec.orderBy && spec.orderBy.length > 0 ? ` ORDER BY ${spec.orderBy.map((n) => spec.object.require(n, 'projection').name).join(', ')}` : spec.orderById ? ' ORDER BY Id' : '';
  return `SELECT ${names.join(', ')} FROM ${spec.object.name}${whereClause(spec)}${order}`;
}

export function buildCount(spec: Omit<SelectSpec, 'fields'>): string {
  return `SELECT COUNT() FROM ${spec.object.name}${whereClause(spec)}`;
}
