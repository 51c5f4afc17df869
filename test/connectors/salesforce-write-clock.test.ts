import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { createSalesforceDestination } from '../../src/connectors/salesforce/destination.ts';
import type { RecordBatch, Row } from '../../src/core/types.ts';
import { captureContext } from '../helpers/run-context.ts';

/** The look-up after a lost INSERT compares CreatedDate with Salesforce's clock, not this machine's (issue 6). */

const FAST_RETRY = { retries: 8, baseDelayMs: 2, maxDelayMs: 20 };

describe.each([-10, 10])('org clock %i minutes off this machine', (minutes) => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ seed: 19, clock: () => Date.now() + minutes * 60_000 });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('records a lost INSERT created are found and counted written, neither re-sent nor failed', async () => {
    const prefix = `CLOCK${minutes < 0 ? 'M' : 'P'}`;
    const rows: Row[] = Array.from({ length: 150 }, (_, i) => ({ Name: `${prefix} ${i}`, External_Id__c: `${prefix}-${i}` }));
    const ctx = captureContext();
    const { client } = connectSalesforce(emu.connectorProfile, { retry: FAST_RETRY, log: ctx.log });
    await fetch(`${emu.controlUrl}/faults`, { method: 'PUT', body: 'collections.reset.next=1,collections.resetAfter=10' });
    const dest = createSalesforceDestination(client, { object: 'Account', writeOperationType: 'INSERT', idFieldNames: [], apiPreference: 'REST_SYNC', failOnFirstDestinationError: false }, {
      rest: { rowRetryBaseMs: 2, refusedBaseMs: 2 },
    });
    async function* batches(): AsyncGenerator<RecordBatch> {
      yield { schema: { entity: 'x', fields: [{ name: 'Name', type: 'string' }, { name: 'External_Id__c', type: 'string' }] }, rows };
    }
    const result = await dest.write(batches(), ctx);
    expect(ctx.lines.some((l) => l['msg'] === 'looked up records of a lost insert')).toBe(true);
    expect(result).toMatchObject({ written: 150, failedCount: 0 });
    const page = await client.json<{ records: { External_Id__c: string }[] }>({ method: 'GET', path: '/query', query: { q: `SELECT External_Id__c FROM Account WHERE External_Id__c LIKE '${prefix}-%'` }, call: 'check' });
    expect(page.records).toHaveLength(150);
  });
});
