/** A token bucket's size and refill. */
export interface BucketSpec {
  /** Requests allowed in a burst. */
  readonly burst: number;
  /** Requests regained per minute. */
  readonly perMinute: number;
}

/**
 * In-process token buckets by key (a client address, a Salesforce user): `take(key)` is false once the
 * key's bucket is empty. Buckets that have refilled completely are forgotten, so memory follows the
 * number of recent callers. For one process; several service nodes each limit on their own.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private calls = 0;

  constructor(private readonly spec: BucketSpec, private readonly now: () => number = Date.now) {}

  take(key: string): boolean {
    const t = this.now();
    if (++this.calls % 1024 === 0) this.sweep(t);
    const b = this.buckets.get(key) ?? { tokens: this.spec.burst, at: t };
    const tokens = Math.min(this.spec.burst, b.tokens + ((t - b.at) / 60_000) * this.spec.perMinute);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: t });
      return false;
    }
    this.buckets.set(key, { tokens: tokens - 1, at: t });
    return true;
  }

  private sweep(t: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 60_000) * this.spec.perMinute >= this.spec.burst) this.buckets.delete(key);
    }
  }
}
