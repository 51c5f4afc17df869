import { createHash, createHmac, generateKeyPairSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { OrgStore, StoredRecord } from '../org/store.ts';
import { atHash, publicKeyFromPem, signRs256 } from './jwt.ts';

/** An authenticated API session (one access token). */
export interface Session {
  readonly accessToken: string;
  readonly userId: string;
  readonly username: string;
  readonly orgId: string;
  readonly clientId: string;
  readonly scope: string;
  /** Epoch ms. */
  readonly issuedAt: number;
  /** Epoch ms. */
  readonly expiresAt: number;
  /** The refresh token this access token was minted from, if any (revoking it revokes this too). */
  readonly refreshToken?: string;
}

export interface RefreshGrant {
  readonly refreshToken: string;
  readonly userId: string;
  readonly username: string;
  readonly clientId: string;
  readonly scope: string;
  /** Epoch ms. */
  readonly issuedAt?: number;
  revoked: boolean;
}

/** A connected app registered in the org. */
export interface ConnectedApp {
  readonly name: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** PEM certificate for the JWT bearer flow (RS256 signatures are checked against it). */
  certificatePem?: string;
  readonly redirectUris: readonly string[];
  /** Scopes the app may be granted (space-separated); {@link DEFAULT_SCOPE} when absent. */
  readonly scope?: string;
  /** Mint a new refresh token on every refresh_token grant (Salesforce's "refresh token rotation"). */
  readonly refreshTokenRotation?: boolean;
  /** Accept any http(s) callback on localhost / 127.0.0.1 / [::1] (true for the default app). */
  readonly allowLocalhostRedirects?: boolean;
  /** Username the client_credentials flow runs as (default: the org's default user). */
  readonly runAs?: string;
  /**
   * May introspect every token of the org, not only its own (Salesforce's "Introspect all tokens" OAuth
   * policy). Off by default, as on Salesforce.
   */
  readonly introspectAllTokens?: boolean;
}

/** What `POST /__emulator/connected-apps` and {@link AuthService.registerApp} accept. */
export interface ConnectedAppInput {
  readonly name?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly certificatePem?: string;
  readonly redirectUris?: readonly string[];
  readonly scope?: string;
  readonly refreshTokenRotation?: boolean;
  readonly allowLocalhostRedirects?: boolean;
  readonly runAs?: string;
  readonly introspectAllTokens?: boolean;
}

export interface OrgUser {
  readonly userId: string;
  readonly username: string;
  readonly password: string;
  /** Appended to the password by API clients that log in from an untrusted network. */
  readonly securityToken?: string;
}

/** Profile details of a user (from the org's User records when they exist). */
export interface UserProfile {
  readonly firstName: string;
  readonly lastName: string;
  readonly name: string;
  readonly email: string;
  readonly timezone: string;
  readonly locale: string;
  readonly language: string;
  readonly userType: string;
  readonly active: boolean;
  /** ISO datetime. */
  readonly lastModified: string;
}

/** An authorization code minted by the authorize page. */
export interface AuthorizationCode {
  readonly code: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly userId: string;
  readonly scope: string;
  readonly codeChallenge?: string;
  readonly codeChallengeMethod?: 'S256' | 'plain';
  readonly nonce?: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** Introspection result (RFC 7662 as Salesforce shapes it). */
export type Introspection =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      username: string;
      sub: string;
      token_type: 'access_token' | 'refresh_token';
      exp: number | null;
      iat: number;
      nbf: number;
    };

export const DEFAULT_CLIENT_ID = '3MVG9forceflow.Emulator.ConnectedApp.Client.Id.0000000000000000000000000000';
export const DEFAULT_CLIENT_SECRET = 'FORCEFLOW0EMULATOR0CLIENT0SECRET0000000000000000000000000000000000';
export const DEFAULT_USERNAME = 'admin@forceflow.emulator';
export const DEFAULT_PASSWORD = 'forceflow-emulator';
/** The default user's security token (password + token is accepted wherever the password is). */
export const DEFAULT_SECURITY_TOKEN = 'FFEMUSECURITYTOKEN00000';
export const DEFAULT_SCOPE = 'api refresh_token offline_access openid id profile email web';
/** Authorization codes live 15 minutes, as on Salesforce. */
export const CODE_TTL_MS = 15 * 60 * 1000;
/** id_tokens are valid for 2 minutes after issue, as on Salesforce. */
export const ID_TOKEN_TTL_SECONDS = 120;
/** `kid` of the id_token signing key (Salesforce uses release numbers). */
export const ID_TOKEN_KID = '238';

/** Characters Salesforce uses after the `!` of an access token (the sf CLI checks `[.\w]*`). */
function tokenTail(bytes: number): string {
  return randomBytes(bytes).toString('base64').replace(/\+/g, '.').replace(/\//g, '_').replace(/=+$/, '');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function text(record: StoredRecord | undefined, field: string): string | undefined {
  const v = record?.[field];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Scope strings as a de-duplicated list. */
export function scopeList(scope: string | undefined | null): string[] {
  return [...new Set((scope ?? '').split(/[\s+]+/).filter((s) => s !== ''))];
}

/** What the auth service needs of the org. */
export interface AuthDeps {
  /** The org's records (User records log in too). */
  readonly store: OrgStore;
  readonly orgId: string;
  /** Epoch ms. */
  readonly clock: () => number;
  /** The org's base URL, known once the server listens (identity URLs, id_token issuer). */
  readonly baseUrl: () => string;
  /** Access-token lifetime in seconds. */
  readonly tokenTtlSeconds: number;
}

/**
 * Users, connected apps and tokens of the org. Access tokens look like Salesforce's
 * (`00D…!AQ…`) and expire after the configured lifetime so that refresh paths get exercised.
 */
export class AuthService {
  readonly apps: ConnectedApp[] = [];
  readonly users: OrgUser[] = [];
  private readonly access = new Map<string, Session>();
  private readonly refresh = new Map<string, RefreshGrant>();
  private readonly codes = new Map<string, AuthorizationCode>();
  /** `clientId|userId` pairs whose user approved the app on the authorize page. */
  private readonly approvals = new Set<string>();
  /** Authorize-page tickets: a user who logged in and has yet to approve the app. */
  private readonly tickets = new Map<string, { userId: string; clientId: string; expiresAt: number }>();
  /** 18-character ids of users deactivated through the control endpoint ({@link setActive}). */
  private readonly inactive = new Set<string>();
  /** id_token signing keys, oldest first; the newest signs, all are published at /id/keys. */
  private signing: Array<{ kid: string; privateKey: KeyObject; publicKey: KeyObject }> = [];
  private readonly deps: AuthDeps;

  constructor(deps: AuthDeps) {
    this.deps = deps;
    this.apps.push({
      name: 'forceflow',
      clientId: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
      redirectUris: [],
      allowLocalhostRedirects: true,
    });
    const userTable = deps.store.table('User');
    let userId = '';
    if (userTable) {
      const found = userTable.findBy('Username', DEFAULT_USERNAME)[0];
      if (found) userId = String(found['Id']);
    }
    if (!userId) userId = '005' + deps.orgId.slice(3);
    this.users.push({ userId, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD, securityToken: DEFAULT_SECURITY_TOKEN });
  }

  get defaultApp(): ConnectedApp {
    return this.apps[0] as ConnectedApp;
  }

  get defaultUser(): OrgUser {
    return this.users[0] as OrgUser;
  }

  app(clientId: string): ConnectedApp | undefined {
    return this.apps.find((a) => a.clientId === clientId);
  }

  /**
   * Register a connected app (or replace the one with the same client id). Generates a client id and
   * secret when absent. Throws an Error with a readable message when the certificate is not a PEM
   * X.509 certificate or PEM RSA public key, or a redirect URI is not an absolute URL.
   */
  registerApp(input: ConnectedAppInput): ConnectedApp {
    if (input.certificatePem !== undefined) {
      try {
        publicKeyFromPem(input.certificatePem);
      } catch (error) {
        throw new Error(`certificatePem is not a PEM X.509 certificate or RSA public key: ${(error as Error).message}`, { cause: error });
      }
    }
    for (const uri of input.redirectUris ?? []) {
      if (!URL.canParse(uri)) throw new Error(`redirect URI is not an absolute URL: ${uri}`);
    }
    if (input.clientId !== undefined && !/^[\w.-]{1,255}$/.test(input.clientId)) throw new Error('clientId may only contain letters, digits, ".", "_" and "-"');
    if (input.runAs !== undefined && !this.user(input.runAs)) throw new Error(`runAs user not found: ${input.runAs}`);
    const clientId = input.clientId ?? `3MVG9${randomBytes(60).toString('base64url').replace(/[-_]/g, '.').slice(0, 80)}`;
    const app: ConnectedApp = {
      name: input.name ?? `App ${this.apps.length}`,
      clientId,
      clientSecret: input.clientSecret ?? randomBytes(32).toString('hex').toUpperCase(),
      redirectUris: [...(input.redirectUris ?? [])],
      ...(input.certificatePem === undefined ? {} : { certificatePem: input.certificatePem }),
      ...(input.scope === undefined ? {} : { scope: scopeList(input.scope).join(' ') }),
      ...(input.refreshTokenRotation === undefined ? {} : { refreshTokenRotation: input.refreshTokenRotation }),
      ...(input.allowLocalhostRedirects === undefined ? {} : { allowLocalhostRedirects: input.allowLocalhostRedirects }),
      ...(input.runAs === undefined ? {} : { runAs: input.runAs }),
      ...(input.introspectAllTokens === undefined ? {} : { introspectAllTokens: input.introspectAllTokens }),
    };
    const existing = this.apps.findIndex((a) => a.clientId === clientId);
    if (existing >= 0) this.apps[existing] = app;
    else this.apps.push(app);
    return app;
  }

  /** True when the client secret matches the app's. */
  checkSecret(app: ConnectedApp, secret: string): boolean {
    return safeEqual(app.clientSecret, secret);
  }

  /** The scopes the app may be granted. */
  appScopes(app: ConnectedApp): string[] {
    return scopeList(app.scope ?? DEFAULT_SCOPE);
  }

  /** True when `uri` is an allowed callback of the app (registered exactly, or a localhost URL for apps allowing it). */
  redirectAllowed(app: ConnectedApp, uri: string): boolean {
    if (app.redirectUris.includes(uri)) return true;
    if (!app.allowLocalhostRedirects || !URL.canParse(uri)) return false;
    const u = new URL(uri);
    return (u.protocol === 'http:' || u.protocol === 'https:') && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname) && u.hash === '';
  }

  /**
   * A user by username or id (15 or 18 chars). The default user, plus every active user of the org's
   * User records (those log in with the default password). A deactivated user is not found: nothing
   * they hold works (logins, access and refresh tokens, introspection).
   */
  user(usernameOrId: string): OrgUser | undefined {
    const found = this.anyUser(usernameOrId);
    return found && found.active ? found.user : undefined;
  }

  /** A user whether active or not (the control endpoint deactivates and reactivates through it). */
  anyUser(usernameOrId: string): { user: OrgUser; active: boolean } | undefined {
    const key = usernameOrId.toLowerCase();
    const known = this.users.find((u) => u.username.toLowerCase() === key || u.userId.toLowerCase() === key || u.userId.slice(0, 15).toLowerCase() === key);
    const table = this.deps.store.table('User');
    let record: StoredRecord | undefined;
    if (known) record = table?.get(known.userId);
    else if (table) {
      if (/^005[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?$/.test(usernameOrId)) record = table.get(usernameOrId);
      record ??= table.findBy('Username', usernameOrId)[0];
    }
    let user = known;
    if (!user) {
      const username = text(record, 'Username');
      if (!record || !username) return undefined;
      user = { userId: String(record['Id']), username, password: DEFAULT_PASSWORD, securityToken: DEFAULT_SECURITY_TOKEN };
    }
    return { user, active: record?.['IsActive'] !== false && !this.inactive.has(user.userId) };
  }

  /**
   * Deactivate or reactivate a user (the control endpoint also sets the User record's IsActive). While
   * inactive, every token the user holds is refused but kept; reactivating makes them work again.
   * Guess: Salesforce's exact treatment of a deactivated user's OAuth tokens is not documented in the
   * sources we have; refusing them while inactive is what a relying party can observe.
   */
  setActive(userId: string, active: boolean): void {
    if (active) this.inactive.delete(userId);
    else this.inactive.add(userId);
  }

  /**
   * Revoke every access and refresh token of a user, optionally only those of one connected app (what
   * Setup > Connected Apps OAuth Usage > Revoke does). Returns how many tokens were revoked.
   */
  revokeUserTokens(userId: string, clientId?: string): number {
    let count = 0;
    const matches = (u: string, c: string): boolean => u === userId && (clientId === undefined || c === clientId);
    for (const [token, session] of this.access) {
      if (matches(session.userId, session.clientId)) {
        this.access.delete(token);
        count++;
      }
    }
    for (const grant of this.refresh.values()) {
      if (!grant.revoked && matches(grant.userId, grant.clientId)) {
        grant.revoked = true;
        count++;
      }
    }
    return count;
  }

  /** The user when the password (optionally followed by the security token) is right. */
  checkPassword(username: string, password: string): OrgUser | undefined {
    const user = this.user(username);
    // Log-in is by username only, never by user id.
    if (!user || user.username.toLowerCase() !== username.toLowerCase()) return undefined;
    if (safeEqual(password, user.password)) return user;
    if (user.securityToken !== undefined && safeEqual(password, user.password + user.securityToken)) return user;
    return undefined;
  }

  /** Name, email, locale… of a user, from the User record when there is one. */
  profile(user: OrgUser): UserProfile {
    const record = this.deps.store.table('User')?.get(user.userId);
    const firstName = text(record, 'FirstName') ?? 'Admin';
    const lastName = text(record, 'LastName') ?? 'User';
    return {
      firstName,
      lastName,
      name: text(record, 'Name') ?? `${firstName} ${lastName}`,
      email: text(record, 'Email') ?? user.username,
      timezone: text(record, 'TimeZoneSidKey') ?? 'America/Los_Angeles',
      locale: text(record, 'LocaleSidKey') ?? 'en_US',
      language: text(record, 'LanguageLocaleKey') ?? 'en_US',
      userType: (text(record, 'UserType') ?? 'Standard').toUpperCase(),
      active: this.anyUser(user.userId)?.active ?? record?.['IsActive'] !== false,
      lastModified: text(record, 'LastModifiedDate') ?? new Date(0).toISOString(),
    };
  }

  /** The identity URL of a user (`{base}/id/{org18}/{user18}`). */
  identityUrl(userId: string): string {
    return `${this.deps.baseUrl()}/id/${this.deps.orgId}/${userId}`;
  }

  /** `signature` of a token response: base64 HMAC-SHA256(client secret, id + issued_at). */
  signature(app: ConnectedApp, identityUrl: string, issuedAt: string): string {
    return createHmac('sha256', app.clientSecret).update(identityUrl + issuedAt).digest('base64');
  }

  /** Mint an access token (and a refresh token when asked). */
  issue(user: OrgUser, clientId: string, options: { scope?: string; withRefresh?: boolean; fromRefresh?: string } = {}): {
    session: Session;
    refreshToken?: string;
  } {
    const now = this.deps.clock();
    const ttl = this.deps.tokenTtlSeconds * 1000;
    const scope = options.scope ?? DEFAULT_SCOPE;
    let refreshToken = options.fromRefresh;
    if (options.withRefresh) {
      refreshToken = `5Aep861${tokenTail(60)}`;
      this.refresh.set(refreshToken, { refreshToken, userId: user.userId, username: user.username, clientId, scope, issuedAt: now, revoked: false });
    }
    const session: Session = {
      accessToken: `${this.deps.orgId.slice(0, 15)}!AQ${tokenTail(80)}`,
      userId: user.userId,
      username: user.username,
      orgId: this.deps.orgId,
      clientId,
      scope,
      issuedAt: now,
      expiresAt: now + ttl,
      ...(refreshToken === undefined ? {} : { refreshToken }),
    };
    this.access.set(session.accessToken, session);
    return options.withRefresh && refreshToken ? { session, refreshToken } : { session };
  }

  /** The live session of an access token, or undefined when unknown, expired, revoked or its user is inactive. */
  authenticate(accessToken: string): Session | undefined {
    const s = this.access.get(accessToken);
    if (!s) return undefined;
    if (!this.user(s.userId)) return undefined;
    if (s.expiresAt <= this.deps.clock()) {
      this.access.delete(accessToken);
      return undefined;
    }
    if (s.refreshToken) {
      const grant = this.refresh.get(s.refreshToken);
      if (grant?.revoked) return undefined;
    }
    return s;
  }

  refreshGrant(refreshToken: string): RefreshGrant | undefined {
    const g = this.refresh.get(refreshToken);
    return g && !g.revoked ? g : undefined;
  }

  /**
   * Exchange a refresh token for a new access token. With rotation, the old refresh token is revoked
   * (with its access tokens) and a new one is returned.
   */
  redeemRefresh(grant: RefreshGrant, user: OrgUser, rotate: boolean): { session: Session; refreshToken?: string } {
    if (!rotate) return this.issue(user, grant.clientId, { scope: grant.scope, fromRefresh: grant.refreshToken });
    this.revoke(grant.refreshToken);
    return this.issue(user, grant.clientId, { scope: grant.scope, withRefresh: true });
  }

  /** Revoke an access token, or a refresh token and every access token minted from it. */
  revoke(token: string): boolean {
    if (this.access.delete(token)) return true;
    const g = this.refresh.get(token);
    if (!g || g.revoked) return false;
    g.revoked = true;
    for (const [k, s] of this.access) if (s.refreshToken === token) this.access.delete(k);
    return true;
  }

  /** Expire an access token now (control endpoint, fault injection). */
  expire(accessToken: string): void {
    this.access.delete(accessToken);
  }

  /** Expire every access token (refresh tokens stay valid). */
  expireAll(): void {
    this.access.clear();
  }

  /**
   * RFC 7662 introspection of an access or refresh token, as seen by the app `clientId`: its own tokens
   * only, unless the app may introspect all tokens of the org.
   */
  introspect(token: string, clientId: string, hint?: string): Introspection {
    const all = this.app(clientId)?.introspectAllTokens === true;
    const asAccess = (): Introspection | undefined => {
      const s = this.authenticate(token);
      if (!s || (s.clientId !== clientId && !all)) return undefined;
      return {
        active: true,
        scope: s.scope,
        client_id: s.clientId,
        username: s.username,
        sub: this.identityUrl(s.userId),
        token_type: 'access_token',
        exp: Math.floor(s.expiresAt / 1000),
        iat: Math.floor(s.issuedAt / 1000),
        nbf: Math.floor(s.issuedAt / 1000),
      };
    };
    const asRefresh = (): Introspection | undefined => {
      const g = this.refreshGrant(token);
      if (!g || (g.clientId !== clientId && !all) || !this.user(g.userId)) return undefined;
      const iat = Math.floor((g.issuedAt ?? this.deps.clock()) / 1000);
      return {
        active: true,
        scope: g.scope,
        client_id: g.clientId,
        username: g.username,
        sub: this.identityUrl(g.userId),
        token_type: 'refresh_token',
        exp: null,
        iat,
        nbf: iat,
      };
    };
    const found = hint === 'refresh_token' ? (asRefresh() ?? asAccess()) : (asAccess() ?? asRefresh());
    return found ?? { active: false };
  }

  /** Mint a single-use authorization code (valid {@link CODE_TTL_MS}). */
  createCode(details: Omit<AuthorizationCode, 'code' | 'expiresAt'>): string {
    const code = `aPrx${randomBytes(48).toString('base64')}`;
    this.codes.set(code, { ...details, code, expiresAt: this.deps.clock() + CODE_TTL_MS });
    return code;
  }

  /** Take a code out (codes are single-use: a second redemption finds nothing). */
  consumeCode(code: string): AuthorizationCode | 'expired' | undefined {
    const found = this.codes.get(code);
    if (!found) return undefined;
    this.codes.delete(code);
    return found.expiresAt <= this.deps.clock() ? 'expired' : found;
  }

  /** True when the PKCE verifier matches the code's challenge. */
  static pkceMatches(code: AuthorizationCode, verifier: string): boolean {
    if (code.codeChallenge === undefined) return true;
    // RFC 7636 caps verifiers at 128 characters, but jsforce sends 171 (base64url of 128 bytes) and Salesforce takes them.
    if (!/^[A-Za-z0-9._~-]{43,1024}$/.test(verifier)) return false;
    const computed = code.codeChallengeMethod === 'plain' ? verifier : createHash('sha256').update(verifier, 'ascii').digest('base64url');
    return safeEqual(computed, code.codeChallenge);
  }

  /** A one-time ticket proving the user logged in on the authorize page (valid 10 minutes). */
  createTicket(userId: string, clientId: string): string {
    const now = this.deps.clock();
    for (const [k, t] of this.tickets) if (t.expiresAt <= now) this.tickets.delete(k);
    const ticket = randomBytes(24).toString('base64url');
    this.tickets.set(ticket, { userId, clientId, expiresAt: now + 10 * 60 * 1000 });
    return ticket;
  }

  /** The user id of a live ticket for the app (single use). */
  consumeTicket(ticket: string, clientId: string): string | undefined {
    const t = this.tickets.get(ticket);
    if (!t) return undefined;
    this.tickets.delete(ticket);
    return t.expiresAt > this.deps.clock() && t.clientId === clientId ? t.userId : undefined;
  }

  hasApproved(clientId: string, userId: string): boolean {
    return this.approvals.has(`${clientId}|${userId}`);
  }

  approve(clientId: string, userId: string): void {
    this.approvals.add(`${clientId}|${userId}`);
  }

  /** The id_token signing key (RSA 2048, generated on first use; kid {@link ID_TOKEN_KID} at first). */
  private signingKey(): { kid: string; privateKey: KeyObject; publicKey: KeyObject } {
    if (this.signing.length === 0) this.signing.push({ kid: ID_TOKEN_KID, ...generateKeyPairSync('rsa', { modulusLength: 2048 }) });
    return this.signing[this.signing.length - 1] as { kid: string; privateKey: KeyObject; publicKey: KeyObject };
  }

  /**
   * Start signing id_tokens with a new key (the next kid number), as Salesforce does from release to
   * release. The old keys stay published unless `dropOld`. Returns the kids now published.
   */
  rotateSigningKey(options: { dropOld?: boolean } = {}): { kid: string; kids: string[] } {
    const kid = String(Number(this.signingKey().kid) + 1);
    const key = { kid, ...generateKeyPairSync('rsa', { modulusLength: 2048 }) };
    this.signing = options.dropOld ? [key] : [...this.signing, key];
    return { kid, kids: this.signing.map((k) => k.kid) };
  }

  /** The JWKS served at `/id/keys`. */
  jwks(): { keys: Array<Record<string, string>> } {
    this.signingKey();
    return {
      keys: this.signing.map((k) => {
        const jwk = k.publicKey.export({ format: 'jwk' });
        return { kty: 'RSA', e: String(jwk.e), use: 'sig', kid: k.kid, alg: 'RS256', n: String(jwk.n) };
      }),
    };
  }

  /** An OpenID Connect id_token for a session (RS256, kid {@link ID_TOKEN_KID}). */
  idToken(session: Session, options: { nonce?: string } = {}): string {
    const user = this.user(session.userId) ?? this.defaultUser;
    const p = this.profile(user);
    const iat = Math.floor(this.deps.clock() / 1000);
    const scopes = scopeList(session.scope);
    const claims: Record<string, unknown> = {
      at_hash: atHash(session.accessToken),
      sub: this.identityUrl(session.userId),
      aud: session.clientId,
      iss: this.deps.baseUrl(),
      exp: iat + ID_TOKEN_TTL_SECONDS,
      iat,
      auth_time: Math.floor(session.issuedAt / 1000),
      ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
      ...(scopes.includes('profile')
        ? {
            name: p.name,
            preferred_username: user.username,
            nickname: user.username.split('@')[0],
            given_name: p.firstName,
            family_name: p.lastName,
            zoneinfo: p.timezone,
            locale: p.locale,
            profile: `${this.deps.baseUrl()}/${session.userId}`,
            updated_at: p.lastModified.replace(/\.\d{3}Z$/, 'Z'),
          }
        : {}),
      ...(scopes.includes('email') ? { email: p.email, email_verified: true } : {}),
    };
    const key = this.signingKey();
    return signRs256(claims, key.privateKey, key.kid);
  }

  /** Credentials printed on start-up: a ready session for the default user and app. */
  bootstrap(): { clientId: string; clientSecret: string; username: string; password: string; accessToken: string; refreshToken: string } {
    const issued = this.issue(this.defaultUser, this.defaultApp.clientId, { withRefresh: true });
    return {
      clientId: this.defaultApp.clientId,
      clientSecret: this.defaultApp.clientSecret,
      username: this.defaultUser.username,
      password: this.defaultUser.password,
      accessToken: issued.session.accessToken,
      refreshToken: issued.refreshToken ?? '',
    };
  }
}
