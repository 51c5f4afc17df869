import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CreateKeyCommand, DisableKeyCommand } from '@aws-sdk/client-kms';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { isForceflowError, type ForceflowError } from '../../src/core/errors.ts';
import type { Row } from '../../src/core/types.ts';
import { createProfile, deleteProfile, describeProfile, listProfiles, openProfile } from '../../src/profiles/profiles.ts';
import { resolveProfile } from '../../src/profiles/resolve.ts';
import { awsReason, kmsError } from '../../src/profiles/crypto.ts';
import { captureContext } from '../helpers/run-context.ts';
import { profilesEnv, sfProfile, type ProfilesEnv } from './env.ts';

let env: ProfilesEnv;
beforeAll(async () => {
  env = await profilesEnv();
});
afterAll(async () => {
  await env.close();
});

async function failure(p: Promise<unknown> | (() => unknown)): Promise<ForceflowError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (error) {
    if (isForceflowError(error)) return error;
    throw error;
  }
  throw new Error('expected a ForceflowError');
}

/** Every byte of the state folder (database, WAL, shared memory). */
function stateBytes(home: string): Buffer {
  return Buffer.concat(readdirSync(home).map((f) => readFileSync(join(home, f))));
}

function raw(home: string): Database.Database {
  return new Database(join(home, 'profiles.db'));
}

async function readAccounts(profile: unknown, tokens: NonNullable<Parameters<typeof connectSalesforce>[1]>['tokens']): Promise<Row[]> {
  const ctx = captureContext();
  const { source } = connectSalesforce(profile, { log: ctx.log, ...(tokens ? { tokens } : {}), retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 10 } });
  const stream = await source.open({ entity: 'Account', fields: ['Id', 'Name'] }, ctx);
  const rows: Row[] = [];
  for await (const b of stream.batches) rows.push(...b.rows);
  return rows;
}

