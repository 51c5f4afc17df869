import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { openRunState } from '../../src/flows/state.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { captureContext } from '../helpers/run-context.ts';
import { forceflow } from '../helpers/cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FAST = { retry: { retries: 6, baseDelayMs: 5, maxDelayMs: 50 }, bulk: { pollInitialMs: 10, pollMaxMs: 50 } };

function sfFlow(name: string, api: 'REST_SYNC' | 'BULKV2' | 'AUTOMATIC', fileType: 'CSV' | 'JSON' | 'PARQUET', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    flowName: name,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: {
      connectorType: 'Salesforce',
      connectorProfileName: 'forceflow-emulator',
      sourceConnectorProperties: { Salesforce: { object: 'Account', dataTransferApi: api } },
    },
    destinationFlowConfigList: [
      {
        connectorType: 'S3',
        destinationConnectorProperties: {
          S3: { bucketName: 'forceflow', bucketPrefix: 'e2e', s3OutputFormatConfig: { fileType, preserveSourceDataTyping: true, aggregationConfig: { aggregationType: 'SingleFile' }, prefixConfig: { pathPrefixHierarchy: [] } } },
        },
      },
    ],
    tasks: [
      { taskType: 'Filter', sourceFields: ['Id', 'Name', 'AnnualRevenue', 'NumberOfEmployees', 'BillingAddress', 'CreatedDate', 'Description'], connectorOperator: { Salesforce: 'PROJECTION' } },
      { taskType: 'Filter', sourceFields: ['AnnualRevenue'], connectorOperator: { Salesforce: 'GREATER_THAN' }, taskProperties: { DATA_TYPE: 'currency', VALUE: '1000' } },
      ...['Id', 'Name', 'AnnualRevenue', 'NumberOfEmployees', 'BillingAddress', 'CreatedDate', 'Description'].map((f) => ({ taskType: 'Map', sourceFields: [f], destinationField: f, connectorOperator: { Salesforce: 'NO_OP' } })),
      { taskType: 'Mask', sourceFields: ['Name'], connectorOperator: { Salesforce: 'MASK_FIRST_N' }, taskProperties: { MASK_LENGTH: '2', MASK_VALUE: '#' } },
    ],
    ...extra,
  };
}

