import { describe, expect, it } from 'vitest';
import { FAILED, JobLedger, MatchPass, SUCCEEDED } from '../../src/connectors/salesforce/reconcile.ts';
import { pollDelay } from '../../src/connectors/salesforce/bulk-writer.ts';
import { CsvSpool } from '../../src/connectors/salesforce/spool.ts';
import type { FieldType } from '../../src/core/types.ts';
import { tempDir } from '../helpers/salesforce-write.ts';

/** Bulk results matched back to the rows sent when Salesforce echoes values in another form (issue 6). */

const dir = tempDir('ff-sfwr-');
let seq = 0;

async function ledgerOf(header: string[], types: FieldType[], rows: string[][]): Promise<JobLedger> {
  const spool = new CsvSpool(dir.path, header, { prefix: `r${++seq}` });
  for (const [i, r] of rows.entries()) await spool.add(100 + i, r);
  const [file] = await spool.finish();
  return JobLedger.build(file as NonNullable<typeof file>, types);
}

describe('Bulk result matching', () => {
  const header = ['Name', 'Notes__c', 'Tags__c', 'Reminder_Time__c', 'Paid_At__c', 'Invoice_Date__c', 'Is_Paid__c', 'Amount__c'];
  const types: FieldType[] = ['string', 'textarea', 'multipicklist', 'time', 'datetime', 'date', 'boolean', 'currency'];
  const sent = ['  Café  ', 'a\r\nb "q", c', 'Priority;Export', '09:30:00.000Z', '2024-04-16T19:00:00.000Z', '2024-02-29', 'true', '12345678901234567.5'];

  it('matches a row whose echo trims text, changes line endings and unicode form, reorders a multipicklist and re-serialises time, datetime, date, boolean and numbers', async () => {
    const ledger = await ledgerOf(header, types, [sent, ['other', '', '', '', '', '', 'false', '1']]);
    const pass = new MatchPass(ledger, SUCCEEDED);
    pass.header(['sf__Id', 'sf__Created', ...header]);
    const echoed = ['Cafe\u0301', 'a\nb "q", c', 'Export;Priority', '09:30:00Z', '2024-04-16T19:00:00.000+0000', '2024-02-29Z', 'TRUE', '1.2345678901234568E16'];
    expect(pass.match(['a01000000000001AAA', 'true', ...echoed], 'true')).toBe(0);
    expect(pass.match(['a01000000000002AAA', 'true', 'other', '', '', '', '', '', '0', '1.0'], 'true')).toBe(1);
    pass.commit('successfulResults');
    expect(ledger.count(SUCCEEDED)).toBe(2);
  });

  it('two identical rows sent: one succeeds and one fails, each outcome lands on exactly one of them', async () => {
    const ledger = await ledgerOf(header, types, [sent, sent, ['x', '', '', '', '', '', '', '']]);
    const ok = new MatchPass(ledger, SUCCEEDED);
    ok.header(['sf__Id', 'sf__Created', ...header]);
    expect(ok.match(['a01000000000003AAA', 'true', ...sent], 'true')).toBe(0);
    ok.commit('successfulResults');
    const bad = new MatchPass(ledger, FAILED);
    bad.header(['sf__Id', 'sf__Error', ...header]);
    expect(bad.match(['', 'DUPLICATE_VALUE:dup:--', ...sent], 'DUPLICATE_VALUE:dup:--')).toBe(1);
    // Salesforce answering a third time about the same content is not reconcilable: no free row is left.
    expect(bad.match(['', 'DUPLICATE_VALUE:dup:--', ...sent])).toBeUndefined();
    expect(() => bad.commit('failedResults')).toThrow(/match no row sent/);
  });
});

