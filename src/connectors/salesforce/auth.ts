import { createSign } from 'node:crypto';
import { ForceflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { loginUrlOf, type SalesforceProfileCredentials, type SalesforceProfileProperties } from './config.ts';
import { requestToken, type TokenAnswer } from './oauth.ts';

/** A usable session: where to send calls and with which token. */
export interface SalesforceSession {
  readonly accessToken: string;
  readonly instanceUrl: string;
  /**
   * A new refresh token issued with this session, when the connected app rotates refresh tokens
   * (Salesforce then revokes the old one, so it must be stored for the next run).
   */
  readonly refreshToken?: string;
}

/**
 * Credential resolution behind one small interface. The HTTP client asks for a session, and after a
 * 401 INVALID_SESSION_ID asks for a fresh one (refresh token grant, or a new JWT), exactly once.
 */
export interface TokenProvider {
  session(): Promise<SalesforceSession>;
  /** A new session after `stale` was refused. Concurrent callers share one refresh. */
  refresh(stale: string): Promise<SalesforceSession>;
  /** Called with each new session, e.g. to write refreshed tokens back (encrypted) to the profile store. */
  onRefresh?: (session: SalesforceSession) => void | Promise<void>;
}

/** What a provider needs once secrets are resolved (inline in a profile, or fetched from Secrets Manager). */
export interface ResolvedCredentials {
  readonly profileName: string;
  readonly properties: SalesforceProfileProperties;
  readonly credentials: SalesforceProfileCredentials;
}

function b64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/** Sign a JWT bearer assertion (RS256) as sfdx does: iss = client id, sub = username, aud = login host. */
export function signJwtAssertion(options: { clientId: string; username: string; audience: string; privateKeyPem: string; lifetimeSeconds?: number; now?: number }): string {
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify({ iss: options.clientId, sub: options.username, aud: options.audience, exp: now + (options.lifetimeSeconds ?? 180) }));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${claims}`);
  return `${header}.${claims}.${signer.sign(options.privateKeyPem).toString('base64url')}`;
}

/**
 * The token provider for a profile's grant type:
 * - AUTHORIZATION_CODE: the stored access token, refreshed with the refresh token (the connected app's
 *   client id/secret are needed to refresh);
 * - JWT_BEARER: a supplied jwtToken exchanged for a session (AppFlow's way; it expires), or, beyond AppFlow,
 *   a private key from which a fresh JWT is signed for every session.
 * Both grants go through {@link requestToken} (oauth.ts), which maps Salesforce's refusals to catalogued errors.
 * `signal` (the run's) cancels a token request in flight.
 */
export function createTokenProvider(resolved: ResolvedCredentials, log: Logger, options: { readonly signal?: AbortSignal } = {}): TokenProvider {
  const { profileName, properties, credentials } = resolved;
  const loginUrl = loginUrlOf(properties);
  const grant = credentials.oAuth2GrantType ?? (credentials.jwtToken || credentials.privateKey ? 'JWT_BEARER' : 'AUTHORIZATION_CODE');
  let current: SalesforceSession | undefined =
    credentials.accessToken && properties.instanceUrl ? { accessToken: credentials.accessToken, instanceUrl: properties.instanceUrl.replace(/\/+$/, '') } : undefined;
  let inflight: Promise<SalesforceSession> | undefined;
  // With refresh token rotation, each refresh_token grant answers a new refresh token and revokes the
  // one used: the next refresh (in this run or the next) must use the new one.
  let refreshToken = credentials.refreshToken;

  if (grant === 'CLIENT_CREDENTIALS') {
    throw new ForceflowError('PROFILE_INVALID', `Profile "${profileName}": oAuth2GrantType CLIENT_CREDENTIALS is not supported for Salesforce (as in AppFlow). Use AUTHORIZATION_CODE or JWT_BEARER.`);
  }

  const tokenOptions = { profileName, log, ...(options.signal ? { signal: options.signal } : {}) };
  const sessionOf = (answer: TokenAnswer): SalesforceSession => ({
    accessToken: answer.accessToken,
    instanceUrl: (properties.instanceUrl ?? answer.instanceUrl).replace(/\/+$/, ''),
  });
  const jwtExchange = async (assertion: string): Promise<SalesforceSession> => sessionOf(await requestToken(loginUrl, { type: 'jwt_bearer', assertion }, tokenOptions));

  const obtain = async (): Promise<SalesforceSession> => {
    if (grant === 'JWT_BEARER') {
      if (credentials.privateKey) {
        if (!credentials.clientId || !credentials.username) {
          throw new ForceflowError('PROFILE_INVALID', `Profile "${profileName}": signing a JWT needs clientId and username next to privateKey.`);
        }
        const audience = properties.loginUrl ? loginUrl : properties.isSandboxEnvironment ? 'https://test.salesforce.com' : 'https://login.salesforce.com';
        return jwtExchange(signJwtAssertion({ clientId: credentials.clientId, username: credentials.username, audience, privateKeyPem: credentials.privateKey }));
      }
      if (credentials.jwtToken) return jwtExchange(credentials.jwtToken);
      throw new ForceflowError('PROFILE_INVALID', `Profile "${profileName}": JWT_BEARER needs jwtToken (or, with forceflow, privateKey + clientId + username).`);
    }
    if (!refreshToken) {
      throw new ForceflowError('SF_SESSION_INVALID', `Profile "${profileName}": the access token is missing or expired and the profile has no refresh token. Re-authorise the profile (forceflow profiles authorize ${profileName}).`);
    }
    if (!credentials.clientId) {
      throw new ForceflowError('PROFILE_INVALID', `Profile "${profileName}": refreshing the session needs the connected app's client id (clientCredentialsArn, or clientId/clientSecret for local use).`);
    }
    const answer = await requestToken(
      loginUrl,
      { type: 'refresh_token', refreshToken, clientId: credentials.clientId, ...(credentials.clientSecret ? { clientSecret: credentials.clientSecret } : {}) },
      tokenOptions,
    );
    const session = sessionOf(answer);
    if (answer.refreshToken !== undefined && answer.refreshToken !== refreshToken) {
      refreshToken = answer.refreshToken;
      return { ...session, refreshToken: answer.refreshToken };
    }
    return session;
  };

  const provider: TokenProvider = {
    async session() {
      if (current) return current;
      return provider.refresh('');
    },
    async refresh(stale: string) {
      if (current && current.accessToken !== stale) return current;
      inflight ??= (async () => {
        try {
          const next = await obtain();
          current = next;
          log.debug({ profile: profileName, grant }, 'salesforce session obtained');
          await provider.onRefresh?.(next);
          return next;
        } finally {
          inflight = undefined;
        }
      })();
      return inflight;
    },
  };
  return provider;
}
