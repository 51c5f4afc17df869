import { sql, type Expression } from 'kysely';
import { databaseKind, type AnyKysely } from '../db.ts';

/**
 * The service database as it was before versioned migrations: access keys, flows with their tags and fires
 * log, clientTokens. `if not exists` everywhere, so a SQLite service.db created by an earlier version (same
 * tables, no migration table) is adopted as is.
 *
 * Portable types: text, integer (0/1 for booleans), binary (blob / bytea); timestamps are ISO-8601 UTC text,
 * which orders as time on both. On PostgreSQL text columns use the "C" collation so ordering and `>`
 * comparisons (paging by name, expiry) are bytewise, as SQLite's default, whatever the database's locale.
 */
export async function up(db: AnyKysely): Promise<void> {
  const pg = databaseKind(db) === 'postgres';
  const text: 'text' | Expression<unknown> = pg ? sql`text collate "C"` : 'text';
  const binary = pg ? 'bytea' : 'blob';
  await db.schema.createTable('access_keys').ifNotExists()
    .addColumn('access_key_id', text, (c) => c.primaryKey())
    .addColumn('name', text, (c) => c.notNull())
    .addColumn('read_only', 'integer', (c) => c.notNull())
    .addColumn('is_default', 'integer', (c) => c.notNull())
    .addColumn('kms_key_arn', text, (c) => c.notNull())
    .addColumn('data_key', binary, (c) => c.notNull())
    .addColumn('iv', binary, (c) => c.notNull())
    .addColumn('tag', binary, (c) => c.notNull())
    .addColumn('ciphertext', binary, (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    .execute();
  await db.schema.createTable('flows').ifNotExists()
    .addColumn('name', text, (c) => c.primaryKey())
    .addColumn('arn', text, (c) => c.notNull())
    .addColumn('definition', text, (c) => c.notNull())
    .addColumn('status', text, (c) => c.notNull())
    .addColumn('status_message', text)
    .addColumn('created_at', text, (c) => c.notNull())
    .addColumn('last_updated_at', text, (c) => c.notNull())
    .addColumn('created_by', text, (c) => c.notNull())
    .addColumn('last_updated_by', text, (c) => c.notNull())
    .addColumn('schema_version', 'integer', (c) => c.notNull())
    .addColumn('schema_fingerprint', text, (c) => c.notNull())
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('activated_at', text)
    .execute();
  await db.schema.createTable('flow_fires').ifNotExists()
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('scheduled_at', text, (c) => c.notNull())
    .addColumn('fired_at', text, (c) => c.notNull())
    .addColumn('outcome', text, (c) => c.notNull())
    .addColumn('catch_up', 'integer', (c) => c.notNull())
    .addColumn('execution_id', text)
    .addColumn('reason', text)
    .execute();
  await db.schema.createIndex('flow_fires_flow').ifNotExists().on('flow_fires').columns(['flow_name', 'fired_at']).execute();
  await db.schema.createTable('flow_tags').ifNotExists()
    .addColumn('flow_name', text, (c) => c.notNull())
    .addColumn('tag_key', text, (c) => c.notNull())
    .addColumn('tag_value', text, (c) => c.notNull())
    .addPrimaryKeyConstraint('flow_tags_pk', ['flow_name', 'tag_key'])
    .execute();
  await db.schema.createTable('client_tokens').ifNotExists()
    .addColumn('operation', text, (c) => c.notNull())
    .addColumn('client_token', text, (c) => c.notNull())
    .addColumn('request_hash', text, (c) => c.notNull())
    .addColumn('response', text, (c) => c.notNull())
    .addColumn('expires_at', text, (c) => c.notNull())
    .addPrimaryKeyConstraint('client_tokens_pk', ['operation', 'client_token'])
    .execute();
}
