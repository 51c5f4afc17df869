import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { hostAllowed, normalizeOrigin, originAllowed } from '../../core/http-guard.ts';
import { tooDeepAt } from '../../core/json-depth.ts';
import type { Logger } from '../../core/logger.ts';
import { ApiError } from '../api-error.ts';
import type { Caller, Operation, OperationContext } from '../operation.ts';
import { CLIENT_TOKEN_TTL_MS, requestHash, type IdempotencyStore } from '../idempotency.ts';
import { Authorizer, type BearerAuthenticator } from './authorizer.ts';
import { apiErrorFrom } from './errors.ts';
import { verifySigV4, verifySigV4Headers, type AccessKey, type KeyResolver } from './sigv4.ts';

export interface ApiAppOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a table of operations of different input types
  readonly operations: readonly Operation<any>[];
  readonly keys: KeyResolver;
  /** The region the service answers for (the SigV4 credential scope must name it). */
  readonly region: string;
  readonly accountId: string;
  readonly log: Logger;
  /** The service clock (injectable in tests); also the `Date` of every response. */
  readonly now?: () => Date;
  /** The interface the server listens on (for the Host check); default 127.0.0.1. */
  readonly host?: string;
  /** Further host names the service answers to (beyond loopback names, IP literals and `host`). */
  readonly allowHosts?: readonly string[];
  /** Origins whose web pages may call the API (by default any request with an Origin header is refused). */
  readonly allowOrigins?: readonly string[];
  /** Where clientTokens are remembered; without it, repeated tokens are not recognised. */
  readonly idempotency?: IdempotencyStore;
  /** Largest request body in bytes (default 6 MiB). */
  readonly bodyLimit?: number;
  /**
   * How long a client may take to send a whole request, headers and body (default 60 s); a connection that
   * trickles bytes (slow-loris) is closed with 408 after it. Headers must arrive within half of it.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Sign in with Salesforce (src/service/signin/exchange.ts): `Authorization: Bearer` on every operation,
   * and its routes (token exchange, JWKS, metadata), registered behind the same Host/Origin guard.
   */
  readonly signIn?: BearerAuthenticator & { register(app: FastifyInstance): void; readonly publicPaths: readonly string[] };
  /** The web console's static routes (src/service/console/assets.ts): public, behind the same Host/Origin guard. */
  readonly console?: { register(app: FastifyInstance): void; readonly publicPaths: readonly string[] };
}

/** Default of {@link ApiAppOptions.requestTimeoutMs}. */
export const REQUEST_TIMEOUT_MS = 60_000;

/** `{resourceArn}` label names of a path template, with their segment positions. */
interface Route {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly op: Operation<any>;
  readonly labels: ReadonlyArray<{ readonly index: number; readonly name: string }>;
}

function routeOf(op: Operation<unknown>): Route {
  const labels: Array<{ index: number; name: string }> = [];
  op.path.split('/').forEach((segment, index) => {
    const m = /^\{(\w+)\}$/.exec(segment);
    if (m?.[1]) labels.push({ index, name: m[1] });
  });
  return { op, labels };
}

/** `/tags/{resourceArn}` → fastify's `/tags/:resourceArn`. */
function fastifyPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/**
 * Dates in a handler's output → epoch seconds as JSON numbers (fractional milliseconds kept), the
 * REST-JSON default for timestamps; undefined members are dropped by JSON itself.
 */
export function toWire(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toWire(v);
    return out;
  }
  return value;
}

/**
 * A zod failure in AWS's words: `2 validation errors detected: Value at 'flowName' failed to satisfy
 * constraint: ...; Value at ...`. Values are never echoed (a profile's credentials travel in requests).
 */
export function validationMessage(error: z.ZodError, input?: unknown): string {
  const issues = error.issues.slice(0, 10).map((issue) => {
    const path = issue.path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '');
    // A required member that is absent: AWS's own wording.
    const missing = issue.code === 'invalid_type' && issue.path.length > 0 && valueAt(input, issue.path) === undefined;
    return `Value at '${path || '(request)'}' failed to satisfy constraint: ${missing ? 'Member must not be null' : issue.message}`;
  });
  const n = error.issues.length;
  return `${n} validation error${n === 1 ? '' : 's'} detected: ${issues.join('; ')}${n > 10 ? '; …' : ''}`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const part of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[part];
  }
  return v;
}

