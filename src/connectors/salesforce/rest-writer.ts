import pLimit from 'p-limit';
import type { RecordFailure, RunContext } from '../../core/connector.ts';
import { ForceflowError, isForceflowError } from '../../core/errors.ts';
import { Backoff, sleep } from '../../core/retry.ts';
import type { Row } from '../../core/types.ts';
import type { SalesforceClient } from './http.ts';
import { RowFingerprint, executionJournalNone, journalFailure, toRanges, type ExecutionJournal } from './journal.ts';
import { escapeSoqlString } from './soql.ts';
import {
  MISSING_ARGUMENT, OUTCOME_UNKNOWN, RETRYABLE_ROW_ERRORS, retryAfterOf, rowRetryPolicy,
  type RowRetryOptions, type WriteReporter, type WriteTarget,
} from './write-plan.ts';
import { VALUE_NOT_CONVERTIBLE, ValueConversionError, restJson, toRestValue, type RestValue } from './write-values.ts';
import { throwIfCanceled } from '../../core/cancel.ts';

/**
 * Writes through sObject Collections: 200 records per call, at most `concurrency` calls in flight (p-limit),
 * results in request order.
 *
 * Retries, by what is known about the call:
 * - The answer came: each item succeeded or failed. Items that failed for a retryable reason
 *   (UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE... see RETRYABLE_ROW_ERRORS) go again, alone, up to `rowRetries`
 *   times with doubling backoff; after that they count as failed with Salesforce's error.
 * - The call was refused (429, 503): nothing was written, so it is sent again (bounded, with backoff), for
 *   every operation.
 * - The answer was lost (connection reset, timeout, or 500/502/504 after the request went out): the outcome
 *   is unknown. UPDATE, UPSERT and DELETE are idempotent and are simply sent again (a DELETE that now answers
 *   ENTITY_IS_DELETED was deleted by the lost call, and counts as written). INSERT is never blindly repeated:
 *   when the records carry an external id (a mapped field whose describe says externalId), forceflow queries
 *   for those values; records found, created no earlier than a minute before the call (by Salesforce's clock,
 *   learned from the Date header), are counted as written with the id found, and only the others are sent again. Without an external id to look by, the records are
 *   reported as failed with SF_WRITE_OUTCOME_UNKNOWN: they may or may not exist, and the error file says so.
 *   (With a unique external id, even a resend racing a late first write cannot create a duplicate.)
 */
export interface RestWriterOptions extends RowRetryOptions {
  /** Calls in flight at once (default 4). */
  readonly concurrency?: number;
  /** Records per call (default and maximum 200). */
  readonly batchSize?: number;
  /** Times a refused call (429/503) is sent again (default 6). */
  readonly refusedRetries?: number;
  /** Backoff base for refused calls (default: the client's retry policy's, 250 ms; full jitter, doubling, capped and with Salesforce's Retry-After honoured as that policy says). */
  readonly refusedBaseMs?: number;
}

export interface RestItem {
  readonly index: number;
  readonly row: Row;
}

interface Pending {
  readonly index: number;
  readonly row: Row;
  /** INSERT/UPDATE/UPSERT: the JSON record; DELETE: the id. */
  readonly payload: Record<string, RestValue> | string;
}

interface ItemError {
  readonly statusCode: string;
  readonly message: string;
  readonly fields?: readonly string[];
}

interface ItemResult {
  readonly id?: string;
  readonly success: boolean;
  readonly created?: boolean;
  readonly errors?: readonly ItemError[];
}

type Outcome =
  | { kind: 'ok'; created: boolean }
  | { kind: 'failed'; code: string; message: string; fields: readonly string[] }
  | { kind: 'unknown'; message: string };

/** One call's outcomes, row by row: counted written, sent again (`again` says which), failed, or unknown. */
interface Tally {
  written: number;
  created: number;
  readonly again: Pending[];
  readonly failures: RecordFailure[];
  readonly unknown: RecordFailure[];
}

function tally(pending: readonly Pending[], outcomes: readonly Outcome[], again: (o: Outcome & { kind: 'failed' }) => boolean): Tally {
  const t: Tally = { written: 0, created: 0, again: [], failures: [], unknown: [] };
  outcomes.forEach((o, i) => {
    const p = pending[i] as Pending;
    if (o.kind === 'ok') {
      t.written++;
      if (o.created) t.created++;
    } else if (o.kind === 'unknown') t.unknown.push({ index: p.index, record: p.row, errorCode: OUTCOME_UNKNOWN, message: o.message });
    else if (again(o)) t.again.push(p);
    else {
      // A call Salesforce kept refusing (RESEND) past its retries failed for a retryable reason.
      const code = o.code === RESEND ? 'SF_UNAVAILABLE' : o.code;
      t.failures.push({ index: p.index, record: p.row, errorCode: code, message: o.message, ...(o.fields.length > 0 ? { fields: o.fields } : {}) });
    }
  });
  return t;
}

