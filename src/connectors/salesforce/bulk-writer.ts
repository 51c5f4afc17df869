import { createReadStream } from 'node:fs';
import { isTerminalJobState } from '../../salesforce-wire/bulk-jobs.ts';
import { CLIENT_JOB_FORMAT } from '../../salesforce-wire/bulk-csv.ts';
import type { RecordFailure, RunContext } from '../../core/connector.ts';
import { ForceflowError, isForceflowError } from '../../core/errors.ts';
import { Backoff, retry, sleep } from '../../core/retry.ts';
import type { FieldType } from '../../core/types.ts';
import { BULK_CALL_RETRIES, type SalesforceClient } from './http.ts';
import { executionJournalNone, journalFailure, type ExecutionJournal } from './journal.ts';
import { FAILED, JobLedger, MatchPass, SUCCEEDED, UNPROCESSED, UNSEEN } from './reconcile.ts';
import { readBulkCsv } from '../../salesforce-wire/csv-reader.ts';
import { CsvSpool, readSpoolOriginals, readSpoolRows, removeSpoolFile, type SpoolFile } from './spool.ts';
import { OUTCOME_UNKNOWN, RETRYABLE_ROW_ERRORS, isTransientCallError, recordFromCells, retryAfterOf, rowRetryPolicy, type RowRetryOptions, type WriteReporter, type WriteTarget } from './write-plan.ts';
import { throwIfCanceled } from '../../core/cancel.ts';

/**
 * Writes spooled CSV files through Bulk API 2.0 ingest, one job per file (each at most 100 MB, see spool.ts):
 * create the job, upload the file (one streamed PUT), UploadComplete, poll with backoff under a deadline, then
 * read successfulResults, failedResults and unprocessedrecords and reconcile every row sent (reconcile.ts).
 *
 * Each row sent ends as exactly one of: written (in successfulResults), failed (failedResults, with
 * Salesforce's code and message), or sent again in a follow-up job. Sent again, a bounded number of times
 * (`rowRetries`, with doubling backoff), are:
 * - rows that failed for a retryable reason (UNABLE_TO_LOCK_ROW...), and
 * - rows a Failed or Aborted job never processed (unprocessedrecords): they were not written, for any operation.
 * Rows no result file mentions have an unknown outcome: for UPDATE, UPSERT and DELETE they are sent again
 * (idempotent); for INSERT they are reported as SF_WRITE_OUTCOME_UNKNOWN, never blindly repeated.
 *
 * Job calls are made safe to repeat: a lost job creation leaves at most an empty Open job (never closed, so it
 * writes nothing); a failed upload aborts its job and the file goes to a new one (a job takes one PUT only);
 * a lost UploadComplete is checked by reading the job's state before it is sent again.
 */
export interface BulkWriterOptions extends RowRetryOptions {
  /** First poll delay; grows ×1.5 up to pollMaxMs (defaults 250 ms, 10 s). */
  readonly pollInitialMs?: number;
  readonly pollMaxMs?: number;
  /** How long one job may take before SF_BULK_JOB_TIMEOUT (default 2 h). */
  readonly deadlineMs?: number;
  /** Attempts to re-read a results file whose body broke part-way (default 4). */
  readonly resultRetries?: number;
  /** Attempts to send again an upload or UploadComplete that failed in transit (default 4). */
  readonly callRetries?: number;
}

/** What recovering a job left to send again (a spool file of those rows, with their originals). */
export interface RecoveredJob {
  readonly resend: SpoolFile | undefined;
}

interface JobInfo {
  readonly id: string;
  readonly state: string;
  readonly errorMessage?: string;
  readonly numberRecordsProcessed?: number;
  readonly numberRecordsFailed?: number;
}

export interface BulkWriteStats {
  readonly jobs: string[];
  calls: number;
}

