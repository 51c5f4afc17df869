import { createSign, generateKeyPairSync } from 'node:crypto';
import jsforce from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

/**
 * The emulator's clock. Tests move it past the 1-second token lifetime instead of sleeping, so a slow
 * machine can never expire a token before the test means it to.
 */
let clock = Date.now();
const now = (): number => clock;
let emu: RunningEmulator;
const TTL_SECONDS = 1;
const TOKEN_CALLS = 'POST /services/oauth2/token';

beforeAll(async () => {
  emu = await startEmulator({ clock: now, tokenTtlSeconds: TTL_SECONDS });
});
afterAll(async () => {
  await emu.close();
});

const tokenCalls = (): number => emu.org.callCounts.get(TOKEN_CALLS) ?? 0;
const expireTokens = (): void => {
  clock += TTL_SECONDS * 1000 + 1;
};
const oauth2 = () => ({ loginUrl: emu.loginUrl, clientId: emu.clientId, clientSecret: emu.clientSecret });

describe('jsforce 3 against the emulator', () => {
  it('logs in with the password grant and logs in again by itself once the token expired', async () => {
    const conn = new jsforce.Connection({ oauth2: oauth2(), loginUrl: emu.loginUrl, version: '58.0' });
    const info = await conn.login(emu.username, emu.password);
    expect(info).toEqual({ id: emu.userId, organizationId: emu.orgId, url: `${emu.instanceUrl}/id/${emu.orgId}/${emu.userId}` });
    expect(conn.instanceUrl).toBe(emu.instanceUrl);
    const identity = await conn.identity();
    expect(identity.username).toBe(emu.username);

    const first = conn.accessToken;
    const before = tokenCalls();
    expireTokens();
    const result = await conn.query<{ Id: string }>('SELECT Id FROM Account LIMIT 1');
    expect(result.done).toBe(true);
    expect(tokenCalls()).toBe(before + 1);
    expect(conn.accessToken).not.toBe(first);
  });

  it('refreshes an expired session through the refresh_token grant and re-sends the call', async () => {
    const conn = new jsforce.Connection({ oauth2: oauth2(), instanceUrl: emu.instanceUrl, accessToken: emu.accessToken, refreshToken: emu.refreshToken, version: '58.0' });
    const refreshed: string[] = [];
    conn.on('refresh', (token: string) => refreshed.push(token));
    expireTokens();
    const before = tokenCalls();
    const result = await conn.query('SELECT Id FROM Account LIMIT 1');
    expect(result.done).toBe(true);
    expect(tokenCalls()).toBe(before + 1);
    expect(refreshed).toHaveLength(1);
    expect(refreshed[0]).toBe(conn.accessToken);
    expect(conn.accessToken).toMatch(/^00D\w{12,15}!/);
    expect(conn.refreshToken).toBe(emu.refreshToken);
    // With the fresh token and the id URL learnt from the refresh response, identity() works again.
    expect((await conn.identity()).user_id).toBe(emu.userId);
  });

  it('conn.identity() on a token-only connection finds the id URL through the resources list, refreshing first when expired', async () => {
    const fresh = emu.org.auth.issue(emu.org.auth.defaultUser, emu.clientId, { withRefresh: true });
    const plain = new jsforce.Connection({ instanceUrl: emu.instanceUrl, accessToken: fresh.session.accessToken, version: '58.0' });
    expect((await plain.identity()).id).toBe(`${emu.instanceUrl}/id/${emu.orgId}/${emu.userId}`);

    const conn = new jsforce.Connection({ oauth2: oauth2(), instanceUrl: emu.instanceUrl, accessToken: fresh.session.accessToken, refreshToken: fresh.refreshToken ?? '', version: '58.0' });
    expireTokens();
    const before = tokenCalls();
    const identity = await conn.identity();
    expect(identity.username).toBe(emu.username);
    expect(tokenCalls()).toBe(before + 1);
  });

  it('logout() revokes the access token, logout(true) the refresh token', async () => {
    const conn = new jsforce.Connection({ oauth2: oauth2(), loginUrl: emu.loginUrl, version: '58.0' });
    await conn.login(emu.username, emu.password);
    const token = conn.accessToken ?? '';
    await conn.logout();
    expect(conn.accessToken).toBeFalsy();
    expect(emu.org.auth.authenticate(token)).toBeUndefined();

    const { refreshToken } = emu.org.auth.issue(emu.org.auth.defaultUser, emu.clientId, { withRefresh: true });
    const withRefresh = new jsforce.Connection({ oauth2: oauth2(), instanceUrl: emu.instanceUrl, accessToken: 'unused', refreshToken, version: '58.0' });
    await withRefresh.logout(true);
    expect(emu.org.auth.refreshGrant(refreshToken ?? '')).toBeUndefined();
    await expect(new jsforce.OAuth2(oauth2()).refreshToken(refreshToken ?? '')).rejects.toThrow('expired access/refresh token');
  });

  it('surfaces Salesforce’s OAuth errors as jsforce errors', async () => {
    const conn = new jsforce.Connection({ oauth2: oauth2(), loginUrl: emu.loginUrl });
    const error = await conn.login(emu.username, 'wrong').catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('invalid_grant');
    expect((error as Error).message).toBe('authentication failure');
  });

  it('completes the web server flow with PKCE through OAuth2.getAuthorizationUrl and authorize(code)', async () => {
    const redirectUri = 'http://localhost:1717/OauthRedirect';
    const auth = new jsforce.OAuth2({ ...oauth2(), redirectUri, useVerifier: true });
    const url = auth.getAuthorizationUrl({ scope: 'api refresh_token openid', state: 'jsf' });
    const page = await (await fetch(url)).text();
    const fields = new URLSearchParams();
    for (const m of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields.set(m[1] ?? '', (m[2] ?? '').replace(/&amp;/g, '&'));
    fields.set('username', emu.username);
    fields.set('pw', emu.password);
    let res = await fetch(`${emu.loginUrl}/services/oauth2/authorize`, { method: 'POST', body: fields, redirect: 'manual' });
    if (res.status === 200) {
      const approval = await res.text();
      const next = new URLSearchParams();
      for (const m of approval.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) next.set(m[1] ?? '', (m[2] ?? '').replace(/&amp;/g, '&'));
      next.set('decision', 'allow');
      res = await fetch(`${emu.loginUrl}/services/oauth2/authorize`, { method: 'POST', body: next, redirect: 'manual' });
    }
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.searchParams.get('state')).toBe('jsf');
    const conn = new jsforce.Connection({ oauth2: auth, version: '58.0' });
    const info = await conn.authorize(location.searchParams.get('code') ?? '');
    expect(info.id).toBe(emu.userId);
    expect(conn.refreshToken).toMatch(/^5Aep861/);
    expect((await conn.query('SELECT Id FROM Account LIMIT 1')).done).toBe(true);
  });

  it('logs in over SOAP when no OAuth client is configured', async () => {
    const conn = new jsforce.Connection({ loginUrl: emu.loginUrl, version: '58.0' });
    const info = await conn.login(emu.username, emu.password);
    expect(info.id).toBe(emu.userId);
    expect(info.organizationId).toBe(emu.orgId);
    expect(conn.instanceUrl).toBe(emu.instanceUrl);
    expect((await conn.identity()).username).toBe(emu.username);
    await conn.logout();
    await expect(new jsforce.Connection({ loginUrl: emu.loginUrl }).login(emu.username, 'bad')).rejects.toThrow(/INVALID_LOGIN/);
  });

  it('exchanges a JWT bearer assertion through OAuth2.requestToken', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const reg = await fetch(`${emu.controlUrl}/connected-apps`, {
      method: 'POST',
      headers: emu.controlHeaders,
      body: JSON.stringify({ name: 'jsforce-jwt', certificatePem: publicKey.export({ type: 'spki', format: 'pem' }) }),
    });
    const app = (await reg.json()) as { clientId: string };
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${enc({ alg: 'RS256' })}.${enc({ iss: app.clientId, sub: emu.username, aud: emu.loginUrl, exp: now() + 300_000 })}`;
    const assertion = `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
    const res = await new jsforce.OAuth2({ loginUrl: emu.loginUrl }).requestToken({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    expect(res.instance_url).toBe(emu.instanceUrl);
    const conn = new jsforce.Connection({ instanceUrl: res.instance_url, accessToken: res.access_token, version: '58.0' });
    expect((await conn.query('SELECT Id FROM Account LIMIT 1')).done).toBe(true);
  });
});
