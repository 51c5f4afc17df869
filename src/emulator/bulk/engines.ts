/**
 * Where Bulk API 2.0 meets the org's shared engines: SOQL (src/emulator/soql) for query jobs and the
 * write engine (src/emulator/org/dml.ts) for ingest jobs. Bulk adds no validation of its own: rows are
 * checked by the same code as the REST path.
 */
import { sfError } from '../errors.ts';
import { prepareQuery } from '../soql/index.ts';
import type { PreparedQuery, QueryRow } from '../soql/types.ts';
import { applyWrites, checkColumns, type WriteContext } from '../org/dml.ts';
import { escapeResultText, resultEscaper, type CsvDialect, type ResultEscaper } from '../../salesforce-wire/bulk-csv.ts';
import type { OrgStore, StoredValue } from '../org/store.ts';
import type { ColumnEncoder } from '../org/generated/cells.ts';
import type { RowWriter } from '../org/generated/csv.ts';
import { GeneratedTable } from '../org/generated/table.ts';
import type { DescribeField } from '../org/schema.ts';

/** One processed ingest row. */
export interface RowOutcome {
  readonly success: boolean;
  readonly id?: string;
  readonly created?: boolean;
  /** `sf__Error` text for failed rows. */
  readonly error: string;
}

/** `sf__Error` as Salesforce formats it: `<STATUS_CODE>:<message>:<comma-separated fields> --`. */
export function formatSfError(errors: readonly { statusCode: string; message: string; fields?: readonly string[] }[]): string {
  return errors
    .map((e) => {
      const fields = e.fields ?? [];
      return `${e.statusCode}:${e.message}:${fields.length > 0 ? `${fields.join(',')} ` : ''}--`;
    })
    .join(' ');
}

/** The first header column the object does not have (the whole job then fails), or undefined. */
export function unknownColumn(
  org: { readonly store: OrgStore },
  object: string,
  header: readonly string[],
  operation: string,
  _externalIdField: string | undefined,
): string | undefined {
  return checkColumns(org, object, header, operation);
}

/** Write a chunk of CSV rows through the shared write engine. */
export function runBulkWrites(
  org: WriteContext,
  input: {
    operation: 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete';
    object: string;
    header: readonly string[];
    rows: readonly (readonly string[])[];
    userId: string;
    externalIdField?: string;
  },
): RowOutcome[] {
  const outcomes = applyWrites(org, {
    operation: input.operation,
    object: input.object,
    ...(input.externalIdField === undefined ? {} : { externalIdField: input.externalIdField }),
    allOrNone: false,
    encoding: 'csv',
    header: input.header,
    rows: input.rows,
    userId: input.userId,
  });
  const op = input.operation;
  return outcomes.map((o): RowOutcome => {
    const created = op === 'insert' ? o.success : op === 'upsert' ? o.created === true : false;
    const error = o.success ? '' : formatSfError(o.errors);
    return o.id === undefined ? { success: o.success, created, error } : { success: o.success, id: o.id, created, error };
  });
}

/** A Bulk query's result set: a snapshot for in-memory objects, re-streamed for generated ones. */
export interface BulkQuerySource {
  readonly object: string;
  /** Header names (canonical paths, in SELECT order). */
  readonly header: readonly string[];
  /** Rows in the result (valid after complete()). */
  readonly count: number;
  /** Fix the result set (called once when the job completes). */
  complete(): void;
  /**
   * CSV text of rows [offset, offset+limit), in chunks of roughly `chunkBytes`, header line first.
   * Lazy: a generated object's rows are computed as the chunks are pulled.
   */
  page(offset: number, limit: number, d: CsvDialect, chunkBytes?: number): Iterable<Buffer>;
}

type RowFormatter = (row: QueryRow) => string;

/**
 * A row formatter compiled for one query and dialect: one expression per row with a call site per column,
 * so each stays monomorphic (about 30 % faster than a loop over the columns). Column keys and literals
 * are embedded with JSON.stringify; values never reach the generated source.
 */
function compileRowFormatter(
  keys: readonly (string | undefined)[],
  escapers: readonly ResultEscaper[],
  value: (row: QueryRow, column: number) => StoredValue,
  d: CsvDialect,
): RowFormatter {
  const sep = JSON.stringify(`"${d.delimiter}"`);
  const parts = keys.map((key, i) => (key === undefined ? `e${i}(value(row, ${i}))` : `e${i}(r[${JSON.stringify(key)}])`));
  const body = `return function formatRow(row) { const r = row.record; return '"' + ${parts.length > 0 ? parts.join(` + ${sep} + `) : "''"} + ${JSON.stringify(`"${d.eol}`)}; };`;
  const names = escapers.map((_, i) => `e${i}`);
  const factory = new Function(...names, 'value', body) as (...args: unknown[]) => RowFormatter;
  return factory(...escapers, value);
}

function bulkQueryErrors(q: PreparedQuery): void {
  if (q.hasSubquery) throw sfError(400, 'API_ERROR', 'Aggregate Relationships not supported in Bulk V2 Query with CSV content type');
  if (q.columns.some((c) => c.compound)) throw sfError(400, 'API_ERROR', 'Selecting compound data not supported in Bulk Query');
  if (q.isCount || q.hasAggregate || q.hasGroupBy) throw sfError(400, 'API_ERROR', 'Aggregate queries are not supported in Bulk V2 Query');
  if (q.hasOffset) throw sfError(400, 'API_ERROR', 'OFFSET is not supported in Bulk V2 Query');
  if (q.hasTypeof) throw sfError(400, 'API_ERROR', 'TYPEOF is not supported in Bulk V2 Query');
}

