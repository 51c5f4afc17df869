import type { z } from 'zod';

/** One line per zod issue: `path.to[0].field: message`. */
export function formatZodIssues(error: z.ZodError, root = ''): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), root);
    return `${path || '(root)'}: ${issue.message}`;
  });
}
