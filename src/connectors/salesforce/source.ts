import type { ReadRequest, RunContext, Source, SourceStream } from '../../core/connector.ts';
import type { RecordBatch, Row } from '../../core/types.ts';
import { ForceflowError } from '../../core/errors.ts';
import { select } from '../../api-selection/select.ts';
import type { SalesforceClient } from './http.ts';
import { describeObject, type SfField, type SfObject } from './describe.ts';
import { buildCount, buildSelect } from './soql.ts';
import { planRead } from './read-plan.ts';
import { MAX_REST_URL_LENGTH, readRest, readRestGroups, restQueryUrlLength } from './rest-source.ts';
import { readBulk, type BulkReadOptions, type BulkReadStats } from './bulk-source.ts';
import { readCost, type ApiBudget } from './budget.ts';
import { estimatedRecordBytes, expectedSplitJobs, largestJobBytes, openSplitRead, underGuard, type BulkSplitOptions } from './bulk-split.ts';
import type { SourceSplitRecord } from '../../core/connector.ts';

export interface SalesforceSourceOptions {
  readonly bulk?: BulkReadOptions;
  /** Longest REST query URL before the read is split into field groups or moved to Bulk (default 15,000). */
  readonly maxRestUrlLength?: number;
  /** Parallel Bulk reads of big objects (bulk-split.ts); off unless `jobs` is 2 or more. */
  readonly split?: BulkSplitOptions;
}

/** Facts about one read, for the run record. */
export interface SalesforceReadStats extends BulkReadStats {
  soql?: string;
  count?: number;
}

/**
 * The Salesforce source: describe (cached per source, i.e. per run), pick the API, build the SOQL,
 * stream canonical records.
 *
 * @example
 * const source = createSalesforceSource(client);
 * const stream = await source.open({ entity: 'Account', fields: ['Id', 'Name'] }, ctx);
 * for await (const batch of stream.batches) console.log(batch.rows.length);
 */
