import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PushdownFilter, RunContext, SourceSplitJob, SourceSplitRecord } from '../../core/connector.ts';
import { canceled, isCanceled, throwIfCanceled } from '../../core/cancel.ts';
import { ForceflowError } from '../../core/errors.ts';
import type { EntitySchema, FieldValue, RecordBatch, Row } from '../../core/types.ts';
import { rowFrom, rowTemplate } from '../../formats/rows.ts';
import { to18 } from '../../salesforce-wire/ids.ts';
import { readBulk, type BulkReadOptions, type BulkReadStats } from './bulk-source.ts';
import type { SalesforceClient } from './http.ts';
import type { ReadPlan } from './read-plan.ts';
import type { SfField } from './describe.ts';

/**
 * Big objects read in parallel (docs/flows.md, "Parallel Bulk reads"): a Bulk API 2.0 read of at least
 * `minRecords` records (by the run's COUNT), or estimated at `minBytes` or more (the COUNT times a record width
 * from describe, {@link estimatedRecordBytes}), is split into `jobs` query jobs over Id ranges, or more ranges
 * so that each one's estimated share stays under `maxJobBytes`, run `jobs` at a time, and
 * delivered as one stream in Id-range order, so the output has the same records in the same order (and a file
 * output the same bytes) as a single job's.
 *
 * Boundaries cost two REST queries (the lowest and the highest Id under the run's WHERE, `ORDER BY Id LIMIT 1`),
 * beyond the COUNT the read takes anyway: Salesforce Ids carry a base-62 counter after their key prefix and sort
 * by creation, so the span between the two is cut into equal Id intervals, as PK chunking does. The first range
 * is open below and the last open above. Records spread evenly over their Ids (bulk-loaded data, generated
 * objects) give balanced jobs; an org whose Ids cluster gives less even ones, never missing or repeated records.
 *
 * Output order: the range the output has reached streams straight through (two batches of hand-off); ranges
 * read ahead of it are spooled to disk (JSON lines of the row values) and read back when their turn comes, so
 * memory stays flat whatever the size. A job that ends Failed for a temporary reason is run again alone, by
 * readBulk (a new job for that range only); any other failure, and a cancelled run, stops every job (each is
 * aborted, or deleted once complete, by readBulk's own cleanup).
 */

/** Settings of parallel Bulk reads. */
export interface BulkSplitOptions {
  /** Query jobs (Id ranges) run at once; 1 (the default) never splits. */
  readonly jobs: number;
  /** Split only reads of at least this many records (the run's COUNT); default {@link DEFAULT_SPLIT_MIN_RECORDS}. */
  readonly minRecords?: number;
  /** Split also reads estimated at this many bytes or more (COUNT × {@link estimatedRecordBytes}); default {@link DEFAULT_SPLIT_MIN_BYTES}. */
  readonly minBytes?: number;
  /** Cut into more ranges than `jobs` until each range's estimated share is at most this; default {@link DEFAULT_SPLIT_JOB_BYTES}. */
  readonly maxJobBytes?: number;
  /** Folder for the spool of ranges read ahead of the output (default the OS temp folder). */
  readonly tempDir?: string;
}

/** Reads below this many records stay one job unless the flow says otherwise (AppFlow's Bulk threshold). */
export const DEFAULT_SPLIT_MIN_RECORDS = 1_000_000;
/** The most jobs of one read (Salesforce allows 25 concurrent long-running requests per org). */
export const MAX_SPLIT_JOBS = 16;
/** Reads estimated at 2 GiB or more split whatever their COUNT: 1,000,000 records at AppFlow's typical 2 KB. */
export const DEFAULT_SPLIT_MIN_BYTES = 2 * 1024 ** 3;
/**
 * A range's estimated share is kept at or below 2 GiB (docs/flows.md, "Parallel Bulk reads"): a job that fails
 * is run again whole, Salesforce stores at most 1,000,000,000 KB of Bulk query results per org and day, and the
 * run's size guard (15 GB by default) applies to each job of a split read.
 */
