import { randomUUID } from 'node:crypto';
import type { FieldType, FieldValue } from '../../core/types.ts';
import { looksLikeId, to18 } from '../../salesforce-wire/ids.ts';
import type { SfField } from './describe.ts';

/**
 * Canonical record values (src/core/types.ts) → what each Salesforce write API accepts.
 *
 * - REST (sObject Collections, JSON): strings for text-like fields, JSON numbers for int/long/double/currency/
 *   percent, JSON booleans, `YYYY-MM-DD` dates, ISO-8601 UTC datetimes with milliseconds, `HH:mm:ss.SSSZ` times,
 *   JSON null for null. A key absent from the record is absent from the JSON (the field is left alone).
 * - Bulk API 2.0 (CSV cells): the same forms as text; `#N/A` for null (an empty cell means "leave unchanged"
 *   on update, so it is used only for keys absent from the record). A valid numeric, date or datetime string is
 *   sent as given, so what Salesforce echoes in its results (and what the error file shows) is the input.
 *
 * The empty string is null for Salesforce (it stores no empty text), so `''` goes as null except to text fields
 * over REST, where `''` is what Salesforce expects and stores as null.
 *
 * A value that cannot become the field's type throws {@link ValueConversionError}; the writer fails that
 * record (errorCode {@link VALUE_NOT_CONVERTIBLE}) and goes on with the others.
 */
export const VALUE_NOT_CONVERTIBLE = 'VALUE_NOT_CONVERTIBLE';
/** Bulk API 2.0's "set this field to null". */
export const BULK_NULL = '#N/A';

export class ValueConversionError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'ValueConversionError';
    this.field = field;
  }
}

/**
 * A number sent in JSON as the digits given: a numeric string with more significant digits than a JavaScript
 * number keeps (over 15), e.g. `1234567890123456.78` for a currency(18, 2) field. Salesforce reads JSON numbers
 * as decimals, so the value is written exactly (JSON.stringify of a number would send `1234567890123456.8`).
 */
export class JsonNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  /** JSON.stringify writes a placeholder string, which {@link restJson} replaces by the digits. */
  toJSON(): string {
    return `${NUMBER_PLACEHOLDER}${this.text}`;
  }
}

/** A NUL and a random token: no value can pass for it (a constant, chosen once per process). */
const NUMBER_PLACEHOLDER = `\u0000${randomUUID()}:`;
const QUOTED_PLACEHOLDER = JSON.stringify(NUMBER_PLACEHOLDER).slice(1, -1);
const PLACEHOLDER_RE = new RegExp(`"${QUOTED_PLACEHOLDER.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}([-+.eE0-9]+)"`, 'g');

export type RestValue = string | number | boolean | null | JsonNumber;

const TEXT_TYPES: ReadonlySet<FieldType> = new Set<FieldType>([
  'id', 'reference', 'string', 'textarea', 'picklist', 'multipicklist', 'combobox', 'phone', 'url', 'email', 'encryptedstring', 'base64', 'anyType',
]);
const INT_TYPES: ReadonlySet<FieldType> = new Set<FieldType>(['int', 'long']);
const DECIMAL_TYPES: ReadonlySet<FieldType> = new Set<FieldType>(['double', 'currency', 'percent']);

const INT_RE = /^[+-]?\d+(?:\.0*)?$/;
const DECIMAL_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const CANONICAL_DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const PLAIN_INT_RE = /^[+-]?\d+$/;
const CANONICAL_TIME_RE = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/** `HH:mm:ss.SSSZ` within the day: a time {@link toTime} gives back unchanged. */
function isCanonicalTime(value: string): boolean {
  return value.length === 13 && CANONICAL_TIME_RE.test(value);
}
const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?Z?$/;

export function isTextType(type: FieldType): boolean {
  return TEXT_TYPES.has(type);
}

