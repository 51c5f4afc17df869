import { beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BulkWriter, parseBulkError } from '../../src/connectors/salesforce/bulk-writer.ts';
import { describeObject } from '../../src/connectors/salesforce/describe.ts';
import { FAILED, JobLedger, MatchPass, SUCCEEDED } from '../../src/connectors/salesforce/reconcile.ts';
import { CsvSpool } from '../../src/connectors/salesforce/spool.ts';
import { isForceflowError, type ForceflowError } from '../../src/core/errors.ts';
import type { RecordBatch, Row } from '../../src/core/types.ts';
import { batches, destinationConfig as cfg, errorRows, FAST_DESTINATION, sumCalls as sum, writeEnv } from '../helpers/salesforce-write.ts';
import { captureContext } from '../helpers/run-context.ts';
import { createSalesforceDestination, resolveTarget } from '../../src/connectors/salesforce/destination.ts';
import type { WriteProgress } from '../../src/core/connector.ts';

const env = writeEnv({ emulator: { seed: 7 }, tmpPrefix: 'ff-sfdest-' });
const { calls, faults, faultStats, query, write } = env;

beforeEach(async () => {
  await faults('');
});

/** Accounts whose External_Id__c starts with the prefix: ext → records (to see duplicates). */
async function byExt(prefix: string): Promise<Map<string, Record<string, unknown>[]>> {
  const recs = await query(`SELECT Id, Name, External_Id__c, NumberOfEmployees, AnnualRevenue, IsDeleted FROM Account WHERE External_Id__c LIKE '${prefix}%'`);
  const m = new Map<string, Record<string, unknown>[]>();
  for (const r of recs) m.set(String(r['External_Id__c']), [...(m.get(String(r['External_Id__c'])) ?? []), r]);
  return m;
}

function accounts(prefix: string, n: number, from = 0): Row[] {
  return Array.from({ length: n }, (_, i) => ({ Name: `${prefix} ${from + i}`, External_Id__c: `${prefix}-${from + i}`, NumberOfEmployees: String(from + i) }));
}

/** Every input written exactly once, or in the result's failures; never both, never twice. */
async function expectExact(prefix: string, n: number, result: { written: number; failed: readonly { index: number }[] }): Promise<void> {
  const found = await byExt(prefix);
  const failedIdx = new Set(result.failed.map((f) => f.index));
  expect(failedIdx.size).toBe(result.failed.length);
  for (let i = 0; i < n; i++) {
    const copies = found.get(`${prefix}-${i}`)?.length ?? 0;
    if (failedIdx.has(i)) expect(copies, `record ${i} failed but exists`).toBe(0);
    else expect(copies, `record ${i}`).toBe(1);
  }
  expect(result.written + result.failed.length).toBe(n);
}

