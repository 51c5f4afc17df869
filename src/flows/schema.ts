import { z } from 'zod';
import type { ConnectorOperatorName } from '../core/connector-factory.ts';
import { withSpelling } from '../core/zod.ts';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import type { ErrorHandlingConfig } from '../connectors/files/properties.ts';
import type { LocalFileDestinationProperties, LocalFileSourceProperties } from '../connectors/local-file/properties.ts';
import type { S3DestinationFlowProperties, S3SourceProperties } from '../connectors/s3/properties.ts';
import type { SalesforceDestinationProperties, SalesforceSourceProperties } from '../connectors/salesforce/properties.ts';
import { toEpochMillis } from '../mapping/convert.ts';

export { SALESFORCE_OPERATORS, S3_OPERATORS, type ConnectorOperatorName } from '../core/connector-factory.ts';
export type { ErrorHandlingConfig, SalesforceDestinationProperties, SalesforceSourceProperties };

/**
 * The flow definition: AppFlow's CreateFlow JSON (API member names, camelCase), as `aws appflow
 * create-flow --cli-input-json` takes it and `aws appflow describe-flow` prints it, plus forceflow's
 * own `LocalFile` connector type. The connector parts (sourceConnectorProperties,
 * destinationConnectorProperties, connectorOperator) come from the connector registry
 * (src/connectors/registry.ts): `flowDefinitionSchema(registry)` builds the schema.
 *
 * Every object is strict: an unknown or misspelled key is an error (validate.ts adds a "did you mean").
 * Fields only AppFlow's service sets (ARNs, status, timestamps, tags, ...) are accepted and ignored, so
 * describe-flow output validates as is. Cross-field rules (properties key matching connectorType, the
 * projection requirement, task properties) live in validate.ts and src/mapping, not here, so that each
 * problem gets its own path and sentence. docs/flows.md documents every field.
 */

/** A connectorType value (the registry says which ones forceflow runs). */
export type SourceConnectorType = string;
export type DestinationConnectorType = string;

/** The rest of AppFlow's ConnectorType enum: recognised so the message can say "not supported" rather than "unknown". */
export const OTHER_APPFLOW_CONNECTOR_TYPES = [
  'Singular', 'Slack', 'Redshift', 'Marketo', 'Googleanalytics', 'Zendesk', 'Servicenow', 'Datadog', 'Trendmicro',
  'Snowflake', 'Dynatrace', 'Infornexus', 'Amplitude', 'Veeva', 'EventBridge', 'LookoutMetrics', 'Upsolver',
  'Honeycode', 'CustomerProfiles', 'SAPOData', 'CustomConnector', 'Pardot',
] as const;
/** AppFlow connectors that can only be a flow's source (absent from AppFlow's DestinationConnectorProperties). */
export const APPFLOW_SOURCE_ONLY_CONNECTORS = [
  'Singular', 'Slack', 'Googleanalytics', 'Servicenow', 'Datadog', 'Trendmicro', 'Dynatrace', 'Infornexus',
  'Amplitude', 'Veeva', 'Pardot',
] as const;

export const TASK_TYPES = [
  'Arithmetic', 'Filter', 'Map', 'Map_all', 'Mask', 'Merge', 'Passthrough', 'Truncate', 'Validate', 'Partition',
] as const;
export type TaskType = (typeof TASK_TYPES)[number];


/** AppFlow's OperatorPropertiesKeys (17 values). */
export const TASK_PROPERTY_KEYS = [
  'VALUE', 'VALUES', 'DATA_TYPE', 'UPPER_BOUND', 'LOWER_BOUND', 'SOURCE_DATA_TYPE', 'DESTINATION_DATA_TYPE',
  'VALIDATION_ACTION', 'MASK_VALUE', 'MASK_LENGTH', 'TRUNCATE_LENGTH', 'MATH_OPERATION_FIELDS_ORDER', 'CONCAT_FORMAT',
  'SUBFIELD_CATEGORY_MAP', 'EXCLUDE_SOURCE_FIELDS_LIST', 'INCLUDE_NEW_FIELDS', 'ORDERED_PARTITION_KEYS_LIST',
] as const;
export type TaskPropertyKey = (typeof TASK_PROPERTY_KEYS)[number];

