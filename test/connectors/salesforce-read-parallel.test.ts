import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import {
  DEFAULT_SPLIT_JOB_BYTES, DEFAULT_SPLIT_MIN_BYTES, MAX_SPLIT_RANGES, RowSpool, decideSplit, estimatedFieldBytes, estimatedRecordBytes, expectedSplitJobs, rangeFilters, splitIdSpan, spooledBatches,
} from '../../src/connectors/salesforce/bulk-split.ts';
import { bulkParallelOfTags, bulkParallelTagProblems } from '../../src/connectors/salesforce/split-tags.ts';
import { planRead } from '../../src/connectors/salesforce/read-plan.ts';
import { readCost } from '../../src/connectors/salesforce/budget.ts';
import type { ReadRequest, SourceSplitRecord } from '../../src/core/connector.ts';
import type { Row } from '../../src/core/types.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { to18 } from '../../src/salesforce-wire/ids.ts';
import { captureContext } from '../helpers/run-context.ts';

/** Big objects read in parallel (src/connectors/salesforce/bulk-split.ts): Bulk query jobs over Id ranges. */

const RETRY = { retries: 3, baseDelayMs: 5, maxDelayMs: 20 };
const BULK = { pollInitialMs: 10, pollMaxMs: 20, maxRecords: 2_000, jobRetryBaseMs: 5 };
const RECORDS = 12_000;
const C: ReadRequest = { entity: 'Contact', fields: ['Id', 'LastName', 'Email', 'Birthdate', 'CreatedDate'], apiPreference: 'BULKV2' };

describe('splitIdSpan', () => {
  it('cuts the Id span into equal ranges, open at both ends, each bound a valid 18-char id between the two', () => {
    const min = to18('003000000000001');
    const max = to18('0030000000009zz');
    const ranges = splitIdSpan(min, max, 4);
    expect(ranges).toHaveLength(4);
    expect(ranges[0]?.from).toBeUndefined();
    expect(ranges[3]?.to).toBeUndefined();
    for (let i = 1; i < 4; i++) {
      const bound = ranges[i]?.from as string;
      expect(bound).toHaveLength(18);
      expect(bound).toBe(to18(bound.slice(0, 15)));
      expect(ranges[i - 1]?.to).toBe(bound);
      expect(bound > min && bound < max).toBe(true);
      if (i > 1) expect(bound > (ranges[i - 1]?.from as string)).toBe(true);
    }
    expect(rangeFilters(ranges[1] ?? {}).map((f) => f.operator)).toEqual(['GREATER_THAN_OR_EQUAL_TO', 'LESS_THAN']);
  });

  it('one range when the ids are of different objects or too close together', () => {
    expect(splitIdSpan(to18('003000000000001'), to18('001000000000009'), 4)).toEqual([{}]);
    expect(splitIdSpan(to18('003000000000001'), to18('003000000000001'), 4)).toEqual([{}]);
    expect(splitIdSpan(to18('003000000000001'), to18('003000000000003'), 8)).toHaveLength(2);
  });
});

describe('the API budget of a split read', () => {
  it('counts every job and the two boundary queries', () => {
    expect(expectedSplitJobs({ jobs: 4 }, 5_000_000)).toBe(4);
    expect(expectedSplitJobs({ jobs: 4 }, 999_999)).toBe(1);
    expect(expectedSplitJobs({ jobs: 4, minRecords: 10 }, undefined)).toBe(1);
    expect(expectedSplitJobs({ jobs: 40, minRecords: 0 }, 1)).toBe(16);
    const one = readCost('BULKV2', 5_000_000);
    const four = readCost('BULKV2', 5_000_000, { bulkJobs: 4 });
    expect(four.bulkV2QueryJobs).toBe(4);
    expect(four.apiRequests).toBeGreaterThanOrEqual(one.apiRequests + 2 + 3);
    expect(four.basis).toMatch(/4 parallel Bulk query jobs/);
  });
});

