import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

const control = (method: string, path: string, body?: unknown): Promise<Response> =>
  fetch(`${emu.controlUrl}${path}`, {
    method,
    headers: emu.controlHeaders,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const api = (path: string, token = emu.accessToken): Promise<Response> =>
  fetch(`${emu.instanceUrl}/services/data/v58.0${path}`, { headers: { Authorization: `Bearer ${token}` } });

describe('control endpoint', () => {
  it('counts calls by route and reports API usage, without counting itself', async () => {
    await control('POST', '/reset');
    await api('/sobjects/Account/describe');
    await api('/sobjects/Account/describe');
    await api('/limits');
    const res = await control('GET', '/calls');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { calls: Record<string, number>; total: number; apiUsage: { used: number; max: number; remaining: number } };
    expect(body.calls['GET /services/data/:version/sobjects/:object/describe']).toBe(2);
    expect(body.calls['GET /services/data/:version/limits']).toBe(1);
    expect(body.total).toBe(3);
    expect(body.apiUsage).toEqual({ used: 3, max: 1_000_000, remaining: 999_997 });
  });

  it('inserts, reads, updates and deletes records directly, visible to the REST API', async () => {
    const created = await control('POST', '/records/account', { name: 'Control Co', External_Id__c: 'CTRL-1', BillingCity: 'Lyon' });
    expect(created.status).toBe(201);
    const { id, record } = (await created.json()) as { id: string; record: Record<string, unknown> };
    expect(id).toMatch(/^001/);
    expect(record).toMatchObject({ Name: 'Control Co', IsDeleted: false, OwnerId: emu.userId, CreatedById: emu.userId });

    const viaRest = await api(`/sobjects/Account/${id}`);
    expect(viaRest.status).toBe(200);
    expect(await viaRest.json()).toMatchObject({ Name: 'Control Co', BillingAddress: { city: 'Lyon' } });

    const patched = await control('PATCH', `/records/Account/${id}`, { Name: 'Control Co (renamed)', LastActivityDate: '2024-05-01' });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ Name: 'Control Co (renamed)', LastActivityDate: '2024-05-01' });

    const del = await control('DELETE', `/records/Account/${id}`);
    expect(del.status).toBe(204);
    const read = (await (await control('GET', `/records/Account/${id}`)).json()) as Record<string, unknown>;
    expect(read['IsDeleted']).toBe(true);
    expect((await api(`/sobjects/Account/${id}`)).status).toBe(404);

    const hard = await control('DELETE', `/records/Account/${id}?hard=true`);
    expect(hard.status).toBe(204);
    expect((await control('GET', `/records/Account/${id}`)).status).toBe(404);
  });

  it('inserts many records at once and rejects unknown fields before writing any', async () => {
    const before = emu.org.store.table('Contact')?.count(false) ?? 0;
    const bad = await control('POST', '/records/Contact', [{ LastName: 'Ok' }, { LastName: 'Bad', Nope__c: 1 }]);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual([{ message: "No such column 'Nope__c' on sobject of type Contact", errorCode: 'INVALID_FIELD', fields: ['Nope__c'] }]);
    expect(emu.org.store.table('Contact')?.count(false)).toBe(before);
    const ok = await control('POST', '/records/Contact', [{ FirstName: 'Ana', LastName: 'Uno', Birthdate: '1990-01-02' }, { LastName: 'Dos', EmailBouncedDate: '2024-01-02T03:04:05.000+0000' }]);
    expect(ok.status).toBe(201);
    const rows = (await ok.json()) as { id: string; record: Record<string, unknown> }[];
    expect(rows).toHaveLength(2);
    expect(rows[0]?.record['Name']).toBe('Ana Uno');
    expect(rows[1]?.record['EmailBouncedDate']).toBe('2024-01-02T03:04:05.000Z');
    expect(emu.org.store.table('Contact')?.count(false)).toBe(before + 2);
    expect((await control('POST', '/records/Nope__c', {})).status).toBe(404);
  });

  it('resets records, counts and limits to the seed baseline', async () => {
    const table = (): number => emu.org.store.table('Account')?.count(true) ?? 0;
    const baseline = table();
    await control('POST', '/records/Account', [{ Name: 'A' }, { Name: 'B' }]);
    await api('/limits');
    expect(table()).toBe(baseline + 2);
    const res = await control('POST', '/reset');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { reset: boolean; objects: Record<string, { live: number; deleted: number; generated: boolean }> };
    expect(body.reset).toBe(true);
    expect(body.objects['Account']).toEqual({ live: 997, deleted: 3, generated: false });
    expect(table()).toBe(baseline);
    expect(emu.org.limits.used).toBe(0);
    const calls = (await (await control('GET', '/calls')).json()) as { total: number };
    expect(calls.total).toBe(0);
    // Tokens stay valid across a reset.
    expect((await api('/limits')).status).toBe(200);
  });

  it('expires every session, or one', async () => {
    expect((await api('/limits')).status).toBe(200);
    const res = await control('POST', '/sessions/expire');
    expect(res.status).toBe(200);
    const after = await api('/limits');
    expect(after.status).toBe(401);
    expect(await after.json()).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    // The refresh token still works: mint a new access token, then expire just that one.
    const token = await fetch(`${emu.instanceUrl}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: emu.refreshToken, client_id: emu.clientId, client_secret: emu.clientSecret }),
    });
    const fresh = ((await token.json()) as { access_token: string }).access_token;
    expect((await api('/limits', fresh)).status).toBe(200);
    expect((await control('POST', '/sessions/expire', { accessToken: fresh })).status).toBe(200);
    expect((await api('/limits', fresh)).status).toBe(401);
  });

  it('sets the daily API limit and usage', async () => {
    const issued = emu.org.auth.issue(emu.org.auth.defaultUser, emu.clientId).session.accessToken;
    const res = await control('PUT', '/limits', { max: 10, used: 9 });
    expect(await res.json()).toMatchObject({ max: 10, used: 9, remaining: 1 });
    const ok = await api('/limits', issued);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('sforce-limit-info')).toBe('api-usage=10/10');
    const spent = await api('/limits', issued);
    expect(spent.status).toBe(403);
    expect(await spent.json()).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    expect((await control('PUT', '/limits', { max: -1 })).status).toBe(400);
    await control('PUT', '/limits', { max: 1_000_000, used: 0 });
    expect((await api('/limits', issued)).status).toBe(200);
  });
});
