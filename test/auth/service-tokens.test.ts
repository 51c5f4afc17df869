import { createHmac, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, generateKeyPair, importJWK, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceKeySet, TokenIssuer, verifyServiceToken, MAX_SERVICE_TOKEN_SECONDS } from '../../src/auth/service-tokens.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { registerApp, signIn } from './helpers.ts';
import { expectRefused } from './refusal-assert.ts';

const ISSUER = 'http://127.0.0.1:7777';
const AUDIENCE = 'forceflow-control-api';
let now = Date.parse('2026-01-10T09:00:00.000Z');
const clock = (): number => now;
const inAnHour = (): Date => new Date(now + 3600_000);

function verifier(keys: ServiceKeySet | { jwks(): ReturnType<ServiceKeySet['jwks']> }) {
  return (token: string) => verifyServiceToken(token, { keys, issuer: ISSUER, audience: AUDIENCE, now: clock });
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('service tokens', () => {
  it('issues an ES256 at+jwt with iss, aud, sub, scope, jti and a short life, which verifies', async () => {
    const keys = await ServiceKeySet.generate();
    const issuer = new TokenIssuer({ keys, issuer: ISSUER, audience: AUDIENCE, lifetimeSeconds: 600, now: clock });
    const issued = await issuer.issue({ subject: 'user-1', scopes: ['runs:read', 'flows:run', 'runs:read'], notAfter: inAnHour(), claims: { sf_org: '00D000000000001AAA', sub: 'ignored' } });
    expect(issued).toMatchObject({ expiresIn: 600, scope: 'runs:read flows:run', expiresAt: new Date(now + 600_000) });
    const [h = ''] = issued.token.split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: keys.current.kid });
    const principal = await verifier(keys)(issued.token);
    expect(principal).toMatchObject({ subject: 'user-1', scopes: ['runs:read', 'flows:run'], jti: issued.jti, expiresAt: issued.expiresAt });
    expect(principal.claims).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sf_org: '00D000000000001AAA' });
    // A second token has another jti.
    expect((await issuer.issue({ subject: 'user-1', scopes: [], notAfter: inAnHour() })).jti).not.toBe(issued.jti);
  });

  it('never outlives the subject token, and refuses a subject with under a second left', async () => {
    const keys = await ServiceKeySet.generate();
    const issuer = new TokenIssuer({ keys, issuer: ISSUER, audience: AUDIENCE, now: clock });
    const short = await issuer.issue({ subject: 's', scopes: ['runs:read'], notAfter: new Date(now + 90_000) });
    expect(short.expiresIn).toBe(90);
    expect((await issuer.issue({ subject: 's', scopes: [], notAfter: inAnHour() })).expiresIn).toBe(900);
    await expectRefused(issuer.issue({ subject: 's', scopes: [], notAfter: new Date(now + 500) }), 'expired');
    await expectRefused(issuer.issue({ subject: 's', scopes: [], notAfter: new Date(Number.NaN) }), 'expired');
    expect(() => new TokenIssuer({ keys, issuer: ISSUER, audience: AUDIENCE, lifetimeSeconds: MAX_SERVICE_TOKEN_SECONDS + 1 })).toThrow(/lifetime/);
  });

  it('refuses a tampered token, an expired one, and one for another audience or issuer', async () => {
    const keys = await ServiceKeySet.generate();
    const issuer = new TokenIssuer({ keys, issuer: ISSUER, audience: AUDIENCE, lifetimeSeconds: 60, now: clock });
    const { token } = await issuer.issue({ subject: 'viewer', scopes: ['runs:read'], notAfter: inAnHour() });
    const [h = '', p = '', s = ''] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    await expectRefused(verifier(keys)(`${h}.${b64({ ...claims, scope: 'runs:read flows:run' })}.${s}`), 'signature', token);
    await expectRefused(verifyServiceToken(token, { keys, issuer: ISSUER, audience: 'another-api', now: clock }), 'audience', token);
    await expectRefused(verifyServiceToken(token, { keys, issuer: 'https://elsewhere', audience: AUDIENCE, now: clock }), 'issuer', token);
    const saved = now;
    now += 91_000; // 60 s life + 30 s tolerance
    await expectRefused(verifier(keys)(token), 'expired', token);
    now = saved;
  });

  it('rotates: old and new keys published together, old tokens valid until the old key is retired, then refused', async () => {
    const keys = await ServiceKeySet.generate();
    const issuer = new TokenIssuer({ keys, issuer: ISSUER, audience: AUDIENCE, now: clock });
    const before = await issuer.issue({ subject: 'u', scopes: [], notAfter: inAnHour() });
    const oldKid = keys.current.kid;
    const newKid = await keys.rotate();
    expect(newKid).not.toBe(oldKid);
    expect(keys.jwks().keys.map((k) => k.kid)).toEqual([oldKid, newKid]);
    expect(keys.jwks().keys.every((k) => k.d === undefined && k.alg === 'ES256' && k.use === 'sig')).toBe(true);
    const after = await issuer.issue({ subject: 'u', scopes: [], notAfter: inAnHour() });
    expect(JSON.parse(Buffer.from(after.token.split('.')[0] ?? '', 'base64url').toString())).toMatchObject({ kid: newKid });
    await expect(verifier(keys)(before.token)).resolves.toMatchObject({ subject: 'u' });
    expect(() => keys.retire(newKid)).toThrow(/signs/);
    keys.retire(oldKid);
    expect(keys.kids).toEqual([newKid]);
    await expectRefused(verifier(keys)(before.token), 'unknown_key', before.token);
    await expect(verifier(keys)(after.token)).resolves.toMatchObject({ subject: 'u' });
    // Verifying from the published JWKS alone (what another service would hold) gives the same answers.
    const published = keys.jwks();
    await expectRefused(verifier({ jwks: () => published })(before.token), 'unknown_key');
    await expect(verifier({ jwks: () => published })(after.token)).resolves.toMatchObject({ subject: 'u' });
  });

  it('survives a restart through its stored private keys', async () => {
    const keys = await ServiceKeySet.generate();
    await keys.rotate();
    const { token } = await new TokenIssuer({ keys, issuer: ISSUER, audience: AUDIENCE, now: clock }).issue({ subject: 'u', scopes: [], notAfter: inAnHour() });
    const reloaded = await ServiceKeySet.fromPrivateJwks(keys.exportPrivateJwks());
    expect(reloaded.kids).toEqual(keys.kids);
    await expect(verifier(reloaded)(token)).resolves.toMatchObject({ subject: 'u' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    expect(isForceflowError(await ServiceKeySet.fromPrivateJwks([rsa as never]).catch((e: unknown) => e), 'CONFIG_INVALID')).toBe(true);
  });

  it('refuses a token of another key set, alg none, HS256 keyed with our public key, and a JWT without typ at+jwt', async () => {
    const keys = await ServiceKeySet.generate();
    const stranger = await ServiceKeySet.generate();
    const { token } = await new TokenIssuer({ keys: stranger, issuer: ISSUER, audience: AUDIENCE, now: clock }).issue({ subject: 'u', scopes: ['flows:run'], notAfter: inAnHour() });
    await expectRefused(verifier(keys)(token), 'unknown_key');

    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'admin', scope: 'flows:run', jti: 'j', iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 60 };
    await expectRefused(verifier(keys)(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`), 'algorithm');
    const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: keys.current.kid })}.${b64(claims)}`;
    await expectRefused(verifier(keys)(`${input}.${createHmac('sha256', JSON.stringify(keys.jwks().keys[0])).update(input).digest('base64url')}`), 'algorithm');

    // Our own key, but typ JWT (what an id_token-like token would carry): refused.
    const [stored] = keys.exportPrivateJwks();
    const key = await importJWK({ ...stored, alg: 'ES256' }, 'ES256');
    const plain = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: keys.current.kid }).sign(key);
    await expectRefused(verifier(keys)(plain), 'type');
  });

  it('refuses a Salesforce id_token presented as a service token', async () => {
    const emu: RunningEmulator = await startEmulator({ clock });
    try {
      const app = await registerApp(emu);
      const { id_token } = await signIn(emu, app, { scope: 'openid' });
      const keys = await ServiceKeySet.generate();
      await expectRefused(verifier(keys)(id_token ?? ''), 'algorithm');
    } finally {
      await emu.close();
    }
  });
});

describe('the published key set', () => {
  let server: Server;
  let url = '';
  const keys = ServiceKeySet.generate();

  beforeAll(async () => {
    const set = await keys;
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(set.jwks()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('lets another party verify our tokens from the served jwks() alone (jose createRemoteJWKSet over HTTP)', async () => {
    const set = await keys;
    const { token } = await new TokenIssuer({ keys: set, issuer: ISSUER, audience: AUDIENCE }).issue({ subject: 'u', scopes: ['runs:read'], notAfter: new Date(Date.now() + 600_000) });
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(url)), { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt', algorithms: ['ES256'] });
    expect(payload.sub).toBe('u');
    expect(protectedHeader.kid).toBe(set.current.kid);
    // And a token signed by a key that was never published does not verify there.
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ scope: 'flows:run' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: set.current.kid }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('admin').setExpirationTime('5m').sign(privateKey);
    await expect(jwtVerify(forged, createRemoteJWKSet(new URL(url)), { issuer: ISSUER, audience: AUDIENCE })).rejects.toThrow(/signature/);
  });
});