describe('profiles: create, list, describe, delete', () => {
  it('stores AppFlow profiles and describes them without credential values', async () => {
    const created = await createProfile(env.ctx, sfProfile(env.emu, 'crud-a', { accessToken: 'tok-crud-a', refreshToken: 'refresh-crud-a', clientId: 'cid', clientSecret: 'csecret-crud-a' }, { connectorLabel: 'A' }));
    expect(created).toMatchObject({ connectorProfileName: 'crud-a', connectorType: 'Salesforce', connectionMode: 'Public', connectorLabel: 'A' });
    expect(created.kmsArn).toMatch(/^arn:aws:kms:us-east-1:000000000000:key\//);
    expect(created.credentialFields).toEqual(['accessToken', 'clientId', 'clientSecret', 'refreshToken']);
    await createProfile(env.ctx, sfProfile(env.emu, 'crud-b', { accessToken: 'tok-crud-b' }));
    expect((await listProfiles(env.ctx)).map((p) => p.connectorProfileName)).toEqual(expect.arrayContaining(['crud-a', 'crud-b']));
    const described = await describeProfile(env.ctx, 'crud-a');
    expect(described.connectorProfileProperties).toEqual({ Salesforce: { instanceUrl: env.emu.instanceUrl, isSandboxEnvironment: false, loginUrl: env.emu.loginUrl } });
    expect(JSON.stringify(await listProfiles(env.ctx))).not.toMatch(/tok-crud|refresh-crud|csecret-crud/);

    const dup = await failure(createProfile(env.ctx, sfProfile(env.emu, 'crud-a', {})));
    expect(dup.code).toBe('PROFILE_EXISTS');
    expect(dup.message).toContain('"crud-a" already exists');
    await createProfile(env.ctx, sfProfile(env.emu, 'crud-a', { accessToken: 'tok-crud-a2' }), { replace: true });
    expect((await openProfile(env.ctx, 'crud-a')).credentials.accessToken).toBe('tok-crud-a2');

    await deleteProfile(env.ctx, 'crud-b');
    expect((await listProfiles(env.ctx)).map((p) => p.connectorProfileName)).not.toContain('crud-b');
    const gone = await failure(() => describeProfile(env.ctx, 'crud-b'));
    expect(gone.code).toBe('PROFILE_NOT_FOUND');
    expect(gone.message).toContain('forceflow profiles create');
    expect((await failure(() => deleteProfile(env.ctx, 'crud-b'))).code).toBe('PROFILE_NOT_FOUND');
  });

  it('rejects an invalid profile naming the JSON path', async () => {
    const bad = sfProfile(env.emu, 'bad', { oAuth2GrantType: 'PASSWORD' });
    const e = await failure(createProfile(env.ctx, bad));
    expect(e.code).toBe('PROFILE_INVALID');
    expect(e.message).toContain('oAuth2GrantType');
  });
});

describe('profiles: state files', () => {
  it('are readable by their owner only', () => {
    for (const f of readdirSync(env.home).filter((x) => x.startsWith('profiles.db'))) {
      expect(statSync(join(env.home, f)).mode & 0o077, f).toBe(0);
    }
    expect(readdirSync(env.home)).toContain('profiles.db');
  });
});

describe('profiles: envelope encryption at rest', () => {
  it('keeps no plaintext credential in the state files', async () => {
    const secrets = { accessToken: 'PLAINTEXT-ACCESS-7f3a', refreshToken: 'PLAINTEXT-REFRESH-91bc', clientSecret: 'PLAINTEXT-CLIENT-SECRET-22de', clientId: 'PLAINTEXT-CLIENT-ID-55aa' };
    await createProfile(env.ctx, sfProfile(env.emu, 'at-rest', secrets));
    const bytes = stateBytes(env.home);
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes(Buffer.from('at-rest'))).toBe(true);
    for (const value of Object.values(secrets)) {
      expect(bytes.includes(Buffer.from(value))).toBe(false);
      expect(bytes.includes(Buffer.from(Buffer.from(value).toString('base64').slice(0, 16)))).toBe(false);
    }
    expect((await openProfile(env.ctx, 'at-rest')).credentials).toEqual(secrets);
  });

  it('refuses a ciphertext copied to another profile (encryption context = profile name)', async () => {
    await createProfile(env.ctx, sfProfile(env.emu, 'victim', { accessToken: 'victim-token' }));
    await createProfile(env.ctx, sfProfile(env.emu, 'thief', { accessToken: 'thief-token' }));
    const db = raw(env.home);
    db.prepare(
      `UPDATE connector_profiles SET (kms_key_arn, data_key, iv, tag, ciphertext) = (SELECT kms_key_arn, data_key, iv, tag, ciphertext FROM connector_profiles WHERE name = 'victim') WHERE name = 'thief'`,
    ).run();
    db.close();
    const e = await failure(openProfile(env.ctx, 'thief'));
    expect(e.code).toBe('DECRYPT_FAILED');
    expect(e.message).toContain('Profile "thief"');
    expect(e.message).toContain('copied from another profile');
    expect(e.message).not.toContain('victim-token');
  });

  it('refuses decryption with a wrong key', async () => {
    await createProfile(env.ctx, sfProfile(env.emu, 'wrong-key', { accessToken: 'wk-token' }));
    const other = await env.kms.send(new CreateKeyCommand({ Description: 'another key' }));
    const db = raw(env.home);
    db.prepare(`UPDATE connector_profiles SET kms_key_arn = ? WHERE name = 'wrong-key'`).run(other.KeyMetadata?.Arn);
    db.close();
    const e = await failure(openProfile(env.ctx, 'wrong-key'));
    expect(e.code).toBe('DECRYPT_FAILED');
    expect(e.details).toMatchObject({ profile: 'wrong-key', awsError: 'IncorrectKeyException' });
  });

  it('refuses a tampered ciphertext, tag or data key', async () => {
    for (const column of ['ciphertext', 'tag', 'data_key', 'iv']) {
      const name = `tampered-${column.replace('_', '-')}`;
      await createProfile(env.ctx, sfProfile(env.emu, name, { accessToken: 'tampered-token' }));
      const db = raw(env.home);
      const row = db.prepare(`SELECT ${column} AS v FROM connector_profiles WHERE name = ?`).get(name) as { v: Buffer };
      const flipped = Buffer.from(row.v);
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
      db.prepare(`UPDATE connector_profiles SET ${column} = ? WHERE name = ?`).run(flipped, name);
      db.close();
      const e = await failure(openProfile(env.ctx, name));
      expect(e.code, column).toBe('DECRYPT_FAILED');
      expect(e.message).toContain(`Profile "${name}"`);
    }
  });

  it('zeroes the plaintext data key KMS returned once it is used (seal and open)', async () => {
    // Observe the SDK's parsed KMS answers (real HTTP to the emulator) and keep a reference to each data key.
    const returned: Uint8Array[] = [];
    env.kms.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const plaintext = (result.output as { Plaintext?: Uint8Array }).Plaintext;
        if (plaintext) returned.push(plaintext);
        return result;
      },
      { step: 'initialize', name: 'observeDataKeys' },
    );
    try {
      await createProfile(env.ctx, sfProfile(env.emu, 'zeroed', { accessToken: 'zeroed-token' }));
      expect((await openProfile(env.ctx, 'zeroed')).credentials.accessToken).toBe('zeroed-token');
    } finally {
      env.kms.middlewareStack.remove('observeDataKeys');
    }
    expect(returned).toHaveLength(2);
    for (const key of returned) {
      expect(key.length).toBe(32);
      expect(key.every((b) => b === 0)).toBe(true);
    }
  });

  it('names the profile and the fix when the KMS key is absent or disabled', async () => {
    const absent = await failure(createProfile(env.ctx, sfProfile(env.emu, 'no-key', { accessToken: 't' }, { kmsArn: 'arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555' })));
    expect(absent.code).toBe('KMS_ERROR');
    expect(absent.message).toMatch(/Profile "no-key": KMS key arn:aws:kms:.* does not exist.*Create it/);

    const key = await env.kms.send(new CreateKeyCommand({}));
    await createProfile(env.ctx, sfProfile(env.emu, 'disabled-key', { accessToken: 'dk-token' }, { kmsArn: key.KeyMetadata?.Arn }));
    await env.kms.send(new DisableKeyCommand({ KeyId: key.KeyMetadata?.KeyId }));
    const disabled = await failure(openProfile(env.ctx, 'disabled-key'));
    expect(disabled.code).toBe('KMS_ERROR');
    expect(disabled.message).toContain('Profile "disabled-key"');
    expect(disabled.message).toContain('aws kms enable-key');
    const create = await failure(createProfile(env.ctx, sfProfile(env.emu, 'disabled-key-2', { accessToken: 'x' }, { kmsArn: key.KeyMetadata?.Arn })));
    expect(create.code).toBe('KMS_ERROR');

    // The key is deleted after the profile was stored (the emulator has no ScheduleKeyDeletion: drop it from its state).
    const doomed = await env.kms.send(new CreateKeyCommand({}));
    await createProfile(env.ctx, sfProfile(env.emu, 'deleted-key', { accessToken: 'del-token' }, { kmsArn: doomed.KeyMetadata?.Arn }));
    env.emu.org.aws.keys.delete(doomed.KeyMetadata?.KeyId ?? '');
    const gone = await failure(openProfile(env.ctx, 'deleted-key'));
    expect(gone.code).toBe('KMS_ERROR');
    expect(gone.details).toMatchObject({ profile: 'deleted-key', awsError: 'NotFoundException' });
    expect(gone.message).toContain(`Profile "deleted-key": KMS key ${doomed.KeyMetadata?.Arn ?? ''}, which encrypted the stored credentials, does not exist`);
    expect(gone.message).toContain('forceflow profiles create --replace');
  });
});

