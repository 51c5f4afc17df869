import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { openRunState, type RunStateStore } from '../../src/flows/state.ts';
import type { ExecutionRecord } from '../../src/flows/run-record.ts';
import { sobjectApi } from '../helpers/sobject-api.ts';

/**
 * The API budget guard's early stop (`forceflow:onApiReserve: "stop"`, docs/salesforce-budget.md) on a flow with
 * a formula refresh (`forceflow:formulaRefresh`, docs/flows.md) against the emulator over HTTP: the reserve is
 * crossed while a run due a refresh reads its window. Across that run and the next, every record is delivered
 * once with its current values, the formula hashes are those of what was delivered, the refresh is deferred (and
 * said so in the run record), and the window resumes where the stop left it.
 */
describe('early stop at the API reserve on a flow due a formula refresh', () => {
  let emu: RunningEmulator;
  let clock = Math.floor(Date.now() / 1000) * 1000 - 7200_000;
  const t0 = clock;
  const at = (seconds: number): void => {
    clock = t0 + seconds * 1000;
  };
  const LINES = 18;
  const TOUCHED = 15;
  const SF = { apiReserve: 100, retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 }, bulk: { maxRecords: 5, pollInitialMs: 1, pollMaxMs: 5 } };

  beforeAll(async () => {
    emu = await startEmulator({ clock: () => clock, tokenTtlSeconds: 86_400 });
  });
  afterAll(async () => {
    await emu?.close();
  });

  const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${emu.controlUrl}${path}`, { method, headers: emu.controlHeaders, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    expect(res.status).toBeLessThan(300);
    return res.json();
  };
  const api = sobjectApi(() => emu);
  const name = (i: number): string => `BFR-L${String(i).padStart(2, '0')}`;
  const flow = (out: string, flowName = 'budget-formula', marker = 'BFR-'): Record<string, unknown> => ({
    flowName,
    triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', firstExecutionFrom: t0 / 1000 - 60 } } },
    sourceFlowConfig: {
      connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator',
      sourceConnectorProperties: { Salesforce: { object: 'Invoice_Line__c', dataTransferApi: 'BULKV2' } },
      incrementalPullConfig: { datetimeTypeFieldName: 'SystemModstamp' },
    },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
    tasks: [
      { taskType: 'Filter', sourceFields: ['Name', 'Converted_Total__c'], connectorOperator: { Salesforce: 'PROJECTION' } },
      { taskType: 'Filter', sourceFields: ['Name'], connectorOperator: { Salesforce: 'CONTAINS' }, taskProperties: { DATA_TYPE: 'string', VALUE: marker } },
      { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      { taskType: 'Map', sourceFields: ['Converted_Total__c'], destinationField: 'Converted', connectorOperator: { Salesforce: 'NO_OP' } },
    ],
    tags: { 'forceflow:formulaRefresh': 'interval:PT1H', 'forceflow:onApiReserve': 'stop' },
  });
  /** Runs flow `f` on the emulator at the test clock, with an onProgress callback when given. */
  const runner = (f: Record<string, unknown>, state: RunStateStore) => (onProgress?: () => void): Promise<ExecutionRecord> =>
    runFlow({ flow: f, profiles: { 'forceflow-emulator': emu.connectorProfile }, state, salesforce: SF, now: () => new Date(clock), ...(onProgress ? { onProgress } : {}) });
  /** An onProgress that, at the first batch, has another integration spend the org down to 50 calls left. */
  const spendOnce = (): (() => void) => {
    let spent = false;
    return () => {
      if (spent) return;
      spent = true;
      emu.org.limits.used = emu.org.limits.max - 50;
    };
  };
  const delivered = (r: ExecutionRecord): string[] =>
    r.outputs.flatMap((p) => readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
      const x = JSON.parse(l) as Record<string, unknown>;
      return `${String(x['Name'])}=${String(x['Converted'])}`;
    }));

  it('defers the refresh of a run stopped early, and the next run delivers the rest once, refreshing', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-bfr-state-')));
    const f = flow(mkdtempSync(join(tmpdir(), 'ff-bfr-out-')));
    const run = runner(f, state);
    await control('PUT', '/limits', { max: 1000, remaining: 1000 });

    // One invoice at rate 1; LINES lines of price i+1, stamped three by three a second apart.
    at(0);
    const inv = await api('POST', 'Invoice__c', { Name: 'BFR-INV', Exchange_Rate__c: 1 });
    const ids: string[] = [];
    for (let i = 0; i < LINES; i++) {
      at(1 + Math.floor(i / 3));
      ids.push(await api('POST', 'Invoice_Line__c', { Name: name(i), Invoice__c: inv, Quantity__c: 1, Unit_Price__c: i + 1 }));
    }
    at(10);
    const first = await run();
    expect(first.executionStatus).toBe('Successful');
    expect(delivered(first).sort()).toEqual(Array.from({ length: LINES }, (_, i) => `${name(i)}=${i + 1}`).sort());
    expect(first.formulaRefresh).toMatchObject({ refreshed: false });

    // The rate doubles (every line's formula changes, no SystemModstamp does); the first TOUCHED lines then change
    // on their own records (quantity 2), three a second: their window has pages of 5 ending inside a timestamp group.
    at(20);
    await api('PATCH', `Invoice__c/${inv}`, { Exchange_Rate__c: 2 });
    for (let i = 0; i < TOUCHED; i++) {
      at(21 + Math.floor(i / 3));
      await api('PATCH', `Invoice_Line__c/${ids[i] as string}`, { Quantity__c: 2 });
    }
    const current = (i: number): string => `${name(i)}=${2 * (i < TOUCHED ? 2 : 1) * (i + 1)}`;

    // Due a refresh (an hour since the first run); another integration spends the org's calls after the first batch.
    at(10 + 3600);
    const second = await run(spendOnce());
    expect(second.executionStatus, JSON.stringify(second.error)).toBe('Successful');
    expect(second.apiUsage.orgs[0]?.stopped).toBe('stop');
    const got2 = delivered(second);
    expect(got2.length).toBeGreaterThan(0);
    expect(got2.length).toBeLessThan(TOUCHED);
    // What the window delivered is a prefix of its records in timestamp order, whole timestamp groups, current values.
    expect(got2.length % 3).toBe(0);
    expect(got2).toEqual(Array.from({ length: got2.length }, (_, i) => current(i)));
    // The window ends at the last delivered record's stamp.
    expect(second.dataPullEndTime).toBe(new Date(t0 + (21 + got2.length / 3 - 1) * 1000).toISOString());
    // The refresh did not run: deferred to the next run, said in the record.
    expect(second.formulaRefresh).toMatchObject({ refreshed: false, recordsRead: 0, changed: 0, apiCalls: 0 });
    expect(second.formulaRefresh?.reason).toMatch(/deferred/);
    expect(second.notes.some((n) => n.includes('stopped early'))).toBe(true);
    expect(second.notes.some((n) => /formula refresh .*deferred/i.test(n))).toBe(true);

    // The limit recovers: the window resumes where the stop left it, and the refresh (still due) runs.
    await control('PUT', '/limits', { max: 1000, remaining: 1000 });
    at(20 + 3600);
    const third = await run();
    expect(third.executionStatus).toBe('Successful');
    expect(third.apiUsage.orgs[0]?.stopped).toBeNull();
    expect(third.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: LINES, changed: LINES - TOUCHED, baseline: 0 });
    const got3 = delivered(third);
    // Every line once across the two runs, each with its current value.
    expect([...got2, ...got3].sort()).toEqual(Array.from({ length: LINES }, (_, i) => current(i)).sort());

    // The hashes kept are those of what was delivered: a refresh now finds nothing changed.
    at(30 + 3600);
    const fourth = await runFlow({ flow: f, profiles: { 'forceflow-emulator': emu.connectorProfile }, state, salesforce: SF, now: () => new Date(clock), formulaRefresh: 'now' });
    expect(fourth.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: LINES, changed: 0, baseline: 0 });
    expect(delivered(fourth)).toEqual([]);
    state.close();
  });

  it('defers the refresh when the reserve is reached once the window is read (its last page), before the refresh reads', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-bfr2-state-')));
    const f = flow(mkdtempSync(join(tmpdir(), 'ff-bfr2-out-')), 'budget-formula-last-page', 'BFR2-');
    const run = runner(f, state);
    await control('PUT', '/limits', { max: 1000, remaining: 1000 });
    at(4_000);
    const inv = await api('POST', 'Invoice__c', { Name: 'BFR2-INV', Exchange_Rate__c: 1 });
    const l1 = await api('POST', 'Invoice_Line__c', { Name: 'BFR2-L1', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 3 });
    await api('POST', 'Invoice_Line__c', { Name: 'BFR2-L2', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 5 });
    at(4_010);
    const first = await run();
    expect(delivered(first).sort()).toEqual(['BFR2-L1=3', 'BFR2-L2=5']);
    at(4_020);
    await api('PATCH', `Invoice__c/${inv}`, { Exchange_Rate__c: 10 });
    at(4_021);
    await api('PATCH', `Invoice_Line__c/${l1}`, { Quantity__c: 2 });
    // Due; the window (one page: L1) is read whole, and the org is spent as it is delivered.
    at(4_010 + 3600);
    const second = await run(spendOnce());
    expect(second.executionStatus, JSON.stringify(second.error)).toBe('Successful');
    expect(delivered(second)).toEqual(['BFR2-L1=60']);
    expect(second.dataPullEndTime).toBe(new Date(clock).toISOString());
    expect(second.formulaRefresh).toMatchObject({ refreshed: false, changed: 0 });
    expect(second.formulaRefresh?.reason).toMatch(/deferred to the next run: the org's API reserve was reached/);
    expect(second.notes.some((n) => /formula refresh .*deferred/i.test(n))).toBe(true);

    await control('PUT', '/limits', { max: 1000, remaining: 1000 });
    at(4_020 + 3600);
    const third = await run();
    expect(third.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 2, changed: 1, baseline: 0 });
    expect(delivered(third)).toEqual(['BFR2-L2=50']);
    state.close();
  });

  it('with a Salesforce destination on the same org, a deferred refresh leaves the window\'s records to be written', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-bfr3-state-')));
    const f = {
      ...flow('/unused', 'budget-formula-to-sf', 'BFR3-'),
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator', destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT', dataTransferApi: 'BULKV2' } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Name', 'Converted_Total__c'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Filter', sourceFields: ['Name'], connectorOperator: { Salesforce: 'CONTAINS' }, taskProperties: { DATA_TYPE: 'string', VALUE: 'BFR3-' } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
    };
    const run = runner(f, state);
    await control('PUT', '/limits', { max: 1000, remaining: 1000 });
    at(5_000);
    const inv = await api('POST', 'Invoice__c', { Name: 'BFR3-INV', Exchange_Rate__c: 1 });
    const l1 = await api('POST', 'Invoice_Line__c', { Name: 'BFR3-L1', Invoice__c: inv, Quantity__c: 1, Unit_Price__c: 3 });
    at(5_010);
    expect((await run()).executionResult.recordsWritten).toBe(1);
    at(5_020);
    await api('PATCH', `Invoice_Line__c/${l1}`, { Quantity__c: 2 });
    at(5_010 + 3600);
    const second = await run(spendOnce());
    expect(second.executionStatus, JSON.stringify(second.error)).toBe('Successful');
    expect(second.executionResult.recordsWritten).toBe(1);
    expect(second.formulaRefresh?.reason).toMatch(/deferred to the next run/);
    state.close();
  });
});