const UNKNOWN_STATUSES = new Set([500, 502, 504]);
const MAX_BATCH = 200;
const MARKER_LOOKBACK_MS = 60_000;
/** Room for the look-up's IN list in a query URI (the rest of the URI is well under 2 KB of 16 KB). */
const LOOKUP_URI_CHARS = 12_000;

export class RestWriter {
  private readonly client: SalesforceClient;
  private readonly target: WriteTarget;
  private readonly reporter: WriteReporter;
  private readonly ctx: RunContext;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly rowRetries: number;
  private readonly rowBackoff: Backoff;
  private readonly refusedBackoff: Backoff;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly inflight = new Set<Promise<void>>();
  private buffer: RestItem[] = [];
  private error: unknown;
  private readonly journal: ExecutionJournal;
  /** Calls sent, for the run record. */
  calls = 0;

  constructor(client: SalesforceClient, target: WriteTarget, reporter: WriteReporter, ctx: RunContext, options: RestWriterOptions = {}, journal: ExecutionJournal = executionJournalNone) {
    this.journal = journal;
    this.client = client;
    this.target = target;
    this.reporter = reporter;
    this.ctx = ctx;
    this.batchSize = Math.min(MAX_BATCH, Math.max(1, options.batchSize ?? MAX_BATCH));
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    const rowPolicy = rowRetryPolicy(options);
    this.rowRetries = rowPolicy.retries;
    this.rowBackoff = new Backoff(rowPolicy);
    // The client's policy (RunFlowOptions.salesforce.retry: cap, Retry-After maximum, deadline) with this writer's count and base.
    this.refusedBackoff = new Backoff({ ...client.retryPolicy, retries: options.refusedRetries ?? 6, ...(options.refusedBaseMs === undefined ? {} : { baseDelayMs: options.refusedBaseMs }) });
    this.limit = pLimit(this.concurrency);
  }

  /** Queue records; waits while `concurrency` calls are in flight (memory stays bounded). */
  async add(items: readonly RestItem[]): Promise<void> {
    for (const item of items) {
      this.buffer.push(item);
      if (this.buffer.length >= this.batchSize) await this.dispatch();
    }
  }

  /** Send what is left and wait for every call. Rethrows the first error a call raised. */
  async finish(): Promise<void> {
    if (this.buffer.length > 0) await this.dispatch();
    await Promise.all([...this.inflight]);
    if (this.error !== undefined) throw this.error;
  }

