import { sql, type ColumnDefinitionBuilder, type Expression } from 'kysely';
import { databaseKind, type AnyKysely } from '../db.ts';

/**
 * The run state in the service database (src/service/run-state-sql.ts): run history, incremental windows and
 * their audit trail, the per-flow lock, run resources, lookback keys, AppFlow schema versions and the Salesforce
 * write journal: the tables of the state folder's runs.db (src/flows/state.ts), with the same names and columns.
 *
 * The service on PostgreSQL keeps them here so that several processes on several machines share them; the
 * embedded SQLite service keeps using runs.db (shared with the command line), so on SQLite these tables stay
 * empty. Epoch-millisecond columns are bigint on PostgreSQL (read back as numbers), lookback instants double
 * precision (SQLite's REAL).
 */
export async function up(db: AnyKysely): Promise<void> {
  const pg = databaseKind(db) === 'postgres';
  const text: 'text' | Expression<unknown> = pg ? sql`text collate "C"` : 'text';
  const real = pg ? 'double precision' : 'real';
  const epochMs = pg ? 'bigint' : 'integer';
  // An increasing id: serial on PostgreSQL, AUTOINCREMENT on SQLite (never reused, as runs.db had it).
  const serial = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder => (pg ? c.primaryKey() : c.primaryKey().autoIncrement());
  const serialType = pg ? 'serial' : 'integer';

  await db.schema.createTable('runs').ifNotExists()
    .addColumn('execution_id', text, (c) => c.primaryKey())
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('status', text, (c) => c.notNull())
    .addColumn('started_at', text, (c) => c.notNull())
    .addColumn('window_end', text)
    .addColumn('record', text, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('runs_page').ifNotExists().on('runs').columns(['flow_name', 'started_at', 'execution_id']).execute();
  await db.schema.createIndex('runs_started').ifNotExists().on('runs').columns(['started_at', 'execution_id']).execute();
  await db.schema.createIndex('runs_status').ifNotExists().on('runs').columns(['status', 'flow_name']).execute();

  await db.schema.createTable('schema_versions').ifNotExists()
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('fingerprint', text, (c) => c.notNull())
    .addPrimaryKeyConstraint('schema_versions_pk', ['flow_name', 'version'])
    .execute();

  await db.schema.createTable('flow_locks').ifNotExists()
    .addColumn('flow_name', text, (c) => c.primaryKey())
    .addColumn('execution_id', text, (c) => c.notNull())
    .addColumn('host', text, (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('process_start', text)
    .addColumn('acquired_at', text, (c) => c.notNull())
    .addColumn('heartbeat_at', text, (c) => c.notNull())
    .addColumn('expires_at', text, (c) => c.notNull())
    .execute();

  await db.schema.createTable('run_resources').ifNotExists()
    .addColumn('id', serialType, serial)
    .addColumn('execution_id', text, (c) => c.notNull())
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('resource', text, (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    .addColumn('settled_at', text)
    .addColumn('last_error', text)
    .execute();
  await db.schema.createIndex('run_resources_flow').ifNotExists().on('run_resources').columns(['flow_name', 'settled_at']).execute();
  await db.schema.createIndex('run_resources_run').ifNotExists().on('run_resources').columns(['execution_id']).execute();

  await db.schema.createTable('flow_windows').ifNotExists()
    .addColumn('flow_name', text, (c) => c.primaryKey())
    .addColumn('window_end', text)
    .addColumn('changed_at', text, (c) => c.notNull())
    .execute();
  await db.schema.createTable('window_changes').ifNotExists()
    .addColumn('id', serialType, serial)
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('changed_at', text, (c) => c.notNull())
    .addColumn('previous_end', text)
    .addColumn('new_end', text)
    .addColumn('reason', text, (c) => c.notNull())
    .addColumn('execution_id', text)
    .addColumn('note', text)
    .execute();
  await db.schema.createIndex('window_changes_flow').ifNotExists().on('window_changes').columns(['flow_name', 'id']).execute();

  await db.schema.createTable('delivered_keys').ifNotExists()
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('id', text, (c) => c.notNull())
    .addColumn('at', real, (c) => c.notNull())
    .addPrimaryKeyConstraint('delivered_keys_pk', ['flow_name', 'id', 'at'])
    .execute();
  await db.schema.createTable('delivered_staged').ifNotExists()
    .addColumn('execution_id', text, (c) => c.notNull())
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('id', text, (c) => c.notNull())
    .addColumn('at', real, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('delivered_staged_run').ifNotExists().on('delivered_staged').columns(['execution_id']).execute();
  await db.schema.createTable('delivered_runs').ifNotExists()
    .addColumn('execution_id', text, (c) => c.primaryKey())
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('keep_from', real, (c) => c.notNull())
    .execute();

  await db.schema.createTable('write_journal_executions').ifNotExists()
    .addColumn('execution_id', text, (c) => c.primaryKey())
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('object', text, (c) => c.notNull())
    .addColumn('operation', text, (c) => c.notNull())
    .addColumn('started_at', text, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('write_journal_executions_flow').ifNotExists().on('write_journal_executions').columns(['flow_name', 'started_at']).execute();
  await db.schema.createTable('write_journal_entries').ifNotExists()
    .addColumn('seq', serialType, serial)
    .addColumn('execution_id', text, (c) => c.notNull())
    .addColumn('kind', text, (c) => c.notNull())
    .addColumn('ref', text)
    .addColumn('ranges', text, (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('fingerprint', text, (c) => c.notNull())
    .addColumn('sent_at', epochMs, (c) => c.notNull())
    .addColumn('outcome', text)
    .execute();
  await db.schema.createIndex('write_journal_entries_execution').ifNotExists().on('write_journal_entries').columns(['execution_id', 'seq']).execute();
}
