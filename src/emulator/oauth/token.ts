import type { ServerResponse } from 'node:http';
import { oauthError } from '../errors.ts';
import { sendJson, type EmuRequest } from '../http.ts';
import type { Org } from '../context.ts';
import { decodeJwt, publicKeyFromPem, verifyRs256 } from './jwt.ts';
import { clientAuth, NO_STORE, oauthParams, param } from './params.ts';
import { AuthService, scopeList, type ConnectedApp, type OrgUser, type Session } from './service.ts';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Audiences a JWT bearer assertion may name besides the emulator's own origin. */
export const JWT_AUDIENCES = ['https://login.salesforce.com', 'https://test.salesforce.com'] as const;

const badClientId = () => oauthError('invalid_client_id', 'client identifier invalid');
const badClient = () => oauthError('invalid_client', 'invalid client credentials');
const authFailure = () => oauthError('invalid_grant', 'authentication failure');
const expiredToken = () => oauthError('invalid_grant', 'expired access/refresh token');
const badAssertion = () => oauthError('invalid_grant', 'invalid assertion');

/** Scopes that never come with a grant that has no user consent (no refresh token there). */
const REFRESH_SCOPES = new Set(['refresh_token', 'offline_access']);

interface Tokens {
  readonly session: Session;
  readonly refreshToken?: string;
  readonly idToken?: string;
}

/**
 * The JSON body of a successful token response, keys in Salesforce's order. `signature` and
 * `issued_at` are left out for the JWT bearer grant, as Salesforce does.
 */
function tokenBody(org: Org, app: ConnectedApp, tokens: Tokens, withSignature: boolean): Record<string, string> {
  const { session } = tokens;
  const id = org.auth.identityUrl(session.userId);
  const issuedAt = String(session.issuedAt);
  const body: Record<string, string> = { access_token: session.accessToken };
  if (tokens.refreshToken !== undefined) body['refresh_token'] = tokens.refreshToken;
  if (withSignature) body['signature'] = org.auth.signature(app, id, issuedAt);
  body['scope'] = session.scope;
  if (tokens.idToken !== undefined) body['id_token'] = tokens.idToken;
  body['instance_url'] = org.baseUrl;
  body['id'] = id;
  body['token_type'] = 'Bearer';
  if (withSignature) body['issued_at'] = issuedAt;
  return body;
}

/** The app named by client_id, with its secret checked when `secretRequired` or when one is sent. */
function requireClient(org: Org, auth: { clientId?: string; clientSecret?: string }, secretRequired: boolean): ConnectedApp {
  const app = auth.clientId === undefined ? undefined : org.auth.app(auth.clientId);
  if (!app) throw badClientId();
  if (auth.clientSecret === undefined ? secretRequired : !org.auth.checkSecret(app, auth.clientSecret)) throw badClient();
  return app;
}

function withoutRefreshScopes(scope: readonly string[]): string {
  return scope.filter((s) => !REFRESH_SCOPES.has(s)).join(' ');
}

function passwordGrant(org: Org, req: EmuRequest, params: URLSearchParams): Record<string, string> {
  const app = requireClient(org, clientAuth(req, params), true);
  const username = param(params, 'username');
  const password = param(params, 'password');
  const user = username !== undefined && password !== undefined ? org.auth.checkPassword(username, password) : undefined;
  if (!user) throw authFailure();
  const { session } = org.auth.issue(user, app.clientId, { scope: withoutRefreshScopes(org.auth.appScopes(app)) });
  return tokenBody(org, app, { session }, true);
}

function refreshGrant(org: Org, req: EmuRequest, params: URLSearchParams): Record<string, string> {
  const app = requireClient(org, clientAuth(req, params), false);
  const token = param(params, 'refresh_token');
  if (token === undefined) throw oauthError('invalid_request', 'missing required parameter: refresh_token');
  const grant = org.auth.refreshGrant(token);
  if (!grant || grant.clientId !== app.clientId) throw expiredToken();
  // A deactivated user's refresh token: "authentication failure" (as practitioners report for Salesforce; a guess).
  const user = org.auth.user(grant.userId);
  if (!user) throw authFailure();
  const issued = org.auth.redeemRefresh(grant, user, app.refreshTokenRotation === true);
  const idToken = scopeList(issued.session.scope).includes('openid') ? org.auth.idToken(issued.session) : undefined;
  return tokenBody(
    org,
    app,
    { session: issued.session, ...(app.refreshTokenRotation && issued.refreshToken ? { refreshToken: issued.refreshToken } : {}), ...(idToken ? { idToken } : {}) },
    true,
  );
}

