import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { runFlow } from '../../src/flows/runner.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { startTestS3 } from '../helpers/s3.ts';
import { FAST_DESTINATION, FAST_RETRY, writeEnv } from '../helpers/salesforce-write.ts';

const FAST = {
  retry: FAST_RETRY,
  bulk: { pollInitialMs: 2, pollMaxMs: 20 },
  destination: FAST_DESTINATION,
};

const env = writeEnv({ emulator: { seed: 11 }, tmpPrefix: 'ff-sfflow-' });
const { query } = env;

const map = (from: string, to: string, op: string) => ({ taskType: 'Map', sourceFields: [from], destinationField: to, connectorOperator: { [op]: 'NO_OP' } });

function localToSalesforce(name: string, csv: string, salesforce: Record<string, unknown>, tasks: unknown[]): unknown {
  return {
    flowName: name,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: csv, fileType: 'CSV' } } },
    destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: 'emu', destinationConnectorProperties: { Salesforce: salesforce } }],
    tasks,
  };
}

const accountTasks = [
  { taskType: 'Filter', sourceFields: ['name', 'ext', 'employees'], connectorOperator: { LocalFile: 'PROJECTION' } },
  map('name', 'Name', 'LocalFile'),
  map('ext', 'External_Id__c', 'LocalFile'),
  map('employees', 'NumberOfEmployees', 'LocalFile'),
];

