import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newExecutionRecord } from '../../src/flows/run-record.ts';
import { openServiceDatabase } from '../../src/service/db.ts';
import { openServiceState, type ServiceState } from '../../src/service/state.ts';
import { forceflow } from '../helpers/cli.ts';
import { postgresForTests, type TestDatabase } from '../helpers/postgres.ts';

// forceflow runs / windows / recover with --database: the run state of a service on PostgreSQL, read and changed
// from the command line; the state folder it is given stays empty.
const server = await postgresForTests('test/service/run-state-cli-postgres.test.ts');

describe.skipIf(server === undefined)('run state commands on the PostgreSQL service database (--database)', () => {
  let database: TestDatabase;
  let db: ReturnType<typeof openServiceDatabase>;
  let state: ServiceState;
  const stateDir = mkdtempSync(join(tmpdir(), 'ff-pg-cli-'));
  const env = { FORCEFLOW_HOME: stateDir, FORCEFLOW_DATABASE_URL: undefined };
  const cli = (args: readonly string[]) => forceflow([...args, '--state-dir', stateDir, '--database', database.url], { env });
  const t0 = Date.parse('2026-05-01T00:00:00.000Z');

  beforeAll(async () => {
    database = await (server as NonNullable<typeof server>).createDatabase('ff_pg_cli');
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('refuses a database that was never migrated, saying to run forceflow migrate', async () => {
    const out = await cli(['runs', 'list']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('forceflow migrate --database');
    const migrated = await forceflow(['migrate', '--database', database.url], { env });
    expect(migrated.code, migrated.stderr).toBe(0);
    db = openServiceDatabase({ url: database.url, stateDir });
    state = openServiceState({ db, stateDir });
  });

  it('lists and describes runs, shows and resets a window, under the flow lock', async () => {
    const done = newExecutionRecord('pg-cli', 'pg-cli-1', new Date(t0));
    await state.runs.saveRun({ ...done, executionStatus: 'Successful', lastUpdatedAt: new Date(t0 + 1000).toISOString(), dataPullEndTime: new Date(t0 - 60_000).toISOString() });
    await state.runs.saveRun(newExecutionRecord('pg-cli', 'pg-cli-2', new Date(t0 + 5000)));

    const list = await cli(['runs', 'list', 'pg-cli', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ executionId: string }>).map((r) => r.executionId)).toEqual(['pg-cli-2', 'pg-cli-1']);
    const described = await cli(['runs', 'describe', 'pg-cli-1']);
    expect(JSON.parse(described.stdout)).toMatchObject({ record: { executionId: 'pg-cli-1', executionStatus: 'Successful' }, lock: null });
    const unknown = await cli(['runs', 'list', 'no-such-flow']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('RUN_NOT_FOUND');
    expect(unknown.stderr).toContain('database (--database)');

    const shown = await cli(['windows', 'show', 'pg-cli']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ flowName: 'pg-cli', windowEnd: new Date(t0 - 60_000).toISOString() });
    const reset = await cli(['windows', 'reset', 'pg-cli', '--from', '2026-04-01', '--note', 'backfill']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(await state.runs.lastWindowEnd('pg-cli')).toBe('2026-04-01T00:00:00.000Z');
    expect((await state.runs.windowChanges('pg-cli', 1))[0]).toMatchObject({ reason: 'reset', note: 'backfill' });
    // A window is not moved under a running run.
    await state.runs.acquireLock('pg-cli', { executionId: 'pg-cli-2', host: 'elsewhere', pid: 1 }, { leaseMs: 600_000, now: new Date(), isGone: () => false });
    const refused = await cli(['windows', 'reset', 'pg-cli']);
    expect(refused.stderr).toContain('FLOW_LOCKED');
    expect(await state.runs.lastWindowEnd('pg-cli')).toBe('2026-04-01T00:00:00.000Z');
    await state.runs.releaseLock('pg-cli', 'pg-cli-2');
  });

  it('runs cleanup marks an interrupted run Error; recover lists and discards its write journal', async () => {
    const cleanup = await cli(['runs', 'cleanup', 'pg-cli']);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(await state.runs.run('pg-cli-2')).toMatchObject({ executionStatus: 'Error' });
    expect(await state.runs.unfinishedRuns('pg-cli')).toEqual([]);

    await state.journal.begin({ flowName: 'pg-cli', executionId: 'pg-cli-2', object: 'Account', operation: 'INSERT', startedAt: new Date(t0).toISOString() });
    await state.journal.record('pg-cli-2', { kind: 'rest', ref: null, ranges: [[0, 9]], count: 10, fingerprint: 'f', sentAt: t0 });
    const listed = await cli(['recover']);
    expect(JSON.parse(listed.stdout)).toMatchObject({ unfinishedWrites: [{ executionId: 'pg-cli-2', entries: 1, unsettled: 1, rows: 10 }] });
    const discarded = await cli(['recover', '--discard', 'pg-cli-2']);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(await state.journal.list()).toEqual([]);
    const again = await cli(['recover', '--discard', 'pg-cli-2']);
    expect(again.stderr).toContain('CONFIG_INVALID');

    // Nothing of it was written to the state folder.
    expect(existsSync(join(stateDir, 'runs.db'))).toBe(false);
    expect(readdirSync(stateDir)).toEqual([]);
  });
});
