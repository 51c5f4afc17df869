import { randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ApiUsage, WriteProgress, RunContext, SourceStream, WriteResult } from '../core/connector.ts';
import type { ConnectorRunServices } from '../core/connector-factory.ts';
import { ForceflowError, toForceflowError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/logger.ts';
import type { RecordBatch } from '../core/types.ts';
import { batchSize } from '../core/batches.ts';
import { DEFAULT_MAX_LINE_BYTES } from '../formats/input-guard.ts';
import type { InputOptions } from '../formats/types.ts';
import type { TokenProvider } from '../connectors/salesforce/auth.ts';
import type { RetryPolicy } from '../connectors/salesforce/http.ts';
import type { BulkReadOptions } from '../connectors/salesforce/bulk-source.ts';
import type { BulkSplitOptions } from '../connectors/salesforce/bulk-split.ts';
import type { SalesforceDestinationOptions } from '../connectors/salesforce/destination.ts';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import { createS3Client } from '../connectors/s3/client.ts';
import { createS3Store, stagingPrefix } from '../connectors/s3/bucket.ts';
import { createFolderStore } from '../connectors/local-file/folder.ts';
import { compileFlow, type FlowPlan } from './compile.ts';
import { manualRunNote } from './no-effect.ts';
import { preflightDestination } from './preflight.ts';
import { failRecord, mergeApiUsage, newExecutionRecord, type ExecutionRecord } from './run-record.ts';
import { onApiReserveOf } from './reserve-tag.ts';
import { defaultStateDir, openRunState, type RunResource, type RunStateStore } from './state.ts';
import { acquireFlowLock, type HeldFlowLock } from './lock.ts';
import { cleanupFlow } from './cleanup.ts';
import { incrementalRead, lookbackSecondsOf, withoutDelivered } from './lookback.ts';
import { checkFormulaRefreshOption, formulaRefreshRun, type FormulaRefreshRun, type FormulaRefreshWhen } from './formula-refresh.ts';
import { asCancellation, canceled, throwIfCanceled } from '../core/cancel.ts';

/** AppFlow's per-run cap for Salesforce sources (15 GB), our default size guard for every run. */
export const DEFAULT_MAX_BYTES = 15 * 1024 ** 3;

/** A connector profile for a name: AppFlow JSON (inline credentials) or a ready token provider. */
export interface ResolvedProfile {
  readonly profile: unknown;
  readonly tokens?: TokenProvider;
}
export type ProfileResolver = (connectorProfileName: string | undefined, side: 'source' | 'destination') => Promise<ResolvedProfile>;

export interface Progress {
  readonly recordsRead: number;
  readonly recordsWritten: number;
  readonly bytesProcessed: number;
  readonly api: string | null;
  readonly estimatedCount?: number;
}

/** How to run a plan (runPlan); runFlow takes the same, plus the definition. */
export interface RunPlanOptions {
  /** Connector profiles by name (AppFlow CreateConnectorProfile JSON), or a resolver. */
  readonly profiles?: Readonly<Record<string, unknown>> | ProfileResolver;
  readonly log?: Logger;
  /** Cancels the run: it ends Canceled, Bulk jobs are aborted, nothing half-written looks complete. */
  readonly signal?: AbortSignal;
  /** S3 client (default: the AWS SDK chain, honouring AWS_ENDPOINT_URL_S3). */
  readonly s3Client?: S3Client;
  /** Size guard in bytes read from the source (default 15 GB, like AppFlow). */
  readonly maxBytes?: number;
  readonly executionId?: string;
  readonly now?: () => Date;
  readonly onProgress?: (progress: Progress) => void;
  /**
   * Run state: run history, incremental windows, the per-flow lock (never two runs of one flow at once) and
   * the cleanup of interrupted runs. Without it, an incremental flow uses the CLI's state folder
   * ($FORCEFLOW_HOME, else ~/.forceflow), so library and CLI runs share windows and the lock; any other flow
   * runs without state (no history, no lock).
   */
  readonly state?: RunStateStore;
  /**
   * Who starts the run: `manual` (default: forceflow run, a library call) or `schedule` (a scheduler firing the
   * flow's schedule). A Scheduled flow started by hand runs once; its record and log say so.
   */
  readonly startedBy?: 'manual' | 'schedule';
  /**
   * Invalid UTF-8 in CSV and JSON lines input files: 'error' (default) fails the run with INPUT_INVALID naming
   * the file, line and byte; 'replace' reads U+FFFD and counts it in executionResult.invalidUtf8Replacements.
   */
  readonly invalidUtf8?: 'error' | 'replace';
  /** Longest line of a JSON lines input file, in bytes (default 64 MiB); a longer one fails the run with INPUT_INVALID. */
  readonly maxLineBytes?: number;
  /** Longest record of a CSV input file, in bytes (default 64 MiB); a longer one fails the run with INPUT_INVALID. */
  readonly maxRecordBytes?: number;
  /** How long to wait for the flow's lock when another run holds it (ms; Infinity: until `signal` aborts). Default 0: FLOW_LOCKED at once. */
  readonly lockWaitMs?: number;
  /** The lock's lease (ms, default 60 s): a holder on another host that stops its heartbeat this long is taken over. */
  readonly lockLeaseMs?: number;
  /**
   * Called once the run holds its lock and is recorded InProgress: `endByForce` records it Canceled and releases
   * the lock (with SQLite, before it returns), for a process about to exit without waiting for the run to stop.
   */
  readonly onStarted?: (run: StartedRun) => void;
  /**
   * Incremental runs: the lookback in seconds, over the flow's `forceflow:lookbackSeconds` tag (docs/flows.md).
   * Each window starts this long before the previous end; records already delivered are not delivered again.
   */
  readonly lookbackSeconds?: number;
  /** The lookback of incremental flows without the tag (a service's setting); default 0. */
  readonly defaultLookbackSeconds?: number;
  /**
   * The formula refresh of a flow with the `forceflow:formulaRefresh` tag (docs/flows.md, "Formula refresh"):
   * `due` (default) when the tag says so, `now` this run whatever the tag's schedule, `skip` not this run.
   */
  readonly formulaRefresh?: FormulaRefreshWhen;
  /** The Salesforce connector's options (the same as connectors.Salesforce). */
  readonly salesforce?: {
    readonly retry?: RetryPolicy; readonly bulk?: BulkReadOptions; readonly maxRestUrlLength?: number; readonly destination?: SalesforceDestinationOptions;
    /** The API reserve of the orgs the run calls, over their profiles' (docs/salesforce-budget.md). */
    readonly apiReserve?: string | number;
    /** The API reserve of orgs whose profile sets none (a service's setting). */
    readonly defaultApiReserve?: string | number;
    /** Parallel Bulk reads of big objects (docs/flows.md, "Parallel Bulk reads"), over the flow's tags. */
    readonly split?: Partial<BulkSplitOptions>;
  };
  /** Options for connectors by connectorType, each as its connector defines them (ConnectorRunServices.options). */
  readonly connectors?: Readonly<Record<string, unknown>>;
}

export interface RunFlowOptions extends RunPlanOptions {
  /** The flow definition: AppFlow CreateFlow JSON (parsed, or its text), validated and compiled here. */
  readonly flow: unknown;
  /** The flow file's path: relative paths resolve from its folder, and messages name it. */
  readonly flowFile?: string;
  /** The connectors a flow may name (default: defaultRegistry()). */
  readonly registry?: ConnectorRegistry;
}

async function profileFor(options: RunPlanOptions, name: string | undefined, side: 'source' | 'destination'): Promise<ResolvedProfile> {
  const p = options.profiles;
  if (typeof p === 'function') return p(name, side);
  const entries = Object.entries(p ?? {});
  // Own keys only: a flow naming its profile "constructor" must not find Object.prototype's.
  if (name !== undefined && p && Object.prototype.hasOwnProperty.call(p, name)) return { profile: p[name] };
  if (name === undefined && entries.length === 1) return { profile: (entries[0] as [string, unknown])[1] };
  throw new ForceflowError('PROFILE_NOT_FOUND', `The flow's ${side} names connector profile "${name ?? '(none)'}", which was not given. Pass it with --profile <file.json>, or create it with "forceflow profiles create".`, {
    details: { connectorProfileName: name ?? null, side },
  });
}

/** The input options of a run, checked (library callers get the CLI's checks): CONFIG_INVALID names the bad one. */
export function inputOptions(options: Pick<RunPlanOptions, 'invalidUtf8' | 'maxLineBytes' | 'maxRecordBytes'>): InputOptions {
  const { invalidUtf8, maxLineBytes, maxRecordBytes } = options;
  if (invalidUtf8 !== undefined && invalidUtf8 !== 'error' && invalidUtf8 !== 'replace') {
    throw new ForceflowError('CONFIG_INVALID', `invalidUtf8 is ${JSON.stringify(invalidUtf8)}; use "error" (the default: refuse the file) or "replace" (read U+FFFD and count it).`, { details: { option: 'invalidUtf8' } });
  }
  for (const [name, value] of [['maxLineBytes', maxLineBytes], ['maxRecordBytes', maxRecordBytes]] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new ForceflowError('CONFIG_INVALID', `${name} is ${String(value)}; it must be a whole number of bytes, at least 1 (the default is ${DEFAULT_MAX_LINE_BYTES}).`, { details: { option: name } });
    }
  }
  return {
    ...(invalidUtf8 === undefined ? {} : { invalidUtf8 }),
    ...(maxLineBytes === undefined ? {} : { maxLineBytes }),
    ...(maxRecordBytes === undefined ? {} : { maxRecordBytes }),
  };
}

