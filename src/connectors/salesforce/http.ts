import { ForceflowError } from '../../core/errors.ts';
import { Backoff, sleep, type RetryPolicy } from '../../core/retry.ts';
import type { Logger } from '../../core/logger.ts';
import type { SalesforceSession, TokenProvider } from './auth.ts';
import { boundedText, networkReason } from './net.ts';
import { throwIfCanceled } from '../../core/cancel.ts';
import { callKind, type ApiBudget, type CallKind } from './budget.ts';
import { download, type Download } from './download.ts';

export { networkReason };

/**
 * The HTTP layer of the Salesforce connector: auth → retry → error mapping → call counting.
 *
 * Why not jsforce's HTTP layer for data calls: it retries GETs on 5xx by itself (five times, 500 ms × 2^n)
 * and never retries POSTs, invisibly to us, so we could neither count API calls nor apply one retry policy;
 * its Bulk 2.0 helpers poll with a 30 s default timeout, do not retry job calls, and break on multi-page
 * query results (jsforce#1546). OAuth token requests go through `requestToken` (oauth.ts).
 */
export type { RetryPolicy };

/** Six retries of 429, 5xx and network failures, waits up to 15 s each; a Retry-After hint is honoured up to 30 s. */
export const DEFAULT_RETRY: RetryPolicy = { retries: 6, baseDelayMs: 250, maxDelayMs: 15_000, maxRetryAfterMs: 30_000 };

/**
 * Calls the Bulk reader and writer send again themselves after a transient failure the client did not retry
 * (a results page whose body broke part-way, an upload or UploadComplete whose answer was lost): that many
 * times, waiting as the client's policy says.
 */
export const BULK_CALL_RETRIES = 4;

export interface SalesforceRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** A path under the versioned base (`/query`) or an absolute server path (`/services/data/...`). */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly json?: unknown;
  /** A body; a function gives a fresh stream per attempt (large uploads are streamed, never buffered). */
  readonly body?: string | Buffer | (() => AsyncIterable<Uint8Array>);
  readonly headers?: Readonly<Record<string, string>>;
  /** Safe to send again after a 5xx, 429 or network error (GETs are; say so for others). */
  readonly idempotent?: boolean;
  /** Human description for errors, e.g. "query Account". */
  readonly call: string;
  /** Send even though the run was cancelled (clean-up calls such as aborting a Bulk job). */
  readonly cleanup?: boolean;
  /** The response carries records read from Salesforce (query pages): its bytes count in {@link SalesforceClient.recordBytesReceived}. */
  readonly records?: boolean;
}

export interface ClientOptions {
  readonly tokens: TokenProvider;
  readonly apiVersion: string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  /** Profile name, for messages. */
  readonly profileName?: string;
  /** The org's API budget for the run (budget.ts): told every answer's usage, asked before every call. */
  readonly budget?: ApiBudget;
}

interface SfErrorBody {
  readonly errorCode?: string;
  readonly message?: string;
}

export type SalesforceApiErrorDetails = {
  readonly status: number;
  readonly errorCode: string;
  readonly sfMessage: string;
  /** The answer's Retry-After (seconds), when it had one: callers that send the call again honour it through core/retry.ts. */
  readonly retryAfterSeconds?: number;
};

/** What the client reads of an answer before handing it over: a fetch Response or a {@link Download}. */
type Answer = Pick<Response, 'ok' | 'status' | 'headers' | 'text'>;

const RETRYABLE_STATUS = new Set([420, 429, 500, 502, 503, 504]);

function parseSfError(text: string): SfErrorBody {
  try {
    const j = JSON.parse(text) as unknown;
    const first = Array.isArray(j) ? (j[0] as SfErrorBody | undefined) : (j as SfErrorBody);
    if (first && typeof first === 'object') return first;
  } catch {
    // not JSON (HTML from a proxy, empty body)
  }
  return { message: text.slice(0, 300) };
}

