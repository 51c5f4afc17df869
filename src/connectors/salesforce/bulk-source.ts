import { ForceflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { Backoff, retry, sleep } from '../../core/retry.ts';
import type { RunContext } from '../../core/connector.ts';
import type { EntitySchema, RecordBatch, Row } from '../../core/types.ts';
import type { SalesforceClient } from './http.ts';
import { bulkLineWriter, bulkRowBuilder, type BulkLineWriter, type ReadPlan } from './read-plan.ts';
import { LineBuffer } from '../../formats/line-buffer.ts';
import { BufferPool, releaseOnce } from '../../core/buffer-pool.ts';
import { BulkCsvParser, BulkCsvRecords, BYTES_RECORD, CELLS_RECORD, NO_RECORD } from '../../salesforce-wire/csv-reader.ts';
import { CLIENT_DIALECT, CLIENT_JOB_FORMAT } from '../../salesforce-wire/bulk-csv.ts';
import { throwIfCanceled } from '../../core/cancel.ts';

export interface BulkReadOptions {
  /** First poll delay; grows ×1.5 up to pollMaxMs. */
  readonly pollInitialMs?: number;
  readonly pollMaxMs?: number;
  /** Overall deadline for the job to complete. */
  readonly deadlineMs?: number;
  /** Rows per results page (Salesforce's maxRecords); undefined lets Salesforce choose (large pages). */
  readonly maxRecords?: number;
  /** Rows per emitted batch (default 1,000: a batch lives across many young-generation collections, and 5,000-row
   *  batches of wide records cost more GC time and peak RSS than they save in per-batch overhead). */
  readonly batchRows?: number;
  /** Attempts to re-read a results page whose body broke part-way. */
  readonly pageRetries?: number;
  /** New jobs after one ends Failed for a temporary reason ("please retry"; default 3), and the first backoff (1 s, doubling). */
  readonly jobRetries?: number;
  readonly jobRetryBaseMs?: number;
  /**
   * Called (and awaited) as soon as a query job exists, before it is polled, so a run can record the job id
   * and clean it up should its process die. A failure aborts the job and the read.
   */
  readonly onQueryJobCreated?: (jobId: string) => void | Promise<void>;
  /**
   * Give the batches as lines of this file type (RecordBatch.encoded; ReadRequest.encodeAs), each record written
   * as a line as it is parsed, so no row is built and no cell outlives its record (issue 13).
   */
  readonly encodeAs?: 'CSV' | 'JSON';
}

/**
 * A Bulk job's errorMessage that says the failure is temporary: Salesforce's InternalServerError ("Please retry
 * the job"), lock contention, "try again later", a server unavailable or timed out. Such a job is run again as a
 * new job; any other failure (an invalid query...) would fail the same way.
 */
export function isTemporaryJobFailure(errorMessage: string | undefined): boolean {
  if (errorMessage === undefined) return false;
  const code = /^\s*(\w+)\s*:/.exec(errorMessage)?.[1];
  if (code !== undefined && ['InternalServerError', 'TooManyLockFailure', 'ServerUnavailable', 'SERVER_UNAVAILABLE', 'UNABLE_TO_LOCK_ROW', 'REQUEST_RUNNING_TOO_LONG', 'QUERY_TIMEOUT'].includes(code)) return true;
  return /\bplease retry\b|\btry again\b|\bretry (the|your) (job|request)\b|\btemporar(il)?y\b/i.test(errorMessage);
}

interface JobInfo {
  readonly id: string;
  /** A {@link BulkJobState}; typed as text since a newer API version may add states. */
  readonly state: string;
  readonly errorMessage?: string;
  readonly numberRecordsProcessed?: number;
}

/** What the caller may want to know about the job (for the run record). */
export interface BulkReadStats {
  jobId?: string;
  pages: number;
  /** Bytes of the result pages read (counted also in the client's recordBytesReceived). */
  bytes?: number;
}

/**
 * Read through a Bulk API 2.0 query job: create, poll with backoff under a deadline, then stream the
 * result pages (`Sforce-Locator`) chunk by chunk through BulkCsvParser, never holding a whole page in memory. A page whose
 * body breaks part-way is fetched again by its locator (Salesforce re-serves it) and the rows already
 * emitted are skipped, so nothing is lost or duplicated. The job is aborted if the read fails or stops.
 */
export async function* readBulk(
  client: SalesforceClient,
  plan: ReadPlan,
  schema: EntitySchema,
  soql: string,
  includeDeleted: boolean,
  ctx: RunContext,
  options: BulkReadOptions = {},
  stats: BulkReadStats = { pages: 0 },
): AsyncGenerator<RecordBatch> {
  const object = plan.object.name;
  const create = (): Promise<JobInfo> => client.json<JobInfo>({
    method: 'POST',
    path: '/jobs/query',
    json: { operation: includeDeleted ? 'queryAll' : 'query', query: soql, ...CLIENT_JOB_FORMAT },
    // Creating a query job twice costs one extra job and changes no data: safe to retry.
    idempotent: true,
    call: `create Bulk query job for ${object}`,
  });
  let job = await create();
  stats.jobId = job.id;
  let finished = false;
  let completed = false;
  try {
    await options.onQueryJobCreated?.(job.id);
    ctx.log.info({ jobId: job.id, object }, 'bulk query job created');
    // A job that ends Failed for a temporary reason goes again as a new job, a bounded number of times.
    const failureOf = (error: unknown): { state?: string; errorMessage?: string | null } | undefined =>
      error instanceof ForceflowError && error.code === 'SF_BULK_JOB_FAILED' ? (error.details as { state?: string; errorMessage?: string | null }) : undefined;
    await retry(async (attempt) => {
      if (attempt > 0) {
        job = await create();
        stats.jobId = job.id;
        await options.onQueryJobCreated?.(job.id);
        ctx.log.info({ jobId: job.id, object }, 'bulk query job created');
      }
      await waitForJob(client, job.id, object, ctx, options);
    }, {
      policy: { retries: options.jobRetries ?? 3, baseDelayMs: options.jobRetryBaseMs ?? 1000, maxDelayMs: 30_000 },
      signal: ctx.signal,
      isRetryable: (error) => {
        const failure = failureOf(error);
        return failure !== undefined && failure.state === 'Failed' && isTemporaryJobFailure(failure.errorMessage ?? undefined);
      },
      onRetry: ({ error, attempt }) => ctx.log.warn({ jobId: job.id, object, attempt, errorMessage: failureOf(error)?.errorMessage }, 'bulk query job failed for a temporary reason; running it again as a new job'),
      giveUp: (error, attempts) => {
        const message = failureOf(error)?.errorMessage ?? null;
        return new ForceflowError('SF_BULK_JOB_FAILED_TEMPORARY', `The Bulk query job for ${object} ended Failed ${attempts} time(s) for a reason Salesforce gives as temporary (last job ${job.id}: ${message ?? ''}). Run again later.`, {
          cause: error, details: { jobId: job.id, attempts, errorMessage: message },
        });
      },
    });
    const pageBackoff = new Backoff({ ...client.retryPolicy, retries: options.pageRetries ?? 5 });
    completed = true;
    const batchRows = options.batchRows ?? 1000;
    // Lines (options.encodeAs): the batches' buffers, given back by the consumer once written (EncodedLines.release).
    const pool = new BufferPool(3);
    const encodeAs = options.encodeAs;
    let locator: string | undefined;
    for (;;) {
      let skip = 0;
      let attempt = 0;
      const pageStarted = Date.now();
      let next: string | null = null;
      for (;;) {
        const res = await client.download({
          method: 'GET',
          path: `/jobs/query/${job.id}/results`,
          query: { locator, maxRecords: options.maxRecords === undefined ? undefined : String(options.maxRecords) },
          headers: { Accept: 'text/csv' },
          call: `read Bulk query results of ${object}`,
        });
        next = res.headers.get('sforce-locator');
        const declared = Number(res.headers.get('sforce-numberofrecords') ?? Number.NaN);
        const body = res.body;
        // Lines (options.encodeAs) are written from the body's bytes (BulkCsvRecords, bulkLineWriter); rows from the parser's cells.
        const parser = encodeAs === undefined ? new BulkCsvParser(CLIENT_DIALECT.delimiter) : undefined;
        const reader = encodeAs === undefined ? undefined : new BulkCsvRecords(CLIENT_DIALECT.delimiter);
        let build: ((cells: readonly string[]) => Row) | undefined;
        let writer: BulkLineWriter | undefined;
        let seen = 0;
        let rows: Row[] = [];
        // Lines (options.encodeAs): the batch's buffer and its records.
        let out: LineBuffer | undefined;
        let lines = 0;
        let bytesPerRow = 256;
        const encoded = (): RecordBatch => {
          const bytes = (out as LineBuffer).bytes();
          const release = releaseOnce(pool, (out as LineBuffer).buffer);
          const batch: RecordBatch = { schema, rows: [], encoded: { fileType: encodeAs as 'CSV' | 'JSON', bytes, count: lines, release } };
          bytesPerRow = Math.ceil(bytes.length / Math.max(1, lines));
          out = undefined;
          lines = 0;
          return batch;
        };
        try {
          let ended = false;
          const iterator = body[Symbol.asyncIterator]();
          try {
            while (!ended) {
              const step = await iterator.next();
              if (step.done) ended = true;
              else {
                client.bytesReceived += step.value.byteLength;
                client.recordBytesReceived += step.value.byteLength;
                stats.bytes = (stats.bytes ?? 0) + step.value.byteLength;
              }
              if (reader !== undefined) {
                reader.push(step.done ? undefined : step.value);
                for (let kind = reader.next(); kind !== NO_RECORD; kind = reader.next()) {
                  if (!writer) {
                    writer = bulkLineWriter(plan, client.apiVersion, kind === CELLS_RECORD ? reader.cells : reader.cellsOfBytes(), encodeAs as 'CSV' | 'JSON');
                    continue;
                  }
                  seen++;
                  if (seen <= skip) continue;
                  out ??= new LineBuffer(batchRows * bytesPerRow * 1.25, '', pool);
                  if (kind === BYTES_RECORD) writer.write(reader, out);
                  else out.line(writer.line(reader.cells));
                  if (++lines >= batchRows) {
                    skip = seen;
                    yield encoded();
                    if (ctx.signal.aborted) return;
                  }
                }
                continue;
              }
              const records = step.done ? (parser as BulkCsvParser).end() : (parser as BulkCsvParser).push(step.value);
              for (const cells of records) {
                if (!build) {
                  build = bulkRowBuilder(plan, client.apiVersion, cells);
                  continue;
                }
                seen++;
                if (seen <= skip) continue;
                rows.push(build(cells));
                if (rows.length >= batchRows) {
                  skip = seen;
                  const out = rows;
                  rows = [];
                  yield { schema, rows: out };
                  if (ctx.signal.aborted) return;
                }
              }
            }
          } finally {
            // Stopping early (or failing) cancels the body so the connection is released.
            if (!ended) await iterator.return?.().catch(() => undefined);
          }
          // A page that ended cleanly but short of the records Salesforce declared for it (a proxy or load
          // balancer cutting the body at a record boundary) would lose rows silently: fetch it again.
          if (Number.isFinite(declared) && seen < declared) throw new Error(`the page ended after ${seen} of the ${declared} records declared in Sforce-NumberOfRecords`);
          if (Number.isFinite(declared) && seen > declared) ctx.log.warn({ jobId: job.id, declared, parsed: seen }, 'bulk results page held more records than Sforce-NumberOfRecords declared');
        } catch (error) {
          throwIfCanceled(ctx.signal);
          if (error instanceof ForceflowError) throw error;
          const wait = pageBackoff.next(attempt++, pageStarted);
          if (wait === undefined) {
            throw new ForceflowError('SF_UNAVAILABLE', `The Bulk results of job ${job.id} (${object}) kept breaking part-way (${(error as Error).message}). Run again later.`, { cause: error });
          }
          ctx.log.warn({ jobId: job.id, rowsAlreadyRead: skip, delayMs: wait, err: (error as Error).message }, 'bulk results page broke; fetching it again');
          // Cancellable: a cancelled run does not sit out the wait (it used to).
          await sleep(wait, ctx.signal);
          // rows buffered but not yet yielded are re-read from the page; `skip` counts only yielded ones.
          out = undefined;
          lines = 0;
          continue;
        }
        if (rows.length > 0) yield { schema, rows };
        if (lines > 0) yield encoded();
        if (reader !== undefined) ctx.log.debug({ jobId: job.id, records: seen, fromBytes: writer?.stats.copied, reparsed: writer?.stats.reparsed, columnTexts: writer?.stats.texts, parsed: reader.parsed }, 'bulk results page written as lines');
        stats.pages++;
        break;
      }
      if (!next || next === 'null') break;
      locator = next;
    }
    finished = true;
  } finally {
    if (!finished) {
      // Best effort, so a failed, cancelled or abandoned read stops using org resources: a job still running
      // is aborted; a completed one (Salesforce refuses to abort it) is deleted with its stored results.
      const call = completed
        ? client.send({ method: 'DELETE', path: `/jobs/query/${job.id}`, call: `delete Bulk query job ${job.id}`, cleanup: true })
        : client.send({ method: 'PATCH', path: `/jobs/query/${job.id}`, json: { state: 'Aborted' }, call: `abort Bulk query job ${job.id}`, cleanup: true });
      await call.then(() => ctx.log.info({ jobId: job.id, action: completed ? 'deleted' : 'aborted' }, 'bulk query job stopped')).catch(() => undefined);
    }
  }
}

async function waitForJob(client: SalesforceClient, jobId: string, object: string, ctx: RunContext, options: BulkReadOptions): Promise<void> {
  const deadline = Date.now() + (options.deadlineMs ?? 4 * 3600_000);
  let delay = options.pollInitialMs ?? 250;
  for (;;) {
    const info = await client.json<JobInfo>({ method: 'GET', path: `/jobs/query/${jobId}`, call: `poll Bulk query job ${jobId}` });
    if (info.state === 'JobComplete') return;
    if (info.state === 'Failed' || info.state === 'Aborted') {
      throw new ForceflowError('SF_BULK_JOB_FAILED', `The Bulk query job ${jobId} for ${object} ended ${info.state}${info.errorMessage ? `: ${info.errorMessage}` : ''}. Check the query and the org, then run again.`, {
        details: { jobId, state: info.state, errorMessage: info.errorMessage ?? null },
      });
    }
    if (Date.now() + delay > deadline) {
      throw new ForceflowError('SF_BULK_JOB_TIMEOUT', `The Bulk query job ${jobId} for ${object} did not complete before the deadline (state ${info.state}).`, { details: { jobId, state: info.state } });
    }
    // Polling (waiting for the job to finish) is not retrying a failure: its own growing interval, the same cancellable wait.
    await sleep(delay, ctx.signal);
    delay = Math.min(options.pollMaxMs ?? 10_000, Math.round(delay * 1.5));
  }
}

/** Stop an interrupted run's Bulk query job (abort it while it runs) and delete it; a job already gone is done. */
export async function stopBulkQueryJob(client: SalesforceClient, jobId: string, log: Logger): Promise<void> {
  const gone = (error: unknown): boolean => (error as ForceflowError).details?.['status'] === 404;
  let state: string | undefined;
  try {
    state = (await client.json<{ state: string }>({ method: 'GET', path: `/jobs/query/${jobId}`, call: `read Bulk query job ${jobId}` })).state;
  } catch (error) {
    if (gone(error)) return;
    throw error;
  }
  if (state === 'UploadComplete' || state === 'InProgress') {
    await client.send({ method: 'PATCH', path: `/jobs/query/${jobId}`, json: { state: 'Aborted' }, call: `abort Bulk query job ${jobId}` }).catch((error: unknown) => {
      if (!gone(error)) throw error;
    });
  }
  await client.send({ method: 'DELETE', path: `/jobs/query/${jobId}`, call: `delete Bulk query job ${jobId}` }).catch((error: unknown) => {
    if (!gone(error)) throw error;
  });
  log.info({ jobId, state }, 'bulk query job of an interrupted run stopped and deleted');
}
