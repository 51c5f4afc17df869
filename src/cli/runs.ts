import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { S3Client } from '@aws-sdk/client-s3';
import { ForceflowError, EXIT_CODES } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
// Only types at the top: the implementations load when a command runs, so `--help` loads little.
import type { CleanupReport } from '../flows/cleanup.ts';
import type { ExecutionRecord } from '../flows/run-record.ts';
import type { ResolvedProfile } from '../flows/runner.ts';
import type { RunStateStore } from '../flows/state.ts';
import type { ProfileContext } from '../profiles/profiles.ts';
import type { ProfileRepository } from '../profiles/store.ts';
import { readJsonFile } from './profiles.ts';
import { stateDir } from './run.ts';
import type { CliIo } from './io.ts';

/** Where the run state was read: the state folder, or the service's PostgreSQL database (--database). */
export interface StateWhere {
  /** The state folder, or the database URL without its password. */
  readonly label: string;
  readonly dir: string;
  /** The service's profile store on PostgreSQL (else profiles.db in `dir`). */
  readonly profiles?: ProfileRepository;
}

async function knownFlow(state: RunStateStore, flowName: string, where: StateWhere): Promise<void> {
  const flows = await state.flows();
  if (flows.includes(flowName)) return;
  const db = where.profiles !== undefined;
  throw new ForceflowError(
    'RUN_NOT_FOUND',
    `No run history for flow "${flowName}" in ${where.label}. ${flows.length === 0 ? `This ${db ? 'database' : 'state folder'} has no runs yet.` : `Flows it knows: ${flows.slice(0, 20).join(', ')}${flows.length > 20 ? ', …' : ''}.`} Check the name, or the ${db ? 'database (--database)' : 'state folder (--state-dir, $FORCEFLOW_HOME)'}.`,
    { details: { flowName, ...(db ? {} : { stateDir: where.dir }) } },
  );
}

/** An instant for --from: ISO-8601 (a date alone is midnight UTC; no zone means UTC) or epoch seconds, not in the future. */
export function parseInstant(value: string, option: string, now: Date): string {
  const text = value.trim();
  let ms = Number.NaN;
  if (/^\d{1,12}$/.test(text)) ms = Number(text) * 1000;
  else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const zoned = /T/.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? `${text}Z` : text;
    ms = Date.parse(zoned);
  }
  if (!Number.isFinite(ms)) {
    throw new ForceflowError('CONFIG_INVALID', `${option} must be an ISO-8601 time (2024-05-01T00:00:00Z, or a date) or epoch seconds, not "${value}".`, { details: { option, value } });
  }
  if (ms > now.getTime()) {
    throw new ForceflowError('CONFIG_INVALID', `${option} ${new Date(ms).toISOString()} is in the future; a window can only start at a time already past.`, { details: { option, value } });
  }
  return new Date(ms).toISOString();
}

function summary(r: ExecutionRecord): string {
  const window = r.dataPullStartTime || r.dataPullEndTime ? ` window ${r.dataPullStartTime ?? '…'} → ${r.dataPullEndTime ?? '…'}` : '';
  return `${r.executionId}  ${r.flowName}  ${r.executionStatus}${r.error ? ` (${r.error.code})` : ''}  started ${r.startedAt}  records ${r.executionResult.recordsProcessed}/${r.executionResult.recordsWritten}${window}`;
}

export interface StateOpts {
  readonly stateDir?: string;
  /** The PostgreSQL database of a service started with --database (only when given: never from the environment). */
  readonly database?: string;
}

export const DATABASE_OPTION = ['--database <url>', "the PostgreSQL database of a service started with --database (default: the state folder's runs.db)"] as const;

