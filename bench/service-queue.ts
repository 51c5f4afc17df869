/**
 * `node --import tsx bench/service-queue.ts [--flows 24] [--samples 20] [--fires 10] [--records 10]`: the distributed mode's
 * queue (issue 16) against the embedded SQLite mode, on this machine.
 *
 * The emulator (Account with `--records` records) and a local S3 run in this process; every forceflow process
 * runs in its own. Three set-ups, each on a fresh state folder (and a fresh PostgreSQL database for the queue):
 * - sqlite: one `forceflow serve` (SQLite), which runs flows in process;
 * - queue, 1 worker: `forceflow serve --database` and one `forceflow worker --concurrency 4`;
 * - queue, 3 workers: the same with three workers.
 * Per set-up:
 * - start → run started, p50/p99 over `--samples` runs made one at a time: from sending StartFlow to the run's
 *   `startedAt` in the run history (the run holds the flow's lock and is recorded by whoever runs it). A
 *   scheduled fire goes through the same enqueue (the scheduler calls the same start), so this is the fire →
 *   start overhead of the queue: the job insert, a worker's poll (pg-boss, every 0.5 s at most), the claim;
 * - scheduled fire → run started, p50/p99 over `--fires` fires made one at a time: a Scheduled flow (`rate(1minutes)`)
 *   activated by StartFlow fires at once (a rate() runs first at its activation) through the scheduler, as every
 *   later fire does; from the fire's `scheduledAt` in the fires log to the run's `startedAt`. The flow is stopped
 *   after its run, before its next fire;
 * - short runs per minute: `--flows` on-demand flows (REST Account → S3 JSON lines) started together, twice;
 *   runs completed ÷ wall time.
 * PostgreSQL: 127.0.0.1:5432 (user postgres, database test) or FORCEFLOW_TEST_POSTGRES_URL; without it the queue
 * set-ups are skipped with one line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { startEmulator } from '../src/emulator/index.ts';
import { startLocalS3 } from '../src/emulator/s3/local.ts';
import { appflowClient, type AppflowJson } from '../src/service/client.ts';
import { openServiceDatabase } from '../src/service/db.ts';
import { openFlowStore } from '../src/service/flows/store.ts';
import { openServiceState } from '../src/service/state.ts';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const FLOWS = Math.max(1, Number(opt('flows') ?? 24));
const SAMPLES = Math.max(1, Number(opt('samples') ?? 20));
const FIRES = Math.max(1, Number(opt('fires') ?? 10));
const RECORDS = Math.max(1, Number(opt('records') ?? 10));
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const ADMIN_URL = process.env['FORCEFLOW_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

const work = mkdtempSync(join(tmpdir(), 'ff-bench-queue-'));
const emu = await startEmulator({ generate: { Account: RECORDS } });
const s3 = await startLocalS3({ bucket: 'forceflow', directory: join(work, 's3') });
const sm = new SecretsManagerClient({ endpoint: emu.aws.secretsManagerEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey } });
const secret = await sm.send(new CreateSecretCommand({ Name: 'bench/app', SecretString: JSON.stringify({ clientId: emu.clientId, clientSecret: emu.clientSecret }) }));
const baseEnv = { ...process.env, ...emu.env, ...s3.env, FORCEFLOW_LOG_LEVEL: 'warn', FORCEFLOW_DATABASE_URL: undefined };

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
const havePostgres = await admin((c) => c.query('select 1')).then(() => true, (error: unknown) => {
  console.error(`service-queue: PostgreSQL set-ups SKIPPED (${ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} unreachable: ${(error as Error).message}); run PostgreSQL on 127.0.0.1:5432 or set FORCEFLOW_TEST_POSTGRES_URL.`);
  return false;
});

function forceflow(argv: string[]): { child: ChildProcess; line: Promise<Record<string, unknown>>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), ...argv], { env: baseEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  const exit = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  const line = new Promise<Record<string, unknown>>((ok, fail) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (l) => {
      if (l.startsWith('{') && l.endsWith('}')) {
        lines.close();
        ok(JSON.parse(l) as Record<string, unknown>);
      }
    });
    void exit.then((code) => fail(new Error(`forceflow ${argv[0]} exited ${code}`)));
  });
  line.catch(() => undefined);
  return { child, line, exit };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Result { label: string; p50: number; p99: number; fireP50: number; fireP99: number; perMinute: number; failed: number }

async function measure(label: string, workers: number | undefined): Promise<Result> {
  const stateDir = join(work, `state-${label.replace(/\W+/g, '-')}`);
  let dbName: string | undefined;
  let url: string | undefined;
  if (workers !== undefined) {
    dbName = `ff_bench_queue_${randomBytes(5).toString('hex')}`;
    await admin((c) => c.query(`create database "${dbName}"`));
    const u = new URL(ADMIN_URL);
    u.pathname = `/${dbName}`;
    url = u.toString();
    const migrate = forceflow(['migrate', '--database', url]);
    if ((await migrate.exit) !== 0) throw new Error('forceflow migrate failed');
  }
  const procs = [forceflow(['serve', '--state-dir', stateDir, '--grace-period', '5', ...(url === undefined ? [] : ['--database', url])])];
  for (let i = 0; i < (workers ?? 0); i++) procs.push(forceflow(['worker', '--state-dir', stateDir, '--database', url as string, '--concurrency', '4', '--grace-period', '5']));
  const [serveLine] = await Promise.all(procs.map((p) => p.line));
  const appflow = appflowClient(serveLine as never);
  try {
    await appflow.call('create-connector-profile', {
      connectorProfileName: 'bench', connectorType: 'Salesforce', connectionMode: 'Public',
      connectorProfileConfig: {
        connectorProfileProperties: { Salesforce: { instanceUrl: emu.instanceUrl, isSandboxEnvironment: false } },
        connectorProfileCredentials: { Salesforce: { accessToken: emu.accessToken, refreshToken: emu.refreshToken, oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: secret.ARN } },
      },
    });
    const flowDef = (name: string, scheduled = false): AppflowJson => ({
      flowName: name, triggerConfig: scheduled ? { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1minutes)' } } } : { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'bench', sourceConnectorProperties: { Salesforce: { object: 'Account', dataTransferApi: 'REST_SYNC' } } },
      destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'forceflow', bucketPrefix: `bench-${label.replace(/\W+/g, '-')}`, s3OutputFormatConfig: { fileType: 'JSON' } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' }, taskProperties: {} }],
    });
    const names = Array.from({ length: FLOWS }, (_, i) => `q-${String(i).padStart(3, '0')}`);
    for (const name of names) await appflow.call('create-flow', flowDef(name));
    const scheduledNames = Array.from({ length: FIRES }, (_, i) => `s-${String(i).padStart(3, '0')}`);
    for (const name of scheduledNames) await appflow.call('create-flow', flowDef(name, true));
    // The run history where the service keeps it: the state folder on SQLite, the database on PostgreSQL.
    const db = openServiceDatabase({ stateDir, ...(url === undefined ? {} : { url }) });
    const serviceState = openServiceState({ db, stateDir });
    const state = serviceState.runs;
    const store = await openFlowStore({ stateDir, ...(url === undefined ? {} : { url }) });
    // A run's record ends a moment before its queue claim does: a StartFlow right after is refused (ConflictException), so retried.
    const startFlow = async (flowName: string): Promise<string> => {
      for (let tries = 0; ; tries++) {
        try {
          return (await appflow.call<{ executionId: string }>('start-flow', { flowName })).executionId;
        } catch (error) {
          if ((error as { details?: { errorType?: string } }).details?.errorType !== 'ConflictException' || tries >= 100) throw error;
          await sleep(20);
        }
      }
    };
    const endOf = async (id: string): Promise<string> => {
      for (;;) {
        const r = await state.run(id);
        if (r && r.executionStatus !== 'InProgress') return r.executionStatus;
        await sleep(20);
      }
    };
    try {
      // Latency: one run at a time.
      const latencies: number[] = [];
      let failed = 0;
      for (let i = 0; i < SAMPLES; i++) {
        const sent = Date.now();
        const executionId = await startFlow(names[i % names.length] as string);
        if ((await endOf(executionId)) !== 'Successful') failed++;
        latencies.push(Date.parse(String((await state.run(executionId))?.startedAt)) - sent);
      }
      latencies.sort((a, b) => a - b);
      // Scheduled fire → run started: one activation fire at a time.
      const fireLatencies: number[] = [];
      for (const flowName of scheduledNames) {
        await appflow.call('start-flow', { flowName });
        let fire;
        for (let waited = 0; fire === undefined; waited += 20) {
          if (waited > 30_000) throw new Error(`${flowName}: no fire within 30 s of its activation`);
          fire = (await store.fires(flowName, 1)).find((f) => f.outcome === 'started' && f.executionId !== undefined);
          if (fire === undefined) await sleep(20);
        }
        const executionId = String(fire.executionId);
        if ((await endOf(executionId)) !== 'Successful') failed++;
        await appflow.call('stop-flow', { flowName });
        fireLatencies.push(Date.parse(String((await state.run(executionId))?.startedAt)) - fire.scheduledAt.getTime());
      }
      fireLatencies.sort((a, b) => a - b);
      // Throughput: every flow at once, twice.
      const t0 = Date.now();
      let runs = 0;
      for (let wave = 0; wave < 2; wave++) {
        const ids = await Promise.all(names.map(startFlow));
        const statuses = await Promise.all(ids.map(endOf));
        failed += statuses.filter((s) => s !== 'Successful').length;
        runs += ids.length;
      }
      const perMinute = runs / ((Date.now() - t0) / 60_000);
      return { label, p50: percentile(latencies, 50), p99: percentile(latencies, 99), fireP50: percentile(fireLatencies, 50), fireP99: percentile(fireLatencies, 99), perMinute, failed };
    } finally {
      serviceState.close();
      await db.destroy();
      await store.close();
    }
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exit));
    if (dbName !== undefined) await admin((c) => c.query(`drop database if exists "${dbName}" with (force)`));
  }
}

const results: Result[] = [await measure('sqlite, in process', undefined)];
if (havePostgres) {
  results.push(await measure('queue, 1 worker', 1));
  results.push(await measure('queue, 3 workers', 3));
}
console.log(`Run queue: ${FLOWS} on-demand flows (REST Account, ${RECORDS} records → S3 JSON lines), latency over ${SAMPLES} runs and ${FIRES} scheduled fires one at a time; workers --concurrency 4; load average ${loadavg()[0]?.toFixed(2)} on ${cpus().length} cores, ${new Date().toISOString().slice(0, 10)}`);
for (const r of results) {
  console.log(`${r.label.padEnd(22)} start → run started p50 ${r.p50.toFixed(0)} ms  p99 ${r.p99.toFixed(0)} ms   fire → run started p50 ${r.fireP50.toFixed(0)} ms  p99 ${r.fireP99.toFixed(0)} ms   short runs/min ${r.perMinute.toFixed(0)}${r.failed > 0 ? `   (${r.failed} runs did not succeed)` : ''}`);
}
sm.destroy();
await s3.close();
await emu.close();
rmSync(work, { recursive: true, force: true });
if (results.some((r) => r.failed > 0)) process.exitCode = 1;
