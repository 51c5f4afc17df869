import type { Logger } from './logger.ts';
import type { EntitySchema, RecordBatch, TransferApi, ApiPreference, ScalarValue } from './types.ts';

/** What every stage of a run receives: a child logger, the run's abort signal and a clock. */
export interface RunContext {
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly now: () => Date;
}

/**
 * A filter the source may evaluate itself (pushed down), in AppFlow's terms: one field, one operator.
 * Values are already typed by the flow compiler (datetimes as ISO strings, numbers as numbers).
 * Several filters are ANDed; several `values` of one filter are ORed.
 */
export type FilterOperator =
  | 'EQUAL_TO' | 'NOT_EQUAL_TO' | 'LESS_THAN' | 'LESS_THAN_OR_EQUAL_TO' | 'GREATER_THAN' | 'GREATER_THAN_OR_EQUAL_TO'
  | 'CONTAINS' | 'BETWEEN';

export interface PushdownFilter {
  readonly field: string;
  readonly operator: FilterOperator;
  /** EQUAL_TO, NOT_EQUAL_TO, comparisons, CONTAINS: one or more values (ORed). BETWEEN: [lower, upper]. */
  readonly values: readonly ScalarValue[];
}

export interface ReadRequest {
  readonly entity: string;
  /** Fields to read; undefined means every field of the entity (Map_all). */
  readonly fields?: readonly string[];
  /** Fields never to read (Map_all exclusions). */
  readonly excludeFields?: readonly string[];
  readonly filters?: readonly PushdownFilter[];
  readonly includeDeleted?: boolean;
  /**
   * Incremental window on a datetime field: from (exclusive) .. to (inclusive), ISO strings. When `to` is
   * absent the source sets it to its own clock minus `offsetSeconds` (Salesforce: the server's time, so a
   * local clock running ahead can never skip records), and reports it in SourceStream.window.
   */
  readonly window?: {
    readonly field: string;
    readonly from?: string;
    readonly to?: string;
    readonly offsetSeconds?: number;
    /**
     * What earlier successful runs of the flow delivered at the window's start (the lookback overlap and the
     * boundary). A file source windows by each file's LastModified / mtime: it reads files from `from`
     * inclusive, skips those the ledger holds, stages the ones it reads, and says so in SourceStream.window.
     * Other sources ignore it (the runner drops delivered records itself).
     */
    readonly ledger?: DeliveredLedger;
    /** The end of the flow's last successful window: a source that ends windows on its own data never ends one before it. */
    readonly previousEnd?: string;
  };
  readonly apiPreference?: ApiPreference;
  /**
   * The source may end the read early, at a point the next incremental run resumes from, when the org's API
   * reserve is reached (the flow's `forceflow:onApiReserve` tag is `stop`): it then reads in the window field's
   * order and reports the point in SourceStream.stoppedEarly. Only incremental reads set it.
   */
  readonly stopEarly?: boolean;
  /**
   * The flow writes the source's rows unchanged (Map_all alone, no partitions, no file size target, not
   * incremental) to CSV or JSON lines files: a source that can may give its batches as those files' lines
   * (RecordBatch.encoded), never building rows. Decided when the flow is compiled (src/flows/compile.ts).
   */
  readonly encodeAs?: 'CSV' | 'JSON';
  /**
   * The run's size guard in bytes (--max-bytes). A source that reads in parallel jobs (a split Salesforce Bulk
   * read) stops a job that passes it as the job reads; the runner checks everything else as records pass.
   */
  readonly maxBytes?: number;
}

/** The API calls a side made, by kind, and the org's budget as its last answer reported it (the run record's apiUsage). */
export interface ApiUsage {
  readonly calls: Readonly<Record<string, number>>;
  readonly org?: OrgApiBudget;
}

