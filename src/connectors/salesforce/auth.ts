import { createSign } from 'node:crypto';
import jsforce from 'jsforce';
import { ForceflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { loginUrlOf, type SalesforceProfileCredentials, type SalesforceProfileProperties } from './config.ts';

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

interface TokenResponseLike {
  readonly access_token: string;
  readonly instance_url: string;
  readonly refresh_token?: string;
}

/** OAuth errors that mean the connected app's client id or secret was refused (not the grant itself). */
const CLIENT_ERRORS = new Set(['invalid_client', 'invalid_client_id', 'invalid_client_credentials']);

/**
 * SF_AUTH_FAILED for a refused grant. `fix` says what to do about the grant (invalid_grant: expired or
 * revoked token, rejected JWT); a refused client (invalid_client, invalid_client_id) gets its own fix,
 * since re-authorising cannot help while the client id or secret is wrong.
 */
function authError(profileName: string, what: string, error: unknown, fix: string): ForceflowError {
  const e = error as { name?: string; errorCode?: string; message?: string };
  const code = e.errorCode ?? e.name ?? 'error';
  if (CLIENT_ERRORS.has(code)) {
    fix = `The connected app's client id or client secret is wrong: check clientId and clientSecret (in the profile's clientCredentialsArn secret, or inline) against the connected app's consumer key and secret. The ${what.replace(/^the /, '')} itself was not judged.`;
  }
  return new ForceflowError('SF_AUTH_FAILED', `Salesforce refused ${what} for profile "${profileName}": ${code}: ${e.message ?? String(error)}. ${fix}`, {
    details: { profile: profileName, oauthError: code },
  });
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
 * - AUTHORIZATION_CODE: the stored access token, refreshed with the refresh token through jsforce's OAuth2
 *   (the connected app's client id/secret are needed to refresh);
 * - JWT_BEARER: a supplied jwtToken exchanged for a session (AppFlow's way; it expires), or, beyond AppFlow,
 *   a private key from which a fresh JWT is signed for every session.
 */
export function createTokenProvider(resolved: ResolvedCredentials, log: Logger): TokenProvider {
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

  const fromTokenResponse = (res: TokenResponseLike): SalesforceSession => ({
    accessToken: res.access_token,
    instanceUrl: (properties.instanceUrl ?? res.instance_url).replace(/\/+$/, ''),
  });

  const jwtExchange = async (assertion: string): Promise<SalesforceSession> => {
    const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    let res: Response;
    const started = performance.now();
    try {
      res = await fetch(`${loginUrl}/services/oauth2/token`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      log.debug({ method: 'POST', path: '/services/oauth2/token', grant: 'jwt-bearer', status: res.status, ms: Math.round(performance.now() - started) }, 'salesforce http call');
    } catch (error) {
      throw new ForceflowError('SF_UNAVAILABLE', `Profile "${profileName}": could not reach ${loginUrl} for the JWT bearer grant: ${(error as Error).message}`, { cause: error });
    }
    const json = (await res.json().catch(() => ({}))) as Partial<TokenResponseLike> & { error?: string; error_description?: string };
    if (!res.ok || !json.access_token || !json.instance_url) {
      throw authError(profileName, 'the JWT bearer grant', { name: json.error, message: json.error_description }, 'Check the connected app (client id, certificate, pre-authorised user), the username and the JWT audience; a supplied jwtToken expires and must be replaced.');
    }
    return fromTokenResponse(json as TokenResponseLike);
  };

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
    const oauth2 = new jsforce.OAuth2({ loginUrl, clientId: credentials.clientId, ...(credentials.clientSecret ? { clientSecret: credentials.clientSecret } : {}), redirectUri: 'http://localhost' });
    const started = performance.now();
    try {
      const res = (await oauth2.refreshToken(refreshToken)) as TokenResponseLike;
      log.debug({ method: 'POST', path: '/services/oauth2/token', grant: 'refresh_token', status: 200, ms: Math.round(performance.now() - started) }, 'salesforce http call');
      const session = fromTokenResponse(res);
      if (typeof res.refresh_token === 'string' && res.refresh_token !== '' && res.refresh_token !== refreshToken) {
        refreshToken = res.refresh_token;
        return { ...session, refreshToken: res.refresh_token };
      }
      return session;
    } catch (error) {
      log.debug({ method: 'POST', path: '/services/oauth2/token', grant: 'refresh_token', status: 'refused', ms: Math.round(performance.now() - started) }, 'salesforce http call');
      throw authError(profileName, 'the refresh token', error, `The refresh token may be expired or revoked: re-authorise the profile (forceflow profiles authorize ${profileName}).`);
    }
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
