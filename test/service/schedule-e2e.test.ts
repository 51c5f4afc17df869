import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CancelFlowExecutionsCommand, CreateFlowCommand, DeleteConnectorProfileCommand, DescribeConnectorProfilesCommand, DescribeFlowCommand,
  DescribeFlowExecutionRecordsCommand, StartFlowCommand, StopFlowCommand, type AppflowClient, type ExecutionRecord,
} from '@aws-sdk/client-appflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { newExecutionRecord } from '../../src/flows/run-record.ts';
import { openRunState } from '../../src/flows/state.ts';
import { createProfile, openProfileContext } from '../../src/profiles/index.ts';
import { startHarness, type ServiceHarness } from './harness.ts';
import { ManualClock } from './scheduler-harness.ts';

/**
 * The scheduler end to end: the composed service (startService, its profile store, executor and scheduler) on
 * an injected clock, driven only through @aws-sdk/client-appflow over HTTP. Runs are real (the emulator over
 * HTTP); only the time at which fires come is the test's. The SDK signs with the real clock: when the service
 * clock is moved minutes ahead, the client corrects its offset from the service's Date header and retries
 * (maxAttempts 3), as against AWS.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const MINUTE = 60_000;
const run = promisify(execFile);

let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  // Bulk query jobs stay InProgress a minute (a run still going when the next fire comes); REST queries answer at once.
  emu = await startEmulator({ bulkProcessingDelayMs: 60_000, generate: { Contact: 20 } });
  dir = mkdtempSync(join(tmpdir(), 'ff-sched-e2e-'));
});
afterAll(async () => {
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The composed service on `clock`, its state in `stateDir` (kept across restarts), with the emulator's profile stored. */
async function service(stateDir: string, clock: ManualClock): Promise<{ h: ServiceHarness; appflow: AppflowClient }> {
  const h = await startHarness({ emulator: emu, stateDir, clock });
  const ctx = openProfileContext({ log: silentLogger(), home: stateDir, kms: h.kms });
  try {
    if ((await ctx.store.get(emu.connectorProfile.connectorProfileName)) === undefined) await createProfile(ctx, emu.connectorProfile);
  } finally {
    ctx.close();
  }
  return { h, appflow: h.client({ maxAttempts: 3 }) };
}

type Scheduled = { scheduleExpression: string; scheduleStartTime?: Date; flowErrorDeactivationThreshold?: number };

/**
 * A scheduled Salesforce → Salesforce flow: the LastName of `object` (REST, or Bulk API 2.0) inserted as Account
 * names. Contacts are not written, so every run reads the same 20 and writes them with the REST API (not a Bulk
 * ingest job, which the emulator holds a minute).
 */
function flow(name: string, object: string, scheduled: Scheduled, bulk = false): ConstructorParameters<typeof CreateFlowCommand>[0] {
  const profile = emu.connectorProfile.connectorProfileName;
  return {
    flowName: name,
    triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { dataPullMode: 'Complete', ...scheduled } } },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: profile, sourceConnectorProperties: { Salesforce: { object, ...(bulk ? { dataTransferApi: 'BULKV2' as const } : {}) } } },
    destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: profile, destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT' } } }],
    tasks: [
      { taskType: 'Filter', sourceFields: ['LastName'], connectorOperator: { Salesforce: 'PROJECTION' }, taskProperties: {} },
      { taskType: 'Map', sourceFields: ['LastName'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' }, taskProperties: {} },
    ],
  };
}

async function records(appflow: AppflowClient, flowName: string): Promise<ExecutionRecord[]> {
  const { flowExecutions = [] } = await appflow.send(new DescribeFlowExecutionRecordsCommand({ flowName, maxResults: 100 }));
  return flowExecutions;
}

/** Waits (real time) until the flow has `count` records and none is InProgress or CancelStarted. */
async function settled(appflow: AppflowClient, flowName: string, count: number): Promise<ExecutionRecord[]> {
  let seen: ExecutionRecord[] = [];
  for (let i = 0; i < 400; i++) {
    seen = await records(appflow, flowName);
    if (seen.length >= count && seen.every((r) => r.executionStatus !== 'InProgress' && r.executionStatus !== 'CancelStarted')) return seen;
    await sleep(25);
  }
  throw new Error(`${flowName}: expected ${count} finished runs, saw ${JSON.stringify(seen.map((r) => r.executionStatus))}`);
}

