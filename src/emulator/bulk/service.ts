import { sfError, SfHttpError, notFound } from '../errors.ts';
import { makeId } from '../ids.ts';
import { isTerminalJobState, type BulkJobState } from '../../salesforce-wire/bulk-jobs.ts';
import type { WriteContext } from '../org/dml.ts';
import type { OrgStore, Table } from '../org/store.ts';
import { COLUMN_DELIMITERS, dialect, type ColumnDelimiter, type CsvDialect, type LineEnding } from '../../salesforce-wire/bulk-csv.ts';
import { CsvInputError, indexCsv, type CsvIndex } from './csv.ts';
import { openBulkQuery, runBulkWrites, unknownColumn, type BulkQuerySource, type RowOutcome } from './engines.ts';

export type IngestOperation = 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete';
export type QueryOperation = 'query' | 'queryAll';
export type JobState = BulkJobState;

const INGEST_OPERATIONS: readonly IngestOperation[] = ['insert', 'update', 'upsert', 'delete', 'hardDelete'];
/**
 * Salesforce accepts at most 150 MB of CSV per upload *after base64 encoding* (about 112 MB of raw CSV; it
 * recommends 100 MB). The emulator compares the base64 size of the upload, 4 * ceil(raw / 3), with this.
 */
export const MAX_UPLOAD_BYTES = 150 * 1024 * 1024;
/** Rows written per engine call (Salesforce processes ingest data in internal batches of 10,000). */
const WRITE_CHUNK = 10_000;
/** Rows in a Bulk query results page when the client gives no `maxRecords`. */
export const DEFAULT_QUERY_PAGE_ROWS = 100_000;

interface JobBase {
  readonly id: string;
  readonly object: string;
  readonly createdById: string;
  readonly createdDate: number;
  systemModstamp: number;
  state: JobState;
  readonly apiVersion: number;
  readonly lineEnding: LineEnding;
  readonly columnDelimiter: ColumnDelimiter;
  readonly dialect: CsvDialect;
  errorMessage?: string;
  /** When the job may show JobComplete (epoch ms); set when processing starts. */
  readyAt: number;
  processingStarted: number;
  processingMs: number;
  done: boolean;
}

export interface IngestJob extends JobBase {
  readonly kind: 'ingest';
  readonly operation: IngestOperation;
  readonly externalIdFieldName?: string;
  readonly assignmentRuleId?: string;
  uploads: number;
  data?: Buffer;
  header: string[];
  /** The uploaded rows, read when processed and when result files are written; undefined until parsed. */
  input?: CsvIndex;
  /** Number of data rows uploaded (0 until parsed). */
  rowCount: number;
  /** Index of the first row not yet processed. */
  cursor: number;
  /** Processed rows that succeeded, in row order: parallel columns (no object per row). */
  successes: { readonly row: number[]; readonly id: string[]; readonly created: boolean[] };
  /** Processed rows that failed, in row order. */
  failures: { readonly row: number[]; readonly id: string[]; readonly error: string[] };
  /** Raw data when the CSV could not be parsed (served as unprocessedrecords). */
  unparsed?: string;
}

export interface QueryJob extends JobBase {
  readonly kind: 'query';
  readonly operation: QueryOperation;
  readonly query: string;
  source?: BulkQuerySource;
  numberRecordsProcessed: number;
  /** Results pacing (`queryBytesPerSecond`): when the job's results stream may send its next byte (epoch ms). */
  paceAt: number;
}

export type BulkJob = IngestJob | QueryJob;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '+0000');
}

function apiVersionNumber(version: string | undefined): number {
  return Number(version ?? '0');
}

/** `apiVersion` as Salesforce prints it: a JSON number such as 58.0 (JSON.stringify would drop the .0). */
export function jobJson(body: Record<string, unknown>): string {
  return JSON.stringify(body).replace(/"apiVersion":(\d+)(,|})/, '"apiVersion":$1.0$2');
}

/** What Bulk jobs need of the org: the write engine's context (store, row locks, persistence) and a clock. */
export interface BulkDeps extends WriteContext {
  readonly store: OrgStore;
  /** Epoch ms. */
  readonly clock: () => number;
  /** Fault injection: an errorMessage when this job must end Failed. */
  readonly faults: WriteContext['faults'] & { bulkJobFailure(kind: 'ingest' | 'query'): string | undefined };
  /** Milliseconds a job spends InProgress before completing. */
  readonly processingDelayMs: number;
}

