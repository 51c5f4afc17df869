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

  const worker = (concurrency = 1): Promise<RunWorker> => startRunWorker({
    boss, claims, flows, state, log, now, concurrency, leaseMs: 1500, cancelPollMs: 200,
    profiles: async () => ({ profile: emu.connectorProfile }),
    runOptions: { salesforce: FAST, s3Client: s3.client },
  });
  const createFlow = async (name: string, api: 'BULKV2' | 'REST_SYNC'): Promise<void> => {
    await flows.create({
      name, arn: `arn:aws:appflow:us-east-1:123456789012:flow/${name}`, status: 'Active', at: now(), by: 'test', schemaFingerprint: 'f', tags: {},
      definition: {
        triggerConfig: { triggerType: 'OnDemand' },
        sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'emu', sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: api } } },
        destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: name, s3OutputFormatConfig: { fileType: 'JSON' } } } }],
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

  it('drains on close: a run still going after the grace period ends Canceled, its staging removed', async () => {
    await createFlow('drained', 'BULKV2');
    const w = await worker(1);
    const run = (await queue.start('drained', { startedBy: 'manual' })) as { executionId: string };
    await until('the run running', 20_000, async () => ((await claims.get(run.executionId))?.status === 'running' ? true : undefined));
    await w.close(300);
    expect(await ended(run.executionId)).toBe('Canceled');
    expect(await claims.get(run.executionId)).toMatchObject({ status: 'done' });
    expect(await s3.keys('drained/')).toEqual([]);
  }, 60_000);
});
