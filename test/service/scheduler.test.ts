import { describe, expect, it } from 'vitest';
import { ForceflowError } from '../../src/core/errors.ts';
import { harness, ManualClock, settle, MemoryExecutor, MemoryStore, scheduledFlow } from './scheduler-harness.ts';
import type { Harness } from './scheduler-harness.ts';

/** Activates a flow the way StartFlow does: Active in the store, then scheduled. */
async function activate(h: Harness, flow: ReturnType<typeof scheduledFlow>): Promise<void> {
  h.store.put(flow);
  h.scheduler.activate(flow);
  await settle();
}

/** Every run ends Successful right after it starts. */
function autoSucceed(h: Harness): Harness {
  h.executor.autoFinish = 'Successful';
  return h;
}

describe('rate() schedules', () => {
  it('runs at activation and then every period from it, at exact instants', async () => {
    const h = autoSucceed(harness('2025-05-05T10:07:13.250Z'));
    await activate(h, scheduledFlow('f', { scheduleExpression: 'rate(15minutes)' }, h.clock.now()));
    await h.clock.advanceTo('2025-05-05T11:10:00Z');
    expect(h.executor.startTimes('f')).toEqual([
      '2025-05-05T10:07:13.250Z', '2025-05-05T10:22:13.250Z', '2025-05-05T10:37:13.250Z', '2025-05-05T10:52:13.250Z', '2025-05-05T11:07:13.250Z',
    ]);
    expect(h.scheduler.nextFireAt('f')?.toISOString()).toBe('2025-05-05T11:22:13.250Z');
    // Every timer aims at a fire time computed from the schedule, not at "previous + delay".
    expect(h.clock.requested.map((d) => d.toISOString())).toEqual([
      '2025-05-05T10:22:13.250Z', '2025-05-05T10:37:13.250Z', '2025-05-05T10:52:13.250Z', '2025-05-05T11:07:13.250Z', '2025-05-05T11:22:13.250Z',
    ]);
    expect(h.store.firesOf('f').map((f) => [f.outcome, f.catchUp, f.executionId])).toEqual([
      ['started', false, 'exec-1'], ['started', false, 'exec-2'], ['started', false, 'exec-3'], ['started', false, 'exec-4'], ['started', false, 'exec-5'],
    ]);
  });

  it('with a later scheduleStartTime, first runs then; with an earlier one, counts from activation', async () => {
    const h = autoSucceed(harness('2025-01-01T08:00:00Z'));
    await activate(h, scheduledFlow('later', { scheduleExpression: 'rate(6hours)', scheduleStartTime: '2025-01-02T00:00:00Z' }, h.clock.now()));
    // Started at 03:00 three days ago: the anchor is the activation, max(activation, scheduleStartTime).
    await activate(h, scheduledFlow('earlier', { scheduleExpression: 'rate(6hours)', scheduleStartTime: '2024-12-29T03:00:00Z' }, h.clock.now()));
    await h.clock.advanceTo('2025-01-02T13:00:00Z');
    expect(h.executor.startTimes('later')).toEqual(['2025-01-02T00:00:00.000Z', '2025-01-02T06:00:00.000Z', '2025-01-02T12:00:00.000Z']);
    expect(h.executor.startTimes('earlier')).toEqual([
      '2025-01-01T08:00:00.000Z', '2025-01-01T14:00:00.000Z', '2025-01-01T20:00:00.000Z', '2025-01-02T02:00:00.000Z', '2025-01-02T08:00:00.000Z',
    ]);
  });

  it('waits for fires further away than setTimeout can (2^31 ms, about 24.8 days)', async () => {
    const h = autoSucceed(harness('2025-01-01T00:00:00Z'));
    await activate(h, scheduledFlow('far', { scheduleExpression: 'rate(40days)', scheduleStartTime: '2025-03-01T00:00:00Z' }, h.clock.now()));
    await h.clock.advanceTo('2025-04-10T00:00:00Z');
    expect(h.executor.startTimes('far')).toEqual(['2025-03-01T00:00:00.000Z', '2025-04-10T00:00:00.000Z']);
  });
});

