import { randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { ForceflowError } from '../core/errors.ts';
import { refuse, refusalFromJose } from './refusal.ts';

/** The media type of our access tokens (RFC 9068): a Salesforce id_token, or any other JWT, never passes as one. */
export const SERVICE_TOKEN_TYPE = 'at+jwt';
export const SERVICE_TOKEN_ALG = 'ES256';
/** Default and ceiling of a service token's life. */
export const DEFAULT_SERVICE_TOKEN_SECONDS = 15 * 60;
export const MAX_SERVICE_TOKEN_SECONDS = 60 * 60;

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** Kept for {@link ServiceKeySet.exportPrivateJwks}: the imported CryptoKey is not extractable. */
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

async function signingKeyFrom(privateJwk: JWK): Promise<SigningKey> {
  if (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256' || typeof privateJwk.d !== 'string') {
    throw new ForceflowError('CONFIG_INVALID', 'A service signing key must be a private EC P-256 JWK (kty "EC", crv "P-256", with "d").');
  }
  const publicJwk: JWK = { kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y };
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateKey = (await importJWK({ ...privateJwk, alg: SERVICE_TOKEN_ALG }, SERVICE_TOKEN_ALG)) as CryptoKey;
  return { kid, privateKey, privateJwk: { ...publicJwk, d: privateJwk.d, kid }, publicJwk: { ...publicJwk, kid, alg: SERVICE_TOKEN_ALG, use: 'sig' } };
}

/**
 * The service's signing keys (ES256, `kid` = RFC 7638 thumbprint). The newest signs; every key in the set
 * verifies and is published by {@link jwks} (for `/.well-known/jwks.json`). Rotation: `rotate()` adds a new
 * key and signs with it while the old one still verifies the tokens it signed; `retire(kid)` drops the old
 * key once those have expired (at least the longest token life plus clock skew later), after which a token
 * it signed is refused (`unknown_key`).
 */
export class ServiceKeySet {
  /** jose's key getter over {@link jwks}, kept between verifications (it caches imported keys) until the set changes. */
  private getter: ReturnType<typeof createLocalJWKSet> | undefined;

  private constructor(private keys: SigningKey[]) {}

  /** A set of one new key. */
  static async generate(): Promise<ServiceKeySet> {
    const set = new ServiceKeySet([]);
    await set.rotate();
    return set;
  }

  /** A set from stored private JWKs, newest (the signing key) last. */
  static async fromPrivateJwks(jwks: readonly JWK[]): Promise<ServiceKeySet> {
    if (jwks.length === 0) throw new ForceflowError('CONFIG_INVALID', 'The service signing key set is empty: generate a key.');
    return new ServiceKeySet(await Promise.all(jwks.map(signingKeyFrom)));
  }

  /** The private JWKs to store (owner-only), oldest first. Secret: never log them. */
  exportPrivateJwks(): JWK[] {
    return this.keys.map((k) => ({ ...k.privateJwk }));
  }

  /** Add a new key and make it the signing key; returns its kid. */
  async rotate(): Promise<string> {
    const { privateKey } = await generateKeyPair(SERVICE_TOKEN_ALG, { extractable: true });
    const key = await signingKeyFrom(await exportJWK(privateKey));
    this.keys = [...this.keys, key];
    this.getter = undefined;
    return key.kid;
  }

  /** Drop a key that no longer signs: tokens it signed are refused from now on. The signing key cannot be retired. */
  retire(kid: string): void {
    if (this.current.kid === kid) throw new ForceflowError('CONFIG_INVALID', `Key ${kid} is the one that signs: rotate to a new key before retiring it.`);
    this.keys = this.keys.filter((k) => k.kid !== kid);
    this.getter = undefined;
  }

  /** The signing key: its kid and a non-extractable CryptoKey (nothing secret if logged by mistake). */
  get current(): { readonly kid: string; readonly privateKey: CryptoKey } {
    const key = this.keys[this.keys.length - 1];
    if (!key) throw new ForceflowError('INTERNAL', 'The service key set has no key.');
    return { kid: key.kid, privateKey: key.privateKey };
  }

  get kids(): readonly string[] {
    return this.keys.map((k) => k.kid);
  }

  /** The public keys, for `/.well-known/jwks.json` and for verifying. */
  jwks(): JSONWebKeySet {
    return { keys: this.keys.map((k) => ({ ...k.publicJwk })) };
  }

  /** The key getter `verifyServiceToken` uses (rebuilt after a rotation or a retirement). */
  keyGetter(): ReturnType<typeof createLocalJWKSet> {
    this.getter ??= createLocalJWKSet(this.jwks());
    return this.getter;
  }
}

export interface TokenIssuerOptions {
  readonly keys: ServiceKeySet;
  /** Our issuer identifier (the service's base URL). */
  readonly issuer: string;
  /** The control API's audience. */
  readonly audience: string;
  /** Default {@link DEFAULT_SERVICE_TOKEN_SECONDS}; at most {@link MAX_SERVICE_TOKEN_SECONDS}. */
  readonly lifetimeSeconds?: number;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
}

export interface IssueRequest {
  /** Our principal's id (`sub`). */
  readonly subject: string;
  readonly scopes: readonly string[];
  /** When the subject (Salesforce) token expires: ours never outlives it. */
  readonly notAfter: Date;
  /** Extra claims (`client_id`, `sf_org`, `sf_user`...); cannot override the registered ones. */
  readonly claims?: Readonly<Record<string, string>>;
}

export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresAt: Date;
  /** Whole seconds, for `expires_in`. */
  readonly expiresIn: number;
  readonly scope: string;
}

