import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SfHttpError, invalidSession, methodNotAllowed, notFound, sfError } from './errors.ts';
import { makeRequest, normalizePath, sendJson } from './http.ts';
import type { Org, OrgRouter } from './context.ts';
import type { Session } from './oauth/service.ts';
import { MAX_API_VERSION, MIN_API_VERSION } from './api-versions.ts';
import { guardRequest } from './guard.ts';

/** Salesforce answers a URI over ~16 KB with 414. Node's own header limit is raised so we can answer it. */
export const MAX_URI_LENGTH = 16_384;

function bearer(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const h = req.headers['authorization'];
  if (typeof h === 'string') {
    const m = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(h.trim());
    if (m?.[1]) return m[1].trim();
  }
  const legacy = req.headers['x-sfdc-session'];
  if (typeof legacy === 'string' && legacy) return legacy;
  const qp = query.get('oauth_token');
  return qp ?? undefined;
}

/** Bytes of the request's header lines (`Name: value` plus CRLF each), as the front end counts them. */
function headerBytes(req: IncomingMessage): number {
  let n = 0;
  const h = req.rawHeaders;
  for (let i = 0; i + 1 < h.length; i += 2) n += (h[i] ?? '').length + (h[i + 1] ?? '').length + 4;
  return n;
}

function writeError(res: ServerResponse, error: SfHttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error.status === 204 || error.status === 304) {
    res.writeHead(error.status, error.headers);
    res.end();
    return;
  }
  const text = typeof error.body === 'string' ? error.body : JSON.stringify(error.body);
  res.writeHead(error.status, { 'Content-Type': error.contentType, 'Content-Length': Buffer.byteLength(text), ...error.headers });
  res.end(text);
}

/** The emulator's HTTP server: routing, auth, API limits, fault injection and Salesforce-shaped errors. */
export function createEmulatorServer(org: Org, router: OrgRouter): Server {
  const handle = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Salesforce's Date header is its own clock (clients bound incremental windows by it), so ours is the org's.
    res.setHeader('Date', new Date(org.clock()).toUTCString());
    const rawUrl = raw.url ?? '/';
    if (rawUrl.length > MAX_URI_LENGTH) {
      // What Salesforce's front end answers for an over-long URI.
      res.writeHead(414, { 'Content-Type': 'text/html;charset=UTF-8' });
      res.end('<html><head><title>414 URI Too Long</title></head><body><h1>URI Too Long</h1></body></html>');
      return;
    }
    if (rawUrl.length + headerBytes(raw) >= MAX_URI_LENGTH) {
      // A URI under the limit whose headers take the request line and headers to 16 KB: 431 (Help 000386264).
      res.writeHead(431, { 'Content-Type': 'text/html;charset=UTF-8' });
      res.end('<html><head><title>431 Request Header Fields Too Large</title></head><body><h1>Request Header Fields Too Large</h1></body></html>');
      return;
    }
    const { path, query } = normalizePath(rawUrl);
    // Web pages (cross-site requests, DNS rebinding) are refused before anything else: see guard.ts.
    if (guardRequest(raw, res, path, { host: org.options.host ?? '127.0.0.1', allowOrigins: org.options.allowOrigins ?? [], allowHosts: org.options.allowHosts ?? [] })) return;
    const method = (raw.method ?? 'GET').toUpperCase();
    const matched = router.match(method, path);
    if (!matched) throw notFound();
    if ('allowed' in matched) throw methodNotAllowed(method, matched.allowed);
    const { route, params } = matched;

    if (route.versioned) {
      // Only whole versions exist (v58.0); v58.5 is an unknown resource, as in Salesforce.
      if (!(params['version'] ?? '').endsWith('.0')) throw notFound();
      const v = Number(params['version']);
      if (v < MIN_API_VERSION) throw sfError(410, 'GONE', `API version ${params['version']} has been retired.`);
      if (v > MAX_API_VERSION) throw notFound();
    }

    let session: Session | undefined;
    if (route.auth) {
      const token = bearer(raw, query);
      session = token ? org.auth.authenticate(token) : undefined;
      if (!session || org.faults.sessionExpired(session)) {
        if (session) org.auth.expire(session.accessToken);
        throw invalidSession();
      }
    }
    org.countCall(`${route.method} ${route.pattern}`);
    const req = makeRequest(raw, path, query, params, session);
    if (await org.faults.intercept(route.group, req, res)) return;
    if (route.countsAsApiCall) {
      // Every answer of a counted call carries the usage, a refusal for the spent limit included.
      try {
        org.limits.consume();
      } finally {
        res.setHeader('Sforce-Limit-Info', org.limits.header());
      }
    }
    await route.handler(req, org.faults.wrapResponse(route.group, res), { org });
  };

  const server = createServer({ maxHeaderSize: 128 * 1024 }, (raw, res) => {
    handle(raw, res).catch((error: unknown) => {
      if (error instanceof SfHttpError) {
        writeError(res, error);
        return;
      }
      // A client that went away mid-request (aborted upload, closed socket) is not the emulator failing.
      // (Anything can be thrown, null included: reading .code must not throw inside this handler.)
      const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
      const gone = raw.destroyed || res.destroyed || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE';
      if (gone) org.log?.debug({ url: raw.url, code }, 'client went away mid-request');
      else org.log?.error({ err: error, url: raw.url }, 'emulator handler failed');
      if (res.headersSent || gone) {
        res.destroy();
        return;
      }
      sendJson(res, 500, [{ errorCode: 'UNKNOWN_EXCEPTION', message: 'An unexpected error occurred. Please include this ErrorId if you contact support: 0-0 (emulator)' }]);
    });
  });
  // An idle connection stays open 30 s. Clients (undici's fetch) close theirs a little before the server's hint; at
  // 5 s, a client whose event loop was busy for about that long (a long synchronous step in the same process as
  // the emulator: tests, the demo) sent its next request on a socket the server was closing: ECONNRESET, which a
  // non-idempotent call (a POST) rightly does not retry. close() still ends every connection at once.
  server.keepAliveTimeout = 30_000;
  return server;
}
