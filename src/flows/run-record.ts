import type { ForceflowError } from '../core/errors.ts';
import type { TransferApi } from '../core/types.ts';
import type { ApiUsage, OrgApiBudget, SourceSplitRecord, WriteRecovery } from '../core/connector.ts';

/** AppFlow's execution statuses. */
export type ExecutionStatus = 'InProgress' | 'Successful' | 'Error' | 'CancelStarted' | 'Canceled';

/**
 * The record of one run: AppFlow's ExecutionRecord fields (DescribeFlowExecutionRecords), plus what
 * AppFlow leaves out: which Salesforce API each side used and why, filtered and dropped counts, the files
 * written, the error file, and API calls. Timestamps are ISO-8601 UTC strings. Never holds a secret.
 */
export interface ExecutionRecord {
  readonly flowName: string;
  readonly executionId: string;
  executionStatus: ExecutionStatus;
  readonly startedAt: string;
  lastUpdatedAt: string;
  /** The incremental window actually used (null for full transfers). */
  dataPullStartTime: string | null;
  dataPullEndTime: string | null;
  readonly executionResult: {
    errorInfo: { putFailuresCount: number; executionMessage: string | null };
    recordsProcessed: number;
    bytesProcessed: number;
    bytesWritten: number;
    numParallelProcesses: number;
    maxPageSize: number;
    /** Records removed by Filter tasks evaluated in the engine. */
    recordsFiltered: number;
    /** Records removed by Validate tasks with DropRecord. */
    recordsDropped: number;
    /** Records accepted by the destination. */
    recordsWritten: number;
    /**
     * Invalid UTF-8 sequences in CSV / JSON lines input files read as U+FFFD (only with invalidUtf8 "replace";
     * otherwise such a file fails the run and this stays 0).
     */
    invalidUtf8Replacements: number;
  };
  /** REST_SYNC or BULKV2 when the source is Salesforce, else null. */
  sourceDataTransferApi: TransferApi | null;
  sourceDataTransferApiReason: string | null;
  destinationDataTransferApi: TransferApi | null;
  destinationDataTransferApiReason: string | null;
  /** Files or objects written (S3 keys as s3://bucket/key, local paths). */
  outputs: string[];
  /** Where failed records were written, if any. */
  errorFile: string | null;
  /** HTTP calls made to Salesforce by each side. */
  apiCalls: { source: number; destination: number };
  /**
   * The API calls both sides made, by kind (limits, describe, restQuery, bulkQuery, restWrite, bulkIngest,
   * other), and each org's daily API requests at the end of the run with the reserve and the run's estimate
   * (docs/salesforce-budget.md). Empty for runs that call no API.
   */
  apiUsage: { calls: Record<string, number>; orgs: OrgApiBudget[] };
  /**
   * A Salesforce Bulk read split into parallel query jobs over Id ranges (docs/flows.md, "Parallel Bulk reads"):
   * why, the ranges, each job's ids, records, status and timings; null when the read was one job or not Bulk.
   */
  sourceSplit: SourceSplitRecord | null;
  /** The catalogued error that ended the run, if any. */
  error: { code: string; kind: string; message: string } | null;
  /**
   * How the run was started: `manual` (forceflow run, runFlow) or `schedule` (a fire of the flow's schedule).
   * A Scheduled flow started by hand runs once, and `notes` says so.
   */
  startedBy: 'manual' | 'schedule';
  /**
   * What the user must know about this run that is not an error, one sentence each: a Scheduled flow run once
   * by hand, and the accepted fields of the flow that have no effect (docs/flows.md). Empty when none.
   */
  notes: string[];
  /**
   * Salesforce destination: the writes of earlier runs of this flow that did not finish (killed, crashed), which
   * this run recovered from the write journal before sending anything; null when there were none.
   */
  recovery: WriteRecoveryRecord | null;
  /**
   * The formula refresh of an incremental flow with the `forceflow:formulaRefresh` tag (docs/flows.md, "Formula
   * refresh"): whether this run refreshed, why, and what it re-read and delivered. Absent without the tag.
   */
  formulaRefresh?: FormulaRefreshRecord;
}

/** What a run's formula refresh did (ExecutionRecord.formulaRefresh). */
export interface FormulaRefreshRecord {
  /** The tag's value: `every:N` or `interval:DURATION`. */
  readonly setting: string;
  /** Whether this run re-read every record's formula fields. */
  refreshed: boolean;
  /** Why it refreshed or not, in a sentence. */
  reason: string;
  /** The formula fields of the object the flow reads (what is compared). */
  fields: string[];
  /** Records the refresh read again (0 when it did not refresh). */
  recordsRead: number;
  /** Of those, records whose formula values differ from what the flow last delivered: delivered as updates. */
  changed: number;
  /** Of those, records the flow never delivered since the tag was set: their values recorded, not delivered. */
  baseline: number;
  /** Of those, records changed since the window's end: left to the next window, which delivers them. */
  deferred: number;
  /** Salesforce calls the refresh read made (included in apiCalls.source). */
  apiCalls: number;
}

/** What a run recovered of unfinished earlier writes: the destination's {@link WriteRecovery}, as recorded. */
export type WriteRecoveryRecord = WriteRecovery;

export function newExecutionRecord(flowName: string, executionId: string, startedAt: Date): ExecutionRecord {
  const iso = startedAt.toISOString();
  return {
    flowName,
    executionId,
    executionStatus: 'InProgress',
    startedAt: iso,
    lastUpdatedAt: iso,
    dataPullStartTime: null,
    dataPullEndTime: null,
    executionResult: {
      errorInfo: { putFailuresCount: 0, executionMessage: null },
      recordsProcessed: 0,
      bytesProcessed: 0,
      bytesWritten: 0,
      numParallelProcesses: 1,
      maxPageSize: 0,
      recordsFiltered: 0,
      recordsDropped: 0,
      recordsWritten: 0,
      invalidUtf8Replacements: 0,
    },
    sourceDataTransferApi: null,
    sourceDataTransferApiReason: null,
    destinationDataTransferApi: null,
    destinationDataTransferApiReason: null,
    outputs: [],
    errorFile: null,
    apiCalls: { source: 0, destination: 0 },
    apiUsage: { calls: {}, orgs: [] },
    sourceSplit: null,
    error: null,
    startedBy: 'manual',
    notes: [],
    recovery: null,
  };
}

export function failRecord(record: ExecutionRecord, error: ForceflowError, now: Date): void {
  record.executionStatus = error.code === 'RUN_CANCELED' ? 'Canceled' : 'Error';
  record.executionResult.errorInfo.executionMessage = error.message.slice(0, 2048);
  record.error = { code: error.code, kind: error.kind, message: error.message };
  record.lastUpdatedAt = now.toISOString();
}

/** Both sides' API usage as the record keeps it: calls summed by kind, one entry per org (the later side's figure wins). */
export function mergeApiUsage(usages: ReadonlyArray<ApiUsage | undefined>): ExecutionRecord['apiUsage'] {
  const calls: Record<string, number> = {};
  const orgs = new Map<string, OrgApiBudget>();
  for (const u of usages) {
    if (!u) continue;
    for (const [kind, n] of Object.entries(u.calls)) calls[kind] = (calls[kind] ?? 0) + n;
    if (u.org) orgs.set(u.org.connectorProfileName, u.org);
  }
  return { calls, orgs: [...orgs.values()] };
}
