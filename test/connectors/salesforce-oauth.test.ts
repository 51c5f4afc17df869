import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { signJwtAssertion } from '../../src/connectors/salesforce/auth.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { requestToken, type TokenGrant } from '../../src/connectors/salesforce/oauth.ts';
import { ForceflowError } from '../../src/core/errors.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { captureContext } from '../helpers/run-context.ts';

/**
 * requestToken: the one function behind the refresh token, JWT bearer and authorization code grants,
 * against the emulator's /services/oauth2/token over HTTP.
 */
let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

async function refused(promise: Promise<unknown>): Promise<ForceflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ForceflowError);
  return error as ForceflowError;
}

/** A fresh refresh token of the emulator's connected app. */
function newRefreshToken(): string {
  const token = emu.org.auth.issue(emu.org.auth.defaultUser, emu.clientId, { withRefresh: true }).refreshToken;
  expect(token).toMatch(/^5Aep861/);
  return token ?? '';
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('requestToken: refresh token grant', () => {
  it('answers a session (and no new refresh token when the app does not rotate)', async () => {
    const ctx = captureContext();
    const refreshToken = newRefreshToken();
    const answer = await requestToken(emu.loginUrl, { type: 'refresh_token', refreshToken, clientId: emu.clientId, clientSecret: emu.clientSecret }, { profileName: 'p', log: ctx.log });
    expect(answer.accessToken).toMatch(/^00D/);
    expect(answer.instanceUrl).toBe(emu.instanceUrl);
    expect(answer.refreshToken).toBeUndefined();
    // One debug line for the call, with nothing secret in it.
    const call = ctx.lines.find((l) => l['msg'] === 'salesforce http call');
    expect(call).toMatchObject({ method: 'POST', path: '/services/oauth2/token', grant: 'refresh_token', status: 200 });
    expect(ctx.text()).not.toContain(refreshToken);
    expect(ctx.text()).not.toContain(answer.accessToken);
    expect(ctx.text()).not.toContain(emu.clientSecret);
  });

  it('a wrong client secret (invalid_client) points at the client credentials, not at the refresh token', async () => {
    const ctx = captureContext();
    const refreshToken = newRefreshToken();
    const e = await refused(requestToken(emu.loginUrl, { type: 'refresh_token', refreshToken, clientId: emu.clientId, clientSecret: 'WRONG-SECRET-0123456789' }, { profileName: 'wrong-secret', log: ctx.log }));
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.kind).toBe('auth');
    expect(e.details).toMatchObject({ profile: 'wrong-secret', oauthError: 'invalid_client', grant: 'refresh_token', status: 400 });
    expect(e.message).toContain('profile "wrong-secret": invalid_client');
    expect(e.message).toContain("The connected app's client id or client secret is wrong");
    expect(e.message).toContain('clientSecret');
    expect(e.message).not.toContain('may be expired');
    expect(e.message).not.toContain('profiles authorize');
    for (const secret of ['WRONG-SECRET-0123456789', refreshToken]) {
      expect(e.message).not.toContain(secret);
      expect(JSON.stringify(e.details)).not.toContain(secret);
      expect(ctx.text()).not.toContain(secret);
    }
    // The refresh token was not judged: it still works with the right secret.
    await expect(requestToken(emu.loginUrl, { type: 'refresh_token', refreshToken, clientId: emu.clientId, clientSecret: emu.clientSecret }, { profileName: 'p', log: ctx.log })).resolves.toMatchObject({ instanceUrl: emu.instanceUrl });
  });

  it('an unknown client id (invalid_client_id) points at the client credentials too', async () => {
    const e = await refused(requestToken(emu.loginUrl, { type: 'refresh_token', refreshToken: newRefreshToken(), clientId: 'no-such-app' }, { profileName: 'wrong-id', log: captureContext().log }));
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.details).toMatchObject({ oauthError: 'invalid_client_id' });
    expect(e.message).toContain("The connected app's client id or client secret is wrong");
  });

  it('a revoked refresh token (invalid_grant) says to re-authorise the profile', async () => {
    const refreshToken = newRefreshToken();
    const revoke = await fetch(`${emu.loginUrl}/services/oauth2/revoke`, { method: 'POST', body: new URLSearchParams({ token: refreshToken }) });
    expect(revoke.status).toBe(200);
    const ctx = captureContext();
    const e = await refused(requestToken(emu.loginUrl, { type: 'refresh_token', refreshToken, clientId: emu.clientId, clientSecret: emu.clientSecret }, { profileName: 'revoked', log: ctx.log }));
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.details).toMatchObject({ oauthError: 'invalid_grant' });
    expect(e.message).toContain('Salesforce refused the refresh token for profile "revoked": invalid_grant: expired access/refresh token.');
    expect(e.message).toContain('The refresh token may be expired or revoked: re-authorise the profile (forceflow profiles authorize revoked)');
    expect(e.message).not.toContain('client secret is wrong');
    expect(e.message).not.toContain(refreshToken);
    expect(ctx.text()).not.toContain(refreshToken);
  });

  it('returns the new refresh token when the connected app rotates them', async () => {
    const clientId = 'rotating-oauth-test';
    const clientSecret = `${clientId}-secret-0123456789`;
    const created = await fetch(`${emu.controlUrl}/connected-apps`, { method: 'POST', headers: emu.controlHeaders, body: JSON.stringify({ name: clientId, clientId, clientSecret, refreshTokenRotation: true }) });
    expect(created.status).toBe(201);
    const first = emu.org.auth.issue(emu.org.auth.defaultUser, clientId, { withRefresh: true }).refreshToken ?? '';
    const answer = await requestToken(emu.loginUrl, { type: 'refresh_token', refreshToken: first, clientId, clientSecret }, { profileName: 'rotating', log: captureContext().log });
    expect(answer.refreshToken).toMatch(/^5Aep861/);
    expect(answer.refreshToken).not.toBe(first);
    // The old one is revoked: using it again is invalid_grant.
    const e = await refused(requestToken(emu.loginUrl, { type: 'refresh_token', refreshToken: first, clientId, clientSecret }, { profileName: 'rotating', log: captureContext().log }));
    expect(e.details).toMatchObject({ oauthError: 'invalid_grant' });
  });
});

