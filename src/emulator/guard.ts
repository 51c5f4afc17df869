import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONTROL_HEADER, checkControlRequest, checkRequest, normalizeOrigin, type GuardPolicy, type Refusal } from '../core/http-guard.ts';
import { SfHttpError } from './errors.ts';

/**
 * The emulator's front door against web pages (see src/core/http-guard.ts): a foreign Host (DNS rebinding)
 * or Origin (cross-site request) is refused on every route, and control routes (`/__emulator/...`) also need
 * the `X-Forceflow-Emulator: 1` header and a JSON body. Refusals are shaped like the route's protocol:
 * OAuth `{"error","error_description"}`, AWS JSON `{"__type","message"}`, else Salesforce's
 * `[{"errorCode","message"}]` with errorCode MISDIRECTED_REQUEST (421) or FORBIDDEN (403).
 */

/** Control routes (the router matches paths case-insensitively, so this does too). */
export function isControlPath(path: string): boolean {
  return /^\/__emulator(\/|$)/i.test(path);
}

function shaped(refusal: Refusal, req: IncomingMessage, path: string): SfHttpError {
  if (/^\/(services\/oauth2|id|\.well-known)\//i.test(path)) {
    return new SfHttpError(refusal.status, { error: refusal.reason === 'host' ? 'invalid_request' : 'access_denied', error_description: refusal.message });
  }
  if (req.headers['x-amz-target'] !== undefined) {
    const type = 'AccessDeniedException';
    return new SfHttpError(refusal.status, { __type: type, message: refusal.message }, { contentType: 'application/x-amz-json-1.1', headers: { 'x-amzn-ErrorType': type } });
  }
  return new SfHttpError(refusal.status, [{ errorCode: refusal.status === 421 ? 'MISDIRECTED_REQUEST' : 'FORBIDDEN', message: refusal.message }]);
}

const CORS_HEADERS = `Authorization, Content-Type, Accept, Sforce-Call-Options, Sforce-Query-Options, X-Sfdc-Session, X-Amz-Target, X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-Sha256, ${CONTROL_HEADER}`;

/**
 * Check one request before routing. Throws the shaped refusal; answers a CORS preflight from an origin
 * configured as allowed (returns true: the request is handled); otherwise returns false and, for such an
 * origin, adds `Access-Control-Allow-Origin` to the response.
 */
export function guardRequest(req: IncomingMessage, res: ServerResponse, path: string, policy: GuardPolicy): boolean {
  const refusal = checkRequest(req, policy) ?? (isControlPath(path) && req.method !== 'OPTIONS' ? checkControlRequest(req) : undefined);
  if (refusal) throw shaped(refusal, req, path);
  const origin = typeof req.headers.origin === 'string' ? normalizeOrigin(req.headers.origin) : undefined;
  const listed = origin !== undefined && (policy.allowOrigins ?? []).some((o) => normalizeOrigin(o) === origin);
  if (!listed) return false;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, PATCH, DELETE',
      'Access-Control-Allow-Headers': CORS_HEADERS,
      'Access-Control-Max-Age': '600',
    });
    res.end();
    return true;
  }
  return false;
}
