import type { ServerResponse } from 'node:http';
import { ForceflowError } from '../core/errors.ts';
import { sendJson, type EmuRequest, type EndpointGroup } from './http.ts';
import type { ApiLimits } from './limits.ts';

/**
 * Fault injection (docs/emulator-faults.md). Deterministic for a given seed: every knob draws from its
 * own pseudo-random stream, seeded from the org's seed and the knob's name, so adding one knob does not
 * change when another fires.
 *
 * String form: comma-separated `key=value` entries, e.g.
 * `bulkQuery.503=0.2,collections.429=0.1,query.reset=0.05,delay=50,session.expireAfter=100,
 *  bulkIngest.jobFail=0.5,rowLock=0.01,apiLimit.after=500,query.503.next=6`.
 * Object form: the same keys and values, `{ 'bulkQuery.503': 0.2, 'session.expireAfter': 100 }`.
 */
export type FaultSpec = Readonly<Record<string, number | string>>;

/** Endpoint groups a fault may target (`all` targets every one of them). */
export const FAULT_GROUPS = ['oauth', 'rest', 'query', 'collections', 'bulkIngest', 'bulkQuery'] as const;
export type FaultGroup = (typeof FAULT_GROUPS)[number];

const STATUSES = ['500', '503', '429'] as const;
type FaultStatus = (typeof STATUSES)[number];

/** One knob that fires at a rate, or on exactly the next K occasions (a burst). */
interface Trigger {
  rate: number;
  next: number;
}

interface GroupFaults {
  status: Record<FaultStatus, Trigger>;
  reset: Trigger;
  resetAfter: number;
  delay: number;
}

/** The parsed spec. */
export interface ParsedFaults {
  readonly groups: Record<FaultGroup, GroupFaults>;
  readonly delay: number;
  readonly sessionExpireAfter: number;
  readonly jobFail: Record<'ingest' | 'query', Trigger>;
  readonly rowLock: Trigger;
  readonly apiLimitAfter: number;
  /** Seconds in the `Retry-After` header of injected 503 and 429 answers (default 1). */
  readonly retryAfter: number;
  readonly seed: number | undefined;
  /** The normalised spec string (`key=value,...`, keys in input order). */
  readonly text: string;
}

/** Counts of faults injected since the spec was last set. */
export interface FaultStats {
  status: Record<string, number>;
  resets: number;
  delays: number;
  sessionsExpired: number;
  jobsFailed: number;
  rowLocks: number;
  apiLimitExhausted: number;
}

const DEFAULT_RESET_AFTER = 1024;
/** `Retry-After` of injected 503/429 answers unless the spec sets `retryAfter`. */
const DEFAULT_RETRY_AFTER = 1;

function trigger(): Trigger {
  return { rate: 0, next: 0 };
}

function emptyGroup(): GroupFaults {
  return { status: { '500': trigger(), '503': trigger(), '429': trigger() }, reset: trigger(), resetAfter: DEFAULT_RESET_AFTER, delay: 0 };
}

function bad(part: string, why: string): ForceflowError {
  return new ForceflowError('EMULATOR_ERROR', `Bad fault spec entry "${part}": ${why}. See docs/emulator-faults.md.`, { details: { part } });
}

function rate(part: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw bad(part, 'a rate must be a number from 0 to 1');
  return n;
}

function count(part: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw bad(part, 'expected a whole number >= 0');
  return n;
}

function groupsOf(part: string, name: string): FaultGroup[] {
  if (name === 'all' || name === '*') return [...FAULT_GROUPS];
  const g = FAULT_GROUPS.find((x) => x.toLowerCase() === name.toLowerCase());
  if (!g) throw bad(part, `unknown endpoint group "${name}" (one of ${FAULT_GROUPS.join(', ')}, all)`);
  return [g];
}

