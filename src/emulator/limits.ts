import { sfError } from './errors.ts';

/**
 * The org's daily API request counter: every authenticated REST/Bulk call counts one, the versions
 * resource and OAuth do not. Once spent, calls get 403 REQUEST_LIMIT_EXCEEDED, as in Salesforce.
 */
export class ApiLimits {
  used = 0;
  max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Count one call; throws Salesforce's REQUEST_LIMIT_EXCEEDED when the limit is already spent. */
  consume(): void {
    if (this.used >= this.max) {
      throw sfError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    }
    this.used++;
  }

  /** Spend what remains (fault injection: "the daily API limit spent after N calls"). */
  exhaust(): void {
    this.used = this.max;
  }

  reset(): void {
    this.used = 0;
  }

  header(): string {
    return `api-usage=${this.used}/${this.max}`;
  }
}
