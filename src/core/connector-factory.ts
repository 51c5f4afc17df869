import type { S3Client } from '@aws-sdk/client-s3';
import type { z } from 'zod';
import type { InputOptions } from '../formats/types.ts';
import type { Destination, ReadRequest, RunContext, Source } from './connector.ts';
import type { Logger } from './logger.ts';
import type { EntitySchema } from './types.ts';

/**
 * The contract between a connector and the engine (src/connectors/registry.ts holds the factories; DEVELOPERS.md
 * "Connectors"). A connector's folder exports one ConnectorFactory from its index.ts: its type, the zod schemas
 * of its flow properties, what it can do, and the per-connector parts of compiling (a plan) and running (a
 * Source or Destination from that plan). The engine never branches on a connector type.
 */

/** AppFlow's SalesforceConnectorOperator (21 values). */
export const SALESFORCE_OPERATORS = [
  'PROJECTION', 'LESS_THAN', 'CONTAINS', 'GREATER_THAN', 'BETWEEN', 'LESS_THAN_OR_EQUAL_TO', 'GREATER_THAN_OR_EQUAL_TO',
  'EQUAL_TO', 'NOT_EQUAL_TO', 'ADDITION', 'MULTIPLICATION', 'DIVISION', 'SUBTRACTION', 'MASK_ALL', 'MASK_FIRST_N',
  'MASK_LAST_N', 'VALIDATE_NON_NULL', 'VALIDATE_NON_ZERO', 'VALIDATE_NON_NEGATIVE', 'VALIDATE_NUMERIC', 'NO_OP',
] as const;
export type ConnectorOperatorName = (typeof SALESFORCE_OPERATORS)[number];
/** AppFlow's S3ConnectorOperator: the Salesforce list without CONTAINS. */
export const S3_OPERATORS = SALESFORCE_OPERATORS.filter((op) => op !== 'CONTAINS') as Exclude<ConnectorOperatorName, 'CONTAINS'>[];

export type WriteOperation = 'INSERT' | 'UPSERT' | 'UPDATE' | 'DELETE';

export interface ConnectorCapabilities {
  /** Can be a flow's source / destination. */
  readonly source: boolean;
  readonly destination: boolean;
  /**
   * Incremental pulls (dataPullMode Incremental), or false. `field`: the source reads a window on the flow's
   * datetime field and ends it on its own clock (Salesforce). `files`: the source windows its files by their
   * LastModified time with the run's ledger of delivered files (src/flows/lookback.ts, files/file-source.ts).
   */
  readonly incremental: false | 'field' | 'files';
  /** The source evaluates Filter tasks itself (Salesforce: SOQL WHERE); otherwise the engine filters. */
  readonly pushdownFilters: boolean;
  /** The write operations the destination performs (file destinations: INSERT, new files). */
  readonly writeOperations: readonly WriteOperation[];
  /** The destination writes files (output formats, layout, Partition tasks). */
  readonly files: boolean;
  /**
   * The source has formula fields whose values change without their records' timestamps, and its `Source`
   * lists them (`formulaFields`): incremental flows may refresh them (src/flows/formula-refresh.ts).
   */
  readonly formulaRefresh?: boolean;
}

/** A problem in a flow definition: its JSON path and a sentence on what to do. */
export interface ConnectorProblem {
  readonly path: string;
  readonly message: string;
}

/** Where failed records go and whether the first one stops the run (a destination's errorHandlingConfig). */
export interface ErrorHandling {
  readonly failOnFirstDestinationError?: boolean;
  readonly bucketName?: string;
  readonly bucketPrefix?: string;
  /** forceflow extension: a local folder instead of S3 (relative to the flow file). */
  readonly localPath?: string;
}

