import { describe, expect, it } from 'vitest';
import { isForceflowError } from '../../src/core/errors.ts';
import { Backoff, retry, sleep } from '../../src/core/retry.ts';

const POLICY = { retries: 5, baseDelayMs: 100, maxDelayMs: 1_000 };

describe('Backoff.delayFor', () => {
  it('draws the wait uniformly in [0, base × 2^attempt] (full jitter)', () => {
    const low = new Backoff(POLICY, { random: () => 0 });
    const high = new Backoff(POLICY, { random: () => 0.999_999 });
    const half = new Backoff(POLICY, { random: () => 0.5 });
    expect([0, 1, 2, 3].map((a) => low.delayFor(a))).toEqual([0, 0, 0, 0]);
    expect([0, 1, 2, 3].map((a) => high.delayFor(a))).toEqual([99, 199, 399, 799]);
    expect([0, 1, 2, 3].map((a) => half.delayFor(a))).toEqual([50, 100, 200, 400]);
  });

  it('caps the bound at maxDelayMs, however many attempts', () => {
    const high = new Backoff(POLICY, { random: () => 0.999_999 });
    expect(high.delayFor(4)).toBe(999);
    expect(high.delayFor(60)).toBe(999);
    expect(high.delayFor(5000)).toBe(999);
  });

  it('honours a Retry-After longer than the jittered wait, up to maxRetryAfterMs (default maxDelayMs)', () => {
    const zero = new Backoff(POLICY, { random: () => 0 });
    expect(zero.delayFor(0, 0.5)).toBe(500);
    // A server asking for an hour gets the policy's maximum, not an hour.
    expect(zero.delayFor(0, 3600)).toBe(1_000);
    const explicit = new Backoff({ ...POLICY, maxRetryAfterMs: 2_500 }, { random: () => 0 });
    expect(explicit.delayFor(0, 3600)).toBe(2_500);
    // A hint shorter than the jittered wait does not shorten it; 0, negative or NaN hints are ignored.
    const high = new Backoff(POLICY, { random: () => 0.999_999 });
    expect(high.delayFor(3, 0.1)).toBe(799);
    expect(zero.delayFor(0, 0)).toBe(0);
    expect(zero.delayFor(0, -5)).toBe(0);
    expect(zero.delayFor(0, Number.NaN)).toBe(0);
  });
});

describe('Backoff.next', () => {
  it('stops when the retries are spent', () => {
    const b = new Backoff({ ...POLICY, retries: 2 }, { random: () => 0.5, now: () => 0 });
    expect(b.next(0, 0)).toBe(50);
    expect(b.next(1, 0)).toBe(100);
    expect(b.next(2, 0)).toBeUndefined();
  });

  it('stops when the wait would end past the deadline', () => {
    let now = 0;
    const b = new Backoff({ ...POLICY, deadlineMs: 1_000 }, { random: () => 0.5, now: () => now });
    now = 900;
    expect(b.next(0, 0)).toBe(50);
    expect(b.next(1, 0)).toBe(100);
    expect(b.next(2, 0)).toBeUndefined();
    // A Retry-After that would cross the deadline stops the retries too.
    now = 200;
    expect(b.next(0, 0, 0.8)).toBe(800);
    expect(b.next(0, 0, 0.9)).toBeUndefined();
  });
});

describe('sleep', () => {
  it('resolves after the wait without a signal', async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });

  it('rejects at once with RUN_CANCELED when the signal is already aborted', async () => {
    const error = await sleep(60_000, AbortSignal.abort()).catch((e: unknown) => e);
    expect(isForceflowError(error, 'RUN_CANCELED')).toBe(true);
  });

  it('rejects promptly with RUN_CANCELED when the run is cancelled during the wait', async () => {
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal).catch((e: unknown) => e);
    controller.abort();
    // An hour-long wait ended by the abort: vitest's 5 s test timeout would fail the test otherwise.
    const error = await waiting;
    expect(isForceflowError(error, 'RUN_CANCELED')).toBe(true);
  });
});

describe('retry', () => {
  const fast = { retries: 3, baseDelayMs: 1, maxDelayMs: 2 };

  it('retries retryable failures, then returns the success', async () => {
    const seen: number[] = [];
    const retries: number[] = [];
    const result = await retry(async (attempt) => {
      seen.push(attempt);
      if (attempt < 2) throw new Error('transient');
      return 'ok';
    }, { policy: fast, isRetryable: () => true, onRetry: (i) => { retries.push(i.attempt); } });
    expect(result).toBe('ok');
    expect(seen).toEqual([0, 1, 2]);
    expect(retries).toEqual([1, 2]);
  });

  it('does not retry a failure it is told is not retryable', async () => {
    let calls = 0;
    const error = await retry(async () => {
      calls++;
      throw new Error('fatal');
    }, { policy: fast, isRetryable: () => false, giveUp: () => new Error('never used') }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('fatal');
    expect(calls).toBe(1);
  });

  it('gives up after the retries with giveUp’s error and the attempts made', async () => {
    let calls = 0;
    const error = await retry(async () => {
      calls++;
      throw new Error('transient');
    }, { policy: fast, isRetryable: () => true, giveUp: (e, attempts) => new Error(`${(e as Error).message} after ${attempts}`) }).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect((error as Error).message).toBe('transient after 4');
  });

  it('passes the server’s Retry-After to the policy, capped', async () => {
    const delays: number[] = [];
    await retry(async (attempt) => {
      if (attempt === 0) throw new Error('429');
    }, {
      policy: new Backoff({ retries: 1, baseDelayMs: 1, maxDelayMs: 5 }, { random: () => 0 }),
      isRetryable: () => ({ retryAfterSeconds: 3600 }),
      onRetry: (i) => { delays.push(i.delayMs); },
    });
    expect(delays).toEqual([5]);
  });

  it('rejects promptly with RUN_CANCELED when cancelled during a wait, without another attempt', async () => {
    const controller = new AbortController();
    let calls = 0;
    const error = await retry(async () => {
      calls++;
      throw new Error('transient');
    }, {
      policy: { retries: 5, baseDelayMs: 60_000, maxDelayMs: 60_000, maxRetryAfterMs: 60_000 },
      signal: controller.signal,
      isRetryable: () => ({ retryAfterSeconds: 60 }),
      onRetry: () => { controller.abort(); },
    }).catch((e: unknown) => e);
    expect(isForceflowError(error, 'RUN_CANCELED')).toBe(true);
    expect(calls).toBe(1);
  });

  it('never retries a cancellation', async () => {
    let calls = 0;
    const error = await retry(async () => {
      calls++;
      throw (await sleep(1, AbortSignal.abort()).catch((e: unknown) => e)) as Error;
    }, { policy: fast, isRetryable: () => true }).catch((e: unknown) => e);
    expect(isForceflowError(error, 'RUN_CANCELED')).toBe(true);
    expect(calls).toBe(1);
  });
});
