import { describe, expect, it } from 'vitest';
import type { FieldType } from '../../src/core/types.ts';
import { fromBulk } from '../../src/api-selection/normalize.ts';
import { SfObject, type SfField } from '../../src/connectors/salesforce/describe.ts';
import { bulkRowBuilder, planRead } from '../../src/connectors/salesforce/read-plan.ts';

/**
 * The Bulk row builder converts cells in one type-coded loop (issue 13) instead of calling fromBulk per cell:
 * every scalar field type must still give fromBulk's value for every cell, the odd ones included (empty, blank,
 * not a number, Java-style doubles, datetimes with offsets, times without seconds).
 */
const SCALAR_TYPES: readonly FieldType[] = ['id', 'reference', 'string', 'textarea', 'email', 'url', 'phone', 'picklist', 'multipicklist', 'combobox', 'encryptedstring', 'boolean', 'int', 'long', 'double', 'currency', 'percent', 'date', 'datetime', 'time'];
const CELLS = ['', ' ', 'true', 'false', 'TRUE', '0', '-0', '1.0', '9.12260031E8', '1e400', 'NaN', 'Infinity', '0x10', 'abc', '12:30', '12:30:15.5Z', '2024-01-02', '2024-01-02T03:04:05.000Z', '2024-01-02T03:04:05.000+0200', '2024-01-02T03:04:05Z', 'a "quoted", text\nline', 'Zoë 😀'];

const f = (name: string, type: FieldType): SfField => ({
  name, type, label: name, nillable: true, compoundFieldName: null, filterable: true, createable: true, updateable: true,
  externalId: false, idLookup: false, calculated: false, defaultedOnCreate: false, length: 0, referenceTo: [],
});

describe('Bulk row builder', () => {
  it('gives fromBulk\'s value for every scalar type and cell, and null for a field absent from the header', () => {
    const fields = [f('Id', 'id'), ...SCALAR_TYPES.filter((t) => t !== 'id').map((t, i) => f(`F${i}_${t}__c`, t)), f('Missing__c', 'double')];
    const object = new SfObject('T__c', fields);
    const header = fields.filter((x) => x.name !== 'Missing__c').map((x) => x.name.toUpperCase());
    const build = bulkRowBuilder(planRead(object, fields, 'BULKV2'), '60.0', header);
    for (const cell of CELLS) {
      const cells = header.map(() => cell);
      const row = build(cells);
      expect(Object.keys(row)).toEqual(fields.map((x) => x.name));
      for (const x of fields) expect({ field: x.name, cell, value: row[x.name] }).toStrictEqual({ field: x.name, cell, value: x.name === 'Missing__c' ? null : fromBulk(x, cell) });
    }
    // A short record (fewer cells than the header) reads the missing cells as null.
    const short = build(['a0A000000000001AAA']);
    expect(short['Id']).toBe('a0A000000000001AAA');
    for (const x of fields.slice(1)) expect(short[x.name]).toBeNull();
  });
});
