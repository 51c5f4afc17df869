import { sql, type Expression } from 'kysely';
import { databaseKind, type AnyKysely } from '../db.ts';

/**
 * The console's refresh tokens (src/service/signin/refresh-tokens.ts): a family per sign-in (its principal,
 * scopes, absolute expiry and revocation) and every token of the family by SHA-256 (never the token), with
 * the time it was used: a token used twice revokes its family.
 */
export async function up(db: AnyKysely): Promise<void> {
  const text: 'text' | Expression<unknown> = databaseKind(db) === 'postgres' ? sql`text collate "C"` : 'text';
  await db.schema.createTable('signin_refresh_families')
    .addColumn('family_id', text, (c) => c.primaryKey())
    .addColumn('subject', text, (c) => c.notNull())
    .addColumn('scope', text, (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    .addColumn('expires_at', text, (c) => c.notNull())
    .addColumn('revoked_at', text)
    .execute();
  await db.schema.createTable('signin_refresh_tokens')
    .addColumn('hash', text, (c) => c.primaryKey())
    .addColumn('family_id', text, (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    .addColumn('used_at', text)
    .execute();
  await db.schema.createIndex('signin_refresh_tokens_family').on('signin_refresh_tokens').column('family_id').execute();
  await db.schema.createIndex('signin_refresh_families_expiry').on('signin_refresh_families').column('expires_at').execute();
}
