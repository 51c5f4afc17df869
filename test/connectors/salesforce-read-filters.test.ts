import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import type { FilterOperator, PushdownFilter, ReadRequest } from '../../src/core/connector.ts';
import type { Row, ScalarValue } from '../../src/core/types.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { captureContext } from '../helpers/run-context.ts';

/**
 * Hostile filter values for every operator, against the emulator over HTTP: no value can change the query
 * (the records returned are exactly those the operator means), and values that do not fit the field's type
 * fail before any query with FILTER_VALUE_INVALID naming the field.
 */

const FAST_RETRY = { retries: 8, baseDelayMs: 5, maxDelayMs: 40 };

async function readAll(emu: RunningEmulator, req: ReadRequest) {
  const ctx = captureContext();
  const { source, client } = connectSalesforce(emu.connectorProfile, { retry: FAST_RETRY, log: ctx.log, source: { bulk: { pollInitialMs: 10, pollMaxMs: 50 } } });
  const stream = await source.open(req, ctx);
  const rows: Row[] = [];
  for await (const b of stream.batches) rows.push(...b.rows);
  return { stream, rows, source, client };
}

const HOSTILE = [
  `'`, `\\`, `\\'`, `''`, `"`, `x' OR Name != '`, `') OR (Name != null`, `\\' OR Id != null OR Name = \\'`,
  `a\nb`, `a\r\nb`, `tab\there`, `%`, `_`, `%_%`, `\\%`, `50% off_sale`, `ünïcødé 😀 漢字`, `\u2028`, `next\u0085line`, `bell\u0007 nul\u0000`,
  `SELECT Id FROM Account`, `null`, `NULL`, `' AND Id IN (SELECT Id FROM Account) AND Name = '`, `TODAY`, `LAST_N_DAYS:3`,
  `x`.repeat(255),
];