  /** After an error: wait for the calls still in flight, so that what they write is counted and reported. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  private async dispatch(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    if (this.error !== undefined) throw this.error;
    if (this.reporter.stopped || this.ctx.signal.aborted) return;
    while (this.inflight.size >= this.concurrency) await Promise.race(this.inflight);
    if (this.error !== undefined) throw this.error;
    if (this.reporter.stopped || this.ctx.signal.aborted) return;
    const p: Promise<void> = this.limit(() => this.writeBatch(batch))
      .catch((error: unknown) => {
        this.error ??= error;
      })
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Convert, send, retry what may succeed later, report. */
  private async writeBatch(items: readonly RestItem[]): Promise<void> {
    const convertFailures: RecordFailure[] = [];
    let pending: Pending[] = [];
    for (const item of items) {
      try {
        pending.push({ index: item.index, row: item.row, payload: this.payload(item.row) });
      } catch (error) {
        if (error instanceof ValueConversionError) {
          convertFailures.push({ index: item.index, record: item.row, errorCode: VALUE_NOT_CONVERTIBLE, message: error.message, fields: [error.field] });
        } else if (error instanceof MissingIdError) {
          convertFailures.push({ index: item.index, record: item.row, errorCode: MISSING_ARGUMENT, message: error.message, fields: [error.field] });
        } else {
          throw error;
        }
      }
    }
    // Reported with the first answer's failures, in input order (the error file reads in order).
    let early: RecordFailure[] = convertFailures;
    if (pending.length === 0 && early.length > 0) await this.reporter.failed(early);
    let resend = false;
    for (let attempt = 0; pending.length > 0; attempt++) {
      throwIfCanceled(this.ctx.signal);
      // Journaled before the call goes: a run that dies with it in flight leaves it for the next run to recover.
      const seq = await this.journal.record({ kind: 'rest', ref: null, ranges: toRanges(pending.map((p) => p.index)), count: pending.length, fingerprint: restFingerprint(this.target, pending), sentAt: Date.now() });
      const outcomes = await this.call(pending, resend, seq);
      const { written, created, again, failures, unknown } = tally(pending, outcomes, (o) => (RETRYABLE_ROW_ERRORS.has(o.code) || o.code === RESEND) && attempt < this.rowRetries);
      resend = outcomes.some((o) => o.kind === 'failed' && o.code === RESEND);
      await this.journal.settle(seq, { created, failed: failures.map(journalFailure), unknown: unknown.map(journalFailure), resend: toRanges(again.map((p) => p.index)) });
      if (written > 0) this.reporter.written(written, created);
      if (early.length > 0) {
        failures.push(...early);
        failures.sort((a, b) => a.index - b.index);
        early = [];
      }
      if (failures.length > 0) await this.reporter.failed(failures);
      if (unknown.length > 0) await this.reporter.failed(unknown, true);
      pending = again;
      // failOnFirstDestinationError: once a record failed (here or in another call), nothing more is sent,
      // not even records that could be retried.
      if (pending.length > 0 && this.reporter.stopped) break;
      if (pending.length > 0) {
        this.ctx.log.warn({ object: this.target.object.name, records: pending.length, attempt: attempt + 1 }, 'retrying records that failed for a retryable reason');
        await sleep(this.rowBackoff.delayFor(attempt), this.ctx.signal);
      }
    }
  }

  /**
   * Recover a call a crashed run recorded in the journal but never settled (its answer died with the process;
   * `items`: its rows, read from the input again). Nothing is sent blindly:
   * - INSERT: the records are looked up by their external id when one is mapped (found, created no earlier than
   *   a minute before the call → written; not found → sent again); without one they are reported
   *   SF_WRITE_OUTCOME_UNKNOWN.
   * - DELETE: the ids are looked up with queryAll (in the recycle bin → written; still there → sent again;
   *   not found at all → unknown).
   * - UPSERT: sent again (matching on the external id, it cannot create a second record).
   * - UPDATE: reported SF_WRITE_OUTCOME_UNKNOWN, not repeated (an update may have side effects).
   * Outcomes are reported and the entry settled; the rows to send again are returned.
   */
  async recover(items: readonly RestItem[], sentAt: number, seq: number): Promise<RestItem[]> {
    const pending: Pending[] = items.map((item) => ({ index: item.index, row: item.row, payload: this.payload(item.row) }));
    const object = this.target.object.name;
    const why = `the run that sent this ${this.target.operation} call at ${new Date(sentAt).toISOString()} stopped before its answer was read`;
    let outcomes: Outcome[];
    switch (this.target.operation) {
      case 'INSERT':
        outcomes = await this.resolveInsert(pending, sentAt, why);
        break;
      case 'UPSERT':
        outcomes = pending.map(() => ({ kind: 'failed', code: RESEND, message: why, fields: [] }));
        break;
      case 'UPDATE':
        outcomes = pending.map(() => ({ kind: 'unknown', message: `${why}; Salesforce may or may not have applied this update, and recovery does not repeat an update (it may have side effects). Check the record in ${object}.` }));
        break;
      default:
        outcomes = await this.resolveDelete(pending, why);
    }
    const { written, created, again, failures, unknown } = tally(pending, outcomes, (o) => o.code === RESEND);
    const resend: RestItem[] = again.map((p) => ({ index: p.index, row: p.row }));
    this.ctx.log.info({ object, records: pending.length, written, unknown: unknown.length, again: resend.length }, 'rest call of an unfinished run recovered');
    await this.journal.settle(seq, { created, failed: failures.map(journalFailure), unknown: unknown.map(journalFailure), resend: toRanges(resend.map((r) => r.index)) });
    if (written > 0) this.reporter.written(written, created);
    if (failures.length > 0) await this.reporter.failed(failures);
    if (unknown.length > 0) await this.reporter.failed(unknown, true);
    return resend;
  }