/** A thin, counted, retried HTTP client over one authenticated session. */
export class SalesforceClient {
  readonly apiVersion: string;
  /** HTTP calls sent to Salesforce (every attempt counts, like the org's own counter). */
  apiCalls = 0;
  /** Salesforce's clock (epoch ms, whole seconds) from the last response's Date header. */
  serverTime: number | undefined;
  /** Response body bytes received (JSON and CSV), every call. */
  bytesReceived = 0;
  /**
   * Bytes of the responses that carry records (REST query pages, Bulk result CSV): what a read's
   * bytesProcessed counts, as AppFlow's "bytes processed from the source". Describe, COUNT(), job and
   * auth calls are not record data.
   */
  recordBytesReceived = 0;
  /** From the last `Sforce-Limit-Info` header. */
  apiUsage: { used: number; max: number } | undefined;
  /** HTTP calls sent, by kind (budget.ts `callKind`): what the run record's apiUsage.calls adds up. */
  readonly callsByKind: Partial<Record<CallKind, number>> = {};
  /** The org's API budget for the run, when the run has one. */
  readonly budget: ApiBudget | undefined;
  private readonly tokens: TokenProvider;
  private readonly log: Logger;
  private readonly signal: AbortSignal | undefined;
  private readonly backoff: Backoff;
  /** The retry policy of this client (RunFlowOptions.salesforce.retry): callers that send a call again themselves wait as it says. */
  readonly retryPolicy: RetryPolicy;
  private readonly profileName: string;

  constructor(options: ClientOptions) {
    this.tokens = options.tokens;
    this.apiVersion = options.apiVersion;
    this.log = options.log;
    this.signal = options.signal;
    this.retryPolicy = options.retry ?? DEFAULT_RETRY;
    this.backoff = new Backoff(this.retryPolicy);
    this.profileName = options.profileName ?? 'salesforce';
    this.budget = options.budget;
  }

  get basePath(): string {
    return `/services/data/v${this.apiVersion}`;
  }

  async session(): Promise<SalesforceSession> {
    return this.tokens.session();
  }

  /** Send a request; resolves to a 2xx Response (body unread) or throws a catalogued error. */
  async send(req: SalesforceRequest): Promise<Response> {
    return this.#exchange(req, (url, init) => fetch(url, init));
  }

  /**
   * A GET whose answer may be hundreds of megabytes (Bulk result pages, ingest results): the same auth, retries,
   * error mapping and counting as {@link send}, the body read without fetch's copy of every chunk (download.ts).
   */
  async download(req: SalesforceRequest & { readonly method: 'GET' }): Promise<Download> {
    return this.#exchange(req, (url, init) => download(url, { headers: init.headers, ...(init.signal ? { signal: init.signal } : {}) }));
  }