/** `CODE:message:fields --` (Salesforce's sf__Error) → parts. */
export function parseBulkError(text: string): { code: string; message: string; fields: string[] } {
  const s = text.replace(/\s*--\s*$/, '');
  const first = s.indexOf(':');
  if (first < 0) return { code: s || 'UNKNOWN_EXCEPTION', message: s, fields: [] };
  const code = s.slice(0, first);
  let rest = s.slice(first + 1);
  let fields: string[] = [];
  const last = rest.lastIndexOf(':');
  if (last >= 0 && /^[A-Za-z0-9_.,\s]*$/.test(rest.slice(last + 1))) {
    fields = rest.slice(last + 1).split(',').map((f) => f.trim()).filter((f) => f !== '');
    rest = rest.slice(0, last);
  }
  return { code, message: rest.trim(), fields };
}

/**
 * The wait before the next poll of an ingest job: the backoff's `delay`, or less when the job's progress
 * (numberRecordsProcessed since the first poll, at the rate seen so far) says it will be done sooner, but not
 * under `floor`. A long job is polled rarely while it runs and soon after it ends, not up to a full backoff
 * step (10 s) late.
 */
export function pollDelay(delay: number, floor: number, first: { at: number; processed: number }, now: { at: number; processed: number }, rows: number): number {
  const done = now.processed - first.processed;
  const elapsed = now.at - first.at;
  if (done <= 0 || elapsed <= 0) return delay;
  const remaining = ((rows - now.processed) * elapsed) / done;
  return Math.max(floor, Math.min(delay, Math.round(remaining)));
}

export class BulkWriter {
  private readonly client: SalesforceClient;
  private readonly target: WriteTarget;
  private readonly reporter: WriteReporter;
  private readonly ctx: RunContext;
  private readonly options: BulkWriterOptions;
  private readonly tempDir: string;
  private readonly types: readonly FieldType[];
  private readonly keys: readonly string[];
  /** The column that identifies a row to Salesforce (reconcile.ts): UPSERT's external id, UPDATE's and DELETE's Id; -1 for INSERT. */
  readonly identity: number;
  private retrySeq = 0;
  private readonly journal: ExecutionJournal;
  readonly stats: BulkWriteStats = { jobs: [], calls: 0 };

  constructor(client: SalesforceClient, target: WriteTarget, reporter: WriteReporter, ctx: RunContext, tempDir: string, options: BulkWriterOptions = {}, journal: ExecutionJournal = executionJournalNone) {
    this.journal = journal;
    this.client = client;
    this.target = target;
    this.reporter = reporter;
    this.ctx = ctx;
    this.options = options;
    this.tempDir = tempDir;
    this.types = target.columns.map((c) => c.field.type);
    this.keys = target.columns.map((c) => c.key);
    const identityField = target.operation === 'UPSERT' ? target.externalIdField?.name : target.operation === 'INSERT' ? undefined : 'Id';
    this.identity = identityField === undefined ? -1 : target.columns.findIndex((c) => c.field.name.toLowerCase() === identityField.toLowerCase());
  }

  /** Write every file, one job each, in order; stops early once the reporter says so. */
  async write(files: readonly SpoolFile[]): Promise<void> {
    for (const file of files) this.enqueue(file);
    await this.drain();
  }

  private queue: Promise<void> = Promise.resolve();
  /** Resolves when the job enqueued last lets the next one be closed (see {@link enqueue}). */
  private gate: Promise<void> = Promise.resolve();
  /** Resolves when the job enqueued last is closed (UploadComplete), or will not be: the next may upload. */
  private uploaded: Promise<void> = Promise.resolve();
  private halted = false;
  /** Files enqueued whose job is not closed yet (nor given up): none means Salesforce has nothing queued behind the job it processes. */
  waiting = 0;
  /** Set once a queued job failed: the caller stops spooling and calls {@link drain}, which throws the failure. */
  failed = false;

