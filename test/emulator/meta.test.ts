import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from 'jsforce';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

/** The real recorded v48 Account describe (a copy of ../shared/reference/salesforce-samples/account-describe.json). */
const recorded = JSON.parse(readFileSync(new URL('../../fixtures/org/source/account-describe.v48.json', import.meta.url), 'utf8')) as {
  fields: Record<string, unknown>[];
  childRelationships: Record<string, unknown>[];
  [k: string]: unknown;
};
const FIELD_KEYS = Object.keys(recorded.fields[0] ?? {}).sort();
const TOP_KEYS = Object.keys(recorded).sort();
const CHILD_KEYS = Object.keys(recorded.childRelationships[0] ?? {}).sort();
const OBJECTS = ['Account', 'Contact', 'Invoice__c', 'Invoice_Line__c', 'Lead', 'Opportunity', 'Organization', 'User'];

interface Field {
  name: string;
  type: string;
  [k: string]: unknown;
}
interface Describe {
  name: string;
  fields: Field[];
  childRelationships: { childSObject: string; field: string; relationshipName: string | null }[];
  urls: Record<string, string>;
  [k: string]: unknown;
}

let emu: RunningEmulator;
let conn: Connection;

beforeAll(async () => {
  emu = await startEmulator();
  conn = new Connection({ instanceUrl: emu.instanceUrl, accessToken: emu.accessToken, version: '58.0' });
});
afterAll(async () => {
  await emu.close();
});

const get = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${emu.instanceUrl}${path}`, { headers: { Authorization: `Bearer ${emu.accessToken}`, ...headers } });

describe('versions and resources', () => {
  it('lists versions 31.0–62.0 ascending without auth, not counted', async () => {
    const before = emu.org.limits.used;
    for (const path of ['/services/data', '/services/data/', '//services/data']) {
      const res = await fetch(`${emu.instanceUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8');
      expect(res.headers.get('sforce-limit-info')).toBeNull();
      const body = (await res.json()) as { label: string; url: string; version: string }[];
      expect(body.map((v) => v.version)).toEqual(Array.from({ length: 32 }, (_, i) => `${31 + i}.0`));
      expect(body.find((v) => v.version === '58.0')).toEqual({ label: "Summer '23", url: '/services/data/v58.0', version: '58.0' });
      expect(body.find((v) => v.version === '60.0')?.label).toBe("Spring '24");
      expect(body.find((v) => v.version === '62.0')?.label).toBe("Winter '25");
      expect(body[0]).toEqual({ label: "Summer '14", url: '/services/data/v31.0', version: '31.0' });
    }
    expect(emu.org.limits.used).toBe(before);
  });

  it('lists resources by version, with the identity URL of the caller', async () => {
    const res = await get('/services/data/v58.0');
    expect(res.status).toBe(200);
    expect(res.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/1000000$/);
    const body = (await res.json()) as Record<string, string>;
    for (const k of ['sobjects', 'query', 'queryAll', 'limits', 'jobs', 'composite', 'tooling', 'search', 'uiapi']) {
      expect(body[k]).toBe(`/services/data/v58.0/${k}`);
    }
    expect(body['identity']).toBe(`${emu.instanceUrl}/id/${emu.orgId}/${emu.userId}`);
  });

  it('needs a session for versioned resources', async () => {
    const res = await fetch(`${emu.instanceUrl}/services/data/v58.0/sobjects`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
  });
});

