import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { runCli } from '../../src/cli/program.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** The `forceflow` binary of this checkout (bin/forceflow.js), for `node <it> <args>`. */
export const FORCEFLOW_BIN = join(ROOT, 'bin/forceflow.js');

/** What one forceflow command line did: its exit code and everything it wrote. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface InProcessCliOptions {
  /**
   * Variables set for the duration of the command (undefined unsets one), as a child process's environment
   * would be: FORCEFLOW_HOME, the local S3's and the emulator's AWS_* (the AWS SDK reads them when a command
   * makes its clients). Restored afterwards.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Called with each chunk the command writes to stderr (log lines, as JSON), as it writes it. */
  readonly onStderr?: (text: string) => void;
}

// Commands of one test file run one at a time: each sets process.env for its duration.
let queue: Promise<unknown> = Promise.resolve();

/**
 * `forceflow <args>` run in this process through `runCli` (src/cli/program.ts), the same program the
 * `forceflow` binary runs, without the two seconds a child process spends loading TypeScript through tsx.
 * Only what needs a real process (signals, SIGKILL, the binary's own start) spawns one.
 */
export function forceflow(args: readonly string[], options: InProcessCliOptions = {}): Promise<CliResult> {
  const run = queue.then(async () => {
    const saved = new Map<string, string | undefined>();
    for (const [name, value] of Object.entries(options.env ?? {})) {
      saved.set(name, process.env[name]);
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    let stdout = '';
    let stderr = '';
    try {
      const code = await runCli(['node', 'forceflow', ...args], {
        writeOut: (text) => (stdout += text),
        writeErr: (text) => {
          stderr += text;
          options.onStderr?.(text);
        },
      });
      return { code, stdout, stderr };
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
  queue = run.catch(() => undefined);
  return run;
}

/** What a child process did: its exit code (null when a signal ended it) and everything it wrote. */
export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `node <argv>` as a real child process in `cwd`, with this process's environment, to SIGKILL mid-way:
 * `done` resolves when it exits, `kill` sends SIGKILL.
 */
export function killableNode(argv: readonly string[], cwd: string): { done: Promise<ProcessResult>; kill: () => void } {
  const child = spawn(process.execPath, argv, { cwd, env: { ...process.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<ProcessResult>((resolveRun) => child.on('exit', (code) => resolveRun({ code, stdout, stderr })));
  return { done, kill: () => child.kill('SIGKILL') };
}
