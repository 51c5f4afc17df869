import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

/** The emulator keeps each limit as Salesforce does, and answers /limits, Sforce-Limit-Info and refusals in its shapes. */
let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  await control('POST', '/reset');
});

const control = (method: string, path: string, body?: unknown): Promise<Response> =>
  fetch(`${emu.controlUrl}${path}`, { method, headers: emu.controlHeaders, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const api = (method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Response> =>
  fetch(`${emu.instanceUrl}/services/data/v58.0${path}`, {
    method,
    headers: { Authorization: `Bearer ${emu.accessToken}`, ...(body === undefined ? {} : { 'Content-Type': contentType }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
type Limits = Record<string, { Max: number; Remaining: number }>;
const limits = async (): Promise<Limits> => (await (await api('GET', '/limits')).json()) as Limits;

describe('emulator limits', () => {
  it('counts every REST call in DailyApiRequests and reports it in Sforce-Limit-Info on every answer', async () => {
    const a = await api('GET', '/sobjects/Account/describe');
    const b = await api('GET', '/query?q=SELECT+Id+FROM+Account+LIMIT+1');
    const missing = await api('GET', '/sobjects/NoSuchObject__c/describe');
    expect(a.headers.get('sforce-limit-info')).toBe('api-usage=1/1000000');
    expect(b.headers.get('sforce-limit-info')).toBe('api-usage=2/1000000');
    // An error answer is counted too, and carries the header.
    expect(missing.status).toBe(404);
    expect(missing.headers.get('sforce-limit-info')).toBe('api-usage=3/1000000');
    const l = await limits();
    expect(l['DailyApiRequests']).toEqual({ Max: 1_000_000, Remaining: 1_000_000 - 4 });
  });

  it('refuses calls with REQUEST_LIMIT_EXCEEDED once spent, the header still on the answer', async () => {
    const set = await control('PUT', '/limits', { max: 100, remaining: 1 });
    expect(((await set.json()) as { used: number }).used).toBe(99);
    expect((await api('GET', '/sobjects/Account/describe')).status).toBe(200);
    const refused = await api('GET', '/sobjects/Account/describe');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    expect(refused.headers.get('sforce-limit-info')).toBe('api-usage=100/100');
  });

  it('counts Bulk API 2.0 query jobs in DailyBulkV2QueryJobs and refuses one past the maximum', async () => {
    await control('PUT', '/limits', { bulkV2QueryJobs: { max: 2, used: 0 } });
    const create = (): Promise<Response> => api('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id FROM Account' });
    expect((await create()).status).toBe(200);
    expect((await limits())['DailyBulkV2QueryJobs']).toEqual({ Max: 2, Remaining: 1 });
    expect((await create()).status).toBe(200);
    const refused = await create();
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual([{ message: 'Max bulk v2 query jobs (2) per 24 hrs has been reached', errorCode: 'LIMIT_EXCEEDED' }]);
  });

  it('counts ingest batches (one per 10,000 rows) in DailyBulkApiBatches when the upload is complete', async () => {
    const before = (await limits())['DailyBulkApiBatches'] as { Max: number; Remaining: number };
    const job = (await (await api('POST', '/jobs/ingest', { object: 'Account', operation: 'insert', lineEnding: 'LF' })).json()) as { id: string };
    const rows = Array.from({ length: 10_001 }, (_, i) => `Budget ${i}`).join('\n');
    expect((await api('PUT', `/jobs/ingest/${job.id}/batches`, `Name\n${rows}\n`, 'text/csv')).status).toBe(201);
    expect((await api('PATCH', `/jobs/ingest/${job.id}`, { state: 'UploadComplete' })).status).toBe(200);
    expect((await limits())['DailyBulkApiBatches']).toEqual({ Max: before.Max, Remaining: before.Remaining - 2 });

    await control('PUT', '/limits', { bulkApiBatches: { remaining: 0 } });
    const refused = await api('POST', '/jobs/ingest', { object: 'Account', operation: 'insert' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as Array<{ errorCode: string }>)[0]?.errorCode).toBe('LIMIT_EXCEEDED');
  });

  it('refuses a long-running request past the concurrent maximum with ConcurrentPerOrgLongTxn', async () => {
    const job = (await (await api('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id FROM Account' })).json()) as { id: string };
    for (let i = 0; i < 50; i++) {
      const info = (await (await api('GET', `/jobs/query/${job.id}`)).json()) as { state: string };
      if (info.state === 'JobComplete') break;
    }
    await control('PUT', '/limits', { maxConcurrentLongRunning: 0 });
    const refused = await api('GET', `/jobs/query/${job.id}/results`);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual([{ message: 'ConcurrentPerOrgLongTxn Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    await control('PUT', '/limits', { maxConcurrentLongRunning: 25 });
    expect((await api('GET', `/jobs/query/${job.id}/results`)).status).toBe(200);
    const state = (await (await control('GET', '/limits')).json()) as { concurrentLongRunning: { running: number } };
    expect(state.concurrentLongRunning.running).toBe(0);
  });

  it('refuses a control body that is not whole numbers, naming the field', async () => {
    const res = await control('PUT', '/limits', { bulkV2QueryJobs: { max: -1 } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Array<{ message: string }>)[0]?.message).toMatch(/^bulkV2QueryJobs\.max: /);
  });
});
