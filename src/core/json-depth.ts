/**
 * Nesting bound for untrusted JSON, checked before validation walks it: validators, structuredClone and
 * error formatting recurse, so a document nested thousands deep (`[[[[...]]]]`) would overflow the stack
 * (an INTERNAL error) instead of getting a clear message. Real flows and profiles nest fewer than 10 levels.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The JSON path (`tasks[0].a.a...`, shortened) of the first value nested deeper than `max`, or undefined.
 * Iterative, so it cannot overflow itself.
 */
export function tooDeepAt(value: unknown, max: number = MAX_JSON_DEPTH): string | undefined {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop() as { v: unknown; depth: number; path: string };
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return path === '' ? '(root)' : path.length > 120 ? `${path.slice(0, 120)}…` : path;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, depth: depth + 1, path: `${path}[${i}]` }));
    else for (const [k, x] of Object.entries(v)) stack.push({ v: x, depth: depth + 1, path: path === '' ? k : `${path}.${k}` });
  }
  return undefined;
}
