import type { DeliveredKey, DeliveredLedger, ReadRequest, RunContext, SourceStream } from '../core/connector.ts';
import { ForceflowError } from '../core/errors.ts';
import type { RecordBatch } from '../core/types.ts';
import { toEpochMillis } from '../mapping/convert.ts';
import type { IncrementalPlan } from './compile.ts';
import type { FlowDefinition } from './schema.ts';
import { LOOKBACK_TAG, MAX_LOOKBACK_SECONDS, parseLookbackSeconds } from './lookback-tag.ts';
import type { RunStateStore } from './state.ts';

/**
 * Incremental windows with a lookback (docs/flows.md, "Incremental runs"). Each window starts `lookback`
 * seconds before the previous one ended, so a record a long Salesforce transaction committed after the
 * previous run, stamped before its end, is still read; what earlier runs delivered inside that overlap (same
 * Id and same timestamp) is not delivered again. The keys delivered within the lookback of a window's end are
 * kept in the state store, staged while the run runs and committed in the transaction that advances the
 * window (src/flows/state.ts), so a run that fails or is killed moves neither.
 *
 * File sources (S3, LocalFile) window by each file's LastModified (mtime) and skip whole files; the
 * boundary itself is inclusive there and deduplicated the same way, since those clocks tick in seconds.
 */

export interface LookbackOptions {
  /** The lookback for this run, over the flow's tag (forceflow run --lookback). */
  readonly lookbackSeconds?: number;
  /** The lookback of flows without the tag (a service's setting); default 0. */
  readonly defaultLookbackSeconds?: number;
}

/** The run's lookback in seconds: the run option, else the flow's tag, else the default, else 0. */
export function lookbackSecondsOf(def: FlowDefinition, options: LookbackOptions): number {
  for (const [name, value] of [['lookbackSeconds', options.lookbackSeconds], ['defaultLookbackSeconds', options.defaultLookbackSeconds]] as const) {
    if (value !== undefined && parseLookbackSeconds(value) === undefined) {
      throw new ForceflowError('CONFIG_INVALID', `${name} is ${String(value)}; it must be a whole number of seconds from 0 to ${MAX_LOOKBACK_SECONDS}.`, { details: { option: name } });
    }
  }
  return options.lookbackSeconds ?? parseLookbackSeconds(def.tags?.[LOOKBACK_TAG]) ?? options.defaultLookbackSeconds ?? 0;
}

/** A run's incremental read: the window asked for, and what the runner must do with the records. */
export interface IncrementalRead {
  readonly read: ReadRequest;
  /** dataPullStartTime: the window's start as read (the previous end minus the lookback). */
  readonly from: string | undefined;
  readonly lookbackMs: number;
  readonly ledger: DeliveredLedger | undefined;
  readonly previousEnd: number | undefined;
  readonly field: string;
  /** Fields read only to key records (Id, the window field), removed before the tasks see the records. */
  readonly keyFields: readonly string[];
}

