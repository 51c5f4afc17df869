import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { PushdownFilter, ReadRequest } from '../core/connector.ts';
import type { EntitySchema, FieldType } from '../core/types.ts';
import type { AnyConnectorFactory, ConnectorPlan, ErrorHandling } from '../core/connector-factory.ts';
import { defaultRegistry, type ConnectorRegistry } from '../connectors/registry.ts';
import type { LocalFileDestinationPlan, LocalFileSourcePlan } from '../connectors/local-file/properties.ts';
import type { S3DestinationPlan, S3SourcePlan } from '../connectors/s3/properties.ts';
import type { SalesforceDestinationPlan, SalesforceSourcePlan } from '../connectors/salesforce/properties.ts';
import { compileTasks } from '../mapping/compile.ts';
import { toEpochMillis } from '../mapping/convert.ts';
import type { AnalyzedTasks, BatchTransform } from '../mapping/compile.ts';
import type { FlowDefinition, Timestamp } from './schema.ts';
import { checkFlow, flowInvalid, parseJsonText } from './validate.ts';
import { flowSchedule } from './no-effect.ts';
import type { Schedule } from './schedule.ts';

/**
 * compileFlow: a flow definition is validated (once) and becomes the plan the runner executes, an immutable
 * (frozen) value. Everything that can be decided from the definition is decided here, once: the connectors
 * (resolved through the registry) and their settings with defaults applied, paths made absolute from the
 * plan's base folder, the read request (fields, Map_all exclusions, the filters a source evaluates itself),
 * the engine-side batch transform, output fields, partition keys, incremental settings and the schema version.
 *
 * Compiling is deterministic and cheap (no I/O): a worker in another process rebuilds the same plan from the
 * flow definition and its base folder (`compileFlow(definition, { baseDir })`), and runs it with runPlan.
 */

export type { SalesforceDestinationPlan, SalesforceSourcePlan } from '../connectors/salesforce/properties.ts';
export type { S3DestinationPlan, S3SourcePlan } from '../connectors/s3/properties.ts';
export type { LocalFileDestinationPlan, LocalFileSourcePlan } from '../connectors/local-file/properties.ts';
export type { ResolvedOutputFormat } from '../connectors/files/properties.ts';
export type { ConnectorPlan } from '../core/connector-factory.ts';
/** The source parts of forceflow's own connectors (a plan's `source` is one of them, or a registered connector's). */
export type SourcePlan = SalesforceSourcePlan | S3SourcePlan | LocalFileSourcePlan;
export type DestinationPlan = SalesforceDestinationPlan | S3DestinationPlan | LocalFileDestinationPlan;

export interface SchedulePlan {
  readonly expression: string;
  /** rate(...) in seconds; undefined for cron(...). */
  readonly rateSeconds?: number;
  readonly cron?: string;
  readonly startTime?: string;
  readonly endTime?: string;
  /** As written in the definition (cron fields are read in it; UTC when absent). */
  readonly timezone?: string;
  /** The parsed schedule: pass it to nextFireTimes (src/flows/schedule.ts) for the fire times. */
  readonly parsed: Schedule;
  readonly offsetSeconds: number;
  readonly firstExecutionFrom?: string;
  readonly flowErrorDeactivationThreshold?: number;
}

export interface TriggerPlan {
  readonly triggerType: 'OnDemand' | 'Scheduled' | 'Event';
  readonly dataPullMode: 'Complete' | 'Incremental';
  readonly schedule?: SchedulePlan;
}

export interface IncrementalPlan {
  /** The datetime field bounding the window (incrementalPullConfig.datetimeTypeFieldName, default LastModifiedDate). */
  readonly field: string;
  /** Start of the first run's window (ISO); AppFlow's default is 30 days before the first run. */
  readonly firstExecutionFrom?: string;
  readonly offsetSeconds: number;
}

