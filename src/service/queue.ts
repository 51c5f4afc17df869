import { createHash, randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import PgBoss from 'pg-boss';
import { z } from 'zod';
import { ForceflowError, toForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { failRecord, newExecutionRecord, type ExecutionRecord } from '../flows/run-record.ts';
import type { RunStateStore } from '../flows/state.ts';
import { canceled } from '../core/cancel.ts';
import { redactDatabaseUrl } from './db.ts';
import type { Executor, LiveRun, RunFinished, StartedBy, StartOutcome } from './executor.ts';
import type { FlowStore } from './flows/store.ts';
import { deactivationReason } from './scheduler.ts';

/**
 * The distributed mode's run queue (docs/service.md, "Distributed mode"): on PostgreSQL, a StartFlow or a
 * scheduled fire becomes one pg-boss job on {@link RUN_QUEUE}; `forceflow worker` processes take the jobs and
 * run them. Beside pg-boss, one shared row per run (`run_claims`, migration 0008-run-claims) says which run of a flow is
 * queued or running (at most one per flow), which worker holds it and until when its lease runs, and whether a
 * cancel was asked for.
 */

/** The pg-boss queue of flow runs. */
export const RUN_QUEUE = 'forceflow-runs';
/** pg-boss keeps its tables in this schema of the service database. */
export const QUEUE_SCHEMA = 'forceflow_queue';
/** A worker renews its runs' leases every third of this; a run whose lease ran out belongs to a lost worker. */
export const DEFAULT_RUN_LEASE_MS = 30_000;

/** A job's data: the run to make. */
export const runJobSchema = z.object({
  flowName: z.string().min(1),
  executionId: z.string().min(1),
  startedBy: z.enum(['schedule', 'manual']),
  /** 1, or 2 for the one retry of a run whose worker was lost before it wrote anything. */
  attempt: z.number().int().min(1),
});
export type RunJob = z.infer<typeof runJobSchema>;

export interface ClaimRow {
  execution_id: string;
  flow_name: string;
  started_by: string;
  status: 'queued' | 'running' | 'done';
  job_id: string | null;
  worker: string | null;
  attempts: number;
  cancel_requested: number;
  lease_until: number | string | null;
  enqueued_at: string;
  note: string | null;
}
// A type alias (not an interface) so kysely's withTables<ClaimTables>() accepts it.
export type ClaimTables = { run_claims: ClaimRow };

/** The executionId of a scheduled fire: the same in every service process for one flow and fire time. */
export function fireExecutionId(flowName: string, scheduledAt: Date): string {
  const h = createHash('sha256').update(`forceflow-fire\u0000${flowName}\u0000${scheduledAt.toISOString()}`).digest('hex');
  // UUID-shaped (version nibble 5-like, variant 8), so it reads like the other execution ids.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ForceflowError) throw error;
    throw new ForceflowError('STATE_ERROR', `The run queue could not ${what}: ${(error as Error).message}.`, { cause: error });
  }
};

/** The shared claim rows (run_claims), on the service database. */
export class RunClaims {
  readonly #db: Kysely<ClaimTables>;
  constructor(db: Kysely<ClaimTables>) {
    this.#db = db;
  }

  /**
   * Claim the flow's one queued-or-running slot for a new run. `duplicate`: this executionId was claimed before
   * (a fire another service process enqueued); `running`: another run of the flow is queued or running.
   */
  async claim(run: { executionId: string; flowName: string; startedBy: StartedBy; at: Date; fire?: boolean }): Promise<{ claimed: true } | { claimed: false; duplicate: boolean; executionId?: string }> {
    return guard('claim a run', async () => {
      const insert = (status: 'queued' | 'done', note: string | null): Promise<boolean> => this.#db.insertInto('run_claims').values({
        execution_id: run.executionId, flow_name: run.flowName, started_by: run.startedBy, status, job_id: null, worker: null,
        attempts: status === 'queued' ? 1 : 0, cancel_requested: 0, lease_until: null, enqueued_at: run.at.toISOString(), note,
      }).onConflict((oc) => oc.doNothing()).executeTakeFirst().then((r) => Number(r.numInsertedOrUpdatedRows ?? 0n) === 1);
      if (await insert('queued', null)) return { claimed: true };
      const same = await this.#db.selectFrom('run_claims').select('execution_id').where('execution_id', '=', run.executionId).executeTakeFirst();
      if (same) return { claimed: false, duplicate: true };
      const holder = await this.active(run.flowName);
      // A fire skipped because the flow runs: its row (done, never run) makes the other service processes see a
      // duplicate, so the skipped fire is recorded once too.
      if (run.fire === true && !(await insert('done', 'fire skipped: a run of the flow was in progress'))) return { claimed: false, duplicate: true };
      return { claimed: false, duplicate: false, ...(holder[0] ? { executionId: holder[0].execution_id } : {}) };
    });
  }

  async setJob(executionId: string, jobId: string): Promise<void> {
    await guard('record the job of a run', () => this.#db.updateTable('run_claims').set({ job_id: jobId }).where('execution_id', '=', executionId).execute());
  }

  /** A worker takes a queued run; false when it is no longer queued (cancelled, or taken). */
  async take(executionId: string, worker: string, leaseMs: number, jobId: string): Promise<boolean> {
    return guard('take a run', async () => {
      const r = await this.#db.updateTable('run_claims').set({ status: 'running', worker, lease_until: Date.now() + leaseMs, job_id: jobId })
        .where('execution_id', '=', executionId).where('status', '=', 'queued').executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    });
  }

  /** Extend the leases of the runs this worker holds. */
  async renew(executionIds: readonly string[], worker: string, leaseMs: number): Promise<void> {
    if (executionIds.length === 0) return;
    await guard('renew run leases', () => this.#db.updateTable('run_claims').set({ lease_until: Date.now() + leaseMs })
      .where('execution_id', 'in', executionIds).where('worker', '=', worker).where('status', '=', 'running').execute());
  }

  /** Give a run taken by a worker that stops back to the queue (graceful drain before it started). */
  async handBack(executionId: string, worker: string): Promise<boolean> {
    return guard('hand a run back', async () => {
      const r = await this.#db.updateTable('run_claims').set({ status: 'queued', worker: null, lease_until: null })
        .where('execution_id', '=', executionId).where('worker', '=', worker).where('status', '=', 'running').executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    });
  }

  async finish(executionId: string, note?: string): Promise<void> {
    await guard('end a run', () => this.#db.updateTable('run_claims').set({ status: 'done', lease_until: null, ...(note === undefined ? {} : { note }) })
      .where('execution_id', '=', executionId).execute());
  }

  /** Queue a lost run again (its one retry); false when it was not running any more. */
  async requeue(executionId: string, note: string): Promise<boolean> {
    return guard('queue a run again', async () => {
      const r = await this.#db.updateTable('run_claims').set({ status: 'queued', worker: null, lease_until: null, attempts: sql`attempts + 1`, note })
        .where('execution_id', '=', executionId).where('status', '=', 'running').executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    });
  }

  /** End a queued run before any worker took it (a cancel); false when a worker has it already. */
  async cancelQueued(executionId: string): Promise<boolean> {
    return guard('cancel a queued run', async () => {
      const r = await this.#db.updateTable('run_claims').set({ status: 'done', cancel_requested: 1, note: 'cancelled while queued' })
        .where('execution_id', '=', executionId).where('status', '=', 'queued').executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    });
  }

  async requestCancel(executionId: string): Promise<void> {
    await guard('ask to cancel a run', () => this.#db.updateTable('run_claims').set({ cancel_requested: 1 }).where('execution_id', '=', executionId).where('status', '=', 'running').execute());
  }

  /** Of the runs given, those whose cancel was asked for. */
  async cancelRequested(executionIds: readonly string[]): Promise<string[]> {
    if (executionIds.length === 0) return [];
    return guard('read cancel requests', async () => (await this.#db.selectFrom('run_claims').select('execution_id')
      .where('execution_id', 'in', executionIds).where('cancel_requested', '=', 1).execute()).map((r) => r.execution_id));
  }

  /** The flow's queued or running run (at most one), or every flow's. */
  async active(flowName?: string): Promise<ClaimRow[]> {
    return guard('list queued and running runs', async () => {
      let q = this.#db.selectFrom('run_claims').selectAll().where('status', 'in', ['queued', 'running']);
      if (flowName !== undefined) q = q.where('flow_name', '=', flowName);
      return q.orderBy('enqueued_at').execute();
    });
  }

  async get(executionId: string): Promise<ClaimRow | undefined> {
    return guard('read a run claim', () => this.#db.selectFrom('run_claims').selectAll().where('execution_id', '=', executionId).executeTakeFirst());
  }

  /** Queued runs that never got their job (the service process died between recording and sending it). */
  async unsent(enqueuedBefore: Date): Promise<ClaimRow[]> {
    return guard('find runs without a job', () => this.#db.selectFrom('run_claims').selectAll().where('status', '=', 'queued')
      .where('job_id', 'is', null).where('enqueued_at', '<', enqueuedBefore.toISOString()).execute());
  }

  /** Running runs whose lease ran out (their worker stopped renewing it). */
  async expired(nowMs: number): Promise<ClaimRow[]> {
    return guard('find lost runs', () => this.#db.selectFrom('run_claims').selectAll().where('status', '=', 'running').where('lease_until', '<', nowMs).execute());
  }
}

interface BossOptions {
  readonly url: string;
  readonly log: Logger;
  /** Create or upgrade pg-boss's schema (`forceflow migrate` only). */
  readonly migrate?: boolean;
  /** Run pg-boss's maintenance (expiry, archiving) in this process. */
  readonly supervise?: boolean;
}

/**
 * pg-boss on the service database (schema {@link QUEUE_SCHEMA}), started. Without `migrate`, a database whose
 * queue schema is missing or older is refused with a message saying to run `forceflow migrate`.
 */
export async function openBoss(options: BossOptions): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: options.url, schema: QUEUE_SCHEMA, max: 4, application_name: 'forceflow',
    migrate: options.migrate === true, supervise: options.supervise ?? true, schedule: false,
  });
  boss.on('error', (error: Error) => options.log.warn({ err: error.message }, 'the run queue (pg-boss) reported an error; it retries'));
  try {
    await boss.start();
  } catch (error) {
    await boss.stop({ graceful: false, wait: false }).catch(() => undefined);
    const e = error as NodeJS.ErrnoException;
    if (options.migrate !== true && /not installed|migrat|version/i.test(e.message ?? '')) {
      throw new ForceflowError('CONFIG_INVALID', `The run queue in ${redactDatabaseUrl(options.url)} is not installed or is older than this forceflow's. Run forceflow migrate --database … once, then start again.`, { cause: error });
    }
    throw new ForceflowError('STATE_ERROR', `The run queue (pg-boss) could not start on ${redactDatabaseUrl(options.url)}: ${e.message}.`, { cause: error });
  }
  if (options.migrate === true && (await boss.getQueue(RUN_QUEUE)) === null) {
    // No retries by pg-boss: a run lost mid-way must not be repeated blindly (the reaper decides, src/service/worker.ts).
    // Jobs expire after 23 hours active (pg-boss's ceiling is 24); runs are watched by their lease, not by this.
    await boss.createQueue(RUN_QUEUE, { name: RUN_QUEUE, policy: 'standard', retryLimit: 0, expireInSeconds: 23 * 3600 }).catch(async (error: unknown) => {
      if ((await boss.getQueue(RUN_QUEUE)) === null) throw error; // another process created it meanwhile: fine
    });
  }
  return boss;
}

