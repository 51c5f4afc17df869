import type { ServerResponse } from 'node:http';
import { SfHttpError, jsonParseError, notFound, sfError } from '../errors.ts';
import { sendEmpty, sendJson, type EmuRequest } from '../http.ts';
import type { HandlerContext, Org, OrgRouter } from '../context.ts';
import { normalizeId } from '../../salesforce-wire/ids.ts';
import { applyWrites, externalIdFieldError, type WriteOutcome } from '../org/dml.ts';
import type { DescribeField, ObjectSchema } from '../org/schema.ts';
import type { StoredRecord, Table } from '../org/store.ts';
import { coerceCsv } from '../org/validate.ts';
import { recordJson } from './format.ts';

/**
 * Single-record REST routes (group 'rest'):
 * - `POST /sobjects/{Obj}` create: 201 `{id,success,errors}` + Location
 * - `GET|PATCH|DELETE /sobjects/{Obj}/{id}`: record JSON (`?fields=`), 204, 204
 * - `PATCH /sobjects/{Obj}/{ExtField}/{value}` upsert: 201 created / 200 (API ≥46) or 204 updated / 300 several matches
 * - `GET|DELETE /sobjects/{Obj}/{ExtField}/{value}`: by external id
 * - `POST /sobjects/{Obj}/Id` (no value) inserts; `POST /sobjects/{Obj}/{ExtField}` upserts with the value in the body
 * Writes go through the shared engine (../org/dml.ts). Errors are `[{"message","errorCode","fields"}]`.
 */
export function registerRecordRoutes(router: OrgRouter): void {
  const base = '/services/data/:version/sobjects/:object';
  const o = { group: 'rest' } as const;
  router.add('POST', base, o, create);
  router.add('POST', `${base}/:field`, o, postUpsert);
  router.add('GET', `${base}/:id`, o, getRecord);
  router.add('PATCH', `${base}/:id`, o, updateRecord);
  router.add('DELETE', `${base}/:id`, o, deleteRecord);
  router.add('GET', `${base}/:field/:value`, o, getByExternalId);
  router.add('PATCH', `${base}/:field/:value`, o, upsert);
  router.add('DELETE', `${base}/:field/:value`, o, deleteByExternalId);
}

function tableOf(org: Org, req: EmuRequest): Table {
  const t = org.store.table(req.params['object'] ?? '');
  if (!t) throw notFound();
  return t;
}

function userOf(org: Org, req: EmuRequest): string {
  return req.session?.userId ?? org.auth.defaultUser.userId;
}

/** The body as a JSON object (Salesforce's deserializer errors otherwise), with its raw text. */
export async function readObjectBody(req: EmuRequest): Promise<{ body: Record<string, unknown>; text: string }> {
  const text = (await req.body()).toString('utf8');
  const parsed = await req.json();
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const token = Array.isArray(parsed) ? 'START_ARRAY' : parsed === null ? 'VALUE_NULL' : 'VALUE_STRING';
    throw jsonParseError(`Cannot deserialize instance of SObject from ${token} value or request may be missing a required field at [line:1, column:1]`);
  }
  return { body: parsed as Record<string, unknown>, text };
}

/** A whole-request INVALID_FIELD for the first key the object has no field or relationship for. */
function checkKeys(schema: ObjectSchema, body: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(body)) {
    if (key === 'attributes' || schema.field(key)) continue;
    const rel = schema.relationship(key);
    if (rel && value !== null && typeof value === 'object' && !Array.isArray(value)) continue;
    throw sfError(400, 'INVALID_FIELD', `No such column '${key}' on sobject of type ${schema.name}`);
  }
}

/** Body keys other than Id (and other than `skip`, compared case-insensitively). */
function without(body: Readonly<Record<string, unknown>>, ...skip: string[]): Record<string, unknown> {
  const lower = new Set(skip.map((s) => s.toLowerCase()));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!lower.has(k.toLowerCase())) out[k] = v;
  return out;
}

/** A failed single-record write as Salesforce's REST error response. */
function failure(outcome: WriteOutcome): SfHttpError {
  const deleted = outcome.errors.some((e) => e.statusCode === 'ENTITY_IS_DELETED');
  return new SfHttpError(
    deleted ? 404 : 400,
    outcome.errors.map((e) => ({ message: e.message, errorCode: e.statusCode, fields: e.fields })),
  );
}

