import { createHmac, createPublicKey, createSign, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE } from '../../src/auth/subject-token.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { parseServiceConfig } from '../../src/service/config.ts';
import { systemClock } from '../../src/service/clock.ts';
import type { SignInService } from '../../src/service/signin/exchange.ts';
import { control, registerApp, signIn, type TestApp } from '../auth/helpers.ts';
import { startHarness, storeEmulatorProfile, type ServiceHarness } from './harness.ts';

/**
 * A session as the console has it, over HTTP against the emulator: a flow run started and watched with a
 * service token, the refresh token (rotation, reuse, revocation, absolute lifetime, disabled principal), and a
 * token signed by a key that was rotated out.
 */
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const LIFETIME_S = 600;

let emu: RunningEmulator;
let app: TestApp;
let h: ServiceHarness;
/** Added to the service's clock (never the emulator's): an absolute lifetime or a key retirement without waiting. */
let offsetMs = 0;
const seen: string[] = [];

function signin(): SignInService {
  const s = h.svc.signIn;
  if (!s) throw new Error('sign-in is not configured');
  return s;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

async function post(path: string, fields: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${h.svc.endpoint}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  const text = await res.text();
  const json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  for (const k of ['access_token', 'refresh_token']) if (typeof json[k] === 'string') seen.push(json[k]);
  return { status: res.status, headers: res.headers, text, json };
}

/** A fresh Salesforce sign-in exchanged; `scope` may ask for offline_access. */
async function exchange(scope?: string): Promise<Answer> {
  const { id_token: token = '' } = await signIn(emu, app, { scope: 'openid' });
  seen.push(token);
  const res = await post('/oauth2/token', { grant_type: GRANT, subject_token: token, subject_token_type: ID_TOKEN_TYPE, ...(scope === undefined ? {} : { scope }) });
  expect(res.status, res.text).toBe(200);
  return res;
}

function refresh(token: string, scope?: string): Promise<Answer> {
  return post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: token, ...(scope === undefined ? {} : { scope }) });
}

function revoke(token: string, hint?: string): Promise<Answer> {
  return post('/oauth2/revoke', { token, ...(hint === undefined ? {} : { token_type_hint: hint }) });
}

