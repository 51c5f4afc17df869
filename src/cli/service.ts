import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ForceflowError } from '../core/errors.ts';
import type { FireRecord } from '../service/scheduler.ts';
import type { CliIo } from './io.ts';
import { positiveInteger } from './options.ts';
import { stateDir } from './run.ts';

/** One fire as a line: when, what happened, for which scheduled time, and the run or the reason. */
function fireLine(f: FireRecord): string {
  const what = f.outcome === 'started' ? `run ${f.executionId ?? '?'}` : f.reason ?? '';
  return `${f.firedAt.toISOString()}  ${f.outcome.padEnd(7)}  scheduled ${f.scheduledAt.toISOString()}${f.catchUp ? '  catch-up' : ''}  ${what}`;
}

/**
 * `forceflow service fires <flow>`: a scheduled flow's fires log from the service's state (service.db), newest
 * first: every fire the scheduler acted on, including those skipped because a run was still going and those that
 * could not start a run. AppFlow's execution records have no status for a skipped fire, and the AWS SDK drops
 * members the model does not have, so the log is shown here rather than through the API.
 */
export function registerServiceCommands(program: Command, io: CliIo): void {
  const out = (value: unknown): void => io.print(value);
  const service = program.command('service').description("The service's own state (what `forceflow serve` keeps besides AppFlow's API).");
  service
    .command('fires')
    .description("A scheduled flow's fires log, newest first: runs started, fires skipped because a run was going, fires that failed to start a run.")
    .argument('<flow>', 'flow name')
    .option('--state-dir <dir>', 'the state folder the service uses (default $FORCEFLOW_HOME or ~/.forceflow)')
    .option('--database <url>', 'the PostgreSQL database the service uses (default $FORCEFLOW_DATABASE_URL, else service.db in the state folder)')
    .option('--limit <n>', 'fires to show (default 20)', positiveInteger)
    .option('--json', 'print the fire records as a JSON array')
    .action(async (flow: string, opts: { stateDir?: string; database?: string; limit?: number; json?: boolean }) => {
      const dir = stateDir(opts.stateDir);
      // Loaded on use: the service database pulls in kysely, pg and better-sqlite3, which other commands do not need.
      const { DATABASE_URL_ENV } = await import('../service/db.ts');
      const fromEnv = process.env[DATABASE_URL_ENV];
      const url = opts.database ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
      // Never create a state folder or database here: a mistyped --state-dir is an error, not an empty log.
      if (url === undefined && !existsSync(join(dir, 'service.db'))) {
        throw new ForceflowError('CONFIG_INVALID', `${dir} holds no service state (no service.db): forceflow serve has not run with this state folder. Give the folder the service uses with --state-dir (or $FORCEFLOW_HOME).`, { details: { stateDir: dir } });
      }
      const { openFlowStore } = await import('../service/flows/store.ts');
      // PostgreSQL is never migrated from here (forceflow migrate does that): an unmigrated one is refused.
      const store = await openFlowStore({ url, stateDir: dir });
      try {
        if (!(await store.get(flow))) {
          throw new ForceflowError('RUN_NOT_FOUND', `The service in ${dir} has no flow "${flow}". Check the name (aws appflow list-flows) or the state folder (--state-dir, $FORCEFLOW_HOME).`, { details: { flowName: flow, stateDir: dir } });
        }
        const fires = await store.fires(flow, opts.limit ?? 20);
        if (opts.json) out(fires);
        else if (fires.length === 0) out(`Flow ${flow} has no fires yet (it runs on demand, is not Active, or its first fire has not come).`);
        else for (const f of fires) out(fireLine(f));
      } finally {
        await store.close();
      }
    });
}
