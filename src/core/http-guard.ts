import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Checks that keep web pages in the user's browser away from forceflow's local servers (the emulator,
 * the local S3, later the service). A server on loopback is still reachable by any page the browser
 * shows: cross-site "simple" requests (form posts, `text/plain` fetches) need no CORS preflight, and a
 * DNS-rebinding page reaches the port under its own host name. So:
 *
 * - Host: only names that cannot be rebound are served: `localhost` and `*.localhost` (browsers resolve
 *   them to loopback themselves), IP literals (a rebinding attack needs a DNS name), the configured
 *   listen host, and any configured extra host names. The port is not compared: a rebinding page
 *   connects to the same port anyway, and proxies or port forwards legitimately change it.
 * - Origin (sent by browsers on cross-origin requests and on every POST): absent (not a browser, or a
 *   same-origin GET), the server's own origin (a loopback name or the configured host, on the port the
 *   connection arrived at, or exactly the request's Host), or an origin configured as allowed. Anything
 *   else is refused, `null` and loopback pages on other ports included: another port is another
 *   program's site (a dev server, a tool's local UI), with no more claim on the org than a remote page.
 * - Control requests (state-changing test hooks) also need {@link CONTROL_HEADER} and, when they carry
 *   a body, a JSON content type: a browser cannot send either cross-site without a preflight, which
 *   these servers never grant.
 *
 * Pure functions of the request's headers; each server shapes the refusal in its own protocol.
 */

/** The custom header every control request must carry (any browser sends it only after a CORS preflight). */
export const CONTROL_HEADER = 'X-Forceflow-Emulator';

/** Headers that make any control request acceptable (the JSON content type is harmless on a GET). */
export const CONTROL_HEADERS: Readonly<Record<string, string>> = { [CONTROL_HEADER]: '1', 'Content-Type': 'application/json' };

export interface GuardPolicy {
  /** The interface the server listens on, as given (`127.0.0.1`, `::1`, `0.0.0.0`, a host name). */
  readonly host: string;
  /** Origins (`scheme://host[:port]`) whose pages may call the server, e.g. a local web console. */
  readonly allowOrigins?: readonly string[];
  /** Further host names the server answers to (beyond loopback names, IP literals and `host`). */
  readonly allowHosts?: readonly string[];
}

export interface Refusal {
  /** 421 for a foreign Host, 403 for a foreign Origin or a control request without its header/content type. */
  readonly status: 421 | 403;
  readonly reason: 'host' | 'origin' | 'control';
  readonly message: string;
}

/** The request facts the checks need (an IncomingMessage has them all). */
export interface GuardedRequest {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly socket: { readonly localPort?: number | undefined };
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `name` from `name:port` / `[v6]:port`, lower-cased, without a trailing dot; undefined when malformed. */
function hostnameOf(hostHeader: string): string | undefined {
  const h = hostHeader.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(h);
  if (!m?.[1]) return undefined;
  return m[1].replace(/\.$/, '');
}

function unbracket(name: string): string {
  return name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '']);

/** Loopback names and the configured host (for the own-origin check). */
function isOwnName(name: string, policy: GuardPolicy): boolean {
  const bare = unbracket(name);
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4 && bare.startsWith('127.')) return true;
  if (bare === '::1') return true;
  const configured = unbracket(policy.host.toLowerCase());
  if (!WILDCARD_HOSTS.has(configured) && bare === configured) return true;
  return (policy.allowHosts ?? []).some((h) => unbracket(h.toLowerCase()) === bare);
}

/** Whether a listen address only accepts connections from this machine (`127.x`, `::1`, `localhost`). */
export function isLoopbackHost(host: string): boolean {
  const bare = unbracket(host.trim().toLowerCase());
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

/** Whether a Host header names this server under a name that cannot be rebound. */
export function hostAllowed(hostHeader: string | undefined, policy: GuardPolicy): boolean {
  if (hostHeader === undefined) return true;
  const name = hostnameOf(hostHeader);
  if (name === undefined) return false;
  if (isIP(unbracket(name)) !== 0) return true;
  return isOwnName(name, policy);
}

/** `scheme://host[:port]` in the URL standard's form, or undefined when not an http(s) origin. */
export function normalizeOrigin(origin: string): string | undefined {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  return u.origin;
}

/** Whether an Origin header is absent, the server's own, or configured as allowed. */
export function originAllowed(originHeader: string | undefined, hostHeader: string | undefined, localPort: number | undefined, policy: GuardPolicy): boolean {
  if (originHeader === undefined) return true;
  const origin = normalizeOrigin(originHeader.trim());
  if (origin === undefined) return false; // "null", file://, garbage
  if ((policy.allowOrigins ?? []).some((o) => normalizeOrigin(o) === origin)) return true;
  const u = new URL(origin);
  if (u.protocol !== 'http:') return false;
  // Same origin as the request itself (the page came from this very host:port).
  if (hostHeader !== undefined && hostAllowed(hostHeader, policy) && origin === normalizeOrigin(`http://${hostHeader.trim()}`)) return true;
  const port = Number(u.port || 80);
  return localPort !== undefined && port === localPort && isOwnName(u.hostname, policy);
}

function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const n = Number(headers['content-length'] ?? 0);
  return Number.isFinite(n) && n > 0;
}

/** What is wrong with configured origins and host names (an entry that could never match), or undefined. */
export function policyProblem(policy: GuardPolicy): string | undefined {
  for (const o of policy.allowOrigins ?? []) {
    const url = normalizeOrigin(o) === undefined ? undefined : new URL(o);
    if (url === undefined || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      return `allowOrigins: "${o}" is not an origin; give scheme, host and port only, such as http://localhost:3000.`;
    }
  }
  for (const h of policy.allowHosts ?? []) {
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/.test(h)) {
      return `allowHosts: "${h}" is not a host name; give a name such as host.docker.internal, without scheme, port or path.`;
    }
  }
  return undefined;
}

/** The Host and Origin checks every request passes. */
export function checkRequest(req: GuardedRequest, policy: GuardPolicy): Refusal | undefined {
  const host = one(req.headers['host']);
  if (!hostAllowed(host, policy)) {
    return {
      status: 421,
      reason: 'host',
      message: `This server does not answer to the host name "${host ?? ''}". Use localhost, 127.0.0.1 or [::1] (or the host it listens on), or name it with --allow-host; other names are refused to stop DNS rebinding.`,
    };
  }
  const origin = one(req.headers['origin']);
  if (!originAllowed(origin, host, req.socket.localPort, policy)) {
    return {
      status: 403,
      reason: 'origin',
      message: `Requests from the web page origin "${origin ?? ''}" are refused. Only this server's own pages may call it; allow another origin with --allow-origin.`,
    };
  }
  return undefined;
}

/** The extra checks on a control request: the custom header, and a JSON content type on any body. */
export function checkControlRequest(req: GuardedRequest): Refusal | undefined {
  if (one(req.headers[CONTROL_HEADER.toLowerCase()]) !== '1') {
    return { status: 403, reason: 'control', message: `Control requests must send the header "${CONTROL_HEADER}: 1" (it keeps web pages from calling them).` };
  }
  const type = one(req.headers['content-type']);
  if ((type !== undefined || hasBody(req.headers)) && !/^application\/([\w.+-]+\+)?json$/.test(mediaType(type))) {
    return {
      status: 403,
      reason: 'control',
      message: `Control requests with a body must send "Content-Type: application/json", not "${type ?? '(none)'}".`,
    };
  }
  return undefined;
}
