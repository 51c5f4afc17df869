import { sql, type Generated, type Kysely, type Transaction } from 'kysely';
import type { DeliveredKey } from '../core/connector.ts';
import { ForceflowError } from '../core/errors.ts';
import type { IndexRanges, JournalExecutionStart, JournalOutcome, WriteJournal } from '../connectors/salesforce/journal.ts';
import type { FormulaStateStore } from '../flows/formula-state.ts';
import type { LockAttempt, RunStateStore } from '../flows/state.ts';
import { lockInfo, resourceInfo, runRecord, runRecords, windowInfo, type FlowLockInfo, type LockOwner, type LockRow, type ResourceRow, type RunRow, type WindowChange, type WindowRow } from '../flows/state-rows.ts';
import { databaseKind, type AnyKysely } from './db.ts';

/** The run-state tables (migration 0005-run-state), as the state folder's runs.db has them. */
export type RunStateTables = {
  runs: RunRow;
  schema_versions: { flow_name: string; version: number; fingerprint: string };
  flow_locks: LockRow;
  run_resources: Omit<ResourceRow, 'id'> & { id: GeneratedId };
  flow_windows: { flow_name: string; window_end: string | null; changed_at: string };
  window_changes: WindowRow & { id: GeneratedId };
  delivered_keys: { flow_name: string; id: string; at: number };
  delivered_staged: { execution_id: string; flow_name: string; id: string; at: number };
  delivered_runs: { execution_id: string; flow_name: string; keep_from: number };
  write_journal_executions: { execution_id: string; flow_name: string; object: string; operation: string; started_at: string };
  write_journal_entries: { seq: GeneratedId; execution_id: string; kind: 'bulk' | 'rest'; ref: string | null; ranges: string; count: number; fingerprint: string; sent_at: number | string; outcome: string | null };
  // Migration 0008-formula-state.
  formula_hashes: { flow_name: string; id: string; hash: string };
  formula_staged: { execution_id: string; flow_name: string; id: string; hash: string };
  formula_refresh: { flow_name: string; last_refresh_at: string | null; runs_since: number; first_run_at: string };
};

type GeneratedId = Generated<number>;

type Db = Kysely<RunStateTables>;
type Tx = Transaction<RunStateTables>;

/** Ids per `IN (…)` list and rows per multi-row insert: well under PostgreSQL's 65,535 parameters. */
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

function stateError(what: string, error: unknown): ForceflowError {
  if (error instanceof ForceflowError) return error;
  const e = error as NodeJS.ErrnoException;
  return new ForceflowError('STATE_ERROR', `The run state in the service database could not ${what}: ${e.code === undefined ? '' : `${e.code}: `}${e.message}. Check that the database server is reachable.`, { cause: error });
}

async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw stateError(what, error);
  }
}

/**
 * The run state ({@link RunStateStore}) in the service database through kysely: the service on PostgreSQL uses
 * it so that every process on every machine shares one run history, one set of windows and one lock per flow.
 * (The embedded SQLite service and the command line keep runs.db, src/flows/state.ts, whose writes complete
 * before their promise is returned; here a write is done when its promise resolves.)
 *
 * Concurrency on PostgreSQL: the flow lock is taken in a transaction that locks its row (`SELECT … FOR UPDATE`)
 * or inserts it (`ON CONFLICT DO NOTHING`, retried when another client inserted it first), so of two clients
 * only one acquires or takes over; moving a flow's window, committing its lookback keys and numbering its
 * schema versions hold a transaction-scoped advisory lock on the flow name, as do settling its formula hashes
 * (`formulaState`, {@link sqlFormulaState}). Works on SQLite too (one
 * connection; transactions are serialized), which the conformance suite uses.
 */