/** What compiling one side of a flow knows besides the connector's properties. */
export interface CompileSideContext {
  /** Absolute folder relative paths resolve from (the flow file's folder). */
  readonly baseDir: string;
  readonly connectorProfileName?: string;
  readonly apiVersion?: string;
  /** The flow's tags (forceflow's own settings ride on `forceflow:` tags AppFlow ignores). */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Every connector's part of a plan names its type; the rest is the connector's own (plain, frozen data). */
export interface ConnectorPlan {
  readonly connectorType: string;
  readonly connectorProfileName?: string;
  readonly apiVersion?: string;
}

export interface CompiledSource<Plan extends ConnectorPlan = ConnectorPlan> {
  readonly plan: Plan;
  /** The entity the read names (Salesforce object, file name). */
  readonly entity: string;
  /** Read settings the connector decides (deleted records, the API preference). */
  readonly read?: Pick<ReadRequest, 'includeDeleted' | 'apiPreference'>;
  /** Map_all copies the fields the source describes at run time (Salesforce enableDynamicFieldUpdate). */
  readonly dynamicFields?: boolean;
}

export interface CompiledDestination<Plan extends ConnectorPlan = ConnectorPlan> {
  readonly plan: Plan;
  /** The destination's errorHandlingConfig, when it takes one. */
  readonly errorHandling?: ErrorHandling;
  /** S3 buckets the destination writes to, with the field naming each: checked before the source is read. */
  readonly buckets?: readonly (readonly [bucket: string, field: string])[];
}

/** A connector profile as the run resolved it: the profile document and, for stored profiles, a ready token provider. */
export interface ResolvedConnectorProfile {
  readonly profile: unknown;
  readonly tokens?: unknown;
}

/**
 * What a connector's `removeResource` gets to remove an interrupted run's resource (src/flows/cleanup.ts): the
 * cleanup's logger, a signal that ends its calls (the cleaning run's), the S3 client and connector profiles.
 */
export interface CleanupServices {
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** The S3 client (created on first use). */
  s3Client(): S3Client;
  /** A connector profile by name, resolved as a run's sides resolve theirs. */
  profile(connectorProfileName: string | null): Promise<ResolvedConnectorProfile>;
}

/** How long one resource's cleanup may take before it is left for the next time. */
export const CLEANUP_CALL_TIMEOUT_MS = 30_000;

/** What a run left outside its process (a Bulk job, staged files): recorded so that a later cleanup can remove it. */
export type RunResource =
  | { readonly kind: 'S3_STAGING'; readonly bucket: string; readonly prefix: string }
  | { readonly kind: 'LOCAL_STAGING'; readonly path: string }
  | { readonly kind: 'SF_BULK_QUERY_JOB'; readonly jobId: string; readonly connectorProfileName: string | null; readonly apiVersion?: string };

/** What the runner gives a connector to build its Source or Destination. */
export interface ConnectorRunServices {
  /** The run's child logger (flow, executionId), abort signal and clock. */
  readonly ctx: RunContext;
  readonly flowName: string;
  readonly executionId: string;
  /** The plan's base folder (relative paths). */
  readonly baseDir: string;
  /** The flow's kmsArn. */
  readonly kmsArn?: string;
  readonly input: InputOptions;
  /** The connector profile the plan's side names (PROFILE_NOT_FOUND when none was given). */
  profile(): Promise<ResolvedConnectorProfile>;
  /** The run's S3 client (created on first use). */
  s3Client(): S3Client;
  /** Record a resource before creating it. */
  recordResource(resource: RunResource): Promise<void>;
  /** The run options given for this connector type (RunFlowOptions.connectors[type]), as the connector defines them. */
  readonly options?: unknown;
  /**
   * One value per key for the whole run, shared by its source and destination: `create` runs the first time a
   * key is asked for (Salesforce: one API budget per org when a flow reads and writes the same org).
   */
  runScoped<T>(key: string, create: () => T): T;
}

/** What a destination needs besides its plan. */
export interface DestinationRunSettings {
  readonly schemaVersion: number;
  readonly startedAt: Date;
  /** The output columns; absent with Map_all (the writer follows each batch's columns). */
  readonly outputSchema?: EntitySchema;
  readonly partitionKeys: readonly string[];
  /** plan.errorHandling, with failOnFirstDestinationError defaulted. */
  readonly errorHandling: ErrorHandling & { readonly failOnFirstDestinationError: boolean };
  /**
   * The store for the failed-records file (errorHandlingConfig's bucket or folder, an ErrorSinkTarget of
   * src/connectors/files/), when one is set: called by a destination that writes one (it records the staging).
   */
  errorTarget?(): Promise<unknown>;
  /** The state's journal of writes (Salesforce), when the run has a state store. */
  readonly writeJournal?: unknown;
  /** The records the source expects to deliver (its COUNT), when it knows: what an API cost estimate uses. */
  readonly expectedRecords?: number;
}

export interface ConnectorFactory<SP = unknown, DP = unknown, SPlan extends ConnectorPlan = ConnectorPlan, DPlan extends ConnectorPlan = ConnectorPlan> {
  /** AppFlow's ConnectorType value (the key of its properties in a flow). */
  readonly connectorType: string;
  /** Its source and destination properties as a flow gives them (absent for a side it cannot be). */
  readonly sourceProperties?: z.ZodType<SP>;
  readonly destinationProperties?: z.ZodType<DP>;
  /** Its connectorOperator values in tasks. */
  readonly operators: readonly string[];
  /**
   * The connectorOperator keys its tasks are accepted with, in the order they are read (default: its own
   * connectorType alone). LocalFile also takes S3's key, so an S3 flow's tasks work on local files as they are.
   */
  readonly operatorKeys?: readonly string[];
  /** Runs need a connector profile (credentials) for this connector. */
  readonly needsProfile: boolean;
  readonly capabilities: ConnectorCapabilities;
  /** AppFlow's rules between its destination properties (beyond the schema); `path` is the properties' JSON path. */
  destinationProblems?(properties: DP, path: string): ConnectorProblem[];
  compileSource?(properties: SP, ctx: CompileSideContext): CompiledSource<SPlan>;
  compileDestination?(properties: DP, ctx: CompileSideContext): CompiledDestination<DPlan>;
  /** The kinds of RunResource it records, which its `removeResource` removes after a run was interrupted. */
  readonly resourceKinds?: readonly RunResource['kind'][];
  /** Remove a resource an interrupted run left (staged files, a Bulk job); throws to keep it for the next time. */
  removeResource?(resource: RunResource, services: CleanupServices): Promise<void>;
  createSource?(plan: SPlan, services: ConnectorRunServices): Source | Promise<Source>;
  createDestination?(plan: DPlan, services: ConnectorRunServices, settings: DestinationRunSettings): Destination | Promise<Destination>;
}

/** A factory with its types erased, as the registry holds it. */
export type AnyConnectorFactory = ConnectorFactory;

/** Declares a connector (types checked here, erased for the registry). */
export function defineConnector<SP, DP, SPlan extends ConnectorPlan, DPlan extends ConnectorPlan>(factory: ConnectorFactory<SP, DP, SPlan, DPlan>): AnyConnectorFactory {
  return Object.freeze(factory) as AnyConnectorFactory;
}

