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
 * - numbers to int/long truncate toward zero; text to number accepts decimal and exponent notation only;
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
  return TYPE_ALIASES[name.trim().toLowerCase()];
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

/** Epoch milliseconds from a datetime or date value (ISO text, Salesforce's +0000 form, epoch ms numbers). */
export function toEpochMillis(value: FieldValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  let s = value.trim();
  if (s === '') return undefined;
  if (/^-?\d+$/.test(s)) return Number(s);
  // Salesforce REST prints 2024-04-16T19:00:00.000+0000; Date.parse wants +00:00.
  s = s.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00Z';
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms;
}

function toDatetime(value: FieldValue): string | null {
  const ms = toEpochMillis(value);
  return ms === undefined ? null : new Date(ms).toISOString();
}

function toDate(value: FieldValue): string | null {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value.trim())) return value.trim();
  const ms = toEpochMillis(value);
  return ms === undefined ? null : new Date(ms).toISOString().slice(0, 10);
}

function toTime(value: FieldValue): string | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?$/.exec(value.trim());
  if (!m) {
    const ms = toEpochMillis(value);
    return ms === undefined ? null : new Date(ms).toISOString().slice(11);
  }
  return `${m[1]}:${m[2]}:${m[3] ?? '00'}.${(m[4] ?? '0').padEnd(3, '0')}Z`;
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
      return n === undefined ? null : Math.trunc(n) + 0;
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
