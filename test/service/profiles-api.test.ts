import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import {
  ConflictException,
  ConnectorAuthenticationException,
  ConnectorServerException,
  CreateConnectorProfileCommand,
  DeleteConnectorProfileCommand,
  DescribeConnectorProfilesCommand,
  paginateDescribeConnectorProfiles,
  ResourceNotFoundException,
  UpdateConnectorProfileCommand,
  ValidationException,
  type ConnectorProfile,
  type CreateConnectorProfileCommandInput,
  type DescribeConnectorProfilesCommandInput,
} from '@aws-sdk/client-appflow';
import { signJwtAssertion } from '../../src/connectors/salesforce/auth.ts';
import { createProfile, describeProfile, openProfile } from '../../src/profiles/profiles.ts';
import { resolveProfile } from '../../src/profiles/resolve.ts';
import { ApiError } from '../../src/service/api-error.ts';
import { profileOperations } from '../../src/service/operations/profiles.ts';
import { approvalRedirect } from '../profiles/browser.ts';
import { metaEnv, type MetaEnv } from './meta-env.ts';
import { rejection } from '../helpers/rejection.ts';

let env: MetaEnv;
beforeAll(async () => {
  env = await metaEnv();
});
afterAll(async () => {
  await env.close();
});

function request(name: string, credentials: Record<string, unknown> | undefined, extra: Partial<CreateConnectorProfileCommandInput> = {}): CreateConnectorProfileCommandInput {
  return {
    connectorProfileName: name,
    connectorType: 'Salesforce',
    connectionMode: 'Public',
    ...extra,
    connectorProfileConfig: {
      connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl, isSandboxEnvironment: false } },
      ...(credentials === undefined ? {} : { connectorProfileCredentials: { Salesforce: credentials } }),
    },
  };
}

/** The connected app's id and secret in a Secrets Manager secret, as AppFlow wants them (clientCredentialsArn). */
async function appSecret(name: string, extra: Record<string, string> = {}): Promise<string> {
  return env.createSecret(name, { clientId: env.emu.clientId, clientSecret: env.emu.clientSecret, ...extra });
}

async function describeAll(): Promise<ConnectorProfile[]> {
  const out: ConnectorProfile[] = [];
  for await (const page of paginateDescribeConnectorProfiles({ client: env.client, pageSize: 7 }, {})) out.push(...(page.connectorProfileDetails ?? []));
  return out;
}

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

async function registerJwtApp(clientId: string): Promise<void> {
  const res = await fetch(`${env.emu.controlUrl}/connected-apps`, {
    method: 'POST',
    headers: env.emu.controlHeaders,
    body: JSON.stringify({ name: clientId, clientId, certificatePem: publicKey.export({ format: 'pem', type: 'spki' }).toString() }),
  });
  expect(res.status).toBe(201);
}

