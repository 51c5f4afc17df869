import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { openRunState, type RunStateStore } from '../../src/flows/state.ts';
import { ApiError } from '../../src/service/api-error.ts';
import { createExecutor, type Executor } from '../../src/service/executor.ts';
import { openSqliteFlowStore, type FlowStore } from '../../src/service/flows/store.ts';
import { serviceOperations } from '../../src/service/operations/index.ts';
import type { Operation, OperationContext } from '../../src/service/operation.ts';

const FAST = { retry: { retries: 6, baseDelayMs: 5, maxDelayMs: 50 }, bulk: { pollInitialMs: 10, pollMaxMs: 50 } };
const PROFILE = 'forceflow-emulator';

/** One service over a state folder: flow store, run history, executor and the flow operations. */
interface Service {
  readonly flows: FlowStore;
  readonly state: RunStateStore;
  readonly executor: Executor;
  call(name: string, input: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

async function startService(emu: RunningEmulator, clock: () => Date = () => new Date()): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-svc-flows-'));
  const flows = await openSqliteFlowStore(dir);
  const state = openRunState(dir);
  const profiles: Record<string, unknown> = { [PROFILE]: emu.connectorProfile };
  const executor = createExecutor({
    flows, state, log: silentLogger(), now: clock, runOptions: { salesforce: FAST },
    profiles: async (name) => ({ profile: profiles[name ?? ''] }),
  });
  const ops: Operation[] = serviceOperations({ flows: { flows, state, executor, profileExists: async (name) => Object.prototype.hasOwnProperty.call(profiles, name) } });
  const ctx: OperationContext = {
    log: silentLogger(), region: 'eu-west-1', accountId: '123456789012', now: clock,
    caller: { accessKeyId: 'AKIDFORCEFLOWTEST', arn: 'arn:aws:iam::123456789012:user/tester', readOnly: false },
  };
  return {
    flows, state, executor,
    async call(name, input) {
      const op = ops.find((o) => o.name === name);
      if (!op) throw new Error(`no operation ${name}`);
      const parsed = op.input.safeParse(input);
      if (!parsed.success) throw new ApiError('ValidationException', parsed.error.message);
      // The wire's JSON: what a client reads back (Dates as they serialise, undefined members dropped).
      return JSON.parse(JSON.stringify(await op.handle(parsed.data, ctx))) as Record<string, unknown>;
    },
    async close() {
      await executor.drain(5000);
      await flows.close();
      state.close();
    },
  };
}

function localFlow(name: string, out: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    flowName: name,
    description: 'Accounts to a local folder',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: PROFILE, sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    ...extra,
  };
}

const SCHEDULED = { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(5minutes)', dataPullMode: 'Complete' } } };

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('expected a refusal');
}

async function waitForStatus(svc: Service, flowName: string, executionId: string, done: (s: string) => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i++) {
    const out = await svc.call('DescribeFlowExecutionRecords', { flowName });
    const rec = (out['flowExecutions'] as Array<Record<string, unknown>>).find((r) => r['executionId'] === executionId);
    if (rec && done(String(rec['executionStatus']))) return rec;
    await sleep(25);
  }
  throw new Error(`execution ${executionId} did not reach the status`);
}

