import type { Logger } from '../core/logger.ts';
import { ForceflowError } from '../core/errors.ts';
import { acceptOnce, type ReplayGuard } from './replay.ts';
import { refuse } from './refusal.ts';
import { introspectSalesforceAccessToken } from './salesforce-access-token.ts';
import { verifySalesforceIdToken, type AllowedIssuers, type SalesforceSubject } from './salesforce-id-token.ts';

/** RFC 8693 §3 token type identifiers forceflow accepts as `subject_token_type`. */
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface SubjectTokenVerifierOptions {
  readonly allowedIssuers: AllowedIssuers;
  /** Our connected app's consumer key (the id_token's `aud`, introspection's `client_id`). */
  readonly consumerKey: string;
  /** Default 300: an id_token issued longer ago is refused (Salesforce's live 2 minutes by default). */
  readonly maxAgeSeconds?: number;
  /** Access tokens are accepted only when these are configured (introspection needs our secret). */
  readonly introspection?: { readonly url: string; readonly consumerSecret: string };
  readonly replay: ReplayGuard;
  readonly log: Logger;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
}

/**
 * The first half of the token exchange, pure of HTTP: check a Salesforce subject token of the given
 * RFC 8693 type, then accept it once. Returns its subject (org id, user id, expiry). A type that is not
 * accepted (an access token when introspection is not configured, any other type) is refused
 * (`token_type`), like every other refusal; mapping the subject to a principal is the caller's.
 */
export class SubjectTokenVerifier {
  constructor(private readonly options: SubjectTokenVerifierOptions) {
    const age = options.maxAgeSeconds ?? 300;
    if (!Number.isInteger(age) || age < 1 || age > 3600) {
      throw new ForceflowError('CONFIG_INVALID', `The id_token maximum age must be a whole number of seconds from 1 to 3600; got ${String(age)}.`);
    }
  }

  /** Which `subject_token_type` values are accepted (for the endpoint's metadata and messages). */
  get acceptedTypes(): readonly string[] {
    return this.options.introspection ? [ID_TOKEN_TYPE, ACCESS_TOKEN_TYPE] : [ID_TOKEN_TYPE];
  }

  /** Check the token (signature or introspection) and accept it once; see {@link check}. */
  async verify(token: string, tokenType: string, extra: { readonly nonce?: string; readonly signal?: AbortSignal } = {}): Promise<SalesforceSubject> {
    const subject = await this.check(token, tokenType, extra);
    await this.acceptOnce(token, subject);
    return subject;
  }

  /**
   * Check the token without recording it: for a caller that makes further checks (the user's mapping, a
   * rate limit) before {@link acceptOnce}, so a token refused by those is not spent.
   */
  async check(token: string, tokenType: string, extra: { readonly nonce?: string; readonly signal?: AbortSignal } = {}): Promise<SalesforceSubject> {
    const o = this.options;
    const now = o.now ?? Date.now;
    if (tokenType === ID_TOKEN_TYPE) {
      return verifySalesforceIdToken(token, {
        allowedIssuers: o.allowedIssuers,
        consumerKey: o.consumerKey,
        maxAgeSeconds: o.maxAgeSeconds ?? 300,
        now,
        ...(extra.nonce === undefined ? {} : { nonce: extra.nonce }),
      });
    }
    if (tokenType === ACCESS_TOKEN_TYPE && o.introspection) {
      return introspectSalesforceAccessToken(token, {
        instanceOrLoginUrl: o.introspection.url,
        clientId: o.consumerKey,
        clientSecret: o.introspection.consumerSecret,
        log: o.log,
        now,
        ...(extra.signal ? { signal: extra.signal } : {}),
      });
    }
    throw refuse('token_type');
  }

  /** Record a checked token as used (TOKEN_REFUSED `replayed` if it already was). */
  async acceptOnce(token: string, subject: SalesforceSubject): Promise<void> {
    await acceptOnce(this.options.replay, token, subject.expiresAt, new Date((this.options.now ?? Date.now)()));
  }
}
