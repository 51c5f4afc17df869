import { sfError } from './errors.ts';

/** One daily allowance of the org: its maximum and what was spent of it. */
export class DailyLimit {
  used = 0;
  max: number;

  constructor(max: number) {
    this.max = max;
  }

  get remaining(): number {
    return Math.max(0, this.max - this.used);
  }

  /** `{Max, Remaining}`, as `/limits` answers it. */
  entry(): { Max: number; Remaining: number } {
    return { Max: this.max, Remaining: this.remaining };
  }
}

/** Rows Salesforce counts as one batch of a Bulk API 2.0 ingest job against DailyBulkApiBatches. */
export const INGEST_ROWS_PER_BATCH = 10_000;

/**
 * The org's daily allowances, kept as Salesforce keeps them, so the API budget guard is tested against real
 * answers (docs/emulator-control.md, "Limits"):
 * - DailyApiRequests: every authenticated REST and Bulk call counts one (the versions resource and OAuth do
 *   not). Once spent, calls get 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded.".
 * - DailyBulkV2QueryJobs: each Bulk API 2.0 query job created counts one; once spent, creating one is refused.
 * - DailyBulkApiBatches: each ingest job counts one batch per 10,000 rows (at least one) when its upload is
 *   complete; once spent, creating an ingest job is refused.
 * - ConcurrentPerOrgLongTxn: long-running requests (Bulk result downloads) under way at once; past the
 *   maximum a call gets 403 REQUEST_LIMIT_EXCEEDED "ConcurrentPerOrgLongTxn Limit exceeded.".
 */
export class ApiLimits {
  readonly requests: DailyLimit;
  readonly bulkQueryJobs = new DailyLimit(10_000);
  readonly bulkBatches = new DailyLimit(15_000);
  /** Long-running requests under way, and how many may run at once. */
  longRunning = 0;
  maxLongRunning = 25;

  constructor(max: number) {
    this.requests = new DailyLimit(max);
  }

  /** DailyApiRequests used (kept as a field of its own for the callers that set it). */
  get used(): number {
    return this.requests.used;
  }

  set used(n: number) {
    this.requests.used = n;
  }

  get max(): number {
    return this.requests.max;
  }

  set max(n: number) {
    this.requests.max = n;
  }

  /** Count one call; throws Salesforce's REQUEST_LIMIT_EXCEEDED when the limit is already spent. */
  consume(): void {
    if (this.requests.used >= this.requests.max) {
      throw sfError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    }
    this.requests.used++;
  }

  /** Count one Bulk API 2.0 query job; refused as Salesforce refuses it once the day's jobs are spent. */
  consumeBulkQueryJob(): void {
    const l = this.bulkQueryJobs;
    if (l.used >= l.max) throw sfError(400, 'LIMIT_EXCEEDED', `Max bulk v2 query jobs (${l.max}) per 24 hrs has been reached`);
    l.used++;
  }

  /** Refuse a new ingest job once the day's Bulk batches are spent. */
  checkBulkBatches(): void {
    const l = this.bulkBatches;
    if (l.used >= l.max) throw sfError(400, 'LIMIT_EXCEEDED', `Exceeded max limit of batches (${l.max}) per 24 hrs`);
  }

  /** Count the batches of an ingest job whose upload is complete: one per 10,000 rows, at least one. */
  countIngestBatches(rows: number): void {
    this.bulkBatches.used += Math.max(1, Math.ceil(rows / INGEST_ROWS_PER_BATCH));
  }

  /** Start a long-running request; the returned function ends it. Refused past the concurrent maximum. */
  startLongRunning(): () => void {
    if (this.longRunning >= this.maxLongRunning) {
      throw sfError(403, 'REQUEST_LIMIT_EXCEEDED', 'ConcurrentPerOrgLongTxn Limit exceeded.');
    }
    this.longRunning++;
    let ended = false;
    return () => {
      if (!ended) {
        ended = true;
        this.longRunning--;
      }
    };
  }

  /** Spend what remains (fault injection: "the daily API limit spent after N calls"). */
  exhaust(): void {
    this.requests.used = this.requests.max;
  }

  reset(): void {
    this.requests.used = 0;
    this.bulkQueryJobs.used = 0;
    this.bulkBatches.used = 0;
  }

  header(): string {
    return `api-usage=${this.requests.used}/${this.requests.max}`;
  }
}