/** Parse a fault spec (string or object). Throws EMULATOR_ERROR naming the bad part. */
export function parseFaultSpec(spec: string | FaultSpec | undefined): ParsedFaults {
  const entries: [string, string][] = [];
  if (typeof spec === 'string') {
    for (const raw of spec.split(/[,;\s]+/)) {
      const part = raw.trim();
      if (!part) continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw bad(part, 'expected key=value');
      entries.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
    }
  } else if (spec) {
    for (const [k, v] of Object.entries(spec)) {
      if (typeof v !== 'number' && typeof v !== 'string') throw bad(`${k}=${String(v)}`, 'values must be numbers or strings');
      entries.push([k, String(v)]);
    }
  }
  const groups = Object.fromEntries(FAULT_GROUPS.map((g) => [g, emptyGroup()])) as Record<FaultGroup, GroupFaults>;
  let delay = 0;
  let sessionExpireAfter = 0;
  const jobFail = { ingest: trigger(), query: trigger() };
  const rowLock = trigger();
  let apiLimitAfter = 0;
  let retryAfter = DEFAULT_RETRY_AFTER;
  let seed: number | undefined;
  for (const [key, value] of entries) {
    const part = `${key}=${value}`;
    const path = key.split('.');
    const head = path[0] ?? '';
    const lower = key.toLowerCase();
    if (lower === 'delay') {
      delay = count(part, value);
    } else if (lower === 'seed') {
      seed = count(part, value);
    } else if (lower === 'session.expireafter') {
      sessionExpireAfter = count(part, value);
    } else if (lower === 'apilimit.after') {
      apiLimitAfter = count(part, value);
    } else if (lower === 'retryafter') {
      retryAfter = count(part, value);
    } else if (lower === 'rowlock') {
      rowLock.rate = rate(part, value);
    } else if (lower === 'rowlock.next') {
      rowLock.next = count(part, value);
    } else if (/^bulk(ingest|query)\.jobfail(\.next)?$/.test(lower)) {
      const t = lower.startsWith('bulkingest') ? jobFail.ingest : jobFail.query;
      if (lower.endsWith('.next')) t.next = count(part, value);
      else t.rate = rate(part, value);
    } else if (path.length >= 2 && path.length <= 3) {
      const targets = groupsOf(part, head);
      const what = (path[1] ?? '').toLowerCase();
      const isNext = path.length === 3 && (path[2] ?? '').toLowerCase() === 'next';
      if (path.length === 3 && !isNext) throw bad(part, `unknown suffix ".${path[2] ?? ''}" (only ".next" is allowed)`);
      for (const g of targets) {
        const gf = groups[g];
        if ((STATUSES as readonly string[]).includes(what)) {
          const t = gf.status[what as FaultStatus];
          if (isNext) t.next = count(part, value);
          else t.rate = rate(part, value);
        } else if (what === 'reset') {
          if (isNext) gf.reset.next = count(part, value);
          else gf.reset.rate = rate(part, value);
        } else if (what === 'resetafter' && !isNext) {
          gf.resetAfter = count(part, value);
        } else if (what === 'delay' && !isNext) {
          gf.delay = count(part, value);
        } else {
          throw bad(part, `unknown fault "${path[1] ?? ''}" (one of 500, 503, 429, reset, resetAfter, delay, jobFail)`);
        }
      }
    } else {
      throw bad(part, 'unknown key');
    }
  }
  const text = entries.map(([k, v]) => `${k}=${v}`).join(',');
  return { groups, delay, sessionExpireAfter, jobFail, rowLock, apiLimitAfter, retryAfter, seed, text };
}

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function emptyStats(): FaultStats {
  return { status: {}, resets: 0, delays: 0, sessionsExpired: 0, jobsFailed: 0, rowLocks: 0, apiLimitExhausted: 0 };
}