export const DEFAULT_SPLIT_JOB_BYTES = 2 * 1024 ** 3;
/** The most Id ranges (query jobs) of one read, run `jobs` at a time: 64 of the org's 10,000 daily Bulk query jobs. */
export const MAX_SPLIT_RANGES = 64;

/** Text fields count their declared length up to this many characters (long text areas declare up to 131,072). */
export const TEXT_WIDTH_CAP = 255;

/**
 * One field's width in a Bulk result's CSV, from describe alone (no API call): the widest value of fixed-width
 * types, text at its declared length capped at {@link TEXT_WIDTH_CAP}, plus the two quotes and the comma.
 */
export function estimatedFieldBytes(field: Pick<SfField, 'type' | 'length'>): number {
  const value = ((): number => {
    switch (field.type) {
      case 'id': case 'reference': return 18;
      case 'boolean': return 5;
      case 'date': return 10;
      case 'time': return 13;
      case 'datetime': return 24;
      case 'int': return 11;
      case 'long': case 'double': case 'currency': case 'percent': return 20;
      default: return Math.min(TEXT_WIDTH_CAP, field.length > 0 ? field.length : TEXT_WIDTH_CAP);
    }
  })();
  return value + 3;
}

/** A record's estimated width in a Bulk result (its fields' {@link estimatedFieldBytes} and the line end). */
export function estimatedRecordBytes(fields: ReadonlyArray<Pick<SfField, 'type' | 'length'>>): number {
  return fields.reduce((n, f) => n + estimatedFieldBytes(f), 1);
}

/** The split's settings under the run's size guard: no range's estimated share above the guard either. */
export function underGuard(split: BulkSplitOptions, maxBytes: number | undefined): BulkSplitOptions {
  if (maxBytes === undefined) return split;
  return { ...split, maxJobBytes: Math.min(split.maxJobBytes ?? DEFAULT_SPLIT_JOB_BYTES, maxBytes) };
}

/** How a read is split: the Id ranges wanted, the jobs at once, and why (or why not, with `ranges` 1). */
export interface SplitDecision {
  readonly ranges: number;
  readonly concurrency: number;
  readonly reason: string;
  /** COUNT × record width, when the COUNT is known. */
  readonly estimatedBytes?: number;
}

const n = (v: number): string => v.toLocaleString('en-US');
const gib = (v: number): string => (v >= 1024 ** 3 ? `${(v / 1024 ** 3).toFixed(2)} GiB` : v >= 1024 ** 2 ? `${(v / 1024 ** 2).toFixed(1)} MiB` : `${n(v)} bytes`);

/**
 * Decide the split of a read of `count` records of `recordBytes` each: split when the COUNT reaches `minRecords`
 * or the estimate reaches `minBytes`, into `jobs` ranges, or more (up to {@link MAX_SPLIT_RANGES}) so that each
 * range's share of the estimate stays at or below `maxJobBytes`; never more than `jobs` run at once.
 */
