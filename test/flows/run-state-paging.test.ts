import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newExecutionRecord } from '../../src/flows/run-record.ts';
import { openRunState, type RunStateStore } from '../../src/flows/state.ts';

/** RunStateStore.runs with a RunsQuery: one page of a flow's history at a time, newest first. */
describe('run history pages', () => {
  let dir: string;
  let state: RunStateStore;
  const base = Date.parse('2026-01-01T00:00:00Z');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ff-run-pages-'));
    state = openRunState(dir);
    // 25 runs of "paged": two per second, so pairs share a start time and the executionId breaks the tie.
    for (let i = 0; i < 25; i++) {
      await state.saveRun(newExecutionRecord('paged', `run-${String(i).padStart(2, '0')}`, new Date(base + Math.floor(i / 2) * 1000)));
    }
    for (let i = 0; i < 3; i++) await state.saveRun(newExecutionRecord('other', `other-${i}`, new Date(base + i * 1000)));
  });
  afterAll(() => {
    state?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('walks the history page by page with a (startedAt, executionId) cursor, each run once, newest first', async () => {
    const seen: string[] = [];
    let before: { startedAt: string; executionId: string } | undefined;
    let pages = 0;
    for (;;) {
      const page = await state.runs('paged', { limit: 7, ...(before ? { before } : {}) });
      expect(page.length).toBeLessThanOrEqual(7);
      if (page.length === 0) break;
      pages++;
      seen.push(...page.map((r) => r.executionId));
      const last = page[page.length - 1];
      before = last && { startedAt: last.startedAt, executionId: last.executionId };
      if (page.length < 7) break;
    }
    expect(pages).toBe(4);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `run-${String(24 - i).padStart(2, '0')}`));
    // The number form is the same order.
    expect((await state.runs('paged', 3)).map((r) => r.executionId)).toEqual(['run-24', 'run-23', 'run-22']);
  });

  it('starts at `since` and keeps to the flow', async () => {
    const since = new Date(base + 10_000).toISOString();
    const page = await state.runs('paged', { since, limit: 100 });
    expect(page.map((r) => r.executionId)).toEqual(['run-24', 'run-23', 'run-22', 'run-21', 'run-20']);
    expect((await state.runs('other', { limit: 100 })).map((r) => r.executionId)).toEqual(['other-2', 'other-1', 'other-0']);
    expect(await state.runs('paged', { since: new Date(base + 60_000).toISOString() })).toEqual([]);
  });
});
