import type { ServerResponse } from 'node:http';
import { oauthError } from '../errors.ts';
import type { EmuRequest } from '../http.ts';

/** Salesforce's cache header on every OAuth response. */
export const NO_STORE = { 'Cache-Control': 'no-cache,must-revalidate,max-age=0,no-store,private', Pragma: 'no-cache' };

/**
 * OAuth request parameters: the query string, overridden by a form body (Salesforce accepts both on
 * the token endpoint). A body that is not form-encoded contributes nothing.
 */
export async function oauthParams(req: EmuRequest): Promise<URLSearchParams> {
  const params = new URLSearchParams(req.query);
  if (req.method === 'GET' || req.method === 'HEAD') return params;
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  let body: Buffer;
  try {
    body = await req.body(1024 * 1024);
  } catch {
    throw oauthError('invalid_request', 'request body too large');
  }
  if (body.length === 0) return params;
  if (type !== '' && !type.startsWith('application/x-www-form-urlencoded')) return params;
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v);
  return params;
}

/** A non-empty parameter, or undefined. */
export function param(params: URLSearchParams, name: string): string | undefined {
  const v = params.get(name);
  return v === null || v === '' ? undefined : v;
}

/** Client id and secret from the body, else from `Authorization: Basic base64(id:secret)`. */
export function clientAuth(req: EmuRequest, params: URLSearchParams): { clientId?: string; clientSecret?: string } {
  let clientId = param(params, 'client_id');
  let clientSecret = param(params, 'client_secret');
  const header = req.headers['authorization'];
  const m = typeof header === 'string' ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (m?.[1]) {
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      const decode = (s: string): string => {
        try {
          return decodeURIComponent(s.replace(/\+/g, ' '));
        } catch {
          return s;
        }
      };
      clientId ??= decode(decoded.slice(0, colon));
      clientSecret ??= decode(decoded.slice(colon + 1));
    }
  }
  return { ...(clientId === undefined ? {} : { clientId }), ...(clientSecret === undefined ? {} : { clientSecret }) };
}

/** The bearer token of a request: `Authorization: Bearer|OAuth`, else `?oauth_token=` / `access_token` form field. */
export function bearerToken(req: EmuRequest, params?: URLSearchParams): string | undefined {
  const h = req.headers['authorization'];
  if (typeof h === 'string') {
    const m = /^(?:Bearer|OAuth)\s+(\S+)\s*$/i.exec(h);
    if (m?.[1]) return m[1];
  }
  return param(req.query, 'oauth_token') ?? (params ? (param(params, 'oauth_token') ?? param(params, 'access_token')) : undefined);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export function escapeXml(s: string): string {
  return escapeHtml(s).replace(/&#39;/g, '&apos;');
}

/** A 302 redirect. */
export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { Location: location, 'Content-Length': 0, ...NO_STORE });
  res.end();
}