  /** A DELETE whose answer was lost: deleted (or gone) → written; still there → to send again. */
  private async resolveDelete(pending: readonly Pending[], why: string): Promise<Outcome[]> {
    const object = this.target.object.name;
    const state = new Map<string, boolean>();
    const ids = [...new Set(pending.map((p) => (p.payload as string).slice(0, 15)))];
    for (let i = 0; i < ids.length; i += 200) {
      const chunk = ids.slice(i, i + 200);
      const soql = `SELECT Id, IsDeleted FROM ${object} WHERE Id IN (${chunk.map((v) => `'${escapeSoqlString(v)}'`).join(',')})`;
      let next: string | undefined = '/queryAll';
      let query: Record<string, string> | undefined = { q: soql };
      while (next !== undefined) {
        this.calls++;
        const page: { records: Record<string, unknown>[]; nextRecordsUrl?: string; done: boolean } = await this.client.json({
          method: 'GET', path: next, ...(query ? { query } : {}), call: `look up ${object} by Id after a lost delete`,
        });
        for (const r of page.records) state.set(String(r['Id']).slice(0, 15), r['IsDeleted'] === true);
        next = page.done || !page.nextRecordsUrl ? undefined : page.nextRecordsUrl;
        query = undefined;
      }
    }
    return pending.map((p): Outcome => {
      const deleted = state.get((p.payload as string).slice(0, 15));
      if (deleted === false) return { kind: 'failed', code: RESEND, message: why, fields: [] };
      if (deleted === true) return { kind: 'ok', created: false };
      // Not found even in the recycle bin: emptied from it since, or never a record of the object.
      return { kind: 'unknown', message: `${why}; the record is not in ${object} nor in its recycle bin (emptied since, or never a record of ${object}), so whether this call deleted it is unknown.` };
    });
  }

  private payload(row: Row): Record<string, RestValue> | string {
    const t = this.target;
    if (t.operation === 'DELETE' || t.operation === 'UPDATE') {
      const idc = t.idColumn as NonNullable<WriteTarget['idColumn']>;
      const id = row[idc.key];
      if (id === null || id === undefined || id === '' || typeof id !== 'string') {
        throw new MissingIdError(idc.field.name, `${idc.field.name} not specified: ${t.operation} needs the record's Id (from the field mapped to ${idc.field.name}).`);
      }
      if (t.operation === 'DELETE') return id;
    }
    // No prototype: every key is an ordinary one, whatever describe calls the field.
    const out: Record<string, RestValue> = Object.create(null) as Record<string, RestValue>;
    out['attributes'] = { type: t.object.name } as unknown as RestValue;
    for (const c of t.columns) {
      const v = row[c.key];
      if (v === undefined) continue;
      out[c.field.name] = toRestValue(c.field, v);
    }
    return out;
  }

