import type { FieldValue, Row } from '../../core/types.ts';
import { toText } from '../convert.ts';
import { prop, quote, report } from '../types.ts';
import type { SourceName, Step, TaskContext } from '../types.ts';

/**
 * Merge: concatenates source fields into destinationField as text. AppFlow does not document the
 * CONCAT_FORMAT syntax; forceflow takes a template whose placeholders name source fields as `${Field}`
 * or `{Field}` (for example "${LastName}, ${FirstName}"); text outside placeholders is copied. Without
 * CONCAT_FORMAT the values are joined with no separator, in sourceFields order. A null value counts as
 * the empty string; when every source value is null the result is null. Without destinationField the
 * result goes to the temporary field "F1,F2" (the source names joined by commas), which a following Map
 * of ["F1,F2"] copies to the real field, the pattern AppFlow's console and cdk-appflow generate.
 */
export interface MergeSpec {
  readonly kind: 'merge';
  readonly index: number;
  readonly fields: readonly string[];
  readonly destination: string;
  /** Literal text and field references, in order. */
  readonly parts: readonly ({ readonly text: string } | { readonly field: string })[];
}

const PLACEHOLDER = /\$?\{([^{}]+)\}/g;

export function parseMerge(ctx: TaskContext): MergeSpec | undefined {
  const fields = ctx.task.sourceFields;
  if (fields.length === 0) return report(ctx, 'sourceFields', 'is empty. List the fields to concatenate.');
  const destination = ctx.task.destinationField ?? fields.join(',');
  const format = prop(ctx, 'CONCAT_FORMAT');
  const parts: ({ text: string } | { field: string })[] = [];
  if (format === undefined) {
    for (const f of fields) parts.push({ field: f });
  } else {
    let last = 0;
    let ok = true;
    for (const m of format.matchAll(PLACEHOLDER)) {
      const name = (m[1] ?? '').trim();
      if (!fields.includes(name)) {
        report(ctx, 'taskProperties.CONCAT_FORMAT', `the placeholder ${quote(m[0])} names ${quote(name)}, which is not in sourceFields (${fields.join(', ')}). Add the field to sourceFields or fix the placeholder.`);
        ok = false;
      }
      if (m.index > last) parts.push({ text: format.slice(last, m.index) });
      parts.push({ field: name });
      last = m.index + m[0].length;
    }
    if (last < format.length) parts.push({ text: format.slice(last) });
    if (!ok) return undefined;
  }
  return { kind: 'merge', index: ctx.index, fields, destination, parts };
}

export function mergeValues(row: Row, spec: Pick<MergeSpec, 'fields' | 'parts'>): FieldValue {
  if (spec.fields.every((f) => row[f] === null || row[f] === undefined)) return null;
  let out = '';
  for (const p of spec.parts) out += 'text' in p ? p.text : (toText(row[p.field] ?? null) ?? '');
  return out;
}

/** Binds a Merge task to an input schema: one step writing its destination field. */
export function bindMerge(spec: MergeSpec, sourceName: SourceName): Step[] {
  const bound = { fields: spec.fields.map((f) => sourceName(f, spec.index)), parts: spec.parts.map((p) => ('field' in p ? { field: sourceName(p.field, spec.index) } : p)) };
  return [(w) => { w[spec.destination] = mergeValues(w, bound); }];
}