describe('flow operations', () => {
  let emu: RunningEmulator;
  let svc: Service;
  const out = mkdtempSync(join(tmpdir(), 'ff-svc-out-'));

  beforeAll(async () => {
    emu = await startEmulator();
    svc = await startService(emu);
  });
  afterAll(async () => {
    await svc?.close();
    await emu?.close();
  });

  it('creates a flow and describes it with its members echoed as sent', async () => {
    const def = localFlow('accounts-echo', join(out, 'echo'), { tags: { team: 'data' } });
    const created = await svc.call('CreateFlow', { ...def, clientToken: 'tok-create-echo' });
    expect(created).toEqual({ flowArn: 'arn:aws:appflow:eu-west-1:123456789012:flow/accounts-echo', flowStatus: 'Active' });
    const described = await svc.call('DescribeFlow', { flowName: 'accounts-echo' });
    for (const member of ['description', 'triggerConfig', 'sourceFlowConfig', 'destinationFlowConfigList', 'tasks']) {
      expect(JSON.stringify(described[member])).toBe(JSON.stringify(def[member]));
    }
    expect(described).toMatchObject({ flowName: 'accounts-echo', flowStatus: 'Active', schemaVersion: 1, tags: { team: 'data' }, createdBy: 'arn:aws:iam::123456789012:user/tester' });
    expect(described['lastRunExecutionDetails']).toBeUndefined();
    expect(typeof described['createdAt']).toBe('string'); // a Date on the wire's JSON
  });

  it('refuses a duplicate name, a missing profile and an invalid definition, naming the path', async () => {
    await svc.call('CreateFlow', localFlow('dup', join(out, 'dup')));
    const dup = await rejection(svc.call('CreateFlow', localFlow('dup', join(out, 'dup'))));
    expect(dup.name).toBe('ConflictException');
    const missing = await rejection(svc.call('CreateFlow', { ...localFlow('noprofile', join(out, 'x')), sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'nope', sourceConnectorProperties: { Salesforce: { object: 'Account' } } } }));
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', message: 'Connector Profile with name nope does not exist.' });
    const invalid = await rejection(svc.call('CreateFlow', { ...localFlow('bad', join(out, 'bad')), tasks: [{ taskType: 'Mapp', sourceFields: ['Id'] }] }));
    expect(invalid.name).toBe('ValidationException');
    expect(invalid.message).toMatch(/^Create Flow request failed: \[tasks\[0\]\.taskType: /);
    expect(invalid.message).toContain('Map');
    const badTag = await rejection(svc.call('CreateFlow', localFlow('badtag', join(out, 'bt'), { tags: { 'aws:x': 'y' } })));
    expect(badTag.name).toBe('ValidationException');
    expect((await rejection(svc.call('DescribeFlow', { flowName: 'nope' }))).name).toBe('ResourceNotFoundException');
  });

  it('pages ListFlows with opaque tokens and no token on the last page', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await svc.call('CreateFlow', localFlow(n, join(out, n)));
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await svc.call('ListFlows', { maxResults: 2, ...(token ? { nextToken: token } : {}) });
      const flows = page['flows'] as Array<Record<string, unknown>>;
      expect(flows.length).toBeLessThanOrEqual(2);
      names.push(...flows.map((f) => String(f['flowName'])));
      token = page['nextToken'] as string | undefined;
      pages++;
    } while (token);
    const total = (await svc.call('ListFlows', { maxResults: 100 }))['flows'] as Array<Record<string, unknown>>;
    expect(names).toEqual(total.map((f) => f['flowName']));
    expect(pages).toBe(Math.ceil(total.length / 2));
    expect(total.find((f) => f['flowName'] === 'page-a')).toMatchObject({ sourceConnectorType: 'Salesforce', destinationConnectorType: 'LocalFile', triggerType: 'OnDemand', flowStatus: 'Active' });
    expect((await rejection(svc.call('ListFlows', { nextToken: 'forged.token' }))).name).toBe('ValidationException');
    expect((await rejection(svc.call('ListFlows', { maxResults: 101 }))).name).toBe('ValidationException');
    const first = await svc.call('ListFlows', { maxResults: 1 });
    const foreign = await rejection(svc.call('DescribeFlowExecutionRecords', { flowName: 'page-a', nextToken: first['nextToken'] }));
    expect(foreign.name).toBe('ValidationException');
  });

  it('updates a flow: schemaVersion follows mapping changes, source and destination stay, status kept', async () => {
    const def = localFlow('upd', join(out, 'upd'));
    await svc.call('CreateFlow', def);
    const { flowName: _n, ...members } = def;
    await svc.call('UpdateFlow', { flowName: 'upd', ...members, description: 'only the description' });
    expect(await svc.call('DescribeFlow', { flowName: 'upd' })).toMatchObject({ schemaVersion: 1, description: 'only the description', flowStatus: 'Active' });
    const mapped = [
      { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
      { taskType: 'Map', sourceFields: ['Id'], destinationField: 'Id', connectorOperator: { Salesforce: 'NO_OP' } },
      { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
    ];
    // UpdateFlow replaces the definition whole: a member left out (description) is gone.
    const { description: _d, ...withoutDescription } = members;
    expect(await svc.call('UpdateFlow', { flowName: 'upd', ...withoutDescription, tasks: mapped })).toEqual({ flowStatus: 'Active' });
    const after = await svc.call('DescribeFlow', { flowName: 'upd' });
    expect(after['schemaVersion']).toBe(2);
    expect(after['tasks']).toEqual(mapped);
    expect(after['description']).toBeUndefined();
    const moved = await rejection(svc.call('UpdateFlow', { flowName: 'upd', ...members, sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: PROFILE, sourceConnectorProperties: { Salesforce: { object: 'Contact' } } } }));
    expect(moved.name).toBe('ValidationException');
    expect(moved.message).toContain('Source object for the source connector can not be updated');
    const dest = await rejection(svc.call('UpdateFlow', { flowName: 'upd', ...members, destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(out, 'elsewhere'), outputFormatConfig: { fileType: 'JSON' } } } }] }));
    expect(dest.message).toContain('Destination object for the destination connector can not be updated');
    expect((await rejection(svc.call('UpdateFlow', { flowName: 'nope', ...members }))).name).toBe('ResourceNotFoundException');
    // On demand → scheduled: Draft until StartFlow.
    expect(await svc.call('UpdateFlow', { flowName: 'upd', ...members, triggerConfig: SCHEDULED })).toEqual({ flowStatus: 'Draft' });
  });

  it('deletes a flow: describe then answers not found, and so does a second delete', async () => {
    await svc.call('CreateFlow', localFlow('gone', join(out, 'gone'), { tags: { a: 'b' } }));
    expect(await svc.call('DeleteFlow', { flowName: 'gone' })).toEqual({});
    expect((await rejection(svc.call('DescribeFlow', { flowName: 'gone' }))).name).toBe('ResourceNotFoundException');
    expect((await rejection(svc.call('DeleteFlow', { flowName: 'gone' }))).name).toBe('ResourceNotFoundException');
    // The name is free again, with no tags or history of the old flow.
    await svc.call('CreateFlow', localFlow('gone', join(out, 'gone')));
    expect((await svc.call('DescribeFlow', { flowName: 'gone' }))['tags']).toEqual({});
  });

  it('runs an on-demand flow: StartFlow returns the executionId, the record is InProgress at once and ends Successful with files written', async () => {
    const dir = join(out, 'run');
    await svc.call('CreateFlow', localFlow('run-now', dir));
    const started = await svc.call('StartFlow', { flowName: 'run-now', clientToken: 'start-1' });
    expect(started).toMatchObject({ flowArn: 'arn:aws:appflow:eu-west-1:123456789012:flow/run-now', flowStatus: 'Active' });
    const executionId = String(started['executionId']);
    const first = await svc.call('DescribeFlowExecutionRecords', { flowName: 'run-now' });
    expect((first['flowExecutions'] as Array<Record<string, unknown>>)[0]?.['executionId']).toBe(executionId);
    const rec = await waitForStatus(svc, 'run-now', executionId, (s) => s !== 'InProgress');
    expect(rec['executionStatus']).toBe('Successful');
    const result = rec['executionResult'] as Record<string, number>;
    expect(result['recordsProcessed']).toBeGreaterThan(0);
    expect(result['bytesWritten']).toBeGreaterThan(0);
    const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => !f.includes('_temporary') && /\.json/.test(f));
    expect(files.length).toBeGreaterThan(0);
    const lines = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'));
    expect(lines.length).toBe(result['recordsProcessed']);
    const described = await svc.call('DescribeFlow', { flowName: 'run-now' });
    expect(described['lastRunExecutionDetails']).toMatchObject({ mostRecentExecutionStatus: 'Successful' });

    // The same clientToken and request: the same reply, no second run.
    const again = await svc.call('StartFlow', { flowName: 'run-now', clientToken: 'start-1' });
    expect(again['executionId']).toBe(executionId);
    const records = (await svc.call('DescribeFlowExecutionRecords', { flowName: 'run-now' }))['flowExecutions'] as unknown[];
    expect(records).toHaveLength(1);
    // The same token with another request: a conflict.
    await svc.call('CreateFlow', localFlow('run-other', join(out, 'run-other')));
    const reused = await rejection(svc.call('StartFlow', { flowName: 'run-other', clientToken: 'start-1' }));
    expect(reused.name).toBe('ConflictException');
    expect(reused.message).toContain('start-1');
  });

  it('pages execution records newest first', async () => {
    await svc.call('CreateFlow', localFlow('many-runs', join(out, 'many')));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { executionId } = await svc.call('StartFlow', { flowName: 'many-runs' }) as { executionId: string };
      await waitForStatus(svc, 'many-runs', executionId, (s) => s !== 'InProgress');
      ids.push(executionId);
    }
    const p1 = await svc.call('DescribeFlowExecutionRecords', { flowName: 'many-runs', maxResults: 2 });
    const p2 = await svc.call('DescribeFlowExecutionRecords', { flowName: 'many-runs', maxResults: 2, nextToken: p1['nextToken'] });
    const seen = [...(p1['flowExecutions'] as Array<{ executionId: string }>), ...(p2['flowExecutions'] as Array<{ executionId: string }>)].map((r) => r.executionId);
    expect(seen).toEqual([...ids].reverse());
    expect(p2['nextToken']).toBeUndefined();
  });

  it('activates and suspends a scheduled flow; StopFlow refuses an on-demand one', async () => {
    const created = await svc.call('CreateFlow', localFlow('sched', join(out, 'sched'), { triggerConfig: SCHEDULED }));
    expect(created['flowStatus']).toBe('Draft');
    const started = await svc.call('StartFlow', { flowName: 'sched' });
    expect(started).toEqual({ flowArn: 'arn:aws:appflow:eu-west-1:123456789012:flow/sched', flowStatus: 'Active' });
    expect(await svc.call('StartFlow', { flowName: 'sched' })).toMatchObject({ flowStatus: 'Active' });
    expect(await svc.call('StopFlow', { flowName: 'sched' })).toMatchObject({ flowStatus: 'Suspended' });
    expect(await svc.call('StopFlow', { flowName: 'sched' })).toMatchObject({ flowStatus: 'Suspended' });
    expect((await svc.call('DescribeFlow', { flowName: 'sched' }))['flowStatus']).toBe('Suspended');
    expect((await svc.call('DescribeFlowExecutionRecords', { flowName: 'sched' }))['flowExecutions']).toEqual([]);
    await svc.call('CreateFlow', localFlow('od', join(out, 'od')));
    expect((await rejection(svc.call('StopFlow', { flowName: 'od' }))).name).toBe('UnsupportedOperationException');
  });

  it('runs a flow for the scheduler: onFinished counts failed runs in a row, and a run already going is skipped', async () => {
    const def = localFlow('sched-fail', join(out, 'sched-fail'), { triggerConfig: SCHEDULED });
    (def['sourceFlowConfig'] as { sourceConnectorProperties: { Salesforce: { object: string } } }).sourceConnectorProperties.Salesforce.object = 'NoSuchObject__c';
    await svc.call('CreateFlow', def);
    const ends: Array<{ status: string; consecutiveFailures: number; startedBy: string }> = [];
    const off = svc.executor.onFinished((e) => { if (e.flowName === 'sched-fail') ends.push({ status: e.status, consecutiveFailures: e.consecutiveFailures, startedBy: e.startedBy }); });
    for (let i = 0; i < 2; i++) {
      const first = svc.executor.start('sched-fail', { startedBy: 'schedule' });
      const overlapping = svc.executor.start('sched-fail', { startedBy: 'schedule' });
      const [a, b] = await Promise.all([first, overlapping]);
      expect('executionId' in a && !('skipped' in a)).toBe(true);
      expect(b).toMatchObject({ skipped: 'running' });
      await svc.executor.finished((a as { executionId: string }).executionId);
    }
    off();
    expect(ends).toEqual([{ status: 'Error', consecutiveFailures: 1, startedBy: 'schedule' }, { status: 'Error', consecutiveFailures: 2, startedBy: 'schedule' }]);
    expect((await svc.flows.get('sched-fail'))?.consecutiveFailures).toBe(2);
    const details = (await svc.call('DescribeFlow', { flowName: 'sched-fail' }))['lastRunExecutionDetails'] as Record<string, unknown>;
    expect(details['mostRecentExecutionStatus']).toBe('Error');
    expect(String(details['mostRecentExecutionMessage'])).toContain('NoSuchObject__c');
    // Activation resets the count.
    await svc.call('StartFlow', { flowName: 'sched-fail' });
    expect((await svc.flows.get('sched-fail'))?.consecutiveFailures).toBe(0);
  });

  it('tags, untags and lists tags by flow ARN', async () => {
    await svc.call('CreateFlow', localFlow('tagged', join(out, 'tagged'), { tags: { a: '1' } }));
    const arn = 'arn:aws:appflow:eu-west-1:123456789012:flow/tagged';
    await svc.call('TagResource', { resourceArn: arn, tags: { b: '2', a: '3' } });
    expect(await svc.call('ListTagsForResource', { resourceArn: arn })).toEqual({ tags: { a: '3', b: '2' } });
    await svc.call('UntagResource', { resourceArn: arn, tagKeys: ['a'] });
    expect((await svc.call('DescribeFlow', { flowName: 'tagged' }))['tags']).toEqual({ b: '2' });
    expect((await rejection(svc.call('ListTagsForResource', { resourceArn: 'arn:aws:appflow:eu-west-1:123456789012:flow/nope' }))).name).toBe('ResourceNotFoundException');
    expect((await rejection(svc.call('ListTagsForResource', { resourceArn: 'arn:aws:appflow:us-east-1:123456789012:flow/tagged' }))).name).toBe('ResourceNotFoundException');
    expect((await rejection(svc.call('TagResource', { resourceArn: 'not-an-arn', tags: {} }))).name).toBe('ValidationException');
  });
});

