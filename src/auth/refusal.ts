import { createHash } from 'node:crypto';
import { ForceflowError, type ErrorCode, type ErrorKind } from '../core/errors.ts';

/**
 * Why a token was refused. For the log only: the error's message is the same whatever the reason, so
 * a caller probing the sign-in endpoint learns nothing about which check failed (RFC 8693 §2.2.2 answers
 * every refusal `invalid_request`).
 */
export type RefusalReason =
  /** Not a compact JWS / JWT, or a claim of the wrong type. */
  | 'malformed'
  /** `alg` is not the one this kind of token is signed with (`none`, HS256 with a public key...). */
  | 'algorithm'
  /** `typ` is not the one this kind of token carries (`at+jwt` for service tokens). */
  | 'type'
  /** `iss` is not one of the configured issuers. */
  | 'issuer'
  /** No key with the token's `kid` (unknown, or rotated out). */
  | 'unknown_key'
  | 'signature'
  /** `aud` (or `azp`) is not our client id / audience. */
  | 'audience'
  | 'expired'
  /** Issued longer ago than the maximum age allowed. */
  | 'too_old'
  | 'not_yet_valid'
  /** A required claim is missing, or `sub` is not a Salesforce identity. */
  | 'subject'
  | 'nonce'
  /** Introspection: `active` false (expired, revoked, another app's token, user deactivated). */
  | 'inactive'
  /** Introspection: issued to another connected app. */
  | 'client'
  /** A `subject_token_type` not accepted, or introspection says it is not an access token (a refresh token, say). */
  | 'token_type'
  /** The subject token was already exchanged once. */
  | 'replayed'
  /** The exchange request itself is wrong: grant type, a missing or repeated parameter, audience, requested token type. */
  | 'request'
  /** None of the requested scopes is granted to the user's role. */
  | 'scope'
  /** The user's Salesforce org is not allowed. */
  | 'unknown_org'
  /** The user is not mapped and the org has no default role. */
  | 'unknown_user'
  /** The user's principal is disabled. */
  | 'disabled'
  /** Too many exchanges from this address or for this Salesforce user. */
  | 'rate_limited'
  /** Our access token belongs to a sign-in that was revoked (sign-out, or its refresh token was reused). */
  | 'revoked'
  /** A Cognito token of a user in none of the groups mapped to a role. */
  | 'group';

/** The one message of every refusal. */
export const TOKEN_REFUSED_MESSAGE = 'The token was refused.';

/**
 * A refused token: code TOKEN_REFUSED, one message for every reason, and the reason apart (`reason`,
 * also in `toJSON()` for the log). Neither carries the token.
 */
export class TokenRefusedError extends ForceflowError {
  readonly reason: RefusalReason;

  /** No cause is kept: jose's errors carry the token's claims (`payload`), which a log must not get. */
  constructor(reason: RefusalReason) {
    super('TOKEN_REFUSED', TOKEN_REFUSED_MESSAGE);
    this.name = 'TokenRefusedError';
    this.reason = reason;
  }

  override toJSON(): { code: ErrorCode; kind: ErrorKind; message: string; details: Readonly<Record<string, unknown>>; reason: RefusalReason } {
    return { ...super.toJSON(), reason: this.reason };
  }
}

export function refuse(reason: RefusalReason): TokenRefusedError {
  return new TokenRefusedError(reason);
}

/** SHA-256 of a token, hex: what the replay guard keeps and what a log may name (never the token). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** jose's error `code`, if any. */
function joseCode(error: unknown): string | undefined {
  const code = error !== null && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The refusal reason of an error jose threw while verifying a JWT, or undefined when the error is not
 * about the token (the key set could not be fetched, say): those are not refusals.
 */
export function refusalFromJose(error: unknown): RefusalReason | undefined {
  switch (joseCode(error)) {
    case 'ERR_JWT_EXPIRED':
      // jose reports a token past the maximum age as expired on its "iat" claim.
      return (error as { claim?: unknown }).claim === 'iat' ? 'too_old' : 'expired';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'unknown_key';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'algorithm';
    case 'ERR_JWT_INVALID':
    case 'ERR_JWS_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'malformed';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = error as { claim?: unknown; reason?: unknown };
      if (claim === 'aud') return 'audience';
      if (claim === 'iss') return 'issuer';
      if (claim === 'typ') return 'type';
      if (claim === 'nbf') return 'not_yet_valid';
      if (claim === 'iat') return reason === 'check_failed' ? 'too_old' : 'malformed';
      if (claim === 'sub') return 'subject';
      return 'malformed';
    }
    default:
      return undefined;
  }
}
