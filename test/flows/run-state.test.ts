import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isForceflowError } from '../../src/core/errors.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { newExecutionRecord } from '../../src/flows/run-record.ts';
import { openRunState, type RunStateStore } from '../../src/flows/state.ts';
import { captureContext } from '../helpers/run-context.ts';

const FAST = { retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 }, bulk: { pollInitialMs: 10, pollMaxMs: 50 } };

function localFlow(name: string, out: string, input: string): Record<string, unknown> {
  return {
    flowName: name,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: input, fileType: 'CSV' } } },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
  };
}

function bulkFlow(name: string, out: string, incremental = false): Record<string, unknown> {
  return {
    flowName: name,
    triggerConfig: incremental
      ? { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', firstExecutionFrom: Math.floor(Date.now() / 1000) - 3600 } } }
      : { triggerType: 'OnDemand' },
    sourceFlowConfig: {
      connectorType: 'Salesforce',
      connectorProfileName: 'forceflow-emulator',
      sourceConnectorProperties: { Salesforce: { object: 'Account', dataTransferApi: 'BULKV2' } },
      ...(incremental ? { incrementalPullConfig: { datetimeTypeFieldName: 'LastModifiedDate' } } : {}),
    },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
    tasks: [
      { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
      { taskType: 'Map', sourceFields: ['Id'], destinationField: 'Id', connectorOperator: { Salesforce: 'NO_OP' } },
      { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
    ],
  };
}

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('run state: lock, interrupted runs, windows, permissions', () => {
  let emu: RunningEmulator;
  let dir: string;
  let input: string;
  const profiles = (): Record<string, unknown> => ({ 'forceflow-emulator': emu.connectorProfile });

  beforeAll(async () => {
    emu = await startEmulator();
    dir = mkdtempSync(join(tmpdir(), 'ff-run-state-'));
    input = join(dir, 'in.csv');
    writeFileSync(input, 'Id,Name\n1,One\n2,Two\n');
  });
  afterAll(async () => {
    await emu?.close();
  });

  it('refuses a second in-process run of the same flow with FLOW_LOCKED naming the holder, and lets a waiting one through after', async () => {
    const state = openRunState(mkdtempSync(join(tmpdir(), 'ff-lock-state-')));
    const out = mkdtempSync(join(tmpdir(), 'ff-lock-out-'));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let created!: () => void;
    const jobCreated = new Promise<void>((r) => (created = r));
    // The first run stops inside its Bulk job hook until the gate opens: it holds the lock meanwhile.
    const first = runFlow({
      flow: bulkFlow('locked-flow', out), profiles: profiles(), state, executionId: 'first-run',
      salesforce: { ...FAST, bulk: { ...FAST.bulk, onQueryJobCreated: async () => { created(); await gate; } } },
    });
    await jobCreated;
    const second = await runFlow({ flow: bulkFlow('locked-flow', out), profiles: profiles(), state, salesforce: FAST }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isForceflowError(second, 'FLOW_LOCKED')).toBe(true);
    const e = second as Error & { details: Record<string, unknown>; kind: string };
    expect(e.kind).toBe('retryable');
    expect(e.message).toContain('first-run');
    expect(e.message).toContain(`pid ${process.pid} on ${hostname()}`);
    expect(e.details['holder']).toMatchObject({ executionId: 'first-run', pid: process.pid });
    // The job id is recorded before the job is polled.
    expect((await state.runResources('first-run')).map((r) => r.resource.kind)).toContain('SF_BULK_QUERY_JOB');
    expect((await state.run('first-run'))?.executionStatus).toBe('InProgress');

    const ctx = captureContext();
    const waiting = runFlow({ flow: bulkFlow('locked-flow', out), profiles: profiles(), state, log: ctx.log, salesforce: FAST, lockWaitMs: Number.POSITIVE_INFINITY, executionId: 'waiting-run' });
    // Released only once the waiter has seen the lock held.
    for (;;) {
      if (ctx.lines.some((l) => String(l['msg']).startsWith('waiting for the lock'))) break;
      await new Promise((r) => setImmediate(r));
    }
    release();
    expect((await first).executionStatus).toBe('Successful');
    const third = await waiting;
    expect(third.executionStatus).toBe('Successful');
    expect(await state.lockHolder('locked-flow')).toBeUndefined();
    // Both ended here: nothing left for a cleanup.
    expect(await state.pendingResources('locked-flow')).toEqual([]);
    state.close();
  });

  it('takes over the lock of a dead holder on this host and marks its run interrupted, removing its staging', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-takeover-'));
    const state = openRunState(stateDir);
    const out = mkdtempSync(join(tmpdir(), 'ff-takeover-out-'));
    const flow = localFlow('crashed-flow', out, input);
    // What a run killed mid-write leaves: its InProgress record, its lock, and its staging folder.
    const crashed = newExecutionRecord('crashed-flow', 'crashed-run', new Date(Date.now() - 60_000));
    await state.saveRun(crashed);
    const staging = join(out, '_temporary', 'crashed-run');
    mkdirSync(join(staging, 'crashed-flow'), { recursive: true });
    writeFileSync(join(staging, 'crashed-flow', 'part.json'), '{"half":');
    await state.addRunResource('crashed-run', 'crashed-flow', { kind: 'LOCAL_STAGING', path: staging }, new Date());
    const dead = { executionId: 'crashed-run', host: hostname(), pid: deadPid() };
    expect((await state.acquireLock('crashed-flow', dead, { leaseMs: 3_600_000, now: new Date(), isGone: () => false })).acquired).toBe(true);

    const ctx = captureContext();
    const record = await runFlow({ flow, state, log: ctx.log });
    expect(record.executionStatus).toBe('Successful');
    expect(ctx.lines.some((l) => l['msg'] === 'took over the lock of a run whose process is gone; that run is treated as interrupted')).toBe(true);
    const interrupted = await state.run('crashed-run');
    expect(interrupted?.executionStatus).toBe('Error');
    expect(interrupted?.error?.code).toBe('RUN_INTERRUPTED');
    expect(existsSync(staging)).toBe(false);
    expect(existsSync(join(out, '_temporary'))).toBe(false);
    expect((await state.runResources('crashed-run'))[0]?.settledAt).not.toBeNull();
    state.close();
  });

  it('honours a live holder on this host and a holder on another host until its lease expires', async () => {
    const state = openRunState(mkdtempSync(join(tmpdir(), 'ff-lease-')));
    const out = mkdtempSync(join(tmpdir(), 'ff-lease-out-'));
    const now = new Date();
    // This very process: alive.
    await state.acquireLock('lease-flow', { executionId: 'alive', host: hostname(), pid: process.pid }, { leaseMs: 1, now: new Date(0), isGone: () => false });
    await expect(runFlow({ flow: localFlow('lease-flow', out, input), state })).rejects.toMatchObject({ code: 'FLOW_LOCKED' });
    await state.releaseLock('lease-flow', 'alive');
    // Another host, lease still running: refused; lease expired: taken over.
    await state.acquireLock('lease-flow', { executionId: 'remote', host: 'other-host.example', pid: 1 }, { leaseMs: 3_600_000, now, isGone: () => false });
    await expect(runFlow({ flow: localFlow('lease-flow', out, input), state })).rejects.toMatchObject({ code: 'FLOW_LOCKED', message: expect.stringContaining('pid 1 on other-host.example') });
    await state.acquireLock('lease-flow', { executionId: 'remote-expired', host: 'other-host.example', pid: 1 }, { leaseMs: 1000, now: new Date(now.getTime() - 10_000), isGone: () => true });
    expect((await runFlow({ flow: localFlow('lease-flow', out, input), state })).executionStatus).toBe('Successful');
    state.close();
  });

  it('creates the state folder 0700 and its database files 0600, and narrows an older 0755 folder and 0644 database', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ff-perms-'));
    const folder = join(parent, 'nested', 'state');
    const state = openRunState(folder);
    await state.saveRun(newExecutionRecord('perm-flow', 'perm-run', new Date()));
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(statSync(join(parent, 'nested')).mode & 0o777).toBe(0o700);
    const files = readdirSync(folder).sort();
    expect(files).toEqual(['runs.db', 'runs.db-shm', 'runs.db-wal']);
    for (const f of files) expect(statSync(join(folder, f)).mode & 0o777, f).toBe(0o600);
    state.close();
    chmodSync(join(folder, 'runs.db'), 0o644);
    chmodSync(folder, 0o755);
    writeFileSync(join(folder, 'notes.txt'), 'the user\'s own file');
    chmodSync(join(folder, 'notes.txt'), 0o644);
    openRunState(folder).close();
    expect(statSync(join(folder, 'runs.db')).mode & 0o777).toBe(0o600);
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(statSync(join(folder, 'notes.txt')).mode & 0o777).toBe(0o644);
  });

  it('moves and resets windows with an audit trail; a successful run advances the window once', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-windows-')));
    const run = newExecutionRecord('win-flow', 'win-1', new Date('2026-01-01T00:00:00Z'));
    run.executionStatus = 'Successful';
    run.dataPullEndTime = '2026-01-01T00:00:00.000Z';
    await state.saveRun(run);
    await state.saveRun(run); // saved twice: one change
    expect(await state.lastWindowEnd('win-flow')).toBe('2026-01-01T00:00:00.000Z');
    await state.setWindow('win-flow', '2025-06-01T00:00:00.000Z', new Date(), 'backfill');
    expect(await state.lastWindowEnd('win-flow')).toBe('2025-06-01T00:00:00.000Z');
    await state.setWindow('win-flow', null, new Date(), null);
    expect(await state.lastWindowEnd('win-flow')).toBeUndefined();
    const changes = await state.windowChanges('win-flow');
    expect(changes.map((c) => [c.reason, c.previousEnd, c.newEnd])).toEqual([
      ['reset', '2025-06-01T00:00:00.000Z', null],
      ['reset', '2026-01-01T00:00:00.000Z', '2025-06-01T00:00:00.000Z'],
      ['run', null, '2026-01-01T00:00:00.000Z'],
    ]);
    expect(changes[1]?.note).toBe('backfill');
    state.close();
  });

  it('runFlow on an incremental flow without a state store uses $FORCEFLOW_HOME, so the next run continues the window', async () => {
    const home = mkdtempSync(join(tmpdir(), 'ff-default-home-'));
    const out = mkdtempSync(join(tmpdir(), 'ff-default-out-'));
    const before = process.env['FORCEFLOW_HOME'];
    process.env['FORCEFLOW_HOME'] = home;
    try {
      const first = await runFlow({ flow: bulkFlow('default-state-flow', out, true), profiles: profiles(), salesforce: FAST });
      expect(first.executionStatus).toBe('Successful');
      expect(existsSync(join(home, 'runs.db'))).toBe(true);
      const second = await runFlow({ flow: bulkFlow('default-state-flow', out, true), profiles: profiles(), salesforce: FAST });
      expect(second.dataPullStartTime).toBe(first.dataPullEndTime);
      // Not incremental: no state is opened (no history, no lock), as before.
      const other = mkdtempSync(join(tmpdir(), 'ff-default-home2-'));
      process.env['FORCEFLOW_HOME'] = other;
      expect((await runFlow({ flow: localFlow('plain-flow', out, input) })).executionStatus).toBe('Successful');
      expect(readdirSync(other)).toEqual([]);
    } finally {
      if (before === undefined) delete process.env['FORCEFLOW_HOME'];
      else process.env['FORCEFLOW_HOME'] = before;
    }
  });

  it('fails a LocalFile destination under /proc or on a device at once, naming it', async () => {
    for (const [path, what] of [['/proc/forceflow-out', 'proc'], ['/dev/null', 'character device'], ['/sys/forceflow-out', 'sysfs']] as const) {
      const record = await runFlow({ flow: localFlow('proc-flow', path, input) });
      expect(record.executionStatus, path).toBe('Error');
      expect(record.error?.code).toBe('CONFIG_INVALID');
      expect(record.error?.message).toContain(what);
      expect(record.error?.message).toContain(path);
    }
  });
});