/** `forceflow migrate` on PostgreSQL: create or upgrade the run queue's schema and queue (safe from several processes). */
export async function installRunQueue(url: string, log: Logger): Promise<void> {
  const boss = await openBoss({ url, log, migrate: true, supervise: false });
  await boss.stop({ graceful: false, wait: true });
}

/** Send a run's job; records the job id on its claim. */
export async function sendRunJob(boss: PgBoss, claims: RunClaims, job: RunJob): Promise<void> {
  const id = await boss.send(RUN_QUEUE, job, { retryLimit: 0 });
  if (id === null) throw new ForceflowError('STATE_ERROR', `The run queue refused the job of run ${job.executionId}.`);
  await claims.setJob(job.executionId, id);
}

/** End a run that never started (no worker ran it) with `error`, keeping its record's start. */
export async function endUnstartedRun(state: RunStateStore, executionId: string, flowName: string, error: ForceflowError, now: Date): Promise<ExecutionRecord> {
  const record = (await state.run(executionId)) ?? newExecutionRecord(flowName, executionId, now);
  failRecord(record, error, now);
  await state.saveRun(record);
  return record;
}

/**
 * flowErrorDeactivationThreshold in the distributed mode: `failures` is the flow's count of consecutive failed
 * scheduled runs in the shared flow store (recordRunEnd's answer). At or over the threshold the flow is suspended,
 * only if still Active (one UPDATE), so of several processes seeing it, one suspends it, with one reason.
 */