export function decideSplit(split: BulkSplitOptions, count: number | undefined, recordBytes: number): SplitDecision {
  const jobs = Math.min(MAX_SPLIT_JOBS, Math.floor(split.jobs));
  if (!(jobs >= 2)) return { ranges: 1, concurrency: 1, reason: 'parallel reads are off' };
  if (count === undefined) return { ranges: 1, concurrency: 1, reason: 'no record count (the query is too long for REST)' };
  const estimatedBytes = count * recordBytes;
  const minRecords = split.minRecords ?? DEFAULT_SPLIT_MIN_RECORDS;
  const minBytes = split.minBytes ?? DEFAULT_SPLIT_MIN_BYTES;
  const maxJobBytes = Math.max(1, split.maxJobBytes ?? DEFAULT_SPLIT_JOB_BYTES);
  const estimate = `${n(count)} records × ${n(recordBytes)} bytes estimated per record = ${gib(estimatedBytes)}`;
  const byCount = count >= minRecords;
  const bySize = estimatedBytes >= minBytes;
  if (!byCount && !bySize) {
    return { ranges: 1, concurrency: 1, estimatedBytes, reason: `${estimate}: below both parallel thresholds (${n(minRecords)} records, ${gib(minBytes)})` };
  }
  const forSize = Math.ceil(estimatedBytes / maxJobBytes);
  const ranges = Math.min(MAX_SPLIT_RANGES, Math.max(jobs, forSize));
  const why = [
    ...(byCount ? [`at or above the parallel threshold of ${n(minRecords)} records`] : []),
    ...(bySize ? [`at or above the parallel size threshold of ${gib(minBytes)}`] : []),
  ].join(' and ');
  const more = ranges > jobs ? `, more ranges than jobs so each range's share stays ${ranges === MAX_SPLIT_RANGES && forSize > ranges ? `as small as ${MAX_SPLIT_RANGES} ranges allow` : `at or below ${gib(maxJobBytes)}`}` : '';
  return { ranges, concurrency: jobs, estimatedBytes, reason: `${estimate}, ${why}: ${ranges} Bulk query jobs over Id ranges, ${jobs} at once${more}` };
}

/** One Id range: `from` inclusive, `to` exclusive; undefined is open. */
export interface IdRange {
  readonly from?: string;
  readonly to?: string;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The 12 characters after the key prefix of a 15-char id, as a number (base 62; they sort as the number). */
function idNumber(id15: string): bigint | undefined {
  let n = 0n;
  for (const ch of id15.slice(3, 15)) {
    const d = BASE62.indexOf(ch);
    if (d < 0) return undefined;
    n = n * 62n + BigInt(d);
  }
  return n;
}

function idOfNumber(prefix: string, n: bigint): string {
  let s = '';
  let v = n;
  for (let i = 0; i < 12; i++) {
    s = BASE62[Number(v % 62n)] + s;
    v /= 62n;
  }
  return to18(prefix + s);
}

/**
 * Cut the Ids from `min` to `max` (both present) into at most `parts` ranges of equal Id span: the first open
 * below, the last open above. One range (no split) when the ids are not comparable (another key prefix, not
 * base 62) or too close together.
 */
export function splitIdSpan(min: string, max: string, parts: number): IdRange[] {
  const lo = idNumber(min.slice(0, 15));
  const hi = idNumber(max.slice(0, 15));
  const prefix = min.slice(0, 3);
  if (lo === undefined || hi === undefined || prefix !== max.slice(0, 3) || hi <= lo || parts < 2) return [{}];
  const bounds: string[] = [];
  const span = hi - lo;
  let last = lo;
  for (let i = 1; i < parts; i++) {
    const b = lo + (span * BigInt(i)) / BigInt(parts);
    if (b <= last) continue;
    bounds.push(idOfNumber(prefix, b));
    last = b;
  }
  const ranges: IdRange[] = [];
  for (let i = 0; i <= bounds.length; i++) {
    const from = bounds[i - 1];
    const to = bounds[i];
    ranges.push({ ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) });
  }
  return ranges;
}

/** The range's conditions as pushed-down filters on Id (ANDed with the read's own). */
export function rangeFilters(range: IdRange): PushdownFilter[] {
  const out: PushdownFilter[] = [];
  if (range.from !== undefined) out.push({ field: 'Id', operator: 'GREATER_THAN_OR_EQUAL_TO', values: [range.from] });
  if (range.to !== undefined) out.push({ field: 'Id', operator: 'LESS_THAN', values: [range.to] });
  return out;
}

/**
 * The lowest and highest Id the read's WHERE selects: two REST queries (`ORDER BY Id [DESC] LIMIT 1`). `soql` is
 * the read's `SELECT Id FROM … WHERE …` without ORDER BY. Undefined when nothing matches.
 */
