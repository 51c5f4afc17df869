import type { CompoundValue, FieldType, FieldValue, ScalarValue } from '../core/types.ts';

/**
 * Per-API normalisation into the canonical record format (src/core/types.ts), so that a record read
 * through REST and the same record read through Bulk API 2.0 are identical:
 * - REST datetimes `…+0000` and Bulk datetimes `…Z` both become `YYYY-MM-DDTHH:mm:ss.SSSZ`;
 * - Bulk's Java-style doubles (`100.0`, `9.12260031E8`) and REST's JSON numbers both become JS numbers;
 * - Bulk's empty cells and REST's nulls both become null (Salesforce stores no empty strings);
 * - compound fields: REST returns them, Bulk rejects them, so on Bulk we read the components and
 *   rebuild the same object here (AppFlow drops them; we do not);
 * - base64 fields become a reference (the REST URL of the blob), never inlined.
 */
export interface NormalizeField {
  readonly name: string;
  readonly type: FieldType;
  readonly compoundFieldName?: string | null;
}

const ADDRESS_ORDER = ['city', 'country', 'countryCode', 'geocodeAccuracy', 'latitude', 'longitude', 'postalCode', 'state', 'stateCode', 'street'] as const;
/** Looked up by the end of a describe field name: a Map, so that no name finds Object.prototype's properties. */
const ADDRESS_SUFFIX: ReadonlyMap<string, string> = new Map([
  ['City', 'city'], ['Country', 'country'], ['CountryCode', 'countryCode'], ['GeocodeAccuracy', 'geocodeAccuracy'], ['Latitude', 'latitude'],
  ['Longitude', 'longitude'], ['PostalCode', 'postalCode'], ['State', 'state'], ['StateCode', 'stateCode'], ['Street', 'street'],
]);

/** Canonical datetime from any ISO-8601 form Salesforce emits. */
export function canonicalDatetime(value: string): string {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value)) return value;
  const d = new Date(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

function canonicalTime(value: string): string {
  const m = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?$/.exec(value);
  if (!m) return value;
  return `${m[1]}:${m[2]}:${m[3] ?? '00'}.${(m[4] ?? '0').padEnd(3, '0')}Z`;
}

function isNumericType(t: FieldType): boolean {
  return t === 'int' || t === 'long' || t === 'double' || t === 'currency' || t === 'percent';
}

/** A value from REST JSON (query or retrieve) to the canonical form. */
export function fromRest(field: NormalizeField, value: unknown): FieldValue {
  // '' is null too: Salesforce keeps no empty text (a Bulk cell cannot tell them apart), so an org or proxy that
  // hands back '' must not make REST records differ from Bulk ones (and Number('') would read as 0).
  if (value === null || value === undefined || value === '') return null;
  switch (field.type) {
    case 'datetime':
      return typeof value === 'string' ? canonicalDatetime(value) : null;
    case 'time':
      return typeof value === 'string' ? canonicalTime(value) : null;
    case 'boolean':
      return value === true || value === 'true';
    case 'address':
    case 'location':
      return typeof value === 'object' ? canonicalCompound(field.type, value as Record<string, unknown>) : null;
    default:
      if (isNumericType(field.type)) return typeof value === 'number' ? value : Number(value);
      return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
  }
}

/** A cell from a Bulk API 2.0 query result CSV to the canonical form. */
export function fromBulk(field: NormalizeField, cell: string | undefined): ScalarValue {
  if (cell === undefined || cell === '') return null;
  switch (field.type) {
    case 'datetime':
      return canonicalDatetime(cell);
    case 'time':
      return canonicalTime(cell);
    case 'boolean':
      return cell === 'true';
    default:
      if (isNumericType(field.type)) {
        const n = Number(cell);
        return Number.isFinite(n) ? n : null;
      }
      return cell;
  }
}

function compoundScalar(key: string, v: unknown): ScalarValue {
  if (v === null || v === undefined || v === '') return null;
  if (key === 'latitude' || key === 'longitude') return typeof v === 'number' ? v : Number(v);
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
}

/** A compound value in canonical key order; null when every component is null. */
export function canonicalCompound(type: 'address' | 'location', value: Readonly<Record<string, unknown>>): CompoundValue | null {
  const out: Record<string, ScalarValue> = {};
  let any = false;
  const keys = type === 'location' ? (['latitude', 'longitude'] as const) : ADDRESS_ORDER;
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(value, k)) continue;
    const v = compoundScalar(k, value[k]);
    out[k] = v;
    if (v !== null) any = true;
  }
  return any ? out : null;
}

/** The key of a component inside its compound value (BillingCity → city, Loc__Latitude__s → latitude). */
export function componentKey(compound: NormalizeField, component: NormalizeField): string | undefined {
  if (compound.type === 'location') {
    if (/latitude/i.test(component.name)) return 'latitude';
    if (/longitude/i.test(component.name)) return 'longitude';
    return undefined;
  }
  const prefix = compound.name.replace(/Address$/, '');
  const suffix = component.name.startsWith(prefix) ? component.name.slice(prefix.length) : component.name;
  return ADDRESS_SUFFIX.get(suffix);
}

/** Build a compound value from canonical component values (the Bulk path). */
export function rebuildCompound(
  compound: NormalizeField,
  components: ReadonlyArray<{ readonly field: NormalizeField; readonly value: FieldValue }>,
): CompoundValue | null {
  const raw: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const c of components) {
    const k = componentKey(compound, c.field);
    if (k) raw[k] = c.value;
  }
  return canonicalCompound(compound.type === 'location' ? 'location' : 'address', raw);
}

/** The canonical reference for a base64 field: the REST URL of the blob (identical on both APIs). */
export function base64Reference(version: string, object: string, id: string, field: string): string {
  return `/services/data/v${version}/sobjects/${object}/${id}/${field}`;
}