export function createSalesforceSource(client: SalesforceClient, options: SalesforceSourceOptions = {}): Source & { readonly stats: SalesforceReadStats; describe(object: string): Promise<SfObject> } {
  const describes = new Map<string, Promise<SfObject>>();
  const stats: SalesforceReadStats = { pages: 0 };
  const describe = (object: string): Promise<SfObject> => {
    const key = object.toLowerCase();
    let d = describes.get(key);
    if (!d) {
      d = describeObject(client, object);
      describes.set(key, d);
    }
    return d;
  };

  return {
    stats,
    describe,
    apiUsage: () => ({ calls: { ...client.callsByKind }, ...(client.budget ? { org: client.budget.report() } : {}) }),
    async formulaFields(entity: string): Promise<readonly string[]> {
      const object = await describe(entity);
      return object.fields.filter((f) => f.calculated && !object.isCompound(f)).map((f) => f.name);
    },
    async open(req: ReadRequest, ctx: RunContext): Promise<SourceStream> {
      const object = await describe(req.entity);
      const excluded = new Set((req.excludeFields ?? []).map((f) => f.toLowerCase()));
      let output: SfField[];
      if (req.fields) {
        output = req.fields.map((n) => object.require(n, 'projection'));
      } else {
        // Map_all: every field of today's describe (so fields added since the flow was defined come along),
        // minus exclusions. Compound components stay: they are real fields of the object.
        output = object.fields.filter((f) => !excluded.has(f.name.toLowerCase()));
      }
      for (const x of excluded) object.require(x, 'EXCLUDE_SOURCE_FIELDS_LIST');
      if (output.length === 0) throw new ForceflowError('FLOW_INVALID', `No fields left to read from ${object.name}: the projection is empty or every field is excluded.`);
      const schema = object.schema(output.map((f) => f.name));
      const budget = client.budget;
      // The read's reserve action, the budget's once the read is admitted (a later read of the run refused by the
      // reserve, such as a formula refresh's, leaves the earlier read's action to the calls still to come).
      const action = req.stopEarly === true && req.window !== undefined ? 'stop' : 'fail';
      // An early-stoppable read (docs/salesforce-budget.md) goes in the window field's order, so that the records
      // delivered before a stop are exactly those up to a timestamp: the window field is read even when not asked for.
      const stopField = budget && action === 'stop' && req.window ? object.require(req.window.field, 'incrementalPullConfig.datetimeTypeFieldName') : undefined;
      const stripStopField = stopField !== undefined && !output.some((f) => f.name === stopField.name);
      if (stopField && stripStopField) output = [...output, stopField];
      const orderBy = stopField ? (stopField.name === 'Id' ? ['Id'] : [stopField.name, 'Id']) : undefined;
      // The window's end comes from Salesforce's own clock (the describe's Date header): records are stamped
      // by that clock, so a local clock running ahead can never push the end past records not yet read.
      let window: { field: string; from?: string; to: string } | undefined;
      if (req.window) {
        const to = req.window.to ?? new Date((client.serverTime ?? Date.now()) - (req.window.offsetSeconds ?? 0) * 1000).toISOString();
        window = { field: req.window.field, ...(req.window.from === undefined ? {} : { from: req.window.from }), to };
      }
      const spec = { object, filters: req.filters ?? [], ...(window ? { window } : {}), ...(orderBy ? { orderBy } : {}) };
      const includeDeleted = req.includeDeleted ?? false;
      // Parallel Bulk reads (bulk-split.ts), each job's estimated share under the run's size guard too.
      const splitOptions = options.split ? underGuard(options.split, req.maxBytes) : undefined;
      const preference = req.apiPreference ?? 'AUTOMATIC';

      const restPlan = planRead(object, output, 'REST_SYNC');
      const restSoql = buildSelect({ ...spec, fields: restPlan.select.map((f) => f.name) });
      const maxUrl = options.maxRestUrlLength ?? MAX_REST_URL_LENGTH;
      const restSingleQuery = restQueryUrlLength(client, restSoql) <= maxUrl;
      // The WHERE alone may be too long for any REST query URL (long filter values, a long IN list): then neither
      // the COUNT() nor field groups can go through REST (Salesforce answers 414), and only Bulk can serve the read.
      const countSoql = buildCount(spec);
      const groups = restSingleQuery ? [] : splitFieldGroups(client, maxUrl, restPlan.select, (fields) => buildSelect({ ...spec, fields: fields.map((f) => f.name), orderById: true }));
      const restPossible = restQueryUrlLength(client, countSoql) <= maxUrl && (restSingleQuery || groups.every((g) => restQueryUrlLength(client, g.soql) <= maxUrl));

      let count: number | undefined;
      // With an API reserve the cost estimate needs the COUNT whichever API the flow asked for.
      const countNow = (preference === 'AUTOMATIC' || budget?.reserve !== undefined) && restPossible;
      const takeCount = async (): Promise<number> => {
        ctx.log.debug({ object: object.name, soql: countSoql }, 'SOQL sent (record count)');
        const res = await client.json<{ totalSize: number }>({ method: 'GET', path: includeDeleted ? '/queryAll' : '/query', query: { q: countSoql }, call: `count ${object.name}` });
        stats.count = res.totalSize;
        return res.totalSize;
      };
      if (countNow) count = await takeCount();
      const choice = select({ direction: 'source', preference, recordCount: count ?? 0, capabilities: { restSingleQuery, rest: restPossible } });
      ctx.log.info({ object: object.name, api: choice.api, reason: choice.reason, count }, 'salesforce read API chosen');
      if (budget) {
        // Before the first record: refused (API_BUDGET_RESERVE) when the read would take the org below its reserve.
        const cost = readCost(choice.api, count ?? 0, {
          groups: choice.api === 'BULKV2' || restSingleQuery ? 1 : groups.length,
          ...(options.bulk?.maxRecords ? { bulkPageRows: options.bulk.maxRecords } : {}),
          ...(choice.api === 'BULKV2' && splitOptions && orderBy === undefined ? { bulkJobs: expectedSplitJobs(splitOptions, count, estimatedRecordBytes(planRead(object, output, 'BULKV2').select)) } : {}),
        });
        await budget.admit(cost, () => client.json({ method: 'GET', path: '/limits', call: 'read the org limits' }), `read of ${object.name}: ${cost.basis}`);
        budget.action = action;
      }

      let batches: AsyncIterable<RecordBatch>;
      let split: SourceSplitRecord | undefined;
      const logSoql = (soql: string): void => ctx.log.debug({ object: object.name, api: choice.api, soql }, 'SOQL sent');
      if (choice.api === 'BULKV2') {
        const plan = planRead(object, output, 'BULKV2');
        const soql = buildSelect({ ...spec, fields: plan.select.map((f) => f.name) });
        stats.soql = soql;
        logSoql(soql);
        // An early-stoppable read goes in the window field's order (docs/salesforce-budget.md): never split.
        const parallel = splitOptions === undefined || orderBy !== undefined ? undefined : await openSplitRead({
          client, plan, schema, includeDeleted, count, takeCount: restPossible ? takeCount : undefined, split: splitOptions, stats,
          recordBytes: estimatedRecordBytes(plan.select),
          ...(req.maxBytes === undefined ? {} : { maxBytes: req.maxBytes }),
          soql: (extra, idOnly) => buildSelect({ ...spec, filters: [...spec.filters, ...extra], fields: idOnly ? ['Id'] : plan.select.map((f) => f.name) }),
          ...(options.bulk === undefined ? {} : { bulk: options.bulk }),
        }, ctx);
        if (parallel) {
          count = stats.count;
          split = parallel.record;
          batches = parallel.batches;
        } else {
          // A flow writing the rows unchanged to CSV or JSON lines files gets them as those lines (ReadRequest.encodeAs);
          // a parallel read (above) and an early-stoppable one (below, it reads the rows) give rows.
          const encodeAs = stopField === undefined ? req.encodeAs : undefined;
          batches = readBulk(client, plan, schema, soql, includeDeleted, ctx, encodeAs === undefined ? options.bulk : { ...options.bulk, encodeAs }, stats);
        }
      } else if (restSingleQuery) {
        stats.soql = restSoql;
        logSoql(restSoql);
        batches = readRest(client, restPlan, schema, restSoql, includeDeleted, ctx);
      } else {
        stats.soql = groups.map((g) => g.soql).join('\n');
        for (const g of groups) logSoql(g.soql);
        batches = readRestGroups(client, restPlan, schema, groups, includeDeleted, ctx);
      }
      let stopped: { resumeFrom: string; reason: string } | undefined;
      if (budget && stopField && window) {
        batches = stoppable(batches, budget, stopField.name, stripStopField, req.window?.previousEnd ?? window.from, object.name, (s) => { stopped = s; });
      }
      return {
        schema,
        api: choice.api,
        apiReason: choice.reason,
        ...(count === undefined ? {} : { estimatedCount: count }),
        batches,
        ...(window ? { window: { ...(window.from === undefined ? {} : { from: window.from }), to: window.to } } : {}),
        bytesRead: () => client.recordBytesReceived,
        apiCalls: () => client.apiCalls,
        stoppedEarly: () => stopped,
        ...(split ? { split: () => split, guardedBytes: () => largestJobBytes(split as SourceSplitRecord) } : {}),
      };
    },
  };
}