describe('cancelling and draining running Bulk exports', () => {
  let emu: RunningEmulator;
  let svc: Service;
  const out = mkdtempSync(join(tmpdir(), 'ff-svc-cancel-'));
  const bulkFlow = (name: string): Record<string, unknown> => ({
    ...localFlow(name, join(out, name)),
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: PROFILE, sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: 'BULKV2' } } },
  });

  beforeAll(async () => {
    // Every Bulk query job stays InProgress for a minute: runs keep polling until cancelled.
    emu = await startEmulator({ bulkProcessingDelayMs: 60_000, generate: { Contact: 50 } });
    svc = await startService(emu);
  });
  afterAll(async () => {
    await svc?.close();
    await emu?.close();
  });

  it('cancels a running export: CancelStarted, then Canceled; a second start meanwhile is a conflict; unknown ids are invalid', async () => {
    await svc.call('CreateFlow', bulkFlow('slow'));
    const { executionId } = await svc.call('StartFlow', { flowName: 'slow' }) as { executionId: string };
    const now = (await svc.call('DescribeFlowExecutionRecords', { flowName: 'slow' }))['flowExecutions'] as Array<Record<string, unknown>>;
    expect(now[0]).toMatchObject({ executionId, executionStatus: 'InProgress' });
    const second = await rejection(svc.call('StartFlow', { flowName: 'slow' }));
    expect(second.name).toBe('ConflictException');
    expect(second.message).toContain(executionId);
    const del = await rejection(svc.call('DeleteFlow', { flowName: 'slow' }));
    expect(del.name).toBe('ConflictException');
    const canceled = await svc.call('CancelFlowExecutions', { flowName: 'slow', executionIds: [executionId, 'not-a-run'] });
    expect(canceled).toEqual({ invalidExecutions: ['not-a-run'] });
    const seen = await svc.call('DescribeFlowExecutionRecords', { flowName: 'slow' });
    expect(['CancelStarted', 'Canceled']).toContain((seen['flowExecutions'] as Array<Record<string, unknown>>)[0]?.['executionStatus']);
    const rec = await waitForStatus(svc, 'slow', executionId, (s) => s === 'Canceled' || s === 'Successful' || s === 'Error');
    expect(rec['executionStatus']).toBe('Canceled');
    // Finished: cancelling it again reports it invalid.
    expect(await svc.call('CancelFlowExecutions', { flowName: 'slow', executionIds: [executionId] })).toEqual({ invalidExecutions: [executionId] });
    expect((await svc.call('DescribeFlow', { flowName: 'slow' }))['lastRunExecutionDetails']).toMatchObject({ mostRecentExecutionStatus: 'Canceled' });
  });

  it('forceDelete cancels the run and deletes the flow', async () => {
    await svc.call('CreateFlow', bulkFlow('force'));
    const { executionId } = await svc.call('StartFlow', { flowName: 'force' }) as { executionId: string };
    expect(await svc.call('DeleteFlow', { flowName: 'force', forceDelete: true })).toEqual({});
    expect((await svc.state.run(executionId))?.executionStatus).toBe('Canceled');
    expect((await rejection(svc.call('DescribeFlow', { flowName: 'force' }))).name).toBe('ResourceNotFoundException');
  });

  it('drains: runs past the grace period end Canceled, and no new run starts', async () => {
    await svc.call('CreateFlow', bulkFlow('drained'));
    const finished: string[] = [];
    const off = svc.executor.onFinished((e) => finished.push(`${e.flowName}:${e.status}`));
    const { executionId } = await svc.call('StartFlow', { flowName: 'drained' }) as { executionId: string };
    await svc.executor.drain(100);
    off();
    expect(finished).toEqual(['drained:Canceled']);
    expect((await svc.state.run(executionId))?.executionStatus).toBe('Canceled');
    const refused = await rejection(svc.call('StartFlow', { flowName: 'drained' }));
    expect(refused.name).toBe('ConflictException');
    expect(refused.message).toContain('stopping');
  });
});
