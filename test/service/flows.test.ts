import { setTimeout as sleep } from 'node:timers/promises';
import * as sdk from '@aws-sdk/client-appflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import type { RunStateStore } from '../../src/flows/state.ts';
import { newExecutionRecord } from '../../src/flows/run-record.ts';
import type { Executor } from '../../src/service/executor.ts';
import type { FlowStore } from '../../src/service/flows/store.ts';
import { openFlowService, type FlowService } from '../../src/service/flows/service.ts';
import { signedFetch, startHarness, type ServiceHarness } from './harness.ts';

const FAST = { retry: { retries: 6, baseDelayMs: 5, maxDelayMs: 50 }, bulk: { pollInitialMs: 10, pollMaxMs: 50 } };
const PROFILE = 'forceflow-emulator';
const REGION = 'eu-west-1';

/**
 * The service over HTTP (svc-proto's harness: SigV4, the AWS error shape) with the flow part, driven by the real
 * @aws-sdk/client-appflow. The flow part is opened here (not through the default composition) to give runs the
 * emulator's profile and fast Salesforce polling, and to reach its executor, store and run state.
 */
interface Service {
  readonly flows: FlowStore;
  readonly state: RunStateStore;
  readonly executor: Executor;
  readonly part: FlowService;
  readonly harness: ServiceHarness;
  call(name: string, input: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

async function startService(emu: RunningEmulator, s3: TestS3): Promise<Service> {
  const profiles: Record<string, unknown> = { [PROFILE]: emu.connectorProfile };
  let part: FlowService | undefined;
  const harness = await startHarness({
    emulator: emu,
    region: REGION,
    accountId: '123456789012',
    operations: async (deps) => {
      part = await openFlowService(deps, {
        exists: async (name) => Object.prototype.hasOwnProperty.call(profiles, name),
        resolver: async (name) => ({ profile: profiles[name ?? ''] }),
      }, { runOptions: { salesforce: FAST, s3Client: s3.client }, maxFlows: 30 });
      return part.operations;
    },
  });
  const flowPart = part as unknown as FlowService;
  const commands = sdk as unknown as Record<string, new (input: unknown) => Parameters<sdk.AppflowClient['send']>[0]>;
  return {
    flows: flowPart.store, state: flowPart.state, executor: flowPart.executor, part: flowPart, harness,
    async call(name, input) {
      const Command = commands[`${name}Command`];
      if (!Command) throw new Error(`no command ${name}`);
      const { $metadata: _m, ...out } = (await harness.appflow.send(new Command(input))) as unknown as Record<string, unknown>;
      return out;
    },
    close: () => harness.close(),
  };
}

/**
 * Account → S3 (local S3 over HTTP). Not LocalFile: the AWS SDK sends only AppFlow's modelled members, and
 * LocalFile is forceflow's own connector type, so an SDK client cannot express it.
 */
function s3Flow(name: string, bucket: string, prefix: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    flowName: name,
    description: 'Accounts to S3',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: PROFILE, sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
    destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: bucket, bucketPrefix: prefix, s3OutputFormatConfig: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    ...extra,
  };
}

const SCHEDULED = { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(5minutes)', dataPullMode: 'Complete' } } };

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (error) {
    return error as Error;
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
  let s3: TestS3;

  beforeAll(async () => {
    [emu, s3] = await Promise.all([startEmulator(), startTestS3()]);
    svc = await startService(emu, s3);
  });
  afterAll(async () => {
    await svc?.close();
    await Promise.all([emu?.close(), s3?.close()]);
  });

  it('creates a flow and describes it with its members echoed as sent', async () => {
    const def = s3Flow('accounts-echo', s3.bucket, 'echo', { tags: { team: 'data' } });
    const created = await svc.call('CreateFlow', { ...def, clientToken: 'tok-create-echo' });
    expect(created).toEqual({ flowArn: 'arn:aws:appflow:eu-west-1:123456789012:flow/accounts-echo', flowStatus: 'Active' });
    const described = await svc.call('DescribeFlow', { flowName: 'accounts-echo' });
    for (const member of ['description', 'triggerConfig', 'sourceFlowConfig', 'destinationFlowConfigList', 'tasks']) {
      expect(described[member]).toEqual(def[member]);
    }
    expect(described).toMatchObject({ flowName: 'accounts-echo', flowStatus: 'Active', schemaVersion: 1, tags: { team: 'data' }, createdBy: expect.stringMatching(/^arn:aws:iam::123456789012:user\//) });
    expect(described['lastRunExecutionDetails']).toBeUndefined();
    expect(described['createdAt']).toBeInstanceOf(Date); // epoch seconds on the wire, parsed by the SDK
  });

  it('refuses a duplicate name, a missing profile and an invalid definition, naming the path', async () => {
    await svc.call('CreateFlow', s3Flow('dup', s3.bucket, 'dup'));
    const dup = await rejection(svc.call('CreateFlow', s3Flow('dup', s3.bucket, 'dup')));
    expect(dup.name).toBe('ConflictException');
    const missing = await rejection(svc.call('CreateFlow', { ...s3Flow('noprofile', s3.bucket, 'x'), sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'nope', sourceConnectorProperties: { Salesforce: { object: 'Account' } } } }));
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', message: 'Connector Profile with name nope does not exist.' });
    const invalid = await rejection(svc.call('CreateFlow', { ...s3Flow('bad', s3.bucket, 'bad'), tasks: [{ taskType: 'Mapp', sourceFields: ['Id'] }] }));
    expect(invalid.name).toBe('ValidationException');
    expect(invalid.message).toMatch(/^Create Flow request failed: \[tasks\[0\]\.taskType: /);
    expect(invalid.message).toContain('Map');
    const badTag = await rejection(svc.call('CreateFlow', s3Flow('badtag', s3.bucket, 'bt', { tags: { 'aws:x': 'y' } })));
    expect(badTag.name).toBe('ValidationException');
    expect((await rejection(svc.call('DescribeFlow', { flowName: 'nope' }))).name).toBe('ResourceNotFoundException');
    const badName = await rejection(svc.call('DescribeFlow', { flowName: 'has space' }));
    expect(badName.name).toBe('ValidationException');
    expect(badName.message).toContain('flowName');
  });

  it('pages ListFlows with opaque tokens and no token on the last page', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await svc.call('CreateFlow', s3Flow(n, s3.bucket, n));
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
    expect(total.find((f) => f['flowName'] === 'page-a')).toMatchObject({ sourceConnectorType: 'Salesforce', destinationConnectorType: 'S3', triggerType: 'OnDemand', flowStatus: 'Active' });
    expect((await rejection(svc.call('ListFlows', { nextToken: 'forged.token' }))).name).toBe('ValidationException');
    expect((await rejection(svc.call('ListFlows', { maxResults: 101 }))).name).toBe('ValidationException');
    const first = await svc.call('ListFlows', { maxResults: 1 });
    const foreign = await rejection(svc.call('DescribeFlowExecutionRecords', { flowName: 'page-a', nextToken: first['nextToken'] }));
    expect(foreign.name).toBe('ValidationException');
  });

  it('updates a flow: schemaVersion follows mapping changes, source and destination stay, status kept', async () => {
    const def = s3Flow('upd', s3.bucket, 'upd');
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
    const dest = await rejection(svc.call('UpdateFlow', { flowName: 'upd', ...members, destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'elsewhere', s3OutputFormatConfig: { fileType: 'JSON' } } } }] }));
    expect(dest.message).toContain('Destination object for the destination connector can not be updated');
    expect((await rejection(svc.call('UpdateFlow', { flowName: 'nope', ...members }))).name).toBe('ResourceNotFoundException');
    // On demand → scheduled: Draft until StartFlow.
    expect(await svc.call('UpdateFlow', { flowName: 'upd', ...members, triggerConfig: SCHEDULED })).toEqual({ flowStatus: 'Draft' });
  });

