import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isForceflowError } from '../../src/core/errors.ts';
import { loadFlowFile } from '../../src/flows/load.ts';
import { checkFlow, validateFlow } from '../../src/flows/validate.ts';

const dir = (kind: string): URL => new URL(`../../fixtures/flows/${kind}/`, import.meta.url);
const invalid = readdirSync(dir('invalid')).filter((f) => f.endsWith('.json')).sort();
const valid = readdirSync(dir('valid')).filter((f) => f.endsWith('.json')).sort();

describe('broken-flow corpus (fixtures/flows/invalid)', () => {
  it('has a corpus with an expectation per flow', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(30);
  });

  it.each(invalid)('%s is rejected with FLOW_INVALID naming the path and what to do', async (file) => {
    const expected = readFileSync(new URL(file.replace(/\.json$/, '.expected.txt'), dir('invalid')), 'utf8')
      .split('\n').filter((l) => l.trim() !== '');
    expect(expected.length).toBeGreaterThan(0);
    let caught: unknown;
    try {
      await loadFlowFile(new URL(file, dir('invalid')).pathname);
    } catch (e) {
      caught = e;
    }
    expect(isForceflowError(caught, 'FLOW_INVALID')).toBe(true);
    const err = caught as Error & { details: { problems: { path: string; message: string }[] } };
    for (const fragment of expected) expect(err.message).toContain(fragment);
    // The message names the file, lists problems as `path: sentence`, and carries no stack trace.
    expect(err.message).toContain(file);
    expect(err.message).not.toMatch(/\n\s+at /);
    expect(err.message).not.toContain('ZodError');
    for (const p of err.details.problems) {
      expect(p.path).not.toBe('');
      expect(p.message).toMatch(/[.?]$/);
      expect(p.message.split('. ').length, `"${p.message}" should say what to do`).toBeGreaterThan(1);
    }
  });
});

describe('valid corpus (fixtures/flows/valid)', () => {
  it.each(valid)('%s validates and compiles', async (file) => {
    const loaded = await loadFlowFile(new URL(file, dir('valid')).pathname);
    expect(loaded.plan.flowName).toBe(loaded.flow.flowName);
  });
});

