import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlow } from '../../src/flows/runner.ts';
import { checkFlow, validateFlow } from '../../src/flows/validate.ts';
import { openRunState, type RunStateStore } from '../../src/flows/state.ts';
import type { ExecutionRecord } from '../../src/flows/run-record.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';

/** Incremental S3 and LocalFile sources: each run reads the files written since the last successful one. */
describe('incremental file sources', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startTestS3();
  });
  afterAll(async () => {
    await s3?.close();
  });

  const incremental = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', ...extra } },
  });
  const localOut = (out: string): unknown[] => [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }];
  const MAP_ALL = [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }];
  /** An incremental flow from the CSV objects under `prefix` of the test bucket to JSON files in `out`. */
  const s3Flow = (flowName: string, prefix: string, out: string): Record<string, unknown> => ({
    flowName,
    triggerConfig: incremental(),
    sourceFlowConfig: { connectorType: 'S3', sourceConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: prefix, s3InputFormatConfig: { s3InputFileType: 'CSV' } } } },
    destinationFlowConfigList: localOut(out),
    tasks: MAP_ALL,
  });
  const ids = (r: ExecutionRecord): string[] => r.outputs.flatMap((p) => readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => String((JSON.parse(l) as { id: string }).id))).sort();

  it('accepts S3 and LocalFile sources with dataPullMode Incremental', () => {
    for (const source of [
      { connectorType: 'S3', sourceConnectorProperties: { S3: { bucketName: 'some-bucket', bucketPrefix: 'in' } } },
      { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: 'in', fileType: 'CSV' } } },
    ]) {
      expect(validateFlow({ flowName: 'inc', triggerConfig: incremental(), sourceFlowConfig: source, destinationFlowConfigList: localOut('out'), tasks: MAP_ALL }).flowName).toBe('inc');
    }
    // A datetime field on a file source, and a lookback on a flow that is not incremental, do nothing: said so.
    const s3Source = { connectorType: 'S3', sourceConnectorProperties: { S3: { bucketName: 'some-bucket' } }, incrementalPullConfig: { datetimeTypeFieldName: 'LastModifiedDate' } };
    const field = checkFlow({ flowName: 'inc', triggerConfig: incremental(), sourceFlowConfig: s3Source, destinationFlowConfigList: localOut('out'), tasks: MAP_ALL });
    expect(field.notices?.join(' ')).toMatch(/datetimeTypeFieldName has no effect: an incremental S3 source reads the files written since the last run/);
    const onDemand = checkFlow({ flowName: 'inc', triggerConfig: { triggerType: 'OnDemand' }, sourceFlowConfig: { connectorType: 'S3', sourceConnectorProperties: { S3: { bucketName: 'some-bucket' } } }, destinationFlowConfigList: localOut('out'), tasks: MAP_ALL, tags: { 'forceflow:lookbackSeconds': '60' } });
    expect(onDemand.ok).toBe(true);
    expect(onDemand.notices?.join(' ')).toMatch(/tags\.forceflow:lookbackSeconds has no effect/);
  });

  it('S3: reads every object first, then only objects created or changed since the last successful run', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-inc-s3-')));
    const out = mkdtempSync(join(tmpdir(), 'ff-inc-s3-out-'));
    const flow = s3Flow('s3-incremental', 'inc-in', out);
    const run = (): Promise<ExecutionRecord> => runFlow({ flow, state, s3Client: s3.client });
    await s3.put('inc-in/a.csv', 'id\na1\na2\n');
    await s3.put('inc-in/b.csv', 'id\nb1\n');
    const first = await run();
    expect(first.executionStatus).toBe('Successful');
    expect(ids(first)).toEqual(['a1', 'a2', 'b1']);
    expect(first.dataPullStartTime).toBeNull();
    expect(first.dataPullEndTime).not.toBeNull();

    // Nothing new: nothing read, the window stays where it was.
    const idle = await run();
    expect(idle.executionStatus).toBe('Successful');
    expect(ids(idle)).toEqual([]);
    expect(idle.executionResult.recordsProcessed).toBe(0);
    expect(await state.lastWindowEnd('s3-incremental')).toBe(first.dataPullEndTime);

    // A new object, and a changed one (rewritten: a new LastModified). Written at once after the last run, they
    // may carry its end's very second: the boundary is read inclusively and what was delivered is skipped.
    await s3.put('inc-in/c.csv', 'id\nc1\n');
    await new Promise((r) => setTimeout(r, 1100));
    await s3.put('inc-in/a.csv', 'id\na1\na2\na3\n');
    const second = await run();
    expect(second.executionStatus).toBe('Successful');
    expect(ids(second)).toEqual(['a1', 'a2', 'a3', 'c1']);
    expect(second.dataPullStartTime).toBe(first.dataPullEndTime);
    expect(Date.parse(String(second.dataPullEndTime))).toBeGreaterThan(Date.parse(String(first.dataPullEndTime)));

    // A deleted object is not an error and reads nothing.
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: 'inc-in/b.csv' }));
    const third = await run();
    expect(ids(third)).toEqual([]);
    state.close();
  });

  it('S3: a failed run does not advance: the next run reads the same objects', async () => {
    const state: RunStateStore = openRunState(mkdtempSync(join(tmpdir(), 'ff-inc-s3-fail-')));
    const out = mkdtempSync(join(tmpdir(), 'ff-inc-s3-fail-out-'));
    const flow = s3Flow('s3-incremental-fail', 'fail-in', out);
    await s3.put('fail-in/x.csv', 'id\nx1\n');
    const first = await runFlow({ flow, state, s3Client: s3.client });
    expect(ids(first)).toEqual(['x1']);
    await new Promise((r) => setTimeout(r, 1100));
    await s3.put('fail-in/y.csv', 'id\ny1\n');
    const failed = await runFlow({ flow, state, s3Client: s3.client, maxBytes: 1 });
    expect(failed.error?.code).toBe('RUN_SIZE_LIMIT');
    expect(await state.lastWindowEnd('s3-incremental-fail')).toBe(first.dataPullEndTime);
    const next = await runFlow({ flow, state, s3Client: s3.client });
    expect(ids(next)).toEqual(['y1']);
    state.close();
  });

  it('LocalFile: windows by mtime; a file stamped exactly at the previous end is read once; firstExecutionFrom bounds the first run; lookback re-reads a late file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-inc-local-'));
    const input = join(dir, 'in');
    mkdirSync(input);
    const state: RunStateStore = openRunState(join(dir, 'state'));
    const base = Math.floor(Date.now() / 1000) - 3600;
    const file = (name: string, body: string, seconds: number): void => {
      writeFileSync(join(input, name), body);
      utimesSync(join(input, name), base + seconds, base + seconds);
    };
    const flow = (name: string, tags?: Record<string, string>): Record<string, unknown> => ({
      flowName: name,
      triggerConfig: incremental({ firstExecutionFrom: base + 5 }),
      sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: input, fileType: 'CSV' } } },
      destinationFlowConfigList: localOut(join(dir, `out-${name}`)),
      tasks: MAP_ALL,
      ...(tags ? { tags } : {}),
    });
    file('old.csv', 'id\nold\n', 0);
    file('p.csv', 'id\np1\n', 10);
    file('q.csv', 'id\nq1\n', 20);
    const plain = flow('local-inc');
    const looking = flow('local-inc-lookback', { 'forceflow:lookbackSeconds': '30' });
    const first = await runFlow({ flow: plain, state });
    await runFlow({ flow: looking, state });
    // Before firstExecutionFrom: old.csv is not read.
    expect(ids(first)).toEqual(['p1', 'q1']);
    expect(first.dataPullEndTime).toBe(new Date((base + 20) * 1000).toISOString());

    // Written after the run, stamped at its end (same second), and a late file stamped before it.
    file('r.csv', 'id\nr1\n', 20);
    file('late.csv', 'id\nlate1\n', 15);
    file('s.csv', 'id\ns1\n', 25);
    const second = await runFlow({ flow: plain, state });
    expect(ids(second)).toEqual(['r1', 's1']);
    const secondLookback = await runFlow({ flow: looking, state });
    expect(ids(secondLookback)).toEqual(['late1', 'r1', 's1']);
    // The lookback reaches back to firstExecutionFrom, not before: old.csv stays unread.
    expect(secondLookback.dataPullStartTime).toBe(new Date((base + 5) * 1000).toISOString());

    // Nothing new: the lookback re-lists every file inside it and reads none, and the window does not move back.
    const third = await runFlow({ flow: looking, state });
    expect(ids(third)).toEqual([]);
    expect(await state.lastWindowEnd('local-inc-lookback')).toBe(new Date((base + 25) * 1000).toISOString());
    state.close();
  });
});