export { DATA_TRANSFER_APIS } from '../connectors/salesforce/properties.ts';

// ---------------------------------------------------------------------------------------------------
// CloudFormation's spellings (AWS::AppFlow::Flow, camelCased), rewritten to the API form while parsing.
// They are part of the schema, so the published JSON Schema (src/flows/json-schema.ts) shows them too.

/** Keys spelled the CloudFormation way, with the API key each one stands for (docs/flows.md). */
export const CLOUDFORMATION_KEYS: Readonly<Record<string, string>> = {
  timeZone: 'timezone',
  failOnFirstError: 'failOnFirstDestinationError',
};

type Entry = { key?: string; Key?: string; value?: unknown; Value?: unknown };

/** A CloudFormation list of {key, value} entries (or {Key, Value}), as editors see it. */
function keyValueList(description: string, value: z.ZodType, valueRequired: boolean) {
  return z
    .array(z.object({ key: z.string().optional(), Key: z.string().optional(), value: value.optional(), Value: value.optional() })
      .refine((e) => (e.key ?? e.Key) !== undefined && (!valueRequired || (e.value ?? e.Value) !== undefined), { error: 'expected a key and a value', abort: true }))
    .meta({ description });
}

function entriesToMap(list: readonly Entry[]): Record<string, unknown> {
  return Object.fromEntries(list.map((e) => [e.key ?? e.Key, e.value ?? e.Value]));
}

/** `api`, or CloudFormation's list of {key, value} entries rewritten to it (and then checked as `api`). */
function orKeyValueList<T extends z.ZodType<unknown, Record<string, unknown>>>(api: T, list: ReturnType<typeof keyValueList>) {
  return z.union([api, list.transform(entriesToMap).pipe(api)]);
}

/** A Date member: epoch seconds (AppFlow's wire form, CloudFormation) or an ISO-8601 string (SDKs, Terraform; no offset means UTC). */
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const TIMESTAMP_ERROR = 'expected a timestamp: epoch seconds (a number such as 1735689600) or an ISO-8601 string such as "2025-01-01T00:00:00Z"';
export const TimestampSchema = z.union(
  [
    z.number({ error: TIMESTAMP_ERROR }).nonnegative({ error: TIMESTAMP_ERROR }),
    z.string({ error: TIMESTAMP_ERROR }).regex(ISO_DATETIME, { error: TIMESTAMP_ERROR }).refine((s) => toEpochMillis(s) !== undefined, { error: TIMESTAMP_ERROR }),
  ],
  { error: TIMESTAMP_ERROR },
).meta({ description: 'Epoch seconds (number) or ISO-8601 string.' });
export type Timestamp = z.infer<typeof TimestampSchema>;

/**
 * rate(...) or cron(...): the shape only. src/flows/schedule.ts parses the expression (rate units and the
 * once-a-minute minimum, EventBridge's six cron fields) and validate.ts reports what it finds wrong.
 */
export const SCHEDULE_EXPRESSION = /^\s*(?:rate|cron)\s*\(.*\)\s*$/i;

export const ScheduledTriggerPropertiesSchema = withSpelling('timeZone', 'timezone', z.strictObject({
  scheduleExpression: z.string().max(256).regex(SCHEDULE_EXPRESSION, {
    error: 'expected rate(<n>minutes|hours|days) such as "rate(1hours)" (a space before the unit is accepted) or cron(<6 fields>) such as "cron(0 12 * * ? *)"',
  }),
  dataPullMode: z.enum(['Incremental', 'Complete']).optional(),
  scheduleStartTime: TimestampSchema.optional(),
  scheduleEndTime: TimestampSchema.optional(),
  timezone: z.string().max(256).optional(),
  timeZone: z.string().max(256).optional().meta({ description: "CloudFormation's TimeZone, camelCased: the same as timezone" }),
  scheduleOffset: z.number().int().min(0).max(36000).optional(),
  firstExecutionFrom: TimestampSchema.optional(),
  flowErrorDeactivationThreshold: z.number().int().min(1).max(100).optional(),
}));

