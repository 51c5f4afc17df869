import { ForceflowError } from '../core/errors.ts';
import { createTokenProvider, type TokenProvider } from '../connectors/salesforce/auth.ts';
import type { SalesforceConnectorProfile, SalesforceProfileCredentials } from '../connectors/salesforce/config.ts';
import { grantOf, openProfile, saveCredentials, secretKeysFor, type OpenedProfile, type ProfileContext } from './profiles.ts';

/** A stored profile ready to connect: its document (no credentials) and a token provider. */
export interface ResolvedProfile {
  /** Pass to connectSalesforce(profile, { tokens }). */
  readonly profile: SalesforceConnectorProfile;
  readonly tokens: TokenProvider;
}

/**
 * The effective credentials of an opened profile: the stored (decrypted) ones, with the connected
 * app's clientId/clientSecret, and optionally a refresh token, JWT private key or username, read from
 * the clientCredentialsArn secret at run time (values in the secret win).
 */
export async function effectiveCredentials(ctx: ProfileContext, opened: OpenedProfile): Promise<SalesforceProfileCredentials> {
  const stored = opened.credentials;
  if (!stored.clientCredentialsArn) return stored;
  const keys = secretKeysFor(stored);
  const fromSecret = await ctx.secrets.fields(stored.clientCredentialsArn, opened.stored.name, keys.required, keys.optional);
  return { ...stored, ...fromSecret, oAuth2GrantType: grantOf(stored) };
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
    const refreshInSecret = arn !== undefined && typeof (await ctx.secrets.json(arn, name))['refreshToken'] === 'string';
    let latest = opened.credentials;
    tokens.onRefresh = async (session) => {
      // A rotated refresh token (the connected app's "refresh token rotation"): Salesforce revoked the
      // old one, so the new one must be stored where the next run will read it.
      const rotated = session.refreshToken;
      if (rotated !== undefined && refreshInSecret && arn !== undefined) {
        try {
          await ctx.secrets.update(arn, name, { refreshToken: rotated });
          ctx.log.info({ profile: name }, 'rotated refresh token stored in its secret');
        } catch (error) {
          const e = error as { code?: string; message?: string };
          ctx.log.error({ profile: name, code: e.code }, `Salesforce rotated the refresh token but the new one could not be stored; the next run will fail to refresh until the profile is authorised again (forceflow profiles authorize ${name}): ${e.message ?? 'unknown error'}`);
        }
      }
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
