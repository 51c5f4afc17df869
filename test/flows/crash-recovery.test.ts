import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { holdingProxyEnv, type HoldRule } from '../helpers/holding-proxy.ts';
import { profileThrough } from '../helpers/rewriting-proxy.ts';
import { emulatorEnv, sumCalls, tempDir } from '../helpers/salesforce-write.ts';
import { FORCEFLOW_BIN, forceflow, killableNode, type ProcessResult } from '../helpers/cli.ts';
import { runFlowLikeChild } from '../helpers/run-flow-child.ts';

/**
 * Crash safety of Salesforce writes (issue 18): a real `forceflow run` is killed (SIGKILL) at a chosen stage of
 * its write (a proxy in front of the emulator holds the call of that stage, so the kill comes exactly there),
 * then the same command runs again on the same state folder (in-process: runCli, or runFlow as the child does). The org must hold each input row exactly once
 * (a marker in Site), the error file must list exactly the rows that failed or stay unknown, and the
 * run record must say what was recovered.
 */

const ROOT = resolve(import.meta.dirname, '../..');
// Every Bulk job stays InProgress 2.5 s after it is closed (its rows are written at once), so a run killed at its
// first poll leaves a job still running for the rerun to wait for.
const env = emulatorEnv({ bulkProcessingDelayMs: 2500 });
const tmp = tempDir('ff-crash-');
const proxy = holdingProxyEnv(() => env.emu.instanceUrl);

interface RunRecord {
  executionStatus: string;
  executionResult: { recordsWritten: number; errorInfo: { putFailuresCount: number } };
  destinationDataTransferApi: string | null;
  recovery: null | { executions: string[]; jobs: number; calls: number; rowsWritten: number; rowsFailed: number; rowsUnknown: number; rowsResent: number };
  error: { code: string; message: string } | null;
}

interface Scenario {
  readonly dir: string;
  readonly flowFile: string;
  readonly args: string[];
}

/** A flow reading `rows` from a CSV file and writing them to Account; its own folder, state and error folder. */
function scenario(name: string, operation: string, api: string, header: string[], rows: string[][]): Scenario {
  const dir = join(tmp.path, name);
  mkdirSync(dir, { recursive: true });
  const csv = [header, ...rows].map((r) => r.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')).join('\n');
  writeFileSync(join(dir, 'input.csv'), `${csv}\n`);
  const flow = {
    flowName: name,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: 'input.csv', fileType: 'CSV' } } },
    destinationFlowConfigList: [{
      connectorType: 'Salesforce',
      connectorProfileName: 'forceflow-emulator',
      destinationConnectorProperties: { Salesforce: {
        object: 'Account', writeOperationType: operation, ...(operation === 'INSERT' ? {} : { idFieldNames: ['Id'] }), dataTransferApi: api,
        errorHandlingConfig: { failOnFirstDestinationError: false, localPath: 'errors' },
      } },
    }],
    tasks: [
      { taskType: 'Filter', sourceFields: header, connectorOperator: { LocalFile: 'PROJECTION' } },
      ...header.map((h) => ({ taskType: 'Map', sourceFields: [h], destinationField: h, connectorOperator: { LocalFile: 'NO_OP' } })),
    ],
  };
  const flowFile = join(dir, 'flow.json');
  writeFileSync(flowFile, JSON.stringify(flow));
  const profileFile = join(dir, 'profile.json');
  writeFileSync(profileFile, JSON.stringify(profileThrough(env.emu.connectorProfile, proxy.url)));
  return { dir, flowFile, args: ['run', flowFile, '--profile', profileFile, '--state-dir', join(dir, 'state'), '--log-level', 'warn'] };
}

/** The process to kill: `run-flow-child` (runFlow with destination options the CLI does not expose) or the CLI itself. */
function cliProcess(args: string[], cwd: string): { done: Promise<ProcessResult>; kill: () => void } {
  if (args[0] === 'run-flow-child') return killableNode(['--import', 'tsx', join(ROOT, 'test/helpers/run-flow-child.ts'), ...args.slice(1)], ROOT);
  return killableNode([FORCEFLOW_BIN, ...args], cwd);
}

/** The same command, not killed: in-process (the run after a crash, and `forceflow recover`). */
async function cli(args: string[]): Promise<ProcessResult> {
  if (args[0] !== 'run-flow-child') return forceflow(args);
  const [flowFile, profileFile, stateFolder, destination] = args.slice(1) as [string, string, string, string];
  return { code: 0, stdout: JSON.stringify(await runFlowLikeChild(flowFile, profileFile, stateFolder, destination)), stderr: '' };
}

