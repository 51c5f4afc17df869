import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { S3Client } from '@aws-sdk/client-s3';
import type PgBoss from 'pg-boss';
import { ForceflowError, toForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { createS3Client } from '../connectors/s3/client.ts';
import { cleanupFlow } from '../flows/cleanup.ts';
import { acquireFlowLock } from '../flows/lock.ts';
import type { ExecutionRecord } from '../flows/run-record.ts';
import type { RunStateStore } from '../flows/state.ts';
import { createExecutor, type ExecutorOptions } from './executor.ts';
import type { FlowStore } from './flows/store.ts';
import { endUnstartedRun, RUN_QUEUE, runJobSchema, sendRunJob, suspendOverThreshold, type ClaimRow, type RunClaims, type RunJob } from './queue.ts';

/**
 * The run worker of the distributed mode (`forceflow worker`, or `serve --run-flows`): it takes run jobs from
 * the pg-boss queue, `concurrency` at a time, and runs each with the in-process executor (the same runFlow,
 * flow lock, staging and cleanup as the SQLite mode). docs/service.md ("Distributed mode") tells the rules:
 *
 * - Lease: every run it holds has its claim row's `lease_until` renewed every third of `leaseMs` (and the
 *   flow lock its heartbeat). Every worker also watches for runs whose lease ran out (their worker was killed,
 *   or its machine is gone): such a run is lost.
 * - A lost run that had started writing (a run resource recorded: staging, a Bulk job; or a Salesforce write
 *   journal entry) ends Error WORKER_LOST, its staging is discarded and its Bulk jobs stopped (cleanupFlow), its
 *   window is not advanced, and it is not run again. One that had not written anything is queued again once
 *   (attempt 2, noted on its record); lost a second time, it ends WORKER_LOST.
 * - Cancel: the worker polls its runs' cancel flags every second.
 * - Drain (close): no new jobs; running runs get the grace period, then are cancelled (executor.drain).
 */
export interface RunWorkerOptions {
  readonly boss: PgBoss;
  readonly claims: RunClaims;
  readonly flows: FlowStore;
  readonly state: RunStateStore;
  readonly profiles: ExecutorOptions['profiles'];
  readonly log: Logger;
  readonly now: () => Date;
  readonly runOptions?: ExecutorOptions['runOptions'];
  /** Runs at once (default 1). */
  readonly concurrency?: number;
  readonly leaseMs: number;
  /** How often to look for cancels (default 1000 ms). */
  readonly cancelPollMs?: number;
}

export interface RunWorker {
  /** This worker's identity in claim rows (host:pid:random). */
  readonly id: string;
  /** Runs being run here now. */
  running(): string[];
  /** Look for lost runs now (also done on a timer). Returns the executionIds ended or queued again. */
  reap(): Promise<string[]>;
  /** Stop taking jobs, let runs finish within `graceMs` (then cancel them), stop. */
  close(graceMs: number): Promise<void>;
}

/** A queued run with no job after this long lost its service process between recording it and sending its job. */
const UNSENT_AFTER_MS = 60_000;

const RETRY_NOTE = 'Its first worker was lost before the run wrote anything; the run was queued again once (attempt 2).';

export async function startRunWorker(options: RunWorkerOptions): Promise<RunWorker> {
  const { boss, claims, flows, state, log, now, leaseMs } = options;
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const wlog = log.child({ component: 'worker', worker: id });
  const executor = createExecutor({
    flows, state, profiles: options.profiles, log: wlog, now,
    runOptions: { ...options.runOptions, lockLeaseMs: leaseMs },
  });
  /** executionId → flowName of the runs this worker holds. */
  const mine = new Map<string, string>();
  const handlers = new Set<Promise<unknown>>();
  let stopping = false;
  let s3: S3Client | undefined;

  // flowErrorDeactivationThreshold, counted where the runs end, in the shared flow store (`consecutive_failures`,
  // incremented atomically by recordRunEnd: the executor for runs that ran, handle() for scheduled runs that could
  // not start, reapOne() for lost ones); serve's scheduler drops the suspended flow at its next sync.
  const suspending = new Set<Promise<void>>();
  executor.onFinished((event) => {
    if (event.startedBy !== 'schedule' || event.status !== 'Error') return;
    const p = suspendIfOverThreshold(event.flowName, event.consecutiveFailures, `run ${event.executionId}`);
    suspending.add(p);
    void p.finally(() => suspending.delete(p));
  });

  async function suspendIfOverThreshold(flowName: string, failures: number, last: string): Promise<void> {
    await suspendOverThreshold(flows, flowName, failures, last, wlog);
  }

  async function handle(job: PgBoss.Job<unknown>): Promise<void> {
    const parsed = runJobSchema.safeParse(job.data);
    if (!parsed.success) {
      wlog.error({ jobId: job.id }, 'a run job with unreadable data was dropped');
      return;
    }
    const run = parsed.data;
    const rlog = wlog.child({ flow: run.flowName, executionId: run.executionId, attempt: run.attempt });
    if (stopping || !(await claims.take(run.executionId, id, leaseMs, job.id))) {
      if (stopping) await sendRunJob(boss, claims, run).catch((error: unknown) => rlog.error({ err: (error as Error).message }, 'could not hand the job back'));
      return; // cancelled while queued, or handed back
    }
    mine.set(run.executionId, run.flowName);
    let ended = false;
    try {
      let outcome;
      try {
        outcome = await executor.start(run.flowName, { startedBy: run.startedBy, executionId: run.executionId });
      } catch (error) {
        const e = toForceflowError(error);
        if (e.code === 'SERVICE_STOPPING' && (await claims.handBack(run.executionId, id))) {
          ended = true; // not ended: handed back to the queue for another worker
          await sendRunJob(boss, claims, run);
          rlog.info('the worker is stopping: the run was handed back to the queue');
          return;
        }
        await endUnstartedRun(state, run.executionId, run.flowName, e, now());
        rlog.warn({ code: e.code }, `the run could not start: ${e.message}`);
        // A scheduled run that could not start counts as a failed one (the scheduler's rule on SQLite).
        if (run.startedBy === 'schedule') await suspendIfOverThreshold(run.flowName, await flows.recordRunEnd(run.flowName, 'Error'), `run ${run.executionId} (it could not start: ${e.code})`);
        return;
      }
      if ('skipped' in outcome) {
        const holder = outcome.executionId === undefined ? 'another run' : `run ${outcome.executionId}`;
        await endUnstartedRun(state, run.executionId, run.flowName, new ForceflowError('FLOW_LOCKED', `Flow "${run.flowName}" was already running (${holder} holds its lock, e.g. forceflow run on the same state); a flow never runs twice at once, so this run did not start.`), now());
        return;
      }
      rlog.info('run started');
      await executor.finished(run.executionId);
      // The claim counts attempts whatever job carried the run (a lost worker's job is failed, a new one sent).
      if (((await claims.get(run.executionId))?.attempts ?? run.attempt) > 1) await noteRetry(run.executionId);
    } finally {
      mine.delete(run.executionId);
      if (!ended) await claims.finish(run.executionId).catch((error: unknown) => rlog.error({ err: (error as Error).message }, 'could not end the run claim'));
    }
  }

  async function noteRetry(executionId: string): Promise<void> {
    const record = await state.run(executionId);
    if (!record || record.notes.includes(RETRY_NOTE)) return;
    await state.saveRun({ ...record, notes: [...record.notes, RETRY_NOTE] });
  }

  async function hasWritten(row: ClaimRow): Promise<boolean> {
    if ((await state.runResources(row.execution_id)).length > 0) return true;
    const open = (await state.writeJournal?.open(row.flow_name)) ?? [];
    return open.some((e) => e.executionId === row.execution_id);
  }

  function lostRecord(record: ExecutionRecord, at: Date, retried: boolean): ExecutionRecord {
    const error = new ForceflowError('WORKER_LOST', `The worker running this run stopped renewing its lease (killed, crashed, or its machine is gone)${retried ? ', on its second attempt' : ''}. Its staged output was discarded, its Bulk query jobs stopped and its incremental window not advanced; it was not run again, because it had started writing. The flow's next run goes on normally.`);
    return {
      ...record,
      executionStatus: 'Error',
      lastUpdatedAt: at.toISOString(),
      executionResult: { ...record.executionResult, errorInfo: { ...record.executionResult.errorInfo, executionMessage: error.message } },
      error: { code: error.code, kind: error.kind, message: error.message },
      notes: retried && !record.notes.includes(RETRY_NOTE) ? [...record.notes, RETRY_NOTE] : record.notes,
    };
  }

  async function reapOne(row: ClaimRow): Promise<boolean> {
    const rlog = wlog.child({ flow: row.flow_name, executionId: row.execution_id, lostWorker: row.worker });
    const reaperId = `reaper-${randomUUID()}`;
    let lock;
    try {
      // The lost run's lock: taken over at once when its process is gone on this host, else after its lease.
      lock = await acquireFlowLock({ state, flowName: row.flow_name, executionId: reaperId, log: rlog, now, leaseMs });
    } catch (error) {
      if (toForceflowError(error).code === 'FLOW_LOCKED') return false; // its worker's lock still lives: later
      throw error;
    }
    let released = false;
    try {
      const current = await claims.get(row.execution_id);
      if (current?.status !== 'running' || current.worker !== row.worker || Number(current.lease_until) >= Date.now()) return false; // handled meanwhile
      const record = await state.run(row.execution_id);
      const written = await hasWritten(row);
      const job: RunJob = { flowName: row.flow_name, executionId: row.execution_id, startedBy: row.started_by === 'schedule' ? 'schedule' : 'manual', attempt: row.attempts + 1 };
      if (!written && row.attempts < 2 && record?.executionStatus === 'InProgress') {
        if (row.job_id !== null) await boss.fail(RUN_QUEUE, row.job_id, { reason: 'worker lost; queued again once' }).catch(() => undefined);
        // The lock is let go before the run can be taken again, so its next worker finds the flow free.
        released = true;
        await lock.release();
        if (!(await claims.requeue(row.execution_id, RETRY_NOTE))) return false; // another worker's watch did it
        await sendRunJob(boss, claims, job);
        rlog.warn('a worker was lost before its run wrote anything: the run was queued again once');
        return true;
      }
      if (record?.executionStatus === 'InProgress') await state.saveRun(lostRecord(record, now(), row.attempts > 1));
      await cleanupFlow(row.flow_name, {
        state, log: rlog, now,
        s3Client: () => (s3 ??= options.runOptions?.s3Client ?? createS3Client()),
        profile: (name) => options.profiles(name ?? undefined, 'source'),
        ...(options.runOptions?.registry ? { registry: options.runOptions.registry } : {}),
      }, { executionId: reaperId, by: 'the lost worker\'s lease running out' });
      // The lock goes before the claim ends: once the claim is done a new run of the flow may be queued at once
      // (StartFlow refuses a flow whose lock is held), so it must find the flow free.
      released = true;
      await lock.release();
      await claims.finish(row.execution_id, 'worker lost');
      if (row.job_id !== null) await boss.fail(RUN_QUEUE, row.job_id, { reason: 'worker lost' }).catch(() => undefined);
      rlog.error('a worker was lost mid-run: the run ended Error (WORKER_LOST), its staging discarded; it is not run again');
      if (job.startedBy === 'schedule') await suspendIfOverThreshold(row.flow_name, await flows.recordRunEnd(row.flow_name, 'Error'), `run ${row.execution_id} (worker lost)`);
      return true;
    } finally {
      if (!released) await lock.release();
    }
  }

  let reaping: Promise<string[]> | undefined;
  const reap = (): Promise<string[]> => (reaping ??= (async () => {
    const out: string[] = [];
    try {
      // A run recorded and claimed whose job was never sent (its service process died in between) would hold its
      // flow's slot for ever: send its job now.
      for (const row of await claims.unsent(new Date(now().getTime() - UNSENT_AFTER_MS))) {
        await sendRunJob(boss, claims, { flowName: row.flow_name, executionId: row.execution_id, startedBy: row.started_by === 'schedule' ? 'schedule' : 'manual', attempt: row.attempts })
          .then(() => wlog.warn({ executionId: row.execution_id, flow: row.flow_name }, 'a queued run had no job (its service process stopped before sending it): sent it'))
          .catch((error: unknown) => wlog.error({ executionId: row.execution_id, err: (error as Error).message }, 'could not send the job of a queued run'));
      }
      for (const row of await claims.expired(Date.now())) {
        if (mine.has(row.execution_id)) continue;
        try {
          if (await reapOne(row)) out.push(row.execution_id);
        } catch (error) {
          wlog.error({ executionId: row.execution_id, err: (error as Error).message }, 'could not end a lost run; trying again later');
        }
      }
    } finally {
      reaping = undefined;
    }
    return out;
  })());

  const heartbeat = setInterval(() => {
    claims.renew([...mine.keys()], id, leaseMs).catch((error: unknown) => wlog.warn({ err: (error as Error).message }, 'could not renew the run leases'));
  }, Math.max(250, Math.floor(leaseMs / 3)));
  const cancels = setInterval(() => {
    claims.cancelRequested([...mine.keys()]).then((ids) => {
      for (const executionId of ids) {
        const flowName = mine.get(executionId);
        if (flowName !== undefined) {
          const { canceled } = executor.cancel(flowName, [executionId]);
          if (canceled.length > 0) wlog.info({ executionId }, 'cancel requested through the service: cancelling the run');
        }
      }
    }).catch((error: unknown) => wlog.warn({ err: (error as Error).message }, 'could not read cancel requests'));
  }, options.cancelPollMs ?? 1000);
  const reaper = setInterval(() => void reap(), Math.max(500, Math.floor(leaseMs / 3)));
  for (const t of [heartbeat, cancels, reaper]) t.unref();

  const workerIds: string[] = [];
  for (let i = 0; i < Math.max(1, options.concurrency ?? 1); i++) {
    workerIds.push(await boss.work(RUN_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      const p = Promise.all(jobs.map((job) => handle(job)));
      handlers.add(p);
      try {
        await p;
      } finally {
        handlers.delete(p);
      }
    }));
  }
  wlog.info({ concurrency: workerIds.length, leaseMs }, 'worker taking runs');
  void reap();

  return {
    id,
    running: () => [...mine.keys()],
    reap,
    async close(graceMs) {
      stopping = true;
      for (const w of workerIds) await boss.offWork({ id: w }).catch(() => undefined);
      clearInterval(reaper);
      await executor.drain(graceMs);
      await Promise.allSettled([...handlers]);
      clearInterval(heartbeat);
      clearInterval(cancels);
      await reaping;
      await Promise.allSettled([...suspending]);
      wlog.info('worker stopped');
    },
  };
}
