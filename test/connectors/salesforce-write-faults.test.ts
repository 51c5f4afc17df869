import { beforeEach, describe, expect, it } from 'vitest';
import { createSalesforceDestination, type SalesforceDestinationOptions } from '../../src/connectors/salesforce/destination.ts';
import type { RecordBatch, Row } from '../../src/core/types.ts';
import { captureContext } from '../helpers/run-context.ts';
import { FAST_RETRY, batches, destinationConfig as cfg, errorRowsIfAny as errorRows, localErrorTarget, writeEnv } from '../helpers/salesforce-write.ts';

/** Faults on the write path (issue 6): every input record written once, or failed with a reason; never twice, never lost. */

const env = writeEnv({ emulator: { seed: 5 }, tmpPrefix: 'ff-sfwf-' });
const { calls, client, faults, faultStats, query, write } = env;

beforeEach(async () => {
  await faults('');
});

function accounts(prefix: string, n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({ Name: `${prefix} ${i}`, External_Id__c: `${prefix}-${i}` }));
}

async function countByExt(prefix: string): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const r of await query<{ External_Id__c: string }>(`SELECT External_Id__c FROM Account WHERE External_Id__c LIKE '${prefix}-%'`)) {
    m.set(r.External_Id__c, (m.get(r.External_Id__c) ?? 0) + 1);
  }
  return m;
}

