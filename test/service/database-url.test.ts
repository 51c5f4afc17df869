import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openServiceDatabase, redactDatabaseUrl } from '../../src/service/db.ts';
import { parseServiceConfig } from '../../src/service/config.ts';
import { readSchemaState } from '../../src/service/migrations/index.ts';
import { forceflow } from '../helpers/cli.ts';

describe('service database URLs', () => {
  it('refuses what is not a PostgreSQL URL naming a database, with CONFIG_INVALID and what to give instead', () => {
    const stateDir = '/nonexistent';
    expect(() => openServiceDatabase({ url: 'not a url', stateDir })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('postgres://') }));
    expect(() => openServiceDatabase({ url: 'mysql://root@localhost/db', stateDir })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('postgres:// or postgresql://') }));
    expect(() => openServiceDatabase({ url: 'postgres://u:pw@localhost:5432', stateDir })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.not.stringContaining('pw@') }));
    expect(() => parseServiceConfig({ database: 'sqlite:///x' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('database') }));
    expect(parseServiceConfig({ database: 'postgresql://u@h/db' }).database).toBe('postgresql://u@h/db');
  });

  it('hides the password of a URL it shows', () => {
    expect(redactDatabaseUrl('postgres://user:s3cret@db.example:5432/ff')).toBe('postgres://user:***@db.example:5432/ff');
    expect(redactDatabaseUrl('postgres://user@db.example/ff')).toBe('postgres://user@db.example/ff');
  });

  it('an unreachable server is a STATE_ERROR naming the cause, without the password', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-dburl-'));
    // Port 9 (discard) on loopback: nothing listens there, the connection is refused at once.
    const db = openServiceDatabase({ url: 'postgres://user:s3cret@127.0.0.1:9/ff', stateDir });
    try {
      const error = await readSchemaState(db).then(() => undefined, (e: unknown) => e as Error & { code: string });
      expect(error).toMatchObject({ code: 'STATE_ERROR', message: expect.stringContaining('ECONNREFUSED') });
      expect(error?.message).not.toContain('s3cret');
    } finally {
      await db.destroy();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('forceflow serve and migrate refuse a --database that is not PostgreSQL with one CONFIG_INVALID line', async () => {
    for (const command of ['serve', 'migrate']) {
      const out = await forceflow([command, '--database', 'mysql://root@localhost/db', '--state-dir', '/nonexistent-unused'], { env: { FORCEFLOW_DATABASE_URL: undefined } });
      expect(out.code).toBe(2);
      expect(out.stderr).toContain('CONFIG_INVALID');
      expect(out.stderr).toContain('postgres://');
      expect(out.stdout).toBe('');
    }
  });
});
