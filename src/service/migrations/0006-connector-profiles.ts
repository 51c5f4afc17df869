import { sql, type Expression } from 'kysely';
import { databaseKind, type AnyKysely } from '../db.ts';

/**
 * Connector profiles in the service database (src/service/profiles-sql.ts): the table of the state folder's
 * profiles.db (src/profiles/store.ts), credentials envelope-encrypted. Used by the service on PostgreSQL; the
 * embedded SQLite service keeps profiles.db (shared with `forceflow profiles`), so on SQLite it stays empty.
 */
export async function up(db: AnyKysely): Promise<void> {
  const pg = databaseKind(db) === 'postgres';
  const text: 'text' | Expression<unknown> = pg ? sql`text collate "C"` : 'text';
  const binary = pg ? 'bytea' : 'blob';
  await db.schema.createTable('connector_profiles').ifNotExists()
    .addColumn('name', text, (c) => c.primaryKey())
    .addColumn('connector_type', text, (c) => c.notNull())
    .addColumn('connection_mode', text)
    .addColumn('document', text, (c) => c.notNull())
    .addColumn('credential_fields', text, (c) => c.notNull())
    .addColumn('kms_key_arn', text, (c) => c.notNull())
    .addColumn('data_key', binary, (c) => c.notNull())
    .addColumn('iv', binary, (c) => c.notNull())
    .addColumn('tag', binary, (c) => c.notNull())
    .addColumn('ciphertext', binary, (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    .addColumn('updated_at', text, (c) => c.notNull())
    .execute();
}
