import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { createSalesforceDestination, type SalesforceDestinationConfig } from '../../src/connectors/salesforce/destination.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import type { RecordBatch, Row } from '../../src/core/types.ts';
import { captureContext } from '../helpers/run-context.ts';

/** Bad input is refused before anything is written (issue 6). */

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startEmulator({ seed: 17 });
});
afterAll(async () => {
  await emu.close();
});

async function* batches(rows: readonly Row[]): AsyncGenerator<RecordBatch> {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  yield { schema: { entity: 'input', fields: names.map((name) => ({ name, type: 'string' as const })) }, rows };
}

async function calls(): Promise<number> {
  const c = ((await (await fetch(`${emu.controlUrl}/calls`)).json()) as { calls: Record<string, number> }).calls;
  return Object.entries(c).filter(([k]) => /composite|jobs\/ingest/.test(k)).reduce((n, [, v]) => n + v, 0);
}

describe('destination fields', () => {
  it.each(['REST_SYNC', 'BULKV2'] as const)('%s: two fields that name the same Salesforce field (names are case-insensitive) are refused, naming both', async (api) => {
    const ctx = captureContext();
    const { client } = connectSalesforce(emu.connectorProfile, { log: ctx.log });
    const config: SalesforceDestinationConfig = { object: 'Account', writeOperationType: 'INSERT', idFieldNames: [], apiPreference: api, failOnFirstDestinationError: false };
    const before = await calls();
    const error = await createSalesforceDestination(client, config).write(batches([{ Name: 'a', name: 'b', External_Id__c: 'DUPF-1' }]), ctx).catch((e: unknown) => e);
    expect(isForceflowError(error, 'FLOW_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/"Name" and "name" both map to Account\.Name/);
    expect(await calls()).toBe(before);
  });
});