export interface StartedRun {
  readonly flowName: string;
  readonly executionId: string;
  /** Record the run Canceled (with `message`) and release its lock; its staging and Bulk jobs are left for the next run's cleanup. */
  endByForce(message: string): Promise<ExecutionRecord>;
}

/** Turn a source's batches into transformed batches, counting and guarding as they pass. */
async function* transformed(
  plan: FlowPlan,
  stream: SourceStream,
  record: ExecutionRecord,
  options: RunPlanOptions,
  ctx: RunContext,
  maxBytes: number,
): AsyncGenerator<RecordBatch> {
  let read = 0;
  let estimatedBytes = 0;
  for await (const batch of stream.batches) {
    throwIfCanceled(ctx.signal);
    // Counted as read before the tasks run, so that a batch a TerminateFlow validation stops in counts.
    const firstIndex = read;
    const size = batchSize(batch);
    read += size;
    if (!stream.bytesRead) estimatedBytes += batch.encoded === undefined ? Buffer.byteLength(JSON.stringify(batch.rows)) : batch.encoded.bytes.length;
    const r = record.executionResult;
    r.recordsProcessed = read;
    r.bytesProcessed = stream.bytesRead ? stream.bytesRead() : estimatedBytes;
    const result = plan.transform(batch, { firstIndex });
    r.recordsFiltered += result.filtered;
    r.recordsDropped += result.dropped;
    r.maxPageSize = Math.max(r.maxPageSize, size);
    options.onProgress?.({ recordsRead: read, recordsWritten: r.recordsWritten, bytesProcessed: r.bytesProcessed, api: record.sourceDataTransferApi, ...(stream.estimatedCount === undefined ? {} : { estimatedCount: stream.estimatedCount }) });
    // A read split into parallel jobs is guarded per job (its largest job's bytes; docs/flows.md, "Parallel Bulk reads").
    const guarded = stream.guardedBytes ? stream.guardedBytes() : r.bytesProcessed;
    if (guarded > maxBytes) {
      const what = stream.guardedBytes ? `One job of the split read read ${guarded} bytes` : `The run read ${r.bytesProcessed} bytes`;
      throw new ForceflowError('RUN_SIZE_LIMIT', `${what}, more than its size guard of ${maxBytes} bytes. Split the flow with filters, or raise the guard (--max-bytes).`, {
        details: { bytesProcessed: r.bytesProcessed, maxBytes, ...(stream.guardedBytes ? { jobBytes: guarded } : {}) },
      });
    }
    if (batchSize(result.batch) > 0) yield result.batch;
  }
  // A source may end its stream early when the run is cancelled: that is never the whole input, so the
  // destination must not finish (publish, or report a partial write as complete).
  throwIfCanceled(ctx.signal);
}