  /**
   * Send `file` in a job. Jobs are processed by Salesforce one at a time, in order, while the caller goes on
   * spooling the next file. A job is created and its file uploaded as soon as the job before it is closed, so
   * that it waits Open (an Open job is never processed) while Salesforce works on that one; it is closed
   * (UploadComplete) once the job before it lets it go: when that job's results are reconciled, or earlier, as
   * soon as Salesforce says it completed with every row processed and none failed (its results can then only
   * be successes, and reading them overlaps the next job). After a failure, or once the reporter stops the
   * write or {@link halt} is called, queued files are not sent, and a job waiting Open is aborted (it wrote
   * nothing; the journal says so).
   */
  enqueue(file: SpoolFile): void {
    const previous = this.gate;
    const previousUploaded = this.uploaded;
    let release = (): void => undefined;
    let resolveUploaded = (): void => undefined;
    this.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.uploaded = new Promise<void>((resolve) => {
      resolveUploaded = resolve;
    });
    this.waiting++;
    let isClosed = false;
    const closed = (): void => {
      if (isClosed) return;
      isClosed = true;
      this.waiting--;
      resolveUploaded();
    };
    const run = (async (): Promise<void> => {
      try {
        await previousUploaded;
        if (this.stopping()) return;
        await this.writeFile(file, 0, { before: previous, closed, release });
      } catch (error) {
        this.failed = true;
        throw error;
      } finally {
        closed();
        release();
      }
    })();
    // drain() throws the first failure; the jobs already under way finish first.
    this.queue = Promise.allSettled([this.queue, run]).then(([before, now]) => {
      if (before.status === 'rejected') throw before.reason;
      if (now.status === 'rejected') throw now.reason;
    });
    this.queue.catch(() => undefined);
  }

  /** No queued job may start (or leave Open): the reporter stopped the write, it was halted, or a job failed. */
  private stopping(): boolean {
    return this.reporter.stopped || this.halted || this.failed;
  }

  /** Wait for the queued jobs; throws the first failure. */
  async drain(): Promise<void> {
    await this.queue;
  }

  /** Send no queued file that has not started; the job under way goes on (its rows are reported). */
  halt(): void {
    this.halted = true;
  }

  /**
   * One job for `file`: `order.before`, when given, is waited for between the upload and UploadComplete
   * (the job waits Open meanwhile); `order.closed` is called once the job is closed, `order.release` once the
   * next job may be closed.
   */
  private async writeFile(file: SpoolFile, attempt: number, order: { before?: Promise<void>; closed?: () => void; release?: () => void } = {}): Promise<void> {
    throwIfCanceled(this.ctx.signal);
    const submitted = await this.submit(file, order.before);
    order.closed?.();
    if (submitted === undefined) return;
    // The matching index is built while Salesforce processes the job (it reads the spool file); the job's
    // results are read against it once both are done.
    const building = JobLedger.build(file, this.types, this.identity);
    building.catch(() => undefined);
    await this.finishJob(file, building, submitted.jobId, submitted.seq, attempt, false, order.release);
  }

  /**
   * Recover a job a crashed run recorded in the journal (`file`: its rows, rebuilt from the input): learn its
   * state (an Open job, never closed, is aborted: it wrote nothing), wait while it runs, read its results and
   * report its rows as any job's. Rows to send again (not written) are returned, not sent. A job Salesforce
   * no longer knows leaves its rows unknown (INSERT) or to send again (UPDATE, UPSERT, DELETE).
   */
  async recoverJob(file: SpoolFile, jobId: string, seq: number): Promise<RecoveredJob> {
    let info: JobInfo;
    try {
      info = await this.json<JobInfo>({ method: 'GET', path: `/jobs/ingest/${jobId}`, call: `read Bulk job ${jobId} (recovery)` });
    } catch (error) {
      if (!isForceflowError(error) || (error.details as { status?: number }).status !== 404) throw error;
      this.ctx.log.warn({ jobId }, 'a Bulk job recorded in the write journal is unknown to Salesforce');
      if (this.target.operation !== 'INSERT') {
        await this.journal.settle(seq, { created: 0, failed: [], unknown: [], resend: file.indexes.ranges() });
        return { resend: file };
      }
      const unknown: RecordFailure[] = [];
      const originals = file.originals !== undefined ? readSpoolOriginals(file.originals) : undefined;
      try {
        for await (const { position, cells } of readSpoolRows(file.path)) {
          const original = originals !== undefined ? (await originals.next()).value ?? undefined : undefined;
          unknown.push({ index: file.indexes.at(position) as number, record: original ?? recordFromCells(this.keys, cells), errorCode: OUTCOME_UNKNOWN, message: `Bulk job ${jobId}, recorded by a run that did not finish, is unknown to Salesforce (deleted, or older than its retention); it may or may not have written this record.` });
        }
      } finally {
        await originals?.return(undefined);
      }
      await this.journal.settle(seq, { created: 0, failed: [], unknown: unknown.map(journalFailure), resend: [] });
      await this.reporter.failed(unknown, true);
      return { resend: undefined };
    }
    this.stats.jobs.push(jobId);
    if (info.state === 'Open') await this.abort(jobId);
    const resend = await this.finishJob(file, JobLedger.build(file, this.types, this.identity), jobId, seq, 0, true);
    return { resend };
  }

