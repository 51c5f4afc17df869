import { createHash, createPublicKey, createVerify, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

let emu: RunningEmulator;
let now = Date.parse('2025-03-01T12:00:00.000Z');
const CALLBACK = 'http://localhost:1717/OauthRedirect';

beforeAll(async () => {
  emu = await startEmulator({ clock: () => now });
});
afterAll(async () => {
  await emu.close();
});

function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? '');
}

/** The fields of the page's form, as a browser would submit them (hidden inputs plus ours). */
function formFields(html: string, extra: Record<string, string>): URLSearchParams {
  const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html);
  expect(form?.[1]).toBe('/services/oauth2/authorize');
  const fields = new URLSearchParams();
  for (const m of (form?.[2] ?? '').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields.set(m[1] ?? '', decodeEntities(m[2] ?? ''));
  for (const [k, v] of Object.entries(extra)) fields.set(k, v);
  return fields;
}

async function post(fields: URLSearchParams): Promise<Response> {
  return fetch(`${emu.loginUrl}/services/oauth2/authorize`, {
    method: 'POST',
    // A browser's form post carries the page's origin: the emulator's own, which its origin check lets through.
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(emu.loginUrl).origin },
    body: fields.toString(),
    redirect: 'manual',
  });
}

function authorizeUrl(params: Record<string, string>): string {
  return `${emu.loginUrl}/services/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: emu.clientId, redirect_uri: CALLBACK, ...params }).toString()}`;
}

/** Drive the pages like a browser: GET the login page, submit it, approve, and return the redirect. */
async function browse(params: Record<string, string>, decision: 'allow' | 'deny' = 'allow'): Promise<URL> {
  const loginPage = await fetch(authorizeUrl(params), { redirect: 'manual' });
  expect(loginPage.status).toBe(200);
  expect(loginPage.headers.get('content-type')).toMatch(/^text\/html/);
  const afterLogin = await post(formFields(await loginPage.text(), { username: emu.username, pw: emu.password }));
  let final = afterLogin;
  if (afterLogin.status === 200) {
    const approval = await afterLogin.text();
    expect(approval).toContain('Allow Access?');
    final = await post(formFields(approval, { decision }));
  }
  expect(final.status).toBe(302);
  return new URL(final.headers.get('location') ?? '');
}