export function openSqlRunState(database: AnyKysely): RunStateStore & { readonly writeJournal: WriteJournal; readonly formulaState: FormulaStateStore } {
  const db = database.withTables<RunStateTables>() as unknown as Db;
  const pg = databaseKind(database) === 'postgres';

  /** Serializes the flow's window, lookback and schema-version changes across connections (PostgreSQL). */
  const flowLock = async (trx: Tx, scope: string, flowName: string): Promise<void> => {
    if (pg) await sql`select pg_advisory_xact_lock(hashtext(${`forceflow:${scope}:${flowName}`}))`.execute(trx);
  };

  const currentEnd = async (trx: Db | Tx, flowName: string): Promise<string | null> => {
    const row = await trx.selectFrom('flow_windows').select('window_end').where('flow_name', '=', flowName).executeTakeFirst();
    if (row) return row.window_end;
    const last = await trx
      .selectFrom('runs')
      .select('window_end')
      .where('flow_name', '=', flowName)
      .where('status', '=', 'Successful')
      .where('window_end', 'is not', null)
      .orderBy('window_end', 'desc')
      .limit(1)
      .executeTakeFirst();
    return last?.window_end ?? null;
  };

  const upsertWindow = (trx: Tx, flowName: string, windowEnd: string | null, at: string) =>
    trx
      .insertInto('flow_windows')
      .values({ flow_name: flowName, window_end: windowEnd, changed_at: at })
      .onConflict((oc) => oc.column('flow_name').doUpdateSet({ window_end: windowEnd, changed_at: at }))
      .execute();

  const writeJournal = sqlWriteJournal(database);
  const formulaState = sqlFormulaState(database);

  return {
    writeJournal,
    formulaState,
    async schemaVersion(flowName, fingerprint) {
      return guard('number the schema version', () =>
        db.transaction().execute(async (trx) => {
          await flowLock(trx, 'schema', flowName);
          const row = await trx.selectFrom('schema_versions').select(['version', 'fingerprint']).where('flow_name', '=', flowName).orderBy('version', 'desc').limit(1).executeTakeFirst();
          if (row?.fingerprint === fingerprint) return Number(row.version);
          const version = Number(row?.version ?? 0) + 1;
          await trx.insertInto('schema_versions').values({ flow_name: flowName, version, fingerprint }).execute();
          return version;
        }),
      );
    },
    async lastWindowEnd(flowName) {
      return guard('read the incremental window', async () => (await currentEnd(db, flowName)) ?? undefined);
    },
    async saveRun(record) {
      await guard('save the run record', () =>
        db.transaction().execute(async (trx) => {
          const advances = record.executionStatus === 'Successful' && record.dataPullEndTime !== null;
          if (advances) await flowLock(trx, 'window', record.flowName);
          const before = await trx.selectFrom('runs').select('status').where('execution_id', '=', record.executionId).executeTakeFirst();
          const previous = advances ? await currentEnd(trx, record.flowName) : null;
          const row = { flow_name: record.flowName, status: record.executionStatus, started_at: record.startedAt, window_end: record.dataPullEndTime, record: JSON.stringify(record) };
          await trx
            .insertInto('runs')
            .values({ execution_id: record.executionId, ...row })
            .onConflict((oc) => oc.column('execution_id').doUpdateSet(row))
            .execute();
          if (advances && before?.status !== 'Successful' && record.dataPullEndTime !== null) {
            await upsertWindow(trx, record.flowName, record.dataPullEndTime, record.lastUpdatedAt);
            await trx.insertInto('window_changes').values({ flow_name: record.flowName, changed_at: record.lastUpdatedAt, previous_end: previous, new_end: record.dataPullEndTime, reason: 'run', execution_id: record.executionId, note: null }).execute();
            // The delivered keys move with the window, in this transaction.
            const keep = await trx.selectFrom('delivered_runs').select('keep_from').where('execution_id', '=', record.executionId).executeTakeFirst();
            if (keep === undefined) await trx.deleteFrom('delivered_keys').where('flow_name', '=', record.flowName).execute();
            else {
              await trx
                .insertInto('delivered_keys')
                .columns(['flow_name', 'id', 'at'])
                .expression(trx.selectFrom('delivered_staged').select(['flow_name', 'id', 'at']).where('execution_id', '=', record.executionId))
                .onConflict((oc) => oc.doNothing())
                .execute();
              await trx.deleteFrom('delivered_keys').where('flow_name', '=', record.flowName).where('at', '<', Number(keep.keep_from)).execute();
            }
          }
          if (record.executionStatus !== 'InProgress') {
            await trx.deleteFrom('delivered_staged').where('execution_id', '=', record.executionId).execute();
            await trx.deleteFrom('delivered_runs').where('execution_id', '=', record.executionId).execute();
          }
        }),
      );
    },
    async runs(flowName, query = 20) {
      return guard('list runs', async () => {
        let q = db.selectFrom('runs').select('record');
        if (flowName !== undefined) q = q.where('flow_name', '=', flowName);
        const limit = typeof query === 'number' ? query : query.limit ?? 20;
        if (typeof query !== 'number') {
          if (query.since !== undefined) q = q.where('started_at', '>=', query.since);
          const { before } = query;
          if (before) q = q.where((eb) => eb.or([eb('started_at', '<', before.startedAt), eb.and([eb('started_at', '=', before.startedAt), eb('execution_id', '<', before.executionId)])]));
        }
        return runRecords(await q.orderBy('started_at', 'desc').orderBy('execution_id', 'desc').limit(limit).execute());
      });
    },
    async run(executionId) {
      const row = await guard('read the run', () => db.selectFrom('runs').select('record').where('execution_id', '=', executionId).executeTakeFirst());
      return row === undefined ? undefined : runRecord(row);
    },
    async unfinishedRuns(flowName) {
      return guard('list unfinished runs', async () => {
        let q = db.selectFrom('runs').select('record').where('status', '=', 'InProgress');
        if (flowName !== undefined) q = q.where('flow_name', '=', flowName);
        return runRecords(await q.orderBy('started_at').orderBy('execution_id').execute());
      });
    },
    async flows() {
      return guard('list flows', async () => {
        const rows = await db
          .selectFrom('runs')
          .select('flow_name')
          .union(db.selectFrom('flow_windows').select('flow_name'))
          .union(db.selectFrom('flow_locks').select('flow_name'))
          .orderBy('flow_name')
          .execute();
        return rows.map((r) => r.flow_name);
      });
    },
    async acquireLock(flowName, owner, options) {
      return guard('take the flow lock', () => db.transaction().execute((trx) => acquire(trx, pg, flowName, owner, options)));
    },
    async renewLock(flowName, executionId, leaseMs, now) {
      return guard('renew the flow lock', async () => {
        const result = await db
          .updateTable('flow_locks')
          .set({ heartbeat_at: now.toISOString(), expires_at: new Date(now.getTime() + leaseMs).toISOString() })
          .where('flow_name', '=', flowName)
          .where('execution_id', '=', executionId)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      });
    },
    async releaseLock(flowName, executionId) {
      await guard('release the flow lock', () => db.deleteFrom('flow_locks').where('flow_name', '=', flowName).where('execution_id', '=', executionId).execute());
    },
    async lockHolder(flowName) {
      const row = await guard('read the flow lock', () => db.selectFrom('flow_locks').selectAll().where('flow_name', '=', flowName).executeTakeFirst());
      return row === undefined ? undefined : lockInfo(row);
    },
    async addRunResource(executionId, flowName, resource, now) {
      await guard('record what the run must clean up', () => db.insertInto('run_resources').values({ execution_id: executionId, flow_name: flowName, resource: JSON.stringify(resource), created_at: now.toISOString(), settled_at: null, last_error: null }).execute());
    },
    async runResources(executionId) {
      return guard('list run resources', async () => (await db.selectFrom('run_resources').selectAll().where('execution_id', '=', executionId).orderBy('id').execute()).map(resourceInfo));
    },
    async pendingResources(flowName, exceptExecutionId) {
      return guard('list run resources', async () =>
        (await db.selectFrom('run_resources').selectAll().where('flow_name', '=', flowName).where('settled_at', 'is', null).where('execution_id', '!=', exceptExecutionId ?? '').orderBy('id').execute()).map(resourceInfo),
      );
    },
    async settleResources(ids, now) {
      if (ids.length === 0) return;
      await guard('settle run resources', async () => {
        for (const part of chunks(ids)) await db.updateTable('run_resources').set({ settled_at: now.toISOString() }).where('id', 'in', part).execute();
      });
    },
    async noteResourceError(id, message) {
      await guard('record a cleanup failure', () => db.updateTable('run_resources').set({ last_error: message.slice(0, 1000) }).where('id', '=', id).execute());
    },
    async setWindow(flowName, newEnd, now, note) {
      return guard('move the incremental window', () =>
        db.transaction().execute(async (trx): Promise<WindowChange> => {
          await flowLock(trx, 'window', flowName);
          const previous = await currentEnd(trx, flowName);
          const at = now.toISOString();
          await upsertWindow(trx, flowName, newEnd, at);
          await trx.insertInto('window_changes').values({ flow_name: flowName, changed_at: at, previous_end: previous, new_end: newEnd, reason: 'reset', execution_id: null, note }).execute();
          // A moved window is read again in full: what earlier runs delivered is delivered again.
          await trx.deleteFrom('delivered_keys').where('flow_name', '=', flowName).execute();
          return { flowName, changedAt: at, previousEnd: previous, newEnd, reason: 'reset', executionId: null, note };
        }),
      );
    },
    async windowChanges(flowName, limit = 20) {
      return guard('list window changes', async () =>
        (await db.selectFrom('window_changes').selectAll().where('flow_name', '=', flowName).orderBy('id', 'desc').limit(limit).execute()).map(windowInfo),
      );
    },
    async delivered(flowName, keys) {
      if (keys.length === 0) return [];
      const have = new Set<string>();
      await guard('read the delivered keys', async () => {
        for (const part of chunks([...new Set(keys.map((k) => k.id))])) {
          const rows = await db.selectFrom('delivered_keys').select(['id', 'at']).where('flow_name', '=', flowName).where('id', 'in', part).execute();
          for (const r of rows) have.add(`${Number(r.at)}\u0000${r.id}`);
        }
      });
      return keys.map((k) => have.has(`${k.at}\u0000${k.id}`));
    },
    async stageDelivered(flowName, executionId, keys: readonly DeliveredKey[], keepFrom) {
      await guard('stage the delivered keys', () =>
        db.transaction().execute(async (trx) => {
          await trx
            .insertInto('delivered_runs')
            .values({ execution_id: executionId, flow_name: flowName, keep_from: keepFrom })
            .onConflict((oc) => oc.column('execution_id').doUpdateSet({ keep_from: pg ? sql<number>`least(delivered_runs.keep_from, excluded.keep_from)` : sql<number>`min(keep_from, excluded.keep_from)` }))
            .execute();
          const kept = keys.filter((k) => k.at >= keepFrom);
          for (const part of chunks(kept)) await trx.insertInto('delivered_staged').values(part.map((k) => ({ execution_id: executionId, flow_name: flowName, id: k.id, at: k.at }))).execute();
        }),
      );
    },
    close() {
      // The service database belongs to the service, which closes it.
    },
  };
}