/** Runs the flow until the proxy holds `rule`'s call (`count` of them), kills it there, and checks it died. */
/** Journal entries the run has settled so far (read from its state folder's runs.db, as a second reader). */
function settledEntries(s: Scenario): number {
  let db: Database.Database | undefined;
  try {
    db = new Database(join(s.dir, 'state', 'runs.db'), { readonly: true, fileMustExist: true });
    return (db.prepare('SELECT COUNT(*) AS n FROM write_journal_entries WHERE outcome IS NOT NULL').get() as { n: number }).n;
  } catch {
    return 0;
  } finally {
    db?.close();
  }
}

/**
 * Start the run and SIGKILL it once the proxy holds `count` calls at the rule's stage and, with `settled`, once
 * the run has journaled that many settled entries (an answered call is only known to the run once it has
 * matched and settled it; killing before then makes its rows unknown too, which is correct but not the stage asked for).
 */
async function crashAt(s: Scenario, rule: HoldRule, count = 1, settled = 0): Promise<void> {
  proxy.hold(rule);
  const run = cliProcess(s.args, s.dir);
  const reachedStage = async (): Promise<'held'> => {
    await proxy.reached(count);
    while (settledEntries(s) < settled) await new Promise((r) => setTimeout(r, 20));
    return 'held';
  };
  const stopped = await Promise.race([reachedStage(), run.done.then((r) => r)]);
  if (stopped !== 'held') throw new Error(`the run ended before the stage to crash at (exit ${String(stopped.code)}): ${stopped.stderr}`);
  run.kill();
  const killed = await run.done;
  proxy.hold(undefined);
  expect(killed.code).toBeNull();
  expect(killed.stdout).toBe('');
}

async function rerun(s: Scenario): Promise<{ run: ProcessResult; record: RunRecord }> {
  proxy.hold(undefined);
  const run = await cli(s.args);
  let record: RunRecord;
  try {
    record = JSON.parse(run.stdout) as RunRecord;
  } catch {
    throw new Error(`no run record (exit ${String(run.code)}): ${run.stderr}`);
  }
  return { run, record };
}

/** The published error file's rows (the crashed run's staged one, under _temporary, is not published). */
function errorRows(s: Scenario): Record<string, string>[] {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== '_temporary') walk(join(d, e.name));
      else if (e.name === 'errors.csv') files.push(join(d, e.name));
    }
  };
  try {
    walk(join(s.dir, 'errors'));
  } catch {
    return [];
  }
  expect(files.length).toBeLessThanOrEqual(1);
  return files[0] === undefined ? [] : (parse(readFileSync(files[0], 'utf8'), { columns: true }) as Record<string, string>[]);
}

/** Site → how many live Accounts carry it, for the markers of one scenario. */
async function markers(prefix: string): Promise<Map<string, number>> {
  const rows = await env.query<{ Site: string }>(`SELECT Site FROM Account WHERE Site LIKE '${prefix}%'`);
  const out = new Map<string, number>();
  for (const r of rows) out.set(r.Site, (out.get(r.Site) ?? 0) + 1);
  return out;
}

function insertRows(name: string, count: number, externalId: (i: number) => string = (i) => `${name}-${i}`): string[][] {
  return Array.from({ length: count }, (_, i) => [`${name} ${i}`, externalId(i), `${name}#${i}`]);
}

/** Exactly one live Account per input row (its marker), none else. */
async function expectEachOnce(name: string, count: number): Promise<void> {
  const m = await markers(`${name}#`);
  expect(m.size).toBe(count);
  expect([...m.values()].every((n) => n === 1)).toBe(true);
}

const INGEST_JOB = /\/jobs\/ingest\/[^/]+$/;