function sendError(reply: FastifyReply, error: ApiError, status: number = error.status): FastifyReply {
  return reply.code(status).header('x-amzn-ErrorType', error.type).header('content-type', 'application/json').send(JSON.stringify({ message: error.message }));
}

const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, X-Amz-Date, X-Amz-Content-Sha256, X-Amz-Security-Token, X-Amz-User-Agent, Amz-Sdk-Invocation-Id, Amz-Sdk-Request';

/**
 * The AppFlow REST-JSON API as a fastify instance (not listening; `listen()` or `inject()` it). Every
 * request passes, in order: the Host/Origin guard (a web page must not drive the service), SigV4
 * verification over the raw path, query, headers and body bytes, the read-only check, JSON and zod
 * parsing of the input (→ ValidationException naming the member), then the operation's handler. Every
 * answer carries `x-amzn-RequestId` and the service clock's `Date`; errors are `x-amzn-ErrorType` plus a
 * JSON `{"message"}`.
 */
export function buildApiApp(options: ApiAppOptions): FastifyInstance {
  const now = options.now ?? (() => new Date());
  const log = options.log;
  const policy = { host: options.host ?? '127.0.0.1', allowHosts: options.allowHosts ?? [] };
  const allowedOrigins = new Set((options.allowOrigins ?? []).map((o) => normalizeOrigin(o)).filter((o): o is string => o !== undefined));
  // A key whose secret cannot be opened (KMS down, tampered row) is the service's fault, not the caller's:
  // InternalServerException, details in the log, nothing about KMS to an unauthenticated caller.
  const keys: KeyResolver = {
    async find(accessKeyId) {
      try {
        return await options.keys.find(accessKeyId);
      } catch (error) {
        log.error({ err: error, accessKeyId }, 'The secret of an access key could not be opened');
        throw new ApiError('InternalServerException', 'The service could not check the request signature (its access key store failed); its log says why.');
      }
    },
  };
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const authorizer = new Authorizer({
    verifySigV4: (req) => verify(req),
    verifySigV4Headers: (req) => verifySigV4Headers({ method: req.raw.method ?? 'GET', rawUrl: req.raw.url ?? '/', rawHeaders: req.raw.rawHeaders }, { keys, regions: [options.region], now: now() }),
    log,
    ...(options.signIn ? { bearer: options.signIn } : {}),
  });
  const publicPaths = new Set([...(options.signIn?.publicPaths ?? []), ...(options.console?.publicPaths ?? [])]);
  const app = Fastify({
    logger: false,
    // fastify's own defaults disable Node's request timeout (requestTimeout 0), so a client sending a byte
    // now and then would hold its connection, and the memory of its body so far, forever. Node's server with
    // the timeouts set; it checks them every connectionsCheckingInterval.
    serverFactory: (handler) =>
      createServer({ requestTimeout, headersTimeout: Math.ceil(requestTimeout / 2), keepAliveTimeout: 72_000, connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeout / 4))) }, handler),
    bodyLimit: options.bodyLimit ?? 6 * 1024 * 1024,
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    // A URL fastify cannot decode (`/tags/%zz`) is answered before routing: still AWS's error shape.
    frameworkErrors: (error, req, reply) => void sendError(reply.header('x-amzn-RequestId', req.id).header('Date', now().toUTCString()), new ApiError('ValidationException', `${error.message}. Percent-encode path segments (an ARN in /tags/{resourceArn} is one segment).`)),
  });

  // Keep the exact body bytes: SigV4 signs them, and JSON is parsed only after the signature verifies.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    const host = req.headers.host;
    if (!hostAllowed(host, policy)) {
      return sendError(reply, new ApiError('AccessDeniedException', `This service does not answer to the host name "${String(host).slice(0, 100)}". Use localhost or 127.0.0.1 (or the host it listens on), or add the name to allowHosts; other names are refused to stop DNS rebinding.`), 421);
    }
    const rawOrigin = req.headers.origin;
    if (rawOrigin !== undefined) {
      // Allowed: the configured origins, and the service's own pages (the console: browsers send Origin on every
      // POST, same-origin ones too). Any other page is refused.
      const origin = normalizeOrigin(rawOrigin);
      if (origin === undefined || !originAllowed(rawOrigin, host, req.socket.localPort, { ...policy, allowOrigins: [...allowedOrigins] })) {
        return sendError(reply, new ApiError('AccessDeniedException', `Requests from web pages (Origin "${String(rawOrigin).slice(0, 100)}") are refused. Allow an origin with allowOrigins in the service configuration.`));
      }
      // CORS only for the configured (cross-origin) ones: the own pages need none.
      if (allowedOrigins.has(origin)) {
        void reply.header('Access-Control-Allow-Origin', origin).header('Vary', 'Origin').header('Access-Control-Expose-Headers', 'x-amzn-RequestId, x-amzn-ErrorType, Date');
        if (req.method === 'OPTIONS') {
          return reply.code(204).header('Access-Control-Allow-Methods', 'GET, POST, DELETE').header('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS).header('Access-Control-Max-Age', '600').send();
        }
      }
    }
    // The sign-in routes (token exchange, JWKS, metadata) and the console's files are public: how a caller gets a credential.
    if (publicPaths.has((req.raw.url ?? '/').split('?')[0] ?? '')) return undefined;
    // Authentication up to the signature before the body is read (the signature itself needs the body).
    try {
      await authorizer.beforeBody(req);
    } catch (error) {
      return sendError(reply, apiErrorFrom(error, req.id).error);
    }
    return undefined;
  });

  app.addHook('onSend', async (req, reply, payload) => {
    void reply.header('x-amzn-RequestId', req.id).header('Date', now().toUTCString());
    return payload;
  });

  app.setErrorHandler(async (error: { statusCode?: number; code?: string; message?: string }, req, reply) => {
    const status = error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // fastify's own refusals before a handler runs: body too large, malformed Content-Length, ...
      return sendError(reply, new ApiError('ValidationException', error.message ?? 'Bad request.'), status);
    }
    const { error: apiError } = apiErrorFrom(error, req.id);
    log.error({ requestId: req.id, err: error }, 'Unexpected error outside an operation');
    return sendError(reply, apiError);
  });

  app.setNotFoundHandler(async (req, reply) => {
    // Authentication first, as AWS does: an unsigned caller learns nothing about which paths exist.
    try {
      await authorizer.authenticate(req);
    } catch (error) {
      return sendError(reply, apiErrorFrom(error, req.id).error);
    }
    const type = 'UnknownOperationException';
    return reply.code(404).header('x-amzn-ErrorType', type).header('content-type', 'application/json').send(JSON.stringify({ message: `No operation answers ${req.method} ${req.url.split('?')[0] ?? ''}. See the AppFlow API reference for operation paths.` }));
  });

  async function verify(req: FastifyRequest): Promise<AccessKey> {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    return verifySigV4({ method: req.raw.method ?? 'GET', rawUrl: req.raw.url ?? '/', rawHeaders: req.raw.rawHeaders, body }, { keys, regions: [options.region], now: now() });
  }

  options.signIn?.register(app);
  options.console?.register(app);

  for (const op of options.operations) {
    const route = routeOf(op);
    app.route({
      method: op.method,
      url: fastifyPath(op.path),
      handler: async (req, reply) => {
        const started = Date.now();
        try {
          const json = await call(route, req);
          await reply.code(200).header('content-type', 'application/json').send(json);
          log.debug({ requestId: req.id, operation: op.name, status: 200, ms: Date.now() - started }, 'API call');
        } catch (error) {
          const { error: apiError, internal } = apiErrorFrom(error, req.id);
          if (internal) log.error({ requestId: req.id, operation: op.name, err: error }, `${op.name} failed unexpectedly`);
          else log.info({ requestId: req.id, operation: op.name, status: apiError.status, errorType: apiError.type }, `${op.name} refused: ${apiError.message}`);
          await sendError(reply, apiError);
        }
        return reply;
      },
    });
  }

  /** Calls with a clientToken in flight, so a retry racing its first attempt waits for it instead of running twice. */
  const inFlight = new Map<string, Promise<string>>();

  /** The response body (JSON text) of one authenticated, validated call. */
  async function call(route: Route, req: FastifyRequest): Promise<string> {
    const { op } = route;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const rawUrl = req.raw.url ?? '/';
    const who = await authorizer.authenticate(req);
    authorizer.authorize(who, op);
    const caller: Caller = who.caller;
    const raw = { ...parseBody(body), ...labelsAndQuery(route, rawUrl) };
    const parsed = op.input.safeParse(raw);
    if (!parsed.success) throw new ApiError('ValidationException', validationMessage(parsed.error, raw));
    const ctx: OperationContext = { log: log.child({ requestId: req.id, operation: op.name }), caller, region: options.region, accountId: options.accountId, now };
    const run = async (): Promise<string> => JSON.stringify(toWire(await op.handle(parsed.data, ctx)));
    const token = raw['clientToken'];
    const store = options.idempotency;
    // Only operations that change something complete "once"; a read with a stray clientToken member (not in
    // the model) must not answer a remembered, stale response for 8 hours.
    if (store === undefined || typeof token !== 'string' || op.readOnly) return run();
    return once(store, op.name, caller.accessKeyId, token, requestHash(raw), run);
  }

  /**
   * AppFlow's clientToken rule (§1.6 of the API reference): the same token with the same input answers
   * the first call's response again without running it twice; with different input, ConflictException.
   * Only successful answers are remembered (a refused call did not "complete"), for 8 hours. Tokens are
   * scoped to the access key that signed the call (stored as `<accessKeyId>/<token>`; key ids have no `/`):
   * another key's call with the same token runs on its own and never gets the first caller's response.
   */
  async function once(store: IdempotencyStore, operation: string, accessKeyId: string, token: string, hash: string, run: () => Promise<string>): Promise<string> {
    const scoped = `${accessKeyId}/${token}`;
    const key = `${operation}\u0000${scoped}`;
    for (;;) {
      const pending = inFlight.get(key);
      if (pending === undefined) break;
      await pending.catch(() => undefined);
    }
    const remembered = await store.get(operation, scoped, now());
    if (remembered !== undefined) {
      if (remembered.requestHash !== hash) {
        throw new ApiError('ConflictException', `The clientToken "${token.slice(0, 64)}" was already used for a ${operation} request with different input in the last 8 hours. Use a new clientToken (or omit it: the SDK and CLI make one per call).`);
      }
      return remembered.response;
    }
    const attempt = (async () => {
      const response = await run();
      await store.put(operation, scoped, { requestHash: hash, response, expiresAt: new Date(now().getTime() + CLIENT_TOKEN_TTL_MS) }, now());
      return response;
    })();
    inFlight.set(key, attempt);
    try {
      return await attempt;
    } finally {
      inFlight.delete(key);
    }
  }

  return app;
}

