import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ForceflowError } from '../core/errors.ts';
import { isLoopbackHost } from '../connectors/salesforce/config.ts';
import { refuse, refusalFromJose } from './refusal.ts';
import { identityFromSub } from './salesforce-ids.ts';

/** An issuer we accept Salesforce id_tokens from, and where its keys are. */
export interface SalesforceIssuer {
  /** Exactly as Salesforce writes `iss`: `https://login.salesforce.com`, `https://test.salesforce.com`, a My Domain origin. */
  readonly issuer: string;
  /** Default `<issuer>/id/keys`. */
  readonly jwksUri: string;
}

export type SalesforceIssuerInput = string | { readonly issuer: string; readonly jwksUri?: string };

export interface AllowedIssuersOptions {
  /** How long fetched keys are used before being fetched again (jose's cacheMaxAge). Default 10 minutes. */
  readonly cacheMaxAgeMs?: number;
  /** The least time between two fetches, even for an unknown `kid` (jose's cooldownDuration). Default 30 s. */
  readonly cooldownMs?: number;
  /** Default 5 s. */
  readonly timeoutMs?: number;
}

/** https, or http to a loopback host (the emulator); an origin, no path, query or fragment. */
function checkedOrigin(value: string, what: string): string {
  const problem = (): never => {
    throw new ForceflowError('CONFIG_INVALID', `${what} "${value}" is not an https origin (plain http only to a loopback host), such as https://login.salesforce.com or https://acme.my.salesforce.com.`);
  };
  if (!URL.canParse(value)) problem();
  const url = new URL(value);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))) problem();
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') problem();
  return url.origin;
}

/**
 * The explicit list of Salesforce issuers whose id_tokens are accepted (login, test and My Domain hosts
 * from the configuration), each with its own cached key set. Keys are only ever fetched from the JWKS URL
 * of a configured issuer: the token names the issuer it claims, and a name not in the list is refused
 * before anything is fetched (never "take the issuer from the token and fetch its keys").
 */
export class AllowedIssuers {
  private readonly byIssuer = new Map<string, { issuer: SalesforceIssuer; keys: JWTVerifyGetKey }>();

  constructor(issuers: readonly SalesforceIssuerInput[], options: AllowedIssuersOptions = {}) {
    if (issuers.length === 0) throw new ForceflowError('CONFIG_INVALID', 'Sign-in needs at least one allowed Salesforce issuer, such as https://login.salesforce.com.');
    for (const input of issuers) {
      const given = typeof input === 'string' ? { issuer: input } : input;
      const issuer = checkedOrigin(given.issuer, 'The allowed issuer');
      const jwksUri = given.jwksUri ?? `${issuer}/id/keys`;
      if (!URL.canParse(jwksUri)) throw new ForceflowError('CONFIG_INVALID', `The JWKS URL "${jwksUri}" of issuer ${issuer} is not a URL.`);
      checkedOrigin(new URL(jwksUri).origin, `The JWKS URL of issuer ${issuer}`);
      const keys = createRemoteJWKSet(new URL(jwksUri), {
        cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
        cooldownDuration: options.cooldownMs ?? 30_000,
        timeoutDuration: options.timeoutMs ?? 5_000,
      });
      this.byIssuer.set(issuer, { issuer: { issuer, jwksUri }, keys });
    }
  }

  get issuers(): readonly SalesforceIssuer[] {
    return [...this.byIssuer.values()].map((e) => e.issuer);
  }

  /** The key set of an allowed issuer (exact match), or undefined. */
  keysOf(issuer: string): JWTVerifyGetKey | undefined {
    return this.byIssuer.get(issuer)?.keys;
  }
}

/** Who a verified Salesforce token stands for: the immutable org and user ids, and when the token expires. */
export interface SalesforceSubject {
  /** 18 characters, `00D…`. */
  readonly orgId: string;
  /** 18 characters, `005…`. */
  readonly userId: string;
  readonly expiresAt: Date;
}

export interface IdTokenVerifyOptions {
  readonly allowedIssuers: AllowedIssuers;
  /** Our connected app's consumer key: the only `aud` accepted. */
  readonly consumerKey: string;
  /** Refuse id_tokens issued (`iat`) longer ago than this. Salesforce's id_tokens live 2 minutes by default. */
  readonly maxAgeSeconds: number;
  /** When the browser sent the nonce it used, the id_token must carry it. */
  readonly nonce?: string;
  /** Allowed clock difference with Salesforce. Default 30 s. */
  readonly clockToleranceSeconds?: number;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
}

/**
 * Verify a Salesforce OpenID Connect id_token locally and return its subject. Checks, in order: a JWS
 * signed RS256 (`none`, HS256 and every other alg refused before any key is looked at), `iss` one of the
 * allowed issuers (exact), the signature against that issuer's keys, `aud` our consumer key (and `azp`,
 * when present), `exp`, `iat` within `maxAgeSeconds`, `nonce` when expected, and `sub` a Salesforce
 * identity URL. Throws TOKEN_REFUSED (one message; `reason` for the log) for a refused token, and
 * SF_UNAVAILABLE when the allowed issuer's keys cannot be fetched.
 */
export async function verifySalesforceIdToken(token: string, options: IdTokenVerifyOptions): Promise<SalesforceSubject> {
  let alg: unknown;
  let claimedIssuer: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
    claimedIssuer = decodeJwt(token).iss;
  } catch {
    throw refuse('malformed');
  }
  if (alg !== 'RS256') throw refuse('algorithm');
  const keys = typeof claimedIssuer === 'string' ? options.allowedIssuers.keysOf(claimedIssuer) : undefined;
  if (keys === undefined || typeof claimedIssuer !== 'string') throw refuse('issuer');

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: claimedIssuer,
      audience: options.consumerKey,
      algorithms: ['RS256'],
      maxTokenAge: `${options.maxAgeSeconds}s`,
      clockTolerance: `${options.clockToleranceSeconds ?? 30}s`,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
      currentDate: new Date((options.now ?? Date.now)()),
    }));
  } catch (error) {
    const reason = refusalFromJose(error);
    if (reason !== undefined) throw refuse(reason);
    throw new ForceflowError('SF_UNAVAILABLE', `Sign-in: could not get the signing keys of ${claimedIssuer} to check an id_token (${(error as Error).message}). Check the network; try again later.`, {
      cause: error,
      details: { issuer: claimedIssuer },
    });
  }
  // OpenID Connect Core §3.1.3.7: when azp is present it must be our client id.
  if (payload['azp'] !== undefined && payload['azp'] !== options.consumerKey) throw refuse('audience');
  if (options.nonce !== undefined && payload['nonce'] !== options.nonce) throw refuse('nonce');
  const identity = identityFromSub(payload.sub);
  if (!identity) throw refuse('subject');
  return Object.freeze({ orgId: identity.orgId, userId: identity.userId, expiresAt: new Date((payload.exp ?? 0) * 1000) });
}
