/**
 * A query row as REST JSON: `attributes` first, canonical field names, `+0000` datetimes, compound address and
 * location objects, parent relationships nested with their own `attributes` (null for an empty lookup),
 * subqueries as `{"totalSize","done","records"}` or null, AggregateResult rows with `expr0`...
 */
import type { DescribeField, ObjectSchema } from '../org/schema.ts';
import type { StoredRecord } from '../org/store.ts';
import { attributes, compoundValue, restValue } from '../rest/format.ts';
import { children, value } from './execute.ts';
import type { OutNode, QueryPlan, QueryRow } from './types.ts';
import { resolveParent } from './values.ts';

/** A row as REST JSON (`attributes` first, then the columns; parents nested; subqueries as query results). */
export function toRest(plan: QueryPlan, row: QueryRow, version: string): Record<string, unknown> {
  if (row.aggregate) {
    const out: Record<string, unknown> = { attributes: { type: 'AggregateResult' } };
    for (const c of plan.columns) {
      const v = value(plan, row, c);
      out[c.name] = c.field && v !== null && c.aggregate !== 'COUNT' && c.aggregate !== 'COUNT_DISTINCT' ? restValue(c.field, v) : v;
    }
    return out;
  }
  const out: Record<string, unknown> = { attributes: attributes(plan.object.name, row.record['Id'] ?? null, version) };
  writeNodes(plan, out, plan.out, row.record, plan.object, row, version);
  return out;
}

function writeNodes(plan: QueryPlan, out: Record<string, unknown>, nodes: readonly OutNode[], record: StoredRecord, schema: ObjectSchema, row: QueryRow, version: string): void {
  for (const node of nodes) {
    switch (node.kind) {
      case 'field': {
        const f = node.column.field as DescribeField;
        out[node.key] = node.column.compound ? compoundValue(schema, f, record) : restValue(f, record[f.name] ?? null);
        break;
      }
      case 'parent': {
        const parent = resolveParent(plan.store, row, node.trail, plan.includeDeleted);
        if (!parent) {
          out[node.step.name] = null;
          break;
        }
        const id = parent['Id'] ?? null;
        const type = node.step.table ? node.step.target : (plan.store.tableForId(String(id))?.schema ?? node.step.target);
        const nested: Record<string, unknown> = { attributes: attributes(type.name, id, version) };
        writeNodes(plan, nested, node.children, parent, type, row, version);
        out[node.step.name] = nested;
        break;
      }
      case 'subquery': {
        const rows = children(plan, row, node.column);
        const child = node.column.subquery as QueryPlan;
        out[node.column.name] = rows.length === 0 ? null : { totalSize: rows.length, done: true, records: rows.map((c) => toRest(child, c, version)) };
        break;
      }
      case 'typeof': {
        const parent = resolveParent(plan.store, row, [node.step], plan.includeDeleted);
        if (!parent) {
          out[node.step.name] = null;
          break;
        }
        const id = parent['Id'] ?? null;
        const type = plan.store.tableForId(String(id))?.schema ?? node.step.target;
        const fields = node.cases.get(type.name.toLowerCase()) ?? node.otherwise ?? [];
        const nested: Record<string, unknown> = { attributes: attributes(type.name, id, version) };
        for (const f of fields) {
          const own = type.field(f.name);
          nested[f.name] = own ? (type.isCompound(own) ? compoundValue(type, own, parent) : restValue(own, parent[own.name] ?? null)) : null;
        }
        out[node.step.name] = nested;
        break;
      }
    }
  }
}