/** Who started each run (the run history's startedBy, as `forceflow runs list --json` shows it). */
async function startedBy(stateDir: string, executionIds: readonly (string | undefined)[]): Promise<string[]> {
  const state = openRunState(stateDir);
  try {
    return await Promise.all(executionIds.map(async (id) => String((await state.run(String(id)))?.startedBy)));
  } finally {
    state.close();
  }
}

describe('the scheduler through the AppFlow API, on the service clock', () => {
  let stateDir: string;
  let clock: ManualClock;
  let h: ServiceHarness;
  let appflow: AppflowClient;
  // Whole seconds: the wire carries epoch seconds.
  const t0 = Math.floor(Date.now() / 1000) * 1000;

  beforeAll(async () => {
    stateDir = join(dir, 'clocked');
    clock = new ManualClock(new Date(t0));
    ({ h, appflow } = await service(stateDir, clock));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('runs an activated flow when the service clock reaches its fires: records startedBy schedule, at the fire times', async () => {
    const start = new Date(clock.now().getTime() + 30_000);
    await appflow.send(new CreateFlowCommand(flow('every-minute', 'Contact', { scheduleExpression: 'rate(1minutes)', scheduleStartTime: start })));
    expect(await appflow.send(new StartFlowCommand({ flowName: 'every-minute' }))).toMatchObject({ flowStatus: 'Active' });
    expect(await records(appflow, 'every-minute')).toEqual([]);
    await clock.advanceBy(29_999);
    expect(await records(appflow, 'every-minute')).toEqual([]);
    await clock.advanceBy(1);
    const first = await settled(appflow, 'every-minute', 1);
    expect(first).toHaveLength(1);
    await clock.advanceBy(MINUTE);
    const both = await settled(appflow, 'every-minute', 2);
    expect(both.map((r) => r.executionStatus)).toEqual(['Successful', 'Successful']);
    // Newest first, started at the schedule's instants on the service clock (not the system clock).
    expect(both.map((r) => r.startedAt?.getTime())).toEqual([start.getTime() + MINUTE, start.getTime()]);
    expect(await startedBy(stateDir, both.map((r) => r.executionId))).toEqual(['schedule', 'schedule']);
    expect((await appflow.send(new DescribeFlowCommand({ flowName: 'every-minute' }))).lastRunExecutionDetails).toMatchObject({ mostRecentExecutionStatus: 'Successful' });
    await appflow.send(new StopFlowCommand({ flowName: 'every-minute' }));
    await clock.advanceBy(3 * MINUTE);
    expect(await records(appflow, 'every-minute')).toHaveLength(2);
  });

  it('skips a fire while the flow still runs, keeps it in the fires log (forceflow service fires), and cancels the running Bulk export', async () => {
    await appflow.send(new CreateFlowCommand(flow('overlap', 'Contact', { scheduleExpression: 'rate(1minutes)' }, true)));
    await appflow.send(new StartFlowCommand({ flowName: 'overlap' })); // a rate() runs at activation: its Bulk job takes a minute
    const [running] = await records(appflow, 'overlap');
    expect(running?.executionStatus).toBe('InProgress');
    await clock.advanceBy(MINUTE); // the next fire: the run is still going
    expect((await records(appflow, 'overlap')).map((r) => r.executionId)).toEqual([running?.executionId]);

    const cli = async (...args: string[]): Promise<{ stdout: string }> => run(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'service', 'fires', ...args, '--state-dir', stateDir]);
    let fires: Array<{ outcome: string; executionId?: string; reason?: string; scheduledAt: string; catchUp: boolean }> = [];
    for (let i = 0; i < 100 && fires.length < 2; i++) {
      fires = JSON.parse((await cli('overlap', '--json')).stdout) as typeof fires;
      if (fires.length < 2) await sleep(50);
    }
    expect(fires).toMatchObject([
      { outcome: 'skipped', catchUp: false },
      { outcome: 'started', catchUp: false, executionId: running?.executionId },
    ]);
    expect(fires[0]?.reason).toContain('still in progress');
    expect(new Date(String(fires[0]?.scheduledAt)).getTime() - new Date(String(fires[1]?.scheduledAt)).getTime()).toBe(MINUTE);
    const text = (await cli('overlap')).stdout;
    expect(text.split('\n')[0]).toMatch(/^\S+Z {2}skipped {2}scheduled \S+Z {2}A run of the flow was still in progress/);
    const unknown = await cli('no-such-flow').then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(unknown?.code).toBe(2); // a configuration error
    expect(unknown?.stderr).toContain('RUN_NOT_FOUND');
    const noState = await run(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'service', 'fires', 'overlap', '--state-dir', join(dir, 'no-such-state')]).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(noState).toMatchObject({ code: 2 });
    expect(noState?.stderr).toContain('CONFIG_INVALID');
    expect(existsSync(join(dir, 'no-such-state'))).toBe(false);

    // CancelFlowExecutions stops the run polling its Bulk job: CancelStarted, then Canceled.
    expect(await appflow.send(new CancelFlowExecutionsCommand({ flowName: 'overlap', executionIds: [String(running?.executionId)] }))).toMatchObject({ invalidExecutions: [] });
    const [canceled] = await settled(appflow, 'overlap', 1);
    expect(canceled?.executionStatus).toBe('Canceled');
    // Its Bulk query job was aborted in the org (PATCH state Aborted), not left running.
    const calls = (await (await fetch(`${emu.instanceUrl}/__emulator/calls`, { headers: { 'X-Forceflow-Emulator': '1' } })).json()) as { calls: Record<string, number> };
    expect(Object.keys(calls.calls).filter((k) => /^PATCH .*jobs\/query/.test(k))).toHaveLength(1);
    await appflow.send(new StopFlowCommand({ flowName: 'overlap' }));
  });

  it('suspends a flow after flowErrorDeactivationThreshold (2) failed scheduled runs, with the reason; StartFlow activates it again', async () => {
    await appflow.send(new CreateFlowCommand(flow('failing', 'NoSuchObject__c', { scheduleExpression: 'rate(1minutes)', flowErrorDeactivationThreshold: 2 })));
    await appflow.send(new StartFlowCommand({ flowName: 'failing' }));
    await settled(appflow, 'failing', 1);
    expect((await appflow.send(new DescribeFlowCommand({ flowName: 'failing' }))).flowStatus).toBe('Active');
    await clock.advanceBy(MINUTE);
    const two = await settled(appflow, 'failing', 2);
    expect(two.map((r) => r.executionStatus)).toEqual(['Error', 'Error']);
    expect(two[0]?.executionResult?.errorInfo?.executionMessage).toContain('NoSuchObject__c');
    let described = await appflow.send(new DescribeFlowCommand({ flowName: 'failing' }));
    for (let i = 0; i < 100 && described.flowStatus === 'Active'; i++) {
      await sleep(20);
      described = await appflow.send(new DescribeFlowCommand({ flowName: 'failing' }));
    }
    expect(described.flowStatus).toBe('Suspended');
    expect(described.flowStatusMessage).toBe(`Deactivated after 2 consecutive failed scheduled runs (flowErrorDeactivationThreshold is 2); the last was run ${two[0]?.executionId}. Fix the cause, then start the flow again (start-flow).`);
    // Suspended: the schedule's next fires do not run.
    await clock.advanceBy(2 * MINUTE);
    expect(await records(appflow, 'failing')).toHaveLength(2);
    // StartFlow activates it again (a rate() runs at activation).
    expect(await appflow.send(new StartFlowCommand({ flowName: 'failing' }))).toMatchObject({ flowStatus: 'Active' });
    expect((await appflow.send(new DescribeFlowCommand({ flowName: 'failing' }))).flowStatusMessage).toBeUndefined();
    expect(await settled(appflow, 'failing', 3)).toHaveLength(3);
    await appflow.send(new StopFlowCommand({ flowName: 'failing' }));
  });

  it('pages more than 20 execution records newest first, from the flow creation on', async () => {
    await appflow.send(new CreateFlowCommand(flow('long-history', 'Contact', { scheduleExpression: 'rate(1hours)' })));
    const created = (await appflow.send(new DescribeFlowCommand({ flowName: 'long-history' }))).createdAt as Date;
    const state = openRunState(stateDir);
    try {
      // A run of an earlier flow of the same name (before this one was created) is not part of its history.
      await state.saveRun({ ...newExecutionRecord('long-history', 'before-creation', new Date(created.getTime() - 1000)), executionStatus: 'Successful' });
      for (let i = 0; i < 45; i++) {
        await state.saveRun({ ...newExecutionRecord('long-history', `run-${String(i).padStart(2, '0')}`, new Date(created.getTime() + i * 1000)), executionStatus: 'Successful' });
      }
    } finally {
      state.close();
    }
    const want = Array.from({ length: 45 }, (_, i) => `run-${String(44 - i).padStart(2, '0')}`);
    const walk = async (maxResults?: number): Promise<{ ids: string[]; sizes: number[] }> => {
      const ids: string[] = [];
      const sizes: number[] = [];
      let nextToken: string | undefined;
      do {
        const page = await appflow.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'long-history', ...(maxResults ? { maxResults } : {}), ...(nextToken ? { nextToken } : {}) }));
        sizes.push(page.flowExecutions?.length ?? 0);
        ids.push(...(page.flowExecutions ?? []).map((r) => String(r.executionId)));
        nextToken = page.nextToken;
      } while (nextToken);
      return { ids, sizes };
    };
    expect(await walk()).toEqual({ ids: want, sizes: [20, 20, 5] });
    expect(await walk(15)).toEqual({ ids: want, sizes: [15, 15, 15] });
  });

  it('refuses to delete a connector profile a flow uses (ConflictException naming the flows); forceDelete deletes it', async () => {
    const name = emu.connectorProfile.connectorProfileName;
    const refused = await appflow.send(new DeleteConnectorProfileCommand({ connectorProfileName: name })).catch((e: Error) => e);
    expect(refused).toMatchObject({ name: 'ConflictException' });
    expect((refused as Error).message).toContain('every-minute');
    expect((refused as Error).message).toContain('long-history');
    expect((await appflow.send(new DescribeConnectorProfilesCommand({ connectorProfileNames: [name] }))).connectorProfileDetails).toHaveLength(1);
    await appflow.send(new DeleteConnectorProfileCommand({ connectorProfileName: name, forceDelete: true }));
    expect((await appflow.send(new DescribeConnectorProfilesCommand({ connectorProfileNames: [name] }))).connectorProfileDetails).toEqual([]);
  });
});

