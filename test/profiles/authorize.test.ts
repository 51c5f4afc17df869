import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { isForceflowError, type ForceflowError } from '../../src/core/errors.ts';
import type { Row } from '../../src/core/types.ts';
import { authorizeProfile } from '../../src/profiles/authorize.ts';
import { createProfile, describeProfile, openProfile } from '../../src/profiles/profiles.ts';
import { resolveProfile } from '../../src/profiles/resolve.ts';
import { captureContext } from '../helpers/run-context.ts';
import { approvalRedirect, approveInBrowser, type BrowserResult } from './browser.ts';
import { profilesEnv, type ProfilesEnv } from './env.ts';

let env: ProfilesEnv;
beforeAll(async () => {
  env = await profilesEnv();
});
afterAll(async () => {
  await env.close();
});

async function failure(p: Promise<unknown>): Promise<ForceflowError> {
  try {
    await p;
  } catch (error) {
    if (isForceflowError(error)) return error;
    throw error;
  }
  throw new Error('expected a ForceflowError');
}

async function readAccounts(name: string): Promise<Row[]> {
  const { profile, tokens } = await resolveProfile(env.ctx, name);
  const ctx = captureContext();
  const { source } = connectSalesforce(profile, { tokens, log: ctx.log, retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 10 } });
  const stream = await source.open({ entity: 'Account', fields: ['Id', 'Name'] }, ctx);
  const rows: Row[] = [];
  for await (const b of stream.batches) rows.push(...b.rows);
  return rows;
}

/** A profile with no instance URL and no tokens yet, whose connected app credentials are in a secret. */
async function newProfile(name: string): Promise<void> {
  const arn = await env.createSecret(`authz/${name}`, { clientId: env.emu.clientId, clientSecret: env.emu.clientSecret });
  await createProfile(env.ctx, {
    connectorProfileName: name,
    connectorType: 'Salesforce',
    connectionMode: 'Public',
    connectorProfileConfig: {
      connectorProfileProperties: { Salesforce: { isSandboxEnvironment: false, loginUrl: env.emu.loginUrl } },
      connectorProfileCredentials: { Salesforce: { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn } },
    },
  });
}

