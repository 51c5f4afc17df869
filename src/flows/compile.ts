import { createHash } from 'node:crypto';
import { basename, extname, resolve } from 'node:path';
import type { PushdownFilter, ReadRequest } from '../core/connector.ts';
import type { ApiPreference, EntitySchema, FieldType } from '../core/types.ts';
import type { LocalFileDestinationProperties, LocalFileSourceProperties } from '../connectors/local-file/config.ts';
import type { S3DestinationProperties, S3SourceProperties } from '../connectors/s3/config.ts';
import type { OutputFormatConfig } from '../formats/config.ts';
import { compileTasks } from '../mapping/compile.ts';
import { toEpochMillis } from '../mapping/convert.ts';
import type { AnalyzedTasks, BatchTransform } from '../mapping/compile.ts';
import type { ErrorHandlingConfig, FlowDefinition, SalesforceSourceProperties, Timestamp } from './schema.ts';
import { checkFlow, flowInvalid } from './validate.ts';
import { flowSchedule } from './no-effect.ts';
import type { Schedule } from './schedule.ts';

/**
 * compileFlow: a validated definition becomes a plain plan the runner executes. Everything that can be
 * decided from the definition is decided here, once: connector settings with defaults applied, LocalFile
 * paths made absolute, the read request (fields, Map_all exclusions, the filters Salesforce evaluates in
 * SOQL), the engine-side batch transform, output fields, partition keys and the schema version.
 */

export interface SalesforceSourcePlan {
  readonly connectorType: 'Salesforce';
  readonly connectorProfileName?: string;
  readonly apiVersion?: string;
  readonly object: string;
  readonly apiPreference: ApiPreference;
  readonly includeDeletedRecords: boolean;
  readonly enableDynamicFieldUpdate: boolean;
  readonly properties: SalesforceSourceProperties;
}
export interface S3SourcePlan {
  readonly connectorType: 'S3';
  readonly properties: S3SourceProperties;
}
export interface LocalFileSourcePlan {
  readonly connectorType: 'LocalFile';
  /** `path` is absolute (resolved from the flow file's folder). */
  readonly properties: LocalFileSourceProperties;
}
export type SourcePlan = SalesforceSourcePlan | S3SourcePlan | LocalFileSourcePlan;

/** outputFormatConfig with AppFlow's defaults applied. */
export interface ResolvedOutputFormat {
  readonly fileType: 'CSV' | 'JSON' | 'PARQUET';
  readonly prefixConfig: NonNullable<OutputFormatConfig['prefixConfig']>;
  readonly aggregationConfig: { readonly aggregationType: 'None' | 'SingleFile'; readonly targetFileSize?: number };
  /** Parquet only (false: every column a string); ignored for CSV and JSON. */
  readonly preserveSourceDataTyping: boolean;
}

export interface S3DestinationPlan {
  readonly connectorType: 'S3';
  readonly bucketName: string;
  readonly bucketPrefix?: string;
  readonly outputFormat: ResolvedOutputFormat;
  readonly properties: S3DestinationProperties;
}
export interface LocalFileDestinationPlan {
  readonly connectorType: 'LocalFile';
  /** Absolute folder that plays the role of the bucket. */
  readonly path: string;
  readonly outputFormat: ResolvedOutputFormat;
  readonly properties: LocalFileDestinationProperties;
}
export interface SalesforceDestinationPlan {
  readonly connectorType: 'Salesforce';
  readonly connectorProfileName?: string;
  readonly apiVersion?: string;
  readonly object: string;
  readonly writeOperationType: 'INSERT' | 'UPSERT' | 'UPDATE' | 'DELETE';
  /** UPSERT: the external ID field; UPDATE/DELETE: the ID field (default Id). */
  readonly idFieldNames: readonly string[];
  readonly apiPreference: ApiPreference;
}
export type DestinationPlan = S3DestinationPlan | LocalFileDestinationPlan | SalesforceDestinationPlan;

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
  readonly trigger: TriggerPlan;
  readonly source: SourcePlan;
  readonly destination: DestinationPlan;
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
  readonly errorHandling: ErrorHandlingConfig & { readonly failOnFirstDestinationError: boolean };
  /** AppFlow's schemaVersion when the definition carries one (describe-flow), else derived from mappings, types and partition keys. */
  readonly schemaVersion: number;
  /** Hex fingerprint of mappings, types and partition keys: changes exactly when the schema version should. */
  readonly schemaFingerprint: string;
  /** The compiled step order, for logs and `forceflow validate`. */
  readonly steps: readonly string[];
  /** Accepted fields of this flow that have no effect, one sentence each (logged and kept in each run's record). */
  readonly notices: readonly string[];
}

