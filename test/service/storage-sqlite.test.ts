import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openServiceDatabase } from '../../src/service/db.ts';
import { describeStorageConformance } from './storage-conformance.ts';

// The conformance suite on SQLite: each fresh database is a service.db in its own temporary state folder.
describeStorageConformance({
  kind: 'sqlite',
  fresh: async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-storage-sqlite-'));
    return { open: () => openServiceDatabase({ stateDir }), target: { stateDir }, cliArgs: ['--state-dir', stateDir], drop: async () => rmSync(stateDir, { recursive: true, force: true }) };
  },
});