function location(req: EmuRequest, schema: ObjectSchema, id: string): string {
  return `/services/data/v${req.version ?? '62.0'}/sobjects/${schema.name}/${id}`;
}

/** A live record of this table by id, or a 404 (ENTITY_IS_DELETED for one in the recycle bin). */
function liveRecord(table: Table, rawId: string): StoredRecord {
  const id = normalizeId(rawId);
  if (!id || id.slice(0, 3) !== table.schema.keyPrefix) throw notFound();
  const rec = table.get(id, true);
  if (!rec) throw notFound();
  if (rec['IsDeleted'] === true) throw new SfHttpError(404, [{ message: 'entity is deleted', errorCode: 'ENTITY_IS_DELETED', fields: [] }]);
  return rec;
}

function only(outcomes: WriteOutcome[]): WriteOutcome {
  const o = outcomes[0];
  if (!o) throw new Error('write engine returned no outcome');
  return o;
}

async function create(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  const table = tableOf(org, req);
  const { body, text } = await readObjectBody(req);
  checkKeys(table.schema, body);
  const out = only(applyWrites(org, { operation: 'insert', object: table.schema.name, encoding: 'json', rows: [body], userId: userOf(org, req), jsonText: text }));
  if (!out.success || !out.id) throw failure(out);
  sendJson(res, 201, { id: out.id, success: true, errors: [] }, { Location: location(req, table.schema, out.id) });
}

