import type { KMSClient } from '@aws-sdk/client-kms';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { TokenRefusedError, refuse, tokenHash } from '../../auth/refusal.ts';
import { SqlReplayGuard } from '../../auth/replay.ts';
import { AllowedIssuers } from '../../auth/salesforce-id-token.ts';
import { TokenIssuer, verifyServiceToken, type ServiceKeySet } from '../../auth/service-tokens.ts';
import { ACCESS_TOKEN_TYPE, SubjectTokenVerifier } from '../../auth/subject-token.ts';
import { isForceflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { AuthorizedCaller, BearerAuthenticator } from '../http/authorizer.ts';
import type { SignInConfig } from './config.ts';
import { PrincipalStore } from './principals.ts';
import { RefreshTokenStore } from './refresh-tokens.ts';
import { RateLimiter } from './rate-limit.ts';
import { ALL_SCOPES, scopesOfRole } from './roles.ts';
import { SigningKeyStore } from './signing-keys.ts';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_PATH = '/oauth2/token';
/** RFC 7009 token revocation (the console signs out through it). */
export const REVOKE_PATH = '/oauth2/revoke';
export const REFRESH_TOKEN_GRANT = 'refresh_token';
/** The scope an exchange asks for to get a refresh token as well (OpenID Connect's name for it). */
export const OFFLINE_ACCESS = 'offline_access';
/** Default absolute life of a refresh token family (a working day). */
export const DEFAULT_REFRESH_LIFETIME_SECONDS = 8 * 3600;
export const JWKS_PATH = '/.well-known/jwks.json';
export const METADATA_PATH = '/.well-known/oauth-authorization-server';

const DEFAULT_PER_ADDRESS = { burst: 20, perMinute: 10 };
const DEFAULT_PER_USER = { burst: 10, perMinute: 5 };
const FORM_TYPE = 'application/x-www-form-urlencoded';
/** The parameters of an exchange request that may appear at most once (RFC 6749 §3.2). */
const SINGLE = ['grant_type', 'subject_token', 'subject_token_type', 'scope', 'requested_token_type', 'audience', 'resource', 'actor_token', 'actor_token_type', 'nonce', 'refresh_token', 'token', 'token_type_hint'];

/** A refused refresh grant: RFC 6749 §5.2's `invalid_grant`, whatever the reason (the reason goes to the log). */
class RefreshRefused extends Error {
  constructor(readonly reason: string) {
    super('refresh token refused');
  }
}

export interface SignInServiceOptions<DB = unknown> {
  readonly config: SignInConfig;
  readonly db: Kysely<DB>;
  readonly kms: KMSClient;
  readonly kmsKeyId: string;
  readonly accountId: string;
  readonly log: Logger;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
  /** How often the signing keys are re-read from the database (rotation by another process); default 5 s. */
  readonly keyRefreshMs?: number;
}

/**
 * Sign in with Salesforce on the service: the RFC 8693 token exchange (`POST /oauth2/token`), the JWKS and
 * issuer metadata, and the Bearer side of the authorizer. The service's URL is known only once it listens:
 * {@link setEndpoint} before the first request.
 */
export class SignInService implements BearerAuthenticator {
  private endpoint: string | undefined;
  private readonly perAddress: RateLimiter;
  private readonly perUser: RateLimiter;

  private constructor(
    private readonly options: Omit<SignInServiceOptions, 'db'>,
    readonly principals: PrincipalStore,
    readonly signingKeys: SigningKeyStore,
    private readonly verifier: SubjectTokenVerifier,
    readonly refreshTokens: RefreshTokenStore,
  ) {
    const limits = options.config.rateLimit ?? {};
    const now = options.now ?? Date.now;
    this.perAddress = new RateLimiter(limits.perAddress ?? DEFAULT_PER_ADDRESS, now);
    this.perUser = new RateLimiter(limits.perUser ?? DEFAULT_PER_USER, now);
  }

  static async open<DB>(options: SignInServiceOptions<DB>): Promise<SignInService> {
    const { config, db, log } = options;
    const principals = PrincipalStore.open(db);
    const signingKeys = SigningKeyStore.open(db, { kms: options.kms, kmsKeyId: options.kmsKeyId, ...(options.now ? { now: options.now } : {}) });
    // The first key is made (and KMS reached) at start, not on the first request.
    await signingKeys.keySet();
    const verifier = new SubjectTokenVerifier({
      allowedIssuers: new AllowedIssuers(config.issuers),
      consumerKey: config.consumerKey,
      ...(config.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: config.maxAgeSeconds }),
      ...(config.introspection ? { introspection: config.introspection } : {}),
      replay: await SqlReplayGuard.open(db),
      log,
      ...(options.now ? { now: options.now } : {}),
    });
    return new SignInService(options, principals, signingKeys, verifier, RefreshTokenStore.open(db, options.now ? { now: options.now } : {}));
  }

  setEndpoint(endpoint: string): void {
    this.endpoint = endpoint;
  }

  get issuer(): string {
    const issuer = this.options.config.issuer ?? this.endpoint;
    if (issuer === undefined) throw new Error('SignInService: setEndpoint was not called');
    return issuer.replace(/\/+$/, '');
  }

  get audience(): string {
    return this.options.config.audience ?? this.issuer;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Issuer metadata (RFC 8414). */
  metadata(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      token_endpoint: `${this.issuer}${TOKEN_PATH}`,
      jwks_uri: `${this.issuer}${JWKS_PATH}`,
      grant_types_supported: this.refreshLifetimeSeconds === undefined ? [TOKEN_EXCHANGE_GRANT] : [TOKEN_EXCHANGE_GRANT, REFRESH_TOKEN_GRANT],
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint: `${this.issuer}${REVOKE_PATH}`,
      revocation_endpoint_auth_methods_supported: ['none'],
      scopes_supported: this.refreshLifetimeSeconds === undefined ? ALL_SCOPES : [...ALL_SCOPES, OFFLINE_ACCESS],
      response_types_supported: [],
      subject_token_types_supported: this.verifier.acceptedTypes,
    };
  }

  /** The routes that need no credential (they pass the app's Host/Origin guard like every route). */
  readonly publicPaths: readonly string[] = [TOKEN_PATH, REVOKE_PATH, JWKS_PATH, METADATA_PATH];

  /** The absolute life of a refresh token family, or undefined when refresh tokens are off. */
  private get refreshLifetimeSeconds(): number | undefined {
    const r = this.options.config.refreshTokens;
    return r === false ? undefined : r?.lifetimeSeconds ?? DEFAULT_REFRESH_LIFETIME_SECONDS;
  }

  /** The routes: token exchange, JWKS, metadata. */
  register(app: FastifyInstance): void {
    // A token request is a few kilobytes: an unauthenticated caller gets no more buffered.
    app.post(TOKEN_PATH, { bodyLimit: 64 * 1024 }, (req, reply) => this.token(req, reply));
    app.post(REVOKE_PATH, { bodyLimit: 64 * 1024 }, (req, reply) => this.revoke(req, reply));
    app.get(JWKS_PATH, async (_req, reply) => {
      const keys = await this.signingKeys.keySet(this.options.keyRefreshMs);
      return reply.code(200).header('content-type', 'application/json').header('cache-control', 'public, max-age=60').send(JSON.stringify(keys.jwks()));
    });
    app.get(METADATA_PATH, async (_req, reply) => reply.code(200).header('content-type', 'application/json').send(JSON.stringify(this.metadata())));
  }

  /** `POST /oauth2/token`: the token exchange, or (with refresh tokens on) the refresh grant. */
  private async token(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache').header('content-type', 'application/json');
    const address = req.ip;
    const context: Record<string, unknown> = { requestId: req.id, clientAddress: address };
    let params: URLSearchParams;
    try {
      if (!this.perAddress.take(address)) throw refuse('rate_limited');
      params = formParams(req);
    } catch (error) {
      return this.refused(reply, context, error);
    }
    if (params.get('grant_type') === REFRESH_TOKEN_GRANT && this.refreshLifetimeSeconds !== undefined) return this.refresh(params, reply, context);
    return this.exchange(params, reply, context);
  }

  private refused(reply: FastifyReply, context: Record<string, unknown>, error: unknown): FastifyReply {
    if (error instanceof TokenRefusedError) {
      this.options.log.info({ ...context, reason: error.reason }, 'Token exchange refused');
      return reply.code(400).send(JSON.stringify({ error: 'invalid_request' }));
    }
    const unavailable = isForceflowError(error) && error.kind === 'retryable';
    this.options.log.error({ ...context, err: error }, 'Token exchange failed');
    return reply.code(unavailable ? 503 : 500).send(JSON.stringify({ error: unavailable ? 'temporarily_unavailable' : 'server_error' }));
  }

  private async exchange(params: URLSearchParams, reply: FastifyReply, context: Record<string, unknown>): Promise<FastifyReply> {
    try {
      const token = params.get('subject_token') ?? '';
      if (token !== '') context['subjectTokenSha256'] = tokenHash(token);
      const type = params.get('subject_token_type') ?? '';
      context['subjectTokenType'] = type.slice(0, 80);
      const requestedType = params.get('requested_token_type');
      const audience = params.get('audience');
      const resource = params.get('resource');
      if (params.get('grant_type') !== TOKEN_EXCHANGE_GRANT || token === '' || type === '' || params.has('actor_token') || params.has('actor_token_type')) throw refuse('request');
      if (requestedType !== null && requestedType !== ACCESS_TOKEN_TYPE && requestedType !== JWT_TOKEN_TYPE) throw refuse('request');
      if ((audience !== null && audience !== this.audience) || (resource !== null && resource !== this.issuer && resource !== this.audience)) throw refuse('request');
      const nonce = params.get('nonce');
      const subject = await this.verifier.check(token, type, { ...(nonce === null ? {} : { nonce }), signal: AbortSignal.timeout(15_000) });
      context['orgId'] = subject.orgId;
      context['userId'] = subject.userId;
      if (!this.perUser.take(`${subject.orgId}:${subject.userId}`)) throw refuse('rate_limited');
      const principal = await this.principals.resolve(subject.orgId, subject.userId);
      if (typeof principal === 'string') throw refuse(principal);
      const allowed = scopesOfRole(principal.role);
      const asked = (params.get('scope') ?? '').split(' ').filter((s) => s !== '');
      const offline = asked.includes(OFFLINE_ACCESS) && this.refreshLifetimeSeconds !== undefined;
      const requested = asked.filter((s) => s !== OFFLINE_ACCESS);
      const scopes = requested.length === 0 ? allowed : allowed.filter((s) => requested.includes(s));
      if (scopes.length === 0) throw refuse('scope');
      await this.verifier.acceptOnce(token, subject);
      const lifetime = this.refreshLifetimeSeconds;
      const family = offline && lifetime !== undefined ? await this.refreshTokens.issue(principal.id, scopes, lifetime) : undefined;
      const issuer = await this.tokenIssuer();
      // With a refresh token the access token belongs to its sign-in (`sid`): revoking the family ends both.
      const claims: Record<string, string> = { sf_org: subject.orgId, sf_user: subject.userId, client_id: this.options.config.consumerKey, ...(family ? { sid: family.familyId } : {}) };
      const issued = await issuer.issue({ subject: principal.id, scopes, notAfter: subject.expiresAt, claims });
      this.options.log.info({ ...context, principal: principal.id, role: principal.role, jti: issued.jti, expiresIn: issued.expiresIn, ...(family ? { refreshFamily: family.familyId } : {}) }, 'Token exchange: token issued');
      return reply.code(200).send(JSON.stringify({ access_token: issued.token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: issued.expiresIn, scope: family ? `${issued.scope} ${OFFLINE_ACCESS}` : issued.scope, ...(family ? { refresh_token: family.token } : {}) }));
    } catch (error) {
      return this.refused(reply, context, error);
    }
  }

  /** Signs access tokens with the current signing keys, for this service's issuer and audience. */
  private async tokenIssuer(): Promise<TokenIssuer> {
    return new TokenIssuer({
      keys: await this.signingKeys.keySet(this.options.keyRefreshMs),
      issuer: this.issuer,
      audience: this.audience,
      now: () => this.now(),
      ...(this.options.config.tokenLifetimeSeconds === undefined ? {} : { lifetimeSeconds: this.options.config.tokenLifetimeSeconds }),
    });
  }

  /**
   * The refresh grant (RFC 6749 §6): spend the refresh token, check the principal as it is now (a disabled,
   * removed or unknown one revokes the family), and answer a new access token and the successor refresh token.
   * Refusals answer `invalid_grant` (a bad request `invalid_request`); the reason goes to the log.
   */
  private async refresh(params: URLSearchParams, reply: FastifyReply, context: Record<string, unknown>): Promise<FastifyReply> {
    const token = params.get('refresh_token') ?? '';
    if (token !== '') context['refreshTokenSha256'] = tokenHash(token);
    try {
      if (token === '' || params.has('subject_token') || params.has('actor_token')) throw refuse('request');
      const grant = await this.refreshTokens.rotate(token);
      if (typeof grant === 'string') throw new RefreshRefused(grant);
      context['refreshFamily'] = grant.familyId;
      const m = /^sf:(00D[A-Za-z0-9]{15}):(005[A-Za-z0-9]{15})$/.exec(grant.subject);
      const principal = m?.[1] && m[2] ? await this.principals.resolve(m[1], m[2]) : 'unknown_user';
      if (typeof principal === 'string') {
        await this.refreshTokens.revokeFamily(grant.familyId);
        throw new RefreshRefused(principal);
      }
      // Never wider than the sign-in's scopes, nor than the role allows now; `scope` may narrow further.
      const role = scopesOfRole(principal.role);
      const requested = (params.get('scope') ?? '').split(' ').filter((s) => s !== '' && s !== OFFLINE_ACCESS);
      const scopes = grant.scopes.filter((s) => role.includes(s) && (requested.length === 0 || requested.includes(s)));
      if (scopes.length === 0) throw new RefreshRefused('scope');
      const issuer = await this.tokenIssuer();
      const issued = await issuer.issue({ subject: principal.id, scopes, notAfter: grant.expiresAt, claims: { sf_org: principal.orgId, sf_user: principal.userId, client_id: this.options.config.consumerKey, sid: grant.familyId } });
      this.options.log.info({ ...context, principal: principal.id, role: principal.role, jti: issued.jti, expiresIn: issued.expiresIn }, 'Token refresh: token issued');
      return reply.code(200).send(JSON.stringify({ access_token: issued.token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: issued.expiresIn, scope: `${issued.scope} ${OFFLINE_ACCESS}`, refresh_token: grant.token }));
    } catch (error) {
      if (error instanceof RefreshRefused) {
        this.options.log.info({ ...context, reason: error.reason }, 'Token refresh refused');
        return reply.code(400).send(JSON.stringify({ error: 'invalid_grant' }));
      }
      return this.refused(reply, context, error);
    }
  }

  /**
   * `POST /oauth2/revoke` (RFC 7009): a refresh token revokes its whole family; one of our access tokens that
   * belongs to a sign-in (`sid`) revokes that sign-in. 200 with an empty body whatever the token (an unknown
   * or invalid one included, as §2.2 says); only a request without `token` is refused.
   */
  private async revoke(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const context: Record<string, unknown> = { requestId: req.id, clientAddress: req.ip };
    try {
      if (!this.perAddress.take(req.ip)) throw refuse('rate_limited');
      const params = formParams(req);
      const token = params.get('token') ?? '';
      if (token === '') throw refuse('request');
      context['tokenSha256'] = tokenHash(token);
      let family: string | undefined;
      if (await this.refreshTokens.revoke(token)) family = 'refresh_token';
      else {
        const sid = await this.verify(token).then((v) => v.claims['sid'], () => undefined);
        if (typeof sid === 'string') {
          await this.refreshTokens.revokeFamily(sid);
          family = 'access_token';
        }
      }
      this.options.log.info({ ...context, revoked: family ?? 'nothing' }, 'Token revocation');
      return reply.code(200).send();
    } catch (error) {
      void reply.header('content-type', 'application/json');
      return this.refused(reply, context, error);
    }
  }

  /** Our token verified against the current keys (re-read once for a kid not known yet: a rotation elsewhere). */
  private async verify(token: string): ReturnType<typeof verifyServiceToken> {
    const verify = (keys: ServiceKeySet): ReturnType<typeof verifyServiceToken> => verifyServiceToken(token, { keys, issuer: this.issuer, audience: this.audience, now: () => this.now() });
    try {
      return await verify(await this.signingKeys.keySet(this.options.keyRefreshMs));
    } catch (error) {
      // A kid we do not know yet may be a rotation by another process or node: re-read the kids (one SELECT).
      if (!(error instanceof TokenRefusedError && error.reason === 'unknown_key')) throw error;
      return verify(await this.signingKeys.reloaded());
    }
  }

  /** The Bearer side of the authorizer: our token, then the principal as it is now (a disabled user is refused at once). */
  async authenticate(token: string): Promise<AuthorizedCaller> {
    const verified = await this.verify(token);
    // A token of a sign-in that was revoked (sign-out, refresh token reuse) is refused at once.
    const sid = verified.claims['sid'];
    if (sid !== undefined && (typeof sid !== 'string' || !(await this.refreshTokens.isActive(sid)))) throw refuse('revoked');
    const m = /^sf:(00D[A-Za-z0-9]{15}):(005[A-Za-z0-9]{15})$/.exec(verified.subject);
    if (!m?.[1] || !m[2]) throw refuse('subject');
    const principal = await this.principals.resolve(m[1], m[2]);
    if (typeof principal === 'string') throw refuse(principal);
    const arn = `arn:aws:sts::${this.options.accountId}:assumed-role/forceflow-${principal.role}/${principal.name}`;
    return { caller: { accessKeyId: principal.id, arn, readOnly: principal.role === 'viewer' }, kind: 'bearer', role: principal.role, scopes: verified.scopes };
  }
}

/** The form body of a token request, once; a parameter given twice, or a body that is not a form, is a refusal. */
function formParams(req: FastifyRequest): URLSearchParams {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== FORM_TYPE || !Buffer.isBuffer(req.body)) throw refuse('request');
  const params = new URLSearchParams(req.body.toString('utf8'));
  for (const name of SINGLE) if (params.getAll(name).length > 1) throw refuse('request');
  return params;
}