export async function idSpan(client: SalesforceClient, soql: string, includeDeleted: boolean, object: string): Promise<{ min: string; max: string } | undefined> {
  const first = async (order: 'ASC' | 'DESC'): Promise<string | undefined> => {
    const res = await client.json<{ records?: Array<{ Id?: unknown }> }>({
      method: 'GET', path: includeDeleted ? '/queryAll' : '/query', query: { q: `${soql} ORDER BY Id ${order} LIMIT 1` }, call: `find the ${order === 'ASC' ? 'lowest' : 'highest'} Id of ${object}`,
    });
    const id = res.records?.[0]?.Id;
    return typeof id === 'string' ? id : undefined;
  };
  const min = await first('ASC');
  const max = min === undefined ? undefined : await first('DESC');
  return min === undefined || max === undefined ? undefined : { min, max };
}

/** What one range's reading needs from the caller. */
export interface SplitRead {
  readonly client: SalesforceClient;
  readonly plan: ReadPlan;
  readonly schema: EntitySchema;
  readonly includeDeleted: boolean;
  readonly ranges: readonly IdRange[];
  /** The Bulk SOQL of a range (the read's SELECT with the range's Id conditions). */
  readonly soqlFor: (range: IdRange) => string;
  readonly concurrency: number;
  readonly tempDir?: string;
  readonly bulk?: BulkReadOptions;
  /** Filled as the read goes: the run record's `sourceSplit`. */
  readonly record: SourceSplitRecord;
  /** Shared with the source: pages read over all jobs, the last job's id. */
  readonly stats: BulkReadStats;
  /** The run's size guard, per job: a job whose result pages pass it fails the read (RUN_SIZE_LIMIT). */
  readonly maxBytes?: number;
}

/** A bounded hand-off of batches from the job of the range the output has reached. */
class Handoff {
  private readonly items: RecordBatch[] = [];
  private ended = false;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly capacity: number) {}

  async put(batch: RecordBatch, signal: AbortSignal): Promise<void> {
    while (this.items.length >= this.capacity) {
      throwIfCanceled(signal);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener('abort', done);
          this.wakeProducer = undefined;
          resolve();
        };
        this.wakeProducer = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    throwIfCanceled(signal);
    this.items.push(batch);
    this.wakeConsumer?.();
  }

  end(): void {
    this.ended = true;
    this.wakeConsumer?.();
  }

  /** The next batch; undefined at the end, or once `stop` has resolved (the whole read stopped: the caller checks why). */
  async take(stop: Deferred): Promise<RecordBatch | undefined> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        this.wakeProducer?.();
        return item;
      }
      if (this.ended || stop.settled) return undefined;
      await Promise.race([new Promise<void>((resolve) => { this.wakeConsumer = resolve; }), stop.promise]);
      this.wakeConsumer = undefined;
    }
  }
}

/** Rows of a range read ahead of the output, as JSON lines of their values, written as they arrive. */
export class RowSpool {
  private handle: FileHandle | undefined;
  private pending = '';
  /** Rows written. */
  rows = 0;
  constructor(readonly path: string) {}

  async add(rows: readonly Row[], names: readonly string[]): Promise<void> {
    this.rows += rows.length;
    for (const row of rows) {
      const values: FieldValue[] = new Array<FieldValue>(names.length);
      for (let k = 0; k < names.length; k++) values[k] = row[names[k] as string] ?? null;
      this.pending += `${JSON.stringify(values)}\n`;
    }
    if (this.pending.length >= 1 << 20) await this.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = undefined;
  }

  private async flush(): Promise<void> {
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.handle ??= await open(this.path, 'w');
    await this.handle.write(text);
  }
}