/**
 * Validate and compile a flow definition (compileFlow), then run the plan once (runPlan) and return its
 * execution record.
 *
 * Definition problems throw (FLOW_INVALID, with every problem and its JSON path). Once the run has
 * started, failures are recorded, not thrown: the record's executionStatus is Error or Canceled and
 * `error` carries the catalogued code.
 *
 * @example
 * import { runFlow } from 'forceflow';
 * const record = await runFlow({ flow: JSON.parse(readFileSync('flow.json', 'utf8')), flowFile: 'flow.json', profiles: { 'my-org': profileJson } });
 * console.log(record.executionStatus, record.executionResult.recordsProcessed);
 */
export async function runFlow(options: RunFlowOptions): Promise<ExecutionRecord> {
  const now = options.now ?? (() => new Date());
  const plan = compileFlow(options.flow, {
    baseDir: options.flowFile ? dirname(resolve(options.flowFile)) : process.cwd(),
    now: now(),
    ...(options.flowFile === undefined ? {} : { source: options.flowFile }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  });
  return runPlan(plan, options);
}

/**
 * Run a compiled plan once and return its execution record. The plan is used as it is (never validated or
 * compiled again): its connectors, base folder, incremental settings, steps and schema version.
 *
 * @example
 * import { compileFlow, runPlan } from 'forceflow';
 * const plan = compileFlow(definition, { baseDir: '/flows' });
 * const record = await runPlan(plan, { profiles: { 'my-org': profileJson }, state });
 */
export async function runPlan(plan: FlowPlan, options: RunPlanOptions = {}): Promise<ExecutionRecord> {
  const now = options.now ?? (() => new Date());
  inputOptions(options); // checked before the run takes its lock
  lookbackSecondsOf(plan.definition, options);
  checkFormulaRefreshOption(plan, options.formulaRefresh);
  const executionId = options.executionId ?? randomUUID();
  // The run's child logger (flow, executionId) is the only logger its components get, Salesforce clients included.
  const log = (options.log ?? silentLogger()).child({ flow: plan.flowName, executionId });
  // An incremental flow without a state store would pull its first window every time: use the CLI's folder.
  let state = options.state;
  const ownState = state === undefined && plan.incremental !== undefined;
  if (ownState) {
    const dir = defaultStateDir();
    state = openRunState(dir);
    log.info({ stateDir: dir }, 'incremental flow without a state store: using the default state folder');
  }
  try {
    return await runWithState(options, plan, { executionId, log, now, ...(state ? { state } : {}) });
  } finally {
    if (ownState) state?.close();
  }
}

interface RunSetup {
  readonly executionId: string;
  readonly log: Logger;
  readonly now: () => Date;
  readonly state?: RunStateStore;
}

async function runWithState(options: RunPlanOptions, plan: FlowPlan, setup: RunSetup): Promise<ExecutionRecord> {
  const { executionId, log, now, state } = setup;
  let s3: S3Client | undefined = options.s3Client;
  const s3Client = (): S3Client => (s3 ??= createS3Client());
  const lockLost = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, lockLost.signal]) : lockLost.signal;
  const ctx: RunContext = { log, signal, now };
  let lock: HeldFlowLock | undefined;
  if (state) {
    // Throws FLOW_LOCKED (or RUN_CANCELED while waiting): the run has not started, so nothing is recorded.
    lock = await acquireFlowLock({
      state, flowName: plan.flowName, executionId, log, now,
      ...(options.lockWaitMs === undefined ? {} : { waitMs: options.lockWaitMs }),
      ...(options.lockLeaseMs === undefined ? {} : { leaseMs: options.lockLeaseMs }),
      ...(options.signal ? { signal: options.signal } : {}),
      onLost: () => lockLost.abort(),
    });
  }
  // The run starts once it holds the lock (after any wait): its window ends from here.
  const startedAt = now();
  const record = newExecutionRecord(plan.flowName, executionId, startedAt);
  try {
    if (state) {
      // Holding the lock, no other run of this flow can be alive: any run still InProgress was interrupted.
      await cleanupFlow(plan.flowName, {
        state, log, now, s3Client, signal,
        profile: (name) => profileFor(options, name ?? undefined, 'source'),
      }, { executionId, by: `run ${executionId}` }).catch((error: unknown) => log.warn({ err: (error as Error).message }, 'could not clean up after interrupted runs'));
      await state.saveRun(record);
      options.onStarted?.({
        flowName: plan.flowName,
        executionId,
        async endByForce(message) {
          failRecord(record, canceled(message), now());
          await Promise.all([state.saveRun(record), lock?.release()]);
          return record;
        },
      });
    }
    return await execute(options, plan, { ...setup, startedAt, record, signal, ctx, s3Client, lockLost: lockLost.signal });
  } finally {
    await lock?.release().catch((error: unknown) => log.warn({ err: (error as Error).message }, 'could not release the flow lock'));
  }
}

