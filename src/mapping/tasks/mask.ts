import type { FieldValue } from '../../core/types.ts';
import { codePoints, toText } from '../convert.ts';
import { operatorOf, positiveIntProp, prop, quote, report } from '../types.ts';
import type { SourceName, Step, TaskContext } from '../types.ts';

/**
 * Mask: replaces characters of each source field's value, in place, with MASK_VALUE (one character,
 * default "*"): MASK_ALL every character, MASK_FIRST_N / MASK_LAST_N the first / last MASK_LENGTH
 * characters (all of them when the value is shorter). Characters are Unicode code points. MASK_LENGTH is
 * ignored by MASK_ALL (the AppFlow console writes "5" there anyway). Numbers and booleans are masked as
 * their text and become text; null stays null; the empty string stays empty.
 */
export type MaskMode = 'MASK_ALL' | 'MASK_FIRST_N' | 'MASK_LAST_N';

export interface MaskSpec {
  readonly kind: 'mask';
  readonly index: number;
  readonly fields: readonly string[];
  readonly mode: MaskMode;
  readonly maskChar: string;
  readonly length: number;
}

const MODES: readonly string[] = ['MASK_ALL', 'MASK_FIRST_N', 'MASK_LAST_N'];

export function parseMask(ctx: TaskContext): MaskSpec | undefined {
  const op = operatorOf(ctx);
  if (op === undefined) return undefined;
  if (!MODES.includes(op)) return report(ctx, 'connectorOperator', `${op} is not a mask operator. Use MASK_ALL, MASK_FIRST_N or MASK_LAST_N.`);
  const mode = op as MaskMode;
  if (ctx.task.sourceFields.length === 0) return report(ctx, 'sourceFields', 'is empty. List the field(s) to mask.');
  const maskValue = prop(ctx, 'MASK_VALUE') ?? '*';
  if (codePoints(maskValue).length !== 1) {
    report(ctx, 'taskProperties.MASK_VALUE', `expected a single character, got ${quote(maskValue)}. Set it to one character such as "*".`);
    return undefined;
  }
  let length = 0;
  if (mode !== 'MASK_ALL') {
    const n = positiveIntProp(ctx, 'MASK_LENGTH', 'the number of characters to mask');
    if (n === undefined) return undefined;
    length = n;
  }
  return { kind: 'mask', index: ctx.index, fields: ctx.task.sourceFields, mode, maskChar: maskValue, length };
}

export function maskValue(value: FieldValue | undefined, spec: Pick<MaskSpec, 'mode' | 'maskChar' | 'length'>): FieldValue {
  if (value === undefined || value === null) return null;
  const text = toText(value) ?? '';
  const cps = codePoints(text);
  const n = cps.length;
  const from = spec.mode === 'MASK_LAST_N' ? Math.max(0, n - spec.length) : 0;
  const to = spec.mode === 'MASK_FIRST_N' ? Math.min(n, spec.length) : n;
  for (let i = from; i < to; i++) cps[i] = spec.maskChar;
  return cps.join('');
}

/** Binds a Mask task to an input schema: one in-place step per source field, in sourceFields order. */
export function bindMask(spec: MaskSpec, sourceName: SourceName): Step[] {
  return spec.fields.map((f) => {
    const n = sourceName(f, spec.index);
    return (w) => { w[n] = maskValue(w[n], spec); };
  });
}
