import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Connection } from 'jsforce';
import { isForceflowError } from '../../src/core/errors.ts';
import { startEmulator } from '../../src/emulator/index.ts';
import { makeId } from '../../src/emulator/ids.ts';
import { buildStore } from '../../src/emulator/org/seed.ts';
import type { StoredRecord, Table } from '../../src/emulator/org/store.ts';

const clock = (): number => Date.parse('2024-07-01T00:00:00.000Z');
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'forceflow-org-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('seed org', () => {
  const { store } = buildStore({}, clock);
  const t = (name: string): Table => store.table(name) as Table;
  const all = (name: string): StoredRecord[] => [...t(name).scan(true)];

  it('holds a few thousand records with soft-deleted ones', () => {
    expect(store.tables().map((x) => x.schema.name).sort()).toEqual(['Account', 'Contact', 'Invoice_Line__c', 'Invoice__c', 'Lead', 'Opportunity', 'Organization', 'User']);
    expect(t('Account').count(true)).toBe(1000);
    expect(t('Account').count(false)).toBe(997);
    let total = 0;
    for (const x of store.tables()) total += x.count(true);
    expect(total).toBeGreaterThan(4000);
    for (const name of ['Account', 'Contact', 'Lead']) expect(t(name).count(true) - t(name).count(false)).toBeGreaterThan(0);
    expect(store.table('ScratchOrgInfo')).toBeUndefined();
  });

  it('has the default user and exactly one Organization', () => {
    const admin = t('User').findBy('Username', 'ADMIN@forceflow.emulator');
    expect(admin).toHaveLength(1);
    expect(admin[0]?.['Id']).toBe(makeId('005', 1));
    const orgs = all('Organization');
    expect(orgs).toHaveLength(1);
    expect(orgs[0]).toMatchObject({ Id: makeId('00D', 1), IsSandbox: false, TrialExpirationDate: null, NamespacePrefix: null, OrganizationType: 'Developer Edition' });
  });

  it('has awkward text: unicode, emoji, newlines, commas and quotes', () => {
    const texts = all('Account').flatMap((r) => [r['Name'], r['Description'], r['BillingStreet']]).filter((v): v is string => typeof v === 'string');
    expect(texts.some((s) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(s))).toBe(true);
    expect(texts.some((s) => /\p{Extended_Pictographic}/u.test(s))).toBe(true);
    expect(texts.some((s) => /[éèüöñçå]/.test(s))).toBe(true);
    expect(texts.some((s) => s.includes('\n'))).toBe(true);
    expect(texts.some((s) => s.includes(','))).toBe(true);
    expect(texts.some((s) => s.includes('"'))).toBe(true);
    const nulls = all('Account').filter((r) => r['Phone'] === null).length;
    expect(nulls).toBeGreaterThan(50);
  });

  it('references real records and stores values in the canonical representation', () => {
    for (const c of all('Contact')) if (c['AccountId'] !== null) expect(t('Account').get(c['AccountId'] as string, true)).toBeDefined();
    for (const o of all('Opportunity')) if (o['AccountId'] !== null) expect(t('Account').get(o['AccountId'] as string, true)).toBeDefined();
    for (const i of all('Invoice__c')) if (i['Account__c'] !== null) expect(t('Account').get(i['Account__c'] as string, true)).toBeDefined();
    for (const name of ['Account', 'Contact', 'Invoice__c']) {
      for (const r of all(name)) {
        expect(r['CreatedDate']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(t('User').get(r['OwnerId'] as string)).toBeDefined();
      }
    }
    const inv = all('Invoice__c');
    expect(inv.some((r) => typeof r['Reminder_Time__c'] === 'string' && /^\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(r['Reminder_Time__c']))).toBe(true);
    expect(inv.some((r) => typeof r['Tags__c'] === 'string' && r['Tags__c'].includes(';'))).toBe(true);
    expect(inv.some((r) => r['Location__Latitude__s'] !== null)).toBe(true);
    expect(t('Account').findBy('External_Id__c', 'acme-000001')[0]?.['Id']).toBe(makeId('001', 1));
  });

  it('recomputes formula fields and person names on write', () => {
    const inv = t('Invoice__c').insert({ Amount__c: 100, Tax_Rate__c: 20 }, makeId('005', 1));
    expect(inv['Total_With_Tax__c']).toBe(120);
    const updated = t('Invoice__c').update(inv['Id'] as string, { Tax_Rate__c: null }, makeId('005', 1));
    expect(updated['Total_With_Tax__c']).toBeNull();
    const c = t('Contact').insert({ FirstName: 'Zoë', LastName: 'Ørsted' }, makeId('005', 1));
    expect(c['Name']).toBe('Zoë Ørsted');
    expect(t('Contact').update(c['Id'] as string, { LastName: 'Okafor' }, makeId('005', 1))['Name']).toBe('Zoë Okafor');
  });
});

