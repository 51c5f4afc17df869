import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { RecordFailure, RunContext } from '../../core/connector.ts';
import { ForceflowError } from '../../core/errors.ts';
import type { Row } from '../../core/types.ts';
import { rowFrom } from '../../formats/rows.ts';
import type { BulkWriter } from './bulk-writer.ts';
import { RowFingerprint, rangeIndexes, type JournalEntry, type JournalExecution, type JournalFailure } from './journal.ts';
import { restLine, type RestItem, type RestWriter } from './rest-writer.ts';
import { CsvSpool, readSpoolOriginals, readSpoolRows, type SpoolFile } from './spool.ts';
import { recordFromCells, type WriteReporter, type WriteTarget } from './write-plan.ts';
import { ingestLine } from '../../salesforce-wire/bulk-csv.ts';
import { throwIfCanceled } from '../../core/cancel.ts';

/**
 * Recovery of the writes of earlier runs of a flow that did not finish (crashed, killed), from the write journal
 * (journal.ts). Before this run sends anything:
 *
 * 1. {@link stage}: the whole input is read once. Each row an earlier run sent (covered by a journal entry) feeds
 *    that entry's fingerprint and, when the entry is unsettled, is kept to recover it (a Bulk job's rows in a
 *    spool file rebuilt exactly as it was uploaded; a REST call's rows in memory: at most a few calls of 200).
 *    Rows no entry covers, and rows a settled entry marked to send again, are staged on disk for this run.
 * 2. {@link verify}: every entry must have seen all its rows with the same fingerprint; else the input changed
 *    since the crash and the run stops with JOURNAL_INPUT_CHANGED, nothing sent (no guessing).
 * 3. {@link resolve}: settled entries report their stored outcome; unsettled Bulk jobs are asked for (state,
 *    wait, results, matched as any job's); unsettled REST calls are looked up (RestWriter.recover). Rows found
 *    not written join the staged rows.
 * 4. {@link replay}: the staged rows, which the destination then writes as any input.
 *
 * A row's outcome is the latest entry's (by seq) that carries it: a row an entry marked "send again" and a later
 * entry sent is that later entry's.
 */

/** What the run record says was recovered (ExecutionRecord.recovery). */
export interface RecoveryCounts {
  /** The execution ids whose unfinished writes were recovered. */
  readonly executions: string[];
  /** Bulk jobs and REST calls of those writes (settled or not). */
  readonly jobs: number;
  readonly calls: number;
  /** Rows those writes had sent: found written, found failed, still unknown, or not written (sent again now). */
  rowsWritten: number;
  rowsFailed: number;
  rowsUnknown: number;
  rowsResent: number;
}

interface EntryState {
  readonly entry: JournalEntry;
  readonly fp: RowFingerprint;
  seen: number;
  /** Unsettled Bulk: the job's rows rebuilt. */
  spool?: CsvSpool;
  /** Unsettled REST: the call's rows. */
  items?: RestItem[];
  /** Settled: failed and unknown rows by index. */
  failures?: Map<number, { failure: JournalFailure; unknown: boolean }>;
  resend?: Set<number>;
  /** Settled: rows this entry owns (not overridden by a later one) found written / failed / unknown. */
  written: number;
  failed: RecordFailure[];
  unknown: RecordFailure[];
}

const REPLAY_BATCH = 500;

export class Recovery {
  readonly counts: RecoveryCounts;
  private readonly executions: readonly JournalExecution[];
  private readonly target: WriteTarget;
  private readonly dir: string;
  private readonly ctx: RunContext;
  private readonly states: EntryState[];
  /** [start, end, state] sorted by start: a sweep finds the entries carrying each input row. */
  private readonly intervals: Array<[number, number, EntryState]> = [];
  private staging: FileHandle | undefined;
  private stagingPending = '';
  private readonly stagingPath: string;
  private staged = 0;
  /** True once every entry was recovered (resolve ended). */
  resolved = false;

