import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openServiceDatabase } from '../../src/service/db.ts';
import { KNOWN_MIGRATIONS, prepareServiceSchema, readSchemaState } from '../../src/service/migrations/index.ts';
import { describeStorageConformance } from './storage-conformance.ts';

// The conformance suite on SQLite: each fresh database is a service.db in its own temporary state folder.
describeStorageConformance({
  kind: 'sqlite',
  fresh: async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-storage-sqlite-'));
    return { open: () => openServiceDatabase({ stateDir }), target: { stateDir }, cliArgs: ['--state-dir', stateDir], drop: async () => rmSync(stateDir, { recursive: true, force: true }) };
  },
});

describe('a service.db from before versioned migrations', () => {
  it('is adopted at start: its tables and rows are kept, the migrations recorded', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-storage-legacy-'));
    const db = openServiceDatabase({ stateDir });
    try {
      // The tables as earlier versions created them on open (no kysely_migration table).
      await sql`create table client_tokens (operation text not null, client_token text not null, request_hash text not null, response text not null, expires_at text not null, constraint client_tokens_pk primary key (operation, client_token))`.execute(db);
      await sql`insert into client_tokens values ('CreateFlow', 'kept', 'h', '{}', '2999-01-01T00:00:00.000Z')`.execute(db);
      await prepareServiceSchema(db, { autoMigrate: true });
      expect(await readSchemaState(db)).toEqual({ applied: KNOWN_MIGRATIONS, pending: [], unknown: [] });
      const rows = await sql<{ client_token: string }>`select client_token from client_tokens`.execute(db);
      expect(rows.rows.map((r) => r.client_token)).toEqual(['kept']);
    } finally {
      await db.destroy();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
