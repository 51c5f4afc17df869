import { z } from 'zod';
import { ForceflowError } from '../core/errors.ts';
import type { Org, OrgRouter } from './context.ts';
import { notFound, SfHttpError, sfError } from './errors.ts';
import type { FaultSpec } from './faults.ts';
import { sendEmpty, sendJson, type EmuRequest } from './http.ts';
import type { DailyLimit } from './limits.ts';
import type { StoredRecord, StoredValue, Table } from './org/store.ts';

/**
 * The emulator's control endpoint, outside /services: `/__emulator/...` (no auth, not counted against the
 * API limit). Lets tests read call counts, reset the org, change records behind a running flow, expire
 * sessions and set the API limit. Documented in docs/emulator-control.md.
 */

function tableOr404(org: Org, name: string | undefined): Table {
  const table = name ? org.store.table(name) : undefined;
  if (!table) throw notFound();
  return table;
}

/** Canonical stored values from a JSON body: case-insensitive names, datetimes to the stored ISO form. */
function storedValues(table: Table, body: unknown): Record<string, StoredValue> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw sfError(400, 'JSON_PARSER_ERROR', 'Each record must be a JSON object of field values.');
  }
  const out: Record<string, StoredValue> = {};
  for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
    if (key === 'attributes') continue;
    const field = table.schema.field(key);
    if (!field) throw sfError(400, 'INVALID_FIELD', `No such column '${key}' on sobject of type ${table.schema.name}`, [key]);
    if (field.type === 'id' || table.schema.isCompound(field)) {
      throw sfError(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', `Unable to create/update fields: ${field.name}. Set the component fields instead.`, [field.name]);
    }
    if (raw !== null && typeof raw === 'object') throw sfError(400, 'INVALID_FIELD', `${field.name}: expected a scalar value`, [field.name]);
    let v = (raw ?? null) as StoredValue;
    if (field.type === 'datetime' && typeof v === 'string') {
      const t = Date.parse(v.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
      if (!Number.isFinite(t)) throw sfError(400, 'INVALID_FIELD', `${field.name}: not a datetime: ${v}`, [field.name]);
      v = new Date(t).toISOString();
    }
    out[field.name] = v;
  }
  return out;
}

function userOf(org: Org): string {
  return org.auth.defaultUser.userId;
}

async function bodyJson(req: EmuRequest): Promise<unknown> {
  return req.json();
}

