import type { ChildRelationship, DescribeField, PicklistValue, SfFieldType, SObjectDescribe } from './schema.ts';

/**
 * Expands compact field specs into full describe field objects with the defaults a real org uses
 * (modelled on ../shared/reference/salesforce-samples/account-describe.json): byteLength = 3 × length
 * for text, soapType by type, precision/scale/digits, and the audit fields' createable/updateable/
 * nillable/defaultedOnCreate flags. Used by scripts/make-seed.ts to write fixtures/org/describe/*.json.
 */
export interface FieldSpec {
  readonly name: string;
  readonly type: SfFieldType;
  readonly label?: string;
  readonly length?: number;
  readonly precision?: number;
  readonly scale?: number;
  readonly digits?: number;
  /** nillable false (and, for createable fields, required on insert). */
  readonly required?: boolean;
  readonly unique?: boolean;
  readonly externalId?: boolean;
  readonly idLookup?: boolean;
  readonly caseSensitive?: boolean;
  readonly referenceTo?: readonly string[];
  readonly relationshipName?: string;
  readonly cascadeDelete?: boolean;
  readonly restrictedDelete?: boolean;
  readonly picklist?: readonly string[];
  /** Picklist value selected by default. */
  readonly picklistDefault?: string;
  readonly restrictedPicklist?: boolean;
  readonly defaultValue?: unknown;
  /** A formula: the field becomes calculated, read-only. */
  readonly formula?: string;
  readonly compoundFieldName?: string;
  readonly extraTypeInfo?: string | null;
  readonly nameField?: boolean;
  readonly htmlFormatted?: boolean;
  readonly displayLocationInDecimal?: boolean;
  readonly createable?: boolean;
  readonly updateable?: boolean;
  readonly defaultedOnCreate?: boolean;
  readonly nillable?: boolean;
  readonly filterable?: boolean;
  readonly sortable?: boolean;
  readonly groupable?: boolean;
  readonly aggregatable?: boolean;
  readonly permissionable?: boolean;
  readonly custom?: boolean;
  readonly inlineHelpText?: string;
}

const SOAP_TYPES: Record<SfFieldType, string> = {
  id: 'tns:ID',
  reference: 'tns:ID',
  string: 'xsd:string',
  textarea: 'xsd:string',
  picklist: 'xsd:string',
  multipicklist: 'xsd:string',
  combobox: 'xsd:string',
  phone: 'xsd:string',
  url: 'xsd:string',
  email: 'xsd:string',
  encryptedstring: 'xsd:string',
  boolean: 'xsd:boolean',
  int: 'xsd:int',
  long: 'xsd:long',
  double: 'xsd:double',
  currency: 'xsd:double',
  percent: 'xsd:double',
  date: 'xsd:date',
  datetime: 'xsd:dateTime',
  time: 'xsd:time',
  base64: 'xsd:base64Binary',
  address: 'urn:address',
  location: 'urn:location',
  anyType: 'xsd:anyType',
  complexvalue: 'urn:JsonNode',
};

const TEXT_TYPES = new Set<SfFieldType>(['string', 'textarea', 'picklist', 'multipicklist', 'combobox', 'phone', 'url', 'email', 'encryptedstring']);
const DEFAULT_LENGTH: Partial<Record<SfFieldType, number>> = {
  id: 18,
  reference: 18,
  string: 255,
  textarea: 255,
  picklist: 255,
  multipicklist: 4099,
  combobox: 255,
  phone: 40,
  url: 255,
  email: 80,
  encryptedstring: 175,
};

export function soapTypeOf(type: SfFieldType): string {
  return SOAP_TYPES[type];
}

/** "Billing_Email__c" → "Billing Email"; "LastModifiedById" → "Last Modified By ID". */
export function labelFromName(name: string): string {
  const base = name.replace(/__(c|s)$/, '').replace(/_/g, ' ');
  const spaced = base.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z])([A-Z][a-z])/g, '$1 $2');
  return spaced.replace(/ Id$/, ' ID');
}

export function picklistValues(values: readonly string[], defaultValue?: string): PicklistValue[] {
  return values.map((v) => ({ active: true, defaultValue: v === defaultValue, label: v, validFor: null, value: v }));
}