describe('requestToken: authorization code and JWT bearer grants', () => {
  it('authorization code: a wrong client secret is invalid_client (the code was not judged); a bad code is invalid_grant', async () => {
    const grant = (clientSecret: string): TokenGrant => ({ type: 'authorization_code', code: 'aPrx-NOT-A-CODE-0000', clientId: emu.clientId, clientSecret, redirectUri: 'http://127.0.0.1:1717/OauthRedirect' });
    const client = await refused(requestToken(emu.loginUrl, grant('WRONG-SECRET-0123456789'), { profileName: 'code', log: captureContext().log }));
    expect(client.details).toMatchObject({ oauthError: 'invalid_client', grant: 'authorization_code' });
    expect(client.message).toContain("The connected app's client id or client secret is wrong");
    expect(client.message).toContain('The authorization code itself was not judged');
    expect(client.message).not.toContain('WRONG-SECRET');
    const code = await refused(requestToken(emu.loginUrl, grant(emu.clientSecret), { profileName: 'code', log: captureContext().log }));
    expect(code.details).toMatchObject({ oauthError: 'invalid_grant' });
    expect(code.message).toContain('Codes are single-use and expire after 15 minutes');
    expect(code.message).toContain('forceflow profiles authorize code');
    expect(code.message).not.toContain('aPrx-NOT-A-CODE');
  });

  it('JWT bearer: an unknown issuer is invalid_client_id (check clientId); a JWT signed with another key is invalid_grant (check the certificate)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const unknown = signJwtAssertion({ clientId: 'no-such-app', username: emu.username, audience: emu.loginUrl, privateKeyPem });
    const e1 = await refused(requestToken(emu.loginUrl, { type: 'jwt_bearer', assertion: unknown }, { profileName: 'jwt', log: captureContext().log }));
    expect(e1.details).toMatchObject({ oauthError: 'invalid_client_id', grant: 'jwt_bearer' });
    expect(e1.message).toContain("The connected app's client id (the JWT's issuer) is wrong");
    expect(e1.message).not.toContain(unknown);

    const other = 'jwt-oauth-test';
    const { publicKey: otherPublic } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const created = await fetch(`${emu.controlUrl}/connected-apps`, {
      method: 'POST',
      headers: emu.controlHeaders,
      body: JSON.stringify({ name: other, clientId: other, certificatePem: otherPublic.export({ type: 'spki', format: 'pem' }).toString() }),
    });
    expect(created.status).toBe(201);
    const wrongKey = signJwtAssertion({ clientId: other, username: emu.username, audience: emu.loginUrl, privateKeyPem });
    const e2 = await refused(requestToken(emu.loginUrl, { type: 'jwt_bearer', assertion: wrongKey }, { profileName: 'jwt', log: captureContext().log }));
    expect(e2.details).toMatchObject({ oauthError: 'invalid_grant' });
    expect(e2.message).toContain('certificate');
    expect(e2.message).not.toContain(wrongKey);
  });
});

