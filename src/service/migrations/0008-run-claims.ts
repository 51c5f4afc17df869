import { sql, type Expression } from 'kysely';
import { databaseKind, type AnyKysely } from '../db.ts';

/**
 * The distributed run queue's shared rows (src/service/queue.ts): one row per run handed to the pg-boss queue,
 * from StartFlow or a scheduled fire until the run ends. At most one row per flow is queued or running (a partial
 * unique index), so two service processes cannot both start a run of one flow; a scheduled fire's executionId is
 * derived from the flow and the fire time, so a fire is enqueued once whatever the number of service processes.
 * The worker running it renews `lease_until`; a row whose lease ran out belongs to a lost worker.
 */
export async function up(db: AnyKysely): Promise<void> {
  const pg = databaseKind(db) === 'postgres';
  const text: 'text' | Expression<unknown> = pg ? sql`text collate "C"` : 'text';
  await db.schema.createTable('run_claims').ifNotExists()
    .addColumn('execution_id', text, (c) => c.primaryKey())
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('started_by', text, (c) => c.notNull())
    // queued (in the queue) | running (a worker holds it) | done (ended, or given up)
    .addColumn('status', text, (c) => c.notNull())
    .addColumn('job_id', text)
    .addColumn('worker', text)
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('cancel_requested', 'integer', (c) => c.notNull())
    // Epoch milliseconds (bigint on PostgreSQL): the lease runs out then without a heartbeat.
    .addColumn('lease_until', pg ? 'bigint' : 'integer')
    .addColumn('enqueued_at', text, (c) => c.notNull())
    .addColumn('note', text)
    .execute();
  await sql`create unique index if not exists run_claims_one_per_flow on run_claims (flow_name) where status in ('queued', 'running')`.execute(db);
  await sql`create index if not exists run_claims_status on run_claims (status, lease_until)`.execute(db);
}
