import type { Kysely } from 'kysely';
import { refuse, tokenHash } from './refusal.ts';

/**
 * Remembers which subject tokens were exchanged, by SHA-256 (never the token), until they expire, so each
 * is accepted once. `firstUse` must be atomic: of two racing calls with one hash, exactly one gets true.
 */
export interface ReplayGuard {
  /** Record `hash` until `expiresAt`; false when it is already recorded and not yet expired. */
  firstUse(hash: string, expiresAt: Date, now: Date): Promise<boolean>;
}

/** Accept a subject token once: TOKEN_REFUSED (`replayed`) the second time while it is still valid. */
export async function acceptOnce(guard: ReplayGuard, token: string, expiresAt: Date, now: Date): Promise<void> {
  if (!(await guard.firstUse(tokenHash(token), expiresAt, now))) throw refuse('replayed');
}

/**
 * In one process's memory: for a single node. A restart forgets, so a token exchanged just before a
 * restart can be exchanged again while it lives (two minutes for an id_token); use {@link SqlReplayGuard}
 * when that matters.
 */
export class MemoryReplayGuard implements ReplayGuard {
  private readonly seen = new Map<string, number>();
  private writes = 0;

  firstUse(hash: string, expiresAt: Date, now: Date): Promise<boolean> {
    const t = now.getTime();
    if (++this.writes % 256 === 0) for (const [h, exp] of this.seen) if (exp <= t) this.seen.delete(h);
    const known = this.seen.get(hash);
    if (known !== undefined && known > t) return Promise.resolve(false);
    this.seen.set(hash, expiresAt.getTime());
    return Promise.resolve(true);
  }

  /** Hashes currently remembered (expired ones included until swept). */
  get size(): number {
    return this.seen.size;
  }
}

interface SubjectTokenUseTable {
  hash: string;
  /** ISO-8601 UTC (`toISOString()`), so text order is time order. */
  expires_at: string;
}

// A type, not an interface: kysely's withTables wants an index-compatible record.
type ReplayTables = {
  subject_token_uses: SubjectTokenUseTable;
};

/**
 * In the service database (`subject_token_uses`): survives restarts; one row per exchanged token, swept
 * once expired. The claim is one `INSERT … ON CONFLICT DO UPDATE … WHERE expired` statement, so it is
 * atomic in SQLite and in PostgreSQL (test/service/storage-conformance.ts races it on both).
 */
export class SqlReplayGuard implements ReplayGuard {
  private constructor(private readonly db: Kysely<ReplayTables>) {}

  /** Over a migrated service database (the table comes from src/service/migrations/0002-subject-token-uses.ts). */
  static async open<DB>(db: Kysely<DB>): Promise<SqlReplayGuard> {
    // The table is this module's own; the caller's database type does not need to know it.
    const own = db.withTables<ReplayTables>() as unknown as Kysely<ReplayTables>;
    return new SqlReplayGuard(own);
  }

  async firstUse(hash: string, expiresAt: Date, now: Date): Promise<boolean> {
    const nowIso = now.toISOString();
    await this.db.deleteFrom('subject_token_uses').where('expires_at', '<=', nowIso).execute();
    const result = await this.db
      .insertInto('subject_token_uses')
      .values({ hash, expires_at: expiresAt.toISOString() })
      .onConflict((oc) =>
        oc
          .column('hash')
          .doUpdateSet({ expires_at: (eb) => eb.ref('excluded.expires_at') })
          .where('subject_token_uses.expires_at', '<=', nowIso),
      )
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }
}
