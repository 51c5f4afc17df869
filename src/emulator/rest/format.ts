import type { DescribeField, ObjectSchema } from '../org/schema.ts';
import type { StoredRecord, StoredValue } from '../org/store.ts';

/**
 * Values as Salesforce writes them in REST JSON: datetimes `2024-04-16T19:00:00.000+0000` (offset, not Z),
 * dates `2024-04-16`, times `13:00:00.000Z`, numbers and booleans native, null as null.
 */
export function restValue(field: DescribeField, value: StoredValue): StoredValue {
  if (value === null) return null;
  if (field.type === 'datetime' && typeof value === 'string') return value.replace(/Z$/, '+0000');
  return value;
}

/** The REST JSON value of a compound field (address or location) built from its components. */
export function compoundValue(schema: ObjectSchema, compound: DescribeField, record: StoredRecord): Record<string, StoredValue> | null {
  const comps = schema.compoundComponents(compound.name);
  const out: Record<string, StoredValue> = {};
  let any = false;
  if (compound.type === 'location') {
    // Geolocation: Loc__c → Loc__Latitude__s / Loc__Longitude__s; standard: XLatitude / XLongitude.
    for (const c of comps) {
      const key = /latitude/i.test(c.name) ? 'latitude' : /longitude/i.test(c.name) ? 'longitude' : undefined;
      if (!key) continue;
      const v = record[c.name] ?? null;
      out[key] = v;
      if (v !== null) any = true;
    }
    return any ? out : null;
  }
  // Address: keys in Salesforce's order.
  const prefix = compound.name.replace(/Address$/, '');
  const keyOf = (c: DescribeField): string | undefined => {
    const rest = c.name.startsWith(prefix) ? c.name.slice(prefix.length) : c.name;
    const map: Record<string, string> = {
      City: 'city', Country: 'country', CountryCode: 'countryCode', GeocodeAccuracy: 'geocodeAccuracy', Latitude: 'latitude',
      Longitude: 'longitude', PostalCode: 'postalCode', State: 'state', StateCode: 'stateCode', Street: 'street',
    };
    return map[rest];
  };
  const order = ['city', 'country', 'countryCode', 'geocodeAccuracy', 'latitude', 'longitude', 'postalCode', 'state', 'stateCode', 'street'];
  const values = new Map<string, StoredValue>();
  for (const c of comps) {
    const k = keyOf(c);
    if (!k) continue;
    const v = record[c.name] ?? null;
    values.set(k, v);
    if (v !== null) any = true;
  }
  if (!any) return null;
  for (const k of order) if (values.has(k)) out[k] = values.get(k) ?? null;
  return out;
}

/** The `attributes` object of a record in REST JSON. */
export function attributes(objectName: string, id: StoredValue, version: string): { type: string; url: string } {
  return { type: objectName, url: `/services/data/v${version}/sobjects/${objectName}/${String(id)}` };
}

/**
 * A whole record as REST JSON (single-record GET and SOQL rows): `attributes` first, then the
 * requested fields in the order given, canonical names, compound fields built from components.
 */
export function recordJson(
  schema: ObjectSchema,
  record: StoredRecord,
  fields: readonly DescribeField[],
  version: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: attributes(schema.name, record['Id'] ?? null, version) };
  for (const f of fields) {
    out[f.name] = schema.isCompound(f) ? compoundValue(schema, f, record) : restValue(f, record[f.name] ?? null);
  }
  return out;
}
