import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonParseError, sfError, type SfHttpError } from './errors.ts';
import type { Session } from './oauth/service.ts';

/** Endpoint groups, used by fault injection and call counting. */
export type EndpointGroup = 'oauth' | 'rest' | 'query' | 'collections' | 'bulkIngest' | 'bulkQuery' | 'aws' | 'control';

/** Largest request body the API accepts (Salesforce's EXCEEDED_MAX_SIZE_REQUEST: "exceeded 50 MB"). */
export const MAX_API_BODY_BYTES = 50 * 1024 * 1024;

function bodyTooLarge(maxBytes: number): SfHttpError {
  const limit = maxBytes % (1024 * 1024) === 0 ? `${maxBytes / (1024 * 1024)} MB` : `${maxBytes} bytes`;
  return sfError(413, 'EXCEEDED_MAX_SIZE_REQUEST', `The size of the message sent to the API exceeded ${limit}.`);
}

/** One parsed request as handlers see it. */
export interface EmuRequest {
  readonly method: string;
  /** Path with repeated slashes collapsed, without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly raw: IncomingMessage;
  /** Named path parameters from the route pattern (`:name`), URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The API version of a `/services/data/vXX.X/...` route, e.g. "58.0". */
  readonly version: string | undefined;
  /** The authenticated session, for routes that require one. */
  readonly session: Session | undefined;
  /** The request body (read once, cached). Limited to `maxBytes` (default 50 MB under /services, else 200 MB); a larger one is 413 EXCEEDED_MAX_SIZE_REQUEST. */
  body(maxBytes?: number): Promise<Buffer>;
  /** The body parsed as JSON; a malformed body is Salesforce's JSON_PARSER_ERROR (400). */
  json(): Promise<unknown>;
  /** The body as form fields (application/x-www-form-urlencoded). */
  form(): Promise<URLSearchParams>;
}

/** A route handler; `ctx` is what the server passes every handler (the emulator's: context.ts). */
export type Handler<C> = (req: EmuRequest, res: ServerResponse, ctx: C) => Promise<void> | void;

export interface RouteOptions {
  /** Require a valid access token (default true). */
  readonly auth?: boolean;
  /** Count the call against the daily API limit and add Sforce-Limit-Info (default: same as auth). */
  readonly countsAsApiCall?: boolean;
  readonly group: EndpointGroup;
}

export interface Route<C> extends Required<RouteOptions> {
  readonly method: string;
  readonly pattern: string;
  readonly regex: RegExp;
  readonly names: readonly string[];
  readonly handler: Handler<C>;
  readonly versioned: boolean;
  /** Literal (non-parameter) segments of the pattern: its specificity. */
  readonly literals: number;
}

/**
 * A small router: patterns like `/services/data/:version/sobjects/:object/:id`. A `:version` segment
 * matches `vNN.N`; `*rest` at the end captures the remainder (with slashes).
 */
export class Router<C> {
  readonly routes: Route<C>[] = [];

  add(method: string | readonly string[], pattern: string, options: RouteOptions, handler: Handler<C>): void {
    const names: string[] = [];
    const source = pattern
      .split('/')
      .map((segment) => {
        if (segment.startsWith(':')) {
          names.push(segment.slice(1));
          return segment === ':version' ? 'v(\\d+\\.\\d)' : '([^/]+)';
        }
        if (segment.startsWith('*')) {
          names.push(segment.slice(1));
          return '(.*)';
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    const regex = new RegExp(`^${source}/?$`, 'i');
    const auth = options.auth ?? true;
    for (const m of typeof method === 'string' ? [method] : method) {
      this.routes.push({
        method: m,
        pattern,
        regex,
        names,
        handler,
        auth,
        countsAsApiCall: options.countsAsApiCall ?? auth,
        group: options.group,
        versioned: names.includes('version'),
        literals: pattern.split('/').filter((seg) => seg !== '' && !seg.startsWith(':') && !seg.startsWith('*')).length,
      });
    }
  }

  /** The route for a method and path, or which methods the path allows (for a 405), or nothing. */
  match(method: string, path: string): { route: Route<C>; params: Record<string, string> } | { allowed: string[] } | undefined {
    const allowed: string[] = [];
    // Only the most specific patterns that match count (`/sobjects/:object/describe` over `/sobjects/:object/:id`),
    // so that PATCH …/describe is a 405 for the describe resource, not an update of a record called "describe".
    let best = -1;
    for (const route of this.routes) if (route.regex.test(path)) best = Math.max(best, route.literals);
    for (const route of this.routes) {
      if (route.literals !== best) continue;
      const m = route.regex.exec(path);
      if (!m) continue;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        const raw = m[i + 1] ?? '';
        try {
          params[name] = decodeURIComponent(raw);
        } catch {
          params[name] = raw;
        }
      });
      return { route, params };
    }
    return allowed.length > 0 ? { allowed } : undefined;
  }
}

export function makeRequest(
  raw: IncomingMessage,
  path: string,
  query: URLSearchParams,
  params: Record<string, string>,
  session: Session | undefined,
): EmuRequest {
  let cached: Promise<Buffer> | undefined;
  // Salesforce refuses an API message over 50 MB; the control endpoint (outside /services) allows more.
  const defaultMax = path.startsWith('/services/') ? MAX_API_BODY_BYTES : 200 * 1024 * 1024;
  const body = (maxBytes = defaultMax): Promise<Buffer> => {
    cached ??= new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      raw.on('data', (chunk: Buffer) => {
        size += chunk.length;
        // Over the limit: keep reading (and dropping) so that the client gets an answer, not a reset.
        if (size > maxBytes) chunks.length = 0;
        else chunks.push(chunk);
      });
      raw.on('end', () => {
        if (size > maxBytes) reject(bodyTooLarge(maxBytes));
        else resolve(Buffer.concat(chunks));
      });
      raw.on('error', reject);
    });
    return cached;
  };
  return {
    method: raw.method ?? 'GET',
    path,
    query,
    headers: raw.headers,
    raw,
    params,
    version: params['version'],
    session,
    body,
    async json() {
      const buf = await body();
      const text = buf.toString('utf8');
      if (text.trim() === '') throw jsonParseError('No content to map due to end-of-input');
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw jsonParseError(`Unexpected character: ${(error as Error).message}`);
      }
    },
    async form() {
      return new URLSearchParams((await body()).toString('utf8'));
    },
  };
}

/** Write a JSON response with Salesforce's content type. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers);
  res.end();
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Collapse repeated slashes (sf stores instance URLs with a trailing '/', so paths arrive as '//services/...'). */
export function normalizePath(rawUrl: string): { path: string; query: URLSearchParams } {
  const q = rawUrl.indexOf('?');
  const pathPart = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const queryPart = q < 0 ? '' : rawUrl.slice(q + 1);
  return { path: pathPart.replace(/\/{2,}/g, '/'), query: new URLSearchParams(queryPart) };
}
