import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { tokenHash } from '../../auth/refusal.ts';

interface RefreshFamilyTable {
  /** One sign-in (one exchange that asked for `offline_access`) and every token rotated from it. */
  family_id: string;
  /** Our tokens' `sub` (`sf:<orgId>:<userId>`). */
  subject: string;
  /** The scopes granted at sign-in, space-separated; a refresh never widens them. */
  scope: string;
  created_at: string;
  /** The absolute end of the family: no token of it is accepted after this, however recently rotated. */
  expires_at: string;
  /** Set when the family was revoked (sign-out, reuse of a used token, the principal disabled). */
  revoked_at: string | null;
}

interface RefreshTokenTable {
  /** SHA-256 of the token, hex: the token itself is never stored. */
  hash: string;
  family_id: string;
  created_at: string;
  /** When it was exchanged for its successor; a token presented again after that revokes its family. */
  used_at: string | null;
}

type RefreshTables = {
  signin_refresh_families: RefreshFamilyTable;
  signin_refresh_tokens: RefreshTokenTable;
};

/** The prefix of our refresh tokens (so a secret scanner can recognise them): `ffrt_` and 43 base64url characters. */
export const REFRESH_TOKEN_PREFIX = 'ffrt_';

/** What a refresh token is good for, once rotated. */
export interface RefreshGrant {
  /** The successor: the only token of the family accepted from now on. */
  readonly token: string;
  readonly familyId: string;
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly expiresAt: Date;
}

/** Why a refresh token was refused (for the log only). */
export type RefreshRefusal = 'unknown' | 'expired' | 'revoked' | 'reused';

function newToken(): string {
  return `${REFRESH_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * The console's refresh tokens, in the service database: rotating (each use answers a successor and spends
 * the token), one-time (a spent token presented again revokes its whole family: the thief's and the user's
 * copies both stop working), revocable (RFC 7009), with an absolute lifetime per family. Only SHA-256 hashes
 * are stored.
 */
export class RefreshTokenStore {
  private constructor(private readonly db: Kysely<RefreshTables>, private readonly now: () => number) {}

  static open<DB>(db: Kysely<DB>, options: { readonly now?: () => number } = {}): RefreshTokenStore {
    return new RefreshTokenStore(db.withTables<RefreshTables>() as unknown as Kysely<RefreshTables>, options.now ?? Date.now);
  }

  private iso(ms = this.now()): string {
    return new Date(ms).toISOString();
  }

  /** A new family for a sign-in, and its first token. Families that ended are swept first. */
  async issue(subject: string, scopes: readonly string[], lifetimeSeconds: number): Promise<{ token: string; familyId: string; expiresAt: Date }> {
    const now = this.iso();
    await this.sweep(now);
    const familyId = randomUUID();
    const expiresAt = new Date(this.now() + lifetimeSeconds * 1000);
    const token = newToken();
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('signin_refresh_families').values({ family_id: familyId, subject, scope: scopes.join(' '), created_at: now, expires_at: expiresAt.toISOString(), revoked_at: null }).execute();
      await trx.insertInto('signin_refresh_tokens').values({ hash: tokenHash(token), family_id: familyId, created_at: now, used_at: null }).execute();
    });
    return { token, familyId, expiresAt };
  }

  /**
   * Spend `token` and answer its successor, or why it is refused. A token already spent revokes its family
   * (of two racing uses of one token exactly one wins; the other counts as reuse).
   */
  async rotate(token: string): Promise<RefreshGrant | RefreshRefusal> {
    if (!token.startsWith(REFRESH_TOKEN_PREFIX)) return 'unknown';
    const hash = tokenHash(token);
    const row = await this.db.selectFrom('signin_refresh_tokens').select(['family_id', 'used_at']).where('hash', '=', hash).executeTakeFirst();
    if (row === undefined) return 'unknown';
    const family = await this.db.selectFrom('signin_refresh_families').selectAll().where('family_id', '=', row.family_id).executeTakeFirst();
    if (family === undefined) return 'unknown';
    if (family.revoked_at !== null) return 'revoked';
    const now = this.iso();
    if (family.expires_at <= now) return 'expired';
    if (row.used_at !== null) {
      await this.revokeFamily(row.family_id);
      return 'reused';
    }
    const successor = newToken();
    const won = await this.db.transaction().execute(async (trx) => {
      const spent = await trx.updateTable('signin_refresh_tokens').set({ used_at: now }).where('hash', '=', hash).where('used_at', 'is', null).executeTakeFirst();
      if (Number(spent.numUpdatedRows) !== 1) return false;
      await trx.insertInto('signin_refresh_tokens').values({ hash: tokenHash(successor), family_id: row.family_id, created_at: now, used_at: null }).execute();
      return true;
    });
    if (!won) {
      await this.revokeFamily(row.family_id);
      return 'reused';
    }
    return { token: successor, familyId: row.family_id, subject: family.subject, scopes: family.scope.split(' ').filter((s) => s !== ''), expiresAt: new Date(family.expires_at) };
  }

  /** Revoke the family of `token` (RFC 7009); false when the token is not one of ours. */
  async revoke(token: string): Promise<boolean> {
    if (!token.startsWith(REFRESH_TOKEN_PREFIX)) return false;
    const row = await this.db.selectFrom('signin_refresh_tokens').select('family_id').where('hash', '=', tokenHash(token)).executeTakeFirst();
    if (row === undefined) return false;
    await this.revokeFamily(row.family_id);
    return true;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.db.updateTable('signin_refresh_families').set({ revoked_at: this.iso() }).where('family_id', '=', familyId).where('revoked_at', 'is', null).execute();
  }

  /** Whether a family is neither revoked nor past its end (the authorizer asks for tokens carrying `sid`). */
  async isActive(familyId: string): Promise<boolean> {
    const family = await this.db.selectFrom('signin_refresh_families').select(['expires_at', 'revoked_at']).where('family_id', '=', familyId).executeTakeFirst();
    return family !== undefined && family.revoked_at === null && family.expires_at > this.iso();
  }

  /** Forget families that ended (and their tokens): a token of them is unknown from then on, refused all the same. */
  private async sweep(now: string): Promise<void> {
    const ended = this.db.selectFrom('signin_refresh_families').select('family_id').where('expires_at', '<=', now);
    await this.db.deleteFrom('signin_refresh_tokens').where('family_id', 'in', ended).execute();
    await this.db.deleteFrom('signin_refresh_families').where('expires_at', '<=', now).execute();
  }
}