describe('requestToken: transient failures, wrong hosts, cancellation', () => {
  it('a 503 from the token endpoint is SF_UNAVAILABLE (retryable), not an auth failure', async () => {
    const put = await fetch(`${emu.controlUrl}/faults`, { method: 'PUT', headers: emu.controlHeaders, body: 'oauth.503.next=1' });
    expect(put.status).toBe(200);
    try {
      const e = await refused(requestToken(emu.loginUrl, { type: 'refresh_token', refreshToken: newRefreshToken(), clientId: emu.clientId, clientSecret: emu.clientSecret }, { profileName: 'busy', log: captureContext().log }));
      expect(e.code).toBe('SF_UNAVAILABLE');
      expect(e.kind).toBe('retryable');
      expect(e.message).toContain('HTTP 503');
      expect(e.message).toContain('run again later');
    } finally {
      await fetch(`${emu.controlUrl}/faults`, { method: 'PUT', headers: emu.controlHeaders, body: '' });
    }
  });

  it('a token answer cut part-way (connection reset) is SF_UNAVAILABLE, logged once', async () => {
    const put = await fetch(`${emu.controlUrl}/faults`, { method: 'PUT', headers: emu.controlHeaders, body: 'oauth.reset.next=1,oauth.resetAfter=20' });
    expect(put.status).toBe(200);
    const ctx = captureContext();
    try {
      const e = await refused(requestToken(emu.loginUrl, { type: 'refresh_token', refreshToken: newRefreshToken(), clientId: emu.clientId, clientSecret: emu.clientSecret }, { profileName: 'cut', log: ctx.log }));
      expect(e.code).toBe('SF_UNAVAILABLE');
      expect(e.message).toContain('broke part-way');
    } finally {
      await fetch(`${emu.controlUrl}/faults`, { method: 'PUT', headers: emu.controlHeaders, body: '' });
    }
    expect(ctx.lines.filter((l) => l['msg'] === 'salesforce http call').map((l) => l['status'])).toEqual([200]);
  });

  it('an unreachable login host is SF_UNAVAILABLE naming the cause', async () => {
    const port = await closedPort();
    const e = await refused(requestToken(`http://127.0.0.1:${port}`, { type: 'jwt_bearer', assertion: 'a.b.c' }, { profileName: 'down', log: captureContext().log }));
    expect(e.code).toBe('SF_UNAVAILABLE');
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.message).toContain('the JWT bearer grant');
  });

  it('a login URL that does not answer OAuth (a 404 page) is SF_AUTH_FAILED saying to check loginUrl, without quoting the page', async () => {
    const e = await refused(requestToken(`${emu.loginUrl}/not/a/login/host`, { type: 'jwt_bearer', assertion: 'a.b.c' }, { profileName: 'wrong-host', log: captureContext().log }));
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.details).toMatchObject({ status: 404, oauthError: 'http_404' });
    expect(e.message).toContain('not with an OAuth error');
    expect(e.message).toContain('Check loginUrl');
  });

  it('a cancelled run does not ask for a token', async () => {
    const controller = new AbortController();
    controller.abort();
    const e = await refused(requestToken(emu.loginUrl, { type: 'jwt_bearer', assertion: 'a.b.c' }, { profileName: 'stop', log: captureContext().log, signal: controller.signal }));
    expect(e.code).toBe('RUN_CANCELED');
  });
});

describe('the token provider over requestToken', () => {
  it('a connector profile with a wrong client secret fails its first call with the client message (no jsforce involved)', async () => {
    const ctx = captureContext();
    const profile = {
      connectorProfileName: 'provider-wrong-secret',
      connectorType: 'Salesforce',
      connectorProfileConfig: {
        connectorProfileProperties: { Salesforce: { instanceUrl: emu.instanceUrl, loginUrl: emu.loginUrl } },
        connectorProfileCredentials: { Salesforce: { oAuth2GrantType: 'AUTHORIZATION_CODE', clientId: emu.clientId, clientSecret: 'WRONG-SECRET-0123456789', refreshToken: newRefreshToken() } },
      },
    };
    const { source } = connectSalesforce(profile, { log: ctx.log });
    const e = await refused(source.open({ entity: 'Account', fields: ['Id'] }, ctx));
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.message).toContain('profile "provider-wrong-secret": invalid_client');
    expect(e.message).not.toContain('may be expired');
    expect(ctx.text()).not.toContain('WRONG-SECRET');
  });
});
