import type { ReadRequest, RunContext, Source, SourceStream } from '../../core/connector.ts';
import type { RecordBatch } from '../../core/types.ts';
import { ForceflowError } from '../../core/errors.ts';
import { select } from '../../api-selection/select.ts';
import type { SalesforceClient } from './http.ts';
import { describeObject, type SfField, type SfObject } from './describe.ts';
import { buildCount, buildSelect } from './soql.ts';
import { planRead } from './read-plan.ts';
import { MAX_REST_URL_LENGTH, readRest, readRestGroups, restQueryUrlLength } from './rest-source.ts';
import { readBulk, type BulkReadOptions, type BulkReadStats } from './bulk-source.ts';

export interface SalesforceSourceOptions {
  readonly bulk?: BulkReadOptions;
  /** Longest REST query URL before the read is split into field groups or moved to Bulk (default 15,000). */
  readonly maxRestUrlLength?: number;
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
      // The window's end comes from Salesforce's own clock (the describe's Date header): records are stamped
      // by that clock, so a local clock running ahead can never push the end past records not yet read.
      let window: { field: string; from?: string; to: string } | undefined;
      if (req.window) {
        const to = req.window.to ?? new Date((client.serverTime ?? Date.now()) - (req.window.offsetSeconds ?? 0) * 1000).toISOString();
        window = { field: req.window.field, ...(req.window.from === undefined ? {} : { from: req.window.from }), to };
      }
      const spec = { object, filters: req.filters ?? [], ...(window ? { window } : {}) };
      const includeDeleted = req.includeDeleted ?? false;
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
      if (preference === 'AUTOMATIC' && restPossible) {
        ctx.log.debug({ object: object.name, soql: countSoql }, 'SOQL sent (record count)');
        const res = await client.json<{ totalSize: number }>({ method: 'GET', path: includeDeleted ? '/queryAll' : '/query', query: { q: countSoql }, call: `count ${object.name}` });
        count = res.totalSize;
        stats.count = count;
      }
      const choice = select({ direction: 'source', preference, recordCount: count ?? 0, capabilities: { restSingleQuery, rest: restPossible } });
      ctx.log.info({ object: object.name, api: choice.api, reason: choice.reason, count }, 'salesforce read API chosen');

      let batches: AsyncIterable<RecordBatch>;
      const logSoql = (soql: string): void => ctx.log.debug({ object: object.name, api: choice.api, soql }, 'SOQL sent');
      if (choice.api === 'BULKV2') {
        const plan = planRead(object, output, 'BULKV2');
        const soql = buildSelect({ ...spec, fields: plan.select.map((f) => f.name) });
        stats.soql = soql;
        logSoql(soql);
        batches = readBulk(client, plan, schema, soql, includeDeleted, ctx, options.bulk, stats);
      } else if (restSingleQuery) {
        stats.soql = restSoql;
        logSoql(restSoql);
        batches = readRest(client, restPlan, schema, restSoql, includeDeleted, ctx);
      } else {
        stats.soql = groups.map((g) => g.soql).join('\n');
        for (const g of groups) logSoql(g.soql);
        batches = readRestGroups(client, restPlan, schema, groups, includeDeleted, ctx);
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