/**
 * The formula refresh's state ({@link FormulaStateStore}) in the service database: the same three tables and
 * meaning as runs.db's (src/flows/formula-state.ts). Ids are looked up and staged in chunks (well under
 * PostgreSQL's parameter limit); a commit moves the run's staged hashes inside the database (INSERT … SELECT),
 * so no whole table passes through the process. Commit and discard hold the flow's transaction-scoped advisory
 * lock (PostgreSQL), so two processes settling runs of one flow do not lose a status update.
 */
export function sqlFormulaState(database: AnyKysely): FormulaStateStore {
  const db = database.withTables<RunStateTables>() as unknown as Db;
  const pg = databaseKind(database) === 'postgres';
  const flowLock = async (trx: Tx, flowName: string): Promise<void> => {
    if (pg) await sql`select pg_advisory_xact_lock(hashtext(${`forceflow:formula:${flowName}`}))`.execute(trx);
  };
  return {
    async hashes(flowName, executionId, ids) {
      const out = new Map<string, string>();
      if (ids.length === 0) return out;
      return guard('read the formula hashes', async () => {
        for (const part of chunks([...new Set(ids)])) {
          const committed = await db.selectFrom('formula_hashes').select(['id', 'hash']).where('flow_name', '=', flowName).where('id', 'in', part).execute();
          for (const r of committed) out.set(r.id, r.hash);
          // What this run staged wins over what the flow's successful runs delivered.
          const staged = await db.selectFrom('formula_staged').select(['id', 'hash']).where('execution_id', '=', executionId).where('id', 'in', part).execute();
          for (const r of staged) out.set(r.id, r.hash);
        }
        return out;
      });
    },
    async stage(flowName, executionId, entries) {
      if (entries.length === 0) return;
      // One row per Id (the last one wins, as a later stage does): PostgreSQL refuses a statement that
      // updates one row twice.
      const last = new Map<string, string>();
      for (const e of entries) last.set(e.id, e.hash);
      const rows = [...last].map(([id, hash]) => ({ execution_id: executionId, flow_name: flowName, id, hash }));
      await guard('stage the formula hashes', () =>
        db.transaction().execute(async (trx) => {
          for (const part of chunks(rows)) {
            await trx
              .insertInto('formula_staged')
              .values(part)
              .onConflict((oc) => oc.columns(['execution_id', 'id']).doUpdateSet({ hash: (eb) => eb.ref('excluded.hash') }))
              .execute();
          }
        }),
      );
    },
    async commit(flowName, executionId, run) {
      await guard('save the formula hashes', () =>
        db.transaction().execute(async (trx) => {
          await flowLock(trx, flowName);
          await trx
            .insertInto('formula_hashes')
            .columns(['flow_name', 'id', 'hash'])
            .expression(trx.selectFrom('formula_staged').select(['flow_name', 'id', 'hash']).where('execution_id', '=', executionId))
            .onConflict((oc) => oc.columns(['flow_name', 'id']).doUpdateSet({ hash: (eb) => eb.ref('excluded.hash') }))
            .execute();
          // One run of a flow at a time: whatever else is staged for the flow is a dead run's.
          await trx.deleteFrom('formula_staged').where('flow_name', '=', flowName).execute();
          const row = await trx.selectFrom('formula_refresh').selectAll().where('flow_name', '=', flowName).executeTakeFirst();
          const next = run.refreshed
            ? { last_refresh_at: run.at, runs_since: 0, first_run_at: row?.first_run_at ?? run.at }
            : { last_refresh_at: row?.last_refresh_at ?? null, runs_since: Number(row?.runs_since ?? 0) + 1, first_run_at: row?.first_run_at ?? run.at };
          await trx
            .insertInto('formula_refresh')
            .values({ flow_name: flowName, ...next })
            .onConflict((oc) => oc.column('flow_name').doUpdateSet(next))
            .execute();
        }),
      );
    },
    async discard(flowName) {
      await guard('drop the staged formula hashes', () =>
        db.transaction().execute(async (trx) => {
          await flowLock(trx, flowName);
          await trx.deleteFrom('formula_staged').where('flow_name', '=', flowName).execute();
        }),
      );
    },
    async status(flowName) {
      const row = await guard('read the formula refresh status', () => db.selectFrom('formula_refresh').selectAll().where('flow_name', '=', flowName).executeTakeFirst());
      return row === undefined ? undefined : { lastRefreshAt: row.last_refresh_at, runsSinceRefresh: Number(row.runs_since), firstRunAt: row.first_run_at };
    },
    async forget(flowName) {
      await guard('forget the formula state', () =>
        db.transaction().execute(async (trx) => {
          await flowLock(trx, flowName);
          await trx.deleteFrom('formula_hashes').where('flow_name', '=', flowName).execute();
          await trx.deleteFrom('formula_staged').where('flow_name', '=', flowName).execute();
          await trx.deleteFrom('formula_refresh').where('flow_name', '=', flowName).execute();
        }),
      );
    },
  };
}

