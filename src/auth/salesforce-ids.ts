import { normalizeId } from '../salesforce-wire/ids.ts';

/** A Salesforce user, by the ids that never change (unlike username and email). 18-character forms. */
export interface SalesforceIdentity {
  readonly orgId: string;
  readonly userId: string;
}

/**
 * The org and user of a Salesforce identity URL (`https://login.salesforce.com/id/00D…/005…`: the `sub` of
 * id_tokens, introspection and UserInfo), as 18-character ids; undefined when it is not one. The host is
 * not judged here: the token's issuer was.
 */
export function identityFromSub(sub: unknown): SalesforceIdentity | undefined {
  if (typeof sub !== 'string' || !URL.canParse(sub)) return undefined;
  const url = new URL(sub);
  if (url.search !== '' || url.hash !== '') return undefined;
  const m = /^\/id\/([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)\/([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)\/?$/.exec(url.pathname);
  const orgId = m?.[1] === undefined ? undefined : normalizeId(m[1]);
  const userId = m?.[2] === undefined ? undefined : normalizeId(m[2]);
  if (!orgId?.startsWith('00D') || !userId?.startsWith('005')) return undefined;
  return { orgId, userId };
}
