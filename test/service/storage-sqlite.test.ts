import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openServiceDatabase, type ServiceDatabase } from '../../src/service/db.ts';
import { openSqlProfileStore } from '../../src/service/profiles-sql.ts';
import { openSqlRunState } from '../../src/service/run-state-sql.ts';
import { openServiceState } from '../../src/service/state.ts';
import { KNOWN_MIGRATIONS, prepareServiceSchema, readSchemaState } from '../../src/service/migrations/index.ts';
import { describeRunStateConformance } from './run-state-conformance.ts';
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

// The run state, profiles and journal of the embedded service: runs.db and profiles.db in the state folder
// (openServiceState on a SQLite service database), two connections standing for two processes.
describeRunStateConformance({
  kind: 'sqlite files',
  fresh: async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-run-state-sqlite-'));
    const dbs: Array<Kysely<ServiceDatabase>> = [];
    return {
      client: async () => {
        const db = openServiceDatabase({ stateDir });
        dbs.push(db);
        await prepareServiceSchema(db, { autoMigrate: true });
        const state = openServiceState({ db, stateDir });
        expect(state.backend).toBe('sqlite');
        return state;
      },
      drop: async () => {
        for (const db of dbs) await db.destroy();
        expect(existsSync(join(stateDir, 'runs.db'))).toBe(true);
        expect(existsSync(join(stateDir, 'profiles.db'))).toBe(true);
        rmSync(stateDir, { recursive: true, force: true });
      },
    };
  },
});

// The kysely store (what PostgreSQL uses) on a SQLite service.db: the migrations' tables on SQLite, one
// connection shared by both clients (kysely serializes its transactions).
describeRunStateConformance({
  kind: 'kysely on sqlite',
  fresh: async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-run-state-kysely-'));
    const db = openServiceDatabase({ stateDir });
    await prepareServiceSchema(db, { autoMigrate: true });
    return {
      client: async () => {
        const runs = openSqlRunState(db);
        return { runs, profiles: openSqlProfileStore(db), journal: runs.writeJournal };
      },
      drop: async () => {
        await db.destroy();
        expect(existsSync(join(stateDir, 'runs.db'))).toBe(false);
        rmSync(stateDir, { recursive: true, force: true });
      },
    };
  },
});
