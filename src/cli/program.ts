import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { EXIT_CODES, exitCodeFor, toForceflowError } from '../core/errors.ts';
import { bucketName, hostNameList, nonNegativeInteger, oneOf, originList, port, positiveInteger } from './options.ts';
import { registerRunCommands } from './run.ts';
import { registerRunsCommands } from './runs.ts';
import { registerProfilesCommand } from './profiles.ts';
import { registerRecoverCommand } from './recover.ts';
import { registerServiceCommands } from './service.ts';
import { registerUsersCommands } from './users.ts';
import { cliIo, processOutput, type CliIo, type CliOutput } from './io.ts';

export type { CliOutput } from './io.ts';

function parseGenerate(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const m = /^([A-Za-z][A-Za-z0-9_]*)=(\d+)$/.exec(value);
  if (!m?.[1] || !m[2] || !Number.isSafeInteger(Number(m[2]))) throw new InvalidArgumentError(`Expected Object=COUNT (for example Account=10000000), got "${value}".`);
  return { ...previous, [m[1]]: Number(m[2]) };
}

/** The package's version, from package.json (two folders up from src/cli/ and from dist/cli/ alike). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/**
 * The commander program with every command, writing through `io` (or `output`); a wrong option throws
 * (exitOverride) instead of exiting.
 */