  it('deletes a flow: describe then answers not found, and so does a second delete', async () => {
    await svc.call('CreateFlow', s3Flow('gone', s3.bucket, 'gone', { tags: { a: 'b' } }));
    expect(await svc.call('DeleteFlow', { flowName: 'gone' })).toEqual({});
    expect((await rejection(svc.call('DescribeFlow', { flowName: 'gone' }))).name).toBe('ResourceNotFoundException');
    expect((await rejection(svc.call('DeleteFlow', { flowName: 'gone' }))).name).toBe('ResourceNotFoundException');
    // The name is free again, with no tags or history of the old flow.
    await svc.call('CreateFlow', s3Flow('gone', s3.bucket, 'gone'));
    expect((await svc.call('DescribeFlow', { flowName: 'gone' }))['tags']).toEqual({});
  });

  it('deletes a flow\u2019s incremental state with it: a new flow of that name starts from the first-run rule, with no formula state', async () => {
    await svc.call('CreateFlow', s3Flow('reborn', s3.bucket, 'reborn'));
    // What the old flow's runs left: a window end (as a successful incremental run leaves it) and formula state.
    await svc.state.setWindow('reborn', '2026-03-01T00:00:00.000Z', new Date(), 'test: an earlier run');
    const formula = svc.state.formulaState;
    if (formula === undefined) throw new Error('the run state has no formulaState');
    await formula.stage('reborn', 'reborn-1', [{ id: '001A', hash: 'h1' }]);
    await formula.commit('reborn', 'reborn-1', { refreshed: true, at: new Date().toISOString() });
    expect(await svc.state.lastWindowEnd('reborn')).toBe('2026-03-01T00:00:00.000Z');

    expect(await svc.call('DeleteFlow', { flowName: 'reborn' })).toEqual({});
    expect(await svc.state.lastWindowEnd('reborn')).toBeUndefined();
    expect((await svc.state.windowChanges('reborn', 1))[0]).toMatchObject({ previousEnd: '2026-03-01T00:00:00.000Z', newEnd: null, note: 'flow deleted (DeleteFlow)' });
    expect(await formula.status('reborn')).toBeUndefined();
    expect(await formula.hashes('reborn', 'reborn-2', ['001A'])).toEqual(new Map());
    await svc.call('CreateFlow', s3Flow('reborn', s3.bucket, 'reborn'));
    expect(await svc.state.lastWindowEnd('reborn')).toBeUndefined();
  });

