import { z } from 'zod';

/** One line per zod issue: `path.to[0].field: message`. */
export function formatZodIssues(error: z.ZodError, root = ''): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), root);
    return `${path || '(root)'}: ${issue.message}`;
  });
}

/**
 * `object` that also takes CloudFormation's spelling `from` of its key `to`: renamed before parsing (so
 * problems name the API key, as docs/flows.md spells it); with both set, `from` is reported as unknown.
 */
export function withSpelling<T extends z.ZodType>(from: string, to: string, object: T) {
  const rename = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    if (!(from in o) || to in o) return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) out[k === from ? to : k] = o[k];
    return out;
  };
  return z.preprocess(rename, object.superRefine((o, ctx) => {
    if ((o as Record<string, unknown>)[from] !== undefined) ctx.addIssue({ code: 'unrecognized_keys', keys: [from], input: o as Record<string, unknown> });
  }));
}
