import type { KMSClient } from '@aws-sdk/client-kms';
import { ForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { parseSalesforceProfile } from '../connectors/salesforce/connect.ts';
import { requestToken } from '../connectors/salesforce/oauth.ts';
import { loginUrlOf, SalesforceProfileCredentialsSchema, type SalesforceConnectorProfile, type SalesforceProfileCredentials } from '../connectors/salesforce/config.ts';
import { DEFAULT_KMS_KEY_ID, openForProfile, sealForProfile } from './crypto.ts';
import type { SecretsReader } from './secrets.ts';
import { profileExists, type ProfileRepository, type StoredProfile } from './store.ts';

/** What profile operations need: the local store, KMS, Secrets Manager and a logger (all passed in). */
export interface ProfileContext {
  readonly store: ProfileRepository;
  readonly kms: KMSClient;
  readonly secrets: SecretsReader;
  readonly log: Logger;
  /** KMS key for profiles without kmsArn (default {@link DEFAULT_KMS_KEY_ID}, or $FORCEFLOW_KMS_KEY_ID in the CLI). */
  readonly defaultKeyId?: string;
}

/** A profile as `profiles list/describe` show it, after AppFlow's ConnectorProfile (no credential values). */
export interface ProfileDescription {
  readonly connectorProfileName: string;
  readonly connectorType: string;
  readonly connectorLabel?: string;
  readonly connectionMode?: string;
  /** The KMS key that encrypts the profile's credentials. */
  readonly kmsArn: string;
  readonly connectorProfileProperties: Record<string, unknown>;
  /** forceflow: which credential fields are stored (encrypted), never their values. */
  readonly credentialFields: readonly string[];
  readonly createdAt: string;
  readonly lastUpdatedAt: string;
}

export function describeStored(stored: StoredProfile): ProfileDescription {
  const doc = stored.document as { connectorLabel?: string; connectorProfileConfig?: { connectorProfileProperties?: Record<string, unknown> } };
  return {
    connectorProfileName: stored.name,
    connectorType: stored.connectorType,
    ...(doc.connectorLabel === undefined ? {} : { connectorLabel: doc.connectorLabel }),
    ...(stored.connectionMode === undefined ? {} : { connectionMode: stored.connectionMode }),
    kmsArn: stored.credentials.keyArn,
    connectorProfileProperties: doc.connectorProfileConfig?.connectorProfileProperties ?? {},
    credentialFields: stored.credentialFields,
    createdAt: stored.createdAt,
    lastUpdatedAt: stored.updatedAt,
  };
}

type GrantType = NonNullable<SalesforceProfileCredentials['oAuth2GrantType']>;

export function grantOf(credentials: SalesforceProfileCredentials): GrantType {
  return credentials.oAuth2GrantType ?? (credentials.jwtToken || credentials.privateKey ? 'JWT_BEARER' : 'AUTHORIZATION_CODE');
}

/** Keys a clientCredentialsArn secret must hold for the profile's grant, and the ones it may hold. */
export function secretKeysFor(credentials: SalesforceProfileCredentials): { required: Array<'clientId' | 'clientSecret' | 'privateKey'>; optional: Array<'clientSecret' | 'refreshToken' | 'privateKey' | 'username' | 'jwtToken'> } {
  if (grantOf(credentials) === 'JWT_BEARER') {
    const needsKey = !credentials.jwtToken && !credentials.privateKey;
    return { required: needsKey ? ['clientId', 'privateKey'] : ['clientId'], optional: ['clientSecret', 'username', 'jwtToken', ...(needsKey ? [] : (['privateKey'] as const))] };
  }
  return { required: ['clientId', 'clientSecret'], optional: ['refreshToken'] };
}

/** The stored profile document (no credentials) of a parsed profile. */
function documentOf(profile: SalesforceConnectorProfile): Record<string, unknown> {
  const { connectorProfileConfig, ...rest } = profile;
  return { ...rest, connectorProfileConfig: { connectorProfileProperties: connectorProfileConfig.connectorProfileProperties } };
}

function credentialFieldsOf(credentials: SalesforceProfileCredentials): string[] {
  return Object.entries(credentials)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k]) => k)
    .sort();
}

/**
 * `profiles create`: validate an AppFlow CreateConnectorProfile JSON, check its clientCredentialsArn
 * secret, and store it with its credentials envelope-encrypted under kmsArn (or the default key),
 * bound to the profile name.
 */
