import type { RecordBatch, EntitySchema, Row } from '../../core/types.ts';
import type { RunContext } from '../../core/connector.ts';
import type { SalesforceClient } from './http.ts';
import { restRowBuilder, type ReadPlan } from './read-plan.ts';
import type { SfField } from './describe.ts';

interface QueryPage {
  readonly totalSize: number;
  readonly done: boolean;
  readonly nextRecordsUrl?: string;
  readonly records: ReadonlyArray<Record<string, unknown>>;
}

/** REST page size requested with Sforce-Query-Options (Salesforce's maximum). */
export const REST_BATCH_SIZE = 2000;

/** Salesforce answers 414 past ~16 KB of URI; stay well below it. */
export const MAX_REST_URL_LENGTH = 15_000;

export function restQueryUrlLength(client: SalesforceClient, soql: string): number {
  return `${client.basePath}/queryAll?q=`.length + encodeURIComponent(soql).length + 100;
}

async function* pages(client: SalesforceClient, soql: string, includeDeleted: boolean, object: string): AsyncGenerator<QueryPage> {
  const headers = { 'Sforce-Query-Options': `batchSize=${REST_BATCH_SIZE}` };
  let page = await client.json<QueryPage>({ method: 'GET', path: includeDeleted ? '/queryAll' : '/query', query: { q: soql }, headers, call: `query ${object}`, records: true });
  yield page;
  while (!page.done && page.nextRecordsUrl) {
    // queryMore: the locator is re-fetchable, so a retried GET after a reset returns the same page.
    page = await client.json<QueryPage>({ method: 'GET', path: page.nextRecordsUrl, headers, call: `queryMore ${object}`, records: true });
    yield page;
  }
}

/** Read through REST query/queryAll, one batch per page, streaming. */
export async function* readRest(
  client: SalesforceClient,
  plan: ReadPlan,
  schema: EntitySchema,
  soql: string,
  includeDeleted: boolean,
  ctx: RunContext,
): AsyncGenerator<RecordBatch> {
  const build = restRowBuilder(plan, client.apiVersion);
  for await (const page of pages(client, soql, includeDeleted, plan.object.name)) {
    if (ctx.signal.aborted) return;
    if (page.records.length === 0) continue;
    yield { schema, rows: page.records.map(build) };
  }
}

/**
 * Read an object too wide for one REST query: several queries over field groups (each with Id, ordered
 * by Id, same WHERE), merge-joined by Id. Group 0 is authoritative: a record that another group does not
 * return at the same position (changed while reading) is completed by a composite retrieve of its
 * missing fields, so no record is silently missed or half-filled.
 */
export async function* readRestGroups(
  client: SalesforceClient,
  plan: ReadPlan,
  schema: EntitySchema,
  groupSoql: ReadonlyArray<{ soql: string; fields: readonly SfField[] }>,
  includeDeleted: boolean,
  ctx: RunContext,
): AsyncGenerator<RecordBatch> {
  const iters = groupSoql.map((g) => pages(client, g.soql, includeDeleted, plan.object.name)[Symbol.asyncIterator]());
  const buffers: Array<Array<Record<string, unknown>>> = groupSoql.map(() => []);
  const exhausted = groupSoql.map(() => false);
  const build = restRowBuilder(plan, client.apiVersion);
  const fill = async (i: number): Promise<void> => {
    while (!exhausted[i] && (buffers[i] as unknown[]).length === 0) {
      const next = await (iters[i] as AsyncIterator<QueryPage>).next();
      if (next.done) exhausted[i] = true;
      else (buffers[i] as Array<Record<string, unknown>>).push(...next.value.records);
    }
  };
  try {
    for (;;) {
      await fill(0);
      const primary = buffers[0] as Array<Record<string, unknown>>;
      if (primary.length === 0) return;
      const rows: Row[] = [];
      const chunk = primary.splice(0, primary.length);
      const missing = new Map<string, { record: Record<string, unknown>; groups: number[] }>();
      const merged: Array<Record<string, unknown>> = [];
      for (const rec of chunk) {
        const id = String(rec['Id']);
        const full: Record<string, unknown> = { ...rec };
        for (let g = 1; g < groupSoql.length; g++) {
          const buf = buffers[g] as Array<Record<string, unknown>>;
          for (;;) {
            await fill(g);
            const head = buf[0];
            if (!head || String(head['Id']) >= id) break;
            buf.shift(); // a record group 0 no longer returns: skip it
          }
          const head = buf[0];
          if (head && String(head['Id']) === id) Object.assign(full, buf.shift());
          else {
            const m = missing.get(id) ?? { record: full, groups: [] };
            m.groups.push(g);
            missing.set(id, m);
          }
        }
        merged.push(full);
      }
      if (missing.size > 0) {
        const fields = [...new Set([...missing.values()].flatMap((m) => m.groups.flatMap((g) => (groupSoql[g]?.fields ?? []).map((f) => f.name))))];
        const ids = [...missing.keys()];
        for (let i = 0; i < ids.length; i += 200) {
          const part = ids.slice(i, i + 200);
          const got = await client.json<Array<Record<string, unknown> | null>>({
            method: 'POST', path: `/composite/sobjects/${plan.object.name}`, json: { ids: part, fields }, idempotent: true, call: `retrieve ${plan.object.name}`, records: true,
          });
          got.forEach((r, k) => {
            const m = missing.get(part[k] as string);
            if (m && r) Object.assign(m.record, r);
          });
        }
      }
      for (const r of merged) rows.push(build(r));
      if (ctx.signal.aborted) return;
      yield { schema, rows };
    }
  } finally {
    await Promise.all(iters.map((it) => it.return?.(undefined)));
  }
}
