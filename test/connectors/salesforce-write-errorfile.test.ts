import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { createSalesforceDestination, type SalesforceDestinationConfig, type SalesforceDestinationOptions } from '../../src/connectors/salesforce/destination.ts';
import type { RecordBatch, Row } from '../../src/core/types.ts';
import { captureContext } from '../helpers/run-context.ts';

/** The error file lists failed records with their original fields, the same for REST and Bulk (issue 6). */

const FAST_RETRY = { retries: 8, baseDelayMs: 2, maxDelayMs: 20 };
const FAST: SalesforceDestinationOptions = {
  rest: { rowRetryBaseMs: 2, refusedBaseMs: 2 },
  bulk: { pollInitialMs: 2, pollMaxMs: 20, rowRetryBaseMs: 2 },
};

let emu: RunningEmulator;
let dir: string;
let run = 0;

beforeAll(async () => {
  emu = await startEmulator({ seed: 13 });
  dir = await mkdtemp(join(tmpdir(), 'ff-sfwe-'));
});
afterAll(async () => {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

async function* batches(rows: readonly Row[]): AsyncGenerator<RecordBatch> {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  yield { schema: { entity: 'input', fields: names.map((name) => ({ name, type: 'string' as const })) }, rows };
}

async function write(config: Partial<SalesforceDestinationConfig>, rows: readonly Row[]) {
  const ctx = captureContext();
  const { client } = connectSalesforce(emu.connectorProfile, { retry: FAST_RETRY, log: ctx.log });
  const errorDir = join(dir, `errors-${++run}`);
  const full: SalesforceDestinationConfig = { object: 'Invoice__c', writeOperationType: 'INSERT', idFieldNames: [], apiPreference: 'AUTOMATIC', failOnFirstDestinationError: false, ...config };
  const dest = createSalesforceDestination(client, full, { flowName: 'f', executionId: `e${run}`, errorTarget: { localDir: errorDir }, tempDir: dir, ...FAST });
  const result = await dest.write(batches(rows), ctx);
  return { result, errorDir };
}

async function errorFile(errorDir: string): Promise<string> {
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name === 'errors.csv') files.push(join(d, e.name));
    }
  };
  await walk(errorDir);
  expect(files).toHaveLength(1);
  return readFile(files[0] as string, 'utf8');
}

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
      ];
      const { result, errorDir } = await write({ apiPreference: api }, rows);
      expect(result.written).toBe(1);
      // Bulk reports records that cannot convert while spooling, before the job's failures: order by input.
      expect([...result.failed].sort((a, b) => a.index - b.index).map((f) => [f.index, f.errorCode])).toEqual([[1, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST'], [2, 'VALUE_NOT_CONVERTIBLE']]);
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
      files[api] = JSON.stringify(lines).replaceAll(p, 'EF');
    }
    // The two APIs give the same lines.
    expect(files['BULKV2']).toBe(files['REST_SYNC']);
  });
});
