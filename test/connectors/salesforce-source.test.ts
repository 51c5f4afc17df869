import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import type { ReadRequest } from '../../src/core/connector.ts';
import type { Row } from '../../src/core/types.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { captureContext } from '../helpers/run-context.ts';

const FAST_RETRY = { retries: 8, baseDelayMs: 5, maxDelayMs: 40 };
const FAST_BULK = { jobRetryBaseMs: 5, pollInitialMs: 10, pollMaxMs: 50 };

async function readAll(emu: RunningEmulator, req: ReadRequest, options: Parameters<typeof connectSalesforce>[1] = {}) {
  const ctx = captureContext();
  const { source, client } = connectSalesforce(emu.connectorProfile, { retry: FAST_RETRY, log: ctx.log, ...options, source: { bulk: FAST_BULK, ...options.source } });
  const stream = await source.open(req, ctx);
  const rows: Row[] = [];
  let batches = 0;
  for await (const b of stream.batches) {
    batches++;
    rows.push(...b.rows);
  }
  return { stream, rows, batches, client, source, ctx };
}

const byId = (a: Row, b: Row): number => String(a['Id']).localeCompare(String(b['Id']));

async function control(emu: RunningEmulator, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${emu.controlUrl}${path}`, { method, headers: emu.controlHeaders, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

describe('Salesforce source: cancellation while a Bulk job runs', () => {
  it('aborts the job and ends with RUN_CANCELED', async () => {
    const slow = await startEmulator({ bulkProcessingDelayMs: 60_000 });
    try {
      const controller = new AbortController();
      const ctx = captureContext(controller.signal);
      const { source, client } = connectSalesforce(slow.connectorProfile, { retry: FAST_RETRY, log: ctx.log, signal: controller.signal, source: { bulk: FAST_BULK } });
      const stream = await source.open({ entity: 'Account', fields: ['Id'], apiPreference: 'BULKV2' }, ctx);
      // Cancel once the job exists and is being polled.
      const timer = setInterval(() => {
        if (source.stats.jobId) {
          clearInterval(timer);
          setTimeout(() => controller.abort(), 100);
        }
      }, 10);
      const error = await (async () => {
        for await (const _b of stream.batches) {
          // no rows expected before the abort
        }
      })().catch((e: unknown) => e);
      expect(isForceflowError(error, 'RUN_CANCELED')).toBe(true);
      const { client: checker } = connectSalesforce(slow.connectorProfile, { retry: FAST_RETRY });
      const job = await checker.json<{ state: string }>({ method: 'GET', path: `/jobs/query/${source.stats.jobId}`, call: 'check' });
      expect(job.state).toBe('Aborted');
      expect(client.apiCalls).toBeGreaterThan(1);
    } finally {
      await slow.close();
    }
  });
});

describe('Salesforce source against the emulator', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ generate: { Contact: 25_000 }, seed: 7 });
  });
  afterAll(async () => emu?.close());

  const accountFields = ['Id', 'Name', 'AnnualRevenue', 'NumberOfEmployees', 'BillingAddress', 'ShippingCity', 'CreatedDate', 'LastModifiedDate', 'Description', 'IsDeleted'];

  it('reads the same canonical records through REST and through Bulk API 2.0, compound fields included', async () => {
    const rest = await readAll(emu, { entity: 'Account', fields: accountFields, apiPreference: 'REST_SYNC' });
    const bulk = await readAll(emu, { entity: 'Account', fields: accountFields, apiPreference: 'BULKV2' });
    expect(rest.stream.api).toBe('REST_SYNC');
    expect(bulk.stream.api).toBe('BULKV2');
    expect(rest.rows.length).toBeGreaterThan(500);
    expect(bulk.rows.sort(byId)).toEqual(rest.rows.sort(byId));
    const withAddress = rest.rows.find((r) => r['BillingAddress'] !== null);
    expect(withAddress?.['BillingAddress']).toMatchObject({ city: expect.any(String) });
    const created = String(rest.rows[0]?.['CreatedDate']);
    expect(created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    // Bulk never selected the compound field: its components were selected and the value rebuilt.
    expect(bulk.source.stats.soql).toContain('BillingCity');
    expect(bulk.source.stats.soql).not.toContain('BillingAddress');
  });

  it('reads location compound fields and every value type identically on both APIs', async () => {
    const rest = await readAll(emu, { entity: 'Invoice__c', apiPreference: 'REST_SYNC' });
    const bulk = await readAll(emu, { entity: 'Invoice__c', apiPreference: 'BULKV2' });
    expect(bulk.rows.sort(byId)).toEqual(rest.rows.sort(byId));
    expect(rest.rows.some((r) => r['Location__c'] !== null && typeof (r['Location__c'] as Record<string, unknown>)['latitude'] === 'number')).toBe(true);
  });

  it('AUTOMATIC picks REST below 1,000,000 records and records why', async () => {
    const r = await readAll(emu, { entity: 'Account', fields: ['Id', 'Name'] });
    expect(r.stream.api).toBe('REST_SYNC');
    expect(r.stream.apiReason).toMatch(/below the source threshold of 1,000,000/);
    expect(r.stream.estimatedCount).toBe(r.rows.length);
    expect(r.ctx.lines.some((l) => l['msg'] === 'salesforce read API chosen' && l['api'] === 'REST_SYNC')).toBe(true);
  });

  it('pages through many REST pages of a generated object with flat batches', async () => {
    const r = await readAll(emu, { entity: 'Contact', fields: ['Id', 'LastName', 'MailingAddress'], apiPreference: 'REST_SYNC' });
    expect(r.rows).toHaveLength(25_000);
    expect(r.batches).toBe(13);
    expect(new Set(r.rows.map((x) => x['Id'])).size).toBe(25_000);
  });

  it('reads deleted records only with includeDeletedRecords', async () => {
    const live = await readAll(emu, { entity: 'Account', fields: ['Id', 'IsDeleted'], apiPreference: 'REST_SYNC' });
    const all = await readAll(emu, { entity: 'Account', fields: ['Id', 'IsDeleted'], includeDeleted: true, apiPreference: 'REST_SYNC' });
    const allBulk = await readAll(emu, { entity: 'Account', fields: ['Id', 'IsDeleted'], includeDeleted: true, apiPreference: 'BULKV2' });
    expect(live.rows.every((r) => r['IsDeleted'] === false)).toBe(true);
    expect(all.rows.filter((r) => r['IsDeleted'] === true).length).toBeGreaterThan(0);
    expect(all.rows.length).toBe(live.rows.length + all.rows.filter((r) => r['IsDeleted'] === true).length);
    expect(allBulk.rows.sort(byId)).toEqual(all.rows.sort(byId));
  });

  it('reads objects too wide for one REST query as field groups joined by Id, or through Bulk on AUTOMATIC', async () => {
    const plain = await readAll(emu, { entity: 'Account', apiPreference: 'REST_SYNC' });
    const grouped = await readAll(emu, { entity: 'Account', apiPreference: 'REST_SYNC' }, { source: { maxRestUrlLength: 900 } });
    expect(grouped.stream.apiReason).toMatch(/joined by Id/);
    expect(grouped.source.stats.soql?.split('\n').length).toBeGreaterThan(1);
    expect(grouped.rows.sort(byId)).toEqual(plain.rows.sort(byId));
    const auto = await readAll(emu, { entity: 'Account', fields: ['Id', 'Name'] }, { source: { maxRestUrlLength: 50 } });
    expect(auto.stream.api).toBe('BULKV2');
    expect(auto.stream.apiReason).toMatch(/URI limit/);
  });

  it('pushes filters down with values that cannot change the query', async () => {
    const all = await readAll(emu, { entity: 'Account', fields: ['Id', 'Name'] });
    for (const hostile of [`x' OR Name != '`, `') OR (Name != null`, `\\' OR Id != null OR Name = \\'`, `%`]) {
      const r = await readAll(emu, { entity: 'Account', fields: ['Id', 'Name'], filters: [{ field: 'Name', operator: 'EQUAL_TO', values: [hostile] }] });
      expect(r.rows).toEqual([]);
      const c = await readAll(emu, { entity: 'Account', fields: ['Id', 'Name'], filters: [{ field: 'Name', operator: 'CONTAINS', values: [hostile] }] });
      expect(c.rows.length).toBeLessThan(all.rows.length);
    }
    const some = String(all.rows[3]?.['Name']);
    const exact = await readAll(emu, { entity: 'Account', fields: ['Id', 'Name'], filters: [{ field: 'Name', operator: 'EQUAL_TO', values: [some] }] });
    expect(exact.rows.map((r) => r['Name'])).toContain(some);
    await expect(readAll(emu, { entity: 'Account', fields: ['Id'], filters: [{ field: 'AnnualRevenue', operator: 'GREATER_THAN', values: ['1 OR Name != null'] }] })).rejects.toThrow(/AnnualRevenue.*not a valid currency/);
  });

  it('names the object or field when they do not exist', async () => {
    await expect(readAll(emu, { entity: 'Acount', fields: ['Id'] })).rejects.toThrow(/no object "Acount"/);
    await expect(readAll(emu, { entity: 'Account', fields: ['Id', 'Nmae'] })).rejects.toThrow(/Account has no field "Nmae"/);
  });

  describe('faults', () => {
    const setFaults = (spec: string) => control(emu, 'PUT', '/faults', { spec });
    afterAll(async () => setFaults(''));

    it('survives 503 and 429 bursts and connection resets mid-page', async () => {
      const expected = await readAll(emu, { entity: 'Contact', fields: ['Id', 'LastName'], apiPreference: 'BULKV2' }, { source: { bulk: { ...FAST_BULK, maxRecords: 4000 } } });
      await setFaults('query.503.next=3,bulkQuery.429.next=2,bulkQuery.reset=0.5,bulkQuery.resetAfter=20000,retryAfter=0');
      const rest = await readAll(emu, { entity: 'Contact', fields: ['Id', 'LastName'], apiPreference: 'REST_SYNC' });
      const bulk = await readAll(emu, { entity: 'Contact', fields: ['Id', 'LastName'], apiPreference: 'BULKV2' }, { source: { bulk: { ...FAST_BULK, maxRecords: 4000 } } });
      await setFaults('');
      expect(rest.rows.sort(byId)).toEqual(expected.rows.sort(byId));
      expect(bulk.rows.sort(byId)).toEqual(expected.rows.sort(byId));
      expect(bulk.ctx.lines.some((l) => String(l['msg']).includes('broke'))).toBe(true);
      expect(rest.ctx.lines.some((l) => l['msg'] === 'retrying Salesforce call')).toBe(true);
    });

    it('refreshes the session when it expires mid-read', async () => {
      await setFaults('session.expireAfter=3');
      const r = await readAll(emu, { entity: 'Contact', fields: ['Id'], apiPreference: 'REST_SYNC' });
      await setFaults('');
      expect(r.rows).toHaveLength(25_000);
      expect(r.ctx.lines.some((l) => l['msg'] === 'salesforce session obtained')).toBe(true);
    });

    it('fails clearly when the Bulk query job fails, and when the API limit is spent', async () => {
      await setFaults('bulkQuery.jobFail=1');
      const failed = await readAll(emu, { entity: 'Account', fields: ['Id'], apiPreference: 'BULKV2' }).catch((e: unknown) => e);
      await setFaults('');
      expect(isForceflowError(failed, 'SF_BULK_JOB_FAILED_TEMPORARY')).toBe(true);
      expect(String((failed as Error).message)).toMatch(/Bulk query job for Account ended Failed 4 time\(s\).*last job 750\w+/);

      await setFaults('apiLimit.after=1');
      const limited = await readAll(emu, { entity: 'Account', fields: ['Id'], apiPreference: 'REST_SYNC' }).catch((e: unknown) => e);
      await setFaults('');
      await control(emu, 'PUT', '/limits', { used: 0 });
      expect(isForceflowError(limited, 'SF_REQUEST_LIMIT_EXCEEDED')).toBe(true);
      expect(String((limited as Error).message)).toMatch(/daily API limit is spent/);
    });

    it('deletes a completed Bulk query job when the reader stops early', async () => {
      const ctx = captureContext();
      const { source, client } = connectSalesforce(emu.connectorProfile, { retry: FAST_RETRY, log: ctx.log, source: { bulk: { ...FAST_BULK, batchRows: 100 } } });
      const stream = await source.open({ entity: 'Contact', fields: ['Id'], apiPreference: 'BULKV2' }, ctx);
      for await (const _b of stream.batches) break;
      const gone = await client.json({ method: 'GET', path: `/jobs/query/${source.stats.jobId}`, call: 'check' }).catch((e: unknown) => e);
      expect(isForceflowError(gone)).toBe(true);
      expect((gone as { details: { errorCode: string } }).details.errorCode).toBe('NOT_FOUND');
    });
  });
});
