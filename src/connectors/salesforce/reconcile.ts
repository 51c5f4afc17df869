import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { ForceflowError } from '../../core/errors.ts';
import type { FieldType } from '../../core/types.ts';
import { forEachIdentity, readSpoolBatches, type SpoolFile } from './spool.ts';
import { matchForm } from './write-values.ts';
import { IdentityIndex } from './identity-index.ts';

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
 * With an identity column (the external id of an UPSERT, the Id of an UPDATE or DELETE), a row whose identity no
 * other row of the job shares is keyed by that one cell: Salesforce's result row echoing it can only be about
 * that row, and keying one cell instead of all of them is most of the CPU of matching. Rows sharing an identity
 * (an external id sent twice) are keyed by all their cells as above, read in a second pass over the file only
 * when there are any.
 *
 * With the identity column, the spool keeps that column's cells in a file of their own (spool.ts), read
 * instead of the spool file when there is one.
 *
 * Memory: one short key per row of one job (a job is at most 100 MB of CSV) and one byte of status per row; with
 * an identity column, the identities' characters and 20 bytes per row in typed arrays (identity-index.ts).
 */
export const UNSEEN = 0;
export const SUCCEEDED = 1;
export const FAILED = 2;
export const UNPROCESSED = 3;
/** In {@link JobLedger.byIdentity}: several rows share this identity; they are keyed by all their cells. */
const SHARED = -1;

function keyOf(types: readonly FieldType[], cells: readonly string[], columns: readonly number[]): string {
  let s = '';
  for (let i = 0; i < types.length; i++) {
    const c = columns[i] ?? -1;
    s += matchForm(types[i] as FieldType, c >= 0 ? (cells[c] ?? '') : '');
    s += '\u0001';
  }
  return s.length <= 48 ? detached(s) : createHash('md5').update(s).digest('base64');
}

/**
 * A copy of `s` that does not keep the text it was cut from alive: V8 represents a substring of 13 characters
 * or more as a slice of its parent (here a whole chunk of the spool file), and a key kept per row would keep
 * every chunk of the file in memory.
 */
function detached(s: string): string {
  return s.length < 13 ? s : (` ${s}`).slice(1);
}

export interface PassRow {
  /** All cells of the result row. */
  readonly cells: readonly string[];
}

/**
 * One result file being matched; nothing changes in the ledger until {@link commit}. The positions matched are
 * marked in a byte per row of the job (no list of them: a job's 500,000 successes would be 4 MB of heap).
 */
export class MatchPass {
  /** Rows matched. */
  matched = 0;
  /** Payload per matched position, when the pass keeps payloads (sf__Error; empty otherwise). */
  readonly payload = new Map<number, string>();
  /** How many matched rows had the payload `true` (sf__Created). */
  trueCount = 0;
  private readonly keepPayload: boolean;
  private readonly ledger: JobLedger;
  private readonly taken: Uint8Array;
  private readonly cursor = new Map<string, number>();
  private columns: number[] = [];
  private readonly status: number;
  unmatched = 0;

  constructor(ledger: JobLedger, status: number, keepPayload = true) {
    this.keepPayload = keepPayload;
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
    const ledger = this.ledger;
    const free = (p: number): boolean => this.taken[p] === 0 && ledger.status[p] === UNSEEN;
    let found: number | undefined;
    let full = true;
    if (ledger.identity >= 0) {
      const c = this.columns[ledger.identity] ?? -1;
      const at = ledger.byIdentity.get(matchForm(ledger.types[ledger.identity] as FieldType, c >= 0 ? (cells[c] ?? '') : ''));
      full = at === SHARED;
      if (at !== undefined && at !== SHARED && free(at)) found = at;
    }
    const key = full ? keyOf(ledger.types, cells, this.columns) : '';
    const entry = full ? ledger.keys.get(key) : undefined;
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
    this.matched++;
    if (this.keepPayload) this.payload.set(found, payload);
    if (payload === 'true') this.trueCount++;
    return found;
  }

