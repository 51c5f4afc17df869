import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import type { ReadRequest } from '../../src/core/connector.ts';
import type { Row } from '../../src/core/types.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { isTemporaryJobFailure } from '../../src/connectors/salesforce/bulk-source.ts';
import { captureContext } from '../helpers/run-context.ts';

/** Read faults the source tests do not cover: on the Bulk path, and errors that must name the object and the call. */

const RETRY = { retries: 3, baseDelayMs: 5, maxDelayMs: 20 };
const BULK = { pollInitialMs: 10, pollMaxMs: 20, maxRecords: 3_000, jobRetryBaseMs: 5 };

describe('Salesforce read: faults', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ generate: { Contact: 20_000 }, seed: 4 });
  });
  afterAll(async () => emu?.close());
  const put = (path: string, body: unknown) => fetch(`${emu.controlUrl}${path}`, { method: 'PUT', body: JSON.stringify(body), headers: emu.controlHeaders });
  const setFaults = (spec: string) => put('/faults', { spec });
  afterEach(async () => {
    await setFaults('');
    await put('/limits', { used: 0 });
  });

  async function read(req: ReadRequest) {
    const ctx = captureContext();
    const { source, client } = connectSalesforce(emu.connectorProfile, { retry: RETRY, log: ctx.log, source: { bulk: BULK } });
    const rows: Row[] = [];
    const error = await (async () => {
      const stream = await source.open(req, ctx);
      for await (const b of stream.batches) rows.push(...b.rows);
    })().catch((e: unknown) => e);
    return { rows, error: error as (Error & { code?: string }) | undefined, source, client, ctx };
  }
  const C = { entity: 'Contact', fields: ['Id', 'LastName'] };

  it('Bulk: the session expiring between result pages is refreshed and the read completes', async () => {
    await setFaults('session.expireAfter=3');
    const r = await read({ ...C, apiPreference: 'BULKV2' });
    expect(r.error).toBeUndefined();
    expect(new Set(r.rows.map((x) => x['Id'])).size).toBe(20_000);
    expect(r.ctx.lines.some((l) => l['msg'] === 'salesforce session obtained')).toBe(true);
  });

  it('Bulk: 503/429 bursts on job creation, polling and results are retried', async () => {
    await setFaults('bulkQuery.503.next=2,bulkQuery.429.next=1,retryAfter=0');
    const r = await read({ ...C, apiPreference: 'BULKV2' });
    expect(r.error).toBeUndefined();
    expect(r.rows).toHaveLength(20_000);
  });

  it('Salesforce down for good: SF_UNAVAILABLE naming the object, the call and the attempts', async () => {
    await setFaults('query.503=1,bulkQuery.503=1,retryAfter=0');
    const rest = await read({ ...C, apiPreference: 'REST_SYNC' });
    expect(isForceflowError(rest.error, 'SF_UNAVAILABLE')).toBe(true);
    expect(rest.error?.message).toMatch(/query Contact .*after 4 attempt/);
    const bulk = await read({ ...C, apiPreference: 'BULKV2' });
    expect(isForceflowError(bulk.error, 'SF_UNAVAILABLE')).toBe(true);
    expect(bulk.error?.message).toMatch(/create Bulk query job for Contact/);
    const auto = await read(C);
    expect(auto.error?.message).toMatch(/count Contact/);
  });

  it('the API limit spent in the middle of a Bulk read: SF_REQUEST_LIMIT_EXCEEDED naming the results call, nothing retried', async () => {
    await setFaults('apiLimit.after=4');
    const r = await read({ ...C, apiPreference: 'BULKV2' });
    expect(isForceflowError(r.error, 'SF_REQUEST_LIMIT_EXCEEDED')).toBe(true);
    expect(r.error?.message).toMatch(/Bulk query results of Contact.*daily API limit/);
    expect(r.ctx.lines.some((l) => l['msg'] === 'retrying Salesforce call')).toBe(false);
    expect(r.rows.length).toBeLessThan(20_000);
  });

  it('a Bulk query job Failed for a temporary reason ("Please retry the job") is run again as a new job, and the read completes', async () => {
    await setFaults('bulkQuery.jobFail.next=1');
    const r = await read({ ...C, apiPreference: 'BULKV2' });
    expect(r.error).toBeUndefined();
    expect(new Set(r.rows.map((x) => x['Id'])).size).toBe(20_000);
    expect(r.ctx.lines.filter((l) => l['msg'] === 'bulk query job failed for a temporary reason; running it again as a new job')).toHaveLength(1);
  });

  it('a Bulk query job that keeps failing for a temporary reason: SF_BULK_JOB_FAILED_TEMPORARY (retryable) after 4 jobs, naming the object and the reason', async () => {
    await setFaults('bulkQuery.jobFail=1');
    const r = await read({ ...C, apiPreference: 'BULKV2' });
    expect(isForceflowError(r.error, 'SF_BULK_JOB_FAILED_TEMPORARY')).toBe(true);
    expect((r.error as { kind?: string }).kind).toBe('retryable');
    expect(r.error?.message).toMatch(/Bulk query job for Contact ended Failed 4 time\(s\).*Please retry the job/);
    const calls = (await (await fetch(`${emu.controlUrl}/calls`, { headers: emu.controlHeaders })).json()) as { calls: Record<string, number> };
    expect(Object.entries(calls.calls).filter(([k]) => /^POST .*jobs\/query$/.test(k)).reduce((n, [, v]) => n + v, 0)).toBeGreaterThanOrEqual(4);
    expect(r.rows).toEqual([]);
  });

  it('tells temporary job failures from others by Salesforce\'s errorMessage', () => {
    expect(isTemporaryJobFailure('InternalServerError : Internal Server Error. Please retry the job.')).toBe(true);
    expect(isTemporaryJobFailure('TooManyLockFailure : Too many lock failure 200 Trying again later.')).toBe(true);
    expect(isTemporaryJobFailure('InvalidBatch : Field name not found : Foo__c')).toBe(false);
    expect(isTemporaryJobFailure("MALFORMED_QUERY : unexpected token: 'FORM'")).toBe(false);
    expect(isTemporaryJobFailure(undefined)).toBe(false);
  });
});
