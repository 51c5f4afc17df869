import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { signIn } from '../auth/helpers.ts';

let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

async function control(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${emu.controlUrl}${path}`, { method, headers: emu.controlHeaders, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function token(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${emu.loginUrl}/services/oauth2/token`, { method: 'POST', body: new URLSearchParams(params) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function introspect(accessToken: string, app: { clientId: string; clientSecret: string }): Promise<Record<string, unknown>> {
  const res = await fetch(`${emu.loginUrl}/services/oauth2/introspect`, {
    method: 'POST',
    body: new URLSearchParams({ token: accessToken, client_id: app.clientId, client_secret: app.clientSecret }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

const defaultApp = (): { clientId: string; clientSecret: string } => ({ clientId: emu.clientId, clientSecret: emu.clientSecret });

async function newUser(username: string): Promise<string> {
  const created = await control('POST', '/records/User', { Username: username, LastName: 'Test', Email: username, IsActive: true });
  expect(created.status).toBe(201);
  return String(created.body['id']);
}

async function passwordLogin(username: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return token({ grant_type: 'password', client_id: emu.clientId, client_secret: emu.clientSecret, username, password: emu.password });
}

describe('user deactivation (control endpoint)', () => {
  it('refuses everything the user holds while inactive, and sets the User record’s IsActive', async () => {
    const userId = await newUser('leaver@forceflow.test');
    const login = await passwordLogin('leaver@forceflow.test');
    expect(login.status).toBe(200);
    const access = String(login.body['access_token']);
    const refresh = (await signIn(emu, defaultApp(), { scope: 'api refresh_token', username: 'leaver@forceflow.test' })).refresh_token ?? '';
    expect(await introspect(access, defaultApp())).toMatchObject({ active: true, sub: `${emu.loginUrl}/id/${emu.orgId}/${userId}` });

    expect(await control('POST', '/users/leaver@forceflow.test/deactivate')).toEqual({ status: 200, body: { userId, username: 'leaver@forceflow.test', active: false } });
    expect((await control('GET', `/records/User/${userId}`)).body['IsActive']).toBe(false);
    expect(await introspect(access, defaultApp())).toEqual({ active: false });
    const userinfo = await fetch(`${emu.loginUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${access}` } });
    expect([userinfo.status, await userinfo.text()]).toEqual([403, 'Bad_OAuth_Token']);
    const rest = await fetch(`${emu.instanceUrl}/services/data/v62.0/sobjects`, { headers: { authorization: `Bearer ${access}` } });
    expect(rest.status).toBe(401);
    expect(await token({ grant_type: 'refresh_token', client_id: emu.clientId, refresh_token: refresh })).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'authentication failure' },
    });
    expect((await passwordLogin('leaver@forceflow.test')).body).toEqual({ error: 'invalid_grant', error_description: 'authentication failure' });

    // Reactivated: the tokens work again (a guess about Salesforce, documented).
    expect((await control('POST', `/users/${userId}/activate`)).body).toMatchObject({ active: true });
    expect(await introspect(access, defaultApp())).toMatchObject({ active: true });
    expect((await token({ grant_type: 'refresh_token', client_id: emu.clientId, refresh_token: refresh })).status).toBe(200);
  });

  it('deactivates the default user too, and answers 404 for an unknown user', async () => {
    expect(await introspect(emu.accessToken, defaultApp())).toMatchObject({ active: true });
    expect((await control('POST', `/users/${emu.username}/deactivate`)).body).toMatchObject({ userId: emu.userId, active: false });
    expect(await introspect(emu.accessToken, defaultApp())).toEqual({ active: false });
    await control('POST', `/users/${emu.userId}/activate`);
    expect(await introspect(emu.accessToken, defaultApp())).toMatchObject({ active: true });
    expect((await control('POST', '/users/nobody@nowhere.test/deactivate')).status).toBe(404);
  });
});

describe('token revocation (control endpoint)', () => {
  it('revokes one token, every token of a user, or only those of one app', async () => {
    await newUser('revoked@forceflow.test');
    const other = await control('POST', '/connected-apps', { name: 'other' });
    const otherApp = { clientId: String(other.body['clientId']), clientSecret: String(other.body['clientSecret']) };
    const viaOther = async (): Promise<string> =>
      String((await token({ grant_type: 'password', client_id: otherApp.clientId, client_secret: otherApp.clientSecret, username: 'revoked@forceflow.test', password: emu.password })).body['access_token']);

    const a = String((await passwordLogin('revoked@forceflow.test')).body['access_token']);
    expect(await control('POST', '/tokens/revoke', { token: a })).toEqual({ status: 200, body: { revoked: 1 } });
    expect(await introspect(a, defaultApp())).toEqual({ active: false });
    expect(await control('POST', '/tokens/revoke', { token: a })).toEqual({ status: 200, body: { revoked: 0 } });

    const b = String((await passwordLogin('revoked@forceflow.test')).body['access_token']);
    const c = await viaOther();
    expect((await control('POST', '/tokens/revoke', { user: 'revoked@forceflow.test', clientId: emu.clientId })).body).toEqual({ revoked: 1 });
    expect(await introspect(b, defaultApp())).toEqual({ active: false });
    expect(await introspect(c, otherApp)).toMatchObject({ active: true });
    expect((await control('POST', '/tokens/revoke', { user: 'revoked@forceflow.test' })).body).toEqual({ revoked: 1 });
    expect(await introspect(c, otherApp)).toEqual({ active: false });
  });

  it('names the problem in a bad body', async () => {
    const bad = await control('POST', '/tokens/revoke', { tokens: 'x' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/Send \{\\"token\\"/);
    expect((await control('POST', '/tokens/revoke', { user: 'nobody@nowhere.test' })).status).toBe(404);
  });
});

describe('introspection scope', () => {
  it('answers an app about its own tokens only, unless it may introspect all tokens of the org', async () => {
    const mine = await control('POST', '/connected-apps', { name: 'mine' });
    const all = await control('POST', '/connected-apps', { name: 'all', introspectAllTokens: true });
    expect(all.body['introspectAllTokens']).toBe(true);
    expect(mine.body['introspectAllTokens']).toBe(false);
    const app = (r: { body: Record<string, unknown> }) => ({ clientId: String(r.body['clientId']), clientSecret: String(r.body['clientSecret']) });
    expect(await introspect(emu.accessToken, app(mine))).toEqual({ active: false });
    expect(await introspect(emu.accessToken, app(all))).toMatchObject({ active: true, client_id: emu.clientId });
  });
});