describe('describe global and basic info', () => {
  it('describes every object with urls for the requested version (jsforce describeGlobal)', async () => {
    const g = await conn.describeGlobal();
    expect(g.encoding).toBe('UTF-8');
    expect(g.maxBatchSize).toBe(200);
    expect(g.sobjects.map((s) => s.name)).toEqual(OBJECTS);
    const account = g.sobjects.find((s) => s.name === 'Account');
    expect(account).toMatchObject({ keyPrefix: '001', label: 'Account', labelPlural: 'Accounts', queryable: true, createable: true, custom: false });
    expect(account?.urls).toMatchObject({
      sobject: '/services/data/v58.0/sobjects/Account',
      describe: '/services/data/v58.0/sobjects/Account/describe',
      rowTemplate: '/services/data/v58.0/sobjects/Account/{ID}',
    });
    const invoice = g.sobjects.find((s) => s.name === 'Invoice__c');
    expect(invoice).toMatchObject({ custom: true, keyPrefix: 'a01', labelPlural: 'Invoices' });
    expect(Object.keys(account ?? {}).sort()).toEqual(
      [
        'activateable', 'associateEntityType', 'associateParentEntity', 'createable', 'custom', 'customSetting', 'deepCloneable', 'deletable',
        'deprecatedAndHidden', 'feedEnabled', 'hasSubtypes', 'isInterface', 'isSubtype', 'keyPrefix', 'label', 'labelPlural', 'layoutable',
        'mergeable', 'mruEnabled', 'name', 'queryable', 'replicateable', 'retrieveable', 'searchable', 'triggerable', 'undeletable', 'updateable', 'urls',
      ].sort(),
    );
  });

  it('answers 304 to If-Modified-Since on describe global and describe', async () => {
    const since = 'Wed, 01 Jan 2025 00:00:00 GMT';
    const a = await get('/services/data/v58.0/sobjects', { 'If-Modified-Since': since });
    expect(a.status).toBe(304);
    expect(await a.text()).toBe('');
    const b = await get('/services/data/v58.0/sobjects/Account/describe', { 'If-Modified-Since': since });
    expect(b.status).toBe(304);
    const c = await get('/services/data/v58.0/sobjects/Account/describe', { 'If-Modified-Since': 'Mon, 01 Jan 2018 00:00:00 GMT' });
    expect(c.status).toBe(200);
  });

  it('serves basic info with objectDescribe and recentItems', async () => {
    const res = await get('/services/data/v58.0/sobjects/account');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { objectDescribe: { name: string }; recentItems: { attributes: { type: string; url: string }; Id: string; Name: string }[] };
    expect(body.objectDescribe.name).toBe('Account');
    expect(body.recentItems.length).toBeGreaterThan(0);
    expect(body.recentItems.length).toBeLessThanOrEqual(25);
    const first = body.recentItems[0];
    expect(first?.attributes).toEqual({ type: 'Account', url: `/services/data/v58.0/sobjects/Account/${first?.Id}` });
    expect(typeof first?.Name).toBe('string');
  });
});