  it('runs an on-demand flow: StartFlow returns the executionId, the record is InProgress at once and ends Successful with files written', async () => {
    await svc.call('CreateFlow', s3Flow('run-now', s3.bucket, 'run'));
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
    const keys = (await s3.keys('run/run-now/')).filter((k) => !k.includes('_temporary'));
    expect(keys).toHaveLength(1);
    const lines = (await s3.getBytes(keys[0] as string)).toString('utf8').trim().split('\n');
    expect(lines.length).toBe(result['recordsProcessed']);
    const described = await svc.call('DescribeFlow', { flowName: 'run-now' });
    expect(described['lastRunExecutionDetails']).toMatchObject({ mostRecentExecutionStatus: 'Successful' });

    // The same clientToken and request: the same reply, no second run.
    const again = await svc.call('StartFlow', { flowName: 'run-now', clientToken: 'start-1' });
    expect(again['executionId']).toBe(executionId);
    const records = (await svc.call('DescribeFlowExecutionRecords', { flowName: 'run-now' }))['flowExecutions'] as unknown[];
    expect(records).toHaveLength(1);
    // The same token with another request: a conflict.
    await svc.call('CreateFlow', s3Flow('run-other', s3.bucket, 'run-other'));
    const reused = await rejection(svc.call('StartFlow', { flowName: 'run-other', clientToken: 'start-1' }));
    expect(reused.name).toBe('ConflictException');
    expect(reused.message).toContain('start-1');
  });