describe('--data persistence', () => {
  it('keeps the data folder owner-only: 0700 folders and 0600 files, new or already there', async () => {
    const fresh = join(tempDir(), 'nested', 'org');
    const emu = await startEmulator({ dataDir: fresh, clock });
    await fetch(`${emu.controlUrl}/records/Account`, { method: 'POST', headers: emu.controlHeaders, body: JSON.stringify({ Name: 'Private Ltd' }) });
    emu.org.aws.createSecret({ name: 'private/secret', secretString: 's' });
    await emu.close();
    const mode = (p: string): number => statSync(p).mode & 0o777;
    expect(mode(fresh)).toBe(0o700);
    expect(mode(join(fresh, '..'))).toBe(0o700);
    expect(readdirSync(fresh).sort()).toEqual(['Account.jsonl', 'aws.json']);
    for (const f of readdirSync(fresh)) expect(mode(join(fresh, f)), f).toBe(0o600);

    // A folder made by hand (or by an older version) with group/world access is tightened, files included.
    const old = tempDir();
    chmodSync(old, 0o755);
    writeFileSync(join(old, 'Lead.jsonl'), '{"format":1,"object":"Lead","kind":"memory"}\n', { mode: 0o644 });
    writeFileSync(join(old, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    const again = await startEmulator({ dataDir: old, clock });
    await again.close();
    expect(mode(old)).toBe(0o700);
    expect(mode(join(old, 'Lead.jsonl'))).toBe(0o600);
    // A file that is not the emulator's keeps its mode.
    expect(mode(join(old, 'run.sh'))).toBe(0o755);
  });

  it('keeps changes across a restart, and reset goes back to the seed', async () => {
    const dir = tempDir();
    const first = await startEmulator({ dataDir: dir, clock });
    const post = await fetch(`${first.controlUrl}/records/Account`, { method: 'POST', headers: first.controlHeaders, body: JSON.stringify({ Name: 'Persisted Ltd', External_Id__c: 'P-1' }) });
    const { id } = (await post.json()) as { id: string };
    const existing = makeId('001', 2);
    await fetch(`${first.controlUrl}/records/Account/${existing}`, { method: 'PATCH', headers: first.controlHeaders, body: JSON.stringify({ Name: 'Changed name' }) });
    await fetch(`${first.controlUrl}/records/Contact/${makeId('003', 3)}`, { method: 'DELETE', headers: first.controlHeaders });
    await first.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()).toEqual(['Account.jsonl', 'Contact.jsonl']);
    expect(readFileSync(join(dir, 'Account.jsonl'), 'utf8').split('\n')[0]).toBe('{"format":1,"object":"Account","kind":"memory"}');

    const second = await startEmulator({ dataDir: dir, clock });
    const accounts = second.org.store.table('Account') as Table;
    expect(accounts.get(id)?.['Name']).toBe('Persisted Ltd');
    expect(accounts.findBy('External_Id__c', 'p-1')[0]?.['Id']).toBe(id);
    expect(accounts.get(existing)?.['Name']).toBe('Changed name');
    expect(accounts.count(true)).toBe(1001);
    expect(second.org.store.table('Contact')?.get(makeId('003', 3))).toBeUndefined();
    expect(second.org.store.table('Contact')?.get(makeId('003', 3), true)?.['IsDeleted']).toBe(true);
    // New ids continue after the saved ones.
    const next = accounts.insert({ Name: 'Next' }, second.userId);
    expect(next['Id']).toBe(makeId('001', 1002));
    await fetch(`${second.controlUrl}/reset`, { method: 'POST', headers: second.controlHeaders });
    await second.close();

    const third = await startEmulator({ dataDir: dir, clock });
    expect(third.org.store.table('Account')?.get(id)).toBeUndefined();
    expect(third.org.store.table('Account')?.count(true)).toBe(1000);
    expect(third.org.store.table('Account')?.get(existing)?.['Name']).not.toBe('Changed name');
    await third.close();
  });

  it('saves only the overlay of generated tables, and ignores it when the generation changes', async () => {
    const dir = tempDir();
    const first = await startEmulator({ dataDir: dir, clock, generate: { Account: 5_000_000 }, seed: 4 });
    const target = makeId('001', 4_000_000);
    await fetch(`${first.controlUrl}/records/Account/${target}`, { method: 'PATCH', headers: first.controlHeaders, body: JSON.stringify({ Name: 'Overlay Inc' }) });
    await fetch(`${first.controlUrl}/records/Account/${makeId('001', 5)}?hard=true`, { method: 'DELETE', headers: first.controlHeaders });
    const post = await fetch(`${first.controlUrl}/records/Account`, { method: 'POST', headers: first.controlHeaders, body: JSON.stringify({ Name: 'Inserted' }) });
    const { id } = (await post.json()) as { id: string };
    // The debounced save happens by itself too.
    await new Promise((r) => setTimeout(r, 600));
    const lines = readFileSync(join(dir, 'Account.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[0] ?? '{}')).toEqual({ format: 1, object: 'Account', kind: 'overlay', count: 5_000_000, seed: 4, nextCounter: 5_000_002 });
    await first.close();

    const second = await startEmulator({ dataDir: dir, clock, generate: { Account: 5_000_000 }, seed: 4 });
    const t = second.org.store.table('Account') as Table;
    expect(t.get(target)?.['Name']).toBe('Overlay Inc');
    expect(t.get(makeId('001', 5), true)).toBeUndefined();
    expect(t.get(id)?.['Name']).toBe('Inserted');
    expect(t.count(true)).toBe(5_000_000);
    await second.close();

    const third = await startEmulator({ dataDir: dir, clock, generate: { Account: 5_000_000 }, seed: 5 });
    expect(third.org.store.table('Account')?.get(target)?.['Name']).not.toBe('Overlay Inc');
    await third.close();
  });

  it('persists writes made through the REST API (jsforce)', async () => {
    const dir = tempDir();
    const first = await startEmulator({ dataDir: dir });
    const conn = new Connection({ instanceUrl: first.instanceUrl, accessToken: first.accessToken, version: '58.0' });
    const res = await conn.sobject('Invoice__c').create({ Name: 'REST-1', Amount__c: 50, Tax_Rate__c: 10, External_Id__c: 'REST-EXT-1' });
    expect(res.success).toBe(true);
    await first.close();
    const second = await startEmulator({ dataDir: dir });
    const rec = second.org.store.table('Invoice__c')?.findBy('External_Id__c', 'REST-EXT-1')[0];
    expect(rec).toMatchObject({ Id: res.id, Name: 'REST-1', Total_With_Tax__c: 55 });
    await second.close();
  });

  it('refuses a corrupt state file with EMULATOR_ERROR', async () => {
    const dir = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'Account.jsonl'), '{"format":1,"object":"Account","kind":"memory"}\n{not json\n');
    let error: unknown;
    try {
      await startEmulator({ dataDir: dir });
    } catch (e) {
      error = e;
    }
    expect(isForceflowError(error, 'EMULATOR_ERROR')).toBe(true);
    expect((error as Error).message).toContain('Account.jsonl');
  });
});
