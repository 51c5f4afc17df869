import { describe, expect, it } from 'vitest';
import type { SalesforceDestinationConfig } from '../../src/connectors/salesforce/destination.ts';
import type { SfField } from '../../src/connectors/salesforce/describe.ts';
import { restJson, toBulkValue, toRestValue } from '../../src/connectors/salesforce/write-values.ts';
import type { Row } from '../../src/core/types.ts';
import { destinationConfig, writeEnv } from '../helpers/salesforce-write.ts';

const { query, write } = writeEnv({ emulator: { seed: 11 }, tmpPrefix: 'ff-sfwv-' });

function cfg(partial: Partial<SalesforceDestinationConfig>): SalesforceDestinationConfig {
  return destinationConfig({ object: 'Invoice__c', ...partial });
}

const FIELDS = 'External_Id__c, Name, Amount__c, Tax_Rate__c, Exchange_Rate__c, Line_Count__c, Invoice_Date__c, Paid_At__c, Reminder_Time__c, Is_Paid__c, Tags__c, Notes__c';


/** Values converted for each API (issue 6): the same stored result through REST and Bulk, for every field type. */

const ROWS = (p: string): Row[] => [
  { External_Id__c: `${p}-0`, Name: 'a', Amount__c: '1234.5', Tax_Rate__c: 7.25, Exchange_Rate__c: '0.5', Line_Count__c: ' 7 ', Invoice_Date__c: '2024-02-29', Paid_At__c: '2024-04-16T19:00:00.123+02:00', Reminder_Time__c: '09:30', Is_Paid__c: 'TRUE', Tags__c: 'Priority;Export', Notes__c: 'l1\nl2 "q", ünï 😀  ' },
  { External_Id__c: `${p}-1`, Name: 'b', Amount__c: 12345678901234.56, Tax_Rate__c: '1e1', Exchange_Rate__c: 1e-6, Line_Count__c: 3, Invoice_Date__c: '2024-02-28T12:00:00Z', Paid_At__c: '2024-04-16 19:00:00', Reminder_Time__c: '09:30:15.5', Is_Paid__c: 0, Tags__c: 'Export', Notes__c: '  lead' },
  { External_Id__c: `${p}-2`, Name: null, Amount__c: null, Tax_Rate__c: '', Exchange_Rate__c: '12345678.123456', Line_Count__c: '2.0', Invoice_Date__c: null, Paid_At__c: '2024-04-16T19:00:00.123456Z', Reminder_Time__c: '23:59:59.999Z', Is_Paid__c: true, Tags__c: null, Notes__c: null },
];

const EXPECTED = [
  { Name: 'a', Amount__c: 1234.5, Tax_Rate__c: 7.25, Exchange_Rate__c: 0.5, Line_Count__c: 7, Invoice_Date__c: '2024-02-29', Paid_At__c: '2024-04-16T17:00:00.123+0000', Reminder_Time__c: '09:30:00.000Z', Is_Paid__c: true, Tags__c: 'Priority;Export', Notes__c: 'l1\nl2 "q", ünï 😀  ' },
  { Name: 'b', Amount__c: 12345678901234.56, Tax_Rate__c: 10, Exchange_Rate__c: 0.000001, Line_Count__c: 3, Invoice_Date__c: '2024-02-28', Paid_At__c: '2024-04-16T19:00:00.000+0000', Reminder_Time__c: '09:30:15.500Z', Is_Paid__c: false, Tags__c: 'Export', Notes__c: '  lead' },
  { Name: null, Amount__c: null, Tax_Rate__c: null, Exchange_Rate__c: 12345678.123456, Line_Count__c: 2, Invoice_Date__c: null, Paid_At__c: '2024-04-16T19:00:00.123+0000', Reminder_Time__c: '23:59:59.999Z', Is_Paid__c: true, Tags__c: null, Notes__c: null },
];