describe.each([
  ['read from the spool file', false],
  ['read from the identities file the spool kept', true],
] as const)('Bulk result matching by identity (UPSERT external id, UPDATE/DELETE Id), identities %s', (_, kept) => {
  const header = ['Ext__c', 'Name', 'Amount__c'];
  const types: FieldType[] = ['string', 'string', 'currency'];

  async function identityLedger(rows: string[][]): Promise<JobLedger> {
    const spool = new CsvSpool(dir.path, header, { prefix: `i${++seq}`, ...(kept ? { identity: 0 } : {}) });
    for (const [i, r] of rows.entries()) await spool.add(100 + i, r);
    const [file] = await spool.finish();
    expect(file?.identities !== undefined).toBe(kept);
    return JobLedger.build(file as NonNullable<typeof file>, types, 0);
  }

  it('external ids with line breaks, quotes, commas, edge spaces or none at all are keyed as sent', async () => {
    const ids = ['"quoted" first', 'two\nlines', 'cr\ronly', 'a,b', '', ' edge ', 'x"y', 'Café', '#N/A'];
    const ledger = await identityLedger(ids.map((id, i) => [id, `n${i}`, String(i)]));
    // '' and '#N/A' (null, echoed empty) share an identity: those two rows are keyed by all their cells.
    expect(ledger.keys.size).toBe(2);
    const pass = new MatchPass(ledger, SUCCEEDED, false);
    pass.header(['sf__Id', 'sf__Created', ...header]);
    ids.forEach((id, i) => expect(pass.match(['a01000000000001AAA', 'false', id, `n${i}`, String(i)], 'false'), JSON.stringify(id)).toBe(i));
    pass.commit('successfulResults');
    expect(ledger.count(SUCCEEDED)).toBe(ids.length);
  });

  it('a row whose external id no other row shares is matched by that id alone; an id never sent matches nothing', async () => {
    const ledger = await identityLedger([['E1', 'one', '1'], ['E2', 'two', '2']]);
    expect(ledger.keys.size).toBe(0);
    const pass = new MatchPass(ledger, SUCCEEDED, false);
    pass.header(['sf__Id', 'sf__Created', ...header]);
    // The echo's other cells take no part (Name here in another case, which the full key would not fold).
    expect(pass.match(['a01000000000002AAA', 'true', ' E2 ', 'TWO', '2.00E0'], 'true')).toBe(1);
    expect(pass.match(['a01000000000001AAA', 'false', 'E1', 'one', '1'], 'false')).toBe(0);
    expect(pass.match(['a01000000000009AAA', 'true', 'E9', 'nine', '9'], 'true')).toBeUndefined();
    expect(pass.trueCount).toBe(1);
    expect(pass.payload.size).toBe(0);
    expect(() => pass.commit('successfulResults')).toThrow(/match no row sent/);
  });

  it('rows sharing an external id are told apart by all their cells, each outcome landing on exactly one row', async () => {
    const ledger = await identityLedger([['D', 'first', '1'], ['U', 'alone', '5'], ['D', 'second', '2'], ['D', 'second', '2']]);
    expect(ledger.keys.size).toBe(2);
    const bad = new MatchPass(ledger, FAILED);
    bad.header(['sf__Id', 'sf__Error', ...header]);
    expect(bad.match(['', 'DUPLICATE_EXTERNAL_ID:dup:--', 'D', 'second', '2.0'], 'DUPLICATE_EXTERNAL_ID:dup:--')).toBe(2);
    expect(bad.match(['', 'DUPLICATE_EXTERNAL_ID:dup:--', 'D', 'first', '1'], 'DUPLICATE_EXTERNAL_ID:dup:--')).toBe(0);
    expect([...bad.payload]).toEqual([[2, 'DUPLICATE_EXTERNAL_ID:dup:--'], [0, 'DUPLICATE_EXTERNAL_ID:dup:--']]);
    bad.commit('failedResults');
    const ok = new MatchPass(ledger, SUCCEEDED, false);
    ok.header(['sf__Id', 'sf__Created', ...header]);
    expect(ok.match(['a01000000000003AAA', 'true', 'D', 'second', '2'], 'true')).toBe(3);
    // Both "D second" rows and "D first" have an outcome now: another answer about D matches nothing.
    expect(ok.match(['a01000000000003AAA', 'true', 'D', 'second', '2'], 'true')).toBeUndefined();
    expect(ok.match(['a01000000000004AAA', 'true', 'D', 'first', '1'], 'true')).toBeUndefined();
    expect(ok.match(['a01000000000005AAA', 'true', 'U', 'alone', '5'], 'true')).toBe(1);
  });
});

describe('Bulk ingest poll delay', () => {
  it('follows the backoff while the job shows no progress, and waits only until the projected end once it does', () => {
    const first = { at: 0, processed: 0 };
    expect(pollDelay(10_000, 250, first, { at: 0, processed: 0 }, 1000)).toBe(10_000);
    expect(pollDelay(10_000, 250, first, { at: 5000, processed: 0 }, 1000)).toBe(10_000);
    // 800 of 1,000 rows in 8 s: 200 left at 100 rows/s → 2 s.
    expect(pollDelay(10_000, 250, first, { at: 8000, processed: 800 }, 1000)).toBe(2000);
    // Done or nearly: not under the floor.
    expect(pollDelay(10_000, 250, first, { at: 9990, processed: 999 }, 1000)).toBe(250);
    // Far from the end: never longer than the backoff step.
    expect(pollDelay(3375, 250, first, { at: 1000, processed: 10 }, 1000)).toBe(3375);
  });
});
