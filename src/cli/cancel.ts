import { writeSync } from 'node:fs';
import { ForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

/** Seconds a cancelled run gets to stop by itself before the process ends by force. */
export const DEFAULT_CANCEL_TIMEOUT_SECONDS = 10;

export function parseCancelTimeout(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 86_400) {
    throw new ForceflowError('CONFIG_INVALID', `--cancel-timeout must be a number of seconds above 0 (at most 86400), not "${value}".`, { details: { option: '--cancel-timeout', value } });
  }
  return n;
}

/** `--wait-lock` alone waits without limit; `--wait-lock 30` waits up to 30 seconds. In milliseconds. */
export function parseWaitLock(value: string | boolean | undefined): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return Number.POSITIVE_INFINITY;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new ForceflowError('CONFIG_INVALID', `--wait-lock takes a number of seconds (0 or more), or nothing to wait without limit; not "${value}".`, { details: { option: '--wait-lock', value } });
  }
  return n * 1000;
}

export interface CancelHandling {
  /** Set when the process must end by force: records the run Canceled and releases its lock, returning what to print. */
  onForce(force: () => Promise<string | undefined>): void;
  dispose(): void;
}

/**
 * Cancellation with a bound: the first SIGINT/SIGTERM aborts the run; a second signal, or the deadline, ends the
 * process whatever an I/O call is doing (a read or write stuck in the kernel cannot be interrupted, and a thread
 * stuck there would also hold up a normal exit). Before ending, `force` records the run Canceled and releases its
 * lock (SQLite writes, done before it returns); the process then ends by SIGINT's default action (status 130).
 */
export function handleCancel(options: { readonly log: Logger; readonly controller: AbortController; readonly timeoutSeconds: number; readonly onFirst: () => void }): CancelHandling {
  const { log, controller } = options;
  let force: (() => Promise<string | undefined>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let forcing = false;

  const endNow = (why: string): void => {
    if (forcing) return;
    forcing = true;
    const finish = (out: string | undefined): void => {
      // Written directly: the logger's buffered output is flushed below, but the process may end before.
      // A pipe that cannot take them (full, closed) must not keep the process from ending.
      const write = (fd: number, text: string): void => {
        try {
          writeSync(fd, text);
        } catch {
          // ignored
        }
      };
      if (out !== undefined) write(1, out);
      write(2, `forceflow: RUN_CANCELED: ${why}; ending the process by force (the run is recorded Canceled).\n`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // process.exit() waits for the I/O threads, one of which may be stuck for ever: SIGINT's default action does not.
      const end = (): void => {
        process.kill(process.pid, 'SIGINT');
        setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000);
      };
      const fallback = setTimeout(end, 500);
      log.flush(() => {
        clearTimeout(fallback);
        end();
      });
    };
    const bound = new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000));
    Promise.race([force?.().catch(() => undefined), bound]).then(finish, () => finish(undefined));
  };

  function onSignal(): void {
    if (controller.signal.aborted) {
      endNow('a second signal came before the run stopped');
      return;
    }
    // Clears the progress line, says so, aborts the run.
    options.onFirst();
    controller.abort();
    timer = setTimeout(() => endNow(`the run did not stop within ${options.timeoutSeconds} s`), options.timeoutSeconds * 1000);
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    onForce(f) {
      force = f;
    },
    dispose() {
      if (forcing) return;
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
