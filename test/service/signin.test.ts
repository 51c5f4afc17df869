import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceKeySet, TokenIssuer } from '../../src/auth/service-tokens.ts';
import { ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE } from '../../src/auth/subject-token.ts';
import { runCli } from '../../src/cli/program.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { parseServiceConfig } from '../../src/service/config.ts';
import { openServiceDatabase } from '../../src/service/db.ts';
import { SigningKeyStore } from '../../src/service/signin/signing-keys.ts';
import type { SignInService } from '../../src/service/signin/exchange.ts';
import { registerApp, signIn, type TestApp } from '../auth/helpers.ts';
import { startHarness, type ServiceHarness } from './harness.ts';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

let emu: RunningEmulator;
let app: TestApp;
let otherApp: TestApp;
let h: ServiceHarness;
/** Every token a test handled: none may appear in the service's log. */
const seen: string[] = [];

function signInOf(harness: ServiceHarness): SignInService {
  const s = harness.svc.signIn;
  if (!s) throw new Error('sign-in is not configured');
  return s;
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['node', 'forceflow', ...args, '--state-dir', h.stateDir], { writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  return { code, out, err };
}

async function idToken(a: TestApp = app): Promise<string> {
  const { id_token: token = '' } = await signIn(emu, a, { scope: 'openid' });
  expect(token).not.toBe('');
  seen.push(token);
  return token;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly json: Record<string, unknown>;
}

async function exchange(harness: ServiceHarness, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${harness.svc.endpoint}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (typeof json['access_token'] === 'string') seen.push(json['access_token']);
  return { status: res.status, headers: res.headers, json };
}

function exchangeIdToken(token: string, extra: Record<string, string> = {}, harness = h): Promise<Answer> {
  return exchange(harness, { grant_type: GRANT, subject_token: token, subject_token_type: ID_TOKEN_TYPE, ...extra });
}

/** A fresh sign-in exchanged for a service token (fails the test if refused). */
async function serviceToken(extra: Record<string, string> = {}): Promise<string> {
  const res = await exchangeIdToken(await idToken(), extra);
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return String(res.json['access_token']);
}

async function callApi(path: string, token: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${h.svc.endpoint}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function expectRefusal(res: Answer): void {
  expect(res.status).toBe(400);
  expect(res.json).toEqual({ error: 'invalid_request' });
  expect(res.headers.get('cache-control')).toBe('no-store');
}

/** The reasons logged for refused exchanges, in order. */
function refusalReasons(harness = h): unknown[] {
  return harness.logLines.filter((l) => l['msg'] === 'Token exchange refused').map((l) => l['reason']);
}

function lastReason(harness = h): unknown {
  return refusalReasons(harness).at(-1);
}

function errorType(res: Answer): string | null {
  return res.headers.get('x-amzn-errortype');
}

beforeAll(async () => {
  emu = await startEmulator();
  app = await registerApp(emu, { name: 'forceflow sign-in' });
  otherApp = await registerApp(emu, { name: 'another app' });
  h = await startHarness({ emulator: emu, signIn: { issuers: [emu.loginUrl], consumerKey: app.clientId, introspection: { url: emu.loginUrl, consumerSecret: app.clientSecret }, rateLimit: { perAddress: { burst: 1000, perMinute: 60 }, perUser: { burst: 1000, perMinute: 60 } } } });
  expect((await cli('users', 'orgs', 'allow', emu.orgId)).code).toBe(0);
  const added = await cli('users', 'add', emu.orgId, emu.userId, '--role', 'operator', '--name', 'ada');
  expect(added.code, added.err).toBe(0);
  expect(JSON.parse(added.out)).toMatchObject({ orgId: emu.orgId, userId: emu.userId, role: 'operator', disabled: false });
});

afterAll(async () => {
  await h.close();
  await emu.close();
});

describe('POST /oauth2/token (RFC 8693) and Bearer calls, over HTTP against the emulator', () => {
  it('exchanges an id_token for a service token that calls ListFlows and StartFlow', async () => {
    const res = await exchangeIdToken(await idToken());
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', scope: 'flows:read flows:run' });
    // The id_token lives 2 minutes: ours never outlives it.
    expect(res.json['expires_in']).toBeGreaterThan(60);
    expect(res.json['expires_in']).toBeLessThanOrEqual(120);
    const token = String(res.json['access_token']);
    const list = await callApi('/list-flows', token);
    expect(list.status, JSON.stringify(list.json)).toBe(200);
    expect(list.json).toMatchObject({ flows: [] });
    // An operator may start: the operation runs (and finds no such flow).
    const start = await callApi('/start-flow', token, { flowName: 'no-such-flow' });
    expect(errorType(start)).toBe('ResourceNotFoundException');
    // An admin operation is refused in AppFlow's shape.
    const del = await callApi('/delete-flow', token, { flowName: 'no-such-flow' });
    expect(start.status).toBe(404);
    expect(del.status).toBe(403);
    expect(errorType(del)).toBe('AccessDeniedException');
    expect(String(del.json['message'])).toMatch(/appflow:DeleteFlow .*role operator .*needs admin/);
  });

  it('exchanges an access token through introspection; another app\'s access token is refused', async () => {
    const own = await signIn(emu, app, { scope: 'api' });
    const other = await signIn(emu, otherApp, { scope: 'api' });
    seen.push(own.access_token, other.access_token);
    const refused = await exchange(h, { grant_type: GRANT, subject_token: other.access_token, subject_token_type: ACCESS_TOKEN_TYPE });
    expectRefusal(refused);
    expect(lastReason()).toBe('inactive');
    const ok = await exchange(h, { grant_type: GRANT, subject_token: own.access_token, subject_token_type: ACCESS_TOKEN_TYPE });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
  });

  it('refuses an id_token of another connected app, a bad request, and a replayed subject token', async () => {
    expectRefusal(await exchangeIdToken(await idToken(otherApp)));
    expect(lastReason()).toBe('audience');
    const token = await idToken();
    expectRefusal(await exchange(h, { grant_type: 'authorization_code', subject_token: token, subject_token_type: ID_TOKEN_TYPE }));
    expectRefusal(await exchangeIdToken(token, { audience: 'https://elsewhere.example' }));
    expectRefusal(await exchangeIdToken(token, { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }));
    expect(refusalReasons().slice(-3)).toEqual(['request', 'request', 'request']);
    // Refused requests spent nothing: the token is still accepted, once.
    expect((await exchangeIdToken(token)).status).toBe(200);
    expectRefusal(await exchangeIdToken(token));
    expect(lastReason()).toBe('replayed');
  });

  it('narrows to the requested scopes and refuses a request for none of the granted ones', async () => {
    const token = await serviceToken({ scope: 'flows:read flows:admin' });
    const start = await callApi('/start-flow', token, { flowName: 'x' });
    expect(errorType(start)).toBe('AccessDeniedException');
    expect(String(start.json['message'])).toMatch(/scope does not include flows:run/);
    expectRefusal(await exchangeIdToken(await idToken(), { scope: 'flows:admin' }));
    expect(lastReason()).toBe('scope');
  });

  it('a viewer calling start-flow gets AccessDeniedException; the role is read at each call', async () => {
    const token = await serviceToken();
    expect((await cli('users', 'add', emu.orgId, emu.userId, '--role', 'viewer', '--name', 'ada')).code).toBe(0);
    try {
      const start = await callApi('/start-flow', token, { flowName: 'x' });
      expect(start.status).toBe(403);
      expect(errorType(start)).toBe('AccessDeniedException');
      expect(start.json['message']).toMatch(/^User: arn:aws:sts::\d{12}:assumed-role\/forceflow-viewer\/ada is not authorized to perform: appflow:StartFlow/);
      expect((await callApi('/list-flows', token)).status).toBe(200);
      const viewer = await exchangeIdToken(await idToken());
      expect(viewer.json['scope']).toBe('flows:read');
    } finally {
      expect((await cli('users', 'add', emu.orgId, emu.userId, '--role', 'operator', '--name', 'ada')).code).toBe(0);
    }
  });

  it('refuses an unknown org and a disabled user, at the exchange and for tokens already issued', async () => {
    const token = await serviceToken();
    expect((await cli('users', 'orgs', 'remove', emu.orgId)).code).toBe(0);
    try {
      expectRefusal(await exchangeIdToken(await idToken()));
      expect(lastReason()).toBe('unknown_org');
      expect(errorType(await callApi('/list-flows', token))).toBe('UnrecognizedClientException');
    } finally {
      expect((await cli('users', 'orgs', 'allow', emu.orgId)).code).toBe(0);
    }
    expect((await cli('users', 'disable', emu.orgId, emu.userId)).code).toBe(0);
    try {
      expectRefusal(await exchangeIdToken(await idToken()));
      expect(lastReason()).toBe('disabled');
      const call = await callApi('/list-flows', token);
      expect(call.status).toBe(403);
      expect(call.json).toEqual({ message: 'The security token included in the request is invalid.' });
    } finally {
      expect((await cli('users', 'enable', emu.orgId, emu.userId)).code).toBe(0);
    }
    // A user of an allowed org without a mapping or a default role is unknown; with one, accepted.
    expect((await cli('users', 'remove', emu.orgId, emu.userId)).code).toBe(0);
    try {
      expectRefusal(await exchangeIdToken(await idToken()));
      expect(lastReason()).toBe('unknown_user');
      expect((await cli('users', 'orgs', 'allow', emu.orgId, '--default-role', 'viewer')).code).toBe(0);
      const res = await exchangeIdToken(await idToken());
      expect(res.json['scope']).toBe('flows:read');
    } finally {
      expect((await cli('users', 'orgs', 'allow', emu.orgId)).code).toBe(0);
      expect((await cli('users', 'add', emu.orgId, emu.userId, '--role', 'operator', '--name', 'ada')).code).toBe(0);
    }
    expect((await callApi('/list-flows', token)).status).toBe(200);
  });

  it('refuses a tampered, an expired and a foreign-key service token', async () => {
    const signin = signInOf(h);
    const token = await serviceToken();
    const [head, payload, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, scope: 'flows:read flows:run flows:admin' })).toString('base64url')}.${sig}`;
    const past = Date.now() - 2 * 3600_000;
    const expired = (await new TokenIssuer({ keys: await signin.signingKeys.keySet(), issuer: signin.issuer, audience: signin.audience, now: () => past }).issue({ subject: String(claims['sub']), scopes: ['flows:read'], notAfter: new Date(past + 60_000) })).token;
    const foreign = (await new TokenIssuer({ keys: await ServiceKeySet.generate(), issuer: signin.issuer, audience: signin.audience }).issue({ subject: String(claims['sub']), scopes: ['flows:read'], notAfter: new Date(Date.now() + 60_000) })).token;
    for (const [bad, reason] of [[tampered, 'signature'], [expired, 'expired'], [foreign, 'unknown_key'], ['not-a-jwt', 'malformed']] as const) {
      const res = await callApi('/list-flows', bad);
      expect(res.status).toBe(403);
      expect(errorType(res)).toBe('UnrecognizedClientException');
      expect(h.logLines.filter((l) => l['msg'] === 'Bearer token refused').at(-1)?.['reason']).toBe(reason);
    }
    expect((await callApi('/list-flows', token)).status).toBe(200);
  });

  it('applies the Host/Origin guard to Bearer calls and to the exchange', async () => {
    const token = await serviceToken();
    const res = await callApi('/list-flows', token, {}, { origin: 'http://evil.example' });
    expect(res.status).toBe(403);
    expect(errorType(res)).toBe('AccessDeniedException');
    const ex = await exchange(h, { grant_type: GRANT }, { origin: 'http://evil.example' });
    expect(ex.status).toBe(403);
  });

  it('serves issuer metadata, and the JWKS with the current and previous key after a rotation', async () => {
    const meta = (await (await fetch(`${h.svc.endpoint}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ issuer: h.svc.endpoint, token_endpoint: `${h.svc.endpoint}/oauth2/token`, jwks_uri: `${h.svc.endpoint}/.well-known/jwks.json`, grant_types_supported: [GRANT, 'refresh_token'], revocation_endpoint: `${h.svc.endpoint}/oauth2/revoke` });
    const jwks = async (): Promise<string[]> => ((await (await fetch(`${h.svc.endpoint}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; d?: string }> }).keys.map((k) => {
      expect(k.d).toBeUndefined();
      return k.kid;
    });
    const before = await jwks();
    const oldToken = await serviceToken();
    const { kid } = await signInOf(h).signingKeys.rotate();
    const after = await jwks();
    expect(after).toEqual([...before, kid]);
    const newToken = await serviceToken();
    expect(JSON.parse(Buffer.from(newToken.split('.')[0] ?? '', 'base64url').toString())).toMatchObject({ kid, alg: 'ES256', typ: 'at+jwt' });
    expect((await callApi('/list-flows', oldToken)).status).toBe(200);
    expect((await callApi('/list-flows', newToken)).status).toBe(200);
    // The keys are sealed in service.db: a service opened afresh on the same state serves the same set.
    const list = await signInOf(h).signingKeys.list();
    expect(list.map((k) => k.kid)).toEqual(after);
  });

  it('forceflow signing-keys rotate, from another process\'s view of service.db, is served without a restart', async () => {
    const env = { AWS_ENDPOINT_URL_KMS: emu.aws.kmsEndpoint, AWS_REGION: emu.aws.region, AWS_ACCESS_KEY_ID: emu.aws.accessKeyId, AWS_SECRET_ACCESS_KEY: emu.aws.secretAccessKey };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    let rotated: { code: number; out: string; err: string };
    try {
      rotated = await cli('signing-keys', 'rotate');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(rotated.code, rotated.err).toBe(0);
    const { kid } = JSON.parse(rotated.out) as { kid: string };
    // A token another node signs with the new key is accepted at once (an unknown kid re-reads the keys).
    const db = openServiceDatabase({ stateDir: h.stateDir });
    try {
      const elsewhere = SigningKeyStore.open(db, { kms: h.kms, kmsKeyId: 'alias/forceflow' });
      const signin = signInOf(h);
      const keys = await elsewhere.keySet();
      expect(keys.current.kid).toBe(kid);
      const other = await new TokenIssuer({ keys, issuer: signin.issuer, audience: signin.audience }).issue({ subject: `sf:${emu.orgId}:${emu.userId}`, scopes: ['flows:read'], notAfter: new Date(Date.now() + 60_000) });
      seen.push(other.token);
      const otherCall = await callApi('/list-flows', other.token);
      expect(otherCall.status, JSON.stringify([otherCall.json, h.logLines.filter((l) => l['msg'] === 'Bearer token refused').at(-1)])).toBe(200);
    } finally {
      await db.destroy();
    }
    const deadline = Date.now() + 8_000;
    let kids: string[] = [];
    while (Date.now() < deadline) {
      kids = ((await (await fetch(`${h.svc.endpoint}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
      if (kids.includes(kid)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(kids.at(-1)).toBe(kid);
    const token = await serviceToken();
    expect(JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())).toMatchObject({ kid });
  });

  it('the users CLI names what is wrong with an id or a role, and lists what is stored', async () => {
    const badUser = await cli('users', 'add', emu.orgId, 'ada@example.com', '--role', 'viewer');
    expect(badUser.code).toBe(2);
    expect(badUser.err).toMatch(/^forceflow: CONFIG_INVALID: The user id "ada@example.com" is not a Salesforce user id: 15 or 18 letters and digits starting with 005/);
    const badRole = await cli('users', 'orgs', 'allow', emu.orgId, '--default-role', 'owner');
    expect(badRole.err).toMatch(/The role "owner" is not one of viewer, operator, admin/);
    expect((await cli('users', 'remove', emu.orgId, '005000000000000AAA')).code).toBe(2);
    expect(JSON.parse((await cli('users', 'list')).out)).toEqual([expect.objectContaining({ orgId: emu.orgId, userId: emu.userId, name: 'ada', role: 'operator', disabled: false })]);
    expect(JSON.parse((await cli('users', 'orgs', 'list')).out)).toEqual([expect.objectContaining({ orgId: emu.orgId })]);
  });

  it('SigV4 callers keep working alongside Bearer ones', async () => {
    const res = await fetch(`${h.svc.endpoint}/list-flows`, { method: 'POST', headers: { authorization: 'Bearer ' }, body: '{}' });
    expect(res.status).toBe(403);
    const { ListFlowsCommand } = await import('@aws-sdk/client-appflow');
    await expect(h.appflow.send(new ListFlowsCommand({}))).resolves.toMatchObject({ flows: [] });
  });
});

describe('the signIn configuration', () => {
  it('is parsed once, naming the member that is wrong', () => {
    expect(() => parseServiceConfig({ signIn: { issuers: [], consumerKey: 'k' } })).toThrow(/signIn\.issuers/);
    expect(() => parseServiceConfig({ signIn: { issuers: ['https://login.salesforce.com'], consumerKey: 'k', tokenLifetimeSeconds: 7200 } })).toThrow(/signIn\.tokenLifetimeSeconds/);
    expect(() => parseServiceConfig({ signIn: { issuers: ['https://login.salesforce.com'], consumerKey: 'k', cognito: {} } })).toThrow(/CONFIG|cognito/);
    expect(parseServiceConfig({ signIn: { issuers: ['https://login.salesforce.com'], consumerKey: 'k' } }).signIn?.consumerKey).toBe('k');
  });
});

describe('rate limits of the exchange', () => {
  let limited: ServiceHarness;
  beforeAll(async () => {
    limited = await startHarness({ emulator: emu, signIn: { issuers: [emu.loginUrl], consumerKey: app.clientId, rateLimit: { perAddress: { burst: 4, perMinute: 1 }, perUser: { burst: 1, perMinute: 1 } } } });
    let out = '';
    for (const args of [['users', 'orgs', 'allow', emu.orgId], ['users', 'add', emu.orgId, emu.userId, '--role', 'viewer']]) {
      expect(await runCli(['node', 'forceflow', ...args, '--state-dir', limited.stateDir], { writeOut: (s) => (out += s), writeErr: (s) => (out += s) }), out).toBe(0);
    }
  });
  afterAll(async () => {
    await limited.close();
  });

  it('refuses a second exchange for one user, then a burst from one address, and spends no token doing so', async () => {
    expect((await exchangeIdToken(await idToken(), {}, limited)).status).toBe(200);
    const second = await idToken();
    expectRefusal(await exchangeIdToken(second, {}, limited));
    expect(lastReason(limited)).toBe('rate_limited');
    // Two more garbage requests use up the address's burst of 4; the next request is refused before any check.
    expectRefusal(await exchangeIdToken('garbage', {}, limited));
    expectRefusal(await exchangeIdToken('garbage', {}, limited));
    expect(refusalReasons(limited).slice(-2)).toEqual(['malformed', 'malformed']);
    expectRefusal(await exchangeIdToken(second, {}, limited));
    expect(lastReason(limited)).toBe('rate_limited');
    // The same token, refused for the rate only, was not recorded: the other service still takes it once.
    expect((await exchangeIdToken(second)).status).toBe(200);
  });
});

describe('the logs and the state folder', () => {
  it('the state folder holds no token and no private signing key in the clear', async () => {
    const keys = (await signInOf(h).signingKeys.keySet()).exportPrivateJwks();
    expect(keys.length).toBeGreaterThan(1);
    const bytes = Buffer.concat(readdirSync(h.stateDir, { recursive: true, encoding: 'utf8' }).map((f) => join(h.stateDir, f)).filter((f) => statSync(f).isFile()).map((f) => readFileSync(f)));
    expect(bytes.length).toBeGreaterThan(0);
    for (const secret of [...keys.map((k) => String(k.d)), ...seen]) expect(bytes.includes(Buffer.from(secret))).toBe(false);
  });

  it('never carry a token', () => {
    expect(seen.length).toBeGreaterThan(20);
    const text = h.logText();
    expect(text).toContain('Token exchange refused');
    expect(text).toContain('Token exchange: token issued');
    for (const token of seen) {
      expect(text).not.toContain(token);
      // Nor a JWT's signature alone (Salesforce's opaque tokens may hold dots too: only a JWT's third part is a signature).
      const parts = token.split('.');
      if (parts.length === 3 && (parts[2] ?? '').length >= 40) expect(text).not.toContain(parts[2]);
    }
  });
});
