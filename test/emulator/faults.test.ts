import { afterEach, describe, expect, it } from 'vitest';
import { isForceflowError } from '../../src/core/errors.ts';
import { parseFaultSpec } from '../../src/emulator/faults.ts';
import { startEmulator } from '../../src/emulator/index.ts';
import { bulkEmulator, type BulkEmu } from './bulk-fixture.ts';

let t: BulkEmu | undefined;
afterEach(async () => {
  await t?.emu.close();
  t = undefined;
});

const job = { operation: 'query', query: 'SELECT Id FROM Account' };

describe('fault spec parsing', () => {
  it('parses the compact string form and the object form alike', () => {
    const p = parseFaultSpec('bulkQuery.503=0.2,collections.429=0.1,query.reset=0.05,delay=50,session.expireAfter=100,bulkIngest.jobFail=0.5,rowLock=0.01,apiLimit.after=500,query.503.next=6');
    expect(p.groups.bulkQuery.status['503'].rate).toBe(0.2);
    expect(p.groups.collections.status['429'].rate).toBe(0.1);
    expect(p.groups.query.reset.rate).toBe(0.05);
    expect(p.groups.query.status['503'].next).toBe(6);
    expect(p).toMatchObject({ delay: 50, sessionExpireAfter: 100, apiLimitAfter: 500 });
    expect(p.jobFail.ingest.rate).toBe(0.5);
    expect(p.rowLock.rate).toBe(0.01);
    const o = parseFaultSpec({ 'all.500': 1, 'rowLock.next': 3 });
    expect(o.groups.oauth.status['500'].rate).toBe(1);
    expect(o.groups.bulkIngest.status['500'].rate).toBe(1);
    expect(o.rowLock.next).toBe(3);
  });

  it('reads retryAfter from the string and the object form, 1 second when absent', () => {
    expect(parseFaultSpec('query.503=1').retryAfter).toBe(1);
    expect(parseFaultSpec('query.503=1,retryAfter=0').retryAfter).toBe(0);
    expect(parseFaultSpec({ 'query.503': 1, retryAfter: 7 }).retryAfter).toBe(7);
    expect(parseFaultSpec({ RetryAfter: '0' }).retryAfter).toBe(0);
  });

  it('names the bad part of a spec', () => {
    for (const [spec, part] of [
      ['bulkQuery.503=2', 'bulkQuery.503=2'],
      ['nosuch.503=0.1', 'nosuch.503=0.1'],
      ['rest.418=0.1', 'rest.418=0.1'],
      ['delay', 'delay'],
      ['query.503.later=1', 'query.503.later=1'],
      ['retryAfter=-1', 'retryAfter=-1'],
      ['retryAfter=0.5', 'retryAfter=0.5'],
    ] as const) {
      try {
        parseFaultSpec(spec);
        expect.unreachable(spec);
      } catch (error) {
        expect(isForceflowError(error, 'EMULATOR_ERROR')).toBe(true);
        expect((error as Error).message).toContain(`"${part}"`);
      }
    }
  });

  it('refuses to start an emulator with a bad spec', async () => {
    await expect(startEmulator({ faults: 'bulkIngest.jobFail=yes' })).rejects.toMatchObject({ code: 'EMULATOR_ERROR' });
  });
});

