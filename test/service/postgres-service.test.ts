import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFlowCommand, DeleteFlowCommand, DescribeFlowCommand, DescribeFlowExecutionRecordsCommand, ListFlowsCommand, StartFlowCommand, ListTagsForResourceCommand, TagResourceCommand, UpdateFlowCommand, type CreateFlowCommandInput } from '@aws-sdk/client-appflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { openServiceDatabase } from '../../src/service/db.ts';
import { openFlowService } from '../../src/service/flows/service.ts';
import { openServiceState } from '../../src/service/state.ts';
import { KNOWN_MIGRATIONS } from '../../src/service/migrations/index.ts';
import type { ServiceDeps } from '../../src/service/operations/index.ts';
import { forceflow } from '../helpers/cli.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { postgresForTests, type TestDatabase } from '../helpers/postgres.ts';
import { startHarness, type HarnessOptions } from './harness.ts';

const PROFILE = 'forceflow-emulator';
let BUCKET = 'out';
const FAST = { retry: { retries: 6, baseDelayMs: 5, maxDelayMs: 50 }, bulk: { pollInitialMs: 10, pollMaxMs: 50 } };

function flowInput(name: string): CreateFlowCommandInput {
  return {
    flowName: name,
    description: `Accounts to S3 (${name})`,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: PROFILE, sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
    destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: BUCKET, bucketPrefix: name, s3OutputFormatConfig: { fileType: 'JSON' } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    tags: { team: 'data' },
  };
}

// The service with its state on PostgreSQL, driven by the real @aws-sdk/client-appflow over HTTP.
const server = await postgresForTests('test/service/postgres-service.test.ts');