/** Call counts by "METHOD /route-pattern", API usage and totals. */
export function callsBody(org: Org): Record<string, unknown> {
  const calls: Record<string, number> = {};
  let total = 0;
  for (const [k, n] of [...org.callCounts.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (k.includes(' /__emulator')) continue;
    calls[k] = n;
    total += n;
  }
  return {
    calls,
    total,
    apiUsage: { used: org.limits.used, max: org.limits.max, remaining: Math.max(0, org.limits.max - org.limits.used) },
  };
}

function recordCounts(org: Org): Record<string, { live: number; deleted: number; generated: boolean }> {
  const out: Record<string, { live: number; deleted: number; generated: boolean }> = {};
  for (const t of org.store.tables()) {
    const live = t.count(false);
    out[t.schema.name] = { live, deleted: t.count(true) - live, generated: t.generated };
  }
  return out;
}

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const limitSchema = z.strictObject({ max: count.optional(), used: count.optional(), remaining: count.optional() });
const limitsBodySchema = limitSchema.extend({
  bulkV2QueryJobs: limitSchema.optional(),
  bulkApiBatches: limitSchema.optional(),
  maxConcurrentLongRunning: count.optional(),
});

/** `PUT /__emulator/bulk`: the Bulk serving settings (docs/emulator-control.md). */
const bulkBodySchema = z.strictObject({
  queryBytesPerSecond: z.number().finite().min(0).optional(),
  queryPageRows: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});

/** Set a limit's max, then its used calls (or what remains: used = max - remaining). */
function setLimit(limit: DailyLimit, body: z.infer<typeof limitSchema>): void {
  if (body.max !== undefined) limit.max = body.max;
  if (body.used !== undefined) limit.used = body.used;
  else if (body.remaining !== undefined) limit.used = Math.max(0, limit.max - body.remaining);
}

/** The org's allowances as the control endpoint reports them. */
function limitsState(org: Org): Record<string, unknown> {
  const l = org.limits;
  const of = (d: DailyLimit): { max: number; used: number; remaining: number } => ({ max: d.max, used: d.used, remaining: d.remaining });
  return { ...of(l.requests), bulkV2QueryJobs: of(l.bulkQueryJobs), bulkApiBatches: of(l.bulkBatches), concurrentLongRunning: { max: l.maxLongRunning, running: l.longRunning } };
}

export function registerControlRoutes(router: OrgRouter): void {
  const o = { group: 'control', auth: false, countsAsApiCall: false } as const;

  router.add('GET', '/__emulator/calls', o, (_req, res, { org }) => {
    sendJson(res, 200, callsBody(org));
  });

  router.add('GET', '/__emulator/objects', o, (_req, res, { org }) => {
    sendJson(res, 200, recordCounts(org));
  });

  router.add('POST', '/__emulator/reset', o, (_req, res, { org }) => {
    org.bulk.reset();
    org.persistence.reset();
    org.callCounts.clear();
    org.limits.reset();
    org.aws.reset();
    sendJson(res, 200, { reset: true, objects: recordCounts(org) });
  });

  router.add('POST', '/__emulator/records/:object', o, async (req, res, { org }) => {
    const table = tableOr404(org, req.params['object']);
    const body = await bodyJson(req);
    const many = Array.isArray(body);
    const items = many ? (body as unknown[]) : [body];
    // Validate every item before writing any.
    const values = items.map((item) => storedValues(table, item));
    const created: StoredRecord[] = values.map((v) => table.insert(v, userOf(org)));
    org.persistence.markDirty(table.schema.name);
    const out = created.map((r) => ({ id: r['Id'], record: r }));
    sendJson(res, 201, many ? out : out[0]);
  });

  router.add('GET', '/__emulator/records/:object/:id', o, (req, res, { org }) => {
    const table = tableOr404(org, req.params['object']);
    const rec = table.get(req.params['id'] ?? '', true);
    if (!rec) throw notFound();
    sendJson(res, 200, rec);
  });

  router.add('PATCH', '/__emulator/records/:object/:id', o, async (req, res, { org }) => {
    const table = tableOr404(org, req.params['object']);
    const id = req.params['id'] ?? '';
    const values = storedValues(table, await bodyJson(req));
    if (!table.get(id, true)) throw notFound();
    const rec = table.update(id, values, userOf(org));
    org.persistence.markDirty(table.schema.name);
    sendJson(res, 200, rec);
  });

  router.add('DELETE', '/__emulator/records/:object/:id', o, (req, res, { org }) => {
    const table = tableOr404(org, req.params['object']);
    const id = req.params['id'] ?? '';
    if (!table.get(id, true)) throw notFound();
    if (req.query.get('hard') === 'true') table.hardDelete(id);
    else table.delete(id, userOf(org));
    org.persistence.markDirty(table.schema.name);
    sendEmpty(res, 204);
  });

  router.add('POST', '/__emulator/sessions/expire', o, async (req, res, { org }) => {
    const text = (await req.body()).toString('utf8').trim();
    if (text) {
      const body = (await req.json()) as { accessToken?: unknown };
      if (typeof body.accessToken === 'string') {
        org.auth.expire(body.accessToken);
        sendJson(res, 200, { expired: 1 });
        return;
      }
    }
    org.auth.expireAll();
    sendJson(res, 200, { expired: 'all' });
  });

  router.add('GET', '/__emulator/bulk', o, (_req, res, { org }) => {
    sendJson(res, 200, { queryBytesPerSecond: org.bulk.queryBytesPerSecond, queryPageRows: org.bulk.queryPageRows });
  });

  router.add('PUT', '/__emulator/bulk', o, async (req, res, { org }) => {
    const parsed = bulkBodySchema.safeParse(await req.json());
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SfHttpError(400, [{ errorCode: 'EMULATOR_ERROR', message: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}. The body is {"queryBytesPerSecond"?: a number >= 0 (0: unlimited), "queryPageRows"?: a whole number >= 1} (docs/emulator-control.md).` }]);
    }
    const { queryBytesPerSecond, queryPageRows } = parsed.data;
    if (queryBytesPerSecond !== undefined) org.bulk.queryBytesPerSecond = queryBytesPerSecond;
    if (queryPageRows !== undefined) org.bulk.queryPageRows = queryPageRows;
    sendJson(res, 200, { queryBytesPerSecond: org.bulk.queryBytesPerSecond, queryPageRows: org.bulk.queryPageRows });
  });

  router.add('GET', '/__emulator/limits', o, (_req, res, { org }) => {
    sendJson(res, 200, limitsState(org));
  });

  router.add('PUT', '/__emulator/limits', o, async (req, res, { org }) => {
    const parsed = limitsBodySchema.safeParse(await req.json());
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SfHttpError(400, [{ errorCode: 'EMULATOR_ERROR', message: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}. The body is {"max"?, "used"?, "remaining"?, "bulkV2QueryJobs"?: {...}, "bulkApiBatches"?: {...}, "maxConcurrentLongRunning"?}, each a whole number >= 0 (docs/emulator-control.md).` }]);
    }
    const body = parsed.data;
    setLimit(org.limits.requests, body);
    if (body.bulkV2QueryJobs) setLimit(org.limits.bulkQueryJobs, body.bulkV2QueryJobs);
    if (body.bulkApiBatches) setLimit(org.limits.bulkBatches, body.bulkApiBatches);
    if (body.maxConcurrentLongRunning !== undefined) org.limits.maxLongRunning = body.maxConcurrentLongRunning;
    sendJson(res, 200, limitsState(org));
  });
}

/** `GET /__emulator/faults` (the spec in force and what it injected) and `PUT` (replace it). */
export function registerFaultRoutes(router: OrgRouter): void {
  router.add('GET', '/__emulator/faults', { group: 'control', auth: false }, (_req, res, { org }) => {
    sendJson(res, 200, org.faults.describe());
  });
  router.add(['PUT', 'POST'], '/__emulator/faults', { group: 'control', auth: false }, async (req, res, { org }) => {
    const text = (await req.body()).toString('utf8').trim();
    let spec: string | FaultSpec = text;
    if (text.startsWith('{') || text.startsWith('"')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new SfHttpError(400, [{ errorCode: 'EMULATOR_ERROR', message: 'The body must be a fault spec string, {"spec":"..."} or an object of knobs.' }]);
      }
      if (typeof parsed === 'string') spec = parsed;
      else if (parsed && typeof parsed === 'object' && typeof (parsed as { spec?: unknown }).spec === 'string') spec = (parsed as { spec: string }).spec;
      else spec = parsed as FaultSpec;
    }
    try {
      org.faults.set(spec);
    } catch (error) {
      if (error instanceof ForceflowError) throw new SfHttpError(400, [{ errorCode: 'EMULATOR_ERROR', message: error.message }]);
      throw error;
    }
    sendJson(res, 200, org.faults.describe());
  });
}
