import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ForceflowError, exitCodeFor, EXIT_CODES } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
// Only types at the top: each command imports its implementation when it runs, so `--help` loads little.
import type { Progress, ProfileResolver, ResolvedProfile } from '../flows/runner.ts';
import type { InputOptions } from '../formats/types.ts';
import { byteSize, logLevel, LOG_LEVELS, oneOf, type LogLevel } from './options.ts';
import { readJsonFile } from './profiles.ts';
import { DEFAULT_CANCEL_TIMEOUT_SECONDS, handleCancel, parseCancelTimeout, parseWaitLock } from './cancel.ts';
import type { CliIo } from './io.ts';
import { MAX_LOOKBACK_SECONDS, parseLookbackSeconds } from '../flows/lookback-tag.ts';
import { parseApiReserve } from '../connectors/salesforce/reserve.ts';
import { MAX_BULK_PARALLEL_JOBS, parseBulkParallelJobs } from '../connectors/salesforce/split-tags.ts';

/** The engine's local state folder: --state-dir, $FORCEFLOW_HOME, or ~/.forceflow. */
export function stateDir(option?: string): string {
  return resolve(option ?? process.env['FORCEFLOW_HOME'] ?? join(homedir(), '.forceflow'));
}

/** What the progress line needs of stderr (a test passes its own). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * The progress line on a terminal (nothing otherwise). `clear()` erases it so that a message printed next
 * (the cancellation line on Ctrl-C, the last log line) starts on a clean line instead of over it.
 */
export function progressPrinter(stream: ProgressStream = process.stderr, clock: () => number = Date.now): { update(p: Progress): void; clear(): void; done(): void } {
  const tty = stream.isTTY === true;
  const start = clock();
  let last = Number.NEGATIVE_INFINITY;
  let shown = false;
  let finished = false;
  const clear = (): void => {
    if (shown) stream.write('\r\x1b[2K');
    shown = false;
  };
  return {
    update(p) {
      if (!tty || finished) return;
      const t = clock();
      if (t - last < 200) return;
      last = t;
      const secs = Math.max(0.001, (t - start) / 1000);
      const mb = p.bytesProcessed / 1e6;
      const pct = p.estimatedCount ? ` ${Math.min(100, Math.round((p.recordsRead / p.estimatedCount) * 100))}%` : '';
      stream.write(`\r\x1b[2K${p.recordsRead.toLocaleString('en-US')} records${pct} · ${mb.toFixed(1)} MB · ${Math.round(p.recordsRead / secs).toLocaleString('en-US')} rec/s · ${(mb / secs).toFixed(1)} MB/s${p.api ? ` · ${p.api}` : ''}`);
      shown = true;
    },
    clear,
    done() {
      clear();
      finished = true;
    },
  };
}

/**
 * The first Ctrl-C (or SIGTERM): erase the progress line, say the run is being cancelled (on a line of its
 * own, not over the progress line), and abort the run; `release` lets a second Ctrl-C reach Node's default.
 */
export function cancelHandler(progress: { clear(): void }, log: Pick<Logger, 'warn'>, controller: AbortController, release: () => void): () => void {
  return () => {
    progress.clear();
    log.warn('cancelling the run (Ctrl-C again to force)');
    release();
    controller.abort();
  };
}

/**
 * `--profile profile.json`: the file's profile, its clientCredentialsArn secret read exactly as for stored
 * profiles (resolveProfileDocument).
 */
async function profileFileResolver(file: string, log: Logger): Promise<{ resolver: ProfileResolver; close(): void }> {
  const [{ SecretsManagerClient }, { SecretsReader }, { resolveProfileDocument }] = await Promise.all([
    import('@aws-sdk/client-secrets-manager'),
    import('../profiles/secrets.ts'),
    import('../profiles/resolve.ts'),
  ]);
  const json = await readJsonFile(file, 'Profile file');
  const origin = `Profile file ${file}`;
  // The AWS SDK default chain, as for stored profiles (AWS_ENDPOINT_URL_SECRETS_MANAGER points it at the emulator).
  const sm = new SecretsManagerClient({});
  const secrets = new SecretsReader(sm);
  let resolved: Promise<ResolvedProfile> | undefined;
  return {
    resolver: async (name) => {
      const given = (json as { connectorProfileName?: unknown }).connectorProfileName;
      if (name !== undefined && given !== name) log.warn({ flowProfile: name, fileProfile: given }, 'the flow names another profile; using --profile');
      // Source and destination share one session (one secret read, one refresh).
      resolved ??= resolveProfileDocument({ secrets, log }, json, origin);
      return resolved;
    },
    close: () => sm.destroy(),
  };
}

