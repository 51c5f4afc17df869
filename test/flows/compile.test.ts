import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isForceflowError } from '../../src/core/errors.ts';
import { compileFlow } from '../../src/flows/compile.ts';
import { loadFlowFile } from '../../src/flows/load.ts';
import { validateFlow } from '../../src/flows/validate.ts';
import type { FlowDefinition } from '../../src/flows/schema.ts';

const fixture = (name: string): URL => new URL(`../../fixtures/flows/valid/${name}`, import.meta.url);
const read = (name: string): FlowDefinition => validateFlow(JSON.parse(readFileSync(fixture(name), 'utf8')));

describe('compileFlow: the canonical AppFlow example (appflow-model.md 1.6)', () => {
  const plan = compileFlow(read('appflow-canonical.json'));

  it('plans a Salesforce read of the projected fields with AUTOMATIC API choice', () => {
    expect(plan.source).toMatchObject({ connectorType: 'Salesforce', object: 'Account', apiPreference: 'AUTOMATIC', connectorProfileName: 'MySalesforceConnection' });
    expect(plan.read).toEqual({ entity: 'Account', fields: ['Id', 'Name', 'AnnualRevenue', 'Phone'], includeDeleted: false, apiPreference: 'AUTOMATIC' });
  });

  it('turns the schedule into ISO times and an incremental plan', () => {
    expect(plan.trigger).toEqual({
      triggerType: 'Scheduled', dataPullMode: 'Incremental',
      schedule: {
        expression: 'rate(1hours)', rateSeconds: 3600, startTime: '2025-01-01T00:00:00.000Z', firstExecutionFrom: '2024-01-01T00:00:00.000Z', offsetSeconds: 300, flowErrorDeactivationThreshold: 5,
        parsed: { expression: { kind: 'rate', text: 'rate(1hours)', value: 1, unit: 'hours', periodSeconds: 3600 }, timezone: 'UTC', startTime: new Date('2025-01-01T00:00:00.000Z') },
      },
    });
    expect(plan.incremental).toEqual({ field: 'LastModifiedDate', offsetSeconds: 300, firstExecutionFrom: '2024-01-01T00:00:00.000Z' });
  });

  it('resolves the S3 output format', () => {
    expect(plan.destination).toMatchObject({
      connectorType: 'S3', bucketName: 'my-bucket', bucketPrefix: 'salesforce',
      outputFormat: { fileType: 'PARQUET', preserveSourceDataTyping: true, aggregationConfig: { aggregationType: 'None', targetFileSize: 128 }, prefixConfig: { prefixType: 'PATH', prefixFormat: 'DAY', pathPrefixHierarchy: ['SCHEMA_VERSION', 'EXECUTION_ID'] } },
    });
  });

  it('writes only the mapped fields, drops records without Id, and masks Phone before any mapping', () => {
    const schema = { entity: 'Account', fields: [{ name: 'Id', type: 'id' as const }, { name: 'Name', type: 'string' as const }, { name: 'AnnualRevenue', type: 'currency' as const }, { name: 'Phone', type: 'phone' as const }] };
    const r = plan.transform({ schema, rows: [{ Id: '001A', Name: 'Acme', AnnualRevenue: 5, Phone: '(555) 123-4567' }, { Id: null, Name: 'Ghost', AnnualRevenue: null, Phone: null }] });
    expect(r).toMatchObject({ filtered: 0, dropped: 1 });
    expect(r.batch.rows).toEqual([{ Id: '001A', Name: 'Acme' }]);
    expect(plan.outputSchema(schema).fields).toEqual([{ name: 'Id', type: 'id' }, { name: 'Name', type: 'string' }]);
    expect(plan.steps).toEqual(['read: tasks[0] (PROJECTION)', 'validate: tasks[3]', 'mask: tasks[4]', 'map: tasks[1], tasks[2]']);
  });

  it('derives a deterministic schema fingerprint that moves with mappings only (the runner numbers versions from it)', () => {
    const again = compileFlow(read('appflow-canonical.json'));
    expect(again.schemaFingerprint).toBe(plan.schemaFingerprint);
    expect(plan.schemaFingerprint).toMatch(/^[0-9a-f]{64}$/);
    // No schemaVersion in the definition: the runner numbers it from the run state (1, 2, ...).
    expect(plan.schemaVersion).toBeUndefined();
    const def = read('appflow-canonical.json');
    const renamed = { ...def, tasks: def.tasks.map((t) => (t.destinationField === 'Name' ? { ...t, destinationField: 'AccountName' } : t)) };
    expect(compileFlow(renamed).schemaFingerprint).not.toBe(plan.schemaFingerprint);
    const retimed = { ...def, description: 'another description' };
    expect(compileFlow(retimed).schemaFingerprint).toBe(plan.schemaFingerprint);
  });
});

