import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { Row } from '../../src/core/types.ts';
import { destinationConfig, errorFileText as errorFile, writeEnv } from '../helpers/salesforce-write.ts';

/** The error file lists failed records with their original fields, the same for REST and Bulk (issue 6). */

const env = writeEnv({ emulator: { seed: 13 }, tmpPrefix: 'ff-sfwe-' });

describe('error file, cell by cell', () => {
  it('REST and Bulk list a failed record with the values it came with (not the converted ones), its code and message', async () => {
    const files: Record<string, string> = {};
    for (const api of ['REST_SYNC', 'BULKV2'] as const) {
      const p = `EF-${api}`;
      const rows: Row[] = [
        { External_Id__c: `${p}-0`, Name: 'ok', Paid_At__c: '2024-04-16T19:00:00+02:00', Is_Paid__c: '1', Line_Count__c: '3.0', Status__c: 'Paid' },
        // Fails in Salesforce (restricted picklist); its other values needed converting.
        { External_Id__c: `${p}-1`, Name: 'bad "status", two\nlines ü', Paid_At__c: '2024-04-16T19:00:00+02:00', Is_Paid__c: '1', Line_Count__c: '3.0', Status__c: 'Lost' },
        // Fails before sending (cannot convert).
        { External_Id__c: `${p}-2`, Name: null, Paid_At__c: 'yesterday', Is_Paid__c: true, Line_Count__c: 4, Status__c: '' },
        // Fails in Salesforce; every value is text already in Bulk form (as a CSV input's are): Bulk keeps no copy
        // of the record and lists it from the cells sent.
        { External_Id__c: `${p}-3`, Name: 'as sent', Paid_At__c: '2024-04-16T17:00:00.000Z', Is_Paid__c: 'true', Line_Count__c: '3', Status__c: 'Lost' },
        // The same with an empty value (sent as #N/A) and a missing key: its record is kept as it came.
        { External_Id__c: `${p}-4`, Name: '', Paid_At__c: '2024-04-16T17:00:00.000Z', Is_Paid__c: 'true', Status__c: 'Lost' },
      ];
      const { result, errorDir } = await env.write(destinationConfig({ object: 'Invoice__c', apiPreference: api }), rows);
      expect(result.written).toBe(1);
      // Bulk reports records that cannot convert while spooling, before the job's failures: order by input.
      expect([...result.failed].sort((a, b) => a.index - b.index).map((f) => [f.index, f.errorCode])).toEqual([[1, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST'], [2, 'VALUE_NOT_CONVERTIBLE'], [3, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST'], [4, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST']]);
      const text = await errorFile(errorDir);
      const lines = (parse(text, { columns: true }) as Record<string, string>[]).sort((a, b) => String(a['External_Id__c']).localeCompare(String(b['External_Id__c'])));
      expect(Object.keys(lines[0] ?? {})).toEqual(['External_Id__c', 'Name', 'Paid_At__c', 'Is_Paid__c', 'Line_Count__c', 'Status__c', 'errorCode', 'errorMessage', 'errorFields']);
      expect(lines[0]).toEqual({
        External_Id__c: `${p}-1`, Name: 'bad "status", two\nlines ü', Paid_At__c: '2024-04-16T19:00:00+02:00', Is_Paid__c: '1', Line_Count__c: '3.0', Status__c: 'Lost',
        errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', errorMessage: 'Status: bad value for restricted picklist field: Lost', errorFields: 'Status__c',
      });
      expect(lines[1]).toEqual({
        External_Id__c: `${p}-2`, Name: '', Paid_At__c: 'yesterday', Is_Paid__c: 'true', Line_Count__c: '4', Status__c: '',
        errorCode: 'VALUE_NOT_CONVERTIBLE', errorMessage: 'Paid_At__c: "yesterday" cannot be written to a datetime field (expected an ISO-8601 datetime such as 2024-04-16T19:00:00.000Z).', errorFields: 'Paid_At__c',
      });
      const picklist = { errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', errorMessage: 'Status: bad value for restricted picklist field: Lost', errorFields: 'Status__c' };
      expect(lines[2]).toEqual({ External_Id__c: `${p}-3`, Name: 'as sent', Paid_At__c: '2024-04-16T17:00:00.000Z', Is_Paid__c: 'true', Line_Count__c: '3', Status__c: 'Lost', ...picklist });
      expect(lines[3]).toEqual({ External_Id__c: `${p}-4`, Name: '', Paid_At__c: '2024-04-16T17:00:00.000Z', Is_Paid__c: 'true', Line_Count__c: '', Status__c: 'Lost', ...picklist });
      files[api] = JSON.stringify(lines).replaceAll(p, 'EF');
    }
    // The two APIs give the same lines.
    expect(files['BULKV2']).toBe(files['REST_SYNC']);
  });
});
