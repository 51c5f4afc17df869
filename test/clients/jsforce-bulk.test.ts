/**
 * jsforce 3 against the emulator, unchanged: Bulk API 2.0 query and ingest, session refresh during Bulk
 * calls, and every fault knob as the client sees it. jsforce retries GET/PUT/DELETE on 5xx/429 up to 5
 * times by itself (POST/PATCH never), so faults are injected as bursts sized to show each behaviour.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Connection } from 'jsforce';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

let emu: RunningEmulator;

/** A child script: jsforce bulk2.query, printing {rows, unique} or {error: code} as its last line. */
const CHILD_QUERY = `
import { Connection } from 'jsforce';
const [instanceUrl, accessToken, version, soql] = process.argv.slice(1);
process.on('uncaughtException', (e) => { console.log(JSON.stringify({ error: e.code ?? e.message })); process.exit(0); });
const conn = new Connection({ instanceUrl, accessToken, version });
try {
  const stream = await conn.bulk2.query(soql, { pollInterval: 50, pollTimeout: 10000 });
  const rows = await stream.toArray();
  console.log(JSON.stringify({ rows: rows.length, unique: new Set(rows.map((r) => r.Id)).size }));
} catch (e) {
  console.log(JSON.stringify({ error: e.code ?? e.message }));
}
`;
const VERSION = '60.0';

function connect(withRefresh = false): Connection {
  if (!withRefresh) return new Connection({ instanceUrl: emu.instanceUrl, accessToken: emu.accessToken, version: VERSION });
  return new Connection({
    oauth2: { clientId: emu.clientId, clientSecret: emu.clientSecret, loginUrl: emu.loginUrl, redirectUri: `${emu.instanceUrl}/callback` },
    instanceUrl: emu.instanceUrl,
    accessToken: emu.accessToken,
    refreshToken: emu.refreshToken,
    version: VERSION,
  });
}

async function setFaults(spec: string): Promise<void> {
  const res = await fetch(`${emu.controlUrl}/faults`, { method: 'PUT', body: JSON.stringify(spec), headers: emu.controlHeaders });
  expect(res.status, await res.text()).toBe(200);
}

async function queryAll(conn: Connection, soql: string): Promise<Record<string, unknown>[]> {
  const stream = await conn.bulk2.query(soql, { pollInterval: 50, pollTimeout: 10_000 });
  return (await stream.toArray()) as Record<string, unknown>[];
}

beforeEach(async () => {
  emu = await startEmulator({ seed: 11 });
});
afterEach(async () => {
  await emu.close();
});