describe('CreateConnectorProfile through the AppFlow API', () => {
  it('creates a JWT bearer profile (AppFlow-style jwtToken), checks the connection, and stores it as forceflow profiles create does', async () => {
    await registerJwtApp('svc-jwt-app');
    const jwtToken = signJwtAssertion({ clientId: 'svc-jwt-app', username: env.emu.username, audience: env.emu.loginUrl, privateKeyPem: privatePem, lifetimeSeconds: 300 });
    const out = await env.client.send(new CreateConnectorProfileCommand(request('api-jwt', { oAuth2GrantType: 'JWT_BEARER', jwtToken }, { connectorLabel: 'jwt-label' })));
    expect(out.connectorProfileArn).toBe(`arn:aws:appflow:${env.region}:${env.accountId}:connectorprofile/api-jwt`);
    // The CLI's view of the same store.
    const cli = await describeProfile(env.ctx, 'api-jwt');
    expect(cli).toMatchObject({ connectorProfileName: 'api-jwt', connectorType: 'Salesforce', connectionMode: 'Public', connectorLabel: 'jwt-label' });
    expect(cli.credentialFields).toEqual(['jwtToken', 'oAuth2GrantType']);
    expect((await openProfile(env.ctx, 'api-jwt')).credentials.jwtToken).toBe(jwtToken);
    // The stored profile works for runs (login host derived from the loopback instanceUrl).
    const { tokens } = await resolveProfile(env.ctx, 'api-jwt');
    expect((await tokens.session()).instanceUrl).toBe(env.emu.instanceUrl);
  });

  it('creates a JWT bearer profile whose private key is in the clientCredentialsArn secret', async () => {
    await registerJwtApp('svc-jwt-app-2');
    const arn = await env.createSecret('svc/jwt-key', { clientId: 'svc-jwt-app-2', privateKey: privatePem, username: env.emu.username });
    await env.client.send(new CreateConnectorProfileCommand(request('api-jwt-secret', { oAuth2GrantType: 'JWT_BEARER', clientCredentialsArn: arn })));
    expect((await describeProfile(env.ctx, 'api-jwt-secret')).credentialFields).toEqual(['clientCredentialsArn', 'oAuth2GrantType']);
  });

  it('creates a profile from an authorization code (exchanged once) and from a refresh token', async () => {
    const redirectUri = 'http://127.0.0.1:9/appflow/oauth';
    const url = new URL(`${env.emu.loginUrl}/services/oauth2/authorize`);
    url.search = new URLSearchParams({ response_type: 'code', client_id: env.emu.clientId, redirect_uri: redirectUri, scope: 'api refresh_token' }).toString();
    const authCode = new URL(await approvalRedirect(url.href, { username: env.emu.username, password: env.emu.password })).searchParams.get('code') ?? '';
    expect(authCode).not.toBe('');
    const arn = await appSecret('svc/app-code');
    await env.client.send(new CreateConnectorProfileCommand(request('api-code', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn, oAuthRequest: { authCode, redirectUri } })));
    const stored = (await openProfile(env.ctx, 'api-code')).credentials;
    expect(stored.accessToken).toMatch(/^00D/);
    expect(stored.refreshToken).toMatch(/^5Aep861/);
    expect(stored.oAuthRequest).toEqual({ redirectUri });

    // The same code again: Salesforce refuses it (invalid_grant) → ConnectorAuthenticationException, nothing stored.
    const reused = await rejection(env.client.send(new CreateConnectorProfileCommand(request('api-code-again', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn, oAuthRequest: { authCode, redirectUri } }))));
    expect(reused).toBeInstanceOf(ConnectorAuthenticationException);
    expect(reused.$metadata?.httpStatusCode).toBe(401);
    expect(reused.message).toContain('invalid_grant');
    expect(reused.message).not.toContain(authCode);
    expect(await env.ctx.store.get('api-code-again')).toBeUndefined();

    await env.client.send(new CreateConnectorProfileCommand(request('api-refresh', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn, refreshToken: env.emu.refreshToken })));
    // The connection check refreshed the session and stored the access token (encrypted).
    expect((await openProfile(env.ctx, 'api-refresh')).credentials.accessToken).toMatch(/^00D/);
  });

  it('refuses bad credentials with ConnectorAuthenticationException and stores nothing', async () => {
    const arn = await appSecret('svc/app-bad');
    const bad = await rejection(env.client.send(new CreateConnectorProfileCommand(request('api-bad', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn, refreshToken: 'not-a-refresh-token' }))));
    expect(bad).toBeInstanceOf(ConnectorAuthenticationException);
    expect(bad.message).not.toContain('not-a-refresh-token');
    expect(await env.ctx.store.get('api-bad')).toBeUndefined();

    const expired = await rejection(env.client.send(new CreateConnectorProfileCommand(request('api-expired', { accessToken: 'expired-access-token' }))));
    expect(expired).toBeInstanceOf(ConnectorAuthenticationException);
    expect(expired.message).not.toContain('expired-access-token');
    expect(await env.ctx.store.get('api-expired')).toBeUndefined();
  });

  it('answers ConnectorServerException when Salesforce fails (after brief retries), and succeeds when a retry does', async () => {
    const faults = async (spec: string): Promise<void> => {
      const res = await fetch(`${env.emu.controlUrl}/faults`, { method: 'PUT', headers: env.emu.controlHeaders, body: JSON.stringify(spec) });
      expect(res.status).toBe(200);
    };
    try {
      await faults('rest.503.next=3,retryAfter=0');
      const down = await rejection(env.client.send(new CreateConnectorProfileCommand(request('api-down', { accessToken: env.emu.accessToken }))));
      expect(down).toBeInstanceOf(ConnectorServerException);
      expect(down.$metadata?.httpStatusCode).toBe(400);
      expect(await env.ctx.store.get('api-down')).toBeUndefined();
      await faults('rest.503.next=1,retryAfter=0');
      await env.client.send(new CreateConnectorProfileCommand(request('api-flaky', { accessToken: env.emu.accessToken })));
      expect(await env.ctx.store.get('api-flaky')).toBeDefined();
    } finally {
      await faults('');
    }
  });

  it('replays a Create repeated with the same clientToken (an SDK retry), and refuses the token with other input', async () => {
    const input = { ...request('api-token', { accessToken: env.emu.accessToken }), clientToken: 'create-api-token-1' };
    const first = await env.client.send(new CreateConnectorProfileCommand(input));
    const again = await env.client.send(new CreateConnectorProfileCommand(input));
    expect(again.connectorProfileArn).toBe(first.connectorProfileArn);
    const other = await rejection(env.client.send(new CreateConnectorProfileCommand({ ...input, connectorProfileName: 'api-token-2' })));
    expect(other).toBeInstanceOf(ConflictException);
    expect(other.message).toContain('clientToken');
    expect(await env.ctx.store.get('api-token-2')).toBeUndefined();
  });

  it('answers ConflictException for a name that exists, ValidationException naming the member otherwise', async () => {
    const dup = await rejection(env.client.send(new CreateConnectorProfileCommand(request('api-jwt', { accessToken: 'x' }))));
    expect(dup).toBeInstanceOf(ConflictException);
    expect(dup.message).toBe('Connector profile api-jwt already exists.');

    const zendesk = await rejection(env.client.send(new CreateConnectorProfileCommand({ ...request('api-zendesk', { accessToken: 'x' }), connectorType: 'Zendesk' })));
    expect(zendesk).toBeInstanceOf(ValidationException);
    expect(zendesk.message).toContain('connectorType');
    expect(zendesk.message).toContain('Salesforce');

    const grant = await rejection(env.client.send(new CreateConnectorProfileCommand(request('api-cc', { oAuth2GrantType: 'CLIENT_CREDENTIALS' }))));
    expect(grant).toBeInstanceOf(ValidationException);
    expect(grant.message).toContain('CLIENT_CREDENTIALS');

    const url = await rejection(env.client.send(new CreateConnectorProfileCommand({ ...request('api-url', { accessToken: 'x' }), connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: 'http://acme.example.com/path' } } } })));
    expect(url).toBeInstanceOf(ValidationException);
    expect(url.message).toContain('instanceUrl');

    const name = await rejection(env.client.send(new CreateConnectorProfileCommand(request('has space', { accessToken: 'x' }))));
    expect(name).toBeInstanceOf(ValidationException);
    expect(name.message).toContain('connectorProfileName');

    const priv = await rejection(env.client.send(new CreateConnectorProfileCommand({ ...request('api-private', { accessToken: 'x' }), connectionMode: 'Private' })));
    expect(priv).toBeInstanceOf(ValidationException);
    expect(priv.message).toContain('connectionMode');

    const secret = await rejection(env.client.send(new CreateConnectorProfileCommand(request('api-nosecret', { clientCredentialsArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:absent', refreshToken: 'r' }))));
    expect(secret).toBeInstanceOf(ValidationException);
    expect(secret.message).toContain('absent');
    const long = `SECRET-${'x'.repeat(5000)}`;
    const tooLong = await rejection(env.client.send(new CreateConnectorProfileCommand(request('api-long', { accessToken: long }))));
    expect(tooLong).toBeInstanceOf(ValidationException);
    expect(tooLong.message).toContain('accessToken');
    expect(tooLong.message).not.toContain('SECRET-');
    expect(env.logs()).not.toContain('SECRET-');
    for (const n of ['api-long', 'api-zendesk', 'api-cc', 'api-url', 'api-private', 'api-nosecret']) expect(await env.ctx.store.get(n)).toBeUndefined();
  });

  it('answers ConflictException to the loser when two service instances create one name at the same moment', async () => {
    // Two more instances of the operations over the same profile store (as two services on one database):
    // each one's own check passes, the store lets one write win.
    const creates = [0, 1].map(() => {
      const op = profileOperations({ profiles: env.ctx, profileInUse: async () => [] }).find((o) => o.name === 'CreateConnectorProfile');
      if (!op) throw new Error('no CreateConnectorProfile');
      return op;
    });
    const ctx = { log: env.ctx.log, caller: { accessKeyId: 'AKIDRACE', arn: `arn:aws:iam::${env.accountId}:user/race`, readOnly: false }, region: env.region, accountId: env.accountId, now: () => new Date() };
    const input = request('api-race', { accessToken: env.emu.accessToken });
    const results = await Promise.allSettled(creates.map((op) => op.handle(op.input.parse(input), ctx)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(lost?.reason).toBeInstanceOf(ApiError);
    expect(lost?.reason).toMatchObject({ type: 'ConflictException', message: 'Connector profile api-race already exists.' });
    expect((await env.ctx.store.get('api-race'))?.name).toBe('api-race');
  });
});

describe('DescribeConnectorProfiles', () => {
  it('returns the ConnectorProfile shape with no credential anywhere', async () => {
    const arn = await appSecret('svc/app-describe');
    const secretRefresh = env.emu.refreshToken;
    await env.client.send(new CreateConnectorProfileCommand(request('api-describe', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn, refreshToken: secretRefresh }, { connectorLabel: 'desc' })));
    const stored = (await openProfile(env.ctx, 'api-describe')).credentials;
    const out = await env.client.send(new DescribeConnectorProfilesCommand({ connectorProfileNames: ['api-describe'] }));
    expect(out.nextToken).toBeUndefined();
    expect(out.connectorProfileDetails).toHaveLength(1);
    const p = out.connectorProfileDetails?.[0] as ConnectorProfile;
    expect(p).toMatchObject({
      connectorProfileArn: `arn:aws:appflow:${env.region}:${env.accountId}:connectorprofile/api-describe`,
      connectorProfileName: 'api-describe',
      connectorType: 'Salesforce',
      connectorLabel: 'desc',
      connectionMode: 'Public',
      credentialsArn: `arn:aws:secretsmanager:${env.region}:${env.accountId}:secret:appflow!${env.accountId}-api-describe`,
      connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl, isSandboxEnvironment: false } },
    });
    expect(p.createdAt).toBeInstanceOf(Date);
    expect(Math.abs((p.createdAt as Date).getTime() - Date.now())).toBeLessThan(60_000);
    expect(p.privateConnectionProvisioningState).toBeUndefined();
    // The raw JSON on the wire: no credential value, no credential member.
    const wire = await env.rawPost('/describe-connector-profiles', {});
    expect(wire.status).toBe(200);
    const raw = wire.text;
    for (const value of [stored.accessToken, stored.refreshToken, env.emu.clientSecret, arn, secretRefresh]) expect(raw).not.toContain(value as string);
    expect(raw).not.toMatch(/connectorProfileCredentials|accessToken|refreshToken|jwtToken|clientSecret|loginUrl/);
    expect(raw).toContain('"createdAt":');
    const logs = env.logs();
    expect(logs).toContain('connector profile created through the API');
    for (const value of [stored.accessToken, stored.refreshToken, env.emu.clientSecret]) expect(logs).not.toContain(value as string);
  });

  it('filters by names, type and label; unknown names are an empty list, not an error', async () => {
    const names = async (input: DescribeConnectorProfilesCommandInput): Promise<string[]> =>
      ((await env.client.send(new DescribeConnectorProfilesCommand(input))).connectorProfileDetails ?? []).map((p) => p.connectorProfileName ?? '');
    expect(await names({ connectorProfileNames: ['api-jwt', 'api-describe', 'nope'] })).toEqual(['api-describe', 'api-jwt']);
    expect(await names({ connectorProfileNames: ['nope'] })).toEqual([]);
    expect(await names({ connectorLabel: 'jwt-label' })).toEqual(['api-jwt']);
    expect(await names({ connectorType: 'Zendesk' })).toEqual([]);
    expect((await names({ connectorType: 'Salesforce' })).length).toBeGreaterThan(3);
  });

  it('pages completely and terminates (as Terraform walks it), and refuses foreign tokens and bad maxResults', async () => {
    // Profiles stored by the CLI path (no connection check) are listed as well.
    for (let i = 0; i < 23; i++) await createProfile(env.ctx, { connectorProfileName: `page-${String(i).padStart(2, '0')}`, connectorType: 'Salesforce', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl } }, connectorProfileCredentials: { Salesforce: { accessToken: `t${i}` } } } });
    const all = await describeAll();
    const expected = (await env.ctx.store.list()).map((p) => p.name);
    expect(all.map((p) => p.connectorProfileName)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(25);

    const first = await env.client.send(new DescribeConnectorProfilesCommand({}));
    expect(first.connectorProfileDetails).toHaveLength(20);
    expect(first.nextToken).toBeDefined();
    const second = await env.client.send(new DescribeConnectorProfilesCommand({ nextToken: first.nextToken }));
    expect(second.connectorProfileDetails?.[0]?.connectorProfileName).toBe(expected[20]);

    const foreign = await rejection(env.client.send(new DescribeConnectorProfilesCommand({ nextToken: first.nextToken, connectorType: 'Salesforce' })));
    expect(foreign).toBeInstanceOf(ValidationException);
    expect(foreign.message).toContain('nextToken');
    const forged = await rejection(env.client.send(new DescribeConnectorProfilesCommand({ nextToken: `${(first.nextToken ?? '').slice(0, -2)}xx` })));
    expect(forged).toBeInstanceOf(ValidationException);
    for (const maxResults of [0, 101]) {
      const e = await rejection(env.client.send(new DescribeConnectorProfilesCommand({ maxResults })));
      expect(e).toBeInstanceOf(ValidationException);
      expect(e.message).toContain('maxResults');
    }
  });
});