const REGISTERED = new Set(['iss', 'aud', 'sub', 'scope', 'jti', 'iat', 'exp', 'nbf']);

/** Issues the service's own access tokens: ES256 JWTs, `typ` at+jwt, short-lived. */
export class TokenIssuer {
  private readonly lifetimeSeconds: number;

  constructor(private readonly options: TokenIssuerOptions) {
    const life = options.lifetimeSeconds ?? DEFAULT_SERVICE_TOKEN_SECONDS;
    if (!Number.isInteger(life) || life < 1 || life > MAX_SERVICE_TOKEN_SECONDS) {
      throw new ForceflowError('CONFIG_INVALID', `The service token lifetime must be a whole number of seconds from 1 to ${MAX_SERVICE_TOKEN_SECONDS}; got ${String(life)}.`);
    }
    this.lifetimeSeconds = life;
  }

  /**
   * Sign a token for `subject`, expiring after the lifetime or when the subject token does, whichever
   * is first. A subject token with less than a second left is refused (`expired`).
   */
  async issue(request: IssueRequest): Promise<IssuedToken> {
    const nowMs = (this.options.now ?? Date.now)();
    const iat = Math.floor(nowMs / 1000);
    const exp = Math.min(iat + this.lifetimeSeconds, Math.floor(request.notAfter.getTime() / 1000));
    // Written so that an invalid notAfter (NaN) is refused too.
    if (!(exp - iat >= 1)) throw refuse('expired');
    const extra = Object.fromEntries(Object.entries(request.claims ?? {}).filter(([k]) => !REGISTERED.has(k)));
    const scope = [...new Set(request.scopes)].join(' ');
    const jti = randomUUID();
    const key = this.options.keys.current;
    const token = await new SignJWT({ ...extra, scope })
      .setProtectedHeader({ alg: SERVICE_TOKEN_ALG, typ: SERVICE_TOKEN_TYPE, kid: key.kid })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setSubject(request.subject)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key.privateKey);
    return { token, jti, expiresAt: new Date(exp * 1000), expiresIn: exp - iat, scope };
  }
}

export interface ServiceTokenVerifyOptions {
  /** The keys that may have signed: our {@link ServiceKeySet}, or anything publishing a JWKS. */
  readonly keys: ServiceKeySet | { jwks(): JSONWebKeySet };
  readonly issuer: string;
  readonly audience: string;
  /** Default 30 s. */
  readonly clockToleranceSeconds?: number;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
}

export interface ServicePrincipal {
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly jti: string;
  readonly expiresAt: Date;
  /** Every claim, as verified. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * Verify one of our access tokens: ES256 only, `typ` at+jwt, a `kid` of the key set (a retired key's
 * tokens are refused), the signature, `iss`, `aud`, `exp`, and `sub`, `jti`, `scope` present. Throws
 * TOKEN_REFUSED (one message; `reason` for the log).
 */
export async function verifyServiceToken(token: string, options: ServiceTokenVerifyOptions): Promise<ServicePrincipal> {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw refuse('malformed');
  }
  if (alg !== SERVICE_TOKEN_ALG) throw refuse('algorithm');
  try {
    const keys = options.keys instanceof ServiceKeySet ? options.keys.keyGetter() : createLocalJWKSet(options.keys.jwks());
    const { payload } = await jwtVerify(token, keys, {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: [SERVICE_TOKEN_ALG],
      typ: SERVICE_TOKEN_TYPE,
      clockTolerance: `${options.clockToleranceSeconds ?? 30}s`,
      requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti', 'scope'],
      currentDate: new Date((options.now ?? Date.now)()),
    });
    const { sub, jti, exp, scope } = payload;
    if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number' || typeof scope !== 'string') throw refuse('malformed');
    return Object.freeze({ subject: sub, scopes: Object.freeze(scope.split(' ').filter((s) => s !== '')), jti, expiresAt: new Date(exp * 1000), claims: Object.freeze({ ...payload }) });
  } catch (error) {
    if (error instanceof ForceflowError) throw error;
    throw refuse(refusalFromJose(error) ?? 'malformed');
  }
}