/** The rows a {@link RowSpool} wrote, in order, in batches of `batchRows`. */
export async function* spooledBatches(path: string, schema: EntitySchema, names: readonly string[], batchRows: number, chunkBytes = 1 << 20): AsyncGenerator<RecordBatch> {
  const template = rowTemplate(names);
  // Whole chunks split at line ends (readline's promise per line costs several times more).
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: chunkBytes });
  let rest = '';
  let rows: Row[] = [];
  const take = (line: string): void => {
    if (line === '') return;
    const values = JSON.parse(line) as FieldValue[];
    const row = rowFrom(template);
    for (let k = 0; k < names.length; k++) row[names[k] as string] = values[k] ?? null;
    rows.push(row);
  };
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest + chunk;
      let from = 0;
      for (let nl = text.indexOf('\n', from); nl >= 0; nl = text.indexOf('\n', from)) {
        take(text.slice(from, nl));
        from = nl + 1;
        if (rows.length >= batchRows) {
          const out = rows;
          rows = [];
          yield { schema, rows: out };
        }
      }
      rest = text.slice(from);
    }
    take(rest);
    if (rows.length > 0) yield { schema, rows };
  } finally {
    stream.destroy();
  }
}

interface RangeState {
  mode?: 'direct' | 'spool';
  handoff?: Handoff;
  spool?: RowSpool;
  /** Resolves when a worker has picked the range up (mode set). */
  readonly started: Deferred;
  /** Resolves when the range was read whole. */
  readonly done: Deferred;
}

interface Deferred {
  readonly promise: Promise<void>;
  readonly settled: boolean;
  resolve(): void;
}

function deferred(): Deferred {
  let settle!: () => void;
  const promise = new Promise<void>((r) => { settle = r; });
  const d = {
    promise,
    settled: false,
    resolve(): void {
      d.settled = true;
      settle();
    },
  };
  return d;
}

/**
 * Read the ranges' jobs with at most `concurrency` running at once; yield their records in range order.
 * Stopping early (or a failure) aborts every job and removes the spool.
 */