  /** Apply the pass to the ledger. */
  commit(what: string): void {
    if (this.unmatched > 0) {
      throw new ForceflowError('INTERNAL', `Bulk ${what} of job ${this.ledger.jobId || '(unknown)'} list ${this.unmatched} row(s) that match no row sent; the write cannot be reconciled exactly. The job's rows were not reported as written or failed.`, {
        details: { jobId: this.ledger.jobId, unmatched: this.unmatched },
      });
    }
    const taken = this.taken;
    const status = this.ledger.status;
    for (let p = 0; p < taken.length; p++) if (taken[p] === 1) status[p] = this.status;
  }
}

/** What is known about each row of one job's upload. */
export class JobLedger {
  readonly file: SpoolFile;
  readonly header: readonly string[];
  readonly types: readonly FieldType[];
  /** Full key (all cells) → position(s): every row without an identity column, else the rows sharing one. */
  readonly keys = new Map<string, number | number[]>();
  /** The identity column (-1: none); identity key → the one position having it, or SHARED. */
  readonly identity: number;
  readonly byIdentity: IdentityIndex;
  readonly status: Uint8Array;
  jobId = '';

  /** `identityChars`: about how many characters the job's identities have in all (the index is sized for them). */
  private constructor(file: SpoolFile, types: readonly FieldType[], identity: number, identityChars: number) {
    this.file = file;
    this.header = file.header;
    this.types = types;
    this.identity = identity;
    this.status = new Uint8Array(file.indexes.length);
    this.byIdentity = identity < 0 ? new IdentityIndex(0, 0) : new IdentityIndex(file.indexes.length, identityChars);
  }

  get size(): number {
    return this.file.indexes.length;
  }

  /**
   * Read the spool file and key its rows. `identity`: the column that identifies a row to Salesforce (external
   * id of an UPSERT, Id of an UPDATE or DELETE), or -1 (INSERT: every row keyed by all its cells).
   */
  static async build(file: SpoolFile, types: readonly FieldType[], identity = -1): Promise<JobLedger> {
    // An identities file holds a job's identities one a line: its size less the line ends is about their characters.
    const identityChars = identity >= 0 && file.identities !== undefined ? (await stat(file.identities)).size - file.indexes.length : undefined;
    const ledger = new JobLedger(file, types, identity, identityChars ?? 16 * file.indexes.length);
    const columns = types.map((_, i) => i);
    const keyAll = (position: number, cells: readonly string[]): void => {
      const key = keyOf(types, cells, columns);
      const had = ledger.keys.get(key);
      if (had === undefined) ledger.keys.set(key, position);
      else if (typeof had === 'number') ledger.keys.set(key, [had, position]);
      else had.push(position);
    };
    if (identity < 0) {
      for await (const { from, rows } of readSpoolBatches(file.path, true)) {
        for (let i = 0; i < rows.length; i++) keyAll(from + i, rows[i] as string[]);
      }
      return ledger;
    }
    const type = types[identity] as FieldType;
    const byIdentity = ledger.byIdentity;
    let shared = false;
    const add = (position: number, cell: string): void => {
      const key = matchForm(type, cell);
      if (byIdentity.get(key) === undefined) byIdentity.set(key, position);
      else {
        byIdentity.set(key, SHARED);
        shared = true;
      }
    };
    if (file.identities !== undefined) {
      // The spool wrote the identity cells to a file of their own: no need to parse every cell of the spool.
      const lines = await forEachIdentity(file.identities, add);
      if (lines !== file.indexes.length) throw new ForceflowError('INTERNAL', `The identities file of ${file.path} has ${lines} line(s) for ${file.indexes.length} row(s).`);
    } else {
      for await (const { from, rows } of readSpoolBatches(file.path, true)) {
        for (let i = 0; i < rows.length; i++) add(from + i, (rows[i] as string[])[identity] ?? '');
      }
    }
    if (shared) {
      for await (const { from, rows } of readSpoolBatches(file.path, true)) {
        for (let i = 0; i < rows.length; i++) {
          const cells = rows[i] as string[];
          if (byIdentity.get(matchForm(type, cells[identity] ?? '')) === SHARED) keyAll(from + i, cells);
        }
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