describe('a killed Bulk INSERT, run again, writes each row once', () => {
  const stages: Array<[string, HoldRule]> = [
    ['job open (upload not sent)', { method: 'PUT', path: /\/jobs\/ingest\/[^/]+\/batches$/, at: 'request' }],
    ['data uploaded (job not closed)', { method: 'PATCH', path: INGEST_JOB, at: 'request' }],
    ['job in progress', { method: 'GET', path: INGEST_JOB, at: 'request' }],
    ['job complete, results not read', { method: 'GET', path: /\/successfulResults$/, at: 'request' }],
  ];
  it.each(stages)('killed at: %s', async (stage, rule) => {
    const name = `bulk-insert-${stages.findIndex((s) => s[0] === stage)}`;
    const count = 300;
    const s = scenario(name, 'INSERT', 'BULKV2', ['Name', 'External_Id__c', 'Site'], insertRows(name, count));
    await crashAt(s, rule);
    const { records: jobs } = await env.client().json<{ records: Array<{ object: string; state: string }> }>({ method: 'GET', path: '/jobs/ingest', call: 'list jobs' });
    // The killed run left its job in the state of its stage (the emulator keeps it InProgress for 2.5 s).
    expect(jobs.at(-1)?.state).toBe({ 'job open (upload not sent)': 'Open', 'data uploaded (job not closed)': 'Open', 'job in progress': 'InProgress', 'job complete, results not read': 'JobComplete' }[stage]);
    const { run, record } = await rerun(s);
    expect(run.code).toBe(0);
    expect(record.executionStatus).toBe('Successful');
    await expectEachOnce(name, count);
    expect(record.executionResult.recordsWritten).toBe(count);
    expect(errorRows(s)).toEqual([]);
    const recovery = record.recovery;
    expect(recovery).toMatchObject({ jobs: 1, calls: 0, rowsFailed: 0, rowsUnknown: 0 });
    // Before the job was closed nothing was written: the rows go again; once closed, the job wrote them all.
    const closed = stage.startsWith('job in') || stage.startsWith('job complete');
    expect(recovery?.rowsWritten).toBe(closed ? count : 0);
    expect(recovery?.rowsResent).toBe(closed ? 0 : count);
    expect(recovery?.executions).toHaveLength(1);
  }, 120_000);
});

describe('a killed Bulk INSERT of two jobs, the first settled, run again', () => {
  it('takes the first job\'s outcome from the journal, reads the second\'s results, lists the failed rows of both once', async () => {
    const name = 'bulk-two-jobs';
    const count = 400;
    // Every 50th row has no Name: Salesforce fails it (REQUIRED_FIELD_MISSING), in both jobs.
    const rows = insertRows(name, count).map((r, i) => (i % 50 === 7 ? ['', r[1] as string, r[2] as string] : r));
    const s = scenario(name, 'INSERT', 'BULKV2', ['Name', 'External_Id__c', 'Site'], rows);
    const child = ['run-flow-child', s.flowFile, join(s.dir, 'profile.json'), join(s.dir, 'state'), JSON.stringify({ jobBytes: 12_000, bulk: { pollInitialMs: 20, pollMaxMs: 100 } })];
    const withChild: Scenario = { ...s, args: child };
    await crashAt(withChild, { method: 'GET', path: /\/successfulResults$/, at: 'request', skip: 1 });
    const results = async (): Promise<number> => sumCalls(await env.calls(), /^GET .*successfulResults$/);
    const before = await results();
    const { run, record } = await rerun(withChild);
    expect(run.code).toBe(0);
    expect(record.executionStatus).toBe('Successful');
    const failing = rows.filter((r) => r[0] === '').length;
    const m = await markers(`${name}#`);
    expect(m.size).toBe(count - failing);
    expect([...m.values()].every((n) => n === 1)).toBe(true);
    expect(record.executionResult.recordsWritten).toBe(count - failing);
    expect(record.executionResult.errorInfo.putFailuresCount).toBe(failing);
    const errors = errorRows(s);
    expect(errors.map((e) => e['Site']).sort()).toEqual(rows.filter((r) => r[0] === '').map((r) => r[2]).sort());
    expect(new Set(errors.map((e) => e['errorCode']))).toEqual(new Set(['REQUIRED_FIELD_MISSING']));
    const recovery = record.recovery as NonNullable<RunRecord['recovery']>;
    expect(recovery.jobs).toBeGreaterThanOrEqual(2);
    expect(recovery).toMatchObject({ rowsWritten: count - failing, rowsFailed: failing, rowsUnknown: 0, rowsResent: 0 });
    // Only the unsettled job's results were read again.
    expect(await results()).toBe(before + 1);
  }, 120_000);
});

