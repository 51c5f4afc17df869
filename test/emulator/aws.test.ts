import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EnableKeyCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient,
} from '@aws-sdk/client-kms';
import {
  CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, RestoreSecretCommand, SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

let emu: RunningEmulator;
let kms: KMSClient;
let sm: SecretsManagerClient;

beforeAll(async () => {
  emu = await startEmulator();
  const credentials = { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey };
  kms = new KMSClient({ endpoint: emu.aws.kmsEndpoint, region: emu.aws.region, credentials, maxAttempts: 1 });
  sm = new SecretsManagerClient({ endpoint: emu.aws.secretsManagerEndpoint, region: emu.aws.region, credentials, maxAttempts: 1 });
});
afterAll(async () => {
  kms.destroy();
  sm.destroy();
  await emu.close();
});

async function rejectionOf(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected a rejection');
}

describe('emulated KMS over the AWS JSON protocol (@aws-sdk/client-kms)', () => {
  it('lists the endpoints and SDK environment in the start-up info', () => {
    expect(emu.env).toEqual({
      AWS_ENDPOINT_URL_KMS: emu.instanceUrl,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: emu.instanceUrl,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: emu.aws.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emu.aws.secretAccessKey,
    });
  });

  it('creates and describes keys, by id, ARN and alias', async () => {
    const created = await kms.send(new CreateKeyCommand({ Description: 'test key' }));
    const meta = created.KeyMetadata;
    expect(meta?.KeyState).toBe('Enabled');
    expect(meta?.Arn).toBe(`arn:aws:kms:us-east-1:000000000000:key/${meta?.KeyId}`);
    expect(meta?.CreationDate).toBeInstanceOf(Date);
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/test-key', TargetKeyId: meta?.KeyId }));
    for (const id of [meta?.KeyId, meta?.Arn, 'alias/test-key', 'arn:aws:kms:us-east-1:000000000000:alias/test-key']) {
      const d = await kms.send(new DescribeKeyCommand({ KeyId: id }));
      expect(d.KeyMetadata?.KeyId).toBe(meta?.KeyId);
    }
    const def = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/forceflow' }));
    expect(def.KeyMetadata?.Enabled).toBe(true);
  });

  it('round-trips Encrypt/Decrypt with an encryption context; the key id travels in the ciphertext', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const enc = await kms.send(new EncryptCommand({ KeyId: KeyMetadata?.KeyId, Plaintext: Buffer.from('hello'), EncryptionContext: { profile: 'a' } }));
    expect(enc.KeyId).toBe(KeyMetadata?.Arn);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { profile: 'a' } }));
    expect(Buffer.from(dec.Plaintext ?? []).toString()).toBe('hello');
    expect(dec.KeyId).toBe(KeyMetadata?.Arn);

    const wrongContext = await rejectionOf(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { profile: 'b' } })));
    expect(wrongContext).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    const noContext = await rejectionOf(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })));
    expect(noContext.name).toBe('InvalidCiphertextException');
    const other = await kms.send(new CreateKeyCommand({}));
    const wrongKey = await rejectionOf(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { profile: 'a' }, KeyId: other.KeyMetadata?.KeyId })));
    expect(wrongKey).toMatchObject({ name: 'IncorrectKeyException', status: 400 });
    const tampered = Buffer.from(enc.CiphertextBlob ?? []);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    expect((await rejectionOf(kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { profile: 'a' } })))).name).toBe('InvalidCiphertextException');
    // A KeyId in the request is resolved first, as KMS does: a key that is gone is NotFoundException, not a bad ciphertext
    // (the emulator has no ScheduleKeyDeletion: the key is dropped from its state).
    const doomed = await kms.send(new CreateKeyCommand({}));
    const sealed = await kms.send(new EncryptCommand({ KeyId: doomed.KeyMetadata?.KeyId, Plaintext: Buffer.from('bye'), EncryptionContext: { profile: 'a' } }));
    emu.org.aws.keys.delete(doomed.KeyMetadata?.KeyId ?? '');
    const gone = await rejectionOf(kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { profile: 'a' }, KeyId: doomed.KeyMetadata?.Arn })));
    expect(gone).toMatchObject({ name: 'NotFoundException', status: 400 });
    // Without a KeyId, only the ciphertext names the key: KMS cannot tell it from a bad ciphertext.
    expect((await rejectionOf(kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { profile: 'a' } })))).name).toBe('InvalidCiphertextException');
  });

  it('generates data keys, refuses disabled and absent keys', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: KeyMetadata?.Arn, KeySpec: 'AES_256', EncryptionContext: { profile: 'p' } }));
    expect(dk.Plaintext?.length).toBe(32);
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { profile: 'p' } }));
    expect(Buffer.from(back.Plaintext ?? []).equals(Buffer.from(dk.Plaintext ?? []))).toBe(true);

    await kms.send(new DisableKeyCommand({ KeyId: KeyMetadata?.KeyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata?.KeyId }))).KeyMetadata?.KeyState).toBe('Disabled');
    expect(await rejectionOf(kms.send(new GenerateDataKeyCommand({ KeyId: KeyMetadata?.KeyId, KeySpec: 'AES_256' })))).toMatchObject({ name: 'DisabledException', status: 400 });
    expect((await rejectionOf(kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { profile: 'p' } })))).name).toBe('DisabledException');
    await kms.send(new EnableKeyCommand({ KeyId: KeyMetadata?.KeyId }));
    await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { profile: 'p' } }));

    const absent = await rejectionOf(kms.send(new GenerateDataKeyCommand({ KeyId: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000', KeySpec: 'AES_256' })));
    expect(absent).toMatchObject({ name: 'NotFoundException', status: 400 });
    expect(absent.message).toContain('does not exist');
    expect((await rejectionOf(kms.send(new DescribeKeyCommand({ KeyId: 'alias/nope' })))).name).toBe('NotFoundException');
  });

  it('answers the AWS error shape and requires an Authorization header', async () => {
    const res = await fetch(`${emu.instanceUrl}/`, { method: 'POST', headers: { 'X-Amz-Target': 'TrentService.DescribeKey', 'Content-Type': 'application/x-amz-json-1.1' }, body: '{"KeyId":"alias/forceflow"}' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(await res.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    const unknown = await fetch(`${emu.instanceUrl}/`, { method: 'POST', headers: { Authorization: 'AWS4-HMAC-SHA256 x', 'X-Amz-Target': 'TrentService.Nope' }, body: '{}' });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
  });
});

describe('emulated Secrets Manager (@aws-sdk/client-secrets-manager)', () => {
  it('creates, reads by name / ARN / partial ARN, versions, describes and deletes', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'app/sf', SecretString: '{"clientId":"a","clientSecret":"b"}', Description: 'connected app' }));
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:app\/sf-[A-Za-z0-9]{6}$/);
    for (const id of ['app/sf', created.ARN, created.ARN?.slice(0, -7)]) {
      const v = await sm.send(new GetSecretValueCommand({ SecretId: id }));
      expect(v.SecretString).toBe('{"clientId":"a","clientSecret":"b"}');
      expect(v.VersionStages).toEqual(['AWSCURRENT']);
    }
    const put = await sm.send(new PutSecretValueCommand({ SecretId: 'app/sf', SecretString: '{"clientId":"a","clientSecret":"c"}' }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'app/sf' }))).SecretString).toContain('"c"');
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'app/sf', VersionStage: 'AWSPREVIOUS' }))).SecretString).toContain('"b"');
    const described = await sm.send(new DescribeSecretCommand({ SecretId: created.ARN }));
    expect(described.Description).toBe('connected app');
    expect(described.VersionIdsToStages?.[put.VersionId ?? '']).toEqual(['AWSCURRENT']);

    const exists = await rejectionOf(sm.send(new CreateSecretCommand({ Name: 'app/sf', SecretString: 'x' })));
    expect(exists.name).toBe('ResourceExistsException');
    const del = await sm.send(new DeleteSecretCommand({ SecretId: 'app/sf', RecoveryWindowInDays: 7 }));
    expect(del.DeletionDate).toBeInstanceOf(Date);
    expect((await rejectionOf(sm.send(new GetSecretValueCommand({ SecretId: 'app/sf' })))).name).toBe('InvalidRequestException');
    await sm.send(new DeleteSecretCommand({ SecretId: 'app/sf', ForceDeleteWithoutRecovery: true }));
    const missing = await rejectionOf(sm.send(new GetSecretValueCommand({ SecretId: 'app/sf' })));
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', status: 400, message: "Secrets Manager can't find the specified secret." });
  });

  it('refuses to decrypt a secret whose KMS key is disabled', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    await sm.send(new CreateSecretCommand({ Name: 'kms-bound', SecretString: 's', KmsKeyId: KeyMetadata?.Arn }));
    await kms.send(new DisableKeyCommand({ KeyId: KeyMetadata?.KeyId }));
    expect((await rejectionOf(sm.send(new GetSecretValueCommand({ SecretId: 'kms-bound' })))).name).toBe('DecryptionFailure');
  });
});

