import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptOnce, MemoryReplayGuard, SqlReplayGuard, type ReplayGuard } from '../../src/auth/replay.ts';
import { tokenHash } from '../../src/auth/refusal.ts';
import { AllowedIssuers, verifySalesforceIdToken } from '../../src/auth/salesforce-id-token.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { openServiceDatabase } from '../../src/service/db.ts';
import { migrateServiceDatabase } from '../../src/service/migrations/index.ts';
import { registerApp, signIn } from './helpers.ts';
import { expectRefused } from './refusal-assert.ts';

const dirs: string[] = [];
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-replay-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
/** The service database (SQLite) of a state folder, migrated as the service migrates it at start. */
async function migrated(dir: string): Promise<ReturnType<typeof openServiceDatabase>> {
  const db = openServiceDatabase({ stateDir: dir });
  await migrateServiceDatabase(db);
  return db;
}

const t0 = new Date('2026-01-10T09:00:00.000Z');
const at = (seconds: number): Date => new Date(t0.getTime() + seconds * 1000);

const guards: Array<[string, () => Promise<ReplayGuard>]> = [
  ['in memory', () => Promise.resolve(new MemoryReplayGuard())],
  ['in the service database (SQLite)', async () => SqlReplayGuard.open(await migrated(stateDir()))],
];

describe.each(guards)('replay guard %s', (_name, make) => {
  it('accepts a subject token once until it expires, then forgets it', async () => {
    const guard = await make();
    await acceptOnce(guard, 'subject-token-A', at(120), at(0));
    await expectRefused(acceptOnce(guard, 'subject-token-A', at(120), at(10)), 'replayed', 'subject-token-A');
    await acceptOnce(guard, 'subject-token-B', at(120), at(10));
    // Past its expiry the token would be refused as expired anyway; the guard no longer needs it.
    await acceptOnce(guard, 'subject-token-A', at(300), at(121));
    await expectRefused(acceptOnce(guard, 'subject-token-A', at(300), at(122)), 'replayed');
  });

  it('lets exactly one of many racing exchanges of one token through', async () => {
    const guard = await make();
    const results = await Promise.all(Array.from({ length: 20 }, () => guard.firstUse(tokenHash('raced'), at(60), at(0))));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('SqlReplayGuard', () => {
  it('keeps the hash (never the token) across a restart', async () => {
    const dir = stateDir();
    const first = await migrated(dir);
    await acceptOnce(await SqlReplayGuard.open(first), 'persisted-token', at(120), at(0));
    const rows = await first.withTables<{ subject_token_uses: { hash: string; expires_at: string } }>().selectFrom('subject_token_uses').selectAll().execute();
    expect(rows).toEqual([{ hash: tokenHash('persisted-token'), expires_at: at(120).toISOString() }]);
    await first.destroy();
    const again = await SqlReplayGuard.open(openServiceDatabase({ stateDir: dir }));
    await expectRefused(acceptOnce(again, 'persisted-token', at(120), at(5)), 'replayed');
  });
});

describe('a replayed Salesforce id_token', () => {
  let emu: RunningEmulator;
  let now = t0.getTime();
  beforeAll(async () => {
    emu = await startEmulator({ clock: () => now });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('verifies both times but is accepted once', async () => {
    const app = await registerApp(emu);
    const { id_token: token = '' } = await signIn(emu, app, { scope: 'openid' });
    const allowedIssuers = new AllowedIssuers([emu.loginUrl]);
    const guard = new MemoryReplayGuard();
    const exchange = async (): Promise<void> => {
      const subject = await verifySalesforceIdToken(token, { allowedIssuers, consumerKey: app.clientId, maxAgeSeconds: 300, now: () => now });
      await acceptOnce(guard, token, subject.expiresAt, new Date(now));
    };
    await exchange();
    now += 5_000;
    await expectRefused(exchange(), 'replayed', token);
  });
});