describe('fault injection over HTTP', () => {
  it('answers 503/429/500 bursts with Salesforce-like bodies, then recovers', async () => {
    t = await bulkEmulator({ faults: 'bulkQuery.503.next=2,bulkQuery.429.next=1' });
    const a = await t.req('POST', '/jobs/query', job);
    expect(a.status).toBe(503);
    expect(await a.json()).toEqual([{ errorCode: 'SERVER_UNAVAILABLE', message: 'Server is temporarily unavailable. Please try again later.' }]);
    expect((await t.req('POST', '/jobs/query', job)).status).toBe(503);
    const c = await t.req('POST', '/jobs/query', job);
    expect(c.status).toBe(429);
    expect(((await c.json()) as { errorCode: string }[])[0]?.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
    expect((await t.req('POST', '/jobs/query', job)).status).toBe(200);
    expect(a.headers.get('retry-after')).toBe('1');
    expect(c.headers.get('retry-after')).toBe('1');
    // Other groups are untouched.
    expect((await t.req('GET', '/jobs/ingest')).status).toBe(200);
  });

  it('sends the retryAfter knob as the Retry-After of injected 503 and 429 answers (oauth 429 too)', async () => {
    t = await bulkEmulator({ faults: { 'bulkQuery.503.next': 1, 'query.429.next': 1, retryAfter: 0 } });
    const a = await t.req('POST', '/jobs/query', job);
    expect(a.status).toBe(503);
    expect(a.headers.get('retry-after')).toBe('0');
    const b = await t.req('GET', '/query?q=SELECT+Id+FROM+Account+LIMIT+1');
    expect(b.status).toBe(429);
    expect(b.headers.get('retry-after')).toBe('0');
    // Set at run time through the control endpoint, string form.
    const put = await fetch(`${t.emu.controlUrl}/faults`, { method: 'PUT', headers: t.emu.controlHeaders, body: 'oauth.429.next=1,retryAfter=5' });
    expect(((await put.json()) as { parsed: { retryAfter: number } }).parsed.retryAfter).toBe(5);
    const token = await fetch(`${t.emu.instanceUrl}/services/oauth2/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password' }) });
    expect(token.status).toBe(429);
    expect(token.headers.get('retry-after')).toBe('5');
  });

  it('targets the other endpoint groups: oauth, rest, query, collections', async () => {
    t = await bulkEmulator({ faults: 'oauth.500.next=1,rest.503.next=1,query.429.next=1,collections.500.next=1' });
    const token = await fetch(`${t.emu.instanceUrl}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: t.emu.refreshToken, client_id: t.emu.clientId, client_secret: t.emu.clientSecret }),
    });
    expect(token.status).toBe(500);
    expect(await token.json()).toEqual({ error: 'unknown_error', error_description: 'retry your request' });
    expect((await t.req('GET', '/sobjects/Account/describe')).status).toBe(503);
    expect((await t.req('GET', '/query?q=SELECT+Id+FROM+Account+LIMIT+1')).status).toBe(429);
    expect((await t.req('POST', '/composite/sobjects', { allOrNone: false, records: [{ attributes: { type: 'Account' }, Name: 'x' }] })).status).toBe(500);
    // Each burst is spent: the same calls now succeed.
    expect((await t.req('GET', '/sobjects/Account/describe')).status).toBe(200);
    expect((await t.req('GET', '/query?q=SELECT+Id+FROM+Account+LIMIT+1')).status).toBe(200);
    expect((await t.req('POST', '/composite/sobjects', { allOrNone: false, records: [{ attributes: { type: 'Account' }, Name: 'x' }] })).status).toBe(200);
  });

  it('is deterministic for a seed, and the rate is roughly honoured', async () => {
    const pattern = async (seed: number): Promise<string> => {
      const e = await bulkEmulator({ seed, faults: 'bulkIngest.500=0.3' });
      let s = '';
      for (let i = 0; i < 40; i++) s += (await e.req('GET', '/jobs/ingest')).status === 500 ? 'x' : '.';
      await e.emu.close();
      return s;
    };
    const a = await pattern(7);
    expect(await pattern(7)).toBe(a);
    expect(await pattern(8)).not.toBe(a);
    const hits = a.split('').filter((c) => c === 'x').length;
    expect(hits).toBeGreaterThan(4);
    expect(hits).toBeLessThan(24);
  });

  it('resets the connection part-way through a response body', async () => {
    t = await bulkEmulator({ faults: 'bulkQuery.reset.next=1,bulkQuery.resetAfter=5' });
    await expect(t.req('POST', '/jobs/query', job).then((r) => r.text())).rejects.toThrow();
    expect((await t.req('POST', '/jobs/query', job)).status).toBe(200);
  });

  it('delays answers', async () => {
    t = await bulkEmulator({ faults: 'bulkIngest.delay=200' });
    const start = Date.now();
    expect((await t.req('GET', '/jobs/ingest')).status).toBe(200);
    expect(Date.now() - start).toBeGreaterThanOrEqual(190);
  });

  it('expires sessions after N calls with 401 INVALID_SESSION_ID', async () => {
    t = await bulkEmulator({ faults: 'session.expireAfter=2' });
    expect((await t.req('GET', '/jobs/ingest')).status).toBe(200);
    expect((await t.req('GET', '/jobs/ingest')).status).toBe(200);
    const third = await t.req('GET', '/jobs/ingest');
    expect(third.status).toBe(401);
    expect(await third.text()).toContain('INVALID_SESSION_ID');
    expect((await t.req('GET', '/jobs/ingest')).status).toBe(401);
  });

  it('fails Bulk jobs with an errorMessage', async () => {
    t = await bulkEmulator({ faults: 'bulkQuery.jobFail.next=1,bulkIngest.jobFail=1' });
    const q = (await (await t.req('POST', '/jobs/query', job)).json()) as { id: string };
    const info = (await (await t.req('GET', `/jobs/query/${q.id}`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ state: 'Failed', errorMessage: expect.any(String) });
    const i = (await (await t.req('POST', '/jobs/ingest', { object: 'Account', operation: 'insert' })).json()) as { id: string };
    await t.req('PUT', `/jobs/ingest/${i.id}/batches`, 'Name\nA\n', { 'Content-Type': 'text/csv' });
    await t.req('PATCH', `/jobs/ingest/${i.id}`, { state: 'UploadComplete' });
    const ingest = (await (await t.req('GET', `/jobs/ingest/${i.id}`)).json()) as Record<string, unknown>;
    expect(ingest).toMatchObject({ state: 'Failed', numberRecordsProcessed: 0, errorMessage: expect.stringContaining(' : ') });
    expect(await (await t.req('GET', `/jobs/ingest/${i.id}/unprocessedrecords`)).text()).toBe('Name\n"A"\n');
  });

  it('fails rows with UNABLE_TO_LOCK_ROW', async () => {
    t = await bulkEmulator({ faults: 'rowLock.next=2' });
    const i = (await (await t.req('POST', '/jobs/ingest', { object: 'Account', operation: 'insert' })).json()) as { id: string };
    await t.req('PUT', `/jobs/ingest/${i.id}/batches`, 'Name\nA\nB\nC\n', { 'Content-Type': 'text/csv' });
    await t.req('PATCH', `/jobs/ingest/${i.id}`, { state: 'UploadComplete' });
    const info = (await (await t.req('GET', `/jobs/ingest/${i.id}`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 3, numberRecordsFailed: 2 });
    const failed = await (await t.req('GET', `/jobs/ingest/${i.id}/failedResults`)).text();
    expect(failed.split('\n').filter((l) => l.includes('UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record'))).toHaveLength(2);
  });

  it('spends the daily API limit after N calls', async () => {
    t = await bulkEmulator({ faults: 'apiLimit.after=3' });
    for (let i = 0; i < 3; i++) expect((await t.req('GET', '/jobs/ingest')).status).toBe(200);
    const res = await t.req('GET', '/jobs/ingest');
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
  });

  it('changes the spec at run time through the control endpoint', async () => {
    t = await bulkEmulator();
    const url = `${t.emu.controlUrl}/faults`;
    const put = await fetch(url, { method: 'PUT', body: 'bulkIngest.500.next=1', headers: t.emu.controlHeaders });
    expect(put.status).toBe(200);
    expect((await t.req('GET', '/jobs/ingest')).status).toBe(500);
    const state = (await (await fetch(url, { headers: t.emu.controlHeaders })).json()) as { spec: string; stats: { status: Record<string, number> } };
    expect(state.spec).toBe('bulkIngest.500.next=1');
    expect(state.stats.status['bulkIngest.500']).toBe(1);
    const bad = await fetch(url, { method: 'PUT', headers: t.emu.controlHeaders, body: JSON.stringify({ spec: 'rest.999=1' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }[])[0]?.message).toContain('"rest.999=1"');
    expect((await fetch(url, { method: 'PUT', body: '', headers: t.emu.controlHeaders })).status).toBe(200);
    expect((await t.req('GET', '/jobs/ingest')).status).toBe(200);
  });
});
