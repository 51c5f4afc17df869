import { createHmac, createPrivateKey, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { DEFAULT_SECURITY_TOKEN } from '../../src/emulator/oauth/service.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let emu: RunningEmulator;
const now = Date.parse('2025-03-01T12:00:00.000Z');

beforeAll(async () => {
  emu = await startEmulator({ clock: () => now, tokenTtlSeconds: 600 });
});
afterAll(async () => {
  await emu.close();
});

async function token(params: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${emu.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
}

function password(extra: Record<string, string> = {}): Record<string, string> {
  return { grant_type: 'password', client_id: emu.clientId, client_secret: emu.clientSecret, username: emu.username, password: emu.password, ...extra };
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function assertion(claims: Record<string, unknown>, key: KeyObject, alg = 'RS256'): string {
  const input = `${b64url({ alg })}.${b64url(claims)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`;
}

describe('password grant', () => {
  it('returns Salesforce’s shape: 00D…! token, id URL, signature over id + issued_at, no refresh token', async () => {
    const { status, body } = await token(password());
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['access_token', 'signature', 'scope', 'instance_url', 'id', 'token_type', 'issued_at']);
    expect(body['access_token']).toMatch(/^(00D\w{12,15})![.\w]+$/);
    expect(body['instance_url']).toBe(emu.instanceUrl);
    expect(String(body['instance_url']).endsWith('/')).toBe(false);
    expect(body['id']).toBe(`${emu.instanceUrl}/id/${emu.orgId}/${emu.userId}`);
    expect(body['token_type']).toBe('Bearer');
    expect(body['issued_at']).toBe(String(now));
    const expected = createHmac('sha256', emu.clientSecret).update(String(body['id']) + String(body['issued_at'])).digest('base64');
    expect(body['signature']).toBe(expected);
    expect(String(body['scope']).split(' ')).toContain('api');
    expect(String(body['scope']).split(' ')).not.toContain('refresh_token');
  });

  it('accepts the password followed by the security token, and HTTP Basic client auth, and params in the query string', async () => {
    expect((await token(password({ password: emu.password + DEFAULT_SECURITY_TOKEN }))).status).toBe(200);
    const basic = Buffer.from(`${emu.clientId}:${emu.clientSecret}`).toString('base64');
    const viaBasic = await token({ grant_type: 'password', username: emu.username, password: emu.password }, { authorization: `Basic ${basic}` });
    expect(viaBasic.status).toBe(200);
    const qs = new URLSearchParams(password()).toString();
    const viaQuery = await fetch(`${emu.loginUrl}/services/oauth2/token?${qs}`, { method: 'POST' });
    expect(viaQuery.status).toBe(200);
  });

  it('answers wrong credentials with Salesforce’s error pairs', async () => {
    expect(await token(password({ password: 'nope' }))).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'authentication failure' } });
    expect(await token(password({ username: 'nobody@example.com' }))).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'authentication failure' } });
    const { username: _u, ...noUser } = password();
    expect((await token(noUser)).body).toEqual({ error: 'invalid_grant', error_description: 'authentication failure' });
    expect(await token(password({ client_id: 'unknown' }))).toEqual({ status: 400, body: { error: 'invalid_client_id', error_description: 'client identifier invalid' } });
    expect(await token(password({ client_secret: 'wrong' }))).toEqual({ status: 400, body: { error: 'invalid_client', error_description: 'invalid client credentials' } });
    const { client_secret: _s, ...noSecret } = password();
    expect((await token(noSecret)).body).toEqual({ error: 'invalid_client', error_description: 'invalid client credentials' });
  });
});

describe('grant_type and malformed requests', () => {
  it('rejects a missing or unknown grant type', async () => {
    const expected = { status: 400, body: { error: 'unsupported_grant_type', error_description: 'grant type not supported' } };
    expect(await token({})).toEqual(expected);
    expect(await token({ grant_type: 'implicit' })).toEqual(expected);
  });

  it('never crashes on odd bodies', async () => {
    for (const [body, type] of [
      ['{"grant_type":"password"}', 'application/json'],
      ['%%%&&&==', 'application/x-www-form-urlencoded'],
      ['grant_type=password&grant_type=refresh_token', 'application/x-www-form-urlencoded'],
      ['grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c', 'application/x-www-form-urlencoded'],
      ['grant_type=authorization_code&code=%00', 'application/x-www-form-urlencoded'],
    ] as const) {
      const res = await fetch(`${emu.loginUrl}/services/oauth2/token`, { method: 'POST', headers: { 'content-type': type }, body });
      expect(res.status).toBe(400);
      const json = (await res.json()) as Record<string, unknown>;
      expect(typeof json['error']).toBe('string');
      expect(typeof json['error_description']).toBe('string');
    }
    const get = await fetch(`${emu.loginUrl}/services/oauth2/token`);
    expect(get.status).toBe(405);
  });
});