export interface CompileOptions {
  /** The folder of the flow file: relative LocalFile paths resolve from it (default: the working directory). */
  readonly flowFileDir?: string;
  /** "Now" for validation rules about time (a past scheduleEndTime); the clock by default. */
  readonly now?: Date;
}

function iso(t: Timestamp | undefined): string | undefined {
  if (t === undefined) return undefined;
  // ISO text without an offset is UTC (what the AWS SDKs send), never the machine's zone.
  return new Date(typeof t === 'number' ? t * 1000 : toEpochMillis(t) ?? Number.NaN).toISOString();
}

function resolveOutputFormat(cfg: OutputFormatConfig | undefined): ResolvedOutputFormat {
  return {
    fileType: cfg?.fileType ?? 'JSON',
    prefixConfig: cfg?.prefixConfig ?? {},
    aggregationConfig: {
      aggregationType: cfg?.aggregationConfig?.aggregationType ?? 'None',
      ...(cfg?.aggregationConfig?.targetFileSize !== undefined ? { targetFileSize: cfg.aggregationConfig.targetFileSize } : {}),
    },
    preserveSourceDataTyping: cfg?.fileType === 'PARQUET' ? (cfg.preserveSourceDataTyping ?? false) : false,
  };
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

/** Compiles a flow definition into a plan. Throws FLOW_INVALID if the definition has problems. */
export function compileFlow(def: FlowDefinition, options: CompileOptions = {}): FlowPlan {
  const checked = checkFlow(def, options.now ? { now: options.now } : {});
  if (!checked.ok || !checked.flow || !checked.tasks) throw flowInvalid(checked.problems);
  const flow = checked.flow;
  const analyzed = checked.tasks;
  const baseDir = resolve(options.flowFileDir ?? process.cwd());

  const src = flow.sourceFlowConfig;
  let source: SourcePlan;
  let entity: string;
  switch (src.connectorType) {
    case 'Salesforce': {
      const p = src.sourceConnectorProperties.Salesforce as SalesforceSourceProperties;
      entity = p.object;
      source = {
        connectorType: 'Salesforce', object: p.object, apiPreference: p.dataTransferApi ?? 'AUTOMATIC',
        includeDeletedRecords: p.includeDeletedRecords ?? false, enableDynamicFieldUpdate: p.enableDynamicFieldUpdate ?? false,
        properties: p,
        ...(src.connectorProfileName !== undefined ? { connectorProfileName: src.connectorProfileName } : {}),
        ...(src.apiVersion !== undefined ? { apiVersion: src.apiVersion } : {}),
      };
      break;
    }
    case 'S3': {
      const p = src.sourceConnectorProperties.S3 as S3SourceProperties;
      entity = (p.bucketPrefix ?? '').split('/').filter(Boolean).pop() ?? p.bucketName;
      source = { connectorType: 'S3', properties: p };
      break;
    }
    default: {
      const p = src.sourceConnectorProperties.LocalFile as LocalFileSourceProperties;
      const path = resolve(baseDir, p.path);
      entity = basename(path, extname(path)) || 'LocalFile';
      source = { connectorType: 'LocalFile', properties: { ...p, path } };
    }
  }

  const d = flow.destinationFlowConfigList[0];
  if (d === undefined) throw flowInvalid([{ path: 'destinationFlowConfigList', message: 'is empty. Add one destination.' }]);
  let destination: DestinationPlan;
  let ehc: ErrorHandlingConfig | undefined;
  switch (d.connectorType) {
    case 'S3': {
      const p = d.destinationConnectorProperties.S3;
      if (!p) throw flowInvalid([{ path: 'destinationFlowConfigList[0].destinationConnectorProperties.S3', message: 'is missing. Add the S3 properties.' }]);
      const { errorHandlingConfig, ...properties } = p;
      ehc = errorHandlingConfig;
      destination = {
        connectorType: 'S3', bucketName: p.bucketName, outputFormat: resolveOutputFormat(p.s3OutputFormatConfig), properties,
        ...(p.bucketPrefix !== undefined ? { bucketPrefix: p.bucketPrefix } : {}),
      };
      break;
    }
    case 'LocalFile': {
      const p = d.destinationConnectorProperties.LocalFile;
      if (!p) throw flowInvalid([{ path: 'destinationFlowConfigList[0].destinationConnectorProperties.LocalFile', message: 'is missing. Add the LocalFile properties.' }]);
      const path = resolve(baseDir, p.path);
      destination = { connectorType: 'LocalFile', path, outputFormat: resolveOutputFormat(p.outputFormatConfig), properties: { ...p, path } };
      break;
    }
    default: {
      const p = d.destinationConnectorProperties.Salesforce;
      if (!p) throw flowInvalid([{ path: 'destinationFlowConfigList[0].destinationConnectorProperties.Salesforce', message: 'is missing. Add the Salesforce properties.' }]);
      ehc = p.errorHandlingConfig;
      const op = p.writeOperationType ?? 'INSERT';
      destination = {
        connectorType: 'Salesforce', object: p.object, writeOperationType: op,
        idFieldNames: p.idFieldNames && p.idFieldNames.length > 0 ? p.idFieldNames : op === 'UPDATE' || op === 'DELETE' ? ['Id'] : [],
        apiPreference: p.dataTransferApi ?? 'AUTOMATIC',
        ...(d.connectorProfileName !== undefined ? { connectorProfileName: d.connectorProfileName } : {}),
        ...(d.apiVersion !== undefined ? { apiVersion: d.apiVersion } : {}),
      };
    }
  }

  const pushdown = source.connectorType === 'Salesforce';
  // enableDynamicFieldUpdate (AppFlow: "dynamic fetching of new fields"): Map_all copies every field of the
  // object's describe at run time, even beyond a PROJECTION written before the field existed.
  const dynamicFields = source.connectorType === 'Salesforce' && source.enableDynamicFieldUpdate;
  const compiled = compileTasks(analyzed, { pushdown, entity, dynamicFields });

  const read: ReadRequest = {
    entity,
    ...(compiled.readFields ? { fields: compiled.readFields } : {}),
    ...(compiled.excludeFields.length > 0 ? { excludeFields: compiled.excludeFields } : {}),
    ...(compiled.pushdown.length > 0 ? { filters: compiled.pushdown } : {}),
    ...(source.connectorType === 'Salesforce' ? { includeDeleted: source.includeDeletedRecords, apiPreference: source.apiPreference } : {}),
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
  const schemaVersion = flow.schemaVersion !== undefined && flow.schemaVersion > 0
    ? flow.schemaVersion
    : (Number.parseInt(print.slice(0, 8), 16) % 999_999_999) + 1;

  return {
    flowName: flow.flowName,
    ...(flow.description !== undefined ? { description: flow.description } : {}),
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
    schemaVersion,
    schemaFingerprint: print,
    steps: stepSummary(analyzed, pushdown),
    notices: checked.notices ?? [],
  };
}