describe('every field type through both APIs', () => {
  it.each(['REST_SYNC', 'BULKV2'] as const)('%s stores the canonical values', async (api) => {
    const p = `WV-${api}`;
    const { result } = await write(cfg({ apiPreference: api }), ROWS(p));
    expect(result).toMatchObject({ written: 3, failed: [] });
    const got = await query<Record<string, unknown>>(`SELECT ${FIELDS} FROM Invoice__c WHERE External_Id__c LIKE '${p}-%' ORDER BY External_Id__c`);
    expect(got.map(({ attributes: _a, External_Id__c: _e, ...rest }) => rest)).toEqual(EXPECTED);
  });

  it.each(['REST_SYNC', 'BULKV2'] as const)('%s: a value that cannot convert fails only its record, naming the field and value', async (api) => {
    const p = `WX-${api}`;
    const rows: Row[] = [
      { External_Id__c: `${p}-0`, Name: 'ok', Invoice_Date__c: '2024-01-31' },
      { External_Id__c: `${p}-1`, Name: 'bad date', Invoice_Date__c: '2024-02-30' },
      { External_Id__c: `${p}-2`, Name: 'bad time', Reminder_Time__c: '25:00' },
      { External_Id__c: `${p}-3`, Name: 'bad bool', Is_Paid__c: 'maybe' },
      { External_Id__c: `${p}-4`, Name: 'bad int', Line_Count__c: '1.5' },
      { External_Id__c: `${p}-5`, Name: 'bad number', Amount__c: '1,000' },
      { External_Id__c: `${p}-6`, Name: 'compound', Notes__c: { street: 'x' } },
    ];
    const { result } = await write(cfg({ apiPreference: api }), rows);
    expect(result.written).toBe(1);
    expect([...result.failed].sort((a, b) => a.index - b.index).map((f) => [f.index, f.errorCode, f.fields, f.message])).toEqual([
      [1, 'VALUE_NOT_CONVERTIBLE', ['Invoice_Date__c'], 'Invoice_Date__c: "2024-02-30" cannot be written to a date field (expected a date YYYY-MM-DD).'],
      [2, 'VALUE_NOT_CONVERTIBLE', ['Reminder_Time__c'], 'Reminder_Time__c: "25:00" cannot be written to a time field (expected a time HH:mm:ss.SSSZ).'],
      [3, 'VALUE_NOT_CONVERTIBLE', ['Is_Paid__c'], 'Is_Paid__c: "maybe" cannot be written to a boolean field (expected true or false).'],
      [4, 'VALUE_NOT_CONVERTIBLE', ['Line_Count__c'], 'Line_Count__c: "1.5" cannot be written to a int field (expected a whole number).'],
      [5, 'VALUE_NOT_CONVERTIBLE', ['Amount__c'], 'Amount__c: "1,000" cannot be written to a currency field (expected a number).'],
      [6, 'VALUE_NOT_CONVERTIBLE', ['Notes__c'], 'Notes__c: {"street":"x"} cannot be written to a textarea field (expected text).'],
    ]);
  });
});

describe('numbers with many digits', () => {
  const currency = { name: 'Amount__c', type: 'currency' } as SfField;
  it('REST sends a decimal string too precise for a JavaScript number with its digits, not rounded', () => {
    const body = restJson({ records: [{ Amount__c: toRestValue(currency, '1234567890123456.78'), Name: 'x\u0000y' }, { Amount__c: toRestValue(currency, '-0001234567890123456.70e2') }, { Amount__c: toRestValue(currency, '12.5') }] });
    expect(body).toBe('{"records":[{"Amount__c":1234567890123456.78,"Name":"x\\u0000y"},{"Amount__c":-1234567890123456.70e2},{"Amount__c":12.5}]}');
    expect(JSON.parse(body)).toBeTruthy();
    // Bulk sends the text as given.
    expect(toBulkValue(currency, ' 1234567890123456.78 ')).toBe('1234567890123456.78');
  });
  it('a record with such a value is written through REST', async () => {
    const { result } = await write(cfg({ apiPreference: 'REST_SYNC' }), [{ External_Id__c: 'WBIG-0', Name: 'big', Amount__c: '12345678901234.5678901' }]);
    expect(result).toMatchObject({ written: 1, failed: [] });
    const [rec] = await query<{ Amount__c: number }>(`SELECT Amount__c FROM Invoice__c WHERE External_Id__c = 'WBIG-0'`);
    expect(rec?.Amount__c).toBe(12345678901234.57);
  });
});
