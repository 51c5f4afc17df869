import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateFlowCommand, StartFlowCommand, StopFlowCommand, type AppflowClient } from '@aws-sdk/client-appflow';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import type { ExecutionRecord } from '../../src/flows/run-record.ts';
import { postgresForTests, type TestDatabase } from '../helpers/postgres.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { appflowOf, forceflowChild, openRuns, storeProfile, until, type Child } from './distributed-helpers.ts';

/**
 * The distributed mode end to end: two `forceflow serve` and three `forceflow worker` processes on one PostgreSQL
 * database (which holds their flows, run history and profiles), dozens of on-demand and scheduled flows, the
 * schedules on an accelerated clock shared by both serve processes (FORCEFLOW_TEST_CLOCK).
 */
const server = await postgresForTests('test/service/distributed.test.ts');

const CONTACTS = 12;
const ON_DEMAND = 24;
const SCHEDULED = 6;
/** One minute of the service clock lasts this many real ms. */
const SPEED = 30;

describe.skipIf(server === undefined)('distributed mode: 2 serve + 3 worker processes', () => {
  let emu: RunningEmulator;
  let s3: TestS3;
  let database: TestDatabase;
  let dir: string;
  const children: Child[] = [];

  beforeAll(async () => {
    [emu, s3] = await Promise.all([startEmulator({ generate: { Contact: CONTACTS } }), startTestS3()]);
    database = await (server as NonNullable<typeof server>).createDatabase('ff_dist');
    dir = mkdtempSync(join(tmpdir(), 'ff-dist-'));
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exit));
    await database?.drop();
    await Promise.all([emu?.close(), s3?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every fire and every StartFlow exactly once, never two runs of a flow at once, outputs complete', async () => {
    const state = join(dir, 'state');
    const env = { ...process.env, ...s3.s3.env, AWS_ENDPOINT_URL_KMS: emu.aws.kmsEndpoint, FORCEFLOW_DATABASE_URL: undefined, FORCEFLOW_TEST_CLOCK: `${Date.now()}:${SPEED}` };
    const migrate = forceflowChild(['migrate', '--database', database.url], env, dir);
    expect(await migrate.exit).toBe(0);
    await storeProfile(emu, database.url, state);

    const spawnBoth = (args: string[]): Child => {
      const c = forceflowChild(args, env, dir);
      children.push(c);
      return c;
    };
    const serves = [0, 1].map(() => spawnBoth(['serve', '--database', database.url, '--state-dir', state]));
    const workers = [0, 1, 2].map(() => spawnBoth(['worker', '--database', database.url, '--state-dir', state, '--concurrency', '2', '--lease-seconds', '5']));
    const clients: AppflowClient[] = await Promise.all(serves.map(async (s) => appflowOf(await s.line)));
    await Promise.all(workers.map((w) => w.line));
    const [a, b] = clients as [AppflowClient, AppflowClient];

    const profile = emu.connectorProfile.connectorProfileName;
    const flow = (name: string, trigger: Record<string, unknown>): CreateFlowCommand => new CreateFlowCommand({
      flowName: name,
      triggerConfig: trigger as never,
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: profile, sourceConnectorProperties: { Salesforce: { object: 'Contact' } } },
      destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'dist', s3OutputFormatConfig: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    });
    const onDemand = Array.from({ length: ON_DEMAND }, (_, i) => `od-${i}`);
    const scheduled = Array.from({ length: SCHEDULED }, (_, i) => `sch-${i}`);
    await Promise.all([
      ...onDemand.map((name) => a.send(flow(name, { triggerType: 'OnDemand' }))),
      ...scheduled.map((name) => b.send(flow(name, { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1minutes)', dataPullMode: 'Complete' } } }))),
    ]);

    // Activations split between the two services; each schedules every flow (it follows the other's StartFlow).
    await Promise.all(scheduled.map((name, i) => (i % 2 === 0 ? a : b).send(new StartFlowCommand({ flowName: name }))));
    // On-demand runs through either service; a second StartFlow of a flow queued or running is refused.
    const started = await Promise.all(onDemand.map(async (name, i) => String((await (i % 2 === 0 ? a : b).send(new StartFlowCommand({ flowName: name }))).executionId)));
    await expect(b.send(new StartFlowCommand({ flowName: 'od-0' }))).rejects.toMatchObject({ name: 'ConflictException' });
    expect(new Set(started).size).toBe(ON_DEMAND);

    // Six minutes of the service clock, then the schedules stop (through one service: the other follows).
    await sleep(6 * 60_000 / SPEED);
    for (const name of scheduled) await a.send(new StopFlowCommand({ flowName: name }));
    const pgc = new pg.Client({ connectionString: database.url });
    await pgc.connect();
    try {
      await until('every queued and running run ended', 40_000, async () => {
        const r = await pgc.query("select count(*)::int as n from run_claims where status <> 'done'");
        return (r.rows[0] as { n: number }).n === 0 ? true : undefined;
      }, 300);
      // A last fire a service timer had in flight when StopFlow landed is let through; wait for it too.
      await sleep(1000);
      await until('late runs ended', 20_000, async () => {
        const r = await pgc.query("select count(*)::int as n from run_claims where status <> 'done'");
        return (r.rows[0] as { n: number }).n === 0 ? true : undefined;
      }, 300);

      const runState = openRuns(database.url, state);
      let runs: ExecutionRecord[];
      try {
        runs = await runState.runs.runs(undefined, 10_000);
      } finally {
        await runState.close();
      }
      const fires = (await pgc.query('select flow_name, scheduled_at, outcome, execution_id from flow_fires')).rows as Array<{ flow_name: string; scheduled_at: string; outcome: string; execution_id: string | null }>;

      // On demand: exactly the runs StartFlow answered, each once, all Successful.
      for (const id of started) expect(runs.filter((r) => r.executionId === id).map((r) => r.executionStatus)).toEqual(['Successful']);
      expect(runs.filter((r) => r.flowName.startsWith('od-'))).toHaveLength(ON_DEMAND);

      // Scheduled: every fire that started a run is recorded once (one service enqueued it), ran once, and the
      // flows' runs are exactly those fires' runs.
      // Every fire, started or skipped, recorded by one service process only.
      expect(new Set(fires.map((f) => `${f.flow_name} ${f.scheduled_at}`)).size).toBe(fires.length);
      const startedFires = fires.filter((f) => f.outcome === 'started');
      for (const name of scheduled) {
        const mine = startedFires.filter((f) => f.flow_name === name);
        expect(mine.length).toBeGreaterThanOrEqual(3);
        expect(new Set(mine.map((f) => f.scheduled_at)).size).toBe(mine.length);
        const flowRuns = runs.filter((r) => r.flowName === name);
        expect(flowRuns.map((r) => r.executionId).sort()).toEqual(mine.map((f) => String(f.execution_id)).sort());
        expect(flowRuns.every((r) => r.executionStatus === 'Successful')).toBe(true);
        // Never two runs of the flow at once.
        const spans = flowRuns.map((r) => [Date.parse(r.startedAt), Date.parse(r.lastUpdatedAt)] as const).sort((x, y) => x[0] - y[0]);
        for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? 0);
      }

      // Outputs complete: one file per run with every record.
      const keys = await s3.keys('dist/');
      for (const r of runs) {
        const own = keys.filter((k) => k.startsWith(`dist/${r.flowName}/${r.executionId}/`));
        expect(own).toHaveLength(1);
        expect((await s3.getText(String(own[0]))).trim().split('\n')).toHaveLength(CONTACTS);
      }
      expect(keys.filter((k) => k.includes('_temporary'))).toEqual([]);
    } finally {
      await pgc.end();
    }

    // SIGTERM: every process drains and exits 0.
    for (const c of clients) c.destroy();
    for (const c of children) c.kill('SIGTERM');
    expect(await Promise.all(children.map((c) => c.exit))).toEqual([0, 0, 0, 0, 0]);
    children.length = 0;
  }, 120_000);
});