describe('cron() schedules through the scheduler (EventBridge corner cases)', () => {
  async function cronRuns(expression: string, from: string, to: string, timezone?: string): Promise<string[]> {
    const h = autoSucceed(harness(from));
    await activate(h, scheduledFlow('c', { scheduleExpression: expression, ...(timezone ? { timezone } : {}) }, h.clock.now()));
    await h.clock.advanceTo(to);
    return h.executor.startTimes('c');
  }

  it('day-of-month with day-of-week ?, and the other way round', async () => {
    expect(await cronRuns('cron(0 6 1,15 * ? *)', '2025-01-10T00:00:00Z', '2025-02-20T00:00:00Z')).toEqual([
      '2025-01-15T06:00:00.000Z', '2025-02-01T06:00:00.000Z', '2025-02-15T06:00:00.000Z',
    ]);
    expect(await cronRuns('cron(30 7 ? * MON,FRI *)', '2025-01-01T00:00:00Z', '2025-01-11T00:00:00Z')).toEqual([
      '2025-01-03T07:30:00.000Z', '2025-01-06T07:30:00.000Z', '2025-01-10T07:30:00.000Z',
    ]);
  });

  it('L, LW, W and # across months, leap day included', async () => {
    expect(await cronRuns('cron(0 23 L * ? *)', '2028-01-15T00:00:00Z', '2028-04-01T00:00:00Z')).toEqual([
      '2028-01-31T23:00:00.000Z', '2028-02-29T23:00:00.000Z', '2028-03-31T23:00:00.000Z',
    ]);
    // Last weekdays: 2025-05-31 and 2025-08-31 fall on a weekend.
    expect(await cronRuns('cron(0 12 LW * ? *)', '2025-05-01T00:00:00Z', '2025-09-01T00:00:00Z')).toEqual([
      '2025-05-30T12:00:00.000Z', '2025-06-30T12:00:00.000Z', '2025-07-31T12:00:00.000Z', '2025-08-29T12:00:00.000Z',
    ]);
    // Nearest weekday to the 1st, never in the previous month: 2025-11-01 is a Saturday -> Monday 3rd.
    expect(await cronRuns('cron(0 9 1W * ? *)', '2025-10-15T00:00:00Z', '2026-01-02T00:00:00Z')).toEqual([
      '2025-11-03T09:00:00.000Z', '2025-12-01T09:00:00.000Z', '2026-01-01T09:00:00.000Z',
    ]);
    // The first Monday, and the last Friday, of each month.
    expect(await cronRuns('cron(0 8 ? * 2#1 *)', '2025-08-20T00:00:00Z', '2025-11-01T00:00:00Z')).toEqual([
      '2025-09-01T08:00:00.000Z', '2025-10-06T08:00:00.000Z',
    ]);
    expect(await cronRuns('cron(0 17 ? * 6L *)', '2025-08-20T00:00:00Z', '2025-11-01T00:00:00Z')).toEqual([
      '2025-08-29T17:00:00.000Z', '2025-09-26T17:00:00.000Z', '2025-10-31T17:00:00.000Z',
    ]);
  });

  it("follows the flow's time zone through daylight-saving changes", async () => {
    // 09:00 in New York: 14:00Z before 2025-03-09, 13:00Z after; back to 14:00Z on 2025-11-02.
    expect(await cronRuns('cron(0 9 * * ? *)', '2025-03-07T12:00:00Z', '2025-03-11T00:00:00Z', 'America/New_York')).toEqual([
      '2025-03-07T14:00:00.000Z', '2025-03-08T14:00:00.000Z', '2025-03-09T13:00:00.000Z', '2025-03-10T13:00:00.000Z',
    ]);
    expect(await cronRuns('cron(0 9 * * ? *)', '2025-11-01T00:00:00Z', '2025-11-03T00:00:00Z', 'America/New_York')).toEqual([
      '2025-11-01T13:00:00.000Z', '2025-11-02T14:00:00.000Z',
    ]);
    // 02:30 in Paris does not exist on 2025-03-30 (no run), and happens twice on 2025-10-26 (one run).
    expect(await cronRuns('cron(30 2 * * ? *)', '2025-03-29T00:00:00Z', '2025-04-01T00:00:00Z', 'Europe/Paris')).toEqual([
      '2025-03-29T01:30:00.000Z', '2025-03-31T00:30:00.000Z',
    ]);
    expect(await cronRuns('cron(30 2 * * ? *)', '2025-10-25T00:00:00Z', '2025-10-28T00:00:00Z', 'Europe/Paris')).toEqual([
      '2025-10-25T00:30:00.000Z', '2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z',
    ]);
    // Hourly through the fall-back night in Paris: the repeated hour does not run again.
    expect(await cronRuns('cron(0 * * * ? *)', '2025-10-25T22:30:00Z', '2025-10-26T03:30:00Z', 'Europe/Paris')).toEqual([
      '2025-10-25T23:00:00.000Z', '2025-10-26T00:00:00.000Z', '2025-10-26T02:00:00.000Z', '2025-10-26T03:00:00.000Z',
    ]);
  });

  it('runs only within [scheduleStartTime, scheduleEndTime), and stops waiting at the end', async () => {
    const h = autoSucceed(harness('2025-02-01T00:00:00Z'));
    await activate(h, scheduledFlow('b', { scheduleExpression: 'cron(0 * * * ? *)', scheduleStartTime: '2025-02-01T10:00:00Z', scheduleEndTime: '2025-02-01T13:00:00Z' }, h.clock.now()));
    expect(h.scheduler.nextFireAt('b')?.toISOString()).toBe('2025-02-01T10:00:00.000Z');
    await h.clock.advanceTo('2025-02-03T00:00:00Z');
    expect(h.executor.startTimes('b')).toEqual(['2025-02-01T10:00:00.000Z', '2025-02-01T11:00:00.000Z', '2025-02-01T12:00:00.000Z']);
    expect(h.scheduler.nextFireAt('b')).toBeUndefined();
    expect(h.scheduler.isScheduled('b')).toBe(true); // the flow stays Active, as AppFlow's does
    expect(h.clock.pendingTimers).toBe(0);
  });
});

