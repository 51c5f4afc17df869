import type { FieldType, FieldValue, ScalarValue } from '../core/types.ts';

/**
 * Type conversion for Map tasks (SOURCE_DATA_TYPE -> DESTINATION_DATA_TYPE) and value parsing shared by
 * the other tasks. Conversion is driven by the destination type and the value's actual JSON type, so a
 * CSV source (every value a string) converts the same way as a typed Salesforce source.
 *
 * Rules (docs/tasks.md "Type conversion"):
 * - null stays null; a value that cannot be converted becomes null (never an exception);
 * - the empty string becomes null for every non-text destination type;
 * - numbers are copied as they are (sources deliver them without float noise; Arithmetic cleans its results);
 * - numbers to int/long truncate toward zero (null outside 32 / 64 bits); text to number accepts decimal and
 *   exponent notation only;
 * - booleans to numbers give 1/0; numbers to boolean are true when non-zero; text to boolean accepts
 *   true/false/1/0/yes/no in any case;
 * - datetimes are canonical ISO-8601 UTC with milliseconds; a date converted to datetime is midnight UTC,
 *   a datetime converted to date keeps its UTC date; epoch milliseconds convert to both;
 * - compound values (address, location) become JSON text when converted to a text type.
 */

const TYPE_ALIASES: Readonly<Record<string, FieldType>> = {
  id: 'id', reference: 'reference', string: 'string', text: 'string', varchar: 'string', textarea: 'textarea',
  picklist: 'picklist', multipicklist: 'multipicklist', combobox: 'combobox', phone: 'phone', url: 'url',
  email: 'email', encryptedstring: 'encryptedstring', boolean: 'boolean', bool: 'boolean', checkbox: 'boolean',
  int: 'int', integer: 'int', long: 'long', bigint: 'long', double: 'double', float: 'double', number: 'double',
  decimal: 'double', currency: 'currency', percent: 'percent', date: 'date', datetime: 'datetime',
  timestamp: 'datetime', time: 'time', base64: 'base64', address: 'address', location: 'location',
  anytype: 'anyType', complexvalue: 'complexvalue',
};

/** The FieldType names accepted in DATA_TYPE / SOURCE_DATA_TYPE / DESTINATION_DATA_TYPE (case-insensitive, with aliases). */
export const DATA_TYPE_NAMES: readonly string[] = Object.keys(TYPE_ALIASES);

export function parseDataType(name: string): FieldType | undefined {
  const key = name.trim().toLowerCase();
  // Own keys only: "constructor" or "__proto__" is not a data type.
  return Object.prototype.hasOwnProperty.call(TYPE_ALIASES, key) ? TYPE_ALIASES[key] : undefined;
}

export type TypeFamily = 'text' | 'integer' | 'number' | 'boolean' | 'date' | 'datetime' | 'time' | 'compound';

export function typeFamily(type: FieldType): TypeFamily {
  switch (type) {
    case 'int': case 'long': return 'integer';
    case 'double': case 'currency': case 'percent': return 'number';
    case 'boolean': return 'boolean';
    case 'date': return 'date';
    case 'datetime': return 'datetime';
    case 'time': return 'time';
    case 'address': case 'location': case 'complexvalue': return 'compound';
    default: return 'text';
  }
}

const NUMERIC_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A number from a number or numeric text; undefined for anything else (null, "", "12abc", NaN, booleans). */
export function toNumber(value: FieldValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') {
    const s = value.trim();
    if (!NUMERIC_TEXT.test(s)) return undefined;
    const n = Number(s);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Removes binary floating-point noise (0.1 + 0.2 -> 0.3) by keeping 15 significant digits. */
export function clean(n: number): number {
  if (!Number.isFinite(n) || Number.isInteger(n)) return n;
  return Number(n.toPrecision(15));
}

export function toText(value: FieldValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return JSON.stringify(value);
}

function toBoolean(value: FieldValue): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    if (s === 'true' || s === '1' || s === 'yes') return true;
    if (s === 'false' || s === '0' || s === 'no') return false;
  }
  return null;
}