describe('flows end to end (emulator + s3rver)', () => {
  let emu: RunningEmulator;
  let s3: TestS3;
  const profiles = (): Record<string, unknown> => ({ 'forceflow-emulator': emu.connectorProfile });
  // The org's clock runs ahead of this machine's by `skew`, which a test moves forward instead of sleeping.
  let skew = 0;
  const orgNow = (): number => Date.now() + skew;

  beforeAll(async () => {
    [emu, s3] = await Promise.all([startEmulator({ generate: { Contact: 30_000 }, clock: orgNow }), startTestS3()]);
  });
  afterAll(async () => {
    await Promise.all([emu?.close(), s3?.close()]);
  });

  it.each(['CSV', 'JSON', 'PARQUET'] as const)('writes identical %s files whether REST or Bulk API 2.0 read the object', async (fileType) => {
    const rest = await runFlow({ flow: sfFlow(`rest-${fileType.toLowerCase()}`, 'REST_SYNC', fileType), profiles: profiles(), s3Client: s3.client, salesforce: FAST });
    const bulk = await runFlow({ flow: sfFlow(`bulk-${fileType.toLowerCase()}`, 'BULKV2', fileType), profiles: profiles(), s3Client: s3.client, salesforce: FAST });
    expect(rest.executionStatus).toBe('Successful');
    expect(bulk.executionStatus).toBe('Successful');
    expect(rest.sourceDataTransferApi).toBe('REST_SYNC');
    expect(bulk.sourceDataTransferApi).toBe('BULKV2');
    expect(rest.outputs).toHaveLength(1);
    const key = (uri: string): string => uri.replace(/^s3:\/\/[^/]+\//, '');
    const restBytes = await s3.getBytes(key(rest.outputs[0] as string));
    const bulkBytes = await s3.getBytes(key(bulk.outputs[0] as string));
    expect(rest.executionResult.recordsWritten).toBe(bulk.executionResult.recordsWritten);
    expect(rest.executionResult.recordsWritten).toBeGreaterThan(10);
    if (fileType === 'PARQUET') {
      const read = async (b: Buffer): Promise<unknown[]> => parquetReadObjects({ file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer });
      const rows = await read(restBytes);
      expect(await read(bulkBytes)).toEqual(rows);
      expect(rows.length).toBe(rest.executionResult.recordsWritten);
      expect(typeof (rows[0] as Record<string, unknown>)['AnnualRevenue']).toBe('number');
    } else {
      expect(bulkBytes.equals(restBytes)).toBe(true);
      const text = restBytes.toString('utf8');
      expect(text).toContain('##');
      if (fileType === 'JSON') {
        const first = JSON.parse(text.split('\n')[0] as string) as Record<string, unknown>;
        expect(Object.keys(first)).toEqual(['Id', 'Name', 'AnnualRevenue', 'NumberOfEmployees', 'BillingAddress', 'CreatedDate', 'Description']);
        expect(first['CreatedDate']).toMatch(/Z$/);
        expect(Number(first['AnnualRevenue'])).toBeGreaterThan(1000);
      }
    }
  });

  it('runs every task type from a LocalFile fixture and writes partitions', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ff-e2e-'));
    const flow = JSON.parse(readFileSync(join(ROOT, 'fixtures/flows/valid/local-every-task.json'), 'utf8')) as Record<string, unknown>;
    const dest = (flow['destinationFlowConfigList'] as Array<{ destinationConnectorProperties: { LocalFile: { path: string } } }>)[0];
    if (dest) dest.destinationConnectorProperties.LocalFile.path = out;
    const record = await runFlow({ flow, flowFile: join(ROOT, 'fixtures/flows/valid/local-every-task.json') });
    expect(record.executionStatus).toBe('Successful');
    expect(record.executionResult.recordsProcessed).toBe(5);
    expect(record.executionResult.recordsFiltered).toBe(2); // Government, negative revenue
    expect(record.executionResult.recordsDropped).toBe(1); // missing Id
    const files = record.outputs;
    expect(files.some((f) => f.includes('/Industry=Tech/'))).toBe(true);
    expect(files.some((f) => f.includes('/Industry=null/'))).toBe(true);
    const rows = files.flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
    const ada = rows.find((r) => r['Id'] === '1');
    expect(ada).toMatchObject({ FullName: 'Lovelace, Ada', Phone: '555-****', Margin: 60.25, Revenue: 100.5, Notes: 'Analytical', Industry: 'Tech' });
    expect(rows.find((r) => r['Id'] === '5')?.['FullName']).toBe('Ünïcødé, Zoë');
  });

  it('cancels a run: status Canceled, the Bulk job stopped, no output left', async () => {
    const controller = new AbortController();
    const ctx = captureContext();
    const flow = sfFlow('cancelled', 'BULKV2', 'JSON');
    (flow['sourceFlowConfig'] as { sourceConnectorProperties: { Salesforce: { object: string } } }).sourceConnectorProperties.Salesforce.object = 'Contact';
    flow['tasks'] = [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }];
    const promise = runFlow({
      flow,
      profiles: profiles(),
      s3Client: s3.client,
      salesforce: { ...FAST, bulk: { ...FAST.bulk, batchRows: 500 } },
      signal: controller.signal,
      log: ctx.log,
      onProgress: (p) => {
        if (p.recordsRead >= 1000) controller.abort();
      },
    });
    const record = await promise;
    expect(record.executionStatus).toBe('Canceled');
    expect(record.error?.code).toBe('RUN_CANCELED');
    expect(await s3.keys('e2e/cancelled/')).toEqual([]);
    expect(ctx.lines.some((l) => l['msg'] === 'bulk query job stopped')).toBe(true);
  });

  it('cancels a Salesforce → LocalFile run whose source stops early: Canceled, nothing published, window not advanced', async () => {
    const controller = new AbortController();
    const out = mkdtempSync(join(tmpdir(), 'ff-cancel-local-'));
    const state = openRunState(mkdtempSync(join(tmpdir(), 'ff-cancel-state-')));
    const flow = {
      flowName: 'cancelled-local',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator', sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: 'BULKV2' } } },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    };
    const record = await runFlow({
      flow,
      profiles: profiles(),
      state,
      salesforce: { ...FAST, bulk: { ...FAST.bulk, batchRows: 500 } },
      signal: controller.signal,
      onProgress: (p) => {
        if (p.recordsRead >= 1000) controller.abort();
      },
    });
    expect(record.executionStatus).toBe('Canceled');
    expect(record.outputs).toEqual([]);
    expect(readdirSync(out).filter((f) => f !== '_temporary')).toEqual([]);
  });

  it('cancels a Salesforce → Salesforce run whose source stops early: Canceled, not a partial write recorded Successful', async () => {
    const controller = new AbortController();
    const flow = {
      flowName: 'cancelled-sf',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator', sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: 'BULKV2' } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator', destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT', dataTransferApi: 'REST_SYNC' } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['LastName'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['LastName'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
    };
    const record = await runFlow({
      flow,
      profiles: profiles(),
      salesforce: { ...FAST, bulk: { ...FAST.bulk, batchRows: 500 } },
      signal: controller.signal,
      onProgress: (p) => {
        if (p.recordsRead >= 1000) controller.abort();
      },
    });
    expect(record.executionStatus).toBe('Canceled');
    expect(record.error?.code).toBe('RUN_CANCELED');
  });

  it('stops at the size guard without leaving output', async () => {
    const record = await runFlow({ flow: sfFlow('guarded', 'REST_SYNC', 'CSV'), profiles: profiles(), s3Client: s3.client, salesforce: FAST, maxBytes: 10_000 });
    expect(record.executionStatus).toBe('Error');
    expect(record.error?.code).toBe('RUN_SIZE_LIMIT');
    expect(record.error?.message).toMatch(/size guard of 10000 bytes/);
    expect(await s3.keys('e2e/guarded/')).toEqual([]);
  });

  it('reads incrementally: each run starts where the last successful one ended, nothing missed', async () => {
    const state = openRunState(mkdtempSync(join(tmpdir(), 'ff-state-')));
    const out = mkdtempSync(join(tmpdir(), 'ff-inc-'));
    const clock = orgNow();
    // Salesforce stamps records with its clock and the window ends at its clock (whole seconds, from the
    // Date header): move the org's clock past a second boundary so the order of insert and run is unambiguous.
    const tick = async (): Promise<void> => {
      skew += 1100;
    };
    const flow = {
      flowName: 'incremental-accounts',
      triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', firstExecutionFrom: Math.floor(clock / 1000) - 60 } } },
      sourceFlowConfig: {
        connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator',
        sourceConnectorProperties: { Salesforce: { object: 'Account' } },
        incrementalPullConfig: { datetimeTypeFieldName: 'LastModifiedDate' },
      },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Id', 'Name', 'LastModifiedDate'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['Id'], destinationField: 'Id', connectorOperator: { Salesforce: 'NO_OP' } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
    };
    const insert = async (name: string): Promise<void> => {
      const res = await fetch(`${emu.instanceUrl}/services/data/v58.0/sobjects/Account`, { method: 'POST', headers: { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ Name: name }) });
      expect(res.status).toBe(201);
    };
    const names = (paths: readonly string[]): string[] => paths.flatMap((p) => readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => String((JSON.parse(l) as { Name: string }).Name)));
    await insert('Incremental One');
    await tick();
    const first = await runFlow({ flow, profiles: profiles(), state, salesforce: FAST });
    expect(first.executionStatus).toBe('Successful');
    expect(names(first.outputs)).toEqual(['Incremental One']);
    await insert('Incremental Two');
    await tick();
    const second = await runFlow({ flow, profiles: profiles(), state, salesforce: FAST });
    expect(second.dataPullStartTime).toBe(first.dataPullEndTime);
    expect(names(second.outputs)).toEqual(['Incremental Two']);
    // A local clock running an hour ahead does not move the window past what Salesforce has stamped.
    await insert('Incremental Three');
    await tick();
    const skewed = await runFlow({ flow, profiles: profiles(), state, now: () => new Date(orgNow() + 3600_000), salesforce: FAST });
    expect(names(skewed.outputs)).toEqual(['Incremental Three']);
    expect(Date.parse(String(skewed.dataPullEndTime))).toBeLessThanOrEqual(orgNow());
    state.close();
  });

  it('runs through the CLI: record on stdout, exit 0; broken flows exit 2 with the path and no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-cli-'));
    const profileFile = join(dir, 'profile.json');
    writeFileSync(profileFile, JSON.stringify(emu.connectorProfile));
    const flowFile = join(dir, 'flow.json');
    writeFileSync(flowFile, JSON.stringify(sfFlow('cli-run', 'AUTOMATIC', 'CSV')));
    // In-process (runCli); test/cli/smoke.test.ts runs the real binary.
    const env = { ...s3.s3.env, FORCEFLOW_HOME: join(dir, 'home') };
    const run = (args: string[]): ReturnType<typeof forceflow> => forceflow(args, { env });
    const ok = await run(['run', flowFile, '--profile', profileFile, '--log-level', 'warn']);
    expect(ok.code).toBe(0);
    const record = JSON.parse(ok.stdout) as { executionStatus: string; sourceDataTransferApi: string; outputs: string[] };
    expect(record.executionStatus).toBe('Successful');
    expect(record.sourceDataTransferApi).toBe('REST_SYNC');
    expect(ok.stdout).not.toContain(emu.accessToken);

    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify({ ...sfFlow('cli-broken', 'AUTOMATIC', 'CSV'), tasks: [{ taskType: 'Mask', sourceFields: ['Name'], connectorOperator: { Salesforce: 'MASK_ALL' } }] }));
    const bad = await run(['run', broken, '--profile', profileFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/FLOW_INVALID/);
    expect(bad.stderr).toMatch(/projection task or a MAP_ALL task/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);

    const missing = await run(['run', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/FILE_NOT_FOUND/);

    const valid = await run(['validate', flowFile]);
    expect(valid.code).toBe(0);
    expect(JSON.parse(valid.stdout)).toMatchObject({ valid: true, flowName: 'cli-run' });
    expect(readdirSync(dir)).toContain('home');
  });
});