describe('overlapping fires', () => {
  it('skips a fire while the previous run is in progress, records it, and runs the next one', async () => {
    const h = harness('2025-06-01T00:00:00Z');
    await activate(h, scheduledFlow('slow', { scheduleExpression: 'rate(1minutes)' }, h.clock.now()));
    await h.clock.advanceTo('2025-06-01T00:02:30Z'); // the first run (00:00) is still going at 00:01 and 00:02
    expect(h.executor.startTimes('slow')).toEqual(['2025-06-01T00:00:00.000Z']);
    h.executor.finish('slow', 'Successful');
    await h.clock.advanceTo('2025-06-01T00:03:00Z');
    expect(h.executor.startTimes('slow')).toEqual(['2025-06-01T00:00:00.000Z', '2025-06-01T00:03:00.000Z']);
    expect(h.store.firesOf('slow').map((f) => [f.scheduledAt.toISOString(), f.outcome])).toEqual([
      ['2025-06-01T00:00:00.000Z', 'started'], ['2025-06-01T00:01:00.000Z', 'skipped'], ['2025-06-01T00:02:00.000Z', 'skipped'], ['2025-06-01T00:03:00.000Z', 'started'],
    ]);
    expect(h.store.firesOf('slow')[1]?.reason).toMatch(/still in progress.*skipped/);
  });
});