describe('emulated Secrets Manager: deletion with a recovery window', () => {
  it('keeps a scheduled secret restorable until the window ends, then it is gone; its name is not reusable meanwhile', async () => {
    let now = Date.parse('2026-03-01T00:00:00Z');
    const clocked = await startEmulator({ clock: () => now });
    const credentials = { accessKeyId: clocked.aws.accessKeyId, secretAccessKey: clocked.aws.secretAccessKey };
    const client = new SecretsManagerClient({ endpoint: clocked.aws.secretsManagerEndpoint, region: clocked.aws.region, credentials, maxAttempts: 1 });
    try {
      await client.send(new CreateSecretCommand({ Name: 'windowed', SecretString: '{"clientId":"a"}' }));
      const del = await client.send(new DeleteSecretCommand({ SecretId: 'windowed', RecoveryWindowInDays: 7 }));
      expect(del.DeletionDate?.toISOString()).toBe('2026-03-08T00:00:00.000Z');
      const reuse = await rejectionOf(client.send(new CreateSecretCommand({ Name: 'windowed', SecretString: 'x' })));
      expect(reuse).toMatchObject({ name: 'InvalidRequestException', status: 400 });
      expect(reuse.message).toContain('scheduled for deletion');
      // RestoreSecret (what forceflow's error message tells the user to run) cancels the deletion.
      const restored = await client.send(new RestoreSecretCommand({ SecretId: 'windowed' }));
      expect(restored.Name).toBe('windowed');
      expect((await client.send(new GetSecretValueCommand({ SecretId: 'windowed' }))).SecretString).toBe('{"clientId":"a"}');
      expect((await client.send(new DescribeSecretCommand({ SecretId: 'windowed' }))).DeletedDate).toBeUndefined();

      await client.send(new DeleteSecretCommand({ SecretId: 'windowed', RecoveryWindowInDays: 7 }));
      now += 7 * 86_400_000 - 1000;
      expect((await rejectionOf(client.send(new GetSecretValueCommand({ SecretId: 'windowed' })))).name).toBe('InvalidRequestException');
      now += 1000;
      expect(await rejectionOf(client.send(new GetSecretValueCommand({ SecretId: 'windowed' })))).toMatchObject({ name: 'ResourceNotFoundException', status: 400 });
      expect((await rejectionOf(client.send(new RestoreSecretCommand({ SecretId: 'windowed' })))).name).toBe('ResourceNotFoundException');
      // The name is free again.
      await client.send(new CreateSecretCommand({ Name: 'windowed', SecretString: '{"clientId":"b"}' }));
      expect((await client.send(new GetSecretValueCommand({ SecretId: 'windowed' }))).SecretString).toBe('{"clientId":"b"}');
    } finally {
      client.destroy();
      await clocked.close();
    }
  });
});

