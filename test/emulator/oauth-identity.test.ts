import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

let emu: RunningEmulator;
let now = Date.parse('2025-03-01T12:00:00.000Z');

beforeAll(async () => {
  emu = await startEmulator({ clock: () => now, tokenTtlSeconds: 60 });
});
afterAll(async () => {
  await emu.close();
});

async function login(): Promise<{ access_token: string; id: string }> {
  const res = await fetch(`${emu.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: emu.clientId, client_secret: emu.clientSecret, username: emu.username, password: emu.password }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; id: string };
}

function form(params: Record<string, string>): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() };
}

describe('userinfo', () => {
  it('answers with Salesforce’s shape, by Bearer header or ?oauth_token=', async () => {
    const { access_token } = await login();
    const res = await fetch(`${emu.instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      sub: `${emu.instanceUrl}/id/${emu.orgId}/${emu.userId}`,
      user_id: emu.userId,
      organization_id: emu.orgId,
      preferred_username: emu.username,
      email_verified: true,
      active: true,
      is_app_installed: true,
    });
    const urls = body['urls'] as Record<string, string>;
    expect(urls['rest']).toBe(`${emu.instanceUrl}/services/data/v{version}/`);
    expect(urls['partner']).toBe(`${emu.instanceUrl}/services/Soap/u/{version}/${emu.orgId.slice(0, 15)}`);
    const viaQuery = await fetch(`${emu.instanceUrl}/services/oauth2/userinfo?oauth_token=${encodeURIComponent(access_token)}&version=latest`);
    expect(viaQuery.status).toBe(200);
    expect(((await viaQuery.json()) as { urls: Record<string, string> }).urls['rest']).toBe(`${emu.instanceUrl}/services/data/v62.0/`);
  });

  it('answers 403 Bad_OAuth_Token / Missing_OAuth_Token, including after the token expired', async () => {
    const { access_token } = await login();
    const missing = await fetch(`${emu.instanceUrl}/services/oauth2/userinfo`);
    expect(missing.status).toBe(403);
    expect(await missing.text()).toBe('Missing_OAuth_Token');
    now += 61_000;
    const expired = await fetch(`${emu.instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(expired.status).toBe(403);
    expect(await expired.text()).toBe('Bad_OAuth_Token');
  });
});

describe('identity URL', () => {
  it('serves the id URL from the token response (jsforce style ?format=json&oauth_token=)', async () => {
    const { access_token, id } = await login();
    const res = await fetch(`${id}?format=json&oauth_token=${encodeURIComponent(access_token)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json;charset=UTF-8/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id, asserted_user: true, user_id: emu.userId, organization_id: emu.orgId, username: emu.username, active: true });
    for (const k of ['display_name', 'email', 'first_name', 'last_name', 'timezone', 'photos', 'urls', 'user_type', 'language', 'locale', 'utcOffset', 'last_modified_date']) expect(body).toHaveProperty(k);
    // 15-char ids work too.
    expect((await fetch(`${emu.instanceUrl}/id/${emu.orgId.slice(0, 15)}/${emu.userId.slice(0, 15)}`, { headers: { authorization: `Bearer ${access_token}` } })).status).toBe(200);
  });

  it('rejects bad tokens, other orgs and unknown users', async () => {
    const { access_token, id } = await login();
    const auth = { headers: { authorization: `Bearer ${access_token}` } };
    const bad = await fetch(`${id}?oauth_token=00Dbogus!AQ`);
    expect([bad.status, await bad.text()]).toEqual([403, 'Bad_OAuth_Token']);
    const wrongOrg = await fetch(`${emu.instanceUrl}/id/00D5g0000000002/${emu.userId}`, auth);
    expect([wrongOrg.status, await wrongOrg.text()]).toEqual([403, 'Wrong_Org']);
    const unknown = await fetch(`${emu.instanceUrl}/id/${emu.orgId}/0055g0000000999`, auth);
    expect([unknown.status, await unknown.text()]).toEqual([404, 'Bad_Id']);
    const malformed = await fetch(`${emu.instanceUrl}/id/${emu.orgId}/xyz`, auth);
    expect(malformed.status).toBe(404);
  });
});

