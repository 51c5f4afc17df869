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
