/**
 * Cancellation, mapped to RUN_CANCELED in one place: every stage that notices the run's AbortSignal (a wait,
 * a loop between batches, the runner's catch) turns it into the same error through these helpers.
 */
import { ForceflowError } from './errors.ts';

/** The message of a cancelled run, unless a stage says what it was doing. */
export const CANCELED_MESSAGE = 'The run was cancelled.';

/** The error of a cancelled run; `message` says what was interrupted when a stage knows better. */
export function canceled(message: string = CANCELED_MESSAGE, options: { readonly cause?: unknown; readonly details?: Record<string, unknown> } = {}): ForceflowError {
  return new ForceflowError('RUN_CANCELED', message, options);
}

/** Throw RUN_CANCELED when `signal` has aborted. */
export function throwIfCanceled(signal: AbortSignal | undefined, message?: string): void {
  if (signal?.aborted) throw canceled(message);
}

/** Whether `error` is already the RUN_CANCELED error. */
export function isCanceled(error: unknown): error is ForceflowError {
  return error instanceof ForceflowError && error.code === 'RUN_CANCELED';
}

/**
 * What an error that ended a stage means once `signal` has aborted: RUN_CANCELED (the original error as its
 * cause), unless it already is one. Undefined while the signal has not aborted.
 */
export function asCancellation(error: unknown, signal: AbortSignal | undefined): ForceflowError | undefined {
  if (!signal?.aborted) return undefined;
  return isCanceled(error) ? error : canceled(CANCELED_MESSAGE, { cause: error });
}