describe('profiles: AWS set-up mistakes', () => {
  it('says what the SDK could not find and how to fix it', () => {
    // The two errors the AWS SDK throws before any request when it is not set up (same name and message).
    class CredentialsProviderError extends Error {
      override name = 'CredentialsProviderError';
    }
    const noCredentials = kmsError('p1', 'alias/forceflow', 'GenerateDataKey', new CredentialsProviderError('Could not load credentials from any providers'));
    expect(noCredentials.code).toBe('KMS_ERROR');
    expect(noCredentials.message).toContain('Profile "p1"');
    expect(noCredentials.message).toContain('Could not load credentials from any providers');
    expect(noCredentials.message).toContain('AWS_ACCESS_KEY_ID');
    expect(awsReason(new Error('Region is missing'))).toBe('Error: Region is missing; set AWS_REGION');
    expect(awsReason({ name: 'ThrottlingException', message: 'Rate exceeded' })).toBe('ThrottlingException: Rate exceeded');
  });
});

describe('profiles: credentials from Secrets Manager', () => {
  it('runs a read whose client secret and refresh token come from a secret, and writes the refreshed token back encrypted', async () => {
    const arn = await env.createSecret('appflow/sf-app', { clientId: env.emu.clientId, clientSecret: env.emu.clientSecret, refreshToken: env.emu.refreshToken });
    await createProfile(env.ctx, sfProfile(env.emu, 'from-secret', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn }));
    const stored = await openProfile(env.ctx, 'from-secret');
    expect(stored.credentials).toEqual({ oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn });

    const { profile, tokens } = await resolveProfile(env.ctx, 'from-secret');
    const rows = await readAccounts(profile, tokens);
    expect(rows.length).toBeGreaterThan(0);
    const after = await openProfile(env.ctx, 'from-secret');
    const session = await tokens.session();
    expect(after.credentials.accessToken).toBe(session.accessToken);
    expect(after.credentials.refreshToken).toBeUndefined();
    expect(after.credentials.clientSecret).toBeUndefined();
    expect(stateBytes(env.home).includes(Buffer.from(session.accessToken))).toBe(false);

    // The next run starts from the stored (decrypted) access token: no refresh call.
    const before = env.emu.org.callCounts.get('POST /services/oauth2/token') ?? 0;
    const again = await resolveProfile(env.ctx, 'from-secret');
    expect((await again.tokens.session()).accessToken).toBe(session.accessToken);
    await readAccounts(again.profile, again.tokens);
    expect(env.emu.org.callCounts.get('POST /services/oauth2/token') ?? 0).toBe(before);
  });

  it('fails clearly on a missing secret and on a secret without the expected keys', async () => {
    const missingArn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:does-not-exist-AbCdEf';
    const missing = await failure(createProfile(env.ctx, sfProfile(env.emu, 'missing-secret', { clientCredentialsArn: missingArn })));
    expect(missing.code).toBe('SECRET_NOT_FOUND');
    expect(missing.message).toContain('Profile "missing-secret"');
    expect(missing.message).toContain(missingArn);
    expect(missing.message).toContain('create-secret');

    const arn = await env.createSecret('appflow/partial', { clientId: 'only-the-id', other: 'VALUE-THAT-MUST-NOT-LEAK' });
    const partial = await failure(createProfile(env.ctx, sfProfile(env.emu, 'partial-secret', { clientCredentialsArn: arn })));
    expect(partial.code).toBe('SECRET_INVALID');
    expect(partial.message).toContain('lacks the key clientSecret');
    expect(partial.message).not.toContain('VALUE-THAT-MUST-NOT-LEAK');
    expect(partial.message).not.toContain('only-the-id');

    // A key that is there but not a non-empty string is named as such, not as missing.
    const badTypes = await env.createSecret('appflow/bad-types', JSON.stringify({ clientId: 'the-id', clientSecret: 918273645 }));
    const typed = await failure(createProfile(env.ctx, sfProfile(env.emu, 'bad-types', { clientCredentialsArn: badTypes })));
    expect(typed.code).toBe('SECRET_INVALID');
    expect(typed.message).toContain(`Profile "bad-types": secret ${badTypes} has clientSecret, but not as a non-empty string`);
    expect(typed.message).not.toContain('lacks');
    expect(typed.message).not.toContain('918273645');

    const notJson = await env.createSecret('appflow/not-json', 'just-a-string');
    expect((await failure(createProfile(env.ctx, sfProfile(env.emu, 'not-json', { clientCredentialsArn: notJson })))).code).toBe('SECRET_INVALID');
  });

  it('reports an unknown (expired) refresh token as SF_AUTH_FAILED with the fix', async () => {
    const arn = await env.createSecret('appflow/revoked', { clientId: env.emu.clientId, clientSecret: env.emu.clientSecret, refreshToken: 'REVOKED-REFRESH-TOKEN-0000' });
    await createProfile(env.ctx, sfProfile(env.emu, 'revoked', { clientCredentialsArn: arn }));
    const { tokens } = await resolveProfile(env.ctx, 'revoked');
    const e = await failure(tokens.session());
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.message).toContain('profile "revoked"');
    expect(e.message).toContain('forceflow profiles authorize revoked');
    expect(e.message).not.toContain('REVOKED-REFRESH-TOKEN');
  });
});

