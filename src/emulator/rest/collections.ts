import type { ServerResponse } from 'node:http';
import { jsonParseError, notFound, sfError } from '../errors.ts';
import { sendJson, type EmuRequest } from '../http.ts';
import type { HandlerContext, Org, OrgRouter } from '../context.ts';
import { normalizeId } from '../../salesforce-wire/ids.ts';
import { ROLLED_BACK, applyMixedWrites, applyWrites, externalIdFieldError, type MixedWriteItem, type WriteOperation, type WriteOutcome } from '../org/dml.ts';
import { recordJson } from './format.ts';
import { readObjectBody, requestedFields } from './records.ts';

/**
 * sObject Collections (group 'collections', API 42.0+; upsert 46.0+):
 * - `POST /composite/sobjects` create (mixed types, `attributes.type` required, no id)
 * - `PATCH /composite/sobjects` update (`id`/`Id` + `attributes.type`)
 * - `PATCH /composite/sobjects/{Obj}/{ExtField}` upsert (items add `created`)
 * - `DELETE /composite/sobjects?ids=a,b&allOrNone=true` (mixed types)
 * - `POST /composite/sobjects/{Obj}` `{ids, fields}` and `GET …?ids=&fields=` retrieve (null for ids not found)
 * At most 200 records per write (2,000 ids per retrieve); results in request order, item errors with `statusCode`.
 */
export function registerCollectionRoutes(router: OrgRouter): void {
  const base = '/services/data/:version/composite/sobjects';
  const o = { group: 'collections' } as const;
  router.add('POST', base, o, (req, res, ctx) => writeCollection(req, res, ctx, 'insert'));
  router.add('PATCH', base, o, (req, res, ctx) => writeCollection(req, res, ctx, 'update'));
  router.add('DELETE', base, o, deleteCollection);
  router.add('GET', `${base}/:object`, o, retrieveGet);
  router.add('POST', `${base}/:object`, o, retrievePost);
  router.add('PATCH', `${base}/:object/:field`, o, upsertCollection);
}

export const MAX_COLLECTION_RECORDS = 200;
export const MAX_RETRIEVE_IDS = 2000;

function requireVersion(req: EmuRequest, min: number): void {
  if (Number(req.version ?? '0') < min) throw notFound();
}

function tooMany(): never {
  throw sfError(400, 'EXCEEDED_ID_LIMIT', 'record limit reached. cannot submit more than 200 records into this call');
}

function noRecords(): never {
  throw sfError(400, 'REQUIRED_FIELD_MISSING', 'At least 1 record is required');
}

function userOf(org: Org, req: EmuRequest): string {
  return req.session?.userId ?? org.auth.defaultUser.userId;
}

/** `{allOrNone, records}` → records (as objects) and the flag; malformed bodies are JSON_PARSER_ERROR. */
async function readRecords(req: EmuRequest): Promise<{ records: Record<string, unknown>[]; allOrNone: boolean; text: string }> {
  const { body, text } = await readObjectBody(req);
  const raw = body['records'];
  if (raw === undefined || raw === null) noRecords();
  if (!Array.isArray(raw)) throw jsonParseError('Cannot deserialize instance of List from START_OBJECT value or request may be missing a required field at [line:1, column:1]');
  if (raw.length === 0) noRecords();
  if (raw.length > MAX_COLLECTION_RECORDS) tooMany();
  const records: Record<string, unknown>[] = [];
  for (const r of raw) {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) {
      throw jsonParseError('Cannot deserialize instance of SObject from VALUE_STRING value or request may be missing a required field at [line:1, column:1]');
    }
    records.push(r as Record<string, unknown>);
  }
  const aon = body['allOrNone'];
  if (aon !== undefined && aon !== null && typeof aon !== 'boolean') {
    throw jsonParseError(`Cannot deserialize instance of boolean from VALUE_STRING value ${String(aon)} or request may be missing a required field at [line:1, column:1]`);
  }
  return { records, allOrNone: aon === true, text };
}

function typeOf(record: Readonly<Record<string, unknown>>): string | undefined {
  const attrs = record['attributes'];
  if (attrs === null || typeof attrs !== 'object') return undefined;
  const t = (attrs as Record<string, unknown>)['type'];
  return typeof t === 'string' && t !== '' ? t : undefined;
}

