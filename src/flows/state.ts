import type { RunResource } from '../core/connector-factory.ts';
import { closeSync, existsSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ForceflowError } from '../core/errors.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../core/private-fs.ts';
import type { ExecutionRecord } from './run-record.ts';
import { openSqliteJournal, type WriteJournal } from '../connectors/salesforce/journal.ts';
import type { DeliveredKey } from '../core/connector.ts';
import { openSqliteFormulaState, type FormulaStateStore } from './formula-state.ts';
import { lockInfo, resourceInfo, runRecord, runRecords, windowInfo, type FlowLockInfo, type LockOwner, type LockRow, type ResourceRow, type RunRow, type StoredRunResource, type WindowChange, type WindowRow } from './state-rows.ts';

export type { FlowLockInfo, LockOwner, StoredRunResource, WindowChange } from './state-rows.ts';

export type LockAttempt =
  | { readonly acquired: true; readonly takenOverFrom?: FlowLockInfo }
  | { readonly acquired: false; readonly holder: FlowLockInfo };

/**
 * What a run leaves behind should its process die, recorded before it exists so the next run (or
 * `forceflow runs cleanup`) can remove it: the destination's staging (S3 prefix or local folder) and
 * Bulk query jobs. A Salesforce write journal is not a run resource: cleanup never touches it.
 */
export type { RunResource } from '../core/connector-factory.ts';

/** One page of a run history (RunStateStore.runs): newest first, continuing after `before`. */
export interface RunsQuery {
  /** At most this many runs (default 20). */
  readonly limit?: number;
  /** The last run of the previous page: only runs older than it (start time, then executionId) are returned. */
  readonly before?: { readonly startedAt: string; readonly executionId: string };
  /** Only runs started at or after this instant (ISO-8601), e.g. since a flow was created again under its name. */
  readonly since?: string;
}

/**
 * Run history in the engine's state (runs.db here; the service database on PostgreSQL,
 * src/service/run-state-sql.ts): the execution records, the end of the last successful
 * incremental window per flow (so the next run starts exactly where the last one ended), the per-flow lock
 * (never two runs of one flow at once), and what each run must clean up should it be interrupted.
 *
 * Every method is asynchronous so the same interface can be implemented on a server database (PostgreSQL).
 * The SQLite implementation completes each write before its promise is returned, which a process about to be
 * ended by force relies on (it calls `saveRun` and `releaseLock` and exits without waiting): the command line
 * always uses it. The PostgreSQL implementation's writes are done when their promise resolves.
 */
export interface RunStateStore {
  lastWindowEnd(flowName: string): Promise<string | undefined>;
  /** Insert or replace a run's record. A Successful record with a window end advances the flow's window. */
  saveRun(record: ExecutionRecord): Promise<void>;
  /**
   * Runs of one flow (or of every flow), newest first (by start time, then executionId descending). A number is
   * the limit (20 by default); a {@link RunsQuery} reads one page: at most `limit` runs started at or after
   * `since`, strictly after the cursor `before` in that order. Only the page is read from the database.
   */
  runs(flowName?: string, query?: number | RunsQuery): Promise<ExecutionRecord[]>;
  run(executionId: string): Promise<ExecutionRecord | undefined>;
  /** Runs recorded InProgress (of one flow, or of every flow): running now, or interrupted. */
  unfinishedRuns(flowName?: string): Promise<ExecutionRecord[]>;
  /** Flow names with a run, a window or a lock in this state. */
  flows(): Promise<string[]>;
  /**
   * AppFlow's schemaVersion: 1 for a flow's first mapping fingerprint, +1 each time the fingerprint
   * (mappings, types, partition keys) changes.
   */
  schemaVersion(flowName: string, fingerprint: string): Promise<number>;

