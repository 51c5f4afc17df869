import type { WriteJournal } from '../connectors/salesforce/journal.ts';
import { openRunState, type RunStateStore } from '../flows/state.ts';
import { ProfileStore, type ProfileRepository } from '../profiles/store.ts';
import { databaseKind, type AnyKysely } from './db.ts';
import { openSqlProfileStore } from './profiles-sql.ts';
import { openSqlRunState } from './run-state-sql.ts';

/** Everything the service keeps besides its own tables, wherever the backend keeps it. */
export interface ServiceState {
  /** 'sqlite': runs.db and profiles.db in the state folder; 'postgres': the service database. */
  readonly backend: 'sqlite' | 'postgres';
  /** Run history, windows, the per-flow lock, run resources, lookback keys, schema versions. */
  readonly runs: RunStateStore;
  /** Connector profiles (credentials envelope-encrypted). */
  readonly profiles: ProfileRepository;
  /** The Salesforce write journal (crash recovery); the same as `runs.writeJournal`. */
  readonly journal: WriteJournal;
  /** Close what this opened (the SQLite files); the service database itself stays open (its owner closes it). */
  close(): void;
}

export interface OpenServiceStateOptions {
  /** The service database, opened by openServiceDatabase and migrated (prepareServiceSchema or `forceflow migrate`). */
  readonly db: AnyKysely;
  /** The state folder: where runs.db and profiles.db are on the SQLite backend (unused on PostgreSQL). */
  readonly stateDir: string;
}

/**
 * The run state, connector profiles and write journal of a service process (serve, a worker), on the service
 * database's backend:
 *
 * - **SQLite** (the embedded default): runs.db and profiles.db in `stateDir`, better-sqlite3 — the files the
 *   command line uses (`forceflow run`, `runs`, `profiles`), whose writes complete before their promise is
 *   returned (a process about to be killed relies on it).
 * - **PostgreSQL**: the same tables in the service database (migrations 0005-run-state, 0006-connector-profiles and 0008-formula-state), through kysely, shared by
 *   every process on every machine; nothing is written to `stateDir`.
 *
 * Call once per process after the schema is checked; `close()` when done, before destroying `db`.
 *
 * @example
 * const db = openServiceDatabase({ url, stateDir });
 * await prepareServiceSchema(db, { autoMigrate: false });
 * const state = openServiceState({ db, stateDir });
 * try { ... state.runs.acquireLock(...) ... } finally { state.close(); await db.destroy(); }
 */
export function openServiceState(options: OpenServiceStateOptions): ServiceState {
  const { db, stateDir } = options;
  if (databaseKind(db) === 'postgres') {
    const runs = openSqlRunState(db);
    return { backend: 'postgres', runs, profiles: openSqlProfileStore(db), journal: runs.writeJournal, close: () => undefined };
  }
  const runs = openRunState(stateDir);
  let profiles: ProfileStore;
  try {
    profiles = ProfileStore.open(stateDir);
  } catch (error) {
    runs.close();
    throw error;
  }
  return {
    backend: 'sqlite',
    runs,
    profiles,
    journal: runs.writeJournal,
    close() {
      profiles.close();
      runs.close();
    },
  };
}