  /** One call for `pending`, with refusals retried; one outcome per record, in order. */
  private async call(pending: readonly Pending[], resend: boolean, seq: number): Promise<Outcome[]> {
    const t = this.target;
    const object = t.object.name;
    const idempotent = t.operation !== 'INSERT';
    const firstSent = Date.now();
    for (let refused = 0; ; refused++) {
      const started = Date.now();
      let text: string;
      try {
        this.calls++;
        // Sent as not idempotent even for UPDATE/UPSERT/DELETE: the client must not repeat the call by
        // itself, because only here is it known that a repeat follows a lost answer (a DELETE repeated after
        // a lost answer says ENTITY_IS_DELETED for what the lost call deleted).
        const res = await this.client.send(this.request(pending, false));
        text = await res.text();
        this.client.bytesReceived += Buffer.byteLength(text);
      } catch (error) {
        if (isForceflowError(error, 'RUN_CANCELED')) throw error;
        const status = isForceflowError(error) ? (error.details as { status?: number }).status : undefined;
        // 429 and 503 are refusals whatever the body's errorCode or the code the client gave them: nothing was
        // written, so they are sent again here (the client does not repeat this non-idempotent call itself).
        const refusedCall = status === 429 || status === 503;
        // Refused (an error answer, not a lost one): nothing was written, so the journal says "send again".
        const refusedNow = async (): Promise<never> => {
          if (!resend) await this.journal.settle(seq, { created: 0, failed: [], unknown: [], resend: toRanges(pending.map((p) => p.index)) });
          throw error;
        };
        if (isForceflowError(error) && error.code !== 'SF_UNAVAILABLE' && !refusedCall) await refusedNow();
        const wait = this.refusedBackoff.next(refused, firstSent, retryAfterOf(error));
        if (refusedCall && wait !== undefined) {
          this.ctx.log.warn({ object, records: pending.length, status, attempt: refused + 1, delayMs: wait }, 'Salesforce refused the write call; sending it again');
          await sleep(wait, this.ctx.signal);
          continue;
        }
        if (refusedCall) {
          if (!resend) await this.journal.settle(seq, { created: 0, failed: [], unknown: [], resend: toRanges(pending.map((p) => p.index)) });
          if (status === 429) {
            // Not the daily limit (that is a 403): Salesforce is shedding load.
            throw new ForceflowError('SF_UNAVAILABLE', `Salesforce kept answering 429 (too many requests) to the ${t.operation} of ${pending.length} ${object} record(s) after ${refused + 1} attempt(s). Run again later, or lower the write concurrency.`, {
              cause: error, details: { status },
            });
          }
          throw error;
        }
        if (status !== undefined && !UNKNOWN_STATUSES.has(status)) await refusedNow();
        // The request went out and its answer was lost.
        const why = status === undefined ? `the connection was lost after the ${t.operation} call was sent (${(error as Error).message})` : `Salesforce answered ${status} after the ${t.operation} call was sent`;
        this.ctx.log.warn({ object, records: pending.length, why }, 'write outcome unknown');
        if (idempotent) {
          if (wait !== undefined) {
            resend = true;
            await sleep(wait, this.ctx.signal);
            continue;
          }
          throw error;
        }
        return this.resolveInsert(pending, started, why);
      }
      let results: ItemResult[];
      try {
        results = JSON.parse(text) as ItemResult[];
      } catch (error) {
        throw new ForceflowError('SF_API_ERROR', `Salesforce answered the ${t.operation} of ${pending.length} ${object} record(s) with a body that is not JSON.`, { cause: error });
      }
      if (!Array.isArray(results) || results.length !== pending.length) {
        throw new ForceflowError('SF_API_ERROR', `Salesforce answered the ${t.operation} of ${pending.length} ${object} record(s) with ${Array.isArray(results) ? results.length : 'no'} result(s).`);
      }
      return results.map((r): Outcome => {
        if (r.success) return { kind: 'ok', created: t.operation === 'INSERT' || r.created === true };
        const first = r.errors?.[0];
        const code = first?.statusCode ?? 'UNKNOWN_EXCEPTION';
        // A DELETE sent again after a lost answer: "already deleted" means the lost call deleted it.
        if (resend && t.operation === 'DELETE' && code === 'ENTITY_IS_DELETED') return { kind: 'ok', created: false };
        return {
          kind: 'failed',
          code,
          message: (r.errors ?? []).map((e) => e.message).join('; ') || 'Salesforce gave no message',
          fields: [...new Set((r.errors ?? []).flatMap((e) => e.fields ?? []))],
        };
      });
    }
  }

  private request(pending: readonly Pending[], idempotent: boolean): Parameters<SalesforceClient['send']>[0] {
    const t = this.target;
    const object = t.object.name;
    const call = `${t.operation.toLowerCase()} ${pending.length} ${object} record(s)`;
    switch (t.operation) {
      case 'INSERT':
        return { method: 'POST', path: '/composite/sobjects', ...this.body(pending), idempotent, call };
      case 'UPDATE':
        return { method: 'PATCH', path: '/composite/sobjects', ...this.body(pending), idempotent, call };
      case 'UPSERT':
        return {
          method: 'PATCH',
          path: `/composite/sobjects/${encodeURIComponent(object)}/${encodeURIComponent((t.externalIdField as NonNullable<WriteTarget['externalIdField']>).name)}`,
          ...this.body(pending),
          idempotent,
          call,
        };
      default:
        return { method: 'DELETE', path: '/composite/sobjects', query: { ids: pending.map((p) => p.payload as string).join(','), allOrNone: 'false' }, idempotent, call };
    }
  }

  /** The JSON body of a collections call (numbers too precise for a JavaScript number keep their digits). */
  private body(pending: readonly Pending[]): { body: string; headers: Record<string, string> } {
    return { body: restJson({ allOrNone: false, records: pending.map((p) => p.payload) }), headers: { 'Content-Type': 'application/json; charset=utf-8' } };
  }