describe('AWS state with --data', () => {
  it('keeps keys and secrets across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-aws-'));
    try {
      const first = await startEmulator({ dataDir: dir });
      const credentials = { accessKeyId: 'x', secretAccessKey: 'y' };
      const k1 = new KMSClient({ endpoint: first.aws.kmsEndpoint, region: 'us-east-1', credentials });
      const s1 = new SecretsManagerClient({ endpoint: first.aws.secretsManagerEndpoint, region: 'us-east-1', credentials });
      const enc = await k1.send(new EncryptCommand({ KeyId: 'alias/forceflow', Plaintext: Buffer.from('kept') }));
      await s1.send(new CreateSecretCommand({ Name: 'kept', SecretString: 'v' }));
      k1.destroy();
      s1.destroy();
      await first.close();
      expect(readFileSync(join(dir, 'aws.json'), 'utf8')).toContain('"kept"');

      const second = await startEmulator({ dataDir: dir });
      const k2 = new KMSClient({ endpoint: second.aws.kmsEndpoint, region: 'us-east-1', credentials });
      const s2 = new SecretsManagerClient({ endpoint: second.aws.secretsManagerEndpoint, region: 'us-east-1', credentials });
      expect(Buffer.from((await k2.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext ?? []).toString()).toBe('kept');
      expect((await s2.send(new GetSecretValueCommand({ SecretId: 'kept' }))).SecretString).toBe('v');
      k2.destroy();
      s2.destroy();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('AWS state and the org reset', () => {
  it('POST /__emulator/reset forgets keys and secrets and recreates alias/forceflow', async () => {
    const own = await startEmulator();
    const credentials = { accessKeyId: 'x', secretAccessKey: 'y' };
    const k = new KMSClient({ endpoint: own.aws.kmsEndpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    const s = new SecretsManagerClient({ endpoint: own.aws.secretsManagerEndpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    try {
      const before = await k.send(new DescribeKeyCommand({ KeyId: 'alias/forceflow' }));
      await s.send(new CreateSecretCommand({ Name: 'gone-after-reset', SecretString: 'v' }));
      expect((await fetch(`${own.controlUrl}/reset`, { method: 'POST', headers: own.controlHeaders })).status).toBe(200);
      const after = await k.send(new DescribeKeyCommand({ KeyId: 'alias/forceflow' }));
      expect(after.KeyMetadata?.KeyId).not.toBe(before.KeyMetadata?.KeyId);
      expect((await rejectionOf(s.send(new GetSecretValueCommand({ SecretId: 'gone-after-reset' })))).name).toBe('ResourceNotFoundException');
    } finally {
      k.destroy();
      s.destroy();
      await own.close();
    }
  });
});
