import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WriteJournal } from '../../src/connectors/salesforce/journal.ts';
import type { FormulaStateStore } from '../../src/flows/formula-state.ts';
import { newExecutionRecord, type ExecutionRecord } from '../../src/flows/run-record.ts';
import type { FlowLockInfo, LockOwner, RunStateStore } from '../../src/flows/state.ts';
import type { ProfileRepository } from '../../src/profiles/store.ts';

/** One client of the state: what a service process (serve, worker) gets from openServiceState. */
export interface StateClient {
  readonly runs: RunStateStore;
  readonly profiles: ProfileRepository;
  readonly journal: WriteJournal;
}

/** A backend under test: a fresh, empty store and a way to open clients on it (each like another process). */
export interface RunStateBackend {
  readonly kind: string;
  fresh(): Promise<{ client(): Promise<StateClient>; drop(): Promise<void> }>;
}

const T0 = Date.parse('2026-04-01T00:00:00.000Z');
const at = (s: number): Date => new Date(T0 + s * 1000);

function finished(record: ExecutionRecord, status: 'Successful' | 'Error', end: Date, windowEnd: string | null): ExecutionRecord {
  return { ...record, executionStatus: status, lastUpdatedAt: end.toISOString(), dataPullEndTime: windowEnd };
}

const owner = (executionId: string, host = 'host-a', pid = 100): LockOwner => ({ executionId, host, pid, processStart: `boot:${pid}` });
const never = (): boolean => false;

/** The client's formula refresh state: every backend must have one (a flow's refresh needs it). */
function formula(c: StateClient): FormulaStateStore {
  const store = c.runs.formulaState;
  if (store === undefined) throw new Error('the run state has no formulaState');
  return store;
}

/**
 * The run state's behaviours, the same assertions on every backend: the SQLite files of the state folder
 * (runs.db, profiles.db) and the service database on PostgreSQL. Two clients stand for two processes.
 */