/** Split the selected fields into groups whose REST query URLs each fit the URI limit (Id in every group). */
function splitFieldGroups(
  client: SalesforceClient,
  maxUrl: number,
  fields: readonly SfField[],
  build: (fields: readonly SfField[]) => string,
): Array<{ soql: string; fields: readonly SfField[] }> {
  const id = fields.find((f) => f.name === 'Id');
  const rest = fields.filter((f) => f.name !== 'Id');
  const groups: Array<{ soql: string; fields: readonly SfField[] }> = [];
  let current: SfField[] = [];
  for (const f of rest) {
    const candidate = [...(id ? [id] : []), ...current, f];
    if (current.length > 0 && restQueryUrlLength(client, build(candidate)) > maxUrl) {
      const g = [...(id ? [id] : []), ...current];
      groups.push({ soql: build(g), fields: g });
      current = [f];
    } else current.push(f);
  }
  const last = [...(id ? [id] : []), ...current];
  groups.push({ soql: build(last), fields: last });
  return groups;
}

/**
 * The read of an incremental flow that stops early at the API reserve (reserve action `stop`), its records in
 * the window field's order: before each page it asks the budget, and once the reserve is crossed it ends the
 * read. The trailing records of a page that share its last timestamp are held back until the next page (a stop
 * drops them), so every record stamped at or before the last one delivered was delivered, and the next run,
 * reading after that timestamp, misses nothing and repeats nothing.
 */
async function* stoppable(
  batches: AsyncIterable<RecordBatch>,
  budget: ApiBudget,
  field: string,
  strip: boolean,
  from: string | undefined,
  object: string,
  onStop: (stop: { resumeFrom: string; reason: string }) => void,
): AsyncGenerator<RecordBatch> {
  const stamp = (row: Row): unknown => row[field];
  const out = (rows: Row[]): Row[] => (strip ? rows.map((r) => { const { [field]: _drop, ...rest } = r; return rest as Row; }) : rows);
  let carry: Row[] = [];
  let last: string | undefined;
  let schema: RecordBatch['schema'] | undefined;
  const it = batches[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      if (budget.crossed()) {
        // The window keeps at least its previous end (a stop before anything new was read leaves it there).
        const resumeFrom = later(last, from);
        // Nothing delivered and no window to keep: the run cannot stop cleanly, so it fails.
        if (resumeFrom === undefined) throw budget.reachedError(`reading ${object}`);
        budget.markStopped();
        const usage = budget.report();
        onStop({
          resumeFrom: resumeFrom as string,
          reason: `The org's API reserve was reached (${usage.remaining ?? '?'} of ${usage.max ?? '?'} DailyApiRequests remaining, reserve ${usage.reserve ?? '?'}): the read of ${object} stopped early, the records stamped up to ${resumeFrom as string} were delivered, and the next run resumes from there.`,
        });
        return;
      }
      const next = await it.next();
      if (next.done) {
        done = true;
        break;
      }
      schema = next.value.schema;
      const rows = carry.length > 0 ? [...carry, ...next.value.rows] : next.value.rows;
      let cut = rows.length;
      const tail = rows.length > 0 ? stamp(rows[rows.length - 1] as Row) : undefined;
      while (cut > 0 && stamp(rows[cut - 1] as Row) === tail) cut--;
      carry = rows.slice(cut);
      if (cut > 0) {
        const ready = rows.slice(0, cut);
        const t = stamp(ready[ready.length - 1] as Row);
        if (typeof t === 'string') last = t;
        yield { schema, rows: out(ready) };
      }
    }
    if (carry.length > 0 && schema) yield { schema, rows: out(carry) };
  } finally {
    if (!done) await it.return?.();
  }
}

/** The later of two ISO datetimes (either may be absent). */
function later(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}
