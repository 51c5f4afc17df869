import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import type { ExecutionRecord } from '../../src/flows/run-record.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { openServiceDatabase, type ServiceDatabase } from '../../src/service/db.ts';
import { migrateServiceDatabase } from '../../src/service/migrations/index.ts';
import { openServiceState, type ServiceState } from '../../src/service/state.ts';
import { postgresForTests, type TestDatabase } from '../helpers/postgres.ts';
import { sobjectApi } from '../helpers/sobject-api.ts';

const FAST = { retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 }, bulk: { pollInitialMs: 5, pollMaxMs: 20 } };

/**
 * The formula refresh of a flow run by the service on PostgreSQL: the run state is the service database's
 * (openServiceState), each run from another pool (another process), and a parent's change that leaves the
 * children's SystemModstamp alone is delivered by the refresh (test/flows/formula-refresh.test.ts on runs.db).
 */
const server = await postgresForTests('test/service/formula-refresh-postgres.test.ts');

describe.skipIf(server === undefined)('formula refresh with the service state on PostgreSQL', () => {
  let emu: RunningEmulator;
  let database: TestDatabase;
  const dbs: Array<Kysely<ServiceDatabase>> = [];
  const states: ServiceState[] = [];
  const stateDir = mkdtempSync(join(tmpdir(), 'ff-formula-pg-'));
  let clock = Math.floor(Date.now() / 1000) * 1000 - 3600_000;
  const t0 = clock;
  const at = (seconds: number): void => {
    clock = t0 + seconds * 1000;
  };

  beforeAll(async () => {
    emu = await startEmulator({ clock: () => clock });
    database = await (server as NonNullable<typeof server>).createDatabase('ff_formula');
  });
  afterAll(async () => {
    for (const s of states) s.close();
    for (const db of dbs) await db.destroy();
    await database?.drop();
    await emu?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** Another service process: its own pool on the database, its run state from openServiceState. */
  const serviceProcess = async (): Promise<ServiceState> => {
    const db = openServiceDatabase({ url: database.url, stateDir });
    dbs.push(db);
    await migrateServiceDatabase(db);
    const state = openServiceState({ db, stateDir });
    states.push(state);
    expect(state.backend).toBe('postgres');
    return state;
  };
  const api = sobjectApi(() => emu);
  const out = mkdtempSync(join(tmpdir(), 'ff-formula-pg-out-'));
  const flow = {
    flowName: 'lines-pg',
    triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', firstExecutionFrom: t0 / 1000 - 60 } } },
    sourceFlowConfig: {
      connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator',
      sourceConnectorProperties: { Salesforce: { object: 'Invoice_Line__c', dataTransferApi: 'REST_SYNC' } },
      incrementalPullConfig: { datetimeTypeFieldName: 'SystemModstamp' },
    },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
    tasks: [
      { taskType: 'Filter', sourceFields: ['Name', 'Converted_Total__c'], connectorOperator: { Salesforce: 'PROJECTION' } },
      { taskType: 'Filter', sourceFields: ['Name'], connectorOperator: { Salesforce: 'CONTAINS' }, taskProperties: { DATA_TYPE: 'string', VALUE: 'PG-' } },
      { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      { taskType: 'Map', sourceFields: ['Converted_Total__c'], destinationField: 'Converted', connectorOperator: { Salesforce: 'NO_OP' } },
    ],
    tags: { 'forceflow:formulaRefresh': 'every:2' },
  };
  const delivered = (r: ExecutionRecord): string[] =>
    r.outputs.flatMap((p) => readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)).map((x) => `${String(x['Name'])}=${String(x['Converted'])}`).sort();

  it('keeps the hashes in the service database and refreshes: a parent change reaches the changed children', async () => {
    const run = async (): Promise<ExecutionRecord> => runFlow({ flow, profiles: { 'forceflow-emulator': emu.connectorProfile }, state: (await serviceProcess()).runs, salesforce: FAST });
    at(0);
    const a = await api('POST', 'Invoice__c', { Name: 'PG-INV-A', Exchange_Rate__c: 1.5 });
    const b = await api('POST', 'Invoice__c', { Name: 'PG-INV-B', Exchange_Rate__c: 2 });
    at(5);
    await api('POST', 'Invoice_Line__c', { Name: 'PG-L1', Invoice__c: a, Quantity__c: 2, Unit_Price__c: 10 });
    await api('POST', 'Invoice_Line__c', { Name: 'PG-L2', Invoice__c: b, Quantity__c: 3, Unit_Price__c: 1 });
    at(20);
    const first = await run();
    expect(first.executionStatus).toBe('Successful');
    expect(delivered(first)).toEqual(['PG-L1=30', 'PG-L2=6']);
    expect(first.formulaRefresh).toMatchObject({ refreshed: false, fields: ['Converted_Total__c'] });
    expect(first.formulaRefresh?.reason).not.toMatch(/keeps no formula hashes/);
    const db = dbs[0] as Kysely<ServiceDatabase>;
    const kept = await sql<{ n: string }>`select count(*) as n from formula_hashes where flow_name = 'lines-pg'`.execute(db);
    expect(Number(kept.rows[0]?.n)).toBe(2);

    // Invoice A's rate changes: L1's formula changes, its SystemModstamp does not. The next run (another
    // process) is the second since the flow's first: the refresh delivers L1 only.
    at(30);
    await api('PATCH', `Invoice__c/${a}`, { Exchange_Rate__c: 3 });
    at(40);
    const second = await run();
    expect(second.executionStatus).toBe('Successful');
    expect(delivered(second)).toEqual(['PG-L1=60']);
    expect(second.formulaRefresh).toMatchObject({ refreshed: true, recordsRead: 2, changed: 1, baseline: 0 });
    expect(await (await serviceProcess()).runs.formulaState?.status('lines-pg')).toEqual({ lastRefreshAt: second.startedAt, runsSinceRefresh: 0, firstRunAt: first.startedAt });
    for (const file of ['runs.db', 'profiles.db']) expect(existsSync(join(stateDir, file))).toBe(false);
  });
});
