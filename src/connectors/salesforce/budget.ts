import { z } from 'zod';
import { ForceflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { select } from '../../api-selection/select.ts';
import type { TransferApi } from '../../core/types.ts';
import type { OrgApiBudget } from '../../core/connector.ts';
import { formatReserve, parseApiReserve, reserveCalls, RESERVE_TEXT, type ApiReserve } from './reserve.ts';

export { formatReserve, parseApiReserve, reserveCalls, type ApiReserve };

/**
 * The API budget guard (docs/salesforce-budget.md): before a run, one `/limits` call and an estimate of what
 * the run will spend, refused when it would take the org below the reserve; during the run, every answer's
 * `Sforce-Limit-Info` followed, and the run stopped once the org's remaining requests fall below the reserve.
 * One budget per org (connector profile) per run: a flow reading and writing the same org shares it.
 */

/** An `apiReserve` as written (CLI `--api-reserve`, profile, service.json): a percentage string or a whole number. */
export const apiReserveSchema = z.union([
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  z.string().regex(RESERVE_TEXT, 'a percentage of the daily maximum such as "20%", or a number of API calls such as "5000"'),
]).refine((v) => parseApiReserve(v) !== undefined, 'a percentage from 0% to 100%');

/** What a run does once the org's remaining requests fall below the reserve part-way. */
export type ReserveAction = 'fail' | 'stop';

/** The kinds of calls the run record counts (`apiUsage.calls`). */
export type CallKind = 'limits' | 'describe' | 'restQuery' | 'bulkQuery' | 'restWrite' | 'bulkIngest' | 'other';

/** The kind of a call, from its method and path (under the versioned base or absolute). */
export function callKind(method: string, path: string): CallKind {
  const p = path.replace(/^\/services\/data\/v\d+\.\d+/, '');
  if (p === '/limits') return 'limits';
  if (p.startsWith('/jobs/query')) return 'bulkQuery';
  if (p.startsWith('/jobs/ingest')) return 'bulkIngest';
  if (p.startsWith('/query') || p.startsWith('/queryAll')) return method === 'GET' ? 'restQuery' : 'other';
  if (p === '/sobjects' || /^\/sobjects\/[^/]+(\/describe)?$/.test(p)) return method === 'GET' ? 'describe' : 'restWrite';
  if (p.startsWith('/composite') || p.startsWith('/sobjects/')) return method === 'GET' ? 'restQuery' : 'restWrite';
  return 'other';
}

/** Rows per page of a REST query (Salesforce's default batch size). */
export const REST_PAGE_ROWS = 2000;
/** Rows per Bulk query results page assumed when the run does not set maxRecords. */
export const BULK_PAGE_ROWS_ESTIMATE = 50_000;
/** Records per REST write call (sObject Collections). */
export const REST_WRITE_ROWS = 200;
/** Rows Salesforce counts as one batch of a Bulk API 2.0 ingest job. */
export const INGEST_BATCH_ROWS = 10_000;
/** Rows per Bulk ingest job assumed by the estimate (the writer splits by bytes, about 100 MB a job). */
export const INGEST_JOB_ROWS_ESTIMATE = 150_000;

/** Polls of one Bulk job the estimate counts: 3, and one more per million records. */
export function pollsEstimate(records: number): number {
  return 3 + Math.floor(records / 1_000_000);
}

/** What a part of a run is expected to spend. */
export interface CostEstimate {
  /** DailyApiRequests. */
  readonly apiRequests: number;
  /** DailyBulkV2QueryJobs. */
  readonly bulkV2QueryJobs: number;
  /** DailyBulkApiBatches. */
  readonly bulkApiBatches: number;
  /** How it was reckoned, one phrase (`"2 REST pages of 3,500 records"`). */
  readonly basis: string;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** The cost of a read once the API is chosen: REST pages (times field groups), or a Bulk job, its polls and result pages. */
export function readCost(api: TransferApi, records: number, options: { readonly groups?: number; readonly bulkPageRows?: number; readonly bulkJobs?: number } = {}): CostEstimate {
  if (api === 'BULKV2') {
    const pages = Math.max(1, Math.ceil(records / (options.bulkPageRows ?? BULK_PAGE_ROWS_ESTIMATE)));
    const jobs = Math.max(1, options.bulkJobs ?? 1);
    if (jobs > 1) {
      // A parallel read (bulk-split.ts): two REST queries for the Id bounds, then per job a create and its polls.
      const polls = pollsEstimate(records / jobs);
      return { apiRequests: 2 + jobs * (1 + polls) + pages + jobs, bulkV2QueryJobs: jobs, bulkApiBatches: 0, basis: `${jobs} parallel Bulk query jobs of ${fmt(records)} records: 2 boundary queries, per job a create and ${polls} polls, ${pages + jobs} result page(s)` };
    }
    const polls = pollsEstimate(records);
    return { apiRequests: 1 + polls + pages, bulkV2QueryJobs: 1, bulkApiBatches: 0, basis: `1 Bulk query job of ${fmt(records)} records: create, ${polls} polls, ${pages} result page(s)` };
  }
  const groups = Math.max(1, options.groups ?? 1);
  const pages = Math.max(1, Math.ceil(records / REST_PAGE_ROWS)) * groups;
  return { apiRequests: pages, bulkV2QueryJobs: 0, bulkApiBatches: 0, basis: `${pages} REST page(s) of ${fmt(records)} records${groups > 1 ? ` in ${groups} field groups` : ''}` };
}

/** The cost of writing `records` with the API the destination would choose for them. */
export function writeCost(preference: 'AUTOMATIC' | 'BULKV2' | 'REST_SYNC', records: number): CostEstimate & { readonly api: TransferApi } {
  const { api } = select({ direction: 'destination', preference, recordCount: records });
  if (api === 'BULKV2') {
    const jobs = Math.max(1, Math.ceil(records / INGEST_JOB_ROWS_ESTIMATE));
    // One batch per 10,000 rows, at least one per job.
    const batches = Math.max(jobs, Math.ceil(records / INGEST_BATCH_ROWS));
    // Per job: create, upload, close, polls, then the successful and failed results.
    const perJob = 3 + pollsEstimate(records / jobs) + 2;
    return { api, apiRequests: jobs * perJob, bulkV2QueryJobs: 0, bulkApiBatches: batches, basis: `${jobs} Bulk ingest job(s) of ${fmt(records)} records` };
  }
  const calls = Math.ceil(records / REST_WRITE_ROWS);
  return { api, apiRequests: calls, bulkV2QueryJobs: 0, bulkApiBatches: 0, basis: `${fmt(calls)} REST write call(s) of ${fmt(records)} records` };
}

/** One org limit as `/limits` answers it. */
interface LimitEntry {
  readonly Max: number;
  readonly Remaining: number;
}

const limitEntry = z.object({ Max: z.number(), Remaining: z.number() });
/** `/limits`, parsed once: the three limits the guard watches (others are ignored). */
const limitsAnswer = z.object({
  DailyApiRequests: limitEntry,
  DailyBulkV2QueryJobs: limitEntry.optional(),
  DailyBulkApiBatches: limitEntry.optional(),
});

type LimitName = 'DailyApiRequests' | 'DailyBulkV2QueryJobs' | 'DailyBulkApiBatches';
const ESTIMATE_OF: Readonly<Record<LimitName, keyof Omit<CostEstimate, 'basis'>>> = {
  DailyApiRequests: 'apiRequests',
  DailyBulkV2QueryJobs: 'bulkV2QueryJobs',
  DailyBulkApiBatches: 'bulkApiBatches',
};

/** What the run record says of one org's budget (`apiUsage.orgs[]`). */
export type BudgetReport = OrgApiBudget;

/** How the guard gets `/limits`: one GET through the run's client. */
export type LimitsFetcher = () => Promise<unknown>;

/**
 * One org's budget for one run. `admit` checks an estimate against `/limits` (fetched once) before any
 * record is read or written; `observe` takes every answer's usage; `checkCall` refuses further calls once the
 * reserve is crossed (reserve action `fail`); `crossed` tells the source to stop early (reserve action `stop`).
 */
export class ApiBudget {
  readonly profileName: string;
  readonly reserve: ApiReserve | undefined;
  action: ReserveAction = 'fail';
  private limits: Promise<Readonly<Partial<Record<LimitName, LimitEntry>>>> | undefined;
  private admitted: { apiRequests: number; bulkV2QueryJobs: number; bulkApiBatches: number } = { apiRequests: 0, bulkV2QueryJobs: 0, bulkApiBatches: 0 };
  private estimated = false;
  private usage: { used: number; max: number } | undefined;
  private stoppedBy: ReserveAction | null = null;
  private readonly log: Logger;

  constructor(options: { readonly profileName: string; readonly reserve?: ApiReserve; readonly log: Logger }) {
    this.profileName = options.profileName;
    this.reserve = options.reserve;
    this.log = options.log;
  }

  /** The reserve in calls of DailyApiRequests, once a maximum is known. */
  private reserveOf(max: number): number | undefined {
    return this.reserve === undefined ? undefined : reserveCalls(this.reserve, max);
  }

  /**
   * Check that `estimate` (added to what the run's other side already admitted for this org) leaves every
   * watched limit at or above the reserve; API_BUDGET_RESERVE otherwise. Without a reserve it does nothing
   * (and makes no call).
   */
  async admit(estimate: CostEstimate, fetchLimits: LimitsFetcher, what: string): Promise<void> {
    if (this.reserve === undefined) return;
    this.limits ??= fetchLimits().then((body) => {
      const parsed = limitsAnswer.safeParse(body);
      if (!parsed.success) throw new ForceflowError('SF_API_ERROR', `Salesforce's /limits answer for profile "${this.profileName}" has no DailyApiRequests {Max, Remaining}; the API budget guard cannot check the reserve.`);
      return parsed.data;
    });
    const limits = await this.limits;
    this.estimated = true;
    for (const key of Object.keys(this.admitted) as Array<keyof typeof this.admitted>) this.admitted[key] += estimate[key];
    for (const name of Object.keys(ESTIMATE_OF) as LimitName[]) {
      const entry = limits[name];
      if (!entry) continue;
      const need = this.admitted[ESTIMATE_OF[name]];
      if (need === 0 && name !== 'DailyApiRequests') continue;
      // A number of calls reserves DailyApiRequests; a percentage reserves that share of every watched limit.
      const reserve = name === 'DailyApiRequests' || 'percent' in this.reserve ? reserveCalls(this.reserve, entry.Max) : 0;
      // The calls spent since /limits (describe, COUNT) are in the usage the last answer reported.
      const remaining = name === 'DailyApiRequests' && this.usage ? Math.min(entry.Remaining, this.usage.max - this.usage.used) : entry.Remaining;
      this.log.info({ limit: name, max: entry.Max, remaining, estimate: need, reserve }, 'API budget checked');
      if (remaining - need < reserve) {
        throw new ForceflowError('API_BUDGET_RESERVE', `The run would take org "${this.profileName}" below its API reserve: ${name} has ${fmt(remaining)} of ${fmt(entry.Max)} remaining, the run's estimate is ${fmt(need)} (${what}), and the reserve is ${formatReserve(this.reserve)} (${fmt(reserve)}). Run it once the limit has recovered (24 h rolling), lower the reserve (--api-reserve), or narrow the flow with filters.`, {
          details: { limit: name, max: entry.Max, remaining, estimate: need, reserve },
        });
      }
    }
  }

  /** The usage an answer reported (Sforce-Limit-Info `api-usage=used/max`). */
  observe(used: number, max: number): void {
    this.usage = { used, max };
  }

  /** True once the org's remaining requests are below the reserve. */
  crossed(): boolean {
    if (this.usage === undefined) return false;
    const reserve = this.reserveOf(this.usage.max);
    return reserve !== undefined && this.usage.max - this.usage.used < reserve;
  }

  /**
   * Before a call: with reserve action `fail`, a crossed reserve ends the run with API_BUDGET_RESERVE_REACHED
   * (retryable). With `stop`, calls go on (the source ends its read at the next page; what was read is written).
   */
  checkCall(call: string): void {
    if (!this.crossed()) return;
    // Below the reserve before the run was admitted: it is refused as a whole, whatever its reserve action.
    if (!this.estimated) throw this.refusedError(call);
    if (this.action === 'fail') throw this.reachedError(`before ${call}`);
  }

  /** API_BUDGET_RESERVE for an org already below its reserve when the run starts. */
  private refusedError(call: string): ForceflowError {
    const usage = this.usage ?? { used: 0, max: 0 };
    const reserve = this.reserveOf(usage.max) ?? 0;
    const remaining = Math.max(0, usage.max - usage.used);
    return new ForceflowError('API_BUDGET_RESERVE', `The run was refused before ${call}: org "${this.profileName}" has ${fmt(remaining)} of ${fmt(usage.max)} DailyApiRequests remaining, already below its reserve of ${formatReserve(this.reserve as ApiReserve)} (${fmt(reserve)}), before any estimate of the run (estimate 0). Run it once the limit has recovered (24 h rolling), or lower the reserve (--api-reserve).`, {
      details: { limit: 'DailyApiRequests', max: usage.max, remaining, estimate: 0, reserve },
    });
  }

  /** API_BUDGET_RESERVE_REACHED for the crossed reserve (the run fails, delivering nothing). */
  reachedError(when: string): ForceflowError {
    const usage = this.usage ?? { used: 0, max: 0 };
    this.stoppedBy = 'fail';
    return new ForceflowError('API_BUDGET_RESERVE_REACHED', `The run stopped ${when}: org "${this.profileName}" has ${fmt(usage.max - usage.used)} of ${fmt(usage.max)} DailyApiRequests remaining, below its reserve of ${formatReserve(this.reserve as ApiReserve)} (${fmt(this.reserveOf(usage.max) ?? 0)}). Nothing was delivered; run again once the limit has recovered.`, {
      details: { limit: 'DailyApiRequests', max: usage.max, remaining: usage.max - usage.used, reserve: this.reserveOf(usage.max) ?? 0 },
    });
  }

  /** The source ended its read early because the reserve was crossed (reserve action `stop`). */
  markStopped(): void {
    this.stoppedBy = 'stop';
  }

  report(): BudgetReport {
    const usage = this.usage;
    return {
      connectorProfileName: this.profileName,
      max: usage?.max ?? null,
      remaining: usage ? Math.max(0, usage.max - usage.used) : null,
      reserve: usage ? this.reserveOf(usage.max) ?? null : null,
      estimate: this.estimated ? this.admitted.apiRequests : null,
      stopped: this.stoppedBy,
    };
  }
}
