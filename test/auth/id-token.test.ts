import { createPublicKey, createSign, generateKeyPairSync, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllowedIssuers, verifySalesforceIdToken } from '../../src/auth/salesforce-id-token.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { calls, control, registerApp, signIn, type TestApp } from './helpers.ts';
import { expectRefused } from './refusal-assert.ts';

let now = Date.parse('2026-01-10T09:00:00.000Z');
const clock = (): number => now;
/** Our org (an allowed issuer) and another org (not allowed). */
let ours: RunningEmulator;
let foreign: RunningEmulator;
let app: TestApp;
let otherApp: TestApp;
let allowed: AllowedIssuers;

beforeAll(async () => {
  ours = await startEmulator({ clock });
  foreign = await startEmulator({ clock });
  app = await registerApp(ours, { name: 'forceflow sign-in' });
  otherApp = await registerApp(ours, { name: 'someone else' });
  allowed = new AllowedIssuers([ours.loginUrl]);
});
afterAll(async () => {
  await ours.close();
  await foreign.close();
});

function verify(token: string, extra: { maxAgeSeconds?: number; nonce?: string; allowedIssuers?: AllowedIssuers } = {}) {
  return verifySalesforceIdToken(token, { allowedIssuers: allowed, consumerKey: app.clientId, maxAgeSeconds: 300, now: clock, ...extra });
}

async function idToken(emu: RunningEmulator, forApp: TestApp, nonce?: string): Promise<string> {
  const answer = await signIn(emu, forApp, { scope: 'openid api', ...(nonce === undefined ? {} : { nonce }) });
  expect(answer.id_token).toBeTypeOf('string');
  return answer.id_token ?? '';
}

