import { ForceflowError, isForceflowError } from '../../core/errors.ts';
import type { EntitySchema, FieldSchema, FieldType } from '../../core/types.ts';
import type { SalesforceClient } from './http.ts';

/** The part of a describe field the engine uses. */
export interface SfField {
  readonly name: string;
  readonly type: FieldType;
  readonly label: string;
  readonly nillable: boolean;
  readonly compoundFieldName: string | null;
  readonly filterable: boolean;
  readonly createable: boolean;
  readonly updateable: boolean;
  readonly externalId: boolean;
  readonly idLookup: boolean;
  readonly calculated: boolean;
  readonly defaultedOnCreate: boolean;
  readonly length: number;
  readonly referenceTo: readonly string[];
  /** Active picklist values (picklist, multipicklist, combobox); absent when describe gave none. */
  readonly picklistValues?: readonly string[];
  readonly deprecatedAndHidden?: boolean;
  /** describe's defaultValue as text (null when there is none). */
  readonly defaultValue?: string | null;
}

/** An object's describe, with case-insensitive lookups. */
export class SfObject {
  readonly name: string;
  readonly fields: readonly SfField[];
  private readonly byLower: Map<string, SfField>;

  constructor(name: string, fields: readonly SfField[]) {
    this.name = name;
    this.fields = fields;
    this.byLower = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  }

  field(name: string): SfField | undefined {
    return this.byLower.get(name.toLowerCase());
  }

  /** The field, or FIELD_NOT_FOUND naming the object and suggesting close names. */
  require(name: string, where: string): SfField {
    const f = this.field(name);
    if (f) return f;
    const lower = name.toLowerCase();
    const close = this.fields.filter((x) => x.name.toLowerCase().includes(lower.slice(0, 4)) || lower.includes(x.name.toLowerCase())).slice(0, 3).map((x) => x.name);
    throw new ForceflowError('FIELD_NOT_FOUND', `${where}: ${this.name} has no field "${name}".${close.length ? ` Did you mean ${close.join(', ')}?` : ''} Field names come from the object's describe.`, {
      details: { object: this.name, field: name },
    });
  }

  isCompound(f: SfField): boolean {
    return f.type === 'address' || f.type === 'location';
  }

  components(compound: SfField): readonly SfField[] {
    return this.fields.filter((f) => f.compoundFieldName === compound.name && f.name !== compound.name);
  }

  schema(fieldNames?: readonly string[]): EntitySchema {
    const fields = fieldNames ? fieldNames.map((n) => this.require(n, 'read')) : this.fields;
    return {
      entity: this.name,
      fields: fields.map((f): FieldSchema => ({ name: f.name, type: f.type, label: f.label, nillable: f.nillable, compoundFieldName: f.compoundFieldName })),
    };
  }
}

interface RawDescribe {
  readonly name: string;
  readonly fields: ReadonlyArray<Record<string, unknown>>;
}

/** GET …/sobjects/{object}/describe (once per run: the caller caches the result). */
export async function describeObject(client: SalesforceClient, object: string): Promise<SfObject> {
  let raw: RawDescribe;
  try {
    raw = await client.json<RawDescribe>({ method: 'GET', path: `/sobjects/${encodeURIComponent(object)}/describe`, call: `describe ${object}` });
  } catch (error) {
    if (isForceflowError(error) && (error.details as { errorCode?: string }).errorCode === 'NOT_FOUND') {
      throw new ForceflowError('OBJECT_NOT_FOUND', `Salesforce has no object "${object}" (describe answered NOT_FOUND). Check the flow's object name; custom objects end with __c.`, { details: { object } });
    }
    throw error;
  }
  const fields = raw.fields.map(
    (f): SfField => ({
      name: String(f['name']),
      type: String(f['type']) as FieldType,
      label: String(f['label'] ?? f['name']),
      nillable: f['nillable'] === true,
      compoundFieldName: typeof f['compoundFieldName'] === 'string' ? f['compoundFieldName'] : null,
      filterable: f['filterable'] === true,
      createable: f['createable'] === true,
      updateable: f['updateable'] === true,
      externalId: f['externalId'] === true,
      idLookup: f['idLookup'] === true,
      calculated: f['calculated'] === true,
      defaultedOnCreate: f['defaultedOnCreate'] === true,
      length: typeof f['length'] === 'number' ? f['length'] : 0,
      referenceTo: Array.isArray(f['referenceTo']) ? (f['referenceTo'] as string[]) : [],
      ...picklistOf(f['picklistValues']),
      deprecatedAndHidden: f['deprecatedAndHidden'] === true,
      defaultValue: f['defaultValue'] === null || f['defaultValue'] === undefined ? null : String(f['defaultValue']),
    }),
  );
  return new SfObject(raw.name, fields);
}

function picklistOf(raw: unknown): { picklistValues?: readonly string[] } {
  if (!Array.isArray(raw) || raw.length === 0) return {};
  const values = (raw as Array<Record<string, unknown>>).filter((v) => v['active'] !== false && typeof v['value'] === 'string').map((v) => v['value'] as string);
  return { picklistValues: values };
}

/** One entry of the org's sObject list (describe global). */
export interface SfGlobalEntry {
  readonly name: string;
  readonly label: string;
  readonly queryable: boolean;
  readonly createable: boolean;
  readonly custom: boolean;
}

/** GET …/sobjects: the org's objects, in Salesforce's order. */
export async function describeGlobal(client: SalesforceClient): Promise<SfGlobalEntry[]> {
  const raw = await client.json<{ sobjects?: ReadonlyArray<Record<string, unknown>> }>({ method: 'GET', path: '/sobjects', call: 'describe global' });
  return (raw.sobjects ?? [])
    .filter((o) => typeof o['name'] === 'string')
    .map((o) => ({
      name: o['name'] as string,
      label: typeof o['label'] === 'string' ? o['label'] : (o['name'] as string),
      queryable: o['queryable'] === true,
      createable: o['createable'] === true,
      custom: o['custom'] === true,
    }));
}
