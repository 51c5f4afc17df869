// A child process for migration races: open the service database given as JSON in argv[2]
// ({ url?, stateDir, at }), wait until the wall clock reaches `at` (so every racer, loaded, starts in the same
// millisecond), migrate, print the migrations applied now as JSON, exit.
import { setTimeout as sleep } from 'node:timers/promises';
import { openServiceDatabase } from '../../src/service/db.ts';
import { migrateServiceDatabase } from '../../src/service/migrations/index.ts';

const { url, stateDir, at } = JSON.parse(process.argv[2] ?? '{}') as { url?: string; stateDir: string; at: number };
const db = openServiceDatabase({ url, stateDir });
try {
  await sleep(Math.max(0, at - Date.now()));
  process.stdout.write(`${JSON.stringify(await migrateServiceDatabase(db))}\n`);
} finally {
  await db.destroy();
}
