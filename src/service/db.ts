import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { ForceflowError } from '../core/errors.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../core/private-fs.ts';

/** The service's database file in the state folder (access keys; other parts add their tables). */
export const SERVICE_DB_FILE = 'service.db';

export interface AccessKeyTable {
  access_key_id: string;
  name: string;
  read_only: number;
  is_default: number;
  kms_key_arn: string;
  data_key: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  created_at: string;
}

/**
 * The tables of `service.db` this module knows. Other parts of the service add theirs with
 * `db.withTables<TheirTables>()` and create them in their own `open` (CREATE TABLE IF NOT EXISTS).
 */
export interface ServiceDatabase {
  access_keys: AccessKeyTable;
}

/** Open (and create) the service database as a kysely instance over SQLite; kysely so a PostgreSQL dialect can replace it. */
export function openServiceDatabase(stateDir: string): Kysely<ServiceDatabase> {
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
  return new Kysely<ServiceDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
}

