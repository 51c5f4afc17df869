import type { FieldValue, Row } from '../../core/types.ts';
import { base64Reference, canonicalCompound, componentKey, fromBulk, fromRest } from '../../api-selection/normalize.ts';
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

/** One output column, compiled once per read: what to do for every row. */
type Column<T> = (source: T, row: Row) => void;

function base64Column<T>(plan: ReadPlan, version: string, f: SfField, id: (source: T) => FieldValue): Column<T> {
  return (src, row) => {
    const v = id(src);
    row[f.name] = v === null ? null : base64Reference(version, plan.object.name, String(v), f.name);
  };
}

/** Compile a REST record → canonical row function for a plan (once per read). */
export function restRowBuilder(plan: ReadPlan, version: string): (record: Readonly<Record<string, unknown>>) => Row {
  const columns: Array<Column<Readonly<Record<string, unknown>>>> = plan.output.map((f) => {
    if (f.type === 'base64') return base64Column(plan, version, f, (r) => (r['Id'] as FieldValue | undefined) ?? null);
    const name = f.name;
    return (r, row) => {
      row[name] = fromRest(f, r[name]);
    };
  });
  return (record) => {
    const row: Row = {};
    for (const c of columns) c(record, row);
    return row;
  };
}

/** Compile a Bulk CSV row (cells by header position) → canonical row function, once per results page header. */
export function bulkRowBuilder(plan: ReadPlan, version: string, header: readonly string[]): (cells: readonly string[]) => Row {
  const indexOf = new Map(header.map((h, i) => [h.toLowerCase(), i]));
  const idIndex = indexOf.get('id');
  const columns: Array<Column<readonly string[]>> = plan.output.map((f) => {
    if (f.type === 'base64') return base64Column(plan, version, f, (cells) => (idIndex === undefined ? null : (cells[idIndex] ?? null) || null));
    if (plan.object.isCompound(f)) {
      const type = f.type === 'location' ? 'location' : 'address';
      const parts = plan.object
        .components(f)
        .map((c) => ({ field: c, key: componentKey(f, c), index: indexOf.get(c.name.toLowerCase()) }))
        .filter((p): p is { field: SfField; key: string; index: number } => p.key !== undefined && p.index !== undefined);
      return (cells, row) => {
        const raw: Record<string, unknown> = {};
        for (const p of parts) raw[p.key] = fromBulk(p.field, cells[p.index]);
        row[f.name] = canonicalCompound(type, raw);
      };
    }
    const i = indexOf.get(f.name.toLowerCase());
    const name = f.name;
    if (i === undefined) return (_cells, row) => void (row[name] = null);
    return (cells, row) => {
      row[name] = fromBulk(f, cells[i]);
    };
  });
  return (cells) => {
    const row: Row = {};
    for (const c of columns) c(cells, row);
    return row;
  };
}
