import type Database from 'better-sqlite3';
import { ForceflowError } from '../core/errors.ts';

/**
 * What the formula refresh of a flow remembers (docs/flows.md, "Formula refresh"), in the run state: per record
 * Id, a hash of the formula values the flow last delivered; and when the flow last refreshed. A run stages the
 * hashes of what it delivers; they become the flow's only when the run ends Successful (`commit`), so a run
 * that fails or is killed changes nothing (its staged rows are dropped by the flow's next run).
 *
 * Storage-neutral (async, plain values), like the write journal, so another state store can implement it.
 */
export interface FormulaStateStore {
  /** For each Id, the hash this run staged, else the one the flow's successful runs delivered; absent: none. */
  hashes(flowName: string, executionId: string, ids: readonly string[]): Promise<Map<string, string>>;
  /** Stage the hashes of records this run delivers (or takes as the baseline). */
  stage(flowName: string, executionId: string, entries: ReadonlyArray<{ readonly id: string; readonly hash: string }>): Promise<void>;
  /**
   * A successful run: its staged hashes become the flow's, and the refresh status moves (a refresh resets the
   * count of runs since the last one and notes the time; another run counts one more).
   */
  commit(flowName: string, executionId: string, run: { readonly refreshed: boolean; readonly at: string }): Promise<void>;
  /** A run that did not succeed: its staged hashes are dropped. */
  discard(flowName: string, executionId: string): Promise<void>;
  /** When the flow last refreshed, and how many successful runs it made since (or since its first one). */
  status(flowName: string): Promise<FormulaRefreshStatus | undefined>;
  /** The flow was deleted: its hashes, staged hashes and refresh status go (a new flow of that name starts with none). */
  forget(flowName: string): Promise<void>;
}

export interface FormulaRefreshStatus {
  /** ISO time of the last refresh's start; null before the first refresh. */
  readonly lastRefreshAt: string | null;
  /** Successful runs since the last refresh (or since the flow's first run, before any refresh). */
  readonly runsSinceRefresh: number;
  /** ISO time of the start of the flow's first successful run with the refresh configured. */
  readonly firstRunAt: string;
}

/** The SQLite implementation, in the run state's database (runs.db). */
export function openSqliteFormulaState(db: Database.Database): FormulaStateStore {
  db.exec('CREATE TABLE IF NOT EXISTS formula_hashes (flow_name TEXT NOT NULL, id TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (flow_name, id)) WITHOUT ROWID');
  db.exec('CREATE TABLE IF NOT EXISTS formula_staged (execution_id TEXT NOT NULL, flow_name TEXT NOT NULL, id TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (execution_id, id)) WITHOUT ROWID');
  db.exec('CREATE INDEX IF NOT EXISTS formula_staged_flow ON formula_staged(flow_name)');
  db.exec('CREATE TABLE IF NOT EXISTS formula_refresh (flow_name TEXT PRIMARY KEY, last_refresh_at TEXT, runs_since INTEGER NOT NULL, first_run_at TEXT NOT NULL)');
  const committedOf = db.prepare('SELECT id, hash FROM formula_hashes WHERE flow_name = ? AND id IN (SELECT value FROM json_each(?))');
  const stagedOf = db.prepare('SELECT id, hash FROM formula_staged WHERE execution_id = ? AND id IN (SELECT value FROM json_each(?))');
  const stageOne = db.prepare('INSERT OR REPLACE INTO formula_staged (execution_id, flow_name, id, hash) VALUES (?, ?, ?, ?)');
  const promote = db.prepare('INSERT OR REPLACE INTO formula_hashes (flow_name, id, hash) SELECT flow_name, id, hash FROM formula_staged WHERE execution_id = ?');
  const dropFlowStaged = db.prepare('DELETE FROM formula_staged WHERE flow_name = ?');
  const statusOf = db.prepare('SELECT last_refresh_at, runs_since, first_run_at FROM formula_refresh WHERE flow_name = ?');
  const forgetHashes = db.prepare('DELETE FROM formula_hashes WHERE flow_name = ?');
  const forgetStatus = db.prepare('DELETE FROM formula_refresh WHERE flow_name = ?');
  const putStatus = db.prepare('INSERT OR REPLACE INTO formula_refresh (flow_name, last_refresh_at, runs_since, first_run_at) VALUES (?, ?, ?, ?)');
  const guard = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw new ForceflowError('STATE_ERROR', `The run state could not ${what}: ${(error as Error).message}.`, { cause: error });
    }
  };
  interface StatusRow { last_refresh_at: string | null; runs_since: number; first_run_at: string }
  const stageTx = db.transaction((flowName: string, executionId: string, entries: ReadonlyArray<{ id: string; hash: string }>) => {
    for (const e of entries) stageOne.run(executionId, flowName, e.id, e.hash);
  });
  const commitTx = db.transaction((flowName: string, executionId: string, refreshed: boolean, at: string) => {
    promote.run(executionId);
    // One run of a flow at a time: whatever else is staged for the flow is a dead run's.
    dropFlowStaged.run(flowName);
    const row = statusOf.get(flowName) as StatusRow | undefined;
    if (refreshed) putStatus.run(flowName, at, 0, row?.first_run_at ?? at);
    else putStatus.run(flowName, row?.last_refresh_at ?? null, (row?.runs_since ?? 0) + 1, row?.first_run_at ?? at);
  });
  const forgetTx = db.transaction((flowName: string) => {
    forgetHashes.run(flowName);
    dropFlowStaged.run(flowName);
    forgetStatus.run(flowName);
  });
  return {
    async hashes(flowName, executionId, ids) {
      const out = new Map<string, string>();
      if (ids.length === 0) return out;
      const json = JSON.stringify([...new Set(ids)]);
      return guard('read the formula hashes', () => {
        for (const r of committedOf.all(flowName, json) as Array<{ id: string; hash: string }>) out.set(r.id, r.hash);
        for (const r of stagedOf.all(executionId, json) as Array<{ id: string; hash: string }>) out.set(r.id, r.hash);
        return out;
      });
    },
    async stage(flowName, executionId, entries) {
      if (entries.length > 0) guard('stage the formula hashes', () => stageTx.immediate(flowName, executionId, entries));
    },
    async commit(flowName, executionId, run) {
      guard('save the formula hashes', () => commitTx.immediate(flowName, executionId, run.refreshed, run.at));
    },
    async discard(flowName) {
      guard('drop the staged formula hashes', () => dropFlowStaged.run(flowName));
    },
    async status(flowName) {
      const row = guard('read the formula refresh status', () => statusOf.get(flowName) as StatusRow | undefined);
      return row === undefined ? undefined : { lastRefreshAt: row.last_refresh_at, runsSinceRefresh: row.runs_since, firstRunAt: row.first_run_at };
    },
    async forget(flowName) {
      guard('forget the formula state', () => forgetTx.immediate(flowName));
    },
  };
}