/** One org's daily API requests at the end of a run, with the run's reserve and estimate. */
export interface OrgApiBudget {
  readonly connectorProfileName: string;
  /** DailyApiRequests at the end of the run (the last answer's Sforce-Limit-Info). */
  readonly max: number | null;
  readonly remaining: number | null;
  /** The reserve, in calls (null without one). */
  readonly reserve: number | null;
  /** The run's estimate of its API requests (DailyApiRequests) before it started (null when the guard did not run). */
  readonly estimate: number | null;
  /** `fail` or `stop` when the reserve was reached part-way. */
  readonly stopped: 'fail' | 'stop' | null;
}

/** One delivered item: a record's Id (or a file's key) and its timestamp (epoch ms). */
export interface DeliveredKey {
  readonly id: string;
  readonly at: number;
}

/**
 * The keys a flow's earlier successful runs delivered inside the lookback span, and the run's own staging of
 * what it delivers (committed only with the run's window advance: see RunStateStore.saveRun).
 */
export interface DeliveredLedger {
  /** For each key, whether an earlier successful run delivered it. */
  delivered(keys: readonly DeliveredKey[]): Promise<boolean[]>;
  /**
   * Stage keys this run delivers in a window ending at `windowEnd` (epoch ms); only those within the lookback
   * of the end are kept. Call it (with no keys, if need be) once the end is known.
   */
  stage(keys: readonly DeliveredKey[], windowEnd: number): Promise<void>;
}

/** One job of a split read (a Salesforce Bulk query job over an Id range), as the run record shows it. */
export interface SourceSplitJob {
  readonly range: number;
  /** The range's Ids: `from` inclusive, `to` exclusive; null is open. */
  readonly from: string | null;
  readonly to: string | null;
  /** The job's id, and the ids of the jobs that ran it again after a temporary failure. */
  readonly jobIds: string[];
  status: 'pending' | 'running' | 'done' | 'failed' | 'aborted';
  /** Read ahead of the output and spooled to disk (else streamed straight through). */
  spooled: boolean;
  records: number;
  /** Bytes of its result pages: what the run's size guard counts for a split read (its largest job's). */
  bytes: number;
  pages: number;
  startedAt: string | null;
  endedAt: string | null;
  ms: number | null;
}

/** A source read split into several jobs run in parallel (docs/flows.md, "Parallel Bulk reads"). */
export interface SourceSplitRecord {
  /** Why the read was split (or, with no jobs, why not). */
  readonly reason: string;
  /** Jobs run at once. */
  readonly concurrency: number;
  /** API calls spent finding the ranges' boundaries. */
  readonly boundaryCalls: number;
  /** The size estimate the split was decided on: the COUNT, the record width from describe, their product. */
  readonly estimate?: { readonly records: number; readonly recordBytes: number; readonly bytes: number };
  readonly jobs: SourceSplitJob[];
}

/** An opened read: what was decided before the first record, then the records. */
export interface SourceStream {
  readonly schema: EntitySchema;
  /** Set by Salesforce sources; undefined for files. */
  readonly api?: TransferApi;
  readonly apiReason?: string;
  readonly estimatedCount?: number;
  readonly batches: AsyncIterable<RecordBatch>;
  /** Bytes read from the source so far (HTTP bodies, file bytes), when the source can tell. */
  readonly bytesRead?: () => number;
  /**
   * The incremental window actually applied. `deduplicated`: the source skipped what the request's ledger
   * holds and staged what it read (file sources), so the runner does not filter records itself.
   */
  readonly window?: { readonly from?: string; readonly to: string; readonly deduplicated?: boolean };
  /** API calls made so far, for Salesforce sources. */
  readonly apiCalls?: () => number;
  /** A read split into parallel jobs (Salesforce Bulk), as it stands; undefined when it was not split. */
  readonly split?: () => SourceSplitRecord | undefined;
  /**
   * The bytes the run's size guard counts, when not all of bytesRead: a split read's largest job's (the guard
   * applies per job; docs/flows.md, "Parallel Bulk reads").
   */
  readonly guardedBytes?: () => number;
  /** Invalid UTF-8 sequences replaced by U+FFFD so far (file sources read with invalidUtf8 'replace'). */
  readonly invalidUtf8Replacements?: () => number;
  /**
   * Set once the read ended early (ReadRequest.stopEarly): the window end the records delivered reach
   * (every record stamped at or before it was delivered), and why, for the run record.
   */
  readonly stoppedEarly?: () => { readonly resumeFrom: string; readonly reason: string } | undefined;
}

