import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { compileFlow } from '../../src/flows/compile.ts';
import { validateFlow } from '../../src/flows/validate.ts';
import { openRunState, type RunStateStore } from '../../src/flows/state.ts';
import type { ExecutionRecord } from '../../src/flows/run-record.ts';
import { forceflow } from '../helpers/cli.ts';

/**
 * The API budget guard against the emulator over HTTP (docs/salesforce-budget.md): the emulator keeps the org's
 * daily limits and reports them as Salesforce does (/limits, Sforce-Limit-Info), and the guard reads only those.
 */
describe('API budget guard', () => {
  let emu: RunningEmulator;
  let clock = Math.floor(Date.now() / 1000) * 1000 - 3600_000;
  const t0 = clock;
  const RECORDS = 24;
  const BULK = { retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 }, bulk: { maxRecords: 5, pollInitialMs: 1, pollMaxMs: 5 } };

  beforeAll(async () => {
    emu = await startEmulator({ clock: () => clock });
  });
  afterAll(async () => {
    await emu?.close();
  });

  const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${emu.controlUrl}${path}`, { method, headers: emu.controlHeaders, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    expect(res.status).toBeLessThan(300);
    return res.json();
  };
  const setLimits = (body: Record<string, unknown>): Promise<unknown> => control('PUT', '/limits', body);
  const remaining = async (): Promise<number> => ((await control('GET', '/limits')) as { remaining: number }).remaining;

  beforeEach(async () => {
    await control('POST', '/reset');
    // RECORDS Accounts of their own industry, stamped three by three a second apart: results pages of 5 end inside a
    // group sharing a timestamp, which an early stop must not split.
    for (let i = 0; i < RECORDS; i++) {
      clock = t0 + Math.floor(i / 3) * 1000;
      await control('POST', '/records/Account', { Name: `Budget ${String(i).padStart(2, '0')}`, Industry: 'Budgeting' });
    }
    clock = t0 + 60_000;
  });

  function flow(name: string, out: string, options: { tags?: Record<string, string>; api?: string; incremental?: boolean } = {}): Record<string, unknown> {
    const incremental = options.incremental ?? true;
    return {
      flowName: name,
      triggerConfig: incremental
        ? { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', firstExecutionFrom: t0 / 1000 - 60 } } }
        : { triggerType: 'OnDemand' },
      sourceFlowConfig: {
        connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator',
        sourceConnectorProperties: { Salesforce: { object: 'Account', dataTransferApi: options.api ?? 'BULKV2' } },
        ...(incremental ? { incrementalPullConfig: { datetimeTypeFieldName: 'LastModifiedDate' } } : {}),
      },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Name', 'Industry'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Filter', sourceFields: ['Industry'], connectorOperator: { Salesforce: 'EQUAL_TO' }, taskProperties: { DATA_TYPE: 'string', VALUE: 'Budgeting' } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
      ...(options.tags ? { tags: options.tags } : {}),
    };
  }
  const names = (r: ExecutionRecord): string[] =>
    r.outputs.flatMap((p) => readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => String((JSON.parse(l) as { Name: string }).Name)));
  const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl') || f.endsWith('.json')) : []);
  const profiles = (): Record<string, unknown> => ({ 'forceflow-emulator': emu.connectorProfile });
  /**
   * Another integration spending the org's calls while the run reads: after the run's first batch, the org has 50
   * requests left (below the reserve of 100). The run learns it from the next answer's Sforce-Limit-Info only.
   */
  const othersSpend = (): (() => void) => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      emu.org.limits.used = emu.org.limits.max - 50;
    };
  };
  const fresh = (prefix: string): { state: RunStateStore; out: string } => ({ state: openRunState(mkdtempSync(join(tmpdir(), `${prefix}-state-`))), out: mkdtempSync(join(tmpdir(), `${prefix}-out-`)) });

  it('checks the forceflow:onApiReserve tag, and says when "stop" has no effect', () => {
    expect(() => validateFlow(flow('bad-tag', '/tmp', { tags: { 'forceflow:onApiReserve': 'pause' } }))).toThrow(/tags\.forceflow:onApiReserve.*"stop".*"fail"/s);
    const plan = compileFlow(flow('not-incremental', '/tmp', { tags: { 'forceflow:onApiReserve': 'stop' }, incremental: false }), { baseDir: '/tmp' });
    expect(plan.notices.some((n) => n.startsWith('tags.forceflow:onApiReserve "stop" has no effect'))).toBe(true);
  });

  it('refuses a bad reserve before the run', async () => {
    const { state, out } = fresh('ff-budget-bad');
    const record = await runFlow({ flow: flow('budget-bad', out), profiles: profiles(), state, salesforce: { ...BULK, apiReserve: '120%' } });
    expect(record.error?.code).toBe('CONFIG_INVALID');
    expect(record.error?.message).toContain('"120%"');
    state.close();
  });

  it('forceflow run --api-reserve: refused with exit 4 by a reserve over the profile\'s; a bad value is exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-budget-cli-'));
    const base = emu.connectorProfile;
    const props = base.connectorProfileConfig.connectorProfileProperties.Salesforce;
    // The profile's own reserve (1%) lets the run through; the option's 99% does not.
    writeFileSync(join(dir, 'profile.json'), JSON.stringify({ ...base, connectorProfileConfig: { ...base.connectorProfileConfig, connectorProfileProperties: { Salesforce: { ...props, apiReserve: '1%' } } } }));
    writeFileSync(join(dir, 'flow.json'), JSON.stringify(flow('budget-cli', join(dir, 'out'), { incremental: false, api: 'REST_SYNC' })));
    await setLimits({ max: 1000, remaining: 900 });
    const args = ['run', join(dir, 'flow.json'), '--profile', join(dir, 'profile.json'), '--state-dir', join(dir, 'state'), '--log-level', 'error'];
    const ok = await forceflow(args);
    expect(ok.code).toBe(0);
    const refused = await forceflow([...args, '--api-reserve', '99%']);
    expect(refused.code).toBe(4);
    expect((JSON.parse(refused.stdout) as ExecutionRecord).error?.code).toBe('API_BUDGET_RESERVE');
    const bad = await forceflow([...args, '--api-reserve', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--api-reserve lots');
  });

  it('refuses a run whose estimate would take the org below the reserve, naming the limit, the remaining figure and the estimate', async () => {
    const { state, out } = fresh('ff-budget-refused');
    // 20% of 1,000 is 200; 206 remaining leaves room for the describe, the COUNT and /limits, not for a Bulk job.
    await setLimits({ max: 1000, remaining: 206 });
    const record = await runFlow({ flow: flow('budget-refused', out), profiles: profiles(), state, salesforce: { ...BULK, apiReserve: '20%' } });
    expect(record.executionStatus).toBe('Error');
    expect(record.error?.code).toBe('API_BUDGET_RESERVE');
    expect(record.error?.kind).toBe('retryable');
    expect(record.error?.message).toMatch(/DailyApiRequests has 203 of 1,000 remaining, the run's estimate is \d+ \(read of Account: 1 Bulk query job of 24 records/);
    expect(record.outputs).toEqual([]);
    // Refused before any Bulk job was created.
    const calls = ((await control('GET', '/calls')) as { calls: Record<string, number> }).calls;
    expect(calls['POST /services/data/:version/jobs/query']).toBeUndefined();
    expect(record.apiUsage.calls).toEqual({ describe: 1, restQuery: 1, limits: 1 });
    expect(record.apiUsage.orgs).toEqual([{ connectorProfileName: 'forceflow-emulator', max: 1000, remaining: 203, reserve: 200, estimate: expect.any(Number) as number, stopped: null }]);
    state.close();
  });

  it('adds the write estimate to the read estimate of the same org, and refuses before anything is written', async () => {
    const { state } = fresh('ff-budget-write');
    const copy = {
      flowName: 'budget-write',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator', sourceConnectorProperties: { Salesforce: { object: 'Account', dataTransferApi: 'REST_SYNC' } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator', destinationConnectorProperties: { Salesforce: { object: 'Invoice__c', writeOperationType: 'INSERT', dataTransferApi: 'BULKV2' } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['Id'], destinationField: 'Account__c', connectorOperator: { Salesforce: 'NO_OP' } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
    };
    // After the describe, the COUNT and /limits, 103 remain: the read (1 page) fits the reserve of 100, the read and a Bulk write do not.
    await setLimits({ max: 1000, remaining: 106 });
    const record = await runFlow({ flow: copy, profiles: profiles(), state, salesforce: { ...BULK, apiReserve: 100 } });
    expect(record.error?.code).toBe('API_BUDGET_RESERVE');
    expect(record.error?.message).toMatch(/DailyApiRequests has 103 of 1,000 remaining, the run's estimate is (\d+) \(write to Invoice__c: 1 Bulk ingest job/);
    const estimate = Number(/the run's estimate is (\d+)/.exec(record.error?.message ?? '')?.[1]);
    expect(estimate).toBeGreaterThan(3);
    expect(record.apiUsage.orgs).toHaveLength(1);
    expect(record.apiUsage.orgs[0]?.estimate).toBe(estimate);
    expect(record.executionResult.recordsWritten).toBe(0);
    const calls = ((await control('GET', '/calls')) as { calls: Record<string, number> }).calls;
    expect(calls['POST /services/data/:version/jobs/ingest']).toBeUndefined();
    state.close();
  });

  it('runs when the estimate fits, and reports the calls per kind and the org remaining at the end', async () => {
    const { state, out } = fresh('ff-budget-ok');
    await setLimits({ max: 1000, remaining: 900 });
    const record = await runFlow({ flow: flow('budget-ok', out, { api: 'AUTOMATIC' }), profiles: profiles(), state, salesforce: { ...BULK, apiReserve: 100 } });
    expect(record.executionStatus).toBe('Successful');
    expect(names(record)).toHaveLength(RECORDS);
    expect(record.apiUsage.calls).toEqual({ describe: 1, restQuery: 2, limits: 1 });
    const [org] = record.apiUsage.orgs;
    expect(org?.remaining).toBe(await remaining());
    expect(org).toMatchObject({ connectorProfileName: 'forceflow-emulator', max: 1000, reserve: 100, estimate: 1, stopped: null });
    expect(record.apiCalls.source).toBe(4);
    state.close();
  });

  it('reports API usage without a reserve, and makes no /limits call', async () => {
    const { state, out } = fresh('ff-budget-none');
    const record = await runFlow({ flow: flow('budget-none', out, { api: 'REST_SYNC' }), profiles: profiles(), state, salesforce: BULK });
    expect(record.executionStatus).toBe('Successful');
    expect(record.apiUsage.calls).toEqual({ describe: 1, restQuery: 1 });
    const org = (await control('GET', '/limits')) as { max: number; remaining: number };
    expect(record.apiUsage.orgs).toEqual([{ connectorProfileName: 'forceflow-emulator', max: org.max, remaining: org.remaining, reserve: null, estimate: null, stopped: null }]);
    state.close();
  });

  it('fails a run that crosses the reserve part-way (retryable), discarding its staged output and keeping its window', async () => {
    const { state, out } = fresh('ff-budget-fail');
    await setLimits({ max: 1000, remaining: 1000 });
    const record = await runFlow({ flow: flow('budget-fail', out), profiles: profiles(), state, salesforce: { ...BULK, apiReserve: 100 }, onProgress: othersSpend() });
    expect(record.executionStatus).toBe('Error');
    expect(record.error?.code).toBe('API_BUDGET_RESERVE_REACHED');
    expect(record.error?.kind).toBe('retryable');
    expect(record.error?.message).toMatch(/DailyApiRequests remaining, below its reserve of 100 calls/);
    expect(record.outputs).toEqual([]);
    expect(files(out)).toEqual([]);
    expect(record.apiUsage.orgs[0]?.stopped).toBe('fail');
    expect(record.apiUsage.calls['bulkQuery']).toBeGreaterThan(1);
    // The window did not move: once the limit recovers, the next run delivers everything.
    await setLimits({ max: 1000, remaining: 1000 });
    const again = await runFlow({ flow: flow('budget-fail', out), profiles: profiles(), state, salesforce: { ...BULK, apiReserve: 100 } });
    expect(again.executionStatus).toBe('Successful');
    expect(names(again)).toHaveLength(RECORDS);
    state.close();
  });

  it('with forceflow:onApiReserve stop, stops early keeping what was read, and the next run resumes from there', async () => {
    const { state, out } = fresh('ff-budget-stop');
    const stopping = flow('budget-stop', out, { tags: { 'forceflow:onApiReserve': 'stop' } });
    await setLimits({ max: 1000, remaining: 1000 });
    const first = await runFlow({ flow: stopping, profiles: profiles(), state, salesforce: { ...BULK, apiReserve: 100 }, onProgress: othersSpend() });
    expect(first.executionStatus).toBe('Successful');
    const firstNames = names(first);
    expect(firstNames.length).toBeGreaterThan(0);
    expect(firstNames.length).toBeLessThan(RECORDS);
    expect(first.notes.some((n) => n.includes('stopped early'))).toBe(true);
    expect(first.apiUsage.orgs[0]?.stopped).toBe('stop');
    // The window ends at the last record delivered (not at the run's end), so the next run reads on from it.
    expect(Date.parse(first.dataPullEndTime ?? '')).toBeLessThan(t0 + 60_000);

    await setLimits({ max: 1000, remaining: 1000 });
    const second = await runFlow({ flow: stopping, profiles: profiles(), state, salesforce: { ...BULK, apiReserve: 100 } });
    expect(second.executionStatus).toBe('Successful');
    expect(second.apiUsage.orgs[0]?.stopped).toBeNull();
    const all = [...firstNames, ...names(second)].sort();
    // Every record once: nothing missed at the stop, nothing delivered twice.
    expect(all).toEqual(Array.from({ length: RECORDS }, (_, i) => `Budget ${String(i).padStart(2, '0')}`));
    state.close();
  });
});
