import { describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { openServiceDatabase, type ServiceDatabase } from '../../src/service/db.ts';
import { migrateServiceDatabase } from '../../src/service/migrations/index.ts';
import { openServiceState } from '../../src/service/state.ts';
import { postgresForTests } from '../helpers/postgres.ts';
import { describeRunStateConformance } from './run-state-conformance.ts';
import { describeStorageConformance } from './storage-conformance.ts';

// The conformance suite on PostgreSQL: each fresh database is a new database on the test server, dropped after.
const server = await postgresForTests('test/service/storage-postgres.test.ts');
if (server === undefined) {
  describe.skip('service storage conformance (postgres)', () => it('needs PostgreSQL', () => undefined));
} else {
  describeStorageConformance({
    kind: 'postgres',
    fresh: async () => {
      // An en-US collation (ICU), where 'a-flow' sorts before 'B-flow': the store must still list in byte order.
      const database = await server.createDatabase('ff_storage', { icuLocale: 'en-US' });
      return { open: () => openServiceDatabase({ url: database.url, stateDir: '/nonexistent-unused' }), target: { url: database.url, stateDir: '/nonexistent-unused' }, cliArgs: ['--database', database.url], drop: () => database.drop() };
    },
  });

  // Run state, profiles and journal in the service database: two pools on one database stand for two processes
  // (on two machines); nothing is written to the state folder (a path that does not exist).
  describeRunStateConformance({
    kind: 'postgres',
    fresh: async () => {
      const database = await server.createDatabase('ff_run_state', { icuLocale: 'en-US' });
      const dbs: Array<Kysely<ServiceDatabase>> = [];
      return {
        client: async () => {
          const db = openServiceDatabase({ url: database.url, stateDir: '/nonexistent-unused' });
          dbs.push(db);
          await migrateServiceDatabase(db);
          const state = openServiceState({ db, stateDir: '/nonexistent-unused' });
          expect(state.backend).toBe('postgres');
          return state;
        },
        drop: async () => {
          for (const db of dbs) await db.destroy();
          await database.drop();
        },
      };
    },
  });
}