  private async finishJob(file: SpoolFile, building: Promise<JobLedger>, jobId: string, seq: number, attempt: number, recovering: boolean, release?: () => void): Promise<SpoolFile | undefined> {
    const object = this.target.object.name;
    const info = await this.waitForJob(jobId, file.indexes.length);
    const ledger = await building;
    ledger.jobId = jobId;
    // Every row processed, none failed: nothing this job's results say can stop the write or send rows
    // again, so the next job may start while they are read.
    if (release !== undefined && info.state === 'JobComplete' && info.numberRecordsFailed === 0 && info.numberRecordsProcessed === ledger.size) release();
    this.ctx.log.debug({ jobId, state: info.state }, 'bulk job ended; reading its results');
    const created = await this.readResults(ledger, 'successfulResults', SUCCEEDED);
    const errors = await this.readResults(ledger, 'failedResults', FAILED);
    await this.readResults(ledger, 'unprocessedrecords', UNPROCESSED);
    const jobFailed = info.state !== 'JobComplete';

    // One pass over the file: report failures with the row as sent, collect what goes again.
    const canRetry = attempt < rowRetryPolicy(this.options).retries;
    let retry: CsvSpool | undefined;
    const failures: RecordFailure[] = [];
    const unknown: RecordFailure[] = [];
    const errorAt = errors.payload;
    const createdCount = created.trueCount;
    const written = created.matched;
    const jobError = info.errorMessage ?? `the job ended ${info.state}`;
    const jobCode = /^(\w+)\s*:/.exec(jobError)?.[1] ?? 'BULK_JOB_FAILED';
    // A Failed job's rows that no result file lists were never processed, provided the job's own count of
    // processed records is all in the successful and failed results. If it is not, an INSERT cannot tell
    // which of them Salesforce wrote, so they are reported unknown rather than sent again (no duplicates).
    const accounted = info.numberRecordsProcessed === undefined || info.numberRecordsProcessed <= written + errors.matched;
    const needsPass = ledger.size !== written;
    if (needsPass) {
      // The records as they came (when the spool kept them), read in step with the rows sent.
      const originals = file.originals !== undefined ? readSpoolOriginals(file.originals) : undefined;
      try {
        for await (const { position, cells } of readSpoolRows(file.path)) {
          const original = originals !== undefined ? (await originals.next()).value ?? undefined : undefined;
          const status = ledger.status[position];
          if (status === SUCCEEDED) continue;
          const index = file.indexes.at(position) as number;
          const record = (): RecordFailure['record'] => original ?? recordFromCells(this.keys, cells);
          let again = false;
          if (status === FAILED) {
            const e = parseBulkError(errorAt.get(position) ?? '');
            if (RETRYABLE_ROW_ERRORS.has(e.code) && canRetry) again = true;
            else failures.push({ index, record: record(), errorCode: e.code, message: e.message || 'Salesforce gave no message', ...(e.fields.length > 0 ? { fields: e.fields } : {}) });
          } else if (status === UNPROCESSED || (status === UNSEEN && jobFailed && (accounted || this.target.operation !== 'INSERT'))) {
            // Never processed: not written, whatever the operation.
            if (canRetry) again = true;
            else failures.push({ index, record: record(), errorCode: jobCode, message: `Bulk job ${jobId} did not process this record: ${jobError}` });
          } else if (this.target.operation !== 'INSERT' && canRetry) {
            again = true;
          } else {
            unknown.push({ index, record: record(), errorCode: OUTCOME_UNKNOWN, message: `Bulk job ${jobId} ${jobFailed ? `ended ${info.state} (${info.numberRecordsProcessed ?? '?'} records processed)` : 'completed'} without reporting this record in its successful, failed or unprocessed results; Salesforce may or may not have written it.` });
          }
          if (again) {
            retry ??= new CsvSpool(this.tempDir, file.header, { maxBytes: Number.MAX_SAFE_INTEGER, prefix: `retry-${++this.retrySeq}`, originals: originals !== undefined, identity: this.identity });
            await retry.add(index, cells, original);
          }
        }
      } finally {
        await originals?.return(undefined);
      }
    }
    this.ctx.log.info({ object, jobId, state: info.state, written, failed: failures.length, unknown: unknown.length, again: retry?.rows ?? 0, attempt }, recovering ? 'bulk job of an unfinished run recovered' : 'bulk job reconciled');
    const next = retry === undefined ? undefined : (await retry.finish())[0];
    await this.journal.settle(seq, { created: createdCount, failed: failures.map(journalFailure), unknown: unknown.map(journalFailure), resend: next?.indexes.ranges() ?? [] });
    // The job is settled: its file is not read again (rows to send again are in `next`). Removed now, the spool
    // folder holds the files waiting for their job, not the whole input.
    await removeSpoolFile(file);
    if (written > 0) this.reporter.written(written, createdCount);
    if (failures.length > 0) await this.reporter.failed(failures);
    if (unknown.length > 0) await this.reporter.failed(unknown, true);
    if (recovering) return next;
    // failOnFirstDestinationError: once a record failed, no further job is sent, not even for retries.
    if (next !== undefined && !this.reporter.stopped) {
      this.ctx.log.warn({ object, jobId, records: next.indexes.length, attempt: attempt + 1 }, jobFailed ? 'bulk job failed; sending its unprocessed records in a new job' : 'sending records that failed for a retryable reason in a new job');
      await sleep(new Backoff(rowRetryPolicy(this.options)).delayFor(attempt), this.ctx.signal);
      await this.writeFile(next, attempt + 1);
    }
    return undefined;
  }

