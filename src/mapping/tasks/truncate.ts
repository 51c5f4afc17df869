import type { FieldValue } from '../../core/types.ts';
import { codePoints, toText } from '../convert.ts';
import { positiveIntProp, report } from '../types.ts';
import type { SourceName, Step, TaskContext } from '../types.ts';

/**
 * Truncate: cuts each source field's value, in place, to at most TRUNCATE_LENGTH characters (Unicode
 * code points, so an emoji is never split). Numbers and booleans that are too long become their
 * truncated text; values already short enough are left as they are; null stays null. The value is changed where it stands, so a Map of that field writes the truncated value.
 */
export interface TruncateSpec {
  readonly kind: 'truncate';
  readonly index: number;
  readonly fields: readonly string[];
  readonly length: number;
}

export function parseTruncate(ctx: TaskContext): TruncateSpec | undefined {
  if (ctx.task.sourceFields.length === 0) return report(ctx, 'sourceFields', 'is empty. List the field(s) to truncate.');
  const length = positiveIntProp(ctx, 'TRUNCATE_LENGTH', 'the maximum number of characters to keep');
  if (length === undefined) return undefined;
  return { kind: 'truncate', index: ctx.index, fields: ctx.task.sourceFields, length };
}

export function truncateValue(value: FieldValue | undefined, length: number): FieldValue {
  if (value === undefined || value === null) return null;
  const text = toText(value) ?? '';
  if (text.length <= length) return value;
  const cps = codePoints(text);
  return cps.length <= length ? value : cps.slice(0, length).join('');
}

/** Binds a Truncate task to an input schema: one in-place step per source field, in sourceFields order. */
export function bindTruncate(spec: TruncateSpec, sourceName: SourceName): Step[] {
  return spec.fields.map((f) => {
    const n = sourceName(f, spec.index);
    return (w) => { w[n] = truncateValue(w[n], spec.length); };
  });
}