describe('refresh_token grant', () => {
  it('mints a new access token without a new refresh token, and accepts no client secret', async () => {
    const { status, body } = await token({ grant_type: 'refresh_token', refresh_token: emu.refreshToken, client_id: emu.clientId });
    expect(status).toBe(200);
    expect(body['refresh_token']).toBeUndefined();
    expect(body['access_token']).toMatch(/^00D\w{12,15}![.\w]+$/);
    expect(body['id']).toBe(`${emu.instanceUrl}/id/${emu.orgId}/${emu.userId}`);
    expect(typeof body['id_token']).toBe('string');
    expect(body['signature']).toBe(createHmac('sha256', emu.clientSecret).update(String(body['id']) + String(body['issued_at'])).digest('base64'));
  });

  it('rejects unknown, revoked or other-client refresh tokens and wrong secrets', async () => {
    const expired = { status: 400, body: { error: 'invalid_grant', error_description: 'expired access/refresh token' } };
    expect(await token({ grant_type: 'refresh_token', refresh_token: '5Aep861bogus', client_id: emu.clientId })).toEqual(expired);
    expect((await token({ grant_type: 'refresh_token', refresh_token: emu.refreshToken, client_id: emu.clientId, client_secret: 'bad' })).body).toEqual({
      error: 'invalid_client',
      error_description: 'invalid client credentials',
    });
    expect((await token({ grant_type: 'refresh_token', client_id: emu.clientId })).body['error']).toBe('invalid_request');
    const other = await registerApp({ name: 'other' });
    expect(await token({ grant_type: 'refresh_token', refresh_token: emu.refreshToken, client_id: other.clientId, client_secret: other.clientSecret })).toEqual(expired);
  });

  it('rotates the refresh token for an app with rotation on, revoking the old one', async () => {
    const app = await registerApp({ name: 'rotating', refreshTokenRotation: true });
    const first = emu.org.auth.issue(emu.org.auth.defaultUser, app.clientId, { withRefresh: true }).refreshToken ?? '';
    const { body } = await token({ grant_type: 'refresh_token', refresh_token: first, client_id: app.clientId, client_secret: app.clientSecret });
    expect(body['refresh_token']).toMatch(/^5Aep861/);
    expect(body['refresh_token']).not.toBe(first);
    expect((await token({ grant_type: 'refresh_token', refresh_token: first, client_id: app.clientId })).body['error']).toBe('invalid_grant');
    expect((await token({ grant_type: 'refresh_token', refresh_token: String(body['refresh_token']), client_id: app.clientId })).status).toBe(200);
  });
});

