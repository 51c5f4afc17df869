import type { ServerResponse } from 'node:http';
import { oauthError } from '../errors.ts';
import { sendEmpty, sendJson, sendText, type EmuRequest } from '../http.ts';
import { isValidId } from '../../salesforce-wire/ids.ts';
import type { Org } from '../context.ts';
import { bearerToken, clientAuth, NO_STORE, oauthParams, param } from './params.ts';
import { DEFAULT_SCOPE, scopeList, type OrgUser, type Session } from './service.ts';
import { JWT_BEARER } from './token.ts';

/** The newest API version `?version=latest` stands for on identity URLs. */
export const LATEST_IDENTITY_VERSION = '62.0';

/**
 * Identity endpoints answer a missing or bad token with 403 and a bare text body, not the REST
 * API's 401 (so jsforce does not refresh on them, as with the real identity service).
 */
class IdentityError extends Error {
  readonly status: number;
  constructor(status: number, code: string) {
    super(code);
    this.status = status;
  }
}

function identityError(status: number, code: string): IdentityError {
  return new IdentityError(status, code);
}

function sendIdentityError(res: ServerResponse, error: unknown): boolean {
  if (!(error instanceof IdentityError)) return false;
  sendText(res, error.status, 'text/plain;charset=UTF-8', error.message, NO_STORE);
  return true;
}

function sessionFrom(org: Org, req: EmuRequest, params?: URLSearchParams): Session {
  const token = bearerToken(req, params);
  if (token === undefined) throw identityError(403, 'Missing_OAuth_Token');
  const session = org.auth.authenticate(token);
  if (!session) throw identityError(403, 'Bad_OAuth_Token');
  return session;
}

function versionOf(req: EmuRequest): string {
  const v = param(req.query, 'version');
  if (v === 'latest') return LATEST_IDENTITY_VERSION;
  return v !== undefined && /^\d{2}\.\d$/.test(v) ? v : '{version}';
}

function urls(org: Org, userId: string, version: string): Record<string, string> {
  const base = org.baseUrl;
  const org15 = org.orgId.slice(0, 15);
  const rest = `${base}/services/data/v${version}`;
  return {
    enterprise: `${base}/services/Soap/c/${version}/${org15}`,
    metadata: `${base}/services/Soap/m/${version}/${org15}`,
    partner: `${base}/services/Soap/u/${version}/${org15}`,
    rest: `${rest}/`,
    sobjects: `${rest}/sobjects/`,
    search: `${rest}/search/`,
    query: `${rest}/query/`,
    recent: `${rest}/recent/`,
    tooling_soap: `${base}/services/Soap/T/${version}/${org15}`,
    tooling_rest: `${rest}/tooling/`,
    profile: `${base}/${userId}`,
    feeds: `${rest}/chatter/feeds`,
    groups: `${rest}/chatter/groups`,
    users: `${rest}/chatter/users`,
    feed_items: `${rest}/chatter/feed-items`,
    feed_elements: `${rest}/chatter/feed-elements`,
    custom_domain: base,
  };
}

function utcOffsetMs(timeZone: string, at: number): number {
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(new Date(at));
    const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
    if (!m) return 0;
    return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
  } catch {
    return 0;
  }
}

function photos(org: Org): { picture: string; thumbnail: string } {
  return { picture: `${org.baseUrl}/profilephoto/005/F`, thumbnail: `${org.baseUrl}/profilephoto/005/T` };
}

/** `GET|POST /services/oauth2/userinfo` (OpenID Connect UserInfo, Salesforce's shape). */
export async function handleUserInfo(req: EmuRequest, res: ServerResponse, org: Org): Promise<void> {
  try {
    const params = req.method === 'POST' ? await oauthParams(req) : undefined;
    const session = sessionFrom(org, req, params);
    const user = org.auth.user(session.userId) ?? org.auth.defaultUser;
    const p = org.auth.profile(user);
    sendJson(
      res,
      200,
      {
        sub: org.auth.identityUrl(user.userId),
        user_id: user.userId,
        organization_id: org.orgId,
        preferred_username: user.username,
        nickname: user.username.split('@')[0],
        name: p.name,
        email: p.email,
        email_verified: true,
        given_name: p.firstName,
        family_name: p.lastName,
        zoneinfo: p.timezone,
        photos: photos(org),
        profile: `${org.baseUrl}/${user.userId}`,
        picture: photos(org).picture,
        address: {},
        is_salesforce_integration_user: false,
        urls: urls(org, user.userId, versionOf(req)),
        active: p.active,
        user_type: p.userType,
        language: p.language,
        locale: p.locale,
        utcOffset: utcOffsetMs(p.timezone, org.clock()),
        updated_at: p.lastModified.replace(/\.\d{3}Z$/, 'Z'),
        is_app_installed: true,
      },
      NO_STORE,
    );
  } catch (error) {
    if (!sendIdentityError(res, error)) throw error;
  }
}

