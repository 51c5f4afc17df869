import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openServiceDatabase } from '../../src/service/db.ts';
import { openServiceState } from '../../src/service/state.ts';
import { openProfile } from '../../src/profiles/profiles.ts';
import { forceflow } from '../helpers/cli.ts';
import { postgresForTests, type TestDatabase } from '../helpers/postgres.ts';
import { profilesEnv, sfProfile, type ProfilesEnv } from './env.ts';

// forceflow profiles --database: the connector profiles of a service on PostgreSQL, managed from the command line.
const server = await postgresForTests('test/profiles/cli-postgres.test.ts');

describe.skipIf(server === undefined)('forceflow profiles --database (the PostgreSQL service database)', () => {
  let env: ProfilesEnv;
  let database: TestDatabase;
  beforeAll(async () => {
    env = await profilesEnv();
    database = await (server as NonNullable<typeof server>).createDatabase('ff_profiles_cli');
  });
  afterAll(async () => {
    await database?.drop();
    await env?.close();
  });

  const home = (): string => join(env.home, 'cli-home');
  const cli = (args: readonly string[], db = true) => forceflow([...args, ...(db ? ['--database', database.url] : [])], { env: { ...env.emu.env, FORCEFLOW_HOME: home(), FORCEFLOW_DATABASE_URL: undefined } });

  it('refuses an unmigrated database; creates, lists, describes and deletes profiles there, not in the state folder', async () => {
    const file = join(env.home, 'pg-profile.json');
    writeFileSync(file, JSON.stringify(sfProfile(env.emu, 'pg-profile', { accessToken: 'tok-pg-secret', refreshToken: 'refresh-pg-secret' })));
    const unmigrated = await cli(['profiles', 'create', '--file', file]);
    expect(unmigrated.code).not.toBe(0);
    expect(unmigrated.stderr).toContain('forceflow migrate --database');
    expect((await forceflow(['migrate', '--database', database.url])).code).toBe(0);

    const created = await cli(['profiles', 'create', '--file', file]);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ connectorProfileName: 'pg-profile', credentialFields: ['accessToken', 'refreshToken'] });
    const again = await cli(['profiles', 'create', '--file', file]);
    expect(again.stderr).toContain('PROFILE_EXISTS');
    const listed = await cli(['profiles', 'list']);
    expect(JSON.parse(listed.stdout).connectorProfileDetails.map((p: { connectorProfileName: string }) => p.connectorProfileName)).toEqual(['pg-profile']);
    expect(listed.stdout).not.toContain('tok-pg-secret');
    // The state folder knows nothing of it.
    const local = await cli(['profiles', 'list'], false);
    expect(JSON.parse(local.stdout).connectorProfileDetails).toEqual([]);

    // What the service (any process on the database) reads: the same profile, its credentials sealed with KMS.
    const db = openServiceDatabase({ url: database.url, stateDir: home() });
    try {
      const state = openServiceState({ db, stateDir: home() });
      const stored = await state.profiles.require('pg-profile');
      expect(stored.credentials.ciphertext.toString('utf8')).not.toContain('tok-pg-secret');
      const opened = await openProfile({ ...env.ctx, store: state.profiles }, 'pg-profile');
      expect(opened.credentials.accessToken).toBe('tok-pg-secret');
    } finally {
      await db.destroy();
    }

    const deleted = await cli(['profiles', 'delete', 'pg-profile']);
    expect(deleted.code, deleted.stderr).toBe(0);
    const missing = await cli(['profiles', 'describe', 'pg-profile']);
    expect(missing.stderr).toContain('PROFILE_NOT_FOUND');
    expect(existsSync(join(home(), 'runs.db'))).toBe(false);
  });
});