export interface FlowPlan {
  readonly flowName: string;
  readonly description?: string;
  /** The validated definition, in its API form (CloudFormation spellings rewritten). */
  readonly definition: FlowDefinition;
  /** Absolute folder relative paths resolved from (the flow file's folder). */
  readonly baseDir: string;
  /** The connectors of both sides, resolved through the registry. */
  readonly connectors: { readonly source: AnyConnectorFactory; readonly destination: AnyConnectorFactory };
  /** A run needs connector profiles: for these sides (their connectors need credentials). */
  readonly profiles: readonly ('source' | 'destination')[];
  readonly trigger: TriggerPlan;
  /** The source connector's part: `connectorType` and its own settings (SalesforceSourcePlan, S3SourcePlan, ...). */
  readonly source: ConnectorPlan;
  readonly destination: ConnectorPlan;
  /** What to ask the source for. The runner adds `window` for incremental runs. */
  readonly read: ReadRequest;
  /** The filters in `read.filters` (Salesforce evaluates them in SOQL); empty for file sources. */
  readonly pushedDownFilters: readonly PushdownFilter[];
  /** How many Filter tasks the engine evaluates (file sources). */
  readonly engineFilterCount: number;
  readonly incremental?: IncrementalPlan;
  /** Pure, synchronous; compiled once. Pass `{ firstIndex }` (records already read) for error positions. */
  readonly transform: BatchTransform;
  /** The destination schema for a given source schema (names and types, for Parquet typing). */
  readonly outputSchema: (input: EntitySchema) => EntitySchema;
  /** Destination fields known from the definition; with Map_all the source's fields are added at run time. */
  readonly outputFields: readonly { readonly name: string; readonly type?: FieldType }[];
  readonly mapAll: boolean;
  readonly partitionKeys: readonly string[];
  /** The destination's errorHandlingConfig with failOnFirstDestinationError defaulted to true (the console's default). */
  readonly errorHandling: ErrorHandling & { readonly failOnFirstDestinationError: boolean };
  /** S3 buckets the destination writes to (its files, an error file), checked before the source is read. */
  readonly buckets: readonly (readonly [bucket: string, field: string])[];
  /**
   * AppFlow's schemaVersion when the definition carries one (describe-flow output): the runner uses it for the
   * schemaVersion_<n> folder. Absent, the runner numbers the fingerprint from the run state (1, 2, ...).
   */
  readonly schemaVersion?: number;
  /** Hex fingerprint of mappings, types and partition keys: changes exactly when the schema version should. */
  readonly schemaFingerprint: string;
  /** The compiled step order, for logs and `forceflow validate`. */
  readonly steps: readonly string[];
  /** Accepted fields of this flow that have no effect, one sentence each (logged and kept in each run's record). */
  readonly notices: readonly string[];
}

export interface CompileOptions {
  /** The folder relative paths resolve from: the flow file's (default: the working directory). */
  readonly baseDir?: string;
  /** The same as baseDir (its former name). */
  readonly flowFileDir?: string;
  /** The flow file's name, for FLOW_INVALID messages. */
  readonly source?: string;
  /** "Now" for validation rules about time (a past scheduleEndTime); the clock by default. */
  readonly now?: Date;
  /** The connectors a flow may name (default: defaultRegistry()). */
  readonly registry?: ConnectorRegistry;
}

function iso(t: Timestamp | undefined): string | undefined {
  if (t === undefined) return undefined;
  // ISO text without an offset is UTC (what the AWS SDKs send), never the machine's zone.
  return new Date(typeof t === 'number' ? t * 1000 : toEpochMillis(t) ?? Number.NaN).toISOString();
}