export async function createProfile(ctx: ProfileContext, json: unknown, options: { replace?: boolean; origin?: string } = {}): Promise<ProfileDescription> {
  const profile = parseSalesforceProfile(json, options.origin ?? 'The connector profile');
  const name = profile.connectorProfileName;
  if (!options.replace && (await ctx.store.get(name))) throw profileExists(name);
  let credentials = profile.connectorProfileConfig.connectorProfileCredentials?.Salesforce ?? {};
  let properties = profile.connectorProfileConfig.connectorProfileProperties.Salesforce;
  if (grantOf(credentials) === 'CLIENT_CREDENTIALS') {
    throw new ForceflowError('PROFILE_INVALID', `Profile "${name}": oAuth2GrantType CLIENT_CREDENTIALS is not supported for Salesforce (as in AppFlow). Use AUTHORIZATION_CODE or JWT_BEARER.`, { details: { profile: name } });
  }
  let fromSecret: Partial<Record<'clientId' | 'clientSecret', string>> = {};
  if (credentials.clientCredentialsArn) {
    const keys = secretKeysFor(credentials);
    fromSecret = await ctx.secrets.fields(credentials.clientCredentialsArn, name, keys.required, keys.optional);
  }
  // AppFlow's way: an authorization code obtained elsewhere, exchanged once at creation.
  const authCode = credentials.oAuthRequest?.authCode;
  if (authCode && !credentials.accessToken) {
    const clientId = fromSecret.clientId ?? credentials.clientId;
    const redirectUri = credentials.oAuthRequest?.redirectUri;
    if (!clientId || !redirectUri) {
      throw new ForceflowError('PROFILE_INVALID', `Profile "${name}": exchanging oAuthRequest.authCode needs oAuthRequest.redirectUri and the connected app's client id (clientCredentialsArn). Or leave authCode out and run forceflow profiles authorize ${name}.`, { details: { profile: name } });
    }
    const clientSecret = fromSecret.clientSecret ?? credentials.clientSecret;
    const tokens = await requestToken(loginUrlOf(properties), { type: 'authorization_code', code: authCode, clientId, ...(clientSecret ? { clientSecret } : {}), redirectUri }, { profileName: name, log: ctx.log });
    // As in `profiles authorize`: a refresh token kept in the secret wins at run time, so the new one goes there.
    const arn = credentials.clientCredentialsArn;
    const refreshInSecret = arn !== undefined && tokens.refreshToken !== undefined && typeof (await ctx.secrets.json(arn, name))['refreshToken'] === 'string';
    if (refreshInSecret && arn !== undefined && tokens.refreshToken !== undefined) {
      await ctx.secrets.update(arn, name, { refreshToken: tokens.refreshToken });
      ctx.log.info({ profile: name }, 'new refresh token stored in its secret');
    }
    credentials = { ...credentials, oAuthRequest: { redirectUri }, accessToken: tokens.accessToken, ...(tokens.refreshToken && !refreshInSecret ? { refreshToken: tokens.refreshToken } : {}) };
    properties = { ...properties, instanceUrl: properties.instanceUrl ?? tokens.instanceUrl };
    profile.connectorProfileConfig.connectorProfileProperties.Salesforce = properties;
  }
  const keyId = profile.kmsArn ?? ctx.defaultKeyId ?? DEFAULT_KMS_KEY_ID;
  const envelope = await sealForProfile(ctx.kms, keyId, name, Buffer.from(JSON.stringify(credentials), 'utf8'));
  const stored = await ctx.store.put(
    { name, connectorType: profile.connectorType, connectionMode: profile.connectionMode, document: documentOf(profile), credentialFields: credentialFieldsOf(credentials), credentials: envelope },
    { replace: options.replace === true },
  );
  ctx.log.info({ profile: name, kmsKeyArn: envelope.keyArn, credentialFields: stored.credentialFields }, 'connector profile stored');
  return describeStored(stored);
}

export async function listProfiles(ctx: Pick<ProfileContext, 'store'>): Promise<ProfileDescription[]> {
  return (await ctx.store.list()).map(describeStored);
}

export async function describeProfile(ctx: Pick<ProfileContext, 'store'>, name: string): Promise<ProfileDescription> {
  return describeStored(await ctx.store.require(name));
}

export async function deleteProfile(ctx: Pick<ProfileContext, 'store' | 'log'>, name: string): Promise<void> {
  if (!(await ctx.store.delete(name))) await ctx.store.require(name);
  ctx.log.info({ profile: name }, 'connector profile deleted');
}

/** A stored profile with its credentials decrypted (in memory only). */
export interface OpenedProfile {
  readonly stored: StoredProfile;
  readonly profile: SalesforceConnectorProfile;
  readonly credentials: SalesforceProfileCredentials;
}

/** Decrypt a stored profile's credentials (KMS Decrypt with the profile's encryption context). */
export async function openProfile(ctx: ProfileContext, name: string): Promise<OpenedProfile> {
  const stored = await ctx.store.require(name);
  const plaintext = await openForProfile(ctx.kms, name, stored.credentials);
  const parsed = SalesforceProfileCredentialsSchema.safeParse(JSON.parse(plaintext.toString('utf8')));
  plaintext.fill(0);
  if (!parsed.success) throw new ForceflowError('DECRYPT_FAILED', `Profile "${name}": the decrypted credentials are not valid. Delete the profile and create it again.`, { details: { profile: name } });
  const profile = parseSalesforceProfile(stored.document, `Stored profile "${name}"`);
  return { stored, profile, credentials: parsed.data };
}

/** Re-encrypt and store a profile's credentials (new data key), optionally with updated properties. */
export async function saveCredentials(ctx: ProfileContext, opened: OpenedProfile, credentials: SalesforceProfileCredentials, properties?: Record<string, unknown>): Promise<void> {
  const name = opened.stored.name;
  const envelope = await sealForProfile(ctx.kms, opened.stored.credentials.keyArn, name, Buffer.from(JSON.stringify(credentials), 'utf8'));
  let document: Record<string, unknown> | undefined;
  if (properties) {
    const doc = opened.stored.document as { connectorProfileConfig?: Record<string, unknown> };
    document = { ...opened.stored.document, connectorProfileConfig: { ...doc.connectorProfileConfig, connectorProfileProperties: { Salesforce: properties } } };
  }
  await ctx.store.updateCredentials(name, envelope, credentialFieldsOf(credentials), document);
}
