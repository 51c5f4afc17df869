import { resolve } from 'node:path';
import { defaultStateDir } from '../flows/state.ts';
import { loadServiceConfig } from '../service/config.ts';
import { DATABASE_URL_ENV, openServiceDatabase, redactDatabaseUrl } from '../service/db.ts';
import { migrateServiceDatabase, readSchemaState } from '../service/migrations/index.ts';
import type { CliIo } from './io.ts';
import { installRunQueue } from '../service/queue.ts';

export interface MigrateCommandOptions {
  readonly database?: string;
  readonly stateDir?: string;
  readonly config?: string;
}

/**
 * `forceflow migrate`: create or upgrade the service database's schema (PostgreSQL from --database,
 * service.json `database` or FORCEFLOW_DATABASE_URL; otherwise service.db in the state folder). Prints one
 * JSON object: the database (password hidden), the migrations applied now and all applied.
 */
export async function migrateCommand(opts: MigrateCommandOptions, io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const fromFile = opts.config === undefined ? {} : loadServiceConfig(opts.config);
  const fromEnv = env[DATABASE_URL_ENV];
  const url = opts.database ?? fromFile.database ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
  const stateDir = resolve(opts.stateDir ?? fromFile.stateDir ?? defaultStateDir(env));
  const db = openServiceDatabase({ url, stateDir });
  try {
    const appliedNow = await migrateServiceDatabase(db);
    // PostgreSQL: the distributed mode's run queue (pg-boss's own schema, versioned by pg-boss).
    if (url !== undefined) await installRunQueue(url, io.rootLogger({ pretty: false }));
    const state = await readSchemaState(db);
    io.print({ database: url === undefined ? `sqlite:${resolve(stateDir, 'service.db')}` : redactDatabaseUrl(url), appliedNow, applied: state.applied });
  } finally {
    await db.destroy();
  }
}