describe.skipIf(server === undefined)('the service on PostgreSQL (AppFlow SDK)', () => {
  let emu: RunningEmulator;
  let database: TestDatabase;
  let s3: TestS3;
  const stateDir = mkdtempSync(join(tmpdir(), 'ff-pg-service-'));
  const options = (): HarnessOptions => ({
    emulator: emu,
    stateDir,
    database: database.url,
    // The distributed mode: this one process also runs the queued runs (serve --run-flows).
    runFlows: 1,
    operations: async (deps: ServiceDeps) => {
      const profiles: Record<string, unknown> = { [PROFILE]: emu.connectorProfile };
      const part = await openFlowService(deps, {
        exists: async (name) => Object.prototype.hasOwnProperty.call(profiles, name),
        resolver: async (name) => ({ profile: profiles[name ?? ''] }),
      }, { runOptions: { salesforce: FAST, s3Client: s3.client } });
      return part.operations;
    },
  });

  beforeAll(async () => {
    [emu, s3] = await Promise.all([startEmulator(), startTestS3()]);
    BUCKET = s3.bucket;
    database = await (server as NonNullable<typeof server>).createDatabase('ff_service');
  });
  afterAll(async () => {
    await database?.drop();
    await emu?.close();
    await s3?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('refuses to start on a database that was never migrated, saying to run forceflow migrate; migrate creates the schema', async () => {
    await expect(startHarness(options())).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('forceflow migrate --database') });
    const out = await forceflow(['migrate', '--database', database.url], { env: { FORCEFLOW_DATABASE_URL: undefined } });
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ appliedNow: KNOWN_MIGRATIONS, applied: KNOWN_MIGRATIONS });
  });

  it('keeps flows, tags and access keys in PostgreSQL across a restart (no service.db is written)', async () => {
    const first = await startHarness(options());
    let keyId: string;
    try {
      keyId = first.svc.accessKeyId;
      for (const name of ['Orders', 'accounts', 'Zeta-1']) await first.appflow.send(new CreateFlowCommand(flowInput(name)));
      await first.appflow.send(new UpdateFlowCommand({ ...flowInput('accounts'), tags: undefined, description: 'changed', tasks: [
        { taskType: 'Filter', sourceFields: ['Id'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['Id'], connectorOperator: { Salesforce: 'NO_OP' }, destinationField: 'Id', taskProperties: {} },
      ] } as never));
      const arn = (await first.appflow.send(new DescribeFlowCommand({ flowName: 'Orders' }))).flowArn as string;
      await first.appflow.send(new TagResourceCommand({ resourceArn: arn, tags: { env: 'test' } }));
      await first.appflow.send(new DeleteFlowCommand({ flowName: 'Zeta-1' }));
    } finally {
      await first.close();
    }
    expect(existsSync(join(stateDir, 'service.db'))).toBe(false);

    const second = await startHarness(options());
    try {
      expect(second.svc.accessKeyId).toBe(keyId);
      const page1 = await second.appflow.send(new ListFlowsCommand({ maxResults: 1 }));
      expect(page1.flows?.map((f) => f.flowName)).toEqual(['Orders']);
      const page2 = await second.appflow.send(new ListFlowsCommand({ maxResults: 5, nextToken: page1.nextToken }));
      expect(page2.flows?.map((f) => f.flowName)).toEqual(['accounts']);
      expect(page2.nextToken).toBeUndefined();
      const accounts = await second.appflow.send(new DescribeFlowCommand({ flowName: 'accounts' }));
      expect(accounts).toMatchObject({ flowName: 'accounts', description: 'changed', flowStatus: 'Active', schemaVersion: 2 });
      expect(accounts.tasks?.map((t) => t.taskType)).toEqual(['Filter', 'Map']);
      const orders = await second.appflow.send(new DescribeFlowCommand({ flowName: 'Orders' }));
      expect(orders).toMatchObject({ description: 'Accounts to S3 (Orders)', schemaVersion: 1, tags: { team: 'data', env: 'test' } });
      expect((await second.appflow.send(new ListTagsForResourceCommand({ resourceArn: orders.flowArn }))).tags).toEqual({ team: 'data', env: 'test' });
      await expect(second.appflow.send(new DescribeFlowCommand({ flowName: 'Zeta-1' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    } finally {
      await second.close();
    }
  });

  it('runs a flow: the run ends Successful, and a StartFlow clientToken is remembered in PostgreSQL across a restart', async () => {
    let executionId: string;
    const first = await startHarness(options());
    try {
      await first.appflow.send(new CreateFlowCommand(flowInput('runner')));
      executionId = (await first.appflow.send(new StartFlowCommand({ flowName: 'runner', clientToken: 'start-once' }))).executionId as string;
      let status: string | undefined;
      for (let i = 0; i < 400 && (status === undefined || status === 'InProgress'); i++) {
        const records = await first.appflow.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'runner' }));
        status = records.flowExecutions?.find((r) => r.executionId === executionId)?.executionStatus;
        if (status === 'InProgress') await sleep(25);
      }
      expect(status).toBe('Successful');
      expect((await s3.keys('runner')).length).toBeGreaterThan(0);
    } finally {
      await first.close();
    }
    // The run history, lock and profiles are in PostgreSQL, where another process (here: another pool) reads
    // them; the state folder holds no database file.
    for (const file of ['service.db', 'runs.db', 'profiles.db']) expect(existsSync(join(stateDir, file))).toBe(false);
    const other = openServiceDatabase({ url: database.url, stateDir });
    try {
      const state = openServiceState({ db: other, stateDir });
      expect(await state.runs.run(executionId)).toMatchObject({ flowName: 'runner', executionStatus: 'Successful' });
      expect(await state.runs.lockHolder('runner')).toBeUndefined();
      expect(await state.runs.flows()).toContain('runner');
    } finally {
      await other.destroy();
    }
    const second = await startHarness(options());
    try {
      const replay = await second.appflow.send(new StartFlowCommand({ flowName: 'runner', clientToken: 'start-once' }));
      expect(replay.executionId).toBe(executionId);
      const records = await second.appflow.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'runner' }));
      expect(records.flowExecutions?.map((r) => r.executionId)).toEqual([executionId]);
    } finally {
      await second.close();
    }
    // `forceflow service fires` reads the flow store where the service keeps it.
    const env = { FORCEFLOW_DATABASE_URL: database.url };
    const fires = await forceflow(['service', 'fires', 'runner', '--state-dir', stateDir, '--json'], { env });
    expect(fires.code, fires.stderr).toBe(0);
    expect(JSON.parse(fires.stdout)).toEqual([]);
    const unknown = await forceflow(['service', 'fires', 'Zeta-1', '--database', database.url, '--state-dir', stateDir], { env });
    expect(unknown.stderr).toContain('has no flow "Zeta-1"');
  });
});