/** The lock attempt in one transaction: the row locked (or inserted), the holder judged, the row written. */
async function acquire(
  trx: Tx,
  pg: boolean,
  flowName: string,
  owner: LockOwner,
  options: { readonly leaseMs: number; readonly now: Date; readonly isGone: (holder: FlowLockInfo, now: Date) => boolean },
): Promise<LockAttempt> {
  const at = options.now.toISOString();
  const values = { execution_id: owner.executionId, host: owner.host, pid: owner.pid, process_start: owner.processStart ?? null, acquired_at: at, heartbeat_at: at, expires_at: new Date(options.now.getTime() + options.leaseMs).toISOString() };
  // A row another client inserted between our read and our insert is read (locked) on the next pass.
  for (let attempt = 0; attempt < 3; attempt++) {
    const select = trx.selectFrom('flow_locks').selectAll().where('flow_name', '=', flowName);
    const row = await (pg ? select.forUpdate() : select).executeTakeFirst();
    if (row === undefined) {
      const inserted = await trx.insertInto('flow_locks').values({ flow_name: flowName, ...values }).onConflict((oc) => oc.doNothing()).returning('flow_name').executeTakeFirst();
      if (inserted !== undefined) return { acquired: true };
      continue;
    }
    const held = lockInfo(row);
    if (held.executionId !== owner.executionId && !options.isGone(held, options.now)) return { acquired: false, holder: held };
    await trx.updateTable('flow_locks').set(values).where('flow_name', '=', flowName).execute();
    return held.executionId !== owner.executionId ? { acquired: true, takenOverFrom: held } : { acquired: true };
  }
  throw new ForceflowError('STATE_ERROR', `The lock of flow "${flowName}" kept changing while it was being taken. Try again.`);
}

