import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from 'jsforce';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

let emu: RunningEmulator;
let conn: Connection;
const V = '58.0';

beforeAll(async () => {
  emu = await startEmulator();
  conn = new Connection({ instanceUrl: emu.instanceUrl, accessToken: emu.accessToken, version: V });
});
afterAll(async () => {
  await emu.close();
});

/** Plain HTTP to the emulator: status, headers and the parsed JSON body (or text). */
async function call(method: string, path: string, body?: unknown, version = V): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(`${emu.instanceUrl}/services/data/v${version}${path}`, {
    method,
    headers: { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

describe('single-record REST over HTTP', () => {
  it('creates with 201, a Location header and {id, success, errors}', async () => {
    const r = await call('POST', '/sobjects/account', { attributes: { type: 'Account' }, name: 'Http Co', numberofemployees: 12, External_Id__c: 'REC-HTTP-1' });
    expect(r.status).toBe(201);
    const body = r.body as { id: string; success: boolean; errors: unknown[] };
    expect(body).toEqual({ id: expect.stringMatching(/^001\w{15}$/), success: true, errors: [] });
    expect(Object.keys(body)).toEqual(['id', 'success', 'errors']);
    expect(r.headers.get('location')).toBe(`/services/data/v${V}/sobjects/Account/${body.id}`);
    expect(r.headers.get('content-type')).toBe('application/json;charset=UTF-8');

    const got = await call('GET', `/sobjects/Account/${body.id.slice(0, 15)}?fields=name,External_Id__c,NumberOfEmployees,CreatedDate`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      attributes: { type: 'Account', url: `/services/data/v${V}/sobjects/Account/${body.id}` },
      Name: 'Http Co',
      External_Id__c: 'REC-HTTP-1',
      NumberOfEmployees: 12,
      CreatedDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/),
    });
    const full = (await call('GET', `/sobjects/Account/${body.id}`)).body as Record<string, unknown>;
    expect(full['OwnerId']).toBe(emu.userId);
    expect(full['IsDeleted']).toBe(false);
    expect(full).toHaveProperty('BillingAddress', null);
  });

  it('stores an empty string as null (Salesforce keeps no empty text), and a required field given "" is missing', async () => {
    const created = await call('POST', '/sobjects/Account', { Name: 'Empty Text Co', Description: '', Phone: '', Industry: '' });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    const got = await call('GET', `/sobjects/Account/${id}?fields=Description,Phone,Industry`);
    expect(got.body).toMatchObject({ Description: null, Phone: null, Industry: null });
    const q = await call('GET', `/query?q=${encodeURIComponent(`SELECT Id FROM Account WHERE Id = '${id}' AND Phone = null AND Industry = null`)}`);
    expect((q.body as { totalSize: number }).totalSize).toBe(1);
    const blank = await call('POST', '/sobjects/Account', { Name: '' });
    expect(blank.status).toBe(400);
    expect(blank.body).toEqual([expect.objectContaining({ errorCode: 'REQUIRED_FIELD_MISSING', fields: ['Name'] })]);
  });

  it('answers bad input with Salesforce errors, never a crash', async () => {
    const missing = await call('POST', '/sobjects/Contact', { FirstName: 'No' });
    expect(missing).toMatchObject({ status: 400, body: [{ message: 'Required fields are missing: [LastName]', errorCode: 'REQUIRED_FIELD_MISSING', fields: ['LastName'] }] });

    const unknown = await call('POST', '/sobjects/Account', { Name: 'x', FavoritePet__c: 'cat' });
    expect(unknown).toMatchObject({ status: 400, body: [{ message: "No such column 'FavoritePet__c' on sobject of type Account", errorCode: 'INVALID_FIELD' }] });
    expect((unknown.body as object[])[0]).not.toHaveProperty('fields');

    const text = '{"Name":"x","NumberOfEmployees":"abc"}';
    const typed = await call('POST', '/sobjects/Account', text);
    expect(typed.status).toBe(400);
    expect(typed.body).toEqual([
      {
        message: `Cannot deserialize instance of int from VALUE_STRING value abc or request may be missing a required field at [line:1, column:${text.indexOf('"abc"') + 1}]`,
        errorCode: 'JSON_PARSER_ERROR',
      },
    ]);

    for (const bad of ['{"Name": ', '', '[1,2]', 'null']) {
      const r = await call('POST', '/sobjects/Account', bad);
      expect(r.status).toBe(400);
      expect((r.body as { errorCode: string }[])[0]?.errorCode).toBe('JSON_PARSER_ERROR');
    }

    const picklist = await call('POST', '/sobjects/Invoice__c', { Name: 'i', Status__c: 'Terrible' });
    expect(picklist).toMatchObject({ status: 400, body: [{ errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', fields: ['Status__c'] }] });
    expect((picklist.body as { message: string }[])[0]?.message).toMatch(/: bad value for restricted picklist field: Terrible$/);

    const long = await call('POST', '/sobjects/Account', { Name: 'x'.repeat(256) });
    expect(long).toMatchObject({ status: 400, body: [{ errorCode: 'STRING_TOO_LONG', message: `Account Name: data value too large: ${'x'.repeat(256)} (max length=255)`, fields: ['Name'] }] });

    const readOnly = await call('POST', '/sobjects/Account', { Name: 'x', CreatedDate: '2020-01-01T00:00:00Z' });
    expect(readOnly).toMatchObject({ status: 400, body: [{ errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', fields: ['CreatedDate'] }] });

    const dup = await call('POST', '/sobjects/Account', { Name: 'dup', External_Id__c: 'ACME-000001' });
    expect(dup.status).toBe(400);
    expect((dup.body as { message: string }[])[0]?.message).toMatch(/^duplicate value found: External_Id__c duplicates value on record with id: 001\w{12}$/);

    expect((await call('POST', '/sobjects/NoSuchThing__c', { Name: 'x' })).status).toBe(404);
    expect(await call('GET', '/sobjects/Account/001000000000000')).toMatchObject({ status: 404, body: [{ errorCode: 'NOT_FOUND' }] });
    // A segment that is not an id is taken for an external id field name (restforce#182 shows the wording).
    expect(await call('GET', '/sobjects/Account/abc')).toMatchObject({
      status: 404,
      body: [{ errorCode: 'NOT_FOUND', message: 'Provided external ID field does not exist or is not accessible: abc' }],
    });
    expect((await call('PATCH', '/sobjects/Account/003000000000000', { Name: 'x' })).status).toBe(404);
    expect((await call('GET', '/sobjects/Account/0015g0000000001AAA?fields=Name,Nope')).body).toMatchObject([{ errorCode: 'INVALID_FIELD' }]);
  });

  it('answers a body over 50 MB with 413 EXCEEDED_MAX_SIZE_REQUEST (not a reset connection) and keeps serving', async () => {
    const big = JSON.stringify({ Name: 'Big', Description: 'x'.repeat(50 * 1024 * 1024) });
    const r = await call('POST', '/sobjects/Account', big);
    expect(r.status).toBe(413);
    expect(r.body).toEqual([{ message: 'The size of the message sent to the API exceeded 50 MB.', errorCode: 'EXCEEDED_MAX_SIZE_REQUEST' }]);
    // OAuth bodies have their own 1 MB limit and still answer in OAuth's shape.
    const token = await fetch(`${emu.instanceUrl}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `grant_type=password&junk=${'y'.repeat(2 * 1024 * 1024)}`,
    });
    expect(token.status).toBe(400);
    expect(await token.json()).toEqual({ error: 'invalid_request', error_description: 'request body too large' });
    expect((await call('GET', '/limits')).status).toBe(200);
  });

  it('updates with 204 and deletes to the recycle bin (404 ENTITY_IS_DELETED again)', async () => {
    const { body } = await call('POST', '/sobjects/Account', { Name: 'To delete' });
    const id = (body as { id: string }).id;
    const upd = await call('PATCH', `/sobjects/Account/${id}`, { name: 'Renamed', Id: id, attributes: { type: 'Account' } });
    expect(upd.status).toBe(204);
    expect(upd.body).toBeUndefined();
    const nulled = await call('PATCH', `/sobjects/Account/${id}`, { Name: null });
    expect(nulled).toMatchObject({ status: 400, body: [{ errorCode: 'REQUIRED_FIELD_MISSING', fields: ['Name'] }] });
    expect(((await call('GET', `/sobjects/Account/${id}?fields=Name`)).body as { Name: string }).Name).toBe('Renamed');

    expect((await call('DELETE', `/sobjects/Account/${id}`)).status).toBe(204);
    const again = await call('DELETE', `/sobjects/Account/${id}`);
    expect(again).toEqual({ status: 404, headers: again.headers, body: [{ message: 'entity is deleted', errorCode: 'ENTITY_IS_DELETED', fields: [] }] });
    expect((await call('GET', `/sobjects/Account/${id}`)).status).toBe(404);
    expect((await call('PATCH', `/sobjects/Account/${id}`, { Name: 'zombie' })).body).toMatchObject([{ errorCode: 'ENTITY_IS_DELETED' }]);

    const live = await conn.query(`SELECT Id FROM Account WHERE Id = '${id}'`);
    expect(live.totalSize).toBe(0);
    const all = await conn.query(`SELECT Id, IsDeleted FROM Account WHERE Id = '${id}'`).scanAll(true);
    expect(all.records).toMatchObject([{ Id: id, IsDeleted: true }]);
  });

  it('upserts by external id: 201 created, 200 updated (204 before API 46), 300 for several matches', async () => {
    const created = await call('PATCH', '/sobjects/Account/External_Id__c/UPS-1', { Name: 'Upsert One' });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    expect(created.body).toEqual({ id, success: true, errors: [], created: true });
    const updated = await call('PATCH', '/sobjects/Account/external_id__c/ups-1', { Name: 'Upsert Uno' });
    expect(updated).toMatchObject({ status: 200, body: { id, success: true, errors: [], created: false } });
    const old = await call('PATCH', '/sobjects/Account/External_Id__c/UPS-1', { Name: 'Upsert v45' }, '45.0');
    expect(old.status).toBe(204);
    expect(((await call('GET', '/sobjects/Account/External_Id__c/UPS-1?fields=Name')).body as { Name: string }).Name).toBe('Upsert v45');

    expect((await call('PATCH', '/sobjects/Account/External_Id__c/UPS-NEW?updateOnly=true', { Name: 'x' })).status).toBe(404);
    expect((await call('PATCH', '/sobjects/Account/Nope__c/1', { Name: 'x' })).status).toBe(404);
    expect(await call('PATCH', '/sobjects/Account/Phone/1', { Name: 'x' })).toMatchObject({ status: 400, body: [{ errorCode: 'INVALID_FIELD' }] });

    await call('POST', '/sobjects/Contact', { LastName: 'Twin A', Email: 'twin@example.com' });
    await call('POST', '/sobjects/Contact', { LastName: 'Twin B', Email: 'twin@example.com' });
    const many = await call('PATCH', '/sobjects/Contact/Email/twin@example.com', { LastName: 'Which' });
    expect(many.status).toBe(300);
    expect(many.body).toEqual([expect.stringMatching(/^\/services\/data\/v58\.0\/sobjects\/Contact\/003\w{15}$/), expect.stringMatching(/^\/services\/data\/v58\.0\/sobjects\/Contact\/003\w{15}$/)]);

    const byId = await call('POST', '/sobjects/Account/Id', { Name: 'Posted to Id' });
    expect(byId).toMatchObject({ status: 201, body: { success: true, created: true } });
    const patchById = await call('PATCH', `/sobjects/Account/Id/${(byId.body as { id: string }).id}`, { Name: 'Patched by Id' });
    expect(patchById).toMatchObject({ status: 200, body: { created: false } });
  });

  it('resolves lookups by external id in nested objects', async () => {
    const r = await call('POST', '/sobjects/Invoice__c', { Name: 'Inv', Account__r: { External_Id__c: 'ACME-000001' }, Amount__c: 10 });
    expect(r.status).toBe(201);
    const inv = (await call('GET', `/sobjects/Invoice__c/${(r.body as { id: string }).id}?fields=Account__c`)).body as { Account__c: string };
    const acct = await conn.query<{ Id: string }>("SELECT Id FROM Account WHERE External_Id__c = 'ACME-000001'");
    expect(inv.Account__c).toBe(acct.records[0]?.Id);
    const missing = await call('POST', '/sobjects/Invoice__c', { Name: 'Inv', Account__r: { External_Id__c: 'c9' } });
    expect(missing).toMatchObject({ status: 400, body: [{ errorCode: 'INVALID_FIELD', message: 'Foreign key external ID: c9 not found for field External_Id__c in entity Account' }] });
    const wrongType = await call('POST', '/sobjects/Invoice__c', { Name: 'Inv', Account__c: emu.userId });
    expect(wrongType).toMatchObject({ status: 400, body: [{ errorCode: 'MALFORMED_ID', fields: ['Account__c'] }] });
  });

  it('serves the User record the sf CLI reads at login', async () => {
    const r = await call('GET', `/sobjects/User/${emu.userId}`, undefined, '51.0');
    expect(r.status).toBe(200);
    expect((r.body as { Username: string }).Username).toBe(emu.username);
  });
});

describe('single-record calls through jsforce', () => {
  it('create, retrieve, update, upsert and destroy', async () => {
    const acc = conn.sobject('Account');
    const c = await acc.create({ Name: 'JsForce One', External_Id__c: 'JSF-1' });
    expect(c).toEqual({ id: expect.stringMatching(/^001/), success: true, errors: [] });
    const got = await acc.retrieve(c.id as string);
    expect(got).toMatchObject({ Id: c.id, Name: 'JsForce One', attributes: { type: 'Account' } });
    expect(await acc.update({ Id: c.id as string, Name: 'JsForce Uno' })).toEqual({ id: c.id, success: true, errors: [] });
    const u1 = await acc.upsert({ External_Id__c: 'JSF-1', Name: 'JsForce Upserted' }, 'External_Id__c');
    expect(u1).toMatchObject({ id: c.id, success: true, created: false });
    const u2 = await acc.upsert({ External_Id__c: 'JSF-2', Name: 'JsForce Two' }, 'External_Id__c');
    expect(u2).toMatchObject({ success: true, created: true });
    expect(await acc.destroy(c.id as string)).toEqual({ id: c.id, success: true, errors: [] });
    await expect(acc.destroy(c.id as string)).rejects.toMatchObject({ errorCode: 'ENTITY_IS_DELETED' });
    await expect(acc.create({ Description: 'no name' })).rejects.toMatchObject({ errorCode: 'REQUIRED_FIELD_MISSING' });
  });
});

describe('writes to a generated table (--generate)', () => {
  it('updates, upserts by external id, rejects duplicates and deletes without scanning', async () => {
    const gen = await startEmulator({ generate: { Account: 2000 } });
    try {
      const t = gen.org.store.table('Account');
      expect(t?.generated).toBe(true);
      const rec = t?.findBy('External_Id__c', 'GEN-7')[0];
      const id = String(rec?.['Id']);
      const h = { Authorization: `Bearer ${gen.accessToken}`, 'Content-Type': 'application/json' };
      const url = `${gen.instanceUrl}/services/data/v${V}/sobjects/Account`;
      expect((await fetch(`${url}/${id}`, { method: 'PATCH', headers: h, body: '{"Name":"Gen changed"}' })).status).toBe(204);
      const up = await fetch(`${url}/External_Id__c/GEN-7`, { method: 'PATCH', headers: h, body: '{"Name":"Gen upserted"}' });
      expect(await up.json()).toEqual({ id, success: true, errors: [], created: false });
      expect(t?.get(id)?.['Name']).toBe('Gen upserted');
      const dup = await fetch(url, { method: 'POST', headers: h, body: '{"Name":"x","External_Id__c":"GEN-7"}' });
      expect(await dup.json()).toMatchObject([{ errorCode: 'DUPLICATE_VALUE', message: `duplicate value found: External_Id__c duplicates value on record with id: ${id.slice(0, 15)}` }]);
      expect((await fetch(url, { method: 'POST', headers: h, body: '{"Name":"Brand new"}' })).status).toBe(201);
      expect(t?.count(false)).toBe(2001);
      expect((await fetch(`${url}/${id}`, { method: 'DELETE', headers: h })).status).toBe(204);
      expect([t?.count(false), t?.count(true)]).toEqual([2000, 2001]);
    } finally {
      await gen.close();
    }
  });
});
