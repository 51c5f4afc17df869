import { canceled, isCanceled } from './cancel.ts';

/**
 * The one retry policy of forceflow: exponential backoff with full jitter, a cap on any one wait, an optional
 * deadline over all the retries of one operation, and a server's Retry-After honoured only up to a maximum
 * (so a hint of "come back in an hour" cannot stall a run longer than the policy allows).
 *
 * Retrying a failure (this module) is not polling a job until it finishes (the Bulk readers and writers poll
 * with their own growing interval and deadline); both wait through {@link sleep}, which ends at once when the
 * run is cancelled.
 */
export interface RetryPolicy {
  /** Attempts after the first one. */
  readonly retries: number;
  /** Upper bound of the first wait; doubles each retry (full jitter: the wait is uniform in [0, bound]). */
  readonly baseDelayMs: number;
  /** Cap on the bound of any one wait. */
  readonly maxDelayMs: number;
  /** A server's Retry-After is honoured up to this (default: `maxDelayMs`). */
  readonly maxRetryAfterMs?: number;
  /** No retry starts whose wait would end later than this after the first attempt began (default: none). */
  readonly deadlineMs?: number;
}

export interface BackoffDeps {
  /** Uniform in [0, 1), as Math.random (injected by tests). */
  readonly random?: () => number;
  /** Epoch ms, as Date.now (injected by tests). */
  readonly now?: () => number;
}

/** A {@link RetryPolicy} with its clock and randomness: what a loop asks how long to wait, and whether to go on. */
export class Backoff {
  readonly policy: RetryPolicy;
  private readonly random: () => number;
  readonly now: () => number;

  constructor(policy: RetryPolicy, deps: BackoffDeps = {}) {
    this.policy = policy;
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
  }

  /**
   * The wait before retry number `attempt + 1` (attempt 0 is the wait after the first failure): full jitter
   * under min(maxDelayMs, baseDelayMs × 2^attempt); a server's Retry-After (seconds) wins when longer, but
   * never beyond maxRetryAfterMs.
   */
  delayFor(attempt: number, retryAfterSeconds?: number): number {
    const { baseDelayMs, maxDelayMs } = this.policy;
    const bound = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, 52));
    const jittered = Math.floor(this.random() * bound);
    const hint = retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0
      ? Math.min(retryAfterSeconds * 1000, this.policy.maxRetryAfterMs ?? maxDelayMs)
      : 0;
    return Math.max(jittered, Math.round(hint));
  }

  /**
   * The wait before the next attempt, or undefined when the policy allows no more: the retries are spent, or
   * the wait would end past the deadline (counted from `startedAt`, the start of the first attempt).
   */
  next(attempt: number, startedAt: number, retryAfterSeconds?: number): number | undefined {
    if (attempt >= this.policy.retries) return undefined;
    const delay = this.delayFor(attempt, retryAfterSeconds);
    if (this.policy.deadlineMs !== undefined && this.now() + delay - startedAt > this.policy.deadlineMs) return undefined;
    return delay;
  }
}

// A wait rejects with the run's cancellation error (core/cancel.ts), the same one every stage throws.
export { canceled } from './cancel.ts';

/** Wait `ms`; rejects at once with RUN_CANCELED when `signal` aborts (or has aborted) first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(canceled());
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(canceled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What {@link retry} is told about a failure it will retry. */
export interface RetryInfo {
  readonly error: unknown;
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
}

export interface RetryOptions {
  readonly policy: RetryPolicy | Backoff;
  readonly signal?: AbortSignal;
  /**
   * Whether a failure may be retried; `{ retryAfterSeconds }` says so and passes the server's hint. A
   * cancellation (RUN_CANCELED) is never retried.
   */
  readonly isRetryable: (error: unknown, attempt: number) => boolean | { readonly retryAfterSeconds?: number };
  /** Before each wait (for a log line, or clean-up between attempts). */
  readonly onRetry?: (info: RetryInfo) => void | Promise<void>;
  /** The error to throw once the policy allows no more retries (default: the last failure as it is). */
  readonly giveUp?: (error: unknown, attempts: number) => unknown;
}

/** Call `fn` (given the attempt number, 0 first) until it succeeds or the policy or the failure says stop. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const backoff = options.policy instanceof Backoff ? options.policy : new Backoff(options.policy);
  const startedAt = backoff.now();
  for (let attempt = 0; ; attempt++) {
    if (options.signal?.aborted) throw canceled();
    try {
      return await fn(attempt);
    } catch (error) {
      if (isCanceled(error)) throw error;
      if (options.signal?.aborted) throw canceled();
      const verdict = options.isRetryable(error, attempt);
      const delay = verdict === false ? undefined : backoff.next(attempt, startedAt, verdict === true ? undefined : verdict.retryAfterSeconds);
      if (delay === undefined) throw verdict === false || !options.giveUp ? error : options.giveUp(error, attempt + 1);
      await options.onRetry?.({ error, attempt: attempt + 1, delayMs: delay });
      await sleep(delay, options.signal);
    }
  }
}
