import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { bulkEmulator, seedAccounts, type BulkEmu } from './bulk-fixture.ts';

let t: BulkEmu;

beforeAll(async () => {
  t = await bulkEmulator();
});
afterAll(async () => {
  await t.emu.close();
});

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function createJob(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await t.req('POST', '/jobs/ingest', { contentType: 'CSV', ...body });
  expect(res.status).toBe(200);
  return json(res);
}

/** Create, upload, close and return the finished job info. */
async function runJob(body: Record<string, unknown>, csv: string): Promise<Record<string, unknown>> {
  const job = await createJob(body);
  const put = await t.req('PUT', `/jobs/ingest/${String(job['id'])}/batches`, csv, { 'Content-Type': 'text/csv' });
  expect(put.status).toBe(201);
  const patch = await t.req('PATCH', `/jobs/ingest/${String(job['id'])}`, { state: 'UploadComplete' });
  expect(patch.status).toBe(200);
  return json(await t.req('GET', `/jobs/ingest/${String(job['id'])}`));
}

async function text(path: string): Promise<string> {
  const res = await t.req('GET', path);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/csv; charset=UTF-8');
  return res.text();
}

describe('Bulk API 2.0 ingest', () => {
  it('creates a job with Salesforce’s create response and shows counters only after an upload', async () => {
    const res = await t.req('POST', '/jobs/ingest', { object: 'account', operation: 'insert', lineEnding: 'LF' });
    const raw = await res.text();
    expect(res.status).toBe(200);
    expect(raw).toContain('"apiVersion":60.0');
    const job = JSON.parse(raw) as Record<string, unknown>;
    const id = String(job['id']);
    expect(id).toMatch(/^750[A-Za-z0-9]{15}$/);
    expect(Object.keys(job)).toEqual([
      'id', 'operation', 'object', 'createdById', 'createdDate', 'systemModstamp', 'state', 'concurrencyMode', 'contentType', 'apiVersion', 'contentUrl', 'lineEnding', 'columnDelimiter',
    ]);
    expect(job).toMatchObject({ object: 'Account', operation: 'insert', state: 'Open', contentType: 'CSV', lineEnding: 'LF', columnDelimiter: 'COMMA', concurrencyMode: 'Parallel' });
    expect(job['contentUrl']).toBe(`services/data/v60.0/jobs/ingest/${id}/batches`);
    expect(String(job['createdDate'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);

    const open = await json(await t.req('GET', `/jobs/ingest/${id}`));
    expect(open['jobType']).toBe('V2Ingest');
    expect(open).not.toHaveProperty('numberRecordsProcessed');
    const put = await t.req('PUT', `/jobs/ingest/${id}/batches`, 'Name\nA\n', { 'Content-Type': 'text/csv' });
    expect(put.status).toBe(201);
    expect(await put.text()).toBe('');
    const uploaded = await json(await t.req('GET', `/jobs/ingest/${id}`));
    expect(uploaded).toMatchObject({ state: 'Open', numberRecordsProcessed: 0, numberRecordsFailed: 0 });
    expect(uploaded['contentUrl']).toBeDefined();

    const patch = await t.req('PATCH', `/jobs/ingest/${id}`, { state: 'UploadComplete' });
    const closed = await json(patch);
    expect(closed['state']).toBe('UploadComplete');
    expect(closed).not.toHaveProperty('contentUrl');
    expect(closed).not.toHaveProperty('jobType');
    const done = await json(await t.req('GET', `/jobs/ingest/${id}`));
    expect(done).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 1, numberRecordsFailed: 0, retries: 0, apexProcessingTime: 0 });
    expect(done).not.toHaveProperty('contentUrl');
    expect(done).not.toHaveProperty('errorMessage');
  });

  it('inserts, with successfulResults, failedResults and unprocessedrecords in Salesforce’s CSV shapes', async () => {
    // Row 4 is not ASCII: result files copy it as text, the others as bytes.
    const csv = 'Name,NumberOfEmployees,AnnualRevenue,External_Id__c\nGenePoint,800,912260031,ins-1\n,5,,ins-2\n"Quote ""Co"", Ltd",7,100,ins-3\nCafé 🙂,9,1,ins-4\n';
    const info = await runJob({ object: 'Account', operation: 'insert' }, csv);
    expect(info).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 4, numberRecordsFailed: 1 });
    const id = String(info['id']);
    const ok = await text(`/jobs/ingest/${id}/successfulResults/`);
    const lines = ok.trimEnd().split('\n');
    expect(lines[0]).toBe('"sf__Id","sf__Created",Name,NumberOfEmployees,AnnualRevenue,External_Id__c');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^"001[A-Za-z0-9]{15}","true","GenePoint","800","912260031","ins-1"$/);
    expect(lines[2]).toMatch(/^"001[A-Za-z0-9]{15}","true","Quote ""Co"", Ltd","7","100","ins-3"$/);
    expect(lines[3]).toMatch(/^"001[A-Za-z0-9]{15}","true","Café 🙂","9","1","ins-4"$/);
    const failed = await text(`/jobs/ingest/${id}/failedResults`);
    expect(failed).toBe('"sf__Id","sf__Error",Name,NumberOfEmployees,AnnualRevenue,External_Id__c\n' + '"","REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --","","5","","ins-2"\n');
    expect(await text(`/jobs/ingest/${id}/unprocessedrecords`)).toBe('Name,NumberOfEmployees,AnnualRevenue,External_Id__c\n');
    const stored = t.table.findBy('External_Id__c', 'ins-1')[0];
    expect(stored).toMatchObject({ Name: 'GenePoint', NumberOfEmployees: 800, AnnualRevenue: 912260031 });
  });

  it('updates with #N/A setting null and empty values left unchanged; failed update keeps its id', async () => {
    const [a, b] = seedAccounts(t.table, 2, t.userId, () => ({ Phone: '555', Website: 'x.example' }));
    const missing = '001' + String(a).slice(3, 14) + 'ZZZZ';
    const csv = `Id,Phone,Website\n${String(a)},#N/A,\n${String(b)},777,#N/A\n${missing.slice(0, 18)},1,\n`;
    const info = await runJob({ object: 'Account', operation: 'update' }, csv);
    expect(info).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 3, numberRecordsFailed: 1 });
    expect(t.table.get(String(a))).toMatchObject({ Phone: null, Website: 'x.example' });
    expect(t.table.get(String(b))).toMatchObject({ Phone: '777', Website: null });
    const ok = await text(`/jobs/ingest/${String(info['id'])}/successfulResults`);
    expect(ok.split('\n')[1]).toBe(`"${String(a)}","false","${String(a)}","#N/A",""`);
    const failed = (await text(`/jobs/ingest/${String(info['id'])}/failedResults`)).trimEnd().split('\n');
    expect(failed).toHaveLength(2);
    expect(failed[1]).toMatch(/^"[^"]*","[A-Z_]+:.*--",/);
  });

  it('upserts by external id (created true/false) and resolves relationship columns by external id', async () => {
    seedAccounts(t.table, 1, t.userId, () => ({ External_Id__c: 'parent-1', Name: 'Parent' }));
    const csv = 'External_Id__c,Name,Parent.External_Id__c\nparent-1,Parent renamed,\nchild-1,Child,parent-1\nchild-2,Orphan,no-such-parent\n';
    const info = await runJob({ object: 'Account', operation: 'upsert', externalIdFieldName: 'External_Id__c' }, csv);
    expect(info).toMatchObject({ state: 'JobComplete', externalIdFieldName: 'External_Id__c', numberRecordsProcessed: 3, numberRecordsFailed: 1 });
    const ok = (await text(`/jobs/ingest/${String(info['id'])}/successfulResults`)).trimEnd().split('\n');
    expect(ok[0]).toBe('"sf__Id","sf__Created",External_Id__c,Name,Parent.External_Id__c');
    expect(ok.slice(1).map((l) => l.split(',')[1])).toEqual(['"false"', '"true"']);
    const parent = t.table.findBy('External_Id__c', 'parent-1')[0];
    const child = t.table.findBy('External_Id__c', 'child-1')[0];
    expect(parent?.['Name']).toBe('Parent renamed');
    expect(child?.['ParentId']).toBe(parent?.['Id']);
    const failed = (await text(`/jobs/ingest/${String(info['id'])}/failedResults`)).trimEnd().split('\n');
    expect(failed[1]).toContain('Foreign key external ID: no-such-parent not found');
  });

  it('fails an upsert row with an empty external id (MISSING_ARGUMENT) instead of inserting it', async () => {
    const before = t.table.count(true);
    const info = await runJob({ object: 'Account', operation: 'upsert', externalIdFieldName: 'External_Id__c' }, 'Name,External_Id__c\nNo key,\nKeyed,bulk-key-1\n');
    expect(info).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 2, numberRecordsFailed: 1 });
    const failed = (await text(`/jobs/ingest/${String(info['id'])}/failedResults`)).trimEnd().split('\n');
    expect(failed[1]).toBe('"","MISSING_ARGUMENT:External_Id__c not specified:--","No key",""');
    expect(t.table.count(true)).toBe(before + 1);
  });

  it('deletes and hard-deletes', async () => {
    const ids = seedAccounts(t.table, 3, t.userId);
    const del = await runJob({ object: 'Account', operation: 'delete' }, `Id\n${ids[0] ?? ''}\n${ids[1] ?? ''}\n`);
    expect(del).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 2, numberRecordsFailed: 0 });
    expect(t.table.get(ids[0] ?? '')).toBeUndefined();
    expect(t.table.get(ids[0] ?? '', true)).toBeDefined();
    const hard = await runJob({ object: 'Account', operation: 'hardDelete' }, `Id\n${ids[2] ?? ''}\n`);
    expect(hard).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 1 });
    expect(t.table.get(ids[2] ?? '', true)).toBeUndefined();
  });

  it('fails the whole job on an unknown column, as Salesforce does', async () => {
    const info = await runJob({ object: 'Account', operation: 'insert' }, 'Name,StageName_invalid_field_on_purpose\nA,B\n');
    expect(info).toMatchObject({
      state: 'Failed',
      numberRecordsProcessed: 0,
      numberRecordsFailed: 0,
      errorMessage: 'InvalidBatch : Field name not found : StageName_invalid_field_on_purpose',
    });
    expect(await text(`/jobs/ingest/${String(info['id'])}/unprocessedrecords`)).toBe('Name,StageName_invalid_field_on_purpose\n"A","B"\n');
  });

  it('honours every column delimiter and CRLF, and fails on a line-ending mismatch', async () => {
    const delims: Record<string, string> = { BACKQUOTE: '`', CARET: '^', COMMA: ',', PIPE: '|', SEMICOLON: ';', TAB: '\t' };
    for (const [name, d] of Object.entries(delims)) {
      const csv = `Name${d}External_Id__c\r\n"Delim ${name}"${d}delim-${name}\r\n`;
      const info = await runJob({ object: 'Account', operation: 'insert', columnDelimiter: name, lineEnding: 'CRLF' }, csv);
      expect(info, name).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 1, numberRecordsFailed: 0, columnDelimiter: name, lineEnding: 'CRLF' });
      const ok = await text(`/jobs/ingest/${String(info['id'])}/successfulResults`);
      expect(ok.startsWith(`"sf__Id"${d}"sf__Created"${d}Name${d}External_Id__c\r\n`)).toBe(true);
      expect(t.table.findBy('External_Id__c', `delim-${name}`)[0]?.['Name']).toBe(`Delim ${name}`);
    }
    const mismatch = await runJob({ object: 'Account', operation: 'insert', lineEnding: 'LF' }, 'Name\r\nA\r\n');
    expect(mismatch).toMatchObject({ state: 'Failed', errorMessage: 'ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF' });
  });

  it('refuses a second upload at close with INVALIDJOB (sic "multipe")', async () => {
    const job = await createJob({ object: 'Account', operation: 'insert' });
    const id = String(job['id']);
    expect((await t.req('PUT', `/jobs/ingest/${id}/batches`, 'Name\nA\n', { 'Content-Type': 'text/csv' })).status).toBe(201);
    expect((await t.req('PUT', `/jobs/ingest/${id}/batches`, 'Name\nB\n', { 'Content-Type': 'text/csv' })).status).toBe(201);
    const res = await t.req('PATCH', `/jobs/ingest/${id}`, { state: 'UploadComplete' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual([
      {
        errorCode: 'INVALIDJOB',
        message: `Found multipe contents for job: <${id.slice(0, 15)}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.`,
      },
    ]);
  });

  it('accepts a chunked upload (sf streams the file)', async () => {
    const job = await createJob({ object: 'Account', operation: 'insert' });
    const id = String(job['id']);
    const url = new URL(`${t.base}/jobs/ingest/${id}/batches`);
    const status = await new Promise<number>((resolve, reject) => {
      const r = httpRequest(url, { method: 'PUT', headers: { ...t.auth, 'Content-Type': 'text/csv', 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      r.on('error', reject);
      r.write('Name,External_Id__c\n');
      for (let i = 0; i < 50; i++) r.write(`Chunked ${i},chunk-${i}\n`);
      r.end();
    });
    expect(status).toBe(201);
    await t.req('PATCH', `/jobs/ingest/${id}`, { state: 'UploadComplete' });
    expect(await json(await t.req('GET', `/jobs/ingest/${id}`))).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 50 });
  });

  it('enforces the upload size limit', async () => {
    const job = await createJob({ object: 'Account', operation: 'insert' });
    const saved = t.emu.org.bulk.maxUploadBytes;
    t.emu.org.bulk.maxUploadBytes = 100;
    try {
      const res = await t.req('PUT', `/jobs/ingest/${String(job['id'])}/batches`, 'Name\n' + 'x\n'.repeat(100), { 'Content-Type': 'text/csv' });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { errorCode: string }[])[0]?.errorCode).toBe('EXCEEDED_MAX_SIZE_REQUEST');
      // Salesforce counts the limit after base64 encoding: 75 raw bytes are 100 encoded (accepted), 76 are 104.
      t.emu.org.bulk.maxUploadBytes = 100;
      const fits = await createJob({ object: 'Account', operation: 'insert' });
      expect((await t.req('PUT', `/jobs/ingest/${String(fits['id'])}/batches`, 'Name\n' + 'y'.repeat(69) + '\n', { 'Content-Type': 'text/csv' })).status).toBe(201);
      const over = await createJob({ object: 'Account', operation: 'insert' });
      const big = await t.req('PUT', `/jobs/ingest/${String(over['id'])}/batches`, 'Name\n' + 'y'.repeat(70) + '\n', { 'Content-Type': 'text/csv' });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { message: string }[])[0]?.message).toContain('(76 bytes uploaded, 104 after base64 encoding)');
    } finally {
      t.emu.org.bulk.maxUploadBytes = saved;
    }
  });

  it('aborts, refuses to abort a completed job, deletes and lists', async () => {
    const open = await createJob({ object: 'Account', operation: 'insert' });
    const abort = await json(await t.req('PATCH', `/jobs/ingest/${String(open['id'])}`, { state: 'Aborted' }));
    expect(abort['state']).toBe('Aborted');
    const done = await runJob({ object: 'Account', operation: 'insert' }, 'Name\nX\n');
    const res = await t.req('PATCH', `/jobs/ingest/${String(done['id'])}`, { state: 'Aborted' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual([{ errorCode: 'INVALIDJOBSTATE', message: 'Aborting already Completed Job not allowed' }]);
    const list = await json(await t.req('GET', '/jobs/ingest'));
    expect(list['done']).toBe(true);
    expect((list['records'] as { id: string }[]).map((r) => r.id)).toContain(done['id']);
    expect((await t.req('DELETE', `/jobs/ingest/${String(done['id'])}`)).status).toBe(204);
    const gone = await t.req('GET', `/jobs/ingest/${String(done['id'])}`);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual([{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
  });

  it('moves Open → UploadComplete → InProgress → JobComplete asynchronously with a processing delay', async () => {
    const slow = await bulkEmulator({ bulkProcessingDelayMs: 400 });
    try {
      const create = await slow.req('POST', '/jobs/ingest', { object: 'Account', operation: 'insert' });
      const id = String(((await create.json()) as { id: string }).id);
      await slow.req('PUT', `/jobs/ingest/${id}/batches`, 'Name\nSlow\n', { 'Content-Type': 'text/csv' });
      const patched = (await (await slow.req('PATCH', `/jobs/ingest/${id}`, { state: 'UploadComplete' })).json()) as { state: string };
      expect(patched.state).toBe('UploadComplete');
      const first = (await (await slow.req('GET', `/jobs/ingest/${id}`)).json()) as { state: string };
      expect(first.state).toBe('InProgress');
      await new Promise((r) => setTimeout(r, 450));
      const last = (await (await slow.req('GET', `/jobs/ingest/${id}`)).json()) as { state: string; numberRecordsProcessed: number };
      expect(last).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 1 });
    } finally {
      await slow.emu.close();
    }
  });
});
