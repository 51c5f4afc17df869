import type { DescribeField, ObjectSchema } from './schema.ts';
import type { StoredValue } from './store.ts';

/**
 * Field-level coercion and validation for writes, following describe (see ./dml.ts for the engine).
 * Two input encodings share the rules below:
 * - `json`: REST JSON values (typed). A value of the wrong JSON type is a whole-request JSON_PARSER_ERROR
 *   ({@link JsonTypeError}); a string that is not a valid date/datetime/time is a per-record
 *   INVALID_TYPE_ON_FIELD_IN_RECORD.
 * - `csv`: strings as uploaded in a Bulk API 2.0 CSV. A value that does not parse is a per-row
 *   `INVALID_FIELD` "Failed to deserialize field at col N. Due to, 'x' is not a valid value for the type xsd:T".
 * Coerced values use the store's representation (see ./store.ts).
 */

/** One error of a record, as Salesforce reports it per item (`statusCode`, message, fields). */
export interface WriteError {
  readonly statusCode: string;
  readonly message: string;
  readonly fields: string[];
}

export function writeError(statusCode: string, message: string, fields: readonly string[] = []): WriteError {
  return { statusCode, message, fields: [...fields] };
}

/** A JSON value whose type the field cannot take: Salesforce fails the whole request (JSON_PARSER_ERROR 400). */
export class JsonTypeError extends Error {
  readonly fieldName: string;
  readonly targetType: string;
  readonly token: string;
  readonly valueText: string;
  /** The key as it was written in the request body. */
  readonly key: string;

  constructor(key: string, field: DescribeField, token: string, valueText: string) {
    const target = jacksonType(field);
    super(`Cannot deserialize instance of ${target} from ${token} value ${valueText} or request may be missing a required field`);
    this.key = key;
    this.fieldName = field.name;
    this.targetType = target;
    this.token = token;
    this.valueText = valueText;
  }
}

export type Coerced = { readonly ok: true; readonly value: StoredValue } | { readonly ok: false; readonly error: WriteError };

const TEXT_TYPES = new Set(['string', 'textarea', 'picklist', 'multipicklist', 'combobox', 'phone', 'url', 'email', 'encryptedstring', 'base64', 'anyType']);
const NUMBER_TYPES = new Set(['int', 'long', 'double', 'currency', 'percent']);

function jacksonType(field: DescribeField): string {
  switch (field.type) {
    case 'int':
      return 'int';
    case 'long':
      return 'long';
    case 'double':
    case 'currency':
    case 'percent':
      return 'double';
    case 'boolean':
      return 'boolean';
    case 'date':
      return 'date';
    case 'datetime':
      return 'datetime';
    case 'time':
      return 'time';
    default:
      return 'string';
  }
}

/** The XML schema type Bulk API names in its deserialisation errors. */
export function xsdType(field: DescribeField): string {
  if (field.soapType && field.soapType.startsWith('xsd:')) return field.soapType;
  switch (field.type) {
    case 'boolean':
      return 'xsd:boolean';
    case 'int':
      return 'xsd:int';
    case 'long':
      return 'xsd:long';
    case 'double':
    case 'currency':
    case 'percent':
      return 'xsd:double';
    case 'date':
      return 'xsd:date';
    case 'datetime':
      return 'xsd:dateTime';
    case 'time':
      return 'xsd:time';
    default:
      return 'xsd:string';
  }
}

