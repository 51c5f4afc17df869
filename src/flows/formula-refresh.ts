import { createHash } from 'node:crypto';
import type { ReadRequest, RunContext, Source, SourceStream } from '../core/connector.ts';
import { ForceflowError, isForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { RecordBatch, Row } from '../core/types.ts';
import { toEpochMillis } from '../mapping/convert.ts';
import type { FlowPlan } from './compile.ts';
import { FORMULA_REFRESH_TAG, parseFormulaRefresh, type FormulaRefreshConfig } from './formula-refresh-tag.ts';
import type { FormulaRefreshStatus, FormulaStateStore } from './formula-state.ts';
import { stripper } from './lookback.ts';
import type { ExecutionRecord, FormulaRefreshRecord } from './run-record.ts';
import type { RunStateStore } from './state.ts';

/**
 * The formula refresh of an incremental flow (docs/flows.md, "Formula refresh"). A formula field (or a roll-up
 * summary) changes when its inputs change, on the record or on a parent, without touching the record's
 * SystemModstamp: an incremental window never sees it. With the flow's `forceflow:formulaRefresh` tag:
 *
 * - every run of the flow stages, per record it delivers, a hash of the record's formula values (keyed by Id,
 *   in the run state; `FormulaStateStore`), which become the flow's when the run succeeds;
 * - a run the tag makes due (every Nth run, or once an interval has passed) then reads the flow's fields of
 *   every record again through one Bulk API 2.0 query (the flow's filters, no window), and delivers, after its
 *   ordinary window, the records whose formula hash differs from the one the flow last delivered, through the
 *   same tasks and destination; a record without a hash (never delivered since the tag was set) is taken as
 *   the baseline, not delivered. A record the window delivered in this run has this run's hash: not twice.
 *
 * Memory stays flat: hashes are looked up and staged a batch at a time in the state store.
 */

/** A run's part of the formula refresh: the read it needs, the stream it wraps, and what it keeps at the end. */
export interface FormulaRefreshRun {
  /** What the run record says (`formulaRefresh`); filled in as the run goes. */
  readonly record: FormulaRefreshRecord;
  /** The flow's read with Id added (records are keyed by it; removed again before the tasks). */
  read(read: ReadRequest): ReadRequest;
  /** The run's stream with hashes staged, followed (when the refresh is due) by the records whose formulas changed. */
  wrap(stream: SourceStream, source: Source, read: ReadRequest, ctx: RunContext): Promise<SourceStream>;
  /** A note for the run record when a due refresh was deferred to the next run (the API reserve was reached). */
  note(): string | undefined;
  /** At the run's end, once its record is saved: its hashes and refresh status kept (Successful) or dropped. */
  settle(record: ExecutionRecord): Promise<void>;
}

/** When a run refreshes: `due` when the tag says so (default), `now` whatever the tag's schedule, `skip` not this run. */
export type FormulaRefreshWhen = 'due' | 'now' | 'skip';
const WHEN: readonly FormulaRefreshWhen[] = ['due', 'now', 'skip'];

/** The run option, checked before a run starts: a known value, and `now` only for a flow with the tag. */
export function checkFormulaRefreshOption(plan: FlowPlan, when: unknown): void {
  if (when === undefined) return;
  if (!WHEN.includes(when as FormulaRefreshWhen)) {
    throw new ForceflowError('CONFIG_INVALID', `formulaRefresh is ${JSON.stringify(when)}; it must be one of ${WHEN.join(', ')}.`, { details: { option: 'formulaRefresh' } });
  }
  if (when === 'now' && (plan.incremental === undefined || parseFormulaRefresh(plan.definition.tags?.[FORMULA_REFRESH_TAG]) === undefined)) {
    throw new ForceflowError('CONFIG_INVALID', `formulaRefresh "now" needs an incremental flow with the ${FORMULA_REFRESH_TAG} tag (flow "${plan.flowName}" has none): the refresh compares with what the flow delivered since the tag was set. Add the tag, for example "every:24".`, { details: { option: 'formulaRefresh' } });
  }
}

export interface FormulaRefreshSetup {
  readonly plan: FlowPlan;
  readonly state: RunStateStore | undefined;
  readonly executionId: string;
  readonly startedAt: Date;
  readonly log: Logger;
  readonly when?: FormulaRefreshWhen;
}

/** The run's formula refresh, or undefined when the flow has no `forceflow:formulaRefresh` tag. */
export async function formulaRefreshRun(setup: FormulaRefreshSetup): Promise<FormulaRefreshRun | undefined> {
  const { plan, executionId, startedAt, log } = setup;
  const tag = plan.definition.tags?.[FORMULA_REFRESH_TAG];
  const incremental = plan.incremental;
  const config = tag === undefined || incremental === undefined ? undefined : parseFormulaRefresh(tag);
  if (config === undefined || incremental === undefined) return undefined;
  const flowName = plan.flowName;
  const store = setup.state?.formulaState;
  const status = await store?.status(flowName);
  const due = store === undefined
    ? { due: false, reason: 'the run state keeps no formula hashes' }
    : setup.when === 'now'
      ? { due: true, reason: 'asked for this run (formulaRefresh now)' }
      : setup.when === 'skip'
        ? { due: false, reason: 'skipped for this run (formulaRefresh skip)' }
        : dueness(config, status, startedAt);
  const record: FormulaRefreshRecord = {
    setting: String(tag).trim(), refreshed: false, reason: due.reason, fields: [], recordsRead: 0, changed: 0, baseline: 0, deferred: 0, apiCalls: 0,
  };
  // Records are keyed by Id, and the refresh leaves records stamped after the window's end to the next window:
  // both fields are read even when the tasks do not map them, and removed again before the tasks.
  const windowField = incremental.field;
  const added: string[] = [];
  let deferredNote: string | undefined;

  return {
    record,
    read(read) {
      if (store === undefined) return read;
      const need = ['Id', windowField];
      if (read.fields !== undefined) {
        const missing = need.filter((f, i) => need.indexOf(f) === i && !read.fields?.includes(f));
        added.push(...missing);
        return missing.length === 0 ? read : { ...read, fields: [...read.fields, ...missing] };
      }
      const excluded = need.filter((f) => read.excludeFields?.includes(f));
      added.push(...excluded);
      return excluded.length === 0 ? read : { ...read, excludeFields: (read.excludeFields ?? []).filter((f) => !need.includes(f)) };
    },
    async wrap(stream, source, read, ctx) {
      const strip = added.length > 0 ? stripper(added) : (b: RecordBatch): RecordBatch => b;
      const stripped = (s: SourceStream): SourceStream => (added.length > 0 ? { ...s, schema: strip({ rows: [], schema: s.schema }).schema } : s);
      const windowEnd = stream.window === undefined ? undefined : Date.parse(stream.window.to);
      const all = store === undefined ? [] : ((await source.formulaFields?.(read.entity)) ?? []);
      const excluded = new Set((read.excludeFields ?? []).map((f) => f.toLowerCase()));
      const wanted = read.fields === undefined ? undefined : new Set(read.fields.map((f) => f.toLowerCase()));
      const fields = all.filter((f) => (wanted === undefined ? !excluded.has(f.toLowerCase()) : wanted.has(f.toLowerCase())));
      record.fields = [...fields];
      if (store === undefined || fields.length === 0) {
        if (store !== undefined) record.reason = `the flow reads no formula field of ${read.entity}`;
        return { ...stripped(stream), batches: mapBatches(stream.batches, strip) };
      }
      const hashOf = hasher(fields);
      const refreshing = due.due;
      log.info({ formulaRefresh: record.setting, due: refreshing, reason: record.reason, fields }, refreshing ? 'formula refresh: due this run' : 'formula refresh: not due');
      async function* batches(): AsyncGenerator<RecordBatch> {
        for await (const batch of stream.batches) {
          await (store as FormulaStateStore).stage(flowName, executionId, keyed(batch.rows, hashOf));
          yield strip(batch);
        }
        if (!refreshing) return;
        // An early stop at the API reserve (docs/salesforce-budget.md): the refresh's read (every record, not in
        // the window's order) cannot stop and resume, and would spend calls below the reserve. It is deferred: the
        // run delivers its window only, keeps the refresh status as it was (still due), and the next run refreshes.
        const defer = (why: string): void => {
          record.reason = `due (${due.reason}), deferred to the next run: ${why}`;
          deferredNote = `The formula refresh was due but is deferred to the next run: ${why}. This run delivered its window only; the formula values of records outside it are refreshed by the next run.`;
          log.warn({ formulaRefresh: record.setting }, deferredNote);
        };
        const stop = read.stopEarly === true ? reserveReached(stream, source) : undefined;
        if (stop !== undefined) return defer(stop);
        // The refresh: every record again (the flow's filters, no window) through one Bulk query.
        const { window: _window, stopEarly: _stopEarly, ...noWindow } = read;
        const before = stream.apiCalls?.() ?? 0;
        let again: SourceStream;
        try {
          again = await source.open({ ...noWindow, apiPreference: 'BULKV2' }, ctx);
        } catch (error) {
          // The reserve learnt from the refresh's own first answers (its COUNT): deferred as well, nothing of it read.
          if (read.stopEarly === true && (isForceflowError(error, 'API_BUDGET_RESERVE') || isForceflowError(error, 'API_BUDGET_RESERVE_REACHED'))) {
            record.apiCalls = (stream.apiCalls?.() ?? before) - before;
            return defer(`the org's API reserve was reached before the refresh's read (${error.code})`);
          }
          throw error;
        }
        record.refreshed = true;
        try {
          for await (const batch of again.batches) {
            record.recordsRead += batch.rows.length;
            const entries = keyed(batch.rows, hashOf);
            const known = await (store as FormulaStateStore).hashes(flowName, executionId, entries.map((e) => e.id));
            const changed: Row[] = [];
            const stage: { id: string; hash: string }[] = [];
            for (const e of entries) {
              // Changed since the window's end: the next window delivers it (with its new timestamp).
              const stamp = toEpochMillis(e.row[windowField]);
              if (windowEnd !== undefined && stamp !== undefined && stamp > windowEnd) {
                record.deferred++;
                continue;
              }
              const previous = known.get(e.id);
              if (previous === e.hash) continue;
              stage.push(e);
              if (previous === undefined) record.baseline++;
              else {
                record.changed++;
                changed.push(e.row);
              }
            }
            await (store as FormulaStateStore).stage(flowName, executionId, stage);
            if (changed.length > 0) yield strip({ rows: changed, schema: batch.schema });
          }
        } finally {
          record.apiCalls = (again.apiCalls?.() ?? before) - before;
          log.info({ recordsRead: record.recordsRead, changed: record.changed, baseline: record.baseline, deferred: record.deferred, apiCalls: record.apiCalls }, 'formula refresh read');
        }
      }
      return { ...stripped(stream), batches: batches() };
    },
    note: () => deferredNote,
    async settle(runRecord) {
      if (store === undefined) return;
      if (runRecord.executionStatus === 'Successful') await store.commit(flowName, executionId, { refreshed: record.refreshed, at: startedAt.toISOString() });
      else await store.discard(flowName, executionId);
    },
  };
}

/** Whether this run refreshes, and why (said in the run record). */
export function dueness(config: FormulaRefreshConfig, status: FormulaRefreshStatus | undefined, startedAt: Date): { due: boolean; reason: string } {
  if (status === undefined) return { due: false, reason: 'first run with the refresh: it records the formula values it delivers' };
  if (config.kind === 'every') {
    const runs = status.runsSinceRefresh + 1;
    return runs >= config.runs
      ? { due: true, reason: `every ${config.runs} runs: run ${runs} since the ${status.lastRefreshAt === null ? "flow's first run" : 'last refresh'}` }
      : { due: false, reason: `every ${config.runs} runs: run ${runs} since the ${status.lastRefreshAt === null ? "flow's first run" : 'last refresh'}` };
  }
  const since = status.lastRefreshAt ?? status.firstRunAt;
  const elapsed = startedAt.getTime() - Date.parse(since);
  const what = status.lastRefreshAt === null ? "the flow's first run" : 'the last refresh';
  return elapsed >= config.ms
    ? { due: true, reason: `interval ${config.text}: ${what} was at ${since}` }
    : { due: false, reason: `interval ${config.text}: ${what} was at ${since}, next refresh from ${new Date(Date.parse(since) + config.ms).toISOString()}` };
}

/** Why a flow that stops early at the API reserve cannot refresh now: its read stopped, or the reserve is reached. */
function reserveReached(stream: SourceStream, source: Source): string | undefined {
  if (stream.stoppedEarly?.() !== undefined) return "the read stopped early at the org's API reserve";
  const org = source.apiUsage?.()?.org;
  if (org !== undefined && org.reserve !== null && org.remaining !== null && org.remaining < org.reserve) {
    return `the org's API reserve was reached (${org.remaining} of ${org.max ?? '?'} DailyApiRequests remaining, reserve ${org.reserve})`;
  }
  return undefined;
}

/** A record's formula values as one short hash (the fields in the flow's order; canonical values). */
function hasher(fields: readonly string[]): (row: Row) => string {
  return (row) => createHash('sha256').update(JSON.stringify(fields.map((f) => (Object.hasOwn(row, f) ? row[f] : null) ?? null))).digest('base64url').slice(0, 22);
}

function keyed(rows: readonly Row[], hashOf: (row: Row) => string): { id: string; hash: string; row: Row }[] {
  const out: { id: string; hash: string; row: Row }[] = [];
  for (const row of rows) {
    const id = row['Id'];
    if (typeof id === 'string' && id !== '') out.push({ id, hash: hashOf(row), row });
  }
  return out;
}

async function* mapBatches(batches: AsyncIterable<RecordBatch>, fn: (b: RecordBatch) => RecordBatch): AsyncGenerator<RecordBatch> {
  for await (const b of batches) yield fn(b);
}
