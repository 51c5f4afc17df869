/**
 * AppFlow's connector metadata cache: ListConnectorEntities and DescribeConnectorEntity answers are kept
 * per connector profile and "reset once every hour"; ResetConnectorMetadataCache (and updating or
 * deleting the profile) clears them. Bounded: at most `maxProfiles` profiles (least recently used
 * dropped first) and `maxEntries` entries per profile. Failed lookups are not kept.
 */
export interface MetadataCacheOptions {
  readonly ttlMs?: number;
  readonly maxProfiles?: number;
  readonly maxEntries?: number;
}

export const METADATA_CACHE_TTL_MS = 3_600_000;

interface Entry {
  readonly expiresAt: number;
  readonly value: Promise<unknown>;
}

export class MetadataCache {
  private readonly ttlMs: number;
  private readonly maxProfiles: number;
  private readonly maxEntries: number;
  private readonly profiles = new Map<string, Map<string, Entry>>();

  constructor(options: MetadataCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? METADATA_CACHE_TTL_MS;
    this.maxProfiles = options.maxProfiles ?? 32;
    this.maxEntries = options.maxEntries ?? 256;
  }

  /** The cached value of `key` for `profile`, or `load()`'s (kept for the TTL when it succeeds). */
  get<T>(profile: string, key: string, now: number, load: () => Promise<T>): Promise<T> {
    let entries = this.profiles.get(profile);
    if (entries) {
      // Most recently used last.
      this.profiles.delete(profile);
      this.profiles.set(profile, entries);
      const hit = entries.get(key);
      if (hit && hit.expiresAt > now) return hit.value as Promise<T>;
      if (hit) entries.delete(key);
    } else {
      entries = new Map();
      this.profiles.set(profile, entries);
      while (this.profiles.size > this.maxProfiles) {
        const oldest = this.profiles.keys().next().value as string;
        this.profiles.delete(oldest);
      }
    }
    const value = load();
    const entry: Entry = { expiresAt: now + this.ttlMs, value };
    entries.set(key, entry);
    while (entries.size > this.maxEntries) entries.delete(entries.keys().next().value as string);
    const mine = entries;
    value.catch(() => {
      if (mine.get(key) === entry) mine.delete(key);
    });
    return value;
  }

  /** Forget a profile's metadata, or only the entries whose key `matches`. */
  reset(profile: string, matches?: (key: string) => boolean): void {
    if (!matches) {
      this.profiles.delete(profile);
      return;
    }
    const entries = this.profiles.get(profile);
    if (!entries) return;
    for (const key of [...entries.keys()]) if (matches(key)) entries.delete(key);
  }

  /** Number of cached entries (for tests and metrics). */
  size(profile?: string): number {
    if (profile !== undefined) return this.profiles.get(profile)?.size ?? 0;
    let n = 0;
    for (const entries of this.profiles.values()) n += entries.size;
    return n;
  }
}