describe('sObject describe', () => {
  it('returns every field key and top-level key a real org returns, for every object', async () => {
    for (const name of OBJECTS) {
      const d = (await conn.sobject(name).describe()) as unknown as Describe;
      expect(d.name).toBe(name);
      expect(Object.keys(d).sort()).toEqual(TOP_KEYS);
      for (const f of d.fields) expect(Object.keys(f).sort(), `${name}.${f.name}`).toEqual(FIELD_KEYS);
      for (const c of d.childRelationships) expect(Object.keys(c).sort()).toEqual(CHILD_KEYS);
      expect(d.urls['describe']).toBe(`/services/data/v58.0/sobjects/${name}/describe`);
    }
  });

  it('derives byteLength, soapType and number attributes from the type, as real orgs do', async () => {
    const soap: Record<string, string> = {
      id: 'tns:ID', reference: 'tns:ID', string: 'xsd:string', textarea: 'xsd:string', picklist: 'xsd:string', multipicklist: 'xsd:string',
      phone: 'xsd:string', url: 'xsd:string', email: 'xsd:string', boolean: 'xsd:boolean', int: 'xsd:int', double: 'xsd:double',
      currency: 'xsd:double', percent: 'xsd:double', date: 'xsd:date', datetime: 'xsd:dateTime', time: 'xsd:time', address: 'urn:address', location: 'urn:location',
    };
    for (const name of OBJECTS) {
      const d = (await conn.sobject(name).describe()) as unknown as Describe;
      for (const f of d.fields) {
        const where = `${name}.${f.name}`;
        expect(f['soapType'], where).toBe(soap[f.type]);
        if (['string', 'textarea', 'picklist', 'multipicklist', 'phone', 'url', 'email'].includes(f.type)) {
          expect(f['byteLength'], where).toBe(3 * (f['length'] as number));
          expect(f['length'] as number, where).toBeGreaterThan(0);
        } else if (f.type === 'id' || f.type === 'reference') {
          expect([f['length'], f['byteLength']], where).toEqual([18, 18]);
        } else {
          expect([f['length'], f['byteLength']], where).toEqual([0, 0]);
        }
        if (!['double', 'currency', 'percent'].includes(f.type)) expect([f['precision'], f['scale']], where).toEqual([0, 0]);
        if (f.type === 'reference') expect(d.fields.some((x) => x.name === f.name) && (f['referenceTo'] as string[]).length, where).toBeGreaterThan(0);
        if (f.name === 'CreatedById' || f.name === 'LastModifiedById') {
          expect(f, where).toMatchObject({ createable: false, updateable: false, nillable: false, defaultedOnCreate: true, referenceTo: ['User'] });
        }
        if (f.name === 'Id') expect(f, where).toMatchObject({ type: 'id', createable: false, updateable: false, nillable: false, idLookup: true, defaultedOnCreate: true });
      }
    }
  });

  it('keeps the recorded Account fields and adds the External_Id__c external id', async () => {
    const d = (await conn.sobject('Account').describe()) as unknown as Describe;
    const byName = new Map(d.fields.map((f) => [f.name, f]));
    const recordedName = recorded.fields.find((f) => f['name'] === 'BillingCity');
    expect(byName.get('BillingCity')).toEqual(recordedName);
    expect(byName.get('External_Id__c')).toMatchObject({
      type: 'string', length: 50, byteLength: 150, externalId: true, unique: true, idLookup: true, nillable: true, custom: true,
      soapType: 'xsd:string', createable: true, updateable: true,
    });
    expect(byName.get('BillingAddress')).toMatchObject({ type: 'address', soapType: 'urn:address', createable: false, updateable: false, compoundFieldName: null });
    const billing = d.fields.filter((f) => f['compoundFieldName'] === 'BillingAddress').map((f) => f.name);
    expect(billing).toEqual([
      'BillingStreet', 'BillingCity', 'BillingState', 'BillingPostalCode', 'BillingCountry', 'BillingLatitude', 'BillingLongitude', 'BillingGeocodeAccuracy',
    ]);
    const children = d.childRelationships.filter((c) => c.relationshipName).map((c) => `${c.relationshipName}:${c.childSObject}.${c.field}`);
    expect(children).toEqual(expect.arrayContaining(['Contacts:Contact.AccountId', 'Opportunities:Opportunity.AccountId', 'Invoices__r:Invoice__c.Account__c', 'ChildAccounts:Account.ParentId']));
    expect(byName.get('OwnerId')).toMatchObject({ type: 'reference', referenceTo: ['User'], relationshipName: 'Owner', nillable: false, defaultedOnCreate: true });
  });

  it('describes Invoice__c with every field type and a geolocation compound', async () => {
    const d = (await conn.sobject('Invoice__c').describe()) as unknown as Describe;
    const byName = new Map(d.fields.map((f) => [f.name, f]));
    const types = new Set(d.fields.map((f) => f.type));
    for (const t of ['id', 'reference', 'string', 'currency', 'percent', 'double', 'int', 'date', 'datetime', 'time', 'boolean', 'picklist', 'multipicklist', 'textarea', 'email', 'url', 'phone', 'location']) {
      expect(types.has(t), t).toBe(true);
    }
    expect(byName.get('Account__c')).toMatchObject({ referenceTo: ['Account'], relationshipName: 'Account__r', soapType: 'tns:ID', byteLength: 18, length: 18 });
    expect(byName.get('Status__c')).toMatchObject({ restrictedPicklist: true, defaultedOnCreate: true });
    expect(byName.get('Total_With_Tax__c')).toMatchObject({ calculated: true, createable: false, updateable: false, calculatedFormula: 'Amount__c * (1 + Tax_Rate__c / 100)' });
    expect(byName.get('Location__c')).toMatchObject({ type: 'location', soapType: 'urn:location', compoundFieldName: null });
    expect(byName.get('Location__Latitude__s')).toMatchObject({ type: 'double', compoundFieldName: 'Location__c' });
    expect(byName.get('Location__Longitude__s')).toMatchObject({ type: 'double', compoundFieldName: 'Location__c' });
    expect(byName.get('Notes__c')).toMatchObject({ type: 'textarea', length: 32768, byteLength: 98304, extraTypeInfo: 'plaintextarea', filterable: false, sortable: false });
    expect(byName.get('Is_Paid__c')).toMatchObject({ type: 'boolean', nillable: false, defaultValue: false, defaultedOnCreate: true, soapType: 'xsd:boolean' });
    expect(byName.get('Line_Count__c')).toMatchObject({ type: 'int', soapType: 'xsd:int', digits: 9, precision: 0, scale: 0 });
    expect(byName.get('Amount__c')).toMatchObject({ type: 'currency', soapType: 'xsd:double', precision: 16, scale: 2, length: 0, byteLength: 0 });
  });

  it('describes the person names and addresses of Contact and Lead', async () => {
    const c = (await conn.sobject('Contact').describe()) as unknown as Describe;
    expect(c.fields.filter((f) => f['compoundFieldName'] === 'MailingAddress').map((f) => f.name)).toContain('MailingStreet');
    expect(c.fields.find((f) => f.name === 'Name')).toMatchObject({ createable: false, extraTypeInfo: 'personname', nameField: true, length: 121, byteLength: 363 });
    const l = (await conn.sobject('Lead').describe()) as unknown as Describe;
    expect(l.fields.find((f) => f.name === 'Address')).toMatchObject({ type: 'address' });
    expect(l.fields.filter((f) => f['compoundFieldName'] === 'Address').map((f) => f.name)).toEqual([
      'Street', 'City', 'State', 'PostalCode', 'Country', 'Latitude', 'Longitude', 'GeocodeAccuracy',
    ]);
  });

  it('answers an unknown object with 404 NOT_FOUND and an old version with 410', async () => {
    const res = await get('/services/data/v58.0/sobjects/Nope__c/describe');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual([{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    const scratch = await get('/services/data/v58.0/sobjects/ScratchOrgInfo/describe');
    expect(scratch.status).toBe(404);
    const old = await get('/services/data/v30.0/sobjects/Account/describe');
    expect(old.status).toBe(410);
  });

  it('answers a method a resource does not allow with 405 in Salesforce\'s wording', async () => {
    const res = await fetch(`${emu.instanceUrl}/services/data/v58.0/limits`, { method: 'DELETE', headers: { Authorization: `Bearer ${emu.accessToken}` } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('HEAD,GET');
    expect(await res.json()).toEqual([{ errorCode: 'METHOD_NOT_ALLOWED', message: "HTTP Method 'DELETE' not allowed. Allowed are HEAD,GET" }]);
    // …/describe is the describe resource for every method, not a record whose id is "describe".
    for (const m of ['PATCH', 'DELETE', 'POST']) {
      const d = await fetch(`${emu.instanceUrl}/services/data/v58.0/sobjects/Account/describe`, {
        method: m,
        headers: { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' },
        body: m === 'DELETE' ? undefined : '{"Name":"x"}',
      });
      expect(d.status, m).toBe(405);
      expect(await d.json()).toEqual([{ errorCode: 'METHOD_NOT_ALLOWED', message: `HTTP Method '${m}' not allowed. Allowed are HEAD,GET` }]);
    }
    const coll = await fetch(`${emu.instanceUrl}/services/data/v58.0/composite/sobjects`, { method: 'PUT', headers: { Authorization: `Bearer ${emu.accessToken}` } });
    expect(((await coll.json()) as { message: string }[])[0]?.message).toBe("HTTP Method 'PUT' not allowed. Allowed are POST,PATCH,DELETE");
  });

  it('answers a version that does not exist (v58.5, v63.0) with 404 NOT_FOUND', async () => {
    for (const v of ['58.5', '63.0']) {
      const res = await get(`/services/data/v${v}/sobjects/Account/describe`);
      expect(res.status, v).toBe(404);
      expect(await res.json()).toEqual([{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    }
  });

  it('names fields case-insensitively in the path and answers canonical names', async () => {
    const res = await get('/services/data/v60.0/sobjects/invoice__C/describe');
    expect(res.status).toBe(200);
    const d = (await res.json()) as Describe;
    expect(d.name).toBe('Invoice__c');
    expect(d.urls['sobject']).toBe('/services/data/v60.0/sobjects/Invoice__c');
  });
});

describe('limits', () => {
  it('reports DailyApiRequests from the org counter (jsforce limits)', async () => {
    const limits = (await conn.limits()) as unknown as Record<string, { Max: number; Remaining: number }>;
    expect(limits['DailyApiRequests']?.Max).toBe(1_000_000);
    expect(limits['DailyApiRequests']?.Remaining).toBe(1_000_000 - emu.org.limits.used);
    for (const k of ['DailyBulkApiBatches', 'DailyBulkV2QueryJobs', 'DailyBulkV2QueryFileStorageMB', 'DataStorageMB', 'FileStorageMB', 'DailyAsyncApexExecutions', 'SingleEmail', 'HourlyTimeBasedWorkflow']) {
      expect(limits[k], k).toEqual({ Max: expect.any(Number), Remaining: expect.any(Number) });
    }
    expect(limits['DailyBulkV2QueryJobs']).toEqual({ Max: 10000, Remaining: 10000 });
    expect(limits['DataStorageMB']?.Remaining).toBeLessThan(limits['DataStorageMB']?.Max ?? 0);
  });

  it('matches the Sforce-Limit-Info header', async () => {
    const res = await get('/services/data/v58.0/limits');
    const header = res.headers.get('sforce-limit-info') ?? '';
    const m = /^api-usage=(\d+)\/(\d+)$/.exec(header);
    const body = (await res.json()) as Record<string, { Max: number; Remaining: number }>;
    expect(Number(m?.[2])).toBe(body['DailyApiRequests']?.Max);
    expect(Number(m?.[2]) - Number(m?.[1])).toBe(body['DailyApiRequests']?.Remaining);
  });
});
