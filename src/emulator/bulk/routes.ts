import type { ServerResponse } from 'node:http';
import { SfHttpError, sfError, notFound } from '../errors.ts';
import { sendEmpty, sendText, type EmuRequest } from '../http.ts';
import type { Org, OrgRouter } from '../context.ts';
import { quote } from '../../salesforce-wire/bulk-csv.ts';
import { decodeLocator, encodeLocator } from './csv.ts';
import { jobJson, type IngestJob, type QueryJob } from './service.ts';

/** Result pages listed per `resultPages` response (Salesforce lists up to 5). */
const RESULT_PAGES_PER_RESPONSE = 5;
/** Salesforce's CSV answers name their charset (salesforce-wire.md section 0). */
const CSV = 'text/csv; charset=UTF-8';
const BASE = '/services/data/:version/jobs';

function sendJob(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = jobJson(body);
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function userOf(req: EmuRequest, org: Org): string {
  return req.session?.userId ?? org.auth.defaultUser.userId;
}

function minVersion(req: EmuRequest, min: number): void {
  if (Number(req.version) < min) throw notFound();
}

/** Slices a paced response is written in (so a low rate still sends steadily). */
const PACE_SLICE = 64 * 1024;

/**
 * Write text chunks as a chunked response, respecting backpressure; stops if the client goes away. With `pace`
 * (milliseconds to wait before sending so many bytes), buffers are sent in 64 KB slices, each after its wait.
 */
export async function streamText(res: ServerResponse, status: number, headers: Record<string, string>, chunks: Iterable<string | Buffer>, pace?: (bytes: number) => number): Promise<void> {
  res.writeHead(status, headers);
  for (const whole of chunks) {
    const slices = pace === undefined || typeof whole === 'string' ? [whole] : sliced(whole);
    for (const chunk of slices) {
      if (res.destroyed) return;
      const wait = pace?.(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength) ?? 0;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (res.destroyed) return;
      await writeOne(res, chunk);
    }
  }
  if (!res.destroyed) res.end();
}

function sliced(buffer: Buffer): Buffer[] {
  if (buffer.byteLength <= PACE_SLICE) return [buffer];
  const out: Buffer[] = [];
  for (let at = 0; at < buffer.byteLength; at += PACE_SLICE) out.push(buffer.subarray(at, Math.min(buffer.byteLength, at + PACE_SLICE)));
  return out;
}

async function writeOne(res: ServerResponse, chunk: string | Buffer): Promise<void> {
  if (res.write(chunk)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Base64 size of `raw` bytes: what Salesforce compares with its 150 MB upload limit. */
const base64Size = (raw: number): number => 4 * Math.ceil(raw / 3);

/** Read an upload (chunked or not) whose base64 size is at most `max` bytes; a larger one is drained and refused. */
function readUpload(req: EmuRequest, max: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.raw.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (base64Size(size) > max) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.raw.on('end', () => {
      if (over) {
        reject(
          sfError(413, 'EXCEEDED_MAX_SIZE_REQUEST', `Exceeded max size limit of ${max} bytes for the job data (${size} bytes uploaded, ${base64Size(size)} after base64 encoding). Split the data into several jobs.`),
        );
        return;
      }
      resolve(Buffer.concat(chunks, size));
    });
    req.raw.on('error', reject);
  });
}

// ---------------------------------------------------------------- ingest results

/**
 * A result file's bytes, in chunks of about `chunkBytes`: each row is written straight into the chunk (an
 * uploaded row's quoted text from the upload's own text, see CsvIndex.writeQuotedRow), without building a
 * string per row.
 */
function* ingestResults(job: IngestJob, which: 'success' | 'failed' | 'unprocessed', chunkBytes = 256 * 1024): Iterable<Buffer | string> {
  const d = job.dialect;
  const origHeader = job.header.join(d.delimiter);
  const input = job.input;
  const sep = job.header.length > 0 ? d.delimiter : '';
  let out = Buffer.allocUnsafe(Math.max(chunkBytes, 3 * origHeader.length + 64));
  let pos = 0;
  /** Room for `need` more bytes: a chunk that would overflow is handed out first. */
  const full = (need: number): boolean => pos + need > out.length;
  const fresh = (need: number): void => {
    out = Buffer.allocUnsafe(Math.max(chunkBytes, need));
    pos = 0;
  };
  /** `prefix`, then uploaded row `r` quoted (nothing past the uploaded rows), then the line ending. */
  const writeRow = (prefix: string, r: number): void => {
    pos += out.write(prefix, pos);
    if (input && r < job.rowCount) {
      const at = input.writeQuotedRow(r, out, pos);
      pos = at >= 0 ? at : pos + out.write(input.quotedRow(r), pos);
    }
    pos += out.write(d.eol, pos);
  };
  const room = (prefix: string, r: number): number => 3 * prefix.length + (input && r < job.rowCount ? input.quotedRowRoom(r) : 0) + 2;
  if (which === 'success') {
    pos += out.write(`"sf__Id"${d.delimiter}"sf__Created"${sep}${origHeader}${d.eol}`, 0);
    const { row, id, created } = job.successes;
    const yes = `${d.delimiter}"true"${sep}`;
    const no = `${d.delimiter}"false"${sep}`;
    for (let k = 0; k < row.length; k++) {
      const prefix = quote(id[k] as string) + (created[k] ? yes : no);
      const r = row[k] as number;
      const need = room(prefix, r);
      if (full(need)) {
        if (pos > 0) yield out.subarray(0, pos);
        fresh(need);
      }
      writeRow(prefix, r);
    }
  } else if (which === 'failed') {
    pos += out.write(`"sf__Id"${d.delimiter}"sf__Error"${sep}${origHeader}${d.eol}`, 0);
    const { row, id, error } = job.failures;
    for (let k = 0; k < row.length; k++) {
      const prefix = `${quote(id[k] as string)}${d.delimiter}${quote(error[k] as string)}${sep}`;
      const r = row[k] as number;
      const need = room(prefix, r);
      if (full(need)) {
        if (pos > 0) yield out.subarray(0, pos);
        fresh(need);
      }
      writeRow(prefix, r);
    }
  } else {
    if (job.unparsed !== undefined) {
      yield job.unparsed;
      return;
    }
    if (job.header.length > 0) pos += out.write(origHeader + d.eol, 0);
    // Rows never reached: after an abort, a failure of the whole job, or still waiting.
    const start = job.state === 'Failed' || job.state === 'Aborted' ? job.cursor : job.rowCount;
    for (let i = start; i < job.rowCount; i++) {
      const need = room('', i);
      if (full(need)) {
        if (pos > 0) yield out.subarray(0, pos);
        fresh(need);
      }
      writeRow('', i);
    }
  }
  if (pos > 0) yield out.subarray(0, pos);
}

// ---------------------------------------------------------------- query results

function pageSize(req: EmuRequest, org: Org): number {
  const raw = req.query.get('maxRecords');
  if (raw === null || raw === '') return org.bulk.queryPageRows;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw sfError(400, 'INVALIDQUERYLOCATOR', `Invalid maxRecords: ${raw}. maxRecords must be a positive integer.`);
  return n;
}

function offsetOf(req: EmuRequest): number {
  const raw = req.query.get('locator');
  if (raw === null || raw === '' || raw === 'null') return 0;
  const n = decodeLocator(raw);
  if (n === undefined) throw sfError(400, 'INVALIDQUERYLOCATOR', `Invalid query locator: ${raw}`);
  return n;
}

function completedQuery(req: EmuRequest, org: Org): QueryJob {
  const job = org.bulk.get(req.params['id'] ?? '', 'query');
  org.bulk.checkResultsVersion(job, req.version);
  if (job.state !== 'JobComplete') {
    // Salesforce's answer (Get Results for a Query Job): 412 JOB_NOT_COMPLETE, the state in upper snake case.
    const state = job.state.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
    throw new SfHttpError(412, [
      { errorCode: 'JOB_NOT_COMPLETE', message: `can only download query results of successfully completed bulk job with status: JOB_COMPLETE. Current status: ${state}` },
    ]);
  }
  return job;
}

/** Data rows of an uploaded CSV (lines after the header; a quoted line break may over-count, as a batch estimate). */
function dataRows(data: Buffer | undefined): number {
  if (!data || data.length === 0) return 0;
  let lines = 0;
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) lines++;
  if (data[data.length - 1] !== 10) lines++;
  return Math.max(0, lines - 1);
}