/** The run state of the state folder (runs.db), or of the service's PostgreSQL database with --database. */
export async function withState<T>(opts: StateOpts, fn: (state: RunStateStore, where: StateWhere) => Promise<T>): Promise<T> {
  const dir = stateDir(opts.stateDir);
  if (opts.database !== undefined) {
    // Loaded on use: kysely and pg are not needed by the state folder's commands.
    const [{ openServiceDatabase, redactDatabaseUrl }, { prepareServiceSchema }, { openServiceState }] = await Promise.all([import('../service/db.ts'), import('../service/migrations/index.ts'), import('../service/state.ts')]);
    const db = openServiceDatabase({ url: opts.database, stateDir: dir });
    try {
      // Never migrated from here (forceflow migrate does that): an unmigrated or newer schema is refused.
      await prepareServiceSchema(db, { autoMigrate: false });
      const service = openServiceState({ db, stateDir: dir });
      try {
        return await fn(service.runs, { label: redactDatabaseUrl(opts.database), dir, profiles: service.profiles });
      } finally {
        service.close();
      }
    } finally {
      await db.destroy();
    }
  }
  const { openRunState } = await import('../flows/state.ts');
  const state = openRunState(dir);
  try {
    return await fn(state, { label: dir, dir });
  } finally {
    state.close();
  }
}

/** Clean up one flow under its lock; a flow whose lock is held by a live run is skipped (it is not interrupted). */
async function cleanupOne(flowName: string, state: RunStateStore, log: Logger, deps: { s3Client: () => S3Client; profile?: string; where: StateWhere }): Promise<CleanupReport & { skipped?: string }> {
  const [{ acquireFlowLock }, { cleanupFlow }, { openProfileContext }, { storedProfileResolver }] = await Promise.all([
    import('../flows/lock.ts'),
    import('../flows/cleanup.ts'),
    import('../profiles/index.ts'),
    import('../profiles/resolve.ts'),
  ]);
  const executionId = `cleanup-${randomUUID()}`;
  const now = (): Date => new Date();
  let lock;
  try {
    lock = await acquireFlowLock({ state, flowName, executionId, log, now });
  } catch (error) {
    if (error instanceof ForceflowError && error.code === 'FLOW_LOCKED') return { interrupted: [], cleaned: [], failed: [], skipped: error.message };
    throw error;
  }
  let profileContext: (ProfileContext & { close(): void }) | undefined;
  try {
    return await cleanupFlow(flowName, {
      state, log, now, s3Client: deps.s3Client,
      profile: async (name): Promise<ResolvedProfile> => {
        if (deps.profile !== undefined) return { profile: await readJsonFile(deps.profile, 'Profile file') };
        profileContext ??= openProfileContext({ log, ...(deps.where.profiles ? { store: deps.where.profiles } : { home: deps.where.dir }) });
        return storedProfileResolver(profileContext)(name ?? undefined, 'source');
      },
    }, { executionId, by: 'forceflow runs cleanup' });
  } finally {
    profileContext?.close();
    await lock.release();
  }
}

