import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ForceflowError } from '../core/errors.ts';
import type { ExecutionRecord } from './run-record.ts';
import { openSqliteJournal, type WriteJournal } from '../connectors/salesforce/journal.ts';

/**
 * Run history in the engine's local state (SQLite): the execution records, and the end of the last
 * successful incremental window per flow, so the next run starts exactly where the last one ended
 * (no record silently missed between runs).
 */
export interface RunStateStore {
  lastWindowEnd(flowName: string): Promise<string | undefined>;
  saveRun(record: ExecutionRecord): Promise<void>;
  runs(flowName: string, limit?: number): Promise<ExecutionRecord[]>;
  /**
   * AppFlow's schemaVersion: 1 for a flow's first mapping fingerprint, +1 each time the fingerprint
   * (mappings, types, partition keys) changes.
   */
  schemaVersion(flowName: string, fingerprint: string): Promise<number>;
  close(): void;
  /** The Salesforce write journal (crash recovery), kept in the same database. */
  readonly writeJournal?: WriteJournal;
}

export function openRunState(folder: string): RunStateStore {
  let db: Database.Database;
  try {
    mkdirSync(folder, { recursive: true });
    db = new Database(join(folder, 'runs.db'));
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS runs (
      execution_id TEXT PRIMARY KEY, flow_name TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL,
      window_end TEXT, record TEXT NOT NULL)`);
    db.exec('CREATE INDEX IF NOT EXISTS runs_flow ON runs(flow_name, started_at)');
    db.exec('CREATE TABLE IF NOT EXISTS schema_versions (flow_name TEXT NOT NULL, version INTEGER NOT NULL, fingerprint TEXT NOT NULL, PRIMARY KEY (flow_name, version))');
  } catch (error) {
    throw new ForceflowError('STATE_ERROR', `The run state in ${folder} could not be opened: ${(error as Error).message}. Check the folder's permissions or choose another with --state-dir.`, { cause: error });
  }
  const last = db.prepare("SELECT window_end FROM runs WHERE flow_name = ? AND status = 'Successful' AND window_end IS NOT NULL ORDER BY window_end DESC LIMIT 1");
  const insert = db.prepare('INSERT OR REPLACE INTO runs (execution_id, flow_name, status, started_at, window_end, record) VALUES (?, ?, ?, ?, ?, ?)');
  const list = db.prepare('SELECT record FROM runs WHERE flow_name = ? ORDER BY started_at DESC LIMIT ?');
  const latestSchema = db.prepare('SELECT version, fingerprint FROM schema_versions WHERE flow_name = ? ORDER BY version DESC LIMIT 1');
  const addSchema = db.prepare('INSERT INTO schema_versions (flow_name, version, fingerprint) VALUES (?, ?, ?)');
  const writeJournal = openSqliteJournal(db);
  return {
    writeJournal,
    async schemaVersion(flowName, fingerprint) {
      const row = latestSchema.get(flowName) as { version: number; fingerprint: string } | undefined;
      if (row?.fingerprint === fingerprint) return row.version;
      const version = (row?.version ?? 0) + 1;
      addSchema.run(flowName, version, fingerprint);
      return version;
    },
    async lastWindowEnd(flowName) {
      const row = last.get(flowName) as { window_end: string } | undefined;
      return row?.window_end;
    },
    async saveRun(record) {
      insert.run(record.executionId, record.flowName, record.executionStatus, record.startedAt, record.dataPullEndTime, JSON.stringify(record));
    },
    async runs(flowName, limit = 20) {
      return (list.all(flowName, limit) as Array<{ record: string }>).map((r) => JSON.parse(r.record) as ExecutionRecord);
    },
    close() {
      db.close();
    },
  };
}
