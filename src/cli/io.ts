import { createRootLogger, type Logger } from '../core/logger.ts';

/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface CliOutput {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** The process's stdout and stderr; log lines go to fd 2 (pretty on a terminal). */
export const processOutput: CliOutput = {
  writeOut: (text) => void process.stdout.write(text),
  writeErr: (text) => void process.stderr.write(text),
};

/**
 * What one CLI invocation's commands write through and report back: its output, its root logger, and the exit
 * code a command chose. Commands never touch process.stdout or process.exitCode, so `runCli` can run them
 * in-process (tests) as well as in the CLI process.
 */
export interface CliIo {
  readonly output: CliOutput;
  /** stderr is a terminal: the progress line and pretty log lines. Never for a test's buffers. */
  readonly stderrIsTTY: boolean;
  /**
   * The root logger of a command (the only place one is made), writing to this invocation's stderr: JSON lines,
   * pretty on a terminal unless `pretty: false`.
   */
  rootLogger(options?: { readonly level?: string; readonly pretty?: boolean }): Logger;
  /** A value on stdout: a string as a line, anything else as indented JSON. */
  print(value: unknown): void;
  /** The exit code when the command ends without an error (default 0). */
  exitCode: number | undefined;
}

export function cliIo(output: CliOutput = processOutput): CliIo {
  const onProcess = output === processOutput;
  const stderrIsTTY = onProcess && process.stderr.isTTY === true;
  return {
    output,
    stderrIsTTY,
    rootLogger: ({ level, pretty = true } = {}) => {
      const levelOption = level === undefined ? {} : { level };
      return onProcess
        ? createRootLogger({ ...levelOption, pretty: pretty && stderrIsTTY })
        : createRootLogger({ ...levelOption, destination: { write: (line: string) => output.writeErr(line) } });
    },
    print: (value) => output.writeOut(typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`),
    exitCode: undefined,
  };
}