describe('introspect', () => {
  it('describes live access and refresh tokens (RFC 7662) and reports others inactive', async () => {
    const { access_token } = await login();
    const creds = { client_id: emu.clientId, client_secret: emu.clientSecret };
    const res = await fetch(`${emu.loginUrl}/services/oauth2/introspect`, form({ token: access_token, token_type_hint: 'access_token', ...creds }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ active: true, client_id: emu.clientId, username: emu.username, sub: `${emu.instanceUrl}/id/${emu.orgId}/${emu.userId}`, token_type: 'access_token' });
    expect(body['exp']).toBe(Math.floor(now / 1000) + 60);
    expect(body['iat']).toBe(Math.floor(now / 1000));
    const refresh = await fetch(`${emu.loginUrl}/services/oauth2/introspect`, form({ token: emu.refreshToken, ...creds }));
    expect(await refresh.json()).toMatchObject({ active: true, token_type: 'refresh_token' });
    const junk = await fetch(`${emu.loginUrl}/services/oauth2/introspect`, form({ token: 'junk', ...creds }));
    expect(await junk.json()).toEqual({ active: false });
    // HTTP Basic client auth works too.
    const basic = Buffer.from(`${emu.clientId}:${emu.clientSecret}`).toString('base64');
    const viaBasic = await fetch(`${emu.loginUrl}/services/oauth2/introspect`, { ...form({ token: access_token }), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` } });
    expect(await viaBasic.json()).toMatchObject({ active: true });
    now += 61_000;
    const expired = await fetch(`${emu.loginUrl}/services/oauth2/introspect`, form({ token: access_token, ...creds }));
    expect(await expired.json()).toEqual({ active: false });
  });

  it('requires client credentials', async () => {
    const res = await fetch(`${emu.loginUrl}/services/oauth2/introspect`, form({ token: 'x', client_id: emu.clientId }));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_client', error_description: 'invalid client credentials' });
  });
});

describe('revoke', () => {
  it('revokes an access token (POST) and a refresh token with its access tokens (GET)', async () => {
    const { access_token } = await login();
    const ok = await fetch(`${emu.loginUrl}/services/oauth2/revoke`, form({ token: access_token }));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('');
    expect((await fetch(`${emu.instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${access_token}` } })).status).toBe(403);
    const again = await fetch(`${emu.loginUrl}/services/oauth2/revoke`, form({ token: access_token }));
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ error: 'invalid_token', error_description: 'invalid token' });

    const { refreshToken } = emu.org.auth.issue(emu.org.auth.defaultUser, emu.clientId, { withRefresh: true });
    const refreshed = await fetch(`${emu.loginUrl}/services/oauth2/token`, form({ grant_type: 'refresh_token', client_id: emu.clientId, refresh_token: refreshToken ?? '' }));
    const child = ((await refreshed.json()) as { access_token: string }).access_token;
    expect((await fetch(`${emu.loginUrl}/services/oauth2/revoke?token=${encodeURIComponent(refreshToken ?? '')}`)).status).toBe(200);
    expect((await fetch(`${emu.instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${child}` } })).status).toBe(403);
    const reuse = await fetch(`${emu.loginUrl}/services/oauth2/token`, form({ grant_type: 'refresh_token', client_id: emu.clientId, refresh_token: refreshToken ?? '' }));
    expect(await reuse.json()).toEqual({ error: 'invalid_grant', error_description: 'expired access/refresh token' });
  });

  it('answers a missing token with unsupported_token_type', async () => {
    const res = await fetch(`${emu.loginUrl}/services/oauth2/revoke`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('unsupported_token_type');
  });
});

describe('discovery', () => {
  it('serves the OpenID configuration and JWKS', async () => {
    const conf = (await (await fetch(`${emu.loginUrl}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(conf).toMatchObject({
      issuer: emu.loginUrl,
      token_endpoint: `${emu.loginUrl}/services/oauth2/token`,
      jwks_uri: `${emu.loginUrl}/id/keys`,
      id_token_signing_alg_values_supported: ['RS256'],
    });
    const jwks = (await (await fetch(String(conf['jwks_uri']))).json()) as { keys: Array<Record<string, string>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', e: 'AQAB', kid: '238', alg: 'RS256', use: 'sig' });
  });

  it('does not count OAuth calls against the API limit', async () => {
    const before = emu.org.limits.header();
    await login();
    await fetch(`${emu.loginUrl}/id/keys`);
    expect(emu.org.limits.header()).toBe(before);
  });
});

describe('SOAP login', () => {
  const envelope = (inner: string) =>
    `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header/><se:Body>${inner}</se:Body></se:Envelope>`;
  const soap = (body: string) => fetch(`${emu.loginUrl}/services/Soap/u/58.0`, { method: 'POST', headers: { 'content-type': 'text/xml', soapaction: '""' }, body });

  it('logs in and out, and faults on bad credentials', async () => {
    const ok = await soap(envelope(`<login xmlns="urn:partner.soap.sforce.com"><username>${emu.username}</username><password>${emu.password}</password></login>`));
    expect(ok.status).toBe(200);
    const xml = await ok.text();
    expect(/<serverUrl>([^<]+)<\/serverUrl>/.exec(xml)?.[1]).toBe(`${emu.instanceUrl}/services/Soap/u/58.0/${emu.orgId.slice(0, 15)}`);
    expect(/<userId>([^<]+)<\/userId>/.exec(xml)?.[1]).toBe(emu.userId);
    expect(/<organizationId>([^<]+)<\/organizationId>/.exec(xml)?.[1]).toBe(emu.orgId);
    const sessionId = /<sessionId>([^<]+)<\/sessionId>/.exec(xml)?.[1] ?? '';
    expect(sessionId).toMatch(/^00D\w{12,15}!/);
    expect((await fetch(`${emu.instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${sessionId}` } })).status).toBe(200);

    const out = await soap(`<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header><SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>${sessionId}</sessionId></SessionHeader></se:Header><se:Body><logout xmlns="urn:partner.soap.sforce.com"/></se:Body></se:Envelope>`);
    expect(out.status).toBe(200);
    expect((await fetch(`${emu.instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${sessionId}` } })).status).toBe(403);

    const bad = await soap(envelope(`<login xmlns="urn:partner.soap.sforce.com"><username>${emu.username}</username><password>nope</password></login>`));
    expect(bad.status).toBe(500);
    expect(/<faultstring>([^<]+)<\/faultstring>/.exec(await bad.text())?.[1]).toBe('INVALID_LOGIN: Invalid username, password, security token; or user locked out.');
    const other = await soap(envelope('<query/>'));
    expect(other.status).toBe(500);
  });
});
