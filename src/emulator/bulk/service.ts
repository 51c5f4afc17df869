import type { Org } from '../org.ts';

/** Bulk API 2.0 jobs of the org (ingest and query). */
export class BulkService {
  private readonly org: Org;

  constructor(org: Org) {
    this.org = org;
  }

  /** Abort and forget every job (control reset). */
  reset(): void {
    void this.org;
  }
}
