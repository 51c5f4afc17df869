import type { Command } from 'commander';
import { ForceflowError } from '../core/errors.ts';
import type { CliIo } from './io.ts';
import { DATABASE_OPTION, withState, type StateOpts } from './runs.ts';

/**
 * `forceflow recover`: the Salesforce write journals left by runs that did not finish (killed, crashed). The next
 * run of the flow recovers them by itself; this lists them, and `--discard <executionId>` forgets one after the
 * user has checked in Salesforce what it wrote (the way out of JOURNAL_INPUT_CHANGED).
 */
export function registerRecoverCommand(program: Command, io: CliIo): void {
  program
    .command('recover')
    .description('List the Salesforce writes of runs that did not finish (the next run of their flow recovers them), or forget one with --discard.')
    .option('--discard <executionId>', 'forget the write journal of this execution (after checking in Salesforce what it wrote); its rows are then sent again by the next run')
    .option('--state-dir <dir>', 'local state folder (run history, incremental windows, profiles)')
    .option(...DATABASE_OPTION)
    .action(async (opts: StateOpts & { discard?: string }) => {
      await withState(opts, async (state, where) => {
        const journal = state.writeJournal;
        if (journal === undefined) throw new ForceflowError('STATE_ERROR', 'This state store keeps no write journal.');
        if (opts.discard === undefined) {
          io.print({ unfinishedWrites: await journal.list() });
          return;
        }
        const open = (await journal.list()).find((e) => e.executionId === opts.discard);
        if (open === undefined || !(await journal.discard(opts.discard))) {
          throw new ForceflowError('CONFIG_INVALID', `No unfinished Salesforce write of execution ${opts.discard} in ${where.label}. "forceflow recover" lists them.`, { details: { executionId: opts.discard } });
        }
        io.print({ discarded: open });
      });
    });
}
