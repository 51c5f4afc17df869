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

/** One form POST to a Salesforce OAuth endpoint (token, introspect): what it is, for messages and the log. */
interface FormCall {
  /** The login or instance URL, no trailing slash. */
  readonly base: string;
  readonly path: string;
  readonly form: URLSearchParams;
  /** Who asks, at the start of a message: `Profile "prod"`, `Sign-in`. */
  readonly who: string;
  /** What is asked, in a sentence: "the refresh token", "token introspection". */
  readonly what: string;
  /** Names the answer in a size-limit message. */
  readonly answerName: string;
  readonly logFields: Readonly<Record<string, unknown>>;
  readonly details: Readonly<Record<string, unknown>>;
  readonly canceled: () => ForceflowError;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

/**
 * POST the form and read the answer (bounded) as JSON, or undefined when it is not JSON. A network
 * failure or a broken answer is SF_UNAVAILABLE; an abort is the call's cancellation error. Not re-sent.
 */
async function postForm(call: FormCall): Promise<{ res: Response; json: unknown }> {
  const { base, path, signal } = call;
  if (signal?.aborted) throw call.canceled();
  const started = performance.now();
  const logCall = (status: number | string): void =>
    call.log.debug({ method: 'POST', path, ...call.logFields, status, ms: Math.round(performance.now() - started) }, 'salesforce http call');

  let res: Response | undefined;
  let text: string;
  try {
    res = await fetch(`${base}${path}`, {
      method: 'POST',
      body: call.form,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      ...(signal ? { signal } : {}),
    });
    logCall(res.status);
    text = await boundedText(res, MAX_TOKEN_ANSWER_BYTES, call.answerName);
  } catch (error) {
    if (signal?.aborted) throw call.canceled();
    if (error instanceof ForceflowError) throw error;
    if (res === undefined) logCall('network error');
    const where = res === undefined ? `could not reach ${base} for ${call.what}` : `the answer from ${base} to ${call.what} broke part-way`;
    throw new ForceflowError('SF_UNAVAILABLE', `${call.who}: ${where} (${networkReason(error)}). Check loginUrl and the network, then run again.`, {
      details: call.details,
    });
  }
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { res, json };
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
  const { res, json } = await postForm({
    base,
    path: '/services/oauth2/token',
    form: formOf(grant),
    who: `Profile "${profileName}"`,
    what,
    answerName: `the ${grantType} grant`,
    logFields: { grant: grant.type },
    details: { profile: profileName, grant: grant.type },
    canceled: () => sessionCanceled(profileName, what),
    log,
    ...(signal ? { signal } : {}),
  });

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

/** What `introspectToken` sends: the token, and the connected app's own credentials (Salesforce requires them). */
export interface IntrospectionRequest {
  readonly token: string;
  readonly tokenTypeHint?: 'access_token' | 'refresh_token';
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface IntrospectionOptions {
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

/** Salesforce's introspection answer (RFC 7662), parsed once. Fields Salesforce may leave out are optional. */
export type IntrospectionAnswer =
  | { readonly active: false }
  | {
      readonly active: true;
      readonly clientId: string;
      /** The identity URL of the token's user (`https://login.salesforce.com/id/00D…/005…`). */
      readonly sub: string;
      readonly username?: string;
      readonly tokenType?: string;
      readonly scope?: string;
      /** Epoch seconds; null for a refresh token that does not expire. */
      readonly exp: number | null;
      readonly iat?: number;
    };

const IntrospectionSchema = z.union([
  z.object({ active: z.literal(false) }),
  z.object({
    active: z.literal(true),
    client_id: z.string().min(1),
    sub: z.string().min(1),
    username: z.string().optional(),
    token_type: z.string().optional(),
    scope: z.string().optional(),
    exp: z.number().nullable().optional(),
    iat: z.number().optional(),
  }),
]);

/**
 * Ask Salesforce about a token (`POST <url>/services/oauth2/introspect`, RFC 7662) as the connected app
 * `clientId`. Salesforce answers an app about its own tokens only (unless the app may introspect all of
 * the org's), so a token of another app comes back `{active: false}`; callers still compare `clientId`.
 * Throws CONFIG_INVALID for a URL the token must not be sent to, SF_AUTH_FAILED when Salesforce refuses
 * the app's credentials, SF_UNAVAILABLE for 429/5xx/network, SF_API_ERROR for an answer that is not one.
 * The token and the secret never reach a message or the log.
 */
export async function introspectToken(url: string, request: IntrospectionRequest, options: IntrospectionOptions): Promise<IntrospectionAnswer> {
  const where = serverUrl.safeParse(url);
  if (!where.success) {
    throw new ForceflowError('CONFIG_INVALID', `The Salesforce URL for token introspection ${where.error.issues[0]?.message ?? 'is invalid'}: give the org's login or My Domain URL, such as https://login.salesforce.com.`);
  }
  const base = url.replace(/\/+$/, '');
  const what = 'token introspection';
  const form = new URLSearchParams({ token: request.token, token_type_hint: request.tokenTypeHint ?? 'access_token', client_id: request.clientId, client_secret: request.clientSecret });
  const { res, json } = await postForm({
    base,
    path: '/services/oauth2/introspect',
    form,
    who: 'Sign-in',
    what,
    answerName: 'token introspection',
    logFields: {},
    details: { call: 'introspect' },
    canceled: () => canceled(`Token introspection at ${base} was cancelled.`),
    log: options.log,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const secrets = [request.token, request.clientSecret];
  if (res.ok) {
    const parsed = IntrospectionSchema.safeParse(json);
    if (!parsed.success) {
      throw new ForceflowError('SF_API_ERROR', `Sign-in: the answer from ${base} to ${what} is not an introspection answer. Check the login URL and any proxy between forceflow and Salesforce.`, { details: { call: 'introspect' } });
    }
    const a = parsed.data;
    if (!a.active) return { active: false };
    return {
      active: true,
      clientId: a.client_id,
      sub: a.sub,
      exp: a.exp ?? null,
      ...(a.username === undefined ? {} : { username: a.username }),
      ...(a.token_type === undefined ? {} : { tokenType: a.token_type }),
      ...(a.scope === undefined ? {} : { scope: a.scope }),
      ...(a.iat === undefined ? {} : { iat: a.iat }),
    };
  }
  if (res.status === 429 || res.status >= 500) {
    throw new ForceflowError('SF_UNAVAILABLE', `Sign-in: Salesforce answered HTTP ${res.status} to ${what} at ${base}. Salesforce is busy or down; try again later.`, { details: { call: 'introspect', status: res.status } });
  }
  const oauth = OAuthErrorSchema.safeParse(json);
  const code = oauth.success ? quoted(oauth.data.error, secrets) : `http_${res.status}`;
  if (oauth.success && CLIENT_ERRORS.has(oauth.data.error)) {
    throw new ForceflowError('SF_AUTH_FAILED', `Salesforce refused the connected app's credentials for ${what} (${code}): check the consumer key and consumer secret in the sign-in configuration.`, {
      details: { call: 'introspect', status: res.status, oauthError: code },
    });
  }
  throw new ForceflowError('SF_API_ERROR', `Sign-in: ${base} answered HTTP ${res.status} (${code}) to ${what}. Check the login URL and any proxy between forceflow and Salesforce.`, {
    details: { call: 'introspect', status: res.status, oauthError: code },
  });
}