/** A full describe field object from a compact spec. Key order matches a real org's (alphabetical). */
export function buildField(spec: FieldSpec): DescribeField {
  const t = spec.type;
  const text = TEXT_TYPES.has(t);
  const isCompound = t === 'address' || t === 'location';
  const longText = t === 'textarea' && (spec.length ?? 255) > 255;
  const calculated = spec.formula !== undefined;
  const custom = spec.custom ?? /__(c|s)$/.test(spec.name);
  const length = text || t === 'id' || t === 'reference' ? (spec.length ?? DEFAULT_LENGTH[t] ?? 0) : 0;
  const byteLength = t === 'id' || t === 'reference' ? 18 : text ? length * 3 : 0;
  const numeric = t === 'double' || t === 'currency' || t === 'percent';
  const nillable = spec.nillable ?? (t === 'boolean' || t === 'id' ? false : !spec.required);
  const createable = spec.createable ?? (!calculated && !isCompound && t !== 'id');
  const updateable = spec.updateable ?? createable;
  const filterable = spec.filterable ?? (!longText && t !== 'base64');
  const sortable = spec.sortable ?? !(longText || t === 'multipicklist' || isCompound || t === 'base64');
  const groupable = spec.groupable ?? !(longText || numeric || t === 'datetime' || t === 'multipicklist' || isCompound || t === 'time' || t === 'base64');
  const aggregatable = spec.aggregatable ?? !(longText || t === 'boolean' || t === 'multipicklist' || isCompound || t === 'base64');
  const extraTypeInfo =
    spec.extraTypeInfo !== undefined ? spec.extraTypeInfo : t === 'textarea' ? (spec.htmlFormatted ? 'richtextarea' : 'plaintextarea') : null;
  const defaultValue = spec.defaultValue !== undefined ? spec.defaultValue : t === 'boolean' ? false : null;
  const defaultedOnCreate = spec.defaultedOnCreate ?? (t === 'boolean' || t === 'id' || spec.picklistDefault !== undefined);
  const field: DescribeField = {
    aggregatable,
    aiPredictionField: false,
    autoNumber: false,
    byteLength,
    calculated,
    calculatedFormula: spec.formula ?? null,
    cascadeDelete: spec.cascadeDelete ?? false,
    caseSensitive: spec.caseSensitive ?? false,
    compoundFieldName: spec.compoundFieldName ?? null,
    controllerName: null,
    createable,
    custom,
    defaultValue,
    defaultValueFormula: null,
    defaultedOnCreate,
    dependentPicklist: false,
    deprecatedAndHidden: false,
    digits: t === 'int' || t === 'long' ? (spec.digits ?? 9) : 0,
    displayLocationInDecimal: spec.displayLocationInDecimal ?? false,
    encrypted: false,
    externalId: spec.externalId ?? false,
    extraTypeInfo,
    filterable,
    filteredLookupInfo: null,
    formulaTreatNullNumberAsZero: false,
    groupable,
    highScaleNumber: false,
    htmlFormatted: spec.htmlFormatted ?? false,
    idLookup: spec.idLookup ?? (t === 'id' || spec.externalId === true),
    inlineHelpText: spec.inlineHelpText ?? null,
    label: spec.label ?? labelFromName(spec.name),
    length,
    mask: null,
    maskType: null,
    name: spec.name,
    nameField: spec.nameField ?? false,
    namePointing: (spec.referenceTo?.length ?? 0) > 1,
    nillable,
    permissionable: spec.permissionable ?? (nillable && t !== 'id' && createable !== false ? true : calculated),
    picklistValues: spec.picklist ? picklistValues(spec.picklist, spec.picklistDefault) : [],
    polymorphicForeignKey: (spec.referenceTo?.length ?? 0) > 1,
    precision: numeric ? (spec.precision ?? 18) : 0,
    queryByDistance: isCompound,
    referenceTargetField: null,
    referenceTo: spec.referenceTo ?? [],
    relationshipName: spec.relationshipName ?? null,
    relationshipOrder: null,
    restrictedDelete: spec.restrictedDelete ?? false,
    restrictedPicklist: spec.restrictedPicklist ?? false,
    scale: numeric ? (spec.scale ?? 0) : 0,
    searchPrefilterable: false,
    soapType: SOAP_TYPES[t],
    sortable,
    type: t,
    unique: spec.unique ?? false,
    updateable,
    writeRequiresMasterRead: false,
  };
  return field;
}

