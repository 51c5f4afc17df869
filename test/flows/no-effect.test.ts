import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRootLogger } from '../../src/core/logger.ts';
import { compileFlow } from '../../src/flows/compile.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { checkFlow, validateFlow } from '../../src/flows/validate.ts';
import { forceflow } from '../helpers/cli.ts';

function localFlow(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  writeFileSync(join(dir, 'in.csv'), 'Id,Name\n1,Ada\n');
  return {
    flowName: 'local-flow',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: join(dir, 'in.csv'), fileType: 'CSV' } } },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(dir, 'out'), outputFormatConfig: { fileType: 'JSON' } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { LocalFile: 'NO_OP' } }],
    ...extra,
  };
}

function capture(): { log: ReturnType<typeof createRootLogger>; lines: () => { level: number; msg: string }[] } {
  const out: string[] = [];
  const log = createRootLogger({ level: 'info', destination: { write: (s: string) => out.push(s) } });
  return { log, lines: () => out.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

const SCHEDULED = { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'cron(0 6 ? * MON-FRI *)', timezone: 'Europe/Paris', flowErrorDeactivationThreshold: 3 } } };

describe('a Scheduled flow started by forceflow run / runFlow', () => {
  it('runs once, and says so in the log and in the execution record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-sched-'));
    const { log, lines } = capture();
    const record = await runFlow({ flow: localFlow(dir, { triggerConfig: SCHEDULED }), log, now: () => new Date('2025-01-03T10:00:00Z') });
    expect(record.executionStatus).toBe('Successful');
    expect(record.startedBy).toBe('manual');
    expect(record.notes).toHaveLength(1);
    const note = record.notes[0] as string;
    expect(note).toContain('Scheduled flow (cron(0 6 ? * MON-FRI *)) run once, by hand');
    expect(note).toContain('nothing will run the flow again');
    // Friday 2025-01-03 10:00Z: the next weekday 06:00 in Paris is Monday 05:00Z.
    expect(note).toContain('would next fire at 2025-01-06T05:00:00.000Z (time zone Europe/Paris)');
    expect(note).toContain('flowErrorDeactivationThreshold has no effect');
    const warned = lines().filter((l) => l.level === 40).map((l) => l.msg);
    expect(warned).toContain(note);
  });

  it('carries no such note when a scheduler starts it, nor for an OnDemand flow', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-sched-'));
    const scheduled = await runFlow({ flow: localFlow(dir, { triggerConfig: SCHEDULED }), startedBy: 'schedule' });
    expect(scheduled.startedBy).toBe('schedule');
    expect(scheduled.notes).toEqual([]);
    const onDemand = await runFlow({ flow: localFlow(mkdtempSync(join(tmpdir(), 'ff-sched-'))) });
    expect(onDemand.notes).toEqual([]);
  });

  it('is refused before running when its schedule has already ended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-sched-'));
    const ended = { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', scheduleEndTime: '2025-01-01T00:00:00Z' } } };
    await expect(runFlow({ flow: localFlow(dir, { triggerConfig: ended }), now: () => new Date('2025-06-01T00:00:00Z') })).rejects.toThrow(/scheduleEndTime: is 2025-01-01T00:00:00.000Z, which is already past/);
    // The same definition is valid, and runs, while its end is ahead (by the run's clock, not the machine's).
    expect(checkFlow(localFlow(dir, { triggerConfig: ended }), { now: new Date('2024-12-01T00:00:00Z') }).ok).toBe(true);
    const early = await runFlow({ flow: localFlow(dir, { triggerConfig: ended }), now: () => new Date('2024-12-01T00:00:00Z') });
    expect(early.executionStatus).toBe('Successful');
    // A rate whose next fire after now falls past the end never runs again either.
    const lastDay = { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1days)', scheduleStartTime: '2025-01-01T00:00:00Z', scheduleEndTime: '2025-01-05T12:00:00Z' } } };
    expect(checkFlow(localFlow(dir, { triggerConfig: lastDay }), { now: new Date('2025-01-04T06:00:00Z') }).ok).toBe(true);
    expect(checkFlow(localFlow(dir, { triggerConfig: lastDay }), { now: new Date('2025-01-05T06:00:00Z') }).problems).toEqual([{
      path: 'triggerConfig.triggerProperties.Scheduled.scheduleExpression',
      message: '"rate(1days)" matches no time from now on before scheduleEndTime 2025-01-05T12:00:00.000Z (in time zone UTC), so the flow would never run. Move scheduleStartTime or scheduleEndTime, or shorten the period.',
    }]);
  });
});