describe('a service restarted after missing several fires', () => {
  it('runs once to catch up, not once per missed fire, then keeps its schedule', async () => {
    const stateDir = join(dir, 'restarted');
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const clock = new ManualClock(new Date(t0));
    let { h, appflow } = await service(stateDir, clock);
    try {
      await appflow.send(new CreateFlowCommand(flow('missed', 'Contact', { scheduleExpression: 'rate(1minutes)' })));
      await appflow.send(new StartFlowCommand({ flowName: 'missed' })); // runs at activation, t0
      await settled(appflow, 'missed', 1);
      await h.close();
      // Down for five and a half minutes: the fires at t0 + 1 … 5 minutes are missed.
      clock.jumpTo(new Date(t0 + 5.5 * MINUTE));
      ({ h, appflow } = await service(stateDir, clock));
      const after = await settled(appflow, 'missed', 2);
      expect(after).toHaveLength(2);
      expect(after[0]?.startedAt?.getTime()).toBe(t0 + 5.5 * MINUTE);
      const store = await import('../../src/service/flows/store.ts').then((m) => m.openSqliteFlowStore(stateDir));
      try {
        const [catchUp] = await store.fires('missed');
        expect(catchUp).toMatchObject({ outcome: 'started', catchUp: true, executionId: after[0]?.executionId, scheduledAt: new Date(t0 + MINUTE) });
      } finally {
        await store.close();
      }
      // The fire at t0 + 6 minutes comes less than a minute after the catch-up run: folded into it.
      await clock.advanceTo(new Date(t0 + 6 * MINUTE));
      expect(await records(appflow, 'missed')).toHaveLength(2);
      // The schedule goes on in its phase: t0 + 7 minutes runs.
      await clock.advanceTo(new Date(t0 + 7 * MINUTE));
      const third = await settled(appflow, 'missed', 3);
      expect(third[0]?.startedAt?.getTime()).toBe(t0 + 7 * MINUTE);
      expect(await startedBy(stateDir, third.map((r) => r.executionId))).toEqual(['schedule', 'schedule', 'schedule']);
    } finally {
      await h.close();
    }
  });
});