function fingerprint(a: AnalyzedTasks): string {
  const shape = {
    maps: a.maps.map((m) => [m.source, m.destination, m.destinationType ?? null]),
    passthroughs: a.passthroughs.map((p) => [p.source, p.destination]),
    merges: a.merges.map((m) => [m.fields, m.destination, m.parts]),
    arithmetics: a.arithmetics.map((x) => [x.operation, x.left, x.right, x.destination]),
    mapAll: a.mapAll ? [...a.mapAll.exclude].sort() : null,
    partition: a.partition?.keys ?? [],
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex');
}

function stepSummary(a: AnalyzedTasks, pushdown: boolean): string[] {
  const steps: string[] = [];
  const idx = (xs: readonly { index: number }[]): string => xs.map((x) => `tasks[${x.index}]`).join(', ');
  if (a.projections.length) steps.push(`read: ${idx(a.projections)} (PROJECTION)`);
  if (a.predicates.length) steps.push(`${pushdown ? 'filter at the source (SOQL WHERE)' : 'filter in the engine'}: ${idx(a.predicates)}`);
  const pre = a.validations.filter((v) => !v.fields.some((f) => [...a.merges, ...a.arithmetics].some((c) => c.destination === f)));
  const post = a.validations.filter((v) => !pre.includes(v));
  if (pre.length) steps.push(`validate: ${idx(pre)}`);
  if (a.masks.length) steps.push(`mask: ${idx(a.masks)}`);
  if (a.truncates.length) steps.push(`truncate: ${idx(a.truncates)}`);
  if (a.merges.length) steps.push(`merge: ${idx(a.merges)}`);
  if (a.arithmetics.length) steps.push(`arithmetic: ${idx(a.arithmetics)}`);
  if (post.length) steps.push(`validate computed fields: ${idx(post)}`);
  const outs = [...a.maps, ...a.passthroughs, ...(a.mapAll ? [a.mapAll] : [])].sort((x, y) => x.index - y.index);
  if (outs.length) steps.push(`map: ${idx(outs)}`);
  if (a.partition) steps.push(`partition by ${a.partition.keys.join(', ')}: tasks[${a.partition.index}]`);
  return steps;
}

/**
 * The file type a source may encode its rows in (ReadRequest.encodeAs, issue 13): a flow whose only task is
 * Map_all (its rows written unchanged) to CSV or JSON lines files of LocalFile or S3, without partitions or a
 * file size target (files roll over at record boundaries the encoded lines do not show). Anything else: rows.
 * The caller leaves out incremental flows (lookback deduplication and formula refresh read the rows).
 */
function linesFor(a: AnalyzedTasks, destination: ConnectorPlan): 'CSV' | 'JSON' | undefined {
  if (a.mapAll === undefined || a.partition !== undefined) return undefined;
  if ([a.projections, a.predicates, a.maps, a.passthroughs, a.merges, a.arithmetics, a.masks, a.truncates, a.validations].some((x) => x.length > 0)) return undefined;
  if (destination.connectorType !== 'LocalFile' && destination.connectorType !== 'S3') return undefined;
  const format = (destination as LocalFileDestinationPlan | S3DestinationPlan).outputFormat;
  if (format.aggregationConfig.targetFileSize !== undefined) return undefined;
  return format.fileType === 'CSV' || format.fileType === 'JSON' ? format.fileType : undefined;
}

/** Plain objects and arrays of the plan, frozen all the way down (functions and other objects as they are). */
function deepFreeze<T>(value: T, skip: ReadonlySet<unknown>): T {
  if (typeof value !== 'object' || value === null || skip.has(value) || Object.isFrozen(value)) return value;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v, skip);
  return value;
}

/**
 * Validates a flow definition (parsed JSON, or JSON text) once and compiles it into a frozen plan. Throws
 * FLOW_INVALID (every problem with its JSON path) if the definition has problems.
 */
