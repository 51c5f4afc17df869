import { z } from 'zod';
import { isForceflowError } from '../../core/errors.ts';
import { describeGlobal, describeObject, type SfField, type SfGlobalEntry, type SfObject } from '../../connectors/salesforce/describe.ts';
import { DEFAULT_API_VERSION } from '../../connectors/salesforce/config.ts';
import type { ProfileContext } from '../../profiles/profiles.ts';
import { ApiError } from '../api-error.ts';
import { operation, type Operation, type OperationContext } from '../operation.ts';
import { maxResultsSchema, NextTokenSchema, pageOf, PageTokens } from '../paging.ts';
import { MetadataCache } from './metadata-cache.ts';
import { salesforceClientFor } from './salesforce-access.ts';

export interface ConnectorOperationsDeps {
  readonly profiles: ProfileContext;
  /** Shared with the profile operations, which clear a profile's entries when it changes. */
  readonly metadataCache?: MetadataCache;
  readonly pageTokens?: PageTokens;
}

const PROFILE_NAME = z.string().min(1).max(256).regex(/^[\w/!@#+=.-]+$/, 'letters, digits and _/!@#+=.- only');
const CONNECTOR_TYPE = z.string().max(256);
/**
 * AppFlow's apiVersion member: for Salesforce the version of DescribeConnectors' supportedApiVersions
 * ("v58.0", or "58.0"). Without it, the profile's version (forceflow's `apiVersion` extension, else 58.0).
 */
const API_VERSION = z
  .string()
  .max(256)
  .refine((v) => v.replace(/^v/, '') === DEFAULT_API_VERSION, `the Salesforce API version this service supports: "v${DEFAULT_API_VERSION}" (DescribeConnectors' supportedApiVersions), or omit it`);

const ListEntitiesInput = z.object({
  connectorProfileName: PROFILE_NAME.optional(),
  connectorType: CONNECTOR_TYPE.optional(),
  entitiesPath: z.string().max(256).optional(),
  apiVersion: API_VERSION.optional(),
  maxResults: maxResultsSchema(10_000).optional(),
  nextToken: NextTokenSchema.optional(),
});

const DescribeEntityInput = z.object({
  connectorEntityName: z.string().min(1).max(1024),
  connectorType: CONNECTOR_TYPE.optional(),
  connectorProfileName: PROFILE_NAME.optional(),
  apiVersion: API_VERSION.optional(),
});

const ResetCacheInput = z.object({
  connectorProfileName: PROFILE_NAME.optional(),
  connectorType: CONNECTOR_TYPE.optional(),
  connectorEntityName: z.string().max(1024).optional(),
  entitiesPath: z.string().max(256).optional(),
  apiVersion: API_VERSION.optional(),
});

const DescribeConnectorsInput = z.object({
  connectorTypes: z.array(z.string().max(256)).max(100).optional(),
  maxResults: maxResultsSchema(100).optional(),
  nextToken: NextTokenSchema.optional(),
});

const DescribeConnectorInput = z.object({
  connectorType: z.string().max(256),
  connectorLabel: z.string().max(256).optional(),
});

const ListConnectorsInput = z.object({
  maxResults: maxResultsSchema(100).optional(),
  nextToken: NextTokenSchema.optional(),
});

/** The profile named by a metadata request, which must exist and be a Salesforce profile. */
async function requireProfile(profiles: ProfileContext, name: string | undefined, connectorType: string | undefined): Promise<string> {
  if (connectorType !== undefined && connectorType !== 'Salesforce') {
    throw new ApiError('ValidationException', `connectorType: "${connectorType}" is not available in this service; it supports "Salesforce" only.`);
  }
  if (name === undefined) {
    throw new ApiError('ValidationException', 'connectorProfileName: required for Salesforce (entities are read from the org the profile connects to).');
  }
  const stored = await profiles.store.get(name);
  if (!stored) throw new ApiError('ResourceNotFoundException', `Connector Profile with name ${name} does not exist.`);
  return name;
}

function versionOf(apiVersion: string | undefined): string | undefined {
  return apiVersion?.replace(/^v/, '');
}

const NUMERIC_OPERATORS = ['NOT_EQUAL_TO', 'EQUAL_TO', 'LESS_THAN', 'LESS_THAN_OR_EQUAL_TO', 'GREATER_THAN', 'GREATER_THAN_OR_EQUAL_TO'];
const TIME_OPERATORS = ['EQUAL_TO', 'LESS_THAN', 'LESS_THAN_OR_EQUAL_TO', 'GREATER_THAN', 'GREATER_THAN_OR_EQUAL_TO', 'BETWEEN'];
const TEXT_OPERATORS = ['CONTAINS', 'EQUAL_TO', 'NOT_EQUAL_TO'];
const TEXT_TYPES = new Set(['string', 'email', 'phone', 'url', 'encryptedstring', 'combobox']);
const NUMBER_TYPES = new Set(['int', 'long', 'double', 'currency', 'percent']);
const TIME_TYPES = new Set(['date', 'datetime', 'time']);
/** Salesforce's audit timestamps, the fields AppFlow offers for incremental transfers. */
const INCREMENTAL_FIELDS = new Set(['LastModifiedDate', 'SystemModstamp', 'CreatedDate']);

/** The filter operators a field supports (none for a field Salesforce does not let a query filter on). */
function filterOperatorsOf(f: SfField): string[] {
  if (!f.filterable) return [];
  if (TEXT_TYPES.has(f.type)) return TEXT_OPERATORS;
  if (NUMBER_TYPES.has(f.type)) return NUMERIC_OPERATORS;
  if (TIME_TYPES.has(f.type)) return TIME_OPERATORS;
  return ['EQUAL_TO'];
}

/** The write operations for which the field may be the flow's idFieldNames (as the Salesforce destination accepts them). */
function writeOperationsOf(f: SfField): string[] {
  if (f.type === 'id') return ['UPDATE', 'UPSERT', 'DELETE'];
  if (f.externalId) return ['UPSERT'];
  return [];
}

/**
 * A Salesforce describe field as AppFlow's ConnectorEntityField (API Reference example for Account,
 * appflow-api.md §5.3): fieldType is the Salesforce type, label and description the field's label.
 */
export function connectorEntityFieldOf(f: SfField): Record<string, unknown> {
  const lengthy = (TEXT_TYPES.has(f.type) || f.type === 'textarea') && f.length > 0;
  const supportedValues = f.type === 'boolean' ? ['true', 'false'] : f.picklistValues !== undefined && f.picklistValues.length > 0 ? [...f.picklistValues] : undefined;
  const writeOperations = writeOperationsOf(f);
  return {
    identifier: f.name,
    label: f.label,
    isPrimaryKey: f.name === 'Id',
    ...(f.defaultValue !== undefined && f.defaultValue !== null ? { defaultValue: f.defaultValue } : {}),
    isDeprecated: f.deprecatedAndHidden === true,
    supportedFieldTypeDetails: {
      v1: {
        fieldType: f.type,
        filterOperators: filterOperatorsOf(f),
        ...(supportedValues === undefined ? {} : { supportedValues }),
        ...(lengthy ? { fieldLengthRange: { minimum: 0, maximum: f.length } } : {}),
      },
    },
    description: f.label,
    sourceProperties: { isRetrievable: true, isQueryable: true, isTimestampFieldForIncrementalQueries: f.type === 'datetime' && INCREMENTAL_FIELDS.has(f.name) },
    destinationProperties: {
      isCreatable: f.createable,
      isNullable: f.nillable,
      isUpsertable: writeOperations.includes('UPSERT') || (f.createable && f.updateable),
      isUpdatable: f.updateable,
      isDefaultedOnCreate: f.defaultedOnCreate,
      ...(writeOperations.length > 0 ? { supportedWriteOperations: writeOperations } : {}),
    },
  };
}

/** DescribeConnectors' ConnectorConfiguration for Salesforce (appflow-api.md §5.4: model-conformant values). */
export function salesforceConfiguration(): Record<string, unknown> {
  return {
    connectorType: 'Salesforce',
    connectorName: 'Salesforce',
    connectorDescription: 'Salesforce through forceflow: REST and Bulk API 2.0, objects and fields from the org describe.',
    connectorOwner: 'forceflow',
    canUseAsSource: true,
    canUseAsDestination: true,
    supportedDestinationConnectors: ['S3', 'Salesforce'],
    supportedSchedulingFrequencies: ['BYMINUTE', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'ONCE'],
    supportedTriggerTypes: ['Scheduled', 'OnDemand', 'Event'],
    supportedWriteOperations: ['INSERT', 'UPSERT', 'UPDATE', 'DELETE'],
    supportedApiVersions: [`v${DEFAULT_API_VERSION}`],
    connectorModes: ['Public'],
    isPrivateLinkEnabled: false,
    isPrivateLinkEndpointUrlRequired: false,
    supportedDataTransferTypes: ['RECORD'],
    supportedDataTransferApis: [
      { Name: 'AUTOMATIC', Type: 'AUTOMATIC' },
      { Name: 'BULKV2', Type: 'ASYNC' },
      { Name: 'REST_SYNC', Type: 'SYNC' },
    ],
    connectorMetadata: {
      Salesforce: {
        oAuthScopes: ['api', 'refresh_token', 'id'],
        dataTransferApis: ['AUTOMATIC', 'BULKV2', 'REST_SYNC'],
        oauth2GrantTypesSupported: ['AUTHORIZATION_CODE', 'JWT_BEARER'],
      },
    },
  };
}

/** Connector types this service describes; others are answered as AppFlow answers unknown or absent types. */
const CONFIGURATIONS: Readonly<Record<string, () => Record<string, unknown>>> = { Salesforce: salesforceConfiguration };

/**
 * ListConnectorEntities, DescribeConnectorEntity and ResetConnectorMetadataCache (answered from
 * Salesforce's describe through a stored profile, cached per profile for an hour as AppFlow does), and
 * DescribeConnectors, DescribeConnector and ListConnectors.
 */
export function connectorOperations(deps: ConnectorOperationsDeps): Operation[] {
  const { profiles } = deps;
  const cache = deps.metadataCache ?? new MetadataCache();
  const tokens = deps.pageTokens ?? new PageTokens();

  const entities = (name: string, apiVersion: string | undefined, ctx: OperationContext): Promise<SfGlobalEntry[]> =>
    cache.get(name, `global@${apiVersion ?? ''}`, ctx.now().getTime(), async () => {
      const client = await salesforceClientFor(profiles, name, ctx.log.child({ profile: name }), apiVersion);
      return (await describeGlobal(client)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });

  const describe = (name: string, entity: string, apiVersion: string | undefined, ctx: OperationContext): Promise<SfObject> =>
    cache.get(name, `entity:${entity.toLowerCase()}@${apiVersion ?? ''}`, ctx.now().getTime(), async () => {
      const client = await salesforceClientFor(profiles, name, ctx.log.child({ profile: name }), apiVersion);
      return describeObject(client, entity);
    });

  return [
    operation({
      name: 'ListConnectorEntities',
      method: 'POST',
      path: '/list-connector-entities',
      readOnly: true,
      input: ListEntitiesInput,
      async handle(input, ctx) {
        const name = await requireProfile(profiles, input.connectorProfileName, input.connectorType);
        if (input.entitiesPath !== undefined && input.entitiesPath !== '') {
          throw new ApiError('ValidationException', `entitiesPath: Salesforce objects are not nested (hasNestedEntities is false for all of them); omit entitiesPath.`);
        }
        const apiVersion = versionOf(input.apiVersion);
        // Engine errors (Salesforce refusing the profile, or failing) are mapped by the protocol layer.
        const all = await entities(name, apiVersion, ctx);
        const scope = PageTokens.scope('ListConnectorEntities', { p: name, v: apiVersion });
        const { page, nextToken } = pageOf(all, (e) => e.name, { tokens, scope, maxResults: input.maxResults ?? 10_000, nextToken: input.nextToken });
        return {
          connectorEntityMap: { Objects: page.map((e) => ({ name: e.name, label: e.label, hasNestedEntities: false })) },
          ...(nextToken === undefined ? {} : { nextToken }),
        };
      },
    }),

    operation({
      name: 'DescribeConnectorEntity',
      method: 'POST',
      path: '/describe-connector-entity',
      readOnly: true,
      input: DescribeEntityInput,
      async handle(input, ctx) {
        const name = await requireProfile(profiles, input.connectorProfileName, input.connectorType);
        let object: SfObject;
        try {
          object = await describe(name, input.connectorEntityName, versionOf(input.apiVersion), ctx);
        } catch (error) {
          if (isForceflowError(error) && error.code === 'OBJECT_NOT_FOUND') {
            throw new ApiError('ResourceNotFoundException', `Entity ${input.connectorEntityName} does not exist in the org of connector profile ${name}. ListConnectorEntities gives the object names (custom objects end with __c).`);
          }
          throw error;
        }
        return { connectorEntityFields: object.fields.map(connectorEntityFieldOf) };
      },
    }),

    operation({
      name: 'ResetConnectorMetadataCache',
      method: 'POST',
      path: '/reset-connector-metadata-cache',
      readOnly: false,
      input: ResetCacheInput,
      async handle(input) {
        const name = await requireProfile(profiles, input.connectorProfileName, input.connectorType);
        const entity = input.connectorEntityName;
        if (entity === undefined || entity === '') cache.reset(name);
        else cache.reset(name, (key) => key.startsWith(`entity:${entity.toLowerCase()}@`));
        return {};
      },
    }),

    operation({
      name: 'DescribeConnectors',
      method: 'POST',
      path: '/describe-connectors',
      readOnly: true,
      input: DescribeConnectorsInput,
      async handle(input) {
        const wanted = input.connectorTypes === undefined || input.connectorTypes.length === 0 ? Object.keys(CONFIGURATIONS) : input.connectorTypes;
        const types = [...new Set(wanted)].filter((t) => CONFIGURATIONS[t] !== undefined).sort();
        const scope = PageTokens.scope('DescribeConnectors', { t: input.connectorTypes ?? [] });
        const { page, nextToken } = pageOf(types, (t) => t, { tokens, scope, maxResults: input.maxResults ?? 20, nextToken: input.nextToken });
        const connectorConfigurations: Record<string, unknown> = {};
        for (const t of page) connectorConfigurations[t] = (CONFIGURATIONS[t] as () => Record<string, unknown>)();
        return { connectorConfigurations, connectors: [], ...(nextToken === undefined ? {} : { nextToken }) };
      },
    }),

    operation({
      name: 'DescribeConnector',
      method: 'POST',
      path: '/describe-connector',
      readOnly: true,
      input: DescribeConnectorInput,
      async handle(input) {
        const make = CONFIGURATIONS[input.connectorType];
        if (!make || input.connectorLabel !== undefined) {
          throw new ApiError('ResourceNotFoundException', `Connector ${input.connectorLabel ?? input.connectorType} is not available in this service; it has the Salesforce connector only (no custom connectors).`);
        }
        return { connectorConfiguration: make() };
      },
    }),

    operation({
      name: 'ListConnectors',
      method: 'POST',
      path: '/list-connectors',
      readOnly: true,
      input: ListConnectorsInput,
      async handle(input) {
        // AppFlow lists registered custom connectors only, never the AWS-authored ones: none here.
        if (input.nextToken !== undefined) throw new ApiError('ValidationException', 'nextToken: this list has a single page; omit nextToken.');
        return { connectors: [] };
      },
    }),
  ];
}
