import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * PostgreSQL for tests: the server at 127.0.0.1:5432 (user postgres, trust auth, database `test`), or
 * FORCEFLOW_TEST_POSTGRES_URL. A test file asks {@link postgresForTests} once (top-level await) and skips its
 * PostgreSQL tests when it answers undefined; each file makes its own database and drops it after.
 *
 * @example
 * const server = await postgresForTests('storage-postgres.test.ts');
 * describe.skipIf(server === undefined)('on PostgreSQL', () => { ... server.createDatabase() ... });
 */
export const POSTGRES_TEST_URL_ENV = 'FORCEFLOW_TEST_POSTGRES_URL';
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';

export interface TestPostgresServer {
  /** The admin URL (database `test`). */
  readonly url: string;
  /**
   * Create an empty database with a random name; answers its URL and how to drop it (after closing every pool on
   * it). `icuLocale` (such as 'en-US') gives it a language's collation, as production databases often have,
   * instead of the server's default (C.UTF-8 on the project's machines).
   */
  createDatabase(label?: string, options?: { readonly icuLocale?: string }): Promise<TestDatabase>;
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The test PostgreSQL server, or undefined (after printing one line saying how to enable the tests) when none
 * answers. Under CI=true an unreachable server is an error: the PostgreSQL tests are required there.
 */
export async function postgresForTests(file: string, env: NodeJS.ProcessEnv = process.env): Promise<TestPostgresServer | undefined> {
  const url = env[POSTGRES_TEST_URL_ENV] ?? DEFAULT_URL;
  try {
    await withClient(url, (c) => c.query('select 1'));
  } catch (error) {
    const why = `${(error as NodeJS.ErrnoException).code ?? ''} ${(error as Error).message}`.trim();
    const safeUrl = url.replace(/:[^:@/]*@/, ':***@');
    if (env['CI'] === 'true') {
      throw new Error(`${file}: PostgreSQL is required under CI=true but ${safeUrl} is unreachable (${why}). Start PostgreSQL there or set ${POSTGRES_TEST_URL_ENV}.`, { cause: error });
    }
    process.stderr.write(`${file}: PostgreSQL tests SKIPPED (${safeUrl} unreachable: ${why}). Enable them: run PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database test) or set ${POSTGRES_TEST_URL_ENV}=postgres://user@host:port/db.\n`);
    return undefined;
  }
  return {
    url,
    createDatabase: async (label = 'ff', options = {}) => {
      const name = `${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(6).toString('hex')}`;
      const locale = options.icuLocale === undefined ? '' : ` template template0 locale_provider icu icu_locale '${options.icuLocale.replace(/[^A-Za-z0-9_-]/g, '')}'`;
      await withClient(url, (c) => c.query(`create database "${name}"${locale}`));
      const dbUrl = new URL(url);
      dbUrl.pathname = `/${name}`;
      return {
        name,
        url: dbUrl.toString(),
        drop: () => withClient(url, (c) => c.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
      };
    },
  };
}
