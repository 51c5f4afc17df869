/**
 * An API reserve as written (`--api-reserve`, a profile's `apiReserve`, service.json): pure, with no
 * dependency, so the CLI checks its option without loading the connector (docs/salesforce-budget.md).
 */

/** A reserve: a share of the org's daily maximum (`"20%"`) or a number of calls (`5000`, `"5000"`). */
export type ApiReserve = { readonly percent: number } | { readonly calls: number };

export const RESERVE_TEXT = /^\s*(?:(\d{1,3}(?:\.\d+)?)\s*%|(\d{1,12}))\s*$/;

/** The reserve a value gives, or undefined when it is not one. */
export function parseApiReserve(value: unknown): ApiReserve | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? { calls: value } : undefined;
  if (typeof value !== 'string') return undefined;
  const m = RESERVE_TEXT.exec(value);
  if (!m) return undefined;
  if (m[1] !== undefined) {
    const percent = Number(m[1]);
    return percent <= 100 ? { percent } : undefined;
  }
  return { calls: Number(m[2]) };
}

export function formatReserve(reserve: ApiReserve): string {
  return 'percent' in reserve ? `${reserve.percent}%` : `${reserve.calls} calls`;
}

/** Calls of that many API requests in a reserve of the maximum `max`. */
export function reserveCalls(reserve: ApiReserve, max: number): number {
  return 'percent' in reserve ? Math.ceil((max * reserve.percent) / 100) : reserve.calls;
}
