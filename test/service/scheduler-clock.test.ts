import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMEOUT_MS, systemClock } from '../../src/service/clock.ts';
import { Scheduler } from '../../src/service/scheduler.ts';
import { MemoryExecutor, MemoryStore, scheduledFlow, silentLog } from './scheduler-harness.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await sleep(5);
  }
}

describe('systemClock (real timers)', () => {
  it('fires at its instant, not before, when the wait is longer than one setTimeout step', async () => {
    const clock = systemClock({ maxDelayMs: 20 });
    const target = Date.now() + 120;
    const calls: number[] = [];
    clock.setTimer(new Date(target), () => calls.push(Date.now()));
    await until(() => calls.length > 0, 2000);
    await sleep(50);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeGreaterThanOrEqual(target);
  });

  it('calls back for an instant already past, but never synchronously; a cancelled timer never fires', async () => {
    const clock = systemClock();
    const calls: string[] = [];
    clock.setTimer(new Date(Date.now() - 1000), () => calls.push('past'));
    expect(calls).toEqual([]);
    const cancel = clock.setTimer(new Date(Date.now() + 30), () => calls.push('cancelled'));
    cancel();
    // Cancelled between two of its steps.
    const cancelLater = systemClock({ maxDelayMs: 10 }).setTimer(new Date(Date.now() + 600), () => calls.push('cancelled mid-wait'));
    await sleep(25);
    cancelLater();
    await sleep(700);
    expect(calls).toEqual(['past']);
  });
});

describe('systemClock past the setTimeout limit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits 30 days (a single setTimeout would fire after 1 ms, as Node does past 2^31 - 1 ms)', () => {
    // Fake timers reproduce Node's overflow rule (a delay over 2^31 - 1 ms becomes 1 ms); a month cannot be waited for really.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: new Date('2025-01-01T00:00:00Z') });
    const clock = systemClock();
    const at = new Date('2025-01-31T00:00:00Z');
    expect(at.getTime() - Date.now()).toBeGreaterThan(MAX_TIMEOUT_MS);
    const calls: string[] = [];
    clock.setTimer(at, () => calls.push(new Date().toISOString()));
    vi.advanceTimersByTime(29 * 86400_000 + 86399_999);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['2025-01-31T00:00:00.000Z']);
    vi.advanceTimersByTime(60 * 86400_000);
    expect(calls).toHaveLength(1);
  });
});

describe('the scheduler on the real clock', () => {
  it('starts a rate(1minutes) flow at its scheduleStartTime, then waits a minute for the next fire', async () => {
    const clock = systemClock();
    const store = new MemoryStore();
    const executor = new MemoryExecutor(clock);
    const scheduler = new Scheduler({ clock, store, executor, log: silentLog() });
    try {
      const start = Date.now() + 250;
      const flow = scheduledFlow('live', { scheduleExpression: 'rate(1minutes)', scheduleStartTime: start / 1000 }, new Date());
      store.put(flow);
      scheduler.activate(flow);
      expect(executor.runs).toEqual([]);
      await until(() => executor.runs.length > 0, 5000);
      expect(executor.runs[0]?.startedAt.getTime()).toBeGreaterThanOrEqual(start);
      expect(scheduler.nextFireAt('live')?.getTime()).toBe(start + 60_000);
      await until(() => store.fires.length > 0, 2000);
      expect(store.fires[0]).toMatchObject({ flowName: 'live', outcome: 'started', executionId: 'exec-1', catchUp: false });
      expect(store.fires[0]?.scheduledAt.getTime()).toBe(start);
    } finally {
      await scheduler.close();
    }
    expect(scheduler.nextFireAt('live')).toBeUndefined();
  });
});
