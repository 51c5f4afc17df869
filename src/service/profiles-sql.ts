import type { Kysely } from 'kysely';
import { ForceflowError } from '../core/errors.ts';
import { notFound, profileExists, type ProfileRepository, type StoredProfile } from '../profiles/store.ts';
import type { AnyKysely } from './db.ts';

/** The connector_profiles table (migration 0006-connector-profiles), as the state folder's profiles.db has it. */
export type ProfileTables = {
  connector_profiles: {
    name: string;
    connector_type: string;
    connection_mode: string | null;
    document: string;
    credential_fields: string;
    kms_key_arn: string;
    data_key: Buffer;
    iv: Buffer;
    tag: Buffer;
    ciphertext: Buffer;
    created_at: string;
    updated_at: string;
  };
};

type Row = ProfileTables['connector_profiles'];

function fromRow(row: Row): StoredProfile {
  return {
    name: row.name,
    connectorType: row.connector_type,
    connectionMode: row.connection_mode ?? undefined,
    document: JSON.parse(row.document) as Record<string, unknown>,
    credentialFields: JSON.parse(row.credential_fields) as string[],
    credentials: { keyArn: row.kms_key_arn, encryptedDataKey: Buffer.from(row.data_key), iv: Buffer.from(row.iv), tag: Buffer.from(row.tag), ciphertext: Buffer.from(row.ciphertext) },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Connector profiles in the service database (the service on PostgreSQL: every process sees the same profiles).
 * Only envelopes are stored, as in profiles.db. `put` is one statement (`INSERT … ON CONFLICT`), so two
 * processes creating the same name at once get one profile and one PROFILE_INVALID.
 */
export function openSqlProfileStore(database: AnyKysely, now: () => Date = () => new Date()): ProfileRepository {
  const db = database.withTables<ProfileTables>() as unknown as Kysely<ProfileTables>;
  const run = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof ForceflowError) throw error;
      throw new ForceflowError('STATE_ERROR', `The service database could not ${what}: ${(error as Error).message}. Check that the database server is reachable.`, { cause: error });
    }
  };
  const get = async (name: string): Promise<StoredProfile | undefined> => {
    const row = await db.selectFrom('connector_profiles').selectAll().where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  };
  return {
    async put(profile, options = {}) {
      return run('save the profile', async () => {
        const at = now().toISOString();
        const c = profile.credentials;
        const values = {
          connector_type: profile.connectorType,
          connection_mode: profile.connectionMode ?? null,
          document: JSON.stringify(profile.document),
          credential_fields: JSON.stringify(profile.credentialFields),
          kms_key_arn: c.keyArn,
          data_key: Buffer.from(c.encryptedDataKey),
          iv: Buffer.from(c.iv),
          tag: Buffer.from(c.tag),
          ciphertext: Buffer.from(c.ciphertext),
          updated_at: at,
        };
        const row = await db
          .insertInto('connector_profiles')
          .values({ name: profile.name, ...values, created_at: at })
          // A replaced profile keeps its creation time.
          .onConflict((oc) => (options.replace ? oc.column('name').doUpdateSet(values) : oc.column('name').doNothing()))
          .returning('created_at')
          .executeTakeFirst();
        if (row === undefined) throw profileExists(profile.name);
        return { ...profile, createdAt: row.created_at, updatedAt: at };
      });
    },
    async updateCredentials(name, credentials, credentialFields, document) {
      await run('update the profile', async () => {
        const result = await db
          .updateTable('connector_profiles')
          .set({
            kms_key_arn: credentials.keyArn,
            data_key: Buffer.from(credentials.encryptedDataKey),
            iv: Buffer.from(credentials.iv),
            tag: Buffer.from(credentials.tag),
            ciphertext: Buffer.from(credentials.ciphertext),
            credential_fields: JSON.stringify(credentialFields),
            ...(document === undefined ? {} : { document: JSON.stringify(document) }),
            updated_at: now().toISOString(),
          })
          .where('name', '=', name)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) throw notFound(name);
      });
    },
    get: (name) => run('read the profile', () => get(name)),
    async require(name) {
      const found = await run('read the profile', () => get(name));
      if (!found) throw notFound(name);
      return found;
    },
    list: () => run('list profiles', async () => (await db.selectFrom('connector_profiles').selectAll().orderBy('name').execute()).map(fromRow)),
    delete: (name) => run('delete the profile', async () => Number((await db.deleteFrom('connector_profiles').where('name', '=', name).executeTakeFirst()).numDeletedRows) > 0),
    close() {
      // The service database belongs to the service, which closes it.
    },
  };
}
