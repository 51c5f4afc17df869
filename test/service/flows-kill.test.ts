import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { AppflowClient, CreateFlowCommand, DescribeFlowExecutionRecordsCommand, StartFlowCommand, type ExecutionRecord } from '@aws-sdk/client-appflow';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { openRunState } from '../../src/flows/state.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { storeEmulatorProfile } from './harness.ts';

/**
 * A real `forceflow serve` process killed (SIGKILL) mid-run, then started again; the flow is Scheduled
 * (rate(1minutes), Incremental) and its next fire comes in real time: this is the one real-time schedule test.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const MINUTE = 60_000;
let emu: RunningEmulator;
let s3: TestS3;
let dir: string;
/** The emulator's clock runs this far ahead of the real one: moving it on completes a Bulk job at once. */
let emulatorAhead = 0;

beforeAll(async () => {
  // A Bulk query job stays InProgress ten minutes of the emulator's clock: a run is still polling when killed.
  [emu, s3] = await Promise.all([startEmulator({ bulkProcessingDelayMs: 10 * MINUTE, generate: { Contact: 50 }, clock: () => Date.now() + emulatorAhead }), startTestS3()]);
  dir = mkdtempSync(join(tmpdir(), 'ff-serve-kill-'));
});
afterAll(async () => {
  await Promise.all([emu?.close(), s3?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

interface ServeLine { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }

function serve(state: string): { line: Promise<ServeLine>; exit: Promise<number | null>; kill: (s: NodeJS.Signals) => void } {
  // KMS from the emulator (it takes any signature), S3 from the local S3 (its credentials).
  const env = { ...process.env, ...s3.s3.env, AWS_ENDPOINT_URL_KMS: emu.aws.kmsEndpoint };
  const child = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'serve', '--state-dir', state], { env, cwd: dir });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = new Promise<ServeLine>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l) as ServeLine));
    void exit.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  line.catch(() => undefined);
  return { line, exit, kill: (s) => child.kill(s) };
}

async function until<T>(what: string, timeoutMs: number, read: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await sleep(100);
  }
}

async function storeProfile(state: string): Promise<void> {
  const kms = new KMSClient({ endpoint: emu.aws.kmsEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey } });
  try {
    await storeEmulatorProfile({ emu, stateDir: state, kms });
  } finally {
    kms.destroy();
  }
}

const client = (l: ServeLine): AppflowClient => new AppflowClient({ endpoint: l.endpoint, region: l.region, credentials: { accessKeyId: l.accessKeyId, secretAccessKey: l.secretAccessKey }, maxAttempts: 1 });

describe('a service stopped while a scheduled flow misses several fires', () => {
  it('runs once to catch up when it starts again, not once per missed fire', async () => {
    const state = join(dir, 'restart-state');
    await storeProfile(state);
    const runs = async (c: AppflowClient): Promise<ExecutionRecord[]> => (await c.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'caught-up' }))).flowExecutions ?? [];
    const first = serve(state);
    const a = client(await first.line);
    const profile = emu.connectorProfile.connectorProfileName;
    await a.send(new CreateFlowCommand({
      flowName: 'caught-up',
      triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1minutes)', dataPullMode: 'Complete' } } },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: profile, sourceConnectorProperties: { Salesforce: { object: 'Contact' } } },
      destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'caught-up', s3OutputFormatConfig: { fileType: 'JSON' } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    }));
    await a.send(new StartFlowCommand({ flowName: 'caught-up' })); // runs at activation
    await until('the run at activation', 20_000, async () => (await runs(a)).find((r) => r.executionStatus === 'Successful'));
    a.destroy();
    first.kill('SIGTERM');
    expect(await first.exit).toBe(0);

    // Down five and a half minutes: the stored activation and fires move that far into the past, which is what
    // the scheduler reads at start (waiting out five real minutes would say the same, slower).
    const shift = (iso: string): string => new Date(Date.parse(iso) - 5.5 * MINUTE).toISOString();
    const db = new Database(join(state, 'service.db'));
    let activatedAt: string;
    try {
      const flowRow = db.prepare('SELECT activated_at FROM flows WHERE name = ?').get('caught-up') as { activated_at: string };
      activatedAt = shift(flowRow.activated_at);
      db.prepare('UPDATE flows SET activated_at = ? WHERE name = ?').run(activatedAt, 'caught-up');
      const fires = db.prepare('SELECT rowid AS id, scheduled_at, fired_at FROM flow_fires WHERE flow_name = ?').all('caught-up') as Array<{ id: number; scheduled_at: string; fired_at: string }>;
      expect(fires).toHaveLength(1);
      for (const f of fires) db.prepare('UPDATE flow_fires SET scheduled_at = ?, fired_at = ? WHERE rowid = ?').run(shift(f.scheduled_at), shift(f.fired_at), f.id);
    } finally {
      db.close();
    }

    const second = serve(state);
    const b = client(await second.line);
    try {
      const caughtUp = await until('the catch-up run', 20_000, async () => {
        const all = await runs(b);
        return all.length >= 2 && all.every((r) => r.executionStatus !== 'InProgress') ? all : undefined;
      });
      await sleep(1500); // nothing more comes: one run for the five missed fires
      const all = await runs(b);
      expect(all).toHaveLength(2);
      expect(caughtUp.map((r) => r.executionStatus)).toEqual(['Successful', 'Successful']);
      const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
        const cli = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'service', 'fires', 'caught-up', '--json', '--state-dir', state]);
        let out = '';
        cli.stdout.on('data', (c: Buffer) => (out += c.toString()));
        cli.on('exit', (code) => (code === 0 ? resolve({ stdout: out }) : reject(new Error(`service fires exited ${code}`))));
      });
      const fires = JSON.parse(stdout) as Array<{ outcome: string; catchUp: boolean; scheduledAt: string; executionId?: string }>;
      expect(fires).toHaveLength(2);
      // The catch-up names the first fire missed: a minute after the (moved) activation.
      expect(fires[0]).toMatchObject({ outcome: 'started', catchUp: true, executionId: all[0]?.executionId, scheduledAt: new Date(Date.parse(activatedAt) + MINUTE).toISOString() });
      expect(fires[1]).toMatchObject({ outcome: 'started', catchUp: false, executionId: all[1]?.executionId });
    } finally {
      b.destroy();
      second.kill('SIGTERM');
      expect(await second.exit).toBe(0);
    }
  }, 60_000);
});