describe('jsforce 3 bulk2', () => {
  it('bulk2.query reads every row of a one-page result', async () => {
    const rows = await queryAll(connect(), 'SELECT Id, Name, NumberOfEmployees, AnnualRevenue, CreatedDate FROM Account');
    const table = emu.org.store.table('Account');
    expect(rows).toHaveLength(table?.count(false) ?? -1);
    const first = table?.get(String(rows[0]?.['Id']));
    expect(first?.['Name']).toBe(rows[0]?.['Name']);
  });

  it('bulk2.query over many result pages (jsforce#1546: its stream pipe breaks; the emulator does what Salesforce does)', async () => {
    // Real Salesforce splits big results into pages; jsforce pipes every page into one stream with
    // pipe()'s default {end:true}, so page 2 is written after end. The emulator follows Salesforce
    // (header on every page, Sforce-Locator, 'null' at the end), and this test records jsforce's behaviour.
    emu.org.bulk.queryPageRows = 100;
    const total = emu.org.store.table('Account')?.count(false) ?? 0;
    expect(total).toBeGreaterThan(300);
    const conn = connect();
    // Run jsforce's bulk2.query in a child process: its failure is an uncaught stream error, not a rejection.
    // (Asynchronously: the emulator serves from this process.)
    const child = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', CHILD_QUERY, emu.instanceUrl, emu.accessToken, VERSION, 'SELECT Id, Name FROM Account'],
      { cwd: process.cwd(), encoding: 'utf8', timeout: 30_000 },
    );
    const outcome = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { rows?: number; unique?: number; error?: string };
    if (outcome.error === undefined) {
      // A jsforce release that fixed the bug must see every row exactly once.
      expect(outcome).toEqual({ rows: total, unique: total });
    } else {
      expect(outcome.error).toBe('ERR_STREAM_WRITE_AFTER_END');
    }
    // The pages themselves are right: read them through jsforce's own job API and its HTTP layer.
    const job = conn.bulk2.job('query', { id: await createQueryJob(conn, 'SELECT Id, Name FROM Account') });
    await job.poll(50, 10_000);
    let locator = '';
    const ids = new Set<string>();
    let pages = 0;
    while (locator !== 'null') {
      const res = await fetch(`${emu.instanceUrl}/services/data/v${VERSION}/jobs/query/${job.id}/results${locator ? `?locator=${locator}` : ''}`, {
        headers: { Authorization: `Bearer ${conn.accessToken ?? ''}` },
      });
      const lines = (await res.text()).trimEnd().split('\n');
      expect(lines[0]).toBe('"Id","Name"');
      for (const l of lines.slice(1)) ids.add(l.split(',')[0] ?? '');
      locator = res.headers.get('sforce-locator') ?? 'missing';
      pages++;
    }
    expect(pages).toBe(Math.ceil(total / 100));
    expect(ids.size).toBe(total);
  });

  it('loadAndWaitForResults: insert, update, upsert and delete with some failing rows', async () => {
    const conn = connect();
    const bulk = conn.bulk2;
    bulk.pollInterval = 50;
    const ins = await bulk.loadAndWaitForResults({
      object: 'Account',
      operation: 'insert',
      input: [
        { Name: 'jsforce A', External_Id__c: 'jsf-a', NumberOfEmployees: 5 },
        { Name: 'jsforce B', External_Id__c: 'jsf-b', NumberOfEmployees: 6 },
        { Name: null, External_Id__c: 'jsf-bad' },
      ],
    });
    expect(ins.successfulResults).toHaveLength(2);
    expect(ins.failedResults).toHaveLength(1);
    expect(ins.unprocessedRecords).toHaveLength(0);
    expect(ins.successfulResults[0]).toMatchObject({ sf__Created: 'true', Name: 'jsforce A' });
    expect(ins.failedResults[0]?.sf__Error).toMatch(/^REQUIRED_FIELD_MISSING:Required fields are missing: \[Name\]:Name --$/);
    const idA = String(ins.successfulResults[0]?.sf__Id);

    const upd = await bulk.loadAndWaitForResults({
      object: 'Account',
      operation: 'update',
      input: [
        { Id: idA, NumberOfEmployees: null, Phone: '555-0101' },
        { Id: '001000000000000AAA', Phone: 'x' },
      ],
    });
    expect(upd.successfulResults).toHaveLength(1);
    expect(upd.failedResults).toHaveLength(1);
    expect(emu.org.store.table('Account')?.get(idA)).toMatchObject({ NumberOfEmployees: null, Phone: '555-0101' });

    const ups = await bulk.loadAndWaitForResults({
      object: 'Account',
      operation: 'upsert',
      externalIdFieldName: 'External_Id__c',
      input: [
        { External_Id__c: 'jsf-a', Name: 'jsforce A2' },
        { External_Id__c: 'jsf-c', Name: 'jsforce C' },
        { External_Id__c: 'jsf-d', Name: 'x'.repeat(300) },
      ],
    });
    expect(ups.successfulResults.map((r) => r.sf__Created).sort()).toEqual(['false', 'true']);
    expect(ups.failedResults[0]?.sf__Error).toMatch(/^STRING_TOO_LONG:/);

    const del = await bulk.loadAndWaitForResults({ object: 'Account', operation: 'delete', input: [{ Id: idA }, { Id: idA }] });
    expect(del.successfulResults.length + del.failedResults.length).toBe(2);
    expect(del.successfulResults.length).toBeGreaterThanOrEqual(1);
    expect(emu.org.store.table('Account')?.get(idA)).toBeUndefined();
  });

  it('refreshes the session when it expires during Bulk calls', async () => {
    await setFaults('session.expireAfter=3');
    const conn = connect(true);
    let refreshed = 0;
    conn.on('refresh', () => refreshed++);
    const rows = await queryAll(conn, "SELECT Id FROM Account WHERE Name LIKE 'A%'");
    const res = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', pollInterval: 50, input: [{ Name: 'After refresh' }] });
    expect(res.successfulResults).toHaveLength(1);
    expect(refreshed).toBeGreaterThanOrEqual(1);
    expect(rows.length).toBeGreaterThanOrEqual(0);
    expect(conn.accessToken).not.toBe(emu.accessToken);
  });

  it('without a refresh path, an expired session surfaces as INVALID_SESSION_ID', async () => {
    await setFaults('session.expireAfter=1');
    const conn = connect();
    await expect(queryAll(conn, 'SELECT Id FROM Account')).rejects.toMatchObject({ errorCode: 'INVALID_SESSION_ID' });
  });
});