/** `GET /id/:orgId/:userId` (jsforce `conn.identity()` adds `?format=json&oauth_token=`). */
export function handleIdentity(req: EmuRequest, res: ServerResponse, org: Org): void {
  try {
    const session = sessionFrom(org, req);
    const orgId = req.params['orgId'] ?? '';
    const userId = req.params['userId'] ?? '';
    if (!isValidId(orgId) || !isValidId(userId)) throw identityError(404, 'Bad_Id');
    if (orgId.slice(0, 15) !== org.orgId.slice(0, 15)) throw identityError(403, 'Wrong_Org');
    const user: OrgUser | undefined = org.auth.user(userId.slice(0, 15));
    if (!user) throw identityError(404, 'Bad_Id');
    const p = org.auth.profile(user);
    sendJson(
      res,
      200,
      {
        id: org.auth.identityUrl(user.userId),
        asserted_user: user.userId === session.userId,
        user_id: user.userId,
        organization_id: org.orgId,
        username: user.username,
        nick_name: user.username.split('@')[0],
        display_name: p.name,
        email: p.email,
        email_verified: true,
        first_name: p.firstName,
        last_name: p.lastName,
        timezone: p.timezone,
        photos: photos(org),
        addr_street: null,
        addr_city: null,
        addr_state: null,
        addr_country: null,
        addr_zip: null,
        mobile_phone: null,
        mobile_phone_verified: false,
        is_lightning_login_user: false,
        status: { created_date: null, body: null },
        urls: urls(org, user.userId, versionOf(req)),
        active: p.active,
        user_type: p.userType,
        language: p.language,
        locale: p.locale,
        utcOffset: utcOffsetMs(p.timezone, org.clock()),
        last_modified_date: p.lastModified.replace('Z', '+0000'),
        is_app_installed: true,
      },
      NO_STORE,
    );
  } catch (error) {
    if (!sendIdentityError(res, error)) throw error;
  }
}

/** `POST /services/oauth2/introspect` (RFC 7662). The caller authenticates as a connected app. */
export async function handleIntrospect(req: EmuRequest, res: ServerResponse, org: Org): Promise<void> {
  const params = await oauthParams(req);
  const auth = clientAuth(req, params);
  const app = auth.clientId === undefined ? undefined : org.auth.app(auth.clientId);
  if (!app) throw oauthError('invalid_client_id', 'client identifier invalid');
  if (auth.clientSecret === undefined || !org.auth.checkSecret(app, auth.clientSecret)) throw oauthError('invalid_client', 'invalid client credentials');
  const token = param(params, 'token');
  if (token === undefined) throw oauthError('invalid_request', 'missing required parameter: token');
  sendJson(res, 200, org.auth.introspect(token, app.clientId, param(params, 'token_type_hint')), NO_STORE);
}

/** `POST|GET /services/oauth2/revoke`: 200 with an empty body, or 400. */
export async function handleRevoke(req: EmuRequest, res: ServerResponse, org: Org): Promise<void> {
  const params = await oauthParams(req);
  const token = param(params, 'token');
  if (token === undefined) throw oauthError('unsupported_token_type', 'unsupported token type');
  if (!org.auth.revoke(token)) throw oauthError('invalid_token', 'invalid token');
  sendEmpty(res, 200, { ...NO_STORE, 'Content-Length': '0' });
}

/** `GET /id/keys`: the JWKS that verifies id_tokens. */
export function handleKeys(_req: EmuRequest, res: ServerResponse, org: Org): void {
  sendJson(res, 200, org.auth.jwks(), { 'Cache-Control': 'public, max-age=3600' });
}

/** `GET /.well-known/openid-configuration`. */
export function handleOpenIdConfiguration(_req: EmuRequest, res: ServerResponse, org: Org): void {
  const base = org.baseUrl;
  sendJson(res, 200, {
    issuer: base,
    authorization_endpoint: `${base}/services/oauth2/authorize`,
    token_endpoint: `${base}/services/oauth2/token`,
    revocation_endpoint: `${base}/services/oauth2/revoke`,
    userinfo_endpoint: `${base}/services/oauth2/userinfo`,
    jwks_uri: `${base}/id/keys`,
    introspection_endpoint: `${base}/services/oauth2/introspect`,
    scopes_supported: [...new Set([...scopeList(DEFAULT_SCOPE), 'address', 'phone', 'full'])],
    response_types_supported: ['code', 'token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    display_values_supported: ['page', 'popup', 'touch'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'password', 'client_credentials', JWT_BEARER],
    code_challenge_methods_supported: ['S256', 'plain'],
    claims_supported: ['active', 'address', 'email', 'email_verified', 'family_name', 'given_name', 'is_app_installed', 'language', 'locale', 'name', 'nickname', 'organization_id', 'phone_number', 'phone_number_verified', 'photos', 'picture', 'preferred_username', 'profile', 'sub', 'updated_at', 'urls', 'user_id', 'user_type', 'zoneinfo'],
  });
}