export interface IncrementalSetup {
  readonly incremental: IncrementalPlan;
  readonly read: ReadRequest;
  /** File sources (S3, LocalFile): windowed by LastModified, the first run reads every file without firstExecutionFrom. */
  readonly files: boolean;
  readonly state: RunStateStore | undefined;
  readonly flowName: string;
  readonly executionId: string;
  readonly startedAt: Date;
  readonly lookbackSeconds: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The window of an incremental run: from the last successful run's end minus the lookback (or AppFlow's
 * first-run rule: firstExecutionFrom, else 30 days back; a file source reads every file) to now − offset (a
 * Salesforce source takes "now" from Salesforce's clock, a file source from its newest file).
 */
export async function incrementalRead(setup: IncrementalSetup): Promise<IncrementalRead> {
  const { incremental, state, flowName, executionId, files } = setup;
  const offsetSeconds = incremental.offsetSeconds;
  const lookbackMs = setup.lookbackSeconds * 1000;
  const localEnd = setup.startedAt.getTime() - offsetSeconds * 1000;
  const last = await state?.lastWindowEnd(flowName);
  const previousEnd = last === undefined ? undefined : Date.parse(last);
  // The lookback never reaches before firstExecutionFrom (unless the window was moved there): what the flow
  // was told not to read stays unread.
  const first = incremental.firstExecutionFrom === undefined ? undefined : Date.parse(incremental.firstExecutionFrom);
  const from = previousEnd !== undefined
    ? iso(Math.max(previousEnd - lookbackMs, Math.min(first ?? -Infinity, previousEnd)))
    : incremental.firstExecutionFrom ?? (files ? undefined : iso(localEnd - 30 * 86400_000));
  // Files always keep a ledger (their boundary is inclusive); Salesforce records only with a lookback.
  const ledger = state !== undefined && (files || lookbackMs > 0) ? ledgerOf(state, flowName, executionId, lookbackMs) : undefined;
  let read = setup.read;
  const keyFields: string[] = [];
  if (ledger && !files) {
    // Records are keyed by Id and the window field: read them even when the tasks do not.
    const need = ['Id', incremental.field];
    const fields = read.fields === undefined ? undefined : [...read.fields, ...need.filter((f) => !read.fields?.includes(f))];
    keyFields.push(...need.filter((f) => (read.fields !== undefined && !read.fields.includes(f)) || read.excludeFields?.includes(f)));
    const excludeFields = read.excludeFields?.filter((f) => !need.includes(f));
    read = { ...read, ...(fields ? { fields } : {}), ...(excludeFields ? { excludeFields } : {}) };
  }
  read = {
    ...read,
    window: {
      field: incremental.field, offsetSeconds,
      ...(from === undefined ? {} : { from }),
      ...(files && ledger ? { ledger } : {}),
      ...(last === undefined ? {} : { previousEnd: last }),
    },
  };
  return { read, from, lookbackMs, ledger, previousEnd, field: incremental.field, keyFields };
}

function ledgerOf(state: RunStateStore, flowName: string, executionId: string, lookbackMs: number): DeliveredLedger {
  return {
    delivered: (keys) => state.delivered(flowName, keys),
    stage: (keys, windowEnd) => state.stageDelivered(flowName, executionId, keys, windowEnd - lookbackMs),
  };
}

/**
 * The stream the tasks read: for a Salesforce source with a lookback, the records an earlier run delivered
 * (same Id, same timestamp) dropped, and the rest staged as delivered; `onSkipped` counts the dropped ones.
 * Streams a file source already deduplicated, and non-incremental reads, pass unchanged.
 */
export async function withoutDelivered(stream: SourceStream, inc: IncrementalRead | undefined, ctx: RunContext, onSkipped: (count: number) => void): Promise<SourceStream> {
  if (!inc?.ledger || stream.window?.deduplicated === true) return stream;
  const ledger: DeliveredLedger = inc.ledger;
  const end = stream.window ? Date.parse(stream.window.to) : undefined;
  if (end === undefined || Number.isNaN(end)) return stream;
  await ledger.stage([], end);
  const { field, keyFields, previousEnd } = inc;
  const keepFrom = end - inc.lookbackMs;
  const strip = keyFields.length > 0 ? stripper(keyFields) : (b: RecordBatch): RecordBatch => b;
  async function* batches(): AsyncGenerator<RecordBatch> {
    for await (const batch of stream.batches) {
      const keys: Array<DeliveredKey | undefined> = batch.rows.map((row) => {
        const id = row['Id'];
        const at = toEpochMillis(row[field]);
        return typeof id === 'string' && id !== '' && at !== undefined ? { id, at } : undefined;
      });
      // Only records stamped at or before the previous end can have been delivered before.
      const overlap = keys.flatMap((k, i) => (k !== undefined && previousEnd !== undefined && k.at <= previousEnd ? [i] : []));
      const seen = overlap.length === 0 ? [] : await ledger.delivered(overlap.map((i) => keys[i] as DeliveredKey));
      const skip = new Set(overlap.filter((_, j) => seen[j] === true));
      const fresh = keys.filter((k, i): k is DeliveredKey => k !== undefined && k.at >= keepFrom && !skip.has(i));
      if (fresh.length > 0) await ledger.stage(fresh, end as number);
      if (skip.size > 0) onSkipped(skip.size);
      const rows = skip.size === 0 ? batch.rows : batch.rows.filter((_, i) => !skip.has(i));
      ctx.log.debug({ read: batch.rows.length, alreadyDelivered: skip.size }, 'lookback');
      if (rows.length > 0) yield strip({ rows, schema: batch.schema });
    }
  }
  return { ...stream, schema: strip({ rows: [], schema: stream.schema }).schema, batches: batches() };
}

/** Removes the key fields the run added to the read (the tasks see the records as the flow asked for them). */
export function stripper(fields: readonly string[]): (batch: RecordBatch) => RecordBatch {
  const drop = new Set(fields);
  return (batch) => ({
    schema: { entity: batch.schema.entity, fields: batch.schema.fields.filter((f) => !drop.has(f.name)) },
    rows: batch.rows.map((row) => {
      const out: RecordBatch['rows'][number] = {};
      for (const k in row) if (!drop.has(k)) out[k] = row[k] as RecordBatch['rows'][number][string];
      return out;
    }),
  });
}
