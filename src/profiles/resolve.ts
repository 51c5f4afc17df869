import { ForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { parseSalesforceProfile } from '../connectors/salesforce/connect.ts';
import { createTokenProvider, type TokenProvider } from '../connectors/salesforce/auth.ts';
import type { SalesforceConnectorProfile, SalesforceProfileCredentials } from '../connectors/salesforce/config.ts';
import { grantOf, openProfile, saveCredentials, secretKeysFor, type OpenedProfile, type ProfileContext } from './profiles.ts';
import type { SecretsReader } from './secrets.ts';

/** A stored profile ready to connect: its document (no credentials) and a token provider. */
export interface ResolvedProfile {
  /** Pass to connectSalesforce(profile, { tokens }). */
  readonly profile: SalesforceConnectorProfile;
  readonly tokens: TokenProvider;
}

/**
 * Credentials with the connected app's clientId/clientSecret, and optionally a refresh token, JWT private
 * key or username, read from the clientCredentialsArn secret at run time (values in the secret win). The
 * one code path for stored profiles and for profile files given whole (`forceflow run --profile`).
 */
export async function withSecretCredentials(secrets: SecretsReader, profileName: string, stored: SalesforceProfileCredentials): Promise<SalesforceProfileCredentials> {
  if (!stored.clientCredentialsArn) return stored;
  const keys = secretKeysFor(stored);
  const fromSecret = await secrets.fields(stored.clientCredentialsArn, profileName, keys.required, keys.optional);
  return { ...stored, ...fromSecret, oAuth2GrantType: grantOf(stored) };
}

/** The effective credentials of an opened profile: the stored (decrypted) ones with the clientCredentialsArn secret's. */
export async function effectiveCredentials(ctx: ProfileContext, opened: OpenedProfile): Promise<SalesforceProfileCredentials> {
  return withSecretCredentials(ctx.secrets, opened.stored.name, opened.credentials);
}

/** True when the profile keeps its refresh token in its clientCredentialsArn secret (which then wins). */
async function refreshTokenInSecret(secrets: SecretsReader, name: string, credentials: SalesforceProfileCredentials): Promise<boolean> {
  const arn = credentials.clientCredentialsArn;
  return arn !== undefined && grantOf(credentials) === 'AUTHORIZATION_CODE' && typeof (await secrets.json(arn, name))['refreshToken'] === 'string';
}

/** Store a rotated refresh token in the profile's secret; a failure is logged (the run goes on). */
async function storeRotatedInSecret(secrets: SecretsReader, log: Logger, name: string, arn: string, rotated: string): Promise<void> {
  try {
    await secrets.update(arn, name, { refreshToken: rotated });
    log.info({ profile: name }, 'rotated refresh token stored in its secret');
  } catch (error) {
    const e = error as { code?: string; message?: string };
    log.error({ profile: name, code: e.code }, `Salesforce rotated the refresh token but the new one could not be stored; the next run will fail to refresh until the profile is authorised again (forceflow profiles authorize ${name}): ${e.message ?? 'unknown error'}`);
  }
}

/**
 * Resolve a connector profile given whole as AppFlow CreateConnectorProfile JSON (`forceflow run
 * --profile profile.json`): its inline credentials merged with its clientCredentialsArn secret exactly
 * as for stored profiles. A refresh token rotated by Salesforce is stored in the secret when the secret
 * holds it; a rotated refresh token from the file itself cannot be written back (a warning says so).
 */
export async function resolveProfileDocument(ctx: Pick<ProfileContext, 'secrets' | 'log'>, json: unknown, origin: string): Promise<ResolvedProfile> {
  const profile = parseSalesforceProfile(json, origin);
  const name = profile.connectorProfileName;
  const inline = profile.connectorProfileConfig.connectorProfileCredentials?.Salesforce ?? {};
  const credentials = await withSecretCredentials(ctx.secrets, name, inline);
  const properties = profile.connectorProfileConfig.connectorProfileProperties.Salesforce;
  const tokens = createTokenProvider({ profileName: name, properties, credentials }, ctx.log);
  const arn = inline.clientCredentialsArn;
  const inSecret = await refreshTokenInSecret(ctx.secrets, name, inline);
  tokens.onRefresh = async (session) => {
    const rotated = session.refreshToken;
    if (rotated === undefined) return;
    if (inSecret && arn !== undefined) await storeRotatedInSecret(ctx.secrets, ctx.log, name, arn, rotated);
    else ctx.log.warn({ profile: name }, `Salesforce rotated the refresh token of ${origin}; forceflow does not rewrite profile files, so replace its refreshToken (or keep it in the clientCredentialsArn secret, or store the profile with forceflow profiles create)`);
  };
  return { profile, tokens };
}

/**
 * Resolve a stored profile by connectorProfileName into a {@link TokenProvider}. Refreshed access
 * tokens (AUTHORIZATION_CODE) are written back encrypted, and so is a rotated refresh token (into the
 * secret when the profile keeps its refresh token there); JWT_BEARER sessions are not stored (a fresh
 * JWT is signed or exchanged for each session).
 *
 * @example
 * const { profile, tokens } = await resolveProfile(ctx, 'my-salesforce');
 * const { source } = connectSalesforce(profile, { tokens, log });
 */
export async function resolveProfile(ctx: ProfileContext, name: string): Promise<ResolvedProfile> {
  const opened = await openProfile(ctx, name);
  const credentials = await effectiveCredentials(ctx, opened);
  const properties = opened.profile.connectorProfileConfig.connectorProfileProperties.Salesforce;
  const tokens = createTokenProvider({ profileName: name, properties, credentials }, ctx.log);
  if (grantOf(credentials) === 'AUTHORIZATION_CODE') {
    // Where the refresh token lives: in the clientCredentialsArn secret (which wins over the stored
    // credentials), or in the profile's own encrypted credentials.
    const arn = opened.credentials.clientCredentialsArn;
    const refreshInSecret = await refreshTokenInSecret(ctx.secrets, name, opened.credentials);
    let latest = opened.credentials;
    tokens.onRefresh = async (session) => {
      // A rotated refresh token (the connected app's "refresh token rotation"): Salesforce revoked the
      // old one, so the new one must be stored where the next run will read it.
      const rotated = session.refreshToken;
      if (rotated !== undefined && refreshInSecret && arn !== undefined) await storeRotatedInSecret(ctx.secrets, ctx.log, name, arn, rotated);
      latest = { ...latest, accessToken: session.accessToken, ...(rotated !== undefined && !refreshInSecret ? { refreshToken: rotated } : {}) };
      const props = properties.instanceUrl ? undefined : { ...properties, instanceUrl: session.instanceUrl };
      try {
        await saveCredentials(ctx, opened, latest, props);
        ctx.log.debug({ profile: name, rotated: rotated !== undefined }, 'refreshed access token stored (encrypted)');
      } catch (error) {
        // The run goes on with the new session; the next run refreshes again (unless the refresh token
        // was rotated: then it must be authorised again, which the message says).
        const e = error as { code?: string; message?: string };
        const level = rotated !== undefined && !refreshInSecret ? 'error' : 'warn';
        ctx.log[level]({ profile: name, code: e.code }, `could not store the refreshed ${rotated !== undefined && !refreshInSecret ? 'access and rotated refresh tokens; the next run will need forceflow profiles authorize ' + name : 'access token'}: ${e.message ?? 'unknown error'}`);
      }
    };
  }
  return { profile: opened.profile, tokens };
}

/**
 * A resolver for the flow runner (`runFlow({ profiles })`): flows name profiles by connectorProfileName,
 * looked up in the local profile store.
 */
export function storedProfileResolver(ctx: ProfileContext): (connectorProfileName: string | undefined, side: 'source' | 'destination') => Promise<ResolvedProfile> {
  return async (name, side) => {
    if (name === undefined || name === '') {
      throw new ForceflowError('PROFILE_NOT_FOUND', `The flow's ${side} names no connectorProfileName. Add one (a profile from forceflow profiles list), or pass --profile profile.json.`);
    }
    return resolveProfile(ctx, name);
  };
}