  /**
   * Take the flow's lock for `owner`, atomically. A lock held by another run is taken over only when
   * `isGone(holder)` says its holder is gone (process ended, lease expired); the caller then treats that run
   * as interrupted.
   */
  acquireLock(flowName: string, owner: LockOwner, options: { readonly leaseMs: number; readonly now: Date; readonly isGone: (holder: FlowLockInfo, now: Date) => boolean }): Promise<LockAttempt>;
  /** Extend the lease; false when the lock is no longer this run's (taken over). */
  renewLock(flowName: string, executionId: string, leaseMs: number, now: Date): Promise<boolean>;
  /** Release the lock if this run holds it. */
  releaseLock(flowName: string, executionId: string): Promise<void>;
  lockHolder(flowName: string): Promise<FlowLockInfo | undefined>;

  addRunResource(executionId: string, flowName: string, resource: RunResource, now: Date): Promise<void>;
  /** Resources of one run, or every pending (unsettled) resource of a flow's runs other than `exceptExecutionId`. */
  runResources(executionId: string): Promise<StoredRunResource[]>;
  pendingResources(flowName: string, exceptExecutionId?: string): Promise<StoredRunResource[]>;
  settleResources(ids: readonly number[], now: Date): Promise<void>;
  noteResourceError(id: number, message: string): Promise<void>;

  /** Move a flow's window: `newEnd` null resets it to the first-run rule (firstExecutionFrom, or 30 days). */
  setWindow(flowName: string, newEnd: string | null, now: Date, note: string | null): Promise<WindowChange>;
  windowChanges(flowName: string, limit?: number): Promise<WindowChange[]>;

  /**
   * Lookback (docs/flows.md, "Lookback"): for each key (a record's Id and timestamp, or a file's key and
   * LastModified), whether a successful run of the flow delivered it inside the span the flow remembers.
   */
  delivered(flowName: string, keys: readonly DeliveredKey[]): Promise<boolean[]>;
  /**
   * Stage keys a run delivers, keeping those at or after `keepFrom` (epoch ms). They become the flow's
   * delivered keys in the same transaction as the window advance (saveRun with a Successful record and a
   * window end), where keys older than `keepFrom` are dropped; any other final status drops them.
   */
  stageDelivered(flowName: string, executionId: string, keys: readonly DeliveredKey[], keepFrom: number): Promise<void>;
  close(): void;
  /** The Salesforce write journal (crash recovery), kept in the same database. */
  readonly writeJournal?: WriteJournal;
  /** What the formula refresh of incremental flows remembers (src/flows/formula-refresh.ts), in the same database. */
  readonly formulaState?: FormulaStateStore;
}

/** The engine's local state folder when none is given: $FORCEFLOW_HOME, else ~/.forceflow. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['FORCEFLOW_HOME'];
  return resolve(home !== undefined && home !== '' ? home : join(homedir(), '.forceflow'));
}

/**
 * Creates `folder` (and missing parents) owner-only, or narrows an existing one and forceflow's database files in
 * it (an earlier version made them 0755/0644); a new runs.db is created 0600 (SQLite gives -wal/-shm its mode).
 */
function ownerOnly(folder: string, file: string): void {
  ensurePrivateDir(folder, (name) => /^(runs|profiles)\.db(-wal|-shm|-journal)?$/.test(name));
  if (!existsSync(file)) closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
}

