import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KMSClient } from '@aws-sdk/client-kms';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { databaseKind, type AnyKysely, type ServiceDatabase } from '../../src/service/db.ts';
import { createFlowStore, type FlowStore, type FlowTables, type NewFlow } from '../../src/service/flows/store.ts';
import { SqlReplayGuard } from '../../src/auth/replay.ts';
import { normalizeId } from '../../src/salesforce-wire/ids.ts';
import { PrincipalStore } from '../../src/service/signin/principals.ts';
import { SigningKeyStore } from '../../src/service/signin/signing-keys.ts';
import { RefreshTokenStore } from '../../src/service/signin/refresh-tokens.ts';
import { SqlIdempotencyStore } from '../../src/service/idempotency.ts';
import { KeyStore } from '../../src/service/keys.ts';
import { forceflow } from '../helpers/cli.ts';
import { KNOWN_MIGRATIONS, migrateServiceDatabase, prepareServiceSchema, readSchemaState } from '../../src/service/migrations/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A TypeScript script in its own Node process (through tsx), for what must be several processes at once. */
function nodeProcess(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** One backend under test: how to open a service database on a fresh, empty store, and how to throw it away. */
export interface StorageBackend {
  readonly kind: 'sqlite' | 'postgres';
  /** A new empty database (not migrated), and a second handle on the same one (another process's view). */
  fresh(): Promise<{ open(): Kysely<ServiceDatabase>; readonly target: { readonly url?: string; readonly stateDir: string }; readonly cliArgs: readonly string[]; drop(): Promise<void> }>;
}

const TABLES = ['access_keys', 'flows', 'flow_tags', 'flow_fires', 'client_tokens', 'subject_token_uses', 'signin_orgs', 'signin_principals', 'service_signing_keys', 'signin_refresh_tokens', 'signin_refresh_families'] as const;

function newFlow(name: string, extra: Partial<NewFlow> = {}): NewFlow {
  return {
    name,
    arn: `arn:aws:appflow:us-east-1:123456789012:flow/${name}`,
    definition: { triggerConfig: { triggerType: 'OnDemand' }, tasks: [{ taskType: 'Map', sourceFields: ['Id'] }], description: 'é ✓ "quoted"' },
    status: 'Draft',
    at: new Date('2026-01-02T03:04:05.678Z'),
    by: 'arn:aws:iam::123456789012:user/tester',
    schemaFingerprint: 'fp-1',
    tags: { team: 'data', 'aws:x': 'y' },
    ...extra,
  };
}

/**
 * The behaviours every service storage backend must show, the same assertions on SQLite and PostgreSQL:
 * schema migration and checks, access keys, flows (with tags, fires, failures), clientTokens.
 */
export function describeStorageConformance(backend: StorageBackend): void {
  describe(`service storage conformance (${backend.kind})`, () => {
    let emu: RunningEmulator;
    let kms: KMSClient;
    let store: Awaited<ReturnType<StorageBackend['fresh']>>;
    let db: Kysely<ServiceDatabase>;
    let flows: FlowStore;
    let clock = new Date('2026-03-01T00:00:00.000Z');
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-conformance-'));

    beforeAll(async () => {
      emu = await startEmulator();
      kms = new KMSClient({ endpoint: emu.aws.kmsEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey }, maxAttempts: 1 });
      store = await backend.fresh();
      db = store.open();
      expect(databaseKind(db)).toBe(backend.kind);
      expect(await migrateServiceDatabase(db)).toEqual(KNOWN_MIGRATIONS);
      flows = await createFlowStore(db.withTables<FlowTables>() as unknown as Kysely<FlowTables>, { now: () => clock });
    });
    afterAll(async () => {
      await db?.destroy();
      await store?.drop();
      kms?.destroy();
      await emu?.close();
      rmSync(stateDir, { recursive: true, force: true });
    });
    beforeEach(async () => {
      for (const t of TABLES) await (db as AnyKysely).deleteFrom(t).execute();
      clock = new Date('2026-03-01T00:00:00.000Z');
    });

    describe('migrations', () => {
      it('are recorded, and a second migrate applies nothing', async () => {
        expect(await readSchemaState(db)).toEqual({ applied: KNOWN_MIGRATIONS, pending: [], unknown: [] });
        expect(await migrateServiceDatabase(db)).toEqual([]);
      });

      it('three processes migrating a new database in the same millisecond apply each migration exactly once; forceflow migrate then applies nothing', async () => {
        const other = await backend.fresh();
        const h = other.open();
        try {
          // Each child loads first, then all migrate at `at`: a real race on the migration lock.
          const at = Date.now() + 6000;
          const outs = await Promise.all([0, 1, 2].map(() => nodeProcess([join(ROOT, 'test/helpers/migrate-at.ts'), JSON.stringify({ ...other.target, at })])));
          for (const out of outs) expect(out.code, out.stderr).toBe(0);
          const appliedNow = outs.flatMap((o) => JSON.parse(o.stdout) as string[]);
          expect(appliedNow.sort()).toEqual([...KNOWN_MIGRATIONS].sort());
          expect(await readSchemaState(h)).toEqual({ applied: KNOWN_MIGRATIONS, pending: [], unknown: [] });
          const again = await forceflow(['migrate', ...other.cliArgs], { env: { FORCEFLOW_DATABASE_URL: undefined } });
          expect(again.code, again.stderr).toBe(0);
          expect(JSON.parse(again.stdout)).toMatchObject({ appliedNow: [], applied: KNOWN_MIGRATIONS });
        } finally {
          await h.destroy();
          await other.drop();
        }
      }, 60_000);

      it('an unmigrated database refuses a start that may not migrate, saying to run forceflow migrate; autoMigrate migrates it', async () => {
        const other = await backend.fresh();
        const h = other.open();
        try {
          await expect(prepareServiceSchema(h, { autoMigrate: false })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('forceflow migrate') });
          await prepareServiceSchema(h, { autoMigrate: true });
          expect((await readSchemaState(h)).pending).toEqual([]);
          await prepareServiceSchema(h, { autoMigrate: false });
        } finally {
          await h.destroy();
          await other.drop();
        }
      });

      it('a database migrated by a newer forceflow is refused, even with autoMigrate, and migrate refuses it too', async () => {
        const other = await backend.fresh();
        const h = other.open();
        try {
          await migrateServiceDatabase(h);
          await (h as AnyKysely).insertInto('kysely_migration').values({ name: '9999-from-the-future', timestamp: new Date().toISOString() }).execute();
          for (const autoMigrate of [true, false]) {
            await expect(prepareServiceSchema(h, { autoMigrate })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('9999-from-the-future') });
          }
          await expect(migrateServiceDatabase(h)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
        } finally {
          await h.destroy();
          await other.drop();
        }
      });
    });

    describe('access keys', () => {
      const options = (): { stateDir: string; kms: KMSClient; kmsKeyId: string; accountId: string } => ({ stateDir, kms, kmsKeyId: 'alias/forceflow', accountId: '123456789012' });

      it('seal secrets, and a fresh store (no cache) opens them from the database', async () => {
        const keys = await KeyStore.open(db, options());
        const made = await keys.create({ name: 'alice', readOnly: true });
        const def = await keys.defaultKey();
        expect(def.accessKeyId).not.toBe(made.accessKeyId);
        expect(await keys.defaultKey()).toEqual(def);
        const reopened = await KeyStore.open(db, options());
        expect(await reopened.find(made.accessKeyId)).toEqual(made);
        expect(await reopened.defaultKey()).toEqual(def);
        const row = await db.selectFrom('access_keys').selectAll().where('access_key_id', '=', made.accessKeyId).executeTakeFirstOrThrow();
        expect(Buffer.isBuffer(row.ciphertext)).toBe(true);
        expect(row.ciphertext.toString('utf8')).not.toContain(made.secretAccessKey);
        const list = await reopened.list();
        expect(list.map((k) => [k.name, k.readOnly, k.isDefault]).sort()).toEqual([['alice', true, false], ['forceflow-local', false, true]]);
      });

      it('ensure() replaces a key whose secret or mode changed (an upsert), and delete removes it', async () => {
        const keys = await KeyStore.open(db, options());
        const id = 'FFLKEXAMPLEEXAMPLE01';
        await keys.ensure([{ accessKeyId: id, secretAccessKey: 'first-secret-0123456789', name: 'bob' }]);
        await keys.ensure([{ accessKeyId: id, secretAccessKey: 'second-secret-0123456789', name: 'bob', readOnly: true }]);
        const fresh = await KeyStore.open(db, options());
        expect(await fresh.find(id)).toMatchObject({ secretAccessKey: 'second-secret-0123456789', readOnly: true });
        expect((await fresh.list()).filter((k) => k.accessKeyId === id)).toHaveLength(1);
        expect(await fresh.delete(id)).toBe(true);
        expect(await fresh.delete(id)).toBe(false);
        expect(await (await KeyStore.open(db, options())).find(id)).toBeUndefined();
      });
    });

    describe('flows', () => {
      it('create, get (definition, dates, tags as stored), refuse a duplicate name', async () => {
        expect(await flows.create(newFlow('orders'))).toBe(true);
        expect(await flows.create(newFlow('orders', { arn: 'other' }))).toBe(false);
        const got = await flows.get('orders');
        expect(got).toMatchObject({
          name: 'orders', arn: newFlow('orders').arn, definition: newFlow('orders').definition, status: 'Draft', statusMessage: null, schemaVersion: 1, schemaFingerprint: 'fp-1',
          consecutiveFailures: 0, activatedAt: null, tags: { 'aws:x': 'y', team: 'data' }, createdBy: newFlow('orders').by,
        });
        expect(got?.createdAt.toISOString()).toBe('2026-01-02T03:04:05.678Z');
        expect(got?.lastUpdatedAt.toISOString()).toBe('2026-01-02T03:04:05.678Z');
        expect(await flows.get('absent')).toBeUndefined();
      });

      it('lists by name in byte order (upper case before lower case, as on both backends), paged with after/limit, and counts', async () => {
        const names = ['b-flow', 'A_flow', 'a-flow', 'B-flow', 'Z9', '0first', 'z.last'];
        for (const n of names) expect(await flows.create(newFlow(n, { tags: {} }))).toBe(true);
        const expected = [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        expect(expected).toEqual(['0first', 'A_flow', 'B-flow', 'Z9', 'a-flow', 'b-flow', 'z.last']);
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await flows.list({ ...(after === undefined ? {} : { after }), limit: 3 });
          seen.push(...page.map((f) => f.name));
          if (page.length < 3) break;
          after = page[page.length - 1]!.name;
        }
        expect(seen).toEqual(expected);
        expect(await flows.count()).toBe(names.length);
        expect((await flows.list({ limit: 2 }))[0]?.tags).toEqual({});
      });

      it('update: schemaVersion goes up only when the fingerprint changes; absent flows answer undefined', async () => {
        await flows.create(newFlow('f'));
        const at = new Date('2026-02-02T00:00:00.000Z');
        const same = await flows.update('f', { definition: { description: 'same mapping' }, status: 'Active', schemaFingerprint: 'fp-1', at, by: 'someone' });
        expect(same).toMatchObject({ schemaVersion: 1, status: 'Active', definition: { description: 'same mapping' }, lastUpdatedBy: 'someone' });
        expect(same?.lastUpdatedAt.toISOString()).toBe(at.toISOString());
        expect((await flows.update('f', { definition: {}, status: 'Active', schemaFingerprint: 'fp-2', at, by: 'x' }))?.schemaVersion).toBe(2);
        expect((await flows.update('f', { definition: {}, status: 'Active', schemaFingerprint: 'fp-3', at, by: 'x' }))?.schemaVersion).toBe(3);
        expect(await flows.update('nope', { definition: {}, status: 'Active', schemaFingerprint: 'x', at, by: 'x' })).toBeUndefined();
      });

      it('status and consecutive failures: Error counts up, Successful resets, activation resets and sets activatedAt', async () => {
        await flows.create(newFlow('f'));
        expect(await flows.recordRunEnd('f', 'Error')).toBe(1);
        expect(await flows.recordRunEnd('f', 'Error')).toBe(2);
        expect(await flows.recordRunEnd('f', 'Canceled')).toBe(2);
        expect(await flows.recordRunEnd('f', 'Successful')).toBe(0);
        await flows.recordRunEnd('f', 'Error');
        const at = new Date('2026-04-01T10:00:00.000Z');
        const active = await flows.setStatus('f', 'Active', null, at);
        expect(active).toMatchObject({ status: 'Active', consecutiveFailures: 0 });
        expect(active?.activatedAt?.toISOString()).toBe(at.toISOString());
        const suspended = await flows.setStatus('f', 'Suspended', 'why', new Date('2026-04-02T00:00:00.000Z'));
        expect(suspended).toMatchObject({ status: 'Suspended', statusMessage: 'why' });
        expect(suspended?.activatedAt?.toISOString()).toBe(at.toISOString());
        expect(await flows.setStatus('absent', 'Active', null, at)).toBeUndefined();
        expect(await flows.recordRunEnd('absent', 'Error')).toBe(0);
      });

      it('tags: tag upserts, untag removes, and delete takes tags and fires with the flow', async () => {
        await flows.create(newFlow('f', { tags: { a: '1' } }));
        await flows.tag('f', { a: '2', b: '3' });
        await flows.untag('f', ['b', 'missing']);
        await flows.untag('f', []);
        expect((await flows.get('f'))?.tags).toEqual({ a: '2' });
        await flows.scheduler.recordFire({ flowName: 'f', scheduledAt: clock, firedAt: clock, outcome: 'started', catchUp: false, executionId: 'e1' });
        expect(await flows.delete('f')).toBe(true);
        expect(await flows.delete('f')).toBe(false);
        expect(await flows.create(newFlow('f', { tags: {} }))).toBe(true);
        expect((await flows.get('f'))?.tags).toEqual({});
        expect(await flows.fires('f')).toEqual([]);
      });

      it('fires: newest first with a limit, every field kept; the scheduler lists Active Scheduled flows with their last fire, and suspends', async () => {
        const scheduled = { triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(5minutes)' } } } };
        await flows.create(newFlow('sched', { definition: scheduled }));
        await flows.create(newFlow('ondemand'));
        await flows.create(newFlow('sched-draft', { definition: scheduled }));
        const activation = new Date('2026-03-01T00:00:00.000Z');
        await flows.setStatus('sched', 'Active', null, activation);
        await flows.setStatus('ondemand', 'Active', null, activation);
        const t = (m: number): Date => new Date(activation.getTime() + m * 60_000);
        await flows.scheduler.recordFire({ flowName: 'sched', scheduledAt: t(5), firedAt: t(5), outcome: 'started', catchUp: false, executionId: 'e1' });
        await flows.scheduler.recordFire({ flowName: 'sched', scheduledAt: t(10), firedAt: t(31), outcome: 'skipped', catchUp: true, reason: 'a run was in progress' });
        await flows.scheduler.recordFire({ flowName: 'sched', scheduledAt: t(15), firedAt: t(20), outcome: 'failed', catchUp: false, reason: 'no profile' });
        const fires = await flows.fires('sched');
        expect(fires.map((f) => f.firedAt.toISOString())).toEqual([t(31), t(20), t(5)].map((d) => d.toISOString()));
        expect(fires[0]).toEqual({ flowName: 'sched', scheduledAt: t(10), firedAt: t(31), outcome: 'skipped', catchUp: true, reason: 'a run was in progress' });
        expect(fires[2]).toEqual({ flowName: 'sched', scheduledAt: t(5), firedAt: t(5), outcome: 'started', catchUp: false, executionId: 'e1' });
        expect(await flows.fires('sched', 1)).toHaveLength(1);
        expect(await flows.recordRunEnd('sched', 'Error')).toBe(1);
        expect(await flows.recordRunEnd('sched', 'Canceled')).toBe(1);
        const active = await flows.scheduler.listActive();
        expect(active).toHaveLength(1);
        expect(active[0]).toMatchObject({ flowName: 'sched', consecutiveFailures: 1, triggerConfig: scheduled.triggerConfig });
        expect(active[0]?.activatedAt.toISOString()).toBe(activation.toISOString());
        expect(active[0]?.lastFireAt?.toISOString()).toBe(t(31).toISOString());
        clock = new Date('2026-03-02T00:00:00.000Z');
        await flows.scheduler.suspend('sched', 'x'.repeat(3000));
        const s = await flows.get('sched');
        expect(s?.status).toBe('Suspended');
        expect(s?.statusMessage).toHaveLength(2048);
        expect(s?.lastUpdatedAt.toISOString()).toBe(clock.toISOString());
        expect(await flows.scheduler.listActive()).toEqual([]);
        // suspendActive suspends an Active flow only: once, whoever asks second (another worker) changes nothing.
        await flows.setStatus('sched', 'Active', null, clock);
        expect(await flows.recordRunEnd('sched', 'Error')).toBe(1);
        expect(await flows.suspendActive('sched', 'first')).toBe(true);
        expect(await flows.suspendActive('sched', 'second')).toBe(false);
        expect(await flows.get('sched')).toMatchObject({ status: 'Suspended', statusMessage: 'first' });
        expect(await flows.suspendActive('no-such-flow', 'x')).toBe(false);
      });
    });

    describe('token-exchange replay store', () => {
      it('claims a hash once until it expires, atomically: of 20 racing claims exactly one wins', async () => {
        const guard = await SqlReplayGuard.open(db);
        const t = (s: number): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
        const results = await Promise.all(Array.from({ length: 20 }, () => guard.firstUse('a'.repeat(64), t(60), t(0))));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await guard.firstUse('a'.repeat(64), t(60), t(59))).toBe(false);
        expect(await guard.firstUse('a'.repeat(64), t(120), t(60))).toBe(true);
        expect(await guard.firstUse('b'.repeat(64), t(120), t(60))).toBe(true);
      });
    });

    describe('sign-in: principals and signing keys', () => {
      it('maps users by org id and user id to roles; allowed orgs, default roles, disabled users', async () => {
        const principals = PrincipalStore.open(db);
        const org = normalizeId('00D000000000001') ?? '';
        const user = normalizeId('005000000000001') ?? '';
        expect(await principals.resolve(org, user)).toBe('unknown_org');
        await principals.allowOrg(org);
        expect(await principals.resolve(org, user)).toBe('unknown_user');
        await principals.addUser({ orgId: org, userId: user, role: 'operator', name: 'ada' });
        expect(await principals.resolve(org, user)).toMatchObject({ id: `sf:${org}:${user}`, role: 'operator', name: 'ada' });
        await principals.addUser({ orgId: org, userId: user, role: 'admin', name: 'ada' });
        expect((await principals.listUsers()).map((u) => u.role)).toEqual(['admin']);
        await principals.setDisabled(org, user, true);
        expect(await principals.resolve(org, user)).toBe('disabled');
        await principals.allowOrg(org, 'viewer');
        const other = normalizeId('005000000000002') ?? '';
        expect(await principals.resolve(org, other)).toMatchObject({ role: 'viewer' });
        expect(await principals.listOrgs()).toEqual([expect.objectContaining({ orgId: org, defaultRole: 'viewer' })]);
        expect(await principals.removeOrg(org)).toBe(true);
        expect(await principals.resolve(org, other)).toBe('unknown_org');
      });

      it('signing keys: sealed, rotated, read back by a fresh store in order (the newest signs)', async () => {
        const keys = SigningKeyStore.open(db, { kms, kmsKeyId: 'alias/forceflow' });
        const first = await keys.keySet();
        const { kid } = await keys.rotate();
        const fresh = await SigningKeyStore.open(db, { kms, kmsKeyId: 'alias/forceflow' }).keySet();
        expect(fresh.kids).toEqual([...first.kids, kid]);
        expect(fresh.current.kid).toBe(kid);
      });
    });

    describe('sign-in: refresh tokens', () => {
      it('rotate once, revoke the family on reuse or on request, end at the absolute lifetime; only hashes are stored', async () => {
        const store = RefreshTokenStore.open(db, { now: () => clock.getTime() });
        const first = await store.issue('sf:org:user', ['flows:read', 'flows:run'], 3600);
        const next = await store.rotate(first.token);
        expect(next).toMatchObject({ familyId: first.familyId, subject: 'sf:org:user', scopes: ['flows:read', 'flows:run'] });
        if (typeof next === 'string') throw new Error(next);
        expect(await store.isActive(first.familyId)).toBe(true);
        expect(await store.rotate(first.token)).toBe('reused');
        expect(await store.rotate(next.token)).toBe('revoked');
        expect(await store.isActive(first.familyId)).toBe(false);
        const rows = await (db as AnyKysely).selectFrom('signin_refresh_tokens').selectAll().execute();
        expect(JSON.stringify(rows)).not.toContain(first.token.slice(5));
        // Of racing uses of one token exactly one wins.
        const second = await store.issue('sf:org:user', ['flows:read'], 3600);
        const outcomes = await Promise.all(Array.from({ length: 10 }, () => store.rotate(second.token)));
        expect(outcomes.filter((o) => typeof o !== 'string')).toHaveLength(1);
        expect(await store.revoke('ffrt_unknown')).toBe(false);
        const third = await store.issue('sf:org:user', ['flows:read'], 60);
        clock = new Date(clock.getTime() + 61_000);
        expect(await store.rotate(third.token)).toBe('expired');
        expect(await store.isActive(third.familyId)).toBe(false);
        // The next sign-in sweeps families that ended: their tokens are unknown from then on.
        await store.issue('sf:org:user', ['flows:read'], 60);
        expect(await store.rotate(third.token)).toBe('unknown');
        const fourth = await store.issue('sf:org:user', ['flows:read'], 60);
        expect(await store.revoke(fourth.token)).toBe(true);
        expect(await store.rotate(fourth.token)).toBe('revoked');
      });
    });

    describe('clientTokens', () => {
      it('remember a call, replay it until it expires, and keep operations apart', async () => {
        const tokens = await SqlIdempotencyStore.open(db);
        const now = new Date('2026-05-01T00:00:00.000Z');
        const expiresAt = new Date(now.getTime() + 8 * 3600_000);
        await tokens.put('CreateFlow', 'tok-1', { requestHash: 'h1', response: '{"flowArn":"x","ü":"✓"}', expiresAt }, now);
        expect(await tokens.get('CreateFlow', 'tok-1', now)).toEqual({ requestHash: 'h1', response: '{"flowArn":"x","ü":"✓"}', expiresAt });
        expect(await tokens.get('StartFlow', 'tok-1', now)).toBeUndefined();
        expect(await tokens.get('CreateFlow', 'tok-1', new Date(expiresAt.getTime() - 1))).toBeDefined();
        expect(await tokens.get('CreateFlow', 'tok-1', expiresAt)).toBeUndefined();
        await tokens.put('CreateFlow', 'tok-1', { requestHash: 'h2', response: '{}', expiresAt: new Date(expiresAt.getTime() + 1000) }, now);
        expect((await tokens.get('CreateFlow', 'tok-1', now))?.requestHash).toBe('h2');
      });

      it('sweep expired tokens on write', async () => {
        const tokens = await SqlIdempotencyStore.open(db);
        const t0 = new Date('2026-05-01T00:00:00.000Z');
        await tokens.put('CreateFlow', 'old', { requestHash: 'h', response: '{}', expiresAt: new Date(t0.getTime() + 1000) }, t0);
        await tokens.put('CreateFlow', 'new', { requestHash: 'h', response: '{}', expiresAt: new Date(t0.getTime() + 9000) }, new Date(t0.getTime() + 5000));
        const rows = await (db as AnyKysely).selectFrom('client_tokens').select('client_token').execute();
        expect(rows.map((r) => r.client_token)).toEqual(['new']);
      });
    });
  });
}