/** Salesforce-like bodies of injected error answers; 503 and 429 carry `Retry-After: <retryAfter>`. */
function faultBody(group: FaultGroup, status: FaultStatus, retryAfter: number): { body: unknown; headers: Record<string, string> } {
  const retry = { 'Retry-After': String(retryAfter) };
  if (group === 'oauth') {
    if (status === '429') return { body: { error: 'rate_limit_exceeded', error_description: 'too many requests' }, headers: retry };
    return { body: { error: 'unknown_error', error_description: 'retry your request' }, headers: {} };
  }
  if (status === '503') {
    return { body: [{ errorCode: 'SERVER_UNAVAILABLE', message: 'Server is temporarily unavailable. Please try again later.' }], headers: retry };
  }
  if (status === '429') {
    return { body: [{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'Too many requests. Please try again later.' }], headers: retry };
  }
  return { body: [{ errorCode: 'UNKNOWN_EXCEPTION', message: 'An unexpected error occurred. Please include this ErrorId if you contact support: 1457482113-23 (-1591473254)' }], headers: {} };
}

/** errorMessage of a Bulk job that fault injection fails. */
export const INJECTED_JOB_FAILURE = {
  ingest: 'TooManyLockFailure : Too many lock failure 200 Trying again later.',
  query: 'InternalServerError : Internal Server Error. Please retry the job.',
} as const;

function isFaultGroup(group: EndpointGroup): group is FaultGroup {
  return (FAULT_GROUPS as readonly string[]).includes(group);
}

/** What fault injection needs of the org. */
export interface FaultDeps {
  /** The daily API limit (`apiLimit.after` spends it). */
  readonly limits: ApiLimits;
  /** The emulator's seed: fault streams draw from it unless the spec sets `seed`. */
  readonly seed: number | undefined;
}

export class FaultInjector {
  private readonly deps: FaultDeps;
  private parsed: ParsedFaults;
  private streams = new Map<string, () => number>();
  private sessionCalls = new Map<string, number>();
  private apiBase = 0;
  stats: FaultStats = emptyStats();

  constructor(deps: FaultDeps, spec: string | FaultSpec | undefined) {
    this.deps = deps;
    this.parsed = parseFaultSpec(spec);
    this.apiBase = deps.limits.used;
  }

  /** The spec in force (parsed). */
  get spec(): ParsedFaults {
    return this.parsed;
  }

  /** True when any knob is set. */
  get active(): boolean {
    return this.parsed.text !== '';
  }

  private draw(key: string, t: Trigger): boolean {
    if (t.next > 0) {
      t.next--;
      return true;
    }
    if (t.rate <= 0) return false;
    if (t.rate >= 1) return true;
    let s = this.streams.get(key);
    if (!s) {
      s = prng(hash(`${this.parsed.seed ?? this.deps.seed ?? 1}:${key}`));
      this.streams.set(key, s);
    }
    return s() < t.rate;
  }

