import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { ForceflowError } from '../../core/errors.ts';

/**
 * The write journal: what a Salesforce write has sent, kept in the engine's state store so that a run that
 * dies part-way (kill -9, a crash, a lost machine) leaves enough behind for the next run of the same flow to
 * learn what was written instead of writing it again (docs/salesforce-destination.md, "Crashes").
 *
 * - A write begins an *execution* (flow, execution id, object, operation).
 * - Before a Bulk ingest job's data is uploaded, and before an sObject Collections call is sent, it records an
 *   *entry*: the job id (Bulk), which input rows the job or call carries (their input positions, as ranges) and
 *   a fingerprint of those rows as sent, with the time it was sent.
 * - Once the job's or call's results are matched to its rows, the entry is *settled* with its outcome: how many
 *   were created, the rows that failed (code, message), the rows whose outcome stayed unknown, and the rows that
 *   are to be sent again (they were not written: a retryable failure, unprocessed by a failed job).
 * - When the write ends (successfully or with a handled error) with every entry settled, its execution is
 *   finished and forgotten. An execution left open is a crashed one: the next write of the flow recovers it.
 *
 * Storage-neutral (async, plain values): two tables, in runs.db ({@link openSqliteJournal}) or in the
 * service database on PostgreSQL (sqlWriteJournal, src/service/run-state-sql.ts); `seq` is a per-store increasing number that orders
 * entries across executions (a later entry's outcome for a row overrides an earlier one's).
 */
export interface WriteJournal {
  /** Open (unfinished) executions of a flow, oldest first, with their entries in `seq` order. */
  open(flowName: string): Promise<JournalExecution[]>;
  begin(execution: JournalExecutionStart): Promise<void>;
  /** Records what is about to be sent; returns the entry's seq. */
  record(executionId: string, entry: JournalEntryStart): Promise<number>;
  settle(seq: number, outcome: JournalOutcome): Promise<void>;
  /** Forgets executions (their write ended, or a later run recovered them). */
  finish(executionIds: readonly string[]): Promise<void>;
  /** Forgets one open execution whatever its state (`forceflow recover --discard`); false when there is none. */
  discard(executionId: string): Promise<boolean>;
  /** Every open execution (all flows), oldest first, without entries' outcomes detail. */
  list(): Promise<JournalSummary[]>;
}

export interface JournalExecutionStart {
  readonly flowName: string;
  readonly executionId: string;
  readonly object: string;
  readonly operation: string;
  /** ISO time. */
  readonly startedAt: string;
}

/** Inclusive ranges of input positions, ascending. */
export type IndexRanges = ReadonlyArray<readonly [number, number]>;

export interface JournalEntryStart {
  readonly kind: 'bulk' | 'rest';
  /** The Bulk job id; null for a REST call. */
  readonly ref: string | null;
  readonly ranges: IndexRanges;
  readonly count: number;
  readonly fingerprint: string;
  /** Epoch ms, this machine's clock. */
  readonly sentAt: number;
}

export interface JournalFailure {
  readonly index: number;
  readonly errorCode: string;
  readonly message: string;
  readonly fields?: readonly string[];
}

export interface JournalOutcome {
  /** Of the rows written, those created (INSERT, UPSERT). */
  readonly created: number;
  readonly failed: readonly JournalFailure[];
  readonly unknown: readonly JournalFailure[];
  /** Not written; to be sent again (by this run, or by the run that recovers it). */
  readonly resend: IndexRanges;
}

export interface JournalEntry extends JournalEntryStart {
  readonly seq: number;
  readonly executionId: string;
  /** Null while unsettled. */
  readonly outcome: JournalOutcome | null;
}

export interface JournalExecution extends JournalExecutionStart {
  readonly entries: readonly JournalEntry[];
}

export interface JournalSummary extends JournalExecutionStart {
  readonly entries: number;
  readonly unsettled: number;
  readonly rows: number;
}

/** Ranges of a list of positions (any order). */
export function toRanges(indexes: Iterable<number>): Array<[number, number]> {
  const sorted = [...indexes].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && i <= last[1] + 1) last[1] = Math.max(last[1], i);
    else out.push([i, i]);
  }
  return out;
}

export function* rangeIndexes(ranges: IndexRanges): Generator<number> {
  for (const [a, b] of ranges) for (let i = a; i <= b; i++) yield i;
}

/** A fingerprint of rows as sent: sha256 over `index TAB line` per row, in the order given. */
export class RowFingerprint {
  private readonly hash = createHash('sha256');
  /** Text not hashed yet: hashing it in pieces of about 64 KB gives the same digest as row by row, for less CPU. */
  private pending = '';
  rows = 0;

  add(index: number, line: string): void {
    this.pending += `${index}\t${line}\n`;
    if (this.pending.length >= 65_536) {
      this.hash.update(this.pending);
      this.pending = '';
    }
    this.rows++;
  }