describe('compileFlow: describe-flow output', () => {
  const plan = compileFlow(read('describe-flow-output.json'));
  it('ignores service-only fields but keeps AppFlow schemaVersion', () => {
    expect(plan.schemaVersion).toBe(3);
    expect(plan.flowName).toBe('sf-accounts-daily');
  });
  it('pushes the filter down and partitions by Industry', () => {
    expect(plan.read.filters).toEqual([{ field: 'Industry', operator: 'NOT_EQUAL_TO', values: ['Government'] }]);
    expect(plan.partitionKeys).toEqual(['Industry']);
    expect(plan.trigger.schedule?.startTime).toBe('2024-06-01T07:00:00.000Z');
  });
});

describe('compileFlow: LocalFile and other connectors', () => {
  it('resolves LocalFile paths from the flow file folder', async () => {
    const loaded = await loadFlowFile(fixture('local-every-task.json').pathname);
    const base = new URL('.', fixture('local-every-task.json')).pathname.replace(/\/$/, '');
    expect(loaded.flowFileDir).toBe(base);
    expect(loaded.plan.source).toEqual({ connectorType: 'LocalFile', properties: { path: new URL('../data/accounts.csv', fixture('x')).pathname, fileType: 'CSV' } });
    expect(loaded.plan.destination).toMatchObject({ connectorType: 'LocalFile', path: `${base}/out`, outputFormat: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' }, preserveSourceDataTyping: false } });
    expect(loaded.plan.read.entity).toBe('accounts');
    expect(loaded.plan.engineFilterCount).toBe(2);
    expect(loaded.plan.read.filters).toBeUndefined();
    expect(loaded.plan.partitionKeys).toEqual(['Industry']);
  });

  it('runs every task type end to end on a batch', async () => {
    const { plan } = await loadFlowFile(fixture('local-every-task.json').pathname);
    const fields = ['Id', 'FirstName', 'LastName', 'Phone', 'Revenue', 'Cost', 'Industry', 'Notes'].map((name) => ({ name, type: 'string' as const }));
    const rows = [
      { Id: '1', FirstName: 'Ada', LastName: 'Lovelace', Phone: '555-1234', Revenue: '100.5', Cost: '40.25', Industry: 'Tech', Notes: 'Analytical engine notes' },
      { Id: '2', FirstName: 'Gov', LastName: 'Agency', Phone: '1', Revenue: '5', Cost: '1', Industry: 'Government', Notes: '' },
      { Id: null, FirstName: 'No', LastName: 'Id', Phone: '2', Revenue: '5', Cost: '1', Industry: 'Tech', Notes: '' },
      { Id: '4', FirstName: 'Neg', LastName: 'Rev', Phone: '3', Revenue: '-5', Cost: '1', Industry: 'Tech', Notes: '' },
    ];
    const r = plan.transform({ schema: { entity: 'accounts', fields }, rows }, { firstIndex: 0 });
    expect(r.filtered).toBe(2);
    expect(r.dropped).toBe(1);
    expect(r.batch.rows).toEqual([{ FullName: 'Lovelace, Ada', Margin: 60.25, Id: '1', Phone: '555-****', Revenue: 100.5, Notes: 'Analytical', Industry: 'Tech' }]);
    expect(r.batch.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['FullName:string', 'Margin:double', 'Id:string', 'Phone:string', 'Revenue:double', 'Notes:string', 'Industry:string']);
  });

  it('defaults a Salesforce destination and maps CloudFormation error handling', () => {
    const plan = compileFlow(read('cloudformation-camelcase.json'));
    expect(plan.destination).toEqual({ connectorType: 'Salesforce', connectorProfileName: 'OtherOrg', object: 'Contact', writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'], apiPreference: 'AUTOMATIC' });
    expect(plan.errorHandling).toEqual({ failOnFirstDestinationError: false, bucketName: 'errors-bucket', bucketPrefix: 'contacts' });
    expect(plan.source).toMatchObject({ apiPreference: 'BULKV2' });
    expect(plan.read).toEqual({ entity: 'Contact', excludeFields: ['OwnerId', 'MasterRecordId'], filters: [
      { field: 'CreatedDate', operator: 'GREATER_THAN', values: ['2024-01-01T00:00:00.000Z'] },
      { field: 'CreatedDate', operator: 'LESS_THAN', values: ['2024-02-01T00:00:00.000Z'] },
    ], includeDeleted: false, apiPreference: 'BULKV2' });
    expect(plan.trigger.schedule).toMatchObject({ rateSeconds: 300, timezone: 'UTC' });
    expect(plan.mapAll).toBe(true);
  });

  it('ignores preserveSourceDataTyping for CSV and defaults the file type to JSON', () => {
    const plan = compileFlow(read('s3-source-map-all.json'));
    expect(plan.destination).toMatchObject({ outputFormat: { fileType: 'CSV', preserveSourceDataTyping: false } });
    expect(plan.source).toEqual({ connectorType: 'S3', properties: { bucketName: 'landing', bucketPrefix: 'accounts', s3InputFormatConfig: { s3InputFileType: 'JSON' } } });
    expect(plan.engineFilterCount).toBe(1);
  });

  it('refuses an invalid definition with FLOW_INVALID', () => {
    const def = { ...read('appflow-canonical.json'), tasks: [] };
    let caught: unknown;
    try { compileFlow(def); } catch (e) { caught = e; }
    expect(isForceflowError(caught, 'FLOW_INVALID')).toBe(true);
  });

  it('reports a missing flow file as FILE_NOT_FOUND', async () => {
    await expect(loadFlowFile('/nonexistent/flow.json')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});

describe('enableDynamicFieldUpdate', () => {
  const flow = (dynamic: boolean): unknown => ({
    flowName: 'dyn',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'p', sourceConnectorProperties: { Salesforce: { object: 'Account', enableDynamicFieldUpdate: dynamic } } },
    destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'bucket' } } }],
    tasks: [
      { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
      { taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' }, taskProperties: { EXCLUDE_SOURCE_FIELDS_LIST: '["Fax"]' } },
    ],
  });

  it('reads and copies every field of the describe at run time, beyond the projection', () => {
    const dynamic = compileFlow(validateFlow(flow(true)));
    expect(dynamic.read.fields).toBeUndefined();
    expect(dynamic.read.excludeFields).toEqual(['Fax']);
    const out = dynamic.outputSchema({ entity: 'Account', fields: [{ name: 'Id', type: 'id' }, { name: 'Name', type: 'string' }, { name: 'NewField__c', type: 'string' }, { name: 'Fax', type: 'phone' }] });
    expect(out.fields.map((f) => f.name)).toEqual(['Id', 'Name', 'NewField__c']);
    const fixed = compileFlow(validateFlow(flow(false)));
    expect(fixed.read.fields).toEqual(['Id', 'Name']);
  });
});

describe('compileFlow: schedule timestamps', () => {
  const flowWith = (scheduled: Record<string, unknown>): unknown => ({
    flowName: 'tz', triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', ...scheduled } } },
    sourceFlowConfig: { connectorType: 'Salesforce', sourceConnectorProperties: { Salesforce: { object: 'Account' } }, incrementalPullConfig: { datetimeTypeFieldName: 'LastModifiedDate' } },
    destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'bucket' } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' } }],
  });

  it('reads an ISO timestamp without a UTC offset as UTC (as the AWS SDKs send it), whatever the machine zone', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'America/Los_Angeles';
    try {
      const plan = compileFlow(validateFlow(flowWith({ firstExecutionFrom: '2024-01-01T00:00:00', scheduleStartTime: '2024-06-01 12:30' })));
      expect(plan.incremental?.firstExecutionFrom).toBe('2024-01-01T00:00:00.000Z');
      expect(plan.trigger.schedule?.startTime).toBe('2024-06-01T12:30:00.000Z');
    } finally {
      if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved;
    }
  });

  it('rejects an impossible date with its path instead of rolling it over', () => {
    expect(() => validateFlow(flowWith({ firstExecutionFrom: '2024-02-30T00:00:00Z' }))).toThrow(/triggerConfig\.triggerProperties\.Scheduled\.firstExecutionFrom: expected a timestamp/);
  });
});