/** Prepare a Bulk query job's SOQL (throws Salesforce's errors at job creation). */
export function openBulkQuery(org: { readonly store: OrgStore; readonly clock: () => number }, soql: string, includeDeleted: boolean): BulkQuerySource {
  const q = prepareQuery(org.store, soql, { includeDeleted, now: org.clock() });
  bulkQueryErrors(q);
  const columns = q.columns;
  const header = columns.map((c) => c.path);
  const generated = q.table.generated;
  let snapshot: QueryRow[] | undefined;
  let count = 0;
  /** The live iterator of a generated object's rows and its position, so consecutive pages continue. */
  let cursor: { at: number; it: Iterator<QueryRow> } | undefined;

  const rowsFrom = (offset: number): Iterator<QueryRow> => {
    if (snapshot) return snapshot.slice(offset).values();
    if (cursor && cursor.at === offset) {
      const it = cursor.it;
      cursor = undefined;
      return it;
    }
    const it = q.rows()[Symbol.iterator]();
    for (let i = 0; i < offset; i++) if (it.next().done) break;
    return it;
  };

  // Per column: a direct record key for plain fields (the common case), else the engine's value().
  const keys: (string | undefined)[] = columns.map((c) => (c.kind === 'field' && c.field && !c.compound && c.relationships.length === 0 ? c.field.name : undefined));
  const escapers = columns.map((c) => resultEscaper(c.field?.type));
  const value = (row: QueryRow, i: number): StoredValue => q.value(row, columns[i] as (typeof columns)[number]);
  const compiled = new Map<string, RowFormatter>();
  const formatterFor = (d: CsvDialect): RowFormatter => {
    const k = d.delimiter + d.eol;
    let f = compiled.get(k);
    if (!f) compiled.set(k, (f = compileRowFormatter(keys, escapers, value, d)));
    return f;
  };

  // A generated table scanned whole (no WHERE, no ORDER BY but Id, plain fields): rows are streamed as
  // encoded text of the selected fields straight from the generator, without record objects.
  // So is one over an Id range alone (a job of a split read): the writer then goes over the range's counters.
  const rangeOnly = q.idRange?.only === true && !q.hasOrderBy && q.limit === undefined && q.offset === 0 && !q.isCount && !q.hasAggregate && !q.hasSubquery;
  const counters = q.table instanceof GeneratedTable && rangeOnly && q.idRange ? q.table.counterRange(q.idRange) : undefined;
  const scan =
    q.table instanceof GeneratedTable && (q.scansTable || counters !== undefined) && columns.length > 0 && keys.every((k) => k !== undefined)
      ? {
          table: q.table,
          fields: columns.map((c) => c.field as DescribeField),
          encoders: escapers.map((encode): ColumnEncoder => ({ encode, plainText: encode === escapeResultText })),
        }
      : undefined;
  let scanCursor: { at: number; key: string; writer: RowWriter } | undefined;
  const writerFrom = (offset: number, d: CsvDialect): RowWriter | undefined => {
    const key = d.delimiter + d.eol;
    if (scanCursor && scanCursor.at === offset && scanCursor.key === key) {
      const writer = scanCursor.writer;
      scanCursor = undefined;
      return writer;
    }
    if (!scan) return undefined;
    const writer = scan.table.rowWriter(scan.fields, scan.encoders, q.includeDeleted, { open: '"', separator: `"${d.delimiter}"`, close: `"${d.eol}` }, counters);
    writer?.skip(offset);
    return writer;
  };

  return {
    object: q.object.name,
    header,
    get count() {
      return count;
    },
    complete() {
      if (scan && counters) count = scan.table.countRange(counters, q.includeDeleted);
      else if (generated) count = q.count();
      else {
        snapshot = [...q.rows()];
        count = snapshot.length;
      }
    },
    *page(offset: number, limit: number, d: CsvDialect, chunkBytes = 1 << 20) {
      const end = Math.min(count, offset + limit);
      // Rows are built as short strings and encoded straight into large buffers: no long string ropes to flatten.
      let out = Buffer.allocUnsafe(chunkBytes);
      let pos = out.write(header.map((h) => `"${h}"`).join(d.delimiter) + d.eol, 0, 'utf8');
      const writer = snapshot ? undefined : writerFrom(offset, d);
      if (writer) {
        // Rows are written as bytes straight into the buffer by the generated table.
        let at = offset;
        while (at < end) {
          at += writer.write(out, pos, end - at);
          pos = writer.pos;
          if (at >= end || writer.done) break;
          if (pos > 0) yield out.subarray(0, pos);
          out = Buffer.allocUnsafe(Math.max(chunkBytes, writer.need));
          pos = 0;
        }
        if (at < count && !writer.done) scanCursor = { at, key: d.delimiter + d.eol, writer };
        if (pos > 0) yield out.subarray(0, pos);
        return;
      }
      const formatRow = formatterFor(d);
      const it = rowsFrom(offset);
      let at = offset;
      while (at < end) {
        const n = it.next();
        if (n.done) break;
        const text = formatRow(n.value);
        at++;
        if (pos + text.length * 3 > out.length) {
          if (pos > 0) yield out.subarray(0, pos);
          out = Buffer.allocUnsafe(Math.max(chunkBytes, text.length * 3));
          pos = 0;
        }
        pos += out.write(text, pos, 'utf8');
      }
      if (!snapshot && at < count) cursor = { at, it };
      if (pos > 0) yield out.subarray(0, pos);
    },
  };
}
