import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryReplayGuard } from '../../src/auth/replay.ts';
import { AllowedIssuers } from '../../src/auth/salesforce-id-token.ts';
import { ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, SubjectTokenVerifier } from '../../src/auth/subject-token.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { registerApp, signIn, type TestApp } from './helpers.ts';
import { expectRefused } from './refusal-assert.ts';

const now = Date.parse('2026-01-10T09:00:00.000Z');
const clock = (): number => now;
let emu: RunningEmulator;
let app: TestApp;

beforeAll(async () => {
  emu = await startEmulator({ clock });
  app = await registerApp(emu, { name: 'forceflow sign-in' });
});
afterAll(async () => {
  await emu.close();
});

function verifier(withIntrospection: boolean, replay = new MemoryReplayGuard()): SubjectTokenVerifier {
  return new SubjectTokenVerifier({
    allowedIssuers: new AllowedIssuers([emu.loginUrl]),
    consumerKey: app.clientId,
    ...(withIntrospection ? { introspection: { url: emu.loginUrl, consumerSecret: app.clientSecret } } : {}),
    replay,
    log: silentLogger(),
    now: clock,
  });
}

describe('SubjectTokenVerifier (RFC 8693 subject tokens, against the emulator)', () => {
  it('accepts an id_token once', async () => {
    const v = verifier(false);
    const { id_token: token = '' } = await signIn(emu, app, { scope: 'openid' });
    await expect(v.verify(token, ID_TOKEN_TYPE)).resolves.toMatchObject({ orgId: emu.orgId, userId: emu.userId });
    await expectRefused(v.verify(token, ID_TOKEN_TYPE), 'replayed', token);
  });

  it('accepts an access token once when introspection is configured, and refuses the type otherwise', async () => {
    const { access_token: token } = await signIn(emu, app, { scope: 'api' });
    await expectRefused(verifier(false).verify(token, ACCESS_TOKEN_TYPE), 'token_type', token);
    const v = verifier(true);
    expect(v.acceptedTypes).toEqual([ID_TOKEN_TYPE, ACCESS_TOKEN_TYPE]);
    await expect(v.verify(token, ACCESS_TOKEN_TYPE)).resolves.toMatchObject({ userId: emu.userId });
    await expectRefused(v.verify(token, ACCESS_TOKEN_TYPE), 'replayed', token);
  });

  it('refuses other token types', async () => {
    const { id_token: token = '' } = await signIn(emu, app, { scope: 'openid' });
    for (const type of ['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:refresh_token', 'id_token', '']) {
      await expectRefused(verifier(true).verify(token, type), 'token_type', token);
    }
  });

  it('records nothing for a refused token: it can still be exchanged properly afterwards', async () => {
    const replay = new MemoryReplayGuard();
    const v = verifier(true, replay);
    const { id_token: token = '' } = await signIn(emu, app, { scope: 'openid', nonce: 'n-1' });
    await expectRefused(v.verify(token, ID_TOKEN_TYPE, { nonce: 'n-2' }), 'nonce');
    await expectRefused(v.verify(token, ACCESS_TOKEN_TYPE), 'inactive');
    expect(replay.size).toBe(0);
    await expect(v.verify(token, ID_TOKEN_TYPE, { nonce: 'n-1' })).resolves.toMatchObject({ userId: emu.userId });
    expect(replay.size).toBe(1);
  });

  it('refuses a maximum age outside 1 to 3600 seconds', () => {
    const base = { allowedIssuers: new AllowedIssuers([emu.loginUrl]), consumerKey: 'k', replay: new MemoryReplayGuard(), log: silentLogger() };
    expect(() => new SubjectTokenVerifier({ ...base, maxAgeSeconds: 0 })).toThrow(/maximum age/);
    expect(() => new SubjectTokenVerifier({ ...base, maxAgeSeconds: 7200 })).toThrow(/maximum age/);
  });
});
