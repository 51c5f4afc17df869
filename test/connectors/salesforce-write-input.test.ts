import { describe, expect, it } from 'vitest';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { createSalesforceDestination, type SalesforceDestinationConfig } from '../../src/connectors/salesforce/destination.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { captureContext } from '../helpers/run-context.ts';
import { batches, emulatorEnv, sumCalls } from '../helpers/salesforce-write.ts';

/** Bad input is refused before anything is written (issue 6). */

const env = emulatorEnv({ seed: 17 });

async function calls(): Promise<number> {
  return sumCalls(await env.calls(), /composite|jobs\/ingest/);
}

describe('destination fields', () => {
  it.each(['REST_SYNC', 'BULKV2'] as const)('%s: two fields that name the same Salesforce field (names are case-insensitive) are refused, naming both', async (api) => {
    const ctx = captureContext();
    const { client } = connectSalesforce(env.emu.connectorProfile, { log: ctx.log });
    const config: SalesforceDestinationConfig = { object: 'Account', writeOperationType: 'INSERT', idFieldNames: [], apiPreference: api, failOnFirstDestinationError: false };
    const before = await calls();
    const error = await createSalesforceDestination(client, config).write(batches([{ Name: 'a', name: 'b', External_Id__c: 'DUPF-1' }]), ctx).catch((e: unknown) => e);
    expect(isForceflowError(error, 'FLOW_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/"Name" and "name" both map to Account\.Name/);
    expect(await calls()).toBe(before);
  });
});