describe.each(['REST_SYNC', 'BULKV2'] as const)('every operation through %s', (api) => {
  const prefix = `OPS-${api}`;
  it('INSERT, UPDATE by Id, UPSERT (created and updated), DELETE (visible through queryAll)', async () => {
    const before = await calls();
    const ins = await write(cfg({ apiPreference: api }), accounts(prefix, 5));
    expect(ins.result).toMatchObject({ written: 5, failed: [], api, created: 5 });
    const after = await calls();
    const usedRest = sum(after, /composite\/sobjects/) - sum(before, /composite\/sobjects/);
    const usedBulk = sum(after, /jobs\/ingest/) - sum(before, /jobs\/ingest/);
    expect(api === 'REST_SYNC' ? usedRest : usedBulk).toBeGreaterThan(0);
    expect(api === 'REST_SYNC' ? usedBulk : usedRest).toBe(0);
    let found = await byExt(prefix);
    expect(found.size).toBe(5);
    expect(found.get(`${prefix}-3`)?.[0]?.['NumberOfEmployees']).toBe(3);

    // UPDATE by Id: set NumberOfEmployees and AnnualRevenue (null clears).
    const ids = [...found.values()].map((r) => ({ Id: String(r[0]?.['Id']), NumberOfEmployees: 1000, AnnualRevenue: null }));
    const upd = await write(cfg({ apiPreference: api, writeOperationType: 'UPDATE', idFieldNames: ['Id'] }), ids);
    expect(upd.result).toMatchObject({ written: 5, failed: [], updated: 5 });
    found = await byExt(prefix);
    for (const [, r] of found) expect(r[0]?.['NumberOfEmployees']).toBe(1000);

    // UPSERT: two existing (updated), three new (created).
    const up = await write(cfg({ apiPreference: api, writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'] }), [
      ...accounts(prefix, 2).map((r) => ({ ...r, Name: `${String(r['Name'])} v2` })),
      ...accounts(prefix, 3, 5),
    ]);
    expect(up.result).toMatchObject({ written: 5, created: 3, updated: 2, failed: [] });
    found = await byExt(prefix);
    expect(found.size).toBe(8);
    expect(found.get(`${prefix}-1`)?.[0]?.['Name']).toBe(`${prefix} 1 v2`);

    // DELETE: ids from the mapped Id field, other fields ignored.
    const del = [...found.values()].slice(0, 4).map((r) => ({ Id: String(r[0]?.['Id']), Name: 'ignored', Bogus: 'x' }));
    const d = await write(cfg({ apiPreference: api, writeOperationType: 'DELETE' }), del);
    expect(d.result).toMatchObject({ written: 4, failed: [] });
    expect((await byExt(prefix)).size).toBe(4);
    const all = await query(`SELECT Id, IsDeleted FROM Account WHERE Id IN (${del.map((x) => `'${x.Id}'`).join(',')})`, true);
    expect(all).toHaveLength(4);
    expect(all.every((r) => r['IsDeleted'] === true)).toBe(true);
  });
});

describe('AUTOMATIC', () => {
  it('writes 999 records through REST (5 calls of at most 200) and 1,000 through one Bulk job', async () => {
    let before = await calls();
    const small = await write(cfg({}), accounts('AUTO999', 999));
    let after = await calls();
    expect(small.result.api).toBe('REST_SYNC');
    expect(small.result.apiReason).toMatch(/999 records is below the destination threshold of 1,000/);
    expect(sum(after, /POST \/services\/data\/:version\/composite\/sobjects$/) - sum(before, /POST \/services\/data\/:version\/composite\/sobjects$/)).toBe(5);
    expect(sum(after, /jobs\/ingest/) - sum(before, /jobs\/ingest/)).toBe(0);
    await expectExact('AUTO999', 999, small.result);

    before = await calls();
    const big = await write(cfg({}), accounts('AUTO1000', 1000));
    after = await calls();
    expect(big.result.api).toBe('BULKV2');
    expect(big.result.apiReason).toMatch(/1,000 records is at or above the destination threshold of 1,000/);
    expect(sum(after, /POST \/services\/data\/:version\/jobs\/ingest$/) - sum(before, /POST \/services\/data\/:version\/jobs\/ingest$/)).toBe(1);
    expect(sum(after, /composite\/sobjects/) - sum(before, /composite\/sobjects/)).toBe(0);
    expect(big.result.outputs).toHaveLength(1);
    await expectExact('AUTO1000', 1000, big.result);
  });

  it('splits a Bulk run into jobs of at most jobBytes of CSV', async () => {
    const rows = accounts('SPLIT', 3000).map((r) => ({ ...r, Description: 'x'.repeat(200) }));
    const { result } = await write(cfg({}), rows, { jobBytes: 256 * 1024 });
    // ~3000 × ~240 bytes = ~720 KB → 3 jobs of ≤ 256 KB.
    expect(result.outputs?.length).toBe(3);
    await expectExact('SPLIT', 3000, result);
  });

  /** Writes 3,000 wide rows in jobs of 256 KB; counts the jobs created before the last input batch is read. */
  async function jobsBeforeLastBatch(prefix: string, config: Parameters<typeof cfg>[0], waitMs = 10_000): Promise<{ early: number; result: Awaited<ReturnType<ReturnType<typeof createSalesforceDestination>['write']>> }> {
    const rows = accounts(prefix, 3000).map((r) => ({ ...r, Description: 'x'.repeat(200) }));
    const ctx = captureContext();
    const dest = createSalesforceDestination(env.client(ctx.log), cfg({ apiPreference: 'BULKV2', ...config }), { flowName: 'f', executionId: prefix, tempDir: env.dir, ...FAST_DESTINATION, jobBytes: 256 * 1024 });
    let early = 0;
    async function* input(): AsyncGenerator<RecordBatch> {
      for await (const batch of batches(rows)) {
        if (batch.rows.length > 0 && batch.rows[0] === rows[2500]) {
          // The last batch waits (up to waitMs) for the first job to be created.
          for (let i = 0; i < waitMs / 50 && !ctx.lines.some((l) => l['msg'] === 'bulk ingest job created'); i++) await new Promise((r) => setTimeout(r, 50));
          early = ctx.lines.filter((l) => l['msg'] === 'bulk ingest job created').length;
        }
        yield batch;
      }
    }
    const result = await dest.write(input(), ctx);
    return { early, result };
  }

  it('sends each upsert job as soon as its file is spooled, while the input is still being read', async () => {
    const { early, result } = await jobsBeforeLastBatch('EARLY', { writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'] });
    expect(early).toBeGreaterThan(0);
    expect(result.outputs?.length).toBe(3);
    await expectExact('EARLY', 3000, result);
  });

  it('starts with a job of minJobBytes, sizes each next one by what was spooled while the one before ran (at most jobBytes), and reconciles every row while jobs overlap their results', async () => {
    const rows = accounts('RAMP', 3000).map((r) => ({ ...r, Description: 'x'.repeat(200) }));
    const ctx = captureContext();
    const dest = createSalesforceDestination(env.client(ctx.log), cfg({ apiPreference: 'BULKV2', writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'] }), { flowName: 'f', executionId: 'RAMP', tempDir: env.dir, ...FAST_DESTINATION, jobBytes: 256 * 1024, minJobBytes: 64 * 1024 });
    const result = await dest.write(batches(rows), ctx);
    const sizes = ctx.lines.filter((l) => l['msg'] === 'bulk ingest job created').map((l) => l['bytes'] as number);
    // ~720 KB: the first job at 64 KB (nothing runs yet), the others between 64 and 256 KB but the last.
    expect(sizes.length).toBe(result.outputs?.length);
    expect(sizes[0]).toBeLessThanOrEqual(64 * 1024 + 300);
    expect(sizes[0]).toBeGreaterThanOrEqual(64 * 1024);
    for (const size of sizes.slice(1, -1)) expect(size).toBeGreaterThanOrEqual(64 * 1024);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(256 * 1024);
    await expectExact('RAMP', 3000, result);
  });

  it('a file grows to jobBytes while the job before it is still being created and uploaded', async () => {
    const rows = accounts('GROW', 3000).map((r) => ({ ...r, Description: 'x'.repeat(200) }));
    // Every ingest call takes 100 ms: the first job is not closed before the second file is full.
    await faults('bulkIngest.delay=100');
    const ctx = captureContext();
    const dest = createSalesforceDestination(env.client(ctx.log), cfg({ apiPreference: 'BULKV2', writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'] }), { flowName: 'f', executionId: 'GROW', tempDir: env.dir, ...FAST_DESTINATION, jobBytes: 256 * 1024, minJobBytes: 64 * 1024 });
    const result = await dest.write(batches(rows), ctx);
    const sizes = ctx.lines.filter((l) => l['msg'] === 'bulk ingest job created').map((l) => l['bytes'] as number);
    expect(sizes[0]).toBeLessThanOrEqual(64 * 1024 + 300);
    expect(sizes[1]).toBeGreaterThan(256 * 1024 - 300);
    await expectExact('GROW', 3000, result);
  });

  it('a job\'s spool files are removed once it is reconciled: the spool folder holds the files waiting, not the whole input', async () => {
    const ctx = captureContext();
    const client = env.client(ctx.log);
    const described = await describeObject(client, 'Account');
    const target = resolveTarget(described, cfg({ writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'] }), ['Name', 'External_Id__c']);
    let written = 0;
    const reporter = { stopped: false, written: (n: number): void => void (written += n), failed: async (): Promise<void> => undefined };
    const dir = await mkdtemp(join(env.dir, 'removed-'));
    const writer = new BulkWriter(client, target, reporter, ctx, dir, FAST_DESTINATION.bulk);
    const spool = new CsvSpool(dir, ['Name', 'External_Id__c'], { maxBytes: 2000, originals: true, identity: writer.identity, prefix: 'rm' });
    for (let i = 0; i < 300; i++) await spool.add(i, [`Removed ${i}`, `RM-${i}`], { Name: `Removed ${i}`, External_Id__c: `RM-${i}` });
    const files = await spool.finish();
    expect(files.length).toBeGreaterThan(2);
    expect((await readdir(dir)).length).toBe(files.length * 3);
    await writer.write(files);
    expect(written).toBe(300);
    expect(await readdir(dir)).toEqual([]);
  });

  it('CsvSpool rolls a file over past minBytes only when rollEarly says so, and always before maxBytes', async () => {
    let early = false;
    const spool = new CsvSpool(env.dir, ['Name'], { prefix: 'early', maxBytes: 1000, minBytes: 300, rollEarly: () => early });
    const row = ['x'.repeat(99)]; // 100 bytes a line
    for (let i = 0; i < 25; i++) {
      early = i >= 20;
      await spool.add(i, row);
    }
    const files = await spool.finish();
    // 9 rows (+ header) fill 1,000 bytes twice; from row 20 on, a file of 300 bytes or more rolls at once.
    expect(files.map((f) => f.indexes.length)).toEqual([9, 9, 3, 3, 1]);
    expect(files.every((f) => f.bytes <= 1000)).toBe(true);
  });

  it('holds insert jobs until the whole input is read (a bad row late in the input must not leave a partial insert)', async () => {
    const { early, result } = await jobsBeforeLastBatch('LATEINS', {}, 3_000);
    expect(early).toBe(0);
    expect(result.outputs?.length).toBe(3);
    await expectExact('LATEINS', 3000, result);
  });
});

describe('per-record failures and the error file', () => {
  it.each(['REST_SYNC', 'BULKV2'] as const)('%s: failed records with their original fields, code and message, cell by cell', async (api) => {
    const prefix = `ERR-${api}`;
    const rows: Row[] = [
      { Name: `${prefix} ok0`, External_Id__c: `${prefix}-0`, NumberOfEmployees: '10', Description: 'a, "quoted"\nline' },
      { Name: null, External_Id__c: `${prefix}-1`, NumberOfEmployees: '11', Description: 'no name' },
      { Name: `${prefix} bad number`, External_Id__c: `${prefix}-2`, NumberOfEmployees: 'eleven', Description: null },
      { Name: `${prefix} ok3`, External_Id__c: `${prefix}-3`, NumberOfEmployees: '13', Description: '' },
      { Name: `${prefix} dup`, External_Id__c: `${prefix}-0`, NumberOfEmployees: '14', Description: 'duplicate external id' },
    ];
    const { result, errorDir } = await write(cfg({ apiPreference: api }), rows);
    expect(result.written).toBe(2);
    expect(result.failedCount).toBe(3);
    expect(result.errorFile).toMatch(/errors\.csv$/);
    const byIndex = new Map(result.failed.map((f) => [f.index, f]));
    expect(byIndex.get(1)?.errorCode).toBe('REQUIRED_FIELD_MISSING');
    expect(byIndex.get(2)).toMatchObject({ errorCode: 'VALUE_NOT_CONVERTIBLE', fields: ['NumberOfEmployees'] });
    expect(byIndex.get(2)?.message).toMatch(/NumberOfEmployees: "eleven" cannot be written to a int field/);
    expect(byIndex.get(4)?.errorCode).toBe('DUPLICATE_VALUE');

    const file = await errorRows(errorDir);
    expect(file).toHaveLength(3);
    const header = Object.keys(file[0] ?? {});
    expect(header).toEqual(['Name', 'External_Id__c', 'NumberOfEmployees', 'Description', 'errorCode', 'errorMessage', 'errorFields']);
    const sorted = [...file].sort((a, b) => String(a['External_Id__c']).localeCompare(String(b['External_Id__c'])) || String(a['Name']).localeCompare(String(b['Name'])));
    const failedIdx = [4, 1, 2];
    sorted.forEach((line, k) => {
      const input = rows[failedIdx[k] as number] as Row;
      const f = byIndex.get(failedIdx[k] as number);
      for (const col of ['Name', 'External_Id__c', 'NumberOfEmployees', 'Description']) expect(line[col], `${col} of input ${failedIdx[k]}`).toBe(input[col] === null ? '' : String(input[col]));
      expect(line['errorCode']).toBe(f?.errorCode);
      expect(line['errorMessage']).toBe(f?.message);
      expect(line['errorFields']).toBe((f?.fields ?? []).join(';'));
    });
    expect(sorted.map((l) => l['errorCode'])).toEqual(['DUPLICATE_VALUE', 'REQUIRED_FIELD_MISSING', 'VALUE_NOT_CONVERTIBLE']);
  });

  it('failOnFirstDestinationError: stops at the first failure and says what was written (REST)', async () => {
    const rows = accounts('STOP', 1000);
    rows[450] = { ...rows[450], NumberOfEmployees: 'not a number' };
    const error = await write(cfg({ apiPreference: 'REST_SYNC', failOnFirstDestinationError: true }), rows, { rest: { concurrency: 1, rowRetryBaseMs: 2 } }).catch((e: unknown) => e);
    expect(isForceflowError(error, 'DESTINATION_WRITE_FAILED')).toBe(true);
    const e = error as ForceflowError;
    // Batches of 200: 0-199 and 200-399 written, then 400-599 minus the bad record; nothing after.
    expect(e.details).toMatchObject({ written: 599, failed: 1, api: 'REST_SYNC', firstFailure: { index: 450, errorCode: 'VALUE_NOT_CONVERTIBLE' } });
    expect(e.message).toMatch(/Record 450 failed .* 599 record\(s\) were already written through REST_SYNC/);
    expect((await byExt('STOP')).size).toBe(599);
  });

  it('failOnFirstDestinationError: tells the caller what was written as a typed WriteProgress (onProgress), the counts of the error', async () => {
    const rows = accounts('PROG', 300);
    rows[250] = { ...rows[250], NumberOfEmployees: 'not a number' };
    const ctx = captureContext();
    const progress: WriteProgress[] = [];
    const dest = createSalesforceDestination(env.client(ctx.log), cfg({ apiPreference: 'REST_SYNC', failOnFirstDestinationError: true }), { flowName: 'f', executionId: 'prog-1', tempDir: env.dir, ...FAST_DESTINATION, rest: { concurrency: 1, rowRetryBaseMs: 2 } });
    const error = await dest.write(batches(rows), ctx, { onProgress: (p) => progress.push(p) }).catch((e: unknown) => e);
    expect(isForceflowError(error, 'DESTINATION_WRITE_FAILED')).toBe(true);
    // Batches of 200: 0-199 written, then 200-299 minus the bad record.
    expect(progress).toEqual([{ written: 299, failed: 1, errorFile: null }]);
    expect((error as ForceflowError).details).toMatchObject({ written: 299, failed: 1, errorFile: null });
  });

  it('failOnFirstDestinationError with Bulk: a record that cannot convert stops the run before any job', async () => {
    const rows = accounts('STOPB', 1500);
    rows[1200] = { ...rows[1200], NumberOfEmployees: 'x' };
    const before = await calls();
    const error = await write(cfg({ failOnFirstDestinationError: true }), rows).catch((e: unknown) => e);
    expect(isForceflowError(error, 'DESTINATION_WRITE_FAILED')).toBe(true);
    expect((error as ForceflowError).details).toMatchObject({ written: 0, failed: 1 });
    expect(sum(await calls(), /jobs\/ingest/) - sum(before, /jobs\/ingest/)).toBe(0);
    expect((await byExt('STOPB')).size).toBe(0);
  });
  it('failOnFirstDestinationError with Bulk: the next job, uploaded and waiting Open while the first runs, is aborted once a record of the first failed', async () => {
    const rows: Row[] = accounts('STOPO', 3000).map((r) => ({ ...r, Description: 'x'.repeat(200) }));
    rows[5] = { ...rows[5], Name: null };
    // Every ingest call takes 100 ms: the second file is spooled and its job created and uploaded while the
    // first job's polls and results are answered.
    await faults('bulkIngest.delay=100');
    const ctx = captureContext();
    const client = env.client(ctx.log);
    const dest = createSalesforceDestination(client, cfg({ apiPreference: 'BULKV2', writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'], failOnFirstDestinationError: true }), { flowName: 'f', executionId: 'STOPO', tempDir: env.dir, ...FAST_DESTINATION, jobBytes: 256 * 1024, minJobBytes: 64 * 1024 });
    const error = await dest.write(batches(rows), ctx).catch((e: unknown) => e);
    expect(isForceflowError(error, 'DESTINATION_WRITE_FAILED')).toBe(true);
    const created = ctx.lines.filter((l) => l['msg'] === 'bulk ingest job created');
    const first = created[0]?.['records'] as number;
    expect((error as ForceflowError).details).toMatchObject({ written: first - 1, failed: 1 });
    // The second job was uploaded before the first ended, then aborted without being closed.
    const second = created[1]?.['jobId'] as string;
    expect(ctx.lines.some((l) => l['msg'] === 'bulk job uploaded; waiting Open for the job before it' && l['jobId'] === second)).toBe(true);
    expect(ctx.lines.some((l) => l['msg'] === 'bulk job uploaded and closed' && l['jobId'] === second)).toBe(false);
    expect(await client.json<{ state: string }>({ method: 'GET', path: `/jobs/ingest/${second}`, call: 'read job' })).toMatchObject({ state: 'Aborted' });
    expect(created).toHaveLength(2);
    expect((await byExt('STOPO')).size).toBe(first - 1);
  });
});

describe('bad input is refused before anything is written', () => {
  it('unknown destination fields', async () => {
    const before = await calls();
    const error = await write(cfg({}), [{ Name: 'x', Nope__c: 1, Other: 2 }]).catch((e: unknown) => e);
    expect(isForceflowError(error, 'FIELD_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toMatch(/Account has no fields "Nope__c", "Other"/);
    const after = await calls();
    expect(sum(after, /composite|jobs/) - sum(before, /composite|jobs/)).toBe(0);
  });
  it('UPSERT without idFieldNames, or on a field that is not an external id', async () => {
    const e1 = await write(cfg({ writeOperationType: 'UPSERT' }), [{ Name: 'x' }]).catch((e: unknown) => e);
    expect(isForceflowError(e1, 'FLOW_INVALID')).toBe(true);
    expect((e1 as Error).message).toMatch(/UPSERT needs idFieldNames/);
    const e2 = await write(cfg({ writeOperationType: 'UPSERT', idFieldNames: ['Name'] }), [{ Name: 'x' }]).catch((e: unknown) => e);
    expect((e2 as Error).message).toMatch(/Name is not an External ID field of Account/);
  });
  it('UPDATE and DELETE without an Id mapping', async () => {
    const e1 = await write(cfg({ writeOperationType: 'UPDATE', idFieldNames: ['Id'] }), [{ Name: 'x' }]).catch((e: unknown) => e);
    expect(isForceflowError(e1, 'FLOW_INVALID')).toBe(true);
    expect((e1 as Error).message).toMatch(/UPDATE needs the record Id, but no field is mapped to Id/);
    const e2 = await write(cfg({ writeOperationType: 'DELETE', idFieldNames: ['External_Id__c'] }), [{ External_Id__c: 'x' }]).catch((e: unknown) => e);
    expect((e2 as Error).message).toMatch(/DELETE matches records by their Id/);
  });
  it('fields the operation cannot set', async () => {
    const e = await write(cfg({}), [{ Name: 'x', Id: '001000000000000AAA', CreatedDate: '2024-01-01T00:00:00.000Z' }]).catch((x: unknown) => x);
    expect(isForceflowError(e, 'FLOW_INVALID')).toBe(true);
    expect((e as Error).message).toMatch(/INSERT cannot set Id .*CreatedDate \(not createable\)/);
  });
  it('a record without its Id fails alone on UPDATE', async () => {
    const [acc] = await query<{ Id: string }>(`SELECT Id FROM Account WHERE External_Id__c = null LIMIT 1`);
    const { result } = await write(cfg({ writeOperationType: 'UPDATE', idFieldNames: ['Id'], apiPreference: 'BULKV2' }), [{ Id: acc?.Id ?? null, Phone: '555' }, { Id: null, Phone: '556' }]);
    expect(result.written).toBe(1);
    expect(result.failed).toEqual([expect.objectContaining({ index: 1, errorCode: 'MISSING_ARGUMENT' })]);
  });
});

describe('faults: retries and exact reconciliation', () => {
  it.each(['REST_SYNC', 'BULKV2'] as const)('%s: row locks are retried until written', async (api) => {
    await faults('rowLock=0.2');
    const prefix = `LOCK-${api}`;
    const { result } = await write(cfg({ apiPreference: api }), accounts(prefix, 600));
    const stats = await faultStats();
    expect(stats.rowLocks).toBeGreaterThan(50);
    expect(result.written).toBe(600);
    await expectExact(prefix, 600, result);
  });

  it('row locks that never clear fail with UNABLE_TO_LOCK_ROW after the bounded retries', async () => {
    await faults('rowLock=1');
    const { result, errorDir } = await write(cfg({ apiPreference: 'BULKV2' }), accounts('LOCKALL', 20));
    expect(result.written).toBe(0);
    expect(result.failed).toHaveLength(20);
    expect(result.failed.every((f) => f.errorCode === 'UNABLE_TO_LOCK_ROW')).toBe(true);
    const stats = await faultStats();
    expect(stats.rowLocks).toBe(80); // first attempt + 3 retries
    const file = await errorRows(errorDir);
    expect(file.map((l) => l['errorCode'])).toEqual(Array(20).fill('UNABLE_TO_LOCK_ROW'));
  });

  it('503 bursts on collections: INSERT is sent again (the calls were refused) and nothing is duplicated', async () => {
    await faults('collections.503.next=3,retryAfter=0');
    const { result } = await write(cfg({ apiPreference: 'REST_SYNC' }), accounts('B503', 450));
    expect((await faultStats()).status['collections.503']).toBe(3);
    await expectExact('B503', 450, result);
    expect(result.written).toBe(450);
  });

  it('a connection reset after an INSERT was sent: records with an external id are looked up, not re-created', async () => {
    await faults('collections.reset.next=2,collections.resetAfter=10');
    const { result, ctx } = await write(cfg({ apiPreference: 'REST_SYNC' }), accounts('RESET', 500), { rest: { concurrency: 1, rowRetryBaseMs: 2, refusedBaseMs: 2 } });
    expect((await faultStats()).resets).toBe(2);
    expect(ctx.lines.some((l) => l['msg'] === 'looked up records of a lost insert')).toBe(true);
    expect(result.written).toBe(500);
    await expectExact('RESET', 500, result);
  });

  it('a connection reset after an INSERT without external ids: the records are reported unknown, never sent twice', async () => {
    await faults('collections.reset.next=1,collections.resetAfter=10');
    const rows = Array.from({ length: 250 }, (_, i) => ({ LastName: `Unknown-${i}`, Email: `unknown${i}@example.com` }));
    const { result, errorDir } = await write(cfg({ object: 'Contact', apiPreference: 'REST_SYNC' }), rows, { rest: { concurrency: 1, rowRetryBaseMs: 2, refusedBaseMs: 2 } });
    expect(result.unknown).toBe(200);
    expect(result.written).toBe(50);
    const unknown = result.failed.filter((f) => f.errorCode === 'SF_WRITE_OUTCOME_UNKNOWN');
    expect(unknown.map((f) => f.index)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const created = await query<{ LastName: string }>(`SELECT LastName FROM Contact WHERE LastName LIKE 'Unknown-%'`);
    // The lost call did create them: each exists exactly once (never re-sent).
    expect(created).toHaveLength(250);
    expect(new Set(created.map((c) => c.LastName)).size).toBe(250);
    const file = await errorRows(errorDir);
    expect(file).toHaveLength(200);
    expect(file[0]).toMatchObject({ LastName: 'Unknown-0', Email: 'unknown0@example.com', errorCode: 'SF_WRITE_OUTCOME_UNKNOWN' });
  });

  it('UPSERT through REST after a reset is simply sent again (idempotent)', async () => {
    await faults('collections.reset.next=1,collections.resetAfter=10');
    const { result } = await write(cfg({ apiPreference: 'REST_SYNC', writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'] }), accounts('URESET', 300));
    expect(result.written).toBe(300);
    await expectExact('URESET', 300, result);
  });

  it('Bulk: resets of job calls and result downloads, and a failed job, still reconcile exactly', async () => {
    await faults('bulkIngest.reset=0.25,bulkIngest.resetAfter=20,bulkIngest.jobFail.next=1');
    const { result } = await write(cfg({}), accounts('BRESET', 2500), { jobBytes: 40 * 1024 });
    const stats = await faultStats();
    expect(stats.resets).toBeGreaterThan(0);
    expect(stats.jobsFailed).toBe(1);
    expect(result.written).toBe(2500);
    await expectExact('BRESET', 2500, result);
  });

  it('Bulk: a job that keeps failing leaves its records failed with the job error', async () => {
    await faults('bulkIngest.jobFail=1');
    const { result, errorDir } = await write(cfg({ apiPreference: 'BULKV2' }), accounts('BFAIL', 10));
    expect(result.written).toBe(0);
    expect(result.failed).toHaveLength(10);
    expect(result.failed[0]).toMatchObject({ errorCode: 'TooManyLockFailure' });
    expect(result.failed[0]?.message).toMatch(/did not process this record: TooManyLockFailure/);
    expect(await errorRows(errorDir)).toHaveLength(10);
    expect((await byExt('BFAIL')).size).toBe(0);
  });
});

describe('Bulk error text', () => {
  it('parses sf__Error into code, message and fields', () => {
    expect(parseBulkError('REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --')).toEqual({ code: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Name]', fields: ['Name'] });
    expect(parseBulkError('INVALID_FIELD:Foreign key external ID: c9 not found for field Ext__c in entity Account:--')).toEqual({ code: 'INVALID_FIELD', message: 'Foreign key external ID: c9 not found for field Ext__c in entity Account', fields: [] });
  });
});

describe('Bulk result matching', () => {
  it('matches rows Salesforce re-serialised (numbers, 15-char ids, #N/A echoed empty) and duplicates exactly once each', async () => {
    const spool = new CsvSpool(env.dir, ['Id', 'AnnualRevenue', 'Name', 'Description'], { prefix: 'match' });
    await spool.add(10, ['001000000000001', '912260031', 'Acme, Inc.', '#N/A']);
    await spool.add(11, ['001000000000002', '5', 'Same', 'x']);
    await spool.add(12, ['001000000000002', '5', 'Same', 'x']);
    await spool.add(13, ['001000000000003', '1.50', 'Other', '']);
    const [file] = await spool.finish();
    const ledger = await JobLedger.build(file as NonNullable<typeof file>, ['id', 'currency', 'string', 'textarea']);
    const ok = new MatchPass(ledger, SUCCEEDED);
    ok.header(['sf__Id', 'sf__Created', 'Id', 'AnnualRevenue', 'Name', 'Description']);
    expect(ok.match(['001000000000002AAA', 'false', '001000000000002AAA', '5.0', 'Same', 'x'], 'false')).toBe(1);
    expect(ok.match(['001000000000001AAA', 'false', '001000000000001AAA', '9.12260031E8', 'Acme, Inc.', ''], 'false')).toBe(0);
    expect(ok.match(['001000000000002AAA', 'false', '001000000000002AAA', '5', 'Same', 'x'], 'false')).toBe(2);
    // A third "Same" row was never sent: it cannot match.
    expect(ok.match(['001000000000002AAA', 'false', '001000000000002AAA', '5', 'Same', 'x'])).toBeUndefined();
    expect(() => ok.commit('successfulResults')).toThrow(/match no row sent/);
    const bad = new MatchPass(ledger, FAILED);
    bad.header(['sf__Id', 'sf__Error', 'Id', 'AnnualRevenue', 'Name', 'Description']);
    expect(bad.match(['', 'X:y:--', '001000000000003', '1.5', 'Other', ''], 'X:y:--')).toBe(3);
    bad.commit('failedResults');
    expect(ledger.count(FAILED)).toBe(1);
  });
});