async function callApi(path: string, token: string, body: unknown = {}): Promise<Answer> {
  const res = await fetch(`${h.svc.endpoint}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function lastLog(msg: string): Record<string, unknown> | undefined {
  return h.logLines.filter((l) => l['msg'] === msg).at(-1);
}

function expectInvalidGrant(res: Answer, reason: string): void {
  expect(res.status).toBe(400);
  expect(res.json).toEqual({ error: 'invalid_grant' });
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(lastLog('Token refresh refused')?.['reason']).toBe(reason);
}

async function expectBearerRefused(token: string, reason: string): Promise<void> {
  const res = await callApi('/list-flows', token);
  expect(res.status).toBe(403);
  expect(res.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
  expect(lastLog('Bearer token refused')?.['reason']).toBe(reason);
}

beforeAll(async () => {
  emu = await startEmulator();
  app = await registerApp(emu, { name: 'forceflow console' });
  const real = systemClock();
  h = await startHarness({
    emulator: emu,
    clock: { now: () => new Date(Date.now() + offsetMs), setTimer: (at, fn) => real.setTimer(new Date(at.getTime() - offsetMs), fn) },
    signIn: { issuers: [emu.loginUrl], consumerKey: app.clientId, introspection: { url: emu.loginUrl, consumerSecret: app.clientSecret }, refreshTokens: { lifetimeSeconds: LIFETIME_S }, rateLimit: { perAddress: { burst: 1000, perMinute: 60 }, perUser: { burst: 1000, perMinute: 60 } } },
  });
  await storeEmulatorProfile(h);
  await signin().principals.allowOrg(emu.orgId);
  await signin().principals.addUser({ orgId: emu.orgId, userId: emu.userId, role: 'operator', name: 'ada' });
});

afterAll(async () => {
  await h?.close();
  await emu?.close();
});

describe('a flow run started with a Bearer token', () => {
  it('StartFlow through the HTTP API with a service token from the exchange; the run finishes Successful against the emulator', async () => {
    const { CreateFlowCommand } = await import('@aws-sdk/client-appflow');
    const profile = emu.connectorProfile.connectorProfileName;
    // An admin (the SigV4 key) defines the flow; the operator signed in with Salesforce runs it.
    await h.appflow.send(new CreateFlowCommand({
      flowName: 'accounts-copy',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: profile, sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: profile, destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT' } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Name'], connectorOperator: { Salesforce: 'PROJECTION' }, taskProperties: {} },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' }, taskProperties: {} },
      ],
    }));
    const token = String((await exchange()).json['access_token']);
    const started = await callApi('/start-flow', token, { flowName: 'accounts-copy' });
    expect(started.status, started.text).toBe(200);
    const executionId = String(started.json['executionId']);
    let record: Record<string, unknown> | undefined;
    for (let i = 0; i < 600; i++) {
      const described = await callApi('/describe-flow-execution-records', token, { flowName: 'accounts-copy' });
      expect(described.status, described.text).toBe(200);
      record = (described.json['flowExecutions'] as Array<Record<string, unknown>>).find((r) => r['executionId'] === executionId);
      if (record?.['executionStatus'] !== 'InProgress') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(record?.['executionStatus'], JSON.stringify(record)).toBe('Successful');
    const result = record?.['executionResult'] as Record<string, number>;
    expect(result['recordsProcessed']).toBeGreaterThan(0);
    // The operator reads the flow's state with the same token.
    const flow = await callApi('/describe-flow', token, { flowName: 'accounts-copy' });
    expect(flow.json['lastRunExecutionDetails']).toMatchObject({ mostRecentExecutionStatus: 'Successful' });
  });
});

describe('refresh tokens (grant_type=refresh_token) and revocation (RFC 7009)', () => {
  it('are issued only when the exchange asks for offline_access; the metadata names the grant and the revocation endpoint', async () => {
    const plain = await exchange();
    expect(plain.json['refresh_token']).toBeUndefined();
    expect(plain.json['scope']).toBe('flows:read flows:run');
    const offline = await exchange('offline_access');
    expect(offline.json['refresh_token']).toMatch(/^ffrt_[A-Za-z0-9_-]{43}$/);
    expect(offline.json['scope']).toBe('flows:read flows:run offline_access');
    const claims = JSON.parse(Buffer.from(String(offline.json['access_token']).split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect(typeof claims['sid']).toBe('string');
    const meta = (await (await fetch(`${h.svc.endpoint}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ grant_types_supported: [GRANT, 'refresh_token'], revocation_endpoint: `${h.svc.endpoint}/oauth2/revoke` });
    expect(meta['scopes_supported']).toContain('offline_access');
  });

  it('rotate: each use answers a new access token and a successor; narrowing the scope is allowed, widening is not', async () => {
    const first = await exchange('flows:read offline_access');
    const r1 = await refresh(String(first.json['refresh_token']));
    expect(r1.status, r1.text).toBe(200);
    expect(r1.headers.get('cache-control')).toBe('no-store');
    expect(r1.json).toMatchObject({ token_type: 'Bearer', scope: 'flows:read offline_access' });
    expect(r1.json['refresh_token']).not.toBe(first.json['refresh_token']);
    expect((await callApi('/list-flows', String(r1.json['access_token']))).status).toBe(200);
    // The sign-in asked for flows:read only: a refresh does not widen it to the role's flows:run.
    const start = await callApi('/start-flow', String(r1.json['access_token']), { flowName: 'x' });
    expect(start.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    const r2 = await refresh(String(r1.json['refresh_token']), 'flows:run');
    expectInvalidGrant(r2, 'scope');
  });

  it('replay: a spent refresh token presented again revokes the whole family (the successor and its access tokens too)', async () => {
    const first = await exchange('offline_access');
    const old = String(first.json['refresh_token']);
    const next = await refresh(old);
    expect(next.status).toBe(200);
    const access = String(next.json['access_token']);
    expect((await callApi('/list-flows', access)).status).toBe(200);
    expectInvalidGrant(await refresh(old), 'reused');
    expectInvalidGrant(await refresh(String(next.json['refresh_token'])), 'revoked');
    await expectBearerRefused(access, 'revoked');
    await expectBearerRefused(String(first.json['access_token']), 'revoked');
    // Another sign-in of the same user is not affected.
    expect((await callApi('/list-flows', String((await exchange()).json['access_token']))).status).toBe(200);
  });

  it('of two racing uses of one refresh token, one wins and the other revokes the family', async () => {
    const token = String((await exchange('offline_access')).json['refresh_token']);
    const answers = await Promise.all([refresh(token), refresh(token)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400]);
    const winner = answers.find((a) => a.status === 200);
    expectInvalidGrant(await refresh(String(winner?.json['refresh_token'])), 'revoked');
  });

  it('revoke: a refresh token ends its sign-in (refresh and access tokens); unknown tokens answer 200 too; no token is a bad request', async () => {
    const first = await exchange('offline_access');
    const res = await revoke(String(first.json['refresh_token']), 'refresh_token');
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expectInvalidGrant(await refresh(String(first.json['refresh_token'])), 'revoked');
    await expectBearerRefused(String(first.json['access_token']), 'revoked');
    expect((await revoke(String(first.json['refresh_token']))).status).toBe(200);
    expect((await revoke('ffrt_unknownunknownunknownunknownunknownunknow')).status).toBe(200);
    expect((await revoke('not-a-token', 'access_token')).status).toBe(200);
    const bad = await post('/oauth2/revoke', { token_type_hint: 'refresh_token' });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'invalid_request' });
  });

  it('revoke with the access token of a sign-in (what the console has at hand) ends it too', async () => {
    const first = await exchange('offline_access');
    expect((await revoke(String(first.json['access_token']), 'access_token')).status).toBe(200);
    await expectBearerRefused(String(first.json['access_token']), 'revoked');
    expectInvalidGrant(await refresh(String(first.json['refresh_token'])), 'revoked');
  });

  it('is refused once the principal is disabled (the family is revoked: enabling again does not revive it)', async () => {
    const first = await exchange('offline_access');
    await signin().principals.setDisabled(emu.orgId, emu.userId, true);
    try {
      expectInvalidGrant(await refresh(String(first.json['refresh_token'])), 'disabled');
    } finally {
      await signin().principals.setDisabled(emu.orgId, emu.userId, false);
    }
    expectInvalidGrant(await refresh(String(first.json['refresh_token'])), 'revoked');
    // A lowered role narrows what a refresh grants.
    const second = await exchange('offline_access');
    await signin().principals.addUser({ orgId: emu.orgId, userId: emu.userId, role: 'viewer', name: 'ada' });
    try {
      const r = await refresh(String(second.json['refresh_token']));
      expect(r.json['scope']).toBe('flows:read offline_access');
    } finally {
      await signin().principals.addUser({ orgId: emu.orgId, userId: emu.userId, role: 'operator', name: 'ada' });
    }
  });

  it('has an absolute lifetime: however recently rotated, a family ends', async () => {
    const first = await exchange('offline_access');
    const next = await refresh(String(first.json['refresh_token']));
    expect(next.status).toBe(200);
    // The access token of a refresh never outlives the family.
    expect(Number(next.json['expires_in'])).toBeLessThanOrEqual(900);
    offsetMs = (LIFETIME_S + 1) * 1000;
    try {
      expectInvalidGrant(await refresh(String(next.json['refresh_token'])), 'expired');
    } finally {
      offsetMs = 0;
    }
  });

  it('a refresh request that is not one is refused as a request; refresh tokens can be turned off', async () => {
    const res = await post('/oauth2/token', { grant_type: 'refresh_token' });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'invalid_request' });
    expect(parseServiceConfig({ signIn: { issuers: ['https://login.salesforce.com'], consumerKey: 'k', refreshTokens: false } }).signIn?.refreshTokens).toBe(false);
    expect(() => parseServiceConfig({ signIn: { issuers: ['https://login.salesforce.com'], consumerKey: 'k', refreshTokens: { lifetimeSeconds: 90 * 86400 } } })).toThrow(/signIn\.refreshTokens/);
  });
});

