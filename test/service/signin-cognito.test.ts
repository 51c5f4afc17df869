import { exportJWK, generateKeyPair, SignJWT, decodeJwt, decodeProtectedHeader, type CryptoKey } from 'jose';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CognitoPool } from '../../src/auth/cognito-token.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { parseServiceConfig } from '../../src/service/config.ts';
import { startCognitoLocal, type CognitoLocal } from '../helpers/cognito-local.ts';
import { startEmulator } from '../../src/emulator/index.ts';
import { registerApp, signIn } from '../auth/helpers.ts';
import { startHarness, type ServiceHarness } from './harness.ts';

/**
 * Bearer tokens of an Amazon Cognito user pool, against cognito-local as the pool: a pool, app clients, users
 * and groups made through its API, tokens from AdminInitiateAuth, and the service's authorizer over HTTP.
 */
let cognito: CognitoLocal;
let h: ServiceHarness;
let poolId: string;
let clientId: string;
let otherClientId: string;
let otherPoolClient: { poolId: string; clientId: string };
const seen: string[] = [];

async function createPool(name: string): Promise<string> {
  const { UserPool } = await cognito.call<{ UserPool: { Id: string } }>('CreateUserPool', { PoolName: name });
  return UserPool.Id;
}

async function createClient(pool: string, name: string): Promise<string> {
  const { UserPoolClient } = await cognito.call<{ UserPoolClient: { ClientId: string } }>('CreateUserPoolClient', { UserPoolId: pool, ClientName: name, ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'] });
  return UserPoolClient.ClientId;
}

async function createUser(pool: string, username: string, groups: readonly string[]): Promise<void> {
  await cognito.call('AdminCreateUser', { UserPoolId: pool, Username: username, TemporaryPassword: 'Temporary-1', MessageAction: 'SUPPRESS', UserAttributes: [{ Name: 'email', Value: `${username}@example.com` }, { Name: 'email_verified', Value: 'true' }] });
  await cognito.call('AdminSetUserPassword', { UserPoolId: pool, Username: username, Password: 'Correct-horse-1', Permanent: true });
  for (const group of groups) await cognito.call('AdminAddUserToGroup', { UserPoolId: pool, Username: username, GroupName: group });
}

async function tokens(username: string, pool = poolId, client = clientId): Promise<{ access: string; id: string }> {
  const { AuthenticationResult: r } = await cognito.call<{ AuthenticationResult: { AccessToken: string; IdToken: string } }>('AdminInitiateAuth', {
    UserPoolId: pool,
    ClientId: client,
    AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
    AuthParameters: { USERNAME: username, PASSWORD: 'Correct-horse-1' },
  });
  seen.push(r.AccessToken, r.IdToken);
  return { access: r.AccessToken, id: r.IdToken };
}

async function callApi(path: string, token: string, body: unknown = {}): Promise<{ status: number; type: string | null; json: Record<string, unknown> }> {
  const res = await fetch(`${h.svc.endpoint}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('x-amzn-errortype'), json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function lastReason(): unknown {
  return h.logLines.filter((l) => l['msg'] === 'Bearer token refused').at(-1)?.['reason'];
}

async function expectRefused(token: string, reason: string): Promise<void> {
  const res = await callApi('/list-flows', token);
  expect(res.status).toBe(403);
  expect(res.type).toBe('UnrecognizedClientException');
  expect(res.json).toEqual({ message: 'The security token included in the request is invalid.' });
  expect(lastReason()).toBe(reason);
}

beforeAll(async () => {
  cognito = await startCognitoLocal();
  poolId = await createPool('forceflow users');
  clientId = await createClient(poolId, 'console');
  otherClientId = await createClient(poolId, 'another app');
  for (const group of ['flow-operators', 'flow-viewers', 'payroll']) await cognito.call('CreateGroup', { UserPoolId: poolId, GroupName: group });
  await createUser(poolId, 'ada', ['flow-operators', 'payroll']);
  await createUser(poolId, 'bob', ['flow-viewers']);
  await createUser(poolId, 'eve', ['payroll']);
  await createUser(poolId, 'nobody', []);
  const otherPool = await createPool('another pool');
  otherPoolClient = { poolId: otherPool, clientId: await createClient(otherPool, 'console') };
  await cognito.call('CreateGroup', { UserPoolId: otherPool, GroupName: 'flow-operators' });
  await createUser(otherPool, 'ada', ['flow-operators']);
  // Cognito only (no sign in with Salesforce): a deployment already on Cognito needs nothing else.
  h = await startHarness({
    cognito: { userPoolId: poolId, endpoint: cognito.endpoint, appClientIds: [clientId], tokenUse: ['access', 'id'], groups: { 'flow-operators': 'operator', 'flow-viewers': 'viewer' } },
  });
}, 60_000);

afterAll(async () => {
  await h?.close();
  await cognito?.close();
});

describe('Bearer tokens of a Cognito user pool (cognito-local), over HTTP', () => {
  it('cognito-local issues what the verifier expects: RS256, kid CognitoLocal, iss <endpoint>/<pool>, keys at <iss>/.well-known/jwks.json', async () => {
    const { access, id } = await tokens('ada');
    expect(decodeProtectedHeader(access)).toMatchObject({ alg: 'RS256', kid: 'CognitoLocal' });
    const claims = decodeJwt(access);
    expect(claims).toMatchObject({ iss: `${cognito.endpoint}/${poolId}`, token_use: 'access', client_id: clientId, username: 'ada', 'cognito:groups': ['flow-operators', 'payroll'] });
    expect(claims.aud).toBeUndefined();
    expect(decodeJwt(id)).toMatchObject({ iss: `${cognito.endpoint}/${poolId}`, token_use: 'id', aud: clientId, 'cognito:username': 'ada' });
    const jwks = (await (await fetch(`${cognito.endpoint}/${poolId}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; alg: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(['CognitoLocal']);
  });

  it('an operator (group flow-operators) lists and starts, but may not delete; the ARN names the Cognito user', async () => {
    const { access } = await tokens('ada');
    expect((await callApi('/list-flows', access)).status).toBe(200);
    const start = await callApi('/start-flow', access, { flowName: 'no-such-flow' });
    expect(start.type).toBe('ResourceNotFoundException');
    const del = await callApi('/delete-flow', access, { flowName: 'no-such-flow' });
    expect(del.status).toBe(403);
    expect(del.type).toBe('AccessDeniedException');
    expect(String(del.json['message'])).toMatch(/^User: arn:aws:sts::\d{12}:assumed-role\/forceflow-operator\/ada is not authorized to perform: appflow:DeleteFlow \(the role operator does not allow it; it needs admin\)/);
  });

  it('a viewer (group flow-viewers) lists but calling start-flow is AccessDeniedException', async () => {
    const { access } = await tokens('bob');
    expect((await callApi('/list-flows', access)).status).toBe(200);
    const start = await callApi('/start-flow', access, { flowName: 'no-such-flow' });
    expect(start.status).toBe(403);
    expect(start.type).toBe('AccessDeniedException');
    expect(String(start.json['message'])).toMatch(/forceflow-viewer\/bob is not authorized to perform: appflow:StartFlow/);
  });

  it('accepts an id token of an allowed client (tokenUse includes id), with the same groups', async () => {
    const { id } = await tokens('ada');
    expect((await callApi('/list-flows', id)).status).toBe(200);
  });

  it('refuses a user in no mapped group (only unknown groups, or none)', async () => {
    await expectRefused((await tokens('eve')).access, 'group');
    await expectRefused((await tokens('nobody')).access, 'group');
  });

  it('refuses tokens of another app client (access: client_id; id: aud) and of another pool (issuer)', async () => {
    const other = await tokens('ada', poolId, otherClientId);
    await expectRefused(other.access, 'client');
    await expectRefused(other.id, 'audience');
    const foreign = await tokens('ada', otherPoolClient.poolId, otherPoolClient.clientId);
    await expectRefused(foreign.access, 'issuer');
  });

  it('refuses a forged token: tampered, signed by another key under kid CognitoLocal, alg none, HS256 with the public key', async () => {
    const { access } = await tokens('bob');
    const [head = '', payload = '', sig = ''] = access.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, 'cognito:groups': ['flow-operators'] })).toString('base64url')}.${sig}`;
    await expectRefused(tampered, 'signature');
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ ...claims, 'cognito:groups': ['flow-operators'] }).setProtectedHeader({ alg: 'RS256', kid: 'CognitoLocal' }).sign(privateKey as CryptoKey);
    await expectRefused(forged, 'signature');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'CognitoLocal' })).toString('base64url')}.${payload}.`;
    await expectRefused(none, 'algorithm');
    const jwks = (await (await fetch(`${cognito.endpoint}/${poolId}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    const hsHead = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'CognitoLocal' })).toString('base64url');
    const hs = `${hsHead}.${payload}.${createHmac('sha256', JSON.stringify(jwks.keys[0])).update(`${hsHead}.${payload}`).digest('base64url')}`;
    await expectRefused(hs, 'algorithm');
    // A forged key offered in the token itself is not followed.
    const { publicKey: pub2, privateKey: priv2 } = await generateKeyPair('RS256', { extractable: true });
    const embedded = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'CognitoLocal', jwk: await exportJWK(pub2) }).sign(priv2 as CryptoKey);
    await expectRefused(embedded, 'signature');
    // The genuine token still works: nothing was changed by the refusals.
    expect((await callApi('/list-flows', access)).status).toBe(200);
  });

  it('the verifier: an expired token, an id token when only access tokens are accepted, and an unreachable pool', async () => {
    const { access, id } = await tokens('ada');
    const pool = new CognitoPool({ userPoolId: poolId, endpoint: cognito.endpoint, appClientIds: [clientId] });
    await expect(pool.verify(access)).resolves.toMatchObject({ username: 'ada', tokenUse: 'access', clientId, groups: ['flow-operators', 'payroll'] });
    const exp = Number(decodeJwt(access).exp) * 1000;
    await expect(pool.verify(access, exp + 60_000)).rejects.toMatchObject({ code: 'TOKEN_REFUSED', reason: 'expired' });
    await expect(pool.verify(id)).rejects.toMatchObject({ code: 'TOKEN_REFUSED', reason: 'token_type' });
    const down = new CognitoPool({ userPoolId: poolId, endpoint: 'http://127.0.0.1:9', appClientIds: [clientId], timeoutMs: 1000 });
    const error: unknown = await down.verify(access).catch((e: unknown) => e);
    expect(isForceflowError(error) && error.code).toBe('COGNITO_UNAVAILABLE');
    expect(String((error as Error).message)).not.toContain(access);
    // A real pool's issuer is Cognito's, derived from the pool id's region.
    expect(new CognitoPool({ userPoolId: 'eu-west-1_AbCdEf123', appClientIds: ['c'] }).jwksUri).toBe('https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json');
  });

  it('SigV4 callers keep working alongside Cognito users, and the log never carries a token', async () => {
    const { ListFlowsCommand } = await import('@aws-sdk/client-appflow');
    await expect(h.appflow.send(new ListFlowsCommand({}))).resolves.toMatchObject({ flows: [] });
    expect(seen.length).toBeGreaterThan(10);
    const text = h.logText();
    expect(text).toContain('Bearer token refused');
    for (const token of seen) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(token.split('.')[2]);
    }
  });
});

describe('Cognito users and Salesforce sign-in on one service', () => {
  it('the token\'s issuer picks the verifier: a Cognito token and a service token both work, each with its own role', async () => {
    const emu = await startEmulator();
    let both: ServiceHarness | undefined;
    try {
      const app = await registerApp(emu, { name: 'forceflow sign-in' });
      both = await startHarness({
        emulator: emu,
        signIn: { issuers: [emu.loginUrl], consumerKey: app.clientId },
        cognito: { userPoolId: poolId, endpoint: cognito.endpoint, appClientIds: [clientId], groups: { 'flow-viewers': 'viewer' } },
      });
      const svc = both.svc.signIn;
      if (!svc) throw new Error('sign-in is not configured');
      await svc.principals.allowOrg(emu.orgId);
      await svc.principals.addUser({ orgId: emu.orgId, userId: emu.userId, role: 'operator', name: 'ada' });
      const { id_token: idToken = '' } = await signIn(emu, app, { scope: 'openid' });
      const exchanged = await fetch(`${both.svc.endpoint}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: idToken, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }) });
      const ours = String(((await exchanged.json()) as Record<string, unknown>)['access_token']);
      const bob = (await tokens('bob')).access;
      const call = async (token: string, path: string): Promise<string | null> => (await fetch(`${both?.svc.endpoint ?? ''}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ flowName: 'no-such-flow' }) })).headers.get('x-amzn-errortype');
      // The operator (ours) reaches the operation; the Cognito viewer is stopped by the role.
      expect(await call(ours, '/start-flow')).toBe('ResourceNotFoundException');
      expect(await call(bob, '/start-flow')).toBe('AccessDeniedException');
      expect(await call(bob, '/list-flows')).toBeNull();
      // Ada is only in groups this service does not map: refused, whatever the other issuer would say.
      expect(await call((await tokens('ada')).access, '/list-flows')).toBe('UnrecognizedClientException');
      // A Salesforce id_token is neither issuer's token.
      const { id_token: raw = '' } = await signIn(emu, app, { scope: 'openid' });
      expect(await call(raw, '/list-flows')).toBe('UnrecognizedClientException');
      expect(both.logLines.filter((l) => l['msg'] === 'Bearer token refused').map((l) => l['reason'])).toEqual(['group', 'issuer']);
    } finally {
      await both?.close();
      await emu.close();
    }
  });
});

describe('the cognito configuration', () => {
  it('is parsed once, naming the member that is wrong', () => {
    const good = { userPoolId: 'eu-west-1_AbCdEf123', appClientIds: ['abc'], groups: { admins: 'admin' } };
    expect(parseServiceConfig({ cognito: good }).cognito?.userPoolId).toBe('eu-west-1_AbCdEf123');
    expect(() => parseServiceConfig({ cognito: { ...good, userPoolId: 'AbCdEf123' } })).toThrow(/cognito\.userPoolId.*eu-west-1_AbCdEf123/);
    expect(() => parseServiceConfig({ cognito: { ...good, appClientIds: [] } })).toThrow(/cognito\.appClientIds.*at least one app client id/);
    expect(() => parseServiceConfig({ cognito: { ...good, groups: { admins: 'owner' } } })).toThrow(/cognito\.groups\.admins/);
    expect(() => parseServiceConfig({ cognito: { ...good, groups: {} } })).toThrow(/cognito\.groups.*at least one group/);
    expect(() => parseServiceConfig({ cognito: { ...good, tokenUse: ['refresh'] } })).toThrow(/cognito\.tokenUse/);
    expect(() => new CognitoPool({ userPoolId: 'local_abc', appClientIds: ['c'] })).toThrow(/local one \(cognito-local\): give its endpoint/);
    expect(() => new CognitoPool({ userPoolId: 'local_abc', endpoint: 'http://cognito.example.com', appClientIds: ['c'] })).toThrow(/not an https origin/);
  });
});