  constructor(executions: readonly JournalExecution[], target: WriteTarget, dir: string, ctx: RunContext) {
    this.executions = executions;
    this.target = target;
    this.dir = dir;
    this.ctx = ctx;
    this.stagingPath = join(dir, 'recovery-staged.jsonl');
    for (const e of executions) {
      if (e.object.toLowerCase() !== target.object.name.toLowerCase() || e.operation !== target.operation) {
        throw this.changed(e, `it wrote ${e.operation} to ${e.object}, this run writes ${target.operation} to ${target.object.name}`);
      }
    }
    this.states = executions
      .flatMap((e) => e.entries)
      .sort((a, b) => a.seq - b.seq)
      .map((entry) => ({ entry, fp: new RowFingerprint(), seen: 0, written: 0, failed: [], unknown: [] }));
    for (const s of this.states) {
      for (const [a, b] of s.entry.ranges) this.intervals.push([a, b, s]);
      const o = s.entry.outcome;
      if (o === null) continue;
      s.failures = new Map();
      for (const f of o.failed) s.failures.set(f.index, { failure: f, unknown: false });
      for (const f of o.unknown) s.failures.set(f.index, { failure: f, unknown: true });
      s.resend = new Set(rangeIndexes(o.resend));
    }
    this.intervals.sort((x, y) => x[0] - y[0]);
    this.counts = {
      executions: executions.map((e) => e.executionId),
      jobs: this.states.filter((s) => s.entry.kind === 'bulk').length,
      calls: this.states.filter((s) => s.entry.kind === 'rest').length,
      rowsWritten: 0,
      rowsFailed: 0,
      rowsUnknown: 0,
      rowsResent: 0,
    };
  }

  /** Read the whole input: fingerprint what earlier runs sent, keep what must be recovered, stage the rest. */
  async stage(input: AsyncIterable<readonly RestItem[]>, original: (row: Row) => Row, bulkCells: (index: number, row: Row) => string[] | RecordFailure): Promise<void> {
    this.staging = await open(this.stagingPath, 'w');
    let next = 0;
    let active: Array<[number, number, EntryState]> = [];
    for await (const items of input) {
      throwIfCanceled(this.ctx.signal);
      for (const { index, row } of items) {
        while (next < this.intervals.length && (this.intervals[next] as [number, number, EntryState])[0] <= index) active.push(this.intervals[next++] as [number, number, EntryState]);
        if (active.some(([, end]) => end < index)) active = active.filter(([, end]) => end >= index);
        if (active.length === 0) {
          await this.stageRow(index, original(row));
          continue;
        }
        let owner: EntryState | undefined;
        for (const [, , s] of active) {
          s.seen++;
          let line: string;
          if (s.entry.kind === 'bulk') {
            const cells = bulkCells(index, row);
            line = Array.isArray(cells) ? ingestLine(cells) : `\u0000not convertible: ${cells.errorCode}`;
            if (s.entry.outcome === null && Array.isArray(cells)) {
              s.spool ??= new CsvSpool(this.dir, this.target.columns.map((c) => c.field.name), { maxBytes: Number.MAX_SAFE_INTEGER, prefix: `recover-${s.entry.seq}`, originals: true });
              await s.spool.add(index, cells, original(row));
            }
          } else {
            line = restLine(this.target, row);
            if (s.entry.outcome === null) (s.items ??= []).push({ index, row: original(row) });
          }
          s.fp.add(index, line);
          if (owner === undefined || s.entry.seq > owner.entry.seq) owner = s;
        }
        const o = owner as EntryState;
        if (o.entry.outcome === null) continue;
        const f = o.failures?.get(index);
        if (o.resend?.has(index)) {
          this.counts.rowsResent++;
          await this.stageRow(index, original(row));
        } else if (f !== undefined) {
          const failure: RecordFailure = { index, record: original(row), errorCode: f.failure.errorCode, message: f.failure.message, ...(f.failure.fields ? { fields: f.failure.fields } : {}) };
          (f.unknown ? o.unknown : o.failed).push(failure);
        } else {
          o.written++;
        }
      }
    }
  }

  /** Every entry saw all its rows, unchanged; else JOURNAL_INPUT_CHANGED (nothing has been sent). */
  verify(): void {
    for (const s of this.states) {
      const e = s.entry;
      const execution = this.executions.find((x) => x.executionId === e.executionId) as JournalExecution;
      if (s.seen !== e.count) {
        throw this.changed(execution, `its ${e.kind === 'bulk' ? `Bulk job ${e.ref ?? ''}` : 'REST call'} carried ${e.count} row(s) at input positions ${describeRanges(e.ranges)}, and the input now has ${s.seen} of them`);
      }
      if (s.fp.digest() !== e.fingerprint) {
        throw this.changed(execution, `the rows its ${e.kind === 'bulk' ? `Bulk job ${e.ref ?? ''}` : 'REST call'} carried (input positions ${describeRanges(e.ranges)}) are not the same in the input now`);
      }
    }
  }