  it('pages execution records newest first', async () => {
    await svc.call('CreateFlow', s3Flow('many-runs', s3.bucket, 'many'));
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

  it('DescribeFlowRuns (forceflow\'s, POST /forceflow/describe-flow-runs) pages the same runs newest first; a token of another operation or flow is refused', async () => {
    // The runs of 'many-runs' (the test above): three, finished.
    const call = (body: Record<string, unknown>) => signedFetch(svc.harness.svc, { method: 'POST', path: '/forceflow/describe-flow-runs', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const records = ((await svc.call('DescribeFlowExecutionRecords', { flowName: 'many-runs' }))['flowExecutions'] as Array<{ executionId: string }>).map((r) => r.executionId);
    expect(records).toHaveLength(3);
    const ids: string[] = [];
    const tokens: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await call({ flowName: 'many-runs', maxResults: 2, ...(nextToken ? { nextToken } : {}) });
      expect(page.status, JSON.stringify(page.json)).toBe(200);
      expect(page.json).toMatchObject({ flowName: 'many-runs', flowStatus: 'Active' });
      const runs = page.json['runs'] as Array<{ executionId: string; startedBy: string }>;
      expect(runs.length).toBeLessThanOrEqual(2);
      ids.push(...runs.map((r) => r.executionId));
      nextToken = page.json['nextToken'] as string | undefined;
      if (nextToken) tokens.push(nextToken);
    } while (nextToken);
    expect(ids).toEqual(records);
    expect(tokens).toHaveLength(1);
    // A DescribeFlowRuns token is bound to the operation and the flow: elsewhere it is a ValidationException.
    const elsewhere = await rejection(svc.call('DescribeFlowExecutionRecords', { flowName: 'many-runs', nextToken: tokens[0] }));
    expect(elsewhere.name).toBe('ValidationException');
    const forged = await call({ flowName: 'many-runs', nextToken: 'forged.token' });
    expect(forged.status).toBe(400);
    expect(forged.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect((await call({ flowName: 'many-runs', maxResults: 0 })).status).toBe(400);
  });

  it('activates and suspends a scheduled flow; StopFlow refuses an on-demand one', async () => {
    // Timestamps travel as epoch seconds (fractions kept) and come back as sent; the expression verbatim.
    const trigger = { triggerType: 'Scheduled', triggerProperties: { Scheduled: { ...SCHEDULED.triggerProperties.Scheduled, scheduleExpression: 'rate(5 minutes)', scheduleStartTime: new Date('2030-01-01T00:00:00.250Z'), timezone: 'Europe/Paris', flowErrorDeactivationThreshold: 3 } } };
    const created = await svc.call('CreateFlow', s3Flow('sched', s3.bucket, 'sched', { triggerConfig: trigger }));
    expect(created['flowStatus']).toBe('Draft');
    expect((await svc.call('DescribeFlow', { flowName: 'sched' }))['triggerConfig']).toEqual(trigger);
    const started = await svc.call('StartFlow', { flowName: 'sched' });
    expect(started).toEqual({ flowArn: 'arn:aws:appflow:eu-west-1:123456789012:flow/sched', flowStatus: 'Active' });
    expect(await svc.call('StartFlow', { flowName: 'sched' })).toMatchObject({ flowStatus: 'Active' });
    expect(await svc.call('StopFlow', { flowName: 'sched' })).toMatchObject({ flowStatus: 'Suspended' });
    expect(await svc.call('StopFlow', { flowName: 'sched' })).toMatchObject({ flowStatus: 'Suspended' });
    expect((await svc.call('DescribeFlow', { flowName: 'sched' }))['flowStatus']).toBe('Suspended');
    expect((await svc.call('DescribeFlowExecutionRecords', { flowName: 'sched' }))['flowExecutions']).toEqual([]);
    await svc.call('CreateFlow', s3Flow('od', s3.bucket, 'od'));
    expect((await rejection(svc.call('StopFlow', { flowName: 'od' }))).name).toBe('UnsupportedOperationException');
  });

  it('schedules a flow StartFlow activates: a rate() runs at activation, the fire is logged, StopFlow unschedules it', async () => {
    await svc.call('CreateFlow', s3Flow('every-minute', s3.bucket, 'every-minute', { triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1minutes)' } } } }));
    expect(svc.part.scheduler.isScheduled('every-minute')).toBe(false);
    await svc.call('StartFlow', { flowName: 'every-minute' });
    expect(svc.part.scheduler.isScheduled('every-minute')).toBe(true);
    let fires = await svc.flows.fires('every-minute');
    for (let i = 0; i < 200 && fires.length === 0; i++) {
      await sleep(25);
      fires = await svc.flows.fires('every-minute');
    }
    expect(fires[0]).toMatchObject({ outcome: 'started', catchUp: false });
    const rec = await waitForStatus(svc, 'every-minute', String(fires[0]?.executionId), (st) => st !== 'InProgress');
    expect(rec['executionStatus']).toBe('Successful');
    expect((await svc.state.run(String(fires[0]?.executionId)))?.startedBy).toBe('schedule');
    await svc.call('StopFlow', { flowName: 'every-minute' });
    expect(svc.part.scheduler.isScheduled('every-minute')).toBe(false);
    // A trigger the scheduler refuses on update keeps the old definition.
    await svc.call('StartFlow', { flowName: 'every-minute' });
    const { flowName: _n, ...members } = s3Flow('every-minute', s3.bucket, 'every-minute');
    const refused = await rejection(svc.call('UpdateFlow', { flowName: 'every-minute', ...members, triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(30seconds)' } } } }));
    expect(refused.name).toBe('ValidationException');
    expect(((await svc.call('DescribeFlow', { flowName: 'every-minute' }))['triggerConfig'] as { triggerProperties: { Scheduled: { scheduleExpression: string } } }).triggerProperties.Scheduled.scheduleExpression).toBe('rate(1minutes)');
    // The second activation ran the flow again at once: forceDelete cancels that run.
    await svc.call('DeleteFlow', { flowName: 'every-minute', forceDelete: true });
    expect(svc.part.scheduler.isScheduled('every-minute')).toBe(false);
  });

  it('suspends a scheduled flow after flowErrorDeactivationThreshold failed runs, with the reason in DescribeFlow', async () => {
    const def = s3Flow('deactivated', s3.bucket, 'deactivated', { triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1minutes)', flowErrorDeactivationThreshold: 1 } } } });
    (def['sourceFlowConfig'] as { sourceConnectorProperties: { Salesforce: { object: string } } }).sourceConnectorProperties.Salesforce.object = 'NoSuchObject__c';
    await svc.call('CreateFlow', def);
    await svc.call('StartFlow', { flowName: 'deactivated' });
    let described = await svc.call('DescribeFlow', { flowName: 'deactivated' });
    for (let i = 0; i < 200 && described['flowStatus'] === 'Active'; i++) {
      await sleep(25);
      described = await svc.call('DescribeFlow', { flowName: 'deactivated' });
    }
    expect(described['flowStatus']).toBe('Suspended');
    expect(String(described['flowStatusMessage'])).toContain('flowErrorDeactivationThreshold');
    expect(described['lastRunExecutionDetails']).toMatchObject({ mostRecentExecutionStatus: 'Error' });
    expect(svc.part.scheduler.isScheduled('deactivated')).toBe(false);
  });

  it('runs a flow for the scheduler: onFinished counts failed runs in a row, and a run already going is skipped', async () => {
    const def = s3Flow('sched-fail', s3.bucket, 'sched-fail', { triggerConfig: SCHEDULED });
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

  it('runs an incremental S3-source flow for the scheduler: each run reads only the objects written since the last successful one', async () => {
    const def = {
      flowName: 's3-incremental', triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(5minutes)', dataPullMode: 'Incremental' } } },
      sourceFlowConfig: { connectorType: 'S3', sourceConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'svc-inc-in', s3InputFormatConfig: { s3InputFileType: 'CSV' } } } },
      destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'svc-inc-out', s3OutputFormatConfig: { fileType: 'JSON' } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    };
    await svc.call('CreateFlow', def);
    const run = async (): Promise<Record<string, unknown>> => {
      const started = await svc.executor.start('s3-incremental', { startedBy: 'schedule' });
      const { executionId } = started as { executionId: string };
      await svc.executor.finished(executionId);
      return waitForStatus(svc, 's3-incremental', executionId, (st) => st !== 'InProgress');
    };
    const processed = (r: Record<string, unknown>): unknown => (r['executionResult'] as { recordsProcessed: number }).recordsProcessed;
    await s3.put('svc-inc-in/a.csv', 'id\n1\n2\n');
    const first = await run();
    expect(first['executionStatus']).toBe('Successful');
    expect(processed(first)).toBe(2);
    await s3.put('svc-inc-in/b.csv', 'id\n3\n');
    const second = await run();
    expect(second['executionStatus']).toBe('Successful');
    expect(processed(second)).toBe(1);
    expect(processed(await run())).toBe(0);
  });

  it('refuses a flow past the flow quota with ServiceQuotaExceededException', async () => {
    const existing = ((await svc.call('ListFlows', { maxResults: 100 }))['flows'] as unknown[]).length;
    for (let i = existing; i < 30; i++) await svc.call('CreateFlow', s3Flow(`quota-${i}`, s3.bucket, 'quota'));
    const refused = await rejection(svc.call('CreateFlow', s3Flow('one-too-many', s3.bucket, 'quota')));
    expect(refused.name).toBe('ServiceQuotaExceededException');
    for (let i = existing; i < 30; i++) await svc.call('DeleteFlow', { flowName: `quota-${i}` });
  });

  it('tags, untags and lists tags by flow ARN', async () => {
    await svc.call('CreateFlow', s3Flow('tagged', s3.bucket, 'tagged', { tags: { a: '1' } }));
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
  let s3: TestS3;
  const bulkFlow = (name: string): Record<string, unknown> => ({
    ...s3Flow(name, s3.bucket, name),
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: PROFILE, sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: 'BULKV2' } } },
  });

  beforeAll(async () => {
    // Every Bulk query job stays InProgress for a minute: runs keep polling until cancelled.
    [emu, s3] = await Promise.all([startEmulator({ bulkProcessingDelayMs: 60_000, generate: { Contact: 50 } }), startTestS3()]);
    svc = await startService(emu, s3);
  });
  afterAll(async () => {
    await svc?.close();
    await Promise.all([emu?.close(), s3?.close()]);
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

  it('drains a run still starting (its cleanup after an interrupted run hangs): cancelled when the grace period ends, not waited for', async () => {
    // A service of its own (the drain below stops it), over the same emulator.
    const other = await startService(emu, s3);
    const setFaults = async (spec: string): Promise<void> => {
      const res = await fetch(`${emu.controlUrl}/faults`, { method: 'PUT', headers: emu.controlHeaders, body: JSON.stringify({ spec }) });
      expect(res.status).toBe(200);
    };
    const delays = async (): Promise<number> => {
      const res = await fetch(`${emu.controlUrl}/faults`, { headers: emu.controlHeaders });
      return Number(((await res.json()) as { stats?: { delays?: number } }).stats?.delays ?? 0);
    };
    try {
      await other.call('CreateFlow', bulkFlow('hung-start'));
      // An interrupted run of the flow left a Bulk query job: the next run stops it before it starts.
      await other.state.saveRun(newExecutionRecord('hung-start', 'ghost-run', new Date(Date.now() - 60_000)));
      await other.state.addRunResource('ghost-run', 'hung-start', { kind: 'SF_BULK_QUERY_JOB', jobId: '750000000000001AAA', connectorProfileName: PROFILE }, new Date());
      // ... and Salesforce does not answer (for two minutes) when it does.
      await setFaults('bulkQuery.delay=120000');
      const start = other.executor.start('hung-start', { startedBy: 'manual' }).then((outcome) => ({ outcome }), (error: unknown) => ({ error }));
      while ((await delays()) === 0) await sleep(20);
      await other.executor.drain(100, 5_000);
      // The start was cancelled: it ended (started and cancelled, or refused), and no run of the flow is left going.
      const ended = await start;
      // Started and then cancelled (an executionId), or refused before it started (the run's cancel code).
      if ('error' in ended) expect(['RUN_CANCELED', 'SERVICE_STOPPING']).toContain((ended.error as { code?: string }).code);
      else expect(typeof (ended.outcome as { executionId?: unknown }).executionId).toBe('string');
      const runs = await other.state.runs('hung-start');
      expect(runs.filter((r) => r.executionStatus === 'InProgress')).toEqual([]);
      const mine = runs.find((r) => r.executionId !== 'ghost-run');
      if (mine !== undefined) expect(mine.executionStatus).toBe('Canceled');
    } finally {
      await setFaults('');
      await other.close();
    }
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
