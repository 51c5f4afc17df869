import type { FastifyRequest } from 'fastify';
import type { Logger } from '../../core/logger.ts';
import { ApiError } from '../api-error.ts';
import type { Caller } from '../operation.ts';
import { requiredRole, ROLES, SCOPE_OF_ROLE, scopesOfRole, type Role } from '../signin/roles.ts';
import type { AccessKey } from './sigv4.ts';

/** An authenticated caller and what it may do. */
export interface AuthorizedCaller {
  readonly caller: Caller;
  readonly kind: 'sigv4' | 'bearer';
  /** A SigV4 key is admin, or viewer when read-only; a bearer caller has its principal's role now. */
  readonly role: Role;
  /** What the credential itself allows (a token's scopes); an operation needs its role's scope too. */
  readonly scopes: readonly string[];
}

/** Checks `Authorization: Bearer` tokens: the service's own (src/service/signin/exchange.ts) and, when configured, a Cognito pool's (src/service/signin/bearer.ts). */
export interface BearerAuthenticator {
  /** The caller of a token; throws (any error) when the token is refused. */
  authenticate(token: string): Promise<AuthorizedCaller>;
}

export interface AuthorizerOptions {
  readonly verifySigV4: (req: FastifyRequest) => Promise<AccessKey>;
  /** SigV4's checks that need no body (run before the body is read). */
  readonly verifySigV4Headers: (req: FastifyRequest) => Promise<unknown>;
  readonly bearer?: BearerAuthenticator;
  readonly log: Logger;
}

/** The message AWS gives for a credential it does not know (the reason goes to the log only). */
const INVALID_TOKEN = 'The security token included in the request is invalid.';

function bearerToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  if (m?.[1]) return m[1];
  return /^Bearer\b/i.test(header) ? '' : undefined;
}

/**
 * The one authorizer of the control API: every operation accepts a SigV4 signature (the access keys) or,
 * when sign-in is configured, `Authorization: Bearer <service token>`; then roles gate operations
 * (read-only → viewer; StartFlow, StopFlow, CancelFlowExecutions → operator; the rest → admin). A refused
 * token answers UnrecognizedClientException without saying why (the reason goes to the log, never the
 * token); a forbidden operation answers AccessDeniedException.
 */
export class Authorizer {
  /** Bearer callers authenticated before their body was read, so the token is checked once per request. */
  private readonly early = new WeakMap<FastifyRequest, AuthorizedCaller>();

  constructor(private readonly options: AuthorizerOptions) {}

  /**
   * Authentication before the body is read (an unauthenticated caller cannot make the service buffer a
   * body): a Bearer token is checked whole; a SigV4 request up to its signature, which needs the body.
   */
  async beforeBody(req: FastifyRequest): Promise<void> {
    if (this.options.bearer !== undefined && bearerToken(req) !== undefined) {
      this.early.set(req, await this.authenticate(req));
      return;
    }
    await this.options.verifySigV4Headers(req);
  }

  async authenticate(req: FastifyRequest): Promise<AuthorizedCaller> {
    const early = this.early.get(req);
    if (early !== undefined) return early;
    const token = this.options.bearer === undefined ? undefined : bearerToken(req);
    if (token === undefined || this.options.bearer === undefined) {
      const key = await this.options.verifySigV4(req);
      const role: Role = key.readOnly ? 'viewer' : 'admin';
      return { caller: { accessKeyId: key.accessKeyId, arn: key.arn, readOnly: key.readOnly }, kind: 'sigv4', role, scopes: scopesOfRole(role) };
    }
    if (token === '') {
      this.options.log.info({ requestId: req.id, reason: 'malformed' }, 'Bearer token refused');
      throw new ApiError('UnrecognizedClientException', INVALID_TOKEN);
    }
    try {
      return await this.options.bearer.authenticate(token);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      const reason = (error as { reason?: unknown }).reason;
      if (typeof reason === 'string') {
        this.options.log.info({ requestId: req.id, reason }, 'Bearer token refused');
        throw new ApiError('UnrecognizedClientException', INVALID_TOKEN);
      }
      throw error;
    }
  }

  /** AccessDeniedException unless the caller's role and scopes allow the operation. */
  authorize(who: AuthorizedCaller, op: { readonly name: string; readonly readOnly: boolean }): void {
    const needed = requiredRole(op);
    if (ROLES.indexOf(who.role) >= ROLES.indexOf(needed) && who.scopes.includes(SCOPE_OF_ROLE[needed])) return;
    if (who.kind === 'sigv4') {
      throw new ApiError('AccessDeniedException', `User: ${who.caller.arn} is not authorized to perform: appflow:${op.name} (access key ${who.caller.accessKeyId} is read-only).`);
    }
    const why = ROLES.indexOf(who.role) < ROLES.indexOf(needed) ? `the role ${who.role} does not allow it; it needs ${needed}` : `the token's scope does not include ${SCOPE_OF_ROLE[needed]}`;
    throw new ApiError('AccessDeniedException', `User: ${who.caller.arn} is not authorized to perform: appflow:${op.name} (${why}).`);
  }
}