describe('the split by estimated size', () => {
  const GiB = 1024 ** 3;
  it('estimates a record from describe: fixed-width types at their widest, text at its declared length up to 255', () => {
    expect(estimatedFieldBytes({ type: 'id', length: 18 })).toBe(18 + 3);
    expect(estimatedFieldBytes({ type: 'datetime', length: 0 })).toBe(24 + 3);
    expect(estimatedFieldBytes({ type: 'string', length: 80 })).toBe(80 + 3);
    expect(estimatedFieldBytes({ type: 'textarea', length: 131_072 })).toBe(255 + 3);
    expect(estimatedRecordBytes([{ type: 'id', length: 18 }, { type: 'boolean', length: 0 }])).toBe(21 + 8 + 1);
  });

  it('the size triggers the split below the record threshold, and more ranges keep each share under the per-job bound', () => {
    // 100,000 records of 30 KB: 2.79 GiB, far below 1,000,000 records but above the 2 GiB size threshold.
    const wide = decideSplit({ jobs: 4 }, 100_000, 30_000);
    expect(wide.ranges).toBe(4);
    expect(wide.reason).toMatch(/parallel size threshold of 2\.00 GiB/);
    expect(wide.reason).not.toMatch(/threshold of 1,000,000 records/);
    expect(decideSplit({ jobs: 4 }, 100_000, 3_000).ranges).toBe(1);
    // 20 GiB estimated, 4 jobs at once: 10 ranges of at most 2 GiB, 4 running at a time.
    const big = decideSplit({ jobs: 4 }, 10_000_000, 2 * GiB / 1_000_000);
    expect(big.estimatedBytes).toBe(20 * GiB);
    expect(big.ranges).toBe(10);
    expect(big.concurrency).toBe(4);
    expect((big.estimatedBytes as number) / big.ranges).toBeLessThanOrEqual(DEFAULT_SPLIT_JOB_BYTES);
    expect(big.reason).toMatch(/10 Bulk query jobs over Id ranges, 4 at once, more ranges than jobs so each range's share stays at or below 2\.00 GiB/);
    // Never more than MAX_SPLIT_RANGES ranges, whatever the size.
    const huge = decideSplit({ jobs: 16 }, 1e9, 4_000);
    expect(huge.ranges).toBe(MAX_SPLIT_RANGES);
    expect(huge.concurrency).toBe(16);
    expect(huge.reason).toMatch(/as small as 64 ranges allow/);
    // Off stays off; no COUNT, no split.
    expect(decideSplit({ jobs: 1 }, 1e9, 4_000).ranges).toBe(1);
    expect(decideSplit({ jobs: 4 }, undefined, 4_000).ranges).toBe(1);
    // The budget's estimate counts the ranges.
    expect(expectedSplitJobs({ jobs: 4 }, 10_000_000, 2 * GiB / 1_000_000)).toBe(10);
    expect(DEFAULT_SPLIT_MIN_BYTES).toBe(2 * GiB);
  });

  it('the forceflow:bulkParallelMinBytes tag: digits or a unit; anything else is a problem naming it', () => {
    expect(bulkParallelOfTags({ 'forceflow:bulkParallelMinBytes': '5GB' }).minBytes).toBe(5e9);
    expect(bulkParallelOfTags({ 'forceflow:bulkParallelMinBytes': '1.5GiB' }).minBytes).toBe(1.5 * GiB);
    expect(bulkParallelOfTags({ 'forceflow:bulkParallelMinBytes': '1000' }).minBytes).toBe(1000);
    expect(bulkParallelTagProblems({ 'forceflow:bulkParallelMinBytes': 'big' })).toEqual([{ path: 'tags.forceflow:bulkParallelMinBytes', message: expect.stringMatching(/not a number of bytes/) as unknown as string }]);
    expect(bulkParallelTagProblems({ 'forceflow:bulkParallelMinBytes': '2GB' })).toEqual([]);
  });
});

describe('the spool of ranges read ahead', () => {
  it('gives back the rows it was given, values and key order alike, whatever the read chunk size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-spool-'));
    const names = ['Id', 'Text', 'N', 'B', 'Address'];
    const rows: Row[] = Array.from({ length: 2_500 }, (_, i) => ({
      Id: `003${String(i).padStart(15, '0')}`,
      Text: i % 7 === 0 ? null : `line ${i}\nnext "quoted", ünïcode ✓ \u2028 ${'x'.repeat(i % 50)}`,
      N: i % 5 === 0 ? null : i * 1.5 - 1e6,
      B: i % 2 === 0,
      Address: i % 3 === 0 ? null : { street: `${i} Main St`, city: 'Paris', latitude: 48.85 },
    }));
    const spool = new RowSpool(join(dir, 'range.jsonl'));
    for (let i = 0; i < rows.length; i += 333) await spool.add(rows.slice(i, i + 333), names);
    await spool.close();
    const schema = { entity: 'Contact', fields: [] };
    for (const chunk of [64, 4096, 1 << 20]) {
      const back: Row[] = [];
      let batches = 0;
      for await (const b of spooledBatches(spool.path, schema, names, 1000, chunk)) {
        back.push(...b.rows);
        batches++;
      }
      expect(JSON.stringify(back)).toBe(JSON.stringify(rows));
      expect(batches).toBe(3);
    }
  });
});