describe('a killed REST INSERT with calls in flight, run again', () => {
  it('finds what the lost calls created by external id, reports rows without one as unknown, sends nothing twice', async () => {
    const name = 'rest-insert';
    const count = 500;
    // Five rows of each call of 200 carry no external id: a lost call's outcome cannot be looked up for them.
    const noId = (i: number): boolean => i % 200 < 5;
    const s = scenario(name, 'INSERT', 'REST_SYNC', ['Name', 'External_Id__c', 'Site'], insertRows(name, count, (i) => (noId(i) ? '' : `${name}-${i}`)));
    // The first call to arrive answers; the other two reach Salesforce, and their answers are held.
    // Killed once the answered call is settled in the journal and the other two are held.
    await crashAt(s, { method: 'POST', path: /\/composite\/sobjects$/, at: 'response', skip: 1 }, 2, 1);
    await expectEachOnce(name, count);
    const { run, record } = await rerun(s);
    expect(run.code).toBe(0);
    await expectEachOnce(name, count);
    const errors = errorRows(s);
    // The rows without an external id of the two held calls (whichever they were), once each.
    expect(errors).toHaveLength(10);
    expect(new Set(errors.map((e) => e['Site'])).size).toBe(10);
    expect(errors.every((e) => noId(Number((e['Site'] ?? '').split('#')[1])))).toBe(true);
    expect(new Set(errors.map((e) => e['errorCode']))).toEqual(new Set(['SF_WRITE_OUTCOME_UNKNOWN']));
    expect(record.executionResult.recordsWritten).toBe(count - 10);
    expect(record.executionResult.errorInfo.putFailuresCount).toBe(10);
    expect(record.recovery).toMatchObject({ jobs: 0, calls: 3, rowsWritten: count - 10, rowsFailed: 0, rowsUnknown: 10, rowsResent: 0 });
  }, 120_000);
});

describe('a killed REST INSERT whose calls never reached Salesforce, run again', () => {
  it('looks the rows up, finds them not created and sends them; rows without an external id stay unknown, never sent', async () => {
    const name = 'rest-insert-unsent';
    const count = 300;
    const noId = (i: number): boolean => i === 10 || i === 250 || i === 299;
    const s = scenario(name, 'INSERT', 'REST_SYNC', ['Name', 'External_Id__c', 'Site'], insertRows(name, count, (i) => (noId(i) ? '' : `${name}-${i}`)));
    await crashAt(s, { method: 'POST', path: /\/composite\/sobjects$/, at: 'request' }, 2);
    expect((await markers(`${name}#`)).size).toBe(0);
    const { run, record } = await rerun(s);
    expect(run.code).toBe(0);
    await expectEachOnce(name, count - 3);
    const errors = errorRows(s);
    expect(errors.map((e) => e['Site']).sort()).toEqual([`${name}#10`, `${name}#250`, `${name}#299`]);
    expect(new Set(errors.map((e) => e['errorCode']))).toEqual(new Set(['SF_WRITE_OUTCOME_UNKNOWN']));
    expect(record.executionResult.recordsWritten).toBe(count - 3);
    expect(record.recovery).toMatchObject({ calls: 2, rowsWritten: 0, rowsFailed: 0, rowsUnknown: 3, rowsResent: count - 3 });
  }, 120_000);
});

/** Inserts `count` Accounts marked `<name>#i` (Site `<prefix>`) in the test process; their ids in order. */
async function seedAccounts(name: string, count: number): Promise<string[]> {
  const client = env.client();
  const ids: string[] = [];
  for (let i = 0; i < count; i += 200) {
    const records = Array.from({ length: Math.min(200, count - i) }, (_, k) => ({ attributes: { type: 'Account' }, Name: `${name} ${i + k}`, Site: `${name}#${i + k}` }));
    const res = await client.json<Array<{ id: string; success: boolean }>>({ method: 'POST', path: '/composite/sobjects', json: { allOrNone: true, records }, call: 'seed' });
    ids.push(...res.map((r) => r.id));
  }
  return ids;
}

