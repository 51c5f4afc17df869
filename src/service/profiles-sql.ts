import type { Kysely } from 'kysely';
import { ForceflowError } from '../core/errors.ts';
import { envelopeColumns, notFound, profileExists, profileFromRow, type ProfileRepository, type ProfileRow, type StoredProfile } from '../profiles/store.ts';
import type { AnyKysely } from './db.ts';

/** The connector_profiles table (migration 0006-connector-profiles), as the state folder's profiles.db has it. */
export type ProfileTables = {
  connector_profiles: ProfileRow;
};

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
    return row === undefined ? undefined : profileFromRow(row);
  };
  return {
    async put(profile, options = {}) {
      return run('save the profile', async () => {
        const at = now().toISOString();
        const values = {
          connector_type: profile.connectorType,
          connection_mode: profile.connectionMode ?? null,
          document: JSON.stringify(profile.document),
          credential_fields: JSON.stringify(profile.credentialFields),
          ...envelopeColumns(profile.credentials),
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
            ...envelopeColumns(credentials),
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
    list: () => run('list profiles', async () => (await db.selectFrom('connector_profiles').selectAll().orderBy('name').execute()).map(profileFromRow)),
    delete: (name) => run('delete the profile', async () => Number((await db.deleteFrom('connector_profiles').where('name', '=', name).executeTakeFirst()).numDeletedRows) > 0),
    close() {
      // The service database belongs to the service, which closes it.
    },
  };
}