async function exchange(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${emu.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: emu.clientId, redirect_uri: CALLBACK, ...params }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

describe('authorize page + authorization_code grant', () => {
  it('completes login, approval, redirect and a PKCE exchange, with a verifiable id_token', async () => {
    const { verifier, challenge } = pkce();
    const location = await browse({ state: 'st&1=2', scope: 'api refresh_token openid profile email', code_challenge: challenge, code_challenge_method: 'S256', nonce: 'n-123' });
    expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
    expect(location.searchParams.get('state')).toBe('st&1=2');
    const code = location.searchParams.get('code') ?? '';
    expect(code).toMatch(/^aPrx/);

    const { status, body } = await exchange({ code, code_verifier: verifier });
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['access_token', 'refresh_token', 'signature', 'scope', 'id_token', 'instance_url', 'id', 'token_type', 'issued_at']);
    expect(body['scope']).toBe('api refresh_token openid profile email');
    expect(body['refresh_token']).toMatch(/^5Aep861/);

    // id_token: RS256, kid served at /id/keys, claims bound to this client and token.
    const [h = '', p = '', s = ''] = String(body['id_token']).split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const jwks = (await (await fetch(`${emu.loginUrl}/id/keys`)).json()) as { keys: Array<Record<string, string>> };
    const jwk = jwks.keys.find((k) => k['kid'] === header['kid']);
    expect(header['alg']).toBe('RS256');
    expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: '238' });
    const key = createPublicKey({ key: jwk as never, format: 'jwk' });
    expect(createVerify('RSA-SHA256').update(`${h}.${p}`).verify(key, Buffer.from(s, 'base64url'))).toBe(true);
    expect(claims).toMatchObject({ aud: emu.clientId, sub: body['id'], iss: emu.loginUrl, nonce: 'n-123', preferred_username: emu.username, email_verified: true });
    const digest = createHash('sha256').update(String(body['access_token'])).digest();
    expect(claims['at_hash']).toBe(digest.subarray(0, 16).toString('base64url'));

    // Single use.
    expect(await exchange({ code, code_verifier: verifier })).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'invalid authorization code' } });
    // The refresh token works.
    const refreshed = await fetch(`${emu.loginUrl}/services/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: emu.clientId, refresh_token: String(body['refresh_token']) }),
    });
    expect(refreshed.status).toBe(200);
  });

  it('checks the PKCE verifier (S256, plain, missing) and the redirect_uri', async () => {
    const { verifier, challenge } = pkce();
    const bad = { status: 400, body: { error: 'invalid_grant', error_description: 'invalid code verifier' } };
    let code = (await browse({ code_challenge: challenge })).searchParams.get('code') ?? '';
    expect(await exchange({ code, code_verifier: pkce().verifier })).toEqual(bad);
    code = (await browse({ code_challenge: challenge })).searchParams.get('code') ?? '';
    expect(await exchange({ code })).toEqual(bad);
    // No method means S256 on Salesforce (what jsforce relies on).
    code = (await browse({ code_challenge: challenge })).searchParams.get('code') ?? '';
    expect((await exchange({ code, code_verifier: verifier })).status).toBe(200);
    code = (await browse({ code_challenge: verifier, code_challenge_method: 'plain' })).searchParams.get('code') ?? '';
    expect((await exchange({ code, code_verifier: verifier })).status).toBe(200);
    code = (await browse({ code_challenge: challenge })).searchParams.get('code') ?? '';
    expect(await exchange({ code, code_verifier: verifier, redirect_uri: 'http://localhost:9999/other' })).toEqual({
      status: 400,
      body: { error: 'redirect_uri_mismatch', error_description: 'redirect_uri must match configuration' },
    });
  });

  it('needs the client secret when no PKCE was used; codes expire after 15 minutes', async () => {
    let code = (await browse({})).searchParams.get('code') ?? '';
    expect((await exchange({ code })).body).toEqual({ error: 'invalid_client', error_description: 'invalid client credentials' });
    code = (await browse({})).searchParams.get('code') ?? '';
    const ok = await exchange({ code, client_secret: emu.clientSecret });
    expect(ok.status).toBe(200);
    expect(ok.body['id_token']).toBeTypeOf('string');
    code = (await browse({})).searchParams.get('code') ?? '';
    now += 16 * 60 * 1000;
    expect((await exchange({ code, client_secret: emu.clientSecret })).body).toEqual({ error: 'invalid_grant', error_description: 'expired authorization code' });
    expect((await exchange({ client_secret: emu.clientSecret })).body).toEqual({ error: 'invalid_grant', error_description: 'invalid authorization code' });
  });

  it('skips the approval page once the user approved the app, and redirects with access_denied on deny', async () => {
    // The default user approved the default app in the tests above.
    const loginPage = await fetch(authorizeUrl({ state: 's' }));
    const res = await post(formFields(await loginPage.text(), { username: emu.username, pw: emu.password }));
    expect(res.status).toBe(302);
    const app = await register({ name: 'fresh', redirectUris: ['https://app.example.com/cb'] });
    const denied = await fetch(`${emu.loginUrl}/services/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: app.clientId, redirect_uri: 'https://app.example.com/cb', state: 'q' })}`);
    const approval = await post(formFields(await denied.text(), { username: emu.username, pw: emu.password }));
    const final = await post(formFields(await approval.text(), { decision: 'deny' }));
    expect(final.status).toBe(302);
    const loc = new URL(final.headers.get('location') ?? '');
    expect(loc.origin + loc.pathname).toBe('https://app.example.com/cb');
    expect(Object.fromEntries(loc.searchParams)).toEqual({ error: 'access_denied', error_description: 'end-user denied authorization', state: 'q' });
  });

  it('re-shows the login page on a wrong password, and rejects a replayed approval ticket', async () => {
    const loginPage = await (await fetch(authorizeUrl({}))).text();
    const wrong = await post(formFields(loginPage, { username: emu.username, pw: 'wrong' }));
    expect(wrong.status).toBe(200);
    const html = await wrong.text();
    expect(html).toContain('Please check your username and password');
    expect(html).toContain(`value="${emu.username}"`);
    const stale = await post(formFields(loginPage, { _step: 'approve', ticket: 'made-up', decision: 'allow' }));
    expect(stale.status).toBe(200);
    expect(await stale.text()).toContain('Your session has expired');
  });

  it('returns tokens in the fragment for response_type=token', async () => {
    const loc = await browse({ response_type: 'token', state: 'frag' });
    const fragment = new URLSearchParams(loc.hash.slice(1));
    expect(fragment.get('access_token')).toMatch(/^00D\w{12,15}!/);
    expect(fragment.get('instance_url')).toBe(emu.instanceUrl);
    expect(fragment.get('token_type')).toBe('Bearer');
    expect(fragment.get('state')).toBe('frag');
    expect(fragment.get('refresh_token')).toBeNull();
  });
});

async function register(body: Record<string, unknown>): Promise<{ clientId: string; clientSecret: string }> {
  const res = await fetch(`${emu.controlUrl}/connected-apps`, { method: 'POST', headers: emu.controlHeaders, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return (await res.json()) as { clientId: string; clientSecret: string };
}

describe('authorize errors', () => {
  it('shows an error page, never a redirect, for an unknown client or a callback the app does not allow', async () => {
    for (const url of [
      authorizeUrl({ client_id: 'nope' }),
      authorizeUrl({ redirect_uri: 'https://evil.example.com/cb' }),
      authorizeUrl({ redirect_uri: 'not a url' }),
      `${emu.loginUrl}/services/oauth2/authorize`,
    ]) {
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toMatch(/error=(invalid_client_id|redirect_uri_mismatch)/);
    }
    const app = await register({ redirectUris: ['https://app.example.com/cb'] });
    const res = await fetch(authorizeUrl({ client_id: app.clientId }), { redirect: 'manual' });
    expect(res.status).toBe(400);
  });

  it('redirects with an OAuth error for a bad response_type, scope, PKCE method or prompt=none', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ response_type: 'id_token' }, 'unsupported_response_type'],
      [{ scope: 'api launch_rockets' }, 'invalid_scope'],
      [{ code_challenge: pkce().challenge, code_challenge_method: 'S512' }, 'invalid_request'],
      [{ code_challenge: 'short' }, 'invalid_request'],
      [{ prompt: 'none' }, 'login_required'],
    ];
    for (const [params, error] of cases) {
      const res = await fetch(authorizeUrl({ state: 'k', ...params }), { redirect: 'manual' });
      expect(res.status).toBe(302);
      const loc = new URL(res.headers.get('location') ?? '');
      expect(loc.origin + loc.pathname).toBe(CALLBACK);
      expect(loc.searchParams.get('error')).toBe(error);
      expect(loc.searchParams.get('state')).toBe('k');
    }
  });
});