/** Bulk API 2.0 jobs of the org (ingest and query). */
export class BulkService {
  private readonly deps: BulkDeps;
  private readonly jobs = new Map<string, BulkJob>();
  private counter = 1;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Upload size limit in bytes (tests may lower it). */
  maxUploadBytes = MAX_UPLOAD_BYTES;
  /** Rows in a query results page when the client gives no `maxRecords` (tests may lower it to get many pages). */
  queryPageRows = DEFAULT_QUERY_PAGE_ROWS;
  /**
   * Result throughput of each query job in bytes per second (0: unlimited, the default). Salesforce serves a
   * job's results at a bounded rate, so a read split into several jobs goes faster; this makes the emulator do
   * the same (docs/emulator-bulk.md, "Per-job result throughput"). Every results request of one job shares it.
   */
  queryBytesPerSecond = 0;

  constructor(deps: BulkDeps & { readonly queryBytesPerSecond?: number }) {
    this.deps = deps;
    this.queryBytesPerSecond = Math.max(0, deps.queryBytesPerSecond ?? 0);
  }

  /**
   * How long to wait before sending `bytes` more of a job's results, under `queryBytesPerSecond` (0 when
   * unlimited). The job's budget is shared by all its results requests and does not build up while idle.
   */
  paceDelay(job: QueryJob, bytes: number): number {
    const rate = this.queryBytesPerSecond;
    if (!(rate > 0)) return 0;
    const now = Date.now();
    const start = Math.max(now, job.paceAt);
    job.paceAt = start + (bytes / rate) * 1000;
    return Math.max(0, start - now);
  }