/**
 * The Salesforce write journal ({@link WriteJournal}) in the service database: the same two tables and meaning
 * as runs.db's (src/connectors/salesforce/journal.ts); `seq` is the entries' serial id.
 */
export function sqlWriteJournal(database: AnyKysely): WriteJournal {
  const db = database.withTables<RunStateTables>() as unknown as Db;
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof ForceflowError) throw error;
      throw new ForceflowError('STATE_ERROR', `The write journal in the service database could not be read or written: ${(error as Error).message}. Check that the database server is reachable.`, { cause: error });
    }
  };
  const start = (r: RunStateTables['write_journal_executions']): JournalExecutionStart => ({ executionId: r.execution_id, flowName: r.flow_name, object: r.object, operation: r.operation, startedAt: r.started_at });
  const forget = (ids: readonly string[]): Promise<number> =>
    db.transaction().execute(async (trx) => {
      let n = 0;
      for (const part of chunks(ids)) {
        await trx.deleteFrom('write_journal_entries').where('execution_id', 'in', part).execute();
        n += Number((await trx.deleteFrom('write_journal_executions').where('execution_id', 'in', part).executeTakeFirst()).numDeletedRows);
      }
      return n;
    });
  return {
    async open(flowName) {
      return wrap(async () => {
        const execs = await db.selectFrom('write_journal_executions').selectAll().where('flow_name', '=', flowName).orderBy('started_at').orderBy('execution_id').execute();
        if (execs.length === 0) return [];
        const entries = await db.selectFrom('write_journal_entries').selectAll().where('execution_id', 'in', execs.map((e) => e.execution_id)).orderBy('seq').execute();
        return execs.map((r) => ({
          ...start(r),
          entries: entries
            .filter((e) => e.execution_id === r.execution_id)
            .map((e) => ({
              seq: Number(e.seq),
              executionId: e.execution_id,
              kind: e.kind,
              ref: e.ref,
              ranges: JSON.parse(e.ranges) as IndexRanges,
              count: Number(e.count),
              fingerprint: e.fingerprint,
              sentAt: Number(e.sent_at),
              outcome: e.outcome === null ? null : (JSON.parse(e.outcome) as JournalOutcome),
            })),
        }));
      });
    },
    async begin(e) {
      const row = { flow_name: e.flowName, object: e.object, operation: e.operation, started_at: e.startedAt };
      await wrap(() => db.insertInto('write_journal_executions').values({ execution_id: e.executionId, ...row }).onConflict((oc) => oc.column('execution_id').doUpdateSet(row)).execute());
    },
    async record(executionId, e) {
      return wrap(async () => {
        const row = await db
          .insertInto('write_journal_entries')
          .values({ execution_id: executionId, kind: e.kind, ref: e.ref, ranges: JSON.stringify(e.ranges), count: e.count, fingerprint: e.fingerprint, sent_at: e.sentAt, outcome: null })
          .returning('seq')
          .executeTakeFirstOrThrow();
        return Number(row.seq);
      });
    },
    async settle(seq, outcome) {
      await wrap(() => db.updateTable('write_journal_entries').set({ outcome: JSON.stringify(outcome) }).where('seq', '=', seq).execute());
    },
    async finish(ids) {
      if (ids.length > 0) await wrap(() => forget(ids));
    },
    async discard(id) {
      return wrap(async () => (await forget([id])) > 0);
    },
    async list() {
      return wrap(async () => {
        const execs = await db.selectFrom('write_journal_executions').selectAll().orderBy('started_at').orderBy('execution_id').execute();
        const counts = await db
          .selectFrom('write_journal_entries')
          .select((eb) => [
            'execution_id',
            eb.fn.countAll().as('entries'),
            sql<number | string>`coalesce(sum(case when outcome is null then 1 else 0 end), 0)`.as('unsettled'),
            sql<number | string>`coalesce(sum(count), 0)`.as('rows'),
          ])
          .groupBy('execution_id')
          .execute();
        const byId = new Map(counts.map((c) => [c.execution_id, c]));
        return execs.map((r) => {
          const c = byId.get(r.execution_id);
          return { ...start(r), entries: Number(c?.entries ?? 0), unsettled: Number(c?.unsettled ?? 0), rows: Number(c?.rows ?? 0) };
        });
      });
    },
  };
}