describe('accepted fields that have no effect are named', () => {
  it('in the plan, and in every run record and log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-notice-'));
    const flow = localFlow(dir, {
      sourceFlowConfig: {
        connectorType: 'LocalFile', apiVersion: '58.0', connectorProfileName: 'x',
        incrementalPullConfig: { datetimeTypeFieldName: 'LastModifiedDate' },
        sourceConnectorProperties: { LocalFile: { path: join(dir, 'in.csv'), fileType: 'CSV' } },
      },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(dir, 'out'), outputFormatConfig: { fileType: 'CSV', preserveSourceDataTyping: true } } } }],
    });
    writeFileSync(join(dir, 'in.csv'), 'Id,Name\n1,Ada\n');
    const plan = compileFlow(validateFlow(flow));
    expect(plan.notices).toEqual([
      'sourceFlowConfig.incrementalPullConfig has no effect: the flow is not an incremental Scheduled flow (dataPullMode Incremental), so every run reads all records.',
      'sourceFlowConfig.apiVersion has no effect: it is the Salesforce API version, and the source is LocalFile.',
      'sourceFlowConfig.connectorProfileName has no effect: a LocalFile source uses no connector profile.',
      'destinationFlowConfigList[0]: preserveSourceDataTyping has no effect: it applies to Parquet output, and fileType is CSV (CSV and JSON lines write values as text).',
    ]);
    const { log, lines } = capture();
    const record = await runFlow({ flow, log });
    expect(record.executionStatus).toBe('Successful');
    expect(record.notes).toEqual(plan.notices);
    const warned = lines().filter((l) => l.level === 40).map((l) => l.msg);
    for (const n of plan.notices) expect(warned).toContain(n);
  });

  it('for Salesforce-side fields: enableDynamicFieldUpdate without Map_all, idFieldNames on INSERT, kmsArn with a Salesforce destination', () => {
    const r = checkFlow({
      flowName: 'sf-notices',
      kmsArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1days)', scheduleOffset: 60, firstExecutionFrom: 1700000000 } } },
      sourceFlowConfig: { connectorType: 'Salesforce', sourceConnectorProperties: { Salesforce: { object: 'Account', enableDynamicFieldUpdate: true } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', destinationConnectorProperties: { Salesforce: { object: 'Contact', idFieldNames: ['Email'], errorHandlingConfig: { bucketName: 'errs-bucket' } } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'LastName', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
    });
    expect(r.problems).toEqual([]);
    expect(r.notices).toEqual([
      'triggerConfig.triggerProperties.Scheduled.scheduleOffset has no effect: it shifts incremental windows, and dataPullMode is not Incremental.',
      'triggerConfig.triggerProperties.Scheduled.firstExecutionFrom has no effect: it starts the first incremental window, and dataPullMode is not Incremental.',
      'sourceFlowConfig.sourceConnectorProperties.Salesforce.enableDynamicFieldUpdate has no effect without a Map_all task: explicit Map tasks copy the fields they name.',
      'destinationFlowConfigList[0].destinationConnectorProperties.Salesforce.idFieldNames has no effect: INSERT creates records and matches none (idFieldNames is for UPSERT, UPDATE and DELETE).',
      expect.stringMatching(/^kmsArn: a Salesforce destination keeps no output of its own at rest; the temporary upload files of a Bulk API 2.0 write .* are not encrypted with the key. The failed-records file on S3 is encrypted with it \(SSE-KMS\).$/),
    ]);
  });

  it('for task properties a task type does not read, and destinationField on tasks that work in place', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-notice-'));
    const r = checkFlow(localFlow(dir, {
      tasks: [
        { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { LocalFile: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['Id'], destinationField: 'Id', connectorOperator: { LocalFile: 'NO_OP' }, taskProperties: { TRUNCATE_LENGTH: '3', SOURCE_DATA_TYPE: 'string' } },
        { taskType: 'Truncate', sourceFields: ['Name'], destinationField: 'ShortName', connectorOperator: { LocalFile: 'NO_OP' }, taskProperties: { TRUNCATE_LENGTH: '3' } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { LocalFile: 'NO_OP' } },
      ],
    }));
    expect(r.problems).toEqual([]);
    expect(r.notices).toEqual([
      'tasks[1].taskProperties TRUNCATE_LENGTH has no effect on a Map task, which reads SOURCE_DATA_TYPE, DESTINATION_DATA_TYPE.',
      'tasks[2].destinationField has no effect on a Truncate task: it works on its source field in place. Use a Map task to write a field under another name.',
    ]);
  });

  it("describe-flow output (metadataCatalogConfig {}, kmsArn with S3) has no notices", () => {
    const r = checkFlow(JSON.parse(JSON.stringify(validateFlow(localFlow(mkdtempSync(join(tmpdir(), 'ff-notice-')), { metadataCatalogConfig: {}, description: 'd', tags: { a: 'b' } })))));
    expect(r.ok).toBe(true);
    expect(r.notices).toEqual([]);
  });
});

describe('the CLI', () => {
  // In-process (runCli): what the command prints and its exit code, log lines included.
  const cli = (args: string[], cwd: string): ReturnType<typeof forceflow> => forceflow(args, { env: { FORCEFLOW_HOME: join(cwd, 'home') } });

  it('forceflow run of a Scheduled flow runs it once and says so on stderr and in the record; validate prints notices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-cli-sched-'));
    const flowFile = join(dir, 'flow.json');
    const flow = localFlow(dir, { triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', scheduleOffset: 60 } } } });
    writeFileSync(flowFile, JSON.stringify(flow));
    const ran = await cli(['run', flowFile, '--log-level', 'warn'], dir);
    expect(ran.code).toBe(0);
    const record = JSON.parse(ran.stdout) as { executionStatus: string; startedBy: string; notes: string[] };
    expect(record.executionStatus).toBe('Successful');
    expect(record.startedBy).toBe('manual');
    expect(record.notes[0]).toMatch(/^This is a Scheduled flow \(rate\(1hours\)\) run once, by hand/);
    expect(record.notes[1]).toMatch(/scheduleOffset has no effect/);
    expect(ran.stderr).toContain('run once, by hand');
    const validated = await cli(['validate', flowFile], dir);
    expect(validated.code).toBe(0);
    const shown = JSON.parse(validated.stdout) as { notices: string[]; schedule: { expression: string; timezone: string; nextFireTimes: string[] } };
    expect(shown.notices).toEqual([record.notes[1]]);
    expect(shown.schedule).toMatchObject({ expression: 'rate(1hours)', timezone: 'UTC' });
    expect(shown.schedule.nextFireTimes).toHaveLength(3);
    const [a, b] = shown.schedule.nextFireTimes.map((t) => Date.parse(t));
    expect((b as number) - (a as number)).toBe(3600_000);
  });
});
