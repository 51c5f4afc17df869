import { rm, rmdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ForceflowError, toForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { SalesforceClient } from '../connectors/salesforce/http.ts';
import type { ExecutionRecord } from './run-record.ts';
import type { RunResource, RunStateStore, StoredRunResource } from './state.ts';

/**
 * Leftovers of interrupted runs (their process was killed, crashed, or ended by force): the run is marked
 * Error with RUN_INTERRUPTED (its window is never advanced), its destination staging (`_temporary/<executionId>/`
 * on S3 or in a local folder) is removed, and its Bulk query jobs are aborted and deleted. Nothing else is
 * touched: published outputs stay, and a Salesforce write journal is not a run resource.
 *
 * Runs only while the flow's lock is held by the caller, so no run it cleans can still be alive.
 */
export interface CleanupDeps {
  readonly state: RunStateStore;
  readonly log: Logger;
  readonly now: () => Date;
  /** The S3 client for S3 staging (created on first use). */
  readonly s3Client: () => S3Client;
  /**
   * A Salesforce client for a connector profile name, to abort and delete Bulk query jobs. Its calls end when
   * `signal` aborts (a bound on each cleanup, so an unresponsive org cannot hold up the run that cleans up).
   */
  readonly salesforce: (connectorProfileName: string | null, apiVersion: string | undefined, signal: AbortSignal) => Promise<SalesforceClient>;
}

export interface CleanupReport {
  /** Runs marked Error (RUN_INTERRUPTED). */
  readonly interrupted: string[];
  /** Resources removed, by run. */
  readonly cleaned: Array<{ executionId: string; resource: RunResource }>;
  /** Resources that could not be removed (kept, tried again next time), with the reason. */
  readonly failed: Array<{ executionId: string; resource: RunResource; error: string }>;
}

export function interruptedMessage(by: string | null): string {
  return `The run was interrupted: its process ended without finishing (killed, crashed, or ended by force)${by ? `; found by ${by}` : ''}. Its staged output was discarded, its Bulk query jobs stopped, and its incremental window was not advanced.`;
}

/** How long one Bulk job's cleanup may take before it is left for the next time. */
export const CLEANUP_CALL_TIMEOUT_MS = 30_000;

/** Mark a run that can no longer be running as Error RUN_INTERRUPTED (its window is never advanced). */
export function markInterrupted(record: ExecutionRecord, now: Date, by: string | null): ExecutionRecord {
  const error = new ForceflowError('RUN_INTERRUPTED', interruptedMessage(by));
  return {
    ...record,
    executionStatus: 'Error',
    lastUpdatedAt: now.toISOString(),
    executionResult: { ...record.executionResult, errorInfo: { ...record.executionResult.errorInfo, executionMessage: error.message } },
    error: { code: error.code, kind: error.kind, message: error.message },
  };
}

async function removeLocalStaging(path: string): Promise<void> {
  // Only ever a run's own staging folder: a damaged state database must not make cleanup remove anything else.
  if (basename(dirname(path)) !== '_temporary') throw new Error(`${path} is not a staging folder (…/_temporary/<executionId>)`);
  await rm(path, { recursive: true, force: true });
  await rmdir(dirname(path)).catch(() => undefined); // only when empty
}

async function removeS3Staging(client: S3Client, bucket: string, prefix: string): Promise<void> {
  if (!/(^|\/)_temporary\/[^/]+\/$/.test(prefix)) throw new Error(`s3://${bucket}/${prefix} is not a staging prefix (…/_temporary/<executionId>/)`);
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key ?? '' })).filter((k) => k.Key !== '');
    if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
}

async function stopBulkQueryJob(client: SalesforceClient, jobId: string, log: Logger): Promise<void> {
  const gone = (error: unknown): boolean => (error as ForceflowError).details?.['status'] === 404;
  let state: string | undefined;
  try {
    state = (await client.json<{ state: string }>({ method: 'GET', path: `/jobs/query/${jobId}`, call: `read Bulk query job ${jobId}` })).state;
  } catch (error) {
    if (gone(error)) return;
    throw error;
  }
  if (state === 'UploadComplete' || state === 'InProgress') {
    await client.send({ method: 'PATCH', path: `/jobs/query/${jobId}`, json: { state: 'Aborted' }, call: `abort Bulk query job ${jobId}` }).catch((error: unknown) => {
      if (!gone(error)) throw error;
    });
  }
  await client.send({ method: 'DELETE', path: `/jobs/query/${jobId}`, call: `delete Bulk query job ${jobId}` }).catch((error: unknown) => {
    if (!gone(error)) throw error;
  });
  log.info({ jobId, state }, 'bulk query job of an interrupted run stopped and deleted');
}

async function cleanResource(r: StoredRunResource, deps: CleanupDeps): Promise<void> {
  const res = r.resource;
  if (res.kind === 'LOCAL_STAGING') await removeLocalStaging(res.path);
  else if (res.kind === 'S3_STAGING') await removeS3Staging(deps.s3Client(), res.bucket, res.prefix);
  else await stopBulkQueryJob(await deps.salesforce(res.connectorProfileName, res.apiVersion, AbortSignal.timeout(CLEANUP_CALL_TIMEOUT_MS)), res.jobId, deps.log);
}

/**
 * Clean up after a flow's interrupted runs. The caller holds the flow's lock; `current` (the caller's own run,
 * if any) is left alone. Failures to remove a resource are reported and kept for the next time, never thrown.
 */
export async function cleanupFlow(flowName: string, deps: CleanupDeps, current?: { executionId: string; by?: string }): Promise<CleanupReport> {
  const { state, log } = deps;
  const report: CleanupReport = { interrupted: [], cleaned: [], failed: [] };
  for (const run of await state.unfinishedRuns(flowName)) {
    if (run.executionId === current?.executionId) continue;
    await state.saveRun(markInterrupted(run, deps.now(), current?.by ?? null));
    report.interrupted.push(run.executionId);
    log.warn({ interruptedExecutionId: run.executionId, startedAt: run.startedAt }, 'an earlier run of this flow was interrupted; marked Error (RUN_INTERRUPTED)');
  }
  const settled: number[] = [];
  for (const r of await state.pendingResources(flowName, current?.executionId)) {
    try {
      await cleanResource(r, deps);
      settled.push(r.id);
      report.cleaned.push({ executionId: r.executionId, resource: r.resource });
    } catch (error) {
      const message = toForceflowError(error).message;
      await state.noteResourceError(r.id, message);
      report.failed.push({ executionId: r.executionId, resource: r.resource, error: message });
      log.warn({ executionId: r.executionId, resource: r.resource, err: message }, 'could not clean up after an interrupted run; will try again next time');
    }
  }
  if (settled.length > 0) await state.settleResources(settled, deps.now());
  if (report.cleaned.length > 0) log.info({ cleaned: report.cleaned.length }, 'cleaned up after interrupted runs');
  return report;
}