export function registerRunsCommands(program: Command, io: CliIo): void {
  const out = (value: unknown): void => io.print(value);
  const runs = program.command('runs').description('Run history in the local state: list, describe, clean up after interrupted runs.');
  runs
    .command('list')
    .description('List runs (newest first), of one flow or of every flow.')
    .argument('[flow]', 'flow name')
    .option('--state-dir <dir>', 'local state folder')
    .option(...DATABASE_OPTION)
    .option('--limit <n>', 'runs to show (default 20)')
    .option('--json', 'print the execution records as a JSON array')
    .action(async (flow: string | undefined, opts: StateOpts & { limit?: string; json?: boolean }) => {
      const limit = opts.limit === undefined ? 20 : Number(opts.limit);
      if (!Number.isInteger(limit) || limit <= 0) throw new ForceflowError('CONFIG_INVALID', `--limit must be a whole number above 0, not "${opts.limit}".`, { details: { option: '--limit' } });
      await withState(opts, async (state, where) => {
        if (flow !== undefined) await knownFlow(state, flow, where);
        const records = await state.runs(flow, limit);
        if (opts.json) out(records);
        else if (records.length === 0) out(`No runs in ${where.label}.`);
        else for (const r of records) out(summary(r));
      });
    });

  runs
    .command('describe')
    .description('Print one run: its execution record, what it left to clean up, and the flow lock if it is running.')
    .argument('<executionId>')
    .option('--state-dir <dir>', 'local state folder')
    .option(...DATABASE_OPTION)
    .action(async (executionId: string, opts: StateOpts) => {
      await withState(opts, async (state, where) => {
        const record = await state.run(executionId);
        if (!record) {
          throw new ForceflowError('RUN_NOT_FOUND', `No run with executionId "${executionId}" in ${where.label}. List runs with "forceflow runs list [flow]".`, { details: { executionId, ...(where.profiles ? {} : { stateDir: where.dir }) } });
        }
        const lock = await state.lockHolder(record.flowName);
        const resources = await state.runResources(executionId);
        out({ record, resources: resources.map((r) => ({ ...r.resource, createdAt: r.createdAt, settledAt: r.settledAt, lastError: r.lastError })), lock: lock?.executionId === executionId ? lock : null });
      });
    });

  runs
    .command('cleanup')
    .description('Mark interrupted runs Error (RUN_INTERRUPTED), remove their staged output and stop their Bulk query jobs.')
    .argument('[flow]', 'flow name (default: every flow)')
    .option('--state-dir <dir>', 'local state folder')
    .option(...DATABASE_OPTION)
    .option('--profile <file>', 'connector profile file for stopping Bulk query jobs (default: stored profiles)')
    .option('--log-level <level>', 'trace, debug, info, warn, error, silent', 'warn')
    .action(async (flow: string | undefined, opts: StateOpts & { profile?: string; logLevel: string }) => {
      const log = io.rootLogger({ level: opts.logLevel });
      const { createS3Client } = await import('../connectors/s3/client.ts');
      let s3: S3Client | undefined;
      try {
        await withState(opts, async (state, where) => {
          if (flow !== undefined) await knownFlow(state, flow, where);
          const flows = flow !== undefined ? [flow] : await state.flows();
          const reports: Record<string, CleanupReport & { skipped?: string }> = {};
          for (const f of flows) {
            reports[f] = await cleanupOne(f, state, log.child({ flow: f }), { s3Client: () => (s3 ??= createS3Client()), ...(opts.profile ? { profile: opts.profile } : {}), where });
          }
          const interesting = Object.fromEntries(Object.entries(reports).filter(([, r]) => r.interrupted.length + r.cleaned.length + r.failed.length > 0 || r.skipped));
          out({ flows: interesting });
          if (Object.values(reports).some((r) => r.failed.length > 0)) io.exitCode = EXIT_CODES.retryable;
        });
      } finally {
        s3?.destroy();
      }
    });

  const windows = program.command('windows').description('Incremental windows: show, or reset/move one for a backfill.');
  windows
    .command('show')
    .description("Print a flow's current window end and its changes (runs and resets).")
    .argument('<flow>')
    .option('--state-dir <dir>', 'local state folder')
    .option(...DATABASE_OPTION)
    .action(async (flow: string, opts: StateOpts) => {
      await withState(opts, async (state, where) => {
        await knownFlow(state, flow, where);
        out({ flowName: flow, windowEnd: (await state.lastWindowEnd(flow)) ?? null, changes: await state.windowChanges(flow) });
      });
    });
  windows
    .command('reset')
    .description("Reset a flow's incremental window (the next run uses the first-run rule), or move it with --from; recorded for audit.")
    .argument('<flow>')
    .option('--from <time>', 'the next run reads from this time (ISO-8601 or epoch seconds)')
    .option('--state-dir <dir>', 'local state folder')
    .option(...DATABASE_OPTION)
    .option('--note <text>', 'why (kept with the change)')
    .action(async (flow: string, opts: StateOpts & { from?: string; note?: string }) => {
      const from = opts.from === undefined ? null : parseInstant(opts.from, '--from', new Date());
      const log = io.rootLogger({ level: 'warn' });
      const { acquireFlowLock } = await import('../flows/lock.ts');
      await withState(opts, async (state, where) => {
        await knownFlow(state, flow, where);
        // Under the flow's lock: a window moved while a run is reading would be overwritten by that run.
        const lock = await acquireFlowLock({ state, flowName: flow, executionId: `windows-reset-${randomUUID()}`, log, now: () => new Date() });
        try {
          const change = await state.setWindow(flow, from, new Date(), opts.note ?? null);
          out({
            ...change,
            nextRunFrom: from ?? 'the first-run rule: the flow\'s firstExecutionFrom, else 30 days before the run',
          });
        } finally {
          await lock.release();
        }
      });
    });
}
