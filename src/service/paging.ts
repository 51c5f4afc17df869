import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ApiError } from './api-error.ts';

/** AppFlow's `nextToken`: at most 2048 non-space characters. */
export const NextTokenSchema = z.string().min(1).max(2048).regex(/^\S+$/, 'no spaces');

/** `maxResults` between 1 and `max` (AppFlow: 100 for most lists, 10000 for ListConnectorEntities). */
export function maxResultsSchema(max: number) {
  return z.number().int().min(1).max(max);
}

/**
 * Opaque page tokens: the position after the last item returned, bound to the list and its filters
 * (`scope`) and signed (HMAC-SHA256 with a key of the service), so that a token from another list, other
 * filters or another service is refused with ValidationException instead of giving a wrong page. Tokens
 * are stateless: a walk over all pages ends, and items created meanwhile after the position are seen.
 */
export class PageTokens {
  private readonly key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.key = key;
  }

  /** A scope string for a list and its filters (stable, short). */
  static scope(list: string, filters: unknown): string {
    return `${list}:${createHash('sha256').update(JSON.stringify(filters ?? null)).digest('base64url').slice(0, 16)}`;
  }

  /** A token carrying `position` (any JSON value: a name, or `{ at, id }` for time-ordered lists). */
  issue(scope: string, position: unknown): string {
    const body = Buffer.from(JSON.stringify({ s: scope, p: position }), 'utf8').toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The position carried by `token`, or ValidationException (foreign, altered or reused with other filters). */
  read(scope: string, token: string): unknown {
    const [body, mac] = token.split('.');
    if (body !== undefined && mac !== undefined) {
      const expected = Buffer.from(this.mac(body));
      const given = Buffer.from(mac);
      if (expected.length === given.length && timingSafeEqual(expected, given)) {
        const parsed = z.object({ s: z.string(), p: z.unknown() }).safeParse(safeJson(Buffer.from(body, 'base64url').toString('utf8')));
        if (parsed.success && parsed.data.s === scope && parsed.data.p !== undefined) return parsed.data.p;
      }
    }
    throw new ApiError('ValidationException', 'nextToken is not a token this list gave with these filters. Send the nextToken of the previous page unchanged, with the same filters, or omit it to start again.');
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One page of `items` (sorted by `keyOf`, unique keys) after `after`, with the token of the next page. */
export function pageOf<T>(items: readonly T[], keyOf: (item: T) => string, options: { tokens: PageTokens; scope: string; maxResults: number; nextToken?: string | undefined }): { page: T[]; nextToken?: string } {
  const position = options.nextToken === undefined ? undefined : options.tokens.read(options.scope, options.nextToken);
  if (position !== undefined && typeof position !== 'string') throw new ApiError('ValidationException', 'nextToken is not a token of this list. Omit it to start again.');
  const after = position;
  const rest = after === undefined ? items : items.filter((item) => keyOf(item) > after);
  const page = rest.slice(0, options.maxResults);
  const last = page.at(-1);
  return rest.length > page.length && last !== undefined ? { page, nextToken: options.tokens.issue(options.scope, keyOf(last)) } : { page };
}