/** The request body as a JSON object (`{}` when empty); anything else is a ValidationException. */
function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    // Only the position: V8's message quotes the body ("Unexpected token 'x', "{"refreshToken": ..." is not
    // valid JSON"), and a body may carry credentials (CreateConnectorProfile), which must reach no log or answer.
    const at = /at position (\d+)/.exec((error as Error).message)?.[1];
    throw new ApiError('ValidationException', `The request body is not valid JSON${at === undefined ? '' : ` (syntax error at character ${at})`}. Send a JSON object with the operation's members.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError('ValidationException', 'The request body must be a JSON object with the operation\'s members.');
  }
  const deep = tooDeepAt(value);
  if (deep !== undefined) throw new ApiError('ValidationException', `The request body nests too deeply at ${deep}; real requests nest fewer than 20 levels.`);
  return value as Record<string, unknown>;
}

/**
 * Path labels (each a single percent-encoded segment, decoded once: `/tags/arn%3Aaws%3A...` → the ARN)
 * and query parameters (always arrays of strings: `?tagKeys=a&tagKeys=b` → `{ tagKeys: ['a','b'] }`).
 */
function labelsAndQuery(route: Route, rawUrl: string): Record<string, unknown> {
  const q = rawUrl.indexOf('?');
  const segments = (q < 0 ? rawUrl : rawUrl.slice(0, q)).split('/');
  const out: Record<string, unknown> = {};
  for (const { index, name } of route.labels) out[name] = decodeOnce(segments[index] ?? '', name);
  if (q >= 0) {
    for (const pair of rawUrl.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = decodeOnce(eq < 0 ? pair : pair.slice(0, eq), 'query');
      const value = decodeOnce(eq < 0 ? '' : pair.slice(eq + 1), name);
      const prev = out[name];
      out[name] = Array.isArray(prev) ? [...(prev as string[]), value] : [value];
    }
  }
  return out;
}

function decodeOnce(s: string, member: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ApiError('ValidationException', `Value at '${member}' is not valid percent-encoding.`);
  }
}