/** Open (creating when needed, owner-only) the run state in `folder` (`runs.db`). */
export function openRunState(folder: string): RunStateStore & { readonly writeJournal: WriteJournal } {
  let db: Database.Database;
  const file = join(folder, 'runs.db');
  try {
    ownerOnly(folder, file);
    db = new Database(file);
    // Two processes starting runs at once wait for each other's short transactions instead of failing: the
    // timeout is set first (switching a new file to WAL takes a lock too), and every transaction that reads
    // before it writes begins IMMEDIATE (a deferred one that read first fails at once with "database is locked"
    // when another process wrote meanwhile; busy_timeout does not cover that case).
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS runs (
      execution_id TEXT PRIMARY KEY, flow_name TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL,
      window_end TEXT, record TEXT NOT NULL)`);
    db.exec('CREATE INDEX IF NOT EXISTS runs_flow ON runs(flow_name, started_at)');
    db.exec('CREATE INDEX IF NOT EXISTS runs_page ON runs(flow_name, started_at, execution_id)');
    db.exec('CREATE TABLE IF NOT EXISTS schema_versions (flow_name TEXT NOT NULL, version INTEGER NOT NULL, fingerprint TEXT NOT NULL, PRIMARY KEY (flow_name, version))');
    db.exec(`CREATE TABLE IF NOT EXISTS flow_locks (
      flow_name TEXT PRIMARY KEY, execution_id TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, process_start TEXT,
      acquired_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL, expires_at TEXT NOT NULL)`);
    db.exec(`CREATE TABLE IF NOT EXISTS run_resources (
      id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, flow_name TEXT NOT NULL, resource TEXT NOT NULL,
      created_at TEXT NOT NULL, settled_at TEXT, last_error TEXT)`);
    db.exec('CREATE INDEX IF NOT EXISTS run_resources_flow ON run_resources(flow_name, settled_at)');
    // The current window end per flow (a row with a null end: reset to the first-run rule); absent for flows
    // whose only history predates this table, whose window is then the latest successful run's end.
    db.exec('CREATE TABLE IF NOT EXISTS flow_windows (flow_name TEXT PRIMARY KEY, window_end TEXT, changed_at TEXT NOT NULL)');
    db.exec(`CREATE TABLE IF NOT EXISTS window_changes (
      id INTEGER PRIMARY KEY AUTOINCREMENT, flow_name TEXT NOT NULL, changed_at TEXT NOT NULL, previous_end TEXT, new_end TEXT,
      reason TEXT NOT NULL, execution_id TEXT, note TEXT)`);
    // Lookback: what successful runs delivered within the lookback of their window's end (bounded by it), and
    // what running runs stage, committed with their window advance (src/flows/lookback.ts).
    db.exec('CREATE TABLE IF NOT EXISTS delivered_keys (flow_name TEXT NOT NULL, id TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (flow_name, id, at)) WITHOUT ROWID');
    db.exec('CREATE TABLE IF NOT EXISTS delivered_staged (execution_id TEXT NOT NULL, flow_name TEXT NOT NULL, id TEXT NOT NULL, at REAL NOT NULL)');
    db.exec('CREATE INDEX IF NOT EXISTS delivered_staged_run ON delivered_staged(execution_id)');
    db.exec('CREATE TABLE IF NOT EXISTS delivered_runs (execution_id TEXT PRIMARY KEY, flow_name TEXT NOT NULL, keep_from REAL NOT NULL)');
  } catch (error) {
    throw new ForceflowError('STATE_ERROR', `The run state in ${folder} could not be opened: ${(error as Error).message}. Check the folder's permissions or choose another with --state-dir.`, { cause: error });
  }
  const guard = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof ForceflowError) throw error;
      throw new ForceflowError('STATE_ERROR', `The run state in ${folder} could not ${what}: ${(error as Error).message}.`, { cause: error });
    }
  };
  const lastFromRuns = db.prepare("SELECT window_end FROM runs WHERE flow_name = ? AND status = 'Successful' AND window_end IS NOT NULL ORDER BY window_end DESC LIMIT 1");
  const windowRow = db.prepare('SELECT window_end FROM flow_windows WHERE flow_name = ?');
  const upsertWindow = db.prepare('INSERT OR REPLACE INTO flow_windows (flow_name, window_end, changed_at) VALUES (?, ?, ?)');
  const addWindowChange = db.prepare('INSERT INTO window_changes (flow_name, changed_at, previous_end, new_end, reason, execution_id, note) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const listWindowChanges = db.prepare('SELECT * FROM window_changes WHERE flow_name = ? ORDER BY id DESC LIMIT ?');
  const insert = db.prepare('INSERT OR REPLACE INTO runs (execution_id, flow_name, status, started_at, window_end, record) VALUES (?, ?, ?, ?, ?, ?)');
  const previousStatus = db.prepare('SELECT status FROM runs WHERE execution_id = ?');
  const list = db.prepare('SELECT record FROM runs WHERE flow_name = ? ORDER BY started_at DESC, execution_id DESC LIMIT ?');
  const listAll = db.prepare('SELECT record FROM runs ORDER BY started_at DESC, execution_id DESC LIMIT ?');
  // One page of a flow's history, walked backwards on the runs_page index from the (started_at, execution_id)
  // cursor: SQLite reads the page's rows and stops (no sort of the whole history).
  const ORDER = 'ORDER BY started_at DESC, execution_id DESC LIMIT @limit';
  const pageFirst = db.prepare(`SELECT record FROM runs WHERE flow_name = @flow AND started_at >= @since ${ORDER}`);
  const pageAfter = db.prepare(`SELECT record FROM runs WHERE flow_name = @flow AND started_at >= @since AND (started_at, execution_id) < (@at, @id) ${ORDER}`);
  const pageAllFirst = db.prepare(`SELECT record FROM runs WHERE started_at >= @since ${ORDER}`);
  const pageAllAfter = db.prepare(`SELECT record FROM runs WHERE started_at >= @since AND (started_at, execution_id) < (@at, @id) ${ORDER}`);
  const unfinished = db.prepare("SELECT record FROM runs WHERE status = 'InProgress' AND (? IS NULL OR flow_name = ?) ORDER BY started_at, execution_id");
  const one = db.prepare('SELECT record FROM runs WHERE execution_id = ?');
  const flowNames = db.prepare('SELECT flow_name FROM runs UNION SELECT flow_name FROM flow_windows UNION SELECT flow_name FROM flow_locks ORDER BY flow_name');
  const latestSchema = db.prepare('SELECT version, fingerprint FROM schema_versions WHERE flow_name = ? ORDER BY version DESC LIMIT 1');
  const addSchema = db.prepare('INSERT INTO schema_versions (flow_name, version, fingerprint) VALUES (?, ?, ?)');
  const getLock = db.prepare('SELECT * FROM flow_locks WHERE flow_name = ?');
  const putLock = db.prepare('INSERT OR REPLACE INTO flow_locks (flow_name, execution_id, host, pid, process_start, acquired_at, heartbeat_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const renew = db.prepare('UPDATE flow_locks SET heartbeat_at = ?, expires_at = ? WHERE flow_name = ? AND execution_id = ?');
  const release = db.prepare('DELETE FROM flow_locks WHERE flow_name = ? AND execution_id = ?');
  const addResource = db.prepare('INSERT INTO run_resources (execution_id, flow_name, resource, created_at) VALUES (?, ?, ?, ?)');
  const resourcesOf = db.prepare('SELECT * FROM run_resources WHERE execution_id = ? ORDER BY id');
  const pending = db.prepare('SELECT * FROM run_resources WHERE flow_name = ? AND settled_at IS NULL AND execution_id != ? ORDER BY id');
  const settle = db.prepare('UPDATE run_resources SET settled_at = ? WHERE id = ?');
  const resourceError = db.prepare('UPDATE run_resources SET last_error = ? WHERE id = ?');

  const deliveredOf = db.prepare('SELECT id, at FROM delivered_keys WHERE flow_name = ? AND id IN (SELECT value FROM json_each(?))');
  const stageKey = db.prepare('INSERT INTO delivered_staged (execution_id, flow_name, id, at) VALUES (?, ?, ?, ?)');
  const stageRun = db.prepare('INSERT INTO delivered_runs (execution_id, flow_name, keep_from) VALUES (?, ?, ?) ON CONFLICT (execution_id) DO UPDATE SET keep_from = min(keep_from, excluded.keep_from)');
  const runKeepFrom = db.prepare('SELECT keep_from FROM delivered_runs WHERE execution_id = ?');
  const commitKeys = db.prepare('INSERT OR IGNORE INTO delivered_keys (flow_name, id, at) SELECT flow_name, id, at FROM delivered_staged WHERE execution_id = ?');
  const pruneKeys = db.prepare('DELETE FROM delivered_keys WHERE flow_name = ? AND at < ?');
  const clearKeys = db.prepare('DELETE FROM delivered_keys WHERE flow_name = ?');
  const dropStaged = db.prepare('DELETE FROM delivered_staged WHERE execution_id = ?');
  const dropStagedRun = db.prepare('DELETE FROM delivered_runs WHERE execution_id = ?');
  const stageTx = db.transaction((flowName: string, executionId: string, keys: readonly DeliveredKey[], keepFrom: number) => {
    stageRun.run(executionId, flowName, keepFrom);
    for (const k of keys) if (k.at >= keepFrom) stageKey.run(executionId, flowName, k.id, k.at);
  });

  const currentEnd = (flowName: string): string | null => {
    const row = windowRow.get(flowName) as { window_end: string | null } | undefined;
    if (row) return row.window_end;
    return (lastFromRuns.get(flowName) as { window_end: string } | undefined)?.window_end ?? null;
  };
  const saveTx = db.transaction((record: ExecutionRecord) => {
    const before = previousStatus.get(record.executionId) as { status: string } | undefined;
    const previous = currentEnd(record.flowName);
    insert.run(record.executionId, record.flowName, record.executionStatus, record.startedAt, record.dataPullEndTime, JSON.stringify(record));
    if (record.executionStatus === 'Successful' && record.dataPullEndTime !== null && before?.status !== 'Successful') {
      upsertWindow.run(record.flowName, record.dataPullEndTime, record.lastUpdatedAt);
      addWindowChange.run(record.flowName, record.lastUpdatedAt, previous, record.dataPullEndTime, 'run', record.executionId, null);
      // The delivered keys move with the window, in this transaction: a run that does not get here leaves them as they were.
      const keep = runKeepFrom.get(record.executionId) as { keep_from: number } | undefined;
      if (keep === undefined) clearKeys.run(record.flowName);
      else {
        commitKeys.run(record.executionId);
        pruneKeys.run(record.flowName, keep.keep_from);
      }
    }
    if (record.executionStatus !== 'InProgress') {
      dropStaged.run(record.executionId);
      dropStagedRun.run(record.executionId);
    }
  });
  const lockTx = db.transaction((flowName: string, owner: LockOwner, leaseMs: number, now: Date, isGone: (holder: FlowLockInfo, now: Date) => boolean): LockAttempt => {
    const row = getLock.get(flowName) as LockRow | undefined;
    const held = row === undefined ? undefined : lockInfo(row);
    if (held && held.executionId !== owner.executionId && !isGone(held, now)) return { acquired: false, holder: held };
    const at = now.toISOString();
    putLock.run(flowName, owner.executionId, owner.host, owner.pid, owner.processStart ?? null, at, at, new Date(now.getTime() + leaseMs).toISOString());
    return held && held.executionId !== owner.executionId ? { acquired: true, takenOverFrom: held } : { acquired: true };
  });
  const windowTx = db.transaction((flowName: string, newEnd: string | null, now: Date, note: string | null): WindowChange => {
    const previous = currentEnd(flowName);
    const at = now.toISOString();
    upsertWindow.run(flowName, newEnd, at);
    addWindowChange.run(flowName, at, previous, newEnd, 'reset', null, note);
    // A moved window is read again in full: what earlier runs delivered is delivered again.
    clearKeys.run(flowName);
    return { flowName, changedAt: at, previousEnd: previous, newEnd, reason: 'reset', executionId: null, note };
  });

  const writeJournal = openSqliteJournal(db);
  const formulaState = openSqliteFormulaState(db);
  return {
    writeJournal,
    formulaState,
    async schemaVersion(flowName, fingerprint) {
      return guard('number the schema version', () => {
        const row = latestSchema.get(flowName) as { version: number; fingerprint: string } | undefined;
        if (row?.fingerprint === fingerprint) return row.version;
        const version = (row?.version ?? 0) + 1;
        addSchema.run(flowName, version, fingerprint);
        return version;
      });
    },
    async lastWindowEnd(flowName) {
      return guard('read the incremental window', () => currentEnd(flowName) ?? undefined);
    },
    async saveRun(record) {
      guard('save the run record', () => saveTx.immediate(record));
    },
    async runs(flowName, query = 20) {
      const rows = guard('list runs', () => {
        if (typeof query === 'number') return (flowName === undefined ? listAll.all(query) : list.all(flowName, query)) as Array<Pick<RunRow, 'record'>>;
        const { before } = query;
        const base = { since: query.since ?? '', limit: query.limit ?? 20, ...(before ? { at: before.startedAt, id: before.executionId } : {}) };
        const stmt = flowName === undefined ? (before ? pageAllAfter : pageAllFirst) : before ? pageAfter : pageFirst;
        return stmt.all(flowName === undefined ? base : { ...base, flow: flowName }) as Array<Pick<RunRow, 'record'>>;
      });
      return runRecords(rows);
    },
    async run(executionId) {
      const row = guard('read the run', () => one.get(executionId) as Pick<RunRow, 'record'> | undefined);
      return row === undefined ? undefined : runRecord(row);
    },
    async unfinishedRuns(flowName) {
      const rows = guard('list unfinished runs', () => unfinished.all(flowName ?? null, flowName ?? null) as Array<Pick<RunRow, 'record'>>);
      return runRecords(rows);
    },
    async flows() {
      return guard('list flows', () => (flowNames.all() as Array<{ flow_name: string }>).map((r) => r.flow_name));
    },
    async acquireLock(flowName, owner, options) {
      // IMMEDIATE: the read and the write are one step, so two processes cannot both see the lock free.
      return guard('take the flow lock', () => lockTx.immediate(flowName, owner, options.leaseMs, options.now, options.isGone));
    },
    async renewLock(flowName, executionId, leaseMs, now) {
      return guard('renew the flow lock', () => renew.run(now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), flowName, executionId).changes === 1);
    },
    async releaseLock(flowName, executionId) {
      guard('release the flow lock', () => release.run(flowName, executionId));
    },
    async lockHolder(flowName) {
      const row = guard('read the flow lock', () => getLock.get(flowName) as LockRow | undefined);
      return row === undefined ? undefined : lockInfo(row);
    },
    async addRunResource(executionId, flowName, resource, now) {
      guard('record what the run must clean up', () => addResource.run(executionId, flowName, JSON.stringify(resource), now.toISOString()));
    },
    async runResources(executionId) {
      return guard('list run resources', () => (resourcesOf.all(executionId) as ResourceRow[]).map(resourceInfo));
    },
    async pendingResources(flowName, exceptExecutionId) {
      return guard('list run resources', () => (pending.all(flowName, exceptExecutionId ?? '') as ResourceRow[]).map(resourceInfo));
    },
    async settleResources(ids, now) {
      guard('settle run resources', () => db.transaction(() => ids.forEach((id) => settle.run(now.toISOString(), id)))());
    },
    async noteResourceError(id, message) {
      guard('record a cleanup failure', () => resourceError.run(message.slice(0, 1000), id));
    },
    async setWindow(flowName, newEnd, now, note) {
      return guard('move the incremental window', () => windowTx.immediate(flowName, newEnd, now, note));
    },
    async delivered(flowName, keys) {
      if (keys.length === 0) return [];
      const rows = guard('read the delivered keys', () => deliveredOf.all(flowName, JSON.stringify([...new Set(keys.map((k) => k.id))])) as Array<{ id: string; at: number }>);
      const have = new Set(rows.map((r) => `${r.at}\u0000${r.id}`));
      return keys.map((k) => have.has(`${k.at}\u0000${k.id}`));
    },
    async stageDelivered(flowName, executionId, keys, keepFrom) {
      guard('stage the delivered keys', () => stageTx.immediate(flowName, executionId, keys, keepFrom));
    },
    async windowChanges(flowName, limit = 20) {
      return guard('list window changes', () => (listWindowChanges.all(flowName, limit) as WindowRow[]).map(windowInfo));
    },
    close() {
      db.close();
    },
  };
}