/** The audit/system fields (Id, IsDeleted, CreatedDate, ...) with a real org's flags. */
export const sys = {
  id: (label: string): FieldSpec => ({ name: 'Id', type: 'id', label, createable: false, updateable: false, defaultedOnCreate: true, permissionable: false }),
  isDeleted: (): FieldSpec => ({ name: 'IsDeleted', type: 'boolean', label: 'Deleted', createable: false, updateable: false, aggregatable: false, permissionable: false }),
  owner: (referenceTo: readonly string[] = ['User']): FieldSpec => ({
    name: 'OwnerId',
    type: 'reference',
    label: 'Owner ID',
    referenceTo,
    relationshipName: 'Owner',
    required: true,
    defaultedOnCreate: true,
    permissionable: false,
  }),
  audit: (): FieldSpec[] => [
    { name: 'CreatedDate', type: 'datetime', label: 'Created Date', createable: false, updateable: false, required: true, defaultedOnCreate: true, permissionable: false },
    { name: 'CreatedById', type: 'reference', label: 'Created By ID', referenceTo: ['User'], relationshipName: 'CreatedBy', createable: false, updateable: false, required: true, defaultedOnCreate: true, permissionable: false },
    { name: 'LastModifiedDate', type: 'datetime', label: 'Last Modified Date', createable: false, updateable: false, required: true, defaultedOnCreate: true, permissionable: false },
    { name: 'LastModifiedById', type: 'reference', label: 'Last Modified By ID', referenceTo: ['User'], relationshipName: 'LastModifiedBy', createable: false, updateable: false, required: true, defaultedOnCreate: true, permissionable: false },
    { name: 'SystemModstamp', type: 'datetime', label: 'System Modstamp', createable: false, updateable: false, required: true, defaultedOnCreate: true, permissionable: false },
  ],
  viewed: (): FieldSpec[] => [
    { name: 'LastViewedDate', type: 'datetime', label: 'Last Viewed Date', createable: false, updateable: false, permissionable: false },
    { name: 'LastReferencedDate', type: 'datetime', label: 'Last Referenced Date', createable: false, updateable: false, permissionable: false },
  ],
  lastActivity: (): FieldSpec => ({ name: 'LastActivityDate', type: 'date', label: 'Last Activity', createable: false, updateable: false, permissionable: false }),
};

/**
 * The components of a standard address: `Billing` → BillingStreet … BillingGeocodeAccuracy, BillingAddress,
 * each carrying compoundFieldName, as in a real org (State/Country as text: no state and country picklists).
 */
export function addressFields(prefix: string, labelPrefix: string, compoundName = `${prefix}Address`): FieldSpec[] {
  const l = labelPrefix ? `${labelPrefix} ` : '';
  const c = compoundName;
  return [
    { name: `${prefix}Street`, type: 'textarea', label: `${l}Street`, length: 255, compoundFieldName: c },
    { name: `${prefix}City`, type: 'string', label: `${l}City`, length: 40, compoundFieldName: c },
    { name: `${prefix}State`, type: 'string', label: `${l}State/Province`, length: 80, compoundFieldName: c },
    { name: `${prefix}PostalCode`, type: 'string', label: `${l}Zip/Postal Code`, length: 20, compoundFieldName: c },
    { name: `${prefix}Country`, type: 'string', label: `${l}Country`, length: 80, compoundFieldName: c },
    { name: `${prefix}Latitude`, type: 'double', label: `${l}Latitude`, precision: 18, scale: 15, compoundFieldName: c, groupable: false },
    { name: `${prefix}Longitude`, type: 'double', label: `${l}Longitude`, precision: 18, scale: 15, compoundFieldName: c, groupable: false },
    {
      name: `${prefix}GeocodeAccuracy`,
      type: 'picklist',
      label: `${l}Geocode Accuracy`,
      length: 40,
      compoundFieldName: c,
      picklist: ['Address', 'NearAddress', 'Block', 'Street', 'ExtendedZip', 'Zip', 'Neighborhood', 'City', 'County', 'State', 'Unknown'],
    },
    { name: c, type: 'address', label: `${l}Address`.trim(), filterable: true, permissionable: true },
  ];
}

/** A custom geolocation field `X__c` and its `X__Latitude__s` / `X__Longitude__s` components. */
export function geolocationFields(name: string, label: string, scale = 6): FieldSpec[] {
  const base = name.replace(/__c$/, '');
  return [
    { name: `${base}__Latitude__s`, type: 'double', label: `${label} (Latitude)`, precision: scale + 3, scale, compoundFieldName: name, custom: true },
    { name: `${base}__Longitude__s`, type: 'double', label: `${label} (Longitude)`, precision: scale + 3, scale, compoundFieldName: name, custom: true },
    { name, type: 'location', label, displayLocationInDecimal: true, filterable: true, permissionable: true, custom: true },
  ];
}