describe('Salesforce read: parallel Bulk jobs over Id ranges', () => {
  let emu: RunningEmulator;
  let work: string;
  beforeAll(async () => {
    emu = await startEmulator({ generate: { Contact: RECORDS }, seed: 11 });
    work = mkdtempSync(join(tmpdir(), 'ff-split-'));
  });
  afterAll(async () => emu?.close());
  const put = (path: string, body: unknown) => fetch(`${emu.controlUrl}${path}`, { method: 'PUT', body: JSON.stringify(body), headers: emu.controlHeaders });
  afterEach(async () => {
    await put('/faults', { spec: '' });
    await put('/bulk', { queryBytesPerSecond: 0 });
  });

  async function read(req: ReadRequest, jobs: number, signal?: AbortSignal, onBatch?: (rows: number) => void) {
    const ctx = captureContext(signal);
    const { source, client } = connectSalesforce(emu.connectorProfile, {
      retry: RETRY, log: ctx.log, ...(signal ? { signal } : {}),
      source: { bulk: BULK, ...(jobs > 1 ? { split: { jobs, minRecords: 0, tempDir: work } } : {}) },
    });
    const rows: Row[] = [];
    let split: SourceSplitRecord | undefined;
    const error = await (async () => {
      const stream = await source.open(req, ctx);
      split = stream.split?.();
      for await (const b of stream.batches) {
        rows.push(...b.rows);
        onBatch?.(rows.length);
      }
    })().catch((e: unknown) => e);
    return { rows, error: error as (Error & { code?: string }) | undefined, client, ctx, split };
  }

  async function queryJobs(): Promise<Array<{ id: string; state: string }>> {
    const res = await fetch(`${emu.instanceUrl}/services/data/v60.0/jobs/query`, { headers: { Authorization: `Bearer ${emu.accessToken}` } });
    return ((await res.json()) as { records: Array<{ id: string; state: string }> }).records;
  }

  it('the same records in the same order as one job, each job over its own range, timings in the split record', async () => {
    const serial = await read(C, 1);
    expect(serial.error).toBeUndefined();
    expect(serial.rows).toHaveLength(RECORDS);
    const parallel = await read(C, 4);
    expect(parallel.error).toBeUndefined();
    expect(JSON.stringify(parallel.rows)).toBe(JSON.stringify(serial.rows));
    const split = parallel.split as SourceSplitRecord;
    expect(split.jobs).toHaveLength(4);
    expect(split.boundaryCalls).toBe(3); // the COUNT (BULKV2 takes none otherwise) and the two Id bounds
    expect(split.jobs.every((j) => j.status === 'done' && j.jobIds.length === 1 && j.ms !== null && j.startedAt !== null)).toBe(true);
    expect(split.jobs.reduce((n, j) => n + j.records, 0)).toBe(RECORDS);
    // Balanced: generated Ids are dense, so each range holds about a quarter.
    for (const j of split.jobs) expect(Math.abs(j.records - RECORDS / 4)).toBeLessThan(RECORDS / 20);
    expect(new Set(split.jobs.flatMap((j) => j.jobIds)).size).toBe(4);
    // Ranges read ahead of the output went through the spool, which is removed afterwards.
    expect(split.jobs.some((j) => j.spooled)).toBe(true);
    expect(readdirSync(work)).toEqual([]);
  });

  it('an estimated size over the threshold splits a read below the record threshold, into more ranges than jobs to bound each share', async () => {
    const ctx = captureContext();
    const { source } = connectSalesforce(emu.connectorProfile, {
      retry: RETRY, log: ctx.log,
      // The record threshold is out of reach; the size threshold is 1 byte, and each range's share at most a fifth.
      source: { bulk: BULK, split: { jobs: 2, minRecords: RECORDS + 1, minBytes: 1, maxJobBytes: 1, tempDir: work } },
    });
    const stream = await source.open(C, ctx);
    const rows: Row[] = [];
    for await (const b of stream.batches) rows.push(...b.rows);
    const split = stream.split?.() as SourceSplitRecord;
    expect(split.jobs).toHaveLength(MAX_SPLIT_RANGES);
    expect(split.concurrency).toBe(2);
    const describe = await source.describe('Contact');
    const width = estimatedRecordBytes(planRead(describe, (C.fields ?? []).map((f) => describe.require(f, 'test')), 'BULKV2').select);
    expect(split.estimate).toEqual({ records: RECORDS, recordBytes: width, bytes: RECORDS * width });
    expect(split.reason).toMatch(/parallel size threshold/);
    expect(split.reason).toMatch(/64 Bulk query jobs over Id ranges, 2 at once/);
    expect(split.jobs.every((j) => j.status === 'done' && j.bytes > 0)).toBe(true);
    expect(split.jobs.reduce((n, j) => n + j.records, 0)).toBe(RECORDS);
    const serial = await read(C, 1);
    expect(JSON.stringify(rows)).toBe(JSON.stringify(serial.rows));
  });

  it('below the threshold the read stays one job', async () => {
    const ctx = captureContext();
    const { source } = connectSalesforce(emu.connectorProfile, { retry: RETRY, log: ctx.log, source: { bulk: BULK, split: { jobs: 4, minRecords: RECORDS + 1 } } });
    const stream = await source.open(C, ctx);
    expect(stream.split).toBeUndefined();
    let n = 0;
    for await (const b of stream.batches) n += b.rows.length;
    expect(n).toBe(RECORDS);
  });

  it('a job Failed for a temporary reason is run again alone; the others run once', async () => {
    await put('/faults', { spec: 'bulkQuery.jobFail.next=1' });
    const r = await read(C, 3);
    expect(r.error).toBeUndefined();
    expect(r.rows).toHaveLength(RECORDS);
    const split = r.split as SourceSplitRecord;
    expect(split.jobs.map((j) => j.jobIds.length).sort()).toEqual([1, 1, 2]);
    expect(split.jobs.every((j) => j.status === 'done')).toBe(true);
    const serial = await read(C, 1);
    expect(r.rows.map((x) => x['Id'])).toEqual(serial.rows.map((x) => x['Id']));
  });

  it('a job that fails for good stops the read, and every other job is stopped', async () => {
    await put('/faults', { spec: 'bulkQuery.jobFail=1' });
    const r = await read(C, 3);
    expect(isForceflowError(r.error, 'SF_BULK_JOB_FAILED_TEMPORARY')).toBe(true);
    const split = r.split as SourceSplitRecord;
    expect(split.jobs.some((j) => j.status === 'failed')).toBe(true);
    expect(split.jobs.every((j) => j.status === 'failed' || j.status === 'aborted')).toBe(true);
    const ids = new Set(split.jobs.flatMap((j) => j.jobIds));
    expect((await queryJobs()).filter((j) => ids.has(j.id) && !['Failed', 'Aborted'].includes(j.state))).toEqual([]);
  });

  it('a cancelled run aborts every job of the split', async () => {
    // Slow jobs (the per-job throughput knob): the read is cancelled while every job is serving results.
    await put('/bulk', { queryBytesPerSecond: 40_000 });
    const controller = new AbortController();
    const r = await read(C, 4, controller.signal, () => controller.abort());
    expect(isForceflowError(r.error, 'RUN_CANCELED')).toBe(true);
    const split = r.split as SourceSplitRecord;
    expect(split.jobs.every((j) => j.status === 'aborted')).toBe(true);
    // Complete jobs cannot be aborted on Salesforce: they are deleted, with their results.
    const ids = new Set(split.jobs.flatMap((j) => j.jobIds));
    expect(ids.size).toBe(4);
    expect((await queryJobs()).filter((j) => ids.has(j.id))).toEqual([]);
    expect(readdirSync(work)).toEqual([]);
  });

  it('a run cancelled while its jobs are still processing leaves every job Aborted in the org', async () => {
    const slow = await startEmulator({ generate: { Contact: RECORDS }, seed: 11, bulkProcessingDelayMs: 600_000 });
    try {
      const controller = new AbortController();
      const ctx = captureContext(controller.signal);
      const { source } = connectSalesforce(slow.connectorProfile, { retry: RETRY, log: ctx.log, signal: controller.signal, source: { bulk: BULK, split: { jobs: 4, minRecords: 0, tempDir: work } } });
      const stream = await source.open(C, ctx);
      const iterator = stream.batches[Symbol.asyncIterator]();
      const pending = iterator.next().catch((e: unknown) => e);
      const split = stream.split?.() as SourceSplitRecord;
      // Cancel once all four jobs exist (they poll InProgress for ten minutes).
      while (split.jobs.some((j) => j.jobIds.length === 0)) await new Promise((r) => setTimeout(r, 10));
      controller.abort();
      expect(isForceflowError(await pending, 'RUN_CANCELED')).toBe(true);
      const res = await fetch(`${slow.instanceUrl}/services/data/v60.0/jobs/query`, { headers: { Authorization: `Bearer ${slow.accessToken}` } });
      const jobs = ((await res.json()) as { records: Array<{ id: string; state: string }> }).records;
      expect(jobs.map((j) => j.state)).toEqual(['Aborted', 'Aborted', 'Aborted', 'Aborted']);
      expect(new Set(jobs.map((j) => j.id))).toEqual(new Set(split.jobs.flatMap((j) => j.jobIds)));
      expect(split.jobs.every((j) => j.status === 'aborted')).toBe(true);
    } finally {
      await slow.close();
    }
  });

  it('a flow run: output files byte-identical to a one-job run, the split in the run record (flow tag)', async () => {
    const flow = (name: string, tags?: Record<string, string>): Record<string, unknown> => ({
      flowName: name,
      triggerConfig: { triggerType: 'OnDemand' },
      ...(tags ? { tags } : {}),
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'emu', sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: 'BULKV2' } } },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(work, 'out', name), outputFormatConfig: { fileType: 'CSV' } } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: C.fields, connectorOperator: { Salesforce: 'PROJECTION' } },
        ...(C.fields ?? []).map((f) => ({ taskType: 'Map', sourceFields: [f], destinationField: f, connectorOperator: { Salesforce: 'NO_OP' } })),
      ],
    });
    const salesforce = { retry: RETRY, bulk: BULK };
    const profiles = { emu: emu.connectorProfile };
    const one = await runFlow({ flow: flow('one'), profiles, salesforce });
    const many = await runFlow({ flow: flow('many', { 'forceflow:bulkParallelJobs': '4', 'forceflow:bulkParallelMinRecords': '1000' }), profiles, salesforce });
    expect(one.error).toBeNull();
    expect(many.error).toBeNull();
    expect(one.sourceSplit).toBeNull();
    expect(many.sourceSplit?.jobs).toHaveLength(4);
    expect(many.sourceSplit?.reason).toMatch(/4 Bulk query jobs over Id ranges, 4 at once/);
    expect(many.executionResult.recordsProcessed).toBe(RECORDS);
    expect(one.outputs).toHaveLength(1);
    expect(many.outputs).toHaveLength(1);
    const a = readFileSync(one.outputs[0] as string);
    const b = readFileSync(many.outputs[0] as string);
    expect(a.length).toBeGreaterThan(RECORDS * 20);
    expect(b.equals(a)).toBe(true);
  });

  it('the size guard (--max-bytes) applies to each job of a split read, not to their total', async () => {
    const flow = (name: string, tags?: Record<string, string>): Record<string, unknown> => ({
      flowName: name,
      triggerConfig: { triggerType: 'OnDemand' },
      ...(tags ? { tags } : {}),
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'emu', sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: 'BULKV2' } } },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(work, 'guard', name), outputFormatConfig: { fileType: 'CSV' } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' } }],
    });
    const salesforce = { retry: RETRY, bulk: BULK };
    const profiles = { emu: emu.connectorProfile };
    // Split by size (the tag): 12,000 records are far below the default record threshold.
    const tags = { 'forceflow:bulkParallelJobs': '4', 'forceflow:bulkParallelMinBytes': '1KB' };
    const whole = await runFlow({ flow: flow('whole'), profiles, salesforce });
    expect(whole.error).toBeNull();
    const total = whole.executionResult.bytesProcessed;
    // A guard at 60% of the read: one job passes it, so the serial run stops...
    const maxBytes = Math.floor(total * 0.6);
    const serial = await runFlow({ flow: flow('serial'), profiles, salesforce, maxBytes });
    expect(serial.error?.code).toBe('RUN_SIZE_LIMIT');
    // ...while four jobs of about a quarter each stay under it, though together they read more.
    const split = await runFlow({ flow: flow('split', tags), profiles, salesforce, maxBytes });
    expect(split.error).toBeNull();
    expect(split.executionResult.recordsProcessed).toBe(RECORDS);
    expect(split.executionResult.bytesProcessed).toBeGreaterThan(maxBytes);
    expect(split.sourceSplit?.reason).toMatch(/12,000 records × [\d,]+ bytes estimated per record = [\d.]+ MiB, at or above the parallel size threshold of 1,000 bytes: /);
    expect(split.sourceSplit?.estimate?.records).toBe(RECORDS);
    const jobs = split.sourceSplit?.jobs ?? [];
    expect(jobs.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...jobs.map((j) => j.bytes))).toBeLessThanOrEqual(maxBytes);
    expect(jobs.reduce((n, j) => n + j.bytes, 0)).toBe(split.executionResult.bytesProcessed);
    // A guard at a tenth: the ranges' estimated shares are kept under it too, so more ranges share the read.
    const tenth = Math.floor(total / 10);
    const many = await runFlow({ flow: flow('tenth', tags), profiles, salesforce, maxBytes: tenth });
    expect(many.error).toBeNull();
    expect(many.sourceSplit?.jobs.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...(many.sourceSplit?.jobs ?? []).map((j) => j.bytes))).toBeLessThanOrEqual(tenth);
    expect(readFileSync(many.outputs[0] as string).equals(readFileSync(whole.outputs[0] as string))).toBe(true);
  });

  it('a job of a split read that passes the size guard stops the read as it reads (RUN_SIZE_LIMIT), and every other job is stopped', async () => {
    const serial = await read(C, 1);
    const total = serial.client.recordBytesReceived;
    // At most 64 ranges: a guard of 1/200 of the read is below every range's share.
    const maxBytes = Math.floor(total / 200);
    const r = await read({ ...C, maxBytes }, 4);
    expect(isForceflowError(r.error, 'RUN_SIZE_LIMIT')).toBe(true);
    expect(r.error?.message).toMatch(/which applies to each job/);
    const details = (r.error as unknown as { details: { range: number; jobBytes: number; maxBytes: number } }).details;
    expect(details.maxBytes).toBe(maxBytes);
    expect(details.jobBytes).toBeGreaterThan(maxBytes);
    const split = r.split as SourceSplitRecord;
    expect(split.jobs).toHaveLength(MAX_SPLIT_RANGES);
    expect(split.jobs[details.range]?.status).toBe('failed');
    // Stopped early: far from the whole read, and no job but those read whole left in the org.
    expect(r.client.recordBytesReceived).toBeLessThan(total);
    const stopped = split.jobs.filter((j) => j.status !== 'done');
    expect(stopped.every((j) => j.status === 'failed' || j.status === 'aborted')).toBe(true);
    const ids = new Set(stopped.flatMap((j) => j.jobIds));
    expect((await queryJobs()).filter((j) => ids.has(j.id) && j.state !== 'Aborted')).toEqual([]);
  });

  it('the emulator: a Bulk query over an Id range (every operator, bounds on record ids) serves what the REST query selects', async () => {
    const headers = { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' };
    const base = `${emu.instanceUrl}/services/data/v60.0`;
    const rest = async (soql: string): Promise<string[]> => {
      const ids: string[] = [];
      let url: string | null = `${base}/query?q=${encodeURIComponent(soql)}`;
      while (url) {
        const page = (await (await fetch(url, { headers })).json()) as { records: Array<{ Id: string }>; nextRecordsUrl?: string };
        ids.push(...page.records.map((r) => r.Id));
        url = page.nextRecordsUrl ? `${emu.instanceUrl}${page.nextRecordsUrl}` : null;
      }
      return ids;
    };
    const bulk = async (soql: string): Promise<string[]> => {
      const job = (await (await fetch(`${base}/jobs/query`, { method: 'POST', headers, body: JSON.stringify({ operation: 'query', query: soql }) })).json()) as { id: string };
      while (((await (await fetch(`${base}/jobs/query/${job.id}`, { headers })).json()) as { state: string }).state !== 'JobComplete') await new Promise((r) => setTimeout(r, 10));
      const res = await fetch(`${base}/jobs/query/${job.id}/results`, { headers });
      const declared = Number(res.headers.get('sforce-numberofrecords'));
      const ids = (await res.text()).trim().split('\n').slice(1).map((l) => l.replace(/"/g, ''));
      expect(ids).toHaveLength(declared);
      return ids;
    };
    const all = await rest('SELECT Id FROM Contact WHERE Id != null ORDER BY Id');
    // ORDER BY Id DESC (the highest-Id boundary query) reads the scan backwards: the same as sorting.
    expect(await rest('SELECT Id FROM Contact ORDER BY Id DESC')).toEqual([...all].reverse());
    expect(await rest('SELECT Id FROM Contact ORDER BY Id DESC LIMIT 3')).toEqual(all.slice(-3).reverse());
    const accounts = await rest('SELECT Id FROM Account ORDER BY Id');
    expect(accounts.length).toBeGreaterThan(1);
    expect(await rest('SELECT Id FROM Account ORDER BY Id DESC')).toEqual([...accounts].reverse());
    const a = all[100] as string;
    const b = all[2_345] as string;
    const odd = to18(`${a.slice(0, 14)}z`); // between two record ids
    for (const where of [`Id >= '${a}' AND Id < '${b}'`, `Id > '${a}' AND Id <= '${b}'`, `Id > '${odd}'`, `Id < '${odd}'`, `Id >= '${b}' AND Id < '${a}'`]) {
      const expected = await rest(`SELECT Id FROM Contact WHERE ${where} AND LastName != 'no such name' ORDER BY Id`);
      expect(await bulk(`SELECT Id FROM Contact WHERE ${where}`), where).toEqual(expected);
    }
  });

  it('the emulator knob: PUT /__emulator/bulk sets the per-job result throughput, and refuses a bad value', async () => {
    const ok = await put('/bulk', { queryBytesPerSecond: 1_000_000 });
    expect(await ok.json()).toMatchObject({ queryBytesPerSecond: 1_000_000 });
    const bad = await put('/bulk', { queryBytesPerSecond: -1 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toMatch(/queryBytesPerSecond/);
    const now = await fetch(`${emu.controlUrl}/bulk`, { headers: emu.controlHeaders });
    expect(await now.json()).toMatchObject({ queryBytesPerSecond: 1_000_000 });
  });

  it('a bad tag is a flow problem naming the tag', async () => {
    const record = await runFlow({
      flow: {
        flowName: 'bad-tag', triggerConfig: { triggerType: 'OnDemand' }, tags: { 'forceflow:bulkParallelJobs': 'many' },
        sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'emu', sourceConnectorProperties: { Salesforce: { object: 'Contact' } } },
        destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(work, 'bad') } } }],
        tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' } }],
      },
      profiles: { emu: emu.connectorProfile },
    }).catch((e: unknown) => e);
    expect(isForceflowError(record, 'FLOW_INVALID')).toBe(true);
    expect((record as Error).message).toMatch(/forceflow:bulkParallelJobs/);
  });
});
