/**
 * Salesforce-shaped HTTP errors raised inside the emulator's handlers. The server turns each into
 * the exact status and body Salesforce sends: a JSON array `[{"message","errorCode","fields"?}]` for
 * REST and Bulk, and `{"error","error_description"}` for OAuth.
 */
export interface SfErrorItem {
  readonly message: string;
  readonly errorCode: string;
  readonly fields?: readonly string[];
}

export class SfHttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, body: unknown, options: { contentType?: string; headers?: Record<string, string> } = {}) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
    this.status = status;
    this.body = body;
    this.contentType = options.contentType ?? 'application/json;charset=UTF-8';
    this.headers = options.headers ?? {};
  }
}

/** A REST/Bulk error: `[{"message":…,"errorCode":…}]` (with `fields` when given). */
export function sfError(status: number, errorCode: string, message: string, fields?: readonly string[]): SfHttpError {
  const item: SfErrorItem = fields === undefined ? { message, errorCode } : { message, errorCode, fields };
  return new SfHttpError(status, [item]);
}

/** 404 with Salesforce's key order (errorCode first), as recorded from real orgs. */
export function notFound(): SfHttpError {
  return new SfHttpError(404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
}

export function invalidSession(): SfHttpError {
  return new SfHttpError(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
}

/** An OAuth endpoint error: HTTP 400 `{"error","error_description"}`. */
export function oauthError(error: string, description: string, status = 400): SfHttpError {
  return new SfHttpError(status, { error, error_description: description });
}

const METHOD_ORDER = ['HEAD', 'GET', 'POST', 'PATCH', 'PUT', 'DELETE'];

/**
 * 405 as Salesforce words it: `[{"errorCode":"METHOD_NOT_ALLOWED","message":"HTTP Method 'POST' not allowed.
 * Allowed are HEAD,GET"}]` (each method once, HEAD wherever GET is allowed).
 */
export function methodNotAllowed(method: string, allowed: readonly string[]): SfHttpError {
  const set = new Set(allowed);
  if (set.has('GET')) set.add('HEAD');
  const list = [...set].sort((a, b) => (METHOD_ORDER.indexOf(a) + 1 || 99) - (METHOD_ORDER.indexOf(b) + 1 || 99)).join(',');
  return new SfHttpError(405, [{ errorCode: 'METHOD_NOT_ALLOWED', message: `HTTP Method '${method}' not allowed. Allowed are ${list}` }], { headers: { Allow: list } });
}

export function jsonParseError(detail: string): SfHttpError {
  return sfError(400, 'JSON_PARSER_ERROR', detail);
}