describe('missed fires after downtime', () => {
  it('runs once to catch up, not once per missed fire, then keeps the schedule', async () => {
    const store = new MemoryStore();
    const first = autoSucceed(harness('2025-03-03T08:00:00Z', { store }));
    activate(first, scheduledFlow('hourly', { scheduleExpression: 'rate(1hours)' }, first.clock.now()));
    await first.clock.advanceTo('2025-03-03T09:30:00Z');
    expect(first.executor.startTimes('hourly')).toEqual(['2025-03-03T08:00:00.000Z', '2025-03-03T09:00:00.000Z']);
    await first.scheduler.close();

    // Down from 09:30 to 14:20: fires 10:00 to 14:00 were missed.
    const clock = new ManualClock('2025-03-03T14:20:00Z');
    const second = autoSucceed(harness('', { store, clock }));
    await second.scheduler.start();
    await clock.advanceTo('2025-03-03T16:30:00Z');
    expect(second.executor.startTimes('hourly')).toEqual(['2025-03-03T14:20:00.000Z', '2025-03-03T15:00:00.000Z', '2025-03-03T16:00:00.000Z']);
    const catchUp = store.firesOf('hourly')[2];
    expect(catchUp).toMatchObject({ outcome: 'started', catchUp: true });
    expect(catchUp?.scheduledAt.toISOString()).toBe('2025-03-03T10:00:00.000Z');
    expect(store.firesOf('hourly').filter((f) => f.catchUp)).toHaveLength(1);
  });

  it('a timer woken after several fires (the machine slept) makes one run too', async () => {
    const h = autoSucceed(harness('2025-03-03T00:00:00Z'));
    await activate(h, scheduledFlow('sleepy', { scheduleExpression: 'rate(10minutes)' }, h.clock.now()));
    h.clock.jumpTo('2025-03-03T00:45:00Z'); // the 00:10 timer is now 35 minutes late
    await h.clock.advanceTo('2025-03-03T01:00:00Z');
    expect(h.executor.startTimes('sleepy')).toEqual(['2025-03-03T00:00:00.000Z', '2025-03-03T00:45:00.000Z', '2025-03-03T00:50:00.000Z', '2025-03-03T01:00:00.000Z']);
    expect(h.store.firesOf('sleepy').map((f) => [f.scheduledAt.toISOString(), f.catchUp])).toEqual([
      ['2025-03-03T00:00:00.000Z', false], ['2025-03-03T00:10:00.000Z', true], ['2025-03-03T00:50:00.000Z', false], ['2025-03-03T01:00:00.000Z', false],
    ]);
  });

  it('does not run at start when nothing was missed', async () => {
    const store = new MemoryStore();
    const flow = scheduledFlow('daily', { scheduleExpression: 'cron(0 2 * * ? *)' }, '2025-03-01T00:00:00Z');
    store.put(flow);
    store.fires.push({ flowName: 'daily', scheduledAt: new Date('2025-03-03T02:00:00Z'), firedAt: new Date('2025-03-03T02:00:00.004Z'), outcome: 'started', catchUp: false, executionId: 'x' });
    const h = harness('2025-03-03T09:00:00Z', { store });
    await h.scheduler.start();
    await h.clock.advanceTo('2025-03-04T01:59:59Z');
    expect(h.executor.runs).toEqual([]);
    await h.clock.advanceTo('2025-03-04T02:00:00Z');
    expect(h.executor.startTimes('daily')).toEqual(['2025-03-04T02:00:00.000Z']);
    expect(store.firesOf('daily')[1]?.catchUp).toBe(false);
  });

  it('folds a fire due less than a minute after the catch-up run into it', async () => {
    const store = new MemoryStore();
    const flow = scheduledFlow('minutely', { scheduleExpression: 'rate(1minutes)' }, '2025-03-03T08:00:00Z');
    store.put(flow);
    store.fires.push({ flowName: 'minutely', scheduledAt: new Date('2025-03-03T08:05:00Z'), firedAt: new Date('2025-03-03T08:05:00Z'), outcome: 'started', catchUp: false });
    const h = autoSucceed(harness('2025-03-03T09:00:30Z', { store }));
    await h.scheduler.start();
    await h.clock.advanceTo('2025-03-03T09:03:00Z');
    // 09:00:30 catches up; 09:01:00 is 30 s later and folded in; then every minute again.
    expect(h.executor.startTimes('minutely')).toEqual(['2025-03-03T09:00:30.000Z', '2025-03-03T09:02:00.000Z', '2025-03-03T09:03:00.000Z']);
  });

  it('does not catch up on fires from before the flow was last activated', async () => {
    const store = new MemoryStore();
    // Fired last in January, suspended, started again on March 3rd at 08:00; the service went down at 08:30.
    const flow = scheduledFlow('back', { scheduleExpression: 'cron(0 12 * * ? *)' }, '2025-03-03T08:00:00Z');
    store.put(flow);
    store.fires.push({ flowName: 'back', scheduledAt: new Date('2025-01-10T12:00:00Z'), firedAt: new Date('2025-01-10T12:00:00Z'), outcome: 'started', catchUp: false });
    const h = autoSucceed(harness('2025-03-03T11:00:00Z', { store }));
    await h.scheduler.start();
    await h.clock.advanceTo('2025-03-03T12:00:00Z');
    expect(h.executor.startTimes('back')).toEqual(['2025-03-03T12:00:00.000Z']);
  });

  it('a rate() flow whose first fire was missed runs at start, and keeps its activation anchor', async () => {
    const store = new MemoryStore();
    store.put(scheduledFlow('r', { scheduleExpression: 'rate(2hours)' }, '2025-03-03T08:10:00Z'));
    const h = autoSucceed(harness('2025-03-03T09:00:00Z', { store }));
    await h.scheduler.start();
    await h.clock.advanceTo('2025-03-03T12:30:00Z');
    expect(h.executor.startTimes('r')).toEqual(['2025-03-03T09:00:00.000Z', '2025-03-03T10:10:00.000Z', '2025-03-03T12:10:00.000Z']);
  });
});

