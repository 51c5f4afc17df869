import { pino } from 'pino';
import type { Logger } from '../../src/core/logger.ts';
import type { Clock } from '../../src/service/clock.ts';
import { Scheduler } from '../../src/service/scheduler.ts';
import type { FireRecord, RunFinished, ScheduledFlow, SchedulerExecutor, SchedulerStore } from '../../src/service/scheduler.ts';
import type { FlowDefinition } from '../../src/flows/schema.ts';

/**
 * What the scheduler tests drive it with: a manual clock, and in-memory versions of the two narrow
 * interfaces the scheduler defines (the service wires the real flow store and executor to them).
 */

/** Lets pending promise chains and setImmediate callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** A clock that moves only when told to; its timers fire in time order as it passes them. */
export class ManualClock implements Clock {
  #t: number;
  #seq = 0;
  #timers: ManualTimer[] = [];
  /** Every instant a timer was asked for, in order (to check a fire is aimed at its exact time). */
  readonly requested: Date[] = [];

  constructor(start: Date | string) {
    this.#t = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#t);
  }

  setTimer(at: Date, fn: () => void): () => void {
    const timer = { at: at.getTime(), seq: this.#seq++, fn };
    this.requested.push(new Date(at.getTime()));
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves to `to`, firing each timer due on the way at its own instant, in order. */
  async advanceTo(to: Date | string): Promise<void> {
    const target = new Date(to).getTime();
    for (;;) {
      await settle();
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#t = Math.max(this.#t, due.at);
      due.fn();
    }
    this.#t = Math.max(this.#t, target);
    await settle();
  }

  async advanceBy(ms: number): Promise<void> {
    await this.advanceTo(new Date(this.#t + ms));
  }

  /** Jumps to `to` without firing anything (the service was down meanwhile). */
  jumpTo(to: Date | string): void {
    this.#t = new Date(to).getTime();
  }
}

export interface Run {
  readonly executionId: string;
  readonly flowName: string;
  readonly startedAt: Date;
  status: 'InProgress' | 'Successful' | 'Error' | 'Canceled';
}

/** An executor that starts "runs" which end when the test says so; one run per flow at a time. */
export class MemoryExecutor implements SchedulerExecutor {
  readonly runs: Run[] = [];
  #listeners = new Set<(run: RunFinished) => void>();
  #n = 0;
  /** When set, start() throws it (a run that cannot start at all). */
  failStart: Error | undefined;
  /** When set, every run ends with this status as soon as it starts (on the next turn). */
  autoFinish: 'Successful' | 'Error' | 'Canceled' | undefined;

  constructor(private readonly clock: Clock) {}

  async start(flowName: string, options: { readonly startedBy: 'schedule' }): Promise<{ executionId: string } | { skipped: 'running' }> {
    await Promise.resolve();
    if (this.failStart) throw this.failStart;
    if (this.runs.some((r) => r.flowName === flowName && r.status === 'InProgress')) return { skipped: 'running' };
    this.#n += 1;
    const run: Run = { executionId: `exec-${this.#n}`, flowName, startedAt: this.clock.now(), status: 'InProgress' };
    this.runs.push(run);
    if (this.autoFinish) {
      const status = this.autoFinish;
      setImmediate(() => this.finish(flowName, status, options.startedBy));
    }
    return { executionId: run.executionId };
  }

  onFinished(listener: (run: RunFinished) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends the flow's run in progress with `status`. */
  finish(flowName: string, status: 'Successful' | 'Error' | 'Canceled', startedBy = 'schedule'): void {
    const run = this.runs.find((r) => r.flowName === flowName && r.status === 'InProgress');
    if (!run) throw new Error(`no run of ${flowName} in progress`);
    run.status = status;
    for (const listener of this.#listeners) listener({ flowName, executionId: run.executionId, startedBy, status });
  }

  isRunning(flowName: string): boolean {
    return this.runs.some((r) => r.flowName === flowName && r.status === 'InProgress');
  }

  /** Start times of the flow's runs, as ISO strings. */
  startTimes(flowName: string): string[] {
    return this.runs.filter((r) => r.flowName === flowName).map((r) => r.startedAt.toISOString());
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}

interface StoredFlow {
  flow: ScheduledFlow;
  status: 'Active' | 'Suspended';
  message?: string;
}

/** A flow store in memory: flows with their status, and the fires log. */
export class MemoryStore implements SchedulerStore {
  readonly flows = new Map<string, StoredFlow>();
  readonly fires: FireRecord[] = [];

  put(flow: ScheduledFlow, status: 'Active' | 'Suspended' = 'Active'): void {
    this.flows.set(flow.flowName, { flow, status });
  }

  async listActive(): Promise<ScheduledFlow[]> {
    await Promise.resolve();
    return [...this.flows.values()].filter((f) => f.status === 'Active').map(({ flow }) => {
      const last = this.fires.filter((r) => r.flowName === flow.flowName).map((r) => r.firedAt.getTime()).sort((a, b) => b - a)[0];
      return last === undefined ? flow : { ...flow, lastFireAt: new Date(last) };
    });
  }

  async recordFire(fire: FireRecord): Promise<void> {
    await Promise.resolve();
    this.fires.push(fire);
  }

  async suspend(flowName: string, reason: string): Promise<void> {
    await Promise.resolve();
    const stored = this.flows.get(flowName);
    if (!stored) throw new Error(`no flow ${flowName}`);
    stored.status = 'Suspended';
    stored.message = reason;
  }

  firesOf(flowName: string): FireRecord[] {
    return this.fires.filter((f) => f.flowName === flowName);
  }
}

export function silentLog(): Logger {
  return pino({ level: 'silent' });
}

export interface Harness {
  readonly clock: ManualClock;
  readonly store: MemoryStore;
  readonly executor: MemoryExecutor;
  readonly scheduler: Scheduler;
}

export function harness(start: string, parts: { store?: MemoryStore; executor?: MemoryExecutor; clock?: ManualClock; log?: Logger; failuresCountedElsewhere?: boolean } = {}): Harness {
  const clock = parts.clock ?? new ManualClock(start);
  const store = parts.store ?? new MemoryStore();
  const executor = parts.executor ?? new MemoryExecutor(clock);
  const scheduler = new Scheduler({ clock, store, executor, log: parts.log ?? silentLog(), ...(parts.failuresCountedElsewhere === undefined ? {} : { failuresCountedElsewhere: parts.failuresCountedElsewhere }) });
  return { clock, store, executor, scheduler };
}

type Scheduled = NonNullable<NonNullable<FlowDefinition['triggerConfig']['triggerProperties']>['Scheduled']>;

/** A Scheduled flow activated at `activatedAt`. */
export function scheduledFlow(flowName: string, scheduled: Scheduled, activatedAt: Date | string): ScheduledFlow {
  return { flowName, triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: scheduled } }, activatedAt: new Date(activatedAt) };
}