async function writeCollection(req: EmuRequest, res: ServerResponse, { org }: HandlerContext, operation: WriteOperation): Promise<void> {
  requireVersion(req, 42);
  const { records, allOrNone, text } = await readRecords(req);
  const items: MixedWriteItem[] = records.map((row) => {
    const object = typeOf(row);
    return object === undefined ? { row } : { object, row };
  });
  const outcomes = applyMixedWrites(org, { operation, allOrNone, encoding: 'json', items, userId: userOf(org, req), jsonText: text });
  sendJson(res, 200, outcomes);
}

async function upsertCollection(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  requireVersion(req, 46);
  const table = org.store.table(req.params['object'] ?? '');
  if (!table) throw notFound();
  const schema = table.schema;
  const fieldName = req.params['field'] ?? '';
  const problem = externalIdFieldError(schema, fieldName);
  if (problem?.unknown) throw notFound();
  if (problem) throw sfError(400, problem.error.statusCode, problem.error.message);
  const { records, allOrNone, text } = await readRecords(req);
  // Records may be only of the URI's type.
  const wrong = records.map((r) => {
    const t = typeOf(r);
    return t !== undefined && t.toLowerCase() !== schema.name.toLowerCase();
  });
  const valid = records.filter((_, i) => !wrong[i]);
  const anyWrong = wrong.some((w) => w);
  const written =
    anyWrong && allOrNone
      ? valid.map((): WriteOutcome => ({ success: false, errors: [{ ...ROLLED_BACK, fields: [] }] }))
      : applyWrites(org, {
          operation: 'upsert',
          object: schema.name,
          externalIdField: schema.field(fieldName)?.name ?? fieldName,
          allOrNone,
          encoding: 'json',
          rows: valid,
          userId: userOf(org, req),
          jsonText: text,
        });
  let next = 0;
  const outcomes = records.map((r, i): WriteOutcome => {
    if (!wrong[i]) return written[next++] as WriteOutcome;
    return {
      success: false,
      errors: [{ statusCode: 'INVALID_TYPE', message: `Record type ${typeOf(r) ?? ''} does not match the URI type ${schema.name}`, fields: [] }],
    };
  });
  sendJson(res, 200, outcomes);
}

async function deleteCollection(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  requireVersion(req, 42);
  const ids = (req.query.get('ids') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (ids.length === 0) noRecords();
  if (ids.length > MAX_COLLECTION_RECORDS) tooMany();
  const allOrNone = (req.query.get('allOrNone') ?? '').toLowerCase() === 'true';
  const outcomes = applyMixedWrites(org, {
    operation: 'delete',
    allOrNone,
    encoding: 'json',
    items: ids.map((id) => ({ row: { Id: id } })),
    userId: userOf(org, req),
  });
  sendJson(res, 200, outcomes);
}

function retrieve(req: EmuRequest, res: ServerResponse, org: Org, ids: readonly string[], fieldList: readonly string[]): void {
  const table = org.store.table(req.params['object'] ?? '');
  if (!table) throw notFound();
  if (ids.length === 0) noRecords();
  if (ids.length > MAX_RETRIEVE_IDS) throw sfError(400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_RETRIEVE_IDS} records into this call`);
  if (fieldList.length === 0) throw sfError(400, 'REQUIRED_FIELD_MISSING', 'At least 1 field is required');
  const fields = requestedFields(table.schema, fieldList.join(','));
  const version = req.version ?? '62.0';
  const out = ids.map((raw) => {
    const id = normalizeId(raw);
    const rec = id && id.slice(0, 3) === table.schema.keyPrefix ? table.get(id) : undefined;
    return rec ? recordJson(table.schema, rec, fields, version) : null;
  });
  sendJson(res, 200, out);
}

function stringList(value: unknown, name: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw jsonParseError(`Cannot deserialize instance of List<String> for ${name} or request may be missing a required field at [line:1, column:1]`);
  }
  return value as string[];
}

async function retrievePost(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  requireVersion(req, 42);
  if (!org.store.table(req.params['object'] ?? '')) throw notFound();
  const { body } = await readObjectBody(req);
  retrieve(req, res, org, stringList(body['ids'], 'ids'), stringList(body['fields'], 'fields'));
}

function retrieveGet(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): void {
  requireVersion(req, 42);
  const split = (s: string | null): string[] => (s ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
  retrieve(req, res, org, split(req.query.get('ids')), split(req.query.get('fields')));
}