describe('flowErrorDeactivationThreshold', () => {
  it('suspends the flow after that many consecutive Error runs; Successful resets; Canceled does not count', async () => {
    const h = harness('2025-07-01T00:00:00Z');
    await activate(h, scheduledFlow('flaky', { scheduleExpression: 'rate(1hours)', flowErrorDeactivationThreshold: 3 }, h.clock.now()));
    const outcomes = ['Error', 'Error', 'Successful', 'Error', 'Canceled', 'Error'] as const;
    for (const status of outcomes) {
      h.executor.finish('flaky', status);
      await h.clock.advanceBy(3600_000);
    }
    expect(h.scheduler.isScheduled('flaky')).toBe(true);
    expect(h.store.flows.get('flaky')?.status).toBe('Active');
    h.executor.finish('flaky', 'Error'); // the third Error in a row (Canceled in between)
    await h.clock.advanceBy(0);
    expect(h.scheduler.isScheduled('flaky')).toBe(false);
    expect(h.store.flows.get('flaky')).toMatchObject({ status: 'Suspended' });
    expect(h.store.flows.get('flaky')?.message).toMatch(/^Deactivated after 3 consecutive failed scheduled runs \(flowErrorDeactivationThreshold is 3\); the last was run exec-7\. .*start-flow/);
    const before = h.executor.runs.length;
    await h.clock.advanceBy(5 * 3600_000);
    expect(h.executor.runs).toHaveLength(before);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it('counts a run that could not start at all as failed', async () => {
    const h = harness('2025-07-01T00:00:00Z');
    h.executor.failStart = new ForceflowError('PROFILE_NOT_FOUND', 'No connector profile named sf-prod.');
    await activate(h, scheduledFlow('broken', { scheduleExpression: 'rate(1hours)', flowErrorDeactivationThreshold: 2 }, h.clock.now()));
    await h.clock.advanceBy(3600_000);
    expect(h.store.firesOf('broken').map((f) => [f.outcome, f.reason])).toEqual([
      ['failed', 'PROFILE_NOT_FOUND: No connector profile named sf-prod.'], ['failed', 'PROFILE_NOT_FOUND: No connector profile named sf-prod.'],
    ]);
    expect(h.store.flows.get('broken')?.status).toBe('Suspended');
  });

  it('counts nothing itself when the failures are counted elsewhere (the distributed mode: workers count in the store)', async () => {
    const h = harness('2025-07-01T00:00:00Z', { failuresCountedElsewhere: true });
    h.executor.failStart = new ForceflowError('STATE_ERROR', 'PostgreSQL is unreachable.');
    await activate(h, scheduledFlow('remote', { scheduleExpression: 'rate(1hours)', flowErrorDeactivationThreshold: 2 }, h.clock.now()));
    await h.clock.advanceBy(3 * 3600_000);
    expect(h.store.firesOf('remote').map((f) => f.outcome)).toEqual(['failed', 'failed', 'failed', 'failed']);
    h.executor.failStart = undefined;
    for (let i = 0; i < 3; i++) {
      await h.clock.advanceBy(3600_000);
      h.executor.finish('remote', 'Error');
    }
    await h.clock.advanceBy(0);
    expect(h.store.flows.get('remote')?.status).toBe('Active');
    expect(h.scheduler.isScheduled('remote')).toBe(true);
  });

  it('when unset, never deactivates; and runs started by others do not count', async () => {
    const h = harness('2025-07-01T00:00:00Z');
    await activate(h, scheduledFlow('stubborn', { scheduleExpression: 'rate(1hours)' }, h.clock.now()));
    await activate(h, scheduledFlow('mixed', { scheduleExpression: 'rate(1hours)', flowErrorDeactivationThreshold: 2 }, h.clock.now()));
    for (let i = 0; i < 20; i += 1) {
      h.executor.finish('stubborn', 'Error');
      if (h.executor.isRunning('mixed')) h.executor.finish('mixed', 'Error', i % 2 === 0 ? 'schedule' : 'api');
      await h.clock.advanceBy(3600_000);
    }
    expect(h.scheduler.isScheduled('stubborn')).toBe(true);
    expect(h.executor.startTimes('stubborn')).toHaveLength(21);
    expect(h.scheduler.isScheduled('mixed')).toBe(false); // two scheduled Errors in a row: the first and third runs
    expect(h.executor.startTimes('mixed')).toHaveLength(3);
  });

  it('keeps the count across an update, and a new activation starts it again', async () => {
    const h = harness('2025-07-01T00:00:00Z');
    const flow = scheduledFlow('u', { scheduleExpression: 'rate(1hours)', flowErrorDeactivationThreshold: 2 }, h.clock.now());
    await activate(h, flow);
    h.executor.finish('u', 'Error');
    h.scheduler.update({ ...flow, triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(2hours)', flowErrorDeactivationThreshold: 2 } } } });
    await h.clock.advanceTo('2025-07-01T02:00:00Z');
    h.executor.finish('u', 'Error');
    await h.clock.advanceBy(0);
    expect(h.store.flows.get('u')?.status).toBe('Suspended');
    // start-flow again: a fresh count (one Error is not two).
    await activate(h, { ...flow, activatedAt: h.clock.now(), consecutiveFailures: 5 });
    h.executor.finish('u', 'Error');
    await h.clock.advanceBy(0);
    expect(h.scheduler.isScheduled('u')).toBe(true);
  });

  it('keeps the count across a restart (the store gives it back)', async () => {
    const store = new MemoryStore();
    store.put({ ...scheduledFlow('again', { scheduleExpression: 'rate(1hours)', flowErrorDeactivationThreshold: 2 }, '2025-07-01T00:00:00Z'), consecutiveFailures: 1 });
    const h = harness('2025-07-01T00:30:00Z', { store });
    await h.scheduler.start();
    h.executor.finish('again', 'Error');
    await h.clock.advanceBy(0);
    expect(store.flows.get('again')?.status).toBe('Suspended');
  });
});

describe('activation, update, stop and close', () => {
  it('update reschedules with the new trigger from now on; StartFlow on a scheduled flow changes nothing', async () => {
    const h = autoSucceed(harness('2025-09-01T00:00:00Z'));
    const flow = scheduledFlow('u', { scheduleExpression: 'rate(1hours)' }, h.clock.now());
    await activate(h, flow);
    await h.clock.advanceTo('2025-09-01T01:30:00Z');
    h.scheduler.activate({ ...flow, activatedAt: h.clock.now() });
    expect(h.scheduler.nextFireAt('u')?.toISOString()).toBe('2025-09-01T02:00:00.000Z');
    expect(h.scheduler.update({ ...flow, triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'cron(45 * * * ? *)' } } } })).toBe(true);
    await h.clock.advanceTo('2025-09-01T03:00:00Z');
    expect(h.executor.startTimes('u')).toEqual(['2025-09-01T00:00:00.000Z', '2025-09-01T01:00:00.000Z', '2025-09-01T01:45:00.000Z', '2025-09-01T02:45:00.000Z']);
    expect(h.scheduler.update(scheduledFlow('never-started', { scheduleExpression: 'rate(1hours)' }, h.clock.now()))).toBe(false);
    expect(h.scheduler.isScheduled('never-started')).toBe(false);
  });

  it('an update the scheduler cannot evaluate is refused and the old schedule kept', async () => {
    const h = autoSucceed(harness('2025-09-01T00:00:00Z'));
    const flow = scheduledFlow('keep', { scheduleExpression: 'rate(1hours)' }, h.clock.now());
    await activate(h, flow);
    const bad = { ...flow, triggerConfig: { triggerType: 'Scheduled' as const, triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', timezone: 'Mars/Olympus' } } } };
    expect(() => h.scheduler.update(bad)).toThrow(/Flow keep cannot be scheduled: triggerConfig\.triggerProperties\.Scheduled\.timezone is "Mars\/Olympus", which is not a known IANA time zone/);
    expect(h.scheduler.nextFireAt('keep')?.toISOString()).toBe('2025-09-01T01:00:00.000Z');
  });

  it('deactivate (StopFlow) stops the fires but not the run in progress; a new activation re-anchors', async () => {
    const h = harness('2025-09-01T00:00:00Z');
    const flow = scheduledFlow('s', { scheduleExpression: 'rate(1hours)', flowErrorDeactivationThreshold: 1 }, h.clock.now());
    await activate(h, flow);
    await h.clock.advanceTo('2025-09-01T00:10:00Z');
    expect(h.scheduler.deactivate('s')).toBe(true);
    expect(h.scheduler.deactivate('s')).toBe(false);
    expect(h.scheduler.nextFireAt('s')).toBeUndefined();
    expect(h.clock.pendingTimers).toBe(0);
    expect(h.executor.runs[0]?.status).toBe('InProgress');
    h.executor.finish('s', 'Error'); // after StopFlow: not counted, nothing to suspend
    await h.clock.advanceTo('2025-09-01T05:00:00Z');
    expect(h.executor.startTimes('s')).toEqual(['2025-09-01T00:00:00.000Z']);
    expect(h.store.flows.get('s')?.status).toBe('Active');
    h.scheduler.activate({ ...flow, activatedAt: h.clock.now() });
    expect(h.executor.startTimes('s')).toHaveLength(1);
    await h.clock.advanceBy(0);
    expect(h.executor.startTimes('s')).toEqual(['2025-09-01T00:00:00.000Z', '2025-09-01T05:00:00.000Z']);
    expect(h.scheduler.nextFireAt('s')?.toISOString()).toBe('2025-09-01T06:00:00.000Z');
  });

  it('refuses to schedule a flow that is not Scheduled, naming the field', () => {
    const h = harness('2025-09-01T00:00:00Z');
    const flow = { flowName: 'od', triggerConfig: { triggerType: 'OnDemand' as const }, activatedAt: h.clock.now() };
    let error: unknown;
    try {
      h.scheduler.activate(flow);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ForceflowError);
    expect((error as ForceflowError).code).toBe('FLOW_INVALID');
    expect((error as ForceflowError).message).toMatch(/triggerConfig\.triggerType is OnDemand/);
  });

  it('at start, suspends a stored flow whose schedule no longer evaluates, and schedules the rest', async () => {
    const store = new MemoryStore();
    store.put(scheduledFlow('bad', { scheduleExpression: 'cron(0 12 * * MON *)' }, '2025-09-01T00:00:00Z'));
    store.put(scheduledFlow('good', { scheduleExpression: 'cron(0 12 * * ? *)' }, '2025-09-01T00:00:00Z'));
    const h = harness('2025-09-01T06:00:00Z', { store });
    await h.scheduler.start();
    await h.clock.advanceBy(0);
    expect(store.flows.get('bad')).toMatchObject({ status: 'Suspended' });
    expect(store.flows.get('bad')?.message).toMatch(/scheduleExpression .*One of the two must be \?/);
    expect(h.scheduler.nextFireAt('good')?.toISOString()).toBe('2025-09-01T12:00:00.000Z');
  });

  it('close() cancels every timer, stops listening, and schedules nothing more', async () => {
    const h = autoSucceed(harness('2025-09-01T00:01:00Z'));
    for (const name of ['a', 'b', 'c']) await activate(h, scheduledFlow(name, { scheduleExpression: 'cron(0/5 * * * ? *)' }, h.clock.now()));
    expect(h.clock.pendingTimers).toBe(3);
    expect(h.executor.listenerCount).toBe(1);
    await h.scheduler.close();
    expect(h.clock.pendingTimers).toBe(0);
    expect(h.executor.listenerCount).toBe(0);
    h.scheduler.activate(scheduledFlow('d', { scheduleExpression: 'rate(1hours)' }, h.clock.now()));
    await h.clock.advanceTo('2025-09-02T00:00:00Z');
    expect(h.executor.runs).toEqual([]);
  });
});

describe('the executor shape', () => {
  it('MemoryExecutor refuses a second run of a flow in progress (what the overlap test relies on)', async () => {
    const clock = new ManualClock('2025-01-01T00:00:00Z');
    const ex = new MemoryExecutor(clock);
    expect(await ex.start('x', { startedBy: 'schedule' })).toEqual({ executionId: 'exec-1' });
    expect(await ex.start('x', { startedBy: 'schedule' })).toEqual({ skipped: 'running' });
    expect(await ex.start('y', { startedBy: 'schedule' })).toEqual({ executionId: 'exec-2' });
  });
});
