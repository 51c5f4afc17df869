import { resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { defaultRegistry } from '../connectors/registry.ts';
import { ForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { defaultStateDir } from '../flows/state.ts';
import { openProfileContext, storedProfileResolver } from '../profiles/index.ts';
import { DATABASE_URL_ENV, databaseKind, openServiceDatabase, redactDatabaseUrl } from './db.ts';
import type { ExecutorOptions } from './executor.ts';
import { openServiceState } from './state.ts';
import { createFlowStore, type FlowTables } from './flows/store.ts';
import { prepareServiceSchema } from './migrations/index.ts';
import { DEFAULT_RUN_LEASE_MS, openBoss, RunClaims, type ClaimTables } from './queue.ts';
import { startRunWorker, type RunWorker } from './worker.ts';

export interface WorkerProcessOptions {
  /** The PostgreSQL URL (else FORCEFLOW_DATABASE_URL): a worker needs the distributed mode's database. */
  readonly database?: string;
  /** The state folder (logs name it; on PostgreSQL the run state and profiles are in the database). */
  readonly stateDir?: string;
  readonly concurrency?: number;
  readonly leaseMs?: number;
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly runOptions?: ExecutorOptions['runOptions'];
  readonly now?: () => Date;
}

export interface WorkerProcess {
  readonly worker: RunWorker;
  readonly database: string;
  readonly stateDir: string;
  /** Drain: running runs get `graceMs`, then are cancelled; then everything closes. */
  close(graceMs: number): Promise<void>;
}

/**
 * `forceflow worker`: a process that runs the distributed mode's queued runs and nothing else (no API, no
 * scheduler). Refuses a database that is not PostgreSQL or not migrated.
 */
export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const env = options.env ?? process.env;
  const fromEnv = env[DATABASE_URL_ENV];
  const url = options.database ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
  if (url === undefined) throw new ForceflowError('CONFIG_INVALID', `forceflow worker needs the service's PostgreSQL database: give --database postgres://… or set ${DATABASE_URL_ENV}. (With SQLite, forceflow serve runs the flows itself.)`);
  const stateDir = resolve(options.stateDir ?? defaultStateDir(env));
  const now = options.now ?? (() => new Date());
  const log = options.log;
  const db = openServiceDatabase({ url, stateDir });
  const closers: Array<() => Promise<void> | void> = [() => db.destroy()];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch (error) {
        log.error({ err: (error as Error).message }, 'a part of the worker did not close cleanly');
      }
    }
  };
  try {
    if (databaseKind(db) !== 'postgres') throw new ForceflowError('CONFIG_INVALID', 'forceflow worker needs a PostgreSQL database.');
    await prepareServiceSchema(db, { autoMigrate: false });
    const flows = await createFlowStore(db.withTables<FlowTables>() as unknown as Kysely<FlowTables>, { now });
    // Run state, write journal and connector profiles: the service database (src/service/state.ts).
    const serviceState = openServiceState({ db, stateDir });
    closers.push(() => serviceState.close());
    const state = serviceState.runs;
    const profiles = openProfileContext({ log, store: serviceState.profiles, env });
    closers.push(() => profiles.close());
    const boss = await openBoss({ url, log });
    closers.push(() => boss.stop({ graceful: true, wait: true, timeout: 5000 }));
    const claims = new RunClaims(db.withTables<ClaimTables>() as unknown as Kysely<ClaimTables>);
    const worker = await startRunWorker({
      boss, claims, flows, state, profiles: storedProfileResolver(profiles), log, now,
      runOptions: { registry: defaultRegistry(), ...options.runOptions },
      concurrency: options.concurrency ?? 1,
      leaseMs: options.leaseMs ?? DEFAULT_RUN_LEASE_MS,
    });
    log.info({ database: redactDatabaseUrl(url), stateDir, worker: worker.id }, 'forceflow worker started');
    let closing: Promise<void> | undefined;
    return {
      worker,
      database: redactDatabaseUrl(url),
      stateDir,
      close: (graceMs) => (closing ??= worker.close(graceMs).then(closeAll)),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