  private async json<T>(req: Parameters<SalesforceClient['json']>[0]): Promise<T> {
    this.stats.calls++;
    return this.client.json<T>(req);
  }

  /**
   * Create a job, upload the file, wait for `before` (the job stays Open meanwhile), then close it; a failed
   * upload aborts that job and tries a new one. Undefined when the write stopped while the job waited Open:
   * it was aborted and its rows are journaled as not written.
   */
  private async submit(file: SpoolFile, before?: Promise<void>): Promise<{ jobId: string; seq: number } | undefined> {
    const t = this.target;
    const object = t.object.name;
    const operation = t.operation.toLowerCase();
    const backoff = new Backoff({ ...this.client.retryPolicy, retries: this.options.callRetries ?? BULK_CALL_RETRIES });
    const firstTried = Date.now();
    for (let attempt = 0; ; attempt++) {
      const job = await this.json<JobInfo>({
        method: 'POST',
        path: '/jobs/ingest',
        json: {
          object, operation, ...CLIENT_JOB_FORMAT,
          ...(t.operation === 'UPSERT' ? { externalIdFieldName: t.externalIdField?.name } : {}),
        },
        // A repeated creation leaves an empty Open job that is never closed, so it writes nothing.
        idempotent: true,
        call: `create Bulk ${operation} job for ${object}`,
      });
      this.stats.jobs.push(job.id);
      this.ctx.log.info({ jobId: job.id, object, operation, bytes: file.bytes, records: file.indexes.length }, 'bulk ingest job created');
      // Journaled before the data goes: a run that dies from here on leaves the job for the next run to recover.
      const ranges = file.indexes.ranges();
      const seq = await this.journal.record({ kind: 'bulk', ref: job.id, ranges, count: file.indexes.length, fingerprint: file.fingerprint, sentAt: Date.now() });
      const notWritten = async (): Promise<void> => this.journal.settle(seq, { created: 0, failed: [], unknown: [], resend: ranges });
      try {
        this.stats.calls++;
        await this.client.send({
          method: 'PUT',
          path: `/jobs/ingest/${job.id}/batches`,
          // 256 KB chunks: a chunk lives until the org has read it; a 1 MB one, waiting on a busy org, outlived two
          // young-generation collections and was freed only by a full one (up to 64 MB of them; docs/benchmarks.md).
          body: () => createReadStream(file.path, { highWaterMark: 256 * 1024 }),
          headers: { 'Content-Type': 'text/csv' },
          idempotent: false,
          call: `upload ${file.indexes.length} ${object} record(s) to Bulk job ${job.id}`,
        });
      } catch (error) {
        const wait = isTransientCallError(error) ? backoff.next(attempt, firstTried, retryAfterOf(error)) : undefined;
        if (wait === undefined) {
          if (await this.abort(job.id)) await notWritten();
          throw error;
        }
        this.ctx.log.warn({ jobId: job.id, err: (error as Error).message }, 'bulk upload failed; aborting the job and uploading to a new one');
        // An Open job is never processed: once aborted (or even if the abort is lost), it wrote nothing.
        await this.abort(job.id);
        await notWritten();
        await sleep(wait, this.ctx.signal);
        continue;
      }
      if (before !== undefined) {
        this.ctx.log.debug({ jobId: job.id }, 'bulk job uploaded; waiting Open for the job before it');
        await before;
        if (this.stopping() || this.ctx.signal?.aborted === true) {
          if (await this.abort(job.id)) await notWritten();
          throwIfCanceled(this.ctx.signal);
          return undefined;
        }
      }
      await this.close(job.id);
      this.ctx.log.debug({ jobId: job.id }, 'bulk job uploaded and closed');
      return { jobId: job.id, seq };
    }
  }