export async function suspendOverThreshold(flows: FlowStore, flowName: string, failures: number, last: string, log: Logger): Promise<boolean> {
  try {
    const flow = await flows.get(flowName);
    if (flow?.status !== 'Active') return false;
    const schedule = flow.definition['triggerConfig'] as { triggerProperties?: { Scheduled?: { flowErrorDeactivationThreshold?: number } } } | undefined;
    const threshold = schedule?.triggerProperties?.Scheduled?.flowErrorDeactivationThreshold;
    if (threshold === undefined || failures < threshold) return false;
    const reason = deactivationReason(failures, threshold, last);
    if (!(await flows.suspendActive(flowName, reason))) return false;
    log.warn({ flow: flowName, failures, threshold }, reason);
    return true;
  } catch (error) {
    log.error({ flow: flowName, err: (error as Error).message }, 'could not suspend the flow after its failed runs');
    return false;
  }
}

export interface QueueExecutorOptions {
  readonly boss: PgBoss;
  readonly claims: RunClaims;
  readonly flows: FlowStore;
  readonly state: RunStateStore;
  readonly log: Logger;
  readonly now: () => Date;
}

/**
 * The service's {@link Executor} in the distributed mode: it runs nothing itself. A start records the run
 * InProgress (AppFlow has no "queued" status) and sends its job; a cancel ends a queued run at once or flags a
 * running one for its worker (which polls every second); live runs are the flow's claim rows.
 */