describe('client_credentials grant', () => {
  it('runs as the default user, client auth in the body or HTTP Basic', async () => {
    const inBody = await token({ grant_type: 'client_credentials', client_id: emu.clientId, client_secret: emu.clientSecret });
    expect(inBody.status).toBe(200);
    expect(Object.keys(inBody.body)).toEqual(['access_token', 'signature', 'scope', 'instance_url', 'id', 'token_type', 'issued_at']);
    expect(inBody.body['id']).toBe(`${emu.instanceUrl}/id/${emu.orgId}/${emu.userId}`);
    const basic = Buffer.from(`${encodeURIComponent(emu.clientId)}:${encodeURIComponent(emu.clientSecret)}`).toString('base64');
    expect((await token({ grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` })).status).toBe(200);
  });

  it('requires the right secret', async () => {
    expect((await token({ grant_type: 'client_credentials', client_id: emu.clientId })).body).toEqual({ error: 'invalid_client', error_description: 'invalid client credentials' });
    expect((await token({ grant_type: 'client_credentials', client_id: emu.clientId, client_secret: 'x' })).body['error']).toBe('invalid_client');
    expect((await token({ grant_type: 'client_credentials' })).body).toEqual({ error: 'invalid_client_id', error_description: 'client identifier invalid' });
  });
});

async function registerApp(body: Record<string, unknown>): Promise<{ clientId: string; clientSecret: string; hasCertificate: boolean }> {
  const res = await fetch(`${emu.controlUrl}/connected-apps`, { method: 'POST', headers: emu.controlHeaders, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return (await res.json()) as { clientId: string; clientSecret: string; hasCertificate: boolean };
}

describe('JWT bearer grant', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let clientId = '';
  const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    iss: clientId,
    sub: emu.username,
    aud: 'https://login.salesforce.com',
    exp: Math.floor(now / 1000) + 180,
    ...over,
  });
  const jwt = (a: string) => token({ grant_type: JWT_BEARER, assertion: a });

  beforeAll(async () => {
    const app = await registerApp({ name: 'jwt-app', certificatePem: publicKey.export({ type: 'spki', format: 'pem' }).toString() });
    expect(app.hasCertificate).toBe(true);
    clientId = app.clientId;
  });

  it('issues a token for a good assertion, with JWT bearer’s shape (no refresh, no signature)', async () => {
    const { status, body } = await jwt(assertion(claims(), privateKey));
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['access_token', 'scope', 'instance_url', 'id', 'token_type']);
    expect(body['id']).toBe(`${emu.instanceUrl}/id/${emu.orgId}/${emu.userId}`);
  });

  it('accepts sfdx’s exp in milliseconds and the emulator’s own origin (also as localhost) as audience', async () => {
    expect((await jwt(assertion(claims({ exp: now + 300_000, aud: emu.loginUrl }), privateKey))).status).toBe(200);
    expect((await jwt(assertion(claims({ aud: `${emu.loginUrl}/` }), privateKey))).status).toBe(200);
    expect((await jwt(assertion(claims({ aud: emu.loginUrl.replace('127.0.0.1', 'localhost') }), privateKey))).status).toBe(200);
    expect((await jwt(assertion(claims({ aud: ['https://test.salesforce.com'] }), privateKey))).status).toBe(200);
  });

  it('rejects a bad signature, an unsigned or non-RS256 assertion, and garbage', async () => {
    const invalid = { status: 400, body: { error: 'invalid_grant', error_description: 'invalid assertion' } };
    expect(await jwt(assertion(claims(), other.privateKey))).toEqual(invalid);
    const good = assertion(claims(), privateKey).split('.');
    expect(await jwt(`${b64url({ alg: 'none' })}.${good[1]}.`)).toEqual(invalid);
    expect(await jwt(`${good[0]}.${b64url(claims({ sub: 'someone@else' }))}.${good[2]}`)).toEqual(invalid);
    expect(await jwt('not-a-jwt')).toEqual(invalid);
    expect(await token({ grant_type: JWT_BEARER })).toEqual(invalid);
  });

  it('rejects a wrong audience, an expired assertion, an unknown user and an unknown issuer', async () => {
    expect((await jwt(assertion(claims({ aud: 'https://evil.example.com' }), privateKey))).body).toEqual({ error: 'invalid_grant', error_description: 'audience is invalid' });
    expect((await jwt(assertion(claims({ exp: Math.floor(now / 1000) - 1 }), privateKey))).body).toEqual({ error: 'invalid_grant', error_description: 'expired authorization code' });
    expect((await jwt(assertion(claims({ exp: now - 1 }), privateKey))).body).toEqual({ error: 'invalid_grant', error_description: 'expired authorization code' });
    expect((await jwt(assertion(claims({ exp: undefined }), privateKey))).body['error_description']).toBe('invalid assertion');
    expect((await jwt(assertion(claims({ sub: 'ghost@example.com' }), privateKey))).body).toEqual({ error: 'invalid_grant', error_description: "user hasn't approved this consumer" });
    expect((await jwt(assertion(claims({ iss: 'no-such-app' }), privateKey))).body).toEqual({ error: 'invalid_client_id', error_description: 'client identifier invalid' });
  });

  it('rejects assertions for an app that has no certificate', async () => {
    expect((await jwt(assertion(claims({ iss: emu.clientId }), privateKey))).body).toEqual({ error: 'invalid_grant', error_description: 'invalid assertion' });
  });

  const hasOpenssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasOpenssl)('verifies against a self-signed X.509 certificate made with openssl', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-jwt-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.crt'), '-days', '2', '-subj', '/CN=forceflow-test'], { stdio: 'ignore' });
      const app = await registerApp({ name: 'cert-app', certificatePem: readFileSync(join(dir, 'server.crt'), 'utf8') });
      const key = createPrivateKeyFromFile(join(dir, 'server.key'));
      expect((await jwt(assertion(claims({ iss: app.clientId }), key))).status).toBe(200);
      expect((await jwt(assertion(claims({ iss: app.clientId }), privateKey))).body['error_description']).toBe('invalid assertion');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to register something that is not a certificate', async () => {
    const res = await fetch(`${emu.controlUrl}/connected-apps`, { method: 'POST', headers: emu.controlHeaders, body: JSON.stringify({ certificatePem: 'hello' }) });
    expect(res.status).toBe(400);
    const bad = await fetch(`${emu.controlUrl}/connected-apps`, { method: 'POST', headers: emu.controlHeaders, body: JSON.stringify({ redirectUris: 'x' }) });
    expect(bad.status).toBe(400);
  });
});

function createPrivateKeyFromFile(path: string): KeyObject {
  return createPrivateKey(readFileSync(path, 'utf8'));
}

describe('parameter fuzzing', () => {
  it('answers every combination of missing and odd parameters with an OAuth error body, never a 500', async () => {
    const odd = ['', ' ', '%00', 'null', 'x'.repeat(5000), '{"a":1}', 'a.b.c', '../../etc/passwd', 'ünïcødé'];
    const grants = ['password', 'refresh_token', 'authorization_code', 'client_credentials', JWT_BEARER];
    const names = ['client_id', 'client_secret', 'username', 'password', 'refresh_token', 'code', 'redirect_uri', 'code_verifier', 'assertion'];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 120; i++) {
      const params: Record<string, string> = { grant_type: grants[i % grants.length] ?? 'password' };
      for (const name of names) {
        const pick = rand(4);
        if (pick === 0) params[name] = odd[rand(odd.length)] ?? '';
        else if (pick === 1 && name === 'client_id') params[name] = emu.clientId;
        else if (pick === 1 && name === 'username') params[name] = emu.username;
      }
      const { status, body } = await token(params);
      expect(status, JSON.stringify(params).slice(0, 200)).toBe(400);
      expect(Object.keys(body)).toEqual(['error', 'error_description']);
    }
  });
});
