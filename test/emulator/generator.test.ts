import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isForceflowError } from '../../src/core/errors.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { makeId } from '../../src/emulator/ids.ts';
import { buildStore } from '../../src/emulator/org/seed.ts';
import type { GeneratedTable } from '../../src/emulator/org/generated/table.ts';
import type { StoredRecord, Table } from '../../src/emulator/org/store.ts';

const clock = (): number => Date.parse('2024-07-01T00:00:00.000Z');
const table = (generate: Record<string, number>, seed = 1, name = Object.keys(generate)[0] ?? ''): Table => {
  const t = buildStore({ generate, seed }, clock).store.table(name);
  if (!t) throw new Error(name);
  return t;
};
const take = (it: Iterable<StoredRecord>, n: number): StoredRecord[] => {
  const out: StoredRecord[] = [];
  for (const r of it) {
    out.push(r);
    if (out.length >= n) break;
  }
  return out;
};

describe('generated tables', () => {
  it('are deterministic for a seed and differ between seeds', () => {
    const a = take(table({ Account: 1_000_000 }, 7).scan(false), 300);
    const b = take(table({ Account: 1_000_000 }, 7).scan(false), 300);
    const c = take(table({ Account: 1_000_000 }, 8).scan(false), 300);
    expect(a).toEqual(b);
    expect(a.map((r) => r['Name'])).not.toEqual(c.map((r) => r['Name']));
    expect(a.map((r) => r['Id'])).toEqual(c.map((r) => r['Id']));
  });

  it('count, get and findBy external id in O(1) on ten million records', () => {
    const t = table({ Account: 10_000_000 }, 3);
    expect(t.generated).toBe(true);
    expect(t.count(false)).toBe(10_000_000);
    expect(t.count(true)).toBe(10_000_000);
    const id = makeId('001', 9_876_543);
    const rec = t.get(id);
    expect(rec?.['Id']).toBe(id);
    expect(t.get(id.slice(0, 15))).toEqual(rec);
    expect(rec?.['External_Id__c']).toBe('GEN-9876543');
    expect(t.findBy('External_Id__c', 'gen-9876543')).toEqual([rec]);
    expect(t.findBy('external_id__c', 'GEN-09876543')).toEqual([]);
    expect(t.findBy('External_Id__c', 'GEN-10000001')).toEqual([]);
    expect(t.findBy('Id', id)).toEqual([rec]);
    expect(t.get(makeId('001', 10_000_001))).toBeUndefined();
    expect(t.get(makeId('003', 5))).toBeUndefined();
    expect(t.get('garbage')).toBeUndefined();
  });

  it('produces values valid for the describe, with nulls, addresses and the default owner', () => {
    const t = table({ Account: 50_000 }, 1);
    const rows = take(t.scan(false), 400);
    const schema = t.schema;
    let nulls = 0;
    let cities = 0;
    for (const r of rows) {
      for (const f of schema.fields) {
        if (schema.isCompound(f)) {
          expect(f.name in r).toBe(false);
          continue;
        }
        const v = r[f.name];
        expect(v, f.name).not.toBeUndefined();
        if (v === null) {
          nulls++;
          expect(f.nillable || f.type === 'boolean', `${f.name} is not nillable`).toBe(true);
          continue;
        }
        if (f.type === 'picklist') expect(f.picklistValues.map((p) => p.value)).toContain(v);
        if (['string', 'textarea', 'url', 'phone', 'email', 'picklist'].includes(f.type)) {
          expect(typeof v).toBe('string');
          expect((v as string).length).toBeLessThanOrEqual(f.length);
        }
        if (f.type === 'datetime') expect(v).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        if (f.type === 'date') expect(v).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        if (['double', 'currency', 'percent', 'int'].includes(f.type)) expect(typeof v).toBe('number');
        if (f.type === 'boolean') expect(typeof v).toBe('boolean');
        if (f.type === 'reference' || f.type === 'id') expect(v).toMatch(/^[a-zA-Z0-9]{18}$/);
      }
      if (r['BillingCity'] !== null) {
        cities++;
        expect(r['BillingCountry']).not.toBeNull();
      }
      expect(r['OwnerId']).toMatch(/^005/);
      expect(r['CreatedById']).toBe(makeId('005', 1));
      expect(r['IsDeleted']).toBe(false);
      expect(r['SystemModstamp'] as string >= (r['CreatedDate'] as string)).toBe(true);
    }
    expect(nulls).toBeGreaterThan(0);
    expect(cities).toBeGreaterThan(250);
    // CreatedDate follows Id order, as in a real org.
    const created = rows.map((r) => r['CreatedDate'] as string);
    expect([...created].sort()).toEqual(created);
  });

  it('points references at generated parents and computes formulas and names', () => {
    const { store } = buildStore({ generate: { Account: 1000, Contact: 5000, Invoice__c: 3000 }, seed: 2 }, clock);
    const accounts = store.table('Account') as Table;
    const contacts = take((store.table('Contact') as Table).scan(false), 500);
    let linked = 0;
    for (const c of contacts) {
      if (c['AccountId'] === null) continue;
      linked++;
      expect(accounts.get(c['AccountId'] as string)).toBeDefined();
      const first = c['FirstName'];
      expect(c['Name']).toBe(first ? `${String(first)} ${String(c['LastName'])}` : c['LastName']);
    }
    expect(linked).toBeGreaterThan(400);
    const invoices = take((store.table('Invoice__c') as Table).scan(false), 500);
    for (const inv of invoices) {
      const amount = inv['Amount__c'];
      const rate = inv['Tax_Rate__c'];
      if (typeof amount === 'number' && typeof rate === 'number') expect(Math.abs((inv['Total_With_Tax__c'] as number) - amount * (1 + rate / 100))).toBeLessThanOrEqual(0.0051);
      else expect(inv['Total_With_Tax__c']).toBeNull();
      if (inv['Account__c'] !== null) expect(idOf(inv['Account__c'])).toBeLessThanOrEqual(1000);
    }
    // Seed records of generated objects are replaced; other objects keep theirs.
    expect(store.table('Account')?.count(true)).toBe(1000);
    expect(store.table('Lead')?.generated).toBe(false);
  });

  it('keeps writes in an overlay: insert, update, soft and hard delete', () => {
    const t = table({ Account: 1_000_000 }, 5) as GeneratedTable;
    const user = makeId('005', 1);
    const inserted = t.insert({ Name: 'New Co', External_Id__c: 'X-1' }, user);
    expect(inserted['Id']).toBe(makeId('001', 1_000_001));
    expect(t.count(false)).toBe(1_000_001);
    expect(t.get(inserted['Id'] as string)).toEqual(inserted);
    expect(t.findBy('External_Id__c', 'x-1')).toEqual([inserted]);

    const target = makeId('001', 42);
    const updated = t.update(target, { Name: 'Renamed', External_Id__c: 'MOVED-42' }, user);
    expect(t.get(target)?.['Name']).toBe('Renamed');
    expect(updated['LastModifiedDate']).toBe('2024-07-01T00:00:00.000Z');
    expect(t.findBy('External_Id__c', 'GEN-42')).toEqual([]);
    expect(t.findBy('External_Id__c', 'moved-42')).toEqual([updated]);

    t.delete(makeId('001', 7), user);
    expect(t.get(makeId('001', 7))).toBeUndefined();
    expect(t.get(makeId('001', 7), true)?.['IsDeleted']).toBe(true);
    expect(t.count(false)).toBe(1_000_000);
    expect(t.count(true)).toBe(1_000_001);
    t.hardDelete(makeId('001', 8));
    expect(t.get(makeId('001', 8), true)).toBeUndefined();
    expect(t.count(true)).toBe(1_000_000);
    expect(t.count(false)).toBe(999_999);

    const first = take(t.scan(false), 10).map((r) => idOf(r['Id']));
    expect(first).toEqual([1, 2, 3, 4, 5, 6, 9, 10, 11, 12]);
    const withDeleted = take(t.scan(true), 10).map((r) => idOf(r['Id']));
    expect(withDeleted).toEqual([1, 2, 3, 4, 5, 6, 7, 9, 10, 11]);
    expect(t.overlaySize).toBe(4);

    // A non-invertible idLookup field is found by scanning generated and overlay records alike.
    const contacts = table({ Contact: 3000 }, 5);
    const someone = take(contacts.scan(false), 2000).find((r) => r['Email'] !== null);
    expect(contacts.findBy('Email', String(someone?.['Email']).toUpperCase()).map((r) => r['Id'])).toEqual([someone?.['Id']]);
  });

  it('rejects unknown objects, listing the known ones', () => {
    let error: unknown;
    try {
      buildStore({ generate: { Acount: 10 } }, clock);
    } catch (e) {
      error = e;
    }
    expect(isForceflowError(error, 'EMULATOR_ERROR')).toBe(true);
    expect((error as Error).message).toContain('Acount');
    expect((error as Error).message).toContain('Account, Contact, Invoice_Line__c, Invoice__c, Lead, Opportunity');
    expect(() => buildStore({ generate: { Organization: 2 } }, clock)).toThrow(/Organization cannot be generated/);
    expect(() => buildStore({ generate: { Account: -1 } }, clock)).toThrow(/count must be an integer/);
  });
});

function idOf(id: unknown): number {
  const s = String(id);
  const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let n = 0;
  for (const ch of s.slice(6, 15)) n = n * 62 + digits.indexOf(ch);
  return n;
}

describe('generated tables over HTTP', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ generate: { Account: 2_000_000 }, seed: 11 });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('serves a generated record by id and reports the count in basic info and control', async () => {
    const id = makeId('001', 1_999_999);
    const res = await fetch(`${emu.instanceUrl}/services/data/v58.0/sobjects/Account/${id}`, { headers: { Authorization: `Bearer ${emu.accessToken}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body['Id']).toBe(id);
    expect(body['External_Id__c']).toBe('GEN-1999999');
    expect(String(body['CreatedDate'])).toMatch(/\+0000$/);
    const objects = (await (await fetch(`${emu.controlUrl}/objects`, { headers: emu.controlHeaders })).json()) as Record<string, { live: number; generated: boolean }>;
    expect(objects['Account']).toEqual({ live: 2_000_000, deleted: 0, generated: true });
  });
});