export function compileFlow(definition: unknown, options: CompileOptions = {}): FlowPlan {
  const registry = options.registry ?? defaultRegistry();
  const json = typeof definition === 'string' ? parseJsonText(definition, options.source) : definition;
  const checked = checkFlow(json, { registry, ...(options.now ? { now: options.now } : {}) });
  if (!checked.ok || !checked.flow || !checked.tasks) throw flowInvalid(checked.problems, options.source);
  const flow = checked.flow;
  const analyzed = checked.tasks;
  const baseDir = resolve(options.baseDir ?? options.flowFileDir ?? process.cwd());

  // Validation checked both sides' types and that their properties are there (src/flows/rules.ts).
  const src = flow.sourceFlowConfig;
  const sourceConnector = registry.require(src.connectorType, 'source');
  const side = (c: { readonly connectorProfileName?: string; readonly apiVersion?: string }) => ({
    baseDir, ...(c.connectorProfileName !== undefined ? { connectorProfileName: c.connectorProfileName } : {}), ...(c.apiVersion !== undefined ? { apiVersion: c.apiVersion } : {}),
    ...(flow.tags === undefined ? {} : { tags: flow.tags }),
  });
  const compiledSource = sourceConnector.compileSource?.(src.sourceConnectorProperties[src.connectorType], side(src));
  const d = flow.destinationFlowConfigList[0];
  if (d === undefined || compiledSource === undefined) throw flowInvalid([{ path: 'destinationFlowConfigList', message: 'is empty. Add one destination.' }], options.source);
  const destinationConnector = registry.require(d.connectorType, 'destination');
  const compiledDestination = destinationConnector.compileDestination?.(d.destinationConnectorProperties[d.connectorType], side(d));
  if (compiledDestination === undefined) throw flowInvalid([{ path: 'destinationFlowConfigList[0].connectorType', message: `${d.connectorType} cannot be a destination.` }], options.source);
  const source = compiledSource.plan;
  const destination = compiledDestination.plan;
  const entity = compiledSource.entity;
  const ehc = compiledDestination.errorHandling;

  const pushdown = sourceConnector.capabilities.pushdownFilters;
  const dynamicFields = compiledSource.dynamicFields ?? false;
  const compiled = compileTasks(analyzed, { pushdown, entity, dynamicFields });

  const sched0 = flow.triggerConfig.triggerProperties?.Scheduled;
  const incrementalPull = flow.triggerConfig.triggerType === 'Scheduled' && sched0?.dataPullMode === 'Incremental';
  const encodeAs = incrementalPull ? undefined : linesFor(analyzed, destination);
  const read: ReadRequest = {
    entity,
    ...(compiled.readFields ? { fields: compiled.readFields } : {}),
    ...(compiled.excludeFields.length > 0 ? { excludeFields: compiled.excludeFields } : {}),
    ...(compiled.pushdown.length > 0 ? { filters: compiled.pushdown } : {}),
    ...(encodeAs === undefined ? {} : { encodeAs }),
    ...compiledSource.read,
  };

  const sched = flow.triggerConfig.triggerProperties?.Scheduled;
  const dataPullMode = flow.triggerConfig.triggerType === 'Scheduled' ? (sched?.dataPullMode ?? 'Complete') : 'Complete';
  let schedule: SchedulePlan | undefined;
  const parsedSchedule = flowSchedule(flow);
  if (sched && parsedSchedule && flow.triggerConfig.triggerType === 'Scheduled') {
    const expr = parsedSchedule.expression;
    const start = iso(sched.scheduleStartTime);
    const end = iso(sched.scheduleEndTime);
    const first = iso(sched.firstExecutionFrom);
    schedule = {
      expression: sched.scheduleExpression,
      parsed: parsedSchedule,
      ...(expr.kind === 'rate' ? { rateSeconds: expr.periodSeconds } : { cron: Object.values(expr.fields).join(' ') }),
      ...(start ? { startTime: start } : {}), ...(end ? { endTime: end } : {}), ...(first ? { firstExecutionFrom: first } : {}),
      ...(sched.timezone !== undefined ? { timezone: sched.timezone } : {}),
      offsetSeconds: sched.scheduleOffset ?? 0,
      ...(sched.flowErrorDeactivationThreshold !== undefined ? { flowErrorDeactivationThreshold: sched.flowErrorDeactivationThreshold } : {}),
    };
  }
  const incremental: IncrementalPlan | undefined = dataPullMode === 'Incremental'
    ? {
        field: src.incrementalPullConfig?.datetimeTypeFieldName ?? 'LastModifiedDate',
        offsetSeconds: schedule?.offsetSeconds ?? 0,
        ...(schedule?.firstExecutionFrom ? { firstExecutionFrom: schedule.firstExecutionFrom } : {}),
      }
    : undefined;

  const print = fingerprint(analyzed);
  const schemaVersion = flow.schemaVersion !== undefined && flow.schemaVersion > 0 ? flow.schemaVersion : undefined;
  const connectors = Object.freeze({ source: sourceConnector, destination: destinationConnector });

  const plan: FlowPlan = {
    flowName: flow.flowName,
    ...(flow.description !== undefined ? { description: flow.description } : {}),
    definition: flow,
    baseDir,
    connectors,
    profiles: [...(sourceConnector.needsProfile ? ['source' as const] : []), ...(destinationConnector.needsProfile ? ['destination' as const] : [])],
    trigger: { triggerType: flow.triggerConfig.triggerType, dataPullMode, ...(schedule ? { schedule } : {}) },
    source,
    destination,
    read,
    pushedDownFilters: compiled.pushdown,
    engineFilterCount: compiled.engineFilters.length,
    ...(incremental ? { incremental } : {}),
    transform: compiled.transform,
    outputSchema: compiled.outputSchema,
    outputFields: compiled.staticOutputFields,
    mapAll: analyzed.mapAll !== undefined,
    partitionKeys: compiled.partitionKeys,
    errorHandling: { ...ehc, failOnFirstDestinationError: ehc?.failOnFirstDestinationError ?? true },
    buckets: compiledDestination.buckets ?? [],
    ...(schemaVersion !== undefined ? { schemaVersion } : {}),
    schemaFingerprint: print,
    steps: stepSummary(analyzed, pushdown),
    notices: checked.notices ?? [],
  };
  // Immutable: a plan is what runs, as compiled (the connectors are frozen by defineConnector).
  return deepFreeze(plan, new Set<unknown>([connectors]));
}