  /**
   * Called before a matched route runs (after auth). Returns true when the fault already answered
   * the request (an injected 500/503/429); may also delay, and spends the daily API limit when told.
   */
  async intercept(group: EndpointGroup, _req: EmuRequest, res: ServerResponse): Promise<boolean> {
    const p = this.parsed;
    if (!this.active || !isFaultGroup(group)) return false;
    const limits = this.deps.limits;
    if (p.apiLimitAfter > 0 && limits.used - this.apiBase >= p.apiLimitAfter && limits.used < limits.max) {
      limits.exhaust();
      this.stats.apiLimitExhausted++;
    }
    const gf = p.groups[group];
    const delay = gf.delay || p.delay;
    if (delay > 0) {
      this.stats.delays++;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    for (const status of STATUSES) {
      if (this.draw(`${group}.${status}`, gf.status[status])) {
        this.stats.status[`${group}.${status}`] = (this.stats.status[`${group}.${status}`] ?? 0) + 1;
        const { body, headers } = faultBody(group, status, p.retryAfter);
        sendJson(res, Number(status), body, headers);
        return true;
      }
    }
    return false;
  }

  /** True when this session must be treated as expired now ("sessions that expire after N calls"). */
  sessionExpired(session: { readonly accessToken: string }): boolean {
    const n = this.parsed.sessionExpireAfter;
    if (n <= 0) return false;
    const calls = (this.sessionCalls.get(session.accessToken) ?? 0) + 1;
    this.sessionCalls.set(session.accessToken, calls);
    if (calls > n) {
      this.sessionCalls.delete(session.accessToken);
      this.stats.sessionsExpired++;
      return true;
    }
    return false;
  }

  /** True when this written row must fail with UNABLE_TO_LOCK_ROW. */
  rowLock(): boolean {
    const hit = this.draw('rowLock', this.parsed.rowLock);
    if (hit) this.stats.rowLocks++;
    return hit;
  }

  /** An errorMessage when this Bulk job must end Failed, else undefined. */
  bulkJobFailure(kind: 'ingest' | 'query'): string | undefined {
    if (!this.draw(`jobFail.${kind}`, this.parsed.jobFail[kind])) return undefined;
    this.stats.jobsFailed++;
    return INJECTED_JOB_FAILURE[kind];
  }

  /** Wrap a response so that the connection resets part-way through the body, when the spec says so. */
  wrapResponse(group: EndpointGroup, res: ServerResponse): ServerResponse {
    if (!this.active || !isFaultGroup(group)) return res;
    const gf = this.parsed.groups[group];
    if (!this.draw(`${group}.reset`, gf.reset)) return res;
    this.stats.resets++;
    truncateAfter(res, gf.resetAfter);
    return res;
  }

  /** Replace the spec at run time (control endpoint). Throws EMULATOR_ERROR on a bad spec. */
  set(spec: string | FaultSpec): void {
    this.parsed = parseFaultSpec(spec);
    this.streams = new Map();
    this.sessionCalls = new Map();
    this.apiBase = this.deps.limits.used;
    this.stats = emptyStats();
  }

  /** What the control endpoint reports. */
  describe(): { spec: string; parsed: Omit<ParsedFaults, 'text'>; stats: FaultStats } {
    const { text, ...parsed } = this.parsed;
    return { spec: text, parsed, stats: this.stats };
  }
}

type WriteCallback = (error?: Error | null) => void;

/**
 * Make `res` send at most `limit` bytes of its body (half of a body given whole to `end`, when smaller),
 * then reset the connection: what a client sees when a proxy or the network drops a response mid-way.
 */
function truncateAfter(res: ServerResponse, limit: number): void {
  const origWrite = res.write.bind(res) as (chunk: Buffer, cb?: WriteCallback) => boolean;
  const origEnd = res.end.bind(res) as (cb?: () => void) => ServerResponse;
  let sent = 0;
  let cut = false;
  const kill = (): void => {
    const sock = res.socket;
    if (sock && typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
    else res.destroy();
  };
  const toBuf = (chunk: unknown, encoding?: unknown): Buffer =>
    Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  const take = (buf: Buffer, budget: number): boolean => {
    if (cut) return false;
    if (sent + buf.length < budget) {
      sent += buf.length;
      return origWrite(buf);
    }
    cut = true;
    const part = buf.subarray(0, Math.max(0, budget - sent));
    sent += part.length;
    if (!res.headersSent) res.flushHeaders();
    if (part.length > 0) origWrite(part, () => kill());
    else setImmediate(kill);
    return false;
  };
  res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    const ok = take(toBuf(chunk, encoding), limit);
    const callback = typeof encoding === 'function' ? encoding : cb;
    if (typeof callback === 'function') setImmediate(() => (callback as WriteCallback)(cut ? new Error('connection reset') : null));
    return ok;
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) => {
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
      const buf = toBuf(chunk, encoding);
      take(buf, Math.min(limit, sent + Math.floor(buf.length / 2)));
    }
    if (!cut) {
      cut = true;
      if (!res.headersSent) res.flushHeaders();
      setImmediate(kill);
    }
    const callback = [chunk, encoding, cb].find((x) => typeof x === 'function');
    if (callback) setImmediate(callback as () => void);
    void origEnd;
    return res;
  }) as ServerResponse['end'];
}