export async function* readBulkSplit(read: SplitRead, ctx: RunContext): AsyncGenerator<RecordBatch> {
  const { ranges, record, plan } = read;
  const names = plan.output.map((f) => f.name);
  const batchRows = read.bulk?.batchRows ?? 1000;
  const inner = new AbortController();
  const signal = AbortSignal.any([ctx.signal, inner.signal]);
  let failure: unknown;
  const stop = deferred();
  const fail = (error: unknown): void => {
    if (failure === undefined) failure = error;
    inner.abort();
    stop.resolve();
  };
  const dir = await mkdtemp(join(read.tempDir ?? tmpdir(), 'forceflow-sf-split-'));
  const states: RangeState[] = ranges.map(() => ({ started: deferred(), done: deferred() }));
  let outputAt = 0;
  let next = 0;

  const runRange = async (i: number): Promise<void> => {
    const state = states[i] as RangeState;
    const job = record.jobs[i] as SourceSplitJob;
    const started = Date.now();
    job.status = 'running';
    job.startedAt = new Date(started).toISOString();
    // The range the output waits on streams through; a range ahead of it is spooled.
    if (outputAt === i) {
      state.mode = 'direct';
      state.handoff = new Handoff(2);
    } else {
      state.mode = 'spool';
      state.spool = new RowSpool(join(dir, `range-${String(i).padStart(4, '0')}.jsonl`));
    }
    job.spooled = state.mode === 'spool';
    state.started.resolve();
    const stats: BulkReadStats = { pages: 0 };
    const options: BulkReadOptions = {
      ...read.bulk,
      onQueryJobCreated: async (jobId: string) => {
        job.jobIds.push(jobId);
        read.stats.jobId = jobId;
        await read.bulk?.onQueryJobCreated?.(jobId);
      },
    };
    const rctx: RunContext = { ...ctx, signal, log: ctx.log.child({ range: i }) };
    try {
      for await (const batch of readBulk(read.client, plan, read.schema, read.soqlFor(ranges[i] as IdRange), read.includeDeleted, rctx, options, stats)) {
        job.records += batch.rows.length;
        job.bytes = stats.bytes ?? 0;
        if (read.maxBytes !== undefined && job.bytes > read.maxBytes) throw jobSizeLimit(i, job.bytes, read.maxBytes);
        if (state.handoff) await state.handoff.put(batch, signal);
        else await state.spool?.add(batch.rows, names);
        if (signal.aborted) break;
      }
      await state.spool?.close();
      throwIfCanceled(signal);
      job.status = 'done';
      state.handoff?.end();
      state.done.resolve();
    } catch (error) {
      await state.spool?.close().catch(() => undefined);
      // The job that failed first is `failed`; those stopped because of it, or of a cancel, `aborted`.
      job.status = ctx.signal.aborted || inner.signal.aborted ? 'aborted' : 'failed';
      throw error;
    } finally {
      const ended = Date.now();
      job.endedAt = new Date(ended).toISOString();
      job.ms = ended - started;
      job.pages = stats.pages;
      read.stats.pages += stats.pages;
      job.bytes = stats.bytes ?? 0;
    }
  };

  const worker = async (): Promise<void> => {
    while (failure === undefined && !signal.aborted && next < ranges.length) {
      const i = next++;
      try {
        await runRange(i);
      } catch (error) {
        fail(error);
        return;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(read.concurrency, ranges.length)) }, () => worker());
  ctx.log.info({ object: plan.object.name, ranges: ranges.length, concurrency: workers.length }, 'bulk read split into parallel query jobs over Id ranges');

  const rethrow = (): never => {
    if (ctx.signal.aborted) throw isCanceled(failure) || failure === undefined ? canceled() : canceled(undefined, { cause: failure });
    throw failure;
  };
  let completed = false;
  try {
    for (let i = 0; i < ranges.length; i++) {
      outputAt = i;
      const state = states[i] as RangeState;
      await Promise.race([state.started.promise, stop.promise]);
      if (failure !== undefined || ctx.signal.aborted) rethrow();
      if (state.mode === 'direct') {
        for (;;) {
          const batch = await (state.handoff as Handoff).take(stop);
          if (failure !== undefined || ctx.signal.aborted) rethrow();
          if (batch === undefined) break;
          yield batch;
        }
      } else {
        await Promise.race([state.done.promise, stop.promise]);
        if (failure !== undefined || ctx.signal.aborted) rethrow();
        const spool = state.spool as RowSpool;
        if (spool.rows > 0) yield* spooledBatches(spool.path, read.schema, names, batchRows);
        await rm(spool.path, { force: true });
      }
    }
    completed = true;
  } finally {
    if (!completed) inner.abort();
    // Every job stopped (aborted or deleted by readBulk's cleanup) before the read returns.
    await Promise.allSettled(workers);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    for (const job of record.jobs) if (job.status === 'pending' || job.status === 'running') job.status = 'aborted';
  }
}

/** The split's starting record (jobs pending), for the run record. */
export function splitRecord(ranges: readonly IdRange[], concurrency: number, reason: string, boundaryCalls: number, estimate?: SourceSplitRecord['estimate']): SourceSplitRecord {
  return {
    reason,
    concurrency,
    boundaryCalls,
    ...(estimate === undefined ? {} : { estimate }),
    jobs: ranges.map((r, range) => ({ range, from: r.from ?? null, to: r.to ?? null, jobIds: [], status: 'pending', spooled: false, records: 0, bytes: 0, pages: 0, startedAt: null, endedAt: null, ms: null })),
  };
}

/** The jobs a read of `count` records of `recordBytes` would be split into (for the API budget's estimate; the Ids may give fewer). */
export function expectedSplitJobs(split: BulkSplitOptions, count: number | undefined, recordBytes = 0): number {
  return decideSplit(split, count, recordBytes).ranges;
}

