import type { RunResource } from '../core/connector-factory.ts';
import type { ExecutionRecord } from './run-record.ts';

/**
 * The run state's stored shapes and their rows, shared by its two implementations: runs.db through better-sqlite3
 * (src/flows/state.ts) and the service database through kysely (src/service/run-state-sql.ts). Both read the same
 * tables (migration 0005-run-state has runs.db's columns), so one mapper turns a row into what the store returns.
 */

/** Who holds (or asks for) a flow's lock: the run, and the process it runs in. */
export interface LockOwner {
  readonly executionId: string;
  readonly host: string;
  readonly pid: number;
  /** Identifies the process beyond its pid (boot id and start time on Linux), so a reused pid is not taken for the holder. */
  readonly processStart?: string;
}

/** A flow's lock as stored: its holder, since when, and until when its lease runs without a heartbeat. */
export interface FlowLockInfo extends LockOwner {
  readonly flowName: string;
  readonly acquiredAt: string;
  readonly heartbeatAt: string;
  readonly expiresAt: string;
}

export interface StoredRunResource {
  readonly id: number;
  readonly executionId: string;
  readonly flowName: string;
  readonly resource: RunResource;
  readonly createdAt: string;
  /** When it was released (the run ended and its connectors cleaned up, or cleanup removed it); null while pending. */
  readonly settledAt: string | null;
  /** The last cleanup failure, if any. */
  readonly lastError: string | null;
}

/** One change of a flow's incremental window: by a successful run, or by `forceflow windows reset`. */
export interface WindowChange {
  readonly flowName: string;
  readonly changedAt: string;
  readonly previousEnd: string | null;
  readonly newEnd: string | null;
  /** `run` (a successful run advanced it) or `reset` (windows reset). */
  readonly reason: 'run' | 'reset';
  readonly executionId: string | null;
  readonly note: string | null;
}

/** A row of `runs`. */
export interface RunRow {
  execution_id: string;
  flow_name: string;
  status: string;
  started_at: string;
  window_end: string | null;
  record: string;
}

/** A row of `flow_locks`. */
export interface LockRow {
  flow_name: string;
  execution_id: string;
  host: string;
  pid: number;
  process_start: string | null;
  acquired_at: string;
  heartbeat_at: string;
  expires_at: string;
}

/** A row of `run_resources`. */
export interface ResourceRow {
  id: number;
  execution_id: string;
  flow_name: string;
  resource: string;
  created_at: string;
  settled_at: string | null;
  last_error: string | null;
}

/** A row of `window_changes` (its id aside). */
export interface WindowRow {
  flow_name: string;
  changed_at: string;
  previous_end: string | null;
  new_end: string | null;
  reason: 'run' | 'reset';
  execution_id: string | null;
  note: string | null;
}

/** The run records of `runs` rows (their `record` column). */
export function runRecords(rows: ReadonlyArray<Pick<RunRow, 'record'>>): ExecutionRecord[] {
  return rows.map(runRecord);
}

export function runRecord(row: Pick<RunRow, 'record'>): ExecutionRecord {
  return JSON.parse(row.record) as ExecutionRecord;
}

/** Numbers go through Number(): a PostgreSQL driver may return an integer column as a string. */
export function lockInfo(row: LockRow): FlowLockInfo {
  return {
    flowName: row.flow_name,
    executionId: row.execution_id,
    host: row.host,
    pid: Number(row.pid),
    ...(row.process_start === null ? {} : { processStart: row.process_start }),
    acquiredAt: row.acquired_at,
    heartbeatAt: row.heartbeat_at,
    expiresAt: row.expires_at,
  };
}

export function resourceInfo(row: ResourceRow): StoredRunResource {
  return { id: Number(row.id), executionId: row.execution_id, flowName: row.flow_name, resource: JSON.parse(row.resource) as RunResource, createdAt: row.created_at, settledAt: row.settled_at, lastError: row.last_error };
}

export function windowInfo(row: WindowRow): WindowChange {
  return { flowName: row.flow_name, changedAt: row.changed_at, previousEnd: row.previous_end, newEnd: row.new_end, reason: row.reason, executionId: row.execution_id, note: row.note };
}