  /** Report settled outcomes, recover unsettled jobs and calls; rows not written join the staged rows. */
  async resolve(reporter: WriteReporter & { writtenCount: number; failedCount: number; unknownCount: number }, bulk: () => BulkWriter, rest: () => RestWriter): Promise<void> {
    const before = { written: reporter.writtenCount, failed: reporter.failedCount, unknown: reporter.unknownCount };
    for (const s of this.states) {
      const o = s.entry.outcome;
      if (o !== null) {
        // Of the rows this entry owns, those written; created as the entry counted (rows sent again were not).
        if (s.written > 0) reporter.written(s.written, this.target.operation === 'INSERT' ? s.written : Math.min(o.created, s.written));
        if (s.failed.length > 0) await reporter.failed(s.failed);
        if (s.unknown.length > 0) await reporter.failed(s.unknown, true);
        continue;
      }
      if (s.entry.kind === 'bulk') {
        const files = s.spool === undefined ? [] : await s.spool.finish();
        const file = files[0];
        if (file === undefined) continue;
        const { resend } = await bulk().recoverJob(file, s.entry.ref ?? '', s.entry.seq);
        if (resend !== undefined) await this.stageFile(resend);
      } else if (s.items !== undefined) {
        const again = await rest().recover(s.items, s.entry.sentAt, s.entry.seq);
        this.counts.rowsResent += again.length;
        for (const item of again) await this.stageRow(item.index, item.row);
      }
    }
    this.counts.rowsWritten = reporter.writtenCount - before.written;
    this.counts.rowsUnknown = reporter.unknownCount - before.unknown;
    this.counts.rowsFailed = reporter.failedCount - before.failed - this.counts.rowsUnknown;
    await this.flushStaging();
    await this.staging?.close();
    this.staging = undefined;
    this.resolved = true;
    this.ctx.log.info({ ...this.counts, toSend: this.staged }, 'recovered the writes of unfinished runs');
  }

  /** The rows this run sends: those no earlier run sent, and those found not written. */
  async *replay(): AsyncGenerator<RestItem[]> {
    const stream = createReadStream(this.stagingPath, { encoding: 'utf8' });
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let batch: RestItem[] = [];
    try {
      for await (const line of lines) {
        if (line === '') continue;
        const [index, row] = JSON.parse(line) as [number, Row];
        batch.push({ index, row: rowFrom(row) });
        if (batch.length >= REPLAY_BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      lines.close();
      stream.destroy();
    }
  }

  async discard(): Promise<void> {
    const h = this.staging;
    this.staging = undefined;
    await h?.close().catch(() => undefined);
    for (const s of this.states) await s.spool?.discard();
  }

  private async stageFile(file: SpoolFile): Promise<void> {
    if (file.originals === undefined) return;
    const keys = this.target.columns.map((c) => c.key);
    const originals = readSpoolOriginals(file.originals);
    try {
      for await (const { position, cells } of readSpoolRows(file.path)) {
        const row = (await originals.next()).value ?? undefined;
        this.counts.rowsResent++;
        await this.stageRow(file.indexes.at(position) as number, row ?? recordFromCells(keys, cells));
      }
    } finally {
      await originals.return(undefined);
    }
  }

  private async stageRow(index: number, row: Row): Promise<void> {
    this.stagingPending += `${JSON.stringify([index, row])}\n`;
    this.staged++;
    if (this.stagingPending.length >= 1024 * 1024) await this.flushStaging();
  }

  private async flushStaging(): Promise<void> {
    if (this.stagingPending === '' || this.staging === undefined) return;
    const text = this.stagingPending;
    this.stagingPending = '';
    await this.staging.write(text);
  }

  private changed(e: JournalExecution, how: string): ForceflowError {
    return new ForceflowError(
      'JOURNAL_INPUT_CHANGED',
      `Flow ${e.flowName} has a Salesforce write that did not finish: execution ${e.executionId} (started ${e.startedAt}) was killed or crashed while writing, and ${how}. forceflow does not guess which rows that run wrote, so nothing was sent. Check in Salesforce what execution ${e.executionId} wrote to ${e.object}, then forget its journal with "forceflow recover --discard ${e.executionId}" (with the same --state-dir) and run again.`,
      { details: { flowName: e.flowName, executionId: e.executionId, object: e.object, operation: e.operation, discard: `forceflow recover --discard ${e.executionId}` } },
    );
  }
}

function describeRanges(ranges: ReadonlyArray<readonly [number, number]>): string {
  const parts = ranges.slice(0, 3).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  return `${parts.join(', ')}${ranges.length > 3 ? ', …' : ''}`;
}