function show(value: FieldValue): string {
  const s = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function fail(field: SfField, value: FieldValue, expected: string): never {
  throw new ValueConversionError(field.name, `${field.name}: ${show(value)} cannot be written to a ${field.type} field (expected ${expected}).`);
}

const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A calendar date (proleptic Gregorian, as Date's); years below 100 are refused, as Date.UTC reads them as 19xx. */
function validDate(y: number, m: number, d: number): boolean {
  if (!(y >= 100 && y <= 275759 && m >= 1 && m <= 12 && d >= 1 && d <= (MONTH_DAYS[m - 1] as number))) return false;
  return m !== 2 || d < 29 || (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0));
}

/** An ISO-ish datetime string → `YYYY-MM-DDTHH:mm:ss.SSSZ` (no offset means UTC); undefined if invalid. */
function isoDatetime(text: string): string | undefined {
  const s = text.trim();
  if (!DATETIME_RE.test(s)) return undefined;
  const [y, m, d] = [Number(s.slice(0, 4)), Number(s.slice(5, 7)), Number(s.slice(8, 10))];
  if (!validDate(y, m, d)) return undefined;
  let t = s.replace(' ', 'T');
  if (t.length === 10) t += 'T00:00:00';
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(t)) t += 'Z';
  const ms = Date.parse(t.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function toBoolean(field: SfField, value: FieldValue): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && (value === 0 || value === 1)) return value === 1;
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
  }
  return fail(field, value, 'true or false');
}

function toInt(field: SfField, value: FieldValue): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && INT_RE.test(value.trim())) {
    const n = Number(value.trim());
    if (Number.isSafeInteger(Math.trunc(n))) return Math.trunc(n);
  }
  return fail(field, value, 'a whole number');
}

const DECIMAL_PARTS_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** A decimal string too precise for a JavaScript number, as a JSON number token; undefined if a number keeps it. */
function exactJsonNumber(text: string): JsonNumber | undefined {
  const m = DECIMAL_PARTS_RE.exec(text);
  if (!m) return undefined;
  const int = (m[2] ?? '').replace(/^0+/, '');
  const frac = m[3] ?? '';
  const significant = `${int}${frac}`.replace(/^0+/, '').replace(/0+$/, '');
  if (significant.length <= 15) return undefined;
  return new JsonNumber(`${m[1] === '-' ? '-' : ''}${int === '' ? '0' : int}${frac === '' ? '' : `.${frac}`}${m[4] === undefined ? '' : `e${m[4]}`}`);
}

/** JSON text of a request body in which {@link JsonNumber}s are written as their digits; the rest as JSON.stringify writes it. */
export function restJson(body: unknown): string {
  const text = JSON.stringify(body);
  return text.includes(QUOTED_PLACEHOLDER) ? text.replace(PLACEHOLDER_RE, '$1') : text;
}

function toDecimal(field: SfField, value: FieldValue): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && DECIMAL_RE.test(value.trim())) {
    const n = Number(value.trim());
    if (Number.isFinite(n)) return n;
  }
  return fail(field, value, 'a number');
}

function toDate(field: SfField, value: FieldValue): string {
  if (typeof value === 'string') {
    const s = value.trim();
    const m = DATE_RE.exec(s);
    if (m && validDate(Number(m[1]), Number(m[2]), Number(m[3]))) return s;
    const iso = isoDatetime(s);
    if (iso !== undefined) return iso.slice(0, 10);
  }
  return fail(field, value, 'a date YYYY-MM-DD');
}

function toDatetime(field: SfField, value: FieldValue): string {
  if (typeof value === 'string') {
    if (CANONICAL_DATETIME_RE.test(value) && Number.isFinite(Date.parse(value))) return value;
    const iso = isoDatetime(value);
    if (iso !== undefined) return iso;
  }
  return fail(field, value, 'an ISO-8601 datetime such as 2024-04-16T19:00:00.000Z');
}

function toTime(field: SfField, value: FieldValue): string {
  if (typeof value === 'string') {
    const m = TIME_RE.exec(value.trim());
    if (m && Number(m[1]) < 24 && Number(m[2]) < 60 && Number(m[3] ?? '0') < 60) {
      return `${m[1]}:${m[2]}:${m[3] ?? '00'}.${(m[4] ?? '').padEnd(3, '0')}Z`;
    }
  }
  return fail(field, value, 'a time HH:mm:ss.SSSZ');
}

function toText(field: SfField, value: FieldValue): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return fail(field, value, 'text');
}

function isEmpty(value: FieldValue | undefined): value is null | '' {
  return value === null || value === '';
}

