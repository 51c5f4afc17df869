import { randomBytes, randomInt } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { Kysely } from 'kysely';
import { openForProfile, sealForProfile } from '../profiles/crypto.ts';
import type { AccessKey, KeyResolver } from './http/sigv4.ts';
import type { AccessKeyTable, ServiceDatabase } from './db.ts';

/** An access key without its secret (for listings and logs). */
export interface AccessKeyInfo {
  readonly accessKeyId: string;
  readonly name: string;
  readonly readOnly: boolean;
  readonly isDefault: boolean;
  readonly arn: string;
  readonly createdAt: string;
}

export interface NewAccessKey {
  /** The IAM-style user name the key stands for (createdBy / lastUpdatedBy are its ARN). */
  readonly name: string;
  readonly readOnly?: boolean;
  /** Given ids/secrets (from service.json); generated when absent. */
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
}

export interface KeyStoreOptions {
  /** The state folder (created owner-only; `service.db` in it is 0600). */
  readonly stateDir: string;
  readonly kms: KMSClient;
  /** The KMS key that encrypts the secrets (as profiles: alias/forceflow or FORCEFLOW_KMS_KEY_ID). */
  readonly kmsKeyId: string;
  readonly accountId: string;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * An access key id shaped like AWS's (a four-letter prefix + 16 base-32 characters) and a 40-character secret. The
 * prefix is forceflow's own, `FFLK` (forceflow local key), not AWS's `AKIA`: secret scanners and readers must never
 * take a service key for a real AWS key, nor a real AWS key for a service key.
 */
export function generateAccessKey(): { accessKeyId: string; secretAccessKey: string } {
  let id = 'FFLK';
  for (let i = 0; i < 16; i++) id += BASE32[randomInt(32)];
  const secretAccessKey = randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'z');
  return { accessKeyId: id, secretAccessKey };
}

/** The name a key's secret is sealed under (the KMS encryption context and GCM additional data bind it). */
function envelopeName(accessKeyId: string): string {
  return `service-access-key/${accessKeyId}`;
}

/**
 * The access keys the service accepts, in `service.db`: secrets sealed with the same KMS envelope as
 * connector profiles (src/profiles/crypto.ts, bound to the key id), opened once per key and then held
 * in memory (a KMS call per request would dominate API latency).
 */
export class KeyStore implements KeyResolver {
  private readonly cache = new Map<string, AccessKey>();

  private constructor(
    private readonly db: Kysely<ServiceDatabase>,
    private readonly options: KeyStoreOptions,
  ) {}

  /** Over a migrated service database (src/service/migrations/). */
  static async open(db: Kysely<ServiceDatabase>, options: KeyStoreOptions): Promise<KeyStore> {
    return new KeyStore(db, options);
  }

  private arn(name: string): string {
    return `arn:aws:iam::${this.options.accountId}:user/${name}`;
  }

  /** Store a key (generated unless given); answers the key with its secret. Replaces a key with the same id. */
  async create(key: NewAccessKey, isDefault = false): Promise<AccessKey> {
    const generated = generateAccessKey();
    const accessKeyId = key.accessKeyId ?? generated.accessKeyId;
    const secretAccessKey = key.secretAccessKey ?? generated.secretAccessKey;
    const envelope = await sealForProfile(this.options.kms, this.options.kmsKeyId, envelopeName(accessKeyId), Buffer.from(secretAccessKey, 'utf8'));
    const row: AccessKeyTable = {
      access_key_id: accessKeyId,
      name: key.name,
      read_only: key.readOnly ? 1 : 0,
      is_default: isDefault ? 1 : 0,
      kms_key_arn: envelope.keyArn,
      data_key: envelope.encryptedDataKey,
      iv: envelope.iv,
      tag: envelope.tag,
      ciphertext: envelope.ciphertext,
      created_at: new Date().toISOString(),
    };
    await this.db
      .insertInto('access_keys')
      .values(row)
      .onConflict((oc) => oc.column('access_key_id').doUpdateSet({ ...row }))
      .execute();
    const out: AccessKey = { accessKeyId, secretAccessKey, readOnly: key.readOnly === true, arn: this.arn(key.name) };
    this.cache.set(accessKeyId, out);
    return out;
  }

  /**
   * Make the configured keys present with the given secrets and modes (service.json `keys`): a key whose
   * stored secret or mode differs is sealed again.
   */
  async ensure(keys: readonly NewAccessKey[]): Promise<void> {
    for (const k of keys) {
      const current = k.accessKeyId === undefined ? undefined : await this.find(k.accessKeyId);
      if (current && current.secretAccessKey === k.secretAccessKey && current.readOnly === (k.readOnly === true) && current.arn === this.arn(k.name)) continue;
      await this.create(k);
    }
  }

  /** The local default key (created, with a fresh secret, on first start). */
  async defaultKey(): Promise<AccessKey> {
    const row = await this.db.selectFrom('access_keys').select('access_key_id').where('is_default', '=', 1).executeTakeFirst();
    if (row) {
      const key = await this.find(row.access_key_id);
      if (key) return key;
    }
    return this.create({ name: 'forceflow-local' }, true);
  }

  async find(accessKeyId: string): Promise<AccessKey | undefined> {
    const cached = this.cache.get(accessKeyId);
    if (cached) return cached;
    const row = await this.db.selectFrom('access_keys').selectAll().where('access_key_id', '=', accessKeyId).executeTakeFirst();
    if (!row) return undefined;
    const secret = await openForProfile(this.options.kms, envelopeName(accessKeyId), { keyArn: row.kms_key_arn, encryptedDataKey: row.data_key, iv: row.iv, tag: row.tag, ciphertext: row.ciphertext });
    const key: AccessKey = { accessKeyId, secretAccessKey: secret.toString('utf8'), readOnly: row.read_only === 1, arn: this.arn(row.name) };
    secret.fill(0);
    this.cache.set(accessKeyId, key);
    return key;
  }

  async list(): Promise<AccessKeyInfo[]> {
    const rows = await this.db.selectFrom('access_keys').select(['access_key_id', 'name', 'read_only', 'is_default', 'created_at']).orderBy('created_at').execute();
    return rows.map((r) => ({ accessKeyId: r.access_key_id, name: r.name, readOnly: r.read_only === 1, isDefault: r.is_default === 1, arn: this.arn(r.name), createdAt: r.created_at }));
  }

  async delete(accessKeyId: string): Promise<boolean> {
    const res = await this.db.deleteFrom('access_keys').where('access_key_id', '=', accessKeyId).executeTakeFirst();
    this.cache.delete(accessKeyId);
    return res.numDeletedRows > 0n;
  }
}
