/**
 * REST query and queryAll, with server-side cursors for queryMore.
 *
 * - `GET /services/data/vXX.X/query?q=SOQL` and `/queryAll?q=SOQL` answer
 *   `{"totalSize","done","nextRecordsUrl"?,"records"}` (that key order). The page size is 2000, or the
 *   `Sforce-Query-Options: batchSize=N` header clamped to 200..2000; child records of subqueries count
 *   toward it (a child set is always returned whole, with done:true).
 * - `nextRecordsUrl` is `/services/data/vXX.X/query/01g<15 chars>-<offset>`; `GET …/query/{locator}` and
 *   `…/queryAll/{locator}` serve it at any API version, whatever the original query was.
 * - A cursor keeps the query's lazy row iterator, so paging a generated object of millions of records never
 *   holds more than one page. The last page served is kept, so a client retrying the same locator (after a
 *   connection reset) gets the same page again; any other offset re-runs the query up to that offset.
 * - Cursors expire after 15 minutes idle, when the org is reset (its tables replaced), or when more than
 *   MAX_CURSORS are open (least recently used first) → 400 INVALID_QUERY_LOCATOR "invalid query locator".
 */
import type { ServerResponse } from 'node:http';
import { sfError } from '../errors.ts';
import { sendJson, type EmuRequest } from '../http.ts';
import type { Org, OrgRouter } from '../context.ts';
import { makeId } from '../ids.ts';
import { prepareQuery, type PreparedQuery, type QueryRow } from '../soql/index.ts';
import { malformed } from '../soql/errors.ts';

export const DEFAULT_BATCH_SIZE = 2000;
export const MIN_BATCH_SIZE = 200;
export const MAX_BATCH_SIZE = 2000;
/** Idle time after which a query locator is gone (Salesforce: about 15 minutes). */
export const CURSOR_IDLE_MS = 15 * 60_000;
/** Open cursors kept per org; the least recently used beyond this are closed. */
export const MAX_CURSORS = 50;

interface Page {
  readonly offset: number;
  readonly body: string;
}

interface Cursor {
  readonly id: string;
  readonly query: PreparedQuery;
  readonly totalSize: number;
  readonly batchSize: number;
  iterator: Iterator<QueryRow>;
  /** A row read ahead to know whether more follow. */
  peeked: QueryRow | undefined;
  /** Rows consumed from `iterator` (the offset of `peeked`, or of the next row). */
  position: number;
  last: Page | undefined;
  lastUsed: number;
}

/** The open query cursors of one org. */
export class QueryCursors {
  private readonly cursors = new Map<string, Cursor>();
  private counter = 0;
  private readonly org: Org;

  constructor(org: Org) {
    this.org = org;
  }

  get size(): number {
    return this.cursors.size;
  }

  clear(): void {
    this.cursors.clear();
  }

  close(id: string): void {
    this.cursors.delete(id);
  }

  open(query: PreparedQuery, totalSize: number, batchSize: number): Cursor {
    this.sweep();
    const id = makeId('01g', ++this.counter);
    const cursor: Cursor = {
      id,
      query,
      totalSize,
      batchSize,
      iterator: query.rows()[Symbol.iterator](),
      peeked: undefined,
      position: 0,
      last: undefined,
      lastUsed: this.org.clock(),
    };
    this.cursors.set(id, cursor);
    while (this.cursors.size > MAX_CURSORS) {
      const oldest = this.cursors.keys().next().value;
      if (oldest === undefined) break;
      this.cursors.delete(oldest);
    }
    return cursor;
  }

  /** The cursor of a locator id, or undefined when unknown, expired or stale (the org was reset). */
  get(id: string): Cursor | undefined {
    this.sweep();
    const cursor = this.cursors.get(id);
    if (!cursor) return undefined;
    if (this.org.store.table(cursor.query.object.name) !== cursor.query.table) {
      this.cursors.delete(id);
      return undefined;
    }
    cursor.lastUsed = this.org.clock();
    // Keep LRU order: re-insert as most recent.
    this.cursors.delete(id);
    this.cursors.set(id, cursor);
    return cursor;
  }

  private sweep(): void {
    const now = this.org.clock();
    for (const [id, c] of this.cursors) if (now - c.lastUsed > CURSOR_IDLE_MS) this.cursors.delete(id);
  }
}

