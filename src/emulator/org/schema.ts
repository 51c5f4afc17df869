/**
 * Object metadata as Salesforce's describe reports it. The emulator keeps full describe field objects
 * (every key a real org returns, modelled on ../shared/reference/salesforce-samples/account-describe.json)
 * and derives everything else (validation, SOQL, Bulk CSV) from them.
 */
import type { SalesforceFieldType } from '../../salesforce-wire/field-types.ts';

/** A describe field's `type` (src/salesforce-wire/field-types.ts). */
export type SfFieldType = SalesforceFieldType;

export interface PicklistValue {
  readonly active: boolean;
  readonly defaultValue: boolean;
  readonly label: string;
  readonly validFor: string | null;
  readonly value: string;
}

/** A describe field object, with all keys a real org returns. */
export interface DescribeField {
  readonly aggregatable: boolean;
  readonly aiPredictionField: boolean;
  readonly autoNumber: boolean;
  readonly byteLength: number;
  readonly calculated: boolean;
  readonly calculatedFormula: string | null;
  readonly cascadeDelete: boolean;
  readonly caseSensitive: boolean;
  readonly compoundFieldName: string | null;
  readonly controllerName: string | null;
  readonly createable: boolean;
  readonly custom: boolean;
  readonly defaultValue: unknown;
  readonly defaultValueFormula: string | null;
  readonly defaultedOnCreate: boolean;
  readonly dependentPicklist: boolean;
  readonly deprecatedAndHidden: boolean;
  readonly digits: number;
  readonly displayLocationInDecimal: boolean;
  readonly encrypted: boolean;
  readonly externalId: boolean;
  readonly extraTypeInfo: string | null;
  readonly filterable: boolean;
  readonly filteredLookupInfo: unknown;
  readonly formulaTreatNullNumberAsZero: boolean;
  readonly groupable: boolean;
  readonly highScaleNumber: boolean;
  readonly htmlFormatted: boolean;
  readonly idLookup: boolean;
  readonly inlineHelpText: string | null;
  readonly label: string;
  readonly length: number;
  readonly mask: string | null;
  readonly maskType: string | null;
  readonly name: string;
  readonly nameField: boolean;
  readonly namePointing: boolean;
  readonly nillable: boolean;
  readonly permissionable: boolean;
  readonly picklistValues: readonly PicklistValue[];
  readonly polymorphicForeignKey: boolean;
  readonly precision: number;
  readonly queryByDistance: boolean;
  readonly referenceTargetField: string | null;
  readonly referenceTo: readonly string[];
  readonly relationshipName: string | null;
  readonly relationshipOrder: number | null;
  readonly restrictedDelete: boolean;
  readonly restrictedPicklist: boolean;
  readonly scale: number;
  readonly searchPrefilterable: boolean;
  readonly soapType: string;
  readonly sortable: boolean;
  readonly type: SfFieldType;
  readonly unique: boolean;
  readonly updateable: boolean;
  readonly writeRequiresMasterRead: boolean;
  readonly [extra: string]: unknown;
}

export interface ChildRelationship {
  readonly cascadeDelete: boolean;
  readonly childSObject: string;
  readonly deprecatedAndHidden: boolean;
  readonly field: string;
  readonly junctionIdListNames: readonly string[];
  readonly junctionReferenceTo: readonly string[];
  readonly relationshipName: string | null;
  readonly restrictedDelete: boolean;
}

/** The describe of one object: its top-level keys (as a real org returns them) and its fields. */
export interface SObjectDescribe {
  readonly name: string;
  readonly label: string;
  readonly labelPlural: string;
  readonly keyPrefix: string;
  readonly custom: boolean;
  readonly createable: boolean;
  readonly updateable: boolean;
  readonly deletable: boolean;
  readonly queryable: boolean;
  readonly fields: readonly DescribeField[];
  readonly childRelationships: readonly ChildRelationship[];
  readonly [extra: string]: unknown;
}

/** Fast, case-insensitive access to an object's metadata. */
export class ObjectSchema {
  readonly describe: SObjectDescribe;
  readonly name: string;
  readonly keyPrefix: string;
  readonly fields: readonly DescribeField[];
  private readonly byName = new Map<string, DescribeField>();
  private readonly byLower = new Map<string, DescribeField>();
  private readonly relByLower = new Map<string, DescribeField>();
  private readonly components = new Map<string, DescribeField[]>();

  constructor(describe: SObjectDescribe) {
    this.describe = describe;
    this.name = describe.name;
    this.keyPrefix = describe.keyPrefix;
    this.fields = describe.fields;
    for (const f of describe.fields) {
      this.byName.set(f.name, f);
      this.byLower.set(f.name.toLowerCase(), f);
      if (f.relationshipName) this.relByLower.set(f.relationshipName.toLowerCase(), f);
      if (f.compoundFieldName && f.compoundFieldName !== f.name) {
        const list = this.components.get(f.compoundFieldName) ?? [];
        list.push(f);
        this.components.set(f.compoundFieldName, list);
      }
    }
  }

  /** A field by name, case-insensitively. */
  field(name: string): DescribeField | undefined {
    // Names are unique case-insensitively, so an exact hit (the usual case: canonical names) is the same field.
    return this.byName.get(name) ?? this.byLower.get(name.toLowerCase());
  }

  /** The reference field whose relationshipName is `name` (e.g. "Account" → AccountId), case-insensitively. */
  relationship(name: string): DescribeField | undefined {
    return this.relByLower.get(name.toLowerCase());
  }

  /** Components of a compound field (BillingAddress → BillingStreet, ...), in describe order. */
  compoundComponents(compoundName: string): readonly DescribeField[] {
    return this.components.get(compoundName) ?? [];
  }

  isCompound(field: DescribeField): boolean {
    return field.type === 'address' || field.type === 'location';
  }
}