export function createProgram(output: CliOutput | CliIo = processOutput): Command {
  const io = 'output' in output ? output : cliIo(output);
  const program = new Command();
  // Settings made before .command() are inherited by every subcommand.
  program
    .name('forceflow')
    .description('AppFlow-style Salesforce data flows on your own machines.')
    .version(packageVersion(), '-V, --version', 'print the version of forceflow')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.output.writeOut(s),
      writeErr: (s) => io.output.writeErr(s),
      // commander's own errors (unknown option, invalid or missing argument) in the CLI's one error format.
      outputError: (s, write) => write(`forceflow: CONFIG_INVALID: ${s.replace(/^error: /, '')}`),
    })
    .showHelpAfterError();

  program
    .command('emulator')
    .description('Start a local Salesforce org; prints one JSON line with its URLs and credentials once listening.')
    .option('--port <n>', 'TCP port, 0 to 65535 (0 picks a free one)', port, 0)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--data <dir>', 'folder that keeps the org state across restarts (in memory when absent)')
    .option('--generate <Object=COUNT>', 'serve COUNT generated records of Object (repeatable)', parseGenerate)
    .option('--seed <n>', 'seed of generated data and fault injection', nonNegativeInteger, 1)
    .option('--faults <spec>', 'fault injection spec (see README)')
    .option('--token-ttl <seconds>', 'access token lifetime', positiveInteger)
    .option('--api-limit <n>', 'daily API request limit', nonNegativeInteger)
    .option('--bulk-query-rate <bytes>', 'result throughput of each Bulk query job in bytes per second, like a real org (default 0: unlimited)', nonNegativeInteger)
    .option('--s3', 'also start a local S3 (s3rver)')
    .option('--s3-https', 'start the local S3 (implies --s3) on HTTPS, with a certificate made at start: its PEM file is s3.caFile, and env sets NODE_EXTRA_CA_CERTS to it')
    .option('--bucket <name>', 'with --s3: the bucket to create (default forceflow, the bucket the examples write to)', bucketName, 'forceflow')
    .option('--allow-host <name>', 'also answer to this host name, e.g. host.docker.internal (repeatable; loopback names and IP addresses always work)', hostNameList)
    .option('--allow-origin <origin>', 'let web pages from this origin (http://localhost:3000) call the emulator and the local S3 (repeatable)', originList)
    .action(async (opts) => {
      // Each command imports its implementation when it runs, so `--help` loads little (README: start-up).
      const { emulatorCommand } = await import('./emulator.ts');
      await emulatorCommand(opts, io.rootLogger({ pretty: false }), io.output);
    });

  program
    .command('serve')
    .description("Serve AppFlow's API (REST-JSON, SigV4) for the AWS SDK and CLI; prints one JSON line with its endpoint and local access key once listening.")
    .option('--port <n>', 'TCP port, 0 to 65535 (0 picks a free one; default 0)', port)
    .option('--host <host>', 'interface to listen on (default 127.0.0.1)')
    .option('--state-dir <dir>', 'local state folder (service.db, run history, profiles; default $FORCEFLOW_HOME or ~/.forceflow)')
    .option('--config <file>', 'service.json: port, host, region, accountId, keys, gracePeriodSeconds, ... (see docs/service.md)')
    .option('--database <url>', "PostgreSQL URL for the service's state (default $FORCEFLOW_DATABASE_URL, else service.db in the state folder); run `forceflow migrate` on it first")
    .option('--grace-period <seconds>', 'on SIGTERM/SIGINT, how long running runs may finish before they are cancelled (default 30)', nonNegativeInteger)
    .option('--run-flows [n]', 'with --database (PostgreSQL): also run queued flow runs in this process, n at once (default 1); without it, forceflow worker processes run them', positiveInteger)
    .option('--allow-host <name>', 'also answer to this host name (repeatable; loopback names and IP addresses always work)', hostNameList)
    .option('--allow-origin <origin>', 'let web pages from this origin call the API (repeatable; any other Origin is refused)', originList)
    .action(async (opts) => {
      // Loaded on use: the service pulls in fastify and kysely, which other commands do not need.
      const { serveCommand } = await import('./serve.ts');
      await serveCommand(opts, io.rootLogger({ pretty: false }), io.output);
    });

  program
    .command('worker')
    .description('Run the flow runs queued in the PostgreSQL service database (the distributed mode: StartFlow and scheduled fires of every forceflow serve), and nothing else.')
    .option('--database <url>', 'PostgreSQL URL (default $FORCEFLOW_DATABASE_URL); run `forceflow migrate` on it first')
    .option('--concurrency <n>', 'runs at once in this process (default 1)', positiveInteger)
    .option('--state-dir <dir>', 'local state folder (connector profiles, run history; default $FORCEFLOW_HOME or ~/.forceflow)')
    .option('--config <file>', 'service.json (its database, stateDir, gracePeriodSeconds, runLeaseSeconds)')
    .option('--grace-period <seconds>', 'on SIGTERM/SIGINT, how long running runs may finish before they are cancelled (default 30)', nonNegativeInteger)
    .option('--lease-seconds <n>', 'a run\'s lease: a worker silent this long is taken for lost and its run ended (default 30)', positiveInteger)
    .action(async (opts) => {
      const { workerCommand } = await import('./worker.ts');
      await workerCommand(opts, io.rootLogger({ pretty: false }), io.output);
    });

  program
    .command('migrate')
    .description("Create or upgrade the service database's schema (versioned migrations; safe to run twice and from several processes at once).")
    .option('--database <url>', 'PostgreSQL URL (default $FORCEFLOW_DATABASE_URL, else service.db in the state folder)')
    .option('--state-dir <dir>', 'local state folder holding service.db when no PostgreSQL URL is given (default $FORCEFLOW_HOME or ~/.forceflow)')
    .option('--config <file>', 'service.json (its database and stateDir)')
    .action(async (opts) => {
      const { migrateCommand } = await import('./migrate.ts');
      await migrateCommand(opts, io);
    });

  registerRunCommands(program, io);
  registerRunsCommands(program, io);
  registerProfilesCommand(program, io);
  registerRecoverCommand(program, io);
  registerServiceCommands(program, io);
  registerUsersCommands(program, io);

  program
    .command('demo')
    .description('Start the emulator and local S3 in-process, run the example flows, then drive forceflow serve through the AppFlow API.')
    .option('--only <part>', 'flows (the example flows) or service (the AppFlow API part); both by default', oneOf(['flows', 'service'] as const))
    .action(async (opts: { only?: 'flows' | 'service' }) => {
      const { demoCommand } = await import('./demo.ts');
      const result = await demoCommand(io.rootLogger(), io.output, opts.only === undefined ? {} : { only: opts.only });
      if (!result.succeeded) io.exitCode = 1;
    });
  return program;
}

/**
 * Run the CLI with `argv` (as process.argv: node, script, args...) and return the exit code. Errors are
 * written as one line `forceflow: CODE: message`; a wrong option or command (commander's own errors
 * included) exits 2, like every configuration error. Everything goes through `output` and nothing is left
 * on the process (no exit code, no signal handler once a command has ended), so tests call it in-process.
 */
export async function runCli(argv: readonly string[], output: CliOutput = processOutput): Promise<number> {
  const io = cliIo(output);
  const program = createProgram(io);
  try {
    await program.parseAsync([...argv]);
    return io.exitCode ?? EXIT_CODES.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0; every other commander error is a wrong
      // command line (unknown option, missing or invalid argument), already printed by commander.
      return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.config;
    }
    const e = toForceflowError(error);
    io.output.writeErr(`forceflow: ${e.code}: ${e.message}\n`);
    return exitCodeFor(e);
  }
}
