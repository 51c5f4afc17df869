import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import type { RunStateStore } from '../../src/flows/state.ts';
import { openServiceState, type ServiceState } from '../../src/service/state.ts';
import { openServiceDatabase, type ServiceDatabase } from '../../src/service/db.ts';
import type { Executor } from '../../src/service/executor.ts';
import { createFlowStore, type FlowStore, type FlowTables } from '../../src/service/flows/store.ts';
import { migrateServiceDatabase } from '../../src/service/migrations/index.ts';
import { createQueueExecutor, installRunQueue, openBoss, RunClaims, type ClaimTables } from '../../src/service/queue.ts';
import { startRunWorker, type RunWorker } from '../../src/service/worker.ts';
import { postgresForTests, type TestDatabase } from '../helpers/postgres.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { until } from './distributed-helpers.ts';

/**
 * The run queue and a run worker in this process, on the real PostgreSQL: a run lost before it wrote anything is
 * retried once (and says so), cancels reach queued and running runs, and a worker's drain ends its runs.
 */
const server = await postgresForTests('test/service/queue.test.ts');
const MINUTE = 60_000;
const FAST = { retry: { retries: 6, baseDelayMs: 5, maxDelayMs: 50 }, bulk: { pollInitialMs: 10, pollMaxMs: 50 } };

