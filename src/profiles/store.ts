import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ForceflowError } from '../core/errors.ts';
import type { Envelope } from './crypto.ts';

/** The engine's local state folder: $FORCEFLOW_HOME, else ~/.forceflow. */
export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['FORCEFLOW_HOME'];
  return home !== undefined && home !== '' ? home : join(homedir(), '.forceflow');
}

/** One stored connector profile: its non-secret document and its credentials, envelope-encrypted. */
export interface StoredProfile {
  readonly name: string;
  readonly connectorType: string;
  readonly connectionMode: string | undefined;
  /** The profile JSON without connectorProfileCredentials (nothing secret). */
  readonly document: Record<string, unknown>;
  /** Names of the credential fields present (never their values). */
  readonly credentialFields: readonly string[];
  readonly credentials: Envelope;
  /** ISO datetimes. */
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A row of connector_profiles: profiles.db's, and the service database's (migration 0006-connector-profiles, src/service/profiles-sql.ts). */
export interface ProfileRow {
  name: string;
  connector_type: string;
  connection_mode: string | null;
  document: string;
  credential_fields: string;
  kms_key_arn: string;
  data_key: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  created_at: string;
  updated_at: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS connector_profiles (
  name TEXT PRIMARY KEY,
  connector_type TEXT NOT NULL,
  connection_mode TEXT,
  document TEXT NOT NULL,
  credential_fields TEXT NOT NULL,
  kms_key_arn TEXT NOT NULL,
  data_key BLOB NOT NULL,
  iv BLOB NOT NULL,
  tag BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;`;

export function profileFromRow(row: ProfileRow): StoredProfile {
  return {
    name: row.name,
    connectorType: row.connector_type,
    connectionMode: row.connection_mode ?? undefined,
    document: JSON.parse(row.document) as Record<string, unknown>,
    credentialFields: JSON.parse(row.credential_fields) as string[],
    credentials: { keyArn: row.kms_key_arn, encryptedDataKey: Buffer.from(row.data_key), iv: Buffer.from(row.iv), tag: Buffer.from(row.tag), ciphertext: Buffer.from(row.ciphertext) },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The columns of connector_profiles that hold a profile's credentials envelope. */
export function envelopeColumns(envelope: Envelope): Pick<ProfileRow, 'kms_key_arn' | 'data_key' | 'iv' | 'tag' | 'ciphertext'> {
  return { kms_key_arn: envelope.keyArn, data_key: Buffer.from(envelope.encryptedDataKey), iv: Buffer.from(envelope.iv), tag: Buffer.from(envelope.tag), ciphertext: Buffer.from(envelope.ciphertext) };
}

/**
 * Where connector profiles are kept: profiles.db in the state folder ({@link ProfileStore}, the command line and
 * the embedded service) or the service database on PostgreSQL (src/service/profiles-sql.ts). The store only
 * ever sees envelopes: encryption happens before `put`, decryption after `get`.
 */
export interface ProfileRepository {
  /** Insert a profile; with `replace`, overwrite one of the same name (keeping its creation time). PROFILE_EXISTS when it exists and `replace` is not set (checked and written in one transaction). */
  put(profile: Omit<StoredProfile, 'createdAt' | 'updatedAt'>, options?: { replace?: boolean }): Promise<StoredProfile>;
  /** Replace a profile's credentials (and optionally its document), e.g. after an OAuth refresh; PROFILE_NOT_FOUND when there is none. */
  updateCredentials(name: string, credentials: Envelope, credentialFields: readonly string[], document?: Record<string, unknown>): Promise<void>;
  get(name: string): Promise<StoredProfile | undefined>;
  /** The profile, or PROFILE_NOT_FOUND naming the fix. */
  require(name: string): Promise<StoredProfile>;
  /** Every profile, by name. */
  list(): Promise<StoredProfile[]>;
  /** Delete a profile; false when there was none. */
  delete(name: string): Promise<boolean>;
  close(): void;
}

/** The PROFILE_EXISTS error of a `put` without `replace` on an existing name. */
export function profileExists(name: string): ForceflowError {
  return new ForceflowError('PROFILE_EXISTS', `A connector profile named "${name}" already exists. Delete it first (forceflow profiles delete ${name}) or pass --replace.`, { details: { profile: name } });
}

/**
 * Connector profiles in the engine's local state (`<home>/profiles.db`, SQLite through better-sqlite3). Each
 * write completes before its promise is returned.
 */
export class ProfileStore implements ProfileRepository {
  readonly path: string;
  private readonly db: Database.Database;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
  }

  /** Open (creating when needed) the state database in `home`. */
  static open(home: string = defaultHome()): ProfileStore {
    const path = join(home, 'profiles.db');
    try {
      mkdirSync(home, { recursive: true, mode: 0o700 });
      // Readable by its owner only (it holds ciphertexts, but still): SQLite gives its -wal and -shm files
      // the database file's permissions.
      if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
      const db = new Database(path);
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_mode = WAL');
      db.exec(SCHEMA);
      return new ProfileStore(path, db);
    } catch (error) {
      throw new ForceflowError('STATE_ERROR', `The local state database ${path} could not be opened: ${(error as Error).message}. Check the folder's permissions, or set FORCEFLOW_HOME (or --home) to a writable folder.`, { cause: error });
    }
  }

  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof ForceflowError) throw error;
      throw new ForceflowError('STATE_ERROR', `The local state database ${this.path} could not ${what}: ${(error as Error).message}.`, { cause: error });
    }
  }

  async put(profile: Omit<StoredProfile, 'createdAt' | 'updatedAt'>, options: { replace?: boolean } = {}): Promise<StoredProfile> {
    // One IMMEDIATE transaction: another process putting the same name waits (busy_timeout), so a create
    // without `replace` never overwrites a profile stored between its check and its write.
    return this.run('save the profile', () => this.db.transaction(() => {
      const now = new Date().toISOString();
      const existing = this.getNow(profile.name);
      if (existing && !options.replace) throw profileExists(profile.name);
      const createdAt = existing?.createdAt ?? now;
      this.db
        .prepare(
          `INSERT OR REPLACE INTO connector_profiles (name, connector_type, connection_mode, document, credential_fields, kms_key_arn, data_key, iv, tag, ciphertext, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          profile.name, profile.connectorType, profile.connectionMode ?? null, JSON.stringify(profile.document), JSON.stringify(profile.credentialFields),
          profile.credentials.keyArn, profile.credentials.encryptedDataKey, profile.credentials.iv, profile.credentials.tag, profile.credentials.ciphertext, createdAt, now,
        );
      return { ...profile, createdAt, updatedAt: now };
    }).immediate());
  }

  async updateCredentials(name: string, credentials: Envelope, credentialFields: readonly string[], document?: Record<string, unknown>): Promise<void> {
    this.run('update the profile', () => {
      const info = this.db
        .prepare(
          `UPDATE connector_profiles SET kms_key_arn = ?, data_key = ?, iv = ?, tag = ?, ciphertext = ?, credential_fields = ?, document = COALESCE(?, document), updated_at = ? WHERE name = ?`,
        )
        .run(credentials.keyArn, credentials.encryptedDataKey, credentials.iv, credentials.tag, credentials.ciphertext, JSON.stringify(credentialFields), document === undefined ? null : JSON.stringify(document), new Date().toISOString(), name);
      if (info.changes === 0) throw notFound(name);
    });
  }

  async get(name: string): Promise<StoredProfile | undefined> {
    return this.getNow(name);
  }

  private getNow(name: string): StoredProfile | undefined {
    return this.run('read the profile', () => {
      const row = this.db.prepare('SELECT * FROM connector_profiles WHERE name = ?').get(name) as ProfileRow | undefined;
      return row ? profileFromRow(row) : undefined;
    });
  }

  async require(name: string): Promise<StoredProfile> {
    const found = this.getNow(name);
    if (!found) throw notFound(name);
    return found;
  }

  async list(): Promise<StoredProfile[]> {
    return this.run('list profiles', () => (this.db.prepare('SELECT * FROM connector_profiles ORDER BY name').all() as ProfileRow[]).map(profileFromRow));
  }

  async delete(name: string): Promise<boolean> {
    return this.run('delete the profile', () => this.db.prepare('DELETE FROM connector_profiles WHERE name = ?').run(name).changes > 0);
  }

  close(): void {
    this.db.close();
  }
}

export function notFound(name: string): ForceflowError {
  return new ForceflowError('PROFILE_NOT_FOUND', `No connector profile named "${name}" in the local state. Create it (forceflow profiles create --file profile.json) or list the profiles (forceflow profiles list).`, { details: { profile: name } });
}