interface ExecuteSetup extends RunSetup {
  readonly startedAt: Date;
  readonly record: ExecutionRecord;
  readonly signal: AbortSignal;
  readonly ctx: RunContext;
  readonly s3Client: () => S3Client;
  readonly lockLost: AbortSignal;
}

async function execute(options: RunPlanOptions, plan: FlowPlan, setup: ExecuteSetup): Promise<ExecutionRecord> {
  const { executionId, startedAt, record, log, now, state, signal, ctx, s3Client } = setup;
  const resource = async (r: RunResource): Promise<void> => {
    await state?.addRunResource(executionId, plan.flowName, r, now());
  };
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const input = inputOptions(options);
  let sourceApiCalls: (() => number) | undefined;
  let sourceSplit: SourceStream['split'];
  let sourceReplacements: (() => number) | undefined;
  let destinationApiCalls: (() => number) | undefined;
  let sourceApiUsage: (() => ApiUsage | undefined) | undefined;
  let destinationApiUsage: (() => ApiUsage | undefined) | undefined;
  // What the destination had written when its write stopped part-way (it tells, through WriteOptions.onProgress).
  let progress: WriteProgress | undefined;
  // The formula refresh of an incremental flow with its tag (src/flows/formula-refresh.ts).
  let refresh: FormulaRefreshRun | undefined;

  log.info({ source: plan.source.connectorType, destination: plan.destination.connectorType, steps: plan.steps }, 'run started');
  // Nothing accepted and ignored goes unsaid: a Scheduled flow run by hand runs once, and fields without
  // effect are named (src/flows/no-effect.ts).
  record.startedBy = options.startedBy ?? 'manual';
  const manual = record.startedBy === 'manual' ? manualRunNote(plan.definition, startedAt) : undefined;
  if (manual !== undefined) {
    record.notes.push(manual);
    log.warn({ scheduleExpression: plan.trigger.schedule?.expression }, manual);
  }
  for (const notice of plan.notices) {
    record.notes.push(notice);
    log.warn(notice);
  }
  try {
    // Incremental window (src/flows/lookback.ts): from the last successful run's end minus the lookback, or
    // AppFlow's first-run rule; its end is the source's (Salesforce's clock, or the newest file).
    refresh = await formulaRefreshRun({ plan, state, executionId, startedAt, log, ...(options.formulaRefresh === undefined ? {} : { when: options.formulaRefresh }) });
    if (refresh) record.formulaRefresh = refresh.record;
    const incremental = plan.incremental
      ? await incrementalRead({
        incremental: plan.incremental, read: refresh?.read(plan.read) ?? plan.read, files: plan.connectors.source.capabilities.incremental === 'files',
        state, flowName: plan.flowName, executionId, startedAt, lookbackSeconds: lookbackSecondsOf(plan.definition, options),
      })
      : undefined;
    const read = incremental?.read ?? plan.read;
    if (incremental) record.dataPullStartTime = incremental.from ?? null;

    await preflightDestination(plan, s3Client);

    // The connectors, resolved when the plan was compiled, build the source and destination from their parts of it.
    const connectorOptions: Readonly<Record<string, unknown>> = { ...(options.salesforce ? { Salesforce: options.salesforce } : {}), ...options.connectors };
    const scoped = new Map<string, unknown>();
    const runScoped = <T>(key: string, create: () => T): T => {
      if (!scoped.has(key)) scoped.set(key, create());
      return scoped.get(key) as T;
    };
    const services = (side: 'source' | 'destination'): ConnectorRunServices => {
      const part = plan[side];
      return {
        ctx, flowName: plan.flowName, executionId, baseDir: plan.baseDir, input, s3Client,
        ...(plan.definition.kmsArn === undefined ? {} : { kmsArn: plan.definition.kmsArn }),
        profile: () => profileFor(options, part.connectorProfileName, side),
        recordResource: resource,
        options: connectorOptions[part.connectorType],
        runScoped,
      };
    };
    const source = await plan.connectors.source.createSource?.(plan.source, services('source'));
    if (source === undefined) throw new ForceflowError('CONFIG_INVALID', `Connector ${plan.source.connectorType} cannot be a flow's source.`, { details: { connectorType: plan.source.connectorType } });
    let alreadyDelivered = 0;
    // An incremental flow may opt in to an early stop at the org's API reserve (docs/salesforce-budget.md).
    const stopEarly = incremental !== undefined && onApiReserveOf(plan.definition) === 'stop';
    sourceApiUsage = source.apiUsage ? () => source.apiUsage?.() : undefined;
    const opened = await source.open({ ...read, maxBytes, ...(stopEarly ? { stopEarly } : {}) }, ctx);
    let stream = await withoutDelivered(opened, incremental, ctx, (n) => { alreadyDelivered += n; });
    if (refresh) stream = await refresh.wrap(stream, source, { ...read, ...(stopEarly ? { stopEarly } : {}) }, ctx);
    sourceApiCalls = stream.apiCalls;
    sourceSplit = stream.split;
    sourceReplacements = stream.invalidUtf8Replacements;
    if (stream.window) record.dataPullEndTime = stream.window.to;
    record.sourceDataTransferApi = stream.api ?? null;
    record.sourceDataTransferApiReason = stream.apiReason ?? null;

    // Destination
    const outputSchema = plan.outputSchema(stream.schema);
    // The definition's own schemaVersion (describe-flow output) wins; else the local history numbers it 1, 2, ...
    const schemaVersion = plan.schemaVersion ?? (state ? await state.schemaVersion(plan.flowName, plan.schemaFingerprint) : 1);
    const eh = plan.errorHandling;
    // The failed-records file goes through the same files layer as outputs, into the store that holds it. A local
    // folder gets its own staging folder: publishing must not sweep away another writer's staged files of the run.
    const errorStaging = `${executionId}-errors`;
    const errorTarget = eh.bucketName !== undefined
      ? async () => {
        await resource({ kind: 'S3_STAGING', bucket: eh.bucketName as string, prefix: stagingPrefix(eh.bucketPrefix, executionId) });
        return createS3Store({ client: s3Client(), bucketName: eh.bucketName as string, bucketPrefix: eh.bucketPrefix, executionId, ...(plan.definition.kmsArn === undefined ? {} : { kmsKeyId: plan.definition.kmsArn }) });
      }
      : eh.localPath !== undefined
        ? async () => {
          const folder = resolve(plan.baseDir, eh.localPath as string);
          await resource({ kind: 'LOCAL_STAGING', path: join(folder, '_temporary', errorStaging) });
          return createFolderStore({ path: folder, executionId: errorStaging });
        }
        : undefined;
    const destination = await plan.connectors.destination.createDestination?.(plan.destination, services('destination'), {
      // Map_all copies whatever columns each input has: files whose columns differ (a later CSV with one more
      // column, JSON lines gaining a key) must not be cut to the first one's, so the writer follows each batch's
      // columns (a new file, with its own header, when they change). Otherwise every batch has the same columns.
      schemaVersion, startedAt, ...(plan.mapAll ? {} : { outputSchema }), partitionKeys: plan.partitionKeys, errorHandling: eh,
      ...(errorTarget ? { errorTarget } : {}),
      ...(state?.writeJournal ? { writeJournal: state.writeJournal } : {}),
      ...(stream.estimatedCount === undefined ? {} : { expectedRecords: stream.estimatedCount }),
    });
    if (destination === undefined) throw new ForceflowError('CONFIG_INVALID', `Connector ${plan.destination.connectorType} cannot be a flow's destination.`, { details: { connectorType: plan.destination.connectorType } });
    destinationApiCalls = destination.apiCalls ? () => destination.apiCalls?.() ?? 0 : undefined;
    destinationApiUsage = destination.apiUsage ? () => destination.apiUsage?.() : undefined;

    const result: WriteResult = await destination.write(transformed(plan, stream, record, options, ctx, maxBytes), ctx, { onProgress: (p) => { progress = p; } });
    // A cancel that arrives once the destination has finished (files published, records written) is too late
    // to undo anything: the run is Successful, so its outputs are listed and the incremental window advances
    // (recording it Canceled would make the next run write the same records again).
    if (signal.aborted) log.warn('cancel requested after the destination finished; the run completed');
    record.executionResult.recordsWritten = result.written;
    record.executionResult.bytesWritten = result.bytesWritten ?? 0;
    record.executionResult.errorInfo.putFailuresCount = result.failedCount ?? result.failed.length;
    record.errorFile = result.errorFile ?? null;
    record.destinationDataTransferApi = result.api ?? null;
    record.destinationDataTransferApiReason = result.apiReason ?? null;
    record.outputs = [...(result.outputs ?? [])];
    record.recovery = result.recovery ?? null;
    const stopped = opened.stoppedEarly?.();
    if (stopped) {
      // Everything stamped up to resumeFrom was delivered: the window ends there, and the next run reads on from it.
      record.dataPullEndTime = stopped.resumeFrom;
      record.notes.push(stopped.reason);
      log.warn({ resumeFrom: stopped.resumeFrom }, stopped.reason);
    }
    const refreshNote = refresh?.note();
    if (refreshNote !== undefined) record.notes.push(refreshNote);
    if (alreadyDelivered > 0) {
      record.notes.push(`${alreadyDelivered} record${alreadyDelivered === 1 ? '' : 's'} read again inside the lookback (same Id and timestamp as an earlier run delivered) ${alreadyDelivered === 1 ? 'was' : 'were'} not delivered again.`);
      log.info({ alreadyDelivered }, 'records an earlier run delivered were not delivered again');
    }
    record.executionStatus = 'Successful';
    record.lastUpdatedAt = now().toISOString();
    log.info({ records: record.executionResult.recordsProcessed, written: result.written, outputs: record.outputs.length }, 'run succeeded');
  } catch (error) {
    const e = setup.lockLost.aborted
      ? new ForceflowError('FLOW_LOCKED', `The run stopped: another run of flow "${plan.flowName}" took over its lock (this process looked dead to it), and two runs of one flow must not overlap.`, { cause: error })
      : asCancellation(error, signal) ?? toForceflowError(error);
    // What was already written when the run stopped: DESTINATION_WRITE_FAILED (the first failed record
    // stopped it), or any other error that ended a Salesforce write part-way (SF_UNAVAILABLE, a spent
    // limit, a cancel): the destination reported it as a typed value.
    if (progress) {
      if (progress.recovery) record.recovery = progress.recovery;
      record.executionResult.recordsWritten = progress.written;
      record.executionResult.errorInfo.putFailuresCount = progress.failed;
      record.errorFile = progress.errorFile;
    }
    failRecord(record, e, now());
    log.error({ code: e.code, kind: e.kind, err: e.message }, 'run failed');
  } finally {
    record.apiCalls.source = sourceApiCalls?.() ?? 0;
    record.sourceSplit = sourceSplit?.() ?? null;
    record.executionResult.invalidUtf8Replacements = sourceReplacements?.() ?? 0;
    record.apiCalls.destination = destinationApiCalls?.() ?? 0;
    record.apiUsage = mergeApiUsage([sourceApiUsage?.(), destinationApiUsage?.()]);
  }
  if (state) {
    await state.saveRun(record);
    await refresh?.settle(record).catch((error: unknown) => log.warn({ err: (error as Error).message }, 'could not keep the formula refresh state'));
    // The run ended in this process: its connectors published or discarded their staging and stopped their
    // Bulk jobs themselves, so nothing is left for a later cleanup.
    const mine = (await state.runResources(executionId)).filter((r) => r.settledAt === null).map((r) => r.id);
    if (mine.length > 0) await state.settleResources(mine, now());
  }
  return record;
}
