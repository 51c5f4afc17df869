import type { KMSClient } from '@aws-sdk/client-kms';
import type { JWK } from 'jose';
import type { Kysely } from 'kysely';
import { ServiceKeySet, MAX_SERVICE_TOKEN_SECONDS } from '../../auth/service-tokens.ts';
import { ForceflowError } from '../../core/errors.ts';
import { openForProfile, sealForProfile } from '../../profiles/crypto.ts';

interface SigningKeyTable {
  kid: string;
  kms_key_arn: string;
  data_key: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  /** ISO-8601 UTC; the newest key signs. */
  created_at: string;
}

type SigningKeyTables = {
  service_signing_keys: SigningKeyTable;
};

/** A key that stopped signing this long ago is retired at the next rotation: every token it signed has expired. */
export const RETIRE_AFTER_MS = (MAX_SERVICE_TOKEN_SECONDS + 5 * 60) * 1000;

export interface SigningKeyStoreOptions {
  readonly kms: KMSClient;
  readonly kmsKeyId: string;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
}

function envelopeName(kid: string): string {
  return `service-signing-key/${kid}`;
}

/**
 * The service's token signing keys (ES256 private JWKs) in the service database, each sealed with the
 * KMS envelope of connector profiles and access keys, bound to its kid. `rotate()` adds a key that signs
 * from then on while the older ones still verify; keys that stopped signing more than
 * {@link RETIRE_AFTER_MS} ago are retired by the same rotation. A running service picks up a rotation made
 * by another process (`forceflow signing-keys rotate`) through {@link keySet}.
 */
export class SigningKeyStore {
  private readonly opened = new Map<string, JWK>();
  private set: { kids: string; keys: ServiceKeySet } | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;

  private constructor(private readonly db: Kysely<SigningKeyTables>, private readonly options: SigningKeyStoreOptions) {}

  static open<DB>(db: Kysely<DB>, options: SigningKeyStoreOptions): SigningKeyStore {
    const own = db.withTables<SigningKeyTables>() as unknown as Kysely<SigningKeyTables>;
    return new SigningKeyStore(own, options);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async rows(): Promise<Array<{ kid: string; created_at: string }>> {
    return this.db.selectFrom('service_signing_keys').select(['kid', 'created_at']).orderBy('created_at').orderBy('kid').execute();
  }

  /** The stored keys' kids and creation times, oldest first (the last one signs). */
  async list(): Promise<Array<{ kid: string; createdAt: string; signing: boolean }>> {
    const rows = await this.rows();
    return rows.map((r, i) => ({ kid: r.kid, createdAt: r.created_at, signing: i === rows.length - 1 }));
  }

  /** Add a new signing key; retire the keys that stopped signing long enough ago. Returns the new kid and the retired ones. */
  async rotate(): Promise<{ kid: string; retired: string[] }> {
    const fresh = await ServiceKeySet.generate();
    const [jwk] = fresh.exportPrivateJwks();
    if (!jwk?.kid) throw new ForceflowError('INTERNAL', 'A generated signing key has no kid.');
    const plaintext = Buffer.from(JSON.stringify(jwk), 'utf8');
    const envelope = await sealForProfile(this.options.kms, this.options.kmsKeyId, envelopeName(jwk.kid), plaintext);
    plaintext.fill(0);
    const nowMs = this.now();
    // Strictly after the newest stored key, so "newest signs" holds even within one millisecond.
    const before = await this.rows();
    const last = before[before.length - 1];
    const createdMs = Math.max(nowMs, last === undefined ? 0 : Date.parse(last.created_at) + 1);
    await this.db
      .insertInto('service_signing_keys')
      .values({ kid: jwk.kid, kms_key_arn: envelope.keyArn, data_key: envelope.encryptedDataKey, iv: envelope.iv, tag: envelope.tag, ciphertext: envelope.ciphertext, created_at: new Date(createdMs).toISOString() })
      .execute();
    // Key i stopped signing when key i+1 was created.
    const rows = await this.rows();
    const retired: string[] = [];
    for (let i = 0; i < rows.length - 1; i++) {
      const next = rows[i + 1];
      const row = rows[i];
      if (row && next && Date.parse(next.created_at) + RETIRE_AFTER_MS <= nowMs) retired.push(row.kid);
    }
    if (retired.length > 0) await this.db.deleteFrom('service_signing_keys').where('kid', 'in', retired).execute();
    this.checkedAt = Number.NEGATIVE_INFINITY;
    return { kid: jwk.kid, retired };
  }

  /**
   * The current key set: loaded from the database (opening new keys through KMS once), re-read at most
   * every `refreshMs` so a rotation made elsewhere is served. A store without keys gets its first one.
   */
  async keySet(refreshMs = 5_000): Promise<ServiceKeySet> {
    const t = this.now();
    if (this.set && t - this.checkedAt < refreshMs) return this.set.keys;
    let rows = await this.rows();
    if (rows.length === 0) {
      await this.rotate();
      rows = await this.rows();
    }
    this.checkedAt = t;
    const kids = rows.map((r) => r.kid).join(' ');
    if (this.set?.kids === kids) return this.set.keys;
    const jwks: JWK[] = [];
    for (const { kid } of rows) jwks.push(await this.openKey(kid));
    for (const kid of [...this.opened.keys()]) if (!rows.some((r) => r.kid === kid)) this.opened.delete(kid);
    const keys = await ServiceKeySet.fromPrivateJwks(jwks);
    this.set = { kids, keys };
    return keys;
  }

  /**
   * The key set re-read from the database now (for a token naming a kid not known yet: a rotation by
   * another process). Cheap: one SELECT of the kids; KMS opens only keys not opened before.
   */
  async reloaded(): Promise<ServiceKeySet> {
    this.checkedAt = Number.NEGATIVE_INFINITY;
    return this.keySet();
  }

  private async openKey(kid: string): Promise<JWK> {
    const cached = this.opened.get(kid);
    if (cached) return cached;
    const row = await this.db.selectFrom('service_signing_keys').selectAll().where('kid', '=', kid).executeTakeFirstOrThrow();
    const plain = await openForProfile(this.options.kms, envelopeName(kid), { keyArn: row.kms_key_arn, encryptedDataKey: row.data_key, iv: row.iv, tag: row.tag, ciphertext: row.ciphertext });
    const jwk = JSON.parse(plain.toString('utf8')) as JWK;
    plain.fill(0);
    this.opened.set(kid, jwk);
    return jwk;
  }
}
