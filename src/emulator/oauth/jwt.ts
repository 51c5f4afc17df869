import { X509Certificate, createHash, createPublicKey, createSign, createVerify, type KeyObject } from 'node:crypto';

/** base64url without padding (RFC 7515 §2). */
export function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/** A decoded, not yet verified, compact JWS. */
export interface DecodedJwt {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
  /** `header.payload`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

function parseObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Split and parse a compact JWS; undefined when it is not one. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  if (!/^[A-Za-z0-9_-]*$/.test(h + p + s)) return undefined;
  const header = parseObject(h);
  const claims = parseObject(p);
  if (!header || !claims) return undefined;
  return { header, claims, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

/** Sign claims as an RS256 compact JWS. */
export function signRs256(claims: Record<string, unknown>, privateKey: KeyObject, kid?: string): string {
  const header = kid === undefined ? { alg: 'RS256', typ: 'JWT' } : { kid, typ: 'JWT', alg: 'RS256' };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(input).sign(privateKey);
  return `${input}.${base64url(signature)}`;
}

/** True when the JWS is RS256 and its signature verifies with the key. */
export function verifyRs256(jwt: DecodedJwt, publicKey: KeyObject): boolean {
  if (jwt.header['alg'] !== 'RS256') return false;
  try {
    return createVerify('RSA-SHA256').update(jwt.signingInput).verify(publicKey, jwt.signature);
  } catch {
    return false;
  }
}

/**
 * The public key of a PEM X.509 certificate (what Salesforce stores for "Use digital signatures"),
 * or of a PEM public key (an emulator convenience). Throws on anything else.
 */
export function publicKeyFromPem(pem: string): KeyObject {
  const key = pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`an RSA key is required, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** OpenID Connect `at_hash`: base64url of the left half of SHA-256(access token). */
export function atHash(accessToken: string): string {
  const digest = createHash('sha256').update(accessToken, 'ascii').digest();
  return base64url(digest.subarray(0, digest.length / 2));
}