describe('a killed DELETE and UPDATE, run again, count right', () => {
  it('Bulk DELETE killed with its job in progress', async () => {
    const name = 'bulk-delete';
    const ids = await seedAccounts(name, 300);
    const s = scenario(name, 'DELETE', 'BULKV2', ['Id'], ids.map((id) => [id]));
    await crashAt(s, { method: 'GET', path: INGEST_JOB, at: 'request' });
    const { run, record } = await rerun(s);
    expect(run.code).toBe(0);
    expect((await markers(`${name}#`)).size).toBe(0);
    expect(record.executionResult.recordsWritten).toBe(300);
    expect(errorRows(s)).toEqual([]);
    expect(record.recovery).toMatchObject({ jobs: 1, rowsWritten: 300, rowsFailed: 0, rowsUnknown: 0, rowsResent: 0 });
  }, 120_000);

  it('REST DELETE with calls in flight: the lost deletes are found in the recycle bin', async () => {
    const name = 'rest-delete';
    const ids = await seedAccounts(name, 500);
    const s = scenario(name, 'DELETE', 'REST_SYNC', ['Id'], ids.map((id) => [id]));
    await crashAt(s, { method: 'DELETE', path: /\/composite\/sobjects$/, at: 'response', skip: 1 }, 2);
    const { run, record } = await rerun(s);
    expect(run.code).toBe(0);
    expect((await markers(`${name}#`)).size).toBe(0);
    expect(record.executionResult.recordsWritten).toBe(500);
    expect(errorRows(s)).toEqual([]);
    expect(record.recovery).toMatchObject({ calls: 3, rowsWritten: 500, rowsFailed: 0, rowsUnknown: 0, rowsResent: 0 });
  }, 120_000);

  it('Bulk UPDATE killed before its results were read; REST UPDATE with calls in flight reports them unknown, never re-sent', async () => {
    const name = 'update';
    const ids = await seedAccounts(name, 600);
    const bulk = scenario(`${name}-bulk`, 'UPDATE', 'BULKV2', ['Id', 'Name'], ids.slice(0, 200).map((id, i) => [id, `updated bulk ${i}`]));
    await crashAt(bulk, { method: 'GET', path: /\/successfulResults$/, at: 'request' });
    const b = await rerun(bulk);
    expect(b.run.code).toBe(0);
    expect(b.record.executionResult.recordsWritten).toBe(200);
    expect(b.record.recovery).toMatchObject({ jobs: 1, rowsWritten: 200, rowsResent: 0, rowsUnknown: 0 });
    expect(errorRows(bulk)).toEqual([]);

    const rest = scenario(`${name}-rest`, 'UPDATE', 'REST_SYNC', ['Id', 'Name'], ids.slice(200).map((id, i) => [id, `updated rest ${i}`]));
    const patches = async (): Promise<number> => sumCalls(await env.calls(), /^PATCH .*composite\/sobjects$/);
    await crashAt(rest, { method: 'PATCH', path: /\/composite\/sobjects$/, at: 'response', skip: 1 }, 1, 1);
    const before = await patches();
    const r = await rerun(rest);
    expect(r.run.code).toBe(0);
    // 400 rows: one call of 200 answered, the other reached Salesforce and lost its answer.
    expect(r.record.executionResult.recordsWritten).toBe(200);
    expect(r.record.executionResult.errorInfo.putFailuresCount).toBe(200);
    expect(r.record.recovery).toMatchObject({ calls: 2, rowsWritten: 200, rowsUnknown: 200, rowsResent: 0 });
    expect(await patches()).toBe(before);
    const errors = errorRows(rest);
    expect(errors).toHaveLength(200);
    expect(new Set(errors.map((e) => e['errorCode']))).toEqual(new Set(['SF_WRITE_OUTCOME_UNKNOWN']));
    const names = await env.query<{ Name: string }>(`SELECT Name FROM Account WHERE Site LIKE '${name}#%'`);
    expect(names.filter((n) => n.Name.startsWith('updated ')).length).toBe(600);
  }, 180_000);
});

describe('input changed since the crash', () => {
  it('refuses with JOURNAL_INPUT_CHANGED and the command to discard; after the discard the run sends everything', async () => {
    const name = 'changed';
    const s = scenario(name, 'INSERT', 'BULKV2', ['Name', 'External_Id__c', 'Site'], insertRows(name, 100));
    await crashAt(s, { method: 'PUT', path: /\/jobs\/ingest\/[^/]+\/batches$/, at: 'request' });
    const input = join(s.dir, 'input.csv');
    writeFileSync(input, readFileSync(input, 'utf8').replace(`${name} 5,`, `${name} five,`));
    const refused = await cli(s.args);
    expect(refused.code).toBe(2);
    const record = JSON.parse(refused.stdout) as RunRecord;
    expect(record.error?.code).toBe('JOURNAL_INPUT_CHANGED');
    const executionId = /forceflow recover --discard (\S+?)"/.exec(record.error?.message ?? '')?.[1];
    expect(executionId).toBeDefined();
    expect((await markers(`${name}#`)).size).toBe(0);

    const state = join(s.dir, 'state');
    const listed = await cli(['recover', '--state-dir', state]);
    expect(JSON.parse(listed.stdout)).toMatchObject({ unfinishedWrites: [{ executionId, flowName: name, object: 'Account', operation: 'INSERT', entries: 1, unsettled: 1, rows: 100 }] });
    const discarded = await cli(['recover', '--discard', executionId as string, '--state-dir', state]);
    expect(discarded.code).toBe(0);
    const again = await cli(['recover', '--discard', executionId as string, '--state-dir', state]);
    expect(again.code).toBe(2);

    const { run, record: after } = await rerun(s);
    expect(run.code).toBe(0);
    expect(after.recovery).toBeNull();
    await expectEachOnce(name, 100);
  }, 120_000);
});