  async #exchange<T extends Answer>(req: SalesforceRequest, transport: (url: string, init: RequestInit & { headers: Record<string, string> }) => Promise<T>): Promise<T> {
    let session = await this.tokens.session();
    let refreshed = false;
    const idempotent = req.idempotent ?? req.method === 'GET';
    const signal = req.cleanup ? undefined : this.signal;
    const startedAt = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (!req.cleanup) {
        this.throwIfAborted();
        this.budget?.checkCall(req.call);
      }
      const url = this.url(session.instanceUrl, req);
      let res: T;
      const started = performance.now();
      try {
        this.apiCalls++;
        const kind = callKind(req.method, req.path);
        this.callsByKind[kind] = (this.callsByKind[kind] ?? 0) + 1;
        res = await transport(url, {
          method: req.method,
          headers: {
            Authorization: `Bearer ${session.accessToken}`,
            Accept: 'application/json',
            ...(req.json !== undefined ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
            ...req.headers,
          },
          ...(req.json !== undefined
            ? { body: JSON.stringify(req.json) }
            : typeof req.body === 'function'
              // redirect 'error': otherwise fetch clones the request to be able to follow a redirect, teeing the body,
              // and the branch never read keeps every chunk sent until the call ends (nodejs/undici#4058): a whole
              // upload of up to 100 MB in memory. A streamed body cannot follow a redirect anyway (it has no
              // source to send again: the fetch would fail all the same).
              ? { body: req.body() as unknown as ReadableStream<Uint8Array>, duplex: 'half' as const, redirect: 'error' as const }
              : req.body !== undefined ? { body: req.body } : {}),
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        this.logCall(req, url, undefined, started, attempt);
        if (!req.cleanup) this.throwIfAborted();
        if (idempotent && (await this.waitToRetry(attempt, startedAt, req, `network error: ${networkReason(error)}`))) continue;
        throw new ForceflowError('SF_UNAVAILABLE', `Salesforce could not be reached for ${req.call} (${networkReason(error)}) after ${attempt + 1} attempt(s). Check the instance URL and the network, then run again.`, { cause: error });
      }
      this.logCall(req, url, res, started, attempt);
      const date = Date.parse(res.headers.get('date') ?? '');
      if (Number.isFinite(date)) this.serverTime = date;
      const limit = res.headers.get('sforce-limit-info');
      const m = limit ? /api-usage=(\d+)\/(\d+)/.exec(limit) : null;
      if (m) {
        this.apiUsage = { used: Number(m[1]), max: Number(m[2]) };
        this.budget?.observe(this.apiUsage.used, this.apiUsage.max);
      }
      if (res.ok) return res;

      const text = await res.text().catch(() => '');
      const err = parseSfError(text);
      if (res.status === 401 && !refreshed) {
        refreshed = true;
        this.log.debug({ call: req.call }, 'session expired; refreshing');
        session = await this.tokens.refresh(session.accessToken);
        attempt--;
        continue;
      }
      if (RETRYABLE_STATUS.has(res.status) && idempotent) {
        // Retry-After in seconds (an HTTP date is not honoured: Salesforce sends seconds).
        const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN);
        if (await this.waitToRetry(attempt, startedAt, req, `HTTP ${res.status} ${err.errorCode ?? ''}`.trim(), retryAfter)) continue;
      }
      throw this.mapError(req, res.status, err, attempt + 1, Number(res.headers.get('retry-after') ?? Number.NaN));
    }
  }

