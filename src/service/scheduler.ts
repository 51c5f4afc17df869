import { ForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { flowSchedule } from '../flows/no-effect.ts';
import { nextFireTimes, parseScheduleExpression, parseTimezone } from '../flows/schedule.ts';
import type { Schedule } from '../flows/schedule.ts';
import type { FlowDefinition } from '../flows/schema.ts';
import type { Clock } from './clock.ts';

/**
 * The scheduler of the service: it runs Active Scheduled flows on their `rate()` / `cron()` schedule
 * (src/flows/schedule.ts computes the fire times), as AppFlow does. docs/service.md ("Scheduling") is the
 * user-facing account of every rule below.
 *
 * - StartFlow calls {@link Scheduler.activate}, StopFlow {@link Scheduler.deactivate}, UpdateFlow of an Active
 *   flow {@link Scheduler.update}; the service's start calls {@link Scheduler.start}, which picks up every Active
 *   flow from the store and catches up on what it missed while the service was down.
 * - Fire times are absolute instants from `nextFireTimes`, each computed afresh from the schedule (never a
 *   delay added to the previous one), and waited for with the injected {@link Clock}.
 * - A `rate()` counts from its first run, at max(activation, scheduleStartTime); a `cron()` fires on its
 *   matches in the flow's time zone. Both only within [scheduleStartTime, scheduleEndTime).
 * - Never two runs of a flow at once: the executor refuses a start while the flow runs, and the fire is
 *   recorded as skipped (not run later).
 * - Missed fires (service down, or a timer woken late past several fires) make one catch-up run, at once;
 *   fires due less than a minute after a catch-up are folded into it (a flow runs at most once a minute).
 * - `flowErrorDeactivationThreshold`: that many consecutive scheduled runs ending `Error` suspend the flow
 *   with a reason; a `Successful` run resets the count; `Canceled` runs do not count either way. Unset: never.
 */

/** What the scheduler needs of a flow: its definition's trigger and its activation state. */
export interface ScheduledFlow {
  readonly flowName: string;
  /** The flow's triggerConfig (triggerType Scheduled, with triggerProperties.Scheduled). */
  readonly triggerConfig: FlowDefinition['triggerConfig'];
  /** When StartFlow last activated the flow: a rate() without a later scheduleStartTime counts from here. */
  readonly activatedAt: Date;
  /**
   * The latest `firedAt` of the flow's fire records ({@link FireRecord}); fires after it and before now were
   * missed. Fires from before `activatedAt` are ignored whatever this says.
   */
  readonly lastFireAt?: Date;
  /**
   * Consecutive scheduled runs that ended `Error` since the last `Successful` one (Canceled runs skipped),
   * counting only runs since `activatedAt`; 0 when absent. Derivable from the run history.
   */
  readonly consecutiveFailures?: number;
}

/** One fire of a schedule, as the scheduler handled it. */
export interface FireRecord {
  readonly flowName: string;
  /** The schedule's time of the fire; for a catch-up, the first fire that was missed. */
  readonly scheduledAt: Date;
  /** When the scheduler acted on it (a restart catches up on fires after the latest `firedAt`). */
  readonly firedAt: Date;
  /** `started` a run; `skipped` because a run of the flow was in progress; `failed` to start a run at all. */
  readonly outcome: 'started' | 'skipped' | 'failed';
  /** The fire stands for missed fires (the service was down, or the timer woke after several fires). */
  readonly catchUp: boolean;
  /** The run it started (outcome `started`). */
  readonly executionId?: string;
  /** Why it was skipped or failed, as a sentence. */
  readonly reason?: string;
}

/** What the scheduler needs of the flow store. */
export interface SchedulerStore {
  /** Every Scheduled flow whose status is Active (read once, by {@link Scheduler.start}). */
  listActive(): Promise<readonly ScheduledFlow[]>;
  /** Keep a fire in the flow's fires log (and so its `firedAt` as the flow's `lastFireAt`). */
  recordFire(fire: FireRecord): Promise<void>;
  /** Set the flow Suspended with `flowStatusMessage` = reason (the scheduler has already stopped its schedule). */
  suspend(flowName: string, reason: string): Promise<void>;
}

/** A run's end, as the executor announces it. */
export interface RunFinished {
  readonly flowName: string;
  readonly executionId: string;
  /** Who started the run; the scheduler counts only its own (`schedule`). */
  readonly startedBy: string;
  /** The final execution status: Successful, Error or Canceled. */
  readonly status: string;
}

/** What the scheduler needs of the executor. */
export interface SchedulerExecutor {
  /**
   * Starts a run now, unless one of the flow is in progress (then `{ skipped: 'running' }`). Atomic: of two
   * calls for one flow at the same time, at most one starts a run. Throws when no run can be started at all.
   */
  start(flowName: string, options: { readonly startedBy: 'schedule'; readonly scheduledAt: Date }): Promise<{ readonly executionId: string } | { readonly skipped: 'running' | 'duplicate' }>;
  /** Calls `listener` whenever a run ends; returns the function that stops listening. */
  onFinished(listener: (run: RunFinished) => void): () => void;
}

export interface SchedulerDeps {
  readonly clock: Clock;
  readonly store: SchedulerStore;
  readonly executor: SchedulerExecutor;
  /** The service logger; the scheduler logs through a child (`component: scheduler`). */
  readonly log: Logger;
  /**
   * The distributed mode: runs end in worker processes, which count failed scheduled runs in the shared flow store
   * and suspend the flow there (src/service/worker.ts), as the queue executor does for a fire it could not enqueue;
   * this scheduler then counts nothing itself (its count would miss the runs' ends) and drops a suspended flow when
   * {@link Scheduler.sync} no longer finds it Active.
   */
  readonly failuresCountedElsewhere?: boolean;
}

/** The `flowStatusMessage` of a flow suspended by `flowErrorDeactivationThreshold`. */
export function deactivationReason(failures: number, threshold: number, last: string): string {
  return `Deactivated after ${failures} consecutive failed scheduled runs (flowErrorDeactivationThreshold is ${threshold}); the last was ${last}. Fix the cause, then start the flow again (start-flow).`;
}

/** A catch-up run stands for every fire due in the minute after it: a flow runs at most once a minute. */
export const CATCH_UP_SPACING_MS = 60_000;

const SCHED = 'triggerConfig.triggerProperties.Scheduled';

interface Entry {
  readonly flowName: string;
  /** The schedule as evaluated (a rate's start moved to its anchor). */
  readonly schedule: Schedule;
  readonly threshold: number | undefined;
  /** Epoch ms: every fire at or before it is handled. */
  cursor: number;
  failures: number;
  /** Set when the entry was armed by {@link Scheduler.start}: a due fire before it is a catch-up. */
  readonly resumedAt: number | undefined;
  nextAt: Date | undefined;
  cancelTimer: (() => void) | undefined;
}

/**
 * The schedule a flow runs on, or a FLOW_INVALID error naming the field. A rate() counts from its first
 * run, max(activation, scheduleStartTime), so its `startTime` becomes that anchor.
 */
export function scheduleOf(flow: Pick<ScheduledFlow, 'flowName' | 'triggerConfig' | 'activatedAt'>): Schedule {
  const trig = flow.triggerConfig;
  const sched = trig.triggerProperties?.Scheduled;
  if (trig.triggerType !== 'Scheduled' || !sched) {
    throw new ForceflowError('FLOW_INVALID', `Flow ${flow.flowName} cannot be scheduled: triggerConfig.triggerType is ${trig.triggerType}${sched ? '' : ' without triggerProperties.Scheduled'}. Set triggerType to Scheduled with a scheduleExpression, or run the flow on demand.`);
  }
  const schedule = flowSchedule(flow);
  if (!schedule) {
    // flowSchedule refuses exactly these two; name the field and quote the parser's sentence.
    const expression = parseScheduleExpression(sched.scheduleExpression);
    const tz = parseTimezone(sched.timezone ?? 'UTC');
    const problem = !expression.ok ? `${SCHED}.scheduleExpression ${expression.message}` : `${SCHED}.timezone ${tz.ok ? 'cannot be used.' : tz.message}`;
    throw new ForceflowError('FLOW_INVALID', `Flow ${flow.flowName} cannot be scheduled: ${problem}`);
  }
  if (schedule.expression.kind !== 'rate') return schedule;
  const anchor = Math.max(flow.activatedAt.getTime(), schedule.startTime?.getTime() ?? Number.NEGATIVE_INFINITY);
  return { ...schedule, startTime: new Date(anchor) };
}

/** Runs Active Scheduled flows on their schedules. One per service; {@link Scheduler.close} stops it. */
export class Scheduler {
  readonly #deps: SchedulerDeps;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Set<Promise<void>>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(deps: SchedulerDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: 'scheduler' });
    this.#unsubscribe = deps.executor.onFinished((run) => this.#onFinished(run));
  }

  /**
   * Schedules every Active flow of the store (the service starting). A flow whose fires were missed while
   * the service was down runs once now to catch up. A flow that can no longer be scheduled (its stored
   * trigger does not validate) is suspended with the reason.
   */
  async start(): Promise<void> {
    const flows = await this.#deps.store.listActive();
    for (const flow of flows) {
      if (this.#closed) return;
      if (this.#entries.has(flow.flowName)) continue; // activated meanwhile
      try {
        this.#arm(flow, Math.max(flow.lastFireAt?.getTime() ?? Number.NEGATIVE_INFINITY, flow.activatedAt.getTime() - 1), flow.consecutiveFailures ?? 0, true);
      } catch (error) {
        if (!(error instanceof ForceflowError)) throw error;
        this.#log.error({ flow: flow.flowName, code: error.code }, error.message);
        this.#track(this.#deps.store.suspend(flow.flowName, error.message).catch((e: unknown) => this.#storeFailed(flow.flowName, 'suspend', e)));
      }
    }
  }

  /**
   * Schedules a flow StartFlow has just activated (a rate() runs at once unless scheduleStartTime is later).
   * Fires before `activatedAt` are not caught up, and the failure count starts at zero (`lastFireAt` and
   * `consecutiveFailures` are ignored). Already scheduled: nothing changes (StartFlow on an Active flow is a
   * no-op). Throws FLOW_INVALID when the trigger cannot be scheduled.
   */
  activate(flow: ScheduledFlow): void {
    if (this.#closed || this.#entries.has(flow.flowName)) return;
    this.#arm(flow, flow.activatedAt.getTime() - 1, 0, false);
  }

  /**
   * Reschedules an Active flow whose definition changed (UpdateFlow): the new trigger applies to fires
   * after now; the failure count is kept. Returns false (and does nothing) when the flow is not scheduled.
   * Throws FLOW_INVALID (keeping the old schedule) when the new trigger cannot be scheduled: a flow whose
   * trigger is no longer Scheduled is {@link Scheduler.deactivate}d instead.
   */
  update(flow: ScheduledFlow): boolean {
    const old = this.#entries.get(flow.flowName);
    if (this.#closed || !old) return false;
    const schedule = scheduleOf(flow); // throws before the old schedule is dropped
    this.#drop(old);
    this.#armWith(flow, schedule, Math.max(old.cursor, this.#deps.clock.now().getTime()), old.failures, undefined);
    return true;
  }

  /** Stops scheduling a flow (StopFlow, DeleteFlow). A run in progress is not touched. False when it was not scheduled. */
  deactivate(flowName: string): boolean {
    const entry = this.#entries.get(flowName);
    if (!entry) return false;
    this.#drop(entry);
    return true;
  }

  /** The next time the flow will fire; undefined when it is not scheduled or its schedule has ended. */
  nextFireAt(flowName: string): Date | undefined {
    return this.#entries.get(flowName)?.nextAt;
  }

  /** The flows scheduled now. */
  scheduledFlows(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * Follow the store (the distributed mode, where StartFlow, StopFlow and UpdateFlow may reach another service
   * process): schedules Active flows it does not have (as {@link start} does, catching up from their last fire),
   * reschedules those whose trigger changed, and drops those no longer Active. `triggers` remembers each flow's
   * trigger as last seen (the caller keeps it between calls).
   */
  async sync(triggers: Map<string, string>): Promise<void> {
    if (this.#closed) return;
    const active = await this.#deps.store.listActive();
    const names = new Set(active.map((f) => f.flowName));
    for (const name of this.scheduledFlows()) {
      if (!names.has(name)) {
        this.deactivate(name);
        triggers.delete(name);
      }
    }
    for (const flow of active) {
      const trigger = JSON.stringify(flow.triggerConfig);
      const seen = triggers.get(flow.flowName);
      triggers.set(flow.flowName, trigger);
      if (seen !== undefined && seen !== trigger && this.#entries.has(flow.flowName)) {
        try {
          this.update(flow);
        } catch (error) {
          if (!(error instanceof ForceflowError)) throw error;
          this.#log.error({ flow: flow.flowName, code: error.code }, error.message);
        }
      }
    }
    await this.start();
  }

  /** Whether the flow is scheduled (activated and not deactivated or suspended since). */
  isScheduled(flowName: string): boolean {
    return this.#entries.has(flowName);
  }

  /** Cancels every timer and stops listening to the executor; waits for fires being recorded. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of [...this.#entries.values()]) this.#drop(entry);
    this.#unsubscribe();
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  // -------------------------------------------------------------------------------------------------

  #arm(flow: ScheduledFlow, cursor: number, failures: number, resuming: boolean): void {
    this.#armWith(flow, scheduleOf(flow), cursor, failures, resuming ? this.#deps.clock.now().getTime() : undefined);
  }

  #armWith(flow: ScheduledFlow, schedule: Schedule, cursor: number, failures: number, resumedAt: number | undefined): void {
    const entry: Entry = {
      flowName: flow.flowName,
      schedule,
      threshold: flow.triggerConfig.triggerProperties?.Scheduled?.flowErrorDeactivationThreshold,
      cursor,
      failures,
      resumedAt,
      nextAt: undefined,
      cancelTimer: undefined,
    };
    const old = this.#entries.get(flow.flowName);
    if (old) this.#drop(old);
    this.#entries.set(flow.flowName, entry);
    this.#check(entry);
  }

  #drop(entry: Entry): void {
    entry.cancelTimer?.();
    entry.cancelTimer = undefined;
    entry.nextAt = undefined;
    if (this.#entries.get(entry.flowName) === entry) this.#entries.delete(entry.flowName);
  }

  /** Acts on the fires due now (one run for all of them), then waits for the next one. */
  #check(entry: Entry): void {
    if (this.#entries.get(entry.flowName) !== entry) return;
    entry.cancelTimer = undefined;
    const now = this.#deps.clock.now().getTime();
    const [first, second] = nextFireTimes(entry.schedule, { after: new Date(entry.cursor), count: 2 });
    if (first === undefined) {
      this.#wait(entry, undefined);
      return;
    }
    if (first.getTime() > now) {
      this.#wait(entry, first);
      return;
    }
    const catchUp = (second !== undefined && second.getTime() <= now) || (entry.resumedAt !== undefined && first.getTime() < entry.resumedAt);
    entry.cursor = catchUp ? now + CATCH_UP_SPACING_MS - 1 : now;
    this.#wait(entry, nextFireTimes(entry.schedule, { after: new Date(entry.cursor) })[0]);
    this.#track(this.#fire(entry.flowName, { scheduledAt: first, firedAt: new Date(now), catchUp }));
  }

  #wait(entry: Entry, at: Date | undefined): void {
    entry.nextAt = at;
    if (at === undefined) {
      this.#log.info({ flow: entry.flowName }, `The schedule of flow ${entry.flowName} has no more fire times (scheduleEndTime or the cron fields); the flow stays Active and runs no more.`);
      return;
    }
    entry.cancelTimer = this.#deps.clock.setTimer(at, () => {
      try {
        this.#check(entry);
      } catch (error) {
        // A bug, not a flow's fault: the flow stops firing rather than the service stopping.
        this.#drop(entry);
        this.#log.error({ flow: entry.flowName, err: error }, `The schedule of flow ${entry.flowName} failed and was stopped (INTERNAL); restart the flow with stop-flow and start-flow.`);
      }
    });
  }

  async #fire(flowName: string, fire: { scheduledAt: Date; firedAt: Date; catchUp: boolean }): Promise<void> {
    const base = { flowName, ...fire };
    let record: FireRecord;
    const log = this.#log.child({ flow: flowName });
    try {
      const started = await this.#deps.executor.start(flowName, { startedBy: 'schedule', scheduledAt: fire.scheduledAt });
      if ('skipped' in started && started.skipped === 'duplicate') {
        // Another service process (the distributed mode) enqueued this fire and records it.
        log.debug({ scheduledAt: fire.scheduledAt.toISOString() }, 'fire enqueued by another service process');
        return;
      }
      if ('skipped' in started) {
        record = { ...base, outcome: 'skipped', reason: 'A run of the flow was still in progress; a flow never runs twice at once, so this fire was skipped.' };
        log.warn({ scheduledAt: fire.scheduledAt.toISOString() }, `Skipped the fire of ${fire.scheduledAt.toISOString()}: a run of the flow is still in progress.`);
      } else {
        record = { ...base, outcome: 'started', executionId: started.executionId };
        log.info({ scheduledAt: fire.scheduledAt.toISOString(), executionId: started.executionId, catchUp: fire.catchUp }, fire.catchUp ? 'Started a catch-up run for missed fires.' : 'Started a scheduled run.');
      }
    } catch (error) {
      const reason = error instanceof ForceflowError ? `${error.code}: ${error.message}` : 'The run could not be started (an internal error; see the service log).';
      record = { ...base, outcome: 'failed', reason };
      if (error instanceof ForceflowError) log.error({ code: error.code }, `A scheduled run could not start: ${error.message}`);
      else log.error({ err: error }, 'A scheduled run could not start.');
      this.#countFailure(flowName, 'a scheduled run that could not start');
    }
    try {
      await this.#deps.store.recordFire(record);
    } catch (error) {
      this.#storeFailed(flowName, 'recordFire', error);
    }
  }

  #onFinished(run: RunFinished): void {
    if (run.startedBy !== 'schedule') return;
    const entry = this.#entries.get(run.flowName);
    if (!entry) return;
    if (run.status === 'Successful') entry.failures = 0;
    else if (run.status === 'Error') this.#countFailure(run.flowName, `run ${run.executionId}`);
  }

  #countFailure(flowName: string, last: string): void {
    const entry = this.#entries.get(flowName);
    if (!entry || this.#deps.failuresCountedElsewhere === true) return;
    entry.failures += 1;
    const threshold = entry.threshold;
    if (threshold === undefined || entry.failures < threshold) return;
    const reason = deactivationReason(entry.failures, threshold, last);
    this.#drop(entry);
    this.#log.warn({ flow: flowName, failures: entry.failures, threshold }, reason);
    this.#track(this.#deps.store.suspend(flowName, reason).catch((e: unknown) => this.#storeFailed(flowName, 'suspend', e)));
  }

  #storeFailed(flowName: string, what: string, error: unknown): void {
    const code = error instanceof ForceflowError ? error.code : undefined;
    this.#log.error({ flow: flowName, code, err: error instanceof ForceflowError ? undefined : error }, `The flow store refused ${what} for flow ${flowName}.`);
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    const done = (): void => { this.#pending.delete(p); };
    p.then(done, done);
  }
}
