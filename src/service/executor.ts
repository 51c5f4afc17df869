import { randomUUID } from 'node:crypto';
import { ForceflowError, toForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../connectors/s3/client.ts';
import { cleanupFlow } from '../flows/cleanup.ts';
import { acquireFlowLock } from '../flows/lock.ts';
import { runFlow, type Progress, type ProfileResolver, type RunFlowOptions, type StartedRun } from '../flows/runner.ts';
import type { ExecutionRecord } from '../flows/run-record.ts';
import type { RunStateStore } from '../flows/state.ts';
import type { FlowStore } from './flows/store.ts';

export type StartedBy = 'schedule' | 'manual';

/** The end of a run, as the scheduler hears it (flowErrorDeactivationThreshold counts `consecutiveFailures`). */
export interface RunFinished {
  readonly flowName: string;
  readonly executionId: string;
  readonly startedBy: StartedBy;
  readonly status: ExecutionRecord['executionStatus'];
  /** Failed scheduled runs of the flow in a row, this one included (0 after a successful run; 0 for manual runs). */
  readonly consecutiveFailures: number;
  readonly record: ExecutionRecord;
}

/**
 * A start's outcome: the run's executionId, or skipped because a run of the flow is going, or (the distributed
 * mode's scheduled fires) because another service process enqueued this very fire already.
 */
export type StartOutcome = { readonly executionId: string } | { readonly skipped: 'running'; readonly executionId?: string } | { readonly skipped: 'duplicate'; readonly executionId: string };

export interface StartOptions {
  readonly startedBy: StartedBy;
  readonly executionId?: string;
  /** A scheduled fire's schedule time: the distributed mode derives the executionId from it (one run per fire). */
  readonly scheduledAt?: Date;
}

/** What the service shows for a run still going: the record as started, with live counts and a requested cancel. */
export interface LiveRun {
  readonly executionId: string;
  readonly cancelRequested: boolean;
  readonly progress: Progress | undefined;
}

export interface CancelOutcome { readonly invalid: string[]; readonly canceled: string[] }

export interface Executor {
  /**
   * Start a run of a stored flow, in this process. Resolves once the run holds the flow's lock and its record is
   * saved InProgress (so an immediate DescribeFlowExecutionRecords finds it), or `{ skipped: 'running' }` when a
   * run of the flow is going (here, or in another process holding its lock). Throws FLOW_INVALID / RUN_NOT_FOUND
   * style errors when the run cannot start, and SERVICE_STOPPING while draining.
   */
  start(flowName: string, options: StartOptions): Promise<StartOutcome>;
  /**
   * Cancel runs of a flow in progress here (all of them when `executionIds` is omitted). Returns the ids that
   * could not be cancelled (unknown, finished, or not running in this process).
   */
  cancel(flowName: string, executionIds?: readonly string[]): CancelOutcome | Promise<CancelOutcome>;
  /** The runs of a flow going on in this process (the distributed mode: queued or running on any worker). */
  live(flowName: string): LiveRun[] | Promise<LiveRun[]>;
  /** Subscribe to run ends; returns the unsubscribe function. */
  onFinished(listener: (event: RunFinished) => void): () => void;
  /** Wait for the run to end (resolves at once when it is not running here). */
  finished(executionId: string): Promise<void>;
  /**
   * Stop taking work, let runs finish within `graceMs`, then cancel the rest; a run that has not ended
   * `forceMs` later is recorded Canceled by force. Every run ends with a final status. Runs still starting
   * share the grace period and are cancelled when it ends (a start that hangs does not hold the drain).
   */
  drain(graceMs: number, forceMs?: number): Promise<void>;
  /**
   * At service start: runs recorded InProgress whose process is gone (killed, crashed) are marked Error
   * (RUN_INTERRUPTED), their staging discarded and Bulk jobs stopped, as `forceflow runs cleanup` does, under each
   * flow's lock (a flow whose lock a live run holds is left alone). Returns the executionIds marked.
   */
  recoverInterrupted(): Promise<string[]>;
}

export interface ExecutorOptions {
  readonly flows: FlowStore;
  readonly state: RunStateStore;
  /** Connector profiles by name (the service's profile store). */
  readonly profiles: ProfileResolver;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Extra runFlow options for every run (S3 client, Salesforce retry and Bulk polling, size guard). */
  readonly runOptions?: Pick<RunFlowOptions, 's3Client' | 'salesforce' | 'maxBytes' | 'lockLeaseMs' | 'invalidUtf8' | 'defaultLookbackSeconds' | 'registry'>;
}

interface Run {
  readonly flowName: string;
  readonly executionId: string;
  readonly startedBy: StartedBy;
  readonly controller: AbortController;
  cancelRequested: boolean;
  progress: Progress | undefined;
  started: StartedRun | undefined;
  /** Recorded Canceled by force (drain): its late end is not reported again. */
  forced: boolean;
  done: Promise<void>;
}

/** The definition runFlow runs: the stored members, the name, and the schemaVersion DescribeFlow shows. */
function definitionOf(flow: { name: string; definition: Record<string, unknown>; schemaVersion: number }): Record<string, unknown> {
  return { ...flow.definition, flowName: flow.name, schemaVersion: flow.schemaVersion };
}

/** The in-process executor: its cancel and live answer at once. */
export interface LocalExecutor extends Executor {
  cancel(flowName: string, executionIds?: readonly string[]): CancelOutcome;
  live(flowName: string): LiveRun[];
}

export function createExecutor(options: ExecutorOptions): LocalExecutor {
  const now = options.now ?? (() => new Date());
  const runs = new Map<string, Run>();
  /** Flows with a start under way (between the check and the lock), so two starts here cannot race. */
  const starting = new Set<string>();
  /** Starts under way, which drain waits for so a run starting as the service stops is drained too. */
  const pendingStarts = new Set<Promise<unknown>>();
  /** Runs between start and onStarted (taking the lock, cleaning up after interrupted runs), by executionId: their cancel. */
  const preparing = new Map<string, AbortController>();
  const listeners = new Set<(event: RunFinished) => void>();
  let draining = false;

  const emit = (event: RunFinished): void => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        options.log.error({ err: (error as Error).message }, 'a run-finished listener failed');
      }
    }
  };

  const runningOf = (flowName: string): Run | undefined => [...runs.values()].find((r) => r.flowName === flowName);

  const stoppingError = (flowName: string): ForceflowError => new ForceflowError('SERVICE_STOPPING', `The service is stopping and starts no new runs; flow "${flowName}" was not started. Start it again once the service is back.`, { details: { flowName } });

  async function startRun(flowName: string, startedBy: StartedBy, executionId: string): Promise<StartOutcome> {
    const flow = await options.flows.get(flowName).catch((error: unknown) => {
      starting.delete(flowName);
      throw error;
    });
    if (!flow) {
      starting.delete(flowName);
      throw new ForceflowError('RUN_NOT_FOUND', `Flow "${flowName}" does not exist.`, { details: { flowName } });
    }
    if (draining) {
      // The drain began while the flow was read: not started, so handed back (the worker) or refused (StartFlow).
      starting.delete(flowName);
      throw stoppingError(flowName);
    }
    const log = options.log.child({ flow: flowName, executionId, startedBy });
    const run: Run = { flowName, executionId, startedBy, controller: new AbortController(), cancelRequested: false, progress: undefined, started: undefined, forced: false, done: Promise.resolve() };
    preparing.set(executionId, run.controller);
    let onStarted!: () => void;
    const startedSignal = new Promise<void>((resolve) => { onStarted = resolve; });
    const result = runFlow({
      ...options.runOptions,
      flow: definitionOf(flow),
      profiles: options.profiles,
      state: options.state,
      log,
      now,
      executionId,
      startedBy,
      signal: run.controller.signal,
      onProgress: (p) => { run.progress = p; },
      onStarted: (started) => {
        preparing.delete(executionId);
        run.started = started;
        runs.set(executionId, run);
        starting.delete(flowName);
        onStarted();
      },
    });
    run.done = result.then(async (record) => {
      runs.delete(executionId);
      if (run.forced) return;
      let consecutiveFailures = 0;
      try {
        // flowErrorDeactivationThreshold counts scheduled runs only.
        if (startedBy === 'schedule') consecutiveFailures = await options.flows.recordRunEnd(flowName, record.executionStatus);
      } catch (error) {
        log.error({ err: (error as Error).message }, 'could not count the run in the flow store');
      }
      emit({ flowName, executionId, startedBy, status: record.executionStatus, consecutiveFailures, record });
    }, () => {
      runs.delete(executionId);
    });
    try {
      await Promise.race([startedSignal, result]);
    } catch (error) {
      preparing.delete(executionId);
      starting.delete(flowName);
      const e = toForceflowError(error);
      if (e.code === 'FLOW_LOCKED') {
        const holder = (e.details as { holder?: { executionId?: string } } | undefined)?.holder?.executionId;
        return { skipped: 'running', ...(holder === undefined ? {} : { executionId: holder }) };
      }
      throw e;
    }
    starting.delete(flowName);
    return { executionId };
  }

  return {
    start(flowName, { startedBy, executionId = randomUUID() }) {
      if (draining) return Promise.reject(stoppingError(flowName));
      const going = runningOf(flowName);
      if (going) return Promise.resolve({ skipped: 'running', executionId: going.executionId });
      if (starting.has(flowName)) return Promise.resolve({ skipped: 'running' });
      // Taken before the first await: of two starts of one flow at the same time, one goes on.
      starting.add(flowName);
      // Tracked before the first await too: a drain from now on waits for this start. One that began while the flow
      // was read used to find nothing to wait for, and the run then started anyway and was never cancelled (a
      // worker's close waited for a 10-minute Bulk export: test/service/queue.test.ts's drain, under load).
      const started = startRun(flowName, startedBy, executionId);
      const tracked = started.catch(() => undefined);
      pendingStarts.add(tracked);
      void tracked.finally(() => pendingStarts.delete(tracked));
      return started;
    },

    cancel(flowName, executionIds) {
      const mine = [...runs.values()].filter((r) => r.flowName === flowName);
      const targets = executionIds === undefined ? mine : executionIds.map((id) => mine.find((r) => r.executionId === id) ?? id);
      const invalid: string[] = [];
      const canceled: string[] = [];
      for (const t of targets) {
        if (typeof t === 'string') {
          invalid.push(t);
          continue;
        }
        t.cancelRequested = true;
        t.controller.abort();
        canceled.push(t.executionId);
      }
      return { invalid, canceled };
    },

    live(flowName) {
      return [...runs.values()].filter((r) => r.flowName === flowName).map((r) => ({ executionId: r.executionId, cancelRequested: r.cancelRequested, progress: r.progress }));
    },

    onFinished(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async finished(executionId) {
      await runs.get(executionId)?.done;
    },

    async recoverInterrupted() {
      const flowNames = [...new Set((await options.state.unfinishedRuns()).map((r) => r.flowName))].filter((name) => runningOf(name) === undefined);
      const marked: string[] = [];
      let s3: S3Client | undefined;
      for (const flowName of flowNames) {
        const executionId = `recovery-${randomUUID()}`;
        const log = options.log.child({ flow: flowName });
        let lock;
        try {
          lock = await acquireFlowLock({ state: options.state, flowName, executionId, log, now });
        } catch (error) {
          if (toForceflowError(error).code === 'FLOW_LOCKED') continue; // a live run: not interrupted
          throw error;
        }
        try {
          const report = await cleanupFlow(flowName, {
            state: options.state, log, now,
            s3Client: () => (s3 ??= options.runOptions?.s3Client ?? createS3Client()),
            profile: (name) => options.profiles(name ?? undefined, 'source'),
            ...(options.runOptions?.registry ? { registry: options.runOptions.registry } : {}),
          }, { executionId, by: 'the service at start' });
          marked.push(...report.interrupted);
          if (report.interrupted.length > 0) log.warn({ interrupted: report.interrupted }, 'runs interrupted by the end of an earlier service process were marked Error');
        } catch (error) {
          log.error({ err: (error as Error).message }, 'could not clean up interrupted runs; the next run of the flow tries again');
        } finally {
          await lock.release();
        }
      }
      return marked;
    },

    async drain(graceMs, forceMs = 10_000) {
      draining = true;
      const deadline = Date.now() + graceMs;
      /** Whether `work()` settles within `ms`. */
      const settlesWithin = async (work: () => Promise<unknown>, ms: number): Promise<boolean> => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
        try {
          return await Promise.race([work().then(() => true as const), timeout]);
        } finally {
          clearTimeout(timer);
        }
      };
      // Starts under way (a run taking its lock, cleaning up after interrupted runs) share the grace period; one
      // still starting when it ends is cancelled like a running run, so a start that hangs cannot hold the drain.
      const starts = (): Promise<unknown> => Promise.allSettled([...pendingStarts]);
      if (!(await settlesWithin(starts, graceMs))) {
        options.log.warn({ runs: [...preparing.keys()] }, `runs still starting after the ${graceMs} ms grace period: cancelling them`);
        for (const controller of preparing.values()) controller.abort();
        if (!(await settlesWithin(starts, forceMs))) options.log.error({ runs: [...preparing.keys()] }, 'a cancelled run start did not stop in time: the service stops without it');
      }
      const all = (): Promise<void> => Promise.all([...runs.values()].map((r) => r.done)).then(() => undefined);
      const within = (ms: number): Promise<boolean> => settlesWithin(all, ms);
      if (runs.size === 0 || (await within(Math.max(0, deadline - Date.now())))) return;
      options.log.warn({ runs: [...runs.keys()] }, `runs still going after the ${graceMs} ms grace period: cancelling them`);
      for (const r of runs.values()) {
        r.cancelRequested = true;
        r.controller.abort();
      }
      if (await within(forceMs)) return;
      for (const r of [...runs.values()]) {
        options.log.error({ executionId: r.executionId }, 'a cancelled run did not stop in time: recording it Canceled');
        runs.delete(r.executionId);
        r.forced = true;
        try {
          const record = await r.started?.endByForce('The service stopped and the run did not stop within its grace period; it was recorded Canceled.');
          if (record) emit({ flowName: r.flowName, executionId: r.executionId, startedBy: r.startedBy, status: record.executionStatus, consecutiveFailures: r.startedBy === 'schedule' ? await options.flows.recordRunEnd(r.flowName, record.executionStatus) : 0, record });
        } catch (error) {
          options.log.error({ err: (error as Error).message }, 'could not record the run Canceled');
        }
      }
    },
  };
}