function batchSizeOf(req: EmuRequest): number {
  const header = req.headers['sforce-query-options'];
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const m = /batchSize\s*=\s*(\d+)/i.exec(text);
  if (!m) return DEFAULT_BATCH_SIZE;
  return Math.min(MAX_BATCH_SIZE, Math.max(MIN_BATCH_SIZE, Number(m[1])));
}

function invalidLocator(): ReturnType<typeof sfError> {
  return sfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
}

/** Serve the page of `cursor` that starts at `offset`, as a JSON text. */
function page(cursor: Cursor, offset: number, version: string): string {
  if (cursor.last && cursor.last.offset === offset) return cursor.last.body;
  if (offset !== cursor.position) {
    // Another offset than the next one: re-run the query up to it (streams; nothing is kept).
    const it = cursor.query.rows()[Symbol.iterator]();
    let skipped = 0;
    while (skipped < offset && !it.next().done) skipped++;
    if (skipped < offset) throw invalidLocator();
    cursor.iterator = it;
    cursor.peeked = undefined;
    cursor.position = offset;
  }
  const records: Record<string, unknown>[] = [];
  const subqueries = cursor.query.columns.filter((c) => c.kind === 'subquery').map((c) => c.name);
  // Child records of subqueries count toward the batch size, as on Salesforce.
  let used = 0;
  while (used < cursor.batchSize) {
    const row = cursor.peeked ?? cursor.iterator.next().value;
    cursor.peeked = undefined;
    if (row === undefined) break;
    const json = cursor.query.toRest(row, version);
    records.push(json);
    used++;
    for (const name of subqueries) used += (json[name] as { totalSize?: number } | null)?.totalSize ?? 0;
    cursor.position++;
  }
  if (used >= cursor.batchSize) {
    const next = cursor.iterator.next();
    if (!next.done) cursor.peeked = next.value;
  }
  const done = cursor.peeked === undefined;
  const body: Record<string, unknown> = { totalSize: cursor.totalSize, done };
  if (!done) body['nextRecordsUrl'] = `/services/data/v${version}/query/${cursor.id}-${cursor.position}`;
  body['records'] = records;
  const text = JSON.stringify(body);
  cursor.last = { offset, body: text };
  return text;
}

function sendBody(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function registerQueryRoutes(router: OrgRouter): void {
  // Per router (one per emulator server), per org: no module-level state.
  const byOrg = new WeakMap<Org, QueryCursors>();
  const cursorsOf = (org: Org): QueryCursors => {
    let c = byOrg.get(org);
    if (!c) byOrg.set(org, (c = new QueryCursors(org)));
    return c;
  };

  const runQuery = (includeDeleted: boolean) => (req: EmuRequest, res: ServerResponse, { org }: { org: Org }): void => {
    const soql = req.query.get('q');
    if (soql === null || soql.trim() === '') throw malformed('A query string has to be specified');
    const version = req.version ?? '62.0';
    const query = prepareQuery(org.store, soql, { includeDeleted, now: org.clock() });
    const totalSize = query.count();
    if (query.isCount) {
      sendJson(res, 200, { totalSize, done: true, records: [] });
      return;
    }
    const cursors = cursorsOf(org);
    const cursor = cursors.open(query, totalSize, batchSizeOf(req));
    const body = page(cursor, 0, version);
    // A query answered in one page leaves no cursor open.
    if (cursor.peeked === undefined) cursors.close(cursor.id);
    sendBody(res, body);
  };

  const queryMore = (req: EmuRequest, res: ServerResponse, { org }: { org: Org }): void => {
    const m = /^(01g[A-Za-z0-9]{15})-(\d+)$/.exec(req.params['locator'] ?? '');
    if (!m) throw invalidLocator();
    const cursor = cursorsOf(org).get(m[1] as string);
    if (!cursor) throw invalidLocator();
    sendBody(res, page(cursor, Number(m[2]), req.version ?? '62.0'));
  };

  router.add('GET', '/services/data/:version/query', { group: 'query' }, runQuery(false));
  router.add('GET', '/services/data/:version/queryAll', { group: 'query' }, runQuery(true));
  router.add('GET', '/services/data/:version/query/:locator', { group: 'query' }, queryMore);
  router.add('GET', '/services/data/:version/queryAll/:locator', { group: 'query' }, queryMore);
}
