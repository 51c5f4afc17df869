import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFlowCommand, DeleteFlowCommand, DescribeFlowCommand, ListFlowsCommand, ListTagsForResourceCommand, TagResourceCommand, UpdateFlowCommand, type CreateFlowCommandInput } from '@aws-sdk/client-appflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { openFlowService } from '../../src/service/flows/service.ts';
import { KNOWN_MIGRATIONS } from '../../src/service/migrations/index.ts';
import type { ServiceDeps } from '../../src/service/operations/index.ts';
import { forceflow } from '../helpers/cli.ts';
import { postgresForTests, type TestDatabase } from '../helpers/postgres.ts';
import { startHarness, type HarnessOptions } from './harness.ts';

const PROFILE = 'forceflow-emulator';

function flowInput(name: string): CreateFlowCommandInput {
  return {
    flowName: name,
    description: `Accounts to S3 (${name})`,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: PROFILE, sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
    destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'out', bucketPrefix: name, s3OutputFormatConfig: { fileType: 'JSON' } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    tags: { team: 'data' },
  };
}

// The service with its state on PostgreSQL, driven by the real @aws-sdk/client-appflow over HTTP.
const server = await postgresForTests('test/service/postgres-service.test.ts');

describe.skipIf(server === undefined)('the service on PostgreSQL (AppFlow SDK)', () => {
  let emu: RunningEmulator;
  let database: TestDatabase;
  const stateDir = mkdtempSync(join(tmpdir(), 'ff-pg-service-'));
  const options = (): HarnessOptions => ({
    emulator: emu,
    stateDir,
    database: database.url,
    operations: async (deps: ServiceDeps) => {
      const profiles: Record<string, unknown> = { [PROFILE]: emu.connectorProfile };
      const part = await openFlowService(deps, {
        exists: async (name) => Object.prototype.hasOwnProperty.call(profiles, name),
        resolver: async (name) => ({ profile: profiles[name ?? ''] }),
      });
      return part.operations;
    },
  });

  beforeAll(async () => {
    emu = await startEmulator();
    database = await (server as NonNullable<typeof server>).createDatabase('ff_service');
  });
  afterAll(async () => {
    await database?.drop();
    await emu?.close();
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
});
