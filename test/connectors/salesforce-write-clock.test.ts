import { describe, expect, it } from 'vitest';
import { createSalesforceDestination } from '../../src/connectors/salesforce/destination.ts';
import type { Row } from '../../src/core/types.ts';
import { captureContext } from '../helpers/run-context.ts';
import { batches, destinationConfig, emulatorEnv } from '../helpers/salesforce-write.ts';

/** The look-up after a lost INSERT compares CreatedDate with Salesforce's clock, not this machine's (issue 6). */

describe.each([-10, 10])('org clock %i minutes off this machine', (minutes) => {
  const env = emulatorEnv({ seed: 19, clock: () => Date.now() + minutes * 60_000 });

  it('records a lost INSERT created are found and counted written, neither re-sent nor failed', async () => {
    const prefix = `CLOCK${minutes < 0 ? 'M' : 'P'}`;
    const rows: Row[] = Array.from({ length: 150 }, (_, i) => ({ Name: `${prefix} ${i}`, External_Id__c: `${prefix}-${i}` }));
    const ctx = captureContext();
    const client = env.client(ctx.log);
    await env.faults('collections.reset.next=1,collections.resetAfter=10');
    const dest = createSalesforceDestination(client, destinationConfig({ apiPreference: 'REST_SYNC' }), {
      rest: { rowRetryBaseMs: 2, refusedBaseMs: 2 },
    });
    const result = await dest.write(batches(rows), ctx);
    expect(ctx.lines.some((l) => l['msg'] === 'looked up records of a lost insert')).toBe(true);
    expect(result).toMatchObject({ written: 150, failedCount: 0 });
    const page = await client.json<{ records: { External_Id__c: string }[] }>({ method: 'GET', path: '/query', query: { q: `SELECT External_Id__c FROM Account WHERE External_Id__c LIKE '${prefix}-%'` }, call: 'check' });
    expect(page.records).toHaveLength(150);
  });
});
