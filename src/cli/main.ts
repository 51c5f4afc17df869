import { Command, InvalidArgumentError } from 'commander';
import type { ForceflowError} from '../core/errors.ts';
import { exitCodeFor, toForceflowError } from '../core/errors.ts';
import { createRootLogger } from '../core/logger.ts';
import { normalizeOrigin, policyProblem } from '../core/http-guard.ts';
import { emulatorCommand } from './emulator.ts';
import { demoCommand } from './demo.ts';
import { registerRunCommands } from './run.ts';
import { registerProfilesCommand } from './profiles.ts';
import { registerRecoverCommand } from './recover.ts';

function parseGenerate(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const m = /^([A-Za-z][A-Za-z0-9_]*)=(\d+)$/.exec(value);
  if (!m?.[1] || !m[2]) throw new InvalidArgumentError(`expected Object=COUNT (for example Account=10000000), got "${value}"`);
  return { ...previous, [m[1]]: Number(m[2]) };
}

function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

function parseOrigin(value: string, previous: string[] = []): string[] {
  if (policyProblem({ host: '', allowOrigins: [value] }) !== undefined) {
    throw new InvalidArgumentError(`expected an origin such as http://localhost:3000 (scheme, host and port only), got "${value}"`);
  }
  return [...previous, normalizeOrigin(value) ?? value];
}

function parseHostName(value: string, previous: string[] = []): string[] {
  if (policyProblem({ host: '', allowHosts: [value] }) !== undefined) {
    throw new InvalidArgumentError(`expected a host name such as host.docker.internal (no scheme, port or path), got "${value}"`);
  }
  return [...previous, value.toLowerCase()];
}

const program = new Command();
program.name('forceflow').description('AppFlow-style Salesforce data flows on your own machines.').showHelpAfterError();

program
  .command('emulator')
  .description('Start a local Salesforce org; prints one JSON line with its URLs and credentials once listening.')
  .option('--port <n>', 'TCP port (0 picks a free one)', parseInteger, 0)
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--data <dir>', 'folder that keeps the org state across restarts (in memory when absent)')
  .option('--generate <Object=COUNT>', 'serve COUNT generated records of Object (repeatable)', parseGenerate)
  .option('--seed <n>', 'seed of generated data and fault injection', parseInteger, 1)
  .option('--faults <spec>', 'fault injection spec (see README)')
  .option('--token-ttl <seconds>', 'access token lifetime', parseInteger)
  .option('--api-limit <n>', 'daily API request limit', parseInteger)
  .option('--s3', 'also start a local S3 (s3rver)')
  .option('--allow-host <name>', 'also answer to this host name, e.g. host.docker.internal (repeatable; loopback names and IP addresses always work)', parseHostName)
  .option('--allow-origin <origin>', 'let web pages from this origin (http://localhost:3000) call the emulator and the local S3 (repeatable)', parseOrigin)
  .action(async (opts) => {
    await emulatorCommand(opts, createRootLogger({ pretty: false }));
  });

registerRunCommands(program);
registerProfilesCommand(program);
registerRecoverCommand(program);

program
  .command('demo')
  .description('Start the emulator and local S3 in-process and run the example flows.')
  .action(async () => {
    await demoCommand(createRootLogger({ pretty: process.stderr.isTTY }));
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const e: ForceflowError = toForceflowError(error);
  process.stderr.write(`forceflow: ${e.code}: ${e.message}\n`);
  process.exitCode = exitCodeFor(e);
}