describe('profiles: refresh token rotation', () => {
  async function rotatingApp(clientId: string): Promise<{ clientSecret: string; refreshToken: string }> {
    const clientSecret = `${clientId}-secret-0123456789`;
    const res = await fetch(`${env.emu.controlUrl}/connected-apps`, { method: 'POST', headers: env.emu.controlHeaders, body: JSON.stringify({ name: clientId, clientId, clientSecret, refreshTokenRotation: true }) });
    expect(res.status).toBe(201);
    const issued = env.emu.org.auth.issue(env.emu.org.auth.defaultUser, clientId, { withRefresh: true });
    return { clientSecret, refreshToken: issued.refreshToken ?? '' };
  }
  /** Whether Salesforce refuses a refresh token (the refresh_token grant answers invalid_grant). */
  const revoked = async (token: string, clientId: string, clientSecret: string): Promise<boolean> => {
    const res = await fetch(`${env.emu.loginUrl}/services/oauth2/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, client_id: clientId, client_secret: clientSecret }) });
    return res.status === 400 && ((await res.json()) as { error: string }).error === 'invalid_grant';
  };

  it('stores the rotated refresh token (encrypted) in the profile, so the next run can refresh', async () => {
    const app = await rotatingApp('rotating-local');
    await createProfile(env.ctx, sfProfile(env.emu, 'rotating-local', { oAuth2GrantType: 'AUTHORIZATION_CODE', refreshToken: app.refreshToken, clientId: 'rotating-local', clientSecret: app.clientSecret }));
    const first = await resolveProfile(env.ctx, 'rotating-local');
    expect((await readAccounts(first.profile, first.tokens)).length).toBeGreaterThan(0);
    const afterFirst = (await openProfile(env.ctx, 'rotating-local')).credentials;
    expect(afterFirst.refreshToken).toMatch(/^5Aep861/);
    expect(afterFirst.refreshToken).not.toBe(app.refreshToken);
    expect(await revoked(app.refreshToken, 'rotating-local', app.clientSecret)).toBe(true);
    expect(stateBytes(env.home).includes(Buffer.from(afterFirst.refreshToken ?? '-'))).toBe(false);

    // The next run's access token is refused (expired): it refreshes with the rotated token, and rotates again.
    const second = await resolveProfile(env.ctx, 'rotating-local');
    const stale = (await second.tokens.session()).accessToken;
    const next = await second.tokens.refresh(stale);
    expect(next.accessToken).not.toBe(stale);
    const afterSecond = (await openProfile(env.ctx, 'rotating-local')).credentials;
    expect(afterSecond.refreshToken).not.toBe(afterFirst.refreshToken);
    expect(afterSecond.accessToken).toBe(next.accessToken);
  });

  it('writes the rotated refresh token back into the secret that holds it', async () => {
    const app = await rotatingApp('rotating-secret');
    const arn = await env.createSecret('appflow/rotating', { clientId: 'rotating-secret', clientSecret: app.clientSecret, refreshToken: app.refreshToken, note: 'kept' });
    await createProfile(env.ctx, sfProfile(env.emu, 'rotating-secret', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn }));
    const first = await resolveProfile(env.ctx, 'rotating-secret');
    expect((await readAccounts(first.profile, first.tokens)).length).toBeGreaterThan(0);
    const value = JSON.parse((await env.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString ?? '{}') as Record<string, string>;
    expect(value['refreshToken']).toMatch(/^5Aep861/);
    expect(value['refreshToken']).not.toBe(app.refreshToken);
    expect(value).toMatchObject({ clientId: 'rotating-secret', clientSecret: app.clientSecret, note: 'kept' });
    // Not duplicated into the local state: the secret stays the one place it lives.
    expect((await openProfile(env.ctx, 'rotating-secret')).credentials.refreshToken).toBeUndefined();

    // A later run (fresh secret cache) refreshes with the rotated token.
    env.ctx.secrets.clear();
    const second = await resolveProfile(env.ctx, 'rotating-secret');
    const stale = (await second.tokens.session()).accessToken;
    expect((await second.tokens.refresh(stale)).accessToken).not.toBe(stale);
    expect(env.logs()).not.toContain(value['refreshToken']);
  });
});

describe('profiles: JWT bearer', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();

  async function registerApp(clientId: string, certificatePem: string): Promise<void> {
    const res = await fetch(`${env.emu.controlUrl}/connected-apps`, { method: 'POST', headers: env.emu.controlHeaders, body: JSON.stringify({ name: clientId, clientId, certificatePem }) });
    expect(res.status).toBe(201);
  }

  it('signs a fresh JWT per session from a private key kept in a secret', async () => {
    await registerApp('jwt-app-1', publicPem);
    const arn = await env.createSecret('appflow/jwt', { clientId: 'jwt-app-1', privateKey: privatePem, username: env.emu.username });
    await createProfile(env.ctx, sfProfile(env.emu, 'jwt-secret', { oAuth2GrantType: 'JWT_BEARER', clientCredentialsArn: arn }));
    const before = env.emu.org.callCounts.get('POST /services/oauth2/token') ?? 0;
    const { profile, tokens } = await resolveProfile(env.ctx, 'jwt-secret');
    const rows = await readAccounts(profile, tokens);
    expect(rows.length).toBeGreaterThan(0);
    const first = await tokens.session();
    const second = await tokens.refresh(first.accessToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect((env.emu.org.callCounts.get('POST /services/oauth2/token') ?? 0) - before).toBe(2);
    expect((await openProfile(env.ctx, 'jwt-secret')).credentials.accessToken).toBeUndefined();
    expect(stateBytes(env.home).includes(Buffer.from('BEGIN PRIVATE KEY'))).toBe(false);
  });

  it('needs the private key in the secret when the profile has none', async () => {
    const arn = await env.createSecret('appflow/jwt-nokey', { clientId: 'jwt-app-1' });
    const e = await failure(createProfile(env.ctx, sfProfile(env.emu, 'jwt-nokey', { oAuth2GrantType: 'JWT_BEARER', clientCredentialsArn: arn, username: env.emu.username })));
    expect(e.code).toBe('SECRET_INVALID');
    expect(e.message).toContain('privateKey');
  });

  it('reports a JWT rejected by Salesforce with the profile and the fix', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await registerApp('jwt-app-2', other.publicKey.export({ format: 'pem', type: 'spki' }).toString());
    const arn = await env.createSecret('appflow/jwt-wrong', { clientId: 'jwt-app-2', privateKey: privatePem, username: env.emu.username });
    await createProfile(env.ctx, sfProfile(env.emu, 'jwt-rejected', { oAuth2GrantType: 'JWT_BEARER', clientCredentialsArn: arn }));
    const { tokens } = await resolveProfile(env.ctx, 'jwt-rejected');
    const e = await failure(tokens.session());
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.message).toContain('profile "jwt-rejected"');
    expect(e.message).toContain('invalid_grant');
    expect(e.message).toContain('certificate');
  });

  it('exchanges a supplied (AppFlow-style) jwtToken, and reports it once expired', async () => {
    const { signJwtAssertion } = await import('../../src/connectors/salesforce/auth.ts');
    const jwtToken = signJwtAssertion({ clientId: 'jwt-app-1', username: env.emu.username, audience: env.emu.loginUrl, privateKeyPem: privatePem, lifetimeSeconds: 300 });
    await createProfile(env.ctx, sfProfile(env.emu, 'jwt-token', { oAuth2GrantType: 'JWT_BEARER', jwtToken }));
    const ok = await resolveProfile(env.ctx, 'jwt-token');
    expect((await ok.tokens.session()).accessToken).toMatch(/!/);
    const expired = signJwtAssertion({ clientId: 'jwt-app-1', username: env.emu.username, audience: env.emu.loginUrl, privateKeyPem: privatePem, now: Date.now() - 3_600_000 });
    await createProfile(env.ctx, sfProfile(env.emu, 'jwt-expired', { oAuth2GrantType: 'JWT_BEARER', jwtToken: expired }));
    const e = await failure((await resolveProfile(env.ctx, 'jwt-expired')).tokens.session());
    expect(e.code).toBe('SF_AUTH_FAILED');
    expect(e.message).toContain('jwtToken expires');
  });
});
