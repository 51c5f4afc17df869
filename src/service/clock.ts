import { ForceflowError } from '../core/errors.ts';

/**
 * The service's clock: what time it is, and a timer that calls back at an absolute instant. The scheduler
 * (src/service/scheduler.ts) takes one, so tests drive schedules with a manual clock instead of waiting.
 */
export interface Clock {
  now(): Date;
  /**
   * Calls `fn` once, at or after the instant `at` (soon, when `at` is already past; never synchronously).
   * Returns a function that cancels the timer (a no-op once it has fired).
   */
  setTimer(at: Date, fn: () => void): () => void;
}

/** The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days); Node fires a longer one after 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface SystemClockOptions {
  /** The longest single setTimeout (tests lower it to exercise the chaining); {@link MAX_TIMEOUT_MS} by default. */
  readonly maxDelayMs?: number;
}

/**
 * The real clock. A timer aims at its instant, not at a delay: it sleeps in steps of at most `maxDelayMs`
 * and, on each wake, measures again what is left, so a fire months away works, and a timer woken early (a
 * clock step, a step shorter than asked) sleeps again rather than firing. Timers are unref'd: a pending
 * fire alone does not keep the process alive (the service's HTTP server does).
 */
export function systemClock(options: SystemClockOptions = {}): Clock {
  const maxDelay = Math.max(1, Math.min(options.maxDelayMs ?? MAX_TIMEOUT_MS, MAX_TIMEOUT_MS));
  return {
    now: () => new Date(),
    setTimer(at: Date, fn: () => void): () => void {
      const target = at.getTime();
      let handle: ReturnType<typeof setTimeout> | undefined;
      let live = true;
      const wake = (): void => {
        if (!live) return;
        const left = target - Date.now();
        if (left > 0) {
          handle = setTimeout(wake, Math.min(left, maxDelay));
          handle.unref();
          return;
        }
        live = false;
        fn();
      };
      // Never synchronously, even for an instant already past.
      handle = setTimeout(wake, Math.max(0, Math.min(target - Date.now(), maxDelay)));
      handle.unref();
      return () => {
        live = false;
        if (handle !== undefined) clearTimeout(handle);
      };
    },
  };
}

/** The environment variable that makes `forceflow serve` use {@link acceleratedClock}: `<originEpochMs>:<speed>` (tests, demos). */
export const TEST_CLOCK_ENV = 'FORCEFLOW_TEST_CLOCK';

/**
 * A clock that runs `speed` times faster than the real one from the instant `originMs` (which it shows as
 * itself): several processes given the same origin and speed agree on the time, so schedules fire in every
 * one at once (the distributed mode's tests run many fires of `rate(1minutes)` in seconds).
 */
export function acceleratedClock(originMs: number, speed: number): Clock {
  const now = (): number => originMs + (Date.now() - originMs) * speed;
  return {
    now: () => new Date(now()),
    setTimer(at: Date, fn: () => void): () => void {
      const handle = setTimeout(fn, Math.max(0, Math.min((at.getTime() - now()) / speed, MAX_TIMEOUT_MS)));
      handle.unref();
      return () => clearTimeout(handle);
    },
  };
}

/** The clock {@link TEST_CLOCK_ENV} asks for, or undefined when it is unset; a malformed value is an error. */
export function clockFromEnv(env: NodeJS.ProcessEnv): Clock | undefined {
  const value = env[TEST_CLOCK_ENV];
  if (value === undefined || value === '') return undefined;
  const m = /^(\d+):(\d+(?:\.\d+)?)$/.exec(value);
  if (!m || Number(m[2]) <= 0) throw new ForceflowError('CONFIG_INVALID', `${TEST_CLOCK_ENV} must be <originEpochMs>:<speed>, such as 1796500000000:60 (got an unreadable value).`);
  return acceleratedClock(Number(m[1]), Number(m[2]));
}
