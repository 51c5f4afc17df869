import type { Logger } from '../core/logger.ts';
import { introspectToken } from '../connectors/salesforce/oauth.ts';
import { refuse } from './refusal.ts';
import { identityFromSub } from './salesforce-ids.ts';
import type { SalesforceSubject } from './salesforce-id-token.ts';

export interface AccessTokenVerifyOptions {
  /** Where to introspect: the org's login URL, My Domain or instance URL (`<it>/services/oauth2/introspect`). */
  readonly instanceOrLoginUrl: string;
  /** Our connected app's consumer key: the only `client_id` accepted. */
  readonly clientId: string;
  readonly clientSecret: string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
}

/**
 * Check an opaque Salesforce access token by token introspection with our connected app's credentials
 * and return its subject. Refused (TOKEN_REFUSED, one message, `reason` for the log) unless `active` is
 * true, it is an access token, `client_id` is our consumer key (Salesforce answers an app about its own
 * tokens only, but an app allowed to introspect every token of the org would see others: compared all
 * the same), it has not expired, and `sub` is a Salesforce identity URL. A token that only passes UserInfo
 * is never enough: any app's token does. Salesforce refusing our credentials is SF_AUTH_FAILED, and an
 * unreachable Salesforce SF_UNAVAILABLE: those are not the token's fault.
 */
export async function introspectSalesforceAccessToken(token: string, options: AccessTokenVerifyOptions): Promise<SalesforceSubject> {
  const answer = await introspectToken(
    options.instanceOrLoginUrl,
    { token, tokenTypeHint: 'access_token', clientId: options.clientId, clientSecret: options.clientSecret },
    { log: options.log, ...(options.signal ? { signal: options.signal } : {}) },
  );
  if (!answer.active) throw refuse('inactive');
  if (answer.tokenType !== 'access_token') throw refuse('token_type');
  if (answer.clientId !== options.clientId) throw refuse('client');
  // An access token always has an expiry on Salesforce; one without cannot bound what we issue.
  if (answer.exp === null || answer.exp * 1000 <= (options.now ?? Date.now)()) throw refuse('expired');
  const identity = identityFromSub(answer.sub);
  if (!identity) throw refuse('subject');
  return Object.freeze({ orgId: identity.orgId, userId: identity.userId, expiresAt: new Date(answer.exp * 1000) });
}
