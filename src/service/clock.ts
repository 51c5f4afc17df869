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
