import { describe, expect, it } from 'vitest';
import { FAILED, JobLedger, MatchPass, SUCCEEDED } from '../../src/connectors/salesforce/reconcile.ts';
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
