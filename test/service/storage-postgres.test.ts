import { describe, it } from 'vitest';
import { openServiceDatabase } from '../../src/service/db.ts';
import { postgresForTests } from '../helpers/postgres.ts';
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
}