describe('profiles authorize: the web server flow with PKCE, driven over HTTP', () => {
  it('logs in on the emulator page, receives the code on the local callback, stores tokens encrypted; refreshes are written back; a revoked token is a clear error', async () => {
    await newProfile('authz');
    let seenUrl = '';
    let browser: Promise<BrowserResult> | undefined;
    const result = await authorizeProfile(env.ctx, 'authz', {
      redirectUri: 'http://127.0.0.1:0/OauthRedirect',
      timeoutMs: 20_000,
      onAuthorizeUrl(url) {
        seenUrl = url;
        browser = approveInBrowser(url, { username: env.emu.username, password: env.emu.password });
      },
    });
    const page = await browser;
    expect(page?.callbackStatus).toBe(200);
    expect(page?.callbackPage).toContain('profile &#34;authz&#34; authorized');

    const authorize = new URL(seenUrl);
    expect(authorize.origin + authorize.pathname).toBe(`${env.emu.loginUrl}/services/oauth2/authorize`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/OauthRedirect$/);
    expect(authorize.searchParams.get('redirect_uri')).not.toContain(':0/');

    expect(result.instanceUrl).toBe(env.emu.instanceUrl);
    expect(result.hasRefreshToken).toBe(true);
    expect((await describeProfile(env.ctx, 'authz')).connectorProfileProperties).toMatchObject({ Salesforce: { instanceUrl: env.emu.instanceUrl } });
    const stored = (await openProfile(env.ctx, 'authz')).credentials;
    expect(stored.accessToken).toMatch(/^00D/);
    expect(stored.refreshToken).toMatch(/^5Aep861/);
    expect(stored.clientSecret).toBeUndefined();

    expect((await readAccounts('authz')).length).toBeGreaterThan(0);

    // The access token expires: the run refreshes it and writes the new one back, encrypted.
    env.emu.org.auth.expireAll();
    expect((await readAccounts('authz')).length).toBeGreaterThan(0);
    const refreshed = (await openProfile(env.ctx, 'authz')).credentials;
    expect(refreshed.accessToken).not.toBe(stored.accessToken);
    expect(refreshed.refreshToken).toBe(stored.refreshToken);

    // The user revokes the connection in Salesforce: the next run says how to fix it.
    const revoke = await fetch(`${env.emu.loginUrl}/services/oauth2/revoke`, { method: 'POST', body: new URLSearchParams({ token: stored.refreshToken ?? '' }) });
    expect(revoke.status).toBe(200);
    const e = await failure(readAccounts('authz'));
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.message).toContain('profile "authz"');
    expect(e.message).toContain('forceflow profiles authorize authz');
    expect(e.message).not.toContain(stored.refreshToken ?? '-');
  });

  it('re-authorizing a profile whose refresh token is kept in its secret replaces the revoked token there (the secret wins at run time)', async () => {
    const issued = env.emu.org.auth.issue(env.emu.org.auth.defaultUser, env.emu.clientId, { withRefresh: true });
    const revoked = issued.refreshToken ?? '';
    const arn = await env.createSecret('authz/in-secret', { clientId: env.emu.clientId, clientSecret: env.emu.clientSecret, refreshToken: revoked });
    await createProfile(env.ctx, {
      connectorProfileName: 'authz-in-secret',
      connectorType: 'Salesforce',
      connectorProfileConfig: {
        connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl, loginUrl: env.emu.loginUrl } },
        connectorProfileCredentials: { Salesforce: { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn } },
      },
    });
    await fetch(`${env.emu.loginUrl}/services/oauth2/revoke`, { method: 'POST', body: new URLSearchParams({ token: revoked }) });
    env.ctx.secrets.clear();
    const e = await failure(readAccounts('authz-in-secret'));
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.message).toContain('forceflow profiles authorize authz-in-secret');

    // The user does what the message says.
    let browser: Promise<BrowserResult> | undefined;
    const result = await authorizeProfile(env.ctx, 'authz-in-secret', {
      redirectUri: 'http://127.0.0.1:0/OauthRedirect',
      timeoutMs: 20_000,
      onAuthorizeUrl(url) {
        browser = approveInBrowser(url, { username: env.emu.username, password: env.emu.password });
      },
    });
    expect((await browser)?.callbackStatus).toBe(200);
    expect(result.hasRefreshToken).toBe(true);
    const secret = JSON.parse((await env.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString ?? '{}') as Record<string, string>;
    expect(secret['refreshToken']).toMatch(/^5Aep861/);
    expect(secret['refreshToken']).not.toBe(revoked);
    expect(secret).toMatchObject({ clientId: env.emu.clientId, clientSecret: env.emu.clientSecret });

    // The next runs work, also once the access token has expired and must be refreshed.
    env.ctx.secrets.clear();
    expect((await readAccounts('authz-in-secret')).length).toBeGreaterThan(0);
    env.emu.org.auth.expireAll();
    expect((await readAccounts('authz-in-secret')).length).toBeGreaterThan(0);
  });

  it('reports a denied authorization with the profile and the fix', async () => {
    await newProfile('authz-denied');
    let browser: Promise<BrowserResult> | undefined;
    const e = await failure(
      authorizeProfile(env.ctx, 'authz-denied', {
        redirectUri: 'http://127.0.0.1:0/OauthRedirect',
        timeoutMs: 20_000,
        onAuthorizeUrl(url) {
          browser = approveInBrowser(url, { username: env.emu.username, password: env.emu.password }, 'deny');
        },
      }),
    );
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.message).toContain('profile "authz-denied": access_denied');
    expect(e.message).toContain('forceflow profiles authorize authz-denied');
    expect((await browser)?.callbackStatus).toBe(400);
    expect((await openProfile(env.ctx, 'authz-denied')).credentials.accessToken).toBeUndefined();
  });

  it('refuses a callback URL that is not on the loopback interface, and gives up after the timeout', async () => {
    await newProfile('authz-bad-callback');
    const remote = await failure(authorizeProfile(env.ctx, 'authz-bad-callback', { redirectUri: 'https://example.com/cb', onAuthorizeUrl() {} }));
    expect(remote.code).toBe('PROFILE_INVALID');
    expect(remote.message).toContain('127.0.0.1 or localhost');
    const slow = await failure(authorizeProfile(env.ctx, 'authz-bad-callback', { redirectUri: 'http://127.0.0.1:0/cb', timeoutMs: 200, onAuthorizeUrl() {} }));
    expect(slow.code).toBe('SF_AUTH_FAILED');
    expect(slow.message).toContain('no answer from the browser');
  });
});

