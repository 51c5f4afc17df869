import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jsforce from 'jsforce';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

interface QueryBody {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: Record<string, unknown>[];
}

let now = Date.UTC(2024, 3, 17, 12, 0, 0);
let emu: RunningEmulator;
let conn: jsforce.Connection;

const auth = (): Record<string, string> => ({ Authorization: `Bearer ${emu.accessToken}` });
async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; body: unknown; headers: Headers }> {
  const res = await fetch(`${emu.instanceUrl}${path}`, { headers: { ...auth(), ...headers } });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, text, body, headers: res.headers };
}
const q = (soql: string, all = false, version = '58.0'): string => `/services/data/v${version}/${all ? 'queryAll' : 'query'}?q=${encodeURIComponent(soql)}`;
const liveCount = (object: string, includeDeleted = false): number => emu.org.store.table(object)?.count(includeDeleted) ?? -1;
const locatorCalls = (): number => emu.org.callCounts.get('GET /services/data/:version/query/:locator') ?? 0;

beforeAll(async () => {
  emu = await startEmulator({ clock: () => now });
  conn = new jsforce.Connection({ instanceUrl: emu.instanceUrl, accessToken: emu.accessToken, version: '58.0' });
});
afterAll(async () => {
  await emu.close();
});

describe('REST query through jsforce', () => {
  it('autoFetches every page of a query with Sforce-Query-Options batchSize', async () => {
    const expected = liveCount('Contact');
    expect(expected).toBeGreaterThan(1000);
    const before = locatorCalls();
    const result = await conn.query<{ Id: string; LastName: string }>('SELECT Id, LastName, Account.Name FROM Contact', {
      autoFetch: true,
      maxFetch: 100_000,
      headers: { 'Sforce-Query-Options': 'batchSize=200' },
    });
    expect(result.totalSize).toBe(expected);
    expect(result.records.length).toBe(expected);
    expect(new Set(result.records.map((r) => r.Id)).size).toBe(expected);
    expect(locatorCalls() - before).toBe(Math.ceil(expected / 200) - 1);
  });

  it('stops at maxFetch', async () => {
    const result = await conn.query('SELECT Id FROM Contact', { autoFetch: true, maxFetch: 450, headers: { 'Sforce-Query-Options': 'batchSize=200' } });
    expect(result.records.length).toBe(450);
  });

  it('counts with sobject().count() and sees deleted rows only through queryAll (scanAll)', async () => {
    expect(await conn.sobject('Account').count()).toBe(liveCount('Account'));
    const table = emu.org.store.table('Contact');
    const [victim] = (await conn.query<{ Id: string }>('SELECT Id FROM Contact ORDER BY Id DESC LIMIT 1')).records;
    if (!table || !victim) throw new Error('no contact');
    const [liveBefore, allBefore] = [liveCount('Contact'), liveCount('Contact', true)];
    table.delete(victim.Id, emu.userId);
    expect((await conn.query('SELECT COUNT() FROM Contact')).totalSize).toBe(liveBefore - 1);
    const soql = `SELECT Id, IsDeleted FROM Contact WHERE Id = '${victim.Id}'`;
    expect((await conn.query(soql)).totalSize).toBe(0);
    // jsforce 3 has no conn.queryAll(): scanAll is how it asks for /queryAll.
    const all = await conn.query<{ Id: string; IsDeleted: boolean }>(soql).scanAll(true);
    expect(all.records).toMatchObject([{ Id: victim.Id, IsDeleted: true }]);
    const scanned = await conn.query('SELECT COUNT() FROM Contact', { scanAll: true });
    expect(scanned.totalSize).toBe(allBefore);
  });
});