describe('runFlow: Salesforce → Salesforce', () => {
  it('reads Accounts and inserts one Invoice__c per Account (REST below 1,000), then updates them through Bulk (BULKV2 forced)', async () => {
    const accounts = await query<{ Id: string; Name: string }>('SELECT Id, Name FROM Account');
    const flow = {
      flowName: 'sf-to-sf',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'emu', sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: 'emu', destinationConnectorProperties: { Salesforce: { object: 'Invoice__c', writeOperationType: 'INSERT', errorHandlingConfig: { failOnFirstDestinationError: false } } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
        map('Id', 'Account__c', 'Salesforce'),
        map('Name', 'Name', 'Salesforce'),
      ],
    };
    const before = await query('SELECT Id FROM Invoice__c');
    const record = await runFlow({ flow, profiles: { emu: env.emu.connectorProfile }, salesforce: FAST });
    expect(record.error).toBeNull();
    expect(accounts).toHaveLength(997);
    expect(record.executionResult.recordsWritten).toBe(accounts.length);
    expect(record.destinationDataTransferApi).toBe('REST_SYNC');
    expect(record.sourceDataTransferApi).toBe('REST_SYNC');
    const invoices = await query<{ Account__c: string; Name: string }>('SELECT Account__c, Name FROM Invoice__c WHERE Account__c != null');
    const mine = invoices.filter((i) => accounts.some((a) => a.Id === i.Account__c && a.Name === i.Name));
    expect(mine.length).toBeGreaterThanOrEqual(accounts.length);
    expect((await query('SELECT Id FROM Invoice__c')).length).toBe(before.length + accounts.length);

    // Invoices → Invoices: give each one an external id through Bulk (UPDATE by Id), forced BULKV2.
    const sfToSfUpdate = {
      ...flow,
      flowName: 'sf-to-sf-update',
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'emu', sourceConnectorProperties: { Salesforce: { object: 'Invoice__c' } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: 'emu', destinationConnectorProperties: { Salesforce: { object: 'Invoice__c', writeOperationType: 'UPDATE', idFieldNames: ['Id'], dataTransferApi: 'BULKV2', errorHandlingConfig: { failOnFirstDestinationError: false } } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
        map('Id', 'Id', 'Salesforce'),
        { taskType: 'Merge', sourceFields: ['Name'], destinationField: 'Notes__c', connectorOperator: { Salesforce: 'NO_OP' }, taskProperties: { CONCAT_FORMAT: 'copied: ${Name}' } },
        map('Notes__c', 'Notes__c', 'Salesforce'),
      ],
    };
    const r2 = await runFlow({ flow: sfToSfUpdate, profiles: { emu: env.emu.connectorProfile }, salesforce: FAST });
    expect(r2.error).toBeNull();
    const total = (await query('SELECT Id FROM Invoice__c')).length;
    expect(r2.executionResult.recordsWritten).toBe(total);
    expect(r2.destinationDataTransferApi).toBe('BULKV2');
    expect(r2.outputs).toHaveLength(1);
    const notes = await query<{ Name: string | null; Notes__c: string }>('SELECT Name, Notes__c FROM Invoice__c');
    expect(notes.every((n) => n.Notes__c === `copied: ${n.Name ?? ''}`)).toBe(true);
  });
});

describe('runFlow: LocalFile CSV → Salesforce', () => {
  it('inserts, lists the failed records in the local error folder and counts them in the run record', async () => {
    const csv = join(env.dir, 'accounts.csv');
    await writeFile(csv, 'name,ext,employees\nFlow A,FLOW-1,10\n,FLOW-2,20\nFlow C,FLOW-3,many\n"Flow, D",FLOW-4,\n');
    const flowFile = join(env.dir, 'flow-insert.json');
    const flow = localToSalesforce('csv-to-sf', 'accounts.csv', { object: 'Account', writeOperationType: 'INSERT', errorHandlingConfig: { failOnFirstDestinationError: false, localPath: 'errors' } }, accountTasks);
    const record = await runFlow({ flow, flowFile, profiles: { emu: env.emu.connectorProfile }, executionId: 'exec-1', salesforce: FAST });
    expect(record.error).toBeNull();
    expect(record.executionStatus).toBe('Successful');
    expect(record.executionResult.recordsProcessed).toBe(4);
    expect(record.executionResult.recordsWritten).toBe(2);
    expect(record.executionResult.errorInfo.putFailuresCount).toBe(2);
    expect(record.destinationDataTransferApi).toBe('REST_SYNC');
    expect(record.apiCalls.destination).toBeGreaterThan(0);
    expect(record.errorFile).toBe(join(env.dir, 'errors', 'csv-to-sf', 'exec-1', 'errors.csv'));
    const lines = parse(await readFile(record.errorFile as string, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(lines).toEqual([
      { Name: '', External_Id__c: 'FLOW-2', NumberOfEmployees: '20', errorCode: 'REQUIRED_FIELD_MISSING', errorMessage: expect.stringMatching(/Required fields are missing: \[Name\]/) as string, errorFields: 'Name' },
      { Name: 'Flow C', External_Id__c: 'FLOW-3', NumberOfEmployees: 'many', errorCode: 'VALUE_NOT_CONVERTIBLE', errorMessage: 'NumberOfEmployees: "many" cannot be written to a int field (expected a whole number).', errorFields: 'NumberOfEmployees' },
    ]);
    const written = await query<{ Name: string; NumberOfEmployees: number | null }>(`SELECT Name, NumberOfEmployees FROM Account WHERE External_Id__c LIKE 'FLOW-%' ORDER BY External_Id__c`);
    expect(written).toEqual([expect.objectContaining({ Name: 'Flow A', NumberOfEmployees: 10 }), expect.objectContaining({ Name: 'Flow, D', NumberOfEmployees: null })]);
  });

  it('failOnFirstDestinationError (the default) ends the run in Error, saying what was written', async () => {
    const csv = join(env.dir, 'stop.csv');
    await writeFile(csv, `name,ext,employees\n${Array.from({ length: 30 }, (_, i) => `Stop ${i},FSTOP-${i},${i === 20 ? 'bad' : i}`).join('\n')}\n`);
    const flow = localToSalesforce('csv-stop', csv, { object: 'Account', writeOperationType: 'INSERT' }, accountTasks);
    const record = await runFlow({ flow, profiles: { emu: env.emu.connectorProfile }, salesforce: FAST });
    expect(record.executionStatus).toBe('Error');
    expect(record.error?.code).toBe('DESTINATION_WRITE_FAILED');
    expect(record.error?.message).toMatch(/Record 20 failed .*29 record\(s\) were already written/);
    expect(record.executionResult.recordsWritten).toBe(29);
    expect(record.executionResult.errorInfo.putFailuresCount).toBe(1);
  });

  it('a malformed CSV fails with its line number and writes nothing', async () => {
    const csv = join(env.dir, 'broken.csv');
    await writeFile(csv, 'name,ext,employees\nOk,BROKEN-1,1\nAlso ok,BROKEN-2,2\n"Unclosed,BROKEN-3,3\n');
    const flow = localToSalesforce('csv-broken', csv, { object: 'Account', writeOperationType: 'INSERT' }, accountTasks);
    const record = await runFlow({ flow, profiles: { emu: env.emu.connectorProfile }, salesforce: FAST });
    expect(record.executionStatus).toBe('Error');
    expect(record.error?.code).toBe('INPUT_INVALID');
    expect(record.error?.message).toMatch(/broken\.csv line \d+/);
    expect(await query(`SELECT Id FROM Account WHERE External_Id__c LIKE 'BROKEN-%'`)).toHaveLength(0);
    const rows = await readFile(csv, 'utf8');
    expect(rows.split('\n')[3]).toMatch(/^"Unclosed/);
  });

  it('a row with the wrong number of cells names its line', async () => {
    const csv = join(env.dir, 'cells.csv');
    await writeFile(csv, 'name,ext,employees\nOk,CELLS-1,1\nToo,many,cells,here\n');
    const flow = localToSalesforce('csv-cells', csv, { object: 'Account', writeOperationType: 'INSERT' }, accountTasks);
    const record = await runFlow({ flow, profiles: { emu: env.emu.connectorProfile }, salesforce: FAST });
    expect(record.error?.code).toBe('INPUT_INVALID');
    expect(record.error?.message).toMatch(/cells\.csv line 3/);
    expect(await query(`SELECT Id FROM Account WHERE External_Id__c LIKE 'CELLS-%'`)).toHaveLength(0);
  });

  it('UPSERT without idFieldNames is refused before the run starts', async () => {
    const flow = localToSalesforce('csv-upsert-noid', 'x.csv', { object: 'Account', writeOperationType: 'UPSERT' }, accountTasks);
    const error = await runFlow({ flow, profiles: { emu: env.emu.connectorProfile } }).catch((e: unknown) => e);
    expect(isForceflowError(error, 'FLOW_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/idFieldNames.*is required when writeOperationType is UPSERT/s);
  });

  it('UPDATE without an Id mapping fails the run with FLOW_INVALID and writes nothing', async () => {
    const csv = join(env.dir, 'upd.csv');
    await writeFile(csv, 'name,ext,employees\nX,UPD-1,1\n');
    const flow = localToSalesforce('csv-update-noid', csv, { object: 'Account', writeOperationType: 'UPDATE' }, accountTasks);
    const record = await runFlow({ flow, profiles: { emu: env.emu.connectorProfile }, salesforce: FAST });
    expect(record.error?.code).toBe('FLOW_INVALID');
    expect(record.error?.message).toMatch(/UPDATE needs the record Id, but no field is mapped to Id/);
  });
});

describe('runFlow: S3 JSON lines → Salesforce, failed records to S3', () => {
  it('upserts through Bulk (BULKV2 forced) and writes the error file under bucketName/bucketPrefix', async () => {
    const s3 = await startTestS3();
    try {
      const lines = [
        { ext: 'S3UP-1', name: 'S3 one', employees: 1 },
        { ext: 'S3UP-2', name: 'S3 two', employees: 2.5 },
        { ext: 'S3UP-3', name: null, employees: 3 },
        { ext: 'S3UP-1', name: 'S3 one again', employees: 4 },
      ];
      await s3.put('in/accounts/part-1.jsonl', lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const flow = {
        flowName: 's3-to-sf',
        triggerConfig: { triggerType: 'OnDemand' },
        sourceFlowConfig: { connectorType: 'S3', sourceConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'in/accounts', s3InputFormatConfig: { s3InputFileType: 'JSON' } } } },
        destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: 'emu', destinationConnectorProperties: { Salesforce: {
          object: 'Account', writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'], dataTransferApi: 'BULKV2',
          errorHandlingConfig: { failOnFirstDestinationError: false, bucketName: s3.bucket, bucketPrefix: 'errors' },
        } } }],
        tasks: [
          { taskType: 'Filter', sourceFields: ['ext', 'name', 'employees'], connectorOperator: { S3: 'PROJECTION' } },
          map('ext', 'External_Id__c', 'S3'),
          map('name', 'Name', 'S3'),
          map('employees', 'NumberOfEmployees', 'S3'),
        ],
      };
      const record = await runFlow({ flow, profiles: { emu: env.emu.connectorProfile }, s3Client: s3.client, executionId: 'exec-s3', salesforce: FAST });
      expect(record.error).toBeNull();
      expect(record.destinationDataTransferApi).toBe('BULKV2');
      expect(record.executionResult.recordsWritten).toBe(2);
      expect(record.executionResult.errorInfo.putFailuresCount).toBe(2);
      expect(record.errorFile).toBe(`s3://${s3.bucket}/errors/s3-to-sf/exec-s3/errors.csv`);
      const file = parse(await s3.getText('errors/s3-to-sf/exec-s3/errors.csv'), { columns: true }) as Record<string, string>[];
      expect(file).toEqual([
        { External_Id__c: 'S3UP-2', Name: 'S3 two', NumberOfEmployees: '2.5', errorCode: 'VALUE_NOT_CONVERTIBLE', errorMessage: 'NumberOfEmployees: 2.5 cannot be written to a int field (expected a whole number).', errorFields: 'NumberOfEmployees' },
        { External_Id__c: 'S3UP-3', Name: '', NumberOfEmployees: '3', errorCode: 'REQUIRED_FIELD_MISSING', errorMessage: expect.stringMatching(/Required fields are missing: \[Name\]/) as string, errorFields: 'Name' },
      ]);
      const written = await query<{ Name: string; NumberOfEmployees: number }>(`SELECT Name, NumberOfEmployees FROM Account WHERE External_Id__c = 'S3UP-1'`);
      // Two rows for one external id in one upsert: both succeed in order on the emulator; one record exists.
      expect(written).toHaveLength(1);
    } finally {
      await s3.close();
    }
  });
});

describe('runFlow: a Salesforce write that an API error ends part-way', () => {
  it('the execution record says how many records were already written', async () => {
    const csv = join(env.dir, 'limit-part-way.csv');
    await writeFile(csv, `name,ext,employees\n${Array.from({ length: 900 }, (_, i) => `Partial ${i},PART-${i},${i}`).join('\n')}\n`);
    const flow = localToSalesforce('limit-part-way', csv, { object: 'Account', writeOperationType: 'INSERT', dataTransferApi: 'REST_SYNC' }, accountTasks);
    // describe, then two collections calls of 200 records, then the daily limit is spent.
    await env.faults('apiLimit.after=3');
    try {
      const record = await runFlow({ flow, profiles: { emu: env.emu.connectorProfile }, salesforce: { ...FAST, destination: { ...FAST.destination, rest: { ...FAST.destination.rest, concurrency: 1 } } } });
      expect(record.executionStatus).toBe('Error');
      expect(record.error?.code).toBe('SF_REQUEST_LIMIT_EXCEEDED');
      expect(record.executionResult.recordsWritten).toBe(400);
    } finally {
      await env.faults('');
      await fetch(`${env.emu.controlUrl}/limits`, { method: 'PUT', headers: env.emu.controlHeaders, body: JSON.stringify({ used: 0 }) });
    }
    const stored = await query<{ Id: string }>("SELECT Id FROM Account WHERE External_Id__c LIKE 'PART-%'");
    expect(stored).toHaveLength(400);
  });
});

describe('runFlow: the run\'s child logger reaches the Salesforce clients', () => {
  it('every Salesforce HTTP debug line of a run carries the flow name and the execution id', async () => {
    const { captureContext } = await import('../helpers/run-context.ts');
    const captured = captureContext();
    const flow = {
      flowName: 'sf-log-fields',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'emu', sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: 'emu', destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'UPDATE', idFieldNames: ['Id'], errorHandlingConfig: { failOnFirstDestinationError: false } } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
        map('Id', 'Id', 'Salesforce'),
        map('Name', 'Name', 'Salesforce'),
      ],
    };
    const record = await runFlow({ flow, profiles: { emu: env.emu.connectorProfile }, salesforce: FAST, log: captured.log, executionId: 'exec-log-1' });
    expect(record.error).toBeNull();
    const http = captured.lines.filter((l) => l.msg === 'salesforce http call');
    // Both the source's reads and the destination's writes went through the Salesforce client.
    expect(http.some((l) => String(l.path).includes('/query'))).toBe(true);
    // (REST below 1,000 records, Bulk API 2.0 above: earlier tests of this file add Accounts.)
    expect(http.some((l) => /\/composite\/sobjects|\/jobs\/ingest/.test(String(l.path)))).toBe(true);
    for (const line of http) expect(line).toMatchObject({ flow: 'sf-log-fields', executionId: 'exec-log-1' });
  });
});
