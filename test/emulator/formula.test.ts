import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from 'jsforce';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { parseFormula } from '../../src/emulator/org/formula.ts';

/** Formula fields of the emulator: computed from their inputs, read-only, a parent's change without a child modstamp change. */

let emu: RunningEmulator;
let conn: Connection;
let now = Date.parse('2024-07-01T10:00:00.000Z');

beforeAll(async () => {
  emu = await startEmulator({ clock: () => now });
  conn = new Connection({ instanceUrl: emu.instanceUrl, accessToken: emu.accessToken, version: '60.0' });
});
afterAll(async () => {
  await emu.close();
});

interface Line {
  Id: string;
  Quantity__c: number | null;
  Unit_Price__c: number | null;
  Line_Total__c: number | null;
  Converted_Total__c: number | null;
  SystemModstamp: string;
  LastModifiedDate: string;
  Invoice__r?: { Exchange_Rate__c: number | null } | null;
}

async function line(id: string): Promise<Line> {
  const res = await conn.query<Line>(`SELECT Id, Quantity__c, Unit_Price__c, Line_Total__c, Converted_Total__c, SystemModstamp, LastModifiedDate FROM Invoice_Line__c WHERE Id = '${id}'`);
  const rec = res.records[0];
  if (!rec) throw new Error(`no line ${id}`);
  return rec;
}

async function bulkCsv(soql: string): Promise<string> {
  const headers = { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' };
  const base = `${emu.instanceUrl}/services/data/v60.0/jobs/query`;
  const created = (await (await fetch(base, { method: 'POST', headers, body: JSON.stringify({ operation: 'query', query: soql }) })).json()) as { id: string };
  for (;;) {
    const job = (await (await fetch(`${base}/${created.id}`, { headers })).json()) as { state: string };
    if (job.state === 'JobComplete') break;
    if (job.state === 'Failed' || job.state === 'Aborted') throw new Error(job.state);
  }
  return (await fetch(`${base}/${created.id}/results`, { headers })).text();
}

describe('formula fields', () => {
  it('describes them as calculated, read-only, with their formula', async () => {
    const d = await conn.sobject('Invoice_Line__c').describe();
    const converted = d.fields.find((f) => f.name === 'Converted_Total__c');
    expect(converted).toMatchObject({ calculated: true, calculatedFormula: 'Invoice__r.Exchange_Rate__c * Quantity__c * Unit_Price__c', createable: false, updateable: false, type: 'currency' });
    expect(d.fields.find((f) => f.name === 'Line_Total__c')).toMatchObject({ calculated: true, calculatedFormula: 'Quantity__c * Unit_Price__c' });
    expect(d.fields.find((f) => f.name === 'Quantity__c')).toMatchObject({ calculated: false, calculatedFormula: null });
    const invoice = await conn.sobject('Invoice__c').describe();
    expect(invoice.childRelationships).toEqual(expect.arrayContaining([expect.objectContaining({ childSObject: 'Invoice_Line__c', field: 'Invoice__c', relationshipName: 'Invoice_Lines__r' })]));
  });

  it('computes same-record and parent formulas, and a parent change shows in the child without touching its modstamp', async () => {
    const inv = await conn.sobject('Invoice__c').create({ Name: 'F-1', Exchange_Rate__c: 1.5 });
    if (!inv.success) throw new Error('insert failed');
    now += 60_000;
    const created = await conn.sobject('Invoice_Line__c').create({ Name: 'L-1', Invoice__c: inv.id, Quantity__c: 3, Unit_Price__c: 10.25 });
    if (!created.success) throw new Error('insert failed');
    const first = await line(created.id);
    expect(first).toMatchObject({ Line_Total__c: 30.75, Converted_Total__c: 46.13 }); // 3 × 10.25 × 1.5 = 46.125, scale 2

    now += 60_000;
    await conn.sobject('Invoice__c').update({ Id: inv.id, Exchange_Rate__c: 2 });
    const after = await line(created.id);
    expect(after.Converted_Total__c).toBe(61.5);
    expect(after.Line_Total__c).toBe(30.75);
    expect(after.SystemModstamp).toBe(first.SystemModstamp);
    expect(after.LastModifiedDate).toBe(first.LastModifiedDate);

    // The same value on every read path: a record GET, a relationship query, and Bulk 2.0.
    const got = (await conn.sobject('Invoice_Line__c').retrieve(created.id)) as unknown as Line;
    expect(got.Converted_Total__c).toBe(61.5);
    const rel = await conn.query<Line>(`SELECT Id, Invoice__r.Exchange_Rate__c, Converted_Total__c FROM Invoice_Line__c WHERE Converted_Total__c > 61 AND Id = '${created.id}'`);
    expect(rel.records.map((r) => [r.Invoice__r?.Exchange_Rate__c, r.Converted_Total__c])).toEqual([[2, 61.5]]);
    const csv = await bulkCsv(`SELECT Id, Converted_Total__c FROM Invoice_Line__c WHERE Id = '${created.id}'`);
    expect(csv.trim().split('\n')[1]).toBe(`"${created.id}","61.5"`);

    // A blank input makes the formula blank.
    await conn.sobject('Invoice__c').update({ Id: inv.id, Exchange_Rate__c: null });
    expect((await line(created.id)).Converted_Total__c).toBeNull();
    // A line moved to no invoice: blank too.
    await conn.sobject('Invoice_Line__c').update({ Id: created.id, Invoice__c: null });
    expect(await line(created.id)).toMatchObject({ Converted_Total__c: null, Line_Total__c: 30.75 });
  });

  it('refuses writes of formula fields with Salesforce error', async () => {
    const res = await fetch(`${emu.instanceUrl}/services/data/v60.0/sobjects/Invoice_Line__c`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ Name: 'L-2', Quantity__c: 1, Converted_Total__c: 5 }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errorCode: string; message: string; fields: string[] }[];
    expect(body[0]?.errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
    expect(body[0]?.fields).toEqual(['Converted_Total__c']);
  });

  it('seed lines carry their invoice exchange rates', async () => {
    const res = await conn.query<Line>('SELECT Id, Quantity__c, Unit_Price__c, Converted_Total__c, Invoice__r.Exchange_Rate__c FROM Invoice_Line__c WHERE Invoice__r.Exchange_Rate__c != null AND Quantity__c != null AND Unit_Price__c != null LIMIT 20');
    expect(res.records.length).toBeGreaterThan(0);
    for (const r of res.records) {
      const rate = r.Invoice__r?.Exchange_Rate__c as number;
      expect(r.Converted_Total__c).toBeCloseTo((r.Quantity__c as number) * (r.Unit_Price__c as number) * rate, 2);
    }
  });

  it('parses arithmetic with precedence, parentheses and unary minus, and refuses what it cannot read', () => {
    expect(parseFormula('a + b * (c - -2)')).toEqual({
      kind: 'binary', op: '+', left: { kind: 'field', path: ['a'] },
      right: { kind: 'binary', op: '*', left: { kind: 'field', path: ['b'] }, right: { kind: 'binary', op: '-', left: { kind: 'field', path: ['c'] }, right: { kind: 'negate', operand: { kind: 'number', value: 2 } } } },
    });
    expect(parseFormula('Invoice__r.Account__r.AnnualRevenue / 12')).toMatchObject({ left: { kind: 'field', path: ['Invoice__r', 'Account__r', 'AnnualRevenue'] } });
    expect(() => parseFormula('IF(a > 1, 2, 3)')).toThrow(/cannot read/);
    expect(() => parseFormula('(a + 1')).toThrow(/missing/);
  });
});