  /** Abort and forget every job (control reset, close). */
  reset(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const j of this.jobs.values()) if (!j.done) j.state = 'Aborted';
    this.jobs.clear();
  }

  private newId(): string {
    return makeId('750', this.counter++);
  }

  private delay(): number {
    return Math.max(0, this.deps.processingDelayMs);
  }

  /** A job by id (15 or 18 chars) and kind; 404 NOT_FOUND otherwise. */
  get(id: string, kind: 'ingest'): IngestJob;
  get(id: string, kind: 'query'): QueryJob;
  get(id: string, kind: 'ingest' | 'query'): BulkJob {
    const key = id.length === 15 ? [...this.jobs.keys()].find((k) => k.startsWith(id)) : id;
    const job = key === undefined ? undefined : this.jobs.get(key);
    if (!job || job.kind !== kind) throw notFound();
    this.advance(job);
    return job;
  }

  list(kind: 'ingest' | 'query'): BulkJob[] {
    const out: BulkJob[] = [];
    for (const j of this.jobs.values()) {
      if (j.kind !== kind) continue;
      this.advance(j);
      out.push(j);
    }
    return out;
  }

  // ---------------------------------------------------------------- ingest

  createIngest(body: unknown, version: string, userId: string): IngestJob {
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw sfError(400, 'API_ERROR', 'Invalid request body');
    const objectName = typeof b['object'] === 'string' ? b['object'] : '';
    const operation = INGEST_OPERATIONS.find((o) => o === b['operation']);
    if (!objectName) throw sfError(400, 'API_ERROR', 'Missing required field: object');
    if (b['operation'] === undefined) throw sfError(400, 'API_ERROR', 'Missing required field: operation');
    if (!operation) throw sfError(400, 'API_ERROR', `Invalid operation: ${String(b['operation'])}`);
    const contentType = b['contentType'] ?? 'CSV';
    if (contentType !== 'CSV') throw sfError(400, 'API_ERROR', `Invalid content type: ${String(contentType)}. Bulk API 2.0 supports CSV only`);
    const { lineEnding, columnDelimiter } = this.format(b);
    const table = this.table(objectName);
    let externalIdFieldName: string | undefined;
    if (operation === 'upsert') {
      const ext = b['externalIdFieldName'];
      if (typeof ext !== 'string' || !ext) throw sfError(400, 'INVALIDJOB', 'External ID was blank for ' + table.schema.name + '. An External ID must be specified for upsert.');
      const f = table.schema.field(ext);
      if (!f || !(f.externalId || f.idLookup || f.type === 'id')) {
        throw sfError(400, 'INVALIDJOB', `InvalidJob : Field name provided, ${ext} is not an External ID or indexed field for ${table.schema.name}`);
      }
      externalIdFieldName = f.name;
    }
    const now = this.deps.clock();
    const job: IngestJob = {
      kind: 'ingest',
      id: this.newId(),
      operation,
      object: table.schema.name,
      createdById: userId,
      createdDate: now,
      systemModstamp: now,
      state: 'Open',
      apiVersion: apiVersionNumber(version),
      lineEnding,
      columnDelimiter,
      dialect: dialect(columnDelimiter, lineEnding),
      readyAt: 0,
      processingStarted: 0,
      processingMs: 0,
      done: false,
      uploads: 0,
      header: [],
      rowCount: 0,
      cursor: 0,
      successes: { row: [], id: [], created: [] },
      failures: { row: [], id: [], error: [] },
      ...(externalIdFieldName === undefined ? {} : { externalIdFieldName }),
      ...(typeof b['assignmentRuleId'] === 'string' ? { assignmentRuleId: b['assignmentRuleId'] } : {}),
    };
    this.jobs.set(job.id, job);
    return job;
  }

  /** `PUT …/batches`: one upload per job (a second one makes the close fail, as on Salesforce). */
  upload(job: IngestJob, data: Buffer): void {
    if (job.state !== 'Open') {
      throw sfError(409, 'INVALIDJOBSTATE', `Job ${job.id} is not open for uploads. Its state is ${job.state}`);
    }
    job.uploads++;
    job.data = job.uploads === 1 ? data : job.data;
    job.systemModstamp = this.deps.clock();
  }

  /** `PATCH {"state": …}` on an ingest or query job. */
  changeState(job: BulkJob, body: unknown): void {
    const state = (body as { state?: unknown } | null)?.state;
    if (state === 'Aborted') {
      if (isTerminalJobState(job.state)) {
        throw sfError(400, 'INVALIDJOBSTATE', 'Aborting already Completed Job not allowed');
      }
      job.state = 'Aborted';
      job.done = true;
      job.systemModstamp = this.deps.clock();
      return;
    }
    if (state === 'UploadComplete' && job.kind === 'ingest') {
      if (job.state !== 'Open') throw sfError(400, 'INVALIDJOBSTATE', `Job state must be Open to set it to UploadComplete. Current state: ${job.state}`);
      if (job.uploads > 1) {
        throw sfError(
          400,
          'INVALIDJOB',
          `Found multipe contents for job: <${job.id.slice(0, 15)}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.`,
        );
      }
      const now = this.deps.clock();
      job.state = 'UploadComplete';
      job.systemModstamp = now;
      job.readyAt = now + this.delay();
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.startIngest(job);
      }, 0);
      this.timers.add(t);
      return;
    }
    throw sfError(400, 'INVALIDJOBSTATE', `Invalid state transition to ${String(state)} for a job in state ${job.state}`);
  }

  delete(job: BulkJob): void {
    if (job.state === 'Open' || job.state === 'InProgress' || (job.kind === 'query' && job.state === 'UploadComplete')) {
      throw sfError(400, 'API_ERROR', 'Error encountered when deleting the job because the job is not terminated');
    }
    this.jobs.delete(job.id);
  }

  /** Move a job along in time: start processing when due and show JobComplete once it is done and ready. */
  private advance(job: BulkJob): void {
    if (job.state === 'UploadComplete' && job.kind === 'ingest' && job.processingStarted === 0) this.startIngest(job);
    if (job.state === 'UploadComplete' && job.kind === 'query' && job.processingStarted === 0) this.startQuery(job);
    if (job.state === 'InProgress' && job.done && this.deps.clock() >= job.readyAt) {
      job.state = job.errorMessage === undefined ? 'JobComplete' : 'Failed';
      job.systemModstamp = this.deps.clock();
    }
  }

  private fail(job: BulkJob, message: string): void {
    job.errorMessage = message;
    job.done = true;
    job.processingMs = Math.max(1, this.deps.clock() - job.processingStarted);
  }

  private startIngest(job: IngestJob): void {
    if (job.processingStarted !== 0 || job.state !== 'UploadComplete') return;
    job.processingStarted = this.deps.clock();
    job.state = 'InProgress';
    const injected = this.deps.faults.bulkJobFailure('ingest');
    const text = (job.data ?? Buffer.alloc(0)).toString('utf8');
    job.data = undefined;
    try {
      const input = indexCsv(text, job.dialect);
      job.header = input.header;
      job.input = input;
      job.rowCount = input.rowCount;
    } catch (error) {
      if (!(error instanceof CsvInputError)) throw error;
      job.unparsed = text;
      this.fail(job, error.message);
      return;
    }
    if (injected) {
      this.fail(job, injected);
      return;
    }
    const bad = unknownColumn(this.deps, job.object, job.header, job.operation, job.externalIdFieldName);
    if (bad !== undefined) {
      this.fail(job, `InvalidBatch : Field name not found : ${bad}`);
      return;
    }
    this.processChunk(job);
  }

  private processChunk(job: IngestJob): void {
    if (job.state === 'Aborted') {
      job.processingMs = Math.max(1, this.deps.clock() - job.processingStarted);
      return;
    }
    const end = Math.min(job.rowCount, job.cursor + WRITE_CHUNK);
    const from = job.cursor;
    const rows: string[][] = [];
    for (let r = from; r < end; r++) rows.push((job.input as CsvIndex).row(r));
    const outcomes: RowOutcome[] = runBulkWrites(this.deps, {
      operation: job.operation,
      object: job.object,
      header: job.header,
      rows,
      userId: job.createdById,
      ...(job.externalIdFieldName === undefined ? {} : { externalIdField: job.externalIdFieldName }),
    });
    const { successes, failures } = job;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i] as RowOutcome;
      if (o.success) {
        successes.row.push(from + i);
        successes.id.push(o.id ?? '');
        successes.created.push(o.created === true);
      } else {
        failures.row.push(from + i);
        failures.id.push(o.id ?? '');
        failures.error.push(o.error);
      }
    }
    job.cursor = end;
    if (end < job.rowCount) {
      setImmediate(() => this.processChunk(job));
      return;
    }
    job.done = true;
    job.processingMs = Math.max(1, this.deps.clock() - job.processingStarted);
  }

  // ---------------------------------------------------------------- query

  createQuery(body: unknown, version: string, userId: string): QueryJob {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw sfError(400, 'API_ERROR', 'Invalid request body');
    const b = body as Record<string, unknown>;
    const operation = b['operation'] === undefined ? 'query' : b['operation'];
    if (operation !== 'query' && operation !== 'queryAll') throw sfError(400, 'API_ERROR', `Invalid operation: ${String(operation)}`);
    const soql = b['query'];
    if (typeof soql !== 'string' || soql.trim() === '') throw sfError(400, 'API_ERROR', 'Missing required field: query');
    const contentType = b['contentType'] ?? 'CSV';
    if (contentType !== 'CSV') throw sfError(400, 'API_ERROR', `Invalid content type: ${String(contentType)}. Bulk API 2.0 supports CSV only`);
    const { lineEnding, columnDelimiter } = this.format(b);
    const source = openBulkQuery(this.deps, soql, operation === 'queryAll');
    const now = this.deps.clock();
    const job: QueryJob = {
      kind: 'query',
      id: this.newId(),
      operation,
      object: source.object,
      query: soql,
      createdById: userId,
      createdDate: now,
      systemModstamp: now,
      state: 'UploadComplete',
      apiVersion: apiVersionNumber(version),
      lineEnding,
      columnDelimiter,
      dialect: dialect(columnDelimiter, lineEnding),
      readyAt: now + this.delay(),
      processingStarted: 0,
      processingMs: 0,
      done: false,
      source,
      numberRecordsProcessed: 0,
      paceAt: 0,
    };
    this.jobs.set(job.id, job);
    return job;
  }

  private startQuery(job: QueryJob): void {
    job.processingStarted = this.deps.clock();
    job.state = 'InProgress';
    const injected = this.deps.faults.bulkJobFailure('query');
    if (injected) {
      job.source = undefined;
      this.fail(job, injected);
      return;
    }
    const source = job.source;
    if (source) {
      source.complete();
      job.numberRecordsProcessed = source.count;
    }
    job.done = true;
    job.processingMs = Math.max(1, this.deps.clock() - job.processingStarted);
  }

  // ---------------------------------------------------------------- shared

  private table(objectName: string): Table {
    const table = this.deps.store.table(objectName);
    if (!table) throw sfError(404, 'NOT_FOUND', `sObject type '${objectName}' is not supported.`);
    return table;
  }

  private format(b: Record<string, unknown>): { lineEnding: LineEnding; columnDelimiter: ColumnDelimiter } {
    const le = b['lineEnding'] ?? 'LF';
    if (le !== 'LF' && le !== 'CRLF') throw sfError(400, 'API_ERROR', `Invalid line ending: ${String(le)}. Valid values are LF and CRLF`);
    const cd = b['columnDelimiter'] ?? 'COMMA';
    if (typeof cd !== 'string' || !(cd in COLUMN_DELIMITERS)) {
      throw sfError(400, 'API_ERROR', `Invalid column delimiter: ${String(cd)}. Valid values are ${Object.keys(COLUMN_DELIMITERS).join(', ')}`);
    }
    return { lineEnding: le, columnDelimiter: cd as ColumnDelimiter };
  }

  // ---------------------------------------------------------------- JSON views

  /** Job info as `GET /jobs/{kind}/{id}` shows it (with `jobType` and counters). */
  info(job: BulkJob): Record<string, unknown> {
    return this.view(job, 'info');
  }

  /** The create response (no `jobType`, no counters; `contentUrl` for ingest). */
  created(job: BulkJob): Record<string, unknown> {
    return this.view(job, 'create');
  }

  /** The short object a PATCH answers with. */
  patched(job: BulkJob): Record<string, unknown> {
    return this.view(job, 'patch');
  }

  private view(job: BulkJob, mode: 'create' | 'info' | 'patch'): Record<string, unknown> {
    const o: Record<string, unknown> = {
      id: job.id,
      operation: job.operation,
      object: job.object,
      createdById: job.createdById,
      createdDate: iso(job.createdDate),
      systemModstamp: iso(job.systemModstamp),
      state: job.state,
    };
    if (job.kind === 'ingest') {
      if (job.externalIdFieldName !== undefined) o['externalIdFieldName'] = job.externalIdFieldName;
      if (job.assignmentRuleId !== undefined) o['assignmentRuleId'] = job.assignmentRuleId;
    }
    o['concurrencyMode'] = 'Parallel';
    o['contentType'] = 'CSV';
    o['apiVersion'] = job.apiVersion;
    if (mode === 'patch') return o;
    if (job.kind === 'ingest' && job.state === 'Open') {
      o['contentUrl'] = `services/data/v${job.apiVersion.toFixed(1)}/jobs/ingest/${job.id}/batches`;
    }
    if (mode === 'info') o['jobType'] = job.kind === 'ingest' ? 'V2Ingest' : 'V2Query';
    o['lineEnding'] = job.lineEnding;
    o['columnDelimiter'] = job.columnDelimiter;
    if (mode === 'create') return o;
    if (job.kind === 'ingest') {
      if (!(job.state === 'Open' && job.uploads === 0)) {
        o['numberRecordsProcessed'] = job.successes.row.length + job.failures.row.length;
        o['numberRecordsFailed'] = job.failures.row.length;
        o['retries'] = 0;
        o['totalProcessingTime'] = job.processingMs;
        o['apiActiveProcessingTime'] = Math.floor(job.processingMs * 0.8);
        o['apexProcessingTime'] = 0;
      }
    } else {
      o['numberRecordsProcessed'] = job.state === 'JobComplete' ? job.numberRecordsProcessed : 0;
      o['retries'] = 0;
      o['totalProcessingTime'] = job.processingMs;
      o['isPkChunkingSupported'] = true;
    }
    if (job.state === 'Failed' && job.errorMessage !== undefined) o['errorMessage'] = job.errorMessage;
    return o;
  }

  /** Results of a query job must be fetched with the API version the job was created with. */
  checkResultsVersion(job: QueryJob, version: string | undefined): void {
    if (apiVersionNumber(version) !== job.apiVersion) {
      throw new SfHttpError(409, [
        {
          errorCode: 'API_ERROR',
          message: `The API version of the request (${version ?? ''}) does not match the API version of the job (${job.apiVersion.toFixed(1)}). Use the job's API version to get its results.`,
        },
      ]);
    }
  }
}
