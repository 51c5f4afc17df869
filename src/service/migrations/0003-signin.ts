import { sql, type Expression } from 'kysely';
import { databaseKind, type AnyKysely } from '../db.ts';

/**
 * Sign in with Salesforce (src/service/signin/): allowed orgs, users mapped by org id and user id to a role,
 * and the service's token signing keys (private JWKs sealed with the KMS envelope, like access keys).
 */
export async function up(db: AnyKysely): Promise<void> {
  const pg = databaseKind(db) === 'postgres';
  const text: 'text' | Expression<unknown> = pg ? sql`text collate "C"` : 'text';
  const binary = pg ? 'bytea' : 'blob';
  await db.schema.createTable('signin_orgs').ifNotExists()
    .addColumn('org_id', text, (c) => c.primaryKey())
    .addColumn('default_role', text)
    .addColumn('created_at', text, (c) => c.notNull())
    .execute();
  await db.schema.createTable('signin_principals').ifNotExists()
    .addColumn('org_id', text, (c) => c.notNull())
    .addColumn('user_id', text, (c) => c.notNull())
    .addColumn('name', text, (c) => c.notNull())
    .addColumn('role', text, (c) => c.notNull())
    .addColumn('disabled', 'integer', (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    .addPrimaryKeyConstraint('signin_principals_pk', ['org_id', 'user_id'])
    .execute();
  await db.schema.createTable('service_signing_keys').ifNotExists()
    .addColumn('kid', text, (c) => c.primaryKey())
    .addColumn('kms_key_arn', text, (c) => c.notNull())
    .addColumn('data_key', binary, (c) => c.notNull())
    .addColumn('iv', binary, (c) => c.notNull())
    .addColumn('tag', binary, (c) => c.notNull())
    .addColumn('ciphertext', binary, (c) => c.notNull())
    .addColumn('created_at', text, (c) => c.notNull())
    .execute();
}