describe('a service killed mid-run', () => {
  it('marks the run Error (interrupted), discards its staging, keeps its window; the next fire runs normally', async () => {
    const state = join(dir, 'state');
    await storeProfile(state);
    const runs = async (c: AppflowClient): Promise<ExecutionRecord[]> => (await c.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'killed' }))).flowExecutions ?? [];
    const first = serve(state);
    const a = client(await first.line);
    const profile = emu.connectorProfile.connectorProfileName;
    // Before every generated Contact's LastModifiedDate (2021 to 2024): the first window holds all 50.
    const firstExecutionFrom = new Date('2020-01-01T00:00:00Z');
    await a.send(new CreateFlowCommand({
      flowName: 'killed',
      triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1minutes)', dataPullMode: 'Incremental', firstExecutionFrom } } },
      sourceFlowConfig: {
        connectorType: 'Salesforce', connectorProfileName: profile,
        sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: 'BULKV2' } },
        incrementalPullConfig: { datetimeTypeFieldName: 'LastModifiedDate' },
      },
      destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'out', s3OutputFormatConfig: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    }));
    // A rate() runs at activation, then every minute from it.
    await a.send(new StartFlowCommand({ flowName: 'killed' }));
    const activatedAt = Date.now();
    const killed = await until('the first scheduled run InProgress', 10_000, async () => (await runs(a)).find((r) => r.executionStatus === 'InProgress'));
    const executionId = String(killed.executionId);
    // The run has recorded its S3 staging (it is polling its Bulk job, which has no rows yet).
    const local = openRunState(state);
    let staging: { bucket: string; prefix: string };
    try {
      staging = await until('the run\'s S3 staging recorded', 10_000, async () => {
        const r = (await local.runResources(executionId)).find((x) => x.resource.kind === 'S3_STAGING')?.resource;
        return r?.kind === 'S3_STAGING' ? r : undefined;
      });
    } finally {
      local.close();
    }
    expect(staging).toEqual({ kind: 'S3_STAGING', bucket: s3.bucket, prefix: `out/_temporary/${executionId}/` });
    // What the run had staged when it died (it has read nothing yet, so this part stands in for its first file).
    await s3.put(`${staging.prefix}killed-0.jsonl`, '{"Id":"003000000000001AAA"}\n');
    a.destroy();
    first.kill('SIGKILL');
    await first.exit;

    const second = serve(state);
    const b = client(await second.line);
    try {
      const after = await runs(b);
      expect(after).toHaveLength(1);
      expect(after[0]).toMatchObject({ executionId, executionStatus: 'Error' });
      expect(after[0]?.executionResult?.errorInfo?.executionMessage).toContain('interrupted');
      // Its staging is gone and nothing was published.
      expect(await s3.keys('out/')).toEqual([]);
      const check = openRunState(state);
      try {
        expect((await check.runResources(executionId)).every((r) => r.settledAt !== null)).toBe(true);
        expect(await check.lastWindowEnd('killed')).toBeUndefined();
      } finally {
        check.close();
      }

      // The next fire, a minute after activation (real time), runs from where the killed run started (firstExecutionFrom).
      const next = await until('the next fire\'s run', 80_000, async () => (await runs(b)).find((r) => r.executionId !== executionId));
      expect(next.startedAt?.getTime()).toBeGreaterThanOrEqual(Math.floor((activatedAt - 1000) / 1000) * 1000 + MINUTE - 1000);
      // Once its Bulk query job exists, the emulator's clock moves past the job's ten minutes: done at the next poll.
      const jobs = openRunState(state);
      try {
        await until('the next run\'s Bulk job', 20_000, async () => (await jobs.runResources(String(next.executionId))).find((r) => r.resource.kind === 'SF_BULK_QUERY_JOB'));
      } finally {
        jobs.close();
      }
      emulatorAhead = 11 * MINUTE;
      const done = await until('the next run ends', 30_000, async () => (await runs(b)).find((r) => r.executionId === next.executionId && r.executionStatus !== 'InProgress'));
      expect(done.executionStatus).toBe('Successful');
      expect(done.dataPullStartTime?.getTime()).toBe(firstExecutionFrom.getTime());
      expect(done.executionResult?.recordsProcessed).toBe(50);
      const published = await s3.keys('out/');
      expect(published).toHaveLength(1);
      expect(published[0]).toBe(`out/killed/${String(next.executionId)}/${String(next.executionId)}-00000.jsonl`);
      expect((await s3.getText(String(published[0]))).trim().split('\n')).toHaveLength(50);
      const windowed = openRunState(state);
      try {
        expect(await windowed.lastWindowEnd('killed')).toBe(done.dataPullEndTime?.toISOString());
      } finally {
        windowed.close();
      }
    } finally {
      b.destroy();
      second.kill('SIGTERM');
      expect(await second.exit).toBe(0);
    }
  }, 150_000);
});