  /** UploadComplete; if the answer is lost, read the state before sending it again. */
  private async close(jobId: string): Promise<void> {
    const backoff = new Backoff({ ...this.client.retryPolicy, retries: this.options.callRetries ?? BULK_CALL_RETRIES });
    const firstTried = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.json({ method: 'PATCH', path: `/jobs/ingest/${jobId}`, json: { state: 'UploadComplete' }, idempotent: false, call: `close Bulk job ${jobId}` });
        return;
      } catch (error) {
        const wait = isTransientCallError(error) ? backoff.next(attempt, firstTried, retryAfterOf(error)) : undefined;
        if (wait === undefined) throw error;
        const info = await this.json<JobInfo>({ method: 'GET', path: `/jobs/ingest/${jobId}`, call: `read Bulk job ${jobId}` });
        if (info.state !== 'Open') return;
        await sleep(wait, this.ctx.signal);
      }
    }
  }

  private async abort(jobId: string): Promise<boolean> {
    try {
      await this.json({ method: 'PATCH', path: `/jobs/ingest/${jobId}`, json: { state: 'Aborted' }, idempotent: true, cleanup: true, call: `abort Bulk job ${jobId}` });
      return true;
    } catch (error) {
      this.ctx.log.warn({ jobId, err: (error as Error).message }, 'could not abort bulk job');
      return false;
    }
  }

  private async waitForJob(jobId: string, rows: number): Promise<JobInfo> {
    const started = Date.now();
    let first: { at: number; processed: number } | undefined;
    const deadline = this.options.deadlineMs ?? 2 * 3600_000;
    let delay = this.options.pollInitialMs ?? 250;
    const max = this.options.pollMaxMs ?? 10_000;
    for (;;) {
      let info: JobInfo;
      try {
        info = await this.json<JobInfo>({ method: 'GET', path: `/jobs/ingest/${jobId}`, call: `poll Bulk job ${jobId}` });
      } catch (error) {
        if (isForceflowError(error, 'RUN_CANCELED')) await this.abort(jobId);
        throw error;
      }
      if (isTerminalJobState(info.state)) return info;
      this.ctx.log.debug({ jobId, state: info.state, processed: info.numberRecordsProcessed }, 'bulk job polled');
      if (Date.now() - started > deadline) {
        await this.abort(jobId);
        throw new ForceflowError('SF_BULK_JOB_TIMEOUT', `Bulk job ${jobId} did not finish within ${Math.round(deadline / 1000)} s (state ${info.state}); it was aborted. Rows it processed before the abort are written; run again to write the rest (UPSERT is safe to repeat).`, { details: { jobId } });
      }
      const now = Date.now();
      const processed = info.numberRecordsProcessed ?? 0;
      first ??= { at: now, processed };
      try {
        await sleep(pollDelay(delay, this.options.pollInitialMs ?? 250, first, { at: now, processed }, rows), this.ctx.signal);
      } catch (error) {
        await this.abort(jobId);
        throw error;
      }
      delay = Math.min(max, Math.round(delay * 1.5));
    }
  }

  /** Read one results file into a committed pass; a body that breaks part-way is read again. */
  private async readResults(ledger: JobLedger, which: 'successfulResults' | 'failedResults' | 'unprocessedrecords', status: number): Promise<MatchPass> {
    const jobId = ledger.jobId;
    // Result rows lead with sf__Id and sf__Created / sf__Error; unprocessed rows have only the sent columns.
    const payloadColumn = which === 'successfulResults' ? 'sf__created' : which === 'failedResults' ? 'sf__error' : undefined;
    return retry(async () => {
      const pass = new MatchPass(ledger, status, which !== 'successfulResults');
      this.stats.calls++;
      const res = await this.client.download({ method: 'GET', path: `/jobs/ingest/${jobId}/${which}`, headers: { Accept: 'text/csv' }, call: `read ${which} of Bulk job ${jobId}` });
      const body = res.body;
      const client = this.client;
      const counted = (async function* counted() {
        for await (const chunk of body) {
          client.bytesReceived += chunk.byteLength;
          yield chunk;
        }
      })();
      let payloadAt = -1;
      let first = true;
      for await (const records of readBulkCsv(counted, ',', { wholeAsciiChunks: true })) {
        for (const cells of records) {
          if (first) {
            first = false;
            pass.header(cells);
            payloadAt = payloadColumn === undefined ? -1 : cells.findIndex((c) => c.trim().toLowerCase() === payloadColumn);
            continue;
          }
          pass.match(cells, payloadAt >= 0 ? (cells[payloadAt] ?? '') : '');
        }
      }
      pass.commit(which);
      return pass;
    }, {
      policy: { ...this.client.retryPolicy, retries: this.options.resultRetries ?? BULK_CALL_RETRIES },
      signal: this.ctx.signal,
      // A body that broke part-way or a call the client gave up on goes again; Salesforce's other answers do not.
      isRetryable: (error) => (isForceflowError(error) && error.code !== 'SF_UNAVAILABLE' ? false : { retryAfterSeconds: retryAfterOf(error) }),
      onRetry: ({ error, attempt }) => this.ctx.log.warn({ jobId, which, attempt, err: (error as Error).message }, 'reading bulk results failed; reading again'),
      giveUp: (error, attempts) => new ForceflowError('SF_UNAVAILABLE', `Could not read ${which} of Bulk job ${jobId} after ${attempts} attempt(s): ${(error as Error).message}. The job's rows were written or not as the job says; run again (UPSERT is safe to repeat).`, { cause: error, details: { jobId } }),
    });
  }
}
