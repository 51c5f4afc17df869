import { nameListProp, report } from '../types.ts';
import type { TaskContext } from '../types.ts';

/**
 * Partition: the destination fields whose values name the output folders, outermost first
 * (`Industry=Apparel/`, `Industry=null/` for nulls), up to 10. AppFlow documents only the property
 * name ORDERED_PARTITION_KEYS_LIST; forceflow reads it as a JSON array string like
 * EXCLUDE_SOURCE_FIELDS_LIST ('["Industry","Rating"]'), also accepts "Industry,Rating", and falls back to
 * sourceFields when the property is absent. Only file destinations (S3, LocalFile) can be partitioned.
 */
export interface PartitionSpec {
  readonly kind: 'partition';
  readonly index: number;
  readonly keys: readonly string[];
}

export function parsePartition(ctx: TaskContext): PartitionSpec | undefined {
  const keys = nameListProp(ctx, 'ORDERED_PARTITION_KEYS_LIST') ?? ctx.task.sourceFields;
  if (keys.length === 0) {
    return report(ctx, 'taskProperties', 'ORDERED_PARTITION_KEYS_LIST is missing or empty. Add the destination fields to partition by, for example "[\\"Industry\\"]".');
  }
  if (keys.length > 10) return report(ctx, 'taskProperties.ORDERED_PARTITION_KEYS_LIST', `has ${keys.length} keys; AppFlow allows at most 10. Keep the 10 most useful.`);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) return report(ctx, 'taskProperties.ORDERED_PARTITION_KEYS_LIST', `lists "${dup}" twice. Remove the duplicate.`);
  return { kind: 'partition', index: ctx.index, keys };
}
