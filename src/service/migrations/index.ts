import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import { ForceflowError } from '../../core/errors.ts';
import { databaseKind, markMigrationFailed, type AnyKysely } from '../db.ts';
import * as baseline from './0001-baseline.ts';
import * as subjectTokenUses from './0002-subject-token-uses.ts';
import * as signIn from './0003-signin.ts';
import * as refreshTokens from './0004-refresh-tokens.ts';
import * as runState from './0005-run-state.ts';
import * as connectorProfiles from './0006-connector-profiles.ts';
import * as formulaState from './0007-formula-state.ts';
import * as runClaims from './0008-run-claims.ts';

/**
 * The service database's versioned migrations, in order, the same code for SQLite and PostgreSQL (a
 * migration that needs a dialect-specific type asks `databaseKind(db)`). Add one by appending a new entry
 * (`NNNN-what`); never edit or remove one that shipped: kysely's Migrator records each applied name in
 * `kysely_migration`.
 */
const MIGRATIONS: ReadonlyArray<readonly [string, (db: AnyKysely) => Promise<void>]> = [
  ['0001-baseline', baseline.up],
  ['0002-subject-token-uses', subjectTokenUses.up],
  ['0003-signin', signIn.up],
  ['0004-refresh-tokens', refreshTokens.up],
  ['0005-run-state', runState.up],
  ['0006-connector-profiles', connectorProfiles.up],
  ['0007-formula-state', formulaState.up],
  ['0008-run-claims', runClaims.up],
];

/** The names of the migrations this build knows, in order. */
export const KNOWN_MIGRATIONS: readonly string[] = MIGRATIONS.map(([name]) => name);

const provider: MigrationProvider = {
  getMigrations: async () => {
    const out: Record<string, Migration> = {};
    for (const [name, up] of MIGRATIONS) {
      out[name] = {
        up: async (db) => {
          try {
            await up(db);
          } catch (error) {
            markMigrationFailed(db);
            throw error;
          }
        },
      };
    }
    return out;
  },
};

/** What the database holds relative to this build. */
export interface SchemaState {
  /** Applied migrations this build knows, in order. */
  readonly applied: readonly string[];
  /** Migrations this build has that the database lacks. */
  readonly pending: readonly string[];
  /** Applied migrations this build does not know (a newer forceflow migrated the database). */
  readonly unknown: readonly string[];
}

/** A connection or server error as a clear STATE_ERROR naming the backend (never the URL's password). */
function unreachable(db: AnyKysely, error: unknown, what: string): ForceflowError {
  if (error instanceof ForceflowError) return error;
  const e = error as NodeJS.ErrnoException;
  const backend = databaseKind(db) === 'postgres' ? 'the PostgreSQL service database (--database, FORCEFLOW_DATABASE_URL or service.json database)' : 'the SQLite service database (service.db)';
  return new ForceflowError('STATE_ERROR', `Could not ${what} (${backend}): ${e.code === undefined ? '' : `${e.code}: `}${e.message}. Check that the server is running and the URL, user and database are right.`, { cause: error });
}

/** Read which migrations the database has (none when it was never migrated). */
export async function readSchemaState(db: AnyKysely): Promise<SchemaState> {
  let names: string[];
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    throw unreachable(db, error, 'connect to the service database');
  }
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true }).catch((error: unknown) => {
    throw unreachable(db, error, "read the service database's tables");
  });
  if (!tables.some((t) => t.name === 'kysely_migration')) {
    names = [];
  } else {
    try {
      const rows = await db.selectFrom('kysely_migration').select('name').orderBy('name').execute();
      names = rows.map((r) => String(r.name));
    } catch (error) {
      throw unreachable(db, error, "read the service database's applied migrations");
    }
  }
  return {
    applied: names.filter((n) => KNOWN_MIGRATIONS.includes(n)),
    pending: KNOWN_MIGRATIONS.filter((n) => !names.includes(n)),
    unknown: names.filter((n) => !KNOWN_MIGRATIONS.includes(n)),
  };
}

function newerSchema(state: SchemaState): ForceflowError {
  return new ForceflowError(
    'CONFIG_INVALID',
    `The service database has migrations this forceflow does not know (${state.unknown.join(', ')}): a newer forceflow upgraded it. Run that newer forceflow, or restore a backup from before the upgrade.`,
  );
}

/**
 * Create or upgrade the schema to this build's latest migration (`forceflow migrate`). Safe to run twice and
 * from several processes at once: PostgreSQL holds an advisory lock around the migrations (kysely's
 * PostgresAdapter, pg_advisory_lock) and applies them in one transaction; SQLite applies them inside
 * BEGIN IMMEDIATE (the database's write lock). Returns the names applied now.
 */
export async function migrateServiceDatabase(db: AnyKysely): Promise<string[]> {
  const before = await readSchemaState(db);
  if (before.unknown.length > 0) throw newerSchema(before);
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new ForceflowError('STATE_ERROR', `Migrating the service database failed${failed === undefined ? '' : ` at ${failed}`}: ${(error as Error).message}. Nothing of that migration was kept; fix the cause and run forceflow migrate again.`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Make sure the schema is one this build knows before serving: `autoMigrate` (the embedded SQLite default)
 * applies pending migrations; otherwise (PostgreSQL, shared by several processes) pending migrations refuse
 * the start with a message saying to run `forceflow migrate --database …`. A database migrated by a newer
 * forceflow is always refused.
 */
export async function prepareServiceSchema(db: AnyKysely, options: { readonly autoMigrate: boolean }): Promise<void> {
  const state = await readSchemaState(db);
  if (state.unknown.length > 0) throw newerSchema(state);
  if (state.pending.length === 0) return;
  if (options.autoMigrate) {
    await migrateServiceDatabase(db);
    return;
  }
  const never = state.applied.length === 0;
  throw new ForceflowError(
    'CONFIG_INVALID',
    `The PostgreSQL service database ${never ? 'has no forceflow schema yet' : `lacks migrations ${state.pending.join(', ')}`}. Run \`forceflow migrate --database <the same URL>\` once (it is safe to repeat), then start the service again.`,
  );
}