export interface ObjectSpec {
  readonly name: string;
  readonly label: string;
  readonly labelPlural: string;
  readonly keyPrefix: string;
  readonly fields: readonly FieldSpec[];
  /** Overrides of top-level describe flags (createable, deletable, ...). */
  readonly flags?: Readonly<Record<string, unknown>>;
}

/** The top-level keys of an object's describe, in a real org's order, with a standard object's defaults. */
export function buildDescribe(spec: ObjectSpec, childRelationships: readonly ChildRelationship[]): SObjectDescribe {
  const custom = spec.name.endsWith('__c');
  const plural = spec.labelPlural.toLowerCase();
  const hasOwner = spec.fields.some((f) => f.name === 'OwnerId');
  const base: Record<string, unknown> = {
    actionOverrides: [],
    activateable: false,
    childRelationships,
    compactLayoutable: true,
    createable: true,
    custom,
    customSetting: false,
    deepCloneable: false,
    defaultImplementation: null,
    deletable: true,
    deprecatedAndHidden: false,
    extendedBy: null,
    extendsInterfaces: null,
    feedEnabled: !custom,
    fields: spec.fields.map(buildField),
    hasSubtypes: false,
    implementedBy: null,
    implementsInterfaces: null,
    isInterface: false,
    isSubtype: false,
    keyPrefix: spec.keyPrefix,
    label: spec.label,
    labelPlural: spec.labelPlural,
    layoutable: true,
    listviewable: null,
    lookupLayoutable: null,
    mergeable: false,
    mruEnabled: true,
    name: spec.name,
    namedLayoutInfos: [],
    networkScopeFieldName: null,
    queryable: true,
    recordTypeInfos: [
      {
        active: true,
        available: true,
        defaultRecordTypeMapping: true,
        developerName: 'Master',
        master: true,
        name: 'Master',
        recordTypeId: '012000000000000AAA',
        urls: { layout: `/services/data/v{version}/sobjects/${spec.name}/describe/layouts/012000000000000AAA` },
      },
    ],
    replicateable: true,
    retrieveable: true,
    searchLayoutable: true,
    searchable: true,
    supportedScopes: hasOwner
      ? [
          { label: `All ${plural}`, name: 'everything' },
          { label: `My ${plural}`, name: 'mine' },
          { label: `My team's ${plural}`, name: 'team' },
        ]
      : [{ label: `All ${plural}`, name: 'everything' }],
    triggerable: true,
    undeletable: true,
    updateable: true,
    urls: {},
  };
  return { ...base, ...(spec.flags ?? {}) } as SObjectDescribe;
}

/** Child relationships of `parent` from the lookups of every object (Account → Contacts, Opportunities, Invoices__r). */
export function childRelationshipsOf(parent: string, describes: readonly { name: string; fields: readonly DescribeField[] }[]): ChildRelationship[] {
  const out: ChildRelationship[] = [];
  for (const d of describes) {
    for (const f of d.fields) {
      if (f.type !== 'reference' || !f.referenceTo.includes(parent)) continue;
      out.push({
        cascadeDelete: f.cascadeDelete,
        childSObject: d.name,
        deprecatedAndHidden: false,
        field: f.name,
        junctionIdListNames: [],
        junctionReferenceTo: [],
        relationshipName: childRelationshipName(d.name, f),
        restrictedDelete: f.restrictedDelete,
      });
    }
  }
  return out.sort((a, b) => a.childSObject.localeCompare(b.childSObject) || a.field.localeCompare(b.field));
}

/** The parent-to-child relationship name of a lookup, as real orgs name them. */
function childRelationshipName(child: string, f: DescribeField): string | null {
  const known: Record<string, string> = {
    'Account.ParentId': 'ChildAccounts',
    'Account.MasterRecordId': '',
    'Contact.AccountId': 'Contacts',
    'Contact.ReportsToId': '',
    'Contact.MasterRecordId': '',
    'Opportunity.AccountId': 'Opportunities',
    'Invoice__c.Account__c': 'Invoices__r',
    'Invoice_Line__c.Invoice__c': 'Invoice_Lines__r',
    'Lead.ConvertedAccountId': '',
    'Lead.ConvertedContactId': '',
    'Lead.ConvertedOpportunityId': '',
    'Lead.MasterRecordId': '',
    'User.ManagerId': 'ManagedUsers',
  };
  const k = known[`${child}.${f.name}`];
  if (k !== undefined) return k === '' ? null : k;
  // Audit and owner lookups to User have no parent-to-child relationship name.
  return null;
}
