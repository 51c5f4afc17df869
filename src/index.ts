/**
 * forceflow's library entry point.
 *
 * @example
 * import { runFlow, validateFlow, startEmulator } from 'forceflow';
 */
import { warnIfStaleBuild } from './core/stale-build.ts';

export { runFlow, runPlan, DEFAULT_MAX_BYTES } from './flows/runner.ts';
export type { RunFlowOptions, RunPlanOptions, ProfileResolver, ResolvedProfile, Progress } from './flows/runner.ts';
export type { ExecutionRecord, ExecutionStatus, WriteRecoveryRecord } from './flows/run-record.ts';
export type { WriteJournal, JournalExecution, JournalEntry, JournalOutcome, JournalSummary } from './connectors/salesforce/journal.ts';
export { openRunState, defaultStateDir, type RunStateStore, type RunsQuery, type FlowLockInfo, type LockOwner, type RunResource, type StoredRunResource, type WindowChange } from './flows/state.ts';
export { acquireFlowLock, holderGone, DEFAULT_LOCK_LEASE_MS, type HeldFlowLock } from './flows/lock.ts';
export { cleanupFlow, type CleanupReport } from './flows/cleanup.ts';
export type { StartedRun } from './flows/runner.ts';
export { validateFlow, checkFlow } from './flows/validate.ts';
export { compileFlow, type FlowPlan, type CompileOptions } from './flows/compile.ts';
export { createRegistry, defaultRegistry, type ConnectorRegistry } from './connectors/registry.ts';
export { loadFlowFile } from './flows/load.ts';
export { createSchedule, nextFireTime, nextFireTimes, parseScheduleExpression, parseTimezone } from './flows/schedule.ts';
export type { Schedule, ScheduleExpression } from './flows/schedule.ts';
export type { FlowDefinition } from './flows/schema.ts';
export { flowJsonSchema } from './flows/json-schema.ts';
export { connectSalesforce, parseSalesforceProfile, type ConnectOptions } from './connectors/salesforce/connect.ts';
export { createSalesforceSource } from './connectors/salesforce/source.ts';
export { select, SOURCE_BULK_THRESHOLD, DESTINATION_BULK_THRESHOLD } from './api-selection/select.ts';
export { startEmulator, CONTROL_HEADERS } from './emulator/index.ts';
export type { EmulatorOptions, EmulatorInfo, RunningEmulator } from './emulator/index.ts';
export { startLocalS3 } from './emulator/s3/local.ts';
export { createS3Client } from './connectors/s3/client.ts';
export { startService, type ServiceOptions, type RunningService, type ServiceEnv } from './service/start.ts';
export { parseServiceConfig, type ServiceConfig } from './service/config.ts';
export { ForceflowError, ERRORS, isForceflowError } from './core/errors.ts';
export type { ErrorCode, ErrorKind } from './core/errors.ts';
export { createRootLogger } from './core/logger.ts';
export type * from './core/types.ts';
export type * from './core/connector.ts';
export { defineConnector } from './core/connector-factory.ts';
export type {
  AnyConnectorFactory, CompileSideContext, CompiledDestination, CompiledSource, ConnectorCapabilities, ConnectorFactory, ConnectorPlan,
  ConnectorProblem, ConnectorRunServices, DestinationRunSettings, ErrorHandling, ResolvedConnectorProfile, WriteOperation,
} from './core/connector-factory.ts';

// Loaded from dist/ in a checkout whose src/ changed since the last build: say so (see src/core/stale-build.ts).
warnIfStaleBuild(import.meta.url);
