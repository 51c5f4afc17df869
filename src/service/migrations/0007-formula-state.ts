import { sql, type Expression } from 'kysely';
import { databaseKind, type AnyKysely } from '../db.ts';

/**
 * The formula refresh's state in the service database (src/service/run-state-sql.ts, `formulaState`): per flow
 * and record Id the hash of the formula values the flow last delivered, the hashes a run staged (kept when it
 * succeeds), and each flow's refresh status; the tables of the state folder's runs.db
 * (src/flows/formula-state.ts), with the same names and columns. Used by the service on PostgreSQL; on SQLite
 * they stay empty (the embedded service keeps runs.db).
 */
export async function up(db: AnyKysely): Promise<void> {
  const pg = databaseKind(db) === 'postgres';
  const text: 'text' | Expression<unknown> = pg ? sql`text collate "C"` : 'text';

  await db.schema.createTable('formula_hashes').ifNotExists()
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('id', text, (c) => c.notNull())
    .addColumn('hash', text, (c) => c.notNull())
    .addPrimaryKeyConstraint('formula_hashes_pk', ['flow_name', 'id'])
    .execute();
  await db.schema.createTable('formula_staged').ifNotExists()
    .addColumn('execution_id', text, (c) => c.notNull())
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('id', text, (c) => c.notNull())
    .addColumn('hash', text, (c) => c.notNull())
    .addPrimaryKeyConstraint('formula_staged_pk', ['execution_id', 'id'])
    .execute();
  await db.schema.createIndex('formula_staged_flow').ifNotExists().on('formula_staged').columns(['flow_name']).execute();
  await db.schema.createTable('formula_refresh').ifNotExists()
    .addColumn('flow_name', text, (c) => c.primaryKey())
    .addColumn('last_refresh_at', text)
    .addColumn('runs_since', 'integer', (c) => c.notNull())
    .addColumn('first_run_at', text, (c) => c.notNull())
    .execute();
}
