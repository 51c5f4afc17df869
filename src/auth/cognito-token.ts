import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { isLoopbackHost } from '../connectors/salesforce/config.ts';
import { ForceflowError } from '../core/errors.ts';
import { refuse, refusalFromJose } from './refusal.ts';

/** Cognito's two kinds of JWT an API may be given (`token_use`). */
export type CognitoTokenUse = 'access' | 'id';

export interface CognitoPoolOptions {
  /** `<region>_<id>`, as Cognito names pools (cognito-local: `local_<id>`). */
  readonly userPoolId: string;
  /** Default: the region the pool id starts with. */
  readonly region?: string;
  /**
   * A local pool (cognito-local) or a proxy: the issuer is `<endpoint>/<userPoolId>` instead of
   * `https://cognito-idp.<region>.amazonaws.com/<userPoolId>`. https, or http to a loopback host.
   */
  readonly endpoint?: string;
  /** The app clients whose tokens are accepted (`client_id` of an access token, `aud` of an id token). */
  readonly appClientIds: readonly string[];
  /** Which tokens are accepted; default access tokens only. */
  readonly tokenUse?: readonly CognitoTokenUse[];
  /** Default 30 s. */
  readonly clockToleranceSeconds?: number;
  /** jose's cache of fetched keys; default 10 minutes. An unknown `kid` refetches at most every 30 s. */
  readonly cacheMaxAgeMs?: number;
  /** Default 5 s. */
  readonly timeoutMs?: number;
}

/** A verified Cognito token: who, in which groups, through which app client. */
export interface CognitoIdentity {
  /** The user's `sub` (a UUID, immutable; the username may be changed or reused). */
  readonly subject: string;
  /** `username` (access token) or `cognito:username` (id token): a label, not an identity. */
  readonly username: string;
  readonly groups: readonly string[];
  readonly tokenUse: CognitoTokenUse;
  readonly clientId: string;
  readonly expiresAt: Date;
}

const POOL_ID = /^([a-z]{2}(?:-[a-z]+)+-\d|local)_[0-9A-Za-z]+$/;

/**
 * One Amazon Cognito user pool whose tokens the control API accepts. Keys come only from the pool's own
 * JWKS (`<issuer>/.well-known/jwks.json`, derived from the configured pool, never from the token), RS256
 * only; `iss` must be the pool's exactly, `exp` in the future, `token_use` one of the accepted kinds, and the
 * app client one of the configured ones (an access token's `client_id`; an id token's `aud`).
 */
export class CognitoPool {
  readonly issuer: string;
  readonly jwksUri: string;
  private readonly keys: JWTVerifyGetKey;
  private readonly tokenUse: readonly CognitoTokenUse[];

  constructor(private readonly options: CognitoPoolOptions) {
    const m = POOL_ID.exec(options.userPoolId);
    if (!m) throw new ForceflowError('CONFIG_INVALID', `The Cognito user pool id "${options.userPoolId}" is not one: a region, an underscore and letters and digits, such as eu-west-1_AbCdEf123.`);
    if (options.appClientIds.length === 0) throw new ForceflowError('CONFIG_INVALID', 'The Cognito configuration needs at least one app client id (appClientIds).');
    if (options.endpoint === undefined) {
      const region = options.region ?? m[1];
      if (region === 'local') throw new ForceflowError('CONFIG_INVALID', `The Cognito user pool ${options.userPoolId} is a local one (cognito-local): give its endpoint, such as http://127.0.0.1:9229.`);
      this.issuer = `https://cognito-idp.${region ?? ''}.amazonaws.com/${options.userPoolId}`;
    } else {
      this.issuer = `${checkedEndpoint(options.endpoint)}/${options.userPoolId}`;
    }
    this.jwksUri = `${this.issuer}/.well-known/jwks.json`;
    this.tokenUse = options.tokenUse ?? ['access'];
    this.keys = createRemoteJWKSet(new URL(this.jwksUri), { cacheMaxAge: options.cacheMaxAgeMs ?? 600_000, cooldownDuration: 30_000, timeoutDuration: options.timeoutMs ?? 5_000 });
  }

  /** Verify a Cognito JWT. Throws TOKEN_REFUSED (the reason apart), or COGNITO_UNAVAILABLE when the keys cannot be fetched. */
  async verify(token: string, now: number = Date.now()): Promise<CognitoIdentity> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw refuse('malformed');
    }
    // Before any key is looked at: none, HS256 keyed with the public key and the rest never reach jose.
    if (alg !== 'RS256') throw refuse('algorithm');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.issuer,
        algorithms: ['RS256'],
        clockTolerance: `${this.options.clockToleranceSeconds ?? 30}s`,
        requiredClaims: ['iss', 'sub', 'exp', 'iat', 'token_use'],
        currentDate: new Date(now),
      }));
    } catch (error) {
      const reason = refusalFromJose(error);
      if (reason !== undefined) throw refuse(reason);
      throw new ForceflowError('COGNITO_UNAVAILABLE', `Could not get the signing keys of the Cognito user pool ${this.options.userPoolId} from ${this.jwksUri} to check a Bearer token (${(error as Error).message}). Check that the pool is reachable; try again later.`);
    }
    const use = payload['token_use'];
    if (use !== 'access' && use !== 'id') throw refuse('token_type');
    if (!this.tokenUse.includes(use)) throw refuse('token_type');
    let clientId: unknown;
    if (use === 'access') {
      clientId = payload['client_id'];
      if (typeof clientId !== 'string' || !this.options.appClientIds.includes(clientId)) throw refuse('client');
    } else {
      // An id token's aud is its app client (a single string in Cognito's tokens).
      const aud = payload.aud;
      clientId = Array.isArray(aud) ? (aud.length === 1 ? aud[0] : undefined) : aud;
      if (typeof clientId !== 'string' || !this.options.appClientIds.includes(clientId)) throw refuse('audience');
    }
    const groups = payload['cognito:groups'] ?? [];
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) throw refuse('malformed');
    const username = use === 'access' ? payload['username'] : payload['cognito:username'];
    const { sub, exp } = payload;
    if (typeof sub !== 'string' || sub === '' || typeof exp !== 'number') throw refuse('subject');
    return Object.freeze({ subject: sub, username: typeof username === 'string' && username !== '' ? username : sub, groups: Object.freeze([...groups]), tokenUse: use, clientId, expiresAt: new Date(exp * 1000) });
  }
}

function checkedEndpoint(value: string): string {
  const problem = (): never => {
    throw new ForceflowError('CONFIG_INVALID', `The Cognito endpoint "${value}" is not an https origin (plain http only to a loopback host), such as http://127.0.0.1:9229 for cognito-local.`);
  };
  if (!URL.canParse(value)) problem();
  const url = new URL(value);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))) problem();
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') problem();
  return url.origin;
}