/** A canonical value → the JSON value sObject Collections accept for the field. */
export function toRestValue(field: SfField, value: FieldValue): RestValue {
  if (value === null) return null;
  if (value === '') return TEXT_TYPES.has(field.type) ? '' : null;
  const t = field.type;
  if (TEXT_TYPES.has(t)) return toText(field, value);
  if (t === 'boolean') return toBoolean(field, value);
  if (INT_TYPES.has(t)) return toInt(field, value);
  if (DECIMAL_TYPES.has(t)) {
    const n = toDecimal(field, value);
    return (typeof value === 'string' ? exactJsonNumber(value.trim()) : undefined) ?? n;
  }
  if (t === 'date') return toDate(field, value);
  if (t === 'datetime') return toDatetime(field, value);
  if (t === 'time') return toTime(field, value);
  return fail(field, value, 'a value of a writable field type');
}

/** A canonical value → the CSV cell text Bulk API 2.0 accepts for the field (unquoted; salesforce-wire/bulk-csv.ts's ingestCell quotes it). */
export function toBulkValue(field: SfField, value: FieldValue | undefined): string {
  if (value === undefined) return '';
  if (isEmpty(value)) return BULK_NULL;
  const t = field.type;
  if (TEXT_TYPES.has(t)) return toText(field, value);
  if (t === 'boolean') return toBoolean(field, value) ? 'true' : 'false';
  if (typeof value === 'string') {
    // The common cases of text input, each exactly what the general path below gives for it.
    if (INT_TYPES.has(t)) {
      const s = value.trim();
      if (PLAIN_INT_RE.test(s) && Number.isSafeInteger(Number(s))) return s;
    } else if (DECIMAL_TYPES.has(t)) {
      const s = value.trim();
      if (DECIMAL_RE.test(s) && Number.isFinite(Number(s))) return s;
    } else if (t === 'time' && isCanonicalTime(value)) return value;
  }
  if (INT_TYPES.has(t)) {
    const n = toInt(field, value);
    return typeof value === 'string' && PLAIN_INT_RE.test(value.trim()) ? value.trim() : String(n);
  }
  if (DECIMAL_TYPES.has(t)) {
    const n = toDecimal(field, value);
    return typeof value === 'string' ? value.trim() : String(n);
  }
  if (t === 'date') return toDate(field, value);
  if (t === 'datetime') return toDatetime(field, value);
  if (t === 'time') return toTime(field, value);
  return fail(field, value, 'a value of a writable field type');
}

/** A 15- or 18-character record id in its 18-character form (other text unchanged). */
export function id18(id: string): string {
  return looksLikeId(id) ? to18(id) : id;
}

/**
 * A Bulk CSV cell as it takes part in matching result rows to the rows sent (reconcile.ts): Salesforce echoes
 * the uploaded values, but may re-serialise numbers (`912260031` → `9.12260031E8`), dates and booleans, may
 * give ids in 18 characters, may echo `#N/A` as empty, may trim text or reorder a multipicklist's values.
 * This folds each of those to one form per type.
 */
export function matchForm(type: FieldType, cell: string): string {
  if (cell === '' || cell === BULK_NULL) return '';
  if (type === 'id' || type === 'reference') return id18(cell);
  if (type === 'multipicklist') return cell.split(';').map(matchText).filter((v) => v !== '').sort().join(';');
  if (TEXT_TYPES.has(type)) return matchText(cell);
  if (INT_TYPES.has(type) || DECIMAL_TYPES.has(type)) {
    const n = Number(cell);
    return Number.isFinite(n) ? String(n) : cell;
  }
  if (type === 'boolean') {
    const s = cell.toLowerCase();
    return s === '1' || s === 'true' ? 'true' : s === '0' || s === 'false' ? 'false' : cell;
  }
  if (type === 'datetime') {
    const iso = isoDatetime(cell);
    return iso ?? cell;
  }
  if (type === 'date') return cell.slice(0, 10);
  if (type === 'time') {
    const m = TIME_RE.exec(cell.trim());
    return m ? `${m[1]}:${m[2]}:${m[3] ?? '00'}.${(m[4] ?? '').padEnd(3, '0')}` : cell;
  }
  return cell;
}

/**
 * Text as it takes part in matching: Salesforce trims text values, may store line breaks as LF and may
 * echo another Unicode normal form. Two rows sent that differ only so match the same results; they are
 * (almost) the same record, and each still takes exactly one outcome.
 */
function matchText(cell: string): string {
  let s = cell.indexOf('\r') >= 0 ? cell.replace(/\r\n?/g, '\n') : cell;
  // eslint-disable-next-line no-control-regex
  if (/[^\u0000-\u007f]/.test(s)) s = s.normalize('NFC');
  return s.trim();
}
