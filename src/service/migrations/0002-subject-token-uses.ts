import { sql, type Expression } from 'kysely';
import { databaseKind, type AnyKysely } from '../db.ts';

/**
 * The token-exchange replay store (src/auth/replay.ts, SqlReplayGuard): SHA-256 hashes of exchanged subject
 * tokens until they expire. `if not exists`: a SQLite service.db where an earlier version created it is adopted.
 */
export async function up(db: AnyKysely): Promise<void> {
  const text: 'text' | Expression<unknown> = databaseKind(db) === 'postgres' ? sql`text collate "C"` : 'text';
  await db.schema.createTable('subject_token_uses').ifNotExists()
    .addColumn('hash', text, (c) => c.primaryKey())
    .addColumn('expires_at', text, (c) => c.notNull())
    .execute();
}