/** --lookback: a whole number of seconds, 0 to 36000. */
function lookbackOption(value: string): number {
  const seconds = parseLookbackSeconds(value);
  if (seconds === undefined) throw new ForceflowError('CONFIG_INVALID', `--lookback ${value}: give a whole number of seconds from 0 to ${MAX_LOOKBACK_SECONDS}, for example --lookback 300.`, { details: { option: 'lookback' } });
  return seconds;
}

/** --api-reserve: a percentage of each daily maximum ("20%") or a number of API calls (5000). */
function apiReserveOption(value: string): string {
  if (parseApiReserve(value) === undefined) throw new ForceflowError('CONFIG_INVALID', `--api-reserve ${value}: give a percentage of the org's daily maximum such as 20%, or a number of API calls such as 5000.`, { details: { option: 'api-reserve' } });
  return value;
}

function bulkParallelJobsOption(value: string): number {
  const jobs = parseBulkParallelJobs(value);
  if (jobs === undefined) throw new ForceflowError('CONFIG_INVALID', `--bulk-parallel-jobs ${value}: give a whole number of jobs from 1 to ${MAX_BULK_PARALLEL_JOBS}, for example --bulk-parallel-jobs 4 (1 reads with one job).`, { details: { option: 'bulk-parallel-jobs' } });
  return jobs;
}

