import { createHash } from 'node:crypto';
import { ForceflowError } from '../../core/errors.ts';
import type { FieldType } from '../../core/types.ts';
import { readSpoolBatches, type SpoolFile } from './spool.ts';
import { matchForm } from './write-values.ts';

/**
 * Matching Bulk API 2.0 ingest results back to the rows sent.
 *
 * Salesforce answers a job with three CSV files (successfulResults, failedResults, unprocessedrecords), each
 * echoing the original columns of its rows, in no guaranteed order, with no row number. We may not add a
 * column of our own (an unknown column fails the whole job), so the scheme is:
 *
 * 1. Before reading results, the job's spool file is read once and every row gets a key: a digest of its cells
 *    in {@link matchForm} (the form Salesforce's echo folds to: numbers re-serialised, ids in 18 characters,
 *    `#N/A` echoed empty...). The ledger maps key → the positions having it, in file order.
 * 2. Each result row is keyed the same way and takes the first position with that key that no result row has
 *    taken yet. Rows with equal keys are equal in every cell, so which of them takes which outcome cannot
 *    change what is reported: the counts are exact and each reported record is the one sent.
 * 3. A result file is matched in a "pass" and committed only when read whole; a body that breaks part-way is
 *    read again from the start without double counting.
 * 4. A result row that matches no free position (Salesforce answered about a row we did not send, or twice
 *    about one) stops the run with INTERNAL: the reconciliation could not be exact, and we say so rather than
 *    guess. Positions no result file mentions are "unseen"; the writer decides what they mean.
 *
 * Memory: one short key per row of one job (a job is at most 100 MB of CSV) and one byte of status per row.
 */
export const UNSEEN = 0;
export const SUCCEEDED = 1;
export const FAILED = 2;
export const UNPROCESSED = 3;

function keyOf(types: readonly FieldType[], cells: readonly string[], columns: readonly number[]): string {
  let s = '';
  for (let i = 0; i < types.length; i++) {
    const c = columns[i] ?? -1;
    s += matchForm(types[i] as FieldType, c >= 0 ? (cells[c] ?? '') : '');
    s += '\u0001';
  }
  return s.length <= 48 ? s : createHash('md5').update(s).digest('base64');
}

export interface PassRow {
  /** All cells of the result row. */
  readonly cells: readonly string[];
}

/** One result file being matched; nothing changes in the ledger until {@link commit}. */
export class MatchPass {
  readonly positions: number[] = [];
  readonly payload: string[] = [];
  private readonly ledger: JobLedger;
  private readonly taken: Uint8Array;
  private readonly cursor = new Map<string, number>();
  private columns: number[] = [];
  private readonly status: number;
  unmatched = 0;

  constructor(ledger: JobLedger, status: number) {
    this.ledger = ledger;
    this.status = status;
    this.taken = new Uint8Array(ledger.size);
  }

  /** The result file's header: where each sent column is. */
  header(cells: readonly string[]): void {
    const lower = cells.map((c) => c.trim().toLowerCase());
    this.columns = this.ledger.header.map((h) => lower.indexOf(h.toLowerCase()));
  }

  /** Match one result row; `payload` is kept per matched position (sf__Created, sf__Error). */
  match(cells: readonly string[], payload = ''): number | undefined {
    const key = keyOf(this.ledger.types, cells, this.columns);
    const entry = this.ledger.keys.get(key);
    const free = (p: number): boolean => this.taken[p] === 0 && this.ledger.status[p] === UNSEEN;
    let found: number | undefined;
    if (typeof entry === 'number') {
      if (free(entry)) found = entry;
    } else if (entry !== undefined) {
      let i = this.cursor.get(key) ?? 0;
      while (i < entry.length && !free(entry[i] as number)) i++;
      if (i < entry.length) found = entry[i];
      this.cursor.set(key, i + 1);
    }
    if (found === undefined) {
      this.unmatched++;
      return undefined;
    }
    this.taken[found] = 1;
    this.positions.push(found);
    this.payload.push(payload);
    return found;
  }

  /** Apply the pass to the ledger. */
  commit(what: string): void {
    if (this.unmatched > 0) {
      throw new ForceflowError('INTERNAL', `Bulk ${what} of job ${this.ledger.jobId || '(unknown)'} list ${this.unmatched} row(s) that match no row sent; the write cannot be reconciled exactly. The job's rows were not reported as written or failed.`, {
        details: { jobId: this.ledger.jobId, unmatched: this.unmatched },
      });
    }
    for (const p of this.positions) this.ledger.status[p] = this.status;
  }
}

/** What is known about each row of one job's upload. */
export class JobLedger {
  readonly file: SpoolFile;
  readonly header: readonly string[];
  readonly types: readonly FieldType[];
  readonly keys = new Map<string, number | number[]>();
  readonly status: Uint8Array;
  jobId = '';

  private constructor(file: SpoolFile, types: readonly FieldType[]) {
    this.file = file;
    this.header = file.header;
    this.types = types;
    this.status = new Uint8Array(file.indexes.length);
  }

  get size(): number {
    return this.file.indexes.length;
  }

  /** Read the spool file once and key its rows. */
  static async build(file: SpoolFile, types: readonly FieldType[]): Promise<JobLedger> {
    const ledger = new JobLedger(file, types);
    const columns = types.map((_, i) => i);
    for await (const { from, rows } of readSpoolBatches(file.path)) {
      for (let i = 0; i < rows.length; i++) {
        const position = from + i;
        const key = keyOf(types, rows[i] as string[], columns);
        const had = ledger.keys.get(key);
        if (had === undefined) ledger.keys.set(key, position);
        else if (typeof had === 'number') ledger.keys.set(key, [had, position]);
        else had.push(position);
      }
    }
    return ledger;
  }

  count(status: number): number {
    let n = 0;
    for (const s of this.status) if (s === status) n++;
    return n;
  }
}
