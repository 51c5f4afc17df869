import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { createSalesforceDestination } from '../../src/connectors/salesforce/destination.ts';
import { captureContext } from '../helpers/run-context.ts';
import { profileThrough, rewritingProxy } from '../helpers/rewriting-proxy.ts';
import { batches, localErrorTarget, writeEnv } from '../helpers/salesforce-write.ts';

/**
 * A Failed Bulk ingest job whose result files do not account for every record it says it processed: an
 * INSERT must not send those records again (they may have been written); UPDATE/UPSERT/DELETE may.
 */
const env = writeEnv({ emulator: { seed: 9 }, tmpPrefix: 'ff-sffj-' });

async function writeThroughProxy(operation: 'INSERT' | 'UPSERT', prefix: string) {
  const { emu, dir } = env;
  await env.faults('bulkIngest.jobFail.next=1');
  let jobInfoRewritten = false;
  let unprocessedRewritten = false;
  const proxy = await rewritingProxy(emu.instanceUrl, (method, path) => {
    if (method === 'GET' && /\/jobs\/ingest\/[^/]+\/unprocessedrecords\/?$/.test(path) && !unprocessedRewritten) {
      unprocessedRewritten = true;
      return (csv) => `${csv.split('\n')[0] ?? ''}\n`; // the header only: no record listed
    }
    if (method === 'GET' && /\/jobs\/ingest\/[^/]+$/.test(path) && !jobInfoRewritten) {
      return (json) => {
        const info = JSON.parse(json) as { state: string; numberRecordsProcessed: number };
        if (info.state !== 'Failed') return json;
        jobInfoRewritten = true;
        return JSON.stringify({ ...info, numberRecordsProcessed: 40 });
      };
    }
    return undefined;
  });
  try {
    const ctx = captureContext();
    const { client } = connectSalesforce(profileThrough(emu.connectorProfile, proxy.url), { retry: { retries: 4, baseDelayMs: 2, maxDelayMs: 10 }, log: ctx.log });
    const dest = createSalesforceDestination(
      client,
      { object: 'Account', writeOperationType: operation, idFieldNames: operation === 'UPSERT' ? ['External_Id__c'] : [], apiPreference: 'BULKV2', failOnFirstDestinationError: false },
      { flowName: 'f', executionId: `fj-${prefix}`, errorTarget: localErrorTarget(join(dir, prefix), `fj-${prefix}`), tempDir: dir, bulk: { pollInitialMs: 2, pollMaxMs: 20, rowRetryBaseMs: 2 } },
    );
    const rows = Array.from({ length: 60 }, (_, i) => ({ Name: `${prefix} ${i}`, External_Id__c: `${prefix}-${i}` }));
    const result = await dest.write(batches(rows), ctx);
    expect(jobInfoRewritten && unprocessedRewritten).toBe(true);
    const stored = await env.query(`SELECT Id FROM Account WHERE External_Id__c LIKE '${prefix}-%'`);
    return { result, stored: stored.length };
  } finally {
    await proxy.close();
    await env.faults('');
  }
}

describe('Bulk ingest: a Failed job whose results do not account for what it processed', () => {
  it('INSERT reports the unlisted records as unknown instead of sending them again', async () => {
    const { result, stored } = await writeThroughProxy('INSERT', 'FJINS');
    expect(stored).toBe(0);
    expect(result.written).toBe(0);
    expect(result.failed).toHaveLength(60);
    expect(new Set(result.failed.map((f) => f.errorCode))).toEqual(new Set(['SF_WRITE_OUTCOME_UNKNOWN']));
    expect(result.failed[0]?.message).toContain('ended Failed (40 records processed)');
  });

  it('UPSERT sends them again (repeating an upsert is safe)', async () => {
    const { result, stored } = await writeThroughProxy('UPSERT', 'FJUPS');
    expect(stored).toBe(60);
    expect(result.written).toBe(60);
    expect(result.failed).toHaveLength(0);
  });
});