  /**
   * An INSERT whose answer was lost: look the records up by their external id. Found (and created no earlier
   * than a minute before the call, by Salesforce's clock) → written; not found → sent again (RESEND, within
   * the row retry budget); no external id to look by → unknown.
   */
  private async resolveInsert(pending: readonly Pending[], started: number, why: string): Promise<Outcome[]> {
    const marker = this.target.markerColumn;
    const object = this.target.object.name;
    const unknownMessage = `${why}; Salesforce may or may not have created this record, and it has no external id value to look it up by. Check for it in ${object} before writing it again.`;
    if (marker === undefined) return pending.map(() => ({ kind: 'unknown', message: unknownMessage }));
    const values = pending.map((p) => {
      const v = p.row[marker.key];
      return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
    });
    const wanted = [...new Set(values.filter((v): v is string => v !== undefined))];
    const found = new Map<string, number>();
    const candidates: { key: string; created: number }[] = [];
    // Queries of at most 100 values and at most LOOKUP_URI_CHARS of URL-encoded SOQL (Salesforce answers a URI
    // over 16 KB with 414; an external id of 50 non-Latin characters is ~450 characters encoded).
    const parts: string[][] = [];
    let part: string[] = [];
    let chars = 0;
    for (const v of wanted) {
      const literal = encodeURIComponent(`'${escapeSoqlString(v)}',`).length;
      if (part.length > 0 && (part.length >= 100 || chars + literal > LOOKUP_URI_CHARS)) {
        parts.push(part);
        part = [];
        chars = 0;
      }
      part.push(v);
      chars += literal;
    }
    if (part.length > 0) parts.push(part);
    for (const chunk of parts) {
      const soql = `SELECT Id, ${marker.field.name}, CreatedDate FROM ${object} WHERE ${marker.field.name} IN (${chunk.map((v) => `'${escapeSoqlString(v)}'`).join(',')})`;
      let next: string | undefined = `/query`;
      let query: Record<string, string> | undefined = { q: soql };
      while (next !== undefined) {
        this.calls++;
        const page: { records: Record<string, unknown>[]; nextRecordsUrl?: string; done: boolean } = await this.client.json({
          method: 'GET', path: next, ...(query ? { query } : {}), call: `look up ${object} by ${marker.field.name} after a lost insert`,
        });
        for (const r of page.records) {
          const key = r[marker.field.name];
          const created = Date.parse(String(r['CreatedDate'] ?? '').replace(/\+0000$/, 'Z'));
          if (typeof key === 'string') candidates.push({ key: key.toLowerCase(), created });
        }
        next = page.done || !page.nextRecordsUrl ? undefined : page.nextRecordsUrl;
        query = undefined;
      }
    }
    // CreatedDate is Salesforce's clock, `started` this machine's: shift by the difference the look-up's own
    // answer shows (its Date header; whole seconds, hence one more second of margin).
    const skew = this.client.serverTime !== undefined ? this.client.serverTime - Date.now() : 0;
    const since = started + skew - 1000 - MARKER_LOOKBACK_MS;
    for (const { key, created } of candidates) {
      if (Number.isFinite(created) && created >= since) found.set(key, (found.get(key) ?? 0) + 1);
    }
    this.ctx.log.info({ object, records: pending.length, found: [...found.values()].filter((n) => n > 0).length, by: marker.field.name }, 'looked up records of a lost insert');
    return values.map((v): Outcome => {
      if (v === undefined) return { kind: 'unknown', message: unknownMessage };
      // Each record found accounts for one record sent: of two sent with the same value (the second failed
      // DUPLICATE_VALUE, or created a second record when the field is not unique), only as many as were found
      // count as written; the rest are sent again and get their own answer.
      const left = found.get(v.toLowerCase()) ?? 0;
      if (left > 0) {
        found.set(v.toLowerCase(), left - 1);
        return { kind: 'ok', created: true };
      }
      return { kind: 'failed', code: RESEND, message: `${why}; a look-up by ${marker.field.name} found the record was not created, and sending it again kept failing.`, fields: [] };
    });
  }
}

/** The fingerprint of a call's rows for the write journal: input index and destination values of each. */
export function restFingerprint(target: WriteTarget, items: readonly { readonly index: number; readonly row: Row }[]): string {
  const fp = new RowFingerprint();
  for (const { index, row } of items) fp.add(index, restLine(target, row));
  return fp.digest();
}

/** A row's destination values as one line (an absent key, which leaves the field unchanged, is [], unlike null). */
export function restLine(target: WriteTarget, row: Row): string {
  return JSON.stringify(target.columns.map((c) => {
    const v = row[c.key];
    return v === undefined ? [] : v;
  }));
}

/** Internal outcome code: not written, safe to send again (counts against the row retry budget). */
const RESEND = '__RESEND__';

class MissingIdError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}