export const TriggerConfigSchema = z.strictObject({
  triggerType: z.enum(['Scheduled', 'Event', 'OnDemand']),
  // CloudFormation's flattened form (triggerProperties holding scheduleExpression) is read as triggerProperties.Scheduled.
  triggerProperties: z.preprocess(
    (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) && 'scheduleExpression' in v ? { Scheduled: v } : v),
    z.strictObject({ Scheduled: ScheduledTriggerPropertiesSchema.optional() }),
  ).optional(),
});

const ProfileNameSchema = z.string().max(256).regex(/^[\w/!@#+=.-]+$/, { error: 'expected a connector profile name of letters, digits and _/!@#+=.-' });

/** sourceConnectorProperties: one optional entry per source connector, keyed by its type. */
export interface SourceConnectorProperties {
  Salesforce?: SalesforceSourceProperties;
  S3?: S3SourceProperties;
  LocalFile?: LocalFileSourceProperties;
  /** A connector registered beyond forceflow's own: its properties as its schema parsed them. */
  [connectorType: string]: unknown;
}
/** destinationConnectorProperties: one optional entry per destination connector, keyed by its type. */
export interface DestinationConnectorProperties {
  Salesforce?: SalesforceDestinationProperties;
  S3?: S3DestinationFlowProperties;
  LocalFile?: LocalFileDestinationProperties;
  [connectorType: string]: unknown;
}
export type ConnectorOperator = Partial<Record<string, ConnectorOperatorName>>;

const ConnectorTypeSchema = z.string().min(1);
const ApiVersionSchema = z.string().max(256);

const TaskPropertyValue = z.string().min(1).max(2048);
/** taskProperties as the API has it: a map of OperatorPropertiesKeys to strings. */
export const TaskPropertiesSchema = z.strictObject(
  Object.fromEntries(TASK_PROPERTY_KEYS.map((k) => [k, TaskPropertyValue.optional()])) as Record<TaskPropertyKey, z.ZodOptional<typeof TaskPropertyValue>>,
);
export type TaskProperties = Partial<Record<TaskPropertyKey, string>>;

/** taskProperties as a flow may give it: the API's map, or CloudFormation's list of {key, value}. */
export const TaskPropertiesInputSchema = orKeyValueList(TaskPropertiesSchema, keyValueList("CloudFormation's TaskProperties form, camelCased", z.unknown(), false));

export const MetadataCatalogConfigSchema = z.strictObject({
  glueDataCatalog: z
    .strictObject({ roleArn: z.string().min(1), databaseName: z.string().min(1), tablePrefix: z.string().min(1) })
    .optional(),
});

const SERVICE_ONLY = 'Set by AppFlow; accepted and ignored.';

/** tags as a flow may give them: the API's map, or CloudFormation's list of {key, value}. */
export const TagsInputSchema = orKeyValueList(z.record(z.string(), z.string()), keyValueList("CloudFormation's Tags form, camelCased", z.string(), true));

/** The unions of an API form and its CloudFormation list (validate.ts words their problems as the API form's). */
export const SPELLING_UNIONS: readonly object[] = [TaskPropertiesInputSchema, TagsInputSchema];

/** The registry-driven parts of the schema: one optional entry per connector, keyed by its connectorType. */
interface ConnectorParts {
  readonly source: z.ZodType<SourceConnectorProperties>;
  readonly destination: z.ZodType<DestinationConnectorProperties>;
  readonly operator: z.ZodType<ConnectorOperator>;
}

function connectorParts(registry: ConnectorRegistry): ConnectorParts {
  const entries = (side: 'sourceProperties' | 'destinationProperties') => Object.fromEntries(
    registry.connectors.flatMap((c) => (c[side] === undefined ? [] : [[c.connectorType, c[side].optional()]])),
  );
  const operator = Object.fromEntries(registry.connectors.map((c) => [c.connectorType, z.enum(c.operators as [string, ...string[]]).optional()]));
  // The parsed values are each connector's own (typed in its folder); the casts state that.
  return {
    source: z.strictObject(entries('sourceProperties')) as unknown as z.ZodType<SourceConnectorProperties>,
    destination: z.strictObject(entries('destinationProperties')) as unknown as z.ZodType<DestinationConnectorProperties>,
    operator: z.strictObject(operator) as unknown as z.ZodType<ConnectorOperator>,
  };
}

function buildFlowDefinitionSchema(parts: ConnectorParts) {
  const sourceFlowConfig = z.strictObject({
    connectorType: ConnectorTypeSchema,
    apiVersion: ApiVersionSchema.optional(),
    connectorProfileName: ProfileNameSchema.optional(),
    sourceConnectorProperties: parts.source,
    incrementalPullConfig: z.strictObject({ datetimeTypeFieldName: z.string().min(1).max(256).optional() }).optional(),
  });
  const destinationFlowConfig = z.strictObject({
    connectorType: ConnectorTypeSchema,
    apiVersion: ApiVersionSchema.optional(),
    connectorProfileName: ProfileNameSchema.optional(),
    destinationConnectorProperties: parts.destination,
  });
  const task = z.strictObject({
    sourceFields: z.array(z.string().max(2048)),
    connectorOperator: parts.operator.optional(),
    destinationField: z.string().max(256).optional(),
    taskType: z.enum(TASK_TYPES),
    taskProperties: TaskPropertiesInputSchema.optional(),
  });
  return z
    .strictObject({
      flowName: z.string().max(256).regex(/^[a-zA-Z0-9][\w!@#.-]+$/, {
        error: 'expected a name of at least 2 characters: a letter or digit, then letters, digits and _!@#.- (no spaces)',
      }),
      description: z.string().max(2048).optional(),
      kmsArn: z.string().min(20).max(2048).regex(/^arn:aws:kms:.*:[0-9]+:.*$/, { error: 'expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)' }).optional(),
      triggerConfig: TriggerConfigSchema,
      sourceFlowConfig,
      destinationFlowConfigList: z.array(destinationFlowConfig),
      tasks: z.array(task),
      tags: TagsInputSchema.optional(),
      metadataCatalogConfig: MetadataCatalogConfigSchema.optional(),
      clientToken: z.string().optional().meta({ description: SERVICE_ONLY }),
      // Returned by DescribeFlow, tolerated so its output validates unchanged.
      flowArn: z.string().optional().meta({ description: SERVICE_ONLY }),
      flowStatus: z.string().optional().meta({ description: SERVICE_ONLY }),
      flowStatusMessage: z.string().optional().meta({ description: SERVICE_ONLY }),
      createdAt: z.unknown().optional().meta({ description: SERVICE_ONLY }),
      lastUpdatedAt: z.unknown().optional().meta({ description: SERVICE_ONLY }),
      createdBy: z.string().optional().meta({ description: SERVICE_ONLY }),
      lastUpdatedBy: z.string().optional().meta({ description: SERVICE_ONLY }),
      lastRunExecutionDetails: z.unknown().optional().meta({ description: SERVICE_ONLY }),
      lastRunMetadataCatalogDetails: z.unknown().optional().meta({ description: SERVICE_ONLY }),
      schemaVersion: z.number().int().nonnegative().optional().meta({
        description: 'Set by AppFlow. When present, forceflow uses it for the schemaVersion_<n> folder instead of deriving one.',
      }),
    })
    .meta({ title: 'forceflow flow definition (AppFlow CreateFlow JSON)' });
}

export type FlowDefinitionSchemaType = ReturnType<typeof buildFlowDefinitionSchema>;

// A registry is immutable, so its schema is built once per registry (a cache, not shared state).
const schemas = new WeakMap<ConnectorRegistry, FlowDefinitionSchemaType>();

/** The zod schema of a flow definition whose connectors are the registry's. */
export function flowDefinitionSchema(registry: ConnectorRegistry): FlowDefinitionSchemaType {
  let schema = schemas.get(registry);
  if (!schema) {
    schema = buildFlowDefinitionSchema(connectorParts(registry));
    schemas.set(registry, schema);
  }
  return schema;
}

export type FlowDefinition = z.infer<FlowDefinitionSchemaType>;
export type TaskDefinition = FlowDefinition['tasks'][number];
export type SourceFlowConfig = FlowDefinition['sourceFlowConfig'];
export type DestinationFlowConfig = FlowDefinition['destinationFlowConfigList'][number];
export type ScheduledTriggerProperties = z.infer<typeof ScheduledTriggerPropertiesSchema>;
