import type { RecordFailure } from '../../core/connector.ts';
import { isForceflowError, type ERRORS } from '../../core/errors.ts';
import type { RetryPolicy } from '../../core/retry.ts';
import type { SfField, SfObject } from './describe.ts';

/** What the write path shares between the destination and its two writers. */
export type WriteOperation = 'INSERT' | 'UPDATE' | 'UPSERT' | 'DELETE';

/** One destination column: the key in the records and the Salesforce field it writes. */
export interface WriteColumn {
  readonly key: string;
  readonly field: SfField;
}

/** A write, resolved against the object's describe before anything is sent. */
export interface WriteTarget {
  readonly object: SfObject;
  readonly operation: WriteOperation;
  /** What is sent, in order (DELETE: just the Id column). */
  readonly columns: readonly WriteColumn[];
  /** UPDATE and DELETE: the Id column. */
  readonly idColumn?: WriteColumn;
  /** UPSERT: the external id field matched on. */
  readonly externalIdField?: SfField;
  /**
   * INSERT: an external id column the records carry, used to learn what a call whose answer was lost created
   * (see rest-writer.ts). Undefined when the records carry none.
   */
  readonly markerColumn?: WriteColumn;
}

/** Where the writers report outcomes; the destination counts them and feeds the error file. */
export interface WriteReporter {
  written(count: number, created?: number): void;
  failed(failures: readonly RecordFailure[], unknown?: boolean): Promise<void>;
  /** True once failOnFirstDestinationError has stopped the run: send nothing more. */
  readonly stopped: boolean;
}

/**
 * Per-record errors that a later attempt may not hit (Salesforce's transient conditions). Such records are sent
 * again, a bounded number of times with backoff, before they count as failed.
 */
export const RETRYABLE_ROW_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_LOCK_ROW',
  'SERVER_UNAVAILABLE',
  'REQUEST_RUNNING_TOO_LONG',
  'QUERY_TIMEOUT',
  'TooManyLockFailure',
]);

/** The code a record gets when a call's outcome could not be learned (see docs/salesforce-destination.md). */
export const OUTCOME_UNKNOWN = 'SF_WRITE_OUTCOME_UNKNOWN' satisfies keyof typeof ERRORS;
/** Id missing on a record of an UPDATE or DELETE (Salesforce's own code for it). */
export const MISSING_ARGUMENT = 'MISSING_ARGUMENT';

export interface RowRetryOptions {
  /** Attempts after the first for records that failed for a retryable reason (default 3). */
  readonly rowRetries?: number;
  /** Backoff before the first retry; doubles each time (default 1,000 ms). */
  readonly rowRetryBaseMs?: number;
}

/**
 * A call that may go again: Salesforce was unreachable, the answer was lost or refused (SF_UNAVAILABLE), or
 * it answered 429. The client reports a 429 as SF_REQUEST_LIMIT_EXCEEDED because its body says
 * REQUEST_LIMIT_EXCEEDED, but "too many requests now" is not the spent daily limit (403), and clears.
 */
export function isTransientCallError(error: unknown): boolean {
  if (!isForceflowError(error)) return false;
  if (error.code === 'SF_UNAVAILABLE') return true;
  return (error.details as { status?: number }).status === 429;
}

/**
 * The waits between sends of records that failed for a transient reason (core/retry.ts): `rowRetries`
 * (default 3) sends again, from `rowRetryBaseMs` (default 1 s) doubling, full jitter, each wait at most 15 s.
 */
export function rowRetryPolicy(options: RowRetryOptions): RetryPolicy {
  return { retries: options.rowRetries ?? 3, baseDelayMs: options.rowRetryBaseMs ?? 1000, maxDelayMs: 15_000 };
}

/** The Retry-After (seconds) of the 429/503 answer behind a client error, if Salesforce sent one. */
export function retryAfterOf(error: unknown): number | undefined {
  return isForceflowError(error) ? (error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds : undefined;
}

/** The record of a row as sent in a Bulk CSV: `#N/A` is null, an empty cell is a key the record did not have. */
export function recordFromCells(keys: readonly string[], cells: readonly string[]): Record<string, string | null> {
  const record: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  keys.forEach((k, i) => {
    const c = cells[i] ?? '';
    if (c === '#N/A') record[k] = null;
    else if (c !== '') record[k] = c;
  });
  return record;
}