describe('REST: lost and refused calls', () => {
  it('a DELETE whose connection drops right after the headers is sent again, and what the lost call deleted counts as written', async () => {
    const created = await write(cfg({ apiPreference: 'REST_SYNC' }), accounts('DELDROP', 150));
    expect(created.result.written).toBe(150);
    const ids = (await query<{ Id: string }>(`SELECT Id FROM Account WHERE External_Id__c LIKE 'DELDROP-%'`)).map((r) => ({ Id: r.Id }));
    expect(ids).toHaveLength(150);

    await faults('collections.reset.next=1,collections.resetAfter=0');
    const { result, errorDir } = await write(cfg({ apiPreference: 'REST_SYNC', writeOperationType: 'DELETE', idFieldNames: ['Id'] }), ids);
    expect((await faultStats()).resets).toBe(1);
    expect(result).toMatchObject({ written: 150, failedCount: 0, failed: [] });
    expect(await errorRows(errorDir)).toEqual([]);
    const all = await query<{ IsDeleted: boolean }>(`SELECT Id, IsDeleted FROM Account WHERE External_Id__c LIKE 'DELDROP-%'`, true);
    expect(all).toHaveLength(150);
    expect(all.every((r) => r.IsDeleted)).toBe(true);
  });

  it('an INSERT answered 429 (too many requests) is sent again, not failed as a spent daily limit, and nothing is duplicated', async () => {
    await faults('collections.429.next=2,retryAfter=0');
    const { result } = await write(cfg({ apiPreference: 'REST_SYNC' }), accounts('INS429', 30));
    expect((await faultStats()).status['collections.429']).toBe(2);
    expect(result).toMatchObject({ written: 30, failedCount: 0 });
    const found = await countByExt('INS429');
    expect(found.size).toBe(30);
    expect([...found.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('REST: an INSERT whose answer was lost, looked up by external id', () => {
  it('two records with the same external id: the look-up finds one record, so only one counts as written; the other is sent again and fails DUPLICATE_VALUE', async () => {
    const rows = accounts('LOSTDUP', 20);
    rows[7] = { Name: 'LOSTDUP twin', External_Id__c: 'LOSTDUP-3' };
    await faults('collections.reset.next=1,collections.resetAfter=10');
    const { result, ctx, errorDir } = await write(cfg({ apiPreference: 'REST_SYNC' }), rows);
    expect((await faultStats()).resets).toBe(1);
    expect(ctx.lines.some((l) => l['msg'] === 'looked up records of a lost insert')).toBe(true);
    const found = await countByExt('LOSTDUP');
    expect(found.size).toBe(19);
    expect([...found.values()].every((n) => n === 1)).toBe(true);
    expect(result.written).toBe(19);
    expect(result.failed).toEqual([expect.objectContaining({ index: 7, errorCode: 'DUPLICATE_VALUE' })]);
    const file = await errorRows(errorDir);
    expect(file).toEqual([expect.objectContaining({ Name: 'LOSTDUP twin', External_Id__c: 'LOSTDUP-3', errorCode: 'DUPLICATE_VALUE' })]);
  });
});

describe('an error that ends the write part-way says what was already written', () => {
  it('REST: calls still in flight when another call fails are waited for and counted', async () => {
    const rows = accounts('INFLIGHT', 1000);
    await faults('collections.503.next=1,collections.delay=150,retryAfter=0');
    const ctx = captureContext();
    const dest = createSalesforceDestination(client(ctx.log), cfg({ apiPreference: 'REST_SYNC' }), { tempDir: env.dir, rest: { concurrency: 3, rowRetryBaseMs: 2, refusedBaseMs: 2, refusedRetries: 0 } });
    const error = await dest.write(batches(rows, 200), ctx).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SF_UNAVAILABLE' });
    await faults('');
    const inOrg = (await countByExt('INFLIGHT')).size;
    expect(inOrg).toBeGreaterThan(0);
    expect((error as { details: { written: number } }).details.written).toBe(inOrg);
  });

  it('REST: Salesforce refusing every call after the first batches: SF_UNAVAILABLE with written/failed in the message and details', async () => {
    const rows = accounts('OUTAGE', 1000);
    rows[5] = { Name: null, External_Id__c: 'OUTAGE-5' };
    const ctx = captureContext();
    const errorDir = env.errorDir();
    const dest = createSalesforceDestination(client(ctx.log), cfg({ apiPreference: 'REST_SYNC' }), {
      flowName: 'f', executionId: 'outage', errorTarget: localErrorTarget(errorDir, 'outage'), tempDir: env.dir,
      rest: { concurrency: 1, rowRetryBaseMs: 2, refusedBaseMs: 2, refusedRetries: 2 },
    });
    async function* source(): AsyncGenerator<RecordBatch> {
      let k = 0;
      for await (const b of batches(rows, 200)) {
        if (k++ === 3) await faults('collections.503=1,retryAfter=0');
        yield b;
      }
    }
    const error = await dest.write(source(), ctx).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SF_UNAVAILABLE', kind: 'retryable' });
    const e = error as { message: string; details: { written: number; failed: number; errorFile: string } };
    const inOrg = (await countByExt('OUTAGE')).size;
    expect(inOrg).toBeGreaterThanOrEqual(399);
    expect(e.details).toMatchObject({ written: inOrg, failed: 1 });
    expect(e.details.errorFile).toMatch(/errors\.csv$/);
    expect(e.message).toMatch(new RegExp(`The write stopped part-way: ${inOrg} record\\(s\\) had been written through REST_SYNC and 1 failed \\(listed in .*errors\\.csv\\)`));
    expect(await errorRows(errorDir)).toEqual([expect.objectContaining({ External_Id__c: 'OUTAGE-5', errorCode: 'REQUIRED_FIELD_MISSING' })]);
  });
});

describe('REST: refusals that do not clear', () => {
  it('a refusal asking to wait an hour (Retry-After) is sent again after the client policy\'s maximum, not an hour', async () => {
    await faults('collections.429.next=1,retryAfter=3600');
    // Without the cap the writer would wait an hour and the test would time out.
    const { result, ctx } = await write(cfg({ apiPreference: 'REST_SYNC' }), accounts('RA3600', 5), { rest: { refusedBaseMs: 1 } });
    expect(result).toMatchObject({ written: 5, failedCount: 0 });
    const waits = ctx.lines.filter((l) => l['msg'] === 'Salesforce refused the write call; sending it again').map((l) => l['delayMs']);
    expect(waits).toEqual([FAST_RETRY.maxDelayMs]);
    expect(await countByExt('RA3600')).toEqual(new Map(Array.from({ length: 5 }, (_, i) => [`RA3600-${i}`, 1])));
  });

  it('429 on every call: SF_UNAVAILABLE saying too many requests, not a spent daily limit', async () => {
    await faults('collections.429=1,retryAfter=0');
    const error = await write(cfg({ apiPreference: 'REST_SYNC' }), accounts('ALL429', 5), { rest: { refusedRetries: 2, refusedBaseMs: 2 } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SF_UNAVAILABLE', kind: 'retryable' });
    expect((error as Error).message).toMatch(/kept answering 429 \(too many requests\) to the INSERT of 5 Account record\(s\) after 3 attempt\(s\)/);
    expect((error as Error).message).not.toMatch(/daily/);
    expect((await faultStats()).status['collections.429']).toBe(3);
  });
});

describe('REST: the look-up after a lost INSERT', () => {
  it('external ids that are long once URL-encoded are looked up in several queries, each under the URI limit', async () => {
    // 46 euro signs: 9 characters each once URL-encoded, so 100 values are ~42 KB, over Salesforce's 16 KB URI limit.
    const rows = Array.from({ length: 200 }, (_, i) => ({ Name: `LONGEXT ${i}`, External_Id__c: `${String(i).padStart(4, '0')}${'\u20ac'.repeat(46)}` }));
    await faults('collections.reset.next=1,collections.resetAfter=10');
    const { result, ctx } = await write(cfg({ apiPreference: 'REST_SYNC' }), rows);
    expect((await faultStats()).resets).toBe(1);
    expect(ctx.lines.some((l) => l['msg'] === 'looked up records of a lost insert')).toBe(true);
    expect(result).toMatchObject({ written: 200, failedCount: 0 });
    const found = await query<{ External_Id__c: string }>(`SELECT External_Id__c FROM Account WHERE Name LIKE 'LONGEXT %'`);
    expect(found).toHaveLength(200);
    expect(new Set(found.map((r) => r.External_Id__c)).size).toBe(200);
  });
});

describe('failOnFirstDestinationError stops sending once a record failed', () => {
  it.each(['REST_SYNC', 'BULKV2'] as const)('%s: records that hit a row lock in the same call as the failure are not retried after the stop', async (api) => {
    const prefix = `FFLOCK-${api}`;
    const rows = accounts(prefix, 10);
    rows[6] = { Name: null, External_Id__c: `${prefix}-6` };
    await faults('rowLock.next=2');
    const before = await calls();
    const error = await write(cfg({ apiPreference: api, failOnFirstDestinationError: true }), rows).catch((e: unknown) => e);
    const after = await calls();
    const sent = (c: Record<string, number>): number => Object.entries(c).filter(([k]) => /^(POST|PATCH) .*(composite\/sobjects|jobs\/ingest)$/.test(k)).reduce((n, [, v]) => n + v, 0);
    expect((await faultStats()).rowLocks).toBe(2);
    expect(error).toMatchObject({ code: 'DESTINATION_WRITE_FAILED', details: { written: 7, failed: 1, firstFailure: { index: 6, errorCode: 'REQUIRED_FIELD_MISSING' } } });
    // One write call (REST) or one job created (Bulk): the two locked records were not sent again.
    expect(sent(after) - sent(before)).toBe(1);
    expect((await countByExt(prefix)).size).toBe(7);
  });
});

describe('Bulk under mixed faults', () => {
  it.each([
    ['INSERT', 'bulkIngest.500=0.3,rowLock=0.1'],
    ['INSERT', 'bulkIngest.500=0.2,bulkIngest.reset=0.2,bulkIngest.resetAfter=0,bulkIngest.jobFail=0.3'],
    ['UPSERT', 'bulkIngest.500=0.3,bulkIngest.reset=0.2,bulkIngest.resetAfter=30,rowLock=0.1,bulkIngest.jobFail=0.3'],
  ] as const)('%s with %s: every record written exactly once, or failed with a reason', async (op, spec) => {
    const prefix = `BMIX-${op}-${spec.length}`;
    await faults(spec);
    const config = cfg({ apiPreference: 'BULKV2', writeOperationType: op, idFieldNames: op === 'UPSERT' ? ['External_Id__c'] : [] });
    // Up to half the ingest calls fail here, and a job's upload overlaps the job before it (which call draws
    // which fault depends on timing): uploads get more attempts than the default 4, so that the write is
    // not given up, which is not what this test is about.
    const { result, errorDir } = await write(config, accounts(prefix, 1200), { jobBytes: 16 * 1024, bulk: { pollInitialMs: 2, pollMaxMs: 20, rowRetryBaseMs: 2, rowRetries: 6, callRetries: 12 } });
    const found = await countByExt(prefix);
    const failed = new Map(result.failed.map((f) => [f.index, f]));
    expect(failed.size).toBe(result.failed.length);
    for (let i = 0; i < 1200; i++) {
      const copies = found.get(`${prefix}-${i}`) ?? 0;
      const f = failed.get(i);
      if (f === undefined) expect(copies, `record ${i}`).toBe(1);
      else if (f.errorCode === 'SF_WRITE_OUTCOME_UNKNOWN') expect(copies, `record ${i} (unknown)`).toBeLessThanOrEqual(1);
      else expect(copies, `record ${i} failed ${f.errorCode}`).toBe(0);
    }
    expect(result.written + result.failedCount).toBe(1200);
    expect((await errorRows(errorDir)).length).toBe(result.failedCount);
  }, 120_000);
});

describe('REST under mixed faults', () => {
  it('INSERT, UPDATE and DELETE with 500s, resets (before and during the body), 429s and row locks: exact', async () => {
    const prefix = 'RMIX';
    const spec = 'collections.500=0.15,collections.reset=0.15,collections.resetAfter=5,collections.429=0.1,rowLock=0.05,retryAfter=0';
    await faults(spec);
    const options: SalesforceDestinationOptions = { rest: { rowRetryBaseMs: 2, refusedBaseMs: 2, rowRetries: 6, refusedRetries: 10, batchSize: 50 } };
    const ins = await write(cfg({ apiPreference: 'REST_SYNC' }), accounts(prefix, 600), options);
    const found = await countByExt(prefix);
    const failed = new Set(ins.result.failed.map((f) => f.index));
    for (let i = 0; i < 600; i++) expect(found.get(`${prefix}-${i}`) ?? 0, `record ${i}`).toBe(failed.has(i) ? 0 : 1);
    expect(ins.result.written + ins.result.failedCount).toBe(600);

    await faults('');
    const ids = (await query<{ Id: string; External_Id__c: string }>(`SELECT Id, External_Id__c FROM Account WHERE External_Id__c LIKE '${prefix}-%'`)).map((r) => ({ Id: r.Id, NumberOfEmployees: 42 }));
    await faults(spec);
    const upd = await write(cfg({ apiPreference: 'REST_SYNC', writeOperationType: 'UPDATE', idFieldNames: ['Id'] }), ids, options);
    expect(upd.result).toMatchObject({ written: ids.length, failedCount: 0 });
    const del = await write(cfg({ apiPreference: 'REST_SYNC', writeOperationType: 'DELETE', idFieldNames: ['Id'] }), ids.map((r) => ({ Id: r.Id })), options);
    expect(del.result).toMatchObject({ written: ids.length, failedCount: 0 });
    await faults('');
    const all = await query<{ IsDeleted: boolean; NumberOfEmployees: number }>(`SELECT IsDeleted, NumberOfEmployees FROM Account WHERE External_Id__c LIKE '${prefix}-%'`, true);
    expect(all).toHaveLength(ids.length);
    expect(all.every((r) => r.IsDeleted && r.NumberOfEmployees === 42)).toBe(true);
  }, 120_000);
});
