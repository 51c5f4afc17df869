import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from 'jsforce';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

let emu: RunningEmulator;
let conn: Connection;
const V = '58.0';
const ROLLED_BACK = {
  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
  fields: [],
};

beforeAll(async () => {
  emu = await startEmulator();
  conn = new Connection({ instanceUrl: emu.instanceUrl, accessToken: emu.accessToken, version: V });
});
afterAll(async () => {
  await emu.close();
});

async function call(method: string, path: string, body?: unknown, version = V): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${emu.instanceUrl}/services/data/v${version}${path}`, {
    method,
    headers: { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

const count = (object: string, includeDeleted = false) => emu.org.store.table(object)?.count(includeDeleted) ?? -1;

describe('sObject Collections through jsforce', () => {
  it('creates arrays with per-record results; failed creates have no id', async () => {
    const res = await conn.sobject('Contact').create([{ LastName: 'Coll A' }, { FirstName: 'No last name' }, { LastName: 'Coll C', Email: 'bad' }]);
    expect(res[0]).toEqual({ id: expect.stringMatching(/^003\w{15}$/), success: true, errors: [] });
    expect(res[1]).toEqual({ success: false, errors: [{ statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [LastName]', fields: ['LastName'] }] });
    expect(res[2]).toMatchObject({ success: false, errors: [{ statusCode: 'INVALID_EMAIL_ADDRESS', fields: ['Email'] }] });
    expect(res[1]).not.toHaveProperty('id');
  });

  it('rolls everything back with allOrNone', async () => {
    const before = count('Account', true);
    const res = await conn.sobject('Account').create([{ Name: 'AON 1' }, { Name: 'AON 2' }, { Description: 'no name' }], { allOrNone: true });
    expect(res.map((r) => r.success)).toEqual([false, false, false]);
    expect(res[0]).toEqual({ success: false, errors: [ROLLED_BACK] });
    expect(res[2]).toMatchObject({ errors: [{ statusCode: 'REQUIRED_FIELD_MISSING' }] });
    expect(count('Account', true)).toBe(before);
  });

  it('updates (lower-case id), upserts (created flags), retrieves and destroys', async () => {
    const acc = conn.sobject('Account');
    const made = await acc.create([{ Name: 'Coll 1', External_Id__c: 'COLL-1' }, { Name: 'Coll 2', External_Id__c: 'COLL-2' }]);
    const ids = made.map((r) => r.id as string);
    const upd = await acc.update([{ Id: ids[0] as string, Name: 'Coll 1b' }, { Id: '001000000000000', Name: 'ghost' }]);
    expect(upd[0]).toEqual({ id: ids[0], success: true, errors: [] });
    expect(upd[1]).toMatchObject({ success: false, errors: [{ statusCode: 'INVALID_CROSS_REFERENCE_KEY' }] });

    const ups = await acc.upsert([{ External_Id__c: 'COLL-2', Name: 'Coll 2b' }, { External_Id__c: 'COLL-3', Name: 'Coll 3' }], 'External_Id__c');
    expect(ups[0]).toEqual({ id: ids[1], success: true, errors: [], created: false });
    expect(ups[1]).toMatchObject({ success: true, errors: [], created: true });

    const got = await acc.retrieve([ids[0] as string, '001000000000000', ids[1] as string], { fields: ['Name', 'External_Id__c'] });
    expect(got[0]).toEqual({ attributes: { type: 'Account', url: `/services/data/v${V}/sobjects/Account/${ids[0]}` }, Name: 'Coll 1b', External_Id__c: 'COLL-1' });
    expect(got[1]).toBeNull();
    expect(got[2]).toMatchObject({ Name: 'Coll 2b' });

    const contact = await conn.sobject('Contact').create({ LastName: 'Mixed delete' });
    const del = await acc.destroy([ids[0] as string, contact.id as string, ids[0] as string]);
    expect(del.map((d) => d.success)).toEqual([true, true, false]);
    expect(del[2]).toMatchObject({ errors: [{ statusCode: 'ENTITY_IS_DELETED' }] });
    const all = await conn.query(`SELECT Id, IsDeleted FROM Contact WHERE Id = '${contact.id}'`).scanAll(true);
    expect(all.records).toMatchObject([{ IsDeleted: true }]);
  });
});

describe('sObject Collections over HTTP', () => {
  it('creates mixed types in request order', async () => {
    const r = await call('POST', '/composite/sobjects', {
      allOrNone: false,
      records: [
        { attributes: { type: 'Account' }, Name: 'Mixed A' },
        { attributes: { type: 'Contact' }, LastName: 'Mixed C' },
        { attributes: { type: 'Account' }, Name: 'Mixed B', Bogus__c: 1 },
        { attributes: { type: 'Nope__c' }, Name: 'x' },
        { attributes: { type: 'Account' }, id: '001000000000000', Name: 'with id' },
      ],
    });
    expect(r.status).toBe(200);
    const items = r.body as { id?: string; success: boolean; errors: { statusCode: string }[] }[];
    expect(items[0]?.id).toMatch(/^001/);
    expect(items[1]?.id).toMatch(/^003/);
    expect(items[2]).toEqual({ success: false, errors: [{ statusCode: 'INVALID_FIELD', message: "No such column 'Bogus__c' on sobject of type Account", fields: [] }] });
    expect(items[3]?.errors[0]?.statusCode).toBe('INVALID_TYPE');
    expect(items[4]?.errors[0]?.statusCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
  });

  it('enforces the record limits and rejects malformed bodies', async () => {
    const many = Array.from({ length: 201 }, (_, i) => ({ attributes: { type: 'Account' }, Name: `n${i}` }));
    const before = count('Account', true);
    expect(await call('POST', '/composite/sobjects', { records: many })).toEqual({
      status: 400,
      body: [{ message: 'record limit reached. cannot submit more than 200 records into this call', errorCode: 'EXCEEDED_ID_LIMIT' }],
    });
    expect(count('Account', true)).toBe(before);
    const ok = await call('POST', '/composite/sobjects', { records: many.slice(0, 200) });
    expect((ok.body as unknown[]).length).toBe(200);
    expect(await call('POST', '/composite/sobjects', { records: [] })).toEqual({
      status: 400,
      body: [{ message: 'At least 1 record is required', errorCode: 'REQUIRED_FIELD_MISSING' }],
    });
    const ids = Array.from({ length: 201 }, () => '001000000000000').join(',');
    expect((await call('DELETE', `/composite/sobjects?ids=${ids}`)).body).toMatchObject([{ errorCode: 'EXCEEDED_ID_LIMIT' }]);
    for (const bad of ['{"records": [', '{"records": "x"}', '{"records": [1]}', '{"allOrNone":"yes","records":[{"attributes":{"type":"Account"},"Name":"x"}]}']) {
      const r = await call('POST', '/composite/sobjects', bad);
      expect(r.status).toBe(400);
      expect((r.body as { errorCode: string }[])[0]?.errorCode).toBe('JSON_PARSER_ERROR');
    }
    const typed = await call('PATCH', '/composite/sobjects', { records: [{ attributes: { type: 'Account' }, id: '001000000000000', NumberOfEmployees: 'many' }] });
    expect(typed).toMatchObject({ status: 400, body: [{ errorCode: 'JSON_PARSER_ERROR' }] });
    expect((await call('POST', '/composite/sobjects', { records: many.slice(0, 1) }, '41.0')).status).toBe(404);
  });

  it('upserts only records of the URI type, by a real external id field', async () => {
    const r = await call('PATCH', '/composite/sobjects/Account/External_Id__c', {
      allOrNone: false,
      records: [
        { attributes: { type: 'Account' }, External_Id__c: 'HTTP-UP-1', Name: 'Up 1' },
        { attributes: { type: 'Contact' }, External_Id__c: 'HTTP-UP-2', LastName: 'wrong' },
      ],
    });
    expect(r.body).toMatchObject([{ success: true, created: true }, { success: false, errors: [{ statusCode: 'INVALID_TYPE' }] }]);
    expect((await call('PATCH', '/composite/sobjects/Account/Phone', { records: [{ Name: 'x' }] })).body).toMatchObject([{ errorCode: 'INVALID_FIELD' }]);
    expect((await call('PATCH', '/composite/sobjects/Account/External_Id__c', { records: [{ Name: 'x' }] }, '45.0')).status).toBe(404);
  });

  it('upsert fails a record without an external id value (MISSING_ARGUMENT), never creates it', async () => {
    const before = count('Account', true);
    const r = await call('PATCH', '/composite/sobjects/Account/External_Id__c', {
      allOrNone: false,
      records: [
        { attributes: { type: 'Account' }, Name: 'No key' },
        { attributes: { type: 'Account' }, Name: 'Null key', External_Id__c: null },
        { attributes: { type: 'Account' }, Name: 'Empty key', External_Id__c: '' },
        { attributes: { type: 'Account' }, Name: 'Keyed', External_Id__c: 'HTTP-UP-NOKEY' },
      ],
    });
    const missing = { success: false, errors: [{ statusCode: 'MISSING_ARGUMENT', message: 'External_Id__c not specified', fields: [] }] };
    expect(r.body).toEqual([missing, missing, missing, { id: expect.stringMatching(/^001/), success: true, errors: [], created: true }]);
    expect(count('Account', true)).toBe(before + 1);
    // Upsert on Id still inserts a record without an Id.
    const byId = await call('PATCH', '/composite/sobjects/Account/Id', { records: [{ attributes: { type: 'Account' }, Name: 'By Id, new' }] });
    expect(byId.body).toMatchObject([{ success: true, created: true }]);
  });

  it('deletes with allOrNone=true only when every id is deletable; GET retrieve returns null for unknown ids', async () => {
    const made = (await call('POST', '/composite/sobjects', { records: [{ attributes: { type: 'Account' }, Name: 'Del 1' }, { attributes: { type: 'Account' }, Name: 'Del 2' }] })).body as { id: string }[];
    const [a, b] = made.map((m) => m.id);
    const failed = await call('DELETE', `/composite/sobjects?ids=${a},not-an-id&allOrNone=true`);
    expect(failed.body).toEqual([{ id: a, success: false, errors: [ROLLED_BACK] }, { success: false, errors: [{ statusCode: 'MALFORMED_ID', message: 'Record ID: id value of incorrect type: not-an-id', fields: ['Id'] }] }]);
    expect(emu.org.store.table('Account')?.get(a as string)).toBeDefined();
    const done = await call('DELETE', `/composite/sobjects?ids=${a},${b}&allOrNone=true`);
    expect(done.body).toEqual([{ id: a, success: true, errors: [] }, { id: b, success: true, errors: [] }]);
    const got = await call('GET', `/composite/sobjects/Account?ids=${a},001000000000000&fields=Name`);
    expect(got).toEqual({ status: 200, body: [null, null] });
  });
});