describe.skipIf(server === undefined)('the run queue on PostgreSQL', () => {
  let emu: RunningEmulator;
  let s3: TestS3;
  let database: TestDatabase;
  let dir: string;
  let db: Kysely<ServiceDatabase>;
  let boss: PgBoss;
  let claims: RunClaims;
  let flows: FlowStore;
  let state: RunStateStore;
  let serviceState: ServiceState;
  let queue: Executor;
  const log = silentLogger();
  const now = (): Date => new Date();

  const worker = (concurrency = 1, flowStore?: FlowStore): Promise<RunWorker> => startRunWorker({
    boss, claims, flows: flowStore ?? flows, state, log, now, concurrency, leaseMs: 1500, cancelPollMs: 200,
    profiles: async () => ({ profile: emu.connectorProfile }),
    runOptions: { salesforce: FAST, s3Client: s3.client },
  });
  const createFlow = async (name: string, api: 'BULKV2' | 'REST_SYNC', source: { object?: string; fileType?: string; threshold?: number } = {}): Promise<void> => {
    await flows.create({
      name, arn: `arn:aws:appflow:us-east-1:123456789012:flow/${name}`, status: 'Active', at: now(), by: 'test', schemaFingerprint: 'f', tags: {},
      definition: {
        triggerConfig: source.threshold === undefined
          ? { triggerType: 'OnDemand' }
          : { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', flowErrorDeactivationThreshold: source.threshold } } },
        sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'emu', sourceConnectorProperties: { Salesforce: { object: source.object ?? 'Contact', dataTransferApi: api } } },
        destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: name, s3OutputFormatConfig: { fileType: source.fileType ?? 'JSON' } } } }],
        tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
      },
    });
  };
  const ended = async (id: string): Promise<string | undefined> => {
    const status = (await state.run(id))?.executionStatus;
    return status === undefined || status === 'InProgress' ? undefined : status;
  };

  beforeAll(async () => {
    // Bulk jobs take ten minutes of the emulator's clock: a BULKV2 export keeps running until cancelled.
    [emu, s3] = await Promise.all([startEmulator({ bulkProcessingDelayMs: 10 * MINUTE, generate: { Contact: 5 } }), startTestS3()]);
    database = await (server as NonNullable<typeof server>).createDatabase('ff_queue');
    dir = mkdtempSync(join(tmpdir(), 'ff-queue-'));
    db = openServiceDatabase({ url: database.url, stateDir: dir });
    await migrateServiceDatabase(db);
    await installRunQueue(database.url, log);
    boss = await openBoss({ url: database.url, log });
    claims = new RunClaims(db.withTables<ClaimTables>() as unknown as Kysely<ClaimTables>);
    flows = await createFlowStore(db.withTables<FlowTables>() as unknown as Kysely<FlowTables>);
    serviceState = openServiceState({ db, stateDir: dir });
    state = serviceState.runs;
    queue = createQueueExecutor({ boss, claims, flows, state, log, now });
  });
  afterAll(async () => {
    await boss?.stop({ graceful: false, wait: true });
    await db?.destroy();
    serviceState?.close();
    await database?.drop();
    await Promise.all([emu?.close(), s3?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('records a start InProgress at once, refuses a second start of the flow, and retries once a run lost before it wrote anything', async () => {
    await createFlow('retried', 'REST_SYNC');
    const started = await queue.start('retried', { startedBy: 'manual' });
    expect('executionId' in started && !('skipped' in started)).toBe(true);
    const id = (started as { executionId: string }).executionId;
    expect((await state.run(id))?.executionStatus).toBe('InProgress');
    expect(await queue.start('retried', { startedBy: 'manual' })).toEqual({ skipped: 'running', executionId: id });
    // A worker took it and vanished before writing: its lease ran out, nothing was recorded to clean up.
    await db.withTables<ClaimTables>().updateTable('run_claims').set({ status: 'running', worker: 'gone:1:x', lease_until: Date.now() - 1 }).where('execution_id', '=', id).execute();
    const w = await worker();
    try {
      await until('the run ended', 30_000, () => ended(id));
      expect((await state.run(id))?.error).toBeNull();
      // The worker notes the retry on the record, then ends the claim.
      await until('its claim ended', 10_000, async () => ((await claims.get(id))?.status === 'done' ? true : undefined));
      expect(await claims.get(id)).toMatchObject({ status: 'done', attempts: 2 });
      const record = await state.run(id);
      expect(record?.notes.some((n) => n.includes('queued again once'))).toBe(true);
      expect((await s3.keys(`retried/retried/${id}/`)).length).toBeGreaterThan(0);
    } finally {
      await w.close(1000);
    }
  }, 60_000);

  it('sends the job of a run recorded and claimed whose service process stopped before sending it', async () => {
    await createFlow('unsent', 'REST_SYNC');
    const id = 'unsent-run-1';
    const at = new Date(Date.now() - 2 * MINUTE);
    expect(await claims.claim({ executionId: id, flowName: 'unsent', startedBy: 'manual', at })).toEqual({ claimed: true });
    const w = await worker();
    try {
      await until('the run ended', 30_000, () => ended(id));
      expect((await state.run(id))?.executionStatus).toBe('Successful');
      await until('its claim ended', 10_000, async () => ((await claims.get(id))?.status === 'done' ? true : undefined));
      expect(await claims.get(id)).toMatchObject({ attempts: 1 });
    } finally {
      await w.close(1000);
    }
  }, 60_000);

  it('cancels a queued run at once and a running one through its worker', async () => {
    await createFlow('long', 'BULKV2');
    await createFlow('waiting', 'REST_SYNC');
    const w = await worker(1);
    try {
      const long = (await queue.start('long', { startedBy: 'manual' })) as { executionId: string };
      await until('the long run running', 20_000, async () => ((await claims.get(long.executionId))?.status === 'running' ? true : undefined));
      // The worker's one slot is taken: this one waits in the queue, and is cancelled there.
      const waiting = (await queue.start('waiting', { startedBy: 'manual' })) as { executionId: string };
      expect(await queue.cancel('waiting', [waiting.executionId, 'no-such-run'])).toEqual({ invalid: ['no-such-run'], canceled: [waiting.executionId] });
      expect(await ended(waiting.executionId)).toBe('Canceled');
      expect(await claims.get(waiting.executionId)).toMatchObject({ status: 'done' });
      // The running one: its worker sees the flag and cancels it.
      expect((await queue.live('long')).map((l) => l.executionId)).toEqual([long.executionId]);
      await queue.cancel('long');
      expect((await queue.live('long'))[0]?.cancelRequested).toBe(true);
      expect(await until('the long run cancelled', 20_000, () => ended(long.executionId))).toBe('Canceled');
      await until('its claim ended', 10_000, async () => ((await claims.get(long.executionId))?.status === 'done' ? true : undefined));
      expect(await s3.keys('long/')).toEqual([]);
    } finally {
      await w.close(1000);
    }
  }, 60_000);

  it('suspends a flow after flowErrorDeactivationThreshold consecutive failed scheduled runs, counted across workers, exactly once', async () => {
    await createFlow('failing', 'REST_SYNC', { object: 'NoSuchObject__c', threshold: 3 });
    let fire = Date.parse('2026-01-01T00:00:00.000Z');
    // Each fire goes to whichever worker takes it: the count lives in the shared flow store, not in a process.
    const scheduled = async (w: RunWorker[]): Promise<string> => {
      fire += 3_600_000;
      const started = (await queue.start('failing', { startedBy: 'schedule', scheduledAt: new Date(fire) })) as { executionId: string };
      expect(await until('the scheduled run ended', 30_000, () => ended(started.executionId))).toBe('Error');
      await until('its claim ended', 10_000, async () => ((await claims.get(started.executionId))?.status === 'done' ? true : undefined));
      expect(w.flatMap((x) => x.running())).toEqual([]);
      return started.executionId;
    };
    const first = await worker();
    const second = await worker();
    try {
      await scheduled([first, second]);
      // A run started by hand does not count either way (as on SQLite).
      const manual = (await queue.start('failing', { startedBy: 'manual' })) as { executionId: string };
      expect(await until('the manual run ended', 30_000, () => ended(manual.executionId))).toBe('Error');
      await until('its claim ended', 10_000, async () => ((await claims.get(manual.executionId))?.status === 'done' ? true : undefined));
      await scheduled([first, second]);
      expect(await flows.get('failing')).toMatchObject({ status: 'Active', consecutiveFailures: 2 });
      await first.close(1000);
      const third = await scheduled([second]);
      const suspended = await flows.get('failing');
      expect(suspended).toMatchObject({ status: 'Suspended', consecutiveFailures: 3 });
      expect(suspended?.statusMessage).toBe(`Deactivated after 3 consecutive failed scheduled runs (flowErrorDeactivationThreshold is 3); the last was run ${third}. Fix the cause, then start the flow again (start-flow).`);
      // A scheduled run ending after the suspension (queued before it) does not suspend it again.
      await scheduled([second]);
      expect(await flows.get('failing')).toMatchObject({ status: 'Suspended', statusMessage: suspended?.statusMessage, lastUpdatedAt: suspended?.lastUpdatedAt });
    } finally {
      await Promise.all([first.close(1000), second.close(1000)]);
    }
  }, 120_000);

  it('counts a scheduled run that could not start (its stored definition no longer compiles) as a failed run', async () => {
    await createFlow('orphan', 'REST_SYNC', { fileType: 'XLS', threshold: 2 });
    const w = await worker();
    try {
      const ids: string[] = [];
      for (const at of ['2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z']) {
        const started = (await queue.start('orphan', { startedBy: 'schedule', scheduledAt: new Date(at) })) as { executionId: string };
        expect(await until('the scheduled run ended', 30_000, () => ended(started.executionId))).toBe('Error');
        await until('its claim ended', 10_000, async () => ((await claims.get(started.executionId))?.status === 'done' ? true : undefined));
        ids.push(started.executionId);
      }
      const flow = await flows.get('orphan');
      expect(flow).toMatchObject({ status: 'Suspended', consecutiveFailures: 2 });
      expect(flow?.statusMessage).toContain(`the last was run ${ids[1]}`);
    } finally {
      await w.close(1000);
    }
  }, 60_000);

  it('drains while a taken run is still being started: the run is handed back and another worker runs it, the close ends', async () => {
    await createFlow('handed', 'REST_SYNC');
    // The worker reads the flow as it starts the run: hold that read until the drain has begun.
    let reached!: () => void;
    const reading = new Promise<void>((resolve) => { reached = resolve; });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const slow: FlowStore = { ...flows, get: async (name) => {
      if (name === 'handed') {
        reached();
        await gate;
      }
      return flows.get(name);
    } };
    const first = await worker(1, slow);
    const run = (await queue.start('handed', { startedBy: 'manual' })) as { executionId: string };
    await reading;
    const closing = first.close(300);
    release();
    await closing;
    // Not started by the closing worker: handed back to the queue, not left running for ever (nor cancelled).
    expect(await claims.get(run.executionId)).toMatchObject({ status: 'queued' });
    expect((await state.run(run.executionId))?.executionStatus).toBe('InProgress');
    const second = await worker();
    try {
      expect(await until('the run ended', 30_000, () => ended(run.executionId))).toBe('Successful');
    } finally {
      await second.close(1000);
    }
  }, 60_000);

  it('drains on close: a run still going after the grace period ends Canceled, its staging removed', async () => {
    await createFlow('drained', 'BULKV2');
    const w = await worker(1);
    const run = (await queue.start('drained', { startedBy: 'manual' })) as { executionId: string };
    // Started: it holds the flow's lock (its claim is `running` from the moment the worker takes the job, before that).
    await until('the run started', 20_000, async () => ((await state.lockHolder('drained'))?.executionId === run.executionId ? true : undefined));
    await w.close(300);
    expect(await ended(run.executionId)).toBe('Canceled');
    expect(await claims.get(run.executionId)).toMatchObject({ status: 'done' });
    expect(await s3.keys('drained/')).toEqual([]);
  }, 60_000);
});
