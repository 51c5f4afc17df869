import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The account and region the emulated AWS services claim. */
export const AWS_ACCOUNT_ID = '000000000000';
export const AWS_REGION = 'us-east-1';
/** Static credentials printed on start-up; any SigV4 signature is accepted (never verified). */
export const AWS_ACCESS_KEY_ID = 'forceflow-emulator';
export const AWS_SECRET_ACCESS_KEY = 'forceflow-emulator-aws-secret-access-key';
/** Alias of the KMS key the emulator creates on start-up (forceflow's default profile key). */
export const DEFAULT_KEY_ALIAS = 'alias/forceflow';

/** An AWS JSON-protocol error: `{"__type": name, "message": ...}` with `x-amzn-ErrorType`. */
export class AwsError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

export interface KmsKey {
  readonly keyId: string;
  readonly arn: string;
  readonly description: string;
  /** Epoch ms. */
  readonly createdAt: number;
  enabled: boolean;
  /** 32 bytes of AES-256 key material, never leaves the emulator. */
  readonly material: Buffer;
}

export interface SecretVersion {
  readonly versionId: string;
  readonly secretString?: string;
  readonly secretBinary?: Buffer;
  /** Epoch ms. */
  readonly createdAt: number;
  stages: string[];
}

export interface Secret {
  readonly arn: string;
  readonly name: string;
  description: string | undefined;
  kmsKeyId: string | undefined;
  /** Epoch ms. */
  readonly createdAt: number;
  lastChangedAt: number;
  /** Epoch ms when deletion was scheduled. */
  deletedAt: number | undefined;
  /** Epoch ms when the recovery window ends: from then on the secret is gone (as if force-deleted). */
  purgeAt?: number | undefined;
  readonly versions: SecretVersion[];
}

interface Persisted {
  keys: Array<Omit<KmsKey, 'material'> & { material: string }>;
  aliases: Array<[string, string]>;
  secrets: Array<Omit<Secret, 'versions'> & { versions: Array<Omit<SecretVersion, 'secretBinary'> & { secretBinary?: string }> }>;
}

/** Magic prefix of the emulator's ciphertext blobs (version 1). */
const BLOB_MAGIC = Buffer.from('ffk1', 'ascii');

