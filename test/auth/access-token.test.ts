import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { introspectSalesforceAccessToken } from '../../src/auth/salesforce-access-token.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { control, registerApp, signIn, type TestApp } from './helpers.ts';
import { expectRefused } from './refusal-assert.ts';
import { capturedRootLogger } from '../helpers/run-context.ts';

let now = Date.parse('2026-01-10T09:00:00.000Z');
const clock = (): number => now;
const TTL = 3600;
let emu: RunningEmulator;
let app: TestApp;
let otherApp: TestApp;
const { log, text: logged } = capturedRootLogger('debug');

beforeAll(async () => {
  emu = await startEmulator({ clock, tokenTtlSeconds: TTL });
  app = await registerApp(emu, { name: 'forceflow sign-in' });
  otherApp = await registerApp(emu, { name: 'someone else' });
});
afterAll(async () => {
  await emu.close();
});

function check(token: string, as: TestApp = app, url = emu.loginUrl) {
  return introspectSalesforceAccessToken(token, { instanceOrLoginUrl: url, clientId: as.clientId, clientSecret: as.clientSecret, log, now: clock });
}

describe('introspectSalesforceAccessToken against the emulator', () => {
  it('accepts an access token issued to our app and returns the immutable ids and the expiry', async () => {
    const { access_token } = await signIn(emu, app, { scope: 'api' });
    await expect(check(access_token)).resolves.toEqual({ orgId: emu.orgId, userId: emu.userId, expiresAt: new Date(Math.floor(now / 1000) * 1000 + TTL * 1000) });
  });

  it('refuses an access token issued to another connected app (Salesforce answers active false)', async () => {
    const { access_token } = await signIn(emu, otherApp, { scope: 'api' });
    await expect(check(access_token, otherApp)).resolves.toMatchObject({ userId: emu.userId });
    await expectRefused(check(access_token), 'inactive', access_token);
  });

  it('compares client_id even when our app may introspect every token of the org', async () => {
    const snoop = await registerApp(emu, { name: 'may introspect all', introspectAllTokens: true });
    const { access_token } = await signIn(emu, otherApp, { scope: 'api' });
    await expectRefused(check(access_token, snoop), 'client', access_token);
  });

  it('refuses a refresh token given as the access token', async () => {
    const { refresh_token } = await signIn(emu, app, { scope: 'api refresh_token' });
    expect(refresh_token).toBeTypeOf('string');
    await expectRefused(check(refresh_token ?? ''), 'token_type');
  });

  it('refuses a token revoked through the control endpoint, one by one or all of a user’s for our app', async () => {
    const one = await signIn(emu, app, { scope: 'api' });
    expect(await control(emu, 'POST', '/tokens/revoke', { token: one.access_token })).toEqual({ revoked: 1 });
    await expectRefused(check(one.access_token), 'inactive');

    const mine = await signIn(emu, app, { scope: 'api' });
    const theirs = await signIn(emu, otherApp, { scope: 'api' });
    const revoked = await control(emu, 'POST', '/tokens/revoke', { user: emu.username, clientId: app.clientId });
    expect(revoked['revoked']).toBeGreaterThanOrEqual(1);
    await expectRefused(check(mine.access_token), 'inactive');
    await expect(check(theirs.access_token, otherApp)).resolves.toMatchObject({ userId: emu.userId });
  });

  it('refuses the token of a deactivated user (others still pass), and again accepts it once reactivated', async () => {
    const created = await control(emu, 'POST', '/records/User', { Username: 'viewer@forceflow.test', LastName: 'Viewer', Email: 'viewer@forceflow.test', IsActive: true }, 201);
    const viewerId = String(created['id']);
    const viewer = await signIn(emu, app, { scope: 'api', username: 'viewer@forceflow.test' });
    const admin = await signIn(emu, app, { scope: 'api' });
    await expect(check(viewer.access_token)).resolves.toMatchObject({ userId: viewerId });

    expect(await control(emu, 'POST', '/users/viewer@forceflow.test/deactivate')).toEqual({ userId: viewerId, username: 'viewer@forceflow.test', active: false });
    await expectRefused(check(viewer.access_token), 'inactive', viewer.access_token);
    await expect(check(admin.access_token)).resolves.toMatchObject({ userId: emu.userId });

    await control(emu, 'POST', `/users/${viewerId}/activate`);
    await expect(check(viewer.access_token)).resolves.toMatchObject({ userId: viewerId });
  });

  it('refuses an expired access token', async () => {
    const { access_token } = await signIn(emu, app, { scope: 'api' });
    now += (TTL + 1) * 1000;
    await expectRefused(check(access_token), 'inactive', access_token);
  });

  it('says SF_AUTH_FAILED when Salesforce refuses our app’s secret, with neither the secret nor the token in the message', async () => {
    const { access_token } = await signIn(emu, app, { scope: 'api' });
    const error = await check(access_token, { clientId: app.clientId, clientSecret: 'WRONG-SECRET-0123456789' }).catch((e: unknown) => e);
    expect(isForceflowError(error, 'SF_AUTH_FAILED')).toBe(true);
    expect(String((error as Error).message)).not.toMatch(/WRONG-SECRET|!AQ/);
  });

  it('says SF_UNAVAILABLE when Salesforce cannot be reached, and CONFIG_INVALID before sending a token over plain http to a remote host', async () => {
    const gone = await startEmulator({ clock });
    const url = gone.loginUrl;
    await gone.close();
    expect(isForceflowError(await check('00Dx!AQtoken', app, url).catch((e: unknown) => e), 'SF_UNAVAILABLE')).toBe(true);
    expect(isForceflowError(await check('00Dx!AQtoken', app, 'http://login.salesforce.com').catch((e: unknown) => e), 'CONFIG_INVALID')).toBe(true);
  });

  it('never logged a token or a secret', () => {
    expect(logged()).toContain('/services/oauth2/introspect');
    expect(logged()).not.toMatch(/!AQ|5Aep861/);
    expect(logged()).not.toContain(app.clientSecret);
  });
});
