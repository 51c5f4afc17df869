import type { S3Client } from '@aws-sdk/client-s3';
import type { ResolvedConnectorProfile } from '../core/connector-factory.ts';
import { ForceflowError, toForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { defaultRegistry, type ConnectorRegistry } from '../connectors/registry.ts';
import type { ExecutionRecord } from './run-record.ts';
import type { RunResource, RunStateStore, StoredRunResource } from './state.ts';

/**
 * Leftovers of interrupted runs (their process was killed, crashed, or ended by force): the run is marked
 * Error with RUN_INTERRUPTED (its window is never advanced), its destination staging (`_temporary/<executionId>/`
 * on S3 or in a local folder) is removed, and its Bulk query jobs are aborted and deleted. Nothing else is
 * touched: published outputs stay, and a Salesforce write journal is not a run resource. Each resource is
 * removed by the connector that declares its kind (`resourceKinds`, `removeResource`, through the registry).
 *
 * Runs only while the flow's lock is held by the caller, so no run it cleans can still be alive.
 */
export interface CleanupDeps {
  readonly state: RunStateStore;
  readonly log: Logger;
  readonly now: () => Date;
  /** The S3 client for S3 staging (created on first use). */
  readonly s3Client: () => S3Client;
  /** A connector profile by name, for a connector whose cleanup calls its service (Bulk jobs). */
  readonly profile: (connectorProfileName: string | null) => Promise<ResolvedConnectorProfile>;
  /** Ends the connectors' cleanup calls (the cleaning run's signal); each is bounded by its connector too. */
  readonly signal?: AbortSignal;
  /** The connectors that remove resources (default: defaultRegistry()). */
  readonly registry?: ConnectorRegistry;
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

export { CLEANUP_CALL_TIMEOUT_MS } from '../core/connector-factory.ts';

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

async function cleanResource(r: StoredRunResource, deps: CleanupDeps, registry: ConnectorRegistry): Promise<void> {
  const kind = r.resource.kind;
  const connector = registry.connectors.find((c) => c.resourceKinds?.includes(kind) === true && c.removeResource !== undefined);
  if (!connector?.removeResource) throw new Error(`no registered connector removes ${kind} resources`);
  await connector.removeResource(r.resource, {
    log: deps.log, s3Client: deps.s3Client, profile: deps.profile, ...(deps.signal ? { signal: deps.signal } : {}),
  });
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
  const registry = deps.registry ?? defaultRegistry();
  for (const r of await state.pendingResources(flowName, current?.executionId)) {
    try {
      await cleanResource(r, deps, registry);
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
