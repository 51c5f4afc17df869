import { z } from 'zod';
import { ForceflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { isLoopbackHost } from './config.ts';
import { boundedText, networkReason } from './net.ts';
import { canceled } from '../../core/cancel.ts';

/**
 * The one way forceflow asks Salesforce for tokens: `requestToken` posts a grant to
 * `<loginUrl>/services/oauth2/token`, parses the answer once (zod) and maps OAuth errors to catalogued
 * codes. The refresh token grant and the JWT bearer grant (auth.ts, at run time) and the authorization
 * code exchange (`profiles authorize`, `profiles create` with oAuthRequest.authCode) all go through it.
 *
 * - A refused client (`invalid_client`, `invalid_client_id`): SF_AUTH_FAILED saying to check the
 *   connected app's client id and secret; re-authorising cannot help while those are wrong.
 * - A refused grant (`invalid_grant` and the rest): SF_AUTH_FAILED with the grant's own fix (re-authorise
 *   for a refresh token; certificate, user and audience for a JWT; a fresh code for a code).
 * - 429, 5xx, a network failure or a broken answer: SF_UNAVAILABLE (retryable: run again later). The
 *   request is not re-sent here: a refresh token grant may rotate (and so revoke) the token it used, and a
 *   code is single-use, so sending either again after an answer was lost would fail as invalid_grant.
 * - The run is cancelled (the signal): RUN_CANCELED.
 *
 * Tokens, secrets, codes and assertions never reach a message or the log: Salesforce's
 * error_description is quoted only after every value sent in the request is cut out of it.
 */

export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export type TokenGrant =
  | { readonly type: 'refresh_token'; readonly refreshToken: string; readonly clientId: string; readonly clientSecret?: string }
  | { readonly type: 'jwt_bearer'; readonly assertion: string }
  | {
      readonly type: 'authorization_code';
      readonly code: string;
      readonly clientId: string;
      readonly clientSecret?: string;
      readonly redirectUri: string;
      readonly codeVerifier?: string;
    };

export interface TokenRequestOptions {
  /** The profile the tokens are for, named in messages. */
  readonly profileName: string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

/** A successful token answer. */
export interface TokenAnswer {
  readonly accessToken: string;
  /** The org's instance URL, no trailing slash. */
  readonly instanceUrl: string;
  /** Issued with an authorization code, and with a refresh when the connected app rotates refresh tokens. */
  readonly refreshToken?: string;
}

/** OAuth error codes that mean the connected app's client id or secret was refused, not the grant itself. */
const CLIENT_ERRORS = new Set(['invalid_client', 'invalid_client_id', 'invalid_client_credentials']);

/** Token answers are a few hundred bytes; anything past this is not Salesforce's. */
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;

/** Where the access token will be sent: https, or plain http to a loopback host (the emulator), as for a profile's instanceUrl. */
const serverUrl = z.string().refine((value) => {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}, 'is not an https URL (plain http only to a loopback host)');

const TokenAnswerSchema = z.object({
  access_token: z.string().min(1),
  instance_url: serverUrl,
  refresh_token: z.string().min(1).optional(),
});

const OAuthErrorSchema = z.object({
  error: z.string().min(1).max(100),
  error_description: z.string().optional(),
});

const GRANT_TYPES: Readonly<Record<TokenGrant['type'], string>> = {
  refresh_token: 'refresh_token',
  jwt_bearer: JWT_BEARER_GRANT_TYPE,
  authorization_code: 'authorization_code',
};

/** What the grant is, in a sentence: "Salesforce refused the refresh token ...". */
const WHAT: Readonly<Record<TokenGrant['type'], string>> = {
  refresh_token: 'the refresh token',
  jwt_bearer: 'the JWT bearer grant',
  authorization_code: 'the authorization code',
};

function formOf(grant: TokenGrant): URLSearchParams {
  const body = new URLSearchParams({ grant_type: GRANT_TYPES[grant.type] });
  switch (grant.type) {
    case 'refresh_token':
      body.set('refresh_token', grant.refreshToken);
      body.set('client_id', grant.clientId);
      if (grant.clientSecret) body.set('client_secret', grant.clientSecret);
      break;
    case 'jwt_bearer':
      body.set('assertion', grant.assertion);
      break;
    case 'authorization_code':
      body.set('code', grant.code);
      body.set('client_id', grant.clientId);
      body.set('redirect_uri', grant.redirectUri);
      if (grant.clientSecret) body.set('client_secret', grant.clientSecret);
      if (grant.codeVerifier) body.set('code_verifier', grant.codeVerifier);
      break;
  }
  return body;
}

/** Every secret value the request carries (cut out of anything Salesforce says back). */
function secretsOf(grant: TokenGrant): string[] {
  switch (grant.type) {
    case 'refresh_token':
      return [grant.refreshToken, grant.clientSecret ?? ''];
    case 'jwt_bearer':
      return [grant.assertion];
    case 'authorization_code':
      return [grant.code, grant.clientSecret ?? '', grant.codeVerifier ?? ''];
  }
}

/** Salesforce's error_description, one line, at most 200 characters, with no value the request sent. */
function quoted(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > 200 ? `${out.slice(0, 200)}…` : out;
}

/** What to do when Salesforce refused the grant itself (not the client). */
function grantFix(grant: TokenGrant, profileName: string): string {
  switch (grant.type) {
    case 'refresh_token':
      return `The refresh token may be expired or revoked: re-authorise the profile (forceflow profiles authorize ${profileName}).`;
    case 'jwt_bearer':
      return 'Check the connected app (client id, certificate, pre-authorised user), the username and the JWT audience; a supplied jwtToken expires and must be replaced.';
    case 'authorization_code':
      return `Codes are single-use and expire after 15 minutes; check the connected app's client id and secret and the callback URL ${grant.redirectUri}, then run forceflow profiles authorize ${profileName}.`;
  }
}

/** What to do when Salesforce refused the client: the grant itself was not judged. */
function clientFix(grant: TokenGrant): string {
  if (grant.type === 'jwt_bearer') {
    return "The connected app's client id (the JWT's issuer) is wrong: check clientId against the connected app's consumer key. The JWT itself was not judged.";
  }
  return `The connected app's client id or client secret is wrong: check clientId and clientSecret (in the profile's clientCredentialsArn secret, or inline) against the connected app's consumer key and secret. The ${WHAT[grant.type].replace(/^the /, '')} itself was not judged.`;
}

function sessionCanceled(profileName: string, what: string): ForceflowError {
  return canceled(`Asking Salesforce for a session (${what}) for profile "${profileName}" was cancelled.`, { details: { profile: profileName } });
}

/**
 * Post `grant` to `<loginUrl>/services/oauth2/token` and return the tokens, or throw a catalogued error
 * (see the module comment).
 *
 * @example
 * const { accessToken, instanceUrl, refreshToken } = await requestToken('https://login.salesforce.com',
 *   { type: 'refresh_token', refreshToken, clientId, clientSecret }, { profileName: 'prod', log });
 */
export async function requestToken(loginUrl: string, grant: TokenGrant, options: TokenRequestOptions): Promise<TokenAnswer> {
  const { profileName, log, signal } = options;
  const what = WHAT[grant.type];
  const grantType = GRANT_TYPES[grant.type];
  const base = loginUrl.replace(/\/+$/, '');
  if (signal?.aborted) throw sessionCanceled(profileName, what);
  const started = performance.now();
  const logCall = (status: number | string): void =>
    log.debug({ method: 'POST', path: '/services/oauth2/token', grant: grant.type, status, ms: Math.round(performance.now() - started) }, 'salesforce http call');

  let res: Response | undefined;
  let text: string;
  try {
    res = await fetch(`${base}/services/oauth2/token`, {
      method: 'POST',
      body: formOf(grant),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      ...(signal ? { signal } : {}),
    });
    logCall(res.status);
    text = await boundedText(res, MAX_TOKEN_ANSWER_BYTES, `the ${grantType} grant`);
  } catch (error) {
    if (signal?.aborted) throw sessionCanceled(profileName, what);
    if (error instanceof ForceflowError) throw error;
    if (res === undefined) logCall('network error');
    const where = res === undefined ? `could not reach ${base} for ${what}` : `the answer from ${base} to ${what} broke part-way`;
    throw new ForceflowError('SF_UNAVAILABLE', `Profile "${profileName}": ${where} (${networkReason(error)}). Check loginUrl and the network, then run again.`, {
      details: { profile: profileName, grant: grant.type },
    });
  }

  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }

  if (res.ok) {
    const parsed = TokenAnswerSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || '(root)';
      throw new ForceflowError('SF_API_ERROR', `Profile "${profileName}": the answer from ${base} to ${what} is not a Salesforce token answer (${json === undefined ? 'not JSON' : `${field}: ${issue?.message ?? 'invalid'}`}). Check loginUrl and any proxy between forceflow and Salesforce.`, {
        details: { profile: profileName, grant: grant.type },
      });
    }
    const answer = parsed.data;
    return {
      accessToken: answer.access_token,
      instanceUrl: answer.instance_url.replace(/\/+$/, ''),
      ...(answer.refresh_token !== undefined ? { refreshToken: answer.refresh_token } : {}),
    };
  }

  if (res.status === 429 || res.status >= 500) {
    throw new ForceflowError('SF_UNAVAILABLE', `Profile "${profileName}": Salesforce answered HTTP ${res.status} to ${what} at ${base}. Salesforce is busy or down; run again later.`, {
      details: { profile: profileName, grant: grant.type, status: res.status },
    });
  }

  const oauth = OAuthErrorSchema.safeParse(json);
  if (!oauth.success) {
    // Not an OAuth answer (a proxy's page, a wrong login URL answering 404): its text is not shown.
    throw new ForceflowError('SF_AUTH_FAILED', `Profile "${profileName}": ${base} answered HTTP ${res.status} to ${what}, not with an OAuth error. Check loginUrl (or isSandboxEnvironment) and any proxy between forceflow and Salesforce.`, {
      details: { profile: profileName, grant: grant.type, status: res.status, oauthError: `http_${res.status}` },
    });
  }
  const code = quoted(oauth.data.error, secretsOf(grant));
  const description = quoted(oauth.data.error_description ?? '', secretsOf(grant));
  const fix = CLIENT_ERRORS.has(oauth.data.error) ? clientFix(grant) : grantFix(grant, profileName);
  throw new ForceflowError('SF_AUTH_FAILED', `Salesforce refused ${what} for profile "${profileName}": ${code}${description ? `: ${description}` : ''}. ${fix}`, {
    details: { profile: profileName, grant: grant.type, status: res.status, oauthError: code },
  });
}
