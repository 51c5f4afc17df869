import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresAdapter, PostgresDialect, SqliteAdapter, SqliteDialect, sql, type DialectAdapter } from 'kysely';
import pg from 'pg';
import { ForceflowError } from '../core/errors.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../core/private-fs.ts';

/** The service's database file in the state folder when no PostgreSQL URL is given. */
export const SERVICE_DB_FILE = 'service.db';

/** The environment variable naming a PostgreSQL database for the service (`--database` and service.json `database` win). */
export const DATABASE_URL_ENV = 'FORCEFLOW_DATABASE_URL';

export interface AccessKeyTable {
  access_key_id: string;
  name: string;
  /** 0 or 1 (integers, not booleans: the same on SQLite and PostgreSQL). */
  read_only: number;
  is_default: number;
  kms_key_arn: string;
  data_key: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  /** ISO-8601 UTC text (`toISOString()`), so it orders and compares as text on both backends. */
  created_at: string;
}

/**
 * The tables of the service database this module knows. Other parts of the service view theirs with
 * `db.withTables<TheirTables>()`; every table is created by a versioned migration (src/service/migrations/).
 */
export interface ServiceDatabase {
  access_keys: AccessKeyTable;
}

/** A kysely instance over any tables (migrations and dialect checks do not depend on them). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKysely = Kysely<any>;

export type DatabaseKind = 'sqlite' | 'postgres';

export interface ServiceDatabaseOptions {
  /** A PostgreSQL URL (`postgres://user@host:5432/db`); absent: SQLite `service.db` in the state folder. */
  readonly url?: string | undefined;
  readonly stateDir: string;
}

/** Which backend a service database is on. */
export function databaseKind(db: AnyKysely): DatabaseKind {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** A database URL without its password (for logs and errors). */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** Check a `--database` / FORCEFLOW_DATABASE_URL / service.json `database` value: a postgres:// or postgresql:// URL. */
export function checkDatabaseUrl(url: string, source = 'The database URL (--database, FORCEFLOW_DATABASE_URL or service.json database)'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ForceflowError('CONFIG_INVALID', `${source} is not a URL. Give a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/forceflow, or leave it out to keep the service's state in SQLite (service.db).`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ForceflowError('CONFIG_INVALID', `${source} must be a postgres:// or postgresql:// URL (got ${parsed.protocol}//…). Leave it out to keep the service's state in SQLite (service.db).`);
  }
  if (parsed.pathname.length <= 1) {
    throw new ForceflowError('CONFIG_INVALID', `${source} ${redactDatabaseUrl(url)} names no database. Add its name after the host, as in postgres://postgres@127.0.0.1:5432/forceflow.`);
  }
  return url;
}

/**
 * SQLite's adapter with a real migration lock: kysely's own does nothing (one connection per process), so two
 * processes starting at once could both apply a migration. Here the migrator's work runs inside
 * `BEGIN IMMEDIATE` (the write lock, waited for up to busy_timeout), committed only when every migration
 * succeeded (each migration marks a failure through {@link markMigrationFailed}).
 */
class MigrationLockingSqliteAdapter extends SqliteAdapter {
  failed = false;
  private held = false;
  override async acquireMigrationLock(db: AnyKysely): Promise<void> {
    this.failed = false;
    await sql`begin immediate`.execute(db);
    this.held = true;
  }
  override async releaseMigrationLock(db: AnyKysely): Promise<void> {
    // kysely calls this even when acquiring failed (busy past busy_timeout): then there is nothing to end.
    if (!this.held) return;
    this.held = false;
    await sql.raw(this.failed ? 'rollback' : 'commit').execute(db);
  }
}

class LockingSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new MigrationLockingSqliteAdapter();
  }
}

/** Called by a migration that failed, so the SQLite migration transaction rolls back instead of committing. */
export function markMigrationFailed(db: AnyKysely): void {
  const adapter = db.getExecutor().adapter;
  if (adapter instanceof MigrationLockingSqliteAdapter) adapter.failed = true;
}

/**
 * Open the service database as kysely: SQLite (`service.db` in the state folder, WAL) by default, PostgreSQL
 * (a pool) when given a URL. Nothing is created or checked here: see {@link prepareServiceSchema} in
 * src/service/migrations/index.ts.
 */
export function openServiceDatabase(options: ServiceDatabaseOptions): Kysely<ServiceDatabase> {
  if (options.url !== undefined) {
    const url = checkDatabaseUrl(options.url);
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
    // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    return new Kysely<ServiceDatabase>({ dialect: new PostgresDialect({ pool }) });
  }
  const { stateDir } = options;
  ensurePrivateDir(stateDir, (name) => /^service\.db(-wal|-shm|-journal)?$/.test(name));
  const file = join(stateDir, SERVICE_DB_FILE);
  if (!existsSync(file)) closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
  } catch (error) {
    throw new ForceflowError('STATE_ERROR', `Cannot open the service database ${file}: ${(error as Error).message}. Check the folder's permissions and free space.`, { cause: error });
  }
  return new Kysely<ServiceDatabase>({ dialect: new LockingSqliteDialect({ database: sqlite }) });
}