function authorizationCodeGrant(org: Org, req: EmuRequest, params: URLSearchParams): Record<string, string> {
  const auth = clientAuth(req, params);
  const app = requireClient(org, auth, false);
  const codeParam = param(params, 'code');
  const code = codeParam === undefined ? undefined : org.auth.consumeCode(codeParam);
  if (code === 'expired') throw oauthError('invalid_grant', 'expired authorization code');
  if (!code || code.clientId !== app.clientId) throw oauthError('invalid_grant', 'invalid authorization code');
  if (param(params, 'redirect_uri') !== code.redirectUri) throw oauthError('redirect_uri_mismatch', 'redirect_uri must match configuration');
  // A confidential client proves itself with its secret; a public one with PKCE.
  if (auth.clientSecret === undefined && code.codeChallenge === undefined) throw badClient();
  if (code.codeChallenge !== undefined) {
    const verifier = param(params, 'code_verifier');
    if (verifier === undefined || !AuthService.pkceMatches(code, verifier)) throw oauthError('invalid_grant', 'invalid code verifier');
  }
  const user = org.auth.user(code.userId);
  if (!user) throw authFailure();
  const scopes = scopeList(code.scope);
  const withRefresh = scopes.some((s) => REFRESH_SCOPES.has(s));
  const issued = org.auth.issue(user, app.clientId, { scope: code.scope, withRefresh });
  const idToken = scopes.includes('openid') ? org.auth.idToken(issued.session, code.nonce === undefined ? {} : { nonce: code.nonce }) : undefined;
  return tokenBody(org, app, { session: issued.session, ...(issued.refreshToken ? { refreshToken: issued.refreshToken } : {}), ...(idToken ? { idToken } : {}) }, true);
}

function clientCredentialsGrant(org: Org, req: EmuRequest, params: URLSearchParams): Record<string, string> {
  const app = requireClient(org, clientAuth(req, params), true);
  const user: OrgUser | undefined = app.runAs === undefined ? org.auth.defaultUser : org.auth.user(app.runAs);
  if (!user) throw oauthError('invalid_grant', 'no client credentials user enabled');
  const { session } = org.auth.issue(user, app.clientId, { scope: withoutRefreshScopes(org.auth.appScopes(app)) });
  return tokenBody(org, app, { session }, true);
}

/** Origins a JWT `aud` may name: ours (as configured and as the client reached us), login and test. */
function allowedAudiences(org: Org, req: EmuRequest): Set<string> {
  const set = new Set<string>(JWT_AUDIENCES);
  set.add(org.baseUrl);
  const base = URL.canParse(org.baseUrl) ? new URL(org.baseUrl) : undefined;
  if (base && base.hostname === '127.0.0.1') set.add(`${base.protocol}//localhost:${base.port}`);
  const host = req.headers['host'];
  if (typeof host === 'string' && host !== '') set.add(`http://${host}`);
  return set;
}

function jwtBearerGrant(org: Org, req: EmuRequest, params: URLSearchParams): Record<string, string> {
  const assertion = param(params, 'assertion');
  const jwt = assertion === undefined ? undefined : decodeJwt(assertion);
  if (!jwt) throw badAssertion();
  const { iss, sub, aud, exp } = jwt.claims;
  const app = typeof iss === 'string' ? org.auth.app(iss) : undefined;
  if (!app) throw badClientId();
  if (app.certificatePem === undefined) throw badAssertion();
  let key;
  try {
    key = publicKeyFromPem(app.certificatePem);
  } catch {
    throw badAssertion();
  }
  if (!verifyRs256(jwt, key)) throw badAssertion();
  const audiences = (Array.isArray(aud) ? aud : [aud]).filter((a): a is string => typeof a === 'string').map((a) => a.replace(/\/+$/, ''));
  const allowed = allowedAudiences(org, req);
  if (!audiences.some((a) => allowed.has(a))) throw oauthError('invalid_grant', 'audience is invalid');
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw badAssertion();
  // sfdx sends exp in milliseconds; a value that large cannot be seconds (year 5138+).
  const expMs = exp > 1e11 ? exp : exp * 1000;
  if (expMs <= org.clock()) throw oauthError('invalid_grant', 'expired authorization code');
  const user = typeof sub === 'string' ? org.auth.user(sub) : undefined;
  if (!user || user.username.toLowerCase() !== String(sub).toLowerCase()) throw oauthError('invalid_grant', "user hasn't approved this consumer");
  const { session } = org.auth.issue(user, app.clientId, { scope: withoutRefreshScopes(org.auth.appScopes(app)) });
  return tokenBody(org, app, { session }, false);
}

/** `POST /services/oauth2/token`. */
export async function handleToken(req: EmuRequest, res: ServerResponse, org: Org): Promise<void> {
  const params = await oauthParams(req);
  const grantType = param(params, 'grant_type');
  let body: Record<string, string>;
  switch (grantType) {
    case 'password':
      body = passwordGrant(org, req, params);
      break;
    case 'refresh_token':
      body = refreshGrant(org, req, params);
      break;
    case 'authorization_code':
      body = authorizationCodeGrant(org, req, params);
      break;
    case 'client_credentials':
      body = clientCredentialsGrant(org, req, params);
      break;
    case JWT_BEARER:
      body = jwtBearerGrant(org, req, params);
      break;
    default:
      throw oauthError('unsupported_grant_type', 'grant type not supported');
  }
  sendJson(res, 200, body, NO_STORE);
}