/** Canonical bytes of an encryption context (sorted keys), the AAD of the key's AES-GCM. */
function contextAad(context: Readonly<Record<string, string>> | undefined): Buffer {
  const entries = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

/**
 * KMS keys, aliases and Secrets Manager secrets of the emulated account. Ciphertext blobs carry the
 * key id (as KMS's do), so Decrypt finds the key by itself; the encryption context is bound as AAD.
 * With a data folder, the state is saved to `aws.json` there after every change.
 */
export class AwsState {
  readonly keys = new Map<string, KmsKey>();
  /** alias name (`alias/x`) → key id. */
  readonly aliases = new Map<string, string>();
  /** secret name → secret. */
  readonly secrets = new Map<string, Secret>();
  private readonly file: string | undefined;
  private readonly clock: () => number;

  constructor(options: { dataDir?: string; clock?: () => number } = {}) {
    this.clock = options.clock ?? Date.now;
    this.file = options.dataDir === undefined ? undefined : join(options.dataDir, 'aws.json');
    if (!this.load()) this.seed();
  }

  /** Forget everything and recreate the default key. */
  reset(): void {
    this.keys.clear();
    this.aliases.clear();
    this.secrets.clear();
    this.seed();
  }

  private seed(): void {
    const key = this.createKey('forceflow default key for connector profile credentials');
    this.aliases.set(DEFAULT_KEY_ALIAS, key.keyId);
    this.save();
  }

  // ---- KMS ----

  createKey(description: string): KmsKey {
    const keyId = randomUUID();
    const key: KmsKey = { keyId, arn: `arn:aws:kms:${AWS_REGION}:${AWS_ACCOUNT_ID}:key/${keyId}`, description, createdAt: this.clock(), enabled: true, material: randomBytes(32) };
    this.keys.set(keyId, key);
    this.save();
    return key;
  }

  /** A key by id, key ARN, alias name or alias ARN; NotFoundException otherwise. */
  key(identifier: string | undefined): KmsKey {
    if (identifier === undefined || identifier === '') throw new AwsError('ValidationException', '1 validation error detected: Value null at \'keyId\' failed to satisfy constraint: Member must not be null');
    let id = identifier;
    const arn = /^arn:aws:kms:([^:]+):(\d{12}):(key\/.+|alias\/.+)$/.exec(identifier);
    if (arn) {
      if (arn[1] !== AWS_REGION || arn[2] !== AWS_ACCOUNT_ID) throw new AwsError('NotFoundException', `Invalid arn ${identifier}`);
      id = arn[3] as string;
      if (id.startsWith('key/')) id = id.slice(4);
    }
    if (id.startsWith('alias/')) {
      const target = this.aliases.get(id);
      if (target === undefined) throw new AwsError('NotFoundException', `Alias ${arn ? identifier : `arn:aws:kms:${AWS_REGION}:${AWS_ACCOUNT_ID}:${id}`} is not found.`);
      id = target;
    }
    const key = this.keys.get(id);
    if (!key) throw new AwsError('NotFoundException', `Key '${arn ? identifier : `arn:aws:kms:${AWS_REGION}:${AWS_ACCOUNT_ID}:key/${id}`}' does not exist`);
    return key;
  }

  /** The key, which must be enabled (DisabledException otherwise). */
  usableKey(identifier: string | undefined): KmsKey {
    const key = this.key(identifier);
    if (!key.enabled) throw new AwsError('DisabledException', `${key.arn} is disabled.`);
    return key;
  }

  setEnabled(identifier: string | undefined, enabled: boolean): void {
    this.key(identifier).enabled = enabled;
    this.save();
  }

  createAlias(aliasName: string, targetKeyId: string): void {
    if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(aliasName) || aliasName.startsWith('alias/aws/')) {
      throw new AwsError('ValidationException', `Alias must start with the prefix "alias/" and may not begin with "alias/aws/": ${aliasName}`);
    }
    if (this.aliases.has(aliasName)) throw new AwsError('AlreadyExistsException', `An alias with the name arn:aws:kms:${AWS_REGION}:${AWS_ACCOUNT_ID}:${aliasName} already exists`);
    this.aliases.set(aliasName, this.key(targetKeyId).keyId);
    this.save();
  }

  encrypt(key: KmsKey, plaintext: Buffer, context: Readonly<Record<string, string>> | undefined): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.material, iv);
    cipher.setAAD(contextAad(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const id = Buffer.from(key.keyId, 'ascii');
    return Buffer.concat([BLOB_MAGIC, Buffer.from([id.length]), id, iv, cipher.getAuthTag(), body]);
  }

  /** Decrypt a blob; the key comes from the blob, and must match `expectedKeyId` when one is given. */
  decrypt(blob: Buffer, context: Readonly<Record<string, string>> | undefined, expectedKeyId: string | undefined): { key: KmsKey; plaintext: Buffer } {
    const invalid = (): AwsError => new AwsError('InvalidCiphertextException', '');
    if (blob.length < BLOB_MAGIC.length + 1 || !blob.subarray(0, BLOB_MAGIC.length).equals(BLOB_MAGIC)) throw invalid();
    const idLength = blob[BLOB_MAGIC.length] as number;
    const idStart = BLOB_MAGIC.length + 1;
    if (blob.length < idStart + idLength + 12 + 16) throw invalid();
    const keyId = blob.subarray(idStart, idStart + idLength).toString('ascii');
    // As KMS: a KeyId in the request is resolved first (NotFoundException for a deleted key).
    const expected = expectedKeyId !== undefined && expectedKeyId !== '' ? this.key(expectedKeyId) : undefined;
    const key = this.keys.get(keyId);
    if (!key) throw invalid();
    if (expected !== undefined && expected.keyId !== key.keyId) {
      throw new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
    }
    if (!key.enabled) throw new AwsError('DisabledException', `${key.arn} is disabled.`);
    const iv = blob.subarray(idStart + idLength, idStart + idLength + 12);
    const tag = blob.subarray(idStart + idLength + 12, idStart + idLength + 28);
    const body = blob.subarray(idStart + idLength + 28);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.material, iv);
      decipher.setAAD(contextAad(context));
      decipher.setAuthTag(tag);
      return { key, plaintext: Buffer.concat([decipher.update(body), decipher.final()]) };
    } catch {
      throw invalid();
    }
  }

  // ---- Secrets Manager ----

  /** A secret by name, full ARN or partial ARN (without the 6-character suffix). */
  secret(secretId: string | undefined, options: { includeDeleted?: boolean } = {}): Secret {
    if (secretId === undefined || secretId === '') throw new AwsError('InvalidParameterException', 'You must provide a value for SecretId.');
    this.purgeExpired();
    let found: Secret | undefined = this.secrets.get(secretId);
    if (!found && secretId.startsWith('arn:')) {
      for (const s of this.secrets.values()) {
        if (s.arn === secretId || s.arn.slice(0, -7) === secretId) {
          found = s;
          break;
        }
      }
    }
    if (!found) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    if (found.deletedAt !== undefined && !options.includeDeleted) {
      throw new AwsError('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.");
    }
    return found;
  }

  createSecret(input: { name: string; description?: string; kmsKeyId?: string; secretString?: string; secretBinary?: Buffer; versionId?: string }): Secret {
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(input.name)) throw new AwsError('ValidationException', 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
    this.purgeExpired();
    if (this.secrets.get(input.name)?.deletedAt !== undefined) {
      throw new AwsError('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
    }
    if (this.secrets.has(input.name)) throw new AwsError('ResourceExistsException', `The operation failed because the secret ${input.name} already exists.`);
    if (input.kmsKeyId !== undefined) this.usableKey(input.kmsKeyId);
    const now = this.clock();
    const suffix = randomBytes(6).toString('base64').replace(/[+/=]/g, 'x').slice(0, 6);
    const secret: Secret = {
      arn: `arn:aws:secretsmanager:${AWS_REGION}:${AWS_ACCOUNT_ID}:secret:${input.name}-${suffix}`,
      name: input.name,
      description: input.description,
      kmsKeyId: input.kmsKeyId,
      createdAt: now,
      lastChangedAt: now,
      deletedAt: undefined,
      versions: [],
    };
    if (input.secretString !== undefined || input.secretBinary !== undefined) this.addVersion(secret, input);
    this.secrets.set(input.name, secret);
    this.save();
    return secret;
  }

  putSecretValue(secretId: string | undefined, input: { secretString?: string; secretBinary?: Buffer; versionId?: string }): { secret: Secret; version: SecretVersion } {
    const secret = this.secret(secretId);
    const existing = input.versionId === undefined ? undefined : secret.versions.find((v) => v.versionId === input.versionId);
    if (existing) {
      if (existing.secretString !== input.secretString) throw new AwsError('ResourceExistsException', 'You can\'t modify an existing version, you can only create a new version.');
      return { secret, version: existing };
    }
    const version = this.addVersion(secret, input);
    this.save();
    return { secret, version };
  }

  private addVersion(secret: Secret, input: { secretString?: string; secretBinary?: Buffer; versionId?: string }): SecretVersion {
    if (input.secretString === undefined && input.secretBinary === undefined) throw new AwsError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    for (const v of secret.versions) {
      if (v.stages.includes('AWSPREVIOUS')) v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
      if (v.stages.includes('AWSCURRENT')) v.stages = [...v.stages.filter((s) => s !== 'AWSCURRENT'), 'AWSPREVIOUS'];
    }
    const now = this.clock();
    const version: SecretVersion = {
      versionId: input.versionId ?? randomUUID(),
      ...(input.secretString === undefined ? {} : { secretString: input.secretString }),
      ...(input.secretBinary === undefined ? {} : { secretBinary: input.secretBinary }),
      createdAt: now,
      stages: ['AWSCURRENT'],
    };
    secret.versions.push(version);
    for (let i = secret.versions.length - 1; i >= 0; i--) if (secret.versions[i]?.stages.length === 0) secret.versions.splice(i, 1);
    secret.lastChangedAt = now;
    return version;
  }

  /** Schedule deletion after a recovery window of `recoveryDays`, or delete at once with `force`. */
  deleteSecret(secretId: string | undefined, force: boolean, recoveryDays = 30): Secret {
    const secret = this.secret(secretId, { includeDeleted: true });
    if (secret.deletedAt !== undefined && !force) throw new AwsError('InvalidRequestException', "You can't perform this operation on the secret because it was already scheduled for deletion.");
    const now = this.clock();
    if (secret.deletedAt === undefined) secret.deletedAt = now;
    secret.purgeAt = force ? now : secret.deletedAt + recoveryDays * 86_400_000;
    if (force) this.secrets.delete(secret.name);
    this.save();
    return secret;
  }

  /** Cancel a scheduled deletion (RestoreSecret). */
  restoreSecret(secretId: string | undefined): Secret {
    const secret = this.secret(secretId, { includeDeleted: true });
    secret.deletedAt = undefined;
    secret.purgeAt = undefined;
    this.save();
    return secret;
  }

  /** Secrets whose recovery window has ended are deleted for good. */
  private purgeExpired(): void {
    const now = this.clock();
    let changed = false;
    for (const [name, s] of this.secrets) {
      if (s.deletedAt !== undefined && s.purgeAt !== undefined && s.purgeAt <= now) {
        this.secrets.delete(name);
        changed = true;
      }
    }
    if (changed) this.save();
  }

  // ---- persistence ----

  private load(): boolean {
    if (this.file === undefined) return false;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return false;
    }
    const data = JSON.parse(text) as Persisted;
    for (const k of data.keys) this.keys.set(k.keyId, { ...k, material: Buffer.from(k.material, 'base64') });
    for (const [alias, id] of data.aliases) this.aliases.set(alias, id);
    for (const s of data.secrets) {
      this.secrets.set(s.name, {
        ...s,
        versions: s.versions.map(({ secretBinary, ...v }) => ({ ...v, ...(secretBinary === undefined ? {} : { secretBinary: Buffer.from(secretBinary, 'base64') }) })),
      });
    }
    return true;
  }

  private save(): void {
    if (this.file === undefined) return;
    const data: Persisted = {
      keys: [...this.keys.values()].map((k) => ({ ...k, material: k.material.toString('base64') })),
      aliases: [...this.aliases.entries()],
      secrets: [...this.secrets.values()].map((s) => ({
        ...s,
        versions: s.versions.map(({ secretBinary, ...v }) => ({ ...v, ...(secretBinary === undefined ? {} : { secretBinary: secretBinary.toString('base64') }) })),
      })),
    };
    mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
