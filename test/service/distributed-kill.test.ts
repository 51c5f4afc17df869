import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFlowCommand, DescribeFlowExecutionRecordsCommand, StartFlowCommand, type AppflowClient, type ExecutionRecord } from '@aws-sdk/client-appflow';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { postgresForTests, type TestDatabase } from '../helpers/postgres.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { appflowOf, forceflowChild, openRuns, storeProfile, until, type Child } from './distributed-helpers.ts';

/**
 * Workers of the distributed mode killed (SIGKILL) mid-run: one during a Bulk export (its Bulk query job is
 * polling), one during a Salesforce write (its Bulk ingest job was sent). Each run ends Error WORKER_LOST once its
 * 3 s lease runs out, its staging is discarded, nothing is published, it is not re-run; the Salesforce write is
 * recovered by the flow's next run from the write journal, so no record is written twice; the third worker runs
 * another flow meanwhile.
 */
const server = await postgresForTests('test/service/distributed-kill.test.ts');
const MINUTE = 60_000;
const ROWS = 20;

describe.skipIf(server === undefined)('distributed mode: a worker killed mid-run', () => {
  let emu: RunningEmulator;
  let s3: TestS3;
  let database: TestDatabase;
  let dir: string;
  /** The emulator's clock runs this far ahead of the real one: moving it on completes Bulk jobs at once. */
  let emulatorAhead = 0;
  const children: Child[] = [];

  beforeAll(async () => {
    // Bulk jobs stay InProgress ten minutes of the emulator's clock: the runs are polling when killed.
    [emu, s3] = await Promise.all([startEmulator({ bulkProcessingDelayMs: 10 * MINUTE, generate: { Contact: 30 }, clock: () => Date.now() + emulatorAhead }), startTestS3()]);
    database = await (server as NonNullable<typeof server>).createDatabase('ff_dist_kill');
    dir = mkdtempSync(join(tmpdir(), 'ff-dist-kill-'));
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exit));
    await database?.drop();
    await Promise.all([emu?.close(), s3?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ends the runs Error WORKER_LOST, discards staging, writes no record twice; the other worker goes on', async () => {
    const state = join(dir, 'state');
    const env = { ...process.env, ...s3.s3.env, AWS_ENDPOINT_URL_KMS: emu.aws.kmsEndpoint, FORCEFLOW_DATABASE_URL: undefined };
    expect(await forceflowChild(['migrate', '--database', database.url], env, dir).exit).toBe(0);
    await storeProfile(emu, database.url, state);
    const spawnChild = (args: string[]): Child => {
      const c = forceflowChild(args, env, dir);
      children.push(c);
      return c;
    };
    const serve = spawnChild(['serve', '--database', database.url, '--state-dir', state]);
    const workers = [0, 1, 2].map(() => spawnChild(['worker', '--database', database.url, '--state-dir', state, '--lease-seconds', '3']));
    const client: AppflowClient = appflowOf(await serve.line);
    const workerIds = await Promise.all(workers.map(async (w) => String((await w.line)['worker'])));

    const profile = emu.connectorProfile.connectorProfileName;
    const toS3 = (name: string, api: 'BULKV2' | 'REST_SYNC'): CreateFlowCommand => new CreateFlowCommand({
      flowName: name, triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: profile, sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: api } } },
      destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: name, s3OutputFormatConfig: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    });
    await client.send(toS3('export', 'BULKV2'));
    await client.send(toS3('other', 'REST_SYNC'));
    await s3.put('in/rows.csv', `name,code\n${Array.from({ length: ROWS }, (_, i) => `dk-${i},${i}`).join('\n')}\n`);
    const map = (from: string, to: string): Record<string, unknown> => ({ taskType: 'Map', sourceFields: [from], destinationField: to, connectorOperator: { S3: 'NO_OP' } });
    await client.send(new CreateFlowCommand({
      flowName: 'write', triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'S3', sourceConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'in', s3InputFormatConfig: { s3InputFileType: 'CSV' } } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: profile, destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT', dataTransferApi: 'BULKV2' } } }],
      tasks: [{ taskType: 'Filter', sourceFields: ['name', 'code'], connectorOperator: { S3: 'PROJECTION' } }, map('name', 'Name'), map('code', 'AccountNumber')] as never,
    }));

    const exportId = String((await client.send(new StartFlowCommand({ flowName: 'export' }))).executionId);
    const writeId = String((await client.send(new StartFlowCommand({ flowName: 'write' }))).executionId);
    const opened = openRuns(database.url, state);
    const local = opened.runs;
    const pgc = new pg.Client({ connectionString: database.url });
    await pgc.connect();
    try {
      // The export is polling its Bulk query job (staging recorded); the write has sent its Bulk ingest job.
      const staging = await until('the export\'s Bulk job and staging', 30_000, async () => {
        const rs = await local.runResources(exportId);
        const st = rs.find((r) => r.resource.kind === 'S3_STAGING')?.resource;
        return rs.some((r) => r.resource.kind === 'SF_BULK_QUERY_JOB') && st?.kind === 'S3_STAGING' ? st : undefined;
      });
      await until('the write\'s journal entry', 30_000, async () => ((await local.writeJournal?.open('write')) ?? []).find((e) => e.executionId === writeId && e.entries.length > 0));
      await s3.put(`${staging.prefix}export-0.jsonl`, '{"Id":"003000000000001AAA"}\n');
      const holders = (await pgc.query('select execution_id, worker from run_claims where execution_id = any($1)', [[exportId, writeId]])).rows as Array<{ execution_id: string; worker: string }>;
      const doomed = new Set(holders.map((h) => h.worker));
      expect(doomed.size).toBe(2);
      for (const [i, id] of workerIds.entries()) if (doomed.has(id)) workers[i]?.kill('SIGKILL');
      const survivor = workerIds.findIndex((id) => !doomed.has(id));
      expect(survivor).toBeGreaterThanOrEqual(0);

      // The third worker is unaffected: another flow runs to the end meanwhile.
      const otherId = String((await client.send(new StartFlowCommand({ flowName: 'other' }))).executionId);
      const records = async (flowName: string): Promise<ExecutionRecord[]> => (await client.send(new DescribeFlowExecutionRecordsCommand({ flowName }))).flowExecutions ?? [];
      const ended = async (flowName: string, id: string): Promise<ExecutionRecord | undefined> => (await records(flowName)).find((r) => r.executionId === id && r.executionStatus !== 'InProgress');
      expect((await until('the other flow\'s run', 30_000, () => ended('other', otherId))).executionStatus).toBe('Successful');

      for (const [flowName, id] of [['export', exportId], ['write', writeId]] as const) {
        const record = await until(`${flowName}'s run ended`, 30_000, () => ended(flowName, id));
        expect(record.executionStatus).toBe('Error');
        expect((await local.run(id))?.error?.code).toBe('WORKER_LOST');
        // Not re-run: its one record.
        expect(await records(flowName)).toHaveLength(1);
        // Its claim ends (after the cleanup) after one attempt.
        await until(`${flowName}'s claim ended`, 10_000, async () => ((await pgc.query('select status from run_claims where execution_id = $1', [id])).rows[0] as { status: string }).status === 'done' ? true : undefined);
        expect((await pgc.query('select status, attempts from run_claims where execution_id = $1', [id])).rows).toEqual([{ status: 'done', attempts: 1 }]);
      }
      // The export: staging discarded, nothing published, its resources settled.
      expect(await s3.keys('export/')).toEqual([]);
      expect((await local.runResources(exportId)).every((r) => r.settledAt !== null)).toBe(true);

      // The write: the worker died after journalling its Bulk job, before or after the org took the rows (the kill
      // races the upload), so each row is in the org at most once; the flow's next run recovers the journal, which
      // completes the write without sending any row a second time.
      const count = (): number[] => Array.from({ length: ROWS }, (_, i) => emu.org.store.table('Account')?.findBy('Name', `dk-${i}`).length ?? -1);
      expect(count().filter((n) => n !== 0 && n !== 1)).toEqual([]);
      emulatorAhead = 11 * MINUTE;
      const nextId = String((await client.send(new StartFlowCommand({ flowName: 'write' }))).executionId);
      const next = await until('the write\'s next run', 40_000, () => ended('write', nextId));
      expect(next.executionStatus).toBe('Successful');
      const stored = await local.run(nextId);
      expect(stored?.recovery?.executions).toEqual([writeId]);
      expect(count()).toEqual(Array.from({ length: ROWS }, () => 1));
    } finally {
      await opened.close();
      await pgc.end();
    }
    client.destroy();
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => c.exit));
    children.length = 0;
  }, 120_000);
});