export function registerBulkRoutes(router: OrgRouter): void {
  // ------------------------------------------------------------ ingest
  router.add('POST', `${BASE}/ingest`, { group: 'bulkIngest' }, async (req, res, { org }) => {
    minVersion(req, 41);
    const ct = String(req.headers['content-type'] ?? 'application/json');
    if (/multipart\/form-data/i.test(ct)) throw sfError(400, 'API_ERROR', 'Multipart job creation is not supported by the emulator; upload the data with PUT …/batches');
    const body: unknown = await req.json();
    org.limits.checkBulkBatches();
    const job = org.bulk.createIngest(body, req.version ?? '', userOf(req, org));
    sendJob(res, 200, org.bulk.created(job));
  });
  router.add('GET', `${BASE}/ingest`, { group: 'bulkIngest' }, (req, res, { org }) => {
    minVersion(req, 41);
    const records = org.bulk.list('ingest').map((j) => JSON.parse(jobJson(org.bulk.info(j))) as unknown);
    const text = JSON.stringify({ done: true, records, nextRecordsUrl: null }).replace(/"apiVersion":(\d+)(,|})/g, '"apiVersion":$1.0$2');
    sendText(res, 200, 'application/json;charset=UTF-8', text);
  });
  router.add('PUT', `${BASE}/ingest/:id/batches`, { group: 'bulkIngest' }, async (req, res, { org }) => {
    minVersion(req, 41);
    const job = org.bulk.get(req.params['id'] ?? '', 'ingest');
    if (job.state !== 'Open') {
      req.raw.resume();
      throw sfError(409, 'INVALIDJOBSTATE', `Job ${job.id} is not open for uploads. Its state is ${job.state}`);
    }
    const data = await readUpload(req, org.bulk.maxUploadBytes);
    org.bulk.upload(job, data);
    sendEmpty(res, 201);
  });
  router.add('GET', `${BASE}/ingest/:id`, { group: 'bulkIngest' }, (req, res, { org }) => {
    minVersion(req, 41);
    sendJob(res, 200, org.bulk.info(org.bulk.get(req.params['id'] ?? '', 'ingest')));
  });
  router.add('PATCH', `${BASE}/ingest/:id`, { group: 'bulkIngest' }, async (req, res, { org }) => {
    minVersion(req, 41);
    const job = org.bulk.get(req.params['id'] ?? '', 'ingest');
    const wasOpen = job.state === 'Open';
    org.bulk.changeState(job, await req.json());
    // DailyBulkApiBatches: one batch per 10,000 rows uploaded, counted when the upload is complete.
    if (wasOpen && job.state === 'UploadComplete') org.limits.countIngestBatches(dataRows(job.data));
    sendJob(res, 200, org.bulk.patched(job));
  });
  router.add('DELETE', `${BASE}/ingest/:id`, { group: 'bulkIngest' }, (req, res, { org }) => {
    minVersion(req, 41);
    org.bulk.delete(org.bulk.get(req.params['id'] ?? '', 'ingest'));
    sendEmpty(res, 204);
  });
  const results = (which: 'success' | 'failed' | 'unprocessed') => async (req: EmuRequest, res: ServerResponse, { org }: { org: Org }) => {
    minVersion(req, 41);
    const job = org.bulk.get(req.params['id'] ?? '', 'ingest');
    if (job.state === 'Open') throw sfError(400, 'INVALIDJOBSTATE', `Job ${job.id} is still Open: results are available once the upload is complete`);
    await streamText(res, 200, { 'Content-Type': CSV }, ingestResults(job, which));
  };
  router.add('GET', `${BASE}/ingest/:id/successfulResults`, { group: 'bulkIngest' }, results('success'));
  router.add('GET', `${BASE}/ingest/:id/failedResults`, { group: 'bulkIngest' }, results('failed'));
  router.add('GET', `${BASE}/ingest/:id/unprocessedrecords`, { group: 'bulkIngest' }, results('unprocessed'));

  // ------------------------------------------------------------ query
  router.add('POST', `${BASE}/query`, { group: 'bulkQuery' }, async (req, res, { org }) => {
    minVersion(req, 47);
    const body: unknown = await req.json();
    org.limits.consumeBulkQueryJob();
    const job = org.bulk.createQuery(body, req.version ?? '', userOf(req, org));
    sendJob(res, 200, org.bulk.created(job));
  });
  router.add('GET', `${BASE}/query`, { group: 'bulkQuery' }, (req, res, { org }) => {
    minVersion(req, 47);
    const records = org.bulk.list('query').map((j) => JSON.parse(jobJson(org.bulk.info(j))) as unknown);
    const text = JSON.stringify({ done: true, records, nextRecordsUrl: null }).replace(/"apiVersion":(\d+)(,|})/g, '"apiVersion":$1.0$2');
    sendText(res, 200, 'application/json;charset=UTF-8', text);
  });
  router.add('GET', `${BASE}/query/:id`, { group: 'bulkQuery' }, (req, res, { org }) => {
    minVersion(req, 47);
    sendJob(res, 200, org.bulk.info(org.bulk.get(req.params['id'] ?? '', 'query')));
  });
  router.add('PATCH', `${BASE}/query/:id`, { group: 'bulkQuery' }, async (req, res, { org }) => {
    minVersion(req, 47);
    const job = org.bulk.get(req.params['id'] ?? '', 'query');
    org.bulk.changeState(job, await req.json());
    sendJob(res, 200, org.bulk.patched(job));
  });
  router.add('DELETE', `${BASE}/query/:id`, { group: 'bulkQuery' }, (req, res, { org }) => {
    minVersion(req, 47);
    org.bulk.delete(org.bulk.get(req.params['id'] ?? '', 'query'));
    sendEmpty(res, 204);
  });
  router.add('GET', `${BASE}/query/:id/results`, { group: 'bulkQuery' }, async (req, res, { org }) => {
    minVersion(req, 47);
    const job = completedQuery(req, org);
    const limit = pageSize(req, org);
    const offset = offsetOf(req);
    const source = job.source;
    if (!source) throw notFound();
    const total = source.count;
    const start = Math.min(offset, total);
    const n = Math.max(0, Math.min(limit, total - start));
    const next = start + n < total ? encodeLocator(start + n) : 'null';
    // A results download is a long-running request: at most limits.maxLongRunning at once (src/emulator/limits.ts).
    const end = org.limits.startLongRunning();
    res.once('close', end);
    try {
      await streamText(
        res,
        200,
        { 'Content-Type': CSV, 'Sforce-NumberOfRecords': String(n), 'Sforce-Locator': next },
        source.page(start, n, job.dialect),
        org.bulk.queryBytesPerSecond > 0 ? (bytes) => org.bulk.paceDelay(job, bytes) : undefined,
      );
    } finally {
      end();
    }
  });
  const resultPages = (req: EmuRequest, res: ServerResponse, { org }: { org: Org }): void => {
    minVersion(req, 58);
    const job = completedQuery(req, org);
    const limit = pageSize(req, org);
    const total = job.source?.count ?? 0;
    const first = offsetOf(req);
    const pages: { resultUrl: string }[] = [];
    const base = `/services/data/v${req.version ?? ''}/jobs/query/${job.id}`;
    let at = first;
    for (let i = 0; i < RESULT_PAGES_PER_RESPONSE && (at < total || (total === 0 && i === 0 && at === 0)); i++) {
      pages.push({ resultUrl: `${base}/results?locator=${encodeLocator(at)}&maxRecords=${limit}` });
      at += limit;
    }
    const done = at >= total;
    const body = {
      resultPages: pages,
      nextRecordsUrl: done ? null : `${base}/resultpages?locator=${encodeLocator(at)}&maxRecords=${limit}`,
      done,
    };
    sendText(res, 200, 'application/json;charset=UTF-8', JSON.stringify(body));
  };
  router.add('GET', `${BASE}/query/:id/resultPages`, { group: 'bulkQuery' }, resultPages);
}

