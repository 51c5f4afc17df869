import type { FieldType, FieldValue } from '../core/types.ts';

/** Field types whose canonical value is a plain object (compound fields). */
export const COMPOUND_TYPES: ReadonlySet<FieldType> = new Set<FieldType>(['address', 'location', 'complexvalue']);

/**
 * A value as text, the way CSV cells, string-typed Parquet columns and partition folders show it:
 * strings as they are, numbers in JavaScript's shortest round-trip form, booleans as `true`/`false`,
 * compound values as JSON. Null stays null (the caller decides how to show it).
 */
export function valueToText(value: FieldValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
      return String(value);
    default:
      return JSON.stringify(value);
  }
}

/** Plain objects whose values are scalars become compound values; anything deeper becomes JSON text. */
export function toFieldValue(value: unknown): FieldValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.every(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v))) {
      // No prototype, like rows: a key such as "__proto__" stays an ordinary key of the compound value.
      return Object.setPrototypeOf(Object.fromEntries(entries), null) as FieldValue;
    }
  }
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** The field type a file source reports for a JSON value it saw. */
export function inferFieldType(value: FieldValue): FieldType {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return 'double';
  if (value !== null && typeof value === 'object') {
    if ('latitude' in value || 'longitude' in value) return 'location';
    if ('street' in value || 'city' in value || 'postalCode' in value) return 'address';
    return 'complexvalue';
  }
  return 'string';
}
