import { describe, expect, it } from 'vitest';
import { SfObject, type SfField } from '../../src/connectors/salesforce/describe.ts';
import { buildSelect, escapeSoqlString, filterCondition, soqlLiteral } from '../../src/connectors/salesforce/soql.ts';
import { isForceflowError } from '../../src/core/errors.ts';

function field(name: string, type: SfField['type'], extra: Partial<SfField> = {}): SfField {
  return { name, type, label: name, nillable: true, compoundFieldName: null, filterable: true, createable: true, updateable: true, externalId: false, idLookup: false, calculated: false, defaultedOnCreate: false, length: 255, referenceTo: [], ...extra };
}

const account = new SfObject('Account', [
  field('Id', 'id'), field('Name', 'string'), field('AnnualRevenue', 'currency'), field('IsActive__c', 'boolean'),
  field('CreatedDate', 'datetime'), field('Founded__c', 'date'), field('Description', 'textarea', { filterable: false }),
]);

describe('SOQL building', () => {
  it('escapes every special character in string literals', () => {
    expect(escapeSoqlString(`a'b"c\\d\ne\rf\tg`)).toBe(`a\\'b\\"c\\\\d\\ne\\rf\\tg`);
  });

  it.each([
    `x' OR Name != '`,
    `') OR (Id != null`,
    `\\' OR Id != null OR Name = \\'`,
    `%' LIMIT 1 --`,
    "x'\n OR Id != null",
  ])('keeps hostile value %j inside one string literal', (hostile) => {
    const cond = filterCondition(account, { field: 'Name', operator: 'EQUAL_TO', values: [hostile] });
    // The literal must be a single quoted token: unescaped quotes only at both ends.
    const m = /^Name = '((?:[^'\\]|\\.)*)'$/.exec(cond);
    expect(m, cond).not.toBeNull();
  });

  it('renders typed literals and rejects values that do not fit the type', () => {
    expect(soqlLiteral(account.require('AnnualRevenue', 't'), '1234.5')).toBe('1234.5');
    expect(soqlLiteral(account.require('AnnualRevenue', 't'), 1e-7)).toBe('0.0000001');
    expect(soqlLiteral(account.require('CreatedDate', 't'), 1700000000000)).toBe('2023-11-14T22:13:20.000Z');
    expect(soqlLiteral(account.require('Founded__c', 't'), '2024-02-29')).toBe('2024-02-29');
    expect(soqlLiteral(account.require('IsActive__c', 't'), 'true')).toBe('true');
    for (const [name, value] of [['AnnualRevenue', '1 OR 1=1'], ['CreatedDate', "2024' OR '"], ['IsActive__c', 'yes'], ['Founded__c', '2024-13-45x']] as const) {
      try {
        soqlLiteral(account.require(name, 't'), value);
        expect.unreachable(`${name} accepted ${value}`);
      } catch (error) {
        expect(isForceflowError(error, 'FILTER_VALUE_INVALID')).toBe(true);
        expect((error as Error).message).toContain(name);
      }
    }
  });

  it('reads date and datetime values as the engine-side filters do: epoch ms (number or text), ISO with no zone as UTC, never a guess', () => {
    const tz = process.env['TZ'];
    process.env['TZ'] = 'America/New_York';
    try {
      const created = account.require('CreatedDate', 't');
      const founded = account.require('Founded__c', 't');
      expect(soqlLiteral(created, '2024-01-01T00:00:00')).toBe('2024-01-01T00:00:00.000Z');
      expect(soqlLiteral(created, '1700000000000')).toBe('2023-11-14T22:13:20.000Z');
      expect(soqlLiteral(created, '2024-01-01T00:00:00+0100')).toBe('2023-12-31T23:00:00.000Z');
      expect(soqlLiteral(founded, '1700000000000')).toBe('2023-11-14');
      expect(soqlLiteral(founded, '2024-01-01T23:00:00-05:00')).toBe('2024-01-02');
      for (const [f, v] of [[created, 'March 7'], [created, '2024-02-30T00:00:00Z'], [founded, '2024-02-30'], [founded, '2024-01-01Tgarbage'], [created, 1e20]] as const) {
        expect(() => soqlLiteral(f, v), `${f.name} ${String(v)}`).toThrow(/is not a valid/);
      }
    } finally {
      if (tz === undefined) delete process.env['TZ'];
      else process.env['TZ'] = tz;
    }
  });

  it('writes numbers only from decimal text, times in full, and control characters as \\u escapes', () => {
    const revenue = account.require('AnnualRevenue', 't');
    expect(soqlLiteral(revenue, ' 1e3 ')).toBe('1000');
    for (const v of ['0x10', 'Infinity', '1,000', '', '-']) expect(() => soqlLiteral(revenue, v), v).toThrow(/AnnualRevenue/);
    const time = field('Remind__c', 'time');
    expect(soqlLiteral(time, '08:30')).toBe('08:30:00.000Z');
    expect(soqlLiteral(time, '08:30:00.5Z')).toBe('08:30:00.500Z');
    expect(() => soqlLiteral(time, '99:99')).toThrow(/Remind__c/);
    expect(escapeSoqlString('a\u2028b\u0000c\u0085')).toBe('a\\u2028b\\u0000c\\u0085');
    expect(() => soqlLiteral(account.require('Name', 't'), 'a\ud800')).toThrow(/surrogate/);
  });

  it('maps AppFlow operators', () => {
    expect(filterCondition(account, { field: 'name', operator: 'EQUAL_TO', values: ['a', 'b'] })).toBe(`Name IN ('a', 'b')`);
    expect(filterCondition(account, { field: 'Name', operator: 'NOT_EQUAL_TO', values: ['a', 'b'] })).toBe(`Name NOT IN ('a', 'b')`);
    expect(filterCondition(account, { field: 'AnnualRevenue', operator: 'BETWEEN', values: [10, 20] })).toBe('(AnnualRevenue > 10 AND AnnualRevenue < 20)');
    expect(filterCondition(account, { field: 'Name', operator: 'CONTAINS', values: ['50%_off'] })).toBe(`Name LIKE '%50\\%\\_off%'`);
    expect(filterCondition(account, { field: 'AnnualRevenue', operator: 'GREATER_THAN', values: [1, 5] })).toBe('(AnnualRevenue > 1 OR AnnualRevenue > 5)');
    expect(filterCondition(account, { field: 'Name', operator: 'EQUAL_TO', values: [null] })).toBe('Name = null');
  });

  it('refuses unknown and non-filterable fields with a clear message', () => {
    expect(() => filterCondition(account, { field: 'Nme', operator: 'EQUAL_TO', values: ['x'] })).toThrow(/Account has no field "Nme"/);
    expect(() => filterCondition(account, { field: 'Description', operator: 'EQUAL_TO', values: ['x'] })).toThrow(/cannot filter/);
  });

  it('builds a SELECT with filters ANDed and an incremental window', () => {
    expect(
      buildSelect({
        object: account,
        fields: ['id', 'name'],
        filters: [{ field: 'AnnualRevenue', operator: 'GREATER_THAN', values: [100] }],
        window: { field: 'CreatedDate', from: '2024-01-01T00:00:00.000Z', to: '2024-02-01T00:00:00.000Z' },
      }),
    ).toBe('SELECT Id, Name FROM Account WHERE AnnualRevenue > 100 AND CreatedDate > 2024-01-01T00:00:00.000Z AND CreatedDate <= 2024-02-01T00:00:00.000Z');
  });
});