  digest(): string {
    this.hash.update(this.pending);
    this.pending = '';
    return this.hash.digest('base64url');
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS write_journal_executions (
  execution_id TEXT PRIMARY KEY, flow_name TEXT NOT NULL, object TEXT NOT NULL, operation TEXT NOT NULL, started_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS write_journal_executions_flow ON write_journal_executions(flow_name, started_at);
CREATE TABLE IF NOT EXISTS write_journal_entries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT, ranges TEXT NOT NULL,
  count INTEGER NOT NULL, fingerprint TEXT NOT NULL, sent_at INTEGER NOT NULL, outcome TEXT);
CREATE INDEX IF NOT EXISTS write_journal_entries_execution ON write_journal_entries(execution_id, seq);
`;

interface EntryRow {
  seq: number;
  execution_id: string;
  kind: 'bulk' | 'rest';
  ref: string | null;
  ranges: string;
  count: number;
  fingerprint: string;
  sent_at: number;
  outcome: string | null;
}

interface ExecutionRow {
  execution_id: string;
  flow_name: string;
  object: string;
  operation: string;
  started_at: string;
}

function stateError(error: unknown): ForceflowError {
  return new ForceflowError('STATE_ERROR', `The write journal in the state folder could not be read or written: ${(error as Error).message}. Check the state folder (--state-dir) and its free space.`, { cause: error });
}

/** The journal in the state store's SQLite database (the state folder's runs.db). */
export function openSqliteJournal(db: Database.Database): WriteJournal {
  try {
    return sqliteJournal(db);
  } catch (error) {
    throw stateError(error);
  }
}

function sqliteJournal(db: Database.Database): WriteJournal {
  db.exec(SCHEMA);
  const execs = db.prepare('SELECT execution_id, flow_name, object, operation, started_at FROM write_journal_executions WHERE flow_name = ? ORDER BY started_at, execution_id');
  const allExecs = db.prepare('SELECT execution_id, flow_name, object, operation, started_at FROM write_journal_executions ORDER BY started_at, execution_id');
  const entries = db.prepare('SELECT * FROM write_journal_entries WHERE execution_id = ? ORDER BY seq');
  const counts = db.prepare('SELECT COUNT(*) AS entries, COALESCE(SUM(outcome IS NULL), 0) AS unsettled, COALESCE(SUM(count), 0) AS rows FROM write_journal_entries WHERE execution_id = ?');
  const begin = db.prepare('INSERT OR REPLACE INTO write_journal_executions (execution_id, flow_name, object, operation, started_at) VALUES (?, ?, ?, ?, ?)');
  const record = db.prepare('INSERT INTO write_journal_entries (execution_id, kind, ref, ranges, count, fingerprint, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const settle = db.prepare('UPDATE write_journal_entries SET outcome = ? WHERE seq = ?');
  const dropEntries = db.prepare('DELETE FROM write_journal_entries WHERE execution_id = ?');
  const dropExec = db.prepare('DELETE FROM write_journal_executions WHERE execution_id = ?');
  const forget = db.transaction((ids: readonly string[]) => {
    let n = 0;
    for (const id of ids) {
      dropEntries.run(id);
      n += dropExec.run(id).changes;
    }
    return n;
  });
  const start = (r: ExecutionRow): JournalExecutionStart => ({ executionId: r.execution_id, flowName: r.flow_name, object: r.object, operation: r.operation, startedAt: r.started_at });
  const guard = <T>(f: () => T): T => {
    try {
      return f();
    } catch (error) {
      throw stateError(error);
    }
  };
  return {
    async open(flowName) {
      return guard(() =>
        (execs.all(flowName) as ExecutionRow[]).map((r) => ({
          ...start(r),
          entries: (entries.all(r.execution_id) as EntryRow[]).map((e) => ({
            seq: e.seq,
            executionId: e.execution_id,
            kind: e.kind,
            ref: e.ref,
            ranges: JSON.parse(e.ranges) as IndexRanges,
            count: e.count,
            fingerprint: e.fingerprint,
            sentAt: e.sent_at,
            outcome: e.outcome === null ? null : (JSON.parse(e.outcome) as JournalOutcome),
          })),
        })),
      );
    },
    async begin(e) {
      guard(() => begin.run(e.executionId, e.flowName, e.object, e.operation, e.startedAt));
    },
    async record(executionId, e) {
      return guard(() => Number(record.run(executionId, e.kind, e.ref, JSON.stringify(e.ranges), e.count, e.fingerprint, e.sentAt).lastInsertRowid));
    },
    async settle(seq, outcome) {
      guard(() => settle.run(JSON.stringify(outcome), seq));
    },
    async finish(ids) {
      guard(() => forget(ids));
    },
    async discard(id) {
      return guard(() => forget([id]) > 0);
    },
    async list() {
      return guard(() =>
        (allExecs.all() as ExecutionRow[]).map((r) => {
          const c = counts.get(r.execution_id) as { entries: number; unsettled: number; rows: number };
          return { ...start(r), entries: c.entries, unsettled: c.unsettled, rows: c.rows };
        }),
      );
    },
  };
}

/** A journal bound to one execution: what the writers record and settle. */
export interface ExecutionJournal {
  record(entry: JournalEntryStart): Promise<number>;
  settle(seq: number, outcome: JournalOutcome): Promise<void>;
}

export function executionJournal(journal: WriteJournal, executionId: string): ExecutionJournal {
  return {
    record: (entry) => journal.record(executionId, entry),
    settle: (seq, outcome) => journal.settle(seq, outcome),
  };
}

/** The journal form of a record failure (the record itself is read from the input again on recovery). */
export function journalFailure(f: { index: number; errorCode: string; message: string; fields?: readonly string[] }): JournalFailure {
  return { index: f.index, errorCode: f.errorCode, message: f.message, ...(f.fields && f.fields.length > 0 ? { fields: f.fields } : {}) };
}

/** No journal: writes outside a run with a state store (library use, tests). */
export const executionJournalNone: ExecutionJournal = {
  record: async () => 0,
  settle: async () => undefined,
};