function parts(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h = '', p = ''] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>, claims: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown> };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('verifySalesforceIdToken against the emulator', () => {
  it('accepts our app’s id_token and returns the immutable org and user ids and its expiry', async () => {
    const token = await idToken(ours, app);
    const subject = await verify(token);
    expect(subject).toEqual({ orgId: ours.orgId, userId: ours.userId, expiresAt: new Date((Math.floor(now / 1000) + 120) * 1000) });
    expect(Object.isFrozen(subject)).toBe(true);
  });

  it('fetches the allowed issuer’s keys once and keeps them', async () => {
    const fresh = new AllowedIssuers([ours.loginUrl]);
    const before = (await calls(ours))['GET /id/keys'] ?? 0;
    for (let i = 0; i < 3; i++) await verify(await idToken(ours, app), { allowedIssuers: fresh });
    expect(((await calls(ours))['GET /id/keys'] ?? 0) - before).toBe(1);
  });

  it('refuses an id_token issued to another connected app of the same org (audience)', async () => {
    const token = await idToken(ours, otherApp);
    expect(parts(token).claims['aud']).toBe(otherApp.clientId);
    await expectRefused(verify(token), 'audience', token);
  });

  it('refuses an id_token of an issuer not in the list, without fetching anything from it', async () => {
    const token = await idToken(foreign, { clientId: foreign.clientId, clientSecret: foreign.clientSecret });
    await expectRefused(verifySalesforceIdToken(token, { allowedIssuers: allowed, consumerKey: foreign.clientId, maxAgeSeconds: 300, now: clock }), 'issuer', token);
    expect((await calls(foreign))['GET /id/keys'] ?? 0).toBe(0);
  });

  it('refuses an expired id_token, and one older than the maximum age', async () => {
    const token = await idToken(ours, app);
    now += 100_000; // 100 s: within the 2-minute life, past a 60 s maximum age (+30 s tolerance)
    await expectRefused(verify(token, { maxAgeSeconds: 60 }), 'too_old', token);
    await expect(verify(token)).resolves.toMatchObject({ userId: ours.userId });
    now += 60_000; // 160 s: past exp + tolerance
    await expectRefused(verify(token), 'expired', token);
  });

  it('refuses alg none, and HS256 signed with the issuer’s public key as the secret', async () => {
    const token = await idToken(ours, app);
    const { header, claims } = parts(token);
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    await expectRefused(verify(unsigned), 'algorithm');

    const jwks = (await (await fetch(`${ours.loginUrl}/id/keys`)).json()) as { keys: Array<Record<string, unknown>> };
    const pem = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    for (const secret of [pem, JSON.stringify(jwks.keys[0])]) {
      const input = `${b64({ ...header, alg: 'HS256' })}.${b64(claims)}`;
      const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      await expectRefused(verify(forged), 'algorithm');
    }
  });

  it('refuses a tampered id_token, one signed by another key (under the same kid, or naming its own key), and an unknown kid', async () => {
    const token = await idToken(ours, app);
    const [h = '', , s = ''] = token.split('.');
    const { header, claims } = parts(token);
    const otherUser = `${ours.loginUrl}/id/${ours.orgId}/005000000000002AAA`;
    await expectRefused(verify(`${h}.${b64({ ...claims, sub: otherUser })}.${s}`), 'signature');

    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const sign = (hdr: Record<string, unknown>): string => {
      const input = `${b64(hdr)}.${b64(claims)}`;
      return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
    };
    await expectRefused(verify(sign(header)), 'signature');
    await expectRefused(verify(sign({ ...header, kid: 'not-a-salesforce-key' })), 'unknown_key');
    // Keys named inside the token (jku, jwk) are never used.
    const attackerJwk = createPublicKey(privateKey).export({ format: 'jwk' });
    await expectRefused(verify(sign({ ...header, jku: `${foreign.loginUrl}/id/keys`, jwk: attackerJwk })), 'signature');
  });

  it('checks the nonce when the browser sent one', async () => {
    const token = await idToken(ours, app, 'nonce-1');
    await expect(verify(token, { nonce: 'nonce-1' })).resolves.toMatchObject({ orgId: ours.orgId });
    await expectRefused(verify(token, { nonce: 'nonce-2' }), 'nonce', token);
  });

  it('picks up a key Salesforce rotated in (a new kid) without a restart, fetching again only for it', async () => {
    const issuers = new AllowedIssuers([ours.loginUrl], { cooldownMs: 0 });
    const check = (token: string) => verify(token, { allowedIssuers: issuers });
    const before = await idToken(ours, app);
    await check(before);
    const fetched = (await calls(ours))['GET /id/keys'] ?? 0;
    const rotated = await control(ours, 'POST', '/id-keys/rotate', {});
    expect(rotated['kids']).toEqual(['238', rotated['kid']]);
    const after = await idToken(ours, app);
    expect(parts(after).header['kid']).toBe(rotated['kid']);
    await expect(check(after)).resolves.toMatchObject({ userId: ours.userId });
    await expect(check(before)).resolves.toMatchObject({ userId: ours.userId });
    expect(((await calls(ours))['GET /id/keys'] ?? 0) - fetched).toBe(1);
    // Once Salesforce no longer publishes a key, a verifier that fetches afresh refuses what it signed.
    await control(ours, 'POST', '/id-keys/rotate', { dropOld: true });
    await expectRefused(verify(after, { allowedIssuers: new AllowedIssuers([ours.loginUrl]) }), 'unknown_key', after);
  });

  it('refuses what is not a JWT', async () => {
    await expectRefused(verify('not-a-token'), 'malformed');
    await expectRefused(verify(''), 'malformed');
  });

  it('says SF_UNAVAILABLE, not a refusal, when the allowed issuer’s keys cannot be fetched', async () => {
    const gone = await startEmulator({ clock });
    const token = await idToken(gone, { clientId: gone.clientId, clientSecret: gone.clientSecret });
    const issuers = new AllowedIssuers([gone.loginUrl], { timeoutMs: 2000 });
    await gone.close();
    const error = await verifySalesforceIdToken(token, { allowedIssuers: issuers, consumerKey: gone.clientId, maxAgeSeconds: 300, now: clock }).catch((e: unknown) => e);
    expect(isForceflowError(error, 'SF_UNAVAILABLE')).toBe(true);
  });

  it('refuses issuers that are not https origins (plain http only to loopback)', () => {
    for (const bad of ['http://login.salesforce.com', 'https://login.salesforce.com/services', 'ftp://x', 'not a url']) {
      expect(() => new AllowedIssuers([bad]), bad).toThrow(/not an https origin/);
    }
    expect(() => new AllowedIssuers([])).toThrow(/at least one/);
    expect(new AllowedIssuers(['https://login.salesforce.com/', { issuer: 'https://acme.my.salesforce.com' }]).issuers).toEqual([
      { issuer: 'https://login.salesforce.com', jwksUri: 'https://login.salesforce.com/id/keys' },
      { issuer: 'https://acme.my.salesforce.com', jwksUri: 'https://acme.my.salesforce.com/id/keys' },
    ]);
  });
});