describe('Salesforce read: hostile filter values', () => {
  let emu: RunningEmulator;
  let names: Map<string, string>;
  beforeAll(async () => {
    emu = await startEmulator({ seed: 5 });
    const { client } = connectSalesforce(emu.connectorProfile, { retry: FAST_RETRY });
    for (const name of HOSTILE) await client.json({ method: 'POST', path: '/sobjects/Account', json: { Name: name }, call: 'insert Account' });
    const all = await readAll(emu, { entity: 'Account', fields: ['Id', 'Name'], apiPreference: 'REST_SYNC' });
    names = new Map(all.rows.map((r) => [String(r['Id']), String(r['Name'])]));
  });
  afterAll(async () => emu?.close());

  const ids = async (operator: FilterOperator, values: ScalarValue[], api: 'REST_SYNC' | 'BULKV2' = 'REST_SYNC'): Promise<string[]> => {
    const filters: PushdownFilter[] = [{ field: 'Name', operator, values }];
    const r = await readAll(emu, { entity: 'Account', fields: ['Id', 'Name'], apiPreference: api, filters });
    return r.rows.map((x) => String(x['Id'])).sort();
  };
  const where = (test: (name: string) => boolean): string[] => [...names].filter(([, n]) => test(n)).map(([id]) => id).sort();

  it.each(HOSTILE.map((h) => [JSON.stringify(h).slice(0, 40), h]))('every operator with %s selects exactly what it means', async (_label, h) => {
    const lower = h.toLowerCase();
    const eq = await ids('EQUAL_TO', [h]);
    expect(eq).toEqual(where((n) => n.toLowerCase() === lower));
    expect(eq.length).toBeGreaterThan(0);
    expect(await ids('NOT_EQUAL_TO', [h])).toEqual(where((n) => n.toLowerCase() !== lower));
    expect(await ids('CONTAINS', [h])).toEqual(where((n) => n.toLowerCase().includes(lower)));
    expect(await ids('EQUAL_TO', [h, 'no such name'])).toEqual(eq);
    const lt = await ids('LESS_THAN', [h]);
    const gt = await ids('GREATER_THAN', [h]);
    expect(lt.length + gt.length + eq.length).toBe(names.size);
    expect(await ids('LESS_THAN_OR_EQUAL_TO', [h])).toEqual([...lt, ...eq].sort());
    expect(await ids('GREATER_THAN_OR_EQUAL_TO', [h])).toEqual([...gt, ...eq].sort());
    expect(await ids('BETWEEN', [h, h])).toEqual([]);
  });

  it('gives the same records through Bulk API 2.0', async () => {
    for (const h of [`x' OR Name != '`, `%_%`, `a\r\nb`, `\\'`]) {
      expect(await ids('EQUAL_TO', [h], 'BULKV2')).toEqual(await ids('EQUAL_TO', [h]));
      expect(await ids('CONTAINS', [h], 'BULKV2')).toEqual(await ids('CONTAINS', [h]));
    }
  });

  it('refuses values that do not fit the field type, naming the field, before any query', async () => {
    const bad: Array<[string, FilterOperator, ScalarValue[]]> = [
      ['AnnualRevenue', 'GREATER_THAN', ['1 OR Name != null']],
      ['AnnualRevenue', 'EQUAL_TO', ['0x10']],
      ['AnnualRevenue', 'EQUAL_TO', ['Infinity']],
      ['AnnualRevenue', 'BETWEEN', ['1,000', '2000']],
      ['NumberOfEmployees', 'LESS_THAN', ['']],
      ['LastActivityDate', 'EQUAL_TO', ['2024-02-30']],
      ['LastActivityDate', 'EQUAL_TO', ['TODAY']],
      ['LastActivityDate', 'GREATER_THAN', ["2024-01-01' OR Name != '"]],
      ['CreatedDate', 'GREATER_THAN', ['March 7']],
      ['CreatedDate', 'GREATER_THAN', ['LAST_N_DAYS:3']],
      ['CreatedDate', 'LESS_THAN', ['2024-02-30T00:00:00Z']],
      ['IsPartner', 'EQUAL_TO', ['yes']],
      ['Name', 'EQUAL_TO', ['half \ud800 pair']],
      ['Name', 'CONTAINS', ['\udc00']],
      ['Name', 'CONTAINS', [null]],
      ['NumberOfEmployees', 'CONTAINS', ['1']],
    ];
    for (const [field, operator, values] of bad) {
      const ctx = captureContext();
      const { source, client } = connectSalesforce(emu.connectorProfile, { retry: FAST_RETRY, log: ctx.log });
      await source.describe('Account');
      const before = client.apiCalls;
      const error = await source.open({ entity: 'Account', fields: ['Id'], filters: [{ field, operator, values }] }, ctx).catch((e: unknown) => e);
      expect(isForceflowError(error, 'FILTER_VALUE_INVALID'), `${field} ${operator} ${JSON.stringify(values)}: ${String(error)}`).toBe(true);
      expect((error as Error).message).toContain(`Filter on ${field}`);
      expect(client.apiCalls, `${field} ${operator}: no query sent`).toBe(before);
    }
  });

  it('reads datetime and date filters given as epoch milliseconds (AppFlow sends them as text) or zone-less ISO as UTC', async () => {
    const all = await readAll(emu, { entity: 'Account', fields: ['Id', 'CreatedDate'], apiPreference: 'REST_SYNC' });
    const sorted = all.rows.map((r) => String(r['CreatedDate'])).sort();
    const pivot = sorted[Math.floor(sorted.length / 2)] as string;
    const expected = all.rows.filter((r) => String(r['CreatedDate']) > pivot).length;
    for (const value of [pivot, String(Date.parse(pivot)), Date.parse(pivot), pivot.replace('Z', ''), pivot.replace('Z', '+00:00')]) {
      const r = await readAll(emu, { entity: 'Account', fields: ['Id'], apiPreference: 'REST_SYNC', filters: [{ field: 'CreatedDate', operator: 'GREATER_THAN', values: [value] }] });
      expect(r.rows.length, JSON.stringify(value)).toBe(expected);
    }
  });

  it('reads through Bulk when the filter values alone are too long for a REST query URL (a long IN list)', async () => {
    const wanted = [...names.keys()].sort().slice(0, 1_200);
    for (const apiPreference of ['AUTOMATIC', 'REST_SYNC'] as const) {
      const r = await readAll(emu, { entity: 'Account', fields: ['Id', 'Name'], apiPreference, filters: [{ field: 'Id', operator: 'EQUAL_TO', values: wanted }] });
      expect(r.stream.api).toBe('BULKV2');
      expect(r.stream.apiReason).toMatch(/filters alone exceed the REST URI limit/);
      expect(r.rows.map((x) => String(x['Id'])).sort()).toEqual(wanted);
    }
    const long = await readAll(emu, { entity: 'Account', fields: ['Id'], filters: [{ field: 'Name', operator: 'CONTAINS', values: ['%'.repeat(6_000)] }] });
    expect(long.stream.api).toBe('BULKV2');
    expect(long.rows).toEqual([]);
  });
});