export function describeRunStateConformance(backend: RunStateBackend): void {
  describe(`run state conformance (${backend.kind})`, () => {
    let store: Awaited<ReturnType<RunStateBackend['fresh']>>;
    let a: StateClient;
    let b: StateClient;

    beforeAll(async () => {
      store = await backend.fresh();
      a = await store.client();
      b = await store.client();
    });
    afterAll(async () => {
      a?.runs.close();
      a?.profiles.close();
      b?.runs.close();
      b?.profiles.close();
      await store?.drop();
    });

    it('advances a flow window once per successful run, resets it with an audit trail, and lists the flows', async () => {
      expect(await a.runs.lastWindowEnd('win')).toBeUndefined();
      const first = newExecutionRecord('win', 'win-1', at(0));
      await a.runs.saveRun(first);
      expect(await b.runs.lastWindowEnd('win')).toBeUndefined();
      const end1 = at(-60).toISOString();
      await a.runs.saveRun(finished(first, 'Successful', at(5), end1));
      // Saved again as Successful (a record update): the window does not move twice.
      await a.runs.saveRun(finished(first, 'Successful', at(6), end1));
      expect(await b.runs.lastWindowEnd('win')).toBe(end1);
      const failed = newExecutionRecord('win', 'win-2', at(10));
      await b.runs.saveRun(finished(failed, 'Error', at(11), at(9).toISOString()));
      expect(await a.runs.lastWindowEnd('win')).toBe(end1);
      const end2 = at(15).toISOString();
      await b.runs.saveRun(finished(newExecutionRecord('win', 'win-3', at(20)), 'Successful', at(21), end2));
      const reset = await a.runs.setWindow('win', null, at(30), 'start again');
      expect(reset).toEqual({ flowName: 'win', changedAt: at(30).toISOString(), previousEnd: end2, newEnd: null, reason: 'reset', executionId: null, note: 'start again' });
      expect(await b.runs.lastWindowEnd('win')).toBeUndefined();
      const changes = await b.runs.windowChanges('win');
      expect(changes.map((c) => [c.reason, c.previousEnd, c.newEnd, c.executionId])).toEqual([
        ['reset', end2, null, null],
        ['run', end1, end2, 'win-3'],
        ['run', null, end1, 'win-1'],
      ]);
      expect((await a.runs.windowChanges('win', 1)).length).toBe(1);
      await a.runs.acquireLock('locked-only', owner('lo-1'), { leaseMs: 60_000, now: at(0), isGone: never });
      expect(await b.runs.flows()).toEqual(expect.arrayContaining(['locked-only', 'win']));
      const flows = await b.runs.flows();
      expect(flows).toEqual([...flows].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      await a.runs.releaseLock('locked-only', 'lo-1');
    });

    it('pages the run history newest first with a (startedAt, executionId) cursor, from `since`, and reads one run and the unfinished ones', async () => {
      // Pairs share a start time: the executionId breaks the tie. Upper and lower case order by bytes.
      for (let i = 0; i < 13; i++) await a.runs.saveRun(newExecutionRecord('Paged', `run-${String(i).padStart(2, '0')}`, at(Math.floor(i / 2))));
      for (let i = 0; i < 3; i++) await b.runs.saveRun(finished(newExecutionRecord('paged-other', `other-${i}`, at(100 + i)), 'Successful', at(101 + i), null));
      const seen: string[] = [];
      let before: { startedAt: string; executionId: string } | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await b.runs.runs('Paged', { limit: 5, ...(before ? { before } : {}) });
        seen.push(...page.map((r) => r.executionId));
        const last = page[page.length - 1];
        if (page.length < 5 || last === undefined) break;
        before = { startedAt: last.startedAt, executionId: last.executionId };
      }
      expect(seen).toEqual(Array.from({ length: 13 }, (_, i) => `run-${String(12 - i).padStart(2, '0')}`));
      expect((await a.runs.runs('Paged', 2)).map((r) => r.executionId)).toEqual(['run-12', 'run-11']);
      expect((await a.runs.runs('Paged', { since: at(5).toISOString(), limit: 100 })).map((r) => r.executionId)).toEqual(['run-12', 'run-11', 'run-10']);
      const everything = await a.runs.runs(undefined, { limit: 2 });
      expect(everything.map((r) => r.executionId)).toEqual(['other-2', 'other-1']);
      expect(await b.runs.run('run-03')).toMatchObject({ flowName: 'Paged', executionId: 'run-03', executionStatus: 'InProgress', startedAt: at(1).toISOString() });
      expect(await b.runs.run('no-such-run')).toBeUndefined();
      const unfinished = await b.runs.unfinishedRuns('Paged');
      expect(unfinished.map((r) => r.executionId)).toEqual(Array.from({ length: 13 }, (_, i) => `run-${String(i).padStart(2, '0')}`));
      expect((await b.runs.unfinishedRuns()).map((r) => r.flowName)).not.toContain('paged-other');
    });

    it('holds a flow lock for one run: another is refused, a gone holder is taken over, renew and release only by the holder', async () => {
      const lease = { leaseMs: 60_000, now: at(0), isGone: never };
      expect(await a.runs.acquireLock('lk', owner('lk-1'), lease)).toEqual({ acquired: true });
      // The same run asking again keeps it.
      expect(await a.runs.acquireLock('lk', owner('lk-1'), lease)).toEqual({ acquired: true });
      const refused = await b.runs.acquireLock('lk', owner('lk-2', 'host-b', 200), lease);
      expect(refused).toMatchObject({ acquired: false, holder: { flowName: 'lk', executionId: 'lk-1', host: 'host-a', pid: 100, processStart: 'boot:100', acquiredAt: at(0).toISOString(), expiresAt: at(60).toISOString() } });
      expect(await b.runs.lockHolder('lk')).toMatchObject({ executionId: 'lk-1' });

      expect(await a.runs.renewLock('lk', 'lk-1', 60_000, at(30))).toBe(true);
      expect(await b.runs.lockHolder('lk')).toMatchObject({ heartbeatAt: at(30).toISOString(), expiresAt: at(90).toISOString() });
      const gone: Array<FlowLockInfo> = [];
      const expired = (holder: FlowLockInfo, now: Date): boolean => {
        gone.push(holder);
        return Date.parse(holder.expiresAt) < now.getTime();
      };
      expect(await b.runs.acquireLock('lk', owner('lk-2', 'host-b', 200), { leaseMs: 60_000, now: at(89), isGone: expired })).toMatchObject({ acquired: false });
      const taken = await b.runs.acquireLock('lk', owner('lk-2', 'host-b', 200), { leaseMs: 60_000, now: at(91), isGone: expired });
      expect(taken).toMatchObject({ acquired: true, takenOverFrom: { executionId: 'lk-1', expiresAt: at(90).toISOString() } });
      expect(gone.map((h) => h.executionId)).toEqual(['lk-1', 'lk-1']);
      // The old holder learns it lost the lock and cannot release the new holder's.
      expect(await a.runs.renewLock('lk', 'lk-1', 60_000, at(92))).toBe(false);
      await a.runs.releaseLock('lk', 'lk-1');
      expect(await a.runs.lockHolder('lk')).toMatchObject({ executionId: 'lk-2', host: 'host-b', pid: 200 });
      await b.runs.releaseLock('lk', 'lk-2');
      expect(await a.runs.lockHolder('lk')).toBeUndefined();
      expect(await a.runs.renewLock('lk', 'lk-2', 60_000, at(93))).toBe(false);
    });

    it('gives a free lock to exactly one of two clients asking at once, and a gone holder’s lock to exactly one taker', async () => {
      for (let round = 0; round < 15; round++) {
        const flow = `race-${round}`;
        const lease = { leaseMs: 60_000, now: at(0), isGone: never };
        const results = await Promise.all([
          a.runs.acquireLock(flow, owner(`${flow}-a`), lease),
          b.runs.acquireLock(flow, owner(`${flow}-b`, 'host-b', 200), lease),
          a.runs.acquireLock(flow, owner(`${flow}-c`, 'host-c', 300), lease),
        ]);
        expect(results.filter((r) => r.acquired).length).toBe(1);
        const holder = await a.runs.lockHolder(flow);
        const losers = results.filter((r) => !r.acquired);
        for (const l of losers) expect(l).toMatchObject({ acquired: false, holder: { executionId: holder?.executionId } });

        // The holder is gone: two takers at once, each sees only the dead holder as gone.
        const dead = holder?.executionId;
        const isGone = (h: FlowLockInfo): boolean => h.executionId === dead;
        const later = { leaseMs: 60_000, now: at(120), isGone };
        const takeovers = await Promise.all([a.runs.acquireLock(flow, owner(`${flow}-x`), later), b.runs.acquireLock(flow, owner(`${flow}-y`, 'host-b', 201), later)]);
        expect(takeovers.filter((r) => r.acquired).length).toBe(1);
        expect(takeovers.find((r) => r.acquired)).toMatchObject({ takenOverFrom: { executionId: dead } });
        const next = await b.runs.lockHolder(flow);
        expect(next?.executionId).toMatch(/-(x|y)$/);
      }
    });

    it('records what runs must clean up, lists the pending ones of other runs, settles them and notes failures', async () => {
      await a.runs.addRunResource('res-1', 'res', { kind: 'S3_STAGING', bucket: 'b', prefix: 'p/1/' }, at(0));
      await b.runs.addRunResource('res-1', 'res', { kind: 'SF_BULK_QUERY_JOB', jobId: '750xx', connectorProfileName: 'prof', apiVersion: '59.0' }, at(1));
      await b.runs.addRunResource('res-2', 'res', { kind: 'LOCAL_STAGING', path: '/tmp/x' }, at(2));
      const own = await a.runs.runResources('res-1');
      expect(own.map((r) => r.resource.kind)).toEqual(['S3_STAGING', 'SF_BULK_QUERY_JOB']);
      expect(own[0]).toMatchObject({ executionId: 'res-1', flowName: 'res', createdAt: at(0).toISOString(), settledAt: null, lastError: null, resource: { kind: 'S3_STAGING', bucket: 'b', prefix: 'p/1/' } });
      expect(typeof own[0]?.id).toBe('number');
      expect((await b.runs.pendingResources('res', 'res-2')).map((r) => r.executionId)).toEqual(['res-1', 'res-1']);
      expect((await b.runs.pendingResources('res')).length).toBe(3);
      await b.runs.noteResourceError(own[1]?.id as number, `denied ${'x'.repeat(2000)}`);
      await a.runs.settleResources([own[0]?.id as number], at(5));
      const after = await b.runs.runResources('res-1');
      expect(after[0]?.settledAt).toBe(at(5).toISOString());
      expect(after[1]?.lastError?.startsWith('denied x')).toBe(true);
      expect(after[1]?.lastError?.length).toBe(1000);
      expect((await a.runs.pendingResources('res', 'res-2')).map((r) => r.resource.kind)).toEqual(['SF_BULK_QUERY_JOB']);
      await a.runs.settleResources([], at(6));
    });

    it('keeps lookback keys: staged by a run, delivered once its window advances, pruned before keepFrom, dropped by a failed run and a reset', async () => {
      const keys = [{ id: '001A', at: 1000.5 }, { id: '001B', at: 2000 }, { id: '001C', at: 500 }];
      const run1 = newExecutionRecord('lb', 'lb-1', at(0));
      await a.runs.saveRun(run1);
      await a.runs.stageDelivered('lb', 'lb-1', keys, 800);
      // A second batch of the same run, with an earlier keepFrom (the run keeps the smallest).
      await a.runs.stageDelivered('lb', 'lb-1', [{ id: '001D', at: 700 }], 600);
      expect(await b.runs.delivered('lb', keys)).toEqual([false, false, false]);
      await a.runs.saveRun(finished(run1, 'Successful', at(1), at(-1).toISOString()));
      expect(await b.runs.delivered('lb', [...keys, { id: '001D', at: 700 }, { id: '001A', at: 1000 }, { id: '001A', at: 1000.5 }])).toEqual([true, true, false, true, false, true]);
      expect(await b.runs.delivered('lb', [])).toEqual([]);
      expect(await b.runs.delivered('other-flow', keys)).toEqual([false, false, false]);

      // The next run keeps from 1500: on success only 001B (2000) and its own keys remain.
      const run2 = newExecutionRecord('lb', 'lb-2', at(10));
      await b.runs.saveRun(run2);
      await b.runs.stageDelivered('lb', 'lb-2', [{ id: '001E', at: 3000 }, { id: '001F', at: 1400 }], 1500);
      await b.runs.saveRun(finished(run2, 'Successful', at(11), at(9).toISOString()));
      expect(await a.runs.delivered('lb', [{ id: '001A', at: 1000.5 }, { id: '001B', at: 2000 }, { id: '001E', at: 3000 }, { id: '001F', at: 1400 }])).toEqual([false, true, true, false]);

      // A failed run's staged keys are dropped.
      const run3 = newExecutionRecord('lb', 'lb-3', at(20));
      await a.runs.saveRun(run3);
      await a.runs.stageDelivered('lb', 'lb-3', [{ id: '001G', at: 4000 }], 1500);
      await a.runs.saveRun(finished(run3, 'Error', at(21), null));
      const run4 = newExecutionRecord('lb', 'lb-4', at(30));
      await a.runs.saveRun(run4);
      await a.runs.stageDelivered('lb', 'lb-4', [], 1500);
      await a.runs.saveRun(finished(run4, 'Successful', at(31), at(29).toISOString()));
      expect(await b.runs.delivered('lb', [{ id: '001G', at: 4000 }, { id: '001B', at: 2000 }])).toEqual([false, true]);

      // A successful run that staged nothing (no lookback) clears them; so does a reset.
      await a.runs.saveRun(finished(newExecutionRecord('lb', 'lb-5', at(40)), 'Successful', at(41), at(39).toISOString()));
      expect(await b.runs.delivered('lb', [{ id: '001B', at: 2000 }])).toEqual([false]);
      const run6 = newExecutionRecord('lb', 'lb-6', at(50));
      await a.runs.saveRun(run6);
      await a.runs.stageDelivered('lb', 'lb-6', [{ id: '001H', at: 5000 }], 0);
      await a.runs.saveRun(finished(run6, 'Successful', at(51), at(49).toISOString()));
      expect(await b.runs.delivered('lb', [{ id: '001H', at: 5000 }])).toEqual([true]);
      await b.runs.setWindow('lb', at(0).toISOString(), at(60), null);
      expect(await a.runs.delivered('lb', [{ id: '001H', at: 5000 }])).toEqual([false]);
    });

    it('looks up a thousand delivered keys at once', async () => {
      const many = Array.from({ length: 1200 }, (_, i) => ({ id: `k${i}`, at: i }));
      const run = newExecutionRecord('lb-many', 'lbm-1', at(0));
      await a.runs.saveRun(run);
      await a.runs.stageDelivered('lb-many', 'lbm-1', many.filter((k) => k.at % 2 === 0), 0);
      await a.runs.saveRun(finished(run, 'Successful', at(1), at(-1).toISOString()));
      const found = await b.runs.delivered('lb-many', many);
      expect(found.filter(Boolean).length).toBe(600);
      expect(found[0]).toBe(true);
      expect(found[1]).toBe(false);
    });

    it('keeps formula hashes per flow and Id: staged by a run, the flow\u2019s once it commits, dropped by discard and by the next commit, with the refresh status', async () => {
      const fa = formula(a);
      const fb = formula(b);
      expect(await fb.status('fx')).toBeUndefined();
      expect(await fa.hashes('fx', 'fx-1', [])).toEqual(new Map());
      await fa.stage('fx', 'fx-1', []);
      await fa.stage('fx', 'fx-1', [{ id: '001A', hash: 'h1' }, { id: '001B', hash: 'h1' }]);
      // Staged again (the refresh after the window): the later hash wins, also twice in one call.
      await fa.stage('fx', 'fx-1', [{ id: '001A', hash: 'h0' }, { id: '001A', hash: 'h2' }]);
      expect(await fb.hashes('fx', 'fx-1', ['001A', '001B', '001C', '001A'])).toEqual(new Map([['001A', 'h2'], ['001B', 'h1']]));
      // Not the flow's before the run commits: another run (or flow) sees none.
      expect(await fb.hashes('fx', 'fx-other', ['001A', '001B'])).toEqual(new Map());
      await fa.commit('fx', 'fx-1', { refreshed: false, at: at(0).toISOString() });
      expect(await fb.status('fx')).toEqual({ lastRefreshAt: null, runsSinceRefresh: 1, firstRunAt: at(0).toISOString() });
      expect(await fb.hashes('fx', 'fx-2', ['001A', '001B', '001C'])).toEqual(new Map([['001A', 'h2'], ['001B', 'h1']]));
      expect(await fb.hashes('fy', 'fx-2', ['001A', '001B'])).toEqual(new Map());

      // A run's staged hash wins over the flow's for that run only; a failed run's are dropped.
      await fb.stage('fx', 'fx-2', [{ id: '001A', hash: 'h3' }, { id: '001C', hash: 'h1' }]);
      expect(await fa.hashes('fx', 'fx-2', ['001A', '001B', '001C'])).toEqual(new Map([['001A', 'h3'], ['001B', 'h1'], ['001C', 'h1']]));
      expect(await fa.hashes('fx', 'fx-3', ['001A', '001C'])).toEqual(new Map([['001A', 'h2']]));
      await fb.discard('fx', 'fx-2');
      expect(await fa.hashes('fx', 'fx-2', ['001A', '001B', '001C'])).toEqual(new Map([['001A', 'h2'], ['001B', 'h1']]));
      expect(await fa.status('fx')).toEqual({ lastRefreshAt: null, runsSinceRefresh: 1, firstRunAt: at(0).toISOString() });

      // A refresh resets the count and notes its time; the next run counts one.
      await fa.stage('fx', 'fx-3', [{ id: '001B', hash: 'h9' }]);
      await fa.commit('fx', 'fx-3', { refreshed: true, at: at(10).toISOString() });
      expect(await fb.status('fx')).toEqual({ lastRefreshAt: at(10).toISOString(), runsSinceRefresh: 0, firstRunAt: at(0).toISOString() });
      expect(await fb.hashes('fx', 'fx-4', ['001A', '001B'])).toEqual(new Map([['001A', 'h2'], ['001B', 'h9']]));

      // A killed run's staged hashes (never settled) are dropped by the flow's next commit, not kept.
      await fb.stage('fx', 'fx-dead', [{ id: '001D', hash: 'h1' }]);
      await fa.commit('fx', 'fx-4', { refreshed: false, at: at(20).toISOString() });
      expect(await fb.hashes('fx', 'fx-dead', ['001D'])).toEqual(new Map());
      expect(await fb.hashes('fx', 'fx-5', ['001D'])).toEqual(new Map());
      expect(await fb.status('fx')).toEqual({ lastRefreshAt: at(10).toISOString(), runsSinceRefresh: 1, firstRunAt: at(0).toISOString() });
      expect(await fb.status('fy')).toBeUndefined();
    });

    it('stages, commits and looks up formula hashes of thousands of Ids at once', async () => {
      const fa = formula(a);
      const fb = formula(b);
      const entries = Array.from({ length: 2500 }, (_, i) => ({ id: `f${i}`, hash: `h${i % 7}` }));
      await fa.stage('fx-many', 'fxm-1', entries);
      await fa.commit('fx-many', 'fxm-1', { refreshed: false, at: at(0).toISOString() });
      const ids = [...entries.map((e) => e.id), ...Array.from({ length: 1000 }, (_, i) => `missing${i}`), 'f1'];
      const found = await fb.hashes('fx-many', 'fxm-2', ids);
      expect(found.size).toBe(2500);
      expect(found.get('f2499')).toBe(`h${2499 % 7}`);
      expect(found.has('missing0')).toBe(false);
      // A second run changes every other hash: both the staged and the kept ones are read back.
      await fb.stage('fx-many', 'fxm-2', entries.filter((_, i) => i % 2 === 0).map((e) => ({ id: e.id, hash: 'new' })));
      const mixed = await fa.hashes('fx-many', 'fxm-2', ids);
      expect([...mixed.values()].filter((h) => h === 'new').length).toBe(1250);
      await fb.commit('fx-many', 'fxm-2', { refreshed: true, at: at(1).toISOString() });
      const after = await fa.hashes('fx-many', 'fxm-3', ids);
      expect([...after.values()].filter((h) => h === 'new').length).toBe(1250);
      expect(after.get('f1')).toBe('h1');
    });

    it('forgets a deleted flow\u2019s formula hashes, staged hashes and refresh status, and only that flow\u2019s', async () => {
      const fa = formula(a);
      const fb = formula(b);
      for (const flow of ['fgone', 'fkept']) {
        await fa.stage(flow, `${flow}-1`, [{ id: '001A', hash: 'h1' }]);
        await fa.commit(flow, `${flow}-1`, { refreshed: true, at: at(0).toISOString() });
        await fa.stage(flow, `${flow}-2`, [{ id: '001B', hash: 'h2' }]);
      }
      await fb.forget('fgone');
      expect(await fa.status('fgone')).toBeUndefined();
      expect(await fa.hashes('fgone', 'fgone-2', ['001A', '001B'])).toEqual(new Map());
      expect(await fa.status('fkept')).toEqual({ lastRefreshAt: at(0).toISOString(), runsSinceRefresh: 0, firstRunAt: at(0).toISOString() });
      expect(await fa.hashes('fkept', 'fkept-2', ['001A', '001B'])).toEqual(new Map([['001A', 'h1'], ['001B', 'h2']]));
      await fb.forget('fgone');
    });

    it('counts every formula commit of a flow when two clients commit at once', async () => {
      const fa = formula(a);
      const fb = formula(b);
      await Promise.all([fa.commit('fx-both', 'fxb-1', { refreshed: false, at: at(0).toISOString() }), fb.commit('fx-both', 'fxb-2', { refreshed: false, at: at(0).toISOString() })]);
      expect((await fa.status('fx-both'))?.runsSinceRefresh).toBe(2);
      await Promise.all([fa.commit('fx-both', 'fxb-3', { refreshed: false, at: at(1).toISOString() }), fb.commit('fx-both', 'fxb-4', { refreshed: false, at: at(1).toISOString() }), fa.commit('fx-both', 'fxb-5', { refreshed: false, at: at(1).toISOString() })]);
      expect(await fb.status('fx-both')).toEqual({ lastRefreshAt: null, runsSinceRefresh: 5, firstRunAt: at(0).toISOString() });
    });

    it('numbers schema versions per flow, the same number for the same fingerprint, also from two clients at once', async () => {
      expect(await a.runs.schemaVersion('sv', 'fp-1')).toBe(1);
      expect(await b.runs.schemaVersion('sv', 'fp-1')).toBe(1);
      expect(await b.runs.schemaVersion('sv', 'fp-2')).toBe(2);
      expect(await a.runs.schemaVersion('sv-other', 'fp-2')).toBe(1);
      const both = await Promise.all([a.runs.schemaVersion('sv', 'fp-3'), b.runs.schemaVersion('sv', 'fp-3')]);
      expect(both).toEqual([3, 3]);
    });

    it('keeps the Salesforce write journal: executions, entries in seq order, outcomes, the summary, finish and discard', async () => {
      const j = a.journal;
      await j.begin({ flowName: 'wj', executionId: 'wj-1', object: 'Account', operation: 'UPSERT', startedAt: at(0).toISOString() });
      await b.journal.begin({ flowName: 'wj', executionId: 'wj-2', object: 'Account', operation: 'INSERT', startedAt: at(5).toISOString() });
      await j.begin({ flowName: 'wj-other', executionId: 'wj-3', object: 'Contact', operation: 'UPDATE', startedAt: at(1).toISOString() });
      const sentAt = T0 + 1234;
      const s1 = await j.record('wj-1', { kind: 'bulk', ref: '750job', ranges: [[0, 9], [20, 29]], count: 20, fingerprint: 'f1', sentAt });
      const s2 = await b.journal.record('wj-1', { kind: 'rest', ref: null, ranges: [[10, 19]], count: 10, fingerprint: 'f2', sentAt: sentAt + 1 });
      const s3 = await j.record('wj-2', { kind: 'rest', ref: null, ranges: [[0, 4]], count: 5, fingerprint: 'f3', sentAt: sentAt + 2 });
      expect(s2).toBeGreaterThan(s1);
      expect(s3).toBeGreaterThan(s2);
      const outcome = { created: 18, failed: [{ index: 3, errorCode: 'REQUIRED_FIELD_MISSING', message: 'Name', fields: ['Name'] }], unknown: [{ index: 25, errorCode: 'UNKNOWN', message: 'lost' }], resend: [[28, 29]] as Array<[number, number]> };
      await b.journal.settle(s1, outcome);
      const open = await j.open('wj');
      expect(open.map((e) => e.executionId)).toEqual(['wj-1', 'wj-2']);
      expect(open[0]).toMatchObject({ flowName: 'wj', object: 'Account', operation: 'UPSERT', startedAt: at(0).toISOString() });
      expect(open[0]?.entries).toEqual([
        { seq: s1, executionId: 'wj-1', kind: 'bulk', ref: '750job', ranges: [[0, 9], [20, 29]], count: 20, fingerprint: 'f1', sentAt, outcome },
        { seq: s2, executionId: 'wj-1', kind: 'rest', ref: null, ranges: [[10, 19]], count: 10, fingerprint: 'f2', sentAt: sentAt + 1, outcome: null },
      ]);
      const list = await b.journal.list();
      expect(list.map((e) => [e.executionId, e.entries, e.unsettled, e.rows])).toEqual([
        ['wj-1', 2, 1, 30],
        ['wj-3', 0, 0, 0],
        ['wj-2', 1, 1, 5],
      ]);
      await j.finish(['wj-1', 'no-such']);
      expect((await b.journal.open('wj')).map((e) => e.executionId)).toEqual(['wj-2']);
      expect(await b.journal.discard('wj-2')).toBe(true);
      expect(await b.journal.discard('wj-2')).toBe(false);
      expect(await j.open('wj')).toEqual([]);
      await j.finish([]);
      expect((await j.list()).map((e) => e.executionId)).toEqual(['wj-3']);
    });

    it('keeps connector profiles: one of two creates of a name wins, replace keeps the creation time, credentials update, delete', async () => {
      const envelope = () => ({ keyArn: 'arn:aws:kms:us-east-1:123456789012:key/k', encryptedDataKey: randomBytes(40), iv: randomBytes(12), tag: randomBytes(16), ciphertext: randomBytes(64) });
      const profile = (name: string) => ({ name, connectorType: 'Salesforce', connectionMode: 'Public', document: { connectorProfileName: name, note: 'é ✓' }, credentialFields: ['accessToken'], credentials: envelope() });
      const p = profile('prof-a');
      const results = await Promise.allSettled([a.profiles.put(p), b.profiles.put(profile('prof-a'))]);
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'PROFILE_EXISTS' } });
      const stored = await b.profiles.require('prof-a');
      expect(stored.connectorType).toBe('Salesforce');
      expect(stored.document).toMatchObject({ note: 'é ✓' });
      expect(Buffer.isBuffer(stored.credentials.ciphertext)).toBe(true);

      const replacement = { ...profile('prof-a'), connectionMode: undefined, credentialFields: ['refreshToken'] };
      const replaced = await a.profiles.put(replacement, { replace: true });
      expect(replaced.createdAt).toBe(stored.createdAt);
      const got = await b.profiles.get('prof-a');
      expect(got?.connectionMode).toBeUndefined();
      expect(got?.credentialFields).toEqual(['refreshToken']);
      expect(got?.credentials.ciphertext.equals(replacement.credentials.ciphertext)).toBe(true);
      expect(got?.credentials.encryptedDataKey.equals(replacement.credentials.encryptedDataKey)).toBe(true);

      const fresh = envelope();
      await b.profiles.updateCredentials('prof-a', fresh, ['accessToken', 'refreshToken'], { connectorProfileName: 'prof-a', moved: true });
      const updated = await a.profiles.require('prof-a');
      expect(updated.credentials.iv.equals(fresh.iv)).toBe(true);
      expect(updated.document).toEqual({ connectorProfileName: 'prof-a', moved: true });
      await b.profiles.updateCredentials('prof-a', envelope(), ['accessToken']);
      expect((await a.profiles.require('prof-a')).document).toEqual({ connectorProfileName: 'prof-a', moved: true });
      await expect(a.profiles.updateCredentials('prof-none', fresh, [])).rejects.toMatchObject({ code: 'PROFILE_NOT_FOUND' });

      await a.profiles.put(profile('Prof-B'));
      expect((await b.profiles.list()).map((x) => x.name)).toEqual(['Prof-B', 'prof-a']);
      expect(await b.profiles.delete('prof-a')).toBe(true);
      expect(await b.profiles.delete('prof-a')).toBe(false);
      expect(await a.profiles.get('prof-a')).toBeUndefined();
      await expect(a.profiles.require('prof-a')).rejects.toMatchObject({ code: 'PROFILE_NOT_FOUND' });
    });
  });
}