describe('validateFlow', () => {
  it('reports every problem at once, not just the first', () => {
    const r = checkFlow({
      flowName: 'x y', triggerConfig: { triggerType: 'Sometimes' },
      sourceFlowConfig: { connectorType: 'Salesforce', sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
      destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'b' } } }],
      tasks: [],
    });
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.path)).toEqual(expect.arrayContaining(['flowName', 'triggerConfig.triggerType', 'destinationFlowConfigList[0].destinationConnectorProperties.S3.bucketName']));
  });

  it('accepts JSON text and names the source in the error', () => {
    expect(() => validateFlow('{"flowName": 1}', { source: 'flows/x.json' })).toThrow(/Flow flows\/x\.json is invalid/);
  });

  it('rewrites CloudFormation spellings to the API form', () => {
    const flow = validateFlow(JSON.parse(readFileSync(new URL('cloudformation-camelcase.json', dir('valid')), 'utf8')));
    expect(flow.tasks[0]?.taskProperties).toEqual({ EXCLUDE_SOURCE_FIELDS_LIST: '["OwnerId","MasterRecordId"]' });
    expect(flow.triggerConfig.triggerProperties?.Scheduled?.scheduleExpression).toBe('rate(5 minutes)');
    expect(flow.destinationFlowConfigList[0]?.destinationConnectorProperties.Salesforce?.errorHandlingConfig).toEqual({ failOnFirstDestinationError: false, bucketName: 'errors-bucket', bucketPrefix: 'contacts' });
  });

  it("takes CloudFormation's TimeZone and Tags list once camelCased", () => {
    const input = JSON.parse(readFileSync(new URL('cloudformation-camelcase.json', dir('valid')), 'utf8'));
    delete input.triggerConfig.triggerProperties.timezone;
    input.triggerConfig.triggerProperties.timeZone = 'Europe/Paris';
    input.tags = [{ key: 'team', value: 'data' }, { Key: 'env', Value: 'prod' }];
    const flow = validateFlow(input);
    expect(flow.triggerConfig.triggerProperties?.Scheduled?.timezone).toBe('Europe/Paris');
    expect(flow.tags).toEqual({ team: 'data', env: 'prod' });
    const bad = checkFlow({ ...input, tags: [{ key: 'team' }] });
    expect(bad.problems.map((p) => p.path)).toEqual(['tags']);
  });

  it('reports problems in CloudFormation spellings as in the API form they stand for', () => {
    const input = JSON.parse(readFileSync(new URL('cloudformation-camelcase.json', dir('valid')), 'utf8'));
    const problems = (mutate: (f: typeof input) => void): string[] => {
      const f = structuredClone(input);
      mutate(f);
      return checkFlow(f).problems.map((p) => `${p.path}: ${p.message}`);
    };
    // A {key, value} list is rewritten to the map, then checked as the map: paths name the key.
    expect(problems((f) => { f.tasks[0].taskProperties = [{ key: 'EXCLUDE_SOURCE_FIELDS_LIST', value: 5 }]; }))
      .toEqual(['tasks[0].taskProperties.EXCLUDE_SOURCE_FIELDS_LIST: expected a string, got number 5. Write it in quotes, for example "5".']);
    expect(problems((f) => { f.tasks[0].taskProperties = [{ key: 'EXCLUDE_SOURCE_FIELD_LIST', value: '[]' }]; })[0])
      .toMatch(/^tasks\[0\]\.taskProperties\.EXCLUDE_SOURCE_FIELD_LIST: is not a known key\. Did you mean "EXCLUDE_SOURCE_FIELDS_LIST"\?/);
    // A list that is not {key, value} entries is neither form.
    expect(problems((f) => { f.tasks[0].taskProperties = [{ value: '[]' }]; }))
      .toEqual(['tasks[0].taskProperties: expected an object, got a list. Set it to an object.']);
    // timeZone and failOnFirstError stand for the API keys; both spellings at once is one too many.
    expect(problems((f) => { delete f.triggerConfig.triggerProperties.timezone; f.triggerConfig.triggerProperties.timeZone = 5; }))
      .toEqual(['triggerConfig.triggerProperties.Scheduled.timezone: expected a string, got number 5. Write it in quotes, for example "5".']);
    expect(problems((f) => { f.triggerConfig.triggerProperties.timeZone = 'UTC'; })[0])
      .toMatch(/^triggerConfig\.triggerProperties\.Scheduled\.timeZone: is not a known key\. Did you mean "timezone"\? .*known keys here: scheduleExpression, dataPullMode, scheduleStartTime, scheduleEndTime, timezone, scheduleOffset/);
    const ehc = (f: typeof input) => f.destinationFlowConfigList[0].destinationConnectorProperties.Salesforce.errorHandlingConfig;
    expect(problems((f) => { ehc(f).failOnFirstDestinationError = true; }))
      .toEqual(['destinationFlowConfigList[0].destinationConnectorProperties.Salesforce.errorHandlingConfig.failOnFirstError: is not a known key. Remove it or fix its spelling (known keys here: failOnFirstDestinationError, bucketName, bucketPrefix, localPath).']);
  });

  it('does not modify its input', () => {
    const input = JSON.parse(readFileSync(new URL('cloudformation-camelcase.json', dir('valid')), 'utf8'));
    const copy = structuredClone(input);
    validateFlow(input);
    expect(input).toEqual(copy);
  });

  it('accepts both rate() spellings and cron()', () => {
    for (const expr of ['rate(1minutes)', 'rate(1 minute)', 'rate(12hours)', 'rate(2 days)', 'cron(0 12 * * ? *)']) {
      const r = checkFlow({
        flowName: 'sched', triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: expr } } },
        sourceFlowConfig: { connectorType: 'Salesforce', sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
        destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'bucket' } } }],
        tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' } }],
      });
      expect(r.problems, expr).toEqual([]);
    }
  });
});