function jsonToken(value: unknown): { token: string; text: string } {
  if (value === true) return { token: 'VALUE_TRUE', text: 'true' };
  if (value === false) return { token: 'VALUE_FALSE', text: 'false' };
  if (typeof value === 'string') return { token: 'VALUE_STRING', text: value };
  if (typeof value === 'number') return { token: Number.isInteger(value) ? 'VALUE_NUMBER_INT' : 'VALUE_NUMBER_FLOAT', text: String(value) };
  if (Array.isArray(value)) return { token: 'START_ARRAY', text: '[' };
  return { token: 'START_OBJECT', text: '{' };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The number of `len` ASCII digits at `at`, or -1. */
function digitsAt(text: string, at: number, len: number): number {
  let n = 0;
  for (let i = at; i < at + len; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Whether `yyyy-MM-dd` at the start of `text` is a real calendar date of a year from 1000 (-1 when not of that form). */
function canonicalDate(text: string): boolean | -1 {
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return -1;
  const y = digitsAt(text, 0, 4);
  const mo = digitsAt(text, 5, 2);
  const d = digitsAt(text, 8, 2);
  if (y < 1000 || mo < 0 || d < 0) return -1;
  if (mo < 1 || mo > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 ? (leap ? 29 : 28) : mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
  return d <= days;
}

/** `yyyy-MM-dd` → the same string when it is a real calendar date. */
export function parseDate(text: string, allowTrailingZ: boolean, allowTime: boolean): string | undefined {
  // Fast path (CSV cells by the million): exactly `yyyy-MM-dd`, a year from 1000; the general rules otherwise.
  if (text.length === 10) {
    const ok = canonicalDate(text);
    if (ok !== -1) return ok ? text : undefined;
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})(.*)$/.exec(text);
  if (!m) return undefined;
  const rest = m[4] ?? '';
  if (rest !== '' && !(allowTrailingZ && rest === 'Z') && !(allowTime && parseDateTime(text) !== undefined)) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return undefined;
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/**
 * `yyyy-MM-ddTHH:mm:ss(.SSS)(Z|±HH:mm|±HHmm)`, or a bare date (midnight UTC), → ISO UTC with milliseconds.
 * A value without a zone is taken as UTC.
 */
export function parseDateTime(text: string): string | undefined {
  // Fast path: already `yyyy-MM-ddTHH:mm:ss.SSSZ` (what ISO writers produce), a year from 1000: the text is its own
  // ISO form. Anything else takes the general rules below.
  if (text.length === 24 && text.charCodeAt(10) === 84 && text.charCodeAt(13) === 58 && text.charCodeAt(16) === 58 && text.charCodeAt(19) === 46 && text.charCodeAt(23) === 90) {
    const date = canonicalDate(text);
    const h = digitsAt(text, 11, 2);
    const mi = digitsAt(text, 14, 2);
    const sec = digitsAt(text, 17, 2);
    if (date !== -1 && h >= 0 && mi >= 0 && sec >= 0 && digitsAt(text, 20, 3) >= 0) {
      return date && h <= 23 && mi <= 59 && sec <= 59 ? text : undefined;
    }
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return undefined;
  let offsetMin = 0;
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const zm = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (!zm) return undefined;
    offsetMin = (zm[1] === '-' ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3] ?? 0));
  }
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms) - offsetMin * 60_000;
  const out = new Date(t);
  if (Number.isNaN(out.getTime())) return undefined;
  return out.toISOString();
}

/** `HH:mm(:ss(.SSS))(Z)` → `HH:mm:ss.SSSZ`. */
export function parseTime(text: string): string | undefined {
  // Fast path: already `HH:mm:ss.SSSZ`.
  if (text.length === 13 && text.charCodeAt(2) === 58 && text.charCodeAt(5) === 58 && text.charCodeAt(8) === 46 && text.charCodeAt(12) === 90) {
    const h = digitsAt(text, 0, 2);
    const mi = digitsAt(text, 3, 2);
    const sec = digitsAt(text, 6, 2);
    if (h >= 0 && mi >= 0 && sec >= 0 && digitsAt(text, 9, 3) >= 0) return h <= 23 && mi <= 59 && sec <= 59 ? text : undefined;
  }
  const m = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?$/.exec(text);
  if (!m) return undefined;
  const [h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (h > 23 || mi > 59 || s > 59) return undefined;
  return `${pad(h)}:${pad(mi)}:${pad(s)}.${(m[4] ?? '0').padEnd(3, '0')}Z`;
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function typeError(field: DescribeField, value: string): WriteError {
  return writeError('INVALID_TYPE_ON_FIELD_IN_RECORD', `${field.label}: value not of required type: ${value}`, [field.name]);
}

/**
 * A REST JSON value → the stored value. Throws {@link JsonTypeError} for a JSON type the field cannot take
 * (Salesforce's deserializer rejects the whole request); returns a per-record error for bad date strings.
 * `key` is the key as written in the body (for the error location).
 */
export function coerceJson(field: DescribeField, value: unknown, key: string): Coerced {
  if (value === null || value === undefined) return { ok: true, value: null };
  const fail = (): never => {
    const t = jsonToken(value);
    throw new JsonTypeError(key, field, t.token, t.text);
  };
  if (typeof value === 'object') return fail();
  if (TEXT_TYPES.has(field.type) || field.type === 'id' || field.type === 'reference') {
    // Salesforce keeps no empty strings: "" in a text, picklist or lookup field is stored (and read) as null.
    return { ok: true, value: value === '' ? null : String(value) };
  }
  if (field.type === 'boolean') {
    if (typeof value === 'boolean') return { ok: true, value };
    if (typeof value === 'string' && /^(true|false)$/i.test(value)) return { ok: true, value: value.toLowerCase() === 'true' };
    if (value === 0 || value === 1) return { ok: true, value: value === 1 };
    return fail();
  }
  if (NUMBER_TYPES.has(field.type)) {
    let n: number;
    if (typeof value === 'number') n = value;
    else if (typeof value === 'string' && value.trim() === '') return { ok: true, value: null };
    else if (typeof value === 'string' && NUMBER_RE.test(value.trim())) n = Number(value.trim());
    else return fail();
    if (!Number.isFinite(n)) return fail();
    if (field.type === 'int' || field.type === 'long') {
      n = Math.trunc(n);
      if (field.type === 'int' && (n > 2_147_483_647 || n < -2_147_483_648)) return fail();
    }
    return { ok: true, value: n };
  }
  if (field.type !== 'date' && field.type !== 'datetime' && field.type !== 'time') return { ok: true, value: typeof value === 'string' ? value : String(value) };
  if (typeof value !== 'string') return fail();
  if (field.type === 'date') {
    const d = parseDate(value, false, true);
    return d === undefined ? { ok: false, error: typeError(field, value) } : { ok: true, value: d };
  }
  if (field.type === 'datetime') {
    const d = parseDateTime(value);
    return d === undefined ? { ok: false, error: typeError(field, value) } : { ok: true, value: d };
  }
  const d = parseTime(value);
  return d === undefined ? { ok: false, error: typeError(field, value) } : { ok: true, value: d };
}

/**
 * A Bulk CSV string → the stored value. The caller handles `#N/A` (null) and empty strings.
 * `col` is the 0-based column index used in Salesforce's message.
 */
export function coerceCsv(field: DescribeField, raw: string, col: number): Coerced {
  const v = csvValue(field, raw, col);
  return v instanceof Rejected ? { ok: false, error: v.error } : { ok: true, value: v };
}

/** A value a check refused: what {@link csvValue} and {@link checkedValue} return instead of a value. */
export class Rejected {
  readonly error: WriteError;
  constructor(error: WriteError) {
    this.error = error;
  }
}

/** {@link coerceCsv} without a result object per cell (the Bulk path): the stored value, or {@link Rejected}. */
export function csvValue(field: DescribeField, raw: string, col: number): StoredValue | Rejected {
  switch (field.type) {
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      return csvTypeError(field, raw, col);
    }
    case 'int':
    case 'long':
    case 'double':
    case 'currency':
    case 'percent': {
      const v = raw.trim();
      if (!NUMBER_RE.test(v)) return csvTypeError(field, raw, col);
      const n = Number(v);
      if (!Number.isFinite(n)) return csvTypeError(field, raw, col);
      if ((field.type === 'int' || field.type === 'long') && !Number.isInteger(n)) return csvTypeError(field, raw, col);
      if (field.type === 'int' && (n > 2_147_483_647 || n < -2_147_483_648)) return csvTypeError(field, raw, col);
      return n;
    }
    case 'date': {
      const d = parseDate(raw.trim(), true, false);
      return d === undefined ? csvTypeError(field, raw, col) : d;
    }
    case 'datetime': {
      const d = parseDateTime(raw.trim());
      return d === undefined ? csvTypeError(field, raw, col) : d;
    }
    case 'time': {
      const d = parseTime(raw.trim());
      return d === undefined ? csvTypeError(field, raw, col) : d;
    }
    default:
      return raw;
  }
}

/** A CSV value that does not parse as its field's type (a function, not a closure per call: this is per cell). */
function csvTypeError(field: DescribeField, raw: string, col: number): Rejected {
  return new Rejected(
    writeError('INVALID_FIELD', `Failed to deserialize field at col ${col}. Due to, '${raw}' is not a valid value for the type ${xsdType(field)}`, [field.name]),
  );
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Round half away from zero to `scale` decimals. */
function roundTo(n: number, scale: number): number {
  const f = 10 ** scale;
  const r = Math.round(Math.abs(n) * f + 1e-9) / f;
  return n < 0 ? -r : r;
}

/** The values a restricted picklist takes (its active values); callers that check many rows compute it once. */
export function allowedPicklistValues(field: DescribeField): ReadonlySet<string> {
  return new Set(field.picklistValues.filter((p) => p.active).map((p) => p.value));
}

/** Number of code points of a string (what Salesforce's length limits count). */
function codePoints(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * Checks one coerced, non-null value against its field: text length (STRING_TOO_LONG), restricted picklists,
 * email format, numeric range (precision/scale). Returns the value to store (numbers rounded to scale).
 * `allowed`: the field's {@link allowedPicklistValues}, when the caller has them already.
 */
export function checkValue(field: DescribeField, value: StoredValue, allowed?: ReadonlySet<string>): Coerced {
  const v = checkedValue(field, value, allowed);
  return v instanceof Rejected ? { ok: false, error: v.error } : { ok: true, value: v };
}

/** {@link checkValue} without a result object per value: the value to store, or {@link Rejected}. */
export function checkedValue(field: DescribeField, value: StoredValue, allowed?: ReadonlySet<string>): StoredValue | Rejected {
  if (value === null) return value;
  if (typeof value === 'string' && TEXT_TYPES.has(field.type) && field.type !== 'anyType' && field.type !== 'base64') {
    // A string has at most as many code points as UTF-16 units: count them only when the units exceed the limit.
    if (field.length > 0 && value.length > field.length && codePoints(value) > field.length) {
      return new Rejected(writeError('STRING_TOO_LONG', `${field.label}: data value too large: ${value} (max length=${field.length})`, [field.name]));
    }
    if ((field.type === 'picklist' || field.type === 'multipicklist') && field.restrictedPicklist && field.picklistValues.length > 0) {
      const values = allowed ?? allowedPicklistValues(field);
      const badPart = field.type === 'multipicklist' ? value.split(';').find((p) => !values.has(p)) : values.has(value) ? undefined : value;
      if (badPart !== undefined) {
        return new Rejected(writeError('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${field.label}: bad value for restricted picklist field: ${badPart}`, [field.name]));
      }
    }
    if (field.type === 'email' && value !== '' && !EMAIL_RE.test(value)) {
      return new Rejected(writeError('INVALID_EMAIL_ADDRESS', `${field.label}: invalid email address: ${value}`, [field.name]));
    }
  }
  if (typeof value === 'number' && (field.type === 'double' || field.type === 'currency' || field.type === 'percent')) {
    const rounded = field.scale > 0 || field.precision > 0 ? roundTo(value, Math.max(0, field.scale)) : value;
    if (field.precision > 0) {
      const intDigits = Math.trunc(Math.abs(rounded)).toString().length;
      if (Math.trunc(Math.abs(rounded)) !== 0 && intDigits > field.precision - field.scale) {
        return new Rejected(writeError('NUMBER_OUTSIDE_VALID_RANGE', `${field.label}: value outside of valid range on numeric field: ${value}`, [field.name]));
      }
    }
    return rounded;
  }
  if (typeof value === 'number' && (field.type === 'int' || field.type === 'long') && field.digits > 0) {
    if (Math.abs(value).toString().length > field.digits) {
      return new Rejected(writeError('NUMBER_OUTSIDE_VALID_RANGE', `${field.label}: value outside of valid range on numeric field: ${value}`, [field.name]));
    }
  }
  return value;
}

/** Fields Salesforce requires on insert: not nillable, createable, not defaulted on create, not boolean. */
export function isRequiredOnCreate(field: DescribeField): boolean {
  return !field.nillable && field.createable && !field.defaultedOnCreate && field.type !== 'boolean' && !field.calculated && !field.autoNumber;
}

/** Fields that cannot be set to null by an update. */
export function isRequiredOnUpdate(field: DescribeField): boolean {
  return !field.nillable && field.updateable && field.type !== 'boolean' && !field.calculated;
}

/** Whether a field may be written by the operation (formula and auto-number fields never are). */
export function isWritable(field: DescribeField, mode: 'create' | 'update'): boolean {
  if (field.calculated || field.autoNumber || field.type === 'address' || field.type === 'location') return false;
  return mode === 'create' ? field.createable : field.updateable;
}

export function requiredMissingError(names: readonly string[]): WriteError {
  return writeError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${names.join(', ')}]`, names);
}

export function notWritableError(names: readonly string[]): WriteError {
  return writeError(
    'INVALID_FIELD_FOR_INSERT_UPDATE',
    `Unable to create/update fields: ${names.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
    names,
  );
}

export function noSuchColumnError(schema: ObjectSchema, column: string): WriteError {
  return writeError('INVALID_FIELD', `No such column '${column}' on sobject of type ${schema.name}`);
}

/**
 * The value a field takes on insert when the request gives none: the describe default, the default
 * picklist value, false for checkboxes; undefined when there is none.
 */
export function defaultOnCreate(field: DescribeField): StoredValue | undefined {
  if (field.calculated || field.autoNumber) return undefined;
  const dv = field.defaultValue;
  if (dv !== null && dv !== undefined) {
    if (field.type === 'boolean') return dv === true || dv === 'true';
    if (typeof dv === 'string' || typeof dv === 'number' || typeof dv === 'boolean') return dv;
  }
  if (field.type === 'picklist') {
    const p = field.picklistValues.find((v) => v.defaultValue && v.active);
    if (p) return p.value;
  }
  if (field.type === 'boolean') return false;
  return undefined;
}
