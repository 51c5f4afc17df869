import { z } from 'zod';
import { isLoopbackHost, loginUrlOf, SalesforceProfileCredentialsSchema, SalesforceProfilePropertiesSchema, type SalesforceProfileProperties } from '../../connectors/salesforce/config.ts';
import { isForceflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { createProfile, deleteProfile, openProfile, type ProfileContext } from '../../profiles/profiles.ts';
import type { StoredProfile } from '../../profiles/store.ts';
import { ApiError } from '../api-error.ts';
import { operation, type Operation, type OperationContext } from '../operation.ts';
import { maxResultsSchema, NextTokenSchema, pageOf, PageTokens } from '../paging.ts';
import type { MetadataCache } from './metadata-cache.ts';
import { connectorProfileArn, salesforceClientFor } from './salesforce-access.ts';
import { parseApiReserve, reserveCalls } from '../../connectors/salesforce/reserve.ts';

export interface ProfileOperationsDeps {
  /** The profile store, KMS and Secrets Manager: the ones `forceflow profiles` uses. */
  readonly profiles: ProfileContext;
  /** Names of the flows that use a connector profile (DeleteConnectorProfile refuses while any does, unless forceDelete). */
  readonly profileInUse: (connectorProfileName: string) => Promise<string[]>;
  /** Cleared for a profile when it is updated or deleted. */
  readonly metadataCache?: MetadataCache;
  readonly pageTokens?: PageTokens;
}

const PROFILE_NAME = z.string().min(1).max(256).regex(/^[\w/!@#+=.-]+$/, 'letters, digits and _/!@#+=.- only');
const CONNECTOR_TYPE = z.literal('Salesforce', { error: 'this service supports connectorType "Salesforce" only' });
const CONNECTION_MODE = z.enum(['Public', 'Private']);
const CLIENT_TOKEN = z.string().min(1).max(256).regex(/^[ -~]+$/, 'printable ASCII');

/** The request's Salesforce properties and credentials, with the same schemas as profile files (src/connectors/salesforce/config.ts). */
const PROFILE_CONFIG = z.object({
  connectorProfileProperties: z.object({ Salesforce: SalesforceProfilePropertiesSchema }, { error: 'needs connectorProfileProperties.Salesforce' }),
  connectorProfileCredentials: z.object({ Salesforce: SalesforceProfileCredentialsSchema }).optional(),
});

const CreateInput = z.object({
  connectorProfileName: PROFILE_NAME,
  kmsArn: z.string().min(20).max(2048).regex(/^arn:aws:kms:.*:[0-9]+:.*$/, 'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)').optional(),
  connectorType: CONNECTOR_TYPE,
  connectorLabel: z.string().max(256).optional(),
  connectionMode: CONNECTION_MODE,
  connectorProfileConfig: PROFILE_CONFIG,
  clientToken: CLIENT_TOKEN.optional(),
});

const UpdateInput = z.object({
  connectorProfileName: PROFILE_NAME,
  connectionMode: CONNECTION_MODE,
  connectorProfileConfig: PROFILE_CONFIG,
  clientToken: CLIENT_TOKEN.optional(),
});

const DescribeInput = z.object({
  connectorProfileNames: z.array(PROFILE_NAME).max(100).optional(),
  connectorType: z.string().max(256).optional(),
  connectorLabel: z.string().max(256).optional(),
  maxResults: maxResultsSchema(100).optional(),
  nextToken: NextTokenSchema.optional(),
});

const BudgetInput = z.object({ connectorProfileName: PROFILE_NAME });

/** `/limits`, parsed once: the limits the API budget guard watches (docs/salesforce-budget.md). */
const LimitsAnswer = z.object({
  DailyApiRequests: z.object({ Max: z.number(), Remaining: z.number() }),
  DailyBulkV2QueryJobs: z.object({ Max: z.number(), Remaining: z.number() }).optional(),
  DailyBulkApiBatches: z.object({ Max: z.number(), Remaining: z.number() }).optional(),
});

const DeleteInput = z.object({
  connectorProfileName: PROFILE_NAME,
  forceDelete: z.boolean().optional(),
});

function notFound(name: string): ApiError {
  return new ApiError('ResourceNotFoundException', `Connector Profile with name ${name} does not exist.`);
}

function refusePrivate(mode: string): void {
  if (mode === 'Private') {
    throw new ApiError('ValidationException', 'connectionMode: Private (AWS PrivateLink) is not available in forceflow. Use "Public".');
  }
}

/**
 * The login host of a profile created through the API. AppFlow's model has no login URL (it uses
 * login.salesforce.com or test.salesforce.com); forceflow's `loginUrl` extension is not in the model, so
 * the AWS SDK drops it. For an instanceUrl on a loopback host (the emulator or a local proxy, which serve
 * OAuth on the same origin) the login host is the instanceUrl; a loginUrl sent raw is kept.
 */
function withLoginUrl(properties: SalesforceProfileProperties): SalesforceProfileProperties {
  if (properties.loginUrl !== undefined || properties.instanceUrl === undefined) return properties;
  return isLoopbackHost(new URL(properties.instanceUrl).hostname) ? { ...properties, loginUrl: properties.instanceUrl } : properties;
}

/** forceflow's own property members, which the AWS SDK cannot send: an Update keeps the stored ones. */
const EXTENSION_PROPERTIES = ['loginUrl', 'apiVersion', 'apiReserve'] as const;

function withStoredExtensions(properties: SalesforceProfileProperties, stored: StoredProfile): SalesforceProfileProperties {
  const doc = stored.document as { connectorProfileConfig?: { connectorProfileProperties?: { Salesforce?: Record<string, unknown> } } };
  const before = doc.connectorProfileConfig?.connectorProfileProperties?.Salesforce ?? {};
  const kept: Record<string, unknown> = {};
  for (const key of EXTENSION_PROPERTIES) if (properties[key] === undefined && (typeof before[key] === 'string' || typeof before[key] === 'number')) kept[key] = before[key];
  return { ...kept, ...properties };
}

function storedProperties(stored: StoredProfile): SalesforceProfileProperties {
  const doc = stored.document as { connectorProfileConfig?: { connectorProfileProperties?: { Salesforce?: SalesforceProfileProperties } } };
  return doc.connectorProfileConfig?.connectorProfileProperties?.Salesforce ?? {};
}

function originOf(url: string | undefined): string | undefined {
  return url === undefined ? undefined : new URL(url).origin;
}

/**
 * An update that keeps the stored credentials must not send them to another server: the connection check
 * (and every later run) would hand the refresh token, client secret or JWT to whatever instanceUrl or login
 * host the request names. Moving a profile takes its credentials again.
 */
function refuseMovedCredentials(before: SalesforceProfileProperties, after: SalesforceProfileProperties): void {
  const moved: string[] = [];
  if (originOf(before.instanceUrl) !== originOf(after.instanceUrl)) moved.push('instanceUrl');
  if (originOf(loginUrlOf(before)) !== originOf(loginUrlOf(after))) moved.push(after.loginUrl === undefined && before.loginUrl === undefined ? 'isSandboxEnvironment' : 'the login host');
  if (moved.length > 0) {
    throw new ApiError(
      'ValidationException',
      `Value at 'connectorProfileConfig.connectorProfileCredentials' failed to satisfy constraint: this update changes ${moved.join(' and ')}, so the stored credentials are not reused for the new server. Send connectorProfileCredentials again with the update.`,
    );
  }
}

/** The modelled SalesforceConnectorProfileProperties members (forceflow's extensions stay internal). */
function modelledProperties(stored: StoredProfile): Record<string, unknown> {
  const doc = stored.document as { connectorProfileConfig?: { connectorProfileProperties?: { Salesforce?: Record<string, unknown> } } };
  const sf = doc.connectorProfileConfig?.connectorProfileProperties?.Salesforce ?? {};
  const out: Record<string, unknown> = {};
  for (const key of ['instanceUrl', 'isSandboxEnvironment', 'usePrivateLinkForMetadataAndAuthorization']) if (sf[key] !== undefined) out[key] = sf[key];
  return { Salesforce: out };
}

/**
 * Where AppFlow would name the profile's credentials secret. forceflow keeps the credentials in its
 * local profile store, envelope-encrypted with KMS (as `forceflow profiles create` does), so this ARN
 * names that record; it is not a Secrets Manager secret.
 */
export function credentialsArnOf(ctx: Pick<OperationContext, 'region' | 'accountId'>, name: string): string {
  return `arn:aws:secretsmanager:${ctx.region}:${ctx.accountId}:secret:appflow!${ctx.accountId}-${name}`;
}

/** DescribeConnectorProfiles' ConnectorProfile: no credential member exists in the shape, and none is added. */
export function connectorProfileOf(ctx: Pick<OperationContext, 'region' | 'accountId'>, stored: StoredProfile): Record<string, unknown> {
  const label = (stored.document as { connectorLabel?: unknown }).connectorLabel;
  return {
    connectorProfileArn: connectorProfileArn(ctx.region, ctx.accountId, stored.name),
    connectorProfileName: stored.name,
    connectorType: stored.connectorType,
    ...(typeof label === 'string' ? { connectorLabel: label } : {}),
    connectionMode: stored.connectionMode ?? 'Public',
    credentialsArn: credentialsArnOf(ctx, stored.name),
    connectorProfileProperties: modelledProperties(stored),
    createdAt: new Date(stored.createdAt),
    lastUpdatedAt: new Date(stored.updatedAt),
  };
}

/**
 * AppFlow's connection check: get a session (exchange or refresh the token) and make one cheap call.
 * Engine errors reach the protocol layer's one mapping (src/service/http/errors.ts): Salesforce refusing
 * the credentials is ConnectorAuthenticationException, another Salesforce failure ConnectorServerException,
 * a secret or KMS key that cannot be used ValidationException.
 */
async function checkConnection(profiles: ProfileContext, name: string, log: Logger): Promise<void> {
  const client = await salesforceClientFor(profiles, name, log);
  await client.json({ method: 'GET', path: '/limits', call: 'check the connection (limits)' });
}

/**
 * CreateConnectorProfile, UpdateConnectorProfile, DescribeConnectorProfiles and DeleteConnectorProfile
 * over the local profile store: a profile made through the API is stored exactly as `forceflow profiles
 * create` stores it (the same function), and can be used by `forceflow run` and the CLI alike.
 */
export function profileOperations(deps: ProfileOperationsDeps): Operation[] {
  const { profiles } = deps;
  const tokens = deps.pageTokens ?? new PageTokens();
  /** Names being created or updated right now: a second request for the same name is a conflict. */
  const busy = new Set<string>();

  const exclusive = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (busy.has(name)) throw new ApiError('ConflictException', `Connector profile ${name} is being changed by another request. Try again.`);
    busy.add(name);
    try {
      return await fn();
    } finally {
      busy.delete(name);
    }
  };

  /** Store (create or replace) and check the connection; on a failed check the previous state comes back. */
  const storeChecked = async (json: Record<string, unknown>, name: string, previous: StoredProfile | undefined, ctx: OperationContext): Promise<void> => {
    const log = ctx.log.child({ profile: name });
    await createProfile({ ...profiles, log }, json, { replace: previous !== undefined, origin: 'The request' });
    deps.metadataCache?.reset(name);
    try {
      await checkConnection(profiles, name, log);
    } catch (error) {
      if (previous) await profiles.store.put(previous, { replace: true });
      else await profiles.store.delete(name);
      throw error;
    }
  };

  return [
    operation({
      name: 'CreateConnectorProfile',
      method: 'POST',
      path: '/create-connector-profile',
      readOnly: false,
      input: CreateInput,
      async handle(input, ctx) {
        const name = input.connectorProfileName;
        refusePrivate(input.connectionMode);
        return exclusive(name, async () => {
          if (await profiles.store.get(name)) throw new ApiError('ConflictException', `Connector profile ${name} already exists.`);
          const properties = withLoginUrl(input.connectorProfileConfig.connectorProfileProperties.Salesforce);
          const credentials = input.connectorProfileConfig.connectorProfileCredentials;
          const json = {
            connectorProfileName: name,
            connectorType: input.connectorType,
            connectionMode: input.connectionMode,
            ...(input.kmsArn === undefined ? {} : { kmsArn: input.kmsArn }),
            ...(input.connectorLabel === undefined ? {} : { connectorLabel: input.connectorLabel }),
            connectorProfileConfig: { connectorProfileProperties: { Salesforce: properties }, ...(credentials === undefined ? {} : { connectorProfileCredentials: credentials }) },
          };
          try {
            await storeChecked(json, name, undefined, ctx);
          } catch (error) {
            // Another service instance (or the command line) stored the name after the check above.
            if (isForceflowError(error) && error.code === 'PROFILE_EXISTS') throw new ApiError('ConflictException', `Connector profile ${name} already exists.`);
            throw error;
          }
          ctx.log.info({ profile: name, caller: ctx.caller.arn }, 'connector profile created through the API');
          return { connectorProfileArn: connectorProfileArn(ctx.region, ctx.accountId, name) };
        });
      },
    }),

    operation({
      name: 'UpdateConnectorProfile',
      method: 'POST',
      path: '/update-connector-profile',
      readOnly: false,
      input: UpdateInput,
      async handle(input, ctx) {
        const name = input.connectorProfileName;
        refusePrivate(input.connectionMode);
        return exclusive(name, async () => {
          const previous = await profiles.store.get(name);
          if (!previous) throw notFound(name);
          const doc = previous.document as { kmsArn?: string; connectorLabel?: string };
          // Omitted credentials keep the stored ones; so do forceflow's property extensions (loginUrl, apiVersion)
          // and the members Update cannot change (kmsArn, connectorLabel). Stored credentials are decrypted
          // here and sealed again with the profile's key.
          const properties = withLoginUrl(withStoredExtensions(input.connectorProfileConfig.connectorProfileProperties.Salesforce, previous));
          let credentials = input.connectorProfileConfig.connectorProfileCredentials;
          if (credentials === undefined) {
            refuseMovedCredentials(storedProperties(previous), properties);
            credentials = { Salesforce: (await openProfile({ ...profiles, log: ctx.log }, name)).credentials };
          }
          const json = {
            connectorProfileName: name,
            connectorType: previous.connectorType,
            connectionMode: input.connectionMode,
            kmsArn: doc.kmsArn ?? previous.credentials.keyArn,
            ...(doc.connectorLabel === undefined ? {} : { connectorLabel: doc.connectorLabel }),
            connectorProfileConfig: { connectorProfileProperties: { Salesforce: properties }, connectorProfileCredentials: credentials },
          };
          await storeChecked(json, name, previous, ctx);
          ctx.log.info({ profile: name, caller: ctx.caller.arn, credentials: input.connectorProfileConfig.connectorProfileCredentials === undefined ? 'kept' : 'replaced' }, 'connector profile updated through the API');
          return { connectorProfileArn: connectorProfileArn(ctx.region, ctx.accountId, name) };
        });
      },
    }),

    operation({
      name: 'DescribeConnectorProfiles',
      method: 'POST',
      path: '/describe-connector-profiles',
      readOnly: true,
      input: DescribeInput,
      async handle(input, ctx) {
        const names = input.connectorProfileNames === undefined || input.connectorProfileNames.length === 0 ? undefined : new Set(input.connectorProfileNames);
        const matching = (await profiles.store.list())
          .filter((p) => (names === undefined || names.has(p.name)) && (input.connectorType === undefined || p.connectorType === input.connectorType))
          .filter((p) => input.connectorLabel === undefined || (p.document as { connectorLabel?: unknown }).connectorLabel === input.connectorLabel);
        const scope = PageTokens.scope('DescribeConnectorProfiles', { n: input.connectorProfileNames ?? [], t: input.connectorType, l: input.connectorLabel });
        const { page, nextToken } = pageOf(matching, (p) => p.name, { tokens, scope, maxResults: input.maxResults ?? 20, nextToken: input.nextToken });
        return { connectorProfileDetails: page.map((p) => connectorProfileOf(ctx, p)), ...(nextToken === undefined ? {} : { nextToken }) };
      },
    }),

    operation({
      // forceflow extension: the org's API budget now (one /limits call), with the profile's reserve.
      name: 'DescribeConnectorProfileApiBudget',
      method: 'POST',
      path: '/describe-connector-profile-api-budget',
      readOnly: true,
      input: BudgetInput,
      async handle(input, ctx) {
        const name = input.connectorProfileName;
        const stored = await profiles.store.get(name);
        if (!stored) throw notFound(name);
        const client = await salesforceClientFor(profiles, name, ctx.log.child({ profile: name }));
        const answer = LimitsAnswer.safeParse(await client.json({ method: 'GET', path: '/limits', call: 'read the org limits' }));
        if (!answer.success) throw new ApiError('ConnectorServerException', `Salesforce's /limits answer for ${name} has no DailyApiRequests {Max, Remaining}.`);
        const setting = storedProperties(stored).apiReserve;
        const reserve = setting === undefined ? undefined : parseApiReserve(setting);
        const limit = (l: { Max: number; Remaining: number } | undefined, isRequests: boolean) => l === undefined ? undefined : {
          max: l.Max, remaining: l.Remaining,
          reserve: reserve === undefined ? null : isRequests || 'percent' in reserve ? reserveCalls(reserve, l.Max) : 0,
        };
        const a = answer.data;
        return {
          connectorProfileName: name,
          apiReserve: setting ?? null,
          limits: {
            DailyApiRequests: limit(a.DailyApiRequests, true),
            ...(a.DailyBulkV2QueryJobs ? { DailyBulkV2QueryJobs: limit(a.DailyBulkV2QueryJobs, false) } : {}),
            ...(a.DailyBulkApiBatches ? { DailyBulkApiBatches: limit(a.DailyBulkApiBatches, false) } : {}),
          },
        };
      },
    }),

    operation({
      name: 'DeleteConnectorProfile',
      method: 'POST',
      path: '/delete-connector-profile',
      readOnly: false,
      input: DeleteInput,
      async handle(input, ctx) {
        const name = input.connectorProfileName;
        return exclusive(name, async () => {
          if (!(await profiles.store.get(name))) throw notFound(name);
          if (input.forceDelete !== true) {
            const flows = await deps.profileInUse(name);
            if (flows.length > 0) {
              throw new ApiError('ConflictException', `Connector profile ${name} is used by ${flows.length === 1 ? 'flow' : 'flows'} ${flows.slice(0, 10).join(', ')}${flows.length > 10 ? ` and ${flows.length - 10} more` : ''}. Delete or change those flows first, or set forceDelete.`);
            }
          }
          await deleteProfile({ ...profiles, log: ctx.log }, name);
          deps.metadataCache?.reset(name);
          return {};
        });
      },
    }),
  ];
}
