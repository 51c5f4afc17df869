import { randomBytes } from 'node:crypto';
import type { Org } from '../org.ts';

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
}

export interface OrgUser {
  readonly userId: string;
  readonly username: string;
  readonly password: string;
}

export const DEFAULT_CLIENT_ID = '3MVG9forceflow.Emulator.ConnectedApp.Client.Id.0000000000000000000000000000';
export const DEFAULT_CLIENT_SECRET = 'FORCEFLOW0EMULATOR0CLIENT0SECRET0000000000000000000000000000000000';
export const DEFAULT_USERNAME = 'admin@forceflow.emulator';
export const DEFAULT_PASSWORD = 'forceflow-emulator';
export const DEFAULT_SCOPE = 'api refresh_token offline_access openid id profile email web';

/** Characters Salesforce uses after the `!` of an access token (the sf CLI checks `[.\w]*`). */
function tokenTail(bytes: number): string {
  return randomBytes(bytes).toString('base64').replace(/\+/g, '.').replace(/\//g, '_').replace(/=+$/, '');
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
  private readonly org: Org;

  constructor(org: Org) {
    this.org = org;
    this.apps.push({ name: 'forceflow', clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET, redirectUris: [] });
    const userTable = org.store.table('User');
    let userId = '';
    if (userTable) {
      const found = userTable.findBy('Username', DEFAULT_USERNAME)[0];
      if (found) userId = String(found['Id']);
    }
    if (!userId) userId = '005' + org.orgId.slice(3);
    this.users.push({ userId, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD });
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

  user(usernameOrId: string): OrgUser | undefined {
    const key = usernameOrId.toLowerCase();
    return this.users.find((u) => u.username.toLowerCase() === key || u.userId.toLowerCase() === key);
  }

  /** The identity URL of a user (`{base}/id/{org18}/{user18}`). */
  identityUrl(userId: string): string {
    return `${this.org.baseUrl}/id/${this.org.orgId}/${userId}`;
  }

  /** Mint an access token (and a refresh token when asked). */
  issue(user: OrgUser, clientId: string, options: { scope?: string; withRefresh?: boolean; fromRefresh?: string } = {}): {
    session: Session;
    refreshToken?: string;
  } {
    const now = this.org.clock();
    const ttl = (this.org.options.tokenTtlSeconds ?? 7200) * 1000;
    const scope = options.scope ?? DEFAULT_SCOPE;
    let refreshToken = options.fromRefresh;
    if (options.withRefresh) {
      refreshToken = `5Aep861${tokenTail(60)}`;
      this.refresh.set(refreshToken, { refreshToken, userId: user.userId, username: user.username, clientId, scope, revoked: false });
    }
    const session: Session = {
      accessToken: `${this.org.orgId.slice(0, 15)}!AQ${tokenTail(80)}`,
      userId: user.userId,
      username: user.username,
      orgId: this.org.orgId,
      clientId,
      scope,
      issuedAt: now,
      expiresAt: now + ttl,
      ...(refreshToken === undefined ? {} : { refreshToken }),
    };
    this.access.set(session.accessToken, session);
    return options.withRefresh && refreshToken ? { session, refreshToken } : { session };
  }

  /** The live session of an access token, or undefined when unknown, expired or revoked. */
  authenticate(accessToken: string): Session | undefined {
    const s = this.access.get(accessToken);
    if (!s) return undefined;
    if (s.expiresAt <= this.org.clock()) {
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

  /** Revoke an access token, or a refresh token and every access token minted from it. */
  revoke(token: string): boolean {
    if (this.access.delete(token)) return true;
    const g = this.refresh.get(token);
    if (!g) return false;
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