/** What {@link openSplitRead} needs: the read as source.ts built it. */
export interface SplitCandidate {
  readonly client: SalesforceClient;
  readonly plan: ReadPlan;
  readonly schema: EntitySchema;
  readonly includeDeleted: boolean;
  /** The run's record count, when a COUNT was taken. */
  readonly count: number | undefined;
  /** Take the COUNT now (one REST query), or undefined when REST cannot serve it (the WHERE is too long). */
  readonly takeCount: (() => Promise<number>) | undefined;
  /** The read's Bulk SOQL with extra Id conditions; with `idOnly`, `SELECT Id` (for the boundaries). */
  readonly soql: (extra: readonly PushdownFilter[], idOnly?: boolean) => string;
  /** The read's estimated record width in a Bulk result ({@link estimatedRecordBytes} of the selected fields). */
  readonly recordBytes: number;
  /** The run's size guard: each job stops once its result pages pass it. */
  readonly maxBytes?: number;
  readonly split: BulkSplitOptions;
  readonly bulk?: BulkReadOptions;
  readonly stats: BulkReadStats;
}

/**
 * Decide whether a Bulk read is split and, when it is, start it: the batches and the split's record. Undefined
 * (one job, as before) when parallel reads are off, the read is below the threshold, or the Ids give one range;
 * the reason is logged.
 */
export async function openSplitRead(c: SplitCandidate, ctx: RunContext): Promise<{ batches: AsyncIterable<RecordBatch>; record: SourceSplitRecord } | undefined> {
  const jobs = Math.min(MAX_SPLIT_JOBS, Math.floor(c.split.jobs));
  if (!(jobs >= 2)) return undefined;
  const object = c.plan.object.name;
  const callsBefore = c.client.apiCalls;
  let count = c.count;
  if (count === undefined && c.takeCount) count = await c.takeCount();
  const decision = decideSplit(c.split, count, c.recordBytes);
  if (decision.ranges < 2) {
    ctx.log.info({ object, count, estimatedBytes: decision.estimatedBytes }, `bulk read not split: ${decision.reason}`);
    return undefined;
  }
  const span = await idSpan(c.client, c.soql([], true), c.includeDeleted, object);
  const ranges = span ? splitIdSpan(span.min, span.max, decision.ranges) : [{}];
  if (ranges.length < 2) {
    ctx.log.info({ object, count }, 'bulk read not split: its Ids make one range');
    return undefined;
  }
  const concurrency = Math.min(decision.concurrency, ranges.length);
  const reason = ranges.length === decision.ranges ? decision.reason : `${decision.reason} (the Ids gave ${ranges.length} ranges)`;
  const estimate = { records: count as number, recordBytes: c.recordBytes, bytes: decision.estimatedBytes as number };
  const record = splitRecord(ranges, concurrency, reason, c.client.apiCalls - callsBefore, estimate);
  const batches = readBulkSplit({
    client: c.client, plan: c.plan, schema: c.schema, includeDeleted: c.includeDeleted, ranges, concurrency,
    soqlFor: (range) => c.soql(rangeFilters(range)),
    record, stats: c.stats,
    ...(c.maxBytes === undefined ? {} : { maxBytes: c.maxBytes }),
    ...(c.split.tempDir === undefined ? {} : { tempDir: c.split.tempDir }),
    ...(c.bulk === undefined ? {} : { bulk: c.bulk }),
  }, ctx);
  return { batches, record };
}

/** A job of a split read passed the run's size guard, which applies per job (docs/flows.md, "Parallel Bulk reads"). */
export function jobSizeLimit(range: number, bytes: number, maxBytes: number): ForceflowError {
  return new ForceflowError('RUN_SIZE_LIMIT', `One job of the split read (range ${range}) read ${bytes} bytes, more than the run's size guard of ${maxBytes} bytes, which applies to each job: the records are wider than their estimate from describe, or spread unevenly over their Ids. Split the flow with filters, or raise the guard (--max-bytes).`, {
    details: { range, jobBytes: bytes, maxBytes },
  });
}

/** The bytes of the split's biggest job so far: what the run's size guard counts for a split read. */
export function largestJobBytes(record: SourceSplitRecord): number {
  return record.jobs.reduce((m, j) => Math.max(m, j.bytes), 0);
}
