import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { checkFlow } from '../../src/flows/validate.ts';
import { openRunState, type RunStateStore } from '../../src/flows/state.ts';
import type { ExecutionRecord } from '../../src/flows/run-record.ts';
import { parseFormulaRefresh } from '../../src/flows/formula-refresh-tag.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { forceflow } from '../helpers/cli.ts';
import { sobjectApi } from '../helpers/sobject-api.ts';

const FAST = { retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 }, bulk: { pollInitialMs: 5, pollMaxMs: 20 } };

/**
 * The formula refresh against the emulator over HTTP: Invoice_Line__c.Converted_Total__c is
 * `Invoice__r.Exchange_Rate__c * Quantity__c * Unit_Price__c`, so a change of an invoice's rate changes its lines'
 * values without touching their SystemModstamp. An ordinary incremental run misses it; the refresh delivers
 * exactly the changed records.
 */
describe('formula refresh', () => {
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
  const modstamp = async (id: string): Promise<string> => {
    const res = await fetch(`${emu.instanceUrl}/services/data/v58.0/sobjects/Invoice_Line__c/${id}`, { headers: { Authorization: `Bearer ${emu.accessToken}` } });
    return String(((await res.json()) as { SystemModstamp: string }).SystemModstamp);
  };

  function flow(name: string, out: string, tags?: Record<string, string>, marker = 'FR-'): Record<string, unknown> {
    return {
      flowName: name,
      triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', firstExecutionFrom: t0 / 1000 - 60 } } },
      sourceFlowConfig: {
        connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator',
        sourceConnectorProperties: { Salesforce: { object: 'Invoice_Line__c', dataTransferApi: 'REST_SYNC' } },
        incrementalPullConfig: { datetimeTypeFieldName: 'SystemModstamp' },
      },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
      // Id is not mapped: the refresh reads it to key records, and the output lacks it.
      tasks: [
        { taskType: 'Filter', sourceFields: ['Name', 'Quantity__c', 'Converted_Total__c'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Filter', sourceFields: ['Name'], connectorOperator: { Salesforce: 'CONTAINS' }, taskProperties: { DATA_TYPE: 'string', VALUE: marker } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
        { taskType: 'Map', sourceFields: ['Quantity__c'], destinationField: 'Quantity', connectorOperator: { Salesforce: 'NO_OP' } },
        { taskType: 'Map', sourceFields: ['Converted_Total__c'], destinationField: 'Converted', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
      ...(tags ? { tags } : {}),
    };
  }
  const rows = (r: ExecutionRecord): Array<Record<string, unknown>> => r.outputs.flatMap((p) => readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
  const delivered = (r: ExecutionRecord): string[] => rows(r).map((x) => `${String(x['Name'])}=${String(x['Converted'])}`).sort();

  it('delivers exactly the records whose formulas changed through a parent, which an ordinary incremental run misses', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-formula-')));
    const refreshing = flow('lines-refresh', mkdtempSync(join(tmpdir(), 'ff-formula-out-')), { 'forceflow:formulaRefresh': 'every:2' });
    const plain = flow('lines-plain', mkdtempSync(join(tmpdir(), 'ff-formula-plain-')));
    const run = (f: Record<string, unknown>): Promise<ExecutionRecord> => runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST });

    at(0);
    const a = await api('POST', 'Invoice__c', { Name: 'FR-INV-A', Exchange_Rate__c: 1.5 });
    const b = await api('POST', 'Invoice__c', { Name: 'FR-INV-B', Exchange_Rate__c: 2 });
    at(5);
    const l1 = await api('POST', 'Invoice_Line__c', { Name: 'FR-L1', Invoice__c: a, Quantity__c: 2, Unit_Price__c: 10 });
    await api('POST', 'Invoice_Line__c', { Name: 'FR-L2', Invoice__c: a, Quantity__c: 1, Unit_Price__c: 4 });
    await api('POST', 'Invoice_Line__c', { Name: 'FR-L3', Invoice__c: b, Quantity__c: 3, Unit_Price__c: 1 });
    at(20);
    const first = await run(refreshing);
    expect(first.executionStatus).toBe('Successful');
    expect(delivered(first)).toEqual(['FR-L1=30', 'FR-L2=6', 'FR-L3=6']);
    expect(Object.keys(rows(first)[0] ?? {}).sort()).toEqual(['Converted', 'Name', 'Quantity']);
    expect(first.formulaRefresh).toMatchObject({ setting: 'every:2', refreshed: false, fields: ['Converted_Total__c'], recordsRead: 0, changed: 0, apiCalls: 0 });
    expect(await run(plain)).toMatchObject({ executionStatus: 'Successful' });

    // Invoice A's rate changes: its lines' Converted_Total__c changes, their SystemModstamp does not.
    const stampBefore = await modstamp(l1);
    at(30);
    await api('PATCH', `Invoice__c/${a}`, { Exchange_Rate__c: 3 });
    expect(await modstamp(l1)).toBe(stampBefore);
    at(40);
    const missed = await run(plain);
    expect(missed.executionStatus).toBe('Successful');
    expect(delivered(missed)).toEqual([]);
    expect(missed.formulaRefresh).toBeUndefined();

    const second = await run(refreshing);
    expect(second.executionStatus).toBe('Successful');
    expect(delivered(second)).toEqual(['FR-L1=60', 'FR-L2=12']);
    expect(second.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 3, changed: 2, baseline: 0 });
    expect(second.formulaRefresh?.reason).toMatch(/every 2 runs/);
    // One Bulk query: create, at least one poll, one results page; counted in the source's calls.
    expect(second.formulaRefresh?.apiCalls).toBeGreaterThanOrEqual(3);
    expect(second.formulaRefresh?.apiCalls).toBeLessThanOrEqual(second.apiCalls.source);
    expect(second.executionResult.recordsProcessed).toBe(2);

    // Not due on the next run: a line changed on its own record is delivered by the window as usual.
    at(50);
    await api('PATCH', `Invoice_Line__c/${l1}`, { Quantity__c: 4 });
    at(60);
    const third = await run(refreshing);
    expect(delivered(third)).toEqual(['FR-L1=120']);
    expect(third.formulaRefresh).toMatchObject({ refreshed: false, recordsRead: 0 });

    // Due again: L1 changed on its record (the window delivers it, once) and B's rate changed (the refresh delivers L3).
    at(70);
    await api('PATCH', `Invoice_Line__c/${l1}`, { Quantity__c: 5 });
    await api('PATCH', `Invoice__c/${b}`, { Exchange_Rate__c: 0.5 });
    at(80);
    const fourth = await run(refreshing);
    expect(delivered(fourth)).toEqual(['FR-L1=150', 'FR-L3=1.5']);
    expect(fourth.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 3, changed: 1, baseline: 0 });

    // Nothing changed since: a refresh delivers nothing.
    at(90);
    await run(refreshing);
    at(100);
    const sixth = await run(refreshing);
    expect(sixth.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 3, changed: 0 });
    expect(delivered(sixth)).toEqual([]);
    state.close();
  });

  it('takes records it never delivered as the baseline, and refreshes on an interval', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-formula-int-')));
    const f = flow('lines-interval', mkdtempSync(join(tmpdir(), 'ff-formula-int-out-')), { 'forceflow:formulaRefresh': 'interval:PT1H' }, 'FRI-');
    // The interval is measured on the run's clock (here the emulator's).
    const run = (): Promise<ExecutionRecord> => runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST, now: () => new Date(clock) });
    at(200);
    const inv = await api('POST', 'Invoice__c', { Name: 'FRI-INV', Exchange_Rate__c: 1 });
    await api('POST', 'Invoice_Line__c', { Name: 'FRI-L1', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 7 });
    at(210);
    const first = await run();
    expect(delivered(first)).toEqual(['FRI-L1=7']);
    // A line stamped before the window's end but committed after it (outside the window next time), never delivered.
    at(205);
    await api('POST', 'Invoice_Line__c', { Name: 'FRI-L2', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 9 });
    at(220);
    await api('PATCH', `Invoice__c/${inv}`, { Exchange_Rate__c: 2 });
    at(230);
    const early = await run();
    expect(early.formulaRefresh).toMatchObject({ refreshed: false });
    expect(early.formulaRefresh?.reason).toMatch(/interval PT1H.*next refresh from/);
    expect(delivered(early)).toEqual([]);
    at(210 + 3600);
    const due = await run();
    expect(due.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 2, changed: 1, baseline: 1 });
    expect(delivered(due)).toEqual(['FRI-L1=14']);
    state.close();
  });

  it('a failed run keeps no hashes: the next refresh delivers the change again', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-formula-fail-')));
    const f = flow('lines-fail', mkdtempSync(join(tmpdir(), 'ff-formula-fail-out-')), { 'forceflow:formulaRefresh': 'every:1' }, 'FRF-');
    const run = (): Promise<ExecutionRecord> => runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST });
    at(300);
    const inv = await api('POST', 'Invoice__c', { Name: 'FRF-INV', Exchange_Rate__c: 1 });
    await api('POST', 'Invoice_Line__c', { Name: 'FRF-L1', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 3 });
    at(310);
    expect(delivered(await run())).toEqual(['FRF-L1=3']);
    at(320);
    await api('PATCH', `Invoice__c/${inv}`, { Exchange_Rate__c: 4 });
    at(330);
    // A run that fails once the refresh has read (and staged) the changed record: the size guard stops it.
    const failed = await runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST, maxBytes: 1 });
    expect(failed.executionStatus).toBe('Error');
    expect(failed.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 1, changed: 1 });
    expect(rows(failed)).toEqual([]);
    at(340);
    const again = await run();
    expect(again.formulaRefresh).toMatchObject({ refreshed: true, changed: 1 });
    expect(delivered(again)).toEqual(['FRF-L1=12']);
    state.close();
  });

  it('works with a lookback and a Bulk window read: nothing delivered twice, the output as the tasks map it', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-formula-lb-')));
    const f = flow('lines-lookback', mkdtempSync(join(tmpdir(), 'ff-formula-lb-out-')), { 'forceflow:formulaRefresh': 'every:1', 'forceflow:lookbackSeconds': '60' }, 'FRL-');
    const source = (f['sourceFlowConfig'] as { sourceConnectorProperties: { Salesforce: Record<string, unknown> } }).sourceConnectorProperties.Salesforce;
    source['dataTransferApi'] = 'BULKV2';
    const run = (): Promise<ExecutionRecord> => runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST });
    at(400);
    const inv = await api('POST', 'Invoice__c', { Name: 'FRL-INV', Exchange_Rate__c: 1 });
    await api('POST', 'Invoice_Line__c', { Name: 'FRL-L1', Invoice__c: inv, Quantity__c: 2, Unit_Price__c: 5 });
    const l2 = await api('POST', 'Invoice_Line__c', { Name: 'FRL-L2', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 1 });
    at(410);
    const first = await run();
    expect(first.sourceDataTransferApi).toBe('BULKV2');
    expect(delivered(first)).toEqual(['FRL-L1=10', 'FRL-L2=1']);
    expect(Object.keys(rows(first)[0] ?? {}).sort()).toEqual(['Converted', 'Name', 'Quantity']);
    at(420);
    await api('PATCH', `Invoice__c/${inv}`, { Exchange_Rate__c: 3 });
    await api('PATCH', `Invoice_Line__c/${l2}`, { Quantity__c: 2 });
    at(430);
    // The window (with its lookback) delivers L2 once; the refresh delivers L1; nothing else.
    const second = await run();
    expect(delivered(second)).toEqual(['FRL-L1=30', 'FRL-L2=6']);
    expect(second.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 2, changed: 1, baseline: 0 });
    expect(Object.keys(rows(second)[0] ?? {}).sort()).toEqual(['Converted', 'Name', 'Quantity']);
    state.close();
  });

  it('leaves a record changed after the window end to the next window (scheduleOffset)', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-formula-off-')));
    const f = flow('lines-offset', mkdtempSync(join(tmpdir(), 'ff-formula-off-out-')), { 'forceflow:formulaRefresh': 'every:1' }, 'FRO-');
    ((f['triggerConfig'] as { triggerProperties: { Scheduled: Record<string, unknown> } }).triggerProperties.Scheduled)['scheduleOffset'] = 100;
    const run = (): Promise<ExecutionRecord> => runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST });
    at(600);
    const inv = await api('POST', 'Invoice__c', { Name: 'FRO-INV', Exchange_Rate__c: 1 });
    await api('POST', 'Invoice_Line__c', { Name: 'FRO-L1', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 2 });
    const l2 = await api('POST', 'Invoice_Line__c', { Name: 'FRO-L2', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 3 });
    at(800);
    const first = await run();
    expect(first.dataPullEndTime).toBe(new Date(t0 + 700_000).toISOString());
    expect(delivered(first)).toEqual(['FRO-L1=2', 'FRO-L2=3']);
    at(850);
    await api('PATCH', `Invoice__c/${inv}`, { Exchange_Rate__c: 10 });
    at(880);
    await api('PATCH', `Invoice_Line__c/${l2}`, { Quantity__c: 2 });
    at(900);
    // Window (700, 800]: nothing. The refresh delivers L1; L2, stamped after 800, is the next window's.
    const second = await run();
    expect(delivered(second)).toEqual(['FRO-L1=20']);
    expect(second.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 2, changed: 1, deferred: 1 });
    expect(Object.keys(rows(second)[0] ?? {}).sort()).toEqual(['Converted', 'Name', 'Quantity']);
    at(1000);
    const third = await run();
    expect(delivered(third)).toEqual(['FRO-L2=60']);
    expect(third.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 2, changed: 0, deferred: 0 });
    state.close();
  });

  it('refreshes now or skips a due refresh when the run asks (runFlow formulaRefresh, forceflow run --formula-refresh)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-formula-now-'));
    const state: RunStateStore = openRunState(stateDir);
    const out = mkdtempSync(join(tmpdir(), 'ff-formula-now-out-'));
    const f = flow('lines-now', out, { 'forceflow:formulaRefresh': 'every:2' }, 'FRN-');
    const run = (formulaRefresh?: 'due' | 'now' | 'skip'): Promise<ExecutionRecord> => runFlow({ flow: f, profiles: profiles(), state, salesforce: FAST, ...(formulaRefresh ? { formulaRefresh } : {}) });
    at(1100);
    const inv = await api('POST', 'Invoice__c', { Name: 'FRN-INV', Exchange_Rate__c: 1 });
    await api('POST', 'Invoice_Line__c', { Name: 'FRN-L1', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 5 });
    at(1110);
    expect(delivered(await run())).toEqual(['FRN-L1=5']);
    at(1120);
    await api('PATCH', `Invoice__c/${inv}`, { Exchange_Rate__c: 2 });
    at(1130);
    // Due (the second run), skipped: nothing delivered; the next run is due and delivers the change.
    const skipped = await run('skip');
    expect(skipped.formulaRefresh).toMatchObject({ refreshed: false, reason: 'skipped for this run (formulaRefresh skip)' });
    expect(delivered(skipped)).toEqual([]);
    const due = await run('due');
    expect(due.formulaRefresh).toMatchObject({ refreshed: true, changed: 1 });
    expect(due.formulaRefresh?.reason).toMatch(/every 2 runs: run 3 since the flow's first run/);
    expect(delivered(due)).toEqual(['FRN-L1=10']);
    state.close();
    at(1140);
    await api('PATCH', `Invoice__c/${inv}`, { Exchange_Rate__c: 3 });
    at(1150);

    // The CLI, on the same state folder: not due (the last run refreshed), refreshed now.
    const flowFile = join(out, 'flow.json');
    const profileFile = join(out, 'profile.json');
    writeFileSync(flowFile, JSON.stringify(f));
    writeFileSync(profileFile, JSON.stringify(emu.connectorProfile));
    const now = await forceflow(['run', flowFile, '--profile', profileFile, '--state-dir', stateDir, '--formula-refresh', 'now', '--log-level', 'warn']);
    expect(now.code).toBe(0);
    const record = JSON.parse(now.stdout) as ExecutionRecord;
    expect(record.formulaRefresh).toMatchObject({ refreshed: true, reason: 'asked for this run (formulaRefresh now)', recordsRead: 1, changed: 1 });
    expect(delivered(record)).toEqual(['FRN-L1=15']);
    const bad = await forceflow(['run', flowFile, '--formula-refresh', 'sometimes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/CONFIG_INVALID: option '--formula-refresh <when>' argument 'sometimes' is invalid/);

    // `now` needs the tag; a wrong value from a library caller is refused too, before the run starts.
    const untagged = flow('lines-untagged', out, undefined, 'FRN-');
    for (const [when, pattern] of [['now', /needs an incremental flow with the forceflow:formulaRefresh tag/], ['sometimes', /must be one of due, now, skip/]] as const) {
      const error = await runFlow({ flow: untagged, profiles: profiles(), state: openRunState(mkdtempSync(join(tmpdir(), 'ff-formula-opt-'))), formulaRefresh: when as 'now' }).catch((e: unknown) => e);
      expect(isForceflowError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
      expect(String((error as Error).message)).toMatch(pattern);
    }
  });

  it('refuses a bad tag, naming the field, and the tag on flows it cannot apply to', () => {
    const out = mkdtempSync(join(tmpdir(), 'ff-formula-bad-'));
    const problems = (json: Record<string, unknown>): string[] => checkFlow(json).problems.map((p) => `${p.path}: ${p.message}`);
    for (const bad of ['every:0', 'every:abc', 'interval:24h', 'interval:PT', 'interval:PT10S', 'sometimes', 'every:10001']) {
      const found = problems(flow('bad', out, { 'forceflow:formulaRefresh': bad }));
      expect(found, bad).toHaveLength(1);
      expect(found[0]).toMatch(/^tags\.forceflow:formulaRefresh: is ".*", not "every:N"/);
    }
    const complete = flow('complete', out, { 'forceflow:formulaRefresh': 'every:3' });
    ((complete['triggerConfig'] as { triggerProperties: { Scheduled: Record<string, unknown> } }).triggerProperties.Scheduled)['dataPullMode'] = 'Complete';
    expect(problems(complete)).toEqual([expect.stringMatching(/^tags\.forceflow:formulaRefresh: applies to incremental flows only/)]);
    const fromFiles = {
      ...flow('files', out, { 'forceflow:formulaRefresh': 'every:3' }),
      sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: out, fileType: 'CSV' } } },
      tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { LocalFile: 'NO_OP' }, taskProperties: {} }],
    };
    expect(problems(fromFiles)).toContainEqual(expect.stringMatching(/^tags\.forceflow:formulaRefresh: applies to Salesforce sources .* but the source is LocalFile/));
    expect(parseFormulaRefresh('interval:P1DT12H')).toEqual({ kind: 'interval', ms: 36 * 3600_000, text: 'P1DT12H' });
    expect(parseFormulaRefresh(' every:5 ')).toEqual({ kind: 'every', runs: 5 });
  });
});