export function registerRunCommands(program: Command, io: CliIo): void {
  program
    .command('run')
    .description('Run a flow once; prints the execution record as JSON on stdout.')
    .argument('<flow>', 'flow definition file (AppFlow CreateFlow JSON)')
    .option('--profile <file>', 'connector profile file (AppFlow CreateConnectorProfile JSON), used for the Salesforce side(s)')
    .option('--state-dir <dir>', 'local state folder (run history, incremental windows, profiles)')
    .option('--max-bytes <size>', 'size guard: bytes read before the run stops, ≥ 1, digits or with a unit such as 500MB or 15GiB (default 15 GiB)', byteSize)
    .option('--log-level <level>', LOG_LEVELS.join(', '), logLevel, 'info')
    .option('--invalid-utf8 <mode>', 'invalid UTF-8 in CSV / JSON lines input: error (default) or replace (U+FFFD, counted in the run record)', oneOf(['error', 'replace'] as const))
    .option('--max-line-bytes <size>', 'longest JSON lines input line (default 64MiB)', byteSize)
    .option('--max-record-bytes <size>', 'longest CSV input record (default 64MiB)', byteSize)
    .option('--wait-lock [seconds]', 'when another run of the flow holds its lock, wait (without limit, or up to SECONDS) instead of failing with FLOW_LOCKED')
    .option('--lookback <seconds>', "incremental flows: start each window SECONDS before the previous end and skip what was already delivered (over the flow's forceflow:lookbackSeconds tag; 0 to 36000)", lookbackOption)
    .option('--formula-refresh <when>', "flows with the forceflow:formulaRefresh tag: due (default: when the tag says), now (this run) or skip (not this run)", oneOf(['due', 'now', 'skip'] as const))
    .option('--api-reserve <reserve>', "Salesforce: the API calls no run may take the org below, as a percentage of its daily maximum (20%) or a number (5000); over the profile's apiReserve (docs/salesforce-budget.md)", apiReserveOption)
    .option('--bulk-parallel-jobs <n>', "Salesforce Bulk reads of big objects: query jobs over Id ranges run at once (over the flow's forceflow:bulkParallelJobs tag; 1 to 16, 1 = one job)", bulkParallelJobsOption)
    .option('--cancel-timeout <seconds>', `seconds a cancelled run gets to stop before the process ends by force (default ${DEFAULT_CANCEL_TIMEOUT_SECONDS})`)
    .action(async (file: string, opts: { profile?: string; stateDir?: string; maxBytes?: number; logLevel: LogLevel; waitLock?: string | boolean; cancelTimeout?: string; lookback?: number; formulaRefresh?: 'due' | 'now' | 'skip'; apiReserve?: string; bulkParallelJobs?: number } & InputOptions) => {
      const lockWaitMs = parseWaitLock(opts.waitLock);
      const cancelTimeout = opts.cancelTimeout === undefined ? DEFAULT_CANCEL_TIMEOUT_SECONDS : parseCancelTimeout(opts.cancelTimeout);
      const log = io.rootLogger({ level: opts.logLevel });
      const [{ loadFlowFile }, { runPlan }, { openRunState }, { openProfileContext }, { storedProfileResolver }] = await Promise.all([
        import('../flows/load.ts'),
        import('../flows/runner.ts'),
        import('../flows/state.ts'),
        import('../profiles/index.ts'),
        import('../profiles/resolve.ts'),
      ]);
      const loaded = await loadFlowFile(file);
      let profiles: ProfileResolver | undefined;
      let profileContext: { close(): void } | undefined;
      // The plan says which sides' connectors need a profile (the registry's needsProfile).
      if (!opts.profile && loaded.plan.profiles.length > 0) {
        // Profiles stored with `forceflow profiles create`, credentials decrypted through KMS at run time.
        const ctx = openProfileContext({ log, home: stateDir(opts.stateDir) });
        profileContext = ctx;
        profiles = storedProfileResolver(ctx);
      }
      if (opts.profile) {
        const fromFile = await profileFileResolver(opts.profile, log);
        profileContext = fromFile;
        profiles = fromFile.resolver;
      }
      const state = openRunState(stateDir(opts.stateDir));
      const controller = new AbortController();
      const progress = progressPrinter({ isTTY: io.stderrIsTTY, write: (text) => io.output.writeErr(text) });
      // The first signal cancels (cancelHandler); a second one, or --cancel-timeout, ends the process by force.
      const cancel = handleCancel({ log, controller, timeoutSeconds: cancelTimeout, onFirst: cancelHandler(progress, log, controller, () => undefined) });
      try {
        // The plan compiled by loadFlowFile is what runs: not validated or compiled again.
        const record = await runPlan(loaded.plan, {
          ...(profiles ? { profiles } : {}),
          log,
          signal: controller.signal,
          state,
          ...(lockWaitMs === undefined ? {} : { lockWaitMs }),
          onStarted: (run) => cancel.onForce(async () => `${JSON.stringify(await run.endByForce(`The run was cancelled and did not stop in time (--cancel-timeout ${cancelTimeout} s, or a second signal); the process ended by force. Its staged output and Bulk jobs are cleaned up by the next run of the flow or "forceflow runs cleanup".`), null, 2)}\n`),
          ...(opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes }),
          ...(opts.lookback === undefined ? {} : { lookbackSeconds: opts.lookback }),
          ...(opts.formulaRefresh === undefined ? {} : { formulaRefresh: opts.formulaRefresh }),
          ...(opts.apiReserve === undefined && opts.bulkParallelJobs === undefined ? {} : {
            salesforce: { ...(opts.apiReserve === undefined ? {} : { apiReserve: opts.apiReserve }), ...(opts.bulkParallelJobs === undefined ? {} : { split: { jobs: opts.bulkParallelJobs } }) },
          }),
          ...(opts.invalidUtf8 ? { invalidUtf8: opts.invalidUtf8 } : {}),
          ...(opts.maxLineBytes ? { maxLineBytes: opts.maxLineBytes } : {}),
          ...(opts.maxRecordBytes ? { maxRecordBytes: opts.maxRecordBytes } : {}),
          onProgress: (p) => progress.update(p),
        });
        progress.done();
        io.print(record);
        io.exitCode = record.error ? exitCodeFor(new ForceflowError(record.error.code as never, record.error.message)) : EXIT_CODES.ok;
      } finally {
        progress.done();
        cancel.dispose();
        state.close();
        profileContext?.close();
      }
    });

  program
    .command('validate')
    .description('Validate a flow definition; prints the compiled steps, or every problem with its JSON path.')
    .argument('<flow>', 'flow definition file')
    .action(async (file: string) => {
      const [{ loadFlowFile }, { nextFireTimes }] = await Promise.all([import('../flows/load.ts'), import('../flows/schedule.ts')]);
      const loaded = await loadFlowFile(file);
      const p = loaded.plan;
      // A Scheduled flow: what its expression means, as the next fire times in its time zone.
      const sched = p.trigger.schedule;
      const now = new Date();
      const schedule = sched
        ? { expression: sched.expression, timezone: sched.parsed.timezone, nextFireTimes: nextFireTimes(sched.parsed, { after: now, anchor: now, count: 3 }).map((d) => d.toISOString()) }
        : undefined;
      io.print({ valid: true, flowName: p.flowName, source: p.source.connectorType, destination: p.destination.connectorType, read: p.read, steps: p.steps, schemaFingerprint: p.schemaFingerprint, ...(schedule ? { schedule } : {}), notices: p.notices });
    });

  program
    .command('schema')
    .description('Print the JSON Schema of flow definitions (for editors).')
    .action(async () => {
      const { flowJsonSchemaText } = await import('../flows/json-schema.ts');
      io.output.writeOut(flowJsonSchemaText());
    });
}
