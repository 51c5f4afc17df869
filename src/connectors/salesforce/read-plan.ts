import type { FieldValue, Row } from '../../core/types.ts';
import { base64Reference, fromBulk, fromRest, rebuildCompound } from '../../api-selection/normalize.ts';
import type { SfField, SfObject } from './describe.ts';

/**
 * How the requested output fields map onto what each API can select.
 * - REST selects compound fields directly; Bulk cannot, so it selects their components and we rebuild.
 * - base64 fields are never selected: both APIs produce the same reference (the blob's REST URL).
 */
export interface ReadPlan {
  readonly object: SfObject;
  readonly output: readonly SfField[];
  /** Fields to put in the SOQL SELECT for this API (always includes Id). */
  readonly select: readonly SfField[];
}

export function planRead(object: SfObject, output: readonly SfField[], api: 'REST_SYNC' | 'BULKV2'): ReadPlan {
  const select: SfField[] = [];
  const seen = new Set<string>();
  const add = (f: SfField): void => {
    if (!seen.has(f.name)) {
      seen.add(f.name);
      select.push(f);
    }
  };
  const id = object.field('Id');
  if (id) add(id);
  for (const f of output) {
    if (f.type === 'base64') continue;
    if (api === 'BULKV2' && object.isCompound(f)) {
      for (const c of object.components(f)) add(c);
      continue;
    }
    add(f);
  }
  return { object, output, select };
}

/** Build the canonical output row from a value getter over the selected fields. */
function buildRow(plan: ReadPlan, version: string, get: (f: SfField) => FieldValue, api: 'REST_SYNC' | 'BULKV2'): Row {
  const row: Row = {};
  for (const f of plan.output) {
    if (f.type === 'base64') {
      const id = get(plan.object.field('Id') as SfField);
      row[f.name] = id === null ? null : base64Reference(version, plan.object.name, String(id), f.name);
    } else if (api === 'BULKV2' && plan.object.isCompound(f)) {
      row[f.name] = rebuildCompound(f, plan.object.components(f).map((c) => ({ field: c, value: get(c) })));
    } else {
      row[f.name] = get(f);
    }
  }
  return row;
}

/** A REST query record (JSON) to a canonical row. */
export function rowFromRest(plan: ReadPlan, version: string, record: Readonly<Record<string, unknown>>): Row {
  return buildRow(plan, version, (f) => fromRest(f, record[f.name]), 'REST_SYNC');
}

/** A Bulk result CSV row (cells by header index) to a canonical row. */
export function rowFromBulk(plan: ReadPlan, version: string, cells: readonly string[], indexOf: ReadonlyMap<string, number>): Row {
  return buildRow(plan, version, (f) => {
    const i = indexOf.get(f.name);
    return i === undefined ? null : fromBulk(f, cells[i]);
  }, 'BULKV2');
}
