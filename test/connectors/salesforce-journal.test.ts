import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rangeIndexes, toRanges } from '../../src/connectors/salesforce/journal.ts';
import { openRunState } from '../../src/flows/state.ts';

describe('write journal (SQLite, in the state store)', () => {
  it('keeps ranges of input positions compact and exact', () => {
    expect(toRanges([5, 1, 2, 3, 9, 10, 2])).toEqual([[1, 3], [5, 5], [9, 10]]);
    expect([...rangeIndexes([[1, 3], [7, 7]])]).toEqual([1, 2, 3, 7]);
    expect(toRanges([])).toEqual([]);
  });

  it('records, settles, lists, survives reopening, and forgets executions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-journal-unit-'));
    try {
      let state = openRunState(dir);
      const j = state.writeJournal;
      if (j === undefined) throw new Error('no journal');
      await j.begin({ flowName: 'f', executionId: 'e1', object: 'Account', operation: 'INSERT', startedAt: '2026-01-01T00:00:00.000Z' });
      await j.begin({ flowName: 'other', executionId: 'x', object: 'Account', operation: 'DELETE', startedAt: '2026-01-01T00:00:00.000Z' });
      const a = await j.record('e1', { kind: 'bulk', ref: '750A', ranges: [[0, 99]], count: 100, fingerprint: 'fa', sentAt: 1 });
      const b = await j.record('e1', { kind: 'rest', ref: null, ranges: [[100, 101]], count: 2, fingerprint: 'fb', sentAt: 2 });
      expect(b).toBeGreaterThan(a);
      await j.settle(a, { created: 97, failed: [{ index: 3, errorCode: 'REQUIRED_FIELD_MISSING', message: 'Name', fields: ['Name'] }], unknown: [], resend: [[7, 8]] });
      state.close();

      // A crash loses nothing that was recorded: a new process opens the same folder.
      state = openRunState(dir);
      const journal = state.writeJournal;
      if (journal === undefined) throw new Error('no journal');
      const [open] = await journal.open('f');
      expect(open).toMatchObject({ executionId: 'e1', object: 'Account', operation: 'INSERT' });
      expect(open?.entries.map((e) => [e.seq, e.kind, e.ref, e.count, e.outcome === null])).toEqual([[a, 'bulk', '750A', 100, false], [b, 'rest', null, 2, true]]);
      expect(open?.entries[0]?.outcome).toEqual({ created: 97, failed: [{ index: 3, errorCode: 'REQUIRED_FIELD_MISSING', message: 'Name', fields: ['Name'] }], unknown: [], resend: [[7, 8]] });
      expect(await journal.list()).toEqual([
        expect.objectContaining({ executionId: 'e1', entries: 2, unsettled: 1, rows: 102 }),
        expect.objectContaining({ executionId: 'x', entries: 0, unsettled: 0, rows: 0 }),
      ]);
      await journal.finish(['e1']);
      expect(await journal.open('f')).toEqual([]);
      expect(await journal.discard('x')).toBe(true);
      expect(await journal.discard('x')).toBe(false);
      expect(await journal.list()).toEqual([]);
      state.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