async function createQueryJob(conn: Connection, soql: string): Promise<string> {
  const res = await fetch(`${emu.instanceUrl}/services/data/v${VERSION}/jobs/query`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${conn.accessToken ?? ''}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ operation: 'query', query: soql }),
  });
  return ((await res.json()) as { id: string }).id;
}

describe('fault knobs seen from jsforce', () => {
  it('a 503 burst on GETs is retried silently; on the POST that creates a job it is not', async () => {
    const conn = connect();
    await setFaults('bulkQuery.503.next=1');
    await expect(queryAll(conn, 'SELECT Id FROM Account LIMIT 1')).rejects.toMatchObject({ errorCode: 'SERVER_UNAVAILABLE' });
    // Create the job first, then make the next two GETs (poll, results) fail: jsforce retries them.
    const id = await createQueryJob(conn, 'SELECT Id FROM Account LIMIT 3');
    await setFaults('bulkQuery.503.next=1,bulkQuery.429.next=1');
    const job = conn.bulk2.job('query', { id });
    await job.poll(50, 10_000);
    const records = (await (await job.result()).toArray()) as unknown[];
    expect(records).toHaveLength(3);
    const stats = (await (await fetch(`${emu.controlUrl}/faults`, { headers: emu.controlHeaders })).json()) as { stats: { status: Record<string, number> } };
    expect(stats.stats.status).toEqual({ 'bulkQuery.503': 1, 'bulkQuery.429': 1 });
  });

  it('a 500 on every call fails the client after its retries', async () => {
    await setFaults('bulkIngest.500=1');
    await expect(connect().bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: [{ Name: 'x' }] })).rejects.toMatchObject({ errorCode: 'UNKNOWN_EXCEPTION' });
  });

  it('a reset before the body is retried by jsforce; a reset part-way through a body hangs jsforce (recorded)', async () => {
    const conn = connect();
    const id = await createQueryJob(conn, 'SELECT Id, Name FROM Account');
    await setFaults('bulkQuery.reset.next=2,bulkQuery.resetAfter=0');
    await conn.bulk2.job('query', { id }).poll(50, 10_000);
    const stats = (await (await fetch(`${emu.controlUrl}/faults`, { headers: emu.controlHeaders })).json()) as { stats: { resets: number } };
    expect(stats.stats.resets).toBe(2);
    // jsforce 3.10 (node-fetch 2) never settles when the connection drops after part of a body:
    // the premature close is not propagated. Recorded here; forceflow's own client must not rely on jsforce for this.
    await setFaults('bulkQuery.reset.next=1,bulkQuery.resetAfter=100');
    const outcome = await Promise.race([
      conn.bulk2.job('query', { id }).poll(50, 10_000).then(
        () => 'settled',
        () => 'rejected',
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve('hung'), 2_000)),
    ]);
    expect(['hung', 'rejected']).toContain(outcome);
  });

  it('delays are visible as latency', async () => {
    await setFaults('bulkQuery.delay=150');
    const start = Date.now();
    await queryAll(connect(), 'SELECT Id FROM Account LIMIT 1');
    expect(Date.now() - start).toBeGreaterThanOrEqual(450);
  });

  it('a failed ingest job surfaces with Salesforce’s errorMessage; a failed query job fails the query', async () => {
    await setFaults('bulkIngest.jobFail.next=1,bulkQuery.jobFail.next=1');
    await expect(connect().bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', pollInterval: 50, input: [{ Name: 'x' }] })).rejects.toThrow(
      /Ingest job failed to complete due to: TooManyLockFailure/,
    );
    await expect(queryAll(connect(), 'SELECT Id FROM Account')).rejects.toThrow(/failed/i);
  });

  it('row locks come back as failed rows with UNABLE_TO_LOCK_ROW', async () => {
    await setFaults('rowLock.next=1');
    const res = await connect().bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', pollInterval: 50, input: [{ Name: 'L1' }, { Name: 'L2' }] });
    expect(res.successfulResults).toHaveLength(1);
    expect(res.failedResults[0]?.sf__Error).toMatch(/^UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record/);
  });

  it('the daily API limit, once spent, is REQUEST_LIMIT_EXCEEDED', async () => {
    await setFaults('apiLimit.after=2');
    await expect(queryAll(connect(), 'SELECT Id FROM Account')).rejects.toMatchObject({ errorCode: 'REQUEST_LIMIT_EXCEEDED' });
  });
});