describe('REST query over plain HTTP', () => {
  it('answers totalSize, done, nextRecordsUrl, records in that order, with 01g locators', async () => {
    const r = await get(q('SELECT Id FROM Contact ORDER BY Id'), { 'Sforce-Query-Options': 'batchSize=200' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    const body = r.body as QueryBody;
    expect(Object.keys(body)).toEqual(['totalSize', 'done', 'nextRecordsUrl', 'records']);
    expect(body.done).toBe(false);
    expect(body.records.length).toBe(200);
    expect(body.nextRecordsUrl).toMatch(/^\/services\/data\/v58\.0\/query\/01g[A-Za-z0-9]{15}-200$/);
    expect(r.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/\d+$/);
  });

  it('clamps batchSize to 200..2000 and defaults to 2000', async () => {
    const small = (await get(q('SELECT Id FROM Contact'), { 'Sforce-Query-Options': 'batchSize=5' })).body as QueryBody;
    expect(small.records.length).toBe(200);
    const big = (await get(q('SELECT Id FROM Contact'), { 'Sforce-Query-Options': 'batchSize=100000' })).body as QueryBody;
    expect(big.records.length).toBe(liveCount('Contact'));
    expect(big.done).toBe(true);
    expect('nextRecordsUrl' in big).toBe(false);
  });

  it('serves queryMore under /query and /queryAll at any version; a retried locator returns the same page', async () => {
    const first = (await get(q('SELECT Id FROM Contact ORDER BY LastName'), { 'Sforce-Query-Options': 'batchSize=300' })).body as QueryBody;
    const locator = first.nextRecordsUrl?.split('/').pop() ?? '';
    const second = await get(`/services/data/v50.0/queryAll/${locator}`);
    expect(second.status).toBe(200);
    const again = await get(`/services/data/v62.0/query/${locator}`);
    expect(again.status).toBe(200);
    const secondBody = second.body as QueryBody;
    expect((again.body as QueryBody).records).toEqual(secondBody.records);
    expect(secondBody.records.length).toBe(300);
    expect(secondBody.nextRecordsUrl).toMatch(/^\/services\/data\/v50\.0\/query\/01g[A-Za-z0-9]{15}-600$/);
    const firstIds = new Set(first.records.map((r) => r['Id']));
    expect(secondBody.records.some((r) => firstIds.has(r['Id']))).toBe(false);
    // The next page continues after the retry.
    const third = (await get(secondBody.nextRecordsUrl ?? '')).body as QueryBody;
    expect(third.records.length).toBe(300);
    // An earlier offset re-runs the query to that point.
    const rewind = (await get(`/services/data/v58.0/query/${locator.replace(/-\d+$/, '-0')}`)).body as QueryBody;
    expect(rewind.records).toEqual(first.records);
  });

  it('counts subquery child records toward the batch size', async () => {
    const soql = 'SELECT Id, (SELECT Id FROM Contacts) FROM Account ORDER BY Id';
    const all = (await get(q(soql))).body as QueryBody;
    const withKids = all.records.reduce((n, r) => n + 1 + ((r['Contacts'] as { totalSize: number } | null)?.totalSize ?? 0), 0);
    expect(withKids).toBeGreaterThan(all.records.length);
    const first = (await get(q(soql), { 'Sforce-Query-Options': 'batchSize=200' })).body as QueryBody;
    const used = first.records.reduce((n, r) => n + 1 + ((r['Contacts'] as { totalSize: number } | null)?.totalSize ?? 0), 0);
    expect(first.done).toBe(false);
    expect(used).toBeGreaterThanOrEqual(200);
    expect(used - 1 - ((first.records.at(-1)?.['Contacts'] as { totalSize: number } | null)?.totalSize ?? 0)).toBeLessThan(200);
    expect(first.records.length).toBeLessThan(200);
    expect(first.nextRecordsUrl).toMatch(new RegExp(`-${first.records.length}$`));
  });

  it('decodes + as a space and answers COUNT() with no records', async () => {
    const r = await get('/services/data/v58.0/query?q=SELECT+COUNT()+FROM+Account');
    expect(r.body).toEqual({ totalSize: liveCount('Account'), done: true, records: [] });
    const none = await get(q("SELECT Id FROM Account WHERE Name = 'no such account at all'"));
    expect(none.body).toEqual({ totalSize: 0, done: true, records: [] });
  });

  it('answers the sf CLI login queries', async () => {
    const scratch = await get(q('SELECT Id FROM ScratchOrgInfo limit 1'));
    expect(scratch.status).toBe(400);
    expect((scratch.body as { errorCode: string }[])[0]?.errorCode).toBe('INVALID_TYPE');
    const org = await get(q('SELECT Name, InstanceName, IsSandbox, TrialExpirationDate, NamespacePrefix FROM Organization'));
    expect(org.status).toBe(200);
    expect((org.body as QueryBody).records[0]?.['attributes']).toMatchObject({ type: 'Organization' });
  });

  it('returns Salesforce-shaped 400 errors', async () => {
    const bad = await get(q('SELEKT Id FROM Account'));
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual([{ message: 'unexpected token: SELEKT', errorCode: 'MALFORMED_QUERY' }]);
    const field = await get(q('SELECT Bacon__c FROM Account LIMIT 2'));
    expect(field.body).toEqual([
      {
        message:
          "\nSELECT Bacon__c FROM Account LIMIT 2\n       ^\nERROR at Row:1:Column:8\nNo such column 'Bacon__c' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
        errorCode: 'INVALID_FIELD',
      },
    ]);
    const type = await get(q('SELECT Id FROM Accout'));
    expect((type.body as { errorCode: string }[])[0]?.errorCode).toBe('INVALID_TYPE');
    const revenue = await get(q("SELECT Id FROM Account WHERE AnnualRevenue = '5'"));
    expect((revenue.body as { message: string }[])[0]?.message).toMatch(/must be of type double and should not be enclosed in quotes$/);
    const missing = await get('/services/data/v58.0/query');
    expect(missing.status).toBe(400);
    expect((missing.body as { errorCode: string }[])[0]?.errorCode).toBe('MALFORMED_QUERY');
    const offset = await get(q('SELECT Id FROM Account LIMIT 1 OFFSET 2001'));
    expect((offset.body as { errorCode: string }[])[0]?.errorCode).toBe('NUMBER_OUTSIDE_VALID_RANGE');
  });

  it('answers 414 for a URI over 16,384 characters', async () => {
    const soql = `SELECT Id FROM Account WHERE Name IN (${Array.from({ length: 1500 }, (_, i) => `'name${i}'`).join(',')})`;
    const r = await get(q(soql));
    expect(q(soql).length).toBeGreaterThan(16_384);
    expect(r.status).toBe(414);
    const under = `SELECT Id FROM Account WHERE Name IN (${Array.from({ length: 500 }, (_, i) => `'name${i}'`).join(',')})`;
    expect(q(under).length).toBeLessThan(16_384);
    expect((await get(q(under))).status).toBe(200);
  });

  it('answers 431 when a URI under the limit and the headers reach 16,384 bytes together', async () => {
    const soql = `SELECT Id FROM Account WHERE Name IN (${Array.from({ length: 1000 }, (_, i) => `'name${i}'`).join(',')})`;
    const uri = q(soql);
    expect(uri.length).toBeLessThan(16_384);
    expect((await get(uri)).status).toBe(200);
    const padding = 'x'.repeat(16_384 - uri.length);
    const r = await get(uri, { 'X-Padding': padding });
    expect(r.status).toBe(431);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('rejects unknown, malformed, expired and reset locators with INVALID_QUERY_LOCATOR', async () => {
    const expectInvalid = async (path: string): Promise<void> => {
      const r = await get(path);
      expect(r.status).toBe(400);
      expect(r.body).toEqual([{ message: 'invalid query locator', errorCode: 'INVALID_QUERY_LOCATOR' }]);
    };
    await expectInvalid('/services/data/v58.0/query/01g5g00000000ZZZZZ-2000');
    await expectInvalid('/services/data/v58.0/query/garbage');
    const page = async (): Promise<string> =>
      ((await get(q('SELECT Id FROM Contact'), { 'Sforce-Query-Options': 'batchSize=200' })).body as QueryBody).nextRecordsUrl ?? '';
    const idle = await page();
    now += 16 * 60_000;
    await expectInvalid(idle);
    const live = await page();
    now += 10 * 60_000;
    expect((await get(live)).status).toBe(200);
    const stale = await page();
    emu.org.persistence.reset();
    await expectInvalid(stale);
  });
});

describe('SOQL date functions in WHERE', () => {
  /** Every Account's CreatedDate and every Opportunity's CloseDate, to compute the expected answers (UTC). */
  async function all(soql: string, field: string): Promise<Date[]> {
    const rows = (await conn.query<Record<string, string>>(soql).run({ autoFetch: true, maxFetch: 100_000 })).records;
    return rows.map((r) => new Date(`${(r[field] as string).replace(/\+0000$/, 'Z')}${(r[field] as string).length === 10 ? 'T00:00:00Z' : ''}`));
  }
  const count = async (soql: string): Promise<number> => ((await get(q(soql))).body as QueryBody).totalSize;

  it('filters on CALENDAR_YEAR, CALENDAR_MONTH, CALENDAR_QUARTER, DAY_IN_WEEK, HOUR_IN_DAY, DAY_ONLY (UTC) as computed from the values', async () => {
    const created = await all('SELECT CreatedDate FROM Account', 'CreatedDate');
    const closes = await all('SELECT CloseDate FROM Opportunity', 'CloseDate');
    expect(created.length).toBeGreaterThan(100);
    const year = created[0]?.getUTCFullYear() as number;
    expect(await count(`SELECT COUNT() FROM Account WHERE CALENDAR_YEAR(CreatedDate) = ${year}`)).toBe(created.filter((d) => d.getUTCFullYear() === year).length);
    expect(await count(`SELECT COUNT() FROM Account WHERE CALENDAR_YEAR(CreatedDate) >= ${year}`)).toBe(created.filter((d) => d.getUTCFullYear() >= year).length);
    expect(await count('SELECT COUNT() FROM Opportunity WHERE CALENDAR_MONTH(CloseDate) IN (1, 2, 12)')).toBe(closes.filter((d) => [0, 1, 11].includes(d.getUTCMonth())).length);
    expect(await count('SELECT COUNT() FROM Opportunity WHERE CALENDAR_QUARTER(CloseDate) = 2')).toBe(closes.filter((d) => Math.floor(d.getUTCMonth() / 3) === 1).length);
    expect(await count('SELECT COUNT() FROM Opportunity WHERE FISCAL_YEAR(CloseDate) = 2024')).toBe(closes.filter((d) => d.getUTCFullYear() === 2024).length);
    // The fiscal year starts in January (the default): fiscal month and quarter are the calendar ones.
    expect(await count('SELECT COUNT() FROM Opportunity WHERE FISCAL_MONTH(CloseDate) = 3')).toBe(closes.filter((d) => d.getUTCMonth() === 2).length);
    expect(await count('SELECT COUNT() FROM Opportunity WHERE FISCAL_QUARTER(CloseDate) = 4')).toBe(closes.filter((d) => d.getUTCMonth() >= 9).length);
    expect(await count('SELECT COUNT() FROM Account WHERE DAY_IN_MONTH(CreatedDate) <= 7')).toBe(created.filter((d) => d.getUTCDate() <= 7).length);
    // WEEK_IN_MONTH and WEEK_IN_YEAR count whole 7-day runs from the 1st.
    expect(await count('SELECT COUNT() FROM Account WHERE WEEK_IN_MONTH(CreatedDate) = 5')).toBe(created.filter((d) => d.getUTCDate() >= 29).length);
    const dayOfYear = (d: Date): number => Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
    expect(await count('SELECT COUNT() FROM Account WHERE DAY_IN_YEAR(CreatedDate) > 200')).toBe(created.filter((d) => dayOfYear(d) > 200).length);
    expect(await count('SELECT COUNT() FROM Account WHERE WEEK_IN_YEAR(CreatedDate) = 2')).toBe(created.filter((d) => dayOfYear(d) >= 8 && dayOfYear(d) <= 14).length);
    // DAY_IN_WEEK: 1 = Sunday.
    expect(await count('SELECT COUNT() FROM Account WHERE DAY_IN_WEEK(CreatedDate) = 1')).toBe(created.filter((d) => d.getUTCDay() === 0).length);
    expect(await count('SELECT COUNT() FROM Account WHERE HOUR_IN_DAY(CreatedDate) < 12')).toBe(created.filter((d) => d.getUTCHours() < 12).length);
    const day = created[0]?.toISOString().slice(0, 10) as string;
    expect(await count(`SELECT COUNT() FROM Account WHERE DAY_ONLY(CreatedDate) = ${day}`)).toBe(created.filter((d) => d.toISOString().slice(0, 10) === day).length);
    expect(await count(`SELECT COUNT() FROM Account WHERE DAY_ONLY(CreatedDate) > ${day}`)).toBe(created.filter((d) => d.toISOString().slice(0, 10) > day).length);
    expect(await count('SELECT COUNT() FROM Account WHERE DAY_ONLY(CreatedDate) = LAST_N_DAYS:100000')).toBe(created.filter((d) => d.getTime() < Math.floor(now / 86_400_000 + 1) * 86_400_000).length);
  });

  it('refuses date functions on other fields, DAY_ONLY on a date, and unknown functions', async () => {
    expect((await get(q('SELECT COUNT() FROM Account WHERE CALENDAR_YEAR(Name) = 2024'))).body).toMatchObject([{ errorCode: 'INVALID_FIELD' }]);
    expect((await get(q('SELECT COUNT() FROM Opportunity WHERE DAY_ONLY(CloseDate) = 2024-01-01'))).body).toMatchObject([{ errorCode: 'INVALID_FIELD' }]);
    expect((await get(q('SELECT COUNT() FROM Account WHERE NOT_A_FUNCTION(CreatedDate) = 2024'))).body).toMatchObject([{ errorCode: 'MALFORMED_QUERY' }]);
  });
});

describe('REST query on a generated object of millions of records', () => {
  let big: RunningEmulator;
  beforeAll(async () => {
    big = await startEmulator({ generate: { Account: 2_000_000 } });
  });
  afterAll(async () => {
    await big.close();
  });

  it('answers COUNT() and pages through without materialising the table', async () => {
    const h = { Authorization: `Bearer ${big.accessToken}` };
    const count = (await (await fetch(`${big.instanceUrl}/services/data/v58.0/query?q=SELECT+COUNT()+FROM+Account`, { headers: h })).json()) as QueryBody;
    expect(count).toEqual({ totalSize: 2_000_000, done: true, records: [] });
    let url = `/services/data/v58.0/query?q=${encodeURIComponent('SELECT Id, Name, Owner.Name FROM Account')}`;
    const seen = new Set<unknown>();
    for (let i = 0; i < 3; i++) {
      const body = (await (await fetch(`${big.instanceUrl}${url}`, { headers: h })).json()) as QueryBody;
      expect(body.totalSize).toBe(2_000_000);
      expect(body.done).toBe(false);
      expect(body.records.length).toBe(2000);
      for (const r of body.records) seen.add(r['Id']);
      url = body.nextRecordsUrl ?? '';
      expect(url).toMatch(new RegExp(`-${(i + 1) * 2000}$`));
    }
    expect(seen.size).toBe(6000);
    // An Id filter reads by key instead of scanning two million records.
    const ids = [...seen].slice(-2) as string[];
    const soql = `SELECT Id, Name FROM Account WHERE Id IN ('${ids[1]}', '${ids[0]}') AND Name != null`;
    const byId = (await (await fetch(`${big.instanceUrl}/services/data/v58.0/query?q=${encodeURIComponent(soql)}`, { headers: h })).json()) as QueryBody;
    expect(byId.totalSize).toBe(2);
    expect(byId.records.map((r) => r['Id'])).toEqual(ids);
  });
});