describe('UpdateConnectorProfile', () => {
  it('keeps the stored credentials when none are sent, replaces and re-checks them when sent', async () => {
    const before = await openProfile(env.ctx, 'api-refresh');
    await env.client.send(new UpdateConnectorProfileCommand({ connectorProfileName: 'api-refresh', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl, isSandboxEnvironment: false } } } }));
    const after = await openProfile(env.ctx, 'api-refresh');
    expect(after.credentials.refreshToken).toBe(before.credentials.refreshToken);
    expect(after.credentials.clientCredentialsArn).toBe(before.credentials.clientCredentialsArn);
    expect(after.stored.credentials.keyArn).toBe(before.stored.credentials.keyArn);
    expect(after.stored.createdAt).toBe(before.stored.createdAt);

    // Bad new credentials: refused, the previous profile stays as it was.
    const bad = await rejection(env.client.send(new UpdateConnectorProfileCommand({ connectorProfileName: 'api-refresh', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl } }, connectorProfileCredentials: { Salesforce: { accessToken: 'wrong-token' } } } })));
    expect(bad).toBeInstanceOf(ConnectorAuthenticationException);
    const kept = await openProfile(env.ctx, 'api-refresh');
    expect(kept.credentials.refreshToken).toBe(before.credentials.refreshToken);
    expect(kept.credentials.accessToken).not.toBe('wrong-token');

    // Good new credentials replace the old ones.
    const arn = await appSecret('svc/app-update');
    await env.client.send(new UpdateConnectorProfileCommand({ connectorProfileName: 'api-refresh', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl, isSandboxEnvironment: false } }, connectorProfileCredentials: { Salesforce: { clientCredentialsArn: arn, refreshToken: env.emu.refreshToken } } } }));
    expect((await openProfile(env.ctx, 'api-refresh')).credentials.clientCredentialsArn).toBe(arn);

    // A profile made by the CLI with forceflow's extensions (which the SDK cannot send) keeps them.
    await createProfile(env.ctx, { connectorProfileName: 'cli-ext', connectorType: 'Salesforce', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl, loginUrl: env.emu.loginUrl, apiVersion: '57.0' } }, connectorProfileCredentials: { Salesforce: { accessToken: env.emu.accessToken } } } });
    await env.client.send(new UpdateConnectorProfileCommand({ connectorProfileName: 'cli-ext', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl, isSandboxEnvironment: false } } } }));
    expect((await describeProfile(env.ctx, 'cli-ext')).connectorProfileProperties).toEqual({ Salesforce: { instanceUrl: env.emu.instanceUrl, isSandboxEnvironment: false, loginUrl: env.emu.loginUrl, apiVersion: '57.0' } });

    const missing = await rejection(env.client.send(new UpdateConnectorProfileCommand({ connectorProfileName: 'nope', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: {} } } })));
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect(missing.message).toBe('Connector Profile with name nope does not exist.');
  });
});

describe('DeleteConnectorProfile', () => {
  it('refuses a profile used by a flow unless forceDelete; 404 for an absent profile', async () => {
    env.inUse.set('api-jwt-secret', ['flow-a', 'flow-b']);
    const used = await rejection(env.client.send(new DeleteConnectorProfileCommand({ connectorProfileName: 'api-jwt-secret' })));
    expect(used).toBeInstanceOf(ConflictException);
    expect(used.message).toContain('flow-a, flow-b');
    expect(await env.ctx.store.get('api-jwt-secret')).toBeDefined();
    await env.client.send(new DeleteConnectorProfileCommand({ connectorProfileName: 'api-jwt-secret', forceDelete: true }));
    expect(await env.ctx.store.get('api-jwt-secret')).toBeUndefined();

    await env.client.send(new DeleteConnectorProfileCommand({ connectorProfileName: 'api-code' }));
    expect(await env.ctx.store.get('api-code')).toBeUndefined();
    const again = await rejection(env.client.send(new DeleteConnectorProfileCommand({ connectorProfileName: 'api-code' })));
    expect(again).toBeInstanceOf(ResourceNotFoundException);
    expect(again.$metadata?.httpStatusCode).toBe(404);
  });
});