describe('profiles create with oAuthRequest.authCode (AppFlow\'s way)', () => {
  it('exchanges the code once at creation and stores the tokens encrypted; a used code is a clear error', async () => {
    const redirectUri = 'http://127.0.0.1:9/appflow/oauth';
    const url = new URL(`${env.emu.loginUrl}/services/oauth2/authorize`);
    url.search = new URLSearchParams({ response_type: 'code', client_id: env.emu.clientId, redirect_uri: redirectUri, scope: 'api refresh_token' }).toString();
    const location = new URL(await approvalRedirect(url.href, { username: env.emu.username, password: env.emu.password }));
    const authCode = location.searchParams.get('code') ?? '';
    expect(authCode).not.toBe('');
    const arn = await env.createSecret('authz/code', { clientId: env.emu.clientId, clientSecret: env.emu.clientSecret });
    const json = (name: string): Record<string, unknown> => ({
      connectorProfileName: name,
      connectorType: 'Salesforce',
      connectorProfileConfig: {
        connectorProfileProperties: { Salesforce: { loginUrl: env.emu.loginUrl } },
        connectorProfileCredentials: { Salesforce: { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn, oAuthRequest: { authCode, redirectUri } } },
      },
    });
    const created = await createProfile(env.ctx, json('with-code'));
    expect(created.connectorProfileProperties).toMatchObject({ Salesforce: { instanceUrl: env.emu.instanceUrl } });
    const stored = (await openProfile(env.ctx, 'with-code')).credentials;
    expect(stored.accessToken).toMatch(/^00D/);
    expect(stored.refreshToken).toMatch(/^5Aep861/);
    expect(stored.oAuthRequest).toEqual({ redirectUri });
    expect((await readAccounts('with-code')).length).toBeGreaterThan(0);

    const reused = await failure(createProfile(env.ctx, json('with-used-code')));
    expect(reused.code).toBe('SF_AUTH_FAILED');
    expect(reused.message).toContain('profile "with-used-code": invalid_grant');
    expect(reused.message).not.toContain(authCode);
  });

  it('puts the new refresh token into the secret when the secret is where the profile keeps it', async () => {
    const redirectUri = 'http://127.0.0.1:9/appflow/oauth';
    const url = new URL(`${env.emu.loginUrl}/services/oauth2/authorize`);
    url.search = new URLSearchParams({ response_type: 'code', client_id: env.emu.clientId, redirect_uri: redirectUri, scope: 'api refresh_token' }).toString();
    const authCode = new URL(await approvalRedirect(url.href, { username: env.emu.username, password: env.emu.password })).searchParams.get('code') ?? '';
    const arn = await env.createSecret('authz/code-with-refresh', { clientId: env.emu.clientId, clientSecret: env.emu.clientSecret, refreshToken: 'OLD-REVOKED-REFRESH-TOKEN' });
    await createProfile(env.ctx, {
      connectorProfileName: 'code-refresh-in-secret',
      connectorType: 'Salesforce',
      connectorProfileConfig: {
        connectorProfileProperties: { Salesforce: { loginUrl: env.emu.loginUrl } },
        connectorProfileCredentials: { Salesforce: { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn, oAuthRequest: { authCode, redirectUri } } },
      },
    });
    const secret = JSON.parse((await env.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString ?? '{}') as Record<string, string>;
    expect(secret['refreshToken']).toMatch(/^5Aep861/);
    expect(secret['clientSecret']).toBe(env.emu.clientSecret);
    expect((await openProfile(env.ctx, 'code-refresh-in-secret')).credentials.refreshToken).toBeUndefined();
  });
});