export interface Source {
  open(request: ReadRequest, ctx: RunContext): Promise<SourceStream>;
  /**
   * The entity's formula (calculated) fields, canonical names: values that change without the record's
   * timestamp (a source whose capabilities say `formulaRefresh`; src/flows/formula-refresh.ts).
   */
  formulaFields?(entity: string): Promise<readonly string[]>;
  /** API calls by kind and the org's budget so far (Salesforce), counted even when open or the read fails. */
  apiUsage?(): ApiUsage;
}

/** A record that failed to write, with the reason Salesforce (or the writer) gave. */
export interface RecordFailure {
  /** Zero-based position of the record in the run's input. */
  readonly index: number;
  readonly record: Readonly<Record<string, unknown>>;
  readonly errorCode: string;
  readonly message: string;
  readonly fields?: readonly string[];
}

export interface WriteResult {
  readonly written: number;
  readonly failed: readonly RecordFailure[];
  readonly bytesWritten?: number;
  readonly api?: TransferApi;
  readonly apiReason?: string;
  /** Keys or ids of what was written (files, job ids), for the run record. */
  readonly outputs?: readonly string[];
  /** Where the failed records were written (s3:// URI or path), when they were. */
  readonly errorFile?: string;
  /** Failed records in all, when `failed` holds only the first of them (the error file has every one). */
  readonly failedCount?: number;
  /** Of the failed records, those whose outcome is unknown (SF_WRITE_OUTCOME_UNKNOWN). */
  readonly unknown?: number;
  /** HTTP calls the destination made (Salesforce). */
  readonly apiCalls?: number;
  /** What this write recovered of unfinished earlier writes of the flow (Salesforce destination). */
  readonly recovery?: WriteRecovery;
}

/**
 * What a run recovered of unfinished earlier writes (Salesforce destination), as the run record lists it
 * (docs/salesforce-destination.md, "Crashes").
 */
export interface WriteRecovery {
  /** The execution ids whose writes were recovered. */
  readonly executions: readonly string[];
  /** Bulk jobs and REST calls those runs had sent, and the Bulk job ids asked about again. */
  readonly jobs: number;
  readonly calls: number;
  readonly jobIds: readonly string[];
  /** Rows they had sent: found written, found failed (in the error file), still unknown (in the error file as SF_WRITE_OUTCOME_UNKNOWN), found not written (sent by this run). */
  readonly rowsWritten: number;
  readonly rowsFailed: number;
  readonly rowsUnknown: number;
  readonly rowsResent: number;
}

/**
 * What a destination had done when its write stopped part-way (the first failed record with
 * failOnFirstDestinationError, Salesforce unavailable, a spent limit, a cancel): the run record's counts.
 */
export interface WriteProgress {
  readonly written: number;
  readonly failed: number;
  readonly errorFile: string | null;
  readonly recovery?: WriteRecovery;
}

export interface WriteOptions {
  /**
   * Told what was already written when the write ends with an error after writing or failing records
   * (a typed value, so the runner never reads it off the error).
   */
  readonly onProgress?: (progress: WriteProgress) => void;
}

export interface Destination {
  write(batches: AsyncIterable<RecordBatch>, ctx: RunContext, options?: WriteOptions): Promise<WriteResult>;
  /** HTTP calls made so far (Salesforce), counted even when the write fails. */
  apiCalls?(): number;
  /** API calls by kind and the org's budget (Salesforce). */
  apiUsage?(): ApiUsage;
}