/** `?fields=A,B` → describe fields (400 INVALID_FIELD for an unknown one); all fields by default. */
export function requestedFields(schema: ObjectSchema, list: string | null | undefined): DescribeField[] {
  if (list === null || list === undefined || list.trim() === '') return [...schema.fields];
  const out: DescribeField[] = [];
  for (const name of list.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const f = schema.field(name);
    if (!f) {
      throw sfError(
        400,
        'INVALID_FIELD',
        `No such column '${name}' on entity '${schema.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    if (!out.includes(f)) out.push(f);
  }
  return out;
}

async function getRecord(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  const table = tableOf(org, req);
  const fields = requestedFields(table.schema, req.query.get('fields'));
  const raw = req.params['id'] ?? '';
  const id = normalizeId(raw);
  // A segment that is not an id is read as an external id field name with no value (as Salesforce does).
  if (!id && !table.schema.field(raw)) {
    throw new SfHttpError(404, [{ errorCode: 'NOT_FOUND', message: `Provided external ID field does not exist or is not accessible: ${raw}` }]);
  }
  const rec = id && id.slice(0, 3) === table.schema.keyPrefix ? table.get(id) : undefined;
  if (!rec) throw notFound();
  sendJson(res, 200, recordJson(table.schema, rec, fields, req.version ?? '62.0'));
}

async function updateRecord(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  const table = tableOf(org, req);
  const rec = liveRecord(table, req.params['id'] ?? '');
  const { body, text } = await readObjectBody(req);
  const values = without(body, 'Id');
  checkKeys(table.schema, values);
  const out = only(
    applyWrites(org, { operation: 'update', object: table.schema.name, encoding: 'json', rows: [{ ...values, Id: rec['Id'] }], userId: userOf(org, req), jsonText: text }),
  );
  if (!out.success) throw failure(out);
  sendEmpty(res, 204);
}

async function deleteRecord(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  const table = tableOf(org, req);
  const rec = liveRecord(table, req.params['id'] ?? '');
  const out = only(applyWrites(org, { operation: 'delete', object: table.schema.name, encoding: 'json', rows: [{ Id: rec['Id'] }], userId: userOf(org, req) }));
  if (!out.success) throw failure(out);
  sendEmpty(res, 204);
}

/** The external id field of an upsert/lookup URL: 404 when unknown, 400 INVALID_FIELD when not an external id. */
function keyField(schema: ObjectSchema, name: string): DescribeField {
  const problem = externalIdFieldError(schema, name);
  if (problem?.unknown) throw notFound();
  if (problem) throw sfError(400, problem.error.statusCode, problem.error.message);
  return schema.field(name) as DescribeField;
}

/** Live records whose key field equals the URL value. */
function matchesFor(table: Table, field: DescribeField, value: string): StoredRecord[] {
  if (field.type === 'id') {
    const id = normalizeId(value);
    const rec = id && id.slice(0, 3) === table.schema.keyPrefix ? table.get(id) : undefined;
    return rec ? [rec] : [];
  }
  const c = coerceCsv(field, value, 0);
  if (!c.ok) throw sfError(400, c.error.statusCode, c.error.message, c.error.fields);
  return c.value === null ? [] : table.findBy(field.name, c.value);
}

/** 300 Multiple Choices: the URLs of the matching records. */
function multipleChoices(req: EmuRequest, schema: ObjectSchema, matches: readonly StoredRecord[]): SfHttpError {
  return new SfHttpError(300, matches.map((r) => location(req, schema, String(r['Id']))));
}

async function getByExternalId(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  const table = tableOf(org, req);
  const field = keyField(table.schema, req.params['field'] ?? '');
  const fields = requestedFields(table.schema, req.query.get('fields'));
  const matches = matchesFor(table, field, req.params['value'] ?? '');
  if (matches.length > 1) throw multipleChoices(req, table.schema, matches);
  const rec = matches[0];
  if (!rec) throw notFound();
  sendJson(res, 200, recordJson(table.schema, rec, fields, req.version ?? '62.0'));
}

async function deleteByExternalId(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  const table = tableOf(org, req);
  const field = keyField(table.schema, req.params['field'] ?? '');
  const matches = matchesFor(table, field, req.params['value'] ?? '');
  if (matches.length > 1) throw multipleChoices(req, table.schema, matches);
  const rec = matches[0];
  if (!rec) throw notFound();
  const out = only(applyWrites(org, { operation: 'delete', object: table.schema.name, encoding: 'json', rows: [{ Id: rec['Id'] }], userId: userOf(org, req) }));
  if (!out.success) throw failure(out);
  sendEmpty(res, 204);
}

function upsertResponse(req: EmuRequest, res: ServerResponse, schema: ObjectSchema, out: WriteOutcome): void {
  if (!out.success || !out.id) throw failure(out);
  const v46 = Number(req.version ?? '62.0') >= 46;
  if (out.created) {
    const body = v46 ? { id: out.id, success: true, errors: [], created: true } : { id: out.id, success: true, errors: [] };
    sendJson(res, 201, body, { Location: location(req, schema, out.id) });
    return;
  }
  if (v46) sendJson(res, 200, { id: out.id, success: true, errors: [], created: false });
  else sendEmpty(res, 204);
}

async function upsert(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  const table = tableOf(org, req);
  const schema = table.schema;
  const field = keyField(schema, req.params['field'] ?? '');
  const value = req.params['value'] ?? '';
  const { body, text } = await readObjectBody(req);
  const values = without(body, 'Id', field.name);
  checkKeys(schema, values);
  const matches = matchesFor(table, field, value);
  if (matches.length > 1) throw multipleChoices(req, schema, matches);
  if (matches.length === 0 && (field.type === 'id' || req.query.get('updateOnly') === 'true')) throw notFound();
  const row = field.type === 'id' ? { ...values, Id: matches[0]?.['Id'] } : { ...values, [field.name]: value };
  const out = only(
    applyWrites(org, { operation: 'upsert', object: schema.name, externalIdField: field.name, encoding: 'json', rows: [row], userId: userOf(org, req), jsonText: text }),
  );
  upsertResponse(req, res, schema, out);
}

/** `POST /sobjects/{Obj}/Id` inserts; `POST /sobjects/{Obj}/{ExtField}` upserts with the value from the body. */
async function postUpsert(req: EmuRequest, res: ServerResponse, { org }: HandlerContext): Promise<void> {
  const table = tableOf(org, req);
  const schema = table.schema;
  const field = keyField(schema, req.params['field'] ?? '');
  const { body, text } = await readObjectBody(req);
  checkKeys(schema, body);
  if (field.type === 'id') {
    const values = without(body, 'Id');
    const out = only(applyWrites(org, { operation: 'insert', object: schema.name, encoding: 'json', rows: [values], userId: userOf(org, req), jsonText: text }));
    upsertResponse(req, res, schema, { ...out, created: true });
    return;
  }
  const key = Object.entries(body).find(([k]) => k.toLowerCase() === field.name.toLowerCase())?.[1];
  if (typeof key === 'string' || typeof key === 'number') {
    const matches = matchesFor(table, field, String(key));
    if (matches.length > 1) throw multipleChoices(req, schema, matches);
  }
  const out = only(
    applyWrites(org, { operation: 'upsert', object: schema.name, externalIdField: field.name, encoding: 'json', rows: [body], userId: userOf(org, req), jsonText: text }),
  );
  upsertResponse(req, res, schema, out);
}
