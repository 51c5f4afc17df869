import type { EntitySchema, FieldSchema } from '../../core/types.ts';
import { nameListProp, prop, quote, report } from '../types.ts';
import type { TaskContext } from '../types.ts';

/**
 * Map_all: every source field goes to the same-named destination field, except those listed in
 * EXCLUDE_SOURCE_FIELDS_LIST (a JSON array string such as '["Fax"]', as AppFlow and CloudFormation
 * write it). sourceFields must be empty. INCLUDE_NEW_FIELDS is accepted; forceflow reads the object's
 * fields at run time, so new fields are always included.
 */
export interface MapAllSpec {
  readonly kind: 'map_all';
  readonly index: number;
  readonly exclude: readonly string[];
}

export function parseMapAll(ctx: TaskContext): MapAllSpec | undefined {
  if (ctx.task.sourceFields.length > 0) {
    report(ctx, 'sourceFields', 'a Map_all task takes "sourceFields": []. List the fields to leave out in EXCLUDE_SOURCE_FIELDS_LIST instead.');
  }
  const include = prop(ctx, 'INCLUDE_NEW_FIELDS');
  if (include !== undefined && !/^(true|false)$/i.test(include)) {
    report(ctx, 'taskProperties.INCLUDE_NEW_FIELDS', `expected "true" or "false", got ${quote(include)}. Set it to "true" or remove it.`);
  }
  const exclude = nameListProp(ctx, 'EXCLUDE_SOURCE_FIELDS_LIST') ?? [];
  return { kind: 'map_all', index: ctx.index, exclude };
}

/**
 * Binds Map_all to an input schema: the input fields it copies, in the schema's order. Fields an explicit
 * task writes (`explicit`), excluded fields and, with a projection (`projected`), unprojected fields are left
 * out; names the flow spells in another case are matched through `resolve`.
 */
export function bindMapAll(
  spec: MapAllSpec, schema: EntitySchema, resolve: (name: string) => FieldSchema | undefined,
  projected: readonly string[] | undefined, explicit: ReadonlySet<string>,
): FieldSchema[] {
  const excluded = new Set(spec.exclude.map((e) => resolve(e)?.name ?? e));
  const read = projected ? new Set(projected.map((f) => resolve(f)?.name ?? f)) : undefined;
  return schema.fields.filter((f) => !excluded.has(f.name) && !explicit.has(f.name) && (!read || read.has(f.name)));
}