  /** Send and parse a JSON response (empty body → undefined; over MAX_JSON_BODY_BYTES → SF_API_ERROR). */
  async json<T>(req: SalesforceRequest): Promise<T> {
    const idempotent = req.idempotent ?? req.method === 'GET';
    const startedAt = Date.now();
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(req);
      let text: string;
      try {
        text = await boundedText(res, MAX_JSON_BODY_BYTES, req.call);
      } catch (error) {
        if (error instanceof ForceflowError) throw error;
        // The connection broke part-way through the body: the call is re-sent only if that is safe.
        if (!req.cleanup) this.throwIfAborted();
        if (idempotent && (await this.waitToRetry(attempt, startedAt, req, `response body broke: ${networkReason(error)}`))) continue;
        throw new ForceflowError('SF_UNAVAILABLE', `The answer to ${req.call} broke part-way (${networkReason(error)}). Run again later.`, { cause: error });
      }
      const bytes = Buffer.byteLength(text);
      this.bytesReceived += bytes;
      if (req.records) this.recordBytesReceived += bytes;
      if (!text) return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        // A proxy's HTML page with a 200: not Salesforce's answer (its text is not shown: it may be anything).
        throw new ForceflowError('SF_API_ERROR', `The answer to ${req.call} is not JSON (${text.length} characters, starting ${JSON.stringify(text.slice(0, 40))}). Check the instance URL and any proxy between forceflow and Salesforce.`, {
          details: { call: req.call },
        });
      }
    }
  }

  private url(instanceUrl: string, req: SalesforceRequest): string {
    const path = req.path.startsWith('/services/') ? req.path : `${this.basePath}${req.path}`;
    const qs = req.query
      ? Object.entries(req.query)
          .filter((e): e is [string, string] => e[1] !== undefined)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join('&')
      : '';
    return `${instanceUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  /**
   * One line per HTTP call: debug has the method, the path (never the query string), the status and the
   * duration (ms, to the response headers); trace adds the query parameters (SOQL, locators: the client
   * sends no credential in a URL, tokens go in the Authorization header, which is never logged), the
   * attempt and the API usage Salesforce reported.
   */
  private logCall(req: SalesforceRequest, url: string, res: Answer | undefined, started: number, attempt: number): void {
    if (!this.log.isLevelEnabled('debug')) return;
    const ms = Math.round(performance.now() - started);
    const path = new URL(url).pathname;
    const line = { method: req.method, path, status: res?.status ?? 'network error', ms, call: req.call };
    if (this.log.isLevelEnabled('trace')) {
      const limit = res?.headers.get('sforce-limit-info');
      this.log.trace({ ...line, query: req.query ?? {}, attempt: attempt + 1, ...(limit ? { limitInfo: limit } : {}) }, 'salesforce http call');
    } else this.log.debug(line, 'salesforce http call');
  }

  /**
   * Wait before retry `attempt + 1` as the retry policy says (core/retry.ts: full jitter, capped, Retry-After
   * honoured up to the policy's maximum); false when the policy allows no more. Cancellation ends the wait
   * with RUN_CANCELED (so a clean-up call sent after the cancellation is not retried: cancelling stays quick).
   */
  private async waitToRetry(attempt: number, startedAt: number, req: SalesforceRequest, why: string, retryAfterSeconds?: number): Promise<boolean> {
    const delay = this.backoff.next(attempt, startedAt, retryAfterSeconds);
    if (delay === undefined) return false;
    this.log.warn({ call: req.call, attempt: attempt + 1, delayMs: delay, why }, 'retrying Salesforce call');
    await sleep(delay, this.signal);
    return true;
  }

  private throwIfAborted(): void {
    throwIfCanceled(this.signal);
  }

  private mapError(req: SalesforceRequest, status: number, err: SfErrorBody, attempts: number, retryAfter: number): ForceflowError {
    const code = err.errorCode ?? `HTTP_${status}`;
    const sfMessage = (err.message ?? '').trim();
    const details: SalesforceApiErrorDetails = { status, errorCode: code, sfMessage, ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}) };
    // Salesforce's messages often end with a period ("TotalRequests Limit exceeded."): one period, not two.
    const said = `Salesforce answered ${req.call} with ${status} ${code}${sfMessage ? `: ${sfMessage.replace(/\.+$/, '')}` : ''}`;
    if (status === 401) {
      return new ForceflowError('SF_SESSION_INVALID', `${said}. The session stayed invalid after a refresh; re-authorise profile "${this.profileName}".`, { details });
    }
    if (code === 'REQUEST_LIMIT_EXCEEDED') {
      // One error code, three limits: rate limiting (429) and long requests running at once (403
      // "ConcurrentPerOrgLongTxn Limit exceeded") pass, so they are SF_UNAVAILABLE (retryable); the daily
      // API requests (403 "TotalRequests Limit exceeded") are spent for hours (SF_REQUEST_LIMIT_EXCEEDED).
      if (status === 429) {
        return new ForceflowError('SF_UNAVAILABLE', `${said}. Salesforce kept refusing for too many requests after ${attempts} attempt(s); run again later, or run fewer flows against this org at once.`, { details });
      }
      if (/concurrent/i.test(sfMessage)) {
        return new ForceflowError('SF_UNAVAILABLE', `${said}. Too many long-running requests are under way in the org at once; run again later, or run fewer flows against this org at once.`, { details });
      }
      return new ForceflowError('SF_REQUEST_LIMIT_EXCEEDED', `${said}. The org's daily API limit is spent; wait for it to reset (24 h rolling) or ask Salesforce to raise it.`, { details });
    }
    if (RETRYABLE_STATUS.has(status)) {
      return new ForceflowError('SF_UNAVAILABLE', `${said} after ${attempts} attempt(s). Salesforce is busy or down; run again later.`, { details });
    }
    if (code === 'INVALID_FIELD' || code === 'MALFORMED_QUERY' || code === 'INVALID_TYPE' || code === 'INVALID_QUERY_FILTER_OPERATOR') {
      return new ForceflowError('SF_QUERY_INVALID', `${said}. Check the flow's fields and filters against the object's describe.`, { details });
    }
    return new ForceflowError('SF_API_ERROR', `${said}.`, { details });
  }
}

/**
 * The most a JSON answer may hold: a REST query page is at most 2,000 records (Salesforce shrinks pages of wide
 * records), far below this; a body past it is not Salesforce's (a proxy streaming something else), and reading it
 * whole into one string would end in "Invalid string length" or an out-of-memory crash.
 */
export const MAX_JSON_BODY_BYTES = 256 * 1024 * 1024;