export function createQueueExecutor(options: QueueExecutorOptions): Executor {
  const { boss, claims, flows, state, log, now } = options;
  let draining = false;
  return {
    async start(flowName, { startedBy, executionId: given, scheduledAt }): Promise<StartOutcome> {
      if (draining) throw new ForceflowError('SERVICE_STOPPING', `The service is stopping and starts no new runs; flow "${flowName}" was not started. Start it again once the service is back.`, { details: { flowName } });
      const flow = await flows.get(flowName);
      if (!flow) throw new ForceflowError('RUN_NOT_FOUND', `Flow "${flowName}" does not exist.`, { details: { flowName } });
      const executionId = scheduledAt === undefined ? given ?? randomUUID() : fireExecutionId(flowName, scheduledAt);
      // A run outside the queue (forceflow run on the same state) holds the flow's lock: not now.
      const holder = await state.lockHolder(flowName);
      if (holder && Date.parse(holder.expiresAt) > now().getTime()) return { skipped: 'running', executionId: holder.executionId };
      const at = now();
      const claim = await claims.claim({ executionId, flowName, startedBy, at, fire: scheduledAt !== undefined });
      if (!claim.claimed) return claim.duplicate ? { skipped: 'duplicate', executionId } : { skipped: 'running', ...(claim.executionId === undefined ? {} : { executionId: claim.executionId }) };
      const record = newExecutionRecord(flowName, executionId, at);
      record.startedBy = startedBy;
      try {
        await state.saveRun(record);
        await sendRunJob(boss, claims, { flowName, executionId, startedBy, attempt: 1 });
      } catch (error) {
        const e = toForceflowError(error);
        await claims.finish(executionId, 'the job could not be queued').catch(() => undefined);
        await endUnstartedRun(state, executionId, flowName, e, now()).catch(() => undefined);
        // A fire that could not be queued is a failed scheduled run (the scheduler counts nothing in this mode).
        if (startedBy === 'schedule') {
          const failures = await flows.recordRunEnd(flowName, 'Error').catch(() => undefined);
          if (failures !== undefined) await suspendOverThreshold(flows, flowName, failures, `run ${executionId} (it could not be queued: ${e.code})`, log);
        }
        throw e;
      }
      log.info({ flow: flowName, executionId, startedBy }, 'run queued');
      return { executionId };
    },

    async cancel(flowName, executionIds) {
      const active = await claims.active(flowName);
      const targets = executionIds === undefined ? active.map((r) => r.execution_id) : executionIds;
      const invalid: string[] = [];
      const done: string[] = [];
      for (const id of targets) {
        const row = active.find((r) => r.execution_id === id);
        if (!row) {
          invalid.push(id);
          continue;
        }
        if (row.status === 'queued' && (await claims.cancelQueued(id))) {
          if (row.job_id !== null) await boss.cancel(RUN_QUEUE, row.job_id).catch(() => undefined);
          await endUnstartedRun(state, id, flowName, canceled('The run was cancelled before a worker started it.'), now());
        } else {
          await claims.requestCancel(id);
        }
        done.push(id);
      }
      return { invalid, canceled: done };
    },

    async live(flowName): Promise<LiveRun[]> {
      return (await claims.active(flowName)).map((r) => ({ executionId: r.execution_id, cancelRequested: r.cancel_requested === 1, progress: undefined }));
    },

    // Runs end in the workers; they count scheduled failures and suspend flows themselves (src/service/worker.ts).
    onFinished: (_listener: (event: RunFinished) => void) => () => undefined,

    async finished(executionId) {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const row = await claims.get(executionId);
        if (row === undefined || row.status === 'done') return;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },

    async drain() {
      draining = true;
    },

    // Lost runs are found by the workers' lease watch, not at service start.
    recoverInterrupted: async () => [],
  };
}
