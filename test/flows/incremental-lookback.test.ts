import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { validateFlow } from '../../src/flows/validate.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { parseServiceConfig } from '../../src/service/config.ts';
import { openRunState, type RunStateStore } from '../../src/flows/state.ts';
import type { ExecutionRecord } from '../../src/flows/run-record.ts';
import { sobjectApi } from '../helpers/sobject-api.ts';

const FAST = { retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 } };

/**
 * Lookback against the emulator over HTTP, on the emulator's own clock (records are stamped with it, and
 * the window ends at it, from its Date header): a record a long transaction commits after a run, stamped
 * before that run's end, is read by the next run; nothing else is delivered twice.
 */
describe('incremental lookback', () => {
  let emu: RunningEmulator;
  // Whole seconds, an hour back: the Date header carries whole seconds.
  let clock = Math.floor(Date.now() / 1000) * 1000 - 3600_000;
  const t0 = clock;
  const at = (seconds: number): void => {
    clock = t0 + seconds * 1000;
  };
  const profiles = (): Record<string, unknown> => ({ 'forceflow-emulator': emu.connectorProfile });

  beforeAll(async () => {
    emu = await startEmulator({ clock: () => clock });
  });
  afterAll(async () => {
    await emu?.close();
  });

  const api = sobjectApi(() => emu);
  const insert = (name: string, industry = 'Lookback'): Promise<string> => api('POST', 'Account', { Name: name, Industry: industry });

  function flow(name: string, out: string, tags?: Record<string, string>, transferApi = 'REST_SYNC', industry = 'Lookback'): Record<string, unknown> {
    return {
      flowName: name,
      triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', firstExecutionFrom: t0 / 1000 - 60 } } },
      sourceFlowConfig: {
        connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator',
        sourceConnectorProperties: { Salesforce: { object: 'Account', dataTransferApi: transferApi } },
        incrementalPullConfig: { datetimeTypeFieldName: 'LastModifiedDate' },
      },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
      // Neither Id nor LastModifiedDate is mapped: the run reads them to key records, and the output lacks them.
      tasks: [
        { taskType: 'Filter', sourceFields: ['Name', 'Industry'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Filter', sourceFields: ['Industry'], connectorOperator: { Salesforce: 'EQUAL_TO' }, taskProperties: { DATA_TYPE: 'string', VALUE: industry } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
      ...(tags ? { tags } : {}),
    };
  }
  const rows = (r: ExecutionRecord): Array<Record<string, unknown>> => r.outputs.flatMap((p) => readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
  const names = (r: ExecutionRecord): string[] => rows(r).map((x) => String(x['Name'])).sort();

  it('re-reads a late-committed record once, never delivers another twice, and delivers a changed record again', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-lookback-')));
    const out = mkdtempSync(join(tmpdir(), 'ff-lookback-out-'));
    const outNo = mkdtempSync(join(tmpdir(), 'ff-lookback-none-'));
    const withLookback = flow('lookback-accounts', out, { 'forceflow:lookbackSeconds': '60' });
    const without = flow('no-lookback-accounts', outNo);
    const run = (f: Record<string, unknown>): Promise<ExecutionRecord> => runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST });

    at(0);
    await insert('A');
    at(10);
    const b = await insert('B');
    at(20);
    const first = await run(withLookback);
    const firstNone = await run(without);
    expect(first.executionStatus).toBe('Successful');
    expect(names(first)).toEqual(['A', 'B']);
    expect(names(firstNone)).toEqual(['A', 'B']);
    expect(Object.keys(rows(first)[0] ?? {})).toEqual(['Name']);
    expect(first.dataPullEndTime).toBe(new Date(t0 + 20_000).toISOString());

    // A transaction that began before the run commits after it: its record is stamped before the run's end.
    at(15);
    await insert('Late');
    at(40);
    await insert('C');
    at(50);
    const second = await run(withLookback);
    const secondNone = await run(without);
    expect(second.executionStatus).toBe('Successful');
    expect(second.dataPullStartTime).toBe(new Date(t0 + 20_000 - 60_000).toISOString());
    expect(names(second)).toEqual(['C', 'Late']);
    expect(second.notes.join(' ')).toMatch(/2 records read again inside the lookback/);
    // Without a lookback the late record is lost: the window starts at the previous end.
    expect(names(secondNone)).toEqual(['C']);

    // The window now overlaps both earlier runs: nothing is delivered again, but B's new version is.
    at(70);
    await api('PATCH', `Account/${b}`, { Name: 'B2' });
    at(80);
    const third = await run(withLookback);
    expect(third.executionStatus).toBe('Successful');
    expect(names(third)).toEqual(['B2']);
    at(200);
    const fourth = await run(withLookback);
    expect(names(fourth)).toEqual([]);
    expect(fourth.executionStatus).toBe('Successful');
    state.close();
  });

  it('works the same through Bulk API 2.0 (its CSV timestamps key the records alike)', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-lookback-bulk-')));
    const f = flow('lookback-bulk', mkdtempSync(join(tmpdir(), 'ff-lookback-bulk-out-')), { 'forceflow:lookbackSeconds': '60' }, 'BULKV2', 'LookbackBulk');
    const run = (): Promise<ExecutionRecord> => runFlow({ flow: f, profiles: profiles(), state, salesforce: { ...FAST, bulk: { pollInitialMs: 10, pollMaxMs: 50 } } });
    at(500);
    await insert('X', 'LookbackBulk');
    at(510);
    const first = await run();
    expect(first.sourceDataTransferApi).toBe('BULKV2');
    expect(names(first)).toEqual(['X']);
    at(505);
    await insert('Y', 'LookbackBulk');
    at(520);
    const second = await run();
    expect(second.executionStatus).toBe('Successful');
    expect(names(second)).toEqual(['Y']);
    state.close();
  });

  it('a failed run advances neither the window nor the delivered keys; the next run delivers what it would have', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-lookback-fail-'));
    const state: RunStateStore = openRunState(dir);
    const out = mkdtempSync(join(tmpdir(), 'ff-lookback-fail-out-'));
    const f = flow('lookback-failing', out, { 'forceflow:lookbackSeconds': '600' });
    at(300);
    await insert('D');
    at(310);
    const first = await runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST });
    expect(first.executionStatus).toBe('Successful');
    const delivered = names(first);
    expect(delivered).toContain('D');
    at(320);
    await insert('E');
    at(330);
    // The size guard stops the run inside its first batch, after the lookback staged that batch's keys.
    const failed = await runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST, maxBytes: 1 });
    expect(failed.executionStatus).toBe('Error');
    expect(failed.error?.code).toBe('RUN_SIZE_LIMIT');
    expect(await state.lastWindowEnd('lookback-failing')).toBe(first.dataPullEndTime);
    const db = new Database(join(dir, 'runs.db'), { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM delivered_staged').get() as { n: number }).n).toBe(0);
    db.close();
    at(340);
    const next = await runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST });
    expect(next.executionStatus).toBe('Successful');
    // The previous end minus 600 s would be before firstExecutionFrom: the lookback stops there.
    expect(next.dataPullStartTime).toBe(new Date(t0 - 60_000).toISOString());
    expect(names(next)).toEqual(['E']);
    state.close();
  });

  it('takes the lookback from the run option, else the tag, else the default, and refuses a bad tag, option or service setting naming it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ff-lookback-opt-'));
    expect(() => validateFlow(flow('bad-tag', out, { 'forceflow:lookbackSeconds': '5 minutes' }))).toThrow(/tags\.forceflow:lookbackSeconds.*not a whole number of seconds/s);
    const error = await runFlow({ flow: flow('bad-option', out), profiles: profiles(), lookbackSeconds: -1, state: openRunState(mkdtempSync(join(tmpdir(), 'ff-lookback-opt-state-'))) }).catch((e: unknown) => e);
    expect(isForceflowError(error) && error.code).toBe('CONFIG_INVALID');
    expect(String((error as Error).message)).toMatch(/lookbackSeconds/);

    // The service's default (service.json lookbackSeconds) is checked where it is read.
    expect(parseServiceConfig({ lookbackSeconds: 300 }).lookbackSeconds).toBe(300);
    for (const bad of [-1, 1.5, 36001]) expect(() => parseServiceConfig({ lookbackSeconds: bad })).toThrow(/lookbackSeconds/);

    const state = openRunState(mkdtempSync(join(tmpdir(), 'ff-lookback-opt-state-')));
    const f = flow('option-over-tag', out, { 'forceflow:lookbackSeconds': '0' });
    at(400);
    await runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST });
    at(395);
    await insert('Late2');
    at(410);
    const tagOnly = await runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST });
    expect(names(tagOnly)).toEqual([]);
    await state.setWindow('option-over-tag', new Date(t0 + 400_000).toISOString(), new Date(), 'test');
    const withOption = await runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST, lookbackSeconds: 30 });
    expect(names(withOption)).toEqual(['Late2']);
    // The tag wins over a service's default; a flow without the tag takes the default.
    await state.setWindow('option-over-tag', new Date(t0 + 400_000).toISOString(), new Date(), 'test');
    const tagOverDefault = await runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST, defaultLookbackSeconds: 30 });
    expect(names(tagOverDefault)).toEqual([]);
    const untagged = flow('option-over-tag', out);
    await state.setWindow('option-over-tag', new Date(t0 + 400_000).toISOString(), new Date(), 'test');
    const byDefault = await runFlow({ flow: untagged, profiles: profiles(), state, salesforce: FAST, defaultLookbackSeconds: 30 });
    expect(names(byDefault)).toEqual(['Late2']);
    state.close();
  });
});