describe('attacks on the exchange, over HTTP: each refused alike and changing nothing', () => {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  async function refusedExchange(token: string, reason: string, type = ID_TOKEN_TYPE): Promise<void> {
    const res = await post('/oauth2/token', { grant_type: GRANT, subject_token: token, subject_token_type: type });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'invalid_request' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(lastLog('Token exchange refused')?.['reason']).toBe(reason);
  }

  it('an id_token with alg none, HS256 keyed with the public key, from an issuer not allowed, or expired; the genuine one then passes once', async () => {
    const { id_token: token = '' } = await signIn(emu, app, { scope: 'openid' });
    seen.push(token);
    const [head = '', payload = ''] = token.split('.');
    const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    await refusedExchange(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, 'algorithm');
    const jwks = (await (await fetch(`${emu.loginUrl}/id/keys`)).json()) as { keys: Array<Record<string, unknown>> };
    const pem = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const input = `${b64({ ...header, alg: 'HS256' })}.${payload}`;
    await refusedExchange(`${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`, 'algorithm');
    // Another issuer, signed by its own key (RS256, with a kid): refused before anything is fetched from it.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const evil = `${b64({ alg: 'RS256', kid: 'evil' })}.${b64({ ...claims, iss: 'https://evil.example' })}`;
    await refusedExchange(`${evil}.${createSign('RSA-SHA256').update(evil).sign(privateKey).toString('base64url')}`, 'issuer');
    // The same genuine token, on a service whose clock is past its expiry.
    offsetMs = (Number(claims['exp']) * 1000 - Date.now()) + 60_000;
    try {
      await refusedExchange(token, 'expired');
    } finally {
      offsetMs = 0;
    }
    expect((await post('/oauth2/token', { grant_type: GRANT, subject_token: token, subject_token_type: ID_TOKEN_TYPE })).status).toBe(200);
  });

  it('an id_token issued longer ago than signIn.maxAgeSeconds, though not expired; the same token passes while young enough', async () => {
    const real = systemClock();
    const strict = await startHarness({
      emulator: emu,
      clock: { now: () => new Date(Date.now() + offsetMs), setTimer: (at, fn) => real.setTimer(new Date(at.getTime() - offsetMs), fn) },
      signIn: { issuers: [emu.loginUrl], consumerKey: app.clientId, maxAgeSeconds: 30 },
    });
    try {
      const s = strict.svc.signIn;
      if (!s) throw new Error('sign-in is not configured');
      await s.principals.allowOrg(emu.orgId);
      await s.principals.addUser({ orgId: emu.orgId, userId: emu.userId, role: 'viewer', name: 'ada' });
      const { id_token: token = '' } = await signIn(emu, app, { scope: 'openid' });
      seen.push(token);
      const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { iat: number; exp: number };
      const send = async (): Promise<Response> => fetch(`${strict.svc.endpoint}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: GRANT, subject_token: token, subject_token_type: ID_TOKEN_TYPE }).toString() });
      // 30 s of age plus the 30 s clock tolerance, and 5 more: too old, while `exp` (iat + 120 s) is still ahead.
      offsetMs = (claims.iat + 65) * 1000 - Date.now();
      expect(claims.exp * 1000).toBeGreaterThan(Date.now() + offsetMs);
      try {
        const res = await send();
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual({ error: 'invalid_request' });
        expect(strict.logLines.filter((l) => l['msg'] === 'Token exchange refused').at(-1)?.['reason']).toBe('too_old');
      } finally {
        offsetMs = 0;
      }
      const ok = await send();
      expect(ok.status).toBe(200);
      seen.push(String(((await ok.json()) as Record<string, unknown>)['access_token']));
      expect(strict.logText()).not.toContain(token);
    } finally {
      await strict.close();
    }
  });

  it('the access token of a user deactivated in Salesforce (introspection answers inactive)', async () => {
    const { access_token: token } = await signIn(emu, app, { scope: 'api' });
    seen.push(token);
    await control(emu, 'POST', `/users/${emu.userId}/deactivate`);
    try {
      await refusedExchange(token, 'inactive', ACCESS_TOKEN_TYPE);
    } finally {
      await control(emu, 'POST', `/users/${emu.userId}/activate`);
    }
    expect((await post('/oauth2/token', { grant_type: GRANT, subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE })).status).toBe(200);
  });
});

describe('signing keys', () => {
  it('refuses a service token whose key was rotated out (retired), and accepts the new key\'s', async () => {
    const old = String((await exchange()).json['access_token']);
    expect((await callApi('/list-flows', old)).status).toBe(200);
    const oldKid = (JSON.parse(Buffer.from(old.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;
    // Two rotations, each more than the longest token life plus skew after the previous one: the first retires nothing
    // still in use, the second retires every key that stopped signing long enough ago (the old one).
    offsetMs = 2 * 3600_000;
    await signin().signingKeys.rotate();
    offsetMs = 4 * 3600_000;
    const { retired } = await signin().signingKeys.rotate();
    offsetMs = 0;
    expect(retired).toContain(oldKid);
    const kids = ((await (await fetch(`${h.svc.endpoint}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    expect(kids).not.toContain(oldKid);
    await signin().signingKeys.reloaded();
    await expectBearerRefused(old, 'unknown_key');
    expect((await callApi('/list-flows', String((await exchange()).json['access_token']))).status).toBe(200);
  });

  it('the log never carries a token (access, refresh or Salesforce)', () => {
    expect(seen.length).toBeGreaterThan(20);
    const text = h.logText();
    expect(text).toContain('Token refresh refused');
    expect(text).toContain('Token revocation');
    for (const token of seen) {
      expect(text).not.toContain(token);
      const parts = token.split('.');
      if (parts.length === 3 && (parts[2] ?? '').length >= 40) expect(text).not.toContain(parts[2]);
    }
  });
});