/**
 * ISO-8601 date or datetime text: `YYYY-MM-DD`, optionally `T` or a space and `HH:mm[:ss[.fraction]]`, then
 * `Z`, `±HH:mm`, `±HHmm` (Salesforce REST) or `±HH`, or nothing, which means UTC (never the machine's zone).
 */
const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Epoch milliseconds from ISO text; undefined when a part is out of range (2024-02-30, 25:00). */
function parseIso(s: string): number | undefined {
  const m = ISO_DATETIME.exec(s);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '0').slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const local = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  if (new Date(local).getUTCDate() !== day) return undefined; // 2024-02-30 would roll over to March
  const zone = m[8];
  if (zone === undefined || zone.toUpperCase() === 'Z') return local;
  const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!z) return undefined;
  const offset = (Number(z[2]) * 60 + Number(z[3] ?? 0)) * (z[1] === '-' ? -1 : 1);
  if (Number(z[2]) > 14 || Number(z[3] ?? 0) > 59) return undefined;
  return local - offset * 60_000;
}

/**
 * Epoch milliseconds from a datetime or date value: epoch ms (a number or digits), or ISO-8601 text as
 * parseIso reads it (Salesforce's `+0000` form included; no zone means UTC). Anything else (`March 7`,
 * `16/04/2024`, impossible dates) is undefined, never a guess.
 */
export function toEpochMillis(value: FieldValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const s = value.trim();
  if (s === '') return undefined;
  if (/^-?\d+$/.test(s)) return Number(s);
  return parseIso(s);
}

function toDatetime(value: FieldValue): string | null {
  const ms = toEpochMillis(value);
  return ms === undefined ? null : new Date(ms).toISOString();
}

function toDate(value: FieldValue): string | null {
  const ms = toEpochMillis(value);
  return ms === undefined ? null : new Date(ms).toISOString().slice(0, 10);
}

function toTime(value: FieldValue): string | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?Z?$/i.exec(value.trim());
  if (!m) {
    const ms = toEpochMillis(value);
    return ms === undefined ? null : new Date(ms).toISOString().slice(11);
  }
  if (Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59) return null;
  return `${m[1]}:${m[2]}:${m[3] ?? '00'}.${(m[4] ?? '0').slice(0, 3).padEnd(3, '0')}Z`;
}

function toCompound(value: FieldValue): FieldValue {
  if (value !== null && typeof value === 'object') return value;
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as { [key: string]: ScalarValue };
    } catch {
      return null;
    }
  }
  return null;
}

/** Converts one value to the given destination type (see the module comment for the rules). */
export function convertValue(value: FieldValue | undefined, to: FieldType): FieldValue {
  if (value === null || value === undefined) return null;
  const family = typeFamily(to);
  if (family === 'text') return toText(value);
  if (value === '') return null;
  switch (family) {
    case 'integer': {
      if (typeof value === 'boolean') return value ? 1 : 0;
      const n = toNumber(value);
      if (n === undefined) return null;
      const whole = Math.trunc(n) + 0;
      // Out of the type's range (int: 32 bits, long: 64 bits) is "cannot be converted": null.
      const limit = to === 'int' ? 2 ** 31 : 2 ** 63;
      return whole >= limit || whole < -limit ? null : whole;
    }
    case 'number': {
      if (typeof value === 'boolean') return value ? 1 : 0;
      const n = toNumber(value);
      return n === undefined ? null : n;
    }
    case 'boolean': return toBoolean(value);
    case 'datetime': return toDatetime(value);
    case 'date': return toDate(value);
    case 'time': return toTime(value);
    case 'compound': return toCompound(value);
  }
}

/** A converter for one destination type, or the identity when there is none. */
export function converterFor(to: FieldType | undefined): (value: FieldValue | undefined) => FieldValue {
  if (to === undefined) return (v) => (v === undefined ? null : v);
  return (v) => convertValue(v, to);
}

/** Length in Unicode code points (what Mask and Truncate count), never splitting a surrogate pair. */
export function codePoints(s: string): string[] {
  return Array.from(s);
}
