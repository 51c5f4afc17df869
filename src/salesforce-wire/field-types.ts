/**
 * Salesforce field types as describe reports them (`type` of a describe field). The client maps records by
 * them (src/core/types.ts's FieldType is this union) and the emulator's describe uses them (SfFieldType).
 */
export const SALESFORCE_FIELD_TYPES = [
  'id', 'reference', 'string', 'textarea', 'picklist', 'multipicklist', 'combobox', 'phone', 'url', 'email',
  'encryptedstring', 'boolean', 'int', 'long', 'double', 'currency', 'percent', 'date', 'datetime', 'time',
  'base64', 'address', 'location', 'anyType', 'complexvalue',
] as const;

export type SalesforceFieldType = (typeof SALESFORCE_FIELD_TYPES)[number];
