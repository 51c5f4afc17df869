import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkEmulator, seedAccounts, type BulkEmu } from './bulk-fixture.ts';

let t: BulkEmu;
let ids: string[];

beforeAll(async () => {
  t = await bulkEmulator({}, '60.0');
  ids = seedAccounts(t.table, 25, t.userId, (i) => ({
    NumberOfEmployees: i === 0 ? 800 : i,
    AnnualRevenue: i === 0 ? 912260031 : i === 1 ? 100 : i === 2 ? 0.5 : null,
    Phone: i % 2 === 0 ? null : `555-${i}`,
    Description: i === 3 ? 'He said "hi", then\nleft' : null,
  }));
});
afterAll(async () => {
  await t.emu.close();
});

async function createQuery(query: string, extra: Record<string, unknown> = {}, req = t.req): Promise<Record<string, unknown>> {
  const res = await req('POST', '/jobs/query', { operation: 'query', query, ...extra });
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

async function results(id: string, qs = ''): Promise<{ status: number; text: string; locator: string | null; count: string | null }> {
  const res = await t.req('GET', `/jobs/query/${id}/results${qs}`, undefined, { Accept: 'text/csv' });
  if (res.status === 200) expect(res.headers.get('content-type')).toBe('text/csv; charset=UTF-8');
  return { status: res.status, text: await res.text(), locator: res.headers.get('sforce-locator'), count: res.headers.get('sforce-numberofrecords') };
}

describe('Bulk API 2.0 query', () => {
  it('creates a job (UploadComplete, no jobType) that the first poll sees JobComplete', async () => {
    const res = await t.req('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id, Name FROM Account' });
    const raw = await res.text();
    expect(raw).toContain('"apiVersion":60.0');
    const job = JSON.parse(raw) as Record<string, unknown>;
    expect(String(job['id'])).toMatch(/^750[A-Za-z0-9]{15}$/);
    expect(job).toMatchObject({ operation: 'query', object: 'Account', state: 'UploadComplete', concurrencyMode: 'Parallel', contentType: 'CSV', lineEnding: 'LF', columnDelimiter: 'COMMA' });
    expect(job).not.toHaveProperty('jobType');
    expect(job).not.toHaveProperty('numberRecordsProcessed');
    const info = (await (await t.req('GET', `/jobs/query/${String(job['id'])}`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ state: 'JobComplete', jobType: 'V2Query', numberRecordsProcessed: 25, retries: 0, isPkChunkingSupported: true });
  });

  it('serves CSV as Salesforce prints it: all quoted, nulls empty, Z datetimes, Java doubles', async () => {
    const job = await createQuery('SELECT Id, Name, NumberOfEmployees, AnnualRevenue, Phone, Description, CreatedDate, IsDeleted FROM Account ORDER BY External_Id__c LIMIT 4');
    const r = await results(String(job['id']));
    expect(r.status).toBe(200);
    expect(r.locator).toBe('null');
    expect(r.count).toBe('4');
    const lines = r.text.split('\n');
    expect(lines[0]).toBe('"Id","Name","NumberOfEmployees","AnnualRevenue","Phone","Description","CreatedDate","IsDeleted"');
    expect(lines[1]).toMatch(new RegExp(`^"${ids[0] ?? ''}","Account 0","800","9.12260031E8","","","\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z","false"$`));
    expect(lines[2]).toContain('"Account 1","1","100.0","555-1"');
    expect(lines[3]).toContain('"Account 10","10","",""');
    const quoted = await createQuery("SELECT Description FROM Account WHERE External_Id__c = 'ext-3'");
    expect((await results(String(quoted['id']))).text).toBe('"Description"\n"He said ""hi"", then\nleft"\n');
  });

  it('pages with maxRecords: header on every page, Sforce-Locator continuation, null on the last page, re-fetchable', async () => {
    const job = await createQuery('SELECT Id, Name FROM Account');
    const id = String(job['id']);
    const seen: string[] = [];
    let locator: string | null = '';
    let pages = 0;
    const first = await results(id, '?maxRecords=10');
    while (locator !== 'null') {
      const r = await results(id, `?maxRecords=10${locator ? `&locator=${locator}` : ''}`);
      expect(r.status).toBe(200);
      const lines = r.text.trimEnd().split('\n');
      expect(lines[0]).toBe('"Id","Name"');
      expect(Number(r.count)).toBe(lines.length - 1);
      seen.push(...lines.slice(1));
      locator = r.locator;
      expect(locator).not.toBeNull();
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    expect(first.locator).not.toBe('null');
    const again = await results(id, `?maxRecords=10&locator=${first.locator ?? ''}`);
    const again2 = await results(id, `?maxRecords=10&locator=${first.locator ?? ''}`);
    expect(again.text).toBe(again2.text);
    expect(again.text.split('\n')[1]).toBe(seen[10]);
  });

  it('returns the header row for zero rows', async () => {
    const job = await createQuery("SELECT Id, Name FROM Account WHERE Name = 'nobody'");
    const info = (await (await t.req('GET', `/jobs/query/${String(job['id'])}`)).json()) as Record<string, unknown>;
    expect(info['numberRecordsProcessed']).toBe(0);
    const r = await results(String(job['id']));
    expect(r).toMatchObject({ status: 200, text: '"Id","Name"\n', locator: 'null', count: '0' });
  });

  it('honours columnDelimiter and lineEnding, and canonical relationship headers', async () => {
    const job = await createQuery('select id, owner.username from account limit 1', { columnDelimiter: 'PIPE', lineEnding: 'CRLF' });
    const r = await results(String(job['id']));
    expect(r.text.startsWith('"Id"|"Owner.Username"\r\n')).toBe(true);
  });

  it('rejects compound fields and subqueries at job creation with Salesforce’s errors', async () => {
    const compound = await t.req('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id, BillingAddress FROM Account' });
    expect(compound.status).toBe(400);
    expect(await compound.json()).toEqual([{ errorCode: 'API_ERROR', message: 'Selecting compound data not supported in Bulk Query' }]);
    const sub = await t.req('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id, (SELECT Id FROM ChildAccounts) FROM Account' });
    expect(sub.status).toBe(400);
    expect(await sub.json()).toEqual([{ errorCode: 'API_ERROR', message: 'Aggregate Relationships not supported in Bulk V2 Query with CSV content type' }]);
    const bad = await t.req('POST', '/jobs/query', { operation: 'query', query: 'SELECT Nope__c FROM Account' });
    expect(bad.status).toBe(400);
  });

  it('queryAll includes deleted records', async () => {
    const extra = seedAccounts(t.table, 1, t.userId, () => ({ Name: 'Deleted one', External_Id__c: 'del-q' }));
    t.table.delete(extra[0] ?? '', t.userId);
    const q = await createQuery("SELECT Id, IsDeleted FROM Account WHERE External_Id__c = 'del-q'");
    expect((await results(String(q['id']))).text).toBe('"Id","IsDeleted"\n');
    const all = await createQuery("SELECT Id, IsDeleted FROM Account WHERE External_Id__c = 'del-q'", { operation: 'queryAll' });
    expect((await results(String(all['id']))).text).toBe(`"Id","IsDeleted"\n"${extra[0] ?? ''}","true"\n`);
  });

  it('refuses results fetched with another API version (409), and serves resultPages from 58.0', async () => {
    const job = await createQuery('SELECT Id FROM Account');
    const id = String(job['id']);
    const other = await fetch(`${t.emu.instanceUrl}/services/data/v59.0/jobs/query/${id}/results`, { headers: t.auth });
    expect(other.status).toBe(409);
    const pagesRes = await t.req('GET', `/jobs/query/${id}/resultPages?maxRecords=10`);
    expect(pagesRes.status).toBe(200);
    const pages = (await pagesRes.json()) as { resultPages: { resultUrl: string }[]; done: boolean; nextRecordsUrl: string | null };
    expect(pages.done).toBe(true);
    expect(pages.nextRecordsUrl).toBeNull();
    expect(pages.resultPages).toHaveLength(3);
    let rows = 0;
    for (const p of pages.resultPages) {
      const res = await fetch(`${t.emu.instanceUrl}${p.resultUrl}`, { headers: t.auth });
      rows += Number(res.headers.get('sforce-numberofrecords'));
      expect((await res.text()).startsWith('"Id"\n')).toBe(true);
    }
    expect(rows).toBe(25);
    const old = await bulkEmulator({}, '57.0');
    try {
      const j = (await (await old.req('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id FROM Account' })).json()) as { id: string };
      expect((await old.req('GET', `/jobs/query/${j.id}/resultPages`)).status).toBe(404);
    } finally {
      await old.emu.close();
    }
  });

  it('aborts only unfinished jobs and deletes finished ones', async () => {
    const job = await createQuery('SELECT Id FROM Account');
    const id = String(job['id']);
    await t.req('GET', `/jobs/query/${id}`);
    const abort = await t.req('PATCH', `/jobs/query/${id}`, { state: 'Aborted' });
    expect(abort.status).toBe(400);
    expect(await abort.json()).toEqual([{ errorCode: 'INVALIDJOBSTATE', message: 'Aborting already Completed Job not allowed' }]);
    expect((await t.req('DELETE', `/jobs/query/${id}`)).status).toBe(204);
    expect((await t.req('GET', `/jobs/query/${id}`)).status).toBe(404);
    const slow = await bulkEmulator({ bulkProcessingDelayMs: 5_000 });
    try {
      const fresh = await createQuery('SELECT Id FROM Account', {}, slow.req);
      const polled = (await (await slow.req('GET', `/jobs/query/${String(fresh['id'])}`)).json()) as { state: string };
      expect(polled.state).toBe('InProgress');
      // Results before JobComplete: 412 JOB_NOT_COMPLETE, as the Get Results for a Query Job page documents.
      const notYet = await slow.req('GET', `/jobs/query/${String(fresh['id'])}/results`);
      expect(notYet.status).toBe(412);
      expect(await notYet.json()).toEqual([
        { errorCode: 'JOB_NOT_COMPLETE', message: 'can only download query results of successfully completed bulk job with status: JOB_COMPLETE. Current status: IN_PROGRESS' },
      ]);
      const aborted = (await (await slow.req('PATCH', `/jobs/query/${String(fresh['id'])}`, { state: 'Aborted' })).json()) as { state: string };
      expect(aborted.state).toBe('Aborted');
      const afterAbort = await slow.req('GET', `/jobs/query/${String(fresh['id'])}/results`);
      expect(afterAbort.status).toBe(412);
      expect(((await afterAbort.json()) as { message: string }[])[0]?.message).toMatch(/Current status: ABORTED$/);
      const list = (await (await slow.req('GET', '/jobs/query')).json()) as { records: { id: string; jobType: string; state: string }[] };
      expect(list.records.some((r) => r.id === fresh['id'] && r.jobType === 'V2Query' && r.state === 'Aborted')).toBe(true);
    } finally {
      await slow.emu.close();
    }
  });
});
