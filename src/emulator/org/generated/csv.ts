/**
 * The Bulk CSV fast path of generated objects: a generated table's records written straight into a buffer as
 * bytes of the selected columns. Generated records are not built as objects, only the selected columns' costly
 * values are computed (values.ts fills the row's cells), vocabulary values are encoded once per writer, and
 * overlay records (changed, deleted, inserted) are encoded as they come.
 */
import type { StoredRecord } from '../record.ts';
import type { DescribeField } from '../schema.ts';
import { emitRow, setStrCell, shapeBytes, type ColumnEncoder, type RowShape } from './cells.ts';
import type { RecordGenerator } from './values.ts';

/** Rows of a generated table written as encoded bytes of some fields: see {@link generatedRowWriter}. */
export interface RowWriter {
  /**
   * Write up to `maxRows` rows into `buf` from `pos`, stopping before a row that might not fit. Returns the
   * number of rows written; `pos` is then the end of the written bytes. When it returns 0 and `done` is false,
   * the next row needs a buffer with `need` bytes free.
   */
  write(buf: Buffer, pos: number, maxRows: number): number;
  readonly pos: number;
  readonly done: boolean;
  readonly need: number;
  /** Pass over up to `n` rows without computing them; returns how many rows were passed. */
  skip(n: number): number;
}

/** Counters from `first` to `last`, both included (a range of Ids). */
export interface CounterRange {
  readonly first: number;
  readonly last: number;
}

/** The records a writer goes through: generated ones (unless the overlay has them), then inserted ones. */
export interface GeneratedRows {
  readonly generator: RecordGenerator;
  /** Overlay of generated records: counter → changed record, or null when hard-deleted. */
  readonly overrides: ReadonlyMap<number, StoredRecord | null>;
  /** Records inserted after generation (counters > size), in id order. */
  readonly inserted: ReadonlyMap<number, StoredRecord>;
}

/**
 * The records of the table's `scan(includeDeleted)`, in the same order, written as bytes of the given fields
 * only. Undefined when a field is not one of the table's stored (non-compound) fields.
 */
export function generatedRowWriter(
  source: GeneratedRows,
  fields: readonly DescribeField[],
  encoders: readonly ColumnEncoder[],
  includeDeleted: boolean,
  shape: RowShape,
  counters?: CounterRange,
): RowWriter | undefined {
  const generator = source.generator;
  const bytes = shapeBytes(shape);
  const plan = generator.plan(fields, encoders, bytes);
  if (!plan) return undefined;
  const names = fields.map((f) => f.name);
  const encodeRecord = (r: StoredRecord): void => {
    plan.strChars = 0;
    for (let p = 0; p < names.length; p++) {
      setStrCell(plan, p, (encoders[p] as ColumnEncoder).encode(r[names[p] as string]));
    }
  };
  const { overrides, inserted } = source;
  // With `counters`, only the records of that range (a query over an Id range).
  const first = counters?.first ?? 1;
  const last = counters?.last ?? Number.POSITIVE_INFINITY;
  const size = Math.min(generator.size, last);
  let c = first;
  let later: StoredRecord[] | undefined;
  let li = 0;
  /** Prepare the next visible row's cells; false at the end. */
  const advance = (compute: boolean): boolean => {
    while (c <= size) {
      const at = c++;
      if (overrides.size > 0 && overrides.has(at)) {
        const r = overrides.get(at);
        if (!r || (!includeDeleted && r['IsDeleted'] === true)) continue;
        if (compute) encodeRecord(r);
        return true;
      }
      if (compute) {
        if (plan.derived) encodeRecord(generator.generate(at - 1));
        else generator.fill(at - 1, plan);
      }
      return true;
    }
    later ??= counters === undefined ? [...inserted.values()] : [...inserted.entries()].filter(([k]) => k >= first && k <= last).map(([, r]) => r);
    while (li < later.length) {
      const r = later[li++] as StoredRecord;
      if (!includeDeleted && r['IsDeleted'] === true) continue;
      if (compute) encodeRecord(r);
      return true;
    }
    return false;
  };
  const separators = bytes.open.length + bytes.close.length + Math.max(0, names.length - 1) * bytes.separator.length;
  let ready = false;
  const writer = {
    pos: 0,
    done: false,
    need: 0,
    write: (buf: Buffer, pos: number, maxRows: number): number => {
      let rows = 0;
      writer.pos = pos;
      while (rows < maxRows) {
        if (!ready) {
          if (!advance(true)) {
            writer.done = true;
            break;
          }
          ready = true;
        }
        const need = plan.fixedMax + separators + plan.strChars * 3;
        if (pos + need > buf.length) {
          writer.need = need;
          break;
        }
        pos = emitRow(plan, bytes, buf, pos);
        ready = false;
        rows++;
      }
      writer.pos = pos;
      return rows;
    },
    skip: (n: number): number => {
      let done = 0;
      if (ready && n > 0) {
        ready = false;
        done++;
      }
      if (overrides.size === 0 && c <= size && done < n) {
        const step = Math.min(n - done, size - c + 1);
        c += step;
        done += step;
      }
      while (done < n && advance(false)) done++;
      return done;
    },
  };
  return writer;
}
